//! `get`, `put`, `reget`, `reput`: single files and (`-r`) trees, resumption (`-a`),
//! modes and times (`-p`), fsync (`-f`), with the progress meter. Trees (`-r`) are in
//! [`super::tree`].

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use oxssh_sftp::client;
use oxssh_sftp::codec::{ext, open_flags, Attrs};

use super::progress::Meter;
use super::shell::{base_name, join, local_bytes, local_glob, show, Shell, Transfers};
use super::tree::{marked_dir, shown_as_dir};
use crate::strerror::strerror;

impl Shell {
    /// `get [-afpr] remote [local]`.
    pub async fn get(
        &mut self,
        remote: &str,
        local: Option<&str>,
        t: Transfers,
    ) -> Result<(), String> {
        let matches = self.remote_glob(remote).await?;
        if matches.is_empty() {
            let path = show(&self.remote_path(remote).await);
            return Err(if self.scp_style {
                format!("{path}: No such file or directory")
            } else {
                format!("File \"{path}\" not found.")
            });
        }
        let local_dir = local.map(Path::new).filter(|p| p.is_dir());
        if matches.len() > 1 && local.is_some() && local_dir.is_none() {
            return Err(format!(
                "Multiple source paths, but destination \"{}\" is not a directory",
                local.unwrap_or_default()
            ));
        }
        let mut failed = None;
        for (path, attrs) in matches {
            let target = match (local, local_dir) {
                (_, Some(dir)) => dir.join(base_name(&path)),
                (Some(l), None) => PathBuf::from(l),
                (None, _) => base_name(&path),
            };
            let result = if attrs.is_dir() {
                if t.recursive {
                    if !self.quiet {
                        let shown = marked_dir(show(&path));
                        println!("Fetching {shown} to {}", target.display());
                    }
                    self.get_tree(&path, &target, t).await
                } else {
                    // sftp's and scp's words, the directory marked as their glob marks it.
                    Err(format!(
                        "download {}: not a regular file",
                        marked_dir(show(&path))
                    ))
                }
            } else {
                if !self.quiet {
                    println!("Fetching {} to {}", show(&path), target.display());
                }
                self.get_file(&path, &target, &attrs, t).await
            };
            if let Err(e) = result {
                if self.lost {
                    return Err(e);
                }
                eprintln!("{}{e}", self.prefix());
                failed = Some(e);
            }
        }
        // Each failure was printed: nothing more to say.
        failed.map_or(Ok(()), |_| Err(String::new()))
    }

    pub(super) async fn get_file(
        &mut self,
        remote: &[u8],
        local: &Path,
        attrs: &Attrs,
        t: Transfers,
    ) -> Result<(), String> {
        let size = attrs.size.unwrap_or(0);
        let mut offset = 0;
        if t.resume {
            if let Ok(meta) = fs::metadata(local) {
                if meta.len() > size {
                    return Err(format!(
                        "Unable to resume download of \"{}\": local file is larger than remote",
                        local.display()
                    ));
                }
                offset = meta.len();
                if offset == size {
                    // sftp's words, on stderr even with -q; not a failure.
                    eprintln!("File \"{}\" was not modified", local.display());
                    return Ok(());
                }
            }
        }
        let handle = self
            .sftp
            .open(remote, client::READ, Attrs::default())
            .await
            .map_err(|e| self.error(&format!("remote open(\"{}\")", show(remote)), &e))?;
        let mode = attrs.permissions.map_or(0o666, |p| p & 0o777);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(!t.resume)
            .mode(mode)
            .open(local)
            .map_err(|e| format!("open local \"{}\": {}", local.display(), strerror(&e)))?;
        let name = base_name(remote).display().to_string();
        // No meter for an empty file's download, as OpenSSH's sftp and scp.
        let shown = self.progress && size > 0;
        let mut meter = Meter::new(&name, size, offset, shown, self.limit_kbps);
        let mut moved = 0;
        let result = self
            .sftp
            .download(&handle, &file, offset, &mut |d| {
                moved = d;
                meter.update(d);
            })
            .await;
        meter.finish(moved);
        let closed = self.sftp.close(handle).await;
        let end =
            result.map_err(|e| self.error(&format!("read remote \"{}\"", show(remote)), &e))?;
        closed.map_err(|e| self.error("close", &e))?;
        file.set_len(end)
            .map_err(|e| format!("truncate \"{}\": {e}", local.display()))?;
        if t.preserve {
            apply_local(local, attrs)?;
        }
        Ok(())
    }

