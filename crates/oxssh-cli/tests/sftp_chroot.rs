//! `ChrootDirectory` with `ForceCommand internal-sftp`, against OpenSSH 9.2's `sftp`:
//! the client sees only the jail (`cd ..` stays at `/`, `..` paths and symbolic links
//! pointing out resolve inside it), uploads land in the jail as the user, and a jail
//! whose path has a component that is not root-owned or is group/other-writable is
//! refused with sshd's message; a command runs inside with the jail's own shell. The
//! same jails are checked against OpenSSH's sshd, so the expectations are sshd's
//! behaviour.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::openssh::{sshd_opts, Fixture};
use support::require_peer;
use support::sftp::batch;
use support::users::{test_user, TEST_USER};

/// `/srv/oxssh-jail-<pid>-<tag>` (root-owned, 0755; `/tmp` is world-writable and so
/// cannot hold a jail), with the jail `<base>/<user>` inside and a file beside it.
struct Jail {
    base: PathBuf,
}

impl Jail {
    fn new(tag: &str) -> Self {
        let user = oxssh_os::SystemUser::by_name(test_user()).unwrap().unwrap();
        let base = PathBuf::from(format!("/srv/oxssh-jail-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let jail = base.join(TEST_USER);
        let public = jail.join("pub");
        std::fs::create_dir_all(&public).unwrap();
        for dir in [&base, &jail] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(base.join("secret"), b"outside the jail\n").unwrap();
        std::fs::write(public.join("hello"), b"inside\n").unwrap();
        // Links pointing out: relative past the root, and absolute.
        std::os::unix::fs::symlink("../../..", public.join("out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", public.join("abs")).unwrap();
        std::os::unix::fs::chown(&public, Some(user.uid), Some(user.gid)).unwrap();
        Self { base }
    }

    fn root(&self) -> PathBuf {
        self.base.join(TEST_USER)
    }

    /// `ChrootDirectory` with the `%u` token, forced internal-sftp, for the test user;
    /// and a preload the session's environment names, which must never reach a process
    /// still running as root (internal-sftp before it enters the jail).
    fn config(&self) -> Vec<String> {
        let mut lines = self.config_without_force_command();
        lines.push("  ForceCommand internal-sftp".to_owned());
        lines.push(format!("  SetEnv LD_PRELOAD={PRELOAD}"));
        lines
    }

    fn config_without_force_command(&self) -> Vec<String> {
        vec![
            format!("Match User {TEST_USER}"),
            format!("  ChrootDirectory {}/%u", self.base.display()),
        ]
    }

    /// Puts `/bin/sh` (dash) and the libraries it needs inside, as a jail for shells.
    fn add_shell(&self) {
        let root = self.root();
        for (from, to) in [
            ("/bin/sh", "bin/sh"),
            (
                "/lib/x86_64-linux-gnu/libc.so.6",
                "lib/x86_64-linux-gnu/libc.so.6",
            ),
            ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        ] {
            let to = root.join(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, &to).unwrap();
        }
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn server(ours: bool, jail: &Jail) -> Option<Fixture> {
    if !require_peer("sftp") {
        return None;
    }
    let mut opts = sshd_opts(&["Subsystem sftp internal-sftp"]);
    opts.tail = jail.config();
    if ours {
        Fixture::start_oxsshd(opts)
    } else {
        Fixture::start(opts)
    }
}

/// A library that does not exist: the loader complains on stderr if it sees it.
const PRELOAD: &str = "/nonexistent/oxssh-preload.so";

const ESCAPES: &str = "pwd\ncd ..\npwd\nls -1\n-get ../secret s1\n-get ../../etc/passwd p1\n\
-get pub/out/secret s2\n-get pub/out/../secret s3\n-get pub/abs p2\n-get /etc/passwd p3\n\
-cd /pub/out\npwd\nget pub/hello h\nput up pub/up\n";

fn sftp_sees_only_the_jail(ours: bool) {
    let jail = Jail::new(if ours { "ox" } else { "openssh" });
    let Some(f) = server(ours, &jail) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("up"), b"uploaded\n").unwrap();
    let out = batch("sftp", &f, local.path(), ESCAPES);
    assert!(out.status.success(), "{}\n{}", out.stderr, f.peer.log());
    assert!(!out.stderr.contains(PRELOAD), "{}", out.stderr);
    // `cd ..` from the root stays there; following `out` (../../..) leads to `/` too.
    assert_eq!(
        out.stdout.matches("Remote working directory: /\n").count(),
        3,
        "{}",
        out.stdout
    );
    let listing: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("sftp>") && !l.starts_with("Remote working"))
        .collect();
    assert_eq!(listing, ["pub"], "{}", out.stdout);
    for escaped in ["s1", "p1", "s2", "s3", "p2", "p3"] {
        assert!(
            !local.path().join(escaped).exists(),
            "{escaped} was fetched from outside the jail\n{}",
            out.stdout
        );
    }
    assert_eq!(std::fs::read(local.path().join("h")).unwrap(), b"inside\n");
    let up = jail.root().join("pub/up");
    assert_eq!(std::fs::read(&up).unwrap(), b"uploaded\n");
    let user = oxssh_os::SystemUser::by_name(TEST_USER).unwrap().unwrap();
    assert_eq!(std::fs::metadata(&up).unwrap().uid(), user.uid);
    if ours {
        assert!(
            f.peer.log().contains(&format!(
                "Changed root directory to \"{}\"",
                jail.root().display()
            )),
            "{}",
            f.peer.log()
        );
    }
}

#[test]
fn openssh_sftp_sees_only_the_chroot_jail_of_internal_sftp() {
    sftp_sees_only_the_jail(true);
}

#[test]
fn openssh_sftp_sees_only_the_chroot_jail_of_openssh_sshd_too() {
    sftp_sees_only_the_jail(false);
}

fn refused(jail: &Jail, expected: &str) {
    let Some(f) = server(true, jail) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let out = batch("sftp", &f, local.path(), "ls\n");
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(!out.stdout.contains("pub"), "{}", out.stdout);
    support::client::wait_until(
        "the refusal logged",
        std::time::Duration::from_secs(10),
        || f.peer.log().contains(expected),
    );
}

#[test]
fn chroot_with_a_group_writable_component_is_refused_with_sshds_message() {
    let jail = Jail::new("modes");
    std::fs::set_permissions(&jail.base, std::fs::Permissions::from_mode(0o775)).unwrap();
    refused(
        &jail,
        &format!(
            "bad ownership or modes for chroot directory component \"{}/\"",
            jail.base.display()
        ),
    );
}

#[test]
fn chroot_owned_by_the_user_is_refused_with_sshds_message() {
    let jail = Jail::new("owner");
    let user = oxssh_os::SystemUser::by_name(TEST_USER).unwrap().unwrap();
    std::os::unix::fs::chown(jail.root(), Some(user.uid), None).unwrap();
    refused(
        &jail,
        &format!(
            "bad ownership or modes for chroot directory \"{}\"",
            jail.root().display()
        ),
    );
    assert!(Path::new(&jail.base).exists());
}

#[test]
fn a_command_runs_inside_the_chroot_with_the_jails_shell_as_with_sshd() {
    let mut outputs = Vec::new();
    for ours in [true, false] {
        let jail = Jail::new(if ours { "sh-ox" } else { "sh-openssh" });
        if !Path::new("/lib64/ld-linux-x86-64.so.2").exists() {
            eprintln!("SKIP: not an x86-64 glibc system");
            return;
        }
        jail.add_shell();
        if !require_peer("ssh") {
            return;
        }
        let mut opts = sshd_opts(&[]);
        opts.tail = jail.config_without_force_command();
        let Some(f) = (if ours {
            Fixture::start_oxsshd(opts)
        } else {
            Fixture::start(opts)
        }) else {
            return;
        };
        let out = f.openssh().run("pwd; cd /; echo *", b"");
        assert_eq!(out.code(), Some(0), "{}\n{}", out.stderr, f.peer.log());
        outputs.push((
            out.stdout,
            out.stderr
                .lines()
                .filter(|l| !l.starts_with("Warning: Permanently"))
                .count(),
        ));
    }
    if let [ours, theirs] = &outputs[..] {
        assert_eq!(ours, theirs);
        // The home is missing inside the jail: `/`, and no message about it.
        assert_eq!(ours.0, "/\nbin lib lib64 pub\n");
        assert_eq!(ours.1, 0);
    }
}
