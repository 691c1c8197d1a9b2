//! The interpreter's state: the SFTP session, the remote working directory, transfer
//! defaults from the flags, the progress toggle; remote and local path resolution and
//! globbing (`*`, `?` in the last component, as `sftp` users mostly write them).

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use oxssh_sftp::codec::{Attrs, NameEntry};

use super::commands;
use super::Session;

/// Transfer options: flags given to `oxsftp`, or per `get`/`put`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfers {
    /// `-p`: modes and times.
    pub preserve: bool,
    /// `-r`: directories.
    pub recursive: bool,
    /// `-a`: resume partial files.
    pub resume: bool,
    /// `-f`: fsync@openssh.com after uploads.
    pub fsync: bool,
}

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    /// Ran (or failed with the message to print).
    Done(Result<(), String>),
    /// `bye`, `quit`, `exit`.
    Quit,
    /// The connection is gone.
    Lost,
}

/// The interpreter.
pub struct Shell {
    pub sftp: Session,
    /// Absolute remote working directory.
    pub cwd: Vec<u8>,
    pub defaults: Transfers,
    pub quiet: bool,
    /// Progress meter shown (a terminal, not -q, not batch); `progress` toggles it.
    pub progress: bool,
    pub limit_kbps: Option<u64>,
    /// Set when an operation failed in a way that ends the session.
    pub lost: bool,
    /// Messages as `scp` words them (`scp: ` prefix, its texts) rather than `sftp`.
    pub scp_style: bool,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("cwd", &String::from_utf8_lossy(&self.cwd))
            .finish_non_exhaustive()
    }
}

impl Shell {
    /// A shell whose remote directory is the server's starting directory.
    pub async fn start(
        mut sftp: Session,
        defaults: Transfers,
        quiet: bool,
        progress: bool,
        limit_kbps: Option<u64>,
    ) -> Result<Self, String> {
        sftp.on_suspect_name(suspect_name_reporter(""));
        let cwd = sftp
            .realpath(b".")
            .await
            .map_err(|e| format!("Need cwd: {e}"))?;
        Ok(Self {
            sftp,
            cwd,
            defaults,
            quiet,
            progress,
            limit_kbps,
            lost: false,
            scp_style: false,
        })
    }

    /// Words messages as `scp` does (its `scp: ` prefix, its texts).
    pub fn speak_as_scp(&mut self) {
        self.scp_style = true;
        self.sftp
            .on_suspect_name(suspect_name_reporter(self.prefix()));
    }

    /// `host:path` on the command line: a directory becomes the working directory; a
    /// file is fetched into the local directory and the program ends.
    pub async fn start_path(&mut self, path: &str) -> Result<Option<u8>, String> {
        let full = self.remote_path(path).await;
        match self.sftp.stat(&full).await {
            Ok(attrs) if attrs.is_dir() => {
                self.cwd = full;
                Ok(None)
            }
            _ => {
                let outcome = self.run(&format!("get {}", quote(path))).await;
                Ok(Some(match outcome {
                    Outcome::Done(Ok(())) | Outcome::Quit => 0,
                    Outcome::Done(Err(message)) => {
                        if !message.is_empty() {
                            eprintln!("{message}");
                        }
                        1
                    }
                    Outcome::Lost => 255,
                }))
            }
        }
    }

