//! `-3` (scp's default for two remote operands): copies from remote sources to a remote
//! target through this host, streamed in memory from one SFTP session to the other
//! ([`oxssh_sftp::client::crossload`]): nothing is written to the local disk. As
//! OpenSSH's `throughlocal_sftp`: the destination is connected first, then each
//! source's host; one connection per distinct remote (user, host, port and options)
//! serves the whole run, whatever the order of the sources (`A:x B:y A:z` logs in to
//! A once), and a source on the destination's remote reads over a second SFTP session
//! on the destination's connection; wildcards expand on the source; directories need
//! `-r` and are copied level by level; `-p` sets modes and times. With `-S`, each
//! session is scp's ssh program running the `sftp` subsystem (one per remote, the
//! destination's included). Messages and exit codes are scp's: 1 when a file failed or
//! an ssh program did not exit with 0, 255 when a connection could not be made or was
//! lost.

use oxssh_sftp::client::{crossload, Side, WRITE_TRUNCATE};
use oxssh_sftp::codec::Attrs;

use super::program::SshProgram;
use super::{target_for, Args, Remote, SCP_CLOSED};
use crate::client::run::fail;
use crate::sftp::progress::Meter;
use crate::sftp::shell::{base_name, join, show, split_last};
use crate::sftp::tree::{too_deep, MAX_DIR_DEPTH};
use crate::sftp::{
    open_sftp, program_ended, runtime, spawn_server, Prepared, Session, Shell, Target, Transfers,
};

/// How a copy went: `Err(true)` when a connection was lost (status 255).
type Copied = Result<(), bool>;

