//! `oxscp`, a drop-in for OpenSSH's `scp` in its default SFTP mode: each operand local
//! or `[user@]host:path` (or `scp://[user@]host[:port][/path]`), copied through the
//! `sftp` subsystem with `oxsftp`'s transfer code (`-r` trees, `-p` modes and times, a
//! progress meter on terminals). Uploads (local sources, a remote target) run over one
//! connection, and so do downloads (a local target) from one remote; sources on several
//! hosts, or local ones among remote ones, are copied one by one as scp's `tolocal`
//! copies them (a connection per remote source, `cp` for a local one). `-O` speaks the
//! legacy SCP/RCP protocol instead ([`legacy`]). Copies between two remote paths go through
//! the local host's memory (`-3`, scp's default; [`through`]) or, with `-R`, are made by the
//! origin host's scp ([`origin`]); copies with every operand
//! local are the system's `cp`'s, as with scp ([`local`]).

mod legacy;
mod local;
mod origin;
mod program;
mod sftp_option;
mod through;

use std::ffi::OsString;

use crate::client::run::fail;
use crate::sftp::args::{positive, SshFlags};
use crate::sftp::{
    with_local_server, with_server_program, with_session, ProgramEnd, Session, Shell, Target,
    Transfers,
};
use program::SshProgram;

/// scp 9.2's usage text, with our program name.
const USAGE: &str = "\
usage: oxscp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path] [-F ssh_config]
            [-i identity_file] [-J destination] [-l limit] [-o ssh_option]
            [-P port] [-S program] [-X sftp_option] source ... target
";

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Args {
    /// The flags that are ssh's, as our options and as the ssh program's arguments.
    ssh: SshFlags,
    port: Option<u16>,
    preserve: bool,
    recursive: bool,
    quiet: bool,
    limit_kbps: Option<u64>,
    /// `-D`: a local SFTP server program instead of an SSH connection.
    direct: Option<String>,
    /// `-O`: the legacy SCP protocol.
    legacy: bool,
    /// `-R`: remote to remote by the origin host's scp.
    by_origin: bool,
    /// `-3`: remote to remote through this host.
    through_local: bool,
    /// `-S`: the ssh program to connect through instead of our own connection.
    program: Option<String>,
    /// `-A`: forward the agent (only through a `-S` program).
    forward_agent: bool,
    /// `-X buffer=`: bytes per READ or WRITE.
    buffer: Option<u32>,
    /// `-X nrequests=`: requests in flight.
    requests: Option<usize>,
    /// `-T`: no strict check of the names a legacy source sends.
    no_name_check: bool,
    verbose: bool,
    operands: Vec<String>,
}

/// Why a command line is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// Print the message (if any) and the usage; status 1.
    Usage(String),
    /// scp's fatal(): the message alone; status 255.
    Fatal(String),
}

#[cfg(test)]
impl Refusal {
    fn text(&self) -> &str {
        match self {
            Refusal::Usage(text) | Refusal::Fatal(text) => text,
        }
    }
}

impl From<String> for Refusal {
    fn from(text: String) -> Self {
        Refusal::Usage(text)
    }
}

