//! OpenSSH user certificates in `oxsshd`, against OpenSSH's own tools: certificates
//! signed by `ssh-keygen -s` log in through `TrustedUserCAKeys` and `cert-authority`
//! lines with OpenSSH's `ssh`, the "Accepted publickey" line equals sshd's for the same
//! login, `force-command` is run instead of the client's command, and expired, wrong
//! principal, wrong source address and untrusted-CA certificates are refused with sshd's
//! log text.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;

use support::client::{wait_until, ClientDir, Ssh, UserKey};
use support::keygen::OXSSH_KEYGEN;
use support::openssh::{host_name, sshd_opts};
use support::users::{test_user, TEST_USER};
use support::{require_peer, run, start_oxsshd, start_sshd, HostKey, Output, Peer, RUN_TIMEOUT};

/// A CA and a user key (both ssh-keygen's) in a client directory.
struct Keys {
    client: ClientDir,
    ca: UserKey,
    user: UserKey,
}

impl Keys {
    fn new() -> Option<Self> {
        if !require_peer("ssh") || !require_peer("ssh-keygen") {
            return None;
        }
        test_user();
        let client = ClientDir::new();
        let ca = client.key("ca", HostKey::Ed25519, None);
        let user = client.key("id_user", HostKey::Ed25519, None);
        Some(Self { client, ca, user })
    }

    /// `ssh-keygen -s ca -I cert-id -z 7 ARGS id_user.pub`, writing `id_user-cert.pub`
    /// (which `ssh -i id_user` offers by itself).
    fn sign(&self, args: &[&str]) {
        self.sign_with("ssh-keygen", args);
    }

    /// As [`Keys::sign`], with `program` (ssh-keygen or oxssh-keygen).
    fn sign_with(&self, program: &str, args: &[&str]) {
        let public = format!("{}.pub", self.user.path.display());
        let out = run(
            Command::new(program)
                .args(["-q", "-s"])
                .arg(&self.ca.path)
                .args(["-I", "cert-id", "-z", "7"])
                .args(args)
                .arg(public),
            b"",
            RUN_TIMEOUT,
        );
        assert!(out.status.success(), "{}", out.stderr);
    }

    /// A host key `host_key` in the client directory and its host certificate, signed
    /// by the CA for `principal`; returns the sshd_config lines serving both.
    fn host_certificate(&self, principal: &str) -> [String; 2] {
        let host = self.client.key("host_key", HostKey::Ed25519, None);
        let out = run(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(&self.ca.path)
                .args(["-h", "-I", "host-cert", "-n", principal, "-V", "-5m:+1h"])
                .arg(format!("{}.pub", host.path.display())),
            b"",
            RUN_TIMEOUT,
        );
        assert!(out.status.success(), "{}", out.stderr);
        [
            format!("HostKey {}", host.path.display()),
            format!("HostCertificate {}-cert.pub", host.path.display()),
        ]
    }

    /// known_hosts trusting only the CA, for every host.
    fn trust_ca_for_hosts(&self) {
        let ca = std::fs::read_to_string(format!("{}.pub", self.ca.path.display())).unwrap();
        std::fs::write(
            self.client.known_hosts(),
            format!("@cert-authority * {}", ca.trim()),
        )
        .unwrap();
    }

    fn ca_line(&self) -> String {
        format!("TrustedUserCAKeys {}.pub", self.ca.path.display())
    }

    /// Trusts `peer`'s host key in the client's known_hosts.
    fn trust(&self, peer: &Peer) {
        let key = std::fs::read_to_string(peer.dir().join("host_ed25519.pub")).unwrap();
        std::fs::write(
            self.client.known_hosts(),
            format!("{} {key}", host_name(peer)),
        )
        .unwrap();
    }

    /// OpenSSH's ssh with the certified key.
    fn ssh(&self, peer: &Peer, remote: &str) -> Output {
        self.trust(peer);
        Ssh::openssh(&self.client, peer, TEST_USER)
            .identity(&self.user.path)
            .run(remote, b"")
    }
}

/// The server's "Accepted publickey" lines from the first word, the client port
/// replaced by `N`.
fn accepted_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| line.find("Accepted publickey").map(|at| &line[at..]))
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let mut out = Vec::new();
            for (i, w) in words.iter().enumerate() {
                out.push(if i > 0 && words[i - 1] == "port" {
                    "N"
                } else {
                    w
                });
            }
            out.join(" ")
        })
        .collect()
}

