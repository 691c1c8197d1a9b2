//! `~/.ssh/rc` and `/etc/ssh/sshrc`, as sshd's `do_rc_files`: before the session's shell
//! or command starts, in the user's home and as the user, the first of these that applies
//! runs with an empty standard input and the session's output:
//! - `~/.ssh/rc` through the user's shell (`shell -c '/bin/sh .ssh/rc'`), unless the
//!   session is a subsystem, `ForceCommand` is set, `PermitUserRC` is `no`, or the key's
//!   options say `no-user-rc` (or `restrict`);
//! - else `/etc/ssh/sshrc`, through `/bin/sh`.
//!
//! The one-process server cannot run it between fork and exec, so the session starts
//! `oxsshd` itself as a launcher ([`oxssh_os::Launcher`]): it runs the rc file, then
//! replaces itself with the shell.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oxssh_os::Launcher;

/// The variable that makes `oxsshd` a launcher, naming which rc file to run.
pub const LAUNCHER_ENV: &str = "OXSSHD_SESSION_RC";
/// The user's rc file, relative to their home (sshd's `_PATH_SSH_USER_RC`).
const USER_RC: &str = ".ssh/rc";
/// The system-wide rc file (sshd's `_PATH_SSH_SYSTEM_RC`).
pub const SYSTEM_RC: &str = "/etc/ssh/sshrc";
/// The shell that reads the rc files (sshd's `_PATH_BSHELL`).
const BSHELL: &str = "/bin/sh";

/// Which rc file a session runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RcFile {
    /// `~/.ssh/rc`.
    User,
    /// `/etc/ssh/sshrc`.
    System,
}

impl RcFile {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::System => "system",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// What decides whether the user's rc file may run.
#[derive(Debug, Clone, Copy)]
pub(super) struct RcPolicy {
    /// `PermitUserRC`.
    pub permit_user_rc: bool,
    /// The key's options allow it (`no-user-rc`, `restrict` forbid it).
    pub key_allows: bool,
    /// `ForceCommand` is set.
    pub admin_forced_command: bool,
    /// The session is a subsystem.
    pub subsystem: bool,
}

/// The rc file to run for a session of a user with home `home`, if any.
pub(super) fn choose(policy: RcPolicy, home: &Path, system_rc: &Path) -> Option<RcFile> {
    let user_rc_allowed = policy.permit_user_rc
        && policy.key_allows
        && !policy.admin_forced_command
        && !policy.subsystem;
    if user_rc_allowed && home.join(USER_RC).exists() {
        Some(RcFile::User)
    } else if system_rc.exists() {
        Some(RcFile::System)
    } else {
        None
    }
}

/// The launcher that runs `rc` and then the session (this same program).
pub(super) fn launcher(rc: RcFile) -> Option<Launcher> {
    let program = std::env::current_exe()
        .map_err(|e| tracing::error!("cannot find oxsshd's own path to run an rc file: {e}"))
        .ok()?;
    Some(Launcher {
        program,
        var: LAUNCHER_ENV.into(),
        value: rc.as_str().into(),
    })
}

/// Runs as the launcher when `LAUNCHER_ENV` is set: `argv` is the shell, its `argv[0]`
/// and its arguments; neither the rc file nor the shell sees the variable. Returns only when the shell cannot be started (the exit status).
pub fn run_launcher(value: &str, argv: Vec<OsString>) -> i32 {
    let mut argv = argv.into_iter();
    let (Some(rc), Some(shell), Some(arg0)) = (RcFile::parse(value), argv.next(), argv.next())
    else {
        eprintln!("oxsshd: bad session launcher arguments");
        return 1;
    };
    let shell = PathBuf::from(shell);
    let mut rc_command = match rc {
        RcFile::User => {
            let mut c = Command::new(&shell);
            c.arg("-c").arg(format!("{BSHELL} {USER_RC}"));
            c
        }
        RcFile::System => {
            let mut c = Command::new(BSHELL);
            c.arg("-c").arg(format!("{BSHELL} {SYSTEM_RC}"));
            c
        }
    };
    // sshd writes X11 authentication data to the rc file's input; without X11 it is
    // empty. A failing rc file does not stop the session (sshd only logs it).
    let _ = rc_command
        .env_remove(LAUNCHER_ENV)
        .stdin(Stdio::null())
        .status();
    let error = Command::new(&shell)
        .arg0(arg0)
        .args(argv)
        .env_remove(LAUNCHER_ENV)
        .exec();
    eprintln!("oxsshd: cannot run {}: {error}", shell.display());
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RcPolicy {
        RcPolicy {
            permit_user_rc: true,
            key_allows: true,
            admin_forced_command: false,
            subsystem: false,
        }
    }

    struct Dirs {
        root: PathBuf,
        home: PathBuf,
        system_rc: PathBuf,
    }

    impl Dirs {
        fn new(name: &str, user_rc: bool, system_rc: bool) -> Self {
            let root =
                std::env::temp_dir().join(format!("oxsshd-rc-{name}-{}", std::process::id()));
            let home = root.join("home");
            std::fs::create_dir_all(home.join(".ssh")).unwrap();
            let system = root.join("sshrc");
            if user_rc {
                std::fs::write(home.join(USER_RC), "echo user\n").unwrap();
            }
            if system_rc {
                std::fs::write(&system, "echo system\n").unwrap();
            }
            Self {
                root,
                home,
                system_rc: system,
            }
        }

        fn choose(&self, policy: RcPolicy) -> Option<RcFile> {
            choose(policy, &self.home, &self.system_rc)
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn the_user_rc_comes_first_and_the_system_rc_is_the_fallback() {
        let both = Dirs::new("both", true, true);
        assert_eq!(both.choose(policy()), Some(RcFile::User));
        let system = Dirs::new("system", false, true);
        assert_eq!(system.choose(policy()), Some(RcFile::System));
        let none = Dirs::new("none", false, false);
        assert_eq!(none.choose(policy()), None);
    }

    #[test]
    fn each_restriction_skips_the_user_rc_but_not_the_system_rc() {
        let both = Dirs::new("restricted", true, true);
        let user_only = Dirs::new("user-only", true, false);
        let restrictions = [
            RcPolicy {
                permit_user_rc: false,
                ..policy()
            },
            RcPolicy {
                key_allows: false,
                ..policy()
            },
            RcPolicy {
                admin_forced_command: true,
                ..policy()
            },
            RcPolicy {
                subsystem: true,
                ..policy()
            },
        ];
        for restricted in restrictions {
            assert_eq!(
                both.choose(restricted),
                Some(RcFile::System),
                "{restricted:?}"
            );
            assert_eq!(user_only.choose(restricted), None, "{restricted:?}");
        }
    }

    #[test]
    fn launcher_values_round_trip() {
        for rc in [RcFile::User, RcFile::System] {
            assert_eq!(RcFile::parse(rc.as_str()), Some(rc));
        }
        assert_eq!(RcFile::parse("other"), None);
    }
}
