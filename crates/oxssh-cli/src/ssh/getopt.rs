//! getopt-style value handling for `oxssh`'s flag parser: `-o` line splitting as
//! OpenSSH's `strdelim()` and algorithm-list checks (option values themselves are read
//! through [`crate::option_value`], shared with the other tools).

use super::args::ArgsError;

/// Splits an `-o` line into its keyword and first argument the way OpenSSH's `strdelim()`
/// does: white space or one `=` separates them, and the argument may be double-quoted.
pub(super) fn split_option(line: &str) -> Option<(String, String)> {
    const WS: [char; 4] = [' ', '\t', '\r', '\n'];
    let line = line.trim_start_matches(WS);
    let end = line.find(|c| WS.contains(&c) || c == '=' || c == '"')?;
    let (keyword, rest) = line.split_at(end);
    if keyword.is_empty() {
        return None;
    }
    let rest = rest.trim_start_matches(WS);
    let rest = rest
        .strip_prefix('=')
        .unwrap_or(rest)
        .trim_start_matches(WS);
    let arg = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or_default(),
        None => rest.split(WS).next().unwrap_or_default(),
    };
    Some((keyword.to_owned(), arg.to_owned()))
}

/// OpenSSH's `ciphers_valid()` / `mac_valid()`: a non-empty comma list of known names.
/// Like the C loop, checking stops at the first empty item (`-c ,` passes).
pub(super) fn names_valid<'n>(list: &str, known: impl Iterator<Item = &'n str> + Clone) -> bool {
    if list.is_empty() {
        return false;
    }
    list.split(',')
        .take_while(|name| !name.is_empty())
        .all(|name| known.clone().any(|k| k == name))
}

pub(super) fn fatal(message: &str) -> ArgsError {
    ArgsError::Fatal(message.to_owned())
}

/// A flag OpenSSH has and oxssh does not implement yet; `main` refuses it with
/// [`UnsupportedFlag::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedFlag {
    /// The option letter.
    pub flag: char,
    /// Its argument, for flags that take one.
    pub value: Option<String>,
}

impl UnsupportedFlag {
    /// The issue that will implement the flag, when one is filed (none is, today).
    pub fn issue(&self) -> Option<u32> {
        None
    }

    /// True for flags that only turn off something oxssh never does (`-x` X11
    /// forwarding, `-k` GSSAPI credential delegation): `main` may accept these rather
    /// than refuse them, since ignoring them changes nothing.
    pub fn is_harmless(&self) -> bool {
        matches!(self.flag, 'x' | 'k')
    }

    /// `oxssh: -L is not supported yet (issue 8)`.
    pub fn message(&self) -> String {
        match self.issue() {
            Some(issue) => format!("oxssh: -{} is not supported yet (issue {issue})", self.flag),
            None => format!("oxssh: -{} is not supported yet", self.flag),
        }
    }
}

/// Who holds a first-come slot shared by a flag and a config keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Slot<T> {
    Free,
    Flag(T),
    /// An earlier `-o` set the keyword; the flag loses, the value is kept for checks.
    Option(T),
}

impl<T> Slot<T> {
    pub(super) fn is_free(&self) -> bool {
        matches!(self, Self::Free)
    }

    pub(super) fn value(&self) -> Option<&T> {
        match self {
            Self::Free => None,
            Self::Flag(v) | Self::Option(v) => Some(v),
        }
    }
}
