//! The interactive prompt's line editor, in the spirit of the libedit prompt OpenSSH's
//! sftp has: cursor keys, Home/End, Backspace/Delete, Ctrl-A/E/B/F/K/U/W/L/D, history
//! (Up/Down, Ctrl-P/N) and Tab completion (asked of the caller, which may need the
//! server). Keys are decoded and applied by pure state machines ([`Decoder`],
//! [`Line`]); [`Raw`] is the only part that touches the terminal (termios through
//! `nix`, no `unsafe`).

use std::io::Write;
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::width;

/// One key, decoded from the terminal's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Left,
    Right,
    Home,
    End,
    Backspace,
    Delete,
    /// Ctrl-K.
    KillEnd,
    /// Ctrl-U.
    KillStart,
    /// Ctrl-W.
    KillWord,
    Up,
    Down,
    Enter,
    Tab,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfFile,
    /// Ctrl-L.
    Redraw,
}

/// Turns terminal bytes into [`Key`]s: UTF-8 characters and the usual escape
/// sequences (`ESC [ C`, `ESC O H`, `ESC [ 3 ~`, ...). Unknown sequences are dropped.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of an unfinished escape sequence or UTF-8 character.
    pending: Vec<u8>,
}

impl Decoder {
    /// Feeds one byte; a key when one is complete.
    pub fn feed(&mut self, byte: u8) -> Option<Key> {
        if !self.pending.is_empty() {
            self.pending.push(byte);
            return self.continue_pending();
        }
        match byte {
            0x1b => {
                self.pending.push(byte);
                None
            }
            0x01 => Some(Key::Home),
            0x02 => Some(Key::Left),
            0x03 => Some(Key::Interrupt),
            0x04 => Some(Key::EndOfFile),
            0x05 => Some(Key::End),
            0x06 => Some(Key::Right),
            0x08 | 0x7f => Some(Key::Backspace),
            b'\t' => Some(Key::Tab),
            b'\n' | b'\r' => Some(Key::Enter),
            0x0b => Some(Key::KillEnd),
            0x0c => Some(Key::Redraw),
            0x0e => Some(Key::Down),
            0x10 => Some(Key::Up),
            0x15 => Some(Key::KillStart),
            0x17 => Some(Key::KillWord),
            0x00..=0x1f => None,
            0x20..=0x7e => Some(Key::Char(char::from(byte))),
            _ => {
                self.pending.push(byte);
                self.continue_pending()
            }
        }
    }

    fn continue_pending(&mut self) -> Option<Key> {
        if self.pending.first() == Some(&0x1b) {
            return self.escape();
        }
        match std::str::from_utf8(&self.pending) {
            Ok(s) => {
                let key = s.chars().next().map(Key::Char);
                self.pending.clear();
                key
            }
            Err(e) if e.error_len().is_none() && self.pending.len() < 4 => None,
            Err(_) => {
                self.pending.clear();
                None
            }
        }
    }

    fn escape(&mut self) -> Option<Key> {
        let seq = self.pending.get(1..).unwrap_or_default();
        let key = match seq {
            [] | [b'['] | [b'O'] => return None,
            [b'[' | b'O', b'A'] => Some(Key::Up),
            [b'[' | b'O', b'B'] => Some(Key::Down),
            [b'[' | b'O', b'C'] => Some(Key::Right),
            [b'[' | b'O', b'D'] => Some(Key::Left),
            [b'[' | b'O', b'H'] => Some(Key::Home),
            [b'[' | b'O', b'F'] => Some(Key::End),
            [b'[', rest @ ..] if rest.last().is_some_and(|b| (0x40..=0x7e).contains(b)) => {
                match rest {
                    b"1~" | b"7~" => Some(Key::Home),
                    b"4~" | b"8~" => Some(Key::End),
                    b"3~" => Some(Key::Delete),
                    _ => None,
                }
            }
            // Still reading the parameters of a CSI sequence.
            [b'[', rest @ ..] if rest.len() < 16 => return None,
            _ => None,
        };
        self.pending.clear();
        key
    }
}

/// What the caller does after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Draw the line again.
    Redraw,
    /// The line is done.
    Accept(String),
    /// Complete the word before the cursor.
    Complete,
    /// Ctrl-C: drop the line, start a fresh prompt.
    Cancel,
    /// Ctrl-D on an empty line.
    EndOfFile,
}

/// Lines kept for Up/Down.
const HISTORY: usize = 500;

/// The line being edited and the history.
#[derive(Debug, Default)]
pub struct Line {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Index into `history` while browsing it; the line being typed is kept aside.
    browsing: Option<(usize, Vec<char>)>,
    /// Where the last [`Line::render`] left things: the terminal row of the cursor
    /// and of the line's end, counted from the prompt's row.
    drawn: Drawn,
}

