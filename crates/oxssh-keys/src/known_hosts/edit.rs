//! Changing and searching known_hosts files the way ssh and ssh-keygen do: appending the
//! entry ssh writes for a newly accepted host (hostfile.c `add_host_to_hostfile`),
//! `ssh-keygen -F` (find), `ssh-keygen -R` (remove, keeping `FILE.old`) and `ssh-keygen -H`
//! (hash the names, keeping `FILE.old`).

use super::hostname::{hash_name, SALT_LEN};
use super::line::{self, KnownKey, Marker, RawLine};
use super::{host_key_name, lines, KnownHostsError};
use crate::public::PublicKey;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KnownHostsError + '_ {
    move |source| KnownHostsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `name` hashed with a fresh random salt, as `HashKnownHosts yes` writes it.
///
/// # Errors
/// [`KnownHostsError::Random`] if the system generator fails.
pub fn hash_host(name: &str) -> Result<String, KnownHostsError> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KnownHostsError::Random)?;
    Ok(hash_name(name, &salt))
}

/// The line ssh writes for `name` (without the newline): `name keytype base64`, or
/// `|1|salt|hash keytype base64` when hashing; the name is lowercased first, as
/// hostfile.c `write_host_entry` does.
///
/// # Errors
/// [`KnownHostsError::Key`] if the key cannot be encoded, [`KnownHostsError::Random`]
/// if a salt cannot be drawn.
pub fn entry_line(name: &str, key: &PublicKey, hash: bool) -> Result<String, KnownHostsError> {
    let name = name.to_ascii_lowercase();
    let hosts = if hash { hash_host(&name)? } else { name };
    Ok(format!("{hosts} {}", key.to_openssh()?))
}

/// Appends the entry for `host` on `port` to `path` and returns the line written.
///
/// A missing file is created with mode 0600 and a missing parent directory (normally
/// `~/.ssh`) with mode 0700. Unlike OpenSSH, which appends blindly, a file whose last
/// line lacks its newline gets one first, so the new entry is not glued onto it.
///
/// # Errors
/// [`KnownHostsError::Io`] if the directory or file cannot be created or written.
pub fn append_entry(
    path: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
    hash: bool,
) -> Result<String, KnownHostsError> {
    let line = entry_line(&host_key_name(host, port), key, hash)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(io_error(dir))?;
        }
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    let mut text = String::with_capacity(line.len() + 2);
    if !ends_with_newline(&mut file).map_err(io_error(path))? {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(io_error(path))?;
    Ok(line)
}

/// True for an empty file or one whose last byte is `\n`.
fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last == [b'\n'])
}

/// A line `ssh-keygen -F` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLine {
    /// 1-based line number.
    pub line_number: usize,
    /// The line's marker.
    pub marker: Marker,
    /// The line as read (invalid UTF-8 replaced).
    pub line: String,
    /// The key, when it decodes (`ssh-keygen -lF` prints its fingerprint; a line whose
    /// key does not decode is still found by plain `-F`, which only checks the type).
    pub key: Option<KnownKey>,
    /// The comment after the key.
    pub comment: String,
}

impl FoundLine {
    /// The header `ssh-keygen -F` prints before the line:
    /// `# Host NAME found: line N ` followed by `CA`, `REVOKED` or nothing (the space
    /// before it is always there).
    pub fn header(&self, name: &str) -> String {
        let marker = match self.marker {
            Marker::None => "",
            Marker::CertAuthority => "CA",
            Marker::Revoked => "REVOKED",
        };
        format!("# Host {name} found: line {} {marker}", self.line_number)
    }
}

/// `ssh-keygen -F name -f path`: the lines whose host column matches `name` (used as
/// given: pass `[host]:port` for another port). Bad lines are skipped silently.
///
/// # Errors
/// [`KnownHostsError::Io`] if the file cannot be read (a missing file included, as
/// ssh-keygen fails then).
pub fn find(path: &Path, name: &str) -> Result<Vec<FoundLine>, KnownHostsError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    Ok(find_in(&bytes, name))
}