fn assert_refused(out: &Output, peer: &Peer, log_text: &str) {
    assert_eq!(out.code(), Some(255), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // The server may log after the client has gone.
    let limit = std::time::Duration::from_secs(10);
    wait_until(log_text, limit, || peer.log().contains(log_text));
    let log = peer.log();
    assert!(!log.contains("Accepted publickey"), "{log}");
}

#[test]
fn oxsshd_accepts_a_certificate_signed_by_ssh_keygen_and_logs_as_sshd() {
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    keys.sign(&["-n", &format!("{TEST_USER},backup"), "-V", "-5m:+1h"]);
    let mut lines = Vec::new();
    for start in [start_sshd, start_oxsshd] {
        let peer = start(&sshd_opts(&[&keys.ca_line()]));
        let out = keys.ssh(&peer, "echo certificate-login");
        assert_eq!(
            out.stdout,
            "certificate-login\n",
            "{}\n{}",
            out.stderr,
            peer.log()
        );
        let accepted = accepted_lines(&peer.log());
        assert_eq!(accepted.len(), 1, "{}", peer.log());
        lines.push(accepted[0].clone());
    }
    assert!(lines[1].contains("ED25519-CERT SHA256:"), "{}", lines[1]);
    assert!(lines[1].contains(" ID cert-id (serial 7) CA ED25519 SHA256:"));
    assert_eq!(lines[0], lines[1], "sshd's line, then oxsshd's");
}

#[test]
fn oxsshd_runs_the_certificate_force_command_instead_of_the_client_command() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&[
        "-n",
        TEST_USER,
        "-O",
        "force-command=echo forced-by-cert",
        "-O",
        "source-address=127.0.0.0/8,::1",
    ]);
    let peer = start_oxsshd(&sshd_opts(&[&keys.ca_line()]));
    let out = keys.ssh(&peer, "echo client-command");
    assert_eq!(
        out.stdout,
        "forced-by-cert\n",
        "{}\n{}",
        out.stderr,
        peer.log()
    );
}

#[test]
fn oxsshd_refuses_an_expired_certificate() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&["-n", TEST_USER, "-V", "20200101:20200102"]);
    let peer = start_oxsshd(&sshd_opts(&[&keys.ca_line()]));
    let out = keys.ssh(&peer, "echo should-not-run");
    assert_refused(&out, &peer, "Certificate invalid: expired");
}

#[test]
fn oxsshd_refuses_a_certificate_for_another_principal() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&["-n", "someone-else"]);
    let peer = start_oxsshd(&sshd_opts(&[&keys.ca_line()]));
    let out = keys.ssh(&peer, "echo should-not-run");
    assert_refused(
        &out,
        &peer,
        "Certificate invalid: name is not a listed principal",
    );
}

#[test]
fn oxsshd_refuses_a_certificate_used_outside_its_source_address() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&["-n", TEST_USER, "-O", "source-address=10.0.0.0/8"]);
    let peer = start_oxsshd(&sshd_opts(&[&keys.ca_line()]));
    let out = keys.ssh(&peer, "echo should-not-run");
    assert_refused(
        &out,
        &peer,
        &format!(
            "Authentication tried for {TEST_USER} with valid certificate but not from a \
             permitted source address (127.0.0.1)."
        ),
    );
}

#[test]
fn oxsshd_refuses_a_certificate_from_an_untrusted_ca() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&["-n", TEST_USER]);
    // Another CA is trusted; ours is not.
    let other = keys.client.key("other_ca", HostKey::Ed25519, None);
    let line = format!("TrustedUserCAKeys {}.pub", other.path.display());
    // sshd says nothing above debug level for a CA it does not know (the client's
    // query is refused before any signature): both just refuse.
    let peer = start_oxsshd(&sshd_opts(&[&line]));
    let out = keys.ssh(&peer, "echo should-not-run");
    assert_refused(&out, &peer, "Connection closed by authenticating user");
    if require_peer("sshd") {
        let peer = start_sshd(&sshd_opts(&[&line]));
        let out = keys.ssh(&peer, "echo should-not-run");
        assert_refused(&out, &peer, "Connection closed by authenticating user");
    }
}

