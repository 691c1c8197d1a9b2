//! Jump hosts: `-W host:port` (and `-W path`) stdio forwarding through OpenSSH's sshd and
//! through oxsshd, with checksums; OpenSSH's `ssh` using `oxssh -W` as its ProxyCommand;
//! `-J` through two hops mixing implementations both ways, each hop verified against
//! known_hosts; and OpenSSH's messages and exit status when the stdio channel is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::client::{ClientDir, OXSSH};
use support::forward::{echo_server, unix_echo_server};
use support::openssh::{host_name, sshd_opts};
use support::users::{test_user, TEST_USER};
use support::{free_port, require_peer, run, start_oxsshd, start_sshd, HostKey, Output, Peer};

/// Bytes pushed through each `-W` relay.
const BULK: usize = 8 * 1024 * 1024;
const LIMIT: Duration = Duration::from_secs(90);

/// Which server a hop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    OpenSsh,
    Ox,
}

/// Servers sharing one client directory, key and ssh_config file.
struct Net {
    client: ClientDir,
    peers: Vec<Peer>,
    config: PathBuf,
}

impl Net {
    /// Starts `servers` with our key authorised; `None` (after a loud SKIP) without the
    /// OpenSSH programs a test needs.
    fn start(servers: &[Server]) -> Option<Self> {
        if !require_peer("ssh") || !require_peer("ssh-keygen") {
            return None;
        }
        if servers.contains(&Server::OpenSsh) && !require_peer("sshd") {
            return None;
        }
        test_user();
        let client = ClientDir::new();
        let key = client.key("id_ed25519", HostKey::Ed25519, None);
        let mut opts = sshd_opts(&["Subsystem sftp internal-sftp"]);
        opts.authorized_keys.push(key.public.clone());
        let peers = servers
            .iter()
            .map(|s| match s {
                Server::OpenSsh => start_sshd(&opts),
                Server::Ox => start_oxsshd(&opts),
            })
            .collect();
        let config = client.path().join("ssh_config");
        std::fs::write(
            &config,
            format!(
                "Host *\n  User {TEST_USER}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n  BatchMode yes\n",
                key.path.display(),
                client.known_hosts().display()
            ),
        )
        .unwrap();
        let net = Self {
            client,
            peers,
            config,
        };
        net.trust(&(0..servers.len()).collect::<Vec<_>>());
        Some(net)
    }

    /// known_hosts holds exactly the keys of peers `which`.
    fn trust(&self, which: &[usize]) {
        let lines: String = which
            .iter()
            .map(|&i| {
                let peer = &self.peers[i];
                let public = std::fs::read_to_string(peer.dir().join("host_ed25519.pub")).unwrap();
                format!("{} {}", host_name(peer), public)
            })
            .collect();
        std::fs::write(self.client.known_hosts(), lines).unwrap();
    }

    /// `127.0.0.1:port` of peer `i`, as a `-J` hop.
    fn hop(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.peers[i].port())
    }

    /// `program -F config args... -p port 127.0.0.1` for peer `i`.
    fn command(&self, program: &str, args: &[&str], i: usize) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .arg("-F")
            .arg(&self.config)
            .args(args)
            .args(["-p", &self.peers[i].port().to_string(), "127.0.0.1"]);
        cmd
    }
}

/// `n` bytes of printable text (the harness reads stdout as text).
fn payload(n: usize) -> Vec<u8> {
    let mut raw = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut raw).unwrap();
    raw.iter()
        .map(|b| b"0123456789abcdef"[usize::from(b & 15)])
        .collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Asserts `out` carried `sent` back unchanged and exited 0.
#[track_caller]
fn assert_echoed(out: &Output, sent: &[u8]) {
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout.len(), sent.len(), "stderr: {}", out.stderr);
    assert_eq!(sha256(out.stdout.as_bytes()), sha256(sent));
}

fn stdio_forward_moves_data(server: Server) {
    let Some(net) = Net::start(&[server]) else {
        return;
    };
    let echo = echo_server();
    let data = payload(BULK);
    let target = format!("127.0.0.1:{echo}");
    let out = run(&mut net.command(OXSSH, &["-W", &target], 0), &data, LIMIT);
    assert_echoed(&out, &data);
    assert_eq!(out.stderr, "");
}