/// [`find`] over a file's contents.
pub fn find_in(bytes: &[u8], name: &str) -> Vec<FoundLine> {
    let mut found = Vec::new();
    for (index, raw) in lines(bytes).enumerate() {
        let text = String::from_utf8_lossy(raw);
        let RawLine::Entry {
            marker,
            hosts,
            rest,
        } = line::split(&text)
        else {
            continue;
        };
        let matched = line::host_field(hosts).is_ok_and(|field| field.matches(name));
        if !matched || line::key_type_ok(rest).is_err() {
            continue;
        }
        let (key, comment) = match line::parse_key(rest) {
            Ok((key, comment)) => (Some(key), comment.to_owned()),
            Err(_) => (None, String::new()),
        };
        found.push(FoundLine {
            line_number: index + 1,
            marker,
            line: text.into_owned(),
            key,
            comment,
        });
    }
    found
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveOutcome {
    /// The 1-based numbers of the removed lines (`# Host NAME found: line N`).
    pub removed: Vec<usize>,
    /// Where the previous contents were kept (`FILE.old`), when anything was removed.
    pub backup: Option<PathBuf>,
}

/// How a line fares under `ssh-keygen -R`.
enum Verdict {
    Keep,
    Remove,
    Invalid,
}

/// hostfile.c / ssh-keygen.c: every line is checked (marker, host column, key type), a
/// plain line for `name` goes, `@cert-authority` and `@revoked` lines stay.
fn remove_verdict(text: &str, name: &str) -> Verdict {
    match line::split(text) {
        RawLine::Blank => Verdict::Keep,
        RawLine::BadMarker => Verdict::Invalid,
        RawLine::Entry {
            marker,
            hosts,
            rest,
        } => {
            let Ok(field) = line::host_field(hosts) else {
                return Verdict::Invalid;
            };
            if line::key_type_ok(rest).is_err() {
                return Verdict::Invalid;
            }
            if marker == Marker::None && field.matches(name) {
                Verdict::Remove
            } else {
                Verdict::Keep
            }
        }
    }
}

/// `ssh-keygen -R name -f path`: removes the plain lines for `name` (used as given).
///
/// When something is removed the file is rewritten through a temporary file in the same
/// directory (mode: the old mode masked with 0644, as ssh-keygen does), the previous
/// contents are kept as `path.old` (a hard link, replacing an older backup), and the new
/// file is renamed into place. When nothing matches, nothing is written.
///
/// # Errors
/// [`KnownHostsError::InvalidFile`] if any line is invalid (the file is left alone, as
/// ssh-keygen refuses with "Not replacing existing known_hosts file because of
/// errors"); [`KnownHostsError::Io`] if reading or replacing fails.
pub fn remove(path: &Path, name: &str) -> Result<RemoveOutcome, KnownHostsError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    let mut kept: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut removed = Vec::new();
    let mut invalid = Vec::new();
    for (index, raw) in lines(&bytes).enumerate() {
        match remove_verdict(&String::from_utf8_lossy(raw), name) {
            Verdict::Remove => {
                removed.push(index + 1);
                continue;
            }
            Verdict::Invalid => invalid.push(index + 1),
            Verdict::Keep => {}
        }
        kept.extend_from_slice(raw);
        kept.push(b'\n');
    }
    if !invalid.is_empty() {
        return Err(KnownHostsError::InvalidFile {
            path: path.to_owned(),
            lines: invalid,
        });
    }
    if removed.is_empty() {
        return Ok(RemoveOutcome {
            removed,
            backup: None,
        });
    }
    let backup = backup_path(path);
    replace_keeping_backup(path, &backup, &kept)?;
    Ok(RemoveOutcome {
        removed,
        backup: Some(backup),
    })
}

/// What [`hash_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOutcome {
    /// Lines kept unhashed because their host column has wildcards: (1-based line,
    /// host column), for ssh-keygen's "ignoring host name with wildcard" notes.
    pub wildcards: Vec<(usize, String)>,
    /// Where the previous contents were kept (`FILE.old`).
    pub backup: PathBuf,
    /// Whether any name was hashed (the backup then holds names in the clear).
    pub hashed_any: bool,
}

/// `ssh-keygen -H -f path` (ssh-keygen.c `known_hosts_hash`): every plain host name is
/// replaced by its salted hash, one line per name of a comma-separated list (names
/// lowercased first). Lines already hashed, with wildcards (`*?!`) or with a marker
/// stay as they are, as do comments and blank lines. The file is replaced as by
/// [`remove`], keeping `path.old`.
///
/// # Errors
/// [`KnownHostsError::InvalidFile`] if any line is invalid (the file is left alone);
/// [`KnownHostsError::Io`] if reading or replacing fails.
pub fn hash_file(path: &Path) -> Result<HashOutcome, KnownHostsError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() * 2);
    let mut invalid = Vec::new();
    let mut wildcards = Vec::new();
    let mut hashed_any = false;
    for (index, raw) in lines(&bytes).enumerate() {
        let text = String::from_utf8_lossy(raw);
        let keep_as_is = match line::split(&text) {
            RawLine::Blank => true,
            RawLine::BadMarker => {
                invalid.push(index + 1);
                true
            }
            RawLine::Entry {
                marker,
                hosts,
                rest,
            } => {
                let was_hashed = hosts.starts_with('|');
                let has_wild = hosts.contains(['*', '?', '!']);
                if !was_hashed
                    && (line::host_field(hosts).is_err() || line::key_type_ok(rest).is_err())
                {
                    invalid.push(index + 1);
                    true
                } else if was_hashed || has_wild || marker != Marker::None {
                    if has_wild {
                        wildcards.push((index + 1, hosts.to_owned()));
                    }
                    true
                } else {
                    for name in hosts.split(',').take_while(|n| !n.is_empty()) {
                        let hashed = hash_host(&name.to_ascii_lowercase())?;
                        out.extend_from_slice(format!("{hashed} {rest}\n").as_bytes());
                        hashed_any = true;
                    }
                    false
                }
            }
        };
        if keep_as_is {
            out.extend_from_slice(raw);
            out.push(b'\n');
        }
    }
    if !invalid.is_empty() {
        return Err(KnownHostsError::InvalidFile {
            path: path.to_owned(),
            lines: invalid,
        });
    }
    let backup = backup_path(path);
    replace_keeping_backup(path, &backup, &out)?;
    Ok(HashOutcome {
        wildcards,
        backup,
        hashed_any,
    })
}

