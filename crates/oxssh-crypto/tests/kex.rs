//! Key exchange: known answers, agreement round trips for every method, and refusal of
//! malformed or hostile public values.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use aws_lc_rs::{agreement, digest, kem};
use common::{hex, unhex, ScriptedRng, TestRng};
use oxssh_crypto::kex;
use oxssh_crypto::rand::SYSTEM_RANDOM;
use oxssh_proto::crypto::{CryptoError, DhGroup, KexAlgorithm, KexMethod, SharedSecret};
use oxssh_wire::Writer;

/// Runs one exchange; returns (client public, server public, client K, server K).
fn exchange(alg: &dyn KexAlgorithm) -> (Vec<u8>, Vec<u8>, SharedSecret, SharedSecret) {
    let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
    let client_public = client.public().to_vec();
    let response = alg.server_respond(&client_public, &SYSTEM_RANDOM).unwrap();
    let client_secret = client.finish(&response.server_public).unwrap();
    (
        client_public,
        response.server_public,
        client_secret,
        response.secret,
    )
}

fn mpint(magnitude: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::new(&mut out).mpint_unsigned(magnitude);
    out
}

fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::new(&mut out).string(bytes);
    out
}

/// Expected (client share, server share) lengths; `None` for DH, whose values are at most
/// the modulus length.
type ShareSizes = Option<(usize, usize)>;

/// Every fixed method, with its share sizes.
fn fixed_methods() -> Vec<(&'static dyn KexAlgorithm, ShareSizes)> {
    vec![
        (&kex::MLKEM768X25519_SHA256, Some((1184 + 32, 1088 + 32))),
        (&kex::SNTRUP761X25519_SHA512, Some((1158 + 32, 1039 + 32))),
        (
            &kex::SNTRUP761X25519_SHA512_OPENSSH,
            Some((1158 + 32, 1039 + 32)),
        ),
        (&kex::CURVE25519_SHA256, Some((32, 32))),
        (&kex::CURVE25519_SHA256_LIBSSH, Some((32, 32))),
        (&kex::ECDH_SHA2_NISTP256, Some((65, 65))),
        (&kex::ECDH_SHA2_NISTP384, Some((97, 97))),
        (&kex::ECDH_SHA2_NISTP521, Some((133, 133))),
        (&kex::DH_GROUP14_SHA256, None),
        (&kex::DH_GROUP14_SHA1, None),
        (&kex::DH_GROUP16_SHA512, None),
        (&kex::DH_GROUP18_SHA512, None),
    ]
}

