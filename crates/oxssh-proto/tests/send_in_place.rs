//! Payloads built in place in the outgoing packet buffer (`PacketWriter::write_packet_with`,
//! `Transport::send_with`, `Connection::write_with`): the same bytes on the wire as the
//! copy path for every kind of packet protection, the channel window and packet size
//! respected, nothing sent when the filler writes nothing or fails, and payloads held
//! back during a key exchange.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use std::sync::atomic::{AtomicU8, Ordering};

use oxssh_crypto::{cipher, mac};
use oxssh_proto::connection::{ChannelId, Connection, ConnectionConfig, ConnectionEvent};
use oxssh_proto::crypto::{CipherAlgorithm, CryptoError, MacAlgorithm, SecureRandom};
use oxssh_proto::transport::packet::{PacketReader, PacketWriter};
use oxssh_proto::{Event, Transport, TransportConfig};
use pair::{host_key, Pair};

/// Padding bytes that depend only on how many were asked for so far: both writers of a
/// comparison see the same "random" padding.
struct CountingRandom(AtomicU8);

impl SecureRandom for CountingRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for b in dest {
            *b = self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        }
        Ok(())
    }
}

/// A protection's name, cipher (none before keys) and MAC (for the non-AEAD ciphers).
type Suite = (
    &'static str,
    Option<&'static dyn CipherAlgorithm>,
    Option<&'static dyn MacAlgorithm>,
);

/// A pair of writers under the same keys.
fn writers(
    cipher: Option<&'static dyn CipherAlgorithm>,
    mac: Option<&'static dyn MacAlgorithm>,
) -> (PacketWriter, PacketWriter, PacketReader) {
    let mut w = [PacketWriter::new(), PacketWriter::new()];
    let mut reader = PacketReader::new(300_000);
    if let Some(cipher) = cipher {
        let key: Vec<u8> = (0..cipher.key_len()).map(|i| i as u8).collect();
        let iv = vec![0x42u8; cipher.iv_len()];
        let mac_key = || mac.map(|m| m.key(&vec![7u8; m.key_len()]).unwrap());
        let etm = mac.is_some_and(|m| m.is_etm());
        for writer in &mut w {
            writer.set_sealer(cipher.sealer(&key, &iv, mac_key(), etm).unwrap(), true);
        }
        reader.set_opener(cipher.opener(&key, &iv, mac_key(), etm).unwrap(), true);
    }
    let [a, b] = w;
    (a, b, reader)
}

#[test]
fn packets_built_in_place_match_the_copy_path_for_every_protection() {
    let suites: [Suite; 6] = [
        ("none (before keys)", None, None),
        ("aes128-gcm (AEAD)", Some(&cipher::AES128_GCM), None),
        ("chacha20-poly1305", Some(&cipher::CHACHA20_POLY1305), None),
        (
            "aes128-ctr + hmac-sha2-256-etm",
            Some(&cipher::AES128_CTR),
            Some(&mac::HMAC_SHA2_256_ETM),
        ),
        (
            "aes128-ctr + hmac-sha2-256",
            Some(&cipher::AES128_CTR),
            Some(&mac::HMAC_SHA2_256),
        ),
        (
            "aes256-ctr + hmac-sha2-512-etm",
            Some(&cipher::AES256_CTR),
            Some(&mac::HMAC_SHA2_512_ETM),
        ),
    ];
    for (name, cipher, mac) in suites {
        let (mut copy, mut in_place, mut reader) = writers(cipher, mac);
        let (rng_a, rng_b) = (
            CountingRandom(AtomicU8::new(0)),
            CountingRandom(AtomicU8::new(0)),
        );
        // Every padding residue, and a large packet; the in-place room holds stale
        // ciphertext of the packets before, which must not leak into the next one.
        let lengths: Vec<usize> = (1..40).chain([1000, 32_768, 131_072, 5]).collect();
        for (i, &len) in lengths.iter().enumerate() {
            let header = [94u8, 0, 0, 0, i as u8];
            let data: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
            let fed = in_place.pending().len();
            copy.write_packet_parts(&[&header, &data], &rng_a).unwrap();
            let n = in_place
                .write_packet_with(header.len() + len + 100, &rng_b, |room| {
                    room[..5].copy_from_slice(&header);
                    room[5..5 + len].copy_from_slice(&data);
                    Ok::<_, ()>(5 + len)
                })
                .unwrap();
            assert_eq!(n, Ok(5 + len), "{name}");
            assert_eq!(copy.pending(), in_place.pending(), "{name}: length {len}");
            assert_eq!(copy.seq(), in_place.seq());
            reader.feed(&in_place.pending()[fed..]);
            let p = reader.next_packet().unwrap().expect(name);
            assert_eq!(&reader.payload(&p.payload)[5..], &data[..], "{name}");
            // Sent in varying pieces: the room after a partly written output is used too.
            let done = if i % 3 == 0 { copy.pending().len() } else { 7 };
            copy.advance(done);
            in_place.advance(done);
        }
    }
}

