//! Terminal columns of text, for everything drawn in place (the progress meter, the
//! prompt's wrapped line, listings in columns): East Asian wide and fullwidth
//! characters (CJK, most emoji) take two columns, combining marks and zero-width
//! characters none, the rest one. Names from the peer or the disk are shown through
//! [`escape`] first, as OpenSSH's progress meter sanitises them: a control character
//! (or a bidirectional override, which reorders what follows it on screen) is written
//! as `\ooo` escapes of its UTF-8 bytes, so it can neither move the cursor nor
//! recolour or rewrite the terminal, and its width is known.

mod tables;

use std::borrow::Cow;
use std::sync::OnceLock;

/// Columns a terminal gives `c` once drawn: 0, 1 or 2. Control characters count 0
/// (they draw nothing); callers show them through [`escape`].
pub fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    if cp < 0x7f {
        return usize::from(cp >= 0x20);
    }
    if is_control(c) || in_table(tables::ZERO, cp) {
        0
    } else if in_table(tables::WIDE, cp) {
        2
    } else {
        1
    }
}

/// Columns of `s` (controls count 0: see [`char_width`]).
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Whether `c` draws nothing of its own: it joins the character before it.
pub fn is_zero_width(c: char) -> bool {
    !is_control(c) && char_width(c) == 0
}

/// Whether the terminal takes UTF-8, decided as OpenSSH's `msetlocale` does: by the
/// first of `LC_ALL`, `LC_CTYPE` and `LANG` that is set. When it does not (the C
/// locale), every character outside ASCII is escaped too, as OpenSSH escapes it: in a
/// Latin-1 terminal some of those bytes are controls (0x9b is CSI).
fn utf8_terminal() -> bool {
    static UTF8: OnceLock<bool> = OnceLock::new();
    *UTF8.get_or_init(|| locale_is_utf8(|name| std::env::var(name).ok()))
}

fn locale_is_utf8(var: impl Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|name| var(name).filter(|v| !v.is_empty()))
        .is_some_and(|locale| {
            let locale = locale.to_ascii_lowercase();
            locale.contains("utf-8") || locale.contains("utf8")
        })
}

/// `s` with each control character and bidirectional control (and, outside a UTF-8
/// locale, each character beyond ASCII) written as `\ooo` escapes of its UTF-8 bytes
/// (`"a\x1bb"` shows as `a\033b`); borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_for(s, utf8_terminal())
}

fn escape_for(s: &str, utf8: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, utf8)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_shown_for(&mut out, c, utf8);
    }
    Cow::Owned(out)
}

/// `bytes` (a name or text from the peer or the disk) as shown: its UTF-8 with each
/// control character and bidirectional control escaped as [`escape`] does, and each
/// byte that is not UTF-8 as its own `\ooo` escape, as OpenSSH's `mprintf` shows text
/// (see [`utf8_terminal`] for other locales). Nothing in the result can drive the
/// terminal.
pub fn escape_bytes(bytes: &[u8]) -> String {
    escape_bytes_for(bytes, utf8_terminal())
}

fn escape_bytes_for(bytes: &[u8], utf8: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_shown_for(&mut out, c, utf8);
        }
        for &b in chunk.invalid() {
            push_octal(&mut out, b);
        }
    }
    out
}

/// Text from the peer for the terminal (a server's banner), as OpenSSH's `fmprintf`
/// shows it: line breaks and tabs kept, everything else as [`escape`] shows it.
pub fn escape_text(text: &str) -> String {
    let utf8 = utf8_terminal();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\n' | '\r' | '\t') {
            out.push(c);
        } else {
            push_shown_for(&mut out, c, utf8);
        }
    }
    out
}

/// Text from the peer in a log line (a keyboard-interactive exchange's name and
/// instruction), as OpenSSH's log functions show it (`strnvis` with `VIS_SAFE |
/// VIS_OCTAL`): printable ASCII, space, tab, line breaks, backspace and bell kept, every
/// other byte (non-ASCII ones included, in any locale) as its `\ooo` escape.
pub fn escape_log(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 8 | 7) {
            out.push(char::from(b));
        } else {
            push_octal(&mut out, b);
        }
    }
    out
}

/// Appends `c` as it is shown: itself, or its `\ooo` escapes (see [`escape`]).
pub fn push_shown(out: &mut String, c: char) {
    push_shown_for(out, c, utf8_terminal());
}

fn push_shown_for(out: &mut String, c: char, utf8: bool) {
    if needs_escape(c, utf8) {
        let mut bytes = [0; 4];
        for b in c.encode_utf8(&mut bytes).bytes() {
            push_octal(out, b);
        }
    } else {
        out.push(c);
    }
}