#[test]
fn every_method_agrees_on_k_with_the_right_share_sizes() {
    for (alg, sizes) in fixed_methods() {
        let (client_public, server_public, client_k, server_k) = exchange(alg);
        assert_eq!(client_k.encoded(), server_k.encoded(), "{}", alg.name());
        match sizes {
            Some((c, s)) => {
                assert_eq!(alg.method(), KexMethod::Ecdh, "{}", alg.name());
                assert_eq!(
                    (client_public.len(), server_public.len()),
                    (c, s),
                    "{}",
                    alg.name()
                );
            }
            None => {
                assert_eq!(alg.method(), KexMethod::Dh);
                // Magnitudes without leading zeros.
                assert_ne!(client_public[0], 0);
                assert_ne!(server_public[0], 0);
            }
        }
        // K is a well-formed mpint or string that is not all zero.
        let encoded = client_k.encoded();
        let len = u32::from_be_bytes(encoded[..4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, encoded.len(), "{}", alg.name());
        assert!(encoded[4..].iter().any(|&b| b != 0));
    }
}

#[test]
fn methods_report_their_hash() {
    use oxssh_proto::crypto::HashAlg::*;
    let expected = [
        (&kex::MLKEM768X25519_SHA256 as &dyn KexAlgorithm, Sha256),
        (&kex::SNTRUP761X25519_SHA512, Sha512),
        (&kex::CURVE25519_SHA256, Sha256),
        (&kex::ECDH_SHA2_NISTP256, Sha256),
        (&kex::ECDH_SHA2_NISTP384, Sha384),
        (&kex::ECDH_SHA2_NISTP521, Sha512),
        (&kex::DH_GROUP14_SHA1, Sha1),
        (&kex::DH_GROUP14_SHA256, Sha256),
        (&kex::DH_GROUP16_SHA512, Sha512),
        (&kex::DH_GROUP18_SHA512, Sha512),
        (&kex::DH_GEX_SHA256, Sha256),
    ];
    for (alg, hash) in expected {
        assert_eq!(alg.hash(), hash, "{}", alg.name());
    }
}

/// RFC 7748 §6.1 (the Diffie-Hellman example), through the kex API: the scripted random
/// source hands out Alice's and Bob's private keys. RFC 8731 §3.1: K is the output read
/// as a big-endian integer, encoded as an mpint.
#[test]
fn curve25519_matches_rfc7748_section_6_1() {
    let alice_private = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let alice_public = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    let bob_private = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let bob_public = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    let shared = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    for alg in [&kex::CURVE25519_SHA256, &kex::CURVE25519_SHA256_LIBSSH] {
        let client = alg.client_start(&ScriptedRng::new(&alice_private)).unwrap();
        assert_eq!(hex(client.public()), alice_public);
        let response = alg
            .server_respond(client.public(), &ScriptedRng::new(&bob_private))
            .unwrap();
        assert_eq!(hex(&response.server_public), bob_public);
        let k = client.finish(&response.server_public).unwrap();
        let mut want = vec![0, 0, 0, 32];
        want.extend_from_slice(&shared);
        assert_eq!(k.encoded(), want);
        assert_eq!(response.secret.encoded(), want);
    }
}

#[test]
fn curve25519_refuses_wrong_lengths_and_low_order_points() {
    let mut low_order_one = [0u8; 32];
    low_order_one[0] = 1;
    let bad: [&[u8]; 6] = [&[], &[9; 31], &[9; 33], &[0; 32], &low_order_one, &[9; 64]];
    for value in bad {
        assert_eq!(
            kex::CURVE25519_SHA256
                .server_respond(value, &SYSTEM_RANDOM)
                .err(),
            Some(CryptoError::InvalidPublicValue),
            "{}",
            hex(value)
        );
        let client = kex::CURVE25519_SHA256.client_start(&SYSTEM_RANDOM).unwrap();
        assert_eq!(
            client.finish(value).err(),
            Some(CryptoError::InvalidPublicValue)
        );
    }
}

#[test]
fn nist_ecdh_refuses_compressed_off_curve_and_truncated_points() {
    for alg in [
        &kex::ECDH_SHA2_NISTP256,
        &kex::ECDH_SHA2_NISTP384,
        &kex::ECDH_SHA2_NISTP521,
    ] {
        let (good, _, _, _) = exchange(alg);
        let mut compressed = vec![0x02 | (good.last().unwrap() & 1)];
        compressed.extend_from_slice(&good[1..=(good.len() - 1) / 2]);
        let mut off_curve = good.clone();
        *off_curve.last_mut().unwrap() ^= 1;
        let mut wrong_prefix = good.clone();
        wrong_prefix[0] = 0x06;
        let truncated = good[..good.len() - 1].to_vec();
        let infinity = vec![0u8; good.len()];
        for value in [
            compressed,
            off_curve,
            wrong_prefix,
            truncated,
            infinity,
            Vec::new(),
        ] {
            assert_eq!(
                alg.server_respond(&value, &SYSTEM_RANDOM).err(),
                Some(CryptoError::InvalidPublicValue),
                "{}",
                alg.name()
            );
            let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
            assert_eq!(
                client.finish(&value).err(),
                Some(CryptoError::InvalidPublicValue)
            );
        }
    }
}

/// The server side of mlkem768x25519-sha256 against an independently driven client:
/// K must be string(SHA-256(mlkem_secret || x25519_secret)) and the reply
/// `ciphertext || X25519 public`.
#[test]
fn mlkem768x25519_server_hashes_kem_then_ecdh_secret_as_a_string() {
    let decapsulation = kem::DecapsulationKey::generate(&kem::ML_KEM_768).unwrap();
    let encapsulation = decapsulation
        .encapsulation_key()
        .unwrap()
        .key_bytes()
        .unwrap();
    let x_private = agreement::PrivateKey::generate(&agreement::X25519).unwrap();
    let x_public = x_private.compute_public_key().unwrap();
    let mut client_public = encapsulation.as_ref().to_vec();
    client_public.extend_from_slice(x_public.as_ref());

    let response = kex::MLKEM768X25519_SHA256
        .server_respond(&client_public, &SYSTEM_RANDOM)
        .unwrap();
    let (ciphertext, server_x) = response.server_public.split_at(1088);
    let kem_secret = decapsulation
        .decapsulate(kem::Ciphertext::from(ciphertext))
        .unwrap();
    let x_secret = agreement::agree(
        &x_private,
        agreement::UnparsedPublicKey::new(&agreement::X25519, server_x),
        (),
        |k| Ok(k.to_vec()),
    )
    .unwrap();
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(kem_secret.as_ref());
    ctx.update(&x_secret);
    assert_eq!(response.secret.encoded(), string(ctx.finish().as_ref()));
}

#[test]
fn mlkem768x25519_refuses_bad_sizes_and_diverges_on_tampered_ciphertext() {
    let alg = &kex::MLKEM768X25519_SHA256;
    let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
    let public = client.public().to_vec();
    for len in [0, 32, 1184, 1215, 1217] {
        assert_eq!(
            alg.server_respond(&vec![7u8; len], &SYSTEM_RANDOM).err(),
            Some(CryptoError::InvalidPublicValue)
        );
    }
    // An encapsulation key with coefficients >= q fails the FIPS 203 §7.2 check.
    let mut bad_key = vec![0xffu8; 1184];
    bad_key.extend_from_slice(&public[1184..]);
    assert_eq!(
        alg.server_respond(&bad_key, &SYSTEM_RANDOM).err(),
        Some(CryptoError::InvalidPublicValue)
    );

    let response = alg.server_respond(&public, &SYSTEM_RANDOM).unwrap();
    for len in [0, 1088, 1119, 1121] {
        let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
        assert_eq!(
            client.finish(&vec![1u8; len]).err(),
            Some(CryptoError::InvalidPublicValue)
        );
    }
    // Implicit rejection: a tampered ciphertext gives a different K, not an error.
    let mut tampered = response.server_public.clone();
    tampered[10] ^= 1;
    let k = client.finish(&tampered).unwrap();
    assert_ne!(k.encoded(), response.secret.encoded());
    // A zero X25519 share is refused.
    let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
    let response = alg.server_respond(client.public(), &SYSTEM_RANDOM).unwrap();
    let mut zero_x = response.server_public.clone();
    zero_x[1088..].fill(0);
    assert_eq!(
        client.finish(&zero_x).err(),
        Some(CryptoError::InvalidPublicValue)
    );
}

/// sntrup761x25519-sha512 with every random value scripted, recomputed independently with
/// the `sntrup761` crate and aws-lc X25519: K = string(SHA-512(kem || x25519)).
#[test]
fn sntrup761x25519_known_answer_from_scripted_randomness() {
    let client_seed = [0x11u8; 32];
    let client_x = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let server_seed = [0x22u8; 32];
    let server_x = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");

    let (ek, _) = sntrup761::generate_key_from_seed(client_seed);
    let (ct, kem_secret) = ek.encapsulate_deterministic(server_seed);
    let x_shared = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    let mut ctx = digest::Context::new(&digest::SHA512);
    ctx.update(kem_secret.as_ref());
    ctx.update(&x_shared);
    let want = string(ctx.finish().as_ref());

    for alg in [
        &kex::SNTRUP761X25519_SHA512,
        &kex::SNTRUP761X25519_SHA512_OPENSSH,
    ] {
        let client = alg
            .client_start(&ScriptedRng::new(&[&client_seed[..], &client_x].concat()))
            .unwrap();
        assert_eq!(&client.public()[..1158], ek.as_ref());
        assert_eq!(
            hex(&client.public()[1158..]),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        let response = alg
            .server_respond(
                client.public(),
                &ScriptedRng::new(&[&server_seed[..], &server_x].concat()),
            )
            .unwrap();
        assert_eq!(&response.server_public[..1039], ct.as_ref());
        assert_eq!(response.secret.encoded(), want);
        assert_eq!(
            client.finish(&response.server_public).unwrap().encoded(),
            want
        );
    }
}

#[test]
fn sntrup761x25519_refuses_bad_sizes_and_diverges_on_tampered_ciphertext() {
    let alg = &kex::SNTRUP761X25519_SHA512;
    for len in [0, 1158, 1189, 1191] {
        assert_eq!(
            alg.server_respond(&vec![3u8; len], &SYSTEM_RANDOM).err(),
            Some(CryptoError::InvalidPublicValue)
        );
    }
    let client = alg.client_start(&TestRng::new(5)).unwrap();
    let response = alg
        .server_respond(client.public(), &TestRng::new(6))
        .unwrap();
    let mut tampered = response.server_public.clone();
    tampered[100] ^= 0x10;
    let k = client.finish(&tampered).unwrap();
    assert_ne!(k.encoded(), response.secret.encoded());
    let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
    assert_eq!(
        client.finish(&[0u8; 1070]).err(),
        Some(CryptoError::InvalidPublicValue)
    );
}

/// diffie-hellman-group14-sha256 with scripted exponents, against values computed with
/// Python's arbitrary-precision `pow` over the RFC 3526 2048-bit prime.
#[test]
fn dh_group14_matches_independent_modexp() {
    // 512-bit exponents (64 bytes); the top bit is forced on, as the implementation does.
    let x: Vec<u8> = (1..=64).collect();
    let y: Vec<u8> = (0x41..=0x80).collect();
    let e = "bdc7fd08d972ce250b5022585174f72365ccdb1f86835110ffd9415eeda609d6281c10a5a91f74217b638d9da15a91137c4d913113255ed5583d59e84fcdb59b03773544f6eee950f32485db57f5b034a0477f8fc664adfdc24fe21ceb70bf7d3c2a0a7663c5c76be97bcfc1883da3dcb95d5f2fb3d59c58d348c31cd7c6ed170df1d3cf466b606142b9eea5b5503183c4c0cefa5745138e6ac9438de30582e23702a12c309a60afaaf2901cd1f2f65b77de274090f8bd621da187e057889678f41fa990348ccd46c1cc62967b00db60eb701736052b8d6e6ea3f20e278dbb69f1436be5c397308aa68dc85710e597453c23950003c648498961d9c8f5912c68";
    let f = "99836162ca7b94bef65476c8fe58c0205b2480c0e63e9170dcd86c832b689488e542f2560b2bef8a46dafe2b138147f34e179264c5d5aaf4434e2da95209edc2d7536e6e29975f04e0dfc79c498f1bc3911e66ad8aec281c93c47c7163a7aa1ec6814c0b2d5efba0c8e40249054e838f77bd40b1a299e5d549b544a93a91e63967f11af2f70fff1c855ed6cbb835126f2c1e7b15f6a107b147d7c4baee7adba5b5baabe7427234795e0a9c72842b9f12e061528f613ff4238b88b412f8150b56ce3e354ee76c9a2d087796a3683e1c9f8f64796928dbb830738865b09e26a95187f348ac06f8538997d34d8b06e82abb9c816c7556b10d21789cceb502c0b9cd";
    let k = "cc27928b70e6e9179fa632c1cd0a09709cbb2a74605cf7f3ab6ff87df3d5eab3b49cc2c0b8e55dc825054b6b769a6814d52fae2f96791421259ee6acb222c9db515ab3acba711eff8e60262c34c16a04a919400b817cc7f60358c56f0f63e1dc4c7eab22980eed030602095a6fcc43ee0935ab4f0d372048ec35ba57e5531a7e49b375bb2dc20869e8f648b22b1acc8c46c53902e567c2c932d60cd51c783d2a104a9c8ef035a4c842b9c28284387aa49d65230f4ef684d32364c6f1cbf9024adf927d1c1881d1eadbfa149b526316f6cebd564c3647740a35a53bf2bc167830bc0dbd859417463da5adfa1c51bc1f54a003293469092bf3d56199600b66f4f5";
    let alg = &kex::DH_GROUP14_SHA256;
    let client = alg.client_start(&ScriptedRng::new(&x)).unwrap();
    assert_eq!(hex(client.public()), e);
    let response = alg
        .server_respond(client.public(), &ScriptedRng::new(&y))
        .unwrap();
    assert_eq!(hex(&response.server_public), f);
    let want = mpint(&unhex(k));
    assert_eq!(
        &want[..5],
        &[0, 0, 1, 1, 0],
        "K's top bit is set: a sign byte is added"
    );
    assert_eq!(response.secret.encoded(), want);
    assert_eq!(
        client.finish(&response.server_public).unwrap().encoded(),
        want
    );
}

/// RFC 4253 §8: values outside (1, p-1) are refused, as are single-bit values (OpenSSH).
#[test]
fn dh_refuses_out_of_range_public_values() {
    let p = kex::DH_GEX_SHA256
        .gex_choose_group(2048, 2048, 2048)
        .unwrap()
        .p;
    let p_minus_1 = {
        let mut v = p.clone();
        *v.last_mut().unwrap() -= 1;
        v
    };
    let p_plus_1 = {
        // p ends in 64 one bits: adding one carries through them.
        let mut v = p.clone();
        for byte in v.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        v
    };
    let mut too_long = vec![1u8];
    too_long.extend_from_slice(&p);
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1],
        vec![0, 1],
        vec![2],
        vec![0x80, 0, 0, 0],
        p_minus_1,
        p.clone(),
        p_plus_1,
        vec![0xff; 256],
        too_long,
    ];
    for alg in [&kex::DH_GROUP14_SHA256, &kex::DH_GROUP14_SHA1] {
        for value in &bad {
            assert_eq!(
                alg.server_respond(value, &SYSTEM_RANDOM).err(),
                Some(CryptoError::InvalidPublicValue),
                "{} accepted {}",
                alg.name(),
                hex(value)
            );
            let client = alg.client_start(&SYSTEM_RANDOM).unwrap();
            assert_eq!(
                client.finish(value).err(),
                Some(CryptoError::InvalidPublicValue)
            );
        }
        // 3 (two bits set, well inside the range) is accepted.
        assert!(alg.server_respond(&[3], &SYSTEM_RANDOM).is_ok());
    }
}

