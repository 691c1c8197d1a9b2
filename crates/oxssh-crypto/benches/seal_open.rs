//! Seal + open of one 32 KiB packet per cipher, through the oxssh `Sealer`/`Opener` and
//! through the raw aws-lc-rs primitive on the same buffer, so the framing overhead shows.
//!
//! Run: `cargo bench -p oxssh-crypto --bench seal_open -- --warm-up-time 1 --measurement-time 3`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use aws_lc_rs::aead::chacha20_poly1305_openssh as openssh;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use oxssh_crypto::{cipher, mac};
use oxssh_proto::crypto::{CipherAlgorithm, MacAlgorithm, Opener, Sealer};
use std::hint::black_box;

/// Encrypted body size: 32 KiB, a whole number of blocks for every cipher.
const BODY: usize = 32 * 1024;

/// `uint32 packet_length || 32 KiB`, a plausible SSH packet.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 4 + BODY];
    p[..4].copy_from_slice(&(BODY as u32).to_be_bytes());
    p[4] = 8;
    for (i, b) in p[5..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

fn pair(
    alg: &dyn CipherAlgorithm,
    mac: Option<&dyn MacAlgorithm>,
) -> (Box<dyn Sealer>, Box<dyn Opener>) {
    let key = vec![7u8; alg.key_len()];
    let iv = vec![9u8; alg.iv_len()];
    let mac_key = || mac.map(|m| m.key(&vec![3u8; m.key_len()]).unwrap());
    let etm = mac.is_some_and(|m| m.is_etm());
    (
        alg.sealer(&key, &iv, mac_key(), etm).unwrap(),
        alg.opener(&key, &iv, mac_key(), etm).unwrap(),
    )
}

/// The oxssh `Sealer`/`Opener` pair on one packet: seal, read the length, open.
fn bench_framing(
    c: &mut Criterion,
    name: &str,
    alg: &dyn CipherAlgorithm,
    mac: Option<&dyn MacAlgorithm>,
) {
    let mut group = c.benchmark_group("seal_open_32KiB");
    group.throughput(Throughput::Bytes(BODY as u64));
    let (mut sealer, mut opener) = pair(alg, mac);
    let mut buf = packet();
    let mut tag = vec![0u8; sealer.tag_len()];
    let mut seq = 0u32;
    group.bench_function(BenchmarkId::new(name, "framing"), |b| {
        b.iter(|| {
            sealer.seal(seq, &mut buf, &mut tag);
            let header_len = opener.header_len();
            black_box(opener.packet_length(seq, &mut buf[..header_len]));
            opener.open(seq, &mut buf, &tag).unwrap();
            seq = seq.wrapping_add(1);
        })
    });
    group.finish();
}

/// Raw aws-lc-rs AES-GCM on the same buffer: seal and open with the length as AAD.
fn bench_raw_gcm(c: &mut Criterion, name: &str, alg: &'static aws_lc_rs::aead::Algorithm) {
    let mut group = c.benchmark_group("seal_open_32KiB");
    group.throughput(Throughput::Bytes(BODY as u64));
    let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; alg.key_len()]).unwrap());
    let mut buf = packet();
    let mut n = 0u64;
    group.bench_function(BenchmarkId::new(name, "raw aws-lc"), |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            n += 1;
            let (aad, body) = buf.split_at_mut(4);
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&*aad),
                    body,
                )
                .unwrap();
            key.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*aad),
                tag.as_ref(),
                body,
            )
            .unwrap();
        })
    });
    group.finish();
}

fn gcm128(c: &mut Criterion) {
    bench_framing(c, "gcm128", &cipher::AES128_GCM, None);
    bench_raw_gcm(c, "gcm128", &AES_128_GCM);
}

fn gcm256(c: &mut Criterion) {
    bench_framing(c, "gcm256", &cipher::AES256_GCM, None);
    bench_raw_gcm(c, "gcm256", &AES_256_GCM);
}

fn chacha(c: &mut Criterion) {
    bench_framing(c, "chacha", &cipher::CHACHA20_POLY1305, None);
    let mut group = c.benchmark_group("seal_open_32KiB");
    group.throughput(Throughput::Bytes(BODY as u64));
    let sealing = openssh::SealingKey::new(&[7u8; 64]);
    let opening = openssh::OpeningKey::new(&[7u8; 64]);
    let mut buf = packet();
    let mut seq = 0u32;
    group.bench_function(BenchmarkId::new("chacha", "raw aws-lc"), |b| {
        b.iter(|| {
            let mut tag = [0u8; 16];
            sealing.seal_in_place(seq, &mut buf, &mut tag);
            black_box(opening.decrypt_packet_length(seq, buf[..4].try_into().unwrap()));
            opening.open_in_place(seq, &mut buf, &tag).unwrap();
            seq = seq.wrapping_add(1);
        })
    });
    group.finish();
}

fn ctr_etm(c: &mut Criterion) {
    const NAME: &str = "aes128-ctr+hmac-sha2-256-etm";
    bench_framing(c, NAME, &cipher::AES128_CTR, Some(&mac::HMAC_SHA2_256_ETM));
    let mut group = c.benchmark_group("seal_open_32KiB");
    group.throughput(Throughput::Bytes(BODY as u64));
    let aes = EncryptingKey::ctr(UnboundCipherKey::new(&AES_128, &[7u8; 16]).unwrap()).unwrap();
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &[3u8; 32]);
    let mut buf = packet();
    let mut counter = 0u128;
    group.bench_function(BenchmarkId::new(NAME, "raw aws-lc"), |b| {
        b.iter(|| {
            let ctx = || EncryptionContext::Iv128(FixedLength::from(counter.to_be_bytes()));
            aes.less_safe_encrypt(&mut buf[4..], ctx()).unwrap();
            let tag = hmac::sign(&hmac_key, &buf);
            hmac::verify(&hmac_key, &buf, tag.as_ref()).unwrap();
            aes.less_safe_encrypt(&mut buf[4..], ctx()).unwrap();
            counter = counter.wrapping_add((BODY / 16) as u128);
        })
    });
    group.finish();
}

criterion_group!(benches, gcm128, gcm256, chacha, ctr_etm);
criterion_main!(benches);
