//! Protocol tests of the connection layer: two `Connection`s over an in-memory
//! transport pair. Flow control is per channel; peer faults become typed errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use oxssh_proto::connection::{
    ChannelId, ChannelRequestKind, Connection, ConnectionConfig, ConnectionEvent,
};
use oxssh_proto::error::PeerMisbehaved;
use oxssh_proto::{Event, Transport, TransportError};
use oxssh_wire::connection::data;
use pair::Pair;

struct Ends {
    pair: Pair,
    client: Connection,
    server: Connection,
    client_events: Vec<ConnectionEvent>,
    server_events: Vec<ConnectionEvent>,
    client_error: Option<TransportError>,
    server_error: Option<TransportError>,
    /// Data lengths of the CHANNEL_DATA packets the client received, in order.
    client_data_sizes: Vec<usize>,
    /// When set, the client's data goes to a sink first, which takes at most this
    /// many bytes of each offer into `client_sunk`.
    client_sink: Option<usize>,
    client_sunk: Vec<u8>,
    /// Socket bytes land in the receiver's buffer in place when it has room.
    in_place: bool,
    in_place_reads: usize,
}

/// Where a side's channel data goes first: `(taken so far, most taken per offer)`.
type Sink<'a> = Option<(&'a mut Vec<u8>, usize)>;

fn pump_side(
    t: &mut Transport,
    c: &mut Connection,
    events: &mut Vec<ConnectionEvent>,
    error: &mut Option<TransportError>,
    data_sizes: &mut Vec<usize>,
    mut sink: Sink<'_>,
) -> bool {
    let mut progressed = false;
    while error.is_none() {
        let payload = match t.poll_event() {
            Ok(Some(Event::Payload(p))) => p.to_vec(),
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => {
                *error = Some(e);
                break;
            }
        };
        progressed = true;
        if payload.first() == Some(&94) && payload.len() >= 9 {
            let len: [u8; 4] = payload[5..9].try_into().unwrap();
            data_sizes.push(u32::from_be_bytes(len) as usize);
        }
        let handled = match sink.as_mut() {
            Some((sunk, limit)) => {
                let mut take = |_: ChannelId, d: &[u8]| {
                    let n = d.len().min(*limit);
                    sunk.extend_from_slice(&d[..n]);
                    n
                };
                match c.handle_data_into(&payload, &mut take) {
                    Some(result) => result.and_then(|()| c.refill_windows(t)),
                    None => c.handle(t, &payload),
                }
            }
            None => c.handle(t, &payload),
        };
        if let Err(e) = handled {
            *error = Some(e);
        }
    }
    while let Some(ev) = c.poll_event() {
        events.push(ev);
        progressed = true;
    }
    progressed
}

/// Hands `bytes` to `to` as a socket read would: into its buffer in place where it has
/// room (when `in_place`), else through `recv`. Returns the number of in-place reads.
fn deliver(to: &mut Transport, mut bytes: &[u8], in_place: bool) -> usize {
    let mut reads = 0;
    while in_place && !bytes.is_empty() {
        let Some(room) = to.recv_space(1) else {
            break;
        };
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        to.recv_filled(n).unwrap();
        bytes = &bytes[n..];
        reads += 1;
    }
    if !bytes.is_empty() {
        let _ = to.recv(bytes);
    }
    reads
}

impl Ends {
    fn new(client: ConnectionConfig, server: ConnectionConfig) -> Self {
        let mut pair = Pair::default_with("ed25519");
        pair.drive();
        pair.assert_established();
        Self {
            pair,
            client: Connection::new(client),
            server: Connection::new(server),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_error: None,
            server_error: None,
            client_data_sizes: Vec::new(),
            client_sink: None,
            client_sunk: Vec::new(),
            in_place: false,
            in_place_reads: 0,
        }
    }

