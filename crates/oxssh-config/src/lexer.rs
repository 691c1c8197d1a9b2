//! Splitting configuration lines into a keyword and arguments, byte for byte as OpenSSH's
//! `readconf.c` and `misc.c` do it.
//!
//! A line goes through three steps, and the differences between them are visible to users, so
//! each is reproduced rather than approximated:
//! 1. trailing whitespace (space, tab, CR, LF, form feed) is removed, never the first byte;
//! 2. the keyword is taken with `strdelim`: it ends at whitespace, a `"` or a single `=`
//!    (`Port=22`, `Port = 22` and `Port 22` are the same line), and is lower-cased;
//! 3. the rest is split with `argv_split`: whitespace separates arguments, `"` and `'` quote,
//!    `\` escapes a quote, a backslash or (outside quotes) a space, and a `#` at the start of
//!    an argument ends the line.
//!
//! Some keywords (`ProxyCommand`, `RemoteCommand`, `ProxyJump`, `Match`) also look at the raw
//! rest of the line, so [`Directive::rest`] keeps it.

/// The characters OpenSSH's `strdelim` treats as whitespace.
const WHITESPACE: &[u8] = b" \t\r\n";

/// Returns `s` without the first `n` bytes, or `""` when shorter.
fn after(s: &str, n: usize) -> &str {
    s.get(n..).unwrap_or("")
}

/// Skips leading bytes in `set`, like `s += strspn(s, set)`.
pub(crate) fn skip_set<'a>(s: &'a str, set: &[u8]) -> &'a str {
    let n = s.bytes().take_while(|b| set.contains(b)).count();
    after(s, n)
}

/// Skips leading space, tab, CR and LF.
pub(crate) fn skip_ws(s: &str) -> &str {
    skip_set(s, WHITESPACE)
}

/// Removes trailing whitespace and form feeds, but never the first byte, as `readconf.c` does
/// before parsing a line.
pub(crate) fn trim_line_end(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut len = bytes.len();
    while len > 1 {
        match bytes.get(len - 1) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0c') => len -= 1,
            _ => break,
        }
    }
    line.get(..len).unwrap_or(line)
}

/// A cursor implementing OpenSSH's `strdelim`: successive tokens separated by whitespace or
/// (optionally) one `=`, where a `"` starts a quoted part that runs to the next `"`.
#[derive(Debug, Clone)]
pub(crate) struct Delim<'a> {
    rest: Option<&'a str>,
}

impl<'a> Delim<'a> {
    /// Starts tokenising `s`.
    pub(crate) fn new(s: &'a str) -> Self {
        Delim { rest: Some(s) }
    }

    /// What is left after the last token: `None` once a token ran to the end of the string or
    /// a quote was left open.
    pub(crate) fn rest(&self) -> Option<&'a str> {
        self.rest
    }

    /// The next token. `None` means OpenSSH's NULL: nothing left, or an unmatched quote.
    /// An empty token is returned when the string starts with a separator.
    pub(crate) fn next_token(&mut self, split_equals: bool) -> Option<String> {
        let s = self.rest?;
        let is_delim = |b: u8| WHITESPACE.contains(&b) || b == b'"' || (split_equals && b == b'=');
        let Some(pos) = s.bytes().position(is_delim) else {
            self.rest = None;
            return Some(s.to_string());
        };
        let head = s.get(..pos).unwrap_or("");
        let tail = after(s, pos);
        if tail.starts_with('"') {
            // The quote is removed and the token runs to the next quote: `a"b c"d` gives `ab c`.
            let quoted = after(tail, 1);
            let Some(close) = quoted.find('"') else {
                self.rest = None;
                return None;
            };
            let mut token = head.to_string();
            token.push_str(quoted.get(..close).unwrap_or(""));
            self.rest = Some(skip_ws(after(quoted, close + 1)));
            return Some(token);
        }
        // Only one '=' may separate a keyword from its value: `a = b` and `a=b` but not `a==b`.
        let was_equals = split_equals && tail.starts_with('=');
        let mut rest = skip_ws(after(tail, 1));
        if split_equals && !was_equals && rest.starts_with('=') {
            rest = skip_ws(after(rest, 1));
        }
        self.rest = Some(rest);
        Some(head.to_string())
    }
}

