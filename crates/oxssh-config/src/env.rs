//! Everything the configuration code needs from the outside world, behind one trait.
//!
//! The parser never reads the process environment, the password database or files directly:
//! it asks a [`ConfigEnv`]. [`OsEnv`] answers from the real system; [`MemoryEnv`] answers from
//! tables filled in by tests, so every rule (Include globs, `Match exec`, `${VAR}`, `~user`,
//! permission checks) is tested without touching the machine.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// A configuration file as read, with the owner and mode used by permission checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    /// The text (invalid UTF-8 is replaced, as the parser works on text).
    pub contents: String,
    /// Owner uid.
    pub uid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// How a `Match exec` command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStatus {
    /// It exited with this status; 0 means the `Match` condition holds.
    Exited(i32),
    /// It was killed by a signal (OpenSSH treats this as a fatal error).
    Signaled,
}

/// The outside world as seen by the configuration code. See the module docs.
pub trait ConfigEnv {
    /// The current user's home directory from the password database (`pw_dir`; not `$HOME`).
    fn home_dir(&self) -> String;
    /// The current user's login name (`pw_name`).
    fn user_name(&self) -> String;
    /// The current real uid.
    fn uid(&self) -> u32;
    /// The local host name (`gethostname`).
    fn host_name(&self) -> String;
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Another user's home directory, for `~user` paths.
    fn user_home(&self, user: &str) -> Option<String>;
    /// Reads a file. `Ok(None)` means it does not exist; `Err` carries the `strerror` text.
    /// A directory reads as an empty file, as `fopen` + `getline` do.
    fn read_file(&self, path: &str) -> Result<Option<FileData>, String>;
    /// The entry names of a directory (for `Include` globs).
    fn list_dir(&self, path: &str) -> Result<Vec<String>, String>;
    /// Whether `path` exists (`stat`); `Err` carries the `strerror` text.
    fn stat(&self, path: &str) -> Result<(), String>;
    /// A TCP service port from the services database (`Port ssh`).
    fn service_port(&self, name: &str) -> Option<u16>;
    /// Runs `shell -c command` with stdin and stdout on `/dev/null` (for `Match exec`).
    /// `Err` means the shell could not be started, with the reason.
    fn run_shell(&self, shell: &str, command: &str) -> Result<ExecStatus, String>;
}

/// `strerror`-style text for an I/O error (without Rust's ` (os error N)` suffix).
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s.get(..i).unwrap_or(&s).to_string(),
        None => s,
    }
}

/// The real system: `/etc/passwd` (or `getent`), `/proc`, the file system, `/bin/sh`.
///
/// The current user's uid and passwd entry are looked up once per `OsEnv` and kept:
/// one resolution asks for the home directory and the login name several times (`~`,
/// `%d`, `%u`, `%i`), and each `oxssh` start would otherwise read `/etc/passwd` as often.
#[derive(Debug, Clone, Default)]
pub struct OsEnv {
    uid: OnceLock<u32>,
    /// The current user's (name, home), or `None` when the database has no entry.
    own: OnceLock<Option<(String, String)>>,
}

impl OsEnv {
    /// The real system.
    pub fn new() -> Self {
        OsEnv::default()
    }

    /// The current user's passwd entry (name, home), looked up on first use.
    fn own_entry(&self) -> Option<(String, String)> {
        self.own
            .get_or_init(|| Self::passwd(&self.uid().to_string(), true))
            .clone()
    }

    /// The passwd entry (name, home) for a uid or a name, from `/etc/passwd` then `getent`.
    fn passwd(key: &str, by_uid: bool) -> Option<(String, String)> {
        let parse = |line: &str| -> Option<(String, String)> {
            let f: Vec<&str> = line.split(':').collect();
            let (name, uid, dir) = (f.first()?, f.get(2)?, f.get(5)?);
            let hit = if by_uid { *uid == key } else { *name == key };
            hit.then(|| ((*name).to_string(), (*dir).to_string()))
        };
        if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
            if let Some(found) = text.lines().find_map(parse) {
                return Some(found);
            }
        }
        let out = std::process::Command::new("getent")
            .args(["passwd", key])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(parse)
    }
}

