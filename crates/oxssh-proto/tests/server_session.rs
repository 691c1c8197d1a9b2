//! Protocol tests of the server once the user is in: a session with delayed
//! compression, keepalive replies, channels the server opens. The pair is in
//! `server_duo/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;
mod server_duo;

use std::time::Duration;

use oxssh_proto::auth::AuthConfig;
use oxssh_proto::connection::{ChannelRequestKind, ConnectionEvent};
use oxssh_proto::{ClientEvent, ServerEvent};

use server_duo::*;

#[test]
fn session_runs_after_login_with_delayed_compression_and_no_grace_timer() {
    let mut d = Duo::with(AuthConfig::default(), &["zlib@openssh.com", "none"]);
    d.password("pw");
    d.answer(true);
    // LoginGraceTime no longer applies.
    assert!(d.server.poll_timeout().unwrap() > d.now + Duration::from_secs(600));
    d.advance(Duration::from_secs(600));
    let cid = d.conn().open_session().unwrap();
    d.drive();
    let sid = match d.server_events.last() {
        Some(ServerEvent::Connection(ConnectionEvent::OpenRequested { id, .. })) => *id,
        other => panic!("{other:?}"),
    };
    d.server.accept_open(sid).unwrap();
    let exec = ChannelRequestKind::Exec {
        command: b"echo hi".to_vec(),
    };
    d.drive();
    d.conn().channel_request(cid, &exec, true).unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::Request {
            id: sid,
            request: exec,
            want_reply: true
        })));
    d.server.reply_request(sid, true).unwrap();
    assert_eq!(d.server.write(sid, &[b'x'; 10_000], false).unwrap(), 10_000);
    d.server
        .channel_request(sid, &ChannelRequestKind::ExitStatus(3), false)
        .unwrap();
    d.server.send_eof(sid).unwrap();
    d.server.close(sid).unwrap();
    d.drive();
    let mut buf = vec![0u8; 20_000];
    assert_eq!(d.conn().read(cid, &mut buf, false).unwrap(), 10_000);
    assert!(d
        .client_events
        .contains(&ClientEvent::Connection(ConnectionEvent::Request {
            id: cid,
            request: ChannelRequestKind::ExitStatus(3),
            want_reply: false
        })));
    assert!(d.client_error.is_none() && d.server_error.is_none());
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::Closed(sid))));
}

#[test]
fn keepalive_replies_are_consumed_and_the_callers_global_replies_come_in_order() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("pw");
    d.answer(true);
    d.drive();
    d.conn().set_keepalive(Duration::from_secs(5), 3);
    // The first tick only notes the login traffic; the second, after silence, probes.
    for _ in 0..2 {
        d.advance(Duration::from_secs(6));
        let now = d.now;
        d.conn().handle_timeout(now).unwrap();
        d.drive();
    }
    let probes = d
        .server_events
        .iter()
        .filter(|e| {
            matches!(e, ServerEvent::Connection(ConnectionEvent::GlobalRequest { name, want_reply: true, .. })
            if name == "keepalive@openssh.com")
        })
        .count();
    assert!(probes > 0, "{:?}", d.server_events);
    // The caller's request goes out behind the probes; the server answers all in order.
    d.conn()
        .global_request("tcpip-forward", true, &[0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    d.drive();
    for _ in 0..probes {
        d.server.reply_global(false, &[]).unwrap();
    }
    d.server.reply_global(true, &[0, 0, 0x10, 0x92]).unwrap();
    d.drive();
    let replies: Vec<&ClientEvent> = d
        .client_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::Connection(ConnectionEvent::GlobalReply { .. })
            )
        })
        .collect();
    assert_eq!(
        replies,
        [&ClientEvent::Connection(ConnectionEvent::GlobalReply {
            success: true,
            data: vec![0, 0, 0x10, 0x92]
        })]
    );
    // A reply nobody asked for is a protocol error.
    d.server.reply_global(true, &[]).unwrap();
    d.drive();
    assert!(d.client_error.is_some());
}

#[test]
fn channels_the_server_opens_reach_the_client_caller() {
    let mut d = Duo::new(AuthConfig::default());
    d.password("pw");
    d.answer(true);
    d.drive();
    let sid = d
        .server
        .open_channel("auth-agent@openssh.com", &[])
        .unwrap();
    d.drive();
    let cid = match d.client_events.last() {
        Some(ClientEvent::Connection(ConnectionEvent::OpenRequested {
            id, channel_type, ..
        })) if channel_type == "auth-agent@openssh.com" => *id,
        other => panic!("{other:?}"),
    };
    d.conn().accept_open(cid).unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::OpenConfirmed(
            sid
        ))));
    let second = d.server.open_channel("forwarded-tcpip", &[]).unwrap();
    d.drive();
    let cid = match d.client_events.last() {
        Some(ClientEvent::Connection(ConnectionEvent::OpenRequested { id, .. })) => *id,
        other => panic!("{other:?}"),
    };
    d.conn().reject_open(cid, 2, "connect failed").unwrap();
    d.drive();
    assert!(d
        .server_events
        .contains(&ServerEvent::Connection(ConnectionEvent::OpenFailed {
            id: second,
            reason: 2,
            description: "connect failed".into()
        })));
}
