//! The interpreter's commands, as OpenSSH 9.2's sftp names and spells them: the
//! command line split like its `makeargv` (quotes and backslashes), each command's
//! flags, and the output formats (`df`, `pwd`; `ls` in [`super::ls`]).

use oxssh_sftp::client;
use oxssh_sftp::codec::Attrs;

use super::shell::{show, Outcome, Shell, Transfers};
use super::units::fmt_scaled;
use crate::strerror::strerror;

const HELP: &str = "\
Available commands:
bye                                Quit sftp
cd path                            Change remote directory to 'path'
chgrp [-h] grp path                Change group of file 'path' to 'grp'
chmod [-h] mode path               Change permissions of file 'path' to 'mode'
chown [-h] own path                Change owner of file 'path' to 'own'
copy oldpath newpath               Copy remote file
cp oldpath newpath                 Copy remote file
df [-hi] [path]                    Display statistics for current directory or
                                   filesystem containing 'path'
exit                               Quit sftp
get [-afpR] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lls [ls-options [path]]            Display local directory listing
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afhlnrSt] [path]             Display remote directory listing
lumask umask                       Set local umask to 'umask'
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpR] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
reget [-fpR] remote [local]        Resume download file
rename oldpath newpath             Rename remote file
reput [-fpR] local [remote]        Resume upload file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file
version                            Show SFTP version
!command                           Execute 'command' in local shell
!                                  Escape to local shell
?                                  Synonym for help
";

/// Flags of get, put, reget and reput.
const TRANSFER_FLAGS: &str = "afpPrR";

