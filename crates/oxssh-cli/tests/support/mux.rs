//! Connection-sharing test plumbing: a master started and waited for, its control path,
//! and the server's login count (one connection shared means one login).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::{spawn_quiet, wait_until, Running, Ssh};
use super::openssh::Fixture;

/// How long a master may take to listen.
pub const START_LIMIT: Duration = Duration::from_secs(20);

/// Logins the server accepted so far.
pub fn logins(f: &Fixture) -> usize {
    f.peer.log().matches("Accepted publickey").count()
}

/// The control socket's path in the fixture's client directory.
pub fn control_path(f: &Fixture) -> PathBuf {
    f.client.path().join("cm")
}

/// Starts `master` (`-M -N -S path`) and waits for its socket.
pub fn start_master(master: Ssh, path: &Path) -> Running {
    let path_arg = path.to_str().unwrap().to_owned();
    let mut cmd = master.args(["-M", "-N", "-S", &path_arg]).command(None);
    let running = spawn_quiet(&mut cmd);
    wait_until("the master's socket", START_LIMIT, || path.exists());
    running
}
