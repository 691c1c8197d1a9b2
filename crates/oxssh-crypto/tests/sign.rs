//! Signatures: RFC 8032 known answer, OpenSSH-made signatures and keys, and sign/verify
//! round trips for generated keys.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::unhex;
use oxssh_crypto::sign::{self, KeyKind};
use oxssh_crypto::{default_provider, generate_signing_key, load_openssh_private_key};
use oxssh_keys::{EcdsaCurve, PublicKey};
use oxssh_proto::crypto::{CryptoError, SignatureAlgorithm, SigningKey};
use oxssh_wire::names::key as names;
use oxssh_wire::Writer;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{name}")).unwrap()
}

fn algorithm(name: &str) -> &'static dyn SignatureAlgorithm {
    default_provider().signature(name).unwrap()
}

/// RFC 8032 §7.1 TEST 1 (empty message).
const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

#[test]
fn ed25519_verifies_rfc8032_test_1_and_rejects_tampering() {
    let key = PublicKey::Ed25519(unhex(RFC8032_PUBLIC).try_into().unwrap());
    let signature = unhex(RFC8032_SIGNATURE);
    sign::SSH_ED25519.verify(&key, b"", &signature).unwrap();
    assert_eq!(
        sign::SSH_ED25519.verify(&key, b"x", &signature),
        Err(CryptoError::BadSignature)
    );
    let mut bad = signature.clone();
    bad[63] ^= 0x40;
    assert_eq!(
        sign::SSH_ED25519.verify(&key, b"", &bad),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        sign::SSH_ED25519.verify(&key, b"", &signature[..63]),
        Err(CryptoError::BadSignature)
    );
}

/// The RFC 8032 key, written as an OpenSSH private key file by `ssh-key`, loads and signs
/// deterministically to the RFC's signature.
#[test]
fn ed25519_loaded_key_signs_rfc8032_test_1() {
    let seed: [u8; 32] = unhex(RFC8032_SECRET).try_into().unwrap();
    let pair = ssh_key::private::Ed25519Keypair {
        public: ssh_key::public::Ed25519PublicKey(unhex(RFC8032_PUBLIC).try_into().unwrap()),
        private: ssh_key::private::Ed25519PrivateKey::from_bytes(&seed),
    };
    let file = ssh_key::PrivateKey::new(ssh_key::private::KeypairData::Ed25519(pair), "rfc8032")
        .unwrap()
        .to_openssh(ssh_key::LineEnding::LF)
        .unwrap();
    let key = load_openssh_private_key(&file).unwrap();
    assert_eq!(key.signature_algorithms(), vec![names::SSH_ED25519]);
    assert_eq!(
        key.sign(names::SSH_ED25519, b"").unwrap(),
        unhex(RFC8032_SIGNATURE)
    );
}

/// Keys made by OpenSSH 9.2's ssh-keygen load, match their `.pub` files, and verify
/// signatures made by `ssh-keygen -Y sign` (SSHSIG, PROTOCOL.sshsig) over the same data.
#[test]
fn verifies_signatures_made_by_openssh_ssh_keygen() {
    let message = data("message.txt");
    for name in ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048"] {
        let public = PublicKey::from_openssh(&data(&format!("id_{name}.pub"))).unwrap();
        let sshsig = ssh_key::SshSig::from_pem(data(&format!("message.{name}.sig"))).unwrap();
        let signed =
            ssh_key::SshSig::signed_data(sshsig.namespace(), sshsig.hash_alg(), message.as_bytes())
                .unwrap();
        let alg = algorithm(sshsig.signature().algorithm().as_str());
        alg.verify(&public, &signed, sshsig.signature_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            alg.verify(&public, b"other data", sshsig.signature_bytes()),
            Err(CryptoError::BadSignature),
            "{name}"
        );
    }
}

/// Legacy `ssh-rsa` verifies (a PKCS#1 v1.5 SHA-1 signature made with Python's
/// `cryptography` from the same key), but the same bytes fail as rsa-sha2-256.
#[test]
fn verifies_legacy_ssh_rsa_sha1_signatures() {
    let public = PublicKey::from_openssh(&data("id_rsa2048.pub")).unwrap();
    let message = data("message.txt");
    let signature = unhex(&data("message.rsa2048.ssh-rsa.hex"));
    sign::SSH_RSA
        .verify(&public, message.as_bytes(), &signature)
        .unwrap();
    assert_eq!(
        sign::RSA_SHA2_256.verify(&public, message.as_bytes(), &signature),
        Err(CryptoError::BadSignature)
    );
}

