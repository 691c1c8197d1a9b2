//! scp's ssh program (`-S`): the command line scp runs it with to reach one remote, and
//! the line `-v` prints before each run.

use super::{Args, Remote};

/// One run of the ssh program for one remote, the remote command aside.
pub(super) struct SshProgram {
    pub path: String,
    /// The arguments before the remote command (for SFTP, the `sftp` subsystem's
    /// name is the last of them).
    pub argv: Vec<String>,
    host: String,
    user: Option<String>,
}

impl SshProgram {
    /// The program `path` reaching `remote`'s host: scp's fixed options, the ssh flags
    /// given, the port and user, the host, and the `sftp` subsystem (`sftp`) or
    /// nothing (the legacy protocol's command goes last).
    pub(super) fn new(args: &Args, path: &str, remote: &Remote, sftp: bool) -> Self {
        let mut argv: Vec<String> = [
            "-x",
            "-oPermitLocalCommand=no",
            "-oClearAllForwardings=yes",
            "-oRemoteCommand=none",
            "-oRequestTTY=no",
        ]
        .map(str::to_owned)
        .to_vec();
        argv.extend(args.ssh.args.iter().cloned());
        // After a -A, which ssh takes first (scp 9.2 adds it either way).
        argv.push("-oForwardAgent=no".into());
        if let Some(port) = args.port.or(remote.port) {
            argv.extend(["-p".into(), port.to_string()]);
        }
        if let Some(user) = &remote.user {
            argv.extend(["-l".into(), user.clone()]);
        }
        if sftp {
            argv.push("-s".into());
        }
        argv.extend(["--".into(), remote.host.clone()]);
        if sftp {
            argv.push("sftp".into());
        }
        Self {
            path: path.to_owned(),
            argv,
            host: remote.host.clone(),
            user: remote.user.clone(),
        }
    }

    /// The second program of a legacy copy between two remotes (the sink's), which
    /// may not prompt: scp adds BatchMode before the host.
    pub(super) fn second(mut self) -> Self {
        // Our own `--`, the last one (an ssh flag's value could be another).
        if let Some(at) = self.argv.iter().rposition(|a| a == "--") {
            self.argv.insert(at, "-oBatchMode=yes".into());
        }
        self
    }

    /// With `-v`, scp's line before it runs the program for `command` (`sftp` for the
    /// subsystem); `nth` is "" or "2nd " (the sink of a legacy copy between remotes).
    pub(super) fn announce(&self, verbose: bool, nth: &str, command: &str) {
        if verbose {
            let user = self.user.as_deref().unwrap_or("(unspecified)");
            eprintln!(
                "Executing: {nth}program {} host {}, user {user}, command {command}",
                self.path, self.host
            );
        }
    }
}
