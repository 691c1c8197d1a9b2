//! `get -r` and `put -r`: the tree is walked first (directories made parents first;
//! remote directories listed a level at a time, all of a level at once), then its files
//! go through [`oxssh_sftp::Sftp::download_many`] / `upload_many`, many files in flight
//! at once.
//! Resuming (`-a`) moves files one at a time; a rate limit (`-l`) paces all the files
//! in flight together. Each file's progress line is drawn live ([`super::meters`]).
//! Symbolic links inside trees are skipped, as OpenSSH's sftp does.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use oxssh_sftp::client::{Download, Event, Step, Upload};
use oxssh_sftp::codec::Attrs;

use super::meters::Meters;
use super::shell::{base_name, join, local_bytes, show, Shell, Transfers};
use super::transfer::{apply_local, preserved};

impl Shell {
    pub(super) async fn get_tree(
        &mut self,
        remote: &[u8],
        local: &Path,
        t: Transfers,
    ) -> Result<(), String> {
        let top = self
            .sftp
            .stat(remote)
            .await
            .map_err(|e| self.error(&format!("stat remote \"{}\"", show(remote)), &e))?;
        // Level by level: the directories of one level are listed together.
        let mut level = vec![(remote.to_vec(), local.to_path_buf(), top)];
        let mut dirs_done: Vec<(PathBuf, Attrs)> = Vec::new();
        let mut files: Vec<(Vec<u8>, PathBuf, Attrs)> = Vec::new();
        while !level.is_empty() {
            for (_, ldir, attrs) in &level {
                if !ldir.is_dir() {
                    fs::DirBuilder::new()
                        .mode(attrs.permissions.map_or(0o777, |p| p & 0o777) | 0o700)
                        .create(ldir)
                        .map_err(|e| format!("mkdir {}: {e}", ldir.display()))?;
                }
            }
            let paths: Vec<Vec<u8>> = level.iter().map(|(r, _, _)| r.clone()).collect();
            let listings = self.sftp.read_dirs(&paths).await.map_err(|e| match e {
                // Ctrl-C during the walk: back to the prompt, as sftp.
                oxssh_sftp::Error::Interrupted => String::new(),
                e => self.error("readdir", &e),
            })?;
            let mut next = Vec::new();
            for ((rdir, ldir, attrs), listing) in level.into_iter().zip(listings) {
                let entries = listing.map_err(|e| {
                    self.error(&format!("Unable to open directory \"{}\"", show(&rdir)), &e)
                })?;
                for entry in entries {
                    if entry.filename == b"." || entry.filename == b".." {
                        continue;
                    }
                    let rpath = join(&rdir, &entry.filename);
                    let lpath = ldir.join(base_name(&entry.filename));
                    if entry.attrs.is_dir() {
                        next.push((rpath, lpath, entry.attrs));
                    } else if entry.attrs.is_file() {
                        files.push((rpath, lpath, entry.attrs));
                    } else if !self.quiet {
                        println!("download \"{}\": not a regular file", show(&rpath));
                    }
                }
                dirs_done.push((ldir, attrs));
            }
            level = next;
        }
        if t.resume {
            for (rpath, lpath, attrs) in &files {
                self.get_file(rpath, lpath, attrs, t).await?;
            }
        } else {
            self.get_many(&files, t).await?;
        }
        if t.preserve {
            for (dir, attrs) in dirs_done.iter().rev() {
                apply_local(dir, attrs)?;
            }
        }
        Ok(())
    }

    async fn get_many(
        &mut self,
        files: &[(Vec<u8>, PathBuf, Attrs)],
        t: Transfers,
    ) -> Result<(), String> {
        let jobs: Vec<Download> = files
            .iter()
            .map(|(remote, local, attrs)| Download {
                remote: remote.clone(),
                local: local.clone(),
                mode: attrs.permissions.map_or(0o666, |p| p & 0o777),
                size_hint: attrs.size.unwrap_or(0),
            })
            .collect();
        let mut meters = Meters::new(self.progress, self.limit_kbps);
        let mut failed: Option<(usize, Step, oxssh_sftp::Error)> = None;
        let mut preserve_failed = None;
        let result = self
            .sftp
            .download_many(&jobs, &mut |event| match event {
                Event::Started(i) => {
                    if let Some((remote, _, attrs)) = files.get(i) {
                        meters.start(i, remote, attrs.size.unwrap_or(0));
                    }
                    true
                }
                Event::Progress(i, done) => {
                    meters.progress(i, done);
                    true
                }
                Event::Finished(i, Ok(end)) => {
                    meters.finish(i, end);
                    if t.preserve {
                        if let Some((_, local, attrs)) = files.get(i) {
                            if let Err(e) = apply_local(local, attrs) {
                                preserve_failed = Some(e);
                                return false;
                            }
                        }
                    }
                    true
                }
                Event::Finished(i, Err((step, e))) => {
                    meters.fail(i);
                    failed.get_or_insert((i, step, e));
                    false
                }
            })
            .await;
        result.map_err(|e| self.error("download", &e))?;
        if let Some((i, step, e)) = failed {
            let (remote, local) = files
                .get(i)
                .map(|f| (show(&f.0), f.1.display().to_string()))
                .unwrap_or_default();
            return Err(match step {
                Step::Local => format!("open local \"{local}\": {e}"),
                Step::Open => self.error(&format!("remote open(\"{remote}\")"), &e),
                Step::Close => self.error("close", &e),
                Step::Transfer | Step::Finish => {
                    self.error(&format!("read remote \"{remote}\""), &e)
                }
            });
        }
        preserve_failed.map_or(Ok(()), Err)
    }