fn parse(argv: Vec<OsString>) -> Result<Args, Refusal> {
    use lexopt::prelude::*;
    let mut args = Args::default();
    let mut verbose = 0u8;
    let mut parser = lexopt::Parser::from_args(argv);
    let text = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| "argument is not UTF-8".to_owned())
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short(c) if SshFlags::FLAGS.contains(c) => args.ssh.take(c, &mut parser)?,
            Short('B') => {
                args.ssh.options.push("BatchMode=yes".into());
                args.ssh.args.push("-oBatchmode=yes".into());
            }
            Short('A') => {
                args.forward_agent = true;
                args.ssh.options.push("ForwardAgent=yes".into());
                args.ssh.args.push("-A".into());
            }
            Short('p') => args.preserve = true,
            Short('q') => {
                args.quiet = true;
                args.ssh.args.push("-q".into());
            }
            Short('r') => args.recursive = true,
            Short('s') => args.legacy = false,
            Short('T') => args.no_name_check = true,
            Short('v') => {
                verbose = verbose.saturating_add(1);
                args.ssh.args.push("-v".into());
            }
            Short('P') => {
                args.port = Some(positive(&text(&mut parser)?, "Bad port \"{}\"")?);
            }
            Short('l') => {
                args.limit_kbps = Some(positive(&text(&mut parser)?, "Invalid limit \"{}\"")?);
            }
            Short('O') => args.legacy = true,
            Short('D') => args.direct = Some(text(&mut parser)?),
            Short('3') => args.through_local = true,
            Short('S') => args.program = Some(text(&mut parser)?),
            Short('X') => match sftp_option::parse(&text(&mut parser)?) {
                Ok(sftp_option::SftpOption::Buffer(n)) => args.buffer = Some(n),
                Ok(sftp_option::SftpOption::Requests(n)) => args.requests = Some(n),
                Err(message) => return Err(Refusal::Fatal(message)),
            },
            Short('R') => args.by_origin = true,
            Value(v) => args.operands.push(
                v.into_string()
                    .map_err(|_| "operand is not UTF-8".to_owned())?,
            ),
            other => return Err(Refusal::Usage(other.unexpected().to_string())),
        }
    }
    if args.operands.len() < 2 {
        return Err(Refusal::Usage(String::new()));
    }
    args.verbose = verbose > 0;
    if !args.forward_agent {
        // As scp's `-oForwardAgent=no` after the flags.
        args.ssh.options.push("ForwardAgent=no".into());
    }
    if args.legacy && args.direct.is_some() {
        return Err(Refusal::Usage(
            "-D needs SFTP mode; it cannot be used with -O".into(),
        ));
    }
    if args.quiet {
        args.ssh.options.push("LogLevel=QUIET".into());
    } else if verbose > 0 {
        args.ssh.options.push("LogLevel=DEBUG1".into());
    }
    Ok(args)
}

/// A remote operand.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remote {
    user: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
}

/// Splits `[user@]host:path` and `scp://[user@]host[:port][/path]`; `None` for a local
/// path (no colon before the first slash, or a leading colon), as scp decides.
fn remote(operand: &str) -> Option<Remote> {
    if let Some(rest) = operand.strip_prefix("scp://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (rest.get(..i)?, rest.get(i + 1..)?.to_owned()),
            None => (rest, String::new()),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(inner) => {
                let (h, after) = inner.split_once(']')?;
                (
                    h.to_owned(),
                    after.strip_prefix(':').and_then(|p| p.parse().ok()),
                )
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse().ok()?)),
                None => (hostport.to_owned(), None),
            },
        };
        return Some(Remote {
            user,
            host,
            port,
            path,
        });
    }
    if operand.starts_with(':') {
        return None;
    }
    let (user, rest) = match operand.split_once('@') {
        Some((u, r)) if !u.contains('/') && !u.contains(':') => (Some(u.to_owned()), r),
        _ => (None, operand),
    };
    let (host, path) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        (h.to_owned(), after.strip_prefix(':')?.to_owned())
    } else {
        let colon = rest.find(':')?;
        if rest.get(..colon)?.contains('/') {
            return None;
        }
        (
            rest.get(..colon)?.to_owned(),
            rest.get(colon + 1..)?.to_owned(),
        )
    };
    Some(Remote {
        user,
        host,
        port: None,
        path,
    })
}

/// The program: returns the exit status.
pub fn main() -> u8 {
    let args = match parse(std::env::args_os().skip(1).collect()) {
        Ok(args) => args,
        Err(Refusal::Fatal(message)) => {
            eprint!("scp: {message}\r\n");
            return 255;
        }
        Err(Refusal::Usage(message)) => {
            if !message.is_empty() {
                eprintln!("oxscp: {message}");
            }
            eprint!("{USAGE}");
            return 1;
        }
    };
    let Some((target_operand, sources)) = args.operands.split_last() else {
        eprint!("{USAGE}");
        return 1;
    };
    let target_remote = remote(target_operand);
    let source_remotes: Vec<Option<Remote>> = sources.iter().map(|s| remote(s)).collect();
    match (&target_remote, source_remotes.iter().any(Option::is_some)) {
        // -3 wins over -R, as with scp.
        (Some(to), true) if args.by_origin && !args.through_local => {
            origin::run(&args, sources, &source_remotes, to)
        }
        (Some(to), true) if args.legacy => {
            legacy::through_local(&args, legacy_flags(&args), sources, &source_remotes, to)
        }
        // Through this host whether or not -3 is given: scp's default since OpenSSH 8.7
        // (its -R, the origin host copying to the target, is taken above).
        (Some(to), true) => through::run(&args, sources, &source_remotes, to),
        (Some(to), false) => transfer(&args, to, true, sources, &source_remotes, target_operand),
        (None, true) => to_local(&args, sources, &source_remotes, target_operand),
        (None, false) => {
            let (recursive, preserve) = (args.recursive, args.preserve);
            local::copy(recursive, preserve, args.verbose, sources, target_operand)
        }
    }
}