/// A configuration line split into its lower-cased keyword and the raw text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive<'a> {
    /// The keyword as written, lower-cased (aliases are not resolved here).
    pub(crate) keyword: String,
    /// Everything after the keyword and its separator, leading whitespace removed.
    pub(crate) rest: &'a str,
}

/// What a configuration line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Blank, a comment, or unparseable in a way OpenSSH silently ignores.
    Empty,
    /// A keyword with nothing after it (`no argument after keyword`).
    NoArgument(String),
    /// A keyword and its arguments.
    Directive(Directive<'a>),
}

/// Splits one line the way `process_config_line` starts: trim, take the keyword, lower-case
/// it, and find the start of its arguments.
pub(crate) fn split_line(line: &str) -> Line<'_> {
    let line = trim_line_end(line);
    if line.is_empty() {
        return Line::Empty;
    }
    let mut delim = Delim::new(line);
    let Some(mut keyword) = delim.next_token(true) else {
        return Line::Empty;
    };
    // Leading whitespace yields one empty token first.
    if keyword.is_empty() {
        match delim.next_token(true) {
            Some(k) => keyword = k,
            None => return Line::Empty,
        }
    }
    if keyword.is_empty() || keyword.starts_with('\n') || keyword.starts_with('#') {
        return Line::Empty;
    }
    keyword.make_ascii_lowercase();
    match delim.rest().map(skip_ws) {
        Some(rest) if !rest.is_empty() => Line::Directive(Directive { keyword, rest }),
        _ => Line::NoArgument(keyword),
    }
}

/// The quotes in an argument list are unbalanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidQuotes;

/// Splits `s` into arguments exactly as OpenSSH's `argv_split`: see the module docs.
pub(crate) fn argv_split(
    s: &str,
    terminate_on_comment: bool,
) -> Result<Vec<String>, InvalidQuotes> {
    let b = s.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b' ' || c == b'\t' {
            i += 1;
            continue;
        }
        if terminate_on_comment && c == b'#' {
            break;
        }
        let mut quote = 0u8;
        let mut arg = Vec::new();
        while let Some(&c) = b.get(i) {
            if c == b'\\' {
                let next = b.get(i + 1).copied();
                match next {
                    Some(n @ (b'\'' | b'"' | b'\\')) => {
                        i += 1;
                        arg.push(n);
                    }
                    Some(b' ') if quote == 0 => {
                        i += 1;
                        arg.push(b' ');
                    }
                    // An unrecognised escape keeps its backslash.
                    _ => arg.push(c),
                }
            } else if quote == 0 && (c == b' ' || c == b'\t') {
                break;
            } else if quote == 0 && (c == b'"' || c == b'\'') {
                quote = c;
            } else if quote != 0 && c == quote {
                quote = 0;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if i >= b.len() && quote != 0 {
            return Err(InvalidQuotes);
        }
        // Only ASCII bytes were removed, so the result is still UTF-8.
        args.push(String::from_utf8_lossy(&arg).into_owned());
    }
    Ok(args)
}

/// The arguments of one line, consumed front to back like OpenSSH's `argv_next`.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    items: std::collections::VecDeque<String>,
}

impl Args {
    /// Wraps split arguments.
    pub(crate) fn new(items: Vec<String>) -> Self {
        Args {
            items: items.into(),
        }
    }

    /// Takes the next argument.
    pub(crate) fn next_arg(&mut self) -> Option<String> {
        self.items.pop_front()
    }

    /// Looks at the next argument without taking it.
    pub(crate) fn peek(&self) -> Option<&str> {
        self.items.front().map(String::as_str)
    }