    /// `put [-afpr] local [remote]`.
    pub async fn put(
        &mut self,
        local: &str,
        remote: Option<&str>,
        t: Transfers,
    ) -> Result<(), String> {
        let matches = local_glob(local);
        let matches: Vec<PathBuf> = matches
            .into_iter()
            .filter(|p| fs::symlink_metadata(p).is_ok())
            .collect();
        if matches.is_empty() {
            // A pattern matching nothing is taken as written, as sftp's glob does.
            return Err(if self.scp_style {
                format!("stat local \"{local}\": No such file or directory")
            } else {
                format!("stat {local}: No such file or directory")
            });
        }
        let target = match remote {
            Some(r) => Some(self.remote_path(r).await),
            None => None,
        };
        let target_is_dir = match &target {
            Some(t) => self.sftp.stat(t).await.is_ok_and(|a| a.is_dir()),
            None => false,
        };
        if matches.len() > 1 && target.is_some() && !target_is_dir {
            return Err(format!(
                "Multiple source paths, but destination \"{}\" is not a directory",
                remote.unwrap_or_default()
            ));
        }
        let mut failed = None;
        for path in matches {
            let name = path
                .file_name()
                .map(|n| local_bytes(Path::new(n)))
                .unwrap_or_default();
            let dest = match &target {
                Some(t) if target_is_dir => join(t, &name),
                Some(t) => t.clone(),
                None => join(&self.cwd, &name),
            };
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("{}stat local \"{}\": {e}", self.prefix(), path.display());
                    failed = Some(());
                    continue;
                }
            };
            if !self.quiet {
                let shown = if meta.is_dir() {
                    shown_as_dir(&path)
                } else {
                    path.display().to_string()
                };
                println!("Uploading {shown} to {}", show(&dest));
            }
            let result = if meta.is_dir() {
                if t.recursive {
                    self.put_tree(&path, &dest, t).await
                } else {
                    // sftp names it as its glob marked it; scp as given.
                    let shown = if self.scp_style {
                        path.display().to_string()
                    } else {
                        shown_as_dir(&path)
                    };
                    Err(format!("local \"{shown}\" is not a regular file"))
                }
            } else {
                self.put_file(&path, &dest, &meta, t).await
            };
            if let Err(mut e) = result {
                if self.lost {
                    return Err(e);
                }
                // scp follows any file's failure with its own line.
                if self.scp_style && !(meta.is_dir() && t.recursive) && !e.is_empty() {
                    e = format!(
                        "{e}\n{}failed to upload file {} to {}",
                        self.prefix(),
                        path.display(),
                        show(&dest)
                    );
                }
                eprintln!("{}{e}", self.prefix());
                failed = Some(());
            }
        }
        // Each failure was printed: nothing more to say.
        failed.map_or(Ok(()), |()| Err(String::new()))
    }

    pub(super) async fn put_file(
        &mut self,
        local: &Path,
        remote: &[u8],
        meta: &fs::Metadata,
        t: Transfers,
    ) -> Result<(), String> {
        let file = File::open(local)
            .map_err(|e| format!("open local \"{}\": {}", local.display(), strerror(&e)))?;
        let mut offset = 0;
        let mut pflags = client::WRITE_TRUNCATE;
        if t.resume {
            if let Ok(attrs) = self.sftp.stat(remote).await {
                let have = attrs.size.unwrap_or(0);
                // A destination as long as the source fails too, as with sftp.
                if have >= meta.len() {
                    return Err(format!(
                        "resume \"{}\": destination file same size or larger",
                        local.display()
                    ));
                }
                offset = have;
                pflags = open_flags::WRITE | open_flags::CREAT;
            }
        }
        let attrs = Attrs {
            permissions: Some(meta.mode() & 0o777),
            ..Attrs::default()
        };
        let handle = self
            .sftp
            .open(remote, pflags, attrs)
            .await
            .map_err(|e| self.error(&format!("dest open \"{}\"", show(remote)), &e))?;
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut meter = Meter::new(&name, meta.len(), offset, self.progress, self.limit_kbps);
        let mut moved = 0;
        let result = self
            .sftp
            .upload(&file, &handle, offset, &mut |d| {
                moved = d;
                meter.update(d);
            })
            .await;
        meter.finish(moved);
        let mut outcome = result
            .map(|_| ())
            .map_err(|e| self.error(&format!("write remote \"{}\"", show(remote)), &e));
        if outcome.is_ok() && t.preserve {
            outcome = self
                .sftp
                .fsetstat(&handle, preserved(meta))
                .await
                .map_err(|e| self.error(&format!("fsetstat \"{}\"", show(remote)), &e));
        }
        if outcome.is_ok() && t.fsync && self.sftp.has_extension(ext::FSYNC) {
            outcome = self
                .sftp
                .fsync(&handle)
                .await
                .map_err(|e| self.error(&format!("fsync \"{}\"", show(remote)), &e));
        }
        let closed = self.sftp.close(handle).await;
        outcome?;
        closed.map_err(|e| self.error(&format!("close remote \"{}\"", show(remote)), &e))
    }
}

/// The attributes `-p` sends: mode and times.
pub(super) fn preserved(meta: &fs::Metadata) -> Attrs {
    Attrs {
        permissions: Some(meta.mode() & 0o7777),
        times: Some((clamp(meta.atime()), clamp(meta.mtime()))),
        ..Attrs::default()
    }
}

fn clamp(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

/// Applies a remote file's mode and times locally (`-p`).
pub(super) fn apply_local(path: &Path, attrs: &Attrs) -> Result<(), String> {
    if let Some(mode) = attrs.permissions {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    if let Some((atime, mtime)) = attrs.times {
        let times = fs::FileTimes::new()
            .set_accessed(UNIX_EPOCH + Duration::from_secs(u64::from(atime)))
            .set_modified(UNIX_EPOCH + Duration::from_secs(u64::from(mtime)));
        let file = File::options()
            .read(true)
            .open(path)
            .or_else(|_| File::open(path))
            .map_err(|e| format!("utimes {}: {e}", path.display()))?;
        file.set_times(times)
            .map_err(|e| format!("utimes {}: {e}", path.display()))?;
    }
    Ok(())
}