/// Appends `b` as a `\ooo` escape.
fn push_octal(out: &mut String, b: u8) {
    out.push('\\');
    for shift in [6, 3, 0] {
        out.push(char::from(b'0' + (b >> shift & 7)));
    }
}

/// The longest start of `s` that fits in `cols` columns, never cut inside a character;
/// zero-width characters after the last character kept stay with it. Also its width.
pub fn truncate(s: &str, cols: usize) -> (&str, usize) {
    let mut used = 0;
    for (at, c) in s.char_indices() {
        let w = char_width(c);
        if used + w > cols {
            return (s.get(..at).unwrap_or(s), used);
        }
        used += w;
    }
    (s, used)
}

/// `s` cut (by [`truncate`]) or padded with spaces to exactly `cols` columns; a wide
/// character that would straddle the edge is left out and its column padded.
pub fn fit(s: &str, cols: usize) -> String {
    let (kept, used) = truncate(s, cols);
    let mut out = String::with_capacity(kept.len() + cols - used);
    out.push_str(kept);
    out.extend(std::iter::repeat_n(' ', cols - used));
    out
}

/// `s` followed by the spaces that bring `counted` (what `s` is taken to fill) to
/// `cols`.
fn pad_counted(s: &str, counted: usize, cols: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(counted)));
    out
}

/// `names` in rows across `cols` columns, as sftp lays out a short listing: as many to
/// a row as `longest` plus two columns fit (at least one), the row shared evenly among
/// them and each name padded to its share. Each name comes with what it counts for
/// when padded: its width, or (sftp's listings, padded by `printf` before escaping)
/// the length in bytes of the name it shows.
pub fn rows(names: &[(String, usize)], cols: usize, longest: usize) -> Vec<String> {
    let per_row = (cols / (longest + 2)).max(1);
    let colspace = (cols / per_row).min(cols);
    names
        .chunks(per_row)
        .map(|row| {
            row.iter()
                .map(|(n, counted)| pad_counted(n, *counted, colspace))
                .collect()
        })
        .collect()
}

/// C0, DEL and C1 controls.
fn is_control(c: char) -> bool {
    c.is_control()
}

fn needs_escape(c: char, utf8: bool) -> bool {
    // U+202A..U+202E embeddings and overrides, U+2066..U+2069 isolates.
    is_control(c)
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || (!utf8 && !c.is_ascii())
}

