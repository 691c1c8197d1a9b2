//! `oxssh-keygen`: a drop-in for OpenSSH 9.2's `ssh-keygen`.
//!
//! [`args`] reads the flags and picks the mode; each mode lives in its own module:
//! [`generate`] (key pairs, `-A` host keys), [`inspect`] (`-l`, `-y`, `-p`, `-c`),
//! [`known_hosts`] (`-F`, `-R`, `-H`), [`sig`] (`-Y` SSHSIG signatures), [`cert`]
//! (`-s` certificate signing, `-L`), [`convert`] (`-e` to RFC 4716). [`prompts`] asks what ssh-keygen asks, where it
//! asks it; [`identity`] loads private keys with ssh-keygen's checks and messages.
//! Output lines, messages and exit codes are ssh-keygen's (0 success, 1 for usage and
//! a few refusals, 255 for `fatal()`).

pub mod args;
pub mod cert;
pub mod convert;
pub mod generate;
pub mod identity;
pub mod inspect;
pub mod known_hosts;
pub mod prompts;
pub mod sig;
pub mod time;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::strerror::strerror;
use args::Mode;

/// OpenSSH's `fatal()` exit status.
pub const EXIT_FATAL: u8 = 255;

/// Why a run stopped: the message for stderr (may be empty) and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Printed on stderr with a newline, unless empty.
    pub message: String,
    /// Exit status.
    pub code: u8,
}

impl Failure {
    /// `fatal(message)`: exit 255.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_FATAL,
        }
    }

    /// `exit(code)` after whatever was already printed.
    pub fn exit(code: u8) -> Self {
        Self {
            message: String::new(),
            code,
        }
    }

    /// `error(message); exit(code)`.
    pub fn with_code(message: impl Into<String>, code: u8) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }
}

/// The user running the program: ssh-keygen's `pw` (getpwuid), for default file names
/// and the default comment.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Home directory from the password database (not `$HOME`, as ssh-keygen).
    pub home: PathBuf,
}

impl User {
    /// The real user, as ssh-keygen's `getpwuid(getuid())`.
    ///
    /// # Errors
    /// ssh-keygen's "No user exists for uid N".
    pub fn current() -> Result<Self, Failure> {
        let uid = nix::unistd::getuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) => Ok(Self {
                name: user.name,
                home: user.dir,
            }),
            _ => Err(Failure::fatal(format!("No user exists for uid {uid}"))),
        }
    }

    /// `~/.ssh/NAME`.
    pub fn ssh_file(&self, name: &str) -> PathBuf {
        self.home.join(".ssh").join(name)
    }
}

/// The host name, as `gethostname()` gives it (the default comment is `user@host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// OpenSSH's `log.c` on stderr (`fatal`, `error`, `logit`): the line ends in `\r\n`.
pub fn log_line(message: &str) {
    eprint!("{message}\r\n");
}

/// Runs `oxssh-keygen` with the process arguments.
pub fn main() -> ExitCode {
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(err) => {
            eprint!("{err}");
            return ExitCode::from(err.exit_code());
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                log_line(&failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

fn run(opts: &args::Options) -> Result<(), Failure> {
    let user = User::current()?;
    let mode = opts.mode();
    // -O is read only by the modes that take options; elsewhere it would be ignored.
    if !opts.options.is_empty() && !matches!(mode, Mode::Sig(_) | Mode::SignCerts) {
        return Err(not_yet("-O (key generation and moduli options)"));
    }
    match mode {
        Mode::Generate => generate::run(opts, &user),
        Mode::AllHostKeys => generate::all_host_keys(opts, &user),
        Mode::Fingerprint => inspect::fingerprint(opts, &user),
        Mode::PrintPublic => inspect::print_public(opts, &user),
        Mode::ChangePassphrase => inspect::change_passphrase(opts, &user),
        Mode::ChangeComment => inspect::change_comment(opts, &user),
        Mode::FindHost(host) => known_hosts::find(opts, &user, &host),
        Mode::RemoveHost(host) => known_hosts::remove(opts, &user, &host),
        Mode::HashHosts => known_hosts::hash(opts, &user),
        Mode::Export => convert::export(opts, &user),
        Mode::Import => convert::import(opts, &user),
        Mode::Sig(op) => sig::run(opts, &op),
        Mode::SignCerts => match &opts.s_file {
            Some(ca) => cert::sign(opts, ca),
            None => Err(Failure::exit(1)),
        },
        Mode::ShowCert => cert::show::run(opts, &user),
    }
}

fn not_yet(what: &str) -> Failure {
    Failure::fatal(format!("oxssh-keygen: {what} is not supported yet"))
}
