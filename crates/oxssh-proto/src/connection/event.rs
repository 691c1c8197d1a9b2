//! The events the connection layer queues for the application.

use super::*;

/// What the connection layer has to tell the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// Our CHANNEL_OPEN was confirmed.
    OpenConfirmed(ChannelId),
    /// Our CHANNEL_OPEN was refused.
    OpenFailed {
        /// The channel.
        id: ChannelId,
        /// Reason code (RFC 4254 §5.1).
        reason: u32,
        /// The peer's description.
        description: String,
    },
    /// The peer wants to open a channel: answer with `accept_open` or `reject_open`.
    OpenRequested {
        /// The channel we reserved for it.
        id: ChannelId,
        /// Channel type.
        channel_type: String,
        /// Type-specific bytes.
        data: Vec<u8>,
    },
    /// A channel request from the peer; if `want_reply`, answer with `reply_request`.
    Request {
        /// The channel.
        id: ChannelId,
        /// The request.
        request: ChannelRequestKind,
        /// Whether the peer waits for an answer.
        want_reply: bool,
    },
    /// The answer to one of our requests sent with want_reply (in order).
    RequestReply {
        /// The channel.
        id: ChannelId,
        /// CHANNEL_SUCCESS or CHANNEL_FAILURE.
        success: bool,
    },
    /// Data (or stderr) became available to read.
    Readable(ChannelId),
    /// The peer opened its window: more may be written.
    Writable(ChannelId),
    /// The peer will send no more data.
    Eof(ChannelId),
    /// The channel is closed on both sides; buffered data can still be read.
    Closed(ChannelId),
    /// A global request from the peer (when not rejected automatically).
    GlobalRequest {
        /// Request name.
        name: String,
        /// Whether an answer is expected.
        want_reply: bool,
        /// Raw request data.
        data: Vec<u8>,
    },
    /// The answer to our global request (in order).
    GlobalReply {
        /// REQUEST_SUCCESS or REQUEST_FAILURE.
        success: bool,
        /// Response data.
        data: Vec<u8>,
    },
}
