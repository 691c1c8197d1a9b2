//! The escape commands that act on the connection, typed on a real terminal (`script`):
//! `~C` with `-L`, `-R`, `-D` and their `-K` cancels, the forwards really carrying data,
//! OpenSSH's messages ("Forwarding port.", "Canceled forwarding.", "Unknown port
//! forwarding.", the help), `!` refused without PermitLocalCommand, and `~#` listing the
//! open channels in OpenSSH's layout; help and `~#` compared with OpenSSH's `ssh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use support::client::{shell_line, Ssh, Terminal};
use support::forward::{connect, echo_server, echo_through, socks5_connect, wait_for_port};
use support::openssh::{sshd_opts, Fixture};
use support::{free_port, require_peer};

const WAIT: Duration = Duration::from_secs(30);

fn fixture() -> Option<Fixture> {
    if !require_peer("script") {
        return None;
    }
    let f = Fixture::start(sshd_opts(&[]))?;
    f.trust_host();
    Some(f)
}

/// `client -tt` on a terminal running a long remote command; returns once it runs.
fn session(ssh: Ssh) -> Terminal {
    let line = shell_line(
        &ssh.args(["-tt", "-o", "EnableEscapeCommandline=yes"])
            .command(Some("echo READY; sleep 60")),
    );
    let t = Terminal::start(&format!("exec {line}"));
    t.wait_for("READY", WAIT);
    t
}

/// Types `~C` and `line`, then waits for `answer`.
fn command(t: &mut Terminal, line: &str, answer: &str) {
    let before = t.screen().len();
    t.type_text("~C");
    t.wait_for("ssh> ", WAIT);
    t.type_text(&format!("{line}\r"));
    let deadline = std::time::Instant::now() + WAIT;
    while !t.screen()[before..].contains(answer) {
        assert!(
            std::time::Instant::now() < deadline,
            "{answer:?} did not follow {line:?}; the screen:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn refused(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
}

#[test]
fn command_line_adds_and_cancels_forwards_that_carry_data() {
    let Some(f) = fixture() else { return };
    let echo = echo_server();
    let mut t = session(f.oxssh());
    let (local, remote, socks) = (free_port(), free_port(), free_port());

    command(
        &mut t,
        &format!("-L{local}:127.0.0.1:{echo}"),
        "Forwarding port.",
    );
    wait_for_port(local);
    let (sent, back) = echo_through(connect(local), 1 << 20);
    assert_eq!(sent, back);

    command(
        &mut t,
        &format!(" -R {remote}:127.0.0.1:{echo}"),
        "Forwarding port.",
    );
    wait_for_port(remote);
    let (sent, back) = echo_through(connect(remote), 1 << 20);
    assert_eq!(sent, back);

    command(&mut t, &format!("-D 127.0.0.1:{socks}"), "Forwarding port.");
    wait_for_port(socks);
    let s = socks5_connect(socks, "127.0.0.1", echo).expect("socks5 connect");
    let (sent, back) = echo_through(s, 64 * 1024);
    assert_eq!(sent, back);

    command(&mut t, &format!("-KL {local}"), "Canceled forwarding.");
    assert!(refused(local), "the -L listener is still there");
    command(&mut t, &format!("-KL {local}"), "Unknown port forwarding.");
    command(&mut t, &format!("-KD {socks}"), "Canceled forwarding.");
    assert!(refused(socks));
    command(&mut t, &format!("-KR {remote}"), "Canceled forwarding.");
    support::client::wait_until("the remote listener to go", WAIT, || refused(remote));
    command(&mut t, "-KR 1", "Unknown port forwarding.");
    command(&mut t, "-L nonsense", "Bad local forwarding specification.");
    command(&mut t, "-R", "Bad remote forwarding specification.");
    command(&mut t, "-K", "Invalid command.");
    command(&mut t, "!true", "Invalid command.");
    t.type_text("~.");
    let (_, screen) = t.finish(WAIT);
    assert!(!screen.contains("panicked"), "{screen}");
}

/// The screen from the `~C?` prompt to the end of the help, and the `~#` listing up
/// to each channel's buffer counts and descriptors (which have no counterpart here).
fn help_and_list(ssh: Ssh) -> (String, String) {
    let mut t = session(ssh);
    command(&mut t, "?", "Cancel dynamic forward");
    let screen = t.screen();
    let start = screen.rfind("ssh> ").unwrap();
    let help = screen[start..].to_owned();
    t.type_text("~#");
    t.wait_for("client-session", WAIT);
    std::thread::sleep(Duration::from_millis(200));
    let screen = t.screen();
    let start = screen.rfind("~#").unwrap();
    let list: String = screen[start..]
        .lines()
        // OpenSSH counts its own queued "~#\r\n" echo in the session's stderr buffer
        // (`e[write]/4`): compared up to that count.
        .map(|l| l.split("]/").next().unwrap_or(l).trim_end().to_owned())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    t.type_text("~.");
    t.finish(WAIT);
    (help, list)
}

#[test]
fn help_and_connection_list_read_as_opensshs() {
    let Some(f) = fixture() else { return };
    let (our_help, our_list) = help_and_list(f.oxssh());
    let (their_help, their_list) = help_and_list(f.openssh());
    assert_eq!(our_help, their_help);
    assert_eq!(our_list, their_list);
    assert!(our_list.contains("#0 client-session (t4 [session] r0 i0/0 o0/0 e[write"));
}

#[test]
fn command_line_stays_disabled_without_enable_escape_commandline() {
    let Some(f) = fixture() else { return };
    let line = shell_line(
        &f.oxssh()
            .args(["-tt"])
            .command(Some("echo READY; sleep 60")),
    );
    let mut t = Terminal::start(&format!("exec {line}"));
    t.wait_for("READY", WAIT);
    t.type_text("~C");
    t.wait_for("commandline disabled", WAIT);
    t.type_text("~.");
    t.finish(WAIT);
}
