//! Hash functions for the exchange hash and key derivation (RFC 4253 §7.2, §8), on
//! `aws_lc_rs::digest`.

use aws_lc_rs::digest;
use oxssh_proto::crypto::{Hash, HashAlg, HashProvider};

/// [`HashProvider`] for SHA-1 (legacy kex only) and SHA-2.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLcHash;

/// The provider's hash functions.
pub static AWS_LC_HASH: AwsLcHash = AwsLcHash;

/// The aws-lc digest algorithm behind `alg`.
pub(crate) fn digest_alg(alg: HashAlg) -> &'static digest::Algorithm {
    match alg {
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

/// One incremental computation.
struct Computation(digest::Context);

impl Hash for Computation {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

impl HashProvider for AwsLcHash {
    fn start(&self, alg: HashAlg) -> Box<dyn Hash> {
        Box::new(Computation(digest::Context::new(digest_alg(alg))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// FIPS 180-2 "abc" vectors, fed in two parts to exercise `update`.
    #[test]
    fn abc_vectors_for_every_algorithm() {
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlg::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlg::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                HashAlg::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (alg, want) in cases {
            let mut h = AWS_LC_HASH.start(alg);
            h.update(b"a");
            h.update(b"bc");
            let out = h.finish();
            assert_eq!(out.len(), alg.output_len());
            assert_eq!(hex(&out), want, "{alg:?}");
        }
    }
}
