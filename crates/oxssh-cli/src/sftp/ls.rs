//! `ls`, as OpenSSH 9.2's sftp lists: a directory's entries named under the path it
//! was given as, glob matches by their path, short listings in columns shared out
//! across the terminal by the longest name (in bytes, as sftp counts), long lines
//! formatted here (`-h`, `-n`, or when the server tells owners' names) or as the
//! server wrote them.

use std::os::fd::AsFd;

use oxssh_sftp::codec::{Attrs, NameEntry};
use oxssh_sftp::server::listing;

use super::commands::{args_n, flags};
use super::shell::{show, Shell};
use super::units::fmt_scaled;
use crate::width;

/// Flags ls takes.
pub(super) const FLAGS: &str = "1afhlnrSt";

pub(super) async fn ls(shell: &mut Shell, cmd: &str, mut words: Vec<String>) -> Result<(), String> {
    let f = flags(cmd, &mut words, FLAGS)?;
    let long = f.contains('l') || f.contains('n') || f.contains('h');
    let all = f.contains('a');
    let human = f.contains('h');
    let numeric = f.contains('n');
    args_n(cmd, &words, 0)?;
    let cwd = shell.cwd.clone();
    // As sftp: a directory's entries are named under the path it was given as (relative
    // to the working directory unless given absolute), glob matches by their path.
    let (entries, dir_prefix) = match words.first() {
        None => (list(shell, &cwd).await?, Some(Vec::new())),
        Some(pattern) => {
            let matches = shell.remote_glob(pattern).await?;
            if matches.is_empty() {
                return Err(format!(
                    "Can't ls: \"{}\" not found",
                    show(&shell.remote_path(pattern).await)
                ));
            }
            let strip = (!pattern.starts_with('/')).then_some(cwd.as_slice());
            match matches.as_slice() {
                [(path, attrs)] if attrs.is_dir() => {
                    // Named with the slash sftp's glob marks a directory with; `.` is
                    // kept as sftp keeps it (`./a`), where our path join folds it.
                    let prefix = if pattern == "." {
                        b"./".to_vec()
                    } else {
                        path_strip(&path_append(path, b""), strip).to_vec()
                    };
                    (list(shell, &path.clone()).await?, Some(prefix))
                }
                _ => (glob_entries(matches, strip), None),
            }
        }
    };
    let dir_listing = dir_prefix.is_some();
    let mut entries: Vec<NameEntry> = entries
        .into_iter()
        .filter(|e| all || !dir_listing || !e.filename.starts_with(b"."))
        .collect();
    if f.contains('S') {
        // Largest first, as ls -S.
        entries.sort_by_key(|e| std::cmp::Reverse(e.attrs.size));
    } else if f.contains('t') {
        // Newest first, as ls -t.
        let mtime = |e: &NameEntry| e.attrs.times.map(|(_, m)| m);
        entries.sort_by_key(|e| std::cmp::Reverse(mtime(e)));
    } else if !f.contains('f') {
        entries.sort_by(|a, b| a.filename.cmp(&b.filename));
    }
    if f.contains('r') {
        entries.reverse();
    }
    // sftp's longest name, in bytes: a directory's longest entry plus the prefix
    // given; for glob matches the longest full path (set by glob_entries).
    let longest = match &dir_prefix {
        Some(prefix) => {
            let longest = entries.iter().map(|e| e.filename.len()).max().unwrap_or(0);
            let prefix_len = prefix.len();
            for e in &mut entries {
                e.filename = path_append(prefix, &e.filename);
            }
            longest + prefix_len
        }
        None => entries.iter().map(|e| e.longname.len()).max().unwrap_or(0),
    };
    if long {
        // sftp prints a directory's lines as the server wrote them only when it can
        // neither format them itself as asked (-h, -n) nor ask the server for the
        // owners' names (users-groups-by-id).
        let by_id = shell.sftp.has_extension("users-groups-by-id@openssh.com");
        let server_lines = dir_listing && !human && !numeric && !by_id;
        let names = if numeric || server_lines {
            None
        } else {
            owner_names(shell, &entries).await
        };
        for e in &entries {
            if server_lines && !e.longname.is_empty() {
                println!("{}", width::escape_bytes(&e.longname));
            } else {
                println!("{}", long_line(e, human, names.as_ref()));
            }
        }
    } else if f.contains('1') {
        for e in &entries {
            println!("{}", width::escape_bytes(&e.filename));
        }
    } else {
        print_columns(&entries, longest);
    }
    Ok(())
}

