//! The `sftp-server`-compatible program mode: `oxssh-sftp-server`, and `oxsshd`'s
//! `internal-sftp` (oxsshd starts its own binary under the name `internal-sftp` in the
//! session's child process, after setgid/initgroups/setuid, so the kernel enforces the
//! user's file permissions; with `ChrootDirectory` it is started as root and enters the
//! jail itself first, see `oxssh_os::jail`). Serves SFTP on stdin/stdout until the
//! client closes.
//!
//! Flags as OpenSSH's `sftp-server`: `-d start_directory` (`%d` home, `%u` user, `%%`),
//! `-e` (log to stderr), `-l level` (default ERROR; INFO shows sftp-server's `open`,
//! `close`, `rename` ... lines, VERBOSE adds `opendir`, `mkdir`, `remove` ...), `-f
//! facility` (syslog facility, default AUTH), `-R` (read-only), `-u umask`, `-h`,
//! `-p`/`-P` (requests allowed or denied, by OpenSSH's names) and `-Q requests`.
//! `oxssh-sftp-server` logs to stderr with `-e`, otherwise to syslog with the `-f`
//! facility, as sftp-server does. As `internal-sftp` the log lines go to stderr as plain
//! messages, which oxsshd reads into its own log; when that log is syslog they carry
//! the `-f` facility (oxsshd's `SyslogFacility` otherwise), as sshd's internal-sftp.

use std::ffi::OsString;
use std::path::PathBuf;

use oxssh_config::sshd::SyslogFacility;
use oxssh_sftp::server::{serve, LocalFs, Server, ServerOptions, REQUEST_NAMES};

use crate::syslog::Syslog;

const USAGE: &str = "usage: oxssh-sftp-server [-ehR] [-d start_directory] [-f log_facility] \
[-l log_level]\n\t[-P denied_requests] [-p allowed_requests] [-u umask]\n       \
oxssh-sftp-server -Q protocol_feature\n";

/// What the command line asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Flags {
    stderr_log: bool,
    level: Option<String>,
    /// `-f`: the syslog facility.
    facility: Option<SyslogFacility>,
    start_dir: Option<String>,
    read_only: bool,
    umask: Option<u32>,
    allowed: Option<Vec<String>>,
    denied: Vec<String>,
    /// `-Q requests`: print the request names and exit.
    query: bool,
}

fn parse(args: Vec<OsString>) -> Result<Flags, String> {
    use lexopt::prelude::*;
    let mut flags = Flags::default();
    let mut parser = lexopt::Parser::from_args(args);
    let value = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| "argument is not UTF-8".to_owned())
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('e') => flags.stderr_log = true,
            Short('R') => flags.read_only = true,
            Short('l') => {
                let level = value(&mut parser)?;
                if level_filter(&level).is_none() {
                    return Err(format!("Invalid log level \"{level}\""));
                }
                flags.level = Some(level);
            }
            Short('f') => {
                let name = value(&mut parser)?;
                match SyslogFacility::parse(&name) {
                    Some(f) => flags.facility = Some(f),
                    // sftp-server says so and goes on with the default.
                    None => eprintln!("Invalid log facility \"{name}\""),
                }
            }
            Short('d') => flags.start_dir = Some(value(&mut parser)?),
            Short('u') => {
                let text = value(&mut parser)?;
                let mask = u32::from_str_radix(&text, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| format!("Invalid umask \"{text}\""))?;
                flags.umask = Some(mask);
            }
            Short('h') => return Err(String::new()),
            Short(c @ ('p' | 'P')) => {
                let list = value(&mut parser)?;
                let names: Vec<String> = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = names.iter().find(|n| !REQUEST_NAMES.contains(&n.as_str())) {
                    return Err(format!("Unknown request \"{bad}\""));
                }
                if c == 'p' {
                    flags.allowed = Some(names);
                } else {
                    flags.denied = names;
                }
            }
            Short('Q') => {
                let what = value(&mut parser)?;
                if what != "requests" {
                    return Err(format!("Unknown query type \"{what}\""));
                }
                flags.query = true;
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(flags)
}

fn level_filter(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "QUIET" | "FATAL" => "off",
        "ERROR" => "error",
        "INFO" => "info,verbose=off",
        "VERBOSE" => "info",
        "DEBUG" | "DEBUG1" => "debug",
        "DEBUG2" | "DEBUG3" => "trace",
        _ => return None,
    })
}

/// `%d`, `%u` and `%%` in a start directory.
fn expand_start_dir(template: &str, home: &str, user: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some(other) => out.push(other),
            None => out.push('%'),
        }
    }
    out
}