/// Splits a command line as sftp does: whitespace separates words, single and double
/// quotes group, a backslash escapes the next character.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                let next = chars.next().ok_or("Invalid escape at end of line")?;
                word.push(next);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("Unterminated quote".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Leading `-x` flags of `words` (after the command), checked against `allowed`.
pub(super) fn flags(cmd: &str, words: &mut Vec<String>, allowed: &str) -> Result<String, String> {
    let mut found = String::new();
    while words
        .first()
        .is_some_and(|w| w.starts_with('-') && w.len() > 1)
    {
        let word = words.remove(0);
        if word == "--" {
            break;
        }
        for c in word.chars().skip(1) {
            if !allowed.contains(c) {
                return Err(format!("{cmd}: Invalid flag -{c}"));
            }
            found.push(c);
        }
    }
    Ok(found)
}

/// The first and second operands (empty when absent), after checking there are at
/// least `min`. Further operands are ignored, as sftp ignores them.
fn operands(cmd: &str, words: &[String], min: usize) -> Result<(String, String), String> {
    args_n(cmd, words, min)?;
    let at = |i: usize| words.get(i).cloned().unwrap_or_default();
    Ok((at(0), at(1)))
}

pub(super) fn args_n(cmd: &str, words: &[String], min: usize) -> Result<(), String> {
    if words.len() < min {
        return Err(match cmd {
            "get" | "put" | "reget" | "reput" => {
                format!("You must specify at least one path after a {cmd} command.")
            }
            _ if min >= 2 => format!("You must specify two paths after a {cmd} command."),
            _ => format!("You must specify a path after a {cmd} command."),
        });
    }
    Ok(())
}

/// The number that chmod, chown, chgrp and lumask take first (octal for modes), as
/// sftp reads it: a whole 32-bit number or the command fails.
fn numeric_argument(cmd: &str, words: &[String]) -> Result<u32, String> {
    let radix = if matches!(cmd, "chmod" | "lumask") {
        8
    } else {
        10
    };
    words
        .first()
        .and_then(|w| u32::from_str_radix(w, radix).ok())
        .ok_or_else(|| format!("You must supply a numeric argument to the {cmd} command."))
}

/// Runs one command line.
pub async fn dispatch(shell: &mut Shell, line: &str) -> Outcome {
    let line = line.trim();
    if let Some(command) = line.strip_prefix('!') {
        return Outcome::Done(local_shell(command));
    }
    let mut words = match split(line) {
        Ok(words) => words,
        Err(e) => return Outcome::Done(Err(e)),
    };
    if words.is_empty() {
        return Outcome::Done(Ok(()));
    }
    if let Err(e) = check(line) {
        return Outcome::Done(Err(e));
    }
    // sftp matches command names in any case.
    let cmd = words.remove(0).to_ascii_lowercase();
    let result = match cmd.as_str() {
        "bye" | "quit" | "exit" => return Outcome::Quit,
        "help" | "?" => {
            print!("{HELP}");
            Ok(())
        }
        "version" => {
            println!("SFTP protocol version 3");
            Ok(())
        }
        "progress" => {
            shell.progress = !shell.progress;
            println!(
                "Progress meter {}",
                if shell.progress {
                    "enabled"
                } else {
                    "disabled"
                }
            );
            Ok(())
        }
        "pwd" => {
            println!("Remote working directory: {}", show(&shell.cwd));
            Ok(())
        }
        "lpwd" => std::env::current_dir()
            .map(|d| println!("Local working directory: {}", d.display()))
            .map_err(|e| format!("getcwd: {e}")),
        "lcd" => match words.first() {
            Some(dir) => {
                std::env::set_current_dir(crate::client::run::expand_tilde(dir)).map_err(|e| {
                    format!(
                        "Couldn't change local directory to \"{dir}\": {}",
                        strerror(&e)
                    )
                })
            }
            None => std::env::var("HOME")
                .map_err(|_| "No home directory".to_owned())
                .and_then(|h| std::env::set_current_dir(h).map_err(|e| e.to_string())),
        },
        "lumask" => numeric_argument(&cmd, &words).map(|mask| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask & 0o777));
            println!("Local umask: {mask:03o}");
        }),
        "lmkdir" => match operands(&cmd, &words, 1) {
            Ok((dir, _)) => std::fs::create_dir(&dir).map_err(|e| {
                format!(
                    "Couldn't create local directory \"{dir}\": {}",
                    strerror(&e)
                )
            }),
            Err(e) => Err(e),
        },
        // A leading `~/` stays unquoted for the shell to expand, as sftp's lls.
        "lls" => local_shell(&format!(
            "ls {}",
            words
                .iter()
                .map(|w| match w.strip_prefix("~/") {
                    Some(rest) => format!("~/{}", super::shell::quote(rest)),
                    None => super::shell::quote(w),
                })
                .collect::<Vec<_>>()
                .join(" ")
        )),
        "cd" => cd(shell, words.first().map(String::as_str)).await,
        "ls" | "dir" => super::ls::ls(shell, &cmd, words).await,
        "df" => df(shell, &cmd, words).await,
        "get" | "reget" | "put" | "reput" => transfer(shell, &cmd, words).await,
        "mkdir" => simple(shell, &cmd, words, 1).await,
        "rmdir" | "rm" => simple(shell, &cmd, words, 1).await,
        "rename" => simple(shell, &cmd, words, 2).await,
        "ln" | "symlink" => link(shell, &cmd, words).await,
        "cp" | "copy" => copy(shell, words).await,
        "chmod" | "chown" | "chgrp" => change(shell, &cmd, words).await,
        _ => Err("Invalid command.".to_owned()),
    };
    Outcome::Done(result)
}

/// What sftp checks of a command line before it echoes and runs it: a known command,
/// its flags, its operand count and numbers. A batch prints the failure before the
/// echoed line, as sftp does.
pub fn check(line: &str) -> Result<(), String> {
    let line = line.trim();
    if line.starts_with('!') {
        return Ok(());
    }
    let mut words = split(line)?;
    if words.is_empty() {
        return Ok(());
    }
    let cmd = words.remove(0).to_ascii_lowercase();
    let (allowed, min) = match cmd.as_str() {
        "get" | "reget" | "put" | "reput" => (TRANSFER_FLAGS, 1),
        "ls" | "dir" => (super::ls::FLAGS, 0),
        "df" => ("hi", 0),
        "rename" => ("l", 2),
        "ln" => ("s", 2),
        "symlink" | "cp" | "copy" => ("", 2),
        "rm" | "mkdir" | "rmdir" | "lmkdir" => ("", 1),
        "cd" | "lcd" | "pwd" | "lpwd" | "help" | "?" | "version" | "progress" | "bye" | "quit"
        | "exit" => ("", 0),
        "lls" => return Ok(()),
        "lumask" => return numeric_argument(&cmd, &words).map(drop),
        "chmod" | "chown" | "chgrp" => {
            flags(&cmd, &mut words, "h")?;
            numeric_argument(&cmd, &words)?;
            return match words.len() {
                0 | 1 => Err(format!("You must specify a path after a {cmd} command.")),
                _ => Ok(()),
            };
        }
        _ => return Err("Invalid command.".to_owned()),
    };
    flags(&cmd, &mut words, allowed)?;
    // sftp names cp in its messages, whichever was typed.
    args_n(if cmd == "copy" { "cp" } else { &cmd }, &words, min)
}