/// The rows of the last drawing of a line (see [`Line::render`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Drawn {
    cursor_row: usize,
    end_row: usize,
}

/// Where the terminal's cursor is while a line is drawn: `col == cols` is the pending
/// wrap after the last column, where the next character starts a new row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Place {
    row: usize,
    col: usize,
}

impl Place {
    /// Draws `c`, a terminal `cols` wide; where it starts.
    fn put(&mut self, c: char, cols: usize) -> Place {
        let w = width::char_width(c);
        if w > 0 && self.col + w > cols {
            // Past the margin (or a wide character straddling it): the next row.
            self.row += 1;
            self.col = 0;
        }
        let start = *self;
        self.col += w;
        start
    }

    /// The place with a pending wrap resolved to the next row's start.
    fn settled(self, cols: usize) -> Place {
        if self.col >= cols {
            Place {
                row: self.row + 1,
                col: 0,
            }
        } else {
            self
        }
    }
}

impl Line {
    /// The text so far.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The text before the cursor.
    pub fn before_cursor(&self) -> String {
        self.chars.iter().take(self.cursor).collect()
    }

    /// Replaces the characters from `start` to the cursor with `with`.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        let start = start.min(self.cursor);
        let tail = self.chars.split_off(self.cursor);
        self.chars.truncate(start);
        self.chars.extend(with.chars());
        self.cursor = self.chars.len();
        self.chars.extend(tail);
    }

    /// Applies one key.
    pub fn apply(&mut self, key: Key) -> Action {
        match key {
            Key::Char(c) => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Left => self.cursor = self.cluster_before(self.cursor),
            Key::Right => self.cursor = self.cluster_after(self.cursor),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.chars.len(),
            Key::Backspace => {
                let start = self.cluster_before(self.cursor);
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::Delete => {
                let end = self.cluster_after(self.cursor);
                self.chars.drain(self.cursor..end);
            }
            Key::EndOfFile if self.chars.is_empty() => return Action::EndOfFile,
            Key::EndOfFile => return self.apply(Key::Delete),
            Key::KillEnd => self.chars.truncate(self.cursor),
            Key::KillStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::KillWord => {
                let mut start = self.cursor;
                while start > 0 && self.chars.get(start - 1) == Some(&' ') {
                    start -= 1;
                }
                while start > 0 && self.chars.get(start - 1).is_some_and(|c| *c != ' ') {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::Up => self.browse(true),
            Key::Down => self.browse(false),
            Key::Enter => {
                let text = self.text();
                if !text.trim().is_empty() && self.history.last() != Some(&text) {
                    if self.history.len() == HISTORY {
                        self.history.remove(0);
                    }
                    self.history.push(text.clone());
                }
                self.reset();
                return Action::Accept(text);
            }
            Key::Tab => return Action::Complete,
            Key::Interrupt => {
                self.reset();
                return Action::Cancel;
            }
            Key::Redraw => {}
        }
        Action::Redraw
    }

    /// Where the character before `at` starts, with the combining marks after it: the
    /// cursor steps over what the terminal shows as one character.
    fn cluster_before(&self, at: usize) -> usize {
        let mut start = at.min(self.chars.len()).saturating_sub(1);
        while start > 0
            && self
                .chars
                .get(start)
                .is_some_and(|&c| width::is_zero_width(c))
        {
            start -= 1;
        }
        start
    }

    /// Where the character after `at` (and its combining marks) ends.
    fn cluster_after(&self, at: usize) -> usize {
        let mut end = (at + 1).min(self.chars.len());
        while self
            .chars
            .get(end)
            .is_some_and(|&c| width::is_zero_width(c))
        {
            end += 1;
        }
        end
    }

    fn reset(&mut self) {
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    fn browse(&mut self, older: bool) {
        let current = self.browsing.as_ref().map(|(i, _)| *i);
        let next = match (current, older) {
            (None, true) => self.history.len().checked_sub(1),
            (None, false) => return,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) => (i + 1 < self.history.len()).then_some(i + 1),
        };
        match next {
            Some(i) => {
                if self.browsing.is_none() {
                    self.browsing = Some((i, std::mem::take(&mut self.chars)));
                }
                if let Some((at, _)) = &mut self.browsing {
                    *at = i;
                }
                self.chars = self
                    .history
                    .get(i)
                    .map(|h| h.chars().collect())
                    .unwrap_or_default();
            }
            None => {
                if let Some((_, typed)) = self.browsing.take() {
                    self.chars = typed;
                }
            }
        }
        self.cursor = self.chars.len();
    }

    /// The bytes that draw `prompt` and the line with the cursor in place on a terminal
    /// `cols` wide. A line wider than the terminal wraps onto the next rows: the
    /// drawing starts from the prompt's row (where the last one left the cursor is
    /// remembered), clears what was below, and a line ending exactly at the right
    /// margin moves to the next row, so the cursor is never left in the terminal's
    /// pending-wrap state. Characters take their terminal columns ([`width`]): a wide
    /// one that would straddle the margin starts the next row, as terminals draw it;
    /// control characters are shown as `\ooo` escapes.
    pub fn render(&mut self, prompt: &str, cols: usize) -> Vec<u8> {
        let cols = cols.max(1);
        let mut out = String::new();
        if self.drawn.cursor_row > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn.cursor_row));
        }
        out.push_str("\r\x1b[J");
        let mut at = Place::default();
        for c in width::escape(prompt).chars() {
            at.put(c, cols);
            out.push(c);
        }
        let mut cursor = None;
        for (i, &c) in self.chars.iter().enumerate() {
            let mut shown = String::new();
            width::push_shown(&mut shown, c);
            for s in shown.chars() {
                let start = at.put(s, cols);
                if i == self.cursor && cursor.is_none() {
                    cursor = Some(start);
                }
            }
            out.push_str(&shown);
        }
        let end = at.settled(cols);
        if at.col == cols {
            out.push_str("\r\n");
        }
        let cursor = cursor.map_or(end, |p| p.settled(cols));
        if cursor != end {
            if end.row > cursor.row {
                out.push_str(&format!("\x1b[{}A", end.row - cursor.row));
            }
            out.push('\r');
            if cursor.col > 0 {
                out.push_str(&format!("\x1b[{}C", cursor.col));
            }
        }
        self.drawn = Drawn {
            cursor_row: cursor.row,
            end_row: end.row,
        };
        out.into_bytes()
    }

    /// The bytes that move the cursor below the drawn line (after `mark`, e.g. `^C`),
    /// so what is printed next starts on a fresh row; the next drawing starts there.
    pub fn leave(&mut self, mark: &str) -> Vec<u8> {
        let down = self.drawn.end_row - self.drawn.cursor_row.min(self.drawn.end_row);
        let mut out = String::new();
        if down > 0 {
            out.push_str(&format!("\x1b[{down}B"));
        }
        if !mark.is_empty() {
            // After the end of the line's text: the end column of its last row.
            out.push_str(mark);
        }
        out.push_str("\r\n");
        self.drawn = Drawn::default();
        out.into_bytes()
    }
}