    /// What goes before a message printed in the middle of a transfer.
    pub fn prefix(&self) -> &'static str {
        if self.scp_style {
            "scp: "
        } else {
            ""
        }
    }

    /// Runs one command line.
    pub async fn run(&mut self, line: &str) -> Outcome {
        let outcome = commands::dispatch(self, line).await;
        if self.lost {
            eprintln!("Connection closed");
            return Outcome::Lost;
        }
        outcome
    }

    /// Turns an SFTP error into the message to print, noting a lost connection.
    pub fn error(&mut self, what: &str, e: &oxssh_sftp::Error) -> String {
        if matches!(e, oxssh_sftp::Error::Io(_) | oxssh_sftp::Error::Protocol(_)) {
            self.lost = true;
        }
        format!("{what}: {e}")
    }

    /// `path` made absolute against the remote working directory; `~` expanded by the
    /// server.
    pub async fn remote_path(&mut self, path: &str) -> Vec<u8> {
        if path.starts_with('~') {
            if let Ok(expanded) = self.sftp.expand_path(path.as_bytes()).await {
                return expanded;
            }
        }
        join(&self.cwd, path.as_bytes())
    }

    /// The remote paths an operation on `pattern` applies to: the matches, or the path
    /// itself when it has no wildcard or matches nothing (sftp's GLOB_NOCHECK: not
    /// checked, the operation reports what is wrong).
    pub async fn targets(&mut self, pattern: &str) -> Result<Vec<Vec<u8>>, String> {
        let last = pattern.rsplit('/').next().unwrap_or(pattern);
        if !has_wildcard(last) {
            return Ok(vec![self.remote_path(pattern).await]);
        }
        let matches: Vec<Vec<u8>> = self
            .remote_glob(pattern)
            .await?
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        if matches.is_empty() {
            return Ok(vec![self.remote_path(pattern).await]);
        }
        Ok(matches)
    }

    /// The remote paths `pattern` names (with their attributes, from the listing when
    /// globbed, else from `stat`): empty when nothing matches.
    pub async fn remote_glob(&mut self, pattern: &str) -> Result<Vec<(Vec<u8>, Attrs)>, String> {
        let full = self.remote_path(pattern).await;
        let (dir, last) = split_last(&full);
        let last_text = String::from_utf8_lossy(last).into_owned();
        if !has_wildcard(&last_text) {
            return match self.sftp.stat(&full).await {
                Ok(attrs) => Ok(vec![(full, attrs)]),
                Err(e) if e.status().is_some() => Ok(Vec::new()),
                Err(e) => Err(self.error("stat", &e)),
            };
        }
        let entries: Vec<NameEntry> = match self.sftp.read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.status().is_some() => return Ok(Vec::new()),
            // Ctrl-C: the command stops quietly.
            Err(oxssh_sftp::Error::Interrupted) => return Err(String::new()),
            Err(e) => return Err(self.error("readdir", &e)),
        };
        let mut out: Vec<(Vec<u8>, Attrs)> = entries
            .into_iter()
            .filter(|e| e.filename != b"." && e.filename != b"..")
            .filter(|e| !e.filename.starts_with(b".") || last_text.starts_with('.'))
            .filter(|e| {
                oxssh_config::match_pattern(&String::from_utf8_lossy(&e.filename), &last_text)
            })
            .map(|e| (join(&dir, &e.filename), e.attrs))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Local paths matching `pattern` (wildcards in the last component only).
pub fn local_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let last = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !has_wildcard(&last) {
        return vec![path.to_path_buf()];
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| {
            let n = n.to_string_lossy();
            (!n.starts_with('.') || last.starts_with('.')) && oxssh_config::match_pattern(&n, &last)
        })
        .map(|n| {
            if path.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
                dir.join(n)
            } else {
                PathBuf::from(n)
            }
        })
        .collect();
    out.sort();
    out
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// `path` joined to `dir` unless absolute.
pub fn join(dir: &[u8], path: &[u8]) -> Vec<u8> {
    if path.starts_with(b"/") {
        return path.to_vec();
    }
    if path.is_empty() || path == b"." {
        return dir.to_vec();
    }
    let mut out = dir.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(path);
    out
}

/// The directory and last component of an absolute remote path.
pub fn split_last(path: &[u8]) -> (Vec<u8>, &[u8]) {
    let trimmed = match path {
        [rest @ .., b'/'] if !rest.is_empty() => rest,
        _ => path,
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/".to_vec(), trimmed.get(1..).unwrap_or_default()),
        Some(i) => (
            trimmed.get(..i).unwrap_or_default().to_vec(),
            trimmed.get(i + 1..).unwrap_or_default(),
        ),
        None => (b".".to_vec(), trimmed),
    }
}

/// Prints OpenSSH's line, after `prefix`, for each listed name holding a `/` (which
/// the listing dropped).
fn suspect_name_reporter(prefix: &'static str) -> oxssh_sftp::client::SuspectNameReport {
    Box::new(move |dir: &[u8], name: &[u8]| {
        eprintln!(
            "{prefix}Server sent suspect path \"{}\" during readdir of \"{}\"",
            show(name),
            show(dir)
        );
    })
}

/// The last component of a remote path, as a local file name.
pub fn base_name(path: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(split_last(path).1.to_vec()))
}

/// A remote path for messages, escaped so that a name the server chose cannot drive
/// the terminal (see [`crate::width::escape_bytes`]).
pub fn show(path: &[u8]) -> String {
    crate::width::escape_bytes(path)
}

/// A local path as remote bytes.
pub fn local_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// Quotes `s` for the command tokenizer.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_join_and_split() {
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(join(b"/", b"b"), b"/b");
        assert_eq!(join(b"/a", b"/c"), b"/c");
        assert_eq!(split_last(b"/a/b"), (b"/a".to_vec(), &b"b"[..]));
        assert_eq!(split_last(b"/b/"), (b"/".to_vec(), &b"b"[..]));
        assert_eq!(base_name(b"/x/y z"), PathBuf::from("y z"));
    }
}
