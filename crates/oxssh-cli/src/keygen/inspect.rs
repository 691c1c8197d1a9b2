//! Looking at and editing existing keys: `-l` (fingerprints of public keys, private
//! keys, authorized_keys and known_hosts files, `-v` randomart, `-E` hash), `-y` (the
//! public key of a private key), `-p` (new passphrase) and `-c` (new comment), with
//! ssh-keygen 9.2's output lines, messages and exit statuses.

use std::path::{Path, PathBuf};

use oxssh_keys::certificate::Certificate;
use oxssh_keys::fingerprint::{self, fingerprint_line};
use oxssh_keys::PublicKey;

use super::args::Options;
use super::generate::{save_private, save_public};
use super::identity::{self, LoadError};
use super::prompts::{ask_filename, ask_line, read_passphrase};
use super::{strerror, Failure, User};

/// `-f`, or ssh-keygen's question `PROMPT (~/.ssh/id_TYPE): `.
pub fn key_path(opts: &Options, user: &User, prompt: &str) -> Result<PathBuf, Failure> {
    if let Some(path) = &opts.file {
        return Ok(path.clone());
    }
    let default = match opts.key_type.as_deref().map(str::to_ascii_lowercase) {
        Some(t) if t.contains("ed25519") => "id_ed25519",
        Some(t) if t.contains("ecdsa") => "id_ecdsa",
        _ => "id_rsa",
    };
    ask_filename(prompt, &user.ssh_file(default)).ok_or_else(|| Failure::exit(1))
}

/// ssh-keygen's `stat()` before loading: `PATH: REASON`, fatal.
fn must_exist(path: &Path) -> Result<(), Failure> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| Failure::fatal(format!("{}: {}", path.display(), strerror(&e))))
}

/// ssh-keygen's `debug()` lines, shown from one `-v` on (`-v` sets DEBUG1).
fn debug(opts: &Options, message: &str) {
    if opts.verbose > 0 {
        super::log_line(&format!("debug1: {message}"));
    }
}

fn print_key(key: &PublicKey, comment: Option<&str>, opts: &Options) {
    println!(
        "{}",
        fingerprint_line(key, opts.hash, comment.unwrap_or("no comment"))
    );
    if opts.verbose > 0 {
        println!("{}", fingerprint::randomart(key, opts.hash));
    }
}

/// A certificate's `-l` line: its key's fingerprint, labelled `TYPE-CERT`, and for
/// `-v` the randomart titled `[TYPE-CERT BITS]` (or `[TYPE-CERT]` when that is wider
/// than the box, as ssh-keygen shortens it).
fn print_certificate(cert: &Certificate, comment: &str, opts: &Options) {
    let key = &cert.key;
    let label = format!("{}-CERT", fingerprint::type_label(key));
    let comment = if comment.is_empty() {
        "no comment"
    } else {
        comment
    };
    let fp = fingerprint::Fingerprint::of(key, opts.hash);
    println!("{} {fp} {comment} ({label})", key.bits());
    if opts.verbose > 0 {
        let mut title = format!("[{label} {}]", key.bits());
        if title.len() > RANDOMART_WIDTH {
            title = format!("[{label}]");
        }
        println!("{}", fingerprint::randomart_of_digest(&title, &fp));
    }
}

/// The randomart box's inner width (OpenSSH's `FLDSIZE_X`).
const RANDOMART_WIDTH: usize = 17;

/// `ssh-keygen -l [-v] [-E hash] -f FILE`.
///
/// # Errors
/// ssh-keygen's messages: a missing file, or a file without any key.
pub fn fingerprint(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    let stdin = path.as_os_str() == "-";
    let bytes = if stdin {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Failure::fatal(format!("(stdin): {}", strerror(&e))))?;
        buf
    } else {
        std::fs::read(&path).map_err(|e| {
            Failure::fatal(format!(
                "oxssh-keygen: {}: {}",
                path.display(),
                strerror(&e)
            ))
        })?
    };
    let shown = if stdin {
        "(stdin)".to_owned()
    } else {
        path.display().to_string()
    };
    let mut found = false;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_start_matches([' ', '\t']);
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if index == 0 && !stdin && line.contains("PRIVATE KEY") {
            return fingerprint_private(&path, opts);
        }
        if let Ok((cert, comment)) = Certificate::from_openssh(line) {
            print_certificate(&cert, &comment, opts);
            found = true;
        } else if let Some((key, comment)) = parse_listed_key(line) {
            print_key(&key, comment.as_deref(), opts);
            found = true;
        } else {
            debug(opts, &format!("{shown}:{}: not a public key", index + 1));
        }
    }
    if !found {
        return Err(Failure::fatal(format!("{shown} is not a public key file.")));
    }
    Ok(())
}

