//! `ssh-keygen -F host`, `-R host` and `-H` over a known_hosts file (`-f`, default
//! `~/.ssh/known_hosts`), printing ssh-keygen 9.2's lines; the file edits themselves
//! (matching, hashing, the `.old` backup) live in `oxssh_keys::known_hosts`.

use std::path::{Path, PathBuf};

use oxssh_keys::fingerprint::{self, type_label};
use oxssh_keys::known_hosts::{self as kh, KnownHostsError};

use super::args::Options;
use super::{strerror, Failure, User};

fn file(opts: &Options, user: &User) -> Result<PathBuf, Failure> {
    let path = opts
        .file
        .clone()
        .unwrap_or_else(|| user.ssh_file("known_hosts"));
    std::fs::metadata(&path)
        .map_err(|e| Failure::fatal(format!("Cannot stat {}: {}", path.display(), strerror(&e))))?;
    Ok(path)
}

fn edit_error(path: &Path, err: KnownHostsError) -> Failure {
    match err {
        KnownHostsError::InvalidFile { lines, .. } => {
            for n in lines {
                super::log_line(&format!("{}:{n}: invalid line", path.display()));
            }
            super::log_line(&format!(
                "{} is not a valid known_hosts file.",
                path.display()
            ));
            Failure::with_code(
                "Not replacing existing known_hosts file because of errors",
                1,
            )
        }
        KnownHostsError::Io { path, source } => {
            Failure::fatal(format!("{}: {}", path.display(), strerror(&source)))
        }
        other => Failure::fatal(other.to_string()),
    }
}

fn print_replaced(path: &Path, backup: &Path) {
    println!("{} updated.", path.display());
    println!("Original contents retained as {}", backup.display());
}

/// `-F host [-l [-v]] [-q]`: the matching lines (or their fingerprints), each after a
/// `# Host HOST found: line N` header; exit 1 when none matches.
///
/// # Errors
/// A missing file (fatal) or no match (exit 1).
pub fn find(opts: &Options, user: &User, host: &str) -> Result<(), Failure> {
    let path = file(opts, user)?;
    let found = kh::find(&path, host).map_err(|e| edit_error(&path, e))?;
    for line in &found {
        if !opts.quiet {
            println!("{}", line.header(host));
        }
        if !opts.fingerprint {
            println!("{}", line.line);
            continue;
        }
        let Some(key) = line.key.as_ref().and_then(|k| k.public_key()) else {
            continue;
        };
        let space = if line.comment.is_empty() { "" } else { " " };
        println!(
            "{host} {} {}{space}{}",
            type_label(key),
            key.fingerprint(opts.hash),
            line.comment
        );
        if opts.verbose > 0 {
            println!("{}", fingerprint::randomart(key, opts.hash));
        }
    }
    if found.is_empty() {
        return Err(Failure::exit(1));
    }
    Ok(())
}

/// `-R host`: removes the host's plain lines, keeping `FILE.old`.
///
/// # Errors
/// A missing or invalid file.
pub fn remove(opts: &Options, user: &User, host: &str) -> Result<(), Failure> {
    let path = file(opts, user)?;
    let outcome = kh::remove(&path, host).map_err(|e| edit_error(&path, e))?;
    if !opts.quiet {
        for n in &outcome.removed {
            println!("# Host {host} found: line {n}");
        }
    }
    match &outcome.backup {
        Some(backup) => print_replaced(&path, backup),
        None => super::log_line(&format!("Host {host} not found in {}", path.display())),
    }
    Ok(())
}

/// `-H`: hashes every plain host name, keeping `FILE.old`.
///
/// # Errors
/// A missing or invalid file.
pub fn hash(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = file(opts, user)?;
    let outcome = kh::hash_file(&path).map_err(|e| edit_error(&path, e))?;
    for (n, hosts) in &outcome.wildcards {
        let shown: String = hosts.chars().take(64).collect();
        super::log_line(&format!(
            "{}:{n}: ignoring host name with wildcard: {shown}",
            path.display()
        ));
    }
    print_replaced(&path, &outcome.backup);
    if outcome.hashed_any {
        super::log_line(&format!(
            "WARNING: {} contains unhashed entries",
            outcome.backup.display()
        ));
        super::log_line("Delete this file to ensure privacy of hostnames");
    }
    Ok(())
}
