//! `-R`: copies between two remote hosts made by the origin host, as scp's `-R`: for
//! each remote source, scp's ssh program (`-S`, else the `oxssh` beside us) logs in to
//! the source's host and runs `scp [-v] [-r] [-p] [-d] SOURCE [user@]host:path` there,
//! so the origin's own scp copies to the target (it must be able to log in there, with
//! its own keys or, after `-A`, the agent). Local sources among them are uploaded as
//! usual. The ssh program's arguments are scp 9.2's: `-x -oClearAllForwardings=yes -n`,
//! the ssh flags given (`-P` is not among them), the source's user, `--`, the host and
//! the command. Status 1 when any copy failed.

use std::process::{Command, Stdio};

use super::{local, transfer, Args, Remote};
use crate::client::proxy::sibling_oxssh;
use crate::strerror::strerror;

/// Copies every source to `to`; scp's exit status.
pub(super) fn run(args: &Args, sources: &[String], remotes: &[Option<Remote>], to: &Remote) -> u8 {
    let several = sources.len() > 1;
    let mut code = 0;
    for (source, remote) in sources.iter().zip(remotes) {
        let copied = match remote {
            None => transfer(
                args,
                to,
                true,
                std::slice::from_ref(source),
                std::slice::from_ref(remote),
                "",
            ),
            Some(origin) => by_origin(args, origin, to, several),
        };
        code = code.max(copied);
        if code == 255 {
            // A lost connection ends the run, as scp's fatal().
            break;
        }
    }
    code
}

/// Runs the origin's scp for one source: 0, or 1 when the ssh program failed.
fn by_origin(args: &Args, origin: &Remote, to: &Remote, several: bool) -> u8 {
    let program = args.program.clone().unwrap_or_else(sibling_oxssh);
    let argv = origin_command(args, origin, to, several);
    if args.verbose {
        eprintln!("{}", local::executing(&program, &argv));
    }
    match Command::new(&program)
        .args(&argv)
        .stdin(Stdio::null())
        .status()
    {
        Ok(status) => u8::from(!status.success()),
        Err(e) => {
            eprintln!("exec {program}: {}", strerror(&e));
            1
        }
    }
}

/// The ssh program's arguments for copying `origin` to `to` from the origin's host.
fn origin_command(args: &Args, origin: &Remote, to: &Remote, several: bool) -> Vec<String> {
    let mut argv: Vec<String> = ["-x", "-oClearAllForwardings=yes", "-n"]
        .map(str::to_owned)
        .to_vec();
    argv.extend(args.ssh.args.iter().cloned());
    if let Some(port) = origin.port {
        argv.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = &origin.user {
        argv.extend(["-l".into(), user.clone()]);
    }
    argv.extend(["--".into(), origin.host.clone()]);
    let flags = [
        (args.verbose, " -v"),
        (args.recursive, " -r"),
        (args.preserve, " -p"),
        (several, " -d"),
    ];
    let command: String = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect();
    argv.push(format!("scp{command}"));
    argv.push(if origin.path.is_empty() {
        ".".into()
    } else {
        origin.path.clone()
    });
    let user = to
        .user
        .as_ref()
        .map_or_else(String::new, |u| format!("{u}@"));
    let host = if to.host.contains(':') {
        format!("[{}]", to.host)
    } else {
        to.host.clone()
    };
    argv.push(format!("{user}{host}:{}", to.path));
    argv
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_runs_scp_with_scps_arguments() {
        let argv = |list: &[&str]| {
            let args = super::super::parse(list.iter().map(Into::into).collect()).unwrap();
            let n = args.operands.len();
            let remote = |i: usize| super::super::remote(&args.operands[i]).unwrap();
            origin_command(&args, &remote(0), &remote(n - 1), n > 2).join(" ")
        };
        assert_eq!(
            argv(&[
                "-R", "-v", "-r", "-p", "-q", "-B", "-C", "-c", "x", "-P", "2", "u@h:/a", "v@g:/d"
            ]),
            "-x -oClearAllForwardings=yes -n -v -q -oBatchmode=yes -C -c x -l u -- h \
             scp -v -r -p /a v@g:/d"
        );
        assert_eq!(
            argv(&["-R", "-J", "j", "-A", "-S", "s", "h:", "h:/b", "g:/d"]),
            "-x -oClearAllForwardings=yes -n -J j -A -- h scp -d . g:/d"
        );
    }
}
