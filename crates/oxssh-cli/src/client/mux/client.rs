//! The client side of connection sharing (`ssh -S path`): hello, an alive check for the
//! master's pid, then either a control command (`-O check|exit|stop`) or a session
//! whose stdin, stdout and stderr are ours, passed to the master by `SCM_RIGHTS`. We
//! wait for its exit message and exit with that status, relaying window-size changes
//! to the master as OpenSSH's client does (SIGWINCH to its pid). A master run by
//! another user (other than root) is refused: it would get our descriptors.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UnixStream;

use oxssh_config::Forward;

use super::codec::{self, Message, NewSession, Writer};
use super::forward::{self as mux_forward, Kind};
use crate::ssh::args::MuxCommand;
use crate::ssh::tty::RawModeGuard;

/// How long the master may take to answer a request.
const REPLY_LIMIT: Duration = Duration::from_secs(30);

/// Why no master could be used.
#[derive(Debug)]
pub enum NoMaster {
    /// Nothing listens there (`ENOENT`, or `ECONNREFUSED`: a stale socket).
    Absent(io::Error),
    /// Something is there but unusable (wrong owner, bad hello, ...): the message.
    Refused(String),
}

/// A connected, greeted master.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    pid: u32,
    next_id: u32,
}

fn bad(what: &str) -> NoMaster {
    NoMaster::Refused(what.to_owned())
}

/// Connects to the master at `path` and greets it.
///
/// # Errors
/// [`NoMaster::Absent`] when nothing listens, [`NoMaster::Refused`] otherwise.
pub async fn connect(path: &Path) -> Result<Connection, NoMaster> {
    let mut stream = tokio::time::timeout(REPLY_LIMIT, UnixStream::connect(path))
        .await
        .map_err(|_| bad("mux master: connect timed out"))?
        .map_err(NoMaster::Absent)?;
    let ours = nix::unistd::getuid().as_raw();
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == 0 || cred.uid() == ours => {}
        Ok(cred) => {
            return Err(NoMaster::Refused(format!(
                "control socket {} is served by uid {}, not by uid {ours}: refusing it",
                path.display(),
                cred.uid()
            )))
        }
        Err(e) => return Err(NoMaster::Refused(format!("getpeereid: {e}"))),
    }
    let greet = async {
        codec::write(&mut stream, &codec::hello()).await?;
        codec::read(&mut stream).await
    };
    let hello = tokio::time::timeout(REPLY_LIMIT, greet)
        .await
        .map_err(|_| bad("mux master: no hello"))?
        .map_err(|e| NoMaster::Refused(format!("mux master: {e}")))?
        .ok_or_else(|| bad("mux master closed the connection"))?;
    if hello.kind != codec::HELLO {
        return Err(bad("mux master: bad hello"));
    }
    let version = hello
        .reader()
        .u32()
        .map_err(|_| bad("mux master: bad hello"))?;
    if version != codec::VERSION {
        return Err(NoMaster::Refused(format!(
            "Unsupported multiplexing protocol version {version} (expected {})",
            codec::VERSION
        )));
    }
    let mut conn = Connection {
        stream,
        pid: 0,
        next_id: 0,
    };
    let id = conn.id();
    let reply = conn
        .request(&Writer::new(codec::C_ALIVE_CHECK).u32(id).finish())
        .await
        .map_err(|e| NoMaster::Refused(format!("mux master: {e}")))?;
    let mut r = reply.reader();
    if reply.kind != codec::S_ALIVE || r.u32().ok() != Some(id) {
        return Err(bad("mux master: bad alive reply"));
    }
    conn.pid = r.u32().map_err(|_| bad("mux master: bad alive reply"))?;
    Ok(conn)
}

impl Connection {
    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    async fn request(&mut self, message: &[u8]) -> io::Result<Message> {
        codec::write(&mut self.stream, message).await?;
        self.reply().await
    }

    async fn reply(&mut self) -> io::Result<Message> {
        tokio::time::timeout(REPLY_LIMIT, codec::read(&mut self.stream))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }

