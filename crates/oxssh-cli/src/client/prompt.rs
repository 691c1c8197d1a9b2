//! Questions to the user: passwords and passphrases on the controlling terminal with
//! echo off, or through `SSH_ASKPASS` (as OpenSSH's `SSH_ASKPASS_REQUIRE` allows).

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

/// Asks the user for secrets and confirmations.
pub trait Prompter: Send + Sync {
    /// A secret (echo off); `None` when no answer can be had.
    fn secret(&self, question: &str) -> Option<Zeroizing<String>>;
    /// A visible answer (keyboard-interactive prompts with echo).
    fn visible(&self, question: &str) -> Option<String>;
}

/// The terminal, or `SSH_ASKPASS` when there is none (or when required).
#[derive(Debug, Clone, Default)]
pub struct TerminalPrompter {
    /// `BatchMode`: never ask.
    pub batch: bool,
}

fn askpass(question: &str) -> Option<Zeroizing<String>> {
    let program = std::env::var_os("SSH_ASKPASS")?;
    let output = Command::new(program)
        .arg(question)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut text = Zeroizing::new(String::from_utf8(output.stdout).ok()?);
    while text.ends_with('\n') || text.ends_with('\r') {
        text.pop();
    }
    Some(text)
}

fn use_askpass() -> bool {
    match std::env::var("SSH_ASKPASS_REQUIRE").as_deref() {
        Ok("force") => true,
        Ok("never") => false,
        // OpenSSH uses askpass when there is no terminal and DISPLAY is set; we also
        // accept it without DISPLAY, which is what scripts and tests rely on.
        _ => std::fs::File::open("/dev/tty").is_err() && std::env::var_os("SSH_ASKPASS").is_some(),
    }
}

fn read_tty(question: &str, echo: bool) -> Option<Zeroizing<String>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok();
    if let (false, Some(saved)) = (echo, &saved) {
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet);
    }
    let _ = (&tty).write_all(question.as_bytes());
    let mut line = Zeroizing::new(String::new());
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    if let (false, Some(saved)) = (echo, &saved) {
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, saved);
        let _ = (&tty).write_all(b"\n");
    }
    read.ok().filter(|&n| n > 0)?;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Some(line)
}

impl Prompter for TerminalPrompter {
    fn secret(&self, question: &str) -> Option<Zeroizing<String>> {
        if self.batch {
            return None;
        }
        if use_askpass() {
            return askpass(question);
        }
        read_tty(question, false)
    }

    fn visible(&self, question: &str) -> Option<String> {
        if self.batch {
            return None;
        }
        if use_askpass() {
            return askpass(question).map(|s| s.to_string());
        }
        read_tty(question, true).map(|s| s.to_string())
    }
}