/// Whether `cp` falls in one of the sorted, disjoint `ranges`.
fn in_table(ranges: &[(u32, u32)], cp: u32) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_disjoint() {
        for table in [tables::WIDE, tables::ZERO] {
            for pair in table.windows(2) {
                if let [(lo, hi), (next, _)] = pair {
                    assert!(lo <= hi && hi < next, "{lo:x}..{hi:x} then {next:x}");
                }
            }
        }
        // No character is both wide and zero-width.
        for &(lo, hi) in tables::ZERO {
            for cp in [lo, hi] {
                assert!(!in_table(tables::WIDE, cp), "{cp:x}");
            }
        }
    }

    #[test]
    fn ascii_and_latin_take_one_column_each() {
        assert_eq!(width("report.txt"), 10);
        assert_eq!(width("été"), 3);
        assert_eq!(width("Ωmega"), 5);
        assert_eq!(char_width('\u{ff61}'), 1, "halfwidth katakana punctuation");
    }

    #[test]
    fn cjk_and_fullwidth_take_two_columns() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(width("한국어.txt"), 10);
        assert_eq!(width("ＡＢＣ"), 6, "fullwidth Latin");
        assert_eq!(char_width('\u{3000}'), 2, "ideographic space");
        assert_eq!(char_width('\u{20000}'), 2, "CJK extension B");
        assert_eq!(char_width('\u{3fffd}'), 2, "plane 3, wide by default");
    }

    #[test]
    fn emoji_take_two_columns() {
        assert_eq!(width("😀"), 2);
        assert_eq!(width("🚀x"), 3);
        // Emoji with its presentation selector: the selector adds nothing.
        assert_eq!(width("⌚\u{fe0f}"), 2);
        // Family: three wide emoji joined by zero-width joiners.
        assert_eq!(width("👨\u{200d}👩\u{200d}👧"), 6);
    }

    #[test]
    fn combining_marks_and_zero_width_characters_take_none() {
        assert_eq!(width("e\u{301}te\u{301}"), 3, "decomposed été");
        assert_eq!(width("a\u{20dd}"), 1, "enclosing circle");
        assert_eq!(width("\u{200b}x\u{feff}"), 1, "ZWSP and BOM");
        assert_eq!(width("\u{1100}\u{1161}\u{11a8}"), 2, "conjoining Hangul");
        assert_eq!(width("か\u{3099}"), 2, "kana with combining voiced mark");
        assert!(is_zero_width('\u{301}'));
        assert!(!is_zero_width('a'));
        assert!(!is_zero_width('\u{1b}'));
    }

    #[test]
    fn controls_are_escaped_to_octal_bytes() {
        assert_eq!(escape_for("plain 日本", true), Cow::Borrowed("plain 日本"));
        assert_eq!(escape_for("a\x1b[2Jb", true), "a\\033[2Jb");
        assert_eq!(escape_for("x\ny\x7f", true), "x\\012y\\177");
        assert_eq!(
            escape_for("\u{9b}", true),
            "\\302\\233",
            "C1 CSI, as UTF-8 bytes"
        );
        assert_eq!(
            escape_for("\u{202e}gpj.exe", true),
            "\\342\\200\\256gpj.exe"
        );
        assert_eq!(width(&escape_for("a\tb", true)), 6);
        assert_eq!(
            escape_bytes_for(b"caf\xc3\xa9 \x1b]0;t\x07", true),
            "café \\033]0;t\\007"
        );
        assert_eq!(
            escape_bytes_for(b"bad\xffbyte\xe6\x97", true),
            "bad\\377byte\\346\\227"
        );
        assert_eq!(char_width('\t'), 0);
        // Outside a UTF-8 locale everything beyond ASCII is escaped, as OpenSSH does.
        assert_eq!(escape_for("caf\u{e9}", false), "caf\\303\\251");
        assert_eq!(escape_bytes_for(b"\xc2\x9b1m", false), "\\302\\2331m");
        assert!(locale_is_utf8(|n| (n == "LANG").then(|| "C.UTF-8".into())));
        assert!(locale_is_utf8(
            |n| (n == "LC_CTYPE").then(|| "en_US.utf8".into())
        ));
        assert!(!locale_is_utf8(|n| (n == "LC_ALL").then(|| "C".into())));
        assert!(!locale_is_utf8(|_| None));
        assert_eq!(
            escape_log("Mot de passe \u{e9}\x1b[2J\t\x07"),
            "Mot de passe \\303\\251\\033[2J\t\x07"
        );
        // A banner keeps its line breaks and tabs; a colour change does not get through.
        assert_eq!(escape_text("a\tb\r\nc\x1b[31m\n"), "a\tb\r\nc\\033[31m\n");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate("日本語", 4), ("日本", 4));
        // The third column would need half of 本.
        assert_eq!(truncate("日本語", 3), ("日", 2));
        assert_eq!(truncate("abc", 0), ("", 0));
        // A combining mark stays with its base; one after the cut goes with it.
        assert_eq!(truncate("e\u{301}e\u{301}x", 2), ("e\u{301}e\u{301}", 2));
        assert_eq!(truncate("ab\u{301}c", 1), ("a", 1));
        assert_eq!(truncate("😀😀", 3), ("😀", 2));
    }

    #[test]
    fn fit_cuts_or_pads_to_the_exact_width() {
        assert_eq!(fit("日本語", 5), "日本 ");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("e\u{301}", 3), "e\u{301}  ");
        for cols in 0..12 {
            for s in ["日本語のファイル名", "😀a😀b", "naïve", "x\u{301}\u{302}yz"] {
                assert_eq!(width(&fit(s, cols)), cols, "{s:?} in {cols}");
            }
        }
        assert_eq!(pad_counted("日", 2, 4), "日  ");
    }

    #[test]
    fn rows_line_up_by_columns() {
        let names: Vec<(String, usize)> = ["日本", "ab", "😀x", "e\u{301}"]
            .iter()
            .map(|s| (s.to_string(), width(s)))
            .collect();
        // Widest is 4 columns: two names of six in 13 columns, each given 13 / 2.
        assert_eq!(rows(&names, 13, 4), ["日本  ab    ", "😀x   e\u{301}     "]);
        for row in rows(&names, 13, 4) {
            assert_eq!(width(&row), 12);
        }
        assert_eq!(rows(&names, 3, 4).len(), 4);
        // sftp's share: 80 columns, longest 7: eight names of ten columns.
        assert_eq!(
            rows(&names, 80, 7),
            [format!(
                "日本{}ab{}😀x{}e\u{301}{}",
                " ".repeat(6),
                " ".repeat(8),
                " ".repeat(7),
                " ".repeat(9)
            )]
        );
        assert_eq!(pad_counted("日本語", 6, 4), "日本語");
        // Counted by bytes (sftp's listings): a name is padded as wide as its bytes.
        let by_bytes = [("caf\u{e9}".to_string(), 5), ("x".to_string(), 1)];
        assert_eq!(rows(&by_bytes, 14, 5), ["caf\u{e9}  x      "]);
    }
}