/// Runs the copy; the exit status.
pub(super) fn run(args: &Args, sources: &[String], remotes: &[Option<Remote>], to: &Remote) -> u8 {
    // Every host's configuration first: a bad one fails before anything is copied.
    let dest = match Dialer::new(args, to) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let mut origins: Vec<Option<Dialer>> = Vec::new();
    for remote in remotes {
        match remote.as_ref().map(|r| Dialer::new(args, r)) {
            Some(Err(code)) => return code,
            Some(Ok(d)) => origins.push(Some(d)),
            None => origins.push(None),
        }
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = rt.block_on(copy_all(args, sources, remotes, &origins, &dest, to));
    rt.shutdown_background();
    code
}

/// How a remote is reached: our own connection (its configuration resolved), or scp's
/// ssh program (`-S`) with the arguments scp gives it, one program per session.
enum Dialer {
    Ours(Box<Prepared>),
    Program(SshProgram),
}

impl Dialer {
    fn new(args: &Args, remote: &Remote) -> Result<Self, u8> {
        match &args.program {
            Some(program) => Ok(Self::Program(SshProgram::new(args, program, remote, true))),
            None => Prepared::resolve(&target_for(args, remote)).map(|p| Self::Ours(Box::new(p))),
        }
    }

    /// Opens an SFTP session on a new connection, as a [`Shell`]; with `-A`, our
    /// connection serves the agent to the sessions that ask for it.
    async fn connect(&self, args: &Args) -> Result<(Link, Shell), u8> {
        match self {
            Self::Ours(prepared) => {
                let client = prepared.connect_serving_agent().await?;
                match session(&client, args).await {
                    Ok(shell) => Ok((Link::Client(client), shell)),
                    Err(code) => {
                        client.disconnect().await;
                        Err(code)
                    }
                }
            }
            Self::Program(program) => {
                program.announce(args.verbose, "", "sftp");
                let (child, sftp) = spawn_server(&program.path, &program.argv, SCP_CLOSED).await?;
                let shell = start(sftp, args).await?;
                Ok((Link::Program(child), shell))
            }
        }
    }
}

/// An open connection: ours, or the ssh program carrying one SFTP session.
enum Link {
    Client(oxssh::Client),
    Program(tokio::process::Child),
}

impl Link {
    /// Ends the connection (its sessions already dropped); false when the ssh program
    /// did not exit with 0, which scp counts as an error.
    async fn close(self) -> bool {
        match self {
            Self::Client(client) => {
                client.disconnect().await;
                true
            }
            Self::Program(child) => program_ended(child).await,
        }
    }
}

/// Opens an SFTP session on `client`'s connection, as a [`Shell`].
async fn session(client: &oxssh::Client, args: &Args) -> Result<Shell, u8> {
    start(open_sftp(client, None, args.forward_agent).await?, args).await
}

/// The [`Shell`] copying over `sftp` with the run's flags.
async fn start(mut sftp: Session, args: &Args) -> Result<Shell, u8> {
    sftp.set_transfer(args.buffer, args.requests);
    let progress = super::shows_progress(args);
    let transfers = Transfers {
        preserve: args.preserve,
        recursive: args.recursive,
        resume: false,
        fsync: false,
    };
    match Shell::start(sftp, transfers, true, progress, args.limit_kbps).await {
        Ok(mut shell) => {
            shell.speak_as_scp();
            Ok(shell)
        }
        Err(message) => Err(fail(&[format!("scp: {message}")])),
    }
}

/// A source remote's session, kept for the whole run.
struct Origin {
    /// The remote it serves (user, host, port, options).
    target: Target,
    /// Its own connection; `None` when it rides on the destination's.
    link: Option<Link>,
    shell: Shell,
}

/// The connections of a run: the destination's, and one per distinct source remote.
struct Connections {
    dest_target: Target,
    dest_link: Link,
    origins: Vec<Origin>,
}

impl Connections {
    /// The session for `target` (reached by `dialer`): the one already open, else a
    /// new one, on the destination's connection when `target` is the destination and
    /// that connection is ours (an ssh program carries one session).
    async fn origin(
        &mut self,
        target: Target,
        dialer: &Dialer,
        args: &Args,
    ) -> Result<&mut Shell, u8> {
        let at = match self.origins.iter().position(|o| o.target == target) {
            Some(at) => at,
            None => {
                let (link, shell) = match &self.dest_link {
                    Link::Client(client) if target == self.dest_target => {
                        (None, session(client, args).await?)
                    }
                    _ => {
                        let (link, shell) = dialer.connect(args).await?;
                        (Some(link), shell)
                    }
                };
                self.origins.push(Origin {
                    target,
                    link,
                    shell,
                });
                self.origins.len() - 1
            }
        };
        match self.origins.get_mut(at) {
            Some(origin) => Ok(&mut origin.shell),
            None => Err(255),
        }
    }

    /// Ends every connection (the destination's session already dropped); false when
    /// an ssh program did not exit with 0.
    async fn close(self) -> bool {
        let mut clean = true;
        for origin in self.origins {
            drop(origin.shell);
            if let Some(link) = origin.link {
                clean &= link.close().await;
            }
        }
        clean & self.dest_link.close().await
    }
}

async fn copy_all(
    args: &Args,
    sources: &[String],
    remotes: &[Option<Remote>],
    origins: &[Option<Dialer>],
    dest: &Dialer,
    to: &Remote,
) -> u8 {
    let (dest_link, mut dst) = match dest.connect(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut connections = Connections {
        dest_target: target_for(args, to),
        dest_link,
        origins: Vec::new(),
    };
    let target_text = if to.path.is_empty() { "." } else { &to.path };
    let target = dst.remote_path(target_text).await;
    let target_is_dir = dst.sftp.stat(&target).await.is_ok_and(|a| a.is_dir());
    let mut code = 0u8;
    for ((source, remote), dialer) in sources.iter().zip(remotes).zip(origins) {
        let (Some(remote), Some(dialer)) = (remote, dialer) else {
            // A local source: an ordinary upload.
            let upload = dst.put(source, Some(target_text), dst.defaults).await;
            if upload.is_err() {
                if dst.lost {
                    code = 255;
                    break;
                }
                code = code.max(1);
            }
            continue;
        };
        if !target_is_dir && sources.len() > 1 {
            eprintln!("scp: {target_text}: destination is not a directory");
            code = code.max(1);
            continue;
        }
        let src = match connections
            .origin(target_for(args, remote), dialer, args)
            .await
        {
            Ok(src) => src,
            Err(failed) => {
                code = failed;
                break;
            }
        };
        let path = if remote.path.is_empty() {
            "."
        } else {
            remote.path.as_str()
        };
        let copy = Copy {
            preserve: args.preserve,
            recursive: args.recursive,
        };
        match copy
            .source(src, &mut dst, path, &target, target_is_dir)
            .await
        {
            Ok(()) => {}
            Err(false) => code = code.max(1),
            Err(true) => {
                code = 255;
                break;
            }
        }
    }
    drop(dst);
    if !connections.close().await {
        code = code.max(1);
    }
    code
}

/// The flags a copy honours.
#[derive(Debug, Clone, Copy)]
struct Copy {
    preserve: bool,
    recursive: bool,
}

impl Copy {
    /// One source operand (wildcards expanded on its host) to `target`.
    async fn source(
        self,
        src: &mut Shell,
        dst: &mut Shell,
        path: &str,
        target: &[u8],
        target_is_dir: bool,
    ) -> Copied {
        let matches = match src.remote_glob(path).await {
            Ok(m) => m,
            Err(message) => {
                eprintln!("scp: {message}");
                return Err(true);
            }
        };
        if matches.is_empty() {
            eprintln!("scp: {path}: No such file or directory");
            return Err(false);
        }
        let mut result = Ok(());
        for (from, attrs) in matches {
            let to = if target_is_dir {
                join(target, split_last(&from).1)
            } else {
                target.to_vec()
            };
            let copied = if attrs.is_dir() && self.recursive {
                self.dir(src, dst, &from, &to, attrs, 0).await
            } else {
                self.file(src, dst, &from, &to, attrs).await
            };
            match copied {
                Ok(()) => {}
                Err(true) => return Err(true),
                Err(false) => result = Err(false),
            }
        }
        result
    }

    /// One regular file, streamed from `src` to `dst`.
    async fn file(
        self,
        src: &mut Shell,
        dst: &mut Shell,
        from: &[u8],
        to: &[u8],
        attrs: Attrs,
    ) -> Copied {
        if attrs.permissions.is_some() && !attrs.is_file() {
            let mark = if attrs.is_dir() { "/" } else { "" };
            eprintln!("scp: download \"{}{mark}\": not a regular file", show(from));
            return Err(false);
        }
        let source = match src
            .sftp
            .open(from, oxssh_sftp::client::READ, Attrs::default())
            .await
        {
            Ok(h) => h,
            Err(e) => return report(src, &format!("origin open \"{}\"", show(from)), &e),
        };
        // The new file gets the source's permission bits (and with -p its times).
        let created = Attrs {
            permissions: attrs.permissions.map(|p| p & 0o777),
            times: attrs.times.filter(|_| self.preserve),
            ..Attrs::default()
        };
        let dest = match dst.sftp.open(to, WRITE_TRUNCATE, created.clone()).await {
            Ok(h) => h,
            Err(e) => {
                let lost = src
                    .sftp
                    .close(source)
                    .await
                    .is_err_and(|e| e.status().is_none());
                let copied = report(dst, &format!("dest open \"{}\"", show(to)), &e);
                return if lost { Err(true) } else { copied };
            }
        };
        let size = attrs.size.unwrap_or(0);
        let name = base_name(from).display().to_string();
        let mut meter = Meter::new(&name, size, 0, dst.progress && size > 0, dst.limit_kbps);
        let mut moved = 0;
        let result = crossload(&mut src.sftp, &source, &mut dst.sftp, &dest, &mut |d| {
            moved = d;
            meter.update(d);
        })
        .await;
        if size > 0 {
            meter.finish(moved);
        }
        let closed_source = src.sftp.close(source).await;
        match result {
            Ok(_) => {
                let mut outcome = match closed_source {
                    Ok(()) => Ok(()),
                    Err(e) => report(src, &format!("close \"{}\"", show(from)), &e),
                };
                if self.preserve {
                    if let Err(e) = dst.sftp.fsetstat(&dest, created).await {
                        let _ = report::<()>(dst, &format!("fsetstat \"{}\"", show(to)), &e);
                    }
                }
                let closed = dst.sftp.close(dest).await;
                if let Err(e) = closed {
                    outcome = outcome.and(report(dst, &format!("close \"{}\"", show(to)), &e));
                }
                outcome
            }
            Err((side, e)) => {
                let (shell, what) = match side {
                    Side::Origin => (&mut *src, format!("read origin \"{}\"", show(from))),
                    Side::Dest => (&mut *dst, format!("write dest \"{}\"", show(to))),
                };
                let failed = report::<()>(shell, &what, &e);
                if src.lost || dst.lost {
                    return Err(true);
                }
                // No holes left at the destination: the partial file is emptied.
                let _ = dst.sftp.close(dest).await;
                if let Ok(h) = dst.sftp.open(to, WRITE_TRUNCATE, created).await {
                    let _ = dst.sftp.close(h).await;
                }
                failed
            }
        }
    }

    /// A directory and what is under it: made at the destination (writable by its
    /// owner while it fills), its entries copied, then its own mode (and times) set.
    async fn dir(
        self,
        src: &mut Shell,
        dst: &mut Shell,
        from: &[u8],
        to: &[u8],
        attrs: Attrs,
        depth: usize,
    ) -> Copied {
        if depth >= MAX_DIR_DEPTH {
            eprintln!("scp: {}", too_deep());
            return Err(false);
        }
        let mode = attrs.permissions.map_or(0o300, |p| p & 0o1777);
        let making = Attrs {
            permissions: Some(mode | 0o300),
            ..Attrs::default()
        };
        if dst.sftp.mkdir(to, making).await.is_err() {
            match dst.sftp.stat(to).await {
                Ok(a) if a.is_dir() => {}
                Ok(_) => {
                    eprintln!("scp: \"{}\" exists but is not a directory", show(to));
                    return Err(false);
                }
                Err(e) => return report(dst, &format!("stat remote \"{}\"", show(to)), &e),
            }
        }
        let entries = match src.sftp.read_dir(from).await {
            Ok(entries) => entries,
            Err(e) => {
                if e.status().is_none() {
                    return report(src, "readdir", &e);
                }
                eprintln!("scp: origin readdir \"{}\" failed", show(from));
                return Err(false);
            }
        };
        let mut result = Ok(());
        for entry in entries {
            if entry.filename == b"." || entry.filename == b".." {
                continue;
            }
            let from_path = join(from, &entry.filename);
            let to_path = join(to, &entry.filename);
            let mut entry_attrs = entry.attrs;
            if entry_attrs.is_symlink() {
                // Links are followed, as scp follows them.
                entry_attrs = match src.sftp.stat(&from_path).await {
                    Ok(a) => a,
                    Err(e) if e.status().is_none() => return report(src, "stat", &e),
                    Err(_) => continue,
                };
            }
            let copied = if entry_attrs.is_dir() {
                Box::pin(self.dir(src, dst, &from_path, &to_path, entry_attrs, depth + 1)).await
            } else if entry_attrs.is_file() {
                let copied = self.file(src, dst, &from_path, &to_path, entry_attrs).await;
                if copied == Err(false) {
                    eprintln!(
                        "scp: crossload \"{}\" to \"{}\" failed",
                        show(&from_path),
                        show(&to_path)
                    );
                }
                copied
            } else {
                eprintln!("scp: origin \"{}\": not a regular file", show(&from_path));
                Ok(())
            };
            match copied {
                Ok(()) => {}
                Err(true) => return Err(true),
                Err(false) => result = Err(false),
            }
        }
        let finished = Attrs {
            permissions: Some(mode),
            times: attrs.times,
            ..Attrs::default()
        };
        if let Err(e) = dst.sftp.setstat(to, finished).await {
            report::<()>(dst, &format!("remote setstat \"{}\"", show(to)), &e)?;
        }
        result
    }
}

/// Prints `what: error` as scp does; `Err(true)` when the session is gone.
fn report<T>(shell: &mut Shell, what: &str, e: &oxssh_sftp::Error) -> Result<T, bool> {
    let message = shell.error(what, e);
    eprintln!("scp: {message}");
    Err(shell.lost)
}