fn local_shell(command: &str) -> Result<(), String> {
    let command = command.trim();
    let status = if command.is_empty() {
        let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
        std::process::Command::new(shell).status()
    } else {
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .status()
    };
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "Shell exited with status {}",
            s.code().unwrap_or(-1)
        )),
        Err(e) => Err(format!("Couldn't execute shell: {e}")),
    }
}

async fn cd(shell: &mut Shell, dir: Option<&str>) -> Result<(), String> {
    let target = match dir {
        Some(d) => shell.remote_path(d).await,
        None => shell
            .sftp
            .expand_path(b"~")
            .await
            .map_err(|e| shell.error("cd", &e))?,
    };
    let real = shell
        .sftp
        .realpath(&target)
        .await
        .map_err(|e| shell.error("realpath remote", &e))?;
    let attrs = shell
        .sftp
        .stat(&real)
        .await
        .map_err(|e| shell.error("stat remote", &e))?;
    if !attrs.is_dir() {
        return Err(format!(
            "Can't change directory: \"{}\" is not a directory",
            show(&real)
        ));
    }
    shell.cwd = real;
    Ok(())
}

async fn transfer(shell: &mut Shell, cmd: &str, mut words: Vec<String>) -> Result<(), String> {
    let given = flags(cmd, &mut words, TRANSFER_FLAGS)?;
    let mut t: Transfers = shell.defaults;
    for c in given.chars() {
        match c {
            'a' => t.resume = true,
            'f' => t.fsync = true,
            'p' | 'P' => t.preserve = true,
            'r' | 'R' => t.recursive = true,
            _ => {}
        }
    }
    if cmd.starts_with("re") {
        t.resume = true;
    }
    let (first, _) = operands(cmd, &words, 1)?;
    let second = words.get(1).map(String::as_str);
    if cmd.ends_with("get") {
        shell.get(&first, second, t).await
    } else {
        shell.put(&first, second, t).await
    }
}

/// mkdir, rmdir, rm (globbed), rename.
async fn simple(
    shell: &mut Shell,
    cmd: &str,
    mut words: Vec<String>,
    n: usize,
) -> Result<(), String> {
    let legacy = flags(cmd, &mut words, if cmd == "rename" { "l" } else { "" })?.contains('l');
    let (first, second) = operands(cmd, &words, n)?;
    match cmd {
        "mkdir" => {
            let path = shell.remote_path(&first).await;
            let attrs = Attrs {
                permissions: Some(0o777),
                ..Attrs::default()
            };
            shell
                .sftp
                .mkdir(&path, attrs)
                .await
                .map_err(|e| shell.error(&format!("remote mkdir \"{}\"", show(&path)), &e))
        }
        "rmdir" => {
            let path = shell.remote_path(&first).await;
            shell
                .sftp
                .rmdir(&path)
                .await
                .map_err(|e| shell.error(&format!("remote rmdir \"{}\"", show(&path)), &e))
        }
        "rename" => {
            let from = shell.remote_path(&first).await;
            let to = shell.remote_path(&second).await;
            shell.sftp.rename(&from, &to, !legacy).await.map_err(|e| {
                shell.error(
                    &format!("remote rename \"{}\" to \"{}\"", show(&from), show(&to)),
                    &e,
                )
            })
        }
        _ => {
            // One pattern, as sftp's rm takes (further words are ignored).
            let mut failed = None;
            for path in shell.targets(&first).await? {
                if !shell.quiet {
                    println!("Removing {}", show(&path));
                }
                if let Err(e) = shell.sftp.remove(&path).await {
                    failed = Some(shell.error(&format!("remote delete {}", show(&path)), &e));
                }
            }
            failed.map_or(Ok(()), Err)
        }
    }
}

