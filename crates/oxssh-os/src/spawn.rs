//! Starting a session's process as a system user: the login shell running a command
//! (`shell -c command`) or interactively (argv[0] `-sh`, a login shell), on pipes or on a
//! pty slave, with the caller's clean environment; and delivering RFC 4254 §6.9 signals.
//!
//! Everything that allocates (the group list, the home directory as a C string, the
//! message printed when it is missing, `argv` and `envp`) is computed in the parent. The
//! child is started by the crate's `exec` module (`clone(CLONE_VM | CLONE_VFORK)`, no
//! `fork`) and, between that and `exec`, makes only async-signal-safe calls: reset signal
//! dispositions and mask, `setsid`, `TIOCSCTTY` on a pty, `chroot` (`ChrootDirectory`),
//! `setgroups`, `setgid`, `setuid` (raw system calls; checked to be irreversible), `chdir`
//! home or to `/`, and marking stray descriptors close-on-exec. A server-provided program in a jail confines itself
//! instead (see [`crate::jail`]).

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{Gid, Pid, Uid};

use crate::child::SessionChild;
use crate::error::{Error, Result};
use crate::exec::{self, ChildStdio, ExecImage};
use crate::jail::{Confinement, CONFINE_ENV};
use crate::pty::{Pty, PtyMaster};
use crate::user::SystemUser;

/// `PATH` for ordinary users' sessions (Debian's OpenSSH default).
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/games";
/// `PATH` for root's sessions (Debian's OpenSSH superuser default).
pub const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a session runs: its user, their groups, the command and the environment.
#[derive(Clone, Debug)]
pub struct SessionSpec {
    user: SystemUser,
    groups: Vec<u32>,
    command: Option<String>,
    program: Option<Program>,
    env: Vec<(OsString, OsString)>,
    launcher: Option<Launcher>,
    chroot: Option<PathBuf>,
}

/// A program the session's process runs first, as the user and in their home, which then
/// runs the shell itself (e.g. to run `~/.ssh/rc` before it, as sshd's child does). It
/// gets the shell's path, the shell's `argv[0]`, then `-c COMMAND` when there is one, and
/// one extra environment variable that tells it what to do.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The program to run.
    pub program: PathBuf,
    /// The variable it reads (it must remove it before running the shell).
    pub var: OsString,
    /// The variable's value.
    pub value: OsString,
}

/// A program run directly instead of through the user's shell.
#[derive(Clone, Debug)]
struct Program {
    path: PathBuf,
    arg0: OsString,
    args: Vec<OsString>,
}

/// Where the session's standard descriptors go.
#[derive(Debug)]
pub enum SessionStdio {
    /// Three pipes: [`Session::child`]'s `stdin`, `stdout` and `stderr` are set.
    Pipes,
    /// A pty slave as stdin, stdout and stderr, and the session's controlling terminal;
    /// [`Session::pty`] is the master.
    Pty(Pty),
}

/// A running session process.
#[derive(Debug)]
pub struct Session {
    /// The child (the user's shell). With [`SessionStdio::Pipes`] its `stdin`, `stdout`
    /// and `stderr` are the pipes' parent ends; wait on it for the exit status.
    pub child: SessionChild,
    /// The pty master when the session runs on a pty.
    pub pty: Option<PtyMaster>,
}

impl Session {
    /// The child's process id, also its process group and session id (`setsid`); `None`
    /// once the child has been waited for.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Delivers an RFC 4254 §6.9 `signal` request (`"INT"`, `"TERM"`, ...) to the
    /// session's process group. An unknown name is an error, as is a session already
    /// waited for (its process id may have been reused).
    pub fn signal(&self, name: &str) -> Result<()> {
        let signal = signal_by_name(name).ok_or_else(|| Error::UnknownSignal(name.into()))?;
        let pid = self.pid().ok_or(Error::Sys {
            op: "signal",
            source: Errno::ESRCH,
        })?;
        let pgid = i32::try_from(pid).map_err(|_| Error::Sys {
            op: "signal",
            source: Errno::ESRCH,
        })?;
        nix::sys::signal::killpg(Pid::from_raw(pgid), signal).map_err(Error::sys("killpg"))
    }
}