#[test]
fn a_filler_that_writes_nothing_or_fails_leaves_no_trace() {
    let (mut w, _, mut reader) = writers(Some(&cipher::CHACHA20_POLY1305), None);
    let rng = CountingRandom(AtomicU8::new(0));
    w.write_packet(b"^first", &rng).unwrap();
    let before = w.pending().to_vec();
    assert_eq!(
        w.write_packet_with(64, &rng, |_| Ok::<_, ()>(0)).unwrap(),
        Ok(0)
    );
    let failed = w.write_packet_with(64, &rng, |room| {
        room[..10].fill(b'x');
        Err("read failed")
    });
    assert_eq!(failed.unwrap(), Err("read failed"));
    assert_eq!(w.pending(), &before[..]);
    assert_eq!(w.seq(), 1, "no sequence number used");
    // A filler claiming more than its room is held to it.
    let n = w.write_packet_with(3, &rng, |room| {
        room.copy_from_slice(b"^ok");
        Ok::<_, ()>(99)
    });
    assert_eq!(n.unwrap(), Ok(3));
    reader.feed(w.pending());
    for want in [&b"^first"[..], b"^ok"] {
        let p = reader.next_packet().unwrap().unwrap();
        assert_eq!(reader.payload(&p.payload), want);
    }
    assert_eq!(reader.next_packet().unwrap(), None);
}

/// Two connection layers over an established transport pair.
struct Ends {
    pair: Pair,
    client: Connection,
    server: Connection,
    server_events: Vec<ConnectionEvent>,
    /// Data the server's channel received, by packet.
    received: Vec<Vec<u8>>,
    /// Re-keys the client completed.
    rekeys: usize,
}

impl Ends {
    fn new(server: ConnectionConfig, client_transport: TransportConfig) -> Self {
        let mut pair = Pair::new(
            client_transport,
            TransportConfig::server_default(),
            vec![host_key("ed25519")],
        );
        pair.drive();
        pair.assert_established();
        Self {
            pair,
            client: Connection::new(ConnectionConfig::default()),
            server: Connection::new(server),
            server_events: Vec::new(),
            received: Vec::new(),
            rekeys: 0,
        }
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = false;
            let (c, s) = (
                &mut self.pair.client.transport,
                &mut self.pair.server.transport,
            );
            progressed |= shuttle(c, s);
            progressed |= shuttle(s, c);
            let mut rekeys = 0;
            progressed |= pump(c, &mut self.client, &mut Vec::new(), None, &mut rekeys);
            let received = Some(&mut self.received);
            progressed |= pump(
                s,
                &mut self.server,
                &mut self.server_events,
                received,
                &mut 0,
            );
            self.rekeys += rekeys;
            if !progressed {
                return;
            }
        }
        panic!("livelock");
    }

    fn open(&mut self) -> (ChannelId, ChannelId) {
        let t = &mut self.pair.client.transport;
        let cid = self.client.open_channel(t, "session", &[]).unwrap();
        self.settle();
        let sid = self
            .server_events
            .iter()
            .find_map(|e| match e {
                ConnectionEvent::OpenRequested { id, .. } => Some(*id),
                _ => None,
            })
            .unwrap();
        self.server
            .accept_open(&mut self.pair.server.transport, sid)
            .unwrap();
        self.settle();
        (cid, sid)
    }

    /// Sends one packet of up to `max` bytes of `byte` in place.
    fn write_with(&mut self, id: ChannelId, max: usize, byte: u8) -> usize {
        let t = &mut self.pair.client.transport;
        let result = self.client.write_with(t, id, max, false, |room| {
            room.fill(byte);
            Ok::<_, ()>(room.len())
        });
        result.unwrap().unwrap()
    }

    fn server_stdout(&mut self, id: ChannelId) -> Vec<u8> {
        let mut buf = vec![0u8; 1 << 20];
        let t = &mut self.pair.server.transport;
        let n = self.server.read(t, id, &mut buf, false).unwrap();
        buf.truncate(n);
        buf
    }
}

fn shuttle(from: &mut Transport, to: &mut Transport) -> bool {
    let bytes = from.transmit().to_vec();
    from.advance_transmit(bytes.len());
    if !bytes.is_empty() {
        to.recv(&bytes).unwrap();
    }
    !bytes.is_empty()
}

