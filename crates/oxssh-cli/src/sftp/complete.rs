//! Tab completion at the interactive prompt, as OpenSSH's sftp offers it: command
//! names in the first word; remote paths (listed through the session) or local paths
//! for the operands, by command and operand position (`get REMOTE LOCAL`, `put LOCAL
//! REMOTE`, `lcd LOCAL`, ...). One match is completed (a `/` after a directory, a space
//! after anything else); several are listed and their common prefix completed.

use std::path::Path;

use super::shell::{join, Shell};
use crate::width;

/// The commands offered in the first word.
const COMMANDS: &[&str] = &[
    "bye", "cd", "chgrp", "chmod", "chown", "df", "dir", "exit", "get", "help", "lcd", "lls",
    "lmkdir", "ln", "lpwd", "ls", "lumask", "mkdir", "progress", "put", "pwd", "quit", "reget",
    "rename", "reput", "rm", "rmdir", "symlink", "version",
];

/// Where an operand lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Remote,
    Local,
    Nothing,
}

/// Which side operand `n` (flags not counted) of `command` names.
fn side(command: &str, n: usize) -> Side {
    match (command, n) {
        ("get" | "reget", 0) | ("put" | "reput", 1) => Side::Remote,
        ("get" | "reget", _) | ("put" | "reput", _) => Side::Local,
        ("lcd" | "lls" | "lmkdir", _) => Side::Local,
        (
            "cd" | "chgrp" | "chmod" | "chown" | "df" | "dir" | "ln" | "ls" | "mkdir" | "rename"
            | "rm" | "rmdir" | "symlink",
            _,
        ) => Side::Remote,
        _ => Side::Nothing,
    }
}

/// What Tab does to the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// The completed word replaces the line from this character to the cursor.
    pub start: usize,
    pub text: String,
    /// Several matches: shown under the prompt.
    pub list: Vec<String>,
}