/// RFC 4254 §6.10's signal names (without the `SIG` prefix) and their signals.
const SIGNAL_NAMES: [(&str, Signal); 13] = [
    ("ABRT", Signal::SIGABRT),
    ("ALRM", Signal::SIGALRM),
    ("FPE", Signal::SIGFPE),
    ("HUP", Signal::SIGHUP),
    ("ILL", Signal::SIGILL),
    ("INT", Signal::SIGINT),
    ("KILL", Signal::SIGKILL),
    ("PIPE", Signal::SIGPIPE),
    ("QUIT", Signal::SIGQUIT),
    ("SEGV", Signal::SIGSEGV),
    ("TERM", Signal::SIGTERM),
    ("USR1", Signal::SIGUSR1),
    ("USR2", Signal::SIGUSR2),
];

/// The signal an RFC 4254 §6.9 `signal` request names, `None` for names the RFC does not
/// define.
pub fn signal_by_name(name: &str) -> Option<Signal> {
    SIGNAL_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, s)| s)
}

/// The RFC 4254 §6.10 name of a signal number for `exit-signal`, `None` when the RFC has
/// no name for it (OpenSSH then reports `"SIG@openssh.com"`-style names; callers choose).
pub fn signal_name(signal: i32) -> Option<&'static str> {
    SIGNAL_NAMES
        .iter()
        .find(|(_, s)| *s as i32 == signal)
        .map(|&(n, _)| n)
}

/// The environment `sshd` gives every session before the caller adds its own (`TERM`,
/// `SSH_CONNECTION`, `SSH_CLIENT`, `SSH_TTY`, PAM's list, ...): `USER`, `LOGNAME`,
/// `HOME`, `SHELL`, `PATH` and `MAIL`.
pub fn login_env(user: &SystemUser) -> Vec<(OsString, OsString)> {
    let path = if user.uid == 0 { ROOT_PATH } else { USER_PATH };
    let mut mail = OsString::from("/var/mail/");
    mail.push(&user.name);
    vec![
        ("USER".into(), user.name.clone().into()),
        ("LOGNAME".into(), user.name.clone().into()),
        ("HOME".into(), user.home.clone().into()),
        ("SHELL".into(), user.login_shell().into()),
        ("PATH".into(), path.into()),
        ("MAIL".into(), mail),
    ]
}

impl SessionSpec {
    /// A session for `user`, with their groups from the group database (computed now,
    /// in the parent) and no environment yet.
    pub fn new(user: SystemUser) -> Result<Self> {
        let groups = user.group_ids()?;
        Ok(Self::with_groups(user, groups))
    }

    /// A session for `user` with an explicit supplementary group list.
    pub fn with_groups(user: SystemUser, groups: Vec<u32>) -> Self {
        Self {
            user,
            groups,
            command: None,
            program: None,
            env: Vec::new(),
            launcher: None,
            chroot: None,
        }
    }

    /// Runs `command` through the user's shell (`shell -c command`); without it the
    /// session is an interactive login shell.
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// Runs the program at `path` directly, with `arg0` as its name and `args`, instead
    /// of the user's shell: a server-provided program (oxsshd's `internal-sftp`) that
    /// must run even for accounts whose shell is `nologin`. Overrides [`Self::command`].
    pub fn program(
        mut self,
        path: impl Into<std::path::PathBuf>,
        arg0: impl Into<OsString>,
        args: Vec<OsString>,
    ) -> Self {
        self.program = Some(Program {
            path: path.into(),
            arg0: arg0.into(),
            args,
        });
        self
    }