/// A `cert-authority` line with `principals=` in authorized_keys trusts the CA for the
/// listed principals only, and its options (`no-pty`) still apply.
#[test]
fn oxsshd_accepts_certificates_through_a_cert_authority_line() {
    let Some(keys) = Keys::new() else { return };
    keys.sign(&["-n", "deploy"]);
    let ca_key = std::fs::read_to_string(format!("{}.pub", keys.ca.path.display())).unwrap();
    let mut opts = sshd_opts(&[]);
    opts.authorized_keys.push(format!(
        "cert-authority,principals=\"deploy,ops\" {}",
        ca_key.trim()
    ));
    let peer = start_oxsshd(&opts);
    let out = keys.ssh(&peer, "echo via-authority-line");
    assert_eq!(
        out.stdout,
        "via-authority-line\n",
        "{}\n{}",
        out.stderr,
        peer.log()
    );

    // The same line without the certificate's principal refuses it.
    let mut opts = sshd_opts(&[]);
    opts.authorized_keys.push(format!(
        "cert-authority,principals=\"ops\" {}",
        ca_key.trim()
    ));
    let peer = start_oxsshd(&opts);
    let out = keys.ssh(&peer, "echo should-not-run");
    assert_refused(
        &out,
        &peer,
        "Certificate does not contain an authorized principal",
    );
}

/// OpenSSH's ssh and oxssh, with only an `@cert-authority` line in known_hosts and
/// `StrictHostKeyChecking yes`, connect to oxsshd and to OpenSSH's sshd serving a
/// `HostCertificate`; a certificate for another host name is refused by both clients.
#[test]
fn clients_verify_host_certificates_of_sshd_and_oxsshd_through_cert_authority() {
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    keys.sign(&["-n", TEST_USER]);
    for (principal, ok) in [("127.0.0.1", true), ("elsewhere.example", false)] {
        let [host_key, host_cert] = keys.host_certificate(principal);
        for start in [start_oxsshd, start_sshd] {
            let mut opts = sshd_opts(&[&keys.ca_line(), &host_key, &host_cert]);
            opts.host_keys.clear();
            let peer = start(&opts);
            for client in [Ssh::openssh, Ssh::oxssh] {
                keys.trust_ca_for_hosts();
                let out = client(&keys.client, &peer, TEST_USER)
                    .identity(&keys.user.path)
                    .option("StrictHostKeyChecking=yes")
                    .run("echo host-certificate", b"");
                if ok {
                    assert_eq!(
                        out.stdout,
                        "host-certificate\n",
                        "{}\n{}",
                        out.stderr,
                        peer.log()
                    );
                } else {
                    assert_eq!(out.code(), Some(255), "{}", out.stdout);
                    assert!(
                        out.stderr
                            .contains("Certificate invalid: name is not a listed principal")
                            && out.stderr.contains("Host key verification failed."),
                        "{}",
                        out.stderr
                    );
                }
                // Nothing was added: known_hosts still holds only the CA line.
                let known = std::fs::read_to_string(keys.client.known_hosts()).unwrap();
                assert_eq!(known.lines().count(), 1, "{known}");
            }
        }
        std::fs::remove_file(keys.client.path().join("host_key")).unwrap();
        std::fs::remove_file(keys.client.path().join("host_key.pub")).unwrap();
    }
}

/// oxssh offers `KEY-cert.pub` next to `-i KEY` (and a `CertificateFile`) and logs in
/// with it to OpenSSH's sshd and to oxsshd, with certificates signed by ssh-keygen and
/// by oxssh-keygen.
#[test]
fn oxssh_logs_in_with_a_user_certificate_to_sshd_and_oxsshd() {
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    let cert = keys.client.path().join("id_user-cert.pub");
    let elsewhere = keys.client.path().join("elsewhere-cert.pub");
    for signer in ["ssh-keygen", OXSSH_KEYGEN] {
        keys.sign_with(signer, &["-n", TEST_USER, "-V", "-5m:+1h"]);
        for start in [start_sshd, start_oxsshd] {
            let peer = start(&sshd_opts(&[&keys.ca_line()]));
            keys.trust(&peer);
            let out = Ssh::oxssh(&keys.client, &peer, TEST_USER)
                .identity(&keys.user.path)
                .run("echo oxssh-certificate", b"");
            assert_eq!(
                out.stdout,
                "oxssh-certificate\n",
                "{}\n{}",
                out.stderr,
                peer.log()
            );
            assert!(peer.log().contains("ED25519-CERT"), "{}", peer.log());
            // The same certificate named by CertificateFile, away from the key.
            std::fs::rename(&cert, &elsewhere).unwrap();
            let out = Ssh::oxssh(&keys.client, &peer, TEST_USER)
                .identity(&keys.user.path)
                .option(&format!("CertificateFile={}", elsewhere.display()))
                .run("echo certificate-file", b"");
            std::fs::rename(&elsewhere, &cert).unwrap();
            assert_eq!(
                out.stdout,
                "certificate-file\n",
                "{}\n{}",
                out.stderr,
                peer.log()
            );
        }
    }
}

