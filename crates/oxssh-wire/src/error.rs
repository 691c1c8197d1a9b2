//! Decoding errors: what can be wrong with bytes a peer sent.

/// Why a wire value or message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated message")]
    Truncated,
    /// Bytes were left after the last field.
    #[error("{0} bytes of trailing data")]
    TrailingData(usize),
    /// A length field exceeded what we accept.
    #[error("length {0} exceeds the limit")]
    TooLong(usize),
    /// A text field was not UTF-8.
    #[error("text is not UTF-8")]
    NotUtf8,
    /// An mpint had its sign bit set.
    #[error("negative mpint")]
    NegativeMpint,
    /// An mpint had a superfluous leading zero byte.
    #[error("mpint not minimally encoded")]
    NonMinimalMpint,
    /// A name-list had an empty or non-ASCII name.
    #[error("malformed name-list")]
    BadNameList,
    /// The message number was not the one this decoder handles.
    #[error("unexpected message number {0}")]
    UnexpectedMessage(u8),
    /// A field held a value outside its allowed set.
    #[error("invalid value for {0}")]
    InvalidValue(&'static str),
}
