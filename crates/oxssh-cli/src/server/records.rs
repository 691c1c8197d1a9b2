//! Login bookkeeping for pty sessions, as sshd's `do_login` does it: the "Last login"
//! line and the motd for an interactive login (not with a command, nor with
//! `~/.hushlogin`), then the utmp/wtmp/lastlog records; the logout record when the
//! session ends. The files are the system's (missing ones are skipped); a personal
//! server without the rights to write them just leaves them alone.

use std::net::IpAddr;

use oxssh_config::sshd::SshdConfig;
use oxssh_os::{format_last_login, LoginRecords, SystemUser};

/// The text shown before an interactive login shell: the last login, then the motd.
pub(super) fn greeting(config: &SshdConfig, user: &SystemUser, records: &LoginRecords) -> Vec<u8> {
    if user.home.join(".hushlogin").exists() {
        return Vec::new();
    }
    let mut text = Vec::new();
    if config.print_last_log {
        if let Ok(Some(last)) = records.last_login(user.uid) {
            text.extend_from_slice(format_last_login(&last).as_bytes());
            text.push(b'\n');
        }
    }
    if config.print_motd {
        if let Ok(motd) = std::fs::read("/etc/motd") {
            text.extend_from_slice(&motd);
        }
    }
    text
}

/// utmp/wtmp and lastlog entries for a session that started on `tty` (`pts/3`).
pub(super) fn login(records: &LoginRecords, pid: i32, tty: &str, user: &SystemUser, peer: IpAddr) {
    let host = peer.to_string();
    if let Err(e) = records.login(pid, tty, &user.name, &host, Some(peer)) {
        tracing::debug!("utmp/wtmp login record for {tty}: {e}");
    }
    let now = oxssh_os::login_records::unix_now();
    if let Err(e) = records.record_login(user.uid, tty, &host, now) {
        tracing::debug!("lastlog for {}: {e}", user.name);
    }
}

/// The logout record for the session on `tty`.
pub(super) fn logout(records: &LoginRecords, pid: i32, tty: &str) {
    if let Err(e) = records.logout(pid, tty) {
        tracing::debug!("utmp/wtmp logout record for {tty}: {e}");
    }
}
