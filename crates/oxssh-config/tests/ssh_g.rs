//! Interop: resolve sample configurations with oxssh-config and with the real OpenSSH
//! `ssh -G -F <file>`, and compare what they print.
//!
//! The algorithm lists are taken from the local `ssh` (`ssh -Q`, and the defaults `ssh -G`
//! prints), so the comparison tests configuration handling, not one release's algorithm
//! choice. Against OpenSSH 9.2 the whole output must be identical (GSSAPI lines aside, as
//! oxssh has no GSSAPI); against other releases the keywords oxssh implements must be.
//! Without `ssh` the tests are skipped loudly, unless `CI=true`, where they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/sha1.rs"]
mod sha1;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use oxssh_config::keyword::{Support, KEYWORDS};
use oxssh_config::{AlgorithmList, AlgorithmLists, Loader, Options, OsEnv};

/// The local ssh's version string, or `None` (after a loud message) when there is none.
fn ssh_version() -> Option<String> {
    match Command::new("ssh").arg("-V").output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("ssh is required in CI for the ssh -G interop tests: {e}");
            }
            eprintln!("\n*** SKIPPING ssh -G interop tests: cannot run `ssh` ({e}) ***\n");
            None
        }
    }
}

/// Runs `ssh -G` with a config file and `-o` options; (stdout lines, stderr lines, success).
fn real_ssh_g(config: &str, host: &str, opts: &[&str]) -> (Vec<String>, Vec<String>, bool) {
    let mut cmd = Command::new("ssh");
    cmd.arg("-G").arg("-F").arg(config);
    for o in opts {
        cmd.arg("-o").arg(o);
    }
    let out = cmd.arg(host).stdin(Stdio::null()).output().unwrap();
    let lines = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| !l.starts_with("Pseudo-terminal will not be allocated"))
            .map(str::to_string)
            .collect()
    };
    (lines(&out.stdout), lines(&out.stderr), out.status.success())
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::to_string).collect()
}

