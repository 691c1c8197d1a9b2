//! Test accounts and PAM service files for the OS tests, which run as root (CI does).
//!
//! Accounts are created on demand under the same `flock` the other suites use
//! (`crates/oxssh-cli/tests/support/users.rs`), so parallel test processes never race
//! `useradd`; they are left in place for the next run. PAM service files get a name of
//! their own per test and are removed when dropped, so parallel tests never share one.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use oxssh_os::SystemUser;

/// The account sessions run as (shell /bin/sh, home under /tmp, in [`TEST_GROUP`]).
pub const TEST_USER: &str = "oxssh-os-test";
/// A supplementary group of [`TEST_USER`], to see `setgroups` at work.
pub const TEST_GROUP: &str = "oxssh-os-grp";
/// [`TEST_USER`]'s password.
pub const PASSWORD: &str = "oxssh-Os-pw-3";
/// An account whose password has expired (`chage -d 0`), same password.
pub const EXPIRED_USER: &str = "oxssh-os-exp";
/// The lock every account change takes (shared with the other suites).
const LOCK: &str = "/tmp/oxssh-test-useradd.lock";
/// Upper bound for every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// True when running as root; otherwise prints a loud SKIP (or panics under `CI=true`).
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    skip("these tests need root (setuid, chown, PAM, useradd)");
    false
}

/// Prints a loud SKIP line, or panics under `CI=true`: CI must never silently test less.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true forbids skipping");
    }
    eprintln!("\n*** SKIP: {why}; this test did not run. ***\n");
}

fn locked(script: &str) {
    let status = Command::new("flock")
        .args([LOCK, "sh", "-c", script])
        .stdin(Stdio::null())
        .status()
        .expect("run flock");
    assert!(status.success(), "account set-up failed: {script}");
}

fn useradd(user: &str) -> String {
    format!(
        "{{ getent group {TEST_GROUP} >/dev/null || groupadd {TEST_GROUP}; }} && \
         {{ id {user} >/dev/null 2>&1 || useradd --create-home --home-dir /tmp/{user}-home \
         --shell /bin/sh --groups {TEST_GROUP} {user}; }} && \
         echo '{user}:{PASSWORD}' | chpasswd"
    )
}

/// [`TEST_USER`], created if needed, password (re)set to [`PASSWORD`].
pub fn test_user() -> SystemUser {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| locked(&useradd(TEST_USER)));
    SystemUser::by_name(TEST_USER)
        .expect("getpwnam")
        .expect("test user exists")
}

/// [`EXPIRED_USER`], created if needed, with its password marked expired.
pub fn expired_user() -> SystemUser {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        locked(&format!(
            "{} && chage -d 0 {EXPIRED_USER}",
            useradd(EXPIRED_USER)
        ))
    });
    SystemUser::by_name(EXPIRED_USER)
        .expect("getpwnam")
        .expect("expired user exists")
}

/// Whether PAM can be tested: libpam's headers (libpam0g-dev) and pam_unix are present.
/// When not: a loud SKIP, or a panic under `CI=true`.
pub fn require_pam() -> bool {
    let header = Path::new("/usr/include/security/pam_appl.h").exists();
    let unix = [
        "/usr/lib/x86_64-linux-gnu/security",
        "/lib/x86_64-linux-gnu/security",
        "/usr/lib/security",
        "/lib/security",
    ]
    .iter()
    .any(|dir| Path::new(dir).join("pam_unix.so").exists());
    if header && unix {
        return true;
    }
    skip("PAM is not installed (apt-get install libpam0g-dev libpam-modules)");
    false
}

/// A PAM service file under /etc/pam.d with a name of its own, removed on drop.
#[derive(Debug)]
pub struct PamService {
    pub name: String,
    path: PathBuf,
    env_file: PathBuf,
}

impl PamService {
    /// `auth`/`account`/`session` through pam_unix (no failure delay), and pam_env
    /// setting `OXSSH_PAM_TEST=from-pam` for sessions.
    pub fn unix() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "oxssh-os-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = Path::new("/etc/pam.d").join(&name);
        let env_file = std::env::temp_dir().join(format!("{name}.env"));
        std::fs::write(&env_file, "OXSSH_PAM_TEST DEFAULT=from-pam\n").expect("write env file");
        let policy = format!(
            "auth required pam_unix.so nodelay\n\
             account required pam_unix.so\n\
             session required pam_unix.so\n\
             session required pam_env.so readenv=0 user_readenv=0 conffile={}\n",
            env_file.display()
        );
        std::fs::write(&path, policy).expect("write PAM service file");
        Self {
            name,
            path,
            env_file,
        }
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.env_file);
    }
}