    /// Moves bytes and routes payloads into both connections until quiet.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            let mut progressed = false;
            for (from_client, _) in [(true, ()), (false, ())] {
                let (from, to) = if from_client {
                    (
                        &mut self.pair.client.transport,
                        &mut self.pair.server.transport,
                    )
                } else {
                    (
                        &mut self.pair.server.transport,
                        &mut self.pair.client.transport,
                    )
                };
                let bytes = from.transmit().to_vec();
                if !bytes.is_empty() {
                    from.advance_transmit(bytes.len());
                    self.in_place_reads += deliver(to, &bytes, self.in_place);
                    progressed = true;
                }
            }
            progressed |= pump_side(
                &mut self.pair.client.transport,
                &mut self.client,
                &mut self.client_events,
                &mut self.client_error,
                &mut self.client_data_sizes,
                self.client_sink.map(|limit| (&mut self.client_sunk, limit)),
            );
            progressed |= pump_side(
                &mut self.pair.server.transport,
                &mut self.server,
                &mut self.server_events,
                &mut self.server_error,
                &mut Vec::new(),
                None,
            );
            if !progressed {
                return;
            }
        }
        panic!("livelock");
    }

    /// Client opens a session; server accepts it. Returns (client id, server id).
    fn open(&mut self) -> (ChannelId, ChannelId) {
        let cid = self
            .client
            .open_channel(&mut self.pair.client.transport, "session", &[])
            .unwrap();
        self.settle();
        let sid = self
            .server_events
            .iter()
            .rev()
            .find_map(|e| match e {
                ConnectionEvent::OpenRequested { id, .. } => Some(*id),
                _ => None,
            })
            .unwrap();
        self.server
            .accept_open(&mut self.pair.server.transport, sid)
            .unwrap();
        self.settle();
        assert!(self
            .client_events
            .contains(&ConnectionEvent::OpenConfirmed(cid)));
        (cid, sid)
    }

    fn server_write_all(&mut self, id: ChannelId, bytes: &[u8], sent: &mut usize) {
        while *sent < bytes.len() {
            let n = self
                .server
                .write(&mut self.pair.server.transport, id, &bytes[*sent..], false)
                .unwrap();
            if n == 0 {
                return;
            }
            *sent += n;
            self.settle();
        }
    }

    fn client_read_all(&mut self, id: ChannelId) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 50_000];
        loop {
            let n = self
                .client
                .read(&mut self.pair.client.transport, id, &mut buf, false)
                .unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn a_stalled_reader_blocks_only_its_own_channel() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (stalled_c, stalled_s) = e.open();
    let (busy_c, busy_s) = e.open();
    let big = vec![7u8; 6 * 1024 * 1024];
    let (mut sent_stalled, mut sent_busy) = (0, 0);
    let mut received_busy = Vec::new();
    // Keep pushing on both; read only the busy channel.
    for _ in 0..1000 {
        e.server_write_all(stalled_s, &big, &mut sent_stalled);
        e.server_write_all(busy_s, &big, &mut sent_busy);
        received_busy.extend(e.client_read_all(busy_c));
        e.settle();
        if received_busy.len() == big.len() {
            break;
        }
    }
    assert_eq!(received_busy.len(), big.len(), "busy channel must finish");
    let window = ConnectionConfig::default().window as usize;
    assert_eq!(sent_stalled, window, "stalled channel stops at its window");
    assert_eq!(e.client.channel(stalled_c).unwrap().stdout.len(), window);
    // Reading the stalled channel lets it finish too.
    let mut received = Vec::new();
    while received.len() < big.len() {
        received.extend(e.client_read_all(stalled_c));
        e.settle();
        e.server_write_all(stalled_s, &big, &mut sent_stalled);
    }
    assert_eq!(received, big);
    assert!(e.client_error.is_none() && e.server_error.is_none());
}

#[test]
fn eof_exit_status_and_close_arrive_in_order_and_data_survives_close() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (cid, sid) = e.open();
    let t = &mut e.pair.server.transport;
    e.server.write(t, sid, b"last words", false).unwrap();
    e.server.send_eof(t, sid).unwrap();
    e.server
        .request(t, sid, &ChannelRequestKind::ExitStatus(7), false)
        .unwrap();
    e.server.close(t, sid).unwrap();
    e.settle();
    let tail: Vec<_> = e
        .client_events
        .iter()
        .filter(|ev| !matches!(ev, ConnectionEvent::OpenConfirmed(_)))
        .cloned()
        .collect();
    assert_eq!(
        tail,
        vec![
            ConnectionEvent::Readable(cid),
            ConnectionEvent::Eof(cid),
            ConnectionEvent::Request {
                id: cid,
                request: ChannelRequestKind::ExitStatus(7),
                want_reply: false
            },
            ConnectionEvent::Closed(cid),
        ]
    );
    // The client answered CLOSE; the data is still there to read.
    assert_eq!(e.client_read_all(cid), b"last words");
    assert!(e.server_events.contains(&ConnectionEvent::Closed(sid)));
    e.client.release(cid);
    assert_eq!(e.client.channel_count(), 0);
}

