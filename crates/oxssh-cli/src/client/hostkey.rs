//! Host-key verification for `oxssh` against known_hosts files, with OpenSSH's
//! `StrictHostKeyChecking` modes, prompt, messages and exit behaviour.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oxssh::HostKeyVerifier;
use oxssh_keys::certificate::{CertType, Certificate};
use oxssh_keys::fingerprint::{type_label, Fingerprint, HashAlg};
use oxssh_keys::known_hosts::{append_entry, host_key_name, HostKeyMatch, KnownHosts, Marker};
use oxssh_keys::PublicKey;

/// `StrictHostKeyChecking` (ssh_config(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictMode {
    /// `yes`: never add keys; refuse unknown hosts.
    Yes,
    /// `ask` (default): prompt for unknown hosts.
    Ask,
    /// `accept-new`: add unknown hosts, refuse changed keys.
    AcceptNew,
    /// `no`/`off`: add unknown hosts; a changed key is reported but not fatal.
    No,
}

impl StrictMode {
    /// Parses the keyword's value as OpenSSH does.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(Self::Yes),
            "ask" => Some(Self::Ask),
            "accept-new" => Some(Self::AcceptNew),
            "no" | "off" | "false" => Some(Self::No),
            _ => None,
        }
    }
}

/// Checks keys against the user's and the global known_hosts files.
#[derive(Debug, Clone)]
pub struct KnownHostsVerifier {
    /// `UserKnownHostsFile` list; new keys go to the first.
    pub user_files: Vec<PathBuf>,
    /// `GlobalKnownHostsFile` list (read only).
    pub global_files: Vec<PathBuf>,
    /// `StrictHostKeyChecking`.
    pub mode: StrictMode,
    /// `BatchMode`: never prompt.
    pub batch: bool,
    /// `HashKnownHosts`: hash names we add.
    pub hash: bool,
    /// `CASignatureAlgorithms`: what a CA may sign host certificates with.
    pub ca_signature_algorithms: Vec<String>,
    /// `-q`: no warnings.
    pub quiet: bool,
    /// `PasswordAuthentication`, named when a changed key is let through.
    pub password_authentication: bool,
    /// `KbdInteractiveAuthentication`, likewise.
    pub kbd_interactive_authentication: bool,
    /// Set when a changed key was let through (`StrictHostKeyChecking no`): the
    /// caller must then not use password or keyboard-interactive authentication,
    /// whose secrets a man in the middle would collect (OpenSSH's `check_host_key`).
    pub downgraded: Arc<AtomicBool>,
    /// The address connected to, set by the caller before the handshake: OpenSSH names
    /// it next to the host in its question about an unknown key.
    pub peer_ip: Arc<std::sync::Mutex<Option<std::net::IpAddr>>>,
    /// The files as [`KnownHostsVerifier::load`] read them before the connection (to
    /// order the host-key algorithms), kept for the verification that follows, so
    /// one login reads each known_hosts file once. Taken by that verification.
    pub loaded: Arc<std::sync::Mutex<Option<Arc<KnownHosts>>>>,
}

fn eprint_lines(lines: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(err, "{line}");
    }
}

impl KnownHostsVerifier {
    /// Every known_hosts file this verifier reads (used to order host-key algorithms),
    /// kept for the next verification.
    pub fn load(&self) -> Arc<KnownHosts> {
        let known = Arc::new(self.read());
        if let Ok(mut slot) = self.loaded.lock() {
            *slot = Some(known.clone());
        }
        known
    }

    /// What [`KnownHostsVerifier::load`] kept, once; else the files read now.
    fn known(&self) -> Arc<KnownHosts> {
        let kept = self.loaded.lock().ok().and_then(|mut slot| slot.take());
        kept.unwrap_or_else(|| Arc::new(self.read()))
    }

    fn read(&self) -> KnownHosts {
        let mut known = KnownHosts::new();
        for path in self.user_files.iter().chain(&self.global_files) {
            // A missing file just knows nothing (OpenSSH is silent about it too).
            let _ = known.add_file(path);
        }
        known
    }

