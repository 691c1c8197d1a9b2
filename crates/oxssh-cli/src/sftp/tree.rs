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

/// Directory levels a recursive transfer descends at most (OpenSSH's `MAX_DIR_DEPTH`):
/// a server can list directories without end.
pub(crate) const MAX_DIR_DEPTH: usize = 64;

/// What sftp and scp say of a tree deeper than [`MAX_DIR_DEPTH`]; the files above the
/// limit are still transferred.
pub(crate) fn too_deep() -> String {
    format!("Maximum directory depth exceeded: {MAX_DIR_DEPTH} levels")
}

impl Shell {
    pub(super) async fn get_tree(
        &mut self,
        remote: &[u8],
        local: &Path,
        t: Transfers,
    ) -> Result<(), String> {
        let mut walk = RemoteWalk::default();
        let walked = self.walk_remote(remote, local, &mut walk).await;
        // sftp names each directory as it goes down into it; scp does not.
        if !self.scp_style {
            walk.print_directories();
        }
        walked?;
        let RemoteWalk {
            dirs_done,
            files,
            too_deep: cut,
            ..
        } = walk;
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
        if cut {
            return Err(too_deep());
        }
        Ok(())
    }

    /// Lists the remote tree under `remote` into `walk`, making its directories under
    /// `local` as it goes.
    async fn walk_remote(
        &mut self,
        remote: &[u8],
        local: &Path,
        walk: &mut RemoteWalk,
    ) -> Result<(), String> {
        // Walked (and named) by its canonical path, as sftp walks it.
        let remote = match self.sftp.realpath(remote).await {
            Ok(canonical) => canonical,
            Err(_) => remote.to_vec(),
        };
        let top = self
            .sftp
            .stat(&remote)
            .await
            .map_err(|e| self.error(&format!("stat remote \"{}\"", show(&remote)), &e))?;
        // Level by level: the directories of one level are listed together.
        walk.dirs.push((remote.clone(), Vec::new()));
        let mut level = vec![(remote, local.to_path_buf(), top, 0)];
        let mut depth = 0;
        while !level.is_empty() {
            for (_, ldir, attrs, _) in &level {
                if !ldir.is_dir() {
                    fs::DirBuilder::new()
                        .mode(attrs.permissions.map_or(0o777, |p| p & 0o777) | 0o700)
                        .create(ldir)
                        .map_err(|e| format!("mkdir {}: {e}", ldir.display()))?;
                }
            }
            let paths: Vec<Vec<u8>> = level.iter().map(|(r, ..)| r.clone()).collect();
            let listings = self.sftp.read_dirs(&paths).await.map_err(|e| match e {
                // Ctrl-C during the walk: back to the prompt, as sftp.
                oxssh_sftp::Error::Interrupted => String::new(),
                e => self.error("readdir", &e),
            })?;
            let mut next = Vec::new();
            for ((rdir, ldir, attrs, node), listing) in level.into_iter().zip(listings) {
                let entries = listing.map_err(|e| {
                    self.error(&format!("Unable to open directory \"{}\"", show(&rdir)), &e)
                })?;
                for entry in entries {
                    if entry.filename == b"." || entry.filename == b".." {
                        continue;
                    }
                    let rpath = join(&rdir, &entry.filename);
                    let lpath = ldir.join(base_name(&entry.filename));
                    if entry.attrs.is_dir() && depth + 1 >= MAX_DIR_DEPTH {
                        walk.too_deep = true;
                    } else if entry.attrs.is_dir() {
                        let child = walk.dirs.len();
                        walk.dirs.push((rpath.clone(), Vec::new()));
                        if let Some((_, children)) = walk.dirs.get_mut(node) {
                            children.push(child);
                        }
                        next.push((rpath, lpath, entry.attrs, child));
                    } else if entry.attrs.is_file() {
                        walk.files.push((rpath, lpath, entry.attrs));
                    } else if !self.quiet {
                        println!("download \"{}\": not a regular file", show(&rpath));
                    }
                }
                walk.dirs_done.push((ldir, attrs));
            }
            level = next;
            depth += 1;
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
                    // An empty file's download gets no meter, as with sftp.
                    let sized = files
                        .get(i)
                        .map(|(remote, _, a)| (remote, a.size.unwrap_or(0)));
                    if let Some((remote, size)) = sized.filter(|(_, size)| *size > 0) {
                        meters.start(i, remote, size);
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
        let mut stack = vec![(local.to_path_buf(), remote.to_vec(), true, 0)];
        let mut dirs_done: Vec<(Vec<u8>, fs::Metadata)> = Vec::new();
        let mut files: Vec<(PathBuf, Vec<u8>, fs::Metadata)> = Vec::new();
        let mut cut = false;
        while let Some((ldir, rdir, may_exist, depth)) = stack.pop() {
            if depth >= MAX_DIR_DEPTH {
                cut = true;
                continue;
            }
            let meta = fs::metadata(&ldir).map_err(|e| format!("stat {}: {e}", ldir.display()))?;
            // sftp names each directory as it goes down into it (the top one as the
            // user named it, marked as a directory); scp does not.
            if !self.scp_style {
                if dirs_done.is_empty() {
                    println!("Entering {}", shown_as_dir(&ldir));
                } else {
                    println!("Entering {}", ldir.display());
                }
            }
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
            // The directory's own order, as sftp goes through it.
            let entries = fs::read_dir(&ldir)
                .map_err(|e| format!("opendir \"{}\": {e}", ldir.display()))?
                .filter_map(Result::ok);
            let first_subdir = stack.len();
            for entry in entries {
                let lpath = entry.path();
                let rpath = join(&rdir, &local_bytes(Path::new(&entry.file_name())));
                let Ok(lmeta) = fs::symlink_metadata(&lpath) else {
                    continue;
                };
                if lmeta.is_dir() {
                    stack.push((lpath, rpath, exists, depth + 1));
                } else if lmeta.is_file() {
                    files.push((lpath, rpath, lmeta));
                } else if !self.quiet {
                    println!("Skipping non-regular file {}", lpath.display());
                }
            }
            // Popped in the order they were listed.
            if let Some(listed) = stack.get_mut(first_subdir..) {
                listed.reverse();
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
        if cut {
            return Err(too_deep());
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
            Step::Open => self.error(&format!("dest open \"{remote}\""), &e),
            Step::Transfer => self.error(&format!("write remote \"{remote}\""), &e),
            Step::Finish => self.error(&format!("fsetstat \"{remote}\""), &e),
            Step::Close => self.error(&format!("close remote \"{remote}\""), &e),
        })
    }
}

/// What a walk of a remote tree found: its directories (each with its subdirectories,
/// in the server's order), the local directories made, and the files to fetch.
#[derive(Debug, Default)]
struct RemoteWalk {
    dirs: Vec<(Vec<u8>, Vec<usize>)>,
    dirs_done: Vec<(PathBuf, Attrs)>,
    files: Vec<(Vec<u8>, PathBuf, Attrs)>,
    /// Directories below [`MAX_DIR_DEPTH`] were left out.
    too_deep: bool,
}

impl RemoteWalk {
    /// "Retrieving DIR" for each directory listed, depth first in the server's order,
    /// as sftp prints them going down the tree.
    fn print_directories(&self) {
        let mut stack = vec![0];
        while let Some(node) = stack.pop() {
            let Some((path, children)) = self.dirs.get(node) else {
                continue;
            };
            println!("Retrieving {}", show(path));
            stack.extend(children.iter().rev());
        }
    }
}

/// A local directory's path as sftp shows it in messages: with a trailing slash.
pub(super) fn shown_as_dir(path: &Path) -> String {
    marked_dir(path.display().to_string())
}

/// A directory's name as sftp's globbing shows it: ending in a slash.
pub(super) fn marked_dir(mut shown: String) -> String {
    if !shown.ends_with('/') {
        shown.push('/');
    }
    shown
}
