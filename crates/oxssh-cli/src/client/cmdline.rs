//! The escape commands that act on the connection: the `~C` command line (OpenSSH's
//! `process_cmdline()`: `-L`, `-R`, `-D` add a forward, `-KL`, `-KR`, `-KD` cancel one,
//! `?`/`h` for help, `!command` when `PermitLocalCommand` allows it) and the `~#` list
//! of open channels (`channel_open_message()`). Messages are OpenSSH's, one a line with
//! `\r\n` as its log prints them; the caller leaves raw mode around a command, as ssh.

use oxssh::ChannelInfo;
use oxssh_config::{Forward, OsEnv};
use oxssh_proto::connection::Lifecycle;

use super::forward::Forwarding;

/// What the command line may act on.
#[derive(Debug)]
pub struct Commands<'a> {
    /// The running forwards.
    pub forwarding: &'a Forwarding,
    /// `PermitLocalCommand`: `!command` is allowed.
    pub permit_local_command: bool,
}

/// OpenSSH's `logit()` on the terminal.
fn log(line: &str) {
    eprint!("{line}\r\n");
}

const HELP: [&str; 7] = [
    "Commands:",
    "      -L[bind_address:]port:host:hostport    Request local forward",
    "      -R[bind_address:]port:host:hostport    Request remote forward",
    "      -D[bind_address:]port                  Request dynamic forward",
    "      -KL[bind_address:]port                 Cancel local forward",
    "      -KR[bind_address:]port                 Cancel remote forward",
    "      -KD[bind_address:]port                 Cancel dynamic forward",
];

/// Which forward a command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Remote,
    Dynamic,
}

/// Runs one command line typed after `~C`.
pub async fn run(line: &str, cmds: &mut Commands<'_>) {
    let s = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let s = s.strip_prefix('-').unwrap_or(s);
    if s.is_empty() {
        return;
    }
    if s.starts_with(['h', 'H', '?']) {
        HELP.iter().for_each(|l| log(l));
        if cmds.permit_local_command {
            log("      !args                                  Execute local command");
        }
        return;
    }
    if let Some(command) = s.strip_prefix('!').filter(|_| cmds.permit_local_command) {
        local_command(command).await;
        return;
    }
    let (delete, s) = match s.strip_prefix('K') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let kind = match s.chars().next() {
        Some('L') => Kind::Local,
        Some('R') => Kind::Remote,
        Some('D') => Kind::Dynamic,
        _ => {
            log("Invalid command.");
            return;
        }
    };
    let spec = s
        .get(1..)
        .unwrap_or_default()
        .trim_start_matches(|c: char| c.is_ascii_whitespace());
    let env = OsEnv::new();
    if delete {
        // One or two fields, as a dynamic forward is written.
        let Some(f) = oxssh_config::parse_forward(spec, true, false, &env) else {
            log("Bad forwarding close specification.");
            return;
        };
        let ok = match kind {
            Kind::Remote => cmds.forwarding.close_remote_listening(&f).await,
            Kind::Dynamic => cmds.forwarding.close_local_listening(&f, true).await,
            Kind::Local => cmds.forwarding.close_local_listening(&f, false).await,
        };
        log(if ok {
            "Canceled forwarding."
        } else {
            "Unknown port forwarding."
        });
        return;
    }
    let parsed = match kind {
        Kind::Remote => oxssh_config::parse_forward(spec, false, true, &env)
            .or_else(|| oxssh_config::parse_forward(spec, true, true, &env))
            .ok_or("Bad remote forwarding specification."),
        Kind::Local | Kind::Dynamic => {
            oxssh_config::parse_forward(spec, kind == Kind::Dynamic, false, &env)
                .ok_or("Bad local forwarding specification.")
        }
    };
    let f = match parsed {
        Ok(f) => f,
        Err(message) => {
            log(message);
            return;
        }
    };
    add(cmds, kind, &f).await;
}