#[test]
fn openssh_private_keys_load_and_sign_with_every_offered_algorithm() {
    let cases = [
        ("ed25519", vec![names::SSH_ED25519]),
        ("ecdsa256", vec![names::ECDSA_SHA2_NISTP256]),
        ("ecdsa384", vec![names::ECDSA_SHA2_NISTP384]),
        ("ecdsa521", vec![names::ECDSA_SHA2_NISTP521]),
        ("rsa2048", vec![names::RSA_SHA2_512, names::RSA_SHA2_256]),
    ];
    for (name, algorithms) in cases {
        let key = load_openssh_private_key(&data(&format!("id_{name}"))).unwrap();
        let public = PublicKey::from_openssh(&data(&format!("id_{name}.pub"))).unwrap();
        assert_eq!(key.public_key(), &public, "{name}");
        assert_eq!(key.signature_algorithms(), algorithms, "{name}");
        round_trip(key.as_ref());
    }
}

/// Signs with every algorithm the key offers and verifies through the provider.
fn round_trip(key: &dyn SigningKey) {
    for name in key.signature_algorithms() {
        let signature = key.sign(name, b"exchange hash").unwrap();
        let alg = algorithm(name);
        assert_eq!(alg.key_type(), key.public_key().key_type());
        alg.verify(key.public_key(), b"exchange hash", &signature)
            .unwrap();
        assert_eq!(
            alg.verify(key.public_key(), b"exchange hasH", &signature),
            Err(CryptoError::BadSignature),
            "{name}"
        );
    }
    assert!(matches!(
        key.sign("ssh-dss", b"m"),
        Err(CryptoError::Unsupported(_))
    ));
}

#[test]
fn generated_keys_sign_and_verify() {
    let kinds = [
        KeyKind::Ed25519,
        KeyKind::Ecdsa(EcdsaCurve::NistP256),
        KeyKind::Ecdsa(EcdsaCurve::NistP384),
        KeyKind::Ecdsa(EcdsaCurve::NistP521),
        KeyKind::Rsa { bits: 2048 },
    ];
    for kind in kinds {
        let key = generate_signing_key(kind).unwrap();
        round_trip(key.as_ref());
        // The public key survives a blob round trip (well-formed, minimal encodings).
        let blob = key.public_key().to_blob();
        assert_eq!(
            &PublicKey::from_blob(&blob).unwrap(),
            key.public_key(),
            "{kind:?}"
        );
    }
    let rsa = generate_signing_key(KeyKind::Rsa { bits: 2048 }).unwrap();
    assert_eq!(rsa.public_key().bits(), 2048);
    assert!(matches!(
        rsa.sign(names::SSH_RSA, b"m"),
        Err(CryptoError::Unsupported(_))
    ));
    assert!(matches!(
        generate_signing_key(KeyKind::Rsa { bits: 1024 }),
        Err(CryptoError::Unsupported(_))
    ));
}

#[test]
fn refuses_encrypted_and_malformed_private_keys() {
    assert!(matches!(
        load_openssh_private_key(&data("id_ed25519_encrypted")),
        Err(CryptoError::Unsupported(_))
    ));
    assert_eq!(
        load_openssh_private_key("not a key").err(),
        Some(CryptoError::InvalidKey)
    );
    let mut truncated = data("id_rsa2048");
    truncated.truncate(truncated.len() / 2);
    assert!(load_openssh_private_key(&truncated).is_err());
}