    /// Adds (or replaces) one environment variable. The child gets only these.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.env.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.env.push((key, value)),
        }
        self
    }

    /// Adds several variables, as [`SessionSpec::env`] does for each.
    pub fn envs<K, V>(self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        vars.into_iter().fold(self, |spec, (k, v)| spec.env(k, v))
    }

    /// Runs `launcher` in the session's place; it starts the shell (see [`Launcher`]).
    pub fn launcher(mut self, launcher: Launcher) -> Self {
        self.launcher = Some(launcher);
        self
    }

    /// Runs the session inside `root` (`ChrootDirectory`, checked by the caller with
    /// [`crate::jail::check_chroot_path`]), in the user's home there or else `/`; needs
    /// a server running as root. A shell or command is exec'd from inside the jail (it
    /// must hold the shell), with no launcher (its program lives outside). A
    /// [`Self::program`] is exec'd as root outside the jail with
    /// [`crate::jail::CONFINE_ENV`] as its only environment variable (it runs as root
    /// until then), and must enter the jail itself first thing
    /// ([`crate::jail::Confinement`]).
    pub fn chroot(mut self, root: impl Into<PathBuf>) -> Self {
        self.chroot = Some(root.into());
        self
    }

    /// The name a [`Self::program`] runs under, if the session runs one.
    pub fn program_name(&self) -> Option<&std::ffi::OsStr> {
        self.program.as_ref().map(|p| p.arg0.as_os_str())
    }

    /// The arguments of the program set with [`SessionSpec::program`].
    pub fn program_args(&self) -> &[OsString] {
        self.program.as_ref().map_or(&[], |p| p.args.as_slice())
    }

    /// The user the session runs as.
    pub fn user(&self) -> &SystemUser {
        &self.user
    }

    /// Starts the session. Must run inside a tokio runtime (the child is reaped by
    /// tokio; the pty master registers with its reactor). The process is not killed when
    /// [`Session`] is dropped: the caller decides (e.g. SIGHUP at disconnect).
    pub fn spawn(self, stdio: SessionStdio) -> Result<Session> {
        // tokio's process and I/O set-up panic outside a runtime: make that an error.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Sys {
                op: "session spawn outside a tokio runtime",
                source: Errno::EINVAL,
            });
        }
        let shell = self.user.login_shell().to_path_buf();
        let base = shell
            .file_name()
            .unwrap_or_else(|| OsStr::new("sh"))
            .to_owned();
        let arg0 = match &self.command {
            Some(_) => base,
            None => {
                let mut login = OsString::from("-");
                login.push(&base);
                login
            }
        };
        let shell_args = self
            .command
            .iter()
            .flat_map(|command| [OsStr::new("-c"), OsStr::new(command)]);
        // A program run directly has no shell to launch, so no launcher either; nor does
        // a jail (the launcher is outside it).
        let launcher = self
            .launcher
            .as_ref()
            .filter(|_| self.program.is_none() && self.chroot.is_none());
        let (path, argv, program): (&OsStr, Vec<&OsStr>, String) = match (&self.program, launcher) {
            (Some(direct), _) => {
                let mut argv = vec![direct.arg0.as_os_str()];
                argv.extend(direct.args.iter().map(OsString::as_os_str));
                let name = direct.path.display().to_string();
                (direct.path.as_os_str(), argv, name)
            }
            (None, None) => {
                let mut argv = vec![arg0.as_os_str()];
                argv.extend(shell_args);
                (shell.as_os_str(), argv, shell.display().to_string())
            }
            (None, Some(launcher)) => {
                let mut argv = vec![launcher.program.as_os_str(), shell.as_os_str()];
                argv.push(arg0.as_os_str());
                argv.extend(shell_args);
                let name = launcher.program.display().to_string();
                (launcher.program.as_os_str(), argv, name)
            }
        };
        // Only this function may ask a program to confine itself.
        let mut env: Vec<(&OsStr, &OsStr)> = self
            .env
            .iter()
            .filter(|(k, _)| k != CONFINE_ENV)
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
            .collect();
        if let Some(launcher) = launcher {
            env.retain(|(k, _)| *k != launcher.var);
            env.push((&launcher.var, &launcher.value));
        }
        // In name order, as std's `Command` passed it before.
        env.sort_by(|a, b| a.0.cmp(b.0));
        let mut jail = Jail::None;
        let confinement;
        if let Some(root) = &self.chroot {
            if !nix::unistd::geteuid().is_root() {
                return Err(Error::Spawn {
                    program,
                    source: io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "ChrootDirectory needs the server to run as root",
                    ),
                });
            }
            jail = if self.program.is_some() {
                confinement = Confinement {
                    root: root.clone(),
                    home: self.user.home.clone(),
                    uid: self.user.uid,
                    gid: self.user.gid,
                    groups: self.groups.clone(),
                }
                .encode();
                // It runs as root until it has confined itself: nothing from the client
                // or the user (AcceptEnv, environment=, SetEnv: LD_PRELOAD...) may reach
                // the dynamic loader or the program then. It gets this variable alone.
                env = vec![(OsStr::new(CONFINE_ENV), confinement.as_os_str())];
                Jail::ProgramConfinesItself
            } else {
                let root = CString::new(root.as_os_str().as_bytes())
                    .map_err(|_| Error::NulByte("chroot directory"))?;
                Jail::Chroot(root)
            };
        }
        let image = ExecImage::new(path, argv, env)?;

        let (pty, child_stdio, on_pty) = match stdio {
            SessionStdio::Pipes => (None, ChildStdio::Pipes, false),
            SessionStdio::Pty(pty) => {
                let (master, slave, _) = pty.into_parts()?;
                (Some(master), ChildStdio::Shared(slave), true)
            }
        };

        let plan = ChildPlan::new(&self.user, &self.groups, on_pty, jail)?;
        // The parent's copy of the pty slave is closed by `exec::spawn`, so the master
        // reads EOF once the session's own descriptors close.
        let started =
            exec::spawn(&image, child_stdio, &|| plan.run()).map_err(|source| Error::Spawn {
                program: program.clone(),
                source,
            })?;
        let child =
            SessionChild::new(started).map_err(|source| Error::Spawn { program, source })?;
        Ok(Session { child, pty })
    }
}

