//! `oxssh-add`: a drop-in for OpenSSH's `ssh-add` (9.2 wording and exit codes): add the
//! default or given keys (with `-t` lifetime and `-c` confirmation), list them (`-l`,
//! `-L`), remove them (`-d`, `-D`), lock and unlock the agent (`-x`, `-X`).

mod args;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use oxssh_agent::server::Constraints;
use oxssh_agent::{AgentClient, AgentError};
use oxssh_keys::fingerprint::{fingerprint_line, type_label};
use oxssh_keys::key_file::{read_private_key_file, KeyFileError};
use oxssh_keys::private::{self, PrivateKeyError};
use oxssh_keys::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::client::prompt::{Prompter, TerminalPrompter};
use crate::strerror::strerror;
pub use args::{ArgsError, Mode, Options, USAGE};

/// Default identities, in ssh-add's order (the types we hold).
const DEFAULT_KEYS: [&str; 3] = ["id_rsa", "id_ecdsa", "id_ed25519"];

/// `oxssh-add`'s main.
pub fn main() -> ExitCode {
    let Some(socket) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
        eprintln!("Could not open a connection to your authentication agent.");
        return ExitCode::from(2);
    };
    let mut agent = match AgentClient::connect(Path::new(&socket)) {
        Ok(agent) => agent,
        Err(AgentError::Io(e)) => {
            eprintln!("Error connecting to agent: {}", strerror(&e));
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("Error connecting to agent: {e}");
            return ExitCode::from(2);
        }
    };
    // ssh-add connects before it reads its flags: without an agent, nothing else matters.
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(err) => {
            eprint!("{err}");
            return ExitCode::from(err.code);
        }
    };
    ExitCode::from(run(&opts, &mut agent))
}

fn reason(e: &AgentError) -> String {
    match e {
        AgentError::Refused => "agent refused operation".into(),
        AgentError::Io(io) => strerror(io),
        AgentError::Protocol(_) => "unexpected internal error".into(),
        _ => e.to_string(),
    }
}

fn run(opts: &Options, agent: &mut AgentClient) -> u8 {
    match opts.mode {
        Mode::List => list(opts, agent, true),
        Mode::ListPublic => list(opts, agent, false),
        Mode::DeleteAll => match agent.remove_all() {
            Ok(()) => {
                eprintln!("All identities removed.");
                0
            }
            Err(_) => {
                eprintln!("Failed to remove all identities.");
                1
            }
        },
        Mode::Lock => lock(agent, true),
        Mode::Unlock => lock(agent, false),
        Mode::Delete => each_file(opts, |path| delete(agent, path)),
        Mode::Add => each_file(opts, |path| add(opts, agent, path)),
    }
}

/// Runs `f` on the given files, or on the default ones that exist (no default at all
/// is an error, as in ssh-add).
fn each_file(opts: &Options, mut f: impl FnMut(&Path) -> bool) -> u8 {
    let mut failed = false;
    if opts.files.is_empty() {
        // As ssh-add: the home directory from the password database, not `$HOME`.
        let home = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|user| user.dir)
            .unwrap_or_default();
        let mut count = 0;
        for name in DEFAULT_KEYS {
            let path = home.join(".ssh").join(name);
            if std::fs::metadata(&path).is_err() {
                continue;
            }
            if f(&path) {
                count += 1;
            } else {
                failed = true;
            }
        }
        if count == 0 {
            failed = true;
        }
    } else {
        for path in &opts.files {
            if !f(path) {
                failed = true;
            }
        }
    }
    u8::from(failed)
}

fn list(opts: &Options, agent: &mut AgentClient, fingerprints: bool) -> u8 {
    let ids = match agent.identities() {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("error fetching identities: {}", reason(&e));
            return 1;
        }
    };
    if ids.is_empty() {
        println!("The agent has no identities.");
        return 1;
    }
    for id in ids {
        let Ok(key) = PublicKey::from_blob(&id.key_blob) else {
            eprintln!("ssh_agent_has_key: invalid format");
            continue;
        };
        let comment = if id.comment.is_empty() {
            "no comment"
        } else {
            &id.comment
        };
        if fingerprints {
            println!("{}", fingerprint_line(&key, opts.hash, comment));
        } else if let Ok(line) = key.to_openssh() {
            println!("{line} {}", id.comment);
        }
    }
    0
}

fn ask(question: &str) -> Zeroizing<String> {
    let askpass = std::env::var_os("SSH_ASKPASS").is_some()
        && (std::env::var("SSH_ASKPASS_REQUIRE").is_ok_and(|v| v == "force")
            || std::fs::File::open("/dev/tty").is_err());
    if askpass {
        return TerminalPrompter::default()
            .secret(question)
            .unwrap_or_default();
    }
    crate::keygen::prompts::read_passphrase(question)
}