    /// `-O check|exit|stop`, with OpenSSH's messages; returns the exit status.
    pub async fn control(mut self, command: MuxCommand) -> u8 {
        let (kind, done, refused) = match command {
            MuxCommand::Check => {
                eprint!("Master running (pid={})\r\n", self.pid);
                return 0;
            }
            MuxCommand::Exit => (
                codec::C_TERMINATE,
                "Exit request sent.",
                "Master refused termination request",
            ),
            MuxCommand::Stop => (
                codec::C_STOP_LISTENING,
                "Stop listening request sent.",
                "Master refused stop listening request",
            ),
            MuxCommand::Forward | MuxCommand::Cancel => {
                eprintln!("oxssh: -O forward and -O cancel need forwards");
                return 255;
            }
            MuxCommand::Unsupported(word) => {
                eprintln!("oxssh: -O {word} is not supported yet (issue 8)");
                return 255;
            }
        };
        let id = self.id();
        match self.request(&Writer::new(kind).u32(id).finish()).await {
            Ok(m) if m.kind == codec::S_OK => {
                eprint!("{done}\r\n");
                0
            }
            Ok(m) if m.kind == codec::S_PERMISSION_DENIED || m.kind == codec::S_FAILURE => {
                let mut r = m.reader();
                let _ = r.u32();
                let reason = r.string().map(String::from_utf8_lossy).unwrap_or_default();
                eprintln!("{refused}: {reason}");
                255
            }
            Ok(_) => {
                eprintln!("{refused}: unexpected reply");
                255
            }
            // A master told to exit may go before its answer is written (OpenSSH's does).
            Err(e) if kind == codec::C_TERMINATE && e.kind() == io::ErrorKind::UnexpectedEof => {
                eprint!("{done}\r\n");
                0
            }
            Err(e) => {
                eprintln!("{refused}: {e}");
                255
            }
        }
    }

