//! `oxssh-copy-id`: install public keys in a host's `~/.ssh/authorized_keys`, a drop-in
//! for OpenSSH 9.2's `ssh-copy-id` script (same flags, messages, exit codes and remote
//! command), logging in through our `oxssh`.
//!
//! [`args`] reads the flags, [`ids`] picks the keys, [`remote`] runs the logins. As the
//! script, it first learns the server's software version from `oxssh -v`: keys for a
//! Dropbear server go to `/etc/dropbear/authorized_keys`. Not yet: `-s` (needs SFTP,
//! issue 7) and NetScreen firewalls (DSA keys only): both refused by name.

pub mod args;
pub mod ids;
pub mod remote;

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{ArgsError, Options};
use ids::KeySource;
use remote::{Probe, ServerKind, Target};

/// Every error of ssh-copy-id exits 1.
const EXIT_ERROR: u8 = 1;

/// Runs `oxssh-copy-id` with the process arguments.
pub fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    // Like the script's `$0`: the name as invoked.
    let prog = argv
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "oxssh-copy-id".to_owned());
    match run(&prog, argv.collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Prints the usage and gives the exit status.
fn usage(prog: &str) -> u8 {
    eprint!("{}", args::usage(prog));
    EXIT_ERROR
}

fn run(prog: &str, argv: Vec<std::ffi::OsString>) -> Result<(), u8> {
    let opts = match args::parse(argv) {
        Ok(opts) => opts,
        Err(ArgsError::Usage) => return Err(usage(prog)),
    };
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let default_pub = ids::default_pub_file(&home);
    let mut source = ids::from_agent();
    if let Some(identity) = &opts.identity {
        let file = identity
            .file
            .clone()
            .or_else(|| default_pub.as_ref().map(|p| p.display().to_string()));
        source = Some(use_id_file(prog, file.as_deref(), identity.forced_before)?);
    }
    if opts.identity_twice {
        println!("\n{prog}: ERROR: -i option must not be specified more than once\n");
        return Err(usage(prog));
    }
    let host = match opts.operands.as_slice() {
        [] => return Err(usage(prog)),
        [host] => host.clone(),
        more => {
            eprintln!(
                "{prog}: ERROR: Too many arguments.  Expecting a target hostname, got: {}\n",
                more.join(" ")
            );
            return Err(usage(prog));
        }
    };
    let source = or_default_file(prog, source, &opts, default_pub)?;
    let scratch = Scratch::create(&home).map_err(|_| {
        eprintln!("{prog}: ERROR: failed to create required temporary directory under ~/.ssh");
        EXIT_ERROR
    })?;
    let target = Target {
        ssh: remote::ssh_program(),
        args: target_args(&opts, &host),
    };
    let file = authorized_keys_file(prog, &target)?;
    let new_keys = if opts.forced {
        source.lines.clone()
    } else {
        filter_installed(prog, &target, &source, &scratch)?
    };
    if opts.dry_run {
        println!(
            "=-=-=-=-=-=-=-=\nWould have added the following key(s):\n\n{}\n=-=-=-=-=-=-=-=",
            new_keys.join("\n")
        );
        return Ok(());
    }
    let installed = if opts.sftp {
        target.install_sftp(&new_keys, file, &scratch.dir)
    } else {
        target.install(&new_keys, file)
    };
    match installed {
        Ok(true) => {}
        Ok(false) => return Err(EXIT_ERROR),
        Err(e) => {
            eprintln!(
                "{prog}: ERROR: cannot run {}: {}",
                target.ssh.display(),
                os_message(&e)
            );
            return Err(EXIT_ERROR);
        }
    }
    let ssh_name = target
        .ssh
        .file_name()
        .map_or_else(|| "oxssh".into(), |n| n.to_string_lossy());
    println!(
        "\nNumber of key(s) added: {}\n\n\
         Now try logging into the machine, with:   \"{ssh_name} {}\"\n\
         and check to make sure that only the key(s) you wanted were added.\n",
        new_keys.len(),
        quoted_opts(&opts, &host)
    );
    Ok(())
}

/// Without keys from the agent or `-i`: the newest `~/.ssh/id*.pub` if readable; no
/// key at all is an error.
fn or_default_file(
    prog: &str,
    source: Option<KeySource>,
    opts: &Options,
    default_pub: Option<PathBuf>,
) -> Result<KeySource, u8> {
    let mut source = source;
    if source.as_ref().is_none_or(|s| s.lines.is_empty()) && opts.identity.is_none() {
        if let Some(file) = default_pub.filter(|f| std::fs::File::open(f).is_ok()) {
            let file = file.display().to_string();
            source = Some(use_id_file(prog, Some(&file), opts.forced)?);
        }
    }
    source.filter(|s| !s.lines.is_empty()).ok_or_else(|| {
        eprintln!("{prog}: ERROR: No identities found");
        EXIT_ERROR
    })
}

/// Where the keys go, by the server's software version (ssh-copy-id's `case`).
fn authorized_keys_file(prog: &str, target: &Target) -> Result<&'static str, u8> {
    match ServerKind::from_version(target.remote_version().as_deref()) {
        ServerKind::NetScreen => {
            eprintln!("{prog}: ERROR: NetScreen servers (DSA keys only) are not supported");
            Err(EXIT_ERROR)
        }
        ServerKind::Dropbear => Ok(remote::DROPBEAR_AUTHORIZED_KEYS),
        ServerKind::Other => Ok(remote::AUTHORIZED_KEYS),
    }
}

