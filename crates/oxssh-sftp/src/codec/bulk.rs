//! WRITE requests built around their data: the caller reads file data straight into
//! the packet being encoded (the request queue, or an SSH packet's payload), instead of
//! into a buffer that is then copied into a [`Request::Write`](super::Request::Write)
//! and again into the packet; and a server reads one's fields where they lie
//! ([`decode_write`]), writing its data to the file from the packet.

use oxssh_wire::{Reader, Writer};

use super::fxp;

/// Appends a framed WRITE request `id` for `handle` at `offset` to `out`, its data
/// written in place by `fill` into the `max` bytes it is given (it returns how many
/// it wrote; more than `max` counts as `max`). When `fill` writes nothing or fails,
/// `out` is left as it was and nothing is sent. Returns the data length.
pub fn encode_write_with<E>(
    id: u32,
    handle: &[u8],
    offset: u64,
    max: usize,
    out: &mut Vec<u8>,
    fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Result<usize, E> {
    let start = out.len();
    out.resize(start + write_header_len(handle) + max, 0);
    let room = out.get_mut(start..).unwrap_or_default();
    let len = encode_write_into(room, id, handle, offset, fill);
    out.truncate(start + *len.as_ref().unwrap_or(&0));
    len.map(|len| len.saturating_sub(write_header_len(handle)))
}

/// Bytes of a framed WRITE request for `handle` before its data.
pub fn write_header_len(handle: &[u8]) -> usize {
    4 + 1 + 4 + 4 + handle.len() + 8 + 4
}

/// Encodes a framed WRITE request `id` for `handle` at `offset` at the start of `room`
/// (an SSH packet's payload, say), its data written there in place by `fill` (the
/// bytes after the header; it returns how many it wrote, capped at the room). Returns
/// the request's whole length, header included: 0 when `fill` wrote nothing, or when
/// the room cannot hold the header and a byte of data.
pub fn encode_write_into<E>(
    room: &mut [u8],
    id: u32,
    handle: &[u8],
    offset: u64,
    fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Result<usize, E> {
    let header_len = write_header_len(handle);
    let Some((header, data)) = room.split_at_mut_checked(header_len) else {
        return Ok(0);
    };
    if data.is_empty() {
        return Ok(0);
    }
    let max = data.len();
    let filled = fill(data)?.min(max);
    if filled == 0 {
        return Ok(0);
    }
    let mut encoded = Vec::with_capacity(header_len);
    Writer::new(&mut encoded)
        .u32(u32::try_from(header_len - 4 + filled).unwrap_or(u32::MAX))
        .u8(fxp::WRITE)
        .u32(id)
        .string(handle)
        .u64(offset)
        .u32(u32::try_from(filled).unwrap_or(u32::MAX));
    header.copy_from_slice(&encoded);
    Ok(header_len + filled)
}

/// A WRITE request's fields in its body (type byte first), borrowed: `(id, handle,
/// offset, data)`. `None` for any other request, and for a WRITE that does not decode
/// whole, which [`decode_request`](super::decode_request) then answers as usual.
pub fn decode_write(body: &[u8]) -> Option<(u32, &[u8], u64, &[u8])> {
    let mut r = Reader::new(body);
    if r.u8().ok()? != fxp::WRITE {
        return None;
    }
    let id = r.u32().ok()?;
    let handle = r.string().ok()?;
    let offset = r.u64().ok()?;
    let data = r.string().ok()?;
    r.finish().ok()?;
    Some((id, handle, offset, data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::super::{decode_request, encode_request, Request};
    use super::*;

    #[test]
    fn write_filled_in_place_encodes_as_a_write_request() {
        let mut out = b"queued".to_vec();
        let n = encode_write_with(7, b"h1", 1 << 40, 100, &mut out, |dst| {
            dst[..5].copy_from_slice(b"hello");
            Ok::<_, ()>(5)
        })
        .unwrap();
        assert_eq!(n, 5);
        let mut want = b"queued".to_vec();
        let request = Request::Write {
            handle: b"h1".to_vec(),
            offset: 1 << 40,
            data: b"hello".to_vec(),
        };
        encode_request(7, &request, &mut want);
        assert_eq!(out, want);
        assert_eq!(decode_request(&out[6 + 4..]).unwrap(), (7, request));
    }

    #[test]
    fn a_write_decodes_in_place_as_decode_request_decodes_it() {
        let request = Request::Write {
            handle: b"h7".to_vec(),
            offset: 1 << 33,
            data: b"some data".to_vec(),
        };
        let mut framed = Vec::new();
        encode_request(9, &request, &mut framed);
        let body = &framed[4..];
        assert_eq!(
            decode_write(body),
            Some((9, &b"h7"[..], 1 << 33, &b"some data"[..]))
        );
        // Trailing bytes, a cut, another request: left to decode_request.
        let mut longer = body.to_vec();
        longer.push(0);
        assert_eq!(decode_write(&longer), None);
        assert!(decode_request(&longer).is_err());
        assert_eq!(decode_write(&body[..body.len() - 1]), None);
        let mut read = Vec::new();
        let read_request = Request::Read {
            handle: b"h7".to_vec(),
            offset: 0,
            len: 10,
        };
        encode_request(1, &read_request, &mut read);
        assert_eq!(decode_write(&read[4..]), None);
    }

    #[test]
    fn nothing_filled_or_a_failure_leaves_the_output_alone() {
        let mut out = b"queued".to_vec();
        assert_eq!(
            encode_write_with(1, b"h", 0, 64, &mut out, |_| Ok::<_, ()>(0)),
            Ok(0)
        );
        assert_eq!(
            encode_write_with(1, b"h", 0, 64, &mut out, |_| Err("io")),
            Err("io")
        );
        assert_eq!(out, b"queued");
        // A filler claiming more than it was given is held to `max`.
        let n = encode_write_with(1, b"h", 0, 3, &mut out, |_| Ok::<_, ()>(10)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(out.len(), 6 + 4 + 1 + 4 + 4 + 1 + 8 + 4 + 3);
    }
}
