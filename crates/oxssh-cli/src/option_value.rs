//! Reading an option's value or an operand for the tools' getopt-style parsers (lexopt
//! underneath), with the complaints worded as OpenSSH's getopt and `fatal()` word them.
//! Each tool turns a [`ValueError`] into its own usage or fatal error.

use std::ffi::OsString;

/// What went wrong reading a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// `option requires an argument -- f`: a usage error.
    Missing(char),
    /// Any other getopt complaint (unknown option, unexpected value): a usage error.
    Getopt(String),
    /// A value or operand that is not UTF-8: fatal for ssh and ssh-keygen.
    NotUtf8(OsString),
}

impl ValueError {
    /// Whether the tool should print its usage text after the message.
    pub fn is_usage(&self) -> bool {
        !matches!(self, Self::NotUtf8(_))
    }

    /// The tool's own error: `usage` for usage errors, `other` for the rest, each given
    /// the message.
    pub fn into_error<E>(
        self,
        usage: impl FnOnce(String) -> E,
        other: impl FnOnce(String) -> E,
    ) -> E {
        if self.is_usage() {
            usage(self.to_string())
        } else {
            other(self.to_string())
        }
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(flag) => write!(f, "option requires an argument -- {flag}"),
            Self::Getopt(text) => f.write_str(text),
            Self::NotUtf8(raw) => write!(f, "argument is not UTF-8: {raw:?}"),
        }
    }
}

impl From<lexopt::Error> for ValueError {
    fn from(err: lexopt::Error) -> Self {
        Self::Getopt(err.to_string())
    }
}

/// The value of option `flag`, which takes one.
///
/// # Errors
/// When it is missing or not UTF-8.
pub fn value(parser: &mut lexopt::Parser, flag: char) -> Result<String, ValueError> {
    let value = parser.value().map_err(|_| ValueError::Missing(flag))?;
    utf8(value)
}

/// An operand or value as UTF-8.
///
/// # Errors
/// When it is not UTF-8.
pub fn utf8(value: OsString) -> Result<String, ValueError> {
    value.into_string().map_err(ValueError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_and_getopt_complaints_are_usage_errors_worded_as_getopt() {
        let mut parser = lexopt::Parser::from_args(["-f"]);
        assert!(matches!(parser.next(), Ok(Some(lexopt::Arg::Short('f')))));
        let err = value(&mut parser, 'f').unwrap_err();
        assert_eq!(err.to_string(), "option requires an argument -- f");
        assert!(err.is_usage());
        let mut parser = lexopt::Parser::from_args(["-f", "x"]);
        let _ = parser.next();
        assert_eq!(value(&mut parser, 'f'), Ok("x".to_owned()));
    }

    #[test]
    fn non_utf8_is_not_a_usage_error() {
        use std::os::unix::ffi::OsStringExt;
        let err = utf8(OsString::from_vec(vec![0xff])).unwrap_err();
        assert!(!err.is_usage());
        assert_eq!(err.to_string(), "argument is not UTF-8: \"\\xFF\"");
    }
}