/// Whether and how the session is jailed (`ChrootDirectory`).
#[derive(Debug)]
enum Jail {
    /// No jail.
    None,
    /// The child chroots here before it drops privileges.
    Chroot(CString),
    /// The child stays root and outside; the exec'd program enters the jail itself.
    ProgramConfinesItself,
}

/// What the child does between clone and exec, all computed in the parent.
#[derive(Debug)]
struct ChildPlan {
    uid: Uid,
    gid: Gid,
    groups: Vec<libc::gid_t>,
    home: CString,
    /// "Could not chdir to home directory HOME: " (the reason follows).
    chdir_message: Vec<u8>,
    on_pty: bool,
    /// Whether to change identity: false when the server runs as the session's user
    /// already (a personal server), where setgroups would fail without privileges, or
    /// when the program confines itself.
    switch_user: bool,
    jail: Jail,
}

impl ChildPlan {
    fn new(user: &SystemUser, groups: &[u32], on_pty: bool, jail: Jail) -> Result<Self> {
        let home = CString::new(user.home.as_os_str().as_bytes())
            .map_err(|_| Error::NulByte("home directory"))?;
        let mut chdir_message = b"Could not chdir to home directory ".to_vec();
        chdir_message.extend_from_slice(user.home.as_os_str().as_bytes());
        chdir_message.extend_from_slice(b": ");
        Ok(Self {
            uid: Uid::from_raw(user.uid),
            gid: Gid::from_raw(user.gid),
            groups: groups.to_vec(),
            home,
            chdir_message,
            on_pty,
            switch_user: !matches!(jail, Jail::ProgramConfinesItself)
                && (nix::unistd::geteuid().as_raw() != user.uid
                    || nix::unistd::getuid().as_raw() != user.uid),
            jail,
        })
    }