/// The terminal in raw mode (no echo, no line buffering, no signals from Ctrl-C)
/// while a line is read; restored on drop.
pub struct Raw {
    saved: Termios,
}

impl Raw {
    /// Puts standard input's terminal in raw mode.
    pub fn enter() -> nix::Result<Self> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        raw.local_flags &=
            !(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        raw.input_flags &= !(termios::InputFlags::ICRNL | termios::InputFlags::IXON);
        for (index, value) in [
            (SpecialCharacterIndices::VMIN, 1),
            (SpecialCharacterIndices::VTIME, 0),
        ] {
            if let Some(c) = raw.control_chars.get_mut(index as usize) {
                *c = value;
            }
        }
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSADRAIN, &raw)?;
        Ok(Self { saved })
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// Writes `bytes` to the terminal now.
pub fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &mut Line, keys: &[u8]) -> Option<Action> {
        let mut d = Decoder::default();
        let mut last = None;
        for &b in keys {
            if let Some(k) = d.feed(b) {
                last = Some(line.apply(k));
            }
        }
        last
    }

    #[test]
    fn cursor_keys_and_deletes_edit_in_place() {
        let mut l = Line::default();
        typed(&mut l, b"get fle\x1b[D\x1b[D\x1b[Dx\x7f\x1b[Ci");
        assert_eq!(l.text(), "get file");
        typed(&mut l, b"\x01\x1b[3~G\x05!");
        assert_eq!(l.text(), "Get file!");
        typed(&mut l, b"\x17");
        assert_eq!(l.text(), "Get ");
        typed(&mut l, b"x\x1b[H\x1b[C\x0b");
        assert_eq!(l.text(), "G");
        typed(&mut l, b"\x1bOF ab\x15");
        assert_eq!(l.text(), "");
    }

    #[test]
    fn history_walks_back_and_returns_to_the_typed_line() {
        let mut l = Line::default();
        assert_eq!(typed(&mut l, b"ls\r"), Some(Action::Accept("ls".into())));
        typed(&mut l, b"pwd\r");
        typed(&mut l, b"cd");
        typed(&mut l, b"\x1b[A");
        assert_eq!(l.text(), "pwd");
        typed(&mut l, b"\x1b[A\x1b[A");
        assert_eq!(l.text(), "ls");
        typed(&mut l, b"\x1b[B\x1b[B");
        assert_eq!(l.text(), "cd");
    }

    #[test]
    fn utf8_tab_interrupt_and_eof() {
        let mut l = Line::default();
        typed(&mut l, "put é".as_bytes());
        assert_eq!(l.text(), "put é");
        assert_eq!(typed(&mut l, b"\t"), Some(Action::Complete));
        l.replace_before_cursor(4, "\u{e9}t\u{e9} ");
        assert_eq!(l.text(), "put été ");
        assert_eq!(typed(&mut l, b"\x03"), Some(Action::Cancel));
        assert_eq!(l.text(), "");
        assert_eq!(typed(&mut l, b"\x04"), Some(Action::EndOfFile));
    }

    #[test]
    fn render_puts_the_cursor_back() {
        let mut l = Line::default();
        typed(&mut l, b"abc\x1b[D");
        assert_eq!(
            l.render("sftp> ", 80),
            b"\r\x1b[Jsftp> abc\r\x1b[8C".to_vec()
        );
    }

    #[test]
    fn a_line_wider_than_the_terminal_is_redrawn_from_its_first_row() {
        let mut l = Line::default();
        // "> " and 12 characters on a terminal 5 wide: rows 0..=2, the end in row 2.
        typed(&mut l, b"abcdefghijkl");
        assert_eq!(l.render("> ", 5), b"\r\x1b[J> abcdefghijkl".to_vec());
        // Cursor back to "d" (column 0 of row 1): up one row from the end.
        typed(
            &mut l,
            b"\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D",
        );
        assert_eq!(
            l.render("> ", 5),
            b"\x1b[2A\r\x1b[J> abcdefghijkl\x1b[1A\r".to_vec()
        );
        // Backspace across the wrap: the "c" at the end of row 0 goes.
        typed(&mut l, b"\x7f");
        assert_eq!(l.text(), "abdefghijkl");
        assert_eq!(
            l.render("> ", 5),
            b"\x1b[1A\r\x1b[J> abdefghijkl\x1b[2A\r\x1b[4C".to_vec()
        );
        // A line ending at the margin: the cursor is moved onto the next row.
        typed(&mut l, b"\x05\x7f\x7f\x7f");
        assert_eq!(l.text(), "abdefghi");
        assert_eq!(l.render("> ", 5), b"\r\x1b[J> abdefghi\r\n".to_vec());
        assert_eq!(l.leave("^C"), b"^C\r\n".to_vec());
    }

    #[test]
    fn wide_characters_take_two_columns_and_wrap_whole() {
        let mut l = Line::default();
        typed(&mut l, "日本語".as_bytes());
        // "> " then 日 fill four columns of five; 本 would straddle the margin, so it
        // starts row 1, then 語: the end is column 4 of row 1.
        assert_eq!(l.render("> ", 5), "\r\x1b[J> 日本語".as_bytes().to_vec());
        typed(&mut l, b"\x1b[D");
        assert_eq!(
            l.render("> ", 5),
            "\x1b[1A\r\x1b[J> 日本語\r\x1b[2C".as_bytes().to_vec()
        );
        typed(&mut l, b"\x1b[D\x1b[D");
        assert_eq!(
            l.render("> ", 5),
            "\x1b[1A\r\x1b[J> 日本語\x1b[1A\r\x1b[2C"
                .as_bytes()
                .to_vec()
        );
        // An emoji ending exactly at the margin: onto the next row.
        let mut l = Line::default();
        typed(&mut l, "ab😀".as_bytes());
        assert_eq!(l.render("> ", 6), "\r\x1b[J> ab😀\r\n".as_bytes().to_vec());
        assert_eq!(l.leave(""), b"\r\n".to_vec());
    }

    #[test]
    fn the_cursor_steps_over_combining_marks() {
        let mut l = Line::default();
        typed(&mut l, "e\u{301}x".as_bytes());
        typed(&mut l, b"\x1b[D\x1b[D");
        assert_eq!(l.before_cursor(), "");
        // On a line of width 80, "e\u{301}" is one column: the cursor after it is at 3.
        typed(&mut l, b"\x1b[C");
        assert_eq!(l.before_cursor(), "e\u{301}");
        assert_eq!(
            l.render("> ", 80),
            "\r\x1b[J> e\u{301}x\r\x1b[3C".as_bytes().to_vec()
        );
        typed(&mut l, b"\x7f");
        assert_eq!(l.text(), "x");
        typed(&mut l, "a\u{301}\u{302}".as_bytes());
        typed(&mut l, b"\x01\x1b[3~");
        assert_eq!(l.text(), "x");
    }

    #[test]
    fn control_characters_are_drawn_escaped_and_counted() {
        let mut l = Line::default();
        l.replace_before_cursor(0, "a\x1b[2Jb");
        typed(&mut l, b"\x1b[D");
        // "> a\033[2Jb": the cursor on "b", at column 10.
        assert_eq!(
            l.render("> ", 80),
            b"\r\x1b[J> a\\033[2Jb\r\x1b[10C".to_vec()
        );
    }
}