    /// Number of arguments not yet taken.
    pub(crate) fn remaining(&self) -> usize {
        self.items.len()
    }

    /// Marks every argument as used (OpenSSH's `argv_consume`).
    pub(crate) fn consume_all(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(line: &str) -> (String, String) {
        match split_line(line) {
            Line::Directive(d) => (d.keyword, d.rest.to_string()),
            other => panic!("not a directive: {other:?}"),
        }
    }

    #[test]
    fn keyword_separators_are_space_tab_and_one_equals() {
        assert_eq!(directive("Port 22"), ("port".into(), "22".into()));
        assert_eq!(directive("Port=22"), ("port".into(), "22".into()));
        assert_eq!(directive("  Port = 22"), ("port".into(), "22".into()));
        assert_eq!(directive("\tPORT\t=\t22\x0c"), ("port".into(), "22".into()));
        assert_eq!(directive("Port==22"), ("port".into(), "=22".into()));
        assert_eq!(directive("Host h\r\n"), ("host".into(), "h".into()));
    }

    #[test]
    fn blank_and_comment_lines_are_empty() {
        assert_eq!(split_line(""), Line::Empty);
        assert_eq!(split_line("   "), Line::Empty);
        assert_eq!(split_line("# Port 22"), Line::Empty);
        assert_eq!(split_line("   #x"), Line::Empty);
        assert_eq!(split_line("\"Port 22"), Line::Empty);
    }

    #[test]
    fn keyword_alone_has_no_argument() {
        assert_eq!(split_line("Port"), Line::NoArgument("port".into()));
        assert_eq!(split_line("Port   "), Line::NoArgument("port".into()));
        assert_eq!(split_line("Port ="), Line::NoArgument("port".into()));
    }

    #[test]
    fn strdelim_handles_quotes_inside_tokens() {
        let mut d = Delim::new("exec \"test %h = x\" host y");
        assert_eq!(d.next_token(true).as_deref(), Some("exec"));
        assert_eq!(d.next_token(true).as_deref(), Some("test %h = x"));
        assert_eq!(d.next_token(true).as_deref(), Some("host"));
        assert_eq!(d.next_token(true).as_deref(), Some("y"));
        assert_eq!(d.next_token(true), None);
        let mut d = Delim::new("a\"b c\"d");
        assert_eq!(d.next_token(true).as_deref(), Some("ab c"));
        assert_eq!(d.rest(), Some("d"));
        let mut d = Delim::new("x \"open");
        assert_eq!(d.next_token(true).as_deref(), Some("x"));
        assert_eq!(d.next_token(true), None);
    }

    #[test]
    fn argv_split_quotes_escapes_and_comments() {
        let split = |s| argv_split(s, true);
        assert_eq!(split("a b\tc").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(split("\"a b\" 'c d'").unwrap(), vec!["a b", "c d"]);
        assert_eq!(split("a\\ b").unwrap(), vec!["a b"]);
        assert_eq!(split("\"a\"b").unwrap(), vec!["ab"]);
        assert_eq!(split("a\\x \\\"").unwrap(), vec!["a\\x", "\""]);
        assert_eq!(split("a #b c").unwrap(), vec!["a"]);
        assert_eq!(split("a#b").unwrap(), vec!["a#b"]);
        assert_eq!(split("#x").unwrap(), Vec::<String>::new());
        assert_eq!(split("\"a"), Err(InvalidQuotes));
        assert_eq!(split("'a \" b'").unwrap(), vec!["a \" b"]);
        assert_eq!(argv_split("a #b", false).unwrap(), vec!["a", "#b"]);
    }

    #[test]
    fn trailing_whitespace_is_trimmed_but_not_the_first_byte() {
        assert_eq!(trim_line_end("a  \t\r\n"), "a");
        assert_eq!(trim_line_end(" "), " ");
    }
}