/// Completes the last word of `before` (the line up to the cursor); `None` when
/// nothing matches.
pub async fn complete(shell: &mut Shell, before: &str) -> Option<Completion> {
    if before.trim_start().starts_with('!') {
        return None;
    }
    let mut words = split(before);
    let (start, word) = words
        .pop()
        .unwrap_or((before.chars().count(), String::new()));
    let Some((_, command)) = words.first() else {
        let names: Vec<(String, bool)> = COMMANDS
            .iter()
            .filter(|c| c.starts_with(&word))
            .map(|c| ((*c).to_owned(), false))
            .collect();
        return finish(start, "", names);
    };
    if word.starts_with('-') {
        return None;
    }
    let n = words
        .iter()
        .skip(1)
        .filter(|(_, w)| !w.starts_with('-'))
        .count();
    let (dir, prefix) = match word.rfind('/') {
        Some(i) => word.split_at(i + 1),
        None => ("", word.as_str()),
    };
    let entries = match side(command, n) {
        Side::Nothing => return None,
        Side::Remote => {
            let path = join(
                &shell.cwd,
                if dir.is_empty() { b"." } else { dir.as_bytes() },
            );
            shell
                .sftp
                .read_dir(&path)
                .await
                .ok()?
                .into_iter()
                .map(|e| {
                    let is_dir = e.attrs.is_dir();
                    (String::from_utf8_lossy(&e.filename).into_owned(), is_dir)
                })
                .collect()
        }
        Side::Local if word == "~" => {
            // The home directory itself: `~/`, then its entries on the next Tab.
            return finish(start, "", vec![("~".to_owned(), true)]);
        }
        Side::Local => {
            // `~/...` lists the home directory; the line keeps the `~` as typed.
            let path = if dir.is_empty() {
                ".".to_owned()
            } else {
                local_dir(dir)
            };
            std::fs::read_dir(Path::new(&path))
                .ok()?
                .filter_map(Result::ok)
                .map(|e| {
                    let is_dir = e.path().is_dir();
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect::<Vec<_>>()
        }
    };
    let names = entries
        .into_iter()
        .filter(|(name, _)| name != "." && name != "..")
        .filter(|(name, _)| name.starts_with(prefix))
        .filter(|(name, _)| prefix.starts_with('.') || !name.starts_with('.'))
        .collect();
    finish(start, dir, names)
}

/// A local directory as typed (ending in `/`) with a leading `~/` or `~user/` expanded,
/// as the local commands expand it.
fn local_dir(dir: &str) -> String {
    let Some(rest) = dir.strip_prefix('~') else {
        return dir.to_owned();
    };
    let (user, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let home = if user.is_empty() {
        std::env::var("HOME").ok()
    } else {
        oxssh_os::SystemUser::by_name(user)
            .ok()
            .flatten()
            .map(|u| u.home.display().to_string())
    };
    match home {
        Some(home) => format!("{}/{tail}", home.trim_end_matches('/')),
        None => dir.to_owned(),
    }
}

fn finish(start: usize, dir: &str, mut names: Vec<(String, bool)>) -> Option<Completion> {
    names.sort();
    match names.as_slice() {
        [] => None,
        [(name, is_dir)] => Some(Completion {
            start,
            text: format!(
                "{}{}",
                escape(&format!("{dir}{name}")),
                if *is_dir { "/" } else { " " }
            ),
            list: Vec::new(),
        }),
        many => {
            let first = many.first().map(|(n, _)| n.as_str()).unwrap_or_default();
            let common = many.iter().fold(first.to_owned(), |acc, (n, _)| {
                acc.chars()
                    .zip(n.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
            Some(Completion {
                start,
                text: escape(&format!("{dir}{common}")),
                list: many
                    .iter()
                    .map(|(n, d)| if *d { format!("{n}/") } else { n.clone() })
                    .collect(),
            })
        }
    }
}

/// Backslash before the characters the command line splitter treats specially.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\\' | '\'' | '"' | '*' | '?' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The words of `line` as (first character's index, text without quotes and
/// escapes); a trailing blank starts an empty last word.
fn split(line: &str) -> Vec<(usize, String)> {
    let mut words: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut count = 0;
    for (i, c) in line.chars().enumerate() {
        count = i + 1;
        let word = current.get_or_insert_with(|| (i, String::new()));
        if escaped {
            word.1.push(c);
            escaped = false;
        } else if c == '\\' && quote != Some('\'') {
            escaped = true;
        } else if Some(c) == quote {
            quote = None;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some(c);
        } else if quote.is_none() && c.is_whitespace() {
            if let Some(w) = current.take().filter(|(s, w)| !w.is_empty() || *s < i) {
                words.push(w);
            }
        } else {
            word.1.push(c);
        }
    }
    match current {
        Some(w) => words.push(w),
        None => words.push((count, String::new())),
    }
    words
}

/// Prints several matches in columns under the prompt (80 columns, as sftp).
pub fn show_list(list: &[String]) -> String {
    let shown: Vec<(String, usize)> = list
        .iter()
        .map(|n| {
            let shown = width::escape(n).into_owned();
            let columns = width::width(&shown);
            (shown, columns)
        })
        .collect();
    let mut out = String::from("\r\n");
    let longest = shown.iter().map(|(_, w)| *w).max().unwrap_or(0);
    for row in width::rows(&shown, 80, longest) {
        out.push_str(row.trim_end_matches(' '));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_start_and_lose_escapes() {
        assert_eq!(
            split("get a\\ b \"c d"),
            vec![(0, "get".into()), (4, "a b".into()), (9, "c d".into())]
        );
        assert_eq!(
            split("put x "),
            vec![(0, "put".into()), (4, "x".into()), (6, String::new())]
        );
        assert_eq!(split(""), vec![(0, String::new())]);
    }

    #[test]
    fn a_leading_tilde_names_the_home_directory() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(local_dir("~/"), format!("{}/", home.trim_end_matches('/')));
        assert_eq!(
            local_dir("~/a/"),
            format!("{}/a/", home.trim_end_matches('/'))
        );
        assert_eq!(local_dir("~root/"), "/root/");
        assert_eq!(local_dir("a/~/"), "a/~/");
        assert_eq!(local_dir("~no-such-user-here/"), "~no-such-user-here/");
    }

    #[test]
    fn operands_map_to_their_side() {
        assert_eq!(side("get", 0), Side::Remote);
        assert_eq!(side("get", 1), Side::Local);
        assert_eq!(side("put", 0), Side::Local);
        assert_eq!(side("lcd", 0), Side::Local);
        assert_eq!(side("rename", 1), Side::Remote);
        assert_eq!(side("pwd", 0), Side::Nothing);
    }

    #[test]
    fn one_match_completes_several_share_a_prefix() {
        let one = finish(4, "d/", vec![("my file".into(), false)]);
        assert_eq!(one.map(|c| c.text), Some("d/my\\ file ".into()));
        let many = finish(
            0,
            "",
            vec![("reget".into(), false), ("rename".into(), false)],
        );
        let many = many.unwrap_or_default();
        assert_eq!(many.text, "re");
        assert_eq!(many.list, vec!["reget".to_owned(), "rename".to_owned()]);
    }
}