#[test]
fn data_beyond_the_window_is_a_protocol_error() {
    let small = ConnectionConfig {
        window: 1000,
        ..ConnectionConfig::default()
    };
    let mut e = Ends::new(small, ConnectionConfig::default());
    let (cid, _) = e.open();
    let mut payload = Vec::new();
    data::encode(&mut payload, cid.0, None, &[0u8; 1001]);
    e.pair.server.transport.send(&payload).unwrap();
    e.settle();
    assert_eq!(
        e.client_error,
        Some(TransportError::Peer(PeerMisbehaved::Channel(
            "data beyond the window"
        )))
    );
}

#[test]
fn messages_for_unknown_channels_are_protocol_errors() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let mut payload = Vec::new();
    data::encode(&mut payload, 42, None, b"x");
    e.pair.server.transport.send(&payload).unwrap();
    e.settle();
    assert!(matches!(
        e.client_error,
        Some(TransportError::Peer(PeerMisbehaved::Channel(_)))
    ));
}

#[test]
fn opens_past_the_channel_limit_fail_with_resource_shortage() {
    let limited = ConnectionConfig {
        max_channels: 2,
        ..ConnectionConfig::default()
    };
    let mut e = Ends::new(ConnectionConfig::default(), limited);
    let ids: Vec<_> = (0..3)
        .map(|_| {
            e.client
                .open_channel(&mut e.pair.client.transport, "session", &[])
                .unwrap()
        })
        .collect();
    e.settle();
    let offered = e
        .server_events
        .iter()
        .filter(|ev| matches!(ev, ConnectionEvent::OpenRequested { .. }))
        .count();
    assert_eq!(offered, 2);
    assert!(e.client_events.iter().any(|ev| matches!(
        ev,
        ConnectionEvent::OpenFailed { id, reason: 4, .. } if *id == ids[2]
    )));
}

#[test]
fn requests_with_reply_are_answered_in_order() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (cid, sid) = e.open();
    let t = &mut e.pair.client.transport;
    e.client
        .request(t, cid, &ChannelRequestKind::Shell, true)
        .unwrap();
    e.client
        .request(
            t,
            cid,
            &ChannelRequestKind::Subsystem {
                name: "sftp".into(),
            },
            true,
        )
        .unwrap();
    e.settle();
    let t = &mut e.pair.server.transport;
    e.server.reply_request(t, sid, true).unwrap();
    e.server.reply_request(t, sid, false).unwrap();
    e.settle();
    let replies: Vec<_> = e
        .client_events
        .iter()
        .filter_map(|ev| match ev {
            ConnectionEvent::RequestReply { success, .. } => Some(*success),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![true, false]);
    // A reply nobody asked for is a protocol error.
    e.server
        .reply_request(&mut e.pair.server.transport, sid, true)
        .unwrap();
    e.settle();
    assert!(e.client_error.is_some());
}

#[test]
fn data_consumed_in_place_refills_the_window_as_reads_do() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (cid, sid) = e.open();
    let window = ConnectionConfig::default().window as usize;
    let big: Vec<u8> = (0..3 * window).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut received = Vec::new();
    for _ in 0..1000 {
        e.server_write_all(sid, &big, &mut sent);
        e.settle();
        // Take what is buffered in pieces, straight from the buffer.
        loop {
            let front = e.client.peek(cid, false);
            if front.is_empty() {
                break;
            }
            let n = front.len().min(10_000);
            received.extend_from_slice(&front[..n]);
            e.client
                .consume(&mut e.pair.client.transport, cid, n, false)
                .unwrap();
        }
        e.settle();
        if received.len() == big.len() {
            break;
        }
    }
    assert_eq!(received, big, "consuming reopened the window each time");
    assert!(e.client.peek(cid, true).is_empty());
    // Consuming more than is buffered takes what there is.
    e.client
        .consume(&mut e.pair.client.transport, cid, 1 << 20, false)
        .unwrap();
    assert!(e.client_error.is_none() && e.server_error.is_none());
}