/// A certificate without `permit-pty` gets no terminal, on sshd and on oxsshd alike;
/// with it (the default extensions), `tty` names one.
#[test]
fn certificate_extensions_decide_the_pty_as_on_sshd() {
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    for (extra, has_pty) in [(&["-O", "no-pty"][..], false), (&[][..], true)] {
        let mut args = vec!["-n", TEST_USER];
        args.extend_from_slice(extra);
        keys.sign(&args);
        let mut outputs = Vec::new();
        for start in [start_sshd, start_oxsshd] {
            let peer = start(&sshd_opts(&[&keys.ca_line()]));
            keys.trust(&peer);
            let out = Ssh::openssh(&keys.client, &peer, TEST_USER)
                .identity(&keys.user.path)
                .args(["-tt"])
                .run("tty >/dev/null && echo pty || echo no-pty", b"");
            let refused = out.stderr.contains("PTY allocation request failed");
            assert_eq!(refused, !has_pty, "{}\n{}", out.stderr, peer.log());
            outputs.push(out.stdout.replace('\r', ""));
        }
        assert_eq!(outputs[0], outputs[1], "sshd's output, then oxsshd's");
        if has_pty {
            assert_eq!(outputs[1], "pty\n");
        }
    }
}

/// `AuthorizedPrincipalsFile` (with `%u`): a `TrustedUserCAKeys` certificate is
/// accepted for a principal listed there (not the user name), its options apply
/// (`command=`), and a certificate for the user name alone is refused, by sshd and
/// oxsshd alike.
#[test]
fn authorized_principals_file_decides_the_principals_as_on_sshd() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    // Readable by the test user: sshd reads it with the user's rights.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let listed = dir.path().join(format!("principals-{TEST_USER}"));
    std::fs::write(
        &listed,
        "# deployers\nops\ncommand=\"echo forced-by-principal\" deploy\n",
    )
    .unwrap();
    std::fs::set_permissions(&listed, std::fs::Permissions::from_mode(0o644)).unwrap();
    let principals_line = format!(
        "AuthorizedPrincipalsFile {}/principals-%u",
        dir.path().display()
    );
    for (principal, expected) in [
        ("ops", Some("plain-command\n")),
        ("deploy", Some("forced-by-principal\n")),
        (TEST_USER, None),
    ] {
        keys.sign(&["-n", principal]);
        for start in [start_sshd, start_oxsshd] {
            let peer = start(&sshd_opts(&[&keys.ca_line(), &principals_line]));
            let out = keys.ssh(&peer, "echo plain-command");
            match expected {
                Some(stdout) => assert_eq!(out.stdout, stdout, "{}\n{}", out.stderr, peer.log()),
                None => assert_refused(
                    &out,
                    &peer,
                    "Certificate does not contain an authorized principal",
                ),
            }
        }
    }
}

/// `RevokedKeys`: a listed user key, or the listed CA of a certificate, cannot log in,
/// on sshd and oxsshd alike, with sshd's log line; a KRL file stops oxsshd at start.
#[test]
fn revoked_keys_refuse_listed_keys_and_cas_as_sshd() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") {
        return;
    }
    keys.sign(&["-n", TEST_USER]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let revoked = dir.path().join("revoked");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap();
    let ca_pub = read(&keys.ca.path.with_extension("pub"));
    let revoked_line = format!("RevokedKeys {}", revoked.display());
    for listed in [keys.user.public.clone(), ca_pub] {
        std::fs::write(&revoked, format!("# revoked\n{}\n", listed.trim())).unwrap();
        std::fs::set_permissions(&revoked, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut logs = Vec::new();
        for start in [start_sshd, start_oxsshd] {
            let peer = start(&sshd_opts(&[&keys.ca_line(), &revoked_line]));
            let out = keys.ssh(&peer, "echo should-not-run");
            assert_refused(&out, &peer, "revoked by file");
            let line = peer
                .log()
                .lines()
                .find_map(|l| l.find("Authentication key ").map(|at| l[at..].to_owned()))
                .unwrap();
            logs.push(line);
        }
        assert_eq!(logs[0], logs[1], "sshd's line, then oxsshd's");
    }
    // An empty revocation file revokes nothing.
    std::fs::write(&revoked, "").unwrap();
    let peer = start_oxsshd(&sshd_opts(&[&keys.ca_line(), &revoked_line]));
    assert_eq!(keys.ssh(&peer, "echo fine").stdout, "fine\n");
    // A KRL (made by ssh-keygen -k) is refused at start with a clear message.
    let krl = dir.path().join("krl");
    let out = run(
        Command::new("ssh-keygen")
            .args(["-q", "-k", "-f"])
            .arg(&krl)
            .arg(format!("{}.pub", keys.user.path.display())),
        b"",
        RUN_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "HostKey {}\nRevokedKeys {}\n",
            keys.ca.path.display(),
            krl.display()
        ),
    )
    .unwrap();
    let out = run(
        Command::new(support::OXSSHD)
            .arg("-t")
            .arg("-f")
            .arg(&config),
        b"",
        RUN_TIMEOUT,
    );
    assert_ne!(out.code(), Some(0));
    assert!(
        out.stderr.contains("KRL files are not supported"),
        "{}",
        out.stderr
    );
}

