//! A tiny terminal emulator for checking what a line editor leaves on the screen: the
//! bytes a program wrote (as `script` recorded them) played onto a grid of `cols`
//! columns with autowrap as xterm does it (a character written in the last column
//! leaves the cursor there, pending; the next printable character wraps first), wide
//! characters (two cells; one that would straddle the margin wraps whole), `\r`, `\n`,
//! backspace, and the CSI sequences `A B C D` (cursor moves), `K` and `J` (erase to
//! the end of the line, of the screen). Other escape sequences are skipped.

/// The screen's rows (grown as needed, never scrolled away) after playing `bytes`.
pub fn play(bytes: &str, cols: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut pending_wrap = false;
    let mut chars = bytes.chars().peekable();
    let ensure = |rows: &mut Vec<Vec<char>>, row: usize| {
        while rows.len() <= row {
            rows.push(Vec::new());
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                col = 0;
                pending_wrap = false;
            }
            '\n' => {
                row += 1;
                ensure(&mut rows, row);
                pending_wrap = false;
            }
            '\x08' => {
                col = col.saturating_sub(1);
                pending_wrap = false;
            }
            '\x07' => {}
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut param = String::new();
                let mut end = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_digit() || c == ';' || c == '?' {
                        param.push(c);
                    } else {
                        end = c;
                        break;
                    }
                }
                let n = param.parse::<usize>().unwrap_or(1).max(1);
                pending_wrap = false;
                match end {
                    'A' => row = row.saturating_sub(n),
                    'B' => {
                        row += n;
                        ensure(&mut rows, row);
                    }
                    'C' => col = (col + n).min(cols - 1),
                    'D' => col = col.saturating_sub(n),
                    'K' => rows[row].truncate(col),
                    'J' => {
                        rows[row].truncate(col);
                        rows.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if c >= ' ' => {
                let wide = is_wide(c);
                // A wide character that would straddle the margin wraps first.
                if pending_wrap || (wide && col + 2 > cols) {
                    row += 1;
                    col = 0;
                    ensure(&mut rows, row);
                    pending_wrap = false;
                }
                let line = &mut rows[row];
                while line.len() <= col + usize::from(wide) {
                    line.push(' ');
                }
                line[col] = c;
                if wide {
                    // The second cell of a wide character.
                    line[col + 1] = WIDE_TAIL;
                    col += 1;
                }
                if col + 1 == cols {
                    pending_wrap = true;
                } else {
                    col += 1;
                }
            }
            _ => {}
        }
    }
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .filter(|&c| c != WIDE_TAIL)
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// Marks the cell a wide character's right half covers.
const WIDE_TAIL: char = '\0';

/// The two-column characters the tests use: CJK, kana, Hangul, fullwidth forms, emoji.
fn is_wide(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{115f}'
        | '\u{2e80}'..='\u{a4cf}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{ff00}'..='\u{ff60}'
        | '\u{1f300}'..='\u{1faff}'
        | '\u{20000}'..='\u{3fffd}')
}