#[cfg(unix)]
impl ConfigEnv for OsEnv {
    fn home_dir(&self) -> String {
        self.own_entry()
            .map(|(_, d)| d)
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into())
    }

    fn user_name(&self) -> String {
        self.own_entry()
            .map(|(n, _)| n)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| self.uid().to_string())
    }

    fn uid(&self) -> u32 {
        use std::os::unix::fs::MetadataExt;
        // /proc/self is owned by the process's user; `id -u` covers systems without /proc.
        *self.uid.get_or_init(|| {
            std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .ok()
                .or_else(|| {
                    let out = std::process::Command::new("id").arg("-u").output().ok()?;
                    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
                })
                .unwrap_or(u32::MAX)
        })
    }

    fn host_name(&self) -> String {
        let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
        from_proc
            .or_else(|| {
                let out = std::process::Command::new("uname")
                    .arg("-n")
                    .output()
                    .ok()?;
                Some(String::from_utf8_lossy(&out.stdout).into_owned())
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn user_home(&self, user: &str) -> Option<String> {
        Self::passwd(user, false).map(|(_, d)| d)
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, String> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let mut f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(strerror(&e)),
        };
        let meta = f.metadata().map_err(|e| strerror(&e))?;
        let mut bytes = Vec::new();
        if !meta.is_dir() {
            f.read_to_end(&mut bytes).map_err(|e| strerror(&e))?;
        }
        Ok(Some(FileData {
            contents: String::from_utf8_lossy(&bytes).into_owned(),
            uid: meta.uid(),
            mode: meta.mode() & 0o7777,
        }))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, String> {
        let entries = std::fs::read_dir(path).map_err(|e| strerror(&e))?;
        Ok(entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    fn stat(&self, path: &str) -> Result<(), String> {
        std::fs::metadata(path)
            .map(|_| ())
            .map_err(|e| strerror(&e))
    }

    fn service_port(&self, name: &str) -> Option<u16> {
        let text = std::fs::read_to_string("/etc/services").ok()?;
        text.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let first = words.next()?;
            let (port, proto) = words.next()?.split_once('/')?;
            let known = first == name || words.any(|alias| alias == name);
            (known && proto == "tcp")
                .then(|| port.parse().ok())
                .flatten()
        })
    }

    fn run_shell(&self, shell: &str, command: &str) -> Result<ExecStatus, String> {
        use std::process::{Command, Stdio};
        let status = Command::new(shell)
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| strerror(&e))?;
        Ok(status
            .code()
            .map_or(ExecStatus::Signaled, ExecStatus::Exited))
    }
}

/// A callback deciding how a `Match exec` command ends in a [`MemoryEnv`].
pub type ExecHandler = Box<dyn Fn(&str) -> ExecStatus>;

/// An in-memory [`ConfigEnv`] for tests: files, variables and users come from tables, and
/// `Match exec` commands are answered by a callback and logged.
pub struct MemoryEnv {
    /// Home directory of the current user.
    pub home: String,
    /// Login name of the current user.
    pub user: String,
    /// Uid of the current user.
    pub uid: u32,
    /// Local host name.
    pub host: String,
    /// Environment variables.
    pub vars: BTreeMap<String, String>,
    /// Other users' home directories.
    pub users: BTreeMap<String, String>,
    /// Files by absolute path.
    pub files: BTreeMap<String, FileData>,
    /// Service ports by name.
    pub services: BTreeMap<String, u16>,
    /// Answers `Match exec` commands (default: exit 1).
    pub exec: ExecHandler,
    /// Every `Match exec` command run, after token expansion.
    pub exec_log: RefCell<Vec<String>>,
}

impl fmt::Debug for MemoryEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryEnv")
            .field("home", &self.home)
            .field("user", &self.user)
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MemoryEnv {
    /// User `alice` (uid 1000, home `/home/alice`) on host `box.example.org`, no files.
    pub fn new() -> Self {
        MemoryEnv {
            home: "/home/alice".into(),
            user: "alice".into(),
            uid: 1000,
            host: "box.example.org".into(),
            vars: BTreeMap::from([("HOME".to_string(), "/home/alice".to_string())]),
            users: BTreeMap::new(),
            files: BTreeMap::new(),
            services: BTreeMap::from([("ssh".to_string(), 22)]),
            exec: Box::new(|_| ExecStatus::Exited(1)),
            exec_log: RefCell::new(Vec::new()),
        }
    }

    /// Adds a file owned by the current user, mode 0644.
    pub fn with_file(mut self, path: &str, contents: &str) -> Self {
        let uid = self.uid;
        self.files.insert(
            path.into(),
            FileData {
                contents: contents.into(),
                uid,
                mode: 0o644,
            },
        );
        self
    }

    /// Adds a file with an explicit owner and mode.
    pub fn with_file_mode(mut self, path: &str, contents: &str, uid: u32, mode: u32) -> Self {
        self.files.insert(
            path.into(),
            FileData {
                contents: contents.into(),
                uid,
                mode,
            },
        );
        self
    }

    /// Sets an environment variable.
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets how `Match exec` commands end.
    pub fn with_exec(mut self, f: impl Fn(&str) -> ExecStatus + 'static) -> Self {
        self.exec = Box::new(f);
        self
    }
}

impl Default for MemoryEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigEnv for MemoryEnv {
    fn home_dir(&self) -> String {
        self.home.clone()
    }
    fn user_name(&self) -> String {
        self.user.clone()
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn host_name(&self) -> String {
        self.host.clone()
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn user_home(&self, user: &str) -> Option<String> {
        if user == self.user {
            return Some(self.home.clone());
        }
        self.users.get(user).cloned()
    }
    fn read_file(&self, path: &str) -> Result<Option<FileData>, String> {
        if let Some(f) = self.files.get(path) {
            return Ok(Some(f.clone()));
        }
        // A directory (a prefix of some file) reads as empty, like fopen + getline.
        let dir = format!("{}/", path.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .any(|k| k.starts_with(&dir))
            .then(|| FileData {
                contents: String::new(),
                uid: self.uid,
                mode: 0o755,
            }))
    }
    fn list_dir(&self, path: &str) -> Result<Vec<String>, String> {
        let dir = format!("{}/", path.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&dir))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err("No such file or directory".into());
        }
        Ok(names)
    }
    fn stat(&self, path: &str) -> Result<(), String> {
        match self.read_file(path) {
            Ok(Some(_)) => Ok(()),
            _ => Err("No such file or directory".into()),
        }
    }
    fn service_port(&self, name: &str) -> Option<u16> {
        self.services.get(name).copied()
    }
    fn run_shell(&self, _shell: &str, command: &str) -> Result<ExecStatus, String> {
        self.exec_log.borrow_mut().push(command.to_string());
        Ok((self.exec)(command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_env_lists_directories_and_reads_them_as_empty() {
        let env = MemoryEnv::new()
            .with_file("/etc/ssh/d/a.conf", "x")
            .with_file("/etc/ssh/d/b.conf", "y")
            .with_file("/etc/ssh/d/sub/c", "z");
        assert_eq!(
            env.list_dir("/etc/ssh/d").unwrap(),
            vec!["a.conf", "b.conf", "sub"]
        );
        assert_eq!(env.read_file("/etc/ssh/d").unwrap().unwrap().contents, "");
        assert_eq!(env.read_file("/nope").unwrap(), None);
    }

    #[test]
    fn os_env_reads_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "Port 2\n").unwrap();
        let env = OsEnv::new();
        let data = env.read_file(p.to_str().unwrap()).unwrap().unwrap();
        assert_eq!(data.contents, "Port 2\n");
        assert_eq!(env.read_file("/definitely/not/here").unwrap(), None);
        assert!(env
            .stat("/definitely/not/here")
            .unwrap_err()
            .contains("No such file"));
        assert_eq!(
            env.run_shell("/bin/sh", "exit 3").unwrap(),
            ExecStatus::Exited(3)
        );
        assert!(!env.host_name().is_empty());
    }
}