/// One line of a public key, authorized_keys or known_hosts file, as ssh-keygen's
/// `do_fingerprint` reads it: a bare key, or a key after one leading word (host names
/// or options, which become the comment unless the key has its own).
pub fn parse_listed_key(line: &str) -> Option<(PublicKey, Option<String>)> {
    if let Some((key, rest)) = read_key(line) {
        return Some((key, trailing_comment(rest)));
    }
    // ssh-keygen skips a leading number (an SSH1 key's bits) or one word, honouring
    // quotes in options (`from="a b"`).
    let mut quoted = false;
    let mut end = line.len();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !quoted && (c == ' ' || c == '\t') {
            end = i;
            break;
        }
        if c == '\\' && chars.peek().is_some_and(|(_, n)| *n == '"') {
            chars.next();
        } else if c == '"' {
            quoted = !quoted;
        }
    }
    let (lead, rest) = line.split_at_checked(end)?;
    let rest = rest.get(1..)?;
    let (key, rest) = read_key(rest)?;
    Some((
        key,
        trailing_comment(rest).or_else(|| Some(lead.to_owned())),
    ))
}

/// `sshkey_read`: `type base64` at the start of `text`; returns the key
/// and the text after it.
pub(crate) fn read_key(text: &str) -> Option<(PublicKey, &str)> {
    // No blanks are skipped before the type: `host  key` (two spaces) is not a key line
    // for ssh-keygen either.
    let (type_name, rest) = text.split_once([' ', '\t'])?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let end = rest.find([' ', '\t']).unwrap_or(rest.len());
    let (blob, after) = rest.split_at_checked(end)?;
    let key = PublicKey::from_openssh(&format!("{type_name} {blob}")).ok()?;
    (key.key_type() == type_name).then_some((key, after))
}

fn trailing_comment(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches([' ', '\t']);
    (!rest.is_empty() && !rest.starts_with('#')).then(|| rest.to_owned())
}

/// The key in `PATH.pub` with its comment (`PATH.pub` itself when the line has none,
/// as `sshkey_try_load_public` does).
fn load_pub_file(path: &Path) -> Option<(PublicKey, String)> {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    let pub_path = PathBuf::from(name);
    let text = std::fs::read_to_string(&pub_path).ok()?;
    text.lines().find_map(|line| {
        let (key, rest) = read_key(line)?;
        let comment = trailing_comment(rest).unwrap_or_else(|| pub_path.display().to_string());
        Some((key, comment))
    })
}

/// ssh-keygen's `fingerprint_private`: the public key from `PATH.pub` or from the
/// private file's clear part; the comment from `PATH.pub`, else from the private key
/// when it opens without a passphrase.
fn fingerprint_private(path: &Path, opts: &Options) -> Result<(), Failure> {
    let (mut public, mut comment) = match load_pub_file(path) {
        Some((key, comment)) => (Some(key), Some(comment)),
        None => (None, None),
    };
    if public.is_none() {
        public = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| oxssh_keys::private::read_public(&text).ok());
    }
    if public.is_none() || comment.as_deref().is_none_or(str::is_empty) {
        comment = None;
        let loaded = identity::read_checked(path).and_then(|text| {
            if identity::needs_passphrase(&text) {
                return Err(LoadError(
                    oxssh_keys::PrivateKeyError::WrongPassphrase.to_string(),
                ));
            }
            Ok((identity::parse(&text, "")?, identity::is_pem(&text)))
        });
        match loaded {
            Ok((key, pem)) => {
                // A PEM key has no comment at all: ssh-keygen says "no comment".
                comment = (!pem).then(|| key.comment().to_owned());
                public = public.or_else(|| Some(key.public_key().clone()));
            }
            Err(e) => debug(
                opts,
                &format!("load private \"{}\": {}", path.display(), e.0),
            ),
        }
    }
    let Some(public) = public else {
        return Err(Failure::fatal(format!(
            "{} is not a key file.",
            path.display()
        )));
    };
    print_key(&public, comment.as_deref(), opts);
    Ok(())
}