/// Starts the forward `f`, saying what OpenSSH says.
async fn add(cmds: &mut Commands<'_>, kind: Kind, f: &Forward) {
    if kind != Kind::Remote {
        if cmds.forwarding.open_local(f).await.is_ok() {
            log("Forwarding port.");
        } else {
            log("Port forwarding failed.");
        }
        return;
    }
    // OpenSSH says this once the request is sent; a refusal then comes as a warning.
    log("Forwarding port.");
    if let Err(message) = cmds.forwarding.open_remote(f).await {
        log(&format!("Warning: {message}"));
    }
}

/// `!command`: `$SHELL -c command` (`/bin/sh` without `SHELL`), waited for.
async fn local_command(command: &str) {
    if command.is_empty() {
        return;
    }
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    match tokio::process::Command::new(&shell)
        .arg("-c")
        .arg(command)
        .status()
        .await
    {
        Ok(_) => {}
        Err(e) => log(&format!("Couldn't execute {shell} -c \"{command}\": {e}")),
    }
}

/// The name OpenSSH gives a channel of this type in the list.
fn remote_name(channel_type: &str) -> &str {
    match channel_type {
        "session" => "client-session",
        "auth-agent@openssh.com" => "authentication agent connection",
        other => other,
    }
}

/// `~#`: OpenSSH's `channel_open_message()`. Its per-channel status is printed in the
/// same layout; what has no counterpart here (descriptors, I/O flags, control channel)
/// shows as -1 or 0.
pub fn open_message(channels: &[ChannelInfo]) -> String {
    let mut out = String::from("The following connections are open:\r\n");
    for c in channels {
        // OpenSSH's channel types: 3 opening, 4 open; closed ones are not listed.
        let t = match c.lifecycle {
            Lifecycle::Opening => 3,
            Lifecycle::Open => 4,
            _ => continue,
        };
        let remote = if c.lifecycle == Lifecycle::Open {
            format!("r{}", c.remote_id)
        } else {
            "nr0".into()
        };
        // chan_state: input 0 open, 3 closed; output 0 open, 1 draining, 3 closed.
        let istate = if c.eof_sent { 3 } else { 0 };
        let ostate = match (c.eof_received || c.close_received, c.unread) {
            (false, _) => 0,
            (true, 0) => 3,
            (true, _) => 1,
        };
        let (ext, ext_len) = if c.channel_type == "session" {
            ("write", c.unread_stderr)
        } else {
            ("closed", 0)
        };
        out.push_str(&format!(
            "  #{} {} (t{t} [{}] {remote} i{istate}/0 o{ostate}/{} e[{ext}]/{ext_len} \
             fd -1/-1/-1 sock -1 cc -1 io 0x00/0x00)\r\n",
            c.id,
            remote_name(&c.channel_type),
            c.channel_type,
            c.unread,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u32, channel_type: &str, lifecycle: Lifecycle) -> ChannelInfo {
        ChannelInfo {
            id,
            remote_id: id + 7,
            channel_type: channel_type.into(),
            lifecycle,
            eof_sent: false,
            eof_received: false,
            close_sent: false,
            close_received: false,
            unread: 0,
            unread_stderr: 0,
        }
    }

    #[test]
    fn open_message_lists_open_channels_in_opensshs_layout() {
        let text = open_message(&[
            info(0, "session", Lifecycle::Open),
            info(1, "direct-tcpip", Lifecycle::Opening),
            info(2, "direct-tcpip", Lifecycle::Closed),
        ]);
        assert_eq!(
            text,
            "The following connections are open:\r\n  \
             #0 client-session (t4 [session] r7 i0/0 o0/0 e[write]/0 fd -1/-1/-1 sock -1 cc -1 io 0x00/0x00)\r\n  \
             #1 direct-tcpip (t3 [direct-tcpip] nr0 i0/0 o0/0 e[closed]/0 fd -1/-1/-1 sock -1 cc -1 io 0x00/0x00)\r\n"
        );
    }
}
