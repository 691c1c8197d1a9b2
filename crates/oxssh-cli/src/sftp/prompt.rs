//! The interactive session: `sftp> ` prompt, commands run one by one. On a terminal
//! the line is edited with [`super::editor`] (history, Tab completion through
//! [`super::complete`]) and Ctrl-C is sftp's: at the prompt it drops the line, during
//! a transfer it stops the transfer (requests in flight are drained) and the prompt
//! comes back; oxsftp is not killed. From a pipe, lines are read and echoed as sftp
//! echoes them.

use std::io::{BufRead, Read};
use std::sync::atomic::Ordering;

use super::commands;
use super::complete::{complete, show_list};
use super::editor::{emit, Action, Decoder, Line, Raw};
use super::shell::{Outcome, Shell};
use super::CommandLine;

const PROMPT: &str = "sftp> ";

/// Reads and runs commands until `bye` or end of input; the exit status.
pub async fn run_interactive(shell: &mut Shell) -> u8 {
    let tty = nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    if tty {
        return run_terminal(shell).await;
    }
    // From a pipe there is no prompt to wait at: each command is echoed after it is
    // read, and the end of input ends the session silently.
    let stdin = std::io::stdin();
    loop {
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return 0,
            Ok(_) => {}
        }
        let typed = line.strip_suffix('\n').unwrap_or(&line);
        let parsed = CommandLine::parse(typed);
        // As in a batch, a line that does not parse is reported before its echo.
        let unparsed = parsed.command.and_then(|c| commands::check(c).err());
        if let Some(message) = &unparsed {
            eprintln!("{message}");
        }
        if parsed.echo {
            println!("{PROMPT}{typed}");
        }
        let Some(cmd) = parsed.command.filter(|_| unparsed.is_none()) else {
            continue;
        };
        if let Some(code) = run_one(shell, cmd).await {
            return code;
        }
    }
}

/// Runs one command line; `Some` exit status when the session ends.
async fn run_one(shell: &mut Shell, cmd: &str) -> Option<u8> {
    if cmd.is_empty() {
        return None;
    }
    shell.sftp.interrupter().store(false, Ordering::SeqCst);
    match shell.run(cmd).await {
        Outcome::Quit => Some(0),
        Outcome::Lost => Some(255),
        Outcome::Done(Ok(())) => None,
        Outcome::Done(Err(message)) if !message.is_empty() => {
            eprintln!("{message}");
            None
        }
        Outcome::Done(Err(_)) => None,
    }
}

async fn run_terminal(shell: &mut Shell) -> u8 {
    // Ctrl-C while a command runs (the terminal is cooked then) interrupts transfers
    // instead of killing the program.
    let flag = shell.sftp.interrupter();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut sigint) => {
            tokio::spawn(async move {
                while sigint.recv().await.is_some() {
                    flag.store(true, Ordering::SeqCst);
                }
            });
        }
        Err(e) => eprintln!("oxsftp: cannot catch SIGINT: {e}"),
    }
    let mut editor = Editor::default();
    loop {
        let Some(cmd) = read_line(shell, &mut editor).await else {
            emit(b"\r\n");
            return 0;
        };
        let Some(cmd) = CommandLine::parse(&cmd).command else {
            continue;
        };
        if let Some(code) = run_one(shell, cmd).await {
            return code;
        }
    }
}

/// The line editor's state across lines: history, and bytes typed ahead of the
/// prompt (read with the previous line, or while a command ran).
#[derive(Debug, Default)]
struct Editor {
    line: Line,
    decoder: Decoder,
    ahead: std::collections::VecDeque<u8>,
}

/// The terminal's width (80 when it cannot be had), asked at each drawing so a
/// resized window is drawn right.
fn columns() -> usize {
    use std::os::fd::AsFd;
    oxssh_os::pty::window_size(std::io::stdout().as_fd())
        .ok()
        .map(|w| w.cols as usize)
        .filter(|&c| c > 0)
        .unwrap_or(80)
}

/// Edits one line on the terminal in raw mode; `None` at end of input.
async fn read_line(shell: &mut Shell, editor: &mut Editor) -> Option<String> {
    let raw = match Raw::enter() {
        Ok(raw) => Some(raw),
        Err(e) => {
            eprintln!("oxsftp: cannot set up the terminal: {e}");
            None
        }
    };
    let Editor {
        line,
        decoder,
        ahead,
    } = editor;
    emit(&line.render(PROMPT, columns()));
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        if ahead.is_empty() {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => ahead.extend(buf.get(..n).unwrap_or_default()),
            }
        }
        while let Some(byte) = ahead.pop_front() {
            let Some(key) = decoder.feed(byte) else {
                continue;
            };
            match line.apply(key) {
                Action::Redraw => emit(&line.render(PROMPT, columns())),
                Action::Accept(text) => {
                    emit(&line.leave(""));
                    drop(raw);
                    return Some(text);
                }
                Action::Cancel => {
                    // As sftp (libedit): the line is dropped, a new prompt on the
                    // next row, no "^C" shown.
                    emit(&line.leave(""));
                    emit(&line.render(PROMPT, columns()));
                }
                Action::EndOfFile => return None,
                Action::Complete => {
                    match complete(shell, &line.before_cursor()).await {
                        Some(c) => {
                            if !c.list.is_empty() {
                                emit(&line.leave(""));
                                let list = show_list(&c.list);
                                emit(list.strip_prefix("\r\n").unwrap_or(&list).as_bytes());
                            }
                            line.replace_before_cursor(c.start, &c.text);
                        }
                        None => emit(b"\x07"),
                    }
                    emit(&line.render(PROMPT, columns()));
                }
            }
        }
    }
}