/// `oxssh-sftp-server`: serves one session on stdin/stdout and returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    run(args, false)
}

/// oxsshd's `internal-sftp`: as [`main`], its log lines on stderr for oxsshd's log.
pub fn internal_main(args: Vec<OsString>) -> i32 {
    run(args, true)
}

fn run(args: Vec<OsString>, internal: bool) -> i32 {
    // oxsshd's ChrootDirectory: started as root outside the jail (see
    // `oxssh_os::jail`); look the user up while /etc/passwd is still in reach, then
    // enter the jail before anything else.
    let confinement = match oxssh_os::Confinement::take_from_env() {
        Ok(c) => c,
        Err(message) => {
            eprintln!("internal-sftp: {message}");
            return 1;
        }
    };
    let uid = confinement
        .as_ref()
        .map_or_else(|| nix::unistd::getuid().as_raw(), |c| c.uid);
    let me = oxssh_os::SystemUser::by_uid(uid).ok().flatten();
    if let Some(confinement) = confinement {
        if let Err(message) = confinement.enter() {
            eprintln!("internal-sftp: {message}");
            return 1;
        }
    }
    let flags = match parse(args) {
        Ok(flags) => flags,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("oxssh-sftp-server: {message}");
            }
            eprint!("{USAGE}");
            return 1;
        }
    };
    if flags.query {
        for name in REQUEST_NAMES {
            println!("{name}");
        }
        return 0;
    }
    let filter = flags
        .level
        .as_deref()
        .and_then(level_filter)
        .unwrap_or("error");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(std::io::stderr);
    if internal {
        // Plain messages: oxsshd adds its own time and level.
        let _ = builder
            .without_time()
            .with_level(false)
            .with_target(false)
            .try_init();
    } else if flags.stderr_log {
        let _ = builder.try_init();
    } else {
        let syslog = Syslog::new(
            "oxssh-sftp-server",
            flags.facility.unwrap_or(SyslogFacility::Auth),
        );
        let _ = builder
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_writer(syslog)
            .try_init();
    }
    if let Some(mask) = flags.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    if let Some(template) = &flags.start_dir {
        let home = me
            .as_ref()
            .map(|u| u.home.display().to_string())
            .unwrap_or_default();
        let user = me.as_ref().map(|u| u.name.clone()).unwrap_or_default();
        let dir = PathBuf::from(expand_start_dir(template, &home, &user));
        if let Err(e) = std::env::set_current_dir(&dir) {
            tracing::error!("chdir to \"{}\" failed: {e}", dir.display());
        }
    }
    // sftp-server's words; the client's address when the environment has it (not
    // in a chroot jail, where the environment is cleared).
    let from = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|c| c.split(' ').next().map(|a| format!(" from [{a}]")))
        .unwrap_or_default();
    let who = me.map(|u| u.name).unwrap_or_default();
    tracing::info!("session opened for local user {who}{from}");
    let mut server = Server::new(
        LocalFs::new(),
        ServerOptions {
            read_only: flags.read_only,
            allowed: flags.allowed,
            denied: flags.denied,
            ..ServerOptions::default()
        },
    );
    match serve(
        &mut server,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    ) {
        Ok(()) => {
            tracing::info!("session closed for local user {who}{from}");
            0
        }
        Err(e) => {
            tracing::error!("session ended: {e}");
            1
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn sftp_server_flags_parse_as_openssh_does() {
        let flags = parse(args(&[
            "-e", "-l", "DEBUG3", "-R", "-u", "027", "-d", "%d/x",
        ]))
        .unwrap();
        assert!(flags.stderr_log && flags.read_only);
        assert_eq!(flags.umask, Some(0o27));
        assert_eq!(flags.start_dir.as_deref(), Some("%d/x"));
        assert_eq!(
            parse(args(&["-f", "local3"])).unwrap().facility,
            Some(SyslogFacility::Local3)
        );
        assert_eq!(parse(args(&["-f", "NOPE"])).unwrap().facility, None);
        assert!(parse(args(&["-l", "LOUD"])).is_err());
        assert!(parse(args(&["-u", "999"])).is_err());
        let lists = parse(args(&["-P", "write,remove", "-p", "open,read"])).unwrap();
        assert_eq!(lists.denied, ["write", "remove"]);
        assert_eq!(lists.allowed.unwrap(), ["open", "read"]);
        assert!(parse(args(&["-P", "nonsense"])).is_err());
        assert!(parse(args(&["-Q", "requests"])).unwrap().query);
    }

    #[test]
    fn start_directory_tokens_expand() {
        assert_eq!(
            expand_start_dir("%d/in/%u%%", "/home/a", "a"),
            "/home/a/in/a%"
        );
    }
}