async fn link(shell: &mut Shell, cmd: &str, mut words: Vec<String>) -> Result<(), String> {
    let symbolic = cmd == "symlink" || flags(cmd, &mut words, "s")?.contains('s');
    let (old, new) = operands(cmd, &words, 2)?;
    let to = shell.remote_path(&new).await;
    if symbolic {
        // The target is stored as given, as sftp does.
        let target = old.as_bytes().to_vec();
        shell.sftp.symlink(&target, &to).await.map_err(|e| {
            shell.error(
                &format!("remote symlink file \"{}\" to \"{}\"", old, show(&to)),
                &e,
            )
        })
    } else {
        let from = shell.remote_path(&old).await;
        shell.sftp.hardlink(&from, &to).await.map_err(|e| {
            shell.error(
                &format!("remote link \"{}\" to \"{}\"", show(&from), show(&to)),
                &e,
            )
        })
    }
}

/// cp/copy: the server copies a remote file (`copy-data`) into a new or truncated
/// one with the original's permission bits (not set-id: the owner may change), as
/// sftp does.
async fn copy(shell: &mut Shell, words: Vec<String>) -> Result<(), String> {
    // sftp names the command cp in its messages, whichever was typed.
    let (old, new) = operands("cp", &words, 2)?;
    if !shell.sftp.has_extension("copy-data") {
        return Err("Server does not support copy-data extension".into());
    }
    let from = shell.remote_path(&old).await;
    let to = shell.remote_path(&new).await;
    let original = shell
        .sftp
        .stat(&from)
        .await
        .map_err(|e| shell.error("stat remote", &e))?;
    let attrs = Attrs {
        permissions: Some(original.permissions.map_or(0o777, |p| p & 0o777)),
        ..Attrs::default()
    };
    let source = shell
        .sftp
        .open(&from, client::READ, Attrs::default())
        .await
        .map_err(|e| shell.error(&format!("remote open(\"{}\")", show(&from)), &e))?;
    let dest = match shell.sftp.open(&to, client::WRITE_TRUNCATE, attrs).await {
        Ok(h) => h,
        Err(e) => {
            let _ = shell.sftp.close(source).await;
            return Err(shell.error(&format!("remote open(\"{}\")", show(&to)), &e));
        }
    };
    let copied = shell.sftp.copy_data(&source, 0, 0, &dest, 0).await;
    let closed = (shell.sftp.close(source).await, shell.sftp.close(dest).await);
    copied.map_err(|e| {
        shell.error(
            &format!(
                "Couldn't copy file \"{}\" to \"{}\"",
                show(&from),
                show(&to)
            ),
            &e,
        )
    })?;
    match closed {
        (Err(e), _) | (_, Err(e)) => Err(shell.error("Couldn't close file", &e)),
        _ => Ok(()),
    }
}

