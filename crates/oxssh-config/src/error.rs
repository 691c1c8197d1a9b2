//! Errors that stop configuration processing.
//!
//! OpenSSH reports configuration problems in three ways, and so do we:
//! - a line in a file is bad: it prints one message per bad line, keeps reading the file, then
//!   stops with `<file>: terminating, N bad configuration options` ([`ConfigError::BadOptions`]);
//! - a `-o` option is bad: it prints the message (`command-line line 0: ...`) and exits 255
//!   ([`ConfigError::CommandLine`]);
//! - everything else is `fatal()`: one message, exit 255 ([`ConfigError::Fatal`]).
//!
//! The messages are OpenSSH's own wording so that scripts and users who grep for them keep
//! working. Callers print [`ConfigError::messages`] one per line on stderr and exit 255.

use std::fmt;

/// Why a [`ConfigError::Fatal`] happened, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FatalKind {
    /// `Include` nested deeper than 16 files.
    IncludeDepth,
    /// A file read with permission checks is writable by others or owned by someone else.
    BadPermissions,
    /// The file given with `-F` cannot be opened.
    CannotOpen,
    /// `Match exec` could not run its command, or it died on a signal.
    MatchExec,
    /// A `%` token or `${VAR}` could not be expanded.
    Expansion,
    /// A `PermitRemoteOpen` specification OpenSSH treats as fatal.
    PermitRemoteOpen,
    /// A resolved value is unusable (`ConnectionAttempts 0`, a ProxyJump loop, ...).
    InvalidValue,
    /// `%C` was used but the caller gave no SHA-1 hasher.
    NoConnectionHasher,
}

/// An error that stops configuration processing; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// One or more lines of `file` were rejected; `messages` holds one line per problem.
    BadOptions {
        /// The file that is being terminated (an included file names itself).
        file: String,
        /// Number of bad lines, as counted by OpenSSH.
        count: usize,
        /// The messages printed before the terminating line.
        messages: Vec<String>,
    },
    /// A `-o` option was rejected.
    CommandLine {
        /// The messages OpenSSH prints (usually one).
        messages: Vec<String>,
    },
    /// A fatal error.
    Fatal {
        /// What went wrong.
        kind: FatalKind,
        /// The message OpenSSH prints.
        message: String,
        /// Messages printed before it (bad lines of the including files).
        preceding: Vec<String>,
    },
}

impl ConfigError {
    /// Builds a [`ConfigError::Fatal`].
    pub(crate) fn fatal(kind: FatalKind, message: impl Into<String>) -> Self {
        ConfigError::Fatal {
            kind,
            message: message.into(),
            preceding: Vec::new(),
        }
    }

    /// Puts `lines` (already printed when this error happened) before this error's messages.
    pub(crate) fn with_preceding(mut self, lines: Vec<String>) -> Self {
        if lines.is_empty() {
            return self;
        }
        let prepend = |v: &mut Vec<String>| {
            let mut all = lines.clone();
            all.append(v);
            *v = all;
        };
        match &mut self {
            ConfigError::BadOptions { messages, .. } | ConfigError::CommandLine { messages } => {
                prepend(messages)
            }
            ConfigError::Fatal { preceding, .. } => prepend(preceding),
        }
        self
    }

    /// The kind of a fatal error, if this is one.
    pub fn fatal_kind(&self) -> Option<FatalKind> {
        match self {
            ConfigError::Fatal { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The lines to print on stderr, in order, exactly as OpenSSH words them.
    pub fn messages(&self) -> Vec<String> {
        match self {
            ConfigError::BadOptions {
                file,
                count,
                messages,
            } => {
                let mut out = messages.clone();
                out.push(format!(
                    "{file}: terminating, {count} bad configuration options"
                ));
                out
            }
            ConfigError::CommandLine { messages } => messages.clone(),
            ConfigError::Fatal {
                message, preceding, ..
            } => {
                let mut out = preceding.clone();
                out.push(message.clone());
                out
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// Truncates `s` to at most `max` bytes on a character boundary, like C's `%.Ns`.
pub(crate) fn trunc(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_end_with_the_terminating_line() {
        let e = ConfigError::BadOptions {
            file: "cfg".into(),
            count: 1,
            messages: vec!["cfg: line 1: Bad configuration option: foo".into()],
        };
        assert_eq!(
            e.to_string(),
            "cfg: line 1: Bad configuration option: foo\ncfg: terminating, 1 bad configuration options"
        );
    }

    #[test]
    fn trunc_respects_char_boundaries() {
        assert_eq!(trunc("abcdef", 3), "abc");
        assert_eq!(trunc("aé", 2), "a");
        assert_eq!(trunc("ab", 5), "ab");
    }
}