/// Copies `sources`, some remote, to the local `target`. Sources all on one remote are
/// one connection; otherwise, as scp's `tolocal`, each source is copied on its own: a
/// local one by `cp`, a remote one over a connection of its own.
fn to_local(args: &Args, sources: &[String], remotes: &[Option<Remote>], target: &str) -> u8 {
    if let Some(Some(first)) = remotes.first() {
        let same_remote = |r: &Option<Remote>| {
            r.as_ref().is_some_and(|r| {
                r.host == first.host && r.user == first.user && r.port == first.port
            })
        };
        if remotes.iter().all(same_remote) {
            return transfer(args, first, false, sources, remotes, target);
        }
    }
    if sources.len() > 1 {
        if let Err(code) = local::target_is_directory(target) {
            return code;
        }
    }
    let mut code = 0;
    for (source, remote) in sources.iter().zip(remotes) {
        let one = std::slice::from_ref(source);
        let copied = match remote {
            Some(r) => transfer(args, r, false, one, std::slice::from_ref(remote), target),
            None => local::copy(args.recursive, args.preserve, args.verbose, one, target),
        };
        code = code.max(copied);
    }
    code
}

/// Uploads `sources` to `host` (`upload`), or downloads `sources` (all on `host`) to
/// `local_target`, over one connection.
fn transfer(
    args: &Args,
    host: &Remote,
    upload: bool,
    sources: &[String],
    source_remotes: &[Option<Remote>],
    local_target: &str,
) -> u8 {
    let target = target_for(args, host);
    if args.legacy {
        let flags = legacy_flags(args);
        let remote_paths: Vec<String> = source_remotes
            .iter()
            .map(|r| r.as_ref().map_or_else(String::new, |r| r.path.clone()))
            .collect();
        // Up: every source to the remote target; down: each remote path to ours.
        let (paths, to) = if upload {
            (sources, host.path.as_str())
        } else {
            (remote_paths.as_slice(), local_target)
        };
        if let Some(program) = &args.program {
            // The remote command follows its arguments.
            let program = SshProgram::new(args, program, host, false);
            let Ok(rt) = crate::sftp::runtime() else {
                return 1;
            };
            let via = legacy::Via::Program(&program);
            let code = rt.block_on(legacy::copy(via, flags, upload, paths, to));
            rt.shutdown_background();
            return code;
        }
        return crate::sftp::with_client(&target, |client, _| async move {
            legacy::copy(legacy::Via::Client(&client), flags, upload, paths, to).await
        });
    }
    let transfers = Transfers {
        preserve: args.preserve,
        recursive: args.recursive,
        resume: false,
        fsync: false,
    };
    let progress = shows_progress(args);
    let copy = |sftp: Session, _name: String| {
        copy(
            sftp,
            Copy {
                transfers,
                buffer: args.buffer,
                requests: args.requests,
                progress,
                limit_kbps: args.limit_kbps,
                upload,
                remote_target: host.path.clone(),
                sources,
                source_remotes,
                local_target,
            },
        )
    };
    match (&args.direct, &args.program) {
        (Some(command), _) => with_local_server(command, &SCP_END, copy),
        (None, Some(program)) => {
            let program = SshProgram::new(args, program, host, true);
            program.announce(args.verbose, "", "sftp");
            with_server_program(
                &program.path,
                &program.argv,
                host.host.clone(),
                &SCP_END,
                copy,
            )
        }
        (None, None) => with_session(&target, copy),
    }
}

/// What scp writes when its connection ends before the server answers (mostly).
const SCP_CLOSED: &str = "scp: Connection closed\r\n";

/// scp's: its server program's (`-S`, `-D`) exit status counts.
const SCP_END: ProgramEnd = ProgramEnd {
    closed: SCP_CLOSED,
    status_counts: true,
};

/// What a legacy (`-O`) transfer is asked for.
fn legacy_flags(args: &Args) -> legacy::Flags {
    legacy::Flags {
        recursive: args.recursive,
        preserve: args.preserve,
        verbose: args.verbose,
        no_name_check: args.no_name_check,
        progress: shows_progress(args),
        limit_kbps: args.limit_kbps,
        forward_agent: args.forward_agent,
    }
}