#[test]
fn gex_choose_group_picks_smallest_fitting_then_largest_allowed() {
    let gex = &kex::DH_GEX_SHA256;
    assert_eq!(gex.method(), KexMethod::GroupExchange);
    let bits = |min, n, max| gex.gex_choose_group(min, n, max).map(|g| g.p.len() * 8);
    assert_eq!(bits(2048, 2048, 8192), Ok(2048));
    assert_eq!(bits(2048, 3000, 8192), Ok(3072));
    assert_eq!(bits(2048, 4096, 8192), Ok(4096));
    assert_eq!(bits(2048, 7680, 8192), Ok(8192));
    assert_eq!(bits(1024, 1024, 1536), Err(CryptoError::BadGroup));
    // n above every group within max: the largest allowed.
    assert_eq!(bits(2048, 8192, 4096), Ok(4096));
    assert_eq!(bits(2048, 9000, 16384), Ok(8192));
    // n below min: still within [min, max].
    assert_eq!(bits(3072, 1024, 8192), Ok(3072));
    assert_eq!(bits(5000, 5000, 6000), Err(CryptoError::BadGroup));
    assert_eq!(bits(4096, 4096, 2048), Err(CryptoError::BadGroup));
    assert_eq!(gex.gex_choose_group(2048, 2048, 8192).unwrap().g, vec![2]);
    // The fixed-group methods are not group exchanges.
    assert!(kex::DH_GROUP14_SHA256
        .gex_choose_group(2048, 2048, 8192)
        .is_err());
    assert!(gex.client_start(&SYSTEM_RANDOM).is_err());
}