/// The local ssh's algorithm lists.
fn local_algorithms() -> AlgorithmLists {
    let q = |what: &str| -> Vec<String> {
        let out = Command::new("ssh").args(["-Q", what]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (defaults, _, _) = real_ssh_g("/dev/null", "example.com", &[]);
    let d = |key: &str| -> Vec<String> {
        defaults
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .map(split_list)
            .unwrap()
    };
    AlgorithmLists {
        ciphers: AlgorithmList {
            default: d("ciphers"),
            all: q("cipher"),
        },
        macs: AlgorithmList {
            default: d("macs"),
            all: q("mac"),
        },
        kex: AlgorithmList {
            default: d("kexalgorithms"),
            all: q("kex"),
        },
        key_types: AlgorithmList {
            default: d("hostkeyalgorithms"),
            all: q("key-sig"),
        },
        ca_signatures: AlgorithmList {
            default: d("casignaturealgorithms"),
            all: q("sig"),
        },
    }
}

struct Harness {
    version: String,
    debian: bool,
    algorithms: AlgorithmLists,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Option<Self> {
        let version = ssh_version()?;
        Some(Harness {
            debian: version.contains("Debian"),
            algorithms: local_algorithms(),
            dir: tempfile::tempdir().unwrap(),
            version,
        })
    }

    fn exact(&self) -> bool {
        self.version.starts_with("OpenSSH_9.2")
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Resolves with both and compares: the dump (or, where OpenSSH fails, the error
    /// messages) must be identical against 9.2; against other releases the outcome and the
    /// implemented keywords must agree, and with `strict` unset a difference is only reported
    /// (the data files probe corners where releases differ). Returns whether OpenSSH accepted.
    fn compare(&self, name: &str, config: &str, host: &str, opts: &[&str], strict: bool) -> bool {
        let (real, stderr, ok) = real_ssh_g(config, host, opts);
        let real: Vec<String> = real
            .into_iter()
            .filter(|l| !l.starts_with("gssapi"))
            .collect();
        // OpenSSH's own debug output (LogLevel DEBUG) is not configuration.
        let stderr: Vec<String> = stderr
            .into_iter()
            .filter(|l| !l.starts_with("debug"))
            .collect();
        let env = OsEnv::new();
        let loader = Loader::new(&env, self.algorithms.clone())
            .config_file(config)
            .connection_hasher(sha1::sha1_hex)
            .debian_defaults(self.debian);
        let mut o = Options::new();
        let ours = opts
            .iter()
            .try_for_each(|opt| loader.command_line_option(&mut o, opt))
            .and_then(|()| loader.resolve(host, o));
        let problem = match (ours, ok) {
            (Ok(c), true) => {
                let dump: Vec<String> = c.dump().lines().map(str::to_string).collect();
                if self.exact() && (dump != real || c.warnings != stderr) {
                    Some(format!(
                        "output differs\n ours: {dump:#?} {:?}\n real: {real:#?} {stderr:?}",
                        c.warnings
                    ))
                } else if by_keyword(&dump) != by_keyword(&real) {
                    Some(format!(
                        "keywords differ\n ours: {:?}\n real: {:?}",
                        by_keyword(&dump),
                        by_keyword(&real)
                    ))
                } else {
                    None
                }
            }
            (Err(e), false) if self.exact() && e.messages() != stderr => Some(format!(
                "error messages differ\n ours: {:?}\n real: {stderr:?}",
                e.messages()
            )),
            (Err(_), false) => None,
            (Ok(_), false) => Some(format!("ssh -G failed but oxssh accepted it: {stderr:?}")),
            (Err(e), true) => Some(format!("ssh -G accepted it but oxssh failed: {e}")),
        };
        if let Some(p) = problem {
            if strict || self.exact() {
                panic!("{name}: {p}");
            }
            eprintln!(
                "*** {} differs from oxssh-config on {name}: {p}",
                self.version
            );
        }
        ok
    }

    /// Compares a configuration that both must accept.
    fn same(&self, name: &str, text: &str, host: &str, opts: &[&str]) {
        let config = self.write(name, text);
        assert!(
            self.compare(name, &config, host, opts, true),
            "{name}: ssh -G rejected it"
        );
    }

    /// Compares a configuration that both must reject, with the same messages.
    fn same_error(&self, name: &str, text: &str, host: &str, opts: &[&str]) {
        let config = self.write(name, text);
        assert!(
            !self.compare(name, &config, host, opts, true),
            "{name}: ssh -G accepted it"
        );
    }
}

/// The values of the keywords oxssh implements (plus the header lines), by keyword.
fn by_keyword(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let implemented: Vec<&str> = KEYWORDS
        .iter()
        .filter(|k| k.support == Support::Implemented)
        .map(|k| k.name)
        .chain(["host"])
        .collect();
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        let (k, v) = l.split_once(' ').unwrap_or((l, ""));
        if implemented.contains(&k) {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    map
}

#[test]
fn defaults_match_ssh_g() {
    let Some(h) = Harness::new() else { return };
    h.same("empty", "", "example.com", &[]);
    h.same("empty-upper", "", "Example.COM", &[]);
    h.same("empty-addr", "", "192.0.2.1", &[]);
}

#[test]
fn everyday_keywords_match_ssh_g() {
    let Some(h) = Harness::new() else { return };
    let config = "\
# comment line
Host build build.example !nope
    HostName %h.internal.example
    User ci
    Port 2222
    IdentityFile ~/.ssh/id_build
    IdentityFile ~/.ssh/id_%r@%h
    CertificateFile ~/.ssh/id_build-cert.pub
    IdentitiesOnly yes
    IdentityAgent ~/.agent/%h.sock
    ControlMaster auto
    ControlPath ~/.ssh/cm-%C
    ControlPersist 10m
    UserKnownHostsFile ~/.ssh/kh_%h ~/.ssh/kh2
    StrictHostKeyChecking accept-new
    Ciphers +aes128-cbc
    MACs -hmac-sha1*,umac*
    KexAlgorithms ^curve25519-sha256
    HostKeyAlgorithms ssh-ed25519*,rsa-sha2-512
    PubkeyAcceptedAlgorithms -*-cert-v01@openssh.com
Host *
    PreferredAuthentications publickey,keyboard-interactive
    PasswordAuthentication no
    KbdInteractiveAuthentication=no
    PubkeyAuthentication yes
    HashKnownHosts yes
    CheckHostIP no
    ConnectTimeout 1m30s
    ConnectionAttempts 3
    ServerAliveInterval 15
    ServerAliveCountMax 4
    TCPKeepAlive no
    RekeyLimit 512M 1h
    Compression yes
    RequestTTY force
    SendEnv LANG LC_*
    SendEnv -LC_ALL
    SetEnv FOO=bar \"BAZ=a b\"
    LogLevel VERBOSE
    AddressFamily inet
    BindAddress 127.0.0.1
    EscapeChar ^]
    ForwardAgent no
    AddKeysToAgent confirm 1h
    NumberOfPasswordPrompts 2
    VisualHostKey yes
    UpdateHostKeys no
    BatchMode no
    LocalForward 8080 localhost:80
    LocalForward [::1]:8443 [2001:db8::1]:443
    RemoteForward 9000 localhost:9000
    DynamicForward 1080
    RemoteCommand echo %h %p %r %n
";
    h.same("everyday", config, "build", &[]);
    h.same("everyday-other", config, "other.example", &[]);
    h.same("everyday-negated", config, "nope", &[]);
}

#[test]
fn command_line_options_win_over_the_file() {
    let Some(h) = Harness::new() else { return };
    let config =
        "Host *\n  Port 2222\n  User fileuser\n  Ciphers aes256-ctr\n  ProxyCommand nc %h %p\n";
    h.same(
        "cmdline",
        config,
        "h",
        &[
            "Port=2200",
            "User=cli",
            "Ciphers=-chacha20*",
            "ProxyJump=jump@j.example:2022",
        ],
    );
}

#[test]
fn match_and_include_match_ssh_g() {
    let Some(h) = Harness::new() else { return };
    let d = h.dir.path().to_str().unwrap().to_string();
    h.write("inc-a.conf", "Port 1111\nHost *\n  User inca\n");
    h.write("inc-b.conf", "IdentityFile /b\nMatch host zzz\n");
    let config = format!(
        "Include {d}/inc-b.conf\n\
         Match originalhost alias\n  HostName real.example\n\
         Match host real.example exec \"test %h = real.example && test %n = alias\"\n  User execuser\n\
         Match user nobody\n  Port 1\n\
         Host special\n  Include {d}/inc-*.conf\n\
         Host *\n  Include {d}/missing-*.conf\n  ServerAliveInterval 9\n\
         Match final host real.example\n  ConnectTimeout 7\n"
    );
    h.same("match-alias", &config, "alias", &[]);
    h.same("match-special", &config, "special", &[]);
    h.same("match-other", &config, "other", &[]);
}

#[test]
fn error_messages_match_ssh_g() {
    let Some(h) = Harness::new() else { return };
    h.same_error("bad1", "Foo bar\nPort\nBaz\nPort abc\nUser a b\n", "h", &[]);
    h.same_error(
        "bad2",
        "Host h\n  Ciphers aes*\n  MACs bogus\n  ConnectTimeout x\n",
        "h",
        &[],
    );
    h.same_error("bad3", "Match bogus x\nMatch all extra\n", "h", &[]);
    h.same_error("bad4", "IgnoreUnknown foo*\nFooBar 1\nBazQux 2\n", "h", &[]);
    h.same_error("bad-o", "", "h", &["Port=0"]);
    h.same_error("bad-o2", "", "h", &["Host x"]);
    h.same_error(
        "bad-self",
        &format!("Include {}/bad-self\n", h.dir.path().display()),
        "h",
        &[],
    );
}

#[test]
fn every_option_in_the_data_file_matches_ssh_g() {
    let Some(h) = Harness::new() else { return };
    for opt in include_str!("data/ssh_g_options.txt").lines() {
        if opt.starts_with('#') || opt.is_empty() {
            continue;
        }
        h.compare(opt, "/dev/null", "h", &[opt], false);
    }
}

#[test]
fn every_config_in_the_data_file_matches_ssh_g() {
    let Some(h) = Harness::new() else { return };
    let dir = h.dir.path().join("inc");
    std::fs::create_dir(&dir).unwrap();
    let put = |name: &str, text: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    put("a.conf", "Port 1111\nHost *\n  User inca\n", 0o644);
    put("b.conf", "IdentityFile /b\nMatch host zzz\n", 0o644);
    put("bad.conf", "Bogus 1\nPort x\n", 0o644);
    put("perm.conf", "Port 5\n", 0o666);
    let text = include_str!("data/ssh_g_configs.txt").replace("@DIR@", dir.to_str().unwrap());
    for (i, cfg) in text.split("%%%%\n").enumerate() {
        let config = h.write(&format!("cfg{i}"), cfg);
        h.compare(&format!("config #{i}:\n{cfg}"), &config, "h", &[], false);
    }
}