/// Whether meters are drawn: stdout is a terminal and no `-q`, as scp decides.
fn shows_progress(args: &Args) -> bool {
    !args.quiet && nix::unistd::isatty(std::io::stdout()).unwrap_or(false)
}

/// The connection settings for `remote`'s host.
fn target_for(args: &Args, remote: &Remote) -> Target {
    Target {
        host: remote.host.clone(),
        user: remote.user.clone(),
        port: args.port.or(remote.port),
        identity_files: args.ssh.identity_files.clone(),
        options: args.ssh.options.clone(),
        config_file: args.ssh.config_file.clone(),
        subsystem: None,
    }
}

/// What one run copies.
struct Copy<'a> {
    transfers: Transfers,
    /// `-X buffer=` and `-X nrequests=`.
    buffer: Option<u32>,
    requests: Option<usize>,
    progress: bool,
    limit_kbps: Option<u64>,
    upload: bool,
    remote_target: String,
    sources: &'a [String],
    source_remotes: &'a [Option<Remote>],
    local_target: &'a str,
}

async fn copy(mut sftp: Session, c: Copy<'_>) -> u8 {
    sftp.set_transfer(c.buffer, c.requests);
    let mut shell = match Shell::start(sftp, c.transfers, true, c.progress, c.limit_kbps).await {
        Ok(shell) => shell,
        Err(message) => return fail(&[format!("scp: {message}")]),
    };
    shell.speak_as_scp();
    let mut code = 0;
    for (source, remote_source) in c.sources.iter().zip(c.source_remotes) {
        let result = if c.upload {
            let dest = if c.remote_target.is_empty() {
                "."
            } else {
                c.remote_target.as_str()
            };
            shell.put(source, Some(dest), c.transfers).await
        } else {
            let path = remote_source.as_ref().map_or("", |r| r.path.as_str());
            let path = if path.is_empty() { "." } else { path };
            shell.get(path, Some(c.local_target), c.transfers).await
        };
        if let Err(message) = result {
            if !message.is_empty() {
                eprintln!("scp: {message}");
            }
            // As scp: a local source that is not there is fatal (255), other failures 1.
            let missing = c.upload
                && !source.contains(['*', '?'])
                && std::fs::symlink_metadata(source).is_err();
            code = if missing { 255 } else { code.max(1) };
            if shell.lost {
                return 255;
            }
        }
    }
    code
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operands_are_remote_as_scp_decides() {
        let r = remote("u@h:dir/f").unwrap();
        assert_eq!(
            (r.user.as_deref(), r.host.as_str(), r.path.as_str()),
            (Some("u"), "h", "dir/f")
        );
        assert_eq!(remote("h:").unwrap().path, "");
        assert_eq!(remote("[::1]:x").unwrap().host, "::1");
        assert!(remote("./a:b").is_none());
        assert!(remote("plain").is_none());
        assert!(remote(":odd").is_none());
        let r = remote("scp://u@h:2200/p").unwrap();
        assert_eq!((r.port, r.path.as_str()), (Some(2200), "p"));
    }

    #[test]
    fn legacy_flags_parse_and_what_needs_sftp_is_refused_by_name() {
        let argv = |l: &[&str]| l.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(parse(argv(&["-O", "a", "h:b"])).unwrap().legacy);
        let paced = parse(argv(&["-O", "-l", "10", "-A", "a", "h:b"])).unwrap();
        assert_eq!((paced.limit_kbps, paced.forward_agent), (Some(10), true));
        assert!(parse(argv(&["-O", "-D", "/x", "a", "h:b"]))
            .unwrap_err()
            .text()
            .contains("-O"));
        let x = parse(argv(&["-X", "buffer=4k", "-X", "nrequests=9", "a", "h:b"])).unwrap();
        assert_eq!((x.buffer, x.requests), (Some(4096), Some(9)));
        assert_eq!(
            parse(argv(&["-X", "what", "a", "h:b"])).unwrap_err(),
            Refusal::Fatal("Invalid -X option".into())
        );
        assert!(parse(argv(&["-3", "h:a", "g:b"])).unwrap().through_local);
        assert!(parse(argv(&["-3", "-O", "h:a", "g:b"])).unwrap().legacy);
        let a = parse(argv(&["-rpq", "-P", "2", "a", "h:b"])).unwrap();
        assert!(a.recursive && a.preserve && a.quiet);
        assert_eq!(a.port, Some(2));
        assert!(parse(argv(&["a"])).is_err());
    }
}