#[test]
fn stdio_forward_moves_8_mib_through_openssh_sshd() {
    stdio_forward_moves_data(Server::OpenSsh);
}

#[test]
fn stdio_forward_moves_8_mib_through_oxsshd() {
    stdio_forward_moves_data(Server::Ox);
}

/// `-f -W`: the foreground process exits 0 once logged in and the background copy goes
/// on relaying the caller's stdin and stdout, as ssh's does.
#[test]
fn stdio_forward_in_the_background_relays_the_callers_stdin_and_stdout() {
    let Some(net) = Net::start(&[Server::Ox]) else {
        return;
    };
    let data = payload(1024 * 1024);
    for program in ["ssh", OXSSH] {
        let echo = echo_server();
        let target = format!("127.0.0.1:{echo}");
        let out = run(
            &mut net.command(program, &["-f", "-W", &target], 0),
            &data,
            LIMIT,
        );
        assert_echoed(&out, &data);
    }
}

#[test]
fn stdio_forward_to_a_socket_path_uses_direct_streamlocal() {
    // oxsshd does not serve direct-streamlocal@openssh.com yet: OpenSSH's sshd does.
    let Some(net) = Net::start(&[Server::OpenSsh]) else {
        return;
    };
    // The session runs as the test user: the socket's directory must let it in.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("echo.sock");
    unix_echo_server(&socket);
    let data = payload(256 * 1024);
    let out = run(
        &mut net.command(OXSSH, &["-W", &socket.display().to_string()], 0),
        &data,
        LIMIT,
    );
    assert_echoed(&out, &data);
}

#[test]
fn stdio_forward_to_a_closed_port_fails_as_openssh() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    let closed = free_port();
    let target = format!("127.0.0.1:{closed}");
    for i in 0..2 {
        let ours = run(&mut net.command(OXSSH, &["-W", &target], i), b"", LIMIT);
        let theirs = run(&mut net.command("ssh", &["-W", &target], i), b"", LIMIT);
        assert_eq!(ours.code(), Some(255), "stderr: {}", ours.stderr);
        assert_eq!(theirs.code(), Some(255), "stderr: {}", theirs.stderr);
        // OpenSSH's log lines end in "\r\n" on stderr; ours in "\n", as everywhere.
        assert_eq!(
            ours.stderr,
            theirs.stderr.replace("\r\n", "\n"),
            "peer {i}: ours then OpenSSH's"
        );
        assert_eq!(
            ours.stderr,
            "channel 0: open failed: connect failed: Connection refused\n\
             stdio forwarding failed\n"
        );
    }
}

#[test]
fn stdio_forward_bad_specification_is_refused_as_openssh() {
    let out = run(Command::new(OXSSH).args(["-W", "a:b:c:d", "h"]), b"", LIMIT);
    assert_eq!(out.code(), Some(255));
    assert_eq!(out.stderr, "Bad stdio forwarding specification 'a:b:c:d'\n");
}

#[test]
fn openssh_uses_oxssh_stdio_forward_as_its_proxy_command() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    // ssh reaches peer 0 through `oxssh -W` run on peer 1.
    let proxy = format!(
        "ProxyCommand={OXSSH} -F {} -p {} -W %h:%p 127.0.0.1",
        net.config.display(),
        net.peers[1].port()
    );
    let out = run(
        net.command("ssh", &["-o", &proxy], 0).arg("echo via proxy"),
        b"",
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "via proxy\n");
}

/// `program -J hop,hop target` runs a command and moves data with a checksum.
fn jump_twice(program: &str, servers: [Server; 3]) {
    let Some(net) = Net::start(&servers) else {
        return;
    };
    let hops = format!("{},{}", net.hop(0), net.hop(1));
    let data = payload(1024 * 1024);
    let out = run(
        net.command(program, &["-J", &hops], 2).arg("cat"),
        &data,
        LIMIT,
    );
    assert_echoed(&out, &data);
}