#[test]
fn gex_runs_dh_over_every_offered_group() {
    let gex = &kex::DH_GEX_SHA256;
    for n in [2048, 3072] {
        let group = gex.gex_choose_group(2048, n, 8192).unwrap();
        let alg = gex.gex_with_group(&group).unwrap();
        assert_eq!(alg.name(), gex.name());
        assert_eq!(alg.method(), KexMethod::Dh);
        let (_, _, client_k, server_k) = exchange(alg.as_ref());
        assert_eq!(client_k.encoded(), server_k.encoded());
    }
}

#[test]
fn gex_client_refuses_unacceptable_groups() {
    let gex = &kex::DH_GEX_SHA256;
    let good = gex.gex_choose_group(2048, 2048, 8192).unwrap();
    let p = good.p.clone();
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let mut even = p.clone();
    *even.last_mut().unwrap() &= 0xfe;
    let small = vec![0xffu8; 128]; // 1024 bits
    let mut huge = vec![0xffu8; 1025]; // 8200 bits
    huge[0] = 0x01;
    let cases = [
        DhGroup {
            p: small,
            g: vec![2],
        },
        DhGroup {
            p: huge,
            g: vec![2],
        },
        DhGroup {
            p: even,
            g: vec![2],
        },
        DhGroup {
            p: p.clone(),
            g: vec![],
        },
        DhGroup {
            p: p.clone(),
            g: vec![1],
        },
        DhGroup {
            p: p.clone(),
            g: p_minus_1,
        },
        DhGroup {
            p: p.clone(),
            g: p.clone(),
        },
        DhGroup {
            p: vec![],
            g: vec![2],
        },
    ];
    for group in cases {
        assert_eq!(
            gex.gex_with_group(&group).err(),
            Some(CryptoError::BadGroup)
        );
    }
    // Leading zeros in the server's encoding do not matter.
    let mut padded = vec![0u8];
    padded.extend_from_slice(&p);
    assert!(gex
        .gex_with_group(&DhGroup {
            p: padded,
            g: vec![0, 2]
        })
        .is_ok());
}
