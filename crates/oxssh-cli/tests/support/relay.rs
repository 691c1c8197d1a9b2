//! Loopback plumbing for misbehaving-peer tests: a listener that serves each
//! connection on a thread, and a TCP relay that can stop relaying either way (a peer
//! that died, or stopped reading, without closing the connection).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// A loopback listener that runs `serve` on each accepted connection in a thread.
pub fn fake_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = Arc::new(serve);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            thread::spawn(move || serve(stream));
        }
    });
    port
}

/// Which directions a [`stalling_relay`] has stopped relaying.
#[derive(Debug, Default)]
pub struct Stall {
    /// Client to server.
    pub up: AtomicBool,
    /// Server to client.
    pub down: AtomicBool,
}

/// A TCP relay to `target` that can be told to stop relaying either way (a server
/// that died, or stopped reading, without closing the connection).
pub fn stalling_relay(target: u16, stall: Arc<Stall>) -> u16 {
    fake_server(move |client| {
        let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target)) else {
            return;
        };
        let pump = |mut from: TcpStream, mut to: TcpStream, stall: Arc<Stall>, up: bool| {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let stalled = if up { &stall.up } else { &stall.down };
                        if stalled.load(Ordering::SeqCst) {
                            continue; // swallowed
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Both);
        };
        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = stall.clone();
        let a = thread::spawn(move || pump(c2, s2, up, true));
        pump(server, client, stall.clone(), false);
        let _ = a.join();
    })
}