fn load_error(what: &str, path: &Path, err: &LoadError) -> Failure {
    Failure::fatal(format!("{what} \"{}\": {}", path.display(), err.0))
}

/// `ssh-keygen -y [-P pass] -f FILE`: prints `type base64[ comment]`.
///
/// # Errors
/// ssh-keygen's `Load key "F": REASON` (exit 255).
pub fn print_public(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    must_exist(&path)?;
    let passphrase = opts.old_passphrase.as_deref().map(String::as_str);
    let (key, _) = identity::load(&path, passphrase, "Enter passphrase: ")
        .map_err(|e| load_error("Load key", &path, &e))?;
    let line = key
        .public_line()
        .map_err(|e| Failure::fatal(format!("write key: {e}")))?;
    println!("{line}");
    Ok(())
}

/// `ssh-keygen -p [-P old] [-N new] [-a rounds] -f FILE`.
///
/// # Errors
/// ssh-keygen's messages (`Failed to load key F: REASON`, exit 255; mismatched new
/// passphrases, exit 1).
pub fn change_passphrase(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    must_exist(&path)?;
    let failed =
        |e: LoadError| Failure::fatal(format!("Failed to load key {}: {}", path.display(), e.0));
    let passphrase = opts.old_passphrase.as_deref().map(String::as_str);
    let (key, _) = identity::load(&path, passphrase, "Enter old passphrase: ").map_err(failed)?;
    println!("Key has comment '{}'", key.comment());
    let new = match &opts.new_passphrase {
        Some(p) => p.clone(),
        None => {
            let one = read_passphrase("Enter new passphrase (empty for no passphrase): ");
            let two = read_passphrase("Enter same passphrase again: ");
            if one.as_bytes() != two.as_bytes() {
                println!("Pass phrases do not match.  Try again.");
                return Err(Failure::exit(1));
            }
            one
        }
    };
    save_private(&path, &key, &new, opts.rounds)?;
    println!("Your identification has been saved with the new passphrase.");
    Ok(())
}

/// `ssh-keygen -c [-P pass] [-C comment] -f FILE`: rewrites the private key (under the
/// same passphrase) and `FILE.pub` with the new comment.
///
/// # Errors
/// ssh-keygen's messages (`Cannot load private key "F": REASON`, exit 255).
pub fn change_comment(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    must_exist(&path)?;
    let passphrase = opts
        .old_passphrase
        .as_ref()
        .or(opts.new_passphrase.as_ref())
        .map(|p| p.as_str());
    let (mut key, pass) = identity::load(&path, passphrase, "Enter passphrase: ")
        .map_err(|e| load_error("Cannot load private key", &path, &e))?;
    let old = key.comment().to_owned();
    println!("Old comment: {old}");
    let new = match &opts.comment {
        Some(c) => c.clone(),
        None => ask_line("New comment: ").ok_or_else(|| Failure::exit(1))?,
    };
    if old == new {
        println!("No change to comment");
        return Ok(());
    }
    key.set_comment(&new);
    save_private(&path, &key, &pass, opts.rounds)?;
    save_public(&path, &key)?;
    if new.is_empty() {
        println!("Comment removed");
    } else {
        println!("Comment '{new}' applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxssh_keys::HashAlg;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    #[test]
    fn bare_key_without_comment_has_none() {
        let (_, comment) = parse_listed_key(KEY).unwrap();
        assert_eq!(comment, None);
        let (_, comment) = parse_listed_key(&format!("{KEY}  me@host")).unwrap();
        assert_eq!(comment.as_deref(), Some("me@host"));
    }

    #[test]
    fn known_hosts_and_options_lines_use_the_leading_word_as_comment() {
        let (_, comment) = parse_listed_key(&format!("host1,host2 {KEY}")).unwrap();
        assert_eq!(comment.as_deref(), Some("host1,host2"));
        let (_, comment) = parse_listed_key(&format!("from=\"a b\",no-pty {KEY} c")).unwrap();
        assert_eq!(comment.as_deref(), Some("c"));
        assert!(parse_listed_key("@cert-authority * ssh-ed25519 AAAA").is_none());
        assert!(parse_listed_key("garbage").is_none());
    }

    #[test]
    fn hash_names_are_ssh_keygen_s() {
        assert_eq!(HashAlg::Md5.name(), "MD5");
    }
}
