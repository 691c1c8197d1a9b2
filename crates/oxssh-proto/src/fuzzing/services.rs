//! Fuzz entry points for the layers above the transport: user authentication (both
//! roles) and the connection protocol. Each input is a script: peer messages (a 2-byte
//! length, then the payload) interleaved with the application's own moves, chosen by
//! the script's bytes, so that peer input arrives in every state the application can
//! put a layer in.

use std::sync::Arc;

use oxssh_wire::userauth::Prompt;

use crate::auth::client::{AuthClient, AuthEvent};
use crate::auth::server::{AuthConfig, AuthServer, AuthenticationMethods, Method};
use crate::connection::ConnectionEvent;
use crate::connection::{ChannelId, ChannelRequestKind, Connection, ConnectionConfig};
use crate::crypto::CryptoProvider;
use crate::{Role, Transport, TransportConfig};

/// The session identifier public-key attempts are signed over.
const SESSION_ID: [u8; 32] = [7; 32];

/// Reads a fuzz input as a script.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    /// A peer message: a big-endian 2-byte length (cut to what is left), then that many
    /// bytes.
    fn message(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes([self.byte()?, self.byte()?]);
        let (message, rest) = self.0.split_at(usize::from(len).min(self.0.len()));
        self.0 = rest;
        Some(message)
    }

    /// Up to 255 bytes of data for the application to send.
    fn data(&mut self) -> &'a [u8] {
        let len = self.byte().map_or(0, usize::from).min(self.0.len());
        let (data, rest) = self.0.split_at(len);
        self.0 = rest;
        data
    }
}

/// The server's authentication fed a client's messages. Its first byte picks the
/// configuration (method lists, banner, password refused); every attempt is answered
/// the way the next byte says, the way sshd's policy could.
pub fn auth_server(provider: Arc<CryptoProvider>, data: &[u8]) {
    let mut script = Script(data);
    let shape = script.byte().unwrap_or_default();
    let mut config = AuthConfig::default();
    if shape & 1 != 0 {
        config.authentication_methods = AuthenticationMethods::Lists(vec![
            vec![Method::PublicKey, Method::Password],
            vec![Method::KeyboardInteractive],
        ]);
    }
    if shape & 2 != 0 {
        config.banner = Some("Authorised use only.\n".into());
    }
    config.password_authentication = shape & 4 == 0;
    config.max_auth_tries = u32::from(shape >> 3);
    let Ok(mut server) = AuthServer::new(config, provider) else {
        return;
    };
    while let Some(message) = script.message() {
        if server.handle(message, &SESSION_ID).is_err() {
            return;
        }
        while server.poll_output().is_some() || server.poll_step().is_some() {}
        while server.awaits_answer() {
            let answered = match script.byte().unwrap_or_default() % 5 {
                0 => server.accept(),
                1 => server.pk_ok(),
                2 => {
                    let prompt = Prompt {
                        text: "Password: ".into(),
                        echo: false,
                    };
                    server.info_request("", "", vec![prompt])
                }
                3 => server.password_change_request("New password: "),
                _ => server.reject(),
            };
            // An answer that does not fit the attempt is refused as misuse; refuse
            // the attempt instead, which always fits.
            if answered.is_err() && server.reject().is_err() {
                return;
            }
            while server.poll_output().is_some() || server.poll_step().is_some() {}
        }
    }
}

/// The client's authentication fed a server's answers: before each message, the next
/// byte picks the request the client sent (any method, or answers to the prompts it
/// was shown).
pub fn auth_client(data: &[u8]) {
    let mut script = Script(data);
    let mut client = AuthClient::new("fuzz");
    let mut prompts = 0;
    while let Some(choice) = script.byte() {
        // A request the client's state does not allow is refused before it is sent.
        let _ = match choice % 6 {
            0 => client.none().map(drop),
            1 => client.publickey_query("ssh-ed25519", &[0; 51]).map(drop),
            2 => client
                .publickey_signed("ssh-ed25519", &[0; 51], &[0; 83])
                .map(drop),
            3 => client.password("secret", None).map(drop),
            4 => client.keyboard_interactive("").map(drop),
            _ => client.info_response(&vec!["answer"; prompts]).map(drop),
        };
        let Some(message) = script.message() else {
            return;
        };
        match client.handle(message) {
            Ok(AuthEvent::InfoRequest(request)) => prompts = request.prompts.len(),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// The connection protocol fed a peer's messages, with the application opening,
/// writing, reading, closing and answering channels in between. The transport never
/// finished a key exchange, so what the layer sends is queued (bounded by the input).
pub fn connection(provider: Arc<CryptoProvider>, data: &[u8]) {
    let mut script = Script(data);
    let reject_global_requests = script.byte().unwrap_or_default() & 1 != 0;
    let Ok(mut tx) = Transport::new(
        Arc::new(TransportConfig::client_default()),
        provider,
        Role::Client,
        std::time::Instant::now(),
    ) else {
        return;
    };
    // Small limits, so that full windows and tables are reached.
    let mut conn = Connection::new(ConnectionConfig {
        max_channels: 4,
        window: 2048,
        max_packet: 512,
        reject_global_requests,
    });
    while let Some(op) = script.byte() {
        let id = ChannelId(u32::from(op >> 4) % 6);
        // Application moves may be refused (misuse); only peer input may end the run.
        let _ = match op % 12 {
            0..=4 => {
                let Some(message) = script.message() else {
                    return;
                };
                if !Connection::owns(message) {
                    continue;
                }
                if conn.handle(&mut tx, message).is_err() {
                    return;
                }
                Ok(())
            }
            5 => conn.open_channel(&mut tx, "session", &[]).map(drop),
            6 => conn
                .write(&mut tx, id, script.data(), op & 16 != 0)
                .map(drop),
            7 => conn.consume(&mut tx, id, usize::from(op), op & 32 != 0),
            8 => conn.request(&mut tx, id, &ChannelRequestKind::Shell, true),
            9 => conn.send_eof(&mut tx, id),
            10 => conn.close(&mut tx, id),
            _ => conn.global_request(&mut tx, "keepalive@openssh.com", true, &[]),
        };
        answer_events(&mut conn, &mut tx);
    }
}

/// Takes every queued connection event the way an application would.
fn answer_events(conn: &mut Connection, tx: &mut Transport) {
    while let Some(event) = conn.poll_event() {
        let _ = match event {
            ConnectionEvent::OpenRequested { id, .. } if id.0 % 2 == 0 => conn.accept_open(tx, id),
            ConnectionEvent::OpenRequested { id, .. } => conn.reject_open(tx, id, 2, "no"),
            ConnectionEvent::Request {
                id,
                want_reply: true,
                ..
            } => conn.reply_request(tx, id, id.0 % 2 == 0),
            ConnectionEvent::GlobalRequest {
                want_reply: true, ..
            } => conn.reply_global(tx, false, &[]),
            ConnectionEvent::Readable(id) => {
                let mut buf = [0; 300];
                conn.read(tx, id, &mut buf, false)
                    .and_then(|_| conn.read(tx, id, &mut buf, true))
                    .map(drop)
            }
            ConnectionEvent::Closed(id) => {
                conn.release(id);
                Ok(())
            }
            _ => Ok(()),
        };
    }
}