#[test]
fn oxssh_jumps_through_sshd_then_oxsshd_hops() {
    jump_twice(OXSSH, [Server::OpenSsh, Server::Ox, Server::OpenSsh]);
}

#[test]
fn oxssh_jumps_through_oxsshd_then_sshd_hops_to_oxsshd() {
    jump_twice(OXSSH, [Server::Ox, Server::OpenSsh, Server::Ox]);
}

#[test]
fn openssh_jumps_through_two_oxsshd_hops() {
    jump_twice("ssh", [Server::Ox, Server::Ox, Server::OpenSsh]);
}

#[test]
fn proxy_jump_keyword_with_a_user_and_port_per_hop() {
    let Some(net) = Net::start(&[Server::Ox, Server::OpenSsh]) else {
        return;
    };
    let jump = format!("ProxyJump={TEST_USER}@127.0.0.1:{}", net.peers[0].port());
    let out = run(
        net.command(OXSSH, &["-o", &jump], 1).arg("echo jumped"),
        b"",
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "jumped\n");
    // `ProxyJump none` (and a later ProxyCommand, shadowed by it) connects directly.
    let out = run(
        net.command(
            OXSSH,
            &["-o", "ProxyJump=none", "-o", "ProxyCommand=false"],
            1,
        )
        .arg("echo direct"),
        b"",
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "direct\n");
}

#[test]
fn an_unknown_hop_host_key_is_refused_under_strict_checking() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    // The target is known, the hop is not.
    net.trust(&[1]);
    let ours = run(
        net.command(OXSSH, &["-J", &net.hop(0)], 1).arg("true"),
        b"",
        LIMIT,
    );
    let theirs = run(
        net.command("ssh", &["-J", &net.hop(0)], 1).arg("true"),
        b"",
        LIMIT,
    );
    assert_eq!(theirs.code(), Some(255), "stderr: {}", theirs.stderr);
    assert_eq!(ours.code(), Some(255), "stderr: {}", ours.stderr);
    let refused = "Host key verification failed.";
    assert!(theirs.stderr.contains(refused), "{}", theirs.stderr);
    assert!(ours.stderr.contains(refused), "{}", ours.stderr);
    assert!(ours.stderr.contains(&format!(
        "No ED25519 host key is known for {} and you have requested strict checking.",
        host_name(&net.peers[0])
    )));
    assert_eq!(ours.stdout, "");
}

#[test]
fn minus_j_with_an_earlier_proxy_command_is_refused() {
    let out = run(
        Command::new(OXSSH).args(["-o", "ProxyCommand=nc %h %p", "-J", "a", "h"]),
        b"",
        LIMIT,
    );
    assert_eq!(out.code(), Some(255));
    assert_eq!(out.stderr, "Cannot specify -J with ProxyCommand\n");
}

#[test]
fn minus_g_shows_what_minus_w_and_minus_j_imply_as_openssh() {
    if !require_peer("ssh") {
        return;
    }
    let keys = [
        "clearallforwardings",
        "exitonforwardfailure",
        "proxyjump",
        "requesttty",
        "sessiontype",
    ];
    let lines = |program: &str, args: &[&str]| -> Vec<String> {
        let out = run(
            Command::new(program).args(["-G", "-F", "none"]).args(args),
            b"",
            LIMIT,
        );
        out.stdout
            .lines()
            .filter(|l| keys.iter().any(|k| l.starts_with(&format!("{k} "))))
            .map(str::to_owned)
            .collect()
    };
    let cases: &[&[&str]] = &[
        &["-W", "a:1", "-J", "u@j:2200,k", "h"],
        &["-o", "ExitOnForwardFailure=no", "-W", "[::1]:22", "h"],
        &["-J", "none", "h"],
        &["-o", "ProxyJump=ssh://u@j:2", "h"],
    ];
    for args in cases {
        assert_eq!(lines(OXSSH, args), lines("ssh", args), "{args:?}");
    }
}