/// `path.old`.
fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".old");
    PathBuf::from(name)
}

fn replace_keeping_backup(
    path: &Path,
    backup: &Path,
    contents: &[u8],
) -> Result<(), KnownHostsError> {
    use std::os::unix::fs::MetadataExt as _;
    let mode = fs::metadata(path).map_err(io_error(path))?.mode() & 0o644;
    let (temp_path, mut temp) = create_temp(path)?;
    let written = temp
        .set_permissions(Permissions::from_mode(mode))
        .and_then(|()| temp.write_all(contents))
        .and_then(|()| temp.sync_all());
    drop(temp);
    let result = written
        .map_err(io_error(&temp_path))
        .and_then(|()| match fs::remove_file(backup) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(backup)(e)),
            _ => Ok(()),
        })
        .and_then(|()| fs::hard_link(path, backup).map_err(io_error(backup)))
        .and_then(|()| fs::rename(&temp_path, path).map_err(io_error(path)));
    if result.is_err() {
        // Best effort: the error being reported matters more than a stray temp file.
        let _ = fs::remove_file(&temp_path);
    }
    result
}

/// A new file `path.XXXXXXXXXX` (mkstemp's pattern) created exclusively with mode 0600.
fn create_temp(path: &Path) -> Result<(PathBuf, File), KnownHostsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..16 {
        let mut random = [0u8; 10];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| KnownHostsError::Random)?;
        let suffix: String = random
            .iter()
            .map(|b| {
                let i = usize::from(*b) % ALPHABET.len();
                char::from(ALPHABET.get(i).copied().unwrap_or(b'X'))
            })
            .collect();
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(&suffix);
        let temp_path = PathBuf::from(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&temp_path)(e)),
        }
    }
    Err(io_error(path)(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known_hosts::HostField;
    use std::os::unix::fs::MetadataExt as _;

    fn ed(byte: u8) -> PublicKey {
        PublicKey::Ed25519([byte; 32])
    }

    #[test]
    fn entry_lines_are_lowercased_and_bracketed() {
        let key = ed(1);
        let line = entry_line(&host_key_name("Host.EX", 2222), &key, false).unwrap();
        assert_eq!(
            line,
            format!("[host.ex]:2222 {}", key.to_openssh().unwrap())
        );
        let hashed = entry_line("Host.EX", &key, true).unwrap();
        let (hosts, rest) = hashed.split_once(' ').unwrap();
        assert!(HostField::parse(hosts).unwrap().matches("host.ex"));
        assert_eq!(rest, key.to_openssh().unwrap());
    }

    #[test]
    fn append_creates_private_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh").join("known_hosts");
        append_entry(&path, "h", 22, &ed(1), false).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        fs::write(&path, "x ssh-ed25519 AAAA").unwrap();
        append_entry(&path, "h", 22, &ed(1), false).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn find_prints_headers_with_markers() {
        let key = ed(1).to_openssh().unwrap();
        let text =
            format!("h {key}\n@revoked h {key}\n@cert-authority * {key}\nh ssh-ed25519 junk\n");
        let found = find_in(text.as_bytes(), "h");
        let headers: Vec<String> = found.iter().map(|f| f.header("h")).collect();
        assert_eq!(
            headers,
            [
                "# Host h found: line 1 ",
                "# Host h found: line 2 REVOKED",
                "# Host h found: line 3 CA",
                "# Host h found: line 4 ",
            ]
        );
        assert!(found[3].key.is_none());
    }

    #[test]
    fn remove_keeps_markers_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let key = ed(1).to_openssh().unwrap();
        let text = format!("# c\nh {key}\n@revoked h {key}\nother {key}\nh,x {key}");
        fs::write(&path, &text).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o664)).unwrap();
        let outcome = remove(&path, "h").unwrap();
        assert_eq!(outcome.removed, [2, 5]);
        assert_eq!(fs::read_to_string(outcome.backup.unwrap()).unwrap(), text);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("# c\n@revoked h {key}\nother {key}\n")
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        let again = remove(&path, "h").unwrap();
        assert!(again.removed.is_empty() && again.backup.is_none());
    }

    #[test]
    fn remove_refuses_files_with_invalid_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let key = ed(1).to_openssh().unwrap();
        let text = format!("garbage\nh {key}\n");
        fs::write(&path, &text).unwrap();
        match remove(&path, "h") {
            Err(KnownHostsError::InvalidFile { lines, .. }) => assert_eq!(lines, [1]),
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert!(!backup_path(&path).exists());
    }
}