    /// Asks the master for each forward, or to cancel it, as OpenSSH's client does:
    /// local and dynamic ones first, then remote ones. `print_ports` (`-O forward`)
    /// prints each port the server allocated on stdout. `Err` when any failed (the
    /// messages are printed).
    pub async fn forwards(
        &mut self,
        local: &[Forward],
        remote: &[Forward],
        cancel: bool,
        print_ports: bool,
    ) -> Result<(), ()> {
        let all = local
            .iter()
            .map(|f| (Kind::of_local(f), f))
            .chain(remote.iter().map(|f| (Kind::Remote, f)));
        let mut result = Ok(());
        for (kind, f) in all {
            let id = self.id();
            let reply = match self
                .request(&mux_forward::encode(cancel, id, kind, f))
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("mux_client_forward: read from master failed: {e}");
                    return Err(());
                }
            };
            let mut r = reply.reader();
            if r.u32().ok() != Some(id) {
                eprintln!("mux_client_forward: out of sequence reply");
                return Err(());
            }
            let reason = |r: &mut codec::Reader<'_>| {
                r.string()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .unwrap_or_default()
            };
            match reply.kind {
                codec::S_OK => {}
                codec::S_REMOTE_PORT if !cancel => {
                    let port = r.u32().unwrap_or(0);
                    tracing::info!(
                        "Allocated port {port} for remote forward to {}:{}",
                        f.connect_host.as_deref().unwrap_or(""),
                        f.connect_port
                    );
                    if print_ports {
                        println!("{port}");
                    }
                }
                codec::S_PERMISSION_DENIED => {
                    eprintln!("Master refused forwarding request: {}", reason(&mut r));
                    result = Err(());
                }
                codec::S_FAILURE => {
                    eprintln!(
                        "mux_client_forward: forwarding request failed: {}",
                        reason(&mut r)
                    );
                    result = Err(());
                }
                other => {
                    eprintln!("mux_client_forward: unexpected response type {other}");
                    return Err(());
                }
            }
        }
        result
    }

    /// Passes our descriptors to the master, in order; the failure is printed.
    async fn send_fds<const N: usize>(
        &mut self,
        fds: [io::Result<OwnedFd>; N],
        what: &str,
    ) -> Result<(), ()> {
        for fd in fds {
            let sent = match fd {
                Ok(fd) => {
                    self.stream
                        .async_io(Interest::WRITABLE, || {
                            oxssh_os::fdpass::send_fd(self.stream.as_fd(), fd.as_fd())
                        })
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                eprintln!("{what}: send fds failed: {e}");
                return Err(());
            }
        }
        Ok(())
    }

    /// `-W` through the master (`MUX_C_NEW_STDIO_FWD`): our stdin and stdout go to the
    /// master, which relays them and closes the control connection when the channel
    /// ends. The exit status, as OpenSSH's client: 0, or 255 with its message.
    pub async fn stdio_forward(mut self, host: &str, port: u32) -> u8 {
        let request = codec::Writer::new(codec::C_NEW_STDIO_FWD)
            .u32(self.id())
            .string(b"")
            .string(host.as_bytes())
            .u32(port)
            .finish();
        if codec::write(&mut self.stream, &request).await.is_err() {
            eprintln!("mux_client_request_stdio_fwd: write packet: Broken pipe");
            return 255;
        }
        let fds = [
            std::io::stdin().as_fd().try_clone_to_owned(),
            std::io::stdout().as_fd().try_clone_to_owned(),
        ];
        if self
            .send_fds(fds, "mux_client_request_stdio_fwd")
            .await
            .is_err()
        {
            return 255;
        }
        let reply = match self.reply().await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("mux_client_request_stdio_fwd: read from master failed: {e}");
                return 255;
            }
        };
        let mut r = reply.reader();
        let _ = r.u32();
        let mut reason = || r.string().map(String::from_utf8_lossy).unwrap_or_default();
        match reply.kind {
            codec::S_SESSION_OPENED => {}
            codec::S_PERMISSION_DENIED => {
                eprintln!("Master refused stdio forwarding request: {}", reason());
                return 255;
            }
            _ => {
                eprintln!("Stdio forwarding request failed: {}", reason());
                return 255;
            }
        }
        // The master closes the connection once the forward is done.
        while let Ok(Some(_)) = codec::read(&mut self.stream).await {}
        0
    }

    /// Runs a session through the master; returns our exit status, or `None` when the
    /// master refused the session before it started (the message is printed), in which
    /// case ssh connects by itself instead.
    pub async fn session(
        mut self,
        mut request: NewSession,
        stdin_null: bool,
        host: &str,
        quiet: bool,
    ) -> Option<u8> {
        request.request_id = self.id();
        // Listening for window changes before the session exists: the remote side may
        // print (and the user resize) before the master's answer is read here, and a
        // SIGWINCH arriving with no handler yet would be lost.
        let mut winch = if request.want_tty {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
        } else {
            None
        };
        let stdin: io::Result<OwnedFd> = if stdin_null {
            std::fs::File::open("/dev/null").map(OwnedFd::from)
        } else {
            std::io::stdin().as_fd().try_clone_to_owned()
        };
        let fds = [
            stdin,
            std::io::stdout().as_fd().try_clone_to_owned(),
            std::io::stderr().as_fd().try_clone_to_owned(),
        ];
        if codec::write(&mut self.stream, &request.encode())
            .await
            .is_err()
        {
            eprintln!("mux_client_request_session: write packet: Broken pipe");
            return Some(255);
        }
        if self
            .send_fds(fds, "mux_client_request_session")
            .await
            .is_err()
        {
            return Some(255);
        }
        let reply = match self.reply().await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("mux_client_request_session: read from master failed: {e}");
                return Some(255);
            }
        };
        let mut r = reply.reader();
        let _ = r.u32();
        match reply.kind {
            codec::S_SESSION_OPENED => {}
            codec::S_PERMISSION_DENIED => {
                let reason = r.string().map(String::from_utf8_lossy).unwrap_or_default();
                eprintln!("Master refused session request: {reason}");
                return None;
            }
            _ => {
                let reason = r.string().map(String::from_utf8_lossy).unwrap_or_default();
                eprintln!("Session open refused by peer: {reason}");
                return None;
            }
        }
        let session_id = r.u32().unwrap_or(0);
        let raw = if request.want_tty {
            RawModeGuard::enter(std::io::stdin()).ok()
        } else {
            None
        };
        let master = nix::unistd::Pid::from_raw(i32::try_from(self.pid).unwrap_or(0));
        let mut exit = None;
        loop {
            tokio::select! {
                message = codec::read(&mut self.stream) => match message {
                    Ok(Some(m)) => {
                        let mut r = m.reader();
                        let for_us = r.u32().ok() == Some(session_id);
                        match m.kind {
                            codec::S_TTY_ALLOC_FAIL if for_us => {
                                if let Some(g) = &raw {
                                    let _ = g.leave();
                                }
                            }
                            codec::S_EXIT_MESSAGE if for_us => {
                                exit = r.u32().ok();
                                break;
                            }
                            _ => {}
                        }
                    }
                    _ => break,
                },
                Some(()) = async {
                    match winch.as_mut() {
                        Some(w) => w.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if self.pid > 1 {
                        let _ = nix::sys::signal::kill(master, nix::sys::signal::Signal::SIGWINCH);
                    }
                }
            }
        }
        drop(raw);
        if request.want_tty && !quiet {
            eprint!("Shared connection to {host} closed.\r\n");
        }
        Some(match exit {
            Some(code) => (code & 0xff) as u8,
            None => {
                tracing::info!("Control master terminated unexpectedly");
                255
            }
        })
    }
}
