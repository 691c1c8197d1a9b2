//! SSH wire format: RFC 4251 data types through one checked [`Reader`]/[`Writer`],
//! every transport message as a typed struct, all algorithm names as constants, and
//! the disconnect reason codes. No cryptography, no state, no I/O.
#![forbid(unsafe_code)]

pub mod codec;
pub mod connection;
pub mod disconnect;
pub mod error;
pub mod forward;
pub mod msg;
pub mod names;
pub mod transport;
pub mod userauth;

pub use codec::{NameList, Reader, Writer, MAX_STRING_LEN};
pub use disconnect::DisconnectReason;
pub use error::DecodeError;
pub use transport::Message;