/// Glob matches as listing entries named by their path less `strip` (the working
/// directory, for a relative pattern), directories marked with `/` as sftp's glob
/// marks them. The full path is kept in `longname`, which sftp measures the columns
/// by.
fn glob_entries(matches: Vec<(Vec<u8>, Attrs)>, strip: Option<&[u8]>) -> Vec<NameEntry> {
    matches
        .into_iter()
        .map(|(mut path, attrs)| {
            if attrs.is_dir() && !path.ends_with(b"/") {
                path.push(b'/');
            }
            NameEntry {
                filename: path_strip(&path, strip).to_vec(),
                longname: path,
                attrs,
            }
        })
        .collect()
}

/// `path` less the leading `strip` and the slash after it, as sftp's `path_strip`;
/// `path` whole when it does not start with `strip` (or there is none).
fn path_strip<'a>(path: &'a [u8], strip: Option<&[u8]>) -> &'a [u8] {
    let Some(strip) = strip else {
        return path;
    };
    match path.strip_prefix(strip) {
        Some(rest) if !strip.ends_with(b"/") => rest.strip_prefix(b"/").unwrap_or(rest),
        Some(rest) => rest,
        None => path,
    }
}

/// `name` under `dir` (just `name` when `dir` is empty), as sftp's `path_append`.
fn path_append(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

async fn list(shell: &mut Shell, dir: &[u8]) -> Result<Vec<NameEntry>, String> {
    shell.sftp.read_dir(dir).await.map_err(|e| match e {
        // Ctrl-C: back to the prompt with nothing listed, as sftp.
        oxssh_sftp::Error::Interrupted => String::new(),
        e => shell.error(&format!("Couldn't read directory \"{}\"", show(dir)), &e),
    })
}

type Owners = (
    std::collections::HashMap<u32, String>,
    std::collections::HashMap<u32, String>,
);

/// User and group names for the listing, from users-groups-by-id when offered.
async fn owner_names(shell: &mut Shell, entries: &[NameEntry]) -> Option<Owners> {
    let mut uids: Vec<u32> = entries
        .iter()
        .filter_map(|e| e.attrs.uid_gid.map(|(u, _)| u))
        .collect();
    let mut gids: Vec<u32> = entries
        .iter()
        .filter_map(|e| e.attrs.uid_gid.map(|(_, g)| g))
        .collect();
    uids.sort_unstable();
    uids.dedup();
    gids.sort_unstable();
    gids.dedup();
    let (users, groups) = shell
        .sftp
        .names_by_id(uids.clone(), gids.clone())
        .await
        .ok()?;
    let pair = |ids: Vec<u32>, names: Vec<String>| {
        ids.into_iter()
            .zip(names)
            .filter(|(_, n)| !n.is_empty())
            .collect::<std::collections::HashMap<_, _>>()
    };
    Some((pair(uids, users), pair(gids, groups)))
}

fn long_line(e: &NameEntry, human: bool, names: Option<&Owners>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (uid, gid) = e.attrs.uid_gid.unwrap_or((0, 0));
    let user = names
        .and_then(|(u, _)| u.get(&uid).cloned())
        .unwrap_or_else(|| uid.to_string());
    let group = names
        .and_then(|(_, g)| g.get(&gid).cloned())
        .unwrap_or_else(|| gid.to_string());
    let size = e.attrs.size.unwrap_or(0);
    let size = if human {
        fmt_scaled(size)
    } else {
        size.to_string()
    };
    let mtime = e.attrs.times.map_or(0, |(_, m)| i64::from(m));
    format!(
        "{}  {:>3} {user:<8} {group:<8} {size:>8} {} {}",
        listing::mode_string(e.attrs.permissions.unwrap_or(0)),
        "?",
        listing::date(mtime, now),
        width::escape_bytes(&e.filename)
    )
}

/// A short listing in columns across the terminal that standard input is (80
/// columns otherwise), as sftp measures it.
fn print_columns(entries: &[NameEntry], longest: usize) {
    let width = oxssh_os::pty::window_size(std::io::stdin().as_fd())
        .ok()
        .and_then(|w| usize::try_from(w.cols).ok())
        .filter(|&c| c > 0)
        .unwrap_or(80);
    // Padded by the bytes of each name, then escaped, as sftp's printf and mprintf do.
    let names: Vec<(String, usize)> = entries
        .iter()
        .map(|e| (width::escape_bytes(&e.filename), e.filename.len()))
        .collect();
    for row in width::rows(&names, width, longest) {
        println!("{row}");
    }
}
