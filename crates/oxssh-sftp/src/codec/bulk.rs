//! WRITE requests built around their data: the caller reads file data straight into
//! the packet being encoded, instead of into a buffer that is then copied into a
//! [`Request::Write`](super::Request::Write) and again into the packet.

use oxssh_wire::Writer;

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
    out.extend_from_slice(&[0; 4]);
    Writer::new(out)
        .u8(fxp::WRITE)
        .u32(id)
        .string(handle)
        .u64(offset);
    let data_len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let data_start = out.len();
    out.resize(data_start + max, 0);
    let filled = match out.get_mut(data_start..).map(fill) {
        Some(Ok(n)) => n.min(max),
        Some(Err(e)) => {
            out.truncate(start);
            return Err(e);
        }
        None => 0,
    };
    if filled == 0 {
        out.truncate(start);
        return Ok(0);
    }
    out.truncate(data_start + filled);
    let data_len = u32::try_from(filled).unwrap_or(u32::MAX);
    let packet_len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    for (at, value) in [(start, packet_len), (data_len_at, data_len)] {
        if let Some(field) = out.get_mut(at..at + 4) {
            field.copy_from_slice(&value.to_be_bytes());
        }
    }
    Ok(filled)
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
