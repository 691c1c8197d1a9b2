//! The questions ssh-keygen asks, worded and routed as it does:
//!
//! - file names and "Overwrite (y/n)?" are printed on stdout and answered on stdin
//!   (ssh-keygen's `printf` + `fgets`);
//! - passphrases follow OpenSSH's `readpassphrase()`: on the controlling terminal with
//!   echo off when there is one, otherwise the prompt goes to stderr and the answer is
//!   read from stdin (what scripts and tests without a terminal get).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Prints `question` on stdout and reads one line from stdin (`None` at end of input).
pub fn ask_line(question: &str) -> Option<String> {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(question.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let end = line.find('\n').unwrap_or(line.len());
            line.truncate(end);
            Some(line)
        }
    }
}

/// ssh-keygen's `ask_filename`: `PROMPT (DEFAULT): `, an empty answer keeps the default.
/// `None` at end of input (ssh-keygen then exits 1).
pub fn ask_filename(prompt: &str, default: &Path) -> Option<PathBuf> {
    let answer = ask_line(&format!("{prompt} ({}): ", default.display()))?;
    Some(if answer.is_empty() {
        default.to_owned()
    } else {
        PathBuf::from(answer)
    })
}

/// ssh-keygen's `confirm_overwrite`: true when `path` does not exist or the user answers
/// with a word starting with `y`/`Y`.
pub fn confirm_overwrite(path: &Path) -> bool {
    if std::fs::metadata(path).is_err() {
        return true;
    }
    println!("{} already exists.", path.display());
    ask_line("Overwrite (y/n)? ").is_some_and(|a| a.starts_with(['y', 'Y']))
}

/// OpenSSH's `read_passphrase(prompt, RP_ALLOW_STDIN)`: the terminal with echo off, or
/// stdin with the prompt on stderr. End of input reads as the empty passphrase, as in
/// OpenSSH.
pub fn read_passphrase(prompt: &str) -> Zeroizing<String> {
    if let Some(answer) = read_tty(prompt) {
        return answer;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    let mut line = Zeroizing::new(String::new());
    let _ = std::io::stdin().lock().read_line(&mut line);
    trim_newline(&mut line);
    line
}

fn trim_newline(line: &mut String) {
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
}

/// Reads from `/dev/tty` with echo off; `None` when there is no controlling terminal.
fn read_tty(prompt: &str) -> Option<Zeroizing<String>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet);
    let _ = (&tty).write_all(prompt.as_bytes());
    let mut line = Zeroizing::new(String::new());
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &saved);
    let _ = (&tty).write_all(b"\n");
    if read.is_err() {
        line.clear();
    }
    trim_newline(&mut line);
    Some(line)
}

/// A new passphrase asked twice until both agree (ssh-keygen's wording).
pub fn new_passphrase(first: &str, again: &str) -> Zeroizing<String> {
    loop {
        let one = read_passphrase(first);
        let two = read_passphrase(again);
        if one.as_bytes() == two.as_bytes() {
            return one;
        }
        println!("Passphrases do not match.  Try again.");
    }
}