/// Sends 1 MiB of patterned data from the server and returns what the client read.
fn one_mebibyte_down(e: &mut Ends) -> (Vec<u8>, Vec<u8>) {
    let (cid, sid) = e.open();
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut received = Vec::new();
    while received.len() < big.len() {
        e.server_write_all(sid, &big, &mut sent);
        received.extend(e.client_read_all(cid));
        e.settle();
    }
    (big, received)
}

#[test]
fn bulk_data_moves_in_packets_of_the_advertised_128_kib_maximum() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    assert_eq!(ConnectionConfig::default().max_packet, 128 * 1024);
    let (big, received) = one_mebibyte_down(&mut e);
    assert_eq!(received, big);
    assert_eq!(e.client_data_sizes.len(), 8, "1 MiB in 128 KiB packets");
    assert!(e.client_data_sizes.iter().all(|&n| n == 128 * 1024));
    assert!(e.client_error.is_none() && e.server_error.is_none());
}

#[test]
fn a_peer_advertising_a_smaller_maximum_never_gets_a_larger_packet() {
    // OpenSSH's session channels advertise 32 KiB, PuTTY 16 KiB.
    let small = ConnectionConfig {
        max_packet: 16 * 1024,
        ..ConnectionConfig::default()
    };
    let mut e = Ends::new(small, ConnectionConfig::default());
    let (big, received) = one_mebibyte_down(&mut e);
    assert_eq!(received, big);
    assert_eq!(e.client_data_sizes.len(), 64);
    assert!(e.client_data_sizes.iter().all(|&n| n <= 16 * 1024));
    assert!(e.client_error.is_none() && e.server_error.is_none());
}

#[test]
fn data_above_our_advertised_maximum_is_a_protocol_error() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (cid, _) = e.open();
    let mut payload = Vec::new();
    data::encode(&mut payload, cid.0, None, &vec![0u8; 128 * 1024 + 1]);
    e.pair.server.transport.send(&payload).unwrap();
    e.settle();
    assert_eq!(
        e.client_error,
        Some(TransportError::Peer(PeerMisbehaved::Channel(
            "data packet larger than the maximum"
        )))
    );
}

#[test]
fn data_taken_straight_from_the_packet_keeps_its_order_and_reopens_the_window() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    // The sink takes part of a packet: the rest, and what follows it, is buffered.
    e.client_sink = Some(50_000);
    e.in_place = true;
    let (cid, sid) = e.open();
    let window = ConnectionConfig::default().window as usize;
    let big: Vec<u8> = (0..3 * window + 12_345).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut read_from_buffer = 0;
    for _ in 0..1000 {
        e.server_write_all(sid, &big, &mut sent);
        e.settle();
        // What the sink took came before anything buffered since.
        received.append(&mut e.client_sunk);
        let buffered = e.client_read_all(cid);
        read_from_buffer += buffered.len();
        received.extend(buffered);
        e.settle();
        received.append(&mut e.client_sunk);
        if received.len() == big.len() {
            break;
        }
    }
    assert_eq!(
        received.len(),
        big.len(),
        "the window reopened for sunk data"
    );
    assert!(received == big, "data kept its order");
    assert!(read_from_buffer > 0 && read_from_buffer < big.len());
    assert!(
        e.in_place_reads > 0,
        "socket bytes landed in the buffer in place"
    );
    assert!(e.client_error.is_none() && e.server_error.is_none());
}

#[test]
fn extended_data_of_an_undefined_type_is_dropped_and_its_window_given_back() {
    let mut e = Ends::new(ConnectionConfig::default(), ConnectionConfig::default());
    let (cid, _) = e.open();
    let window = ConnectionConfig::default().window as usize;
    let chunk = vec![7u8; 100 * 1024];
    // Three windows' worth: without the window given back, the second would overflow it.
    for _ in 0..(3 * window / chunk.len()) {
        let mut payload = Vec::new();
        data::encode(&mut payload, cid.0, Some(2), &chunk);
        e.pair.server.transport.send(&payload).unwrap();
        e.settle();
    }
    assert!(e.client_error.is_none(), "{:?}", e.client_error);
    assert!(e.client.peek(cid, false).is_empty());
    assert!(e.client.peek(cid, true).is_empty());
}