fn lock(agent: &mut AgentClient, lock: bool) -> u8 {
    let pass = ask("Enter lock password: ");
    if lock {
        let again = ask("Again: ");
        if pass.as_bytes() != again.as_bytes() {
            eprintln!("Passwords do not match.");
            return 1;
        }
    }
    let verb = if lock { "lock" } else { "unlock" };
    match agent.lock(lock, pass.as_bytes()) {
        Ok(()) => {
            eprintln!("Agent {verb}ed.");
            0
        }
        Err(e) => {
            eprintln!("Failed to {verb} agent: {}", reason(&e));
            1
        }
    }
}

/// The public key of `path`: `path.pub`, or the private file's public half.
fn public_of(path: &Path) -> Option<(PublicKey, String)> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(text) = std::fs::read_to_string(PathBuf::from(pub_path)) {
        if let Ok(found) = PublicKey::from_openssh_with_comment(text.trim()) {
            return Some(found);
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    if let Ok(found) = PublicKey::from_openssh_with_comment(text.trim()) {
        return Some(found);
    }
    private::read_public(&text).ok().map(|k| (k, String::new()))
}

fn delete(agent: &mut AgentClient, path: &Path) -> bool {
    let Some((key, comment)) = public_of(path) else {
        match std::fs::metadata(path) {
            Err(e) => eprintln!("Bad key file {}: {}", path.display(), strerror(&e)),
            // ssh-add 9.2 reports the failed look-up of the companion files (ENOENT)
            // for a file that holds no readable public key.
            Ok(_) => eprintln!("Bad key file {}: No such file or directory", path.display()),
        }
        return false;
    };
    match agent.remove(&key.to_blob()) {
        Ok(()) => {
            let comment = if comment.is_empty() {
                "no comment"
            } else {
                &comment
            };
            eprintln!(
                "Identity removed: {} {} ({comment})",
                path.display(),
                type_label(&key)
            );
            true
        }
        Err(e) => {
            eprintln!(
                "Could not remove identity \"{}\": {}",
                path.display(),
                reason(&e)
            );
            false
        }
    }
}

fn load(path: &Path, confirm: bool) -> Option<PrivateKey> {
    let name = path.display();
    let text = match read_private_key_file(path) {
        Ok(text) => text,
        Err(KeyFileError::BadPermissions { warning }) => {
            // OpenSSH's log lines end in CR LF.
            for line in warning {
                crate::keygen::log_line(&line);
            }
            return None;
        }
        Err(KeyFileError::Io { source, .. }) => {
            eprintln!("{name}: {}", strerror(&source));
            return None;
        }
        Err(_) => {
            eprintln!("Error loading key \"{name}\": error in libcrypto");
            return None;
        }
    };
    let suffix = if confirm {
        " (will confirm each use)"
    } else {
        ""
    };
    let mut question = format!("Enter passphrase for {name}{suffix}: ");
    let mut pass = Zeroizing::new(String::new());
    loop {
        match private::decrypt(&text, pass.as_bytes()) {
            Ok(key) => return Some(key),
            Err(PrivateKeyError::WrongPassphrase | PrivateKeyError::PassphraseRequired) => {}
            Err(PrivateKeyError::UnsupportedKeyType(_)) => {
                eprintln!("Error loading key \"{name}\": unknown or unsupported key type");
                return None;
            }
            // ssh-add 9.2 reports a file that is not a key once its PEM fallback has
            // failed too.
            Err(_) => {
                eprintln!("Error loading key \"{name}\": error in libcrypto");
                return None;
            }
        }
        if !pass.is_empty() {
            question = format!("Bad passphrase, try again for {name}{suffix}: ");
        }
        pass = ask(&question);
        if pass.is_empty() {
            return None;
        }
    }
}

fn add(opts: &Options, agent: &mut AgentClient, path: &Path) -> bool {
    let Some(mut key) = load(path, opts.confirm) else {
        return false;
    };
    if key.comment().is_empty() {
        key.set_comment(&path.display().to_string());
    }
    let constraints = Constraints {
        lifetime: opts.lifetime,
        confirm: opts.confirm,
    };
    match agent.add(&key, &constraints) {
        Ok(()) => {
            eprintln!("Identity added: {} ({})", path.display(), key.comment());
            if let Some(life) = opts.lifetime {
                eprintln!("Lifetime set to {} seconds", life.as_secs());
            }
            if opts.confirm {
                eprintln!("The user must confirm each use of the key");
            }
            true
        }
        Err(e) => {
            eprintln!(
                "Could not add identity \"{}\": {}",
                path.display(),
                reason(&e)
            );
            false
        }
    }
}
