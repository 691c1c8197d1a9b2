//! Interop: resolve sample server configurations with oxssh-config and with the real
//! OpenSSH `sshd -T -f <file> -C user=u,host=h,addr=127.0.0.1,laddr=127.0.0.1,lport=22`,
//! and compare every line.
//!
//! The algorithm defaults are taken from the local sshd (`sshd -T` on an empty
//! configuration) and `ssh -Q`, so the comparison tests configuration handling, not one
//! release's algorithm choice. Without sshd (or without root, which `sshd -T` needs) the
//! tests are skipped loudly, unless `CI=true`, where they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use oxssh_config::sshd::{ConnectionContext, SshdConfig};
use oxssh_config::{AlgorithmList, AlgorithmLists, OsEnv};

const SSHD: &str = "/usr/sbin/sshd";
const CONN: &str = "user=u,host=h,addr=127.0.0.1,laddr=127.0.0.1,lport=22";

struct Harness {
    dir: tempfile::TempDir,
    algorithms: AlgorithmLists,
}

fn skip(why: &str) -> Option<Harness> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("sshd is required in CI for the sshd -T interop tests: {why}");
    }
    eprintln!("\n*** SKIPPING sshd -T interop tests: {why} ***\n");
    None
}

impl Harness {
    fn new() -> Option<Self> {
        if !std::path::Path::new(SSHD).exists() {
            return skip("no /usr/sbin/sshd");
        }
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return skip("sshd -T needs root");
        }
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().unwrap();
        let hk = dir.path().join("hk");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&hk)
            .status()
            .unwrap();
        assert!(st.success());
        let mut h = Harness {
            dir,
            algorithms: AlgorithmLists::default(),
        };
        let (defaults, _, ok) = h.real("");
        assert!(ok, "sshd -T on an empty config failed");
        let d = |key: &str| -> Vec<String> {
            let v = defaults
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{key} ")))
                .unwrap();
            v.split(',').map(str::to_string).collect()
        };
        let q = |what: &str| -> Vec<String> {
            let out = Command::new("ssh").args(["-Q", what]).output().unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        };
        h.algorithms = AlgorithmLists {
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
        };
        Some(h)
    }

    /// Writes a config (with the test host key first) and returns its path.
    fn write(&self, name: &str, body: &str) -> String {
        let path = self.dir.path().join(name);
        let hk = self.dir.path().join("hk");
        std::fs::write(&path, format!("HostKey {}\n{body}", hk.display())).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// `sshd -T` for a config body: (stdout lines, stderr lines, success).
    fn real(&self, body: &str) -> (Vec<String>, Vec<String>, bool) {
        let path = self.write("cfg", body);
        let out = Command::new(SSHD)
            .args(["-T", "-f", &path, "-C", CONN])
            .output()
            .unwrap();
        let lines = |b: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(b)
                .lines()
                .map(str::to_string)
                .collect()
        };
        (lines(&out.stdout), lines(&out.stderr), out.status.success())
    }

    fn ours(&self, body: &str) -> Result<Vec<String>, Vec<String>> {
        let path = self.write("cfg", body);
        let config =
            SshdConfig::load(&OsEnv::new(), &path, &self.algorithms).map_err(|e| e.messages())?;
        let ctx = ConnectionContext {
            user: Some("u".into()),
            host: Some("h".into()),
            address: Some("127.0.0.1".into()),
            local_address: Some("127.0.0.1".into()),
            local_port: Some(22),
            ..ConnectionContext::default()
        };
        Ok(config
            .for_connection(&ctx)
            .dump()
            .lines()
            .map(str::to_string)
            .collect())
    }
}

fn cases(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            out.push((name.to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[test]
fn dump_matches_sshd_t_for_every_sample_config() {
    let Some(h) = Harness::new() else { return };
    let text = include_str!("data/sshd_t_configs.txt");
    let all = cases(text);
    assert!(all.len() >= 20);
    let mut failures = Vec::new();
    for (name, body) in &all {
        let (want, err, ok) = h.real(body);
        assert!(ok, "{name}: sshd rejected the sample: {err:?}");
        match h.ours(body) {
            Err(e) => failures.push(format!("{name}: we rejected it: {e:?}")),
            Ok(got) if got != want => {
                let diff: Vec<String> = want
                    .iter()
                    .filter(|l| !got.contains(l))
                    .map(|l| format!("-{l}"))
                    .chain(
                        got.iter()
                            .filter(|l| !want.contains(l))
                            .map(|l| format!("+{l}")),
                    )
                    .collect();
                failures.push(format!("{name}: {diff:#?}"));
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bad configurations: sshd's exact messages (the file name is the same for both).
#[test]
fn errors_match_sshd_t_messages() {
    let Some(h) = Harness::new() else { return };
    let bad = [
        "Foo bar\nBar 1\n",
        "Match User x\nPort 22\n",
        "Match Foo x\n",
        "Match User\n",
        "Match all User x\n",
        "PasswordAuthentication maybe\n",
        "MaxAuthTries abc\n",
        "ClientAliveCountMax -1\n",
        "LoginGraceTime 2x\n",
        "MaxStartups 10:30\n",
        "MaxStartups 10:30:5\n",
        "MaxStartups 1:101:7\n",
        "LogLevel loud\n",
        "SyslogFacility FOO\n",
        "Ciphers aes999\n",
        "MACs +foo\n",
        "KexAlgorithms bar\n",
        "PubkeyAcceptedAlgorithms foo*\n",
        "Port 0\n",
        "PermitRootLogin maybe\n",
        "Subsystem sftp a\nSubsystem sftp b\n",
        "Subsystem sftp\n",
        "RekeyLimit 1x\n",
        "RekeyLimit 10\n",
        "AddressFamily ipv5\n",
        "Port\n",
        "Port \"22\n",
        "ListenAddress 1.2.3.4:abc\n",
        "ListenAddress [::1\n",
        "AuthenticationMethods any publickey\n",
        "AuthenticationMethods publickey,foo\n",
        "Match Address 1.2.3.4/40\n",
        "Match LocalPort abc\n",
        "SetEnv FOO\n",
        "AcceptEnv a=b\n",
        "MaxSessions 1 2\n",
        "AllowUsers bob@1.2.3.4/40\n",
    ];
    let mut failures = Vec::new();
    for body in bad {
        let path = h.write("cfg", body);
        let out = Command::new(SSHD)
            .args(["-t", "-f", &path])
            .output()
            .unwrap();
        assert!(!out.status.success(), "sshd accepted {body:?}");
        let want: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::to_string)
            .collect();
        match h.ours(body) {
            Ok(_) => failures.push(format!("{body:?}: we accepted it")),
            Err(got) if got != want => failures.push(format!("{body:?}: {want:?} != {got:?}")),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