    fn add(&self, host: &str, port: u16, key: &PublicKey) {
        let Some(path) = self.user_files.first() else {
            return;
        };
        let name = host_key_name(host, port);
        match append_entry(path, host, port, key, self.hash) {
            Ok(_) if !self.quiet => eprint_lines(&[format!(
                "Warning: Permanently added '{name}' ({}) to the list of known hosts.",
                type_label(key)
            )]),
            Ok(_) => {}
            Err(e) => eprint_lines(&[format!(
                "Failed to add the host to the list of known hosts ({}): {e}",
                path.display()
            )]),
        }
    }

    /// OpenSSH's question for an unknown host; true when the user typed yes or the
    /// fingerprint. Reads the controlling terminal, never stdin.
    fn ask(&self, host: &str, ip: Option<&str>, key: &PublicKey) -> bool {
        if self.batch {
            return false;
        }
        let Ok(tty) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        else {
            return false;
        };
        let fingerprint = Fingerprint::of(key, HashAlg::Sha256).to_string();
        // Typed-ahead input must not answer this question (OpenSSH's readpassphrase
        // flushes it too). The terminal is in cooked mode here: `\n` is a new line.
        let _ = nix::sys::termios::tcflush(&tty, nix::sys::termios::FlushArg::TCIFLUSH);
        let mut out = &tty;
        let _ = write!(
            out,
            "The authenticity of host '{host} ({})' can't be established.\n\
             {} key fingerprint is {fingerprint}.\n\
             This key is not known by any other names.\n\
             Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
            ip.unwrap_or(host),
            type_label(key)
        );
        let mut reader = std::io::BufReader::new(&tty);
        loop {
            let mut answer = String::new();
            if reader.read_line(&mut answer).unwrap_or(0) == 0 {
                return false;
            }
            let answer = answer.trim();
            if answer.eq_ignore_ascii_case("yes") || answer == fingerprint {
                return true;
            }
            if answer.eq_ignore_ascii_case("no") {
                return false;
            }
            let _ = write!(out, "Please type 'yes', 'no' or the fingerprint: ");
        }
    }

    fn changed_warning(
        &self,
        name: &str,
        key: &PublicKey,
        offending: &str,
        file: &str,
    ) -> Vec<String> {
        let label = type_label(key);
        let fingerprint = Fingerprint::of(key, HashAlg::Sha256);
        vec![
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@".into(),
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @".into(),
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@".into(),
            "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!".into(),
            "Someone could be eavesdropping on you right now (man-in-the-middle attack)!".into(),
            "It is also possible that a host key has just been changed.".into(),
            format!("The fingerprint for the {label} key sent by the remote host is"),
            format!("{fingerprint}."),
            "Please contact your system administrator.".into(),
            format!("Add correct host key in {file} to get rid of this message."),
            format!("Offending {offending}"),
            "  remove with:".into(),
            format!("  ssh-keygen -f \"{file}\" -R \"{name}\""),
        ]
    }
}

/// ssh's `check_host_cert`: a host certificate, valid now, naming `host` among its
/// principals (an empty list names every host), with no critical options.
fn check_host_certificate(cert: &Certificate, host: &str, now: u64) -> Result<(), String> {
    if cert.cert_type != CertType::Host {
        return Err("Certificate invalid: not a host certificate".into());
    }
    if now < cert.valid_after {
        return Err("Certificate invalid: not yet valid".into());
    }
    if now >= cert.valid_before {
        return Err("Certificate invalid: expired".into());
    }
    if !cert.principals.is_empty() && !cert.principals.iter().any(|p| p == host) {
        return Err("Certificate invalid: name is not a listed principal".into());
    }
    if !cert.critical_options.is_empty() {
        return Err(format!(
            "Certificate for {host} contains unsupported critical options(s)"
        ));
    }
    Ok(())
}