/// ssh-copy-id's `use_id_file`: reads the keys, or prints why not (on stdout, as the
/// script does) and exits 1.
fn use_id_file(prog: &str, file: Option<&str>, forced: bool) -> Result<KeySource, u8> {
    let Some(file) = file else {
        println!("{prog}: ERROR: no ID file found");
        return Err(EXIT_ERROR);
    };
    match ids::from_file(file, forced) {
        Ok((public, source)) => {
            eprintln!(
                "{prog}: INFO: Source of key(s) to be installed: \"{}\"",
                public.display()
            );
            Ok(source)
        }
        Err(ids::IdFileError(text)) => {
            println!("\n{prog}: {text}");
            Err(EXIT_ERROR)
        }
    }
}

/// Logs in with each key alone and keeps those the server refuses; exits 0 with the
/// script's warning when none is left, 1 when a login fails for another reason.
fn filter_installed(
    prog: &str,
    target: &Target,
    source: &KeySource,
    scratch: &Scratch,
) -> Result<Vec<String>, u8> {
    eprintln!(
        "{prog}: INFO: attempting to log in with the new key(s), to filter out any that are already installed"
    );
    let mut new_keys = Vec::new();
    for line in &source.lines {
        let identity = match &source.private {
            Some(private) => private.clone(),
            None => scratch.write_key(line).map_err(|e| {
                eprintln!("{prog}: ERROR: {}", os_message(&e));
                EXIT_ERROR
            })?,
        };
        match target.probe(&identity) {
            Ok(Probe::Installed) => {}
            Ok(Probe::Missing) => new_keys.push(line.clone()),
            Ok(Probe::Failed(text)) => {
                let lines: Vec<String> = text.lines().map(|l| format!("ERROR: {l}")).collect();
                eprintln!("\n{prog}: {}\n", lines.join("\n"));
                return Err(EXIT_ERROR);
            }
            Err(e) => {
                eprintln!(
                    "\n{prog}: ERROR: cannot run {}: {}\n",
                    target.ssh.display(),
                    os_message(&e)
                );
                return Err(EXIT_ERROR);
            }
        }
    }
    if new_keys.is_empty() {
        eprintln!(
            "\n{prog}: WARNING: All keys were skipped because they already exist on the remote system.\n\
             \t\t(if you think this is a mistake, you may want to use -f option)\n"
        );
        return Err(0);
    }
    eprintln!(
        "{prog}: INFO: {} key(s) remain to be installed -- if you are prompted now it is to install the new keys",
        new_keys.len()
    );
    Ok(new_keys)
}

/// The flags for `oxssh`: the user's `-o`/`-p`/`-F` in order, then the target.
fn target_args(opts: &Options, host: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (flag, value) in &opts.ssh_opts {
        out.push(format!("-{flag}"));
        out.push(value.clone());
    }
    out.push(host.to_owned());
    out
}

/// The same, single-quoted as the script prints them in its closing hint.
fn quoted_opts(opts: &Options, host: &str) -> String {
    let mut words: Vec<String> = opts
        .ssh_opts
        .iter()
        .map(|(flag, value)| format!("-{flag} '{}'", remote::quote(value)))
        .collect();
    words.push(format!("'{}'", remote::quote(host)));
    words.join(" ")
}

/// An I/O error as C's `strerror()` words it, without Rust's `(os error N)`.
fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// The script's scratch directory, `~/.ssh/ssh-copy-id.XXXXXXXXXX` (0700), holding the
/// one-key files the filter offers for agent keys; removed on drop.
#[derive(Debug)]
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn create(home: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut last = io::Error::other("no attempt");
        for _ in 0..16 {
            let mut random = [0u8; 10];
            aws_lc_rs::rand::fill(&mut random).map_err(|_| io::Error::other("no randomness"))?;
            let suffix: String = random
                .iter()
                .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()))
                .map(|&b| char::from(b))
                .collect();
            let dir = home.join(".ssh").join(format!("oxssh-copy-id.{suffix}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    remove_on_signal(dir.clone());
                    return Ok(Self { dir });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Writes `line` as the filter's identity file (mode 0600) and names it.
    fn write_key(&self, line: &str) -> io::Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join("popids_tmp_id");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        writeln!(file, "{line}")?;
        Ok(path)
    }
}

/// Removes `dir` and exits when SIGINT, SIGTERM or SIGQUIT arrives (the script's
/// `trap ... EXIT TERM INT QUIT`), from a thread of its own: the main thread is
/// waiting for `oxssh`, which gets the terminal's signal too.
fn remove_on_signal(dir: PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build();
    let Ok(runtime) = runtime else { return };
    // Registered before the thread starts, so no signal slips through unhandled.
    let streams = runtime.block_on(async {
        let mut streams = Vec::new();
        for (kind, number) in [
            (SignalKind::interrupt(), 2u8),
            (SignalKind::terminate(), 15),
            (SignalKind::quit(), 3),
        ] {
            if let Ok(stream) = signal(kind) {
                streams.push((stream, number));
            }
        }
        streams
    });
    std::thread::spawn(move || {
        let number = runtime.block_on(async move {
            let waits = streams.into_iter().map(|(mut stream, number)| {
                Box::pin(async move {
                    stream.recv().await;
                    number
                })
            });
            futures_select_first(waits.collect()).await
        });
        let _ = std::fs::remove_dir_all(&dir);
        std::process::exit(128 + i32::from(number));
    });
}

/// The value of whichever future finishes first.
async fn futures_select_first<F: std::future::Future<Output = u8> + Unpin>(
    mut futures: Vec<F>,
) -> u8 {
    std::future::poll_fn(|cx| {
        for future in &mut futures {
            if let std::task::Poll::Ready(value) = std::pin::Pin::new(future).poll(cx) {
                return std::task::Poll::Ready(value);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