#[test]
fn verify_refuses_keys_of_the_wrong_type_or_curve() {
    let ed = load_openssh_private_key(&data("id_ed25519")).unwrap();
    let p256 = load_openssh_private_key(&data("id_ecdsa256")).unwrap();
    let rsa = load_openssh_private_key(&data("id_rsa2048")).unwrap();
    let ed_sig = ed.sign(names::SSH_ED25519, b"m").unwrap();
    let p256_sig = p256.sign(names::ECDSA_SHA2_NISTP256, b"m").unwrap();
    assert_eq!(
        sign::SSH_ED25519.verify(p256.public_key(), b"m", &ed_sig),
        Err(CryptoError::InvalidKey)
    );
    assert_eq!(
        sign::ECDSA_SHA2_NISTP384.verify(p256.public_key(), b"m", &p256_sig),
        Err(CryptoError::InvalidKey)
    );
    assert_eq!(
        sign::RSA_SHA2_256.verify(ed.public_key(), b"m", &ed_sig),
        Err(CryptoError::InvalidKey)
    );
    assert_eq!(
        sign::ECDSA_SHA2_NISTP256.verify(rsa.public_key(), b"m", &p256_sig),
        Err(CryptoError::InvalidKey)
    );
}

/// RFC 5656 §3.1.2: `mpint r || mpint s`, minimal mpints; anything else fails cleanly.
#[test]
fn ecdsa_signature_blob_is_two_minimal_mpints() {
    let key = generate_signing_key(KeyKind::Ecdsa(EcdsaCurve::NistP256)).unwrap();
    let alg = &sign::ECDSA_SHA2_NISTP256;
    let mut saw_sign_byte = false;
    for i in 0..64u8 {
        let message = [i];
        let signature = key.sign(names::ECDSA_SHA2_NISTP256, &message).unwrap();
        let mut r = oxssh_wire::Reader::new(&signature);
        let r_raw = r.mpint().unwrap();
        let s_raw = r.mpint().unwrap();
        r.finish().unwrap();
        assert!(r_raw.len() <= 33 && s_raw.len() <= 33);
        saw_sign_byte |= r_raw.first() == Some(&0) || s_raw.first() == Some(&0);
        alg.verify(key.public_key(), &message, &signature).unwrap();
    }
    assert!(
        saw_sign_byte,
        "64 signatures without a high-bit r or s is unlikely"
    );

    let signature = key.sign(names::ECDSA_SHA2_NISTP256, b"m").unwrap();
    let mut trailing = signature.clone();
    trailing.push(0);
    let mut zero_r = Vec::new();
    Writer::new(&mut zero_r)
        .mpint_unsigned(&[])
        .mpint_unsigned(&[1; 32]);
    let mut long_r = Vec::new();
    Writer::new(&mut long_r)
        .mpint_unsigned(&[1; 33])
        .mpint_unsigned(&[1; 32]);
    let garbage = vec![0xffu8; 7];
    for bad in [
        trailing,
        zero_r,
        long_r,
        garbage,
        Vec::new(),
        signature[..10].to_vec(),
    ] {
        assert_eq!(
            alg.verify(key.public_key(), b"m", &bad),
            Err(CryptoError::BadSignature)
        );
    }
}

/// OpenSSH's `ssh_rsa_verify` accepts a signature shorter than the modulus (a leading zero
/// byte dropped) by left-padding it; so do we. Longer signatures fail.
#[test]
fn rsa_accepts_short_signatures_and_refuses_small_keys() {
    let key = load_openssh_private_key(&data("id_rsa2048")).unwrap();
    let alg = &sign::RSA_SHA2_256;
    let mut found = false;
    for i in 0..2048u32 {
        let message = i.to_be_bytes();
        let signature = key.sign(names::RSA_SHA2_256, &message).unwrap();
        if signature[0] == 0 {
            alg.verify(key.public_key(), &message, &signature[1..])
                .unwrap();
            found = true;
            break;
        }
    }
    assert!(found, "no signature with a leading zero byte in 2048 tries");
    let mut long = key.sign(names::RSA_SHA2_256, b"m").unwrap();
    long.insert(0, 0);
    assert_eq!(
        alg.verify(key.public_key(), b"m", &long),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        alg.verify(key.public_key(), b"m", &[]),
        Err(CryptoError::BadSignature)
    );

    let PublicKey::Rsa { e, n } = key.public_key().clone() else {
        panic!("not RSA");
    };
    let small = PublicKey::Rsa {
        e,
        n: n[..64].to_vec(),
    };
    assert_eq!(
        alg.verify(&small, b"m", &[1; 64]),
        Err(CryptoError::InvalidKey)
    );
}