/// chmod, chown, chgrp (numeric ids, as sftp 9.2); `-h` does not follow links.
async fn change(shell: &mut Shell, cmd: &str, mut words: Vec<String>) -> Result<(), String> {
    let no_follow = flags(cmd, &mut words, "h")?.contains('h');
    let value = numeric_argument(cmd, &words)?;
    let pattern = words
        .get(1)
        .ok_or_else(|| format!("You must specify a path after a {cmd} command."))?;
    for path in shell.targets(pattern).await? {
        let attrs = match cmd {
            "chmod" => Attrs {
                permissions: Some(value),
                ..Attrs::default()
            },
            _ => {
                let id = value;
                let current = shell
                    .sftp
                    .stat(&path)
                    .await
                    .map_err(|e| shell.error("stat remote", &e))?;
                let (uid, gid) = current.uid_gid.ok_or("server did not send ownership")?;
                Attrs {
                    uid_gid: Some(if cmd == "chown" { (id, gid) } else { (uid, id) }),
                    ..Attrs::default()
                }
            }
        };
        if !shell.quiet {
            let what = match cmd {
                "chmod" => "mode",
                "chown" => "owner",
                _ => "group",
            };
            println!("Changing {what} on {}", show(&path));
        }
        let result = if no_follow {
            shell.sftp.lsetstat(&path, attrs).await
        } else {
            shell.sftp.setstat(&path, attrs).await
        };
        result.map_err(|e| shell.error(&format!("remote setstat \"{}\"", show(&path)), &e))?;
    }
    Ok(())
}

async fn df(shell: &mut Shell, cmd: &str, mut words: Vec<String>) -> Result<(), String> {
    let f = flags(cmd, &mut words, "hi")?;
    args_n(cmd, &words, 0)?;
    let path = match words.first() {
        Some(p) => shell.remote_path(p).await,
        None => shell.cwd.clone(),
    };
    // As sftp: a path the server refuses fails without a word; a server without the
    // extension is named.
    let v = shell.sftp.statvfs(&path).await.map_err(|e| match e {
        oxssh_sftp::Error::Unsupported(ext) => format!("Server does not support {ext} extension"),
        e if e.status().is_some() => String::new(),
        e => shell.error(&format!("Couldn't statvfs \"{}\"", show(&path)), &e),
    })?;
    if f.contains('i') {
        let used = v.files.saturating_sub(v.ffree);
        println!(
            "{:>11} {:>11} {:>11} {:>11} {:>12}",
            "Inodes", "Used", "Avail", "(root)", "%Capacity"
        );
        println!(
            "{:>11} {:>11} {:>11} {:>11} {:>11}%",
            v.files,
            used,
            v.favail,
            v.ffree,
            (used * 100).checked_div(v.files).unwrap_or(0)
        );
        return Ok(());
    }
    let size = v.frsize.saturating_mul(v.blocks);
    let used = v.frsize.saturating_mul(v.blocks.saturating_sub(v.bfree));
    let avail = v.frsize.saturating_mul(v.bavail);
    let root = v.frsize.saturating_mul(v.bfree);
    let pct = (v.blocks.saturating_sub(v.bfree) * 100)
        .checked_div(v.blocks)
        .unwrap_or(0);
    if f.contains('h') {
        println!(
            "{:>8} {:>8} {:>8} {:>8} {:>12}",
            "Size", "Used", "Avail", "(root)", "%Capacity"
        );
        // sftp's `%7sB`: fmt_scaled's figure and a B.
        println!(
            "{:>7}B {:>7}B {:>7}B {:>7}B {pct:>11}%",
            fmt_scaled(size),
            fmt_scaled(used),
            fmt_scaled(avail),
            fmt_scaled(root)
        );
    } else {
        println!(
            "{:>12} {:>12} {:>12} {:>12} {:>12}",
            "Size", "Used", "Avail", "(root)", "%Capacity"
        );
        println!(
            "{:>12} {:>12} {:>12} {:>12} {pct:>11}%",
            size / 1024,
            used / 1024,
            avail / 1024,
            root / 1024
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_sftp() {
        assert_eq!(
            split(r#"put "a b" c\ d 'e"f'"#).unwrap(),
            ["put", "a b", "c d", "e\"f"]
        );
        assert_eq!(split("  ls  ").unwrap(), ["ls"]);
        assert_eq!(split(r#"get """#).unwrap(), ["get", ""]);
        assert!(split("get \"x").is_err());
    }

    #[test]
    fn command_flags_are_checked() {
        let mut w = vec!["-rp".to_owned(), "x".to_owned()];
        assert_eq!(flags("get", &mut w, "afpPrR").unwrap(), "rp");
        assert_eq!(w, ["x"]);
        let mut w = vec!["-z".to_owned()];
        assert!(flags("get", &mut w, "afpPrR").is_err());
    }
}
