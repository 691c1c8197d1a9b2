//! The unprivileged accounts interop tests log in as (root's shell set-up is slow and
//! not what we test), created on demand when the tests run as root. Account changes run
//! under one `flock` shared with the protocol crate's tests, so parallel test processes
//! never race `useradd` or each other's edits.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{run, RUN_TIMEOUT};

/// The account public-key tests log in as (the protocol tests' account: password `*`,
/// so no password works, yet it is not locked).
pub const TEST_USER: &str = "oxssh-test";
/// A separate account with a known password, so `oxssh-test` keeps having none.
pub const PASSWORD_USER: &str = "oxssh-pw";
/// `PASSWORD_USER`'s password.
pub const PASSWORD: &str = "oxssh-Test-pw-7";
/// The lock every account change takes.
const LOCK: &str = "/tmp/oxssh-test-useradd.lock";

fn exists(user: &str) -> bool {
    Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` (with `args` as `$1`...) under the account lock.
fn locked(script: &str, args: &[&str]) -> bool {
    let out = run(
        Command::new("flock")
            .args([LOCK, "sh", "-c", script, "sh"])
            .args(args),
        b"",
        RUN_TIMEOUT,
    );
    if !out.status.success() {
        eprintln!("NOTE: account set-up failed: {}", out.stderr);
    }
    out.status.success()
}

fn useradd_script(user: &str, password_field: &str) -> String {
    format!(
        "id {user} >/dev/null 2>&1 || useradd --create-home --home-dir /tmp/{user}-home \
         --shell /bin/sh --password '{password_field}' {user}"
    )
}

/// The public-key test account, created if needed. Panics when it cannot exist: the
/// tests log in as a named user and would otherwise fail obscurely.
pub fn test_user() -> &'static str {
    static USER: OnceLock<()> = OnceLock::new();
    USER.get_or_init(|| {
        if !exists(TEST_USER) {
            locked(&useradd_script(TEST_USER, "*"), &[]);
        }
        assert!(exists(TEST_USER), "cannot create {TEST_USER} (run as root)");
    });
    TEST_USER
}

/// The password test account, created if needed, its password (re)set to [`PASSWORD`].
pub fn password_user() -> &'static str {
    static USER: OnceLock<()> = OnceLock::new();
    USER.get_or_init(|| {
        let script = format!(
            "{} && echo '{PASSWORD_USER}:{PASSWORD}' | chpasswd",
            useradd_script(PASSWORD_USER, "*")
        );
        assert!(
            locked(&script, &[]),
            "cannot set up {PASSWORD_USER} (run as root)"
        );
    });
    PASSWORD_USER
}

/// An account whose password has expired (`chage -d 0`); its password is [`PASSWORD`].
pub const EXPIRED_USER: &str = "oxssh-expired";

/// The expired-password account, created if needed, its password (re)set to
/// [`PASSWORD`] and marked as needing a change at the next login.
pub fn expired_user() -> &'static str {
    static USER: OnceLock<()> = OnceLock::new();
    USER.get_or_init(|| {
        let script = format!(
            "{} && echo '{EXPIRED_USER}:{PASSWORD}' | chpasswd && chage -d 0 {EXPIRED_USER}",
            useradd_script(EXPIRED_USER, "*")
        );
        assert!(
            locked(&script, &[]),
            "cannot set up {EXPIRED_USER} (run as root)"
        );
    });
    EXPIRED_USER
}

/// A key line in [`TEST_USER`]'s own `~/.ssh/authorized_keys`, for servers that read
/// only that file (Dropbear). Added under the lock, removed again on drop, so tests
/// in parallel processes each see their own key.
#[derive(Debug)]
pub struct HomeAuthorizedKey {
    line: String,
    file: PathBuf,
}

impl HomeAuthorizedKey {
    /// Authorises `line` (an OpenSSH public key line) for [`test_user`].
    pub fn add(line: &str) -> Self {
        let user = test_user();
        let home = PathBuf::from(format!("/tmp/{user}-home"));
        let ssh = home.join(".ssh");
        let file = ssh.join("authorized_keys");
        // Dropbear wants the directory and file owned by the user and not writable by
        // others. The file is replaced by rename, never rewritten in place: a server
        // of another test may be reading it right now.
        let script = "mkdir -p \"$1\" && chown \"$4\" \"$1\" && chmod 700 \"$1\" && \
                      { cat \"$2\" 2>/dev/null; printf '%s\\n' \"$3\"; } > \"$2.new\" && \
                      chown \"$4\" \"$2.new\" && chmod 600 \"$2.new\" && mv \"$2.new\" \"$2\"";
        assert!(
            locked(
                script,
                &[
                    &ssh.display().to_string(),
                    &file.display().to_string(),
                    line.trim(),
                    user
                ]
            ),
            "cannot write {}",
            file.display()
        );
        Self {
            line: line.trim().to_owned(),
            file,
        }
    }
}

impl Drop for HomeAuthorizedKey {
    fn drop(&mut self) {
        let script = "grep -vxF -- \"$2\" \"$1\" > \"$1.new\"; \
                      chown \"$3\" \"$1.new\" && chmod 600 \"$1.new\" && mv \"$1.new\" \"$1\"";
        let _ = locked(
            script,
            &[&self.file.display().to_string(), &self.line, TEST_USER],
        );
    }
}

/// An account of its own for one test that edits the user's files (`oxssh-copy-id`
/// installs keys in `~/.ssh/authorized_keys`), created if needed with the password
/// [`PASSWORD`] and home `/tmp/NAME-home`, so tests in parallel never share those files.
pub fn own_password_user(name: &'static str) -> &'static str {
    let script = format!(
        "{} && echo '{name}:{PASSWORD}' | chpasswd",
        useradd_script(name, "*")
    );
    assert!(locked(&script, &[]), "cannot set up {name} (run as root)");
    name
}
