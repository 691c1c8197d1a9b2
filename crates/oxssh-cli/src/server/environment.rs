//! What a session runs and with which environment, as sshd's `do_exec` and
//! `do_setup_env` decide: `ForceCommand` (then the key's `command=`) replaces what the
//! client asked for and keeps it in `SSH_ORIGINAL_COMMAND`; subsystems run their
//! configured command; the environment is the login basics, the connection
//! (`SSH_CLIENT`, `SSH_CONNECTION`), PAM's list, the client's accepted `env` requests,
//! `SetEnv`, and the key's `environment=` when `PermitUserEnvironment` allows it; and
//! whether an rc file runs first.

use std::ffi::OsString;
use std::path::Path;

use oxssh_config::sshd::PermitUserEnvironment;
use oxssh_keys::KeyOptions;
use oxssh_os::{login_env, SessionSpec};

use super::auth::{Candidate, Endpoints};
use super::conn::Run;
use super::rc::{self, RcPolicy};

/// The child to start for `run`, or `None` when nothing may run (an unknown or
/// not-yet-supported subsystem).
pub(super) fn session_spec(
    candidate: &Candidate,
    key_options: Option<&KeyOptions>,
    ends: Endpoints,
    run: &Run,
    client_env: &[(String, String)],
    pam_env: &[(OsString, OsString)],
    password_change: bool,
) -> Option<SessionSpec> {
    let config = &candidate.config;
    // Changing an expired password comes before any forced command.
    let forced = config
        .force_command
        .clone()
        .or_else(|| {
            key_options
                .and_then(|o| o.forced_command())
                .map(str::to_owned)
        })
        .filter(|_| !password_change);
    let (command, original) = match (forced, run) {
        (Some(forced), Run::Command(original)) => (Some(forced), Some(original.clone())),
        (Some(forced), _) => (Some(forced), None),
        (None, Run::Shell) => (None, None),
        (None, Run::Command(c)) => (Some(c.clone()), None),
        (None, Run::Subsystem(name)) => (Some(subsystem_command(candidate, name)?), None),
    };
    let user = &candidate.user;
    let spec = match &candidate.group_ids {
        Some(groups) => Ok(SessionSpec::with_groups(user.clone(), groups.clone())),
        None => SessionSpec::new(user.clone()),
    };
    let mut spec = match spec {
        Ok(spec) => spec,
        Err(e) => {
            tracing::error!("cannot prepare a session for {}: {e}", user.name);
            return None;
        }
    };
    let jail = match &config.chroot_directory {
        Some(template) => Some(chroot_directory(template, user)?),
        None => None,
    };
    if let Some(command) = command {
        spec = match internal_sftp_args(&command) {
            Some(args) => {
                // oxsshd's own binary, started as `internal-sftp` in the session's
                // child (as the user): see `crate::sftp_server`. Through /proc/self/exe,
                // resolved in the forked child: still the running binary after the file
                // was replaced by an upgrade.
                spec.program(SELF_EXE, super::INTERNAL_SFTP, args)
            }
            None => spec.command(command),
        };
    }
    if let Some(root) = jail {
        // No rc files in a jail: the launcher that runs them lives outside it.
        spec = spec.chroot(root);
    } else if !password_change {
        let policy = RcPolicy {
            permit_user_rc: config.permit_user_rc,
            key_allows: key_options.is_none_or(KeyOptions::user_rc_allowed),
            admin_forced_command: config.force_command.is_some(),
            subsystem: matches!(run, Run::Subsystem(_)),
        };
        let rc = rc::choose(policy, Path::new(&user.home), Path::new(rc::SYSTEM_RC));
        if let Some(launcher) = rc.and_then(rc::launcher) {
            spec = spec.launcher(launcher);
        }
    }
    let peer = ends.peer;
    let local = ends.local;
    spec = spec
        .envs(login_env(user))
        .env(
            "SSH_CLIENT",
            format!("{} {} {}", peer.ip(), peer.port(), local.port()),
        )
        .env(
            "SSH_CONNECTION",
            format!(
                "{} {} {} {}",
                peer.ip(),
                peer.port(),
                local.ip(),
                local.port()
            ),
        );
    if let Ok(tz) = std::env::var("TZ") {
        spec = spec.env("TZ", tz);
    }
    if let Some(original) = original {
        spec = spec.env("SSH_ORIGINAL_COMMAND", original);
    }
    spec = spec.envs(pam_env.iter().cloned());
    spec = spec.envs(client_env.iter().cloned());
    for item in &config.set_env {
        if let Some((name, value)) = item.split_once('=') {
            spec = spec.env(name, value);
        }
    }
    if let Some(options) = key_options {
        for (name, value) in options.environment_vars() {
            if user_environment_allowed(&config.permit_user_environment, name) {
                spec = spec.env(name, value);
            }
        }
    }
    Some(spec)
}

/// What a session runs when the password expired (sshd's `do_pwchange`): on a pty,
/// `passwd`; without one, only the explanation; either way the session then ends.
pub(super) fn password_change_command(on_pty: bool) -> String {
    let warning = "echo 'WARNING: Your password has expired.' >&2";
    if on_pty {
        format!(
            "{warning}; echo 'You must change your password now and login again!' >&2; \
             exec passwd"
        )
    } else {
        format!("{warning}; echo 'Password change required but no TTY available.' >&2; exit 1")
    }
}

/// The configured command for subsystem `name`.
fn subsystem_command(candidate: &Candidate, name: &str) -> Option<String> {
    let Some(subsystem) = candidate.config.subsystems.iter().find(|s| s.name == name) else {
        tracing::info!(
            "subsystem request for {name} by user {} failed, subsystem not found",
            candidate.user.name
        );
        return None;
    };
    Some(subsystem.command.clone())
}

/// The jail for `user` from `ChrootDirectory`'s `template`, checked as sshd's
/// `safely_chroot` checks it (every component root-owned, not group- or
/// other-writable). `None` after logging sshd's message: the session fails, as sshd's
/// `fatal` in the session child ends it.
fn chroot_directory(template: &str, user: &oxssh_os::SystemUser) -> Option<std::path::PathBuf> {
    let home = user.home.to_string_lossy();
    let checked =
        oxssh_os::expand_chroot_tokens(template, &home, &user.name, user.uid).and_then(|path| {
            oxssh_os::check_chroot_path(Path::new(&path))?;
            Ok(path)
        });
    match checked {
        Ok(path) => {
            tracing::info!("Changed root directory to \"{path}\"");
            Some(path.into())
        }
        Err(message) => {
            tracing::error!("fatal: {message}");
            None
        }
    }
}

/// The running binary, as the kernel knows it.
const SELF_EXE: &str = "/proc/self/exe";

/// The arguments of an `internal-sftp [flags]` command (`Subsystem` or `ForceCommand`),
/// `None` for any other command.
fn internal_sftp_args(command: &str) -> Option<Vec<OsString>> {
    let mut words = command.split_whitespace();
    (words.next() == Some(super::INTERNAL_SFTP)).then(|| words.map(OsString::from).collect())
}

fn user_environment_allowed(permit: &PermitUserEnvironment, name: &str) -> bool {
    match permit {
        PermitUserEnvironment::No => false,
        PermitUserEnvironment::Yes => true,
        PermitUserEnvironment::Allow(patterns) => {
            oxssh_config::match_pattern_list(name, patterns, false).is_match()
        }
    }
}
