//! Every parser of file contents returns an error on garbage, never panics: key files
//! and known_hosts files come from disk, but a corrupted or hostile file must not take
//! the client down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use oxssh_keys::known_hosts::{find_in, KnownHosts};
use oxssh_keys::{private, PrivateKey, PublicKey};
use proptest::prelude::*;
use std::path::Path;

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

/// Lines built from known_hosts-like pieces, so the parser goes deep, not just fails
/// on the first byte.
fn known_hosts_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("@cert-authority ".to_owned()),
        Just("@revoked ".to_owned()),
        Just("|1|".to_owned()),
        Just("|".to_owned()),
        Just("[h]:22 ".to_owned()),
        Just("*,!x,? ".to_owned()),
        Just(ED.to_owned()),
        Just("ssh-rsa AAAAB3NzaC1yc2E".to_owned()),
        Just("\n".to_owned()),
        Just("\t".to_owned()),
        Just("#".to_owned()),
        "[ -~]{0,12}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn known_hosts_parsing_never_panics(text in known_hosts_text(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let key = PublicKey::from_openssh(ED).unwrap();
        for input in [text.as_bytes(), &bytes] {
            let kh = KnownHosts::parse(Path::new("f"), input);
            let _ = kh.check("h", 22, &key);
            let _ = kh.check_name("[h]:22", &key);
            let _ = find_in(input, "h");
        }
    }

    #[test]
    fn private_key_parsing_never_panics(body in "[A-Za-z0-9+/=\n]{0,400}") {
        let text = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n");
        let _ = PrivateKey::from_openssh(&text);
        let _ = private::is_encrypted(&text);
        let _ = private::read_public(&text);
        let _ = private::decrypt(&text, b"x");
    }

    #[test]
    fn corrupted_real_key_never_panics(pos in 0usize..400, byte in any::<u8>()) {
        // A valid key with one base64 character replaced: reaches the inner decoding.
        let key = PrivateKey::new(
            oxssh_keys::KeyMaterial::Ed25519 { seed: &[1; 32], public: &[2; 32] },
            "c",
        )
        .unwrap();
        let text = key.to_openssh(None).unwrap();
        let mut bytes = text.as_bytes().to_vec();
        let header = "-----BEGIN OPENSSH PRIVATE KEY-----\n".len();
        let i = header + pos % (bytes.len() - 2 * header);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        bytes[i] = alphabet[usize::from(byte) % alphabet.len()];
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = PrivateKey::from_openssh(&text);
            let _ = private::decrypt(&text, b"x");
        }
    }
}
