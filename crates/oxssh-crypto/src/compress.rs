//! `zlib@openssh.com` compression (OpenSSH PROTOCOL §1.4): one zlib stream per
//! direction for the whole connection, each payload flushed to a byte boundary, started
//! only after user authentication. On `flate2` (DESIGN.md).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use oxssh_proto::crypto::{CompressionAlgorithm, Compressor, CryptoError, Decompressor};
use oxssh_wire::names::compression as names;

/// Deflate level OpenSSH uses (zlib's default, 6).
const LEVEL: u32 = 6;
/// Output grows in steps of this much while deflating or inflating one payload.
const STEP: usize = 16 * 1024;

/// `zlib@openssh.com`.
#[derive(Debug)]
pub struct ZlibOpenssh;

/// The `zlib@openssh.com` instance.
pub static ZLIB_OPENSSH: ZlibOpenssh = ZlibOpenssh;

impl CompressionAlgorithm for ZlibOpenssh {
    fn name(&self) -> &'static str {
        names::ZLIB_OPENSSH
    }
    fn is_delayed(&self) -> bool {
        true
    }
    fn compressor(&self) -> Box<dyn Compressor> {
        Box::new(Deflater(Compress::new(Compression::new(LEVEL), true)))
    }
    fn decompressor(&self) -> Box<dyn Decompressor> {
        Box::new(Inflater(Decompress::new(true)))
    }
}

struct Deflater(Compress);

impl Compressor for Deflater {
    fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let start_in = self.0.total_in();
        loop {
            let consumed = usize::try_from(self.0.total_in() - start_in)
                .map_err(|_| CryptoError::Decompression)?;
            let input = payload.get(consumed..).unwrap_or_default();
            out.reserve(STEP);
            let before_out = self.0.total_out();
            // A sync flush ends each payload on a byte boundary, as Z_PARTIAL_FLUSH does for
            // OpenSSH: the peer can inflate every packet on its own arrival.
            self.0
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|_| CryptoError::Decompression)?;
            let done_in = self.0.total_in() - start_in == payload.len() as u64;
            // Finished when all input is in and the flush left spare output room.
            if done_in && out.len() < out.capacity() && self.0.total_out() >= before_out {
                return Ok(());
            }
        }
    }
}

struct Inflater(Decompress);

impl Decompressor for Inflater {
    fn decompress(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), CryptoError> {
        let start_len = out.len();
        let start_in = self.0.total_in();
        // Inflate until a call makes no progress with output room available: inflate may
        // take in input before it emits the matching output, so "all input consumed" alone
        // does not mean the payload is complete.
        loop {
            let consumed = usize::try_from(self.0.total_in() - start_in)
                .map_err(|_| CryptoError::Decompression)?;
            let input = payload.get(consumed..).unwrap_or_default();
            let produced = out.len() - start_len;
            if produced > limit {
                return Err(CryptoError::Decompression);
            }
            out.reserve(STEP.min(limit + 1 - produced).max(1));
            let (before_in, before_out) = (self.0.total_in(), out.len());
            let status = self
                .0
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| CryptoError::Decompression)?;
            if out.len() - start_len > limit || status == Status::StreamEnd {
                return Err(CryptoError::Decompression);
            }
            let progressed = self.0.total_in() != before_in || out.len() != before_out;
            if !progressed {
                let all_in = self.0.total_in() - start_in == payload.len() as u64;
                return if all_in {
                    Ok(())
                } else {
                    Err(CryptoError::Decompression)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_one_by_one_over_one_stream() {
        let mut c = ZLIB_OPENSSH.compressor();
        let mut d = ZLIB_OPENSSH.decompressor();
        for i in 0..200usize {
            let payload: Vec<u8> = (0..(i * 97) % 70_000)
                .map(|j| (j % 7 + i % 3) as u8)
                .collect();
            let mut packed = Vec::new();
            c.compress(&payload, &mut packed).unwrap();
            let mut unpacked = Vec::new();
            d.decompress(&packed, &mut unpacked, 256 * 1024).unwrap();
            assert_eq!(unpacked, payload, "payload {i}");
        }
    }

    #[test]
    fn a_compression_bomb_is_refused() {
        let mut c = ZLIB_OPENSSH.compressor();
        let mut packed = Vec::new();
        c.compress(&vec![0u8; 1 << 20], &mut packed).unwrap();
        assert!(packed.len() < 4096);
        let mut d = ZLIB_OPENSSH.decompressor();
        let mut out = Vec::new();
        assert_eq!(
            d.decompress(&packed, &mut out, 256 * 1024),
            Err(CryptoError::Decompression)
        );
    }

    #[test]
    fn payloads_split_at_every_size_inflate_completely() {
        // Sizes around the growth step and the 32 KiB window, where inflate may hold
        // output back after taking all the input.
        let mut c = ZLIB_OPENSSH.compressor();
        let mut d = ZLIB_OPENSSH.decompressor();
        for size in [
            1usize, 5, 16_383, 16_384, 16_385, 32_767, 32_768, 32_769, 65_536, 100_000,
        ] {
            let payload: Vec<u8> = (0..size).map(|j| (j * 31 % 253) as u8).collect();
            let mut packed = Vec::new();
            c.compress(&payload, &mut packed).unwrap();
            let mut unpacked = Vec::new();
            d.decompress(&packed, &mut unpacked, 256 * 1024).unwrap();
            assert_eq!(unpacked.len(), payload.len(), "size {size}");
            assert_eq!(unpacked, payload);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut d = ZLIB_OPENSSH.decompressor();
        let mut out = Vec::new();
        assert!(d.decompress(&[0xff; 64], &mut out, 1024).is_err());
    }
}