    pub(super) async fn put_tree(
        &mut self,
        local: &Path,
        remote: &[u8],
        t: Transfers,
    ) -> Result<(), String> {
        let mut stack = vec![(local.to_path_buf(), remote.to_vec(), true)];
        let mut dirs_done: Vec<(Vec<u8>, fs::Metadata)> = Vec::new();
        let mut files: Vec<(PathBuf, Vec<u8>, fs::Metadata)> = Vec::new();
        while let Some((ldir, rdir, may_exist)) = stack.pop() {
            let meta = fs::metadata(&ldir).map_err(|e| format!("stat {}: {e}", ldir.display()))?;
            // A directory inside one this run made cannot exist yet: no need to ask.
            let exists = may_exist && self.sftp.stat(&rdir).await.is_ok_and(|a| a.is_dir());
            if !exists {
                let attrs = Attrs {
                    permissions: Some(meta.mode() & 0o777 | 0o700),
                    ..Attrs::default()
                };
                self.sftp
                    .mkdir(&rdir, attrs)
                    .await
                    .map_err(|e| self.error(&format!("mkdir \"{}\"", show(&rdir)), &e))?;
            }
            let mut entries: Vec<_> = fs::read_dir(&ldir)
                .map_err(|e| format!("opendir \"{}\": {e}", ldir.display()))?
                .filter_map(Result::ok)
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let lpath = entry.path();
                let rpath = join(&rdir, &local_bytes(Path::new(&entry.file_name())));
                let Ok(lmeta) = fs::symlink_metadata(&lpath) else {
                    continue;
                };
                if lmeta.is_dir() {
                    stack.push((lpath, rpath, exists));
                } else if lmeta.is_file() {
                    files.push((lpath, rpath, lmeta));
                } else if !self.quiet {
                    println!("Skipping non-regular file {}", lpath.display());
                }
            }
            dirs_done.push((rdir, meta));
        }
        if t.resume {
            for (lpath, rpath, meta) in &files {
                self.put_file(lpath, rpath, meta, t).await?;
            }
        } else {
            self.put_many(&files, t).await?;
        }
        if t.preserve {
            for (dir, meta) in dirs_done.iter().rev() {
                self.sftp
                    .setstat(dir, preserved(meta))
                    .await
                    .map_err(|e| self.error(&format!("setstat \"{}\"", show(dir)), &e))?;
            }
        }
        Ok(())
    }

    async fn put_many(
        &mut self,
        files: &[(PathBuf, Vec<u8>, fs::Metadata)],
        t: Transfers,
    ) -> Result<(), String> {
        let jobs: Vec<Upload> = files
            .iter()
            .map(|(local, remote, meta)| Upload {
                local: local.clone(),
                remote: remote.clone(),
                attrs: Attrs {
                    permissions: Some(meta.mode() & 0o777),
                    ..Attrs::default()
                },
                preserve: t.preserve.then(|| preserved(meta)),
                fsync: t.fsync,
            })
            .collect();
        let mut meters = Meters::new(self.progress, self.limit_kbps);
        let mut failed: Option<(usize, Step, oxssh_sftp::Error)> = None;
        let result = self
            .sftp
            .upload_many(&jobs, &mut |event| match event {
                Event::Started(i) => {
                    if let Some((local, _, meta)) = files.get(i) {
                        meters.start(i, &local_bytes(local), meta.len());
                    }
                    true
                }
                Event::Progress(i, done) => {
                    meters.progress(i, done);
                    true
                }
                Event::Finished(i, Ok(end)) => {
                    meters.finish(i, end);
                    true
                }
                Event::Finished(i, Err((step, e))) => {
                    meters.fail(i);
                    failed.get_or_insert((i, step, e));
                    false
                }
            })
            .await;
        result.map_err(|e| self.error("upload", &e))?;
        let Some((i, step, e)) = failed else {
            return Ok(());
        };
        let (local, remote) = files
            .get(i)
            .map(|f| (f.0.display().to_string(), show(&f.1)))
            .unwrap_or_default();
        Err(match step {
            Step::Local => format!("open local \"{local}\": {e}"),
            Step::Open => self.error(&format!("remote open(\"{remote}\")"), &e),
            Step::Transfer => self.error(&format!("write remote \"{remote}\""), &e),
            Step::Finish => self.error(&format!("fsetstat \"{remote}\""), &e),
            Step::Close => self.error(&format!("close remote \"{remote}\""), &e),
        })
    }
}
