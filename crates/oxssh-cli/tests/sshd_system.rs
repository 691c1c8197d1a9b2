//! `oxsshd` as the system daemon (`-f sshd_config`, run as root) against OpenSSH's `ssh`:
//! a system user logs in by key and the session runs as them, in their home, with
//! sshd's environment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::client::assert_exit;
use support::openssh::{sshd_opts, Fixture};
use support::users::TEST_USER;

#[test]
fn a_system_user_logs_in_by_key_and_the_session_runs_as_them() {
    let Some(f) = Fixture::start_oxsshd(sshd_opts(&[])) else {
        return;
    };
    let out = f.openssh().run(
        "id -un; echo \"$HOME\"; pwd; echo \"$USER $LOGNAME $SHELL\"",
        b"",
    );
    assert_exit(&out, 0, &f.peer);
    assert_eq!(
        out.stdout,
        format!(
            "{TEST_USER}\n/tmp/{TEST_USER}-home\n/tmp/{TEST_USER}-home\n{TEST_USER} {TEST_USER} /bin/sh\n"
        )
    );
}