impl HostKeyVerifier for KnownHostsVerifier {
    /// An `@cert-authority` line for this host naming the certificate's CA makes a valid
    /// certificate trusted; otherwise (no such CA, or a certificate it does not cover)
    /// the certified key is checked as a plain key, as ssh does ("No matching CA found.
    /// Retry with plain key").
    fn verify_certificate(&self, host: &str, port: u16, cert: &Certificate) -> Result<(), String> {
        let known = self.known();
        let name = host_key_name(host, port);
        let ca = &cert.signature_key;
        let revoked = known.entries().iter().any(|e| {
            e.marker() == Marker::Revoked && e.matches(&name) && e.key().public_key() == Some(ca)
        });
        let trusted = !revoked
            && known
                .cert_authorities(&name)
                .iter()
                .any(|e| e.key().public_key() == Some(ca));
        let sig_alg = cert
            .signature_parts()
            .map(|(alg, _)| alg)
            .unwrap_or_default();
        let revoked_key = matches!(known.check(host, port, &cert.key), HostKeyMatch::Revoked(_));
        if trusted && !revoked_key {
            if !self.ca_signature_algorithms.iter().any(|a| a == sig_alg) {
                eprint_lines(&[format!(
                    "Certificate signature algorithm {sig_alg} not in CASignatureAlgorithms"
                )]);
                return self.verify(host, port, &cert.key);
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            match check_host_certificate(cert, host, now) {
                Ok(()) => return Ok(()),
                Err(reason) => eprint_lines(&[reason]),
            }
        }
        tracing::debug!("No matching CA found. Retry with plain key");
        self.verify(host, port, &cert.key)
    }

    /// Only `StrictHostKeyChecking ask` without `BatchMode` asks the user; the other
    /// modes read and append files, which is done on the connection's own thread.
    fn may_prompt(&self) -> bool {
        self.mode == StrictMode::Ask && !self.batch
    }

    fn verify(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), String> {
        let known = self.known();
        let name = host_key_name(host, port);
        let failed = || "Host key verification failed.".to_owned();
        match known.check(host, port, key) {
            HostKeyMatch::Found(_) => Ok(()),
            HostKeyMatch::Revoked(entry) => {
                eprint_lines(&[
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@".into(),
                    "@       WARNING: REVOKED HOST KEY DETECTED!               @".into(),
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@".into(),
                    format!(
                        "The {} host key for {name} is marked as revoked.",
                        type_label(key)
                    ),
                    "This could mean that a stolen key is being used to".into(),
                    "impersonate this host.".into(),
                    format!("Revoked key in {}", entry.location()),
                ]);
                Err(failed())
            }
            HostKeyMatch::Changed { offending, .. } => {
                let file = offending.location().path.display().to_string();
                let label = offending.key().public_key().map_or("UNKNOWN", type_label);
                let what = format!("{label} key in {}", offending.location());
                let mut lines = self.changed_warning(&name, key, &what, &file);
                if self.mode == StrictMode::No {
                    if self.password_authentication {
                        lines.push(
                            "Password authentication is disabled to avoid man-in-the-middle \
                             attacks."
                                .into(),
                        );
                    }
                    if self.kbd_interactive_authentication {
                        lines.push(
                            "Keyboard-interactive authentication is disabled to avoid \
                             man-in-the-middle attacks."
                                .into(),
                        );
                    }
                    self.downgraded.store(true, Ordering::SeqCst);
                    eprint_lines(&lines);
                    return Ok(());
                }
                lines.push(format!(
                    "Host key for {name} has changed and you have requested strict checking."
                ));
                eprint_lines(&lines);
                Err(failed())
            }
            _ => match self.mode {
                StrictMode::Yes => {
                    eprint_lines(&[format!(
                        "No {} host key is known for {name} and you have requested strict checking.",
                        type_label(key)
                    )]);
                    Err(failed())
                }
                StrictMode::Ask => {
                    let ip = self
                        .peer_ip
                        .lock()
                        .ok()
                        .and_then(|ip| *ip)
                        .map(|ip| host_key_name(&ip.to_string(), port));
                    if self.ask(&name, ip.as_deref(), key) {
                        self.add(host, port, key);
                        Ok(())
                    } else {
                        Err(failed())
                    }
                }
                StrictMode::AcceptNew | StrictMode::No => {
                    self.add(host, port, key);
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod certificate_tests {
    use super::*;

    fn host_cert(principals: &[&str]) -> Certificate {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c",
        )
        .unwrap();
        Certificate {
            nonce: vec![0; 32],
            key: key.clone(),
            serial: 1,
            cert_type: CertType::Host,
            key_id: "h".into(),
            principals: principals.iter().map(|p| (*p).to_owned()).collect(),
            valid_after: 100,
            valid_before: 200,
            critical_options: Vec::new(),
            extensions: Vec::new(),
            signature_key: key,
            signature: Vec::new(),
        }
    }

    #[test]
    fn host_certificate_checks_type_window_principal_and_critical_options() {
        let cert = host_cert(&["h.example"]);
        assert_eq!(check_host_certificate(&cert, "h.example", 150), Ok(()));
        assert!(check_host_certificate(&cert, "other", 150).is_err());
        assert!(check_host_certificate(&cert, "h.example", 200).is_err());
        assert!(check_host_certificate(&cert, "h.example", 99).is_err());
        assert_eq!(check_host_certificate(&host_cert(&[]), "any", 150), Ok(()));
        let mut user = cert.clone();
        user.cert_type = CertType::User;
        assert!(check_host_certificate(&user, "h.example", 150).is_err());
        let mut critical = cert;
        critical
            .critical_options
            .push(oxssh_keys::certificate::CertOption::flag("x"));
        assert!(check_host_certificate(&critical, "h.example", 150).is_err());
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c";

    fn verifier(file: PathBuf, mode: StrictMode, batch: bool) -> KnownHostsVerifier {
        KnownHostsVerifier {
            user_files: vec![file],
            global_files: Vec::new(),
            mode,
            batch,
            hash: false,
            ca_signature_algorithms: Vec::new(),
            quiet: true,
            password_authentication: false,
            kbd_interactive_authentication: false,
            downgraded: Arc::default(),
            peer_ip: Arc::default(),
            loaded: Arc::default(),
        }
    }

    #[test]
    fn the_files_read_before_connecting_serve_one_verification_then_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, format!("h.example {KEY}\n")).unwrap();
        let key = PublicKey::from_openssh(KEY).unwrap();
        let v = verifier(file.clone(), StrictMode::Yes, true);
        assert_eq!(v.load().known_keys("h.example").len(), 1);
        // The verification after `load` uses what it read (one read per login) ...
        std::fs::write(&file, "").unwrap();
        assert_eq!(v.verify("h.example", 22, &key), Ok(()));
        // ... and only once: the next one reads the file as it is now.
        assert!(v.verify("h.example", 22, &key).is_err());
    }

    #[test]
    fn accept_new_adds_the_key_once_and_finds_it_the_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let key = PublicKey::from_openssh(KEY).unwrap();
        let v = verifier(file.clone(), StrictMode::AcceptNew, true);
        assert!(v.load().known_keys("h.example").is_empty());
        assert_eq!(v.verify("h.example", 22, &key), Ok(()));
        let written = std::fs::read_to_string(&file).unwrap();
        assert_eq!(written.lines().count(), 1);
        // A later login reads the line just written and adds nothing.
        let again = verifier(file.clone(), StrictMode::Yes, true);
        again.load();
        assert_eq!(again.verify("h.example", 22, &key), Ok(()));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    }

    #[test]
    fn only_ask_mode_without_batch_mode_may_prompt() {
        let file = PathBuf::from("/nonexistent/known_hosts");
        assert!(verifier(file.clone(), StrictMode::Ask, false).may_prompt());
        for (mode, batch) in [
            (StrictMode::Ask, true),
            (StrictMode::Yes, false),
            (StrictMode::AcceptNew, false),
            (StrictMode::No, false),
        ] {
            assert!(
                !verifier(file.clone(), mode, batch).may_prompt(),
                "{mode:?}"
            );
        }
    }
}