/// `oxsftp -J` and `oxscp -J` reach the target through the hop as sftp's and scp's
/// `-J` do (handed to the connection as ProxyJump): a file goes up with oxscp and comes
/// back with oxsftp, byte for byte; a second `-J` is refused with ssh's words.
#[test]
fn oxsftp_and_oxscp_take_jump_hosts_with_dash_j() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    let remote = support::sftp::RemoteDir::new("jump");
    let local = net.client.path();
    let body = payload(300_000);
    std::fs::write(local.join("up"), &body).unwrap();
    let sibling = |name: &str| {
        std::path::Path::new(support::OXSSHD)
            .with_file_name(name)
            .display()
            .to_string()
    };
    let transfer = |program: &str, args: &[String]| {
        let mut cmd = Command::new(sibling(program));
        cmd.env("HOME", net.client.home())
            .env_remove("SSH_AUTH_SOCK")
            .current_dir(local)
            .arg("-F")
            .arg(&net.config)
            .args(["-J", &net.hop(0), "-P", &net.peers[1].port().to_string()])
            .args(args);
        run(&mut cmd, b"", LIMIT)
    };
    // Each run logs in to the hop first (nothing else connects to it).
    let hop_logins = || net.peers[0].log().matches("Accepted publickey").count();
    let target = format!("127.0.0.1:{}/copied", remote.path().display());
    let out = transfer("oxscp", &["up".into(), target]);
    assert_eq!(out.code(), Some(0), "oxscp: {}", out.stderr);
    assert_eq!(std::fs::read(remote.path().join("copied")).unwrap(), body);
    assert_eq!(hop_logins(), 1, "{}", net.peers[0].log());
    std::fs::write(
        local.join("batch"),
        format!("get {}/copied back\n", remote.path().display()),
    )
    .unwrap();
    let out = transfer("oxsftp", &["-b".into(), "batch".into(), "127.0.0.1".into()]);
    assert_eq!(out.code(), Some(0), "oxsftp: {}", out.stderr);
    assert_eq!(std::fs::read(local.join("back")).unwrap(), body);
    assert_eq!(hop_logins(), 2, "{}", net.peers[0].log());
    let out = transfer("oxsftp", &["-J".into(), "x".into(), "127.0.0.1".into()]);
    assert_ne!(out.code(), Some(0));
    assert!(
        out.stderr.contains("Only a single -J option is permitted"),
        "{}",
        out.stderr
    );
}

#[test]
fn oxsftp_follows_a_configured_proxy_jump() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    let batch = net.client.path().join("batch");
    std::fs::write(&batch, "pwd\n").unwrap();
    let mut cmd = Command::new(support::sftp::oxsftp());
    cmd.env("HOME", net.client.home())
        .arg("-F")
        .arg(&net.config)
        .arg("-o")
        .arg(format!("ProxyJump=127.0.0.1:{}", net.peers[1].port()))
        .args(["-P", &net.peers[0].port().to_string(), "-b"])
        .arg(&batch)
        .arg("127.0.0.1");
    let out = run(&mut cmd, b"", LIMIT);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("Remote working directory: /"),
        "{}",
        out.stdout
    );
}

/// Whether `program -W` to a target that writes a line and closes exits (within 10 s)
/// while its stdin stays open; its status and output.
fn far_end_closes(net: &Net, program: &str, server: usize) -> Option<(Option<i32>, String)> {
    let target = support::relay::fake_server(|mut stream| {
        use std::io::Write;
        let _ = stream.write_all(b"bye\n");
    });
    let mut child = support::client::Running(
        net.command(program, &["-W", &format!("127.0.0.1:{target}")], server)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Our end of stdin stays open: only the far end's close may end the relay.
    let _stdin = child.stdin.take();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    Some((status.code(), out))
}

#[test]
fn stdio_forward_ends_with_the_far_end_as_openssh_does() {
    let Some(net) = Net::start(&[Server::OpenSsh, Server::Ox]) else {
        return;
    };
    for server in 0..2 {
        let ours = far_end_closes(&net, OXSSH, server);
        let theirs = far_end_closes(&net, "ssh", server);
        assert_eq!(ours, theirs, "server {server}: ours, then OpenSSH's");
    }
}