/// RSA (`rsa-sha2-512-cert-v01@openssh.com`) and ECDSA user certificates, signed by an
/// RSA CA, log in to oxsshd through OpenSSH's ssh and oxssh.
#[test]
fn rsa_and_ecdsa_certificates_from_an_rsa_ca_log_in_to_oxsshd() {
    let Some(keys) = Keys::new() else { return };
    let ca = keys.client.key("rsa_ca", HostKey::Rsa, None);
    let ca_line = format!("TrustedUserCAKeys {}.pub", ca.path.display());
    let peer = start_oxsshd(&sshd_opts(&[&ca_line]));
    keys.trust(&peer);
    for (name, kind, label) in [
        ("id_rsa_user", HostKey::Rsa, "RSA-CERT"),
        ("id_p384_user", HostKey::EcdsaP384, "ECDSA-CERT"),
    ] {
        let user = keys.client.key(name, kind, None);
        let out = run(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(&ca.path)
                .args(["-I", name, "-n", TEST_USER])
                .arg(format!("{}.pub", user.path.display())),
            b"",
            RUN_TIMEOUT,
        );
        assert!(out.status.success(), "{}", out.stderr);
        for client in [Ssh::openssh, Ssh::oxssh] {
            let out = client(&keys.client, &peer, TEST_USER)
                .identity(&user.path)
                .run("echo rsa-ca", b"");
            assert_eq!(
                out.stdout,
                "rsa-ca\n",
                "{name}: {}\n{}",
                out.stderr,
                peer.log()
            );
        }
        assert!(
            peer.log().contains(&format!("{label} SHA256:"))
                && peer.log().contains("CA RSA SHA256:"),
            "{}",
            peer.log()
        );
    }
}

/// `oxssh-keyscan -c` prints the host certificate sshd serves, as `ssh-keyscan -c` does.
#[test]
fn keyscan_c_prints_host_certificates_as_ssh_keyscan() {
    let Some(keys) = Keys::new() else { return };
    if !require_peer("sshd") || !require_peer("ssh-keyscan") {
        return;
    }
    let [host_key, host_cert] = keys.host_certificate("127.0.0.1");
    for start in [start_sshd, start_oxsshd] {
        let mut opts = sshd_opts(&[&host_key, &host_cert]);
        opts.host_keys.clear();
        let peer = start(&opts);
        let port = peer.port().to_string();
        let args = ["-c", "-t", "ed25519", "-p", &port, "127.0.0.1"];
        let theirs = run(Command::new("ssh-keyscan").args(args), b"", RUN_TIMEOUT);
        let ours = run(
            Command::new(env!("CARGO_BIN_EXE_oxssh-keyscan")).args(args),
            b"",
            RUN_TIMEOUT,
        );
        assert!(
            theirs
                .stdout
                .starts_with("ssh-ed25519-cert-v01@openssh.com "),
            "{}",
            theirs.stdout
        );
        assert_eq!(ours.stdout, theirs.stdout, "{}", ours.stderr);
        assert_eq!(ours.stderr, theirs.stderr);
        assert_eq!(ours.code(), theirs.code());
        // Every type: only the certified one answers.
        let args = ["-c", "-p", &port, "127.0.0.1"];
        let theirs = run(Command::new("ssh-keyscan").args(args), b"", RUN_TIMEOUT);
        let ours = run(
            Command::new(env!("CARGO_BIN_EXE_oxssh-keyscan")).args(args),
            b"",
            RUN_TIMEOUT,
        );
        assert_eq!(
            ours.stdout, theirs.stdout,
            "{}\n{}",
            ours.stderr, theirs.stderr
        );
        assert_eq!(
            ours.code(),
            theirs.code(),
            "{}\n{}",
            ours.stderr,
            theirs.stderr
        );
    }
}