fn pump(
    t: &mut Transport,
    c: &mut Connection,
    events: &mut Vec<ConnectionEvent>,
    mut data: Option<&mut Vec<Vec<u8>>>,
    rekeys: &mut usize,
) -> bool {
    let mut progressed = false;
    while let Some(ev) = t.poll_event().unwrap() {
        progressed = true;
        let p = match ev {
            Event::Payload(p) => p,
            Event::KexComplete { initial: false, .. } => {
                *rekeys += 1;
                continue;
            }
            _ => continue,
        };
        let payload = p.to_vec();
        if let (Some(data), Some(&94)) = (data.as_mut(), payload.first()) {
            data.push(payload[9..].to_vec());
        }
        c.handle(t, &payload).unwrap();
    }
    while let Some(ev) = c.poll_event() {
        events.push(ev);
        progressed = true;
    }
    progressed
}

#[test]
fn in_place_data_respects_the_window_and_the_packet_size() {
    let server = ConnectionConfig {
        window: 10_000,
        max_packet: 4096,
        ..ConnectionConfig::default()
    };
    let mut e = Ends::new(server, TransportConfig::client_default());
    let (cid, sid) = e.open();
    // Capped by the peer's packet size, then by what is left of its window.
    assert_eq!(e.write_with(cid, 100_000, 1), 4096);
    assert_eq!(e.write_with(cid, 100_000, 2), 4096);
    assert_eq!(e.write_with(cid, 100_000, 3), 10_000 - 8192);
    assert_eq!(e.client.channel(cid).unwrap().remote_window, 0);
    // A closed window: the filler is not called.
    let t = &mut e.pair.client.transport;
    let called = e
        .client
        .write_with(t, cid, 10, false, |_| -> Result<usize, ()> {
            panic!("filled with the window closed")
        });
    assert_eq!(called.unwrap(), Ok(0));
    e.settle();
    let sizes: Vec<usize> = e.received.iter().map(Vec::len).collect();
    assert_eq!(sizes, [4096, 4096, 1808]);
    assert_eq!(
        e.server_stdout(sid).len(),
        10_000,
        "no data beyond the window"
    );
    // Reading refilled the window; `max` caps a packet too.
    e.settle();
    assert_eq!(e.write_with(cid, 10, 4), 10);
    e.settle();
    assert_eq!(e.server_stdout(sid), [4u8; 10]);
}

#[test]
fn in_place_data_that_is_empty_or_fails_sends_nothing_and_keeps_the_window() {
    let mut e = Ends::new(
        ConnectionConfig::default(),
        TransportConfig::client_default(),
    );
    let (cid, _) = e.open();
    let window = e.client.channel(cid).unwrap().remote_window;
    let t = &mut e.pair.client.transport;
    assert_eq!(
        e.client
            .write_with(t, cid, 1000, false, |_| Ok::<_, ()>(0))
            .unwrap(),
        Ok(0)
    );
    let failed = e.client.write_with(t, cid, 1000, false, |room| {
        room.fill(9);
        Err("pipe broke")
    });
    assert_eq!(failed.unwrap(), Err("pipe broke"));
    assert!(t.transmit().is_empty(), "no half-built packet queued");
    assert_eq!(e.client.channel(cid).unwrap().remote_window, window);
    // The channel still works afterwards.
    assert_eq!(e.write_with(cid, 5, 8), 5);
    e.settle();
    assert_eq!(e.received, [vec![8u8; 5]]);
}

#[test]
fn in_place_data_during_a_key_exchange_waits_for_the_new_keys() {
    let mut e = Ends::new(
        ConnectionConfig::default(),
        TransportConfig::client_default(),
    );
    let (cid, sid) = e.open();
    e.pair.client.transport.rekey().unwrap();
    assert_eq!(e.write_with(cid, 20_000, 5), 20_000);
    // Held back: only the KEXINIT is on its way.
    let queued = e.pair.client.transport.transmit().len();
    assert!(
        queued < 20_000,
        "data must wait for NEWKEYS ({queued} bytes queued)"
    );
    e.settle();
    assert_eq!(e.rekeys, 1);
    assert_eq!(e.server_stdout(sid), vec![5u8; 20_000]);
    // And after it, straight into the packet again.
    assert_eq!(e.write_with(cid, 10, 6), 10);
    e.settle();
    assert_eq!(e.server_stdout(sid), vec![6u8; 10]);
}

#[test]
fn in_place_data_counts_towards_the_rekey_limit() {
    let client = TransportConfig {
        rekey_bytes: 64 * 1024,
        ..TransportConfig::client_default()
    };
    let mut e = Ends::new(ConnectionConfig::default(), client);
    let (cid, sid) = e.open();
    let mut sent = 0;
    for i in 0..8u8 {
        sent += e.write_with(cid, 16 * 1024, i);
        e.settle();
    }
    let got: usize = e.received.iter().map(Vec::len).sum();
    assert_eq!((sent, got), (128 * 1024, 128 * 1024));
    assert_eq!(e.server_stdout(sid).len(), 128 * 1024);
    assert!(e.pair.client.transport.is_established());
    // 128 KiB of data over a 64 KiB limit: at least one re-key on the way.
    assert!(e.rekeys >= 1, "{} re-keys", e.rekeys);
}