    /// Runs in the child, which shares the server's memory: only async-signal-safe
    /// calls, no allocation, no lock (errors are `io::Error::from_raw_os_error`, which
    /// does not allocate), credentials through raw system calls.
    fn run(&self) -> io::Result<()> {
        reset_signals();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
        nix::unistd::setsid()?;
        if self.on_pty {
            make_controlling_tty()?;
        }
        match &self.jail {
            Jail::None => {}
            // As sshd's safely_chroot (the path was checked in the parent).
            Jail::Chroot(root) => {
                nix::unistd::chdir(root.as_c_str())?;
                nix::unistd::chroot(root.as_c_str())?;
                nix::unistd::chdir(c"/")?;
            }
            // Still root: the program chroots, drops privileges and changes directory.
            Jail::ProgramConfinesItself => {
                mark_inherited_fds_cloexec();
                return Ok(());
            }
        }
        if self.switch_user {
            // The raw system calls: glibc's wrappers would act on every thread of the
            // server, whose memory this child shares (see `crate::exec`).
            exec::set_groups(&self.groups)?;
            exec::set_gid(self.gid.as_raw())?;
            exec::set_uid(self.uid.as_raw())?;
            // As OpenSSH's permanently_set_uid: dropping root must not be reversible.
            if !self.uid.is_root() && exec::set_uid(0).is_ok() {
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
        }
        if let Err(errno) = nix::unistd::chdir(self.home.as_c_str()) {
            // Best effort, as sshd's fprintf: a short write only shortens the message.
            // sshd says nothing about a home missing inside a jail.
            let stderr = io::stderr();
            let parts = [&self.chdir_message[..], errno_text(errno), b"\n"];
            for part in parts.iter().filter(|_| matches!(self.jail, Jail::None)) {
                let _ = nix::unistd::write(stderr.as_fd(), part);
            }
            nix::unistd::chdir(c"/")?;
        }
        mark_inherited_fds_cloexec();
        Ok(())
    }
}

/// A fixed description for the errors `chdir` returns (`strerror` is not
/// async-signal-safe).
fn errno_text(errno: Errno) -> &'static [u8] {
    match errno {
        Errno::ENOENT => b"No such file or directory",
        Errno::EACCES => b"Permission denied",
        Errno::ENOTDIR => b"Not a directory",
        Errno::ELOOP => b"Too many levels of symbolic links",
        Errno::ENAMETOOLONG => b"File name too long",
        Errno::EIO => b"Input/output error",
        _ => b"error",
    }
}

/// Every catchable signal back to its default disposition: the server's handlers (and
/// any `SIG_IGN`, which exec would keep) must not leak into the user's session.
#[allow(unsafe_code)]
fn reset_signals() {
    // 1..=64 covers Linux's standard and real-time signals; SIGKILL, SIGSTOP and the
    // C library's reserved ones fail with EINVAL, which is ignored.
    for sig in 1..=64 {
        // SAFETY: `sigaction` is async-signal-safe. A zeroed `struct sigaction` is valid
        // (empty mask, no flags) and its handler field zero is `SIG_DFL`; it lives on
        // this stack frame for the call, and a null old-action pointer is allowed.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);

/// Makes stdin (the pty slave, already dup'ed there) the controlling terminal of the
/// new session.
#[allow(unsafe_code)]
fn make_controlling_tty() -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal a terminal another
    // session controls) and touches no memory of ours; fd 0 is the pty slave that std
    // has just dup'ed onto it. ioctl is async-signal-safe.
    unsafe { tiocsctty(0, 0) }?;
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, in case something (a PAM module,
/// a library) opened one without `O_CLOEXEC`, and the pty slave's own descriptor once it
/// is on 0, 1 and 2. Older kernels lack the flag: then nothing is done.
#[allow(unsafe_code)]
fn mark_inherited_fds_cloexec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors in the
    // range; it reads no memory. It is a plain system call (async-signal-safe).
    unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawning_outside_a_runtime_is_an_error_not_a_panic() {
        let user = SystemUser {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/".into(),
            shell: "/bin/sh".into(),
            gecos: String::new(),
        };
        let spec = SessionSpec::with_groups(user, vec![0]).command("true");
        assert!(matches!(
            spec.spawn(SessionStdio::Pipes),
            Err(Error::Sys {
                source: Errno::EINVAL,
                ..
            })
        ));
    }

    #[test]
    fn signal_names_follow_rfc_4254() {
        assert_eq!(signal_by_name("INT"), Some(Signal::SIGINT));
        assert_eq!(signal_by_name("KILL"), Some(Signal::SIGKILL));
        assert_eq!(signal_by_name("SIGINT"), None);
        assert_eq!(signal_by_name("int"), None);
        assert_eq!(signal_name(libc::SIGTERM), Some("TERM"));
        assert_eq!(signal_name(libc::SIGCHLD), None);
    }

    #[test]
    fn login_env_has_sshd_variables() {
        let user = SystemUser {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            home: "/home/alice".into(),
            shell: "".into(),
            gecos: String::new(),
        };
        let env = login_env(&user);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("USER"), Some("alice".into()));
        assert_eq!(get("HOME"), Some("/home/alice".into()));
        assert_eq!(get("SHELL"), Some("/bin/sh".into()));
        assert_eq!(get("MAIL"), Some("/var/mail/alice".into()));
        assert_eq!(get("PATH"), Some(USER_PATH.into()));
    }
}
