//! The client library against the server core over a socket pair (the server on a
//! thread over the real filesystem): pipelined transfers, resumption, listings,
//! metadata, extensions, errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use oxssh_sftp::client::{self, Sftp};
use oxssh_sftp::codec::{open_flags, status, Attrs};
use oxssh_sftp::server::{serve, LocalFs, Server, ServerOptions};

type Session = Sftp<tokio::net::unix::OwnedReadHalf, tokio::net::unix::OwnedWriteHalf>;

async fn connect(options: ServerOptions) -> (Session, std::thread::JoinHandle<()>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || {
        let mut server = Server::new(LocalFs::new(), options);
        let input = theirs.try_clone().unwrap();
        let _ = serve(&mut server, input, theirs);
    });
    ours.set_nonblocking(true).unwrap();
    let (read, write) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
    (Sftp::new(read, write).await.unwrap(), server)
}

fn b(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn pipelined_upload_and_download_round_trip_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions::default()).await;
    assert!(sftp.limits().is_some());
    sftp.set_transfer(Some(20_000), Some(8));
    let data = pattern(3 * 1024 * 1024 + 5);
    let src = dir.path().join("src");
    std::fs::write(&src, &data).unwrap();
    let remote = b(&dir.path().join("remote"));
    let handle = sftp
        .open(&remote, client::WRITE_TRUNCATE, Attrs::default())
        .await
        .unwrap();
    let mut last = 0;
    let sent = sftp
        .upload(&std::fs::File::open(&src).unwrap(), &handle, 0, &mut |d| {
            last = d
        })
        .await
        .unwrap();
    sftp.close(handle).await.unwrap();
    assert_eq!(sent, data.len() as u64);
    assert_eq!(last, data.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("remote")).unwrap(), data);

    // Resume a download from 1 MiB into a partial copy.
    let back = dir.path().join("back");
    std::fs::write(&back, &data[..1 << 20]).unwrap();
    let local = std::fs::OpenOptions::new().write(true).open(&back).unwrap();
    let handle = sftp
        .open(&remote, client::READ, Attrs::default())
        .await
        .unwrap();
    let end = sftp
        .download(&handle, &local, 1 << 20, &mut |_| {})
        .await
        .unwrap();
    sftp.close(handle).await.unwrap();
    assert_eq!(end, data.len() as u64);
    assert_eq!(std::fs::read(&back).unwrap(), data);
}

#[tokio::test]
async fn whole_file_helpers_copy_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions::default()).await;
    let data = pattern(700_001);
    std::fs::write(dir.path().join("a"), &data).unwrap();
    let remote = b(&dir.path().join("r"));
    let mut calls = 0;
    let sent = sftp
        .upload_file(&dir.path().join("a"), &remote, &mut |_| calls += 1)
        .await
        .unwrap();
    assert_eq!(sent, data.len() as u64);
    assert!(calls > 0);
    let got = sftp
        .download_file(&remote, &dir.path().join("b"), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(got, data.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), data);
    let missing = sftp
        .download_file(b"/nonexistent/x", &dir.path().join("c"), &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(status::NO_SUCH_FILE));
}

#[tokio::test]
async fn metadata_listing_and_extensions_work() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions::default()).await;
    let d = dir.path().join("d é");
    sftp.mkdir(&b(&d), Attrs::default()).await.unwrap();
    std::fs::write(d.join("f"), b"abc").unwrap();
    let names: Vec<Vec<u8>> = sftp
        .read_dir(&b(&d))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.filename)
        .collect();
    assert!(names.contains(&b"f".to_vec()) && names.contains(&b".".to_vec()));
    let attrs = sftp.stat(&b(&d.join("f"))).await.unwrap();
    assert_eq!(attrs.size, Some(3));
    assert!(attrs.is_file());
    sftp.symlink(b"f", &b(&d.join("l"))).await.unwrap();
    assert_eq!(sftp.readlink(&b(&d.join("l"))).await.unwrap(), b"f");
    assert!(sftp.lstat(&b(&d.join("l"))).await.unwrap().is_symlink());
    sftp.hardlink(&b(&d.join("f")), &b(&d.join("h")))
        .await
        .unwrap();
    sftp.rename(&b(&d.join("h")), &b(&d.join("f")), true)
        .await
        .unwrap();
    assert!(sftp.statvfs(&b(dir.path())).await.unwrap().blocks > 0);
    let home = sftp.expand_path(b"~root").await.unwrap();
    assert_eq!(home, b"/root");
    let (users, _) = sftp.names_by_id(vec![0], vec![]).await.unwrap();
    assert_eq!(users, ["root"]);
    let err = sftp.stat(b"/nonexistent/really").await.unwrap_err();
    assert_eq!(err.status(), Some(status::NO_SUCH_FILE));
    let err = sftp.rmdir(&b(&d)).await.unwrap_err();
    assert_eq!(err.status(), Some(status::FAILURE));
}

#[tokio::test]
async fn a_read_only_server_refuses_the_client_with_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    })
    .await;
    let err = sftp
        .open(
            &b(&dir.path().join("x")),
            open_flags::WRITE | open_flags::CREAT,
            Attrs::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(status::PERMISSION_DENIED));
}

/// A server that answers INIT with `reply` (framed as given) and then closes.
async fn against(reply: Vec<u8>) -> Result<Session, oxssh_sftp::Error> {
    let (ours, theirs) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut theirs = theirs;
        let mut init = [0u8; 9];
        let _ = theirs.read_exact(&mut init);
        let _ = theirs.write_all(&reply);
    });
    ours.set_nonblocking(true).unwrap();
    let (read, write) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
    Sftp::new(read, write).await
}

#[tokio::test]
async fn a_hostile_server_gets_errors_not_panics() {
    // An oversized length.
    let err = against((u32::MAX).to_be_bytes().to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, oxssh_sftp::Error::Protocol(_)), "{err:?}");
    // Not a VERSION packet.
    let err = against(vec![0, 0, 0, 5, 101, 0, 0, 0, 3])
        .await
        .unwrap_err();
    assert!(matches!(err, oxssh_sftp::Error::Protocol(_)), "{err:?}");
    // A truncated VERSION, then the end of the stream.
    let err = against(vec![0, 0, 0, 9, 2, 0, 0]).await.unwrap_err();
    assert!(matches!(err, oxssh_sftp::Error::Io(_)), "{err:?}");
    // Version 2 is refused.
    let err = against(vec![0, 0, 0, 5, 2, 0, 0, 0, 2]).await.unwrap_err();
    assert!(matches!(err, oxssh_sftp::Error::Protocol(_)), "{err:?}");
    // A good VERSION then silence: the first call sees the end of the stream.
    let mut sftp = against(vec![0, 0, 0, 5, 2, 0, 0, 0, 3]).await.unwrap();
    assert!(sftp.stat(b"/").await.is_err());
}

#[tokio::test]
async fn many_files_move_at_once_both_ways_and_failures_stay_per_file() {
    use client::{Download, Event, Step, Upload};
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions::default()).await;
    // Small requests and few of them: files need several READs/WRITEs and wait for
    // room in the pipeline.
    sftp.set_transfer(Some(3000), Some(5));
    std::fs::create_dir(dir.path().join("up")).unwrap();
    std::fs::create_dir(dir.path().join("down")).unwrap();
    let sizes: Vec<usize> = (0..70).map(|i| (i * 997) % 9000).collect();
    let mut uploads = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let local = dir.path().join(format!("src{i}"));
        std::fs::write(&local, pattern(*size + i)).unwrap();
        uploads.push(Upload {
            local,
            remote: b(&dir.path().join(format!("up/f{i}"))),
            attrs: Attrs {
                permissions: Some(0o640),
                ..Attrs::default()
            },
            preserve: None,
            fsync: i % 10 == 0,
        });
    }
    uploads.push(Upload {
        local: dir.path().join("no-such-file"),
        remote: b(&dir.path().join("up/never")),
        attrs: Attrs::default(),
        preserve: None,
        fsync: false,
    });
    let mut done = vec![None; uploads.len()];
    sftp.upload_many(&uploads, &mut |e| {
        if let Event::Finished(i, r) = e {
            done[i] = Some(r.map_err(|(step, _)| step));
        }
        true
    })
    .await
    .unwrap();
    assert_eq!(done.last().unwrap(), &Some(Err(Step::Local)));
    for (i, size) in sizes.iter().enumerate() {
        assert_eq!(done[i], Some(Ok((*size + i) as u64)));
        let got = std::fs::read(dir.path().join(format!("up/f{i}"))).unwrap();
        assert_eq!(got, pattern(*size + i), "file {i}");
    }

    // Down again; some size hints are wrong (too small, too large), one file is missing.
    let mut downloads: Vec<Download> = (0..sizes.len())
        .map(|i| Download {
            remote: b(&dir.path().join(format!("up/f{i}"))),
            local: dir.path().join(format!("down/f{i}")),
            mode: 0o600,
            size_hint: match i % 3 {
                0 => (sizes[i] + i) as u64,
                1 => 1,
                _ => 100_000,
            },
        })
        .collect();
    downloads.insert(
        3,
        Download {
            remote: b(&dir.path().join("up/missing")),
            local: dir.path().join("down/missing"),
            mode: 0o600,
            size_hint: 0,
        },
    );
    let mut failed = Vec::new();
    sftp.download_many(&downloads, &mut |e| {
        if let Event::Finished(i, Err((step, _))) = e {
            failed.push((i, step));
        }
        true
    })
    .await
    .unwrap();
    assert_eq!(failed, vec![(3, Step::Open)]);
    assert!(!dir.path().join("down/missing").exists());
    for (i, size) in sizes.iter().enumerate() {
        let got = std::fs::read(dir.path().join(format!("down/f{i}"))).unwrap();
        assert_eq!(got, pattern(*size + i), "file {i}");
    }

    // Interrupted: nothing more starts, the session stays usable.
    sftp.interrupter()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut started = 0;
    sftp.download_many(&downloads, &mut |e| {
        started += usize::from(matches!(e, Event::Started(_)));
        true
    })
    .await
    .unwrap();
    assert_eq!(started, 0);
    sftp.interrupter()
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(sftp.stat(&b(dir.path())).await.unwrap().is_dir());
}

/// `upload_many` sizes each file's WRITEs by the size it had when opened: every size
/// around a request boundary (empty, one byte, a request less one, one, one more, two)
/// arrives whole, for small requests and for the server's largest.
#[tokio::test]
async fn many_uploads_of_sizes_around_request_boundaries_arrive_whole() {
    use client::{Event, Upload};
    let dir = tempfile::tempdir().unwrap();
    for request in [Some(3000), None] {
        let (mut sftp, _server) = connect(ServerOptions::default()).await;
        sftp.set_transfer(request, Some(4));
        let r = request.map_or(oxssh_sftp::codec::MAX_DATA as usize, |r| r as usize);
        let sizes = [0, 1, r - 1, r, r + 1, 2 * r, 2 * r + 1];
        let uploads: Vec<Upload> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let local = dir.path().join(format!("src-{r}-{i}"));
                std::fs::write(&local, pattern(size)).unwrap();
                Upload {
                    local,
                    remote: b(&dir.path().join(format!("dst-{r}-{i}"))),
                    attrs: Attrs::default(),
                    preserve: None,
                    fsync: false,
                }
            })
            .collect();
        let mut ends = vec![None; sizes.len()];
        sftp.upload_many(&uploads, &mut |e| {
            if let Event::Finished(i, result) = e {
                ends[i] = Some(result.map_err(|(step, e)| format!("{step:?}: {e}")));
            }
            true
        })
        .await
        .unwrap();
        for (i, &size) in sizes.iter().enumerate() {
            assert_eq!(ends[i], Some(Ok(size as u64)), "size {size}");
            let got = std::fs::read(dir.path().join(format!("dst-{r}-{i}"))).unwrap();
            assert!(got == pattern(size), "size {size}: content differs");
        }
    }
}

#[tokio::test]
async fn directories_are_listed_together_and_failures_stay_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sftp, _server) = connect(ServerOptions::default()).await;
    sftp.set_transfer(None, Some(3));
    let mut paths = Vec::new();
    for d in 0..5 {
        let path = dir.path().join(format!("d{d}"));
        std::fs::create_dir(&path).unwrap();
        // More entries than one READDIR answer holds in the last one.
        for f in 0..(if d == 4 { 250 } else { d }) {
            std::fs::write(path.join(format!("f{f}")), b"x").unwrap();
        }
        paths.push(b(&path));
    }
    paths.insert(2, b(&dir.path().join("missing")));
    let listed = sftp.read_dirs(&paths).await.unwrap();
    let counts: Vec<Option<usize>> = listed
        .iter()
        .map(|l| {
            l.as_ref()
                .ok()
                .map(|e| e.iter().filter(|n| !n.filename.starts_with(b".")).count())
        })
        .collect();
    assert_eq!(
        counts,
        vec![Some(0), Some(1), None, Some(2), Some(3), Some(250)]
    );
    assert_eq!(
        listed[2].as_ref().unwrap_err().status(),
        Some(status::NO_SUCH_FILE)
    );
    // Every handle was closed.
    assert!(sftp.read_dir(&b(dir.path())).await.is_ok());
    // Interrupted (Ctrl-C during `get -r`'s walk): nothing is listed, the session stays
    // usable.
    sftp.interrupter()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        sftp.read_dirs(&paths).await,
        Err(oxssh_sftp::client::Error::Interrupted)
    ));
    sftp.interrupter()
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(sftp.read_dirs(&paths).await.unwrap().len(), paths.len());
}

#[tokio::test]
async fn crossload_streams_between_two_sessions_and_names_the_failing_side() {
    let dir = tempfile::tempdir().unwrap();
    let (mut from, _a) = connect(ServerOptions::default()).await;
    let (mut to, _b) = connect(ServerOptions::default()).await;
    // Small requests on the origin: many READs in flight, short ones at the end.
    from.set_transfer(Some(7_000), Some(16));
    let data = pattern(2 * 1024 * 1024 + 3);
    std::fs::write(dir.path().join("src"), &data).unwrap();
    let source = from
        .open(&b(&dir.path().join("src")), client::READ, Attrs::default())
        .await
        .unwrap();
    let dest = to
        .open(
            &b(&dir.path().join("dst")),
            client::WRITE_TRUNCATE,
            Attrs::default(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let copied = client::crossload(&mut from, &source, &mut to, &dest, &mut |d| seen.push(d))
        .await
        .unwrap();
    to.close(dest).await.unwrap();
    assert_eq!(copied, data.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("dst")).unwrap(), data);
    assert!(seen.len() > 1 && seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.last(), Some(&(data.len() as u64)));

    // A destination that refuses writes (read-only server, file opened for reading):
    // the failure is the destination's, and both sessions still answer.
    let (mut ro, _c) = connect(ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    })
    .await;
    let refusing = ro
        .open(&b(&dir.path().join("dst")), client::READ, Attrs::default())
        .await
        .unwrap();
    let (side, e) = client::crossload(&mut from, &source, &mut ro, &refusing, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(side, client::Side::Dest);
    assert!(e.status().is_some(), "{e}");
    from.close(source).await.unwrap();
    ro.close(refusing).await.unwrap();
    assert!(ro.stat(&b(dir.path())).await.unwrap().is_dir());
}

/// A scripted server on `theirs`: VERSION 3 after INIT, then each request answered by
/// `answer`, until the client goes away. Started on a thread; returns the client's
/// session.
async fn scripted(
    answer: impl FnMut(oxssh_sftp::codec::Request) -> oxssh_sftp::codec::Response + Send + 'static,
) -> Session {
    let (ours, theirs) = UnixStream::pair().unwrap();
    std::thread::spawn(move || serve_script(theirs, answer));
    ours.set_nonblocking(true).unwrap();
    let (read, write) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
    Sftp::new(read, write).await.unwrap()
}

fn serve_script(
    mut theirs: UnixStream,
    mut answer: impl FnMut(oxssh_sftp::codec::Request) -> oxssh_sftp::codec::Response,
) {
    use oxssh_sftp::codec::{decode_request, encode_response};
    use std::io::{Read, Write};
    let mut init = [0u8; 9];
    theirs.read_exact(&mut init).unwrap();
    theirs.write_all(&[0, 0, 0, 5, 2, 0, 0, 0, 3]).unwrap();
    loop {
        let mut len = [0u8; 4];
        if theirs.read_exact(&mut len).is_err() {
            return;
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        theirs.read_exact(&mut body).unwrap();
        let (id, request) = decode_request(&body).unwrap();
        let mut out = Vec::new();
        encode_response(id, &answer(request), &mut out);
        if theirs.write_all(&out).is_err() {
            return;
        }
    }
}

fn status_only(code: u32) -> oxssh_sftp::codec::Response {
    oxssh_sftp::codec::Response::Status {
        code,
        message: String::new(),
    }
}

fn entry(name: &str) -> oxssh_sftp::codec::NameEntry {
    oxssh_sftp::codec::NameEntry {
        filename: name.as_bytes().to_vec(),
        longname: format!("-rw-r--r-- 1 u g 0 Jan 1 2026 {name}").into_bytes(),
        attrs: Attrs::default(),
    }
}

/// Lists every directory as `good` and three names holding a `/`: each directory's
/// one READDIR answer, then EOF.
fn listing_hostile_names() -> impl FnMut(oxssh_sftp::codec::Request) -> oxssh_sftp::codec::Response
{
    use oxssh_sftp::codec::{Request, Response};
    let mut listed: Vec<Vec<u8>> = Vec::new();
    move |request| match request {
        Request::Opendir { path } => Response::Handle(path),
        Request::Readdir { handle } if !listed.contains(&handle) => {
            listed.push(handle);
            Response::Name(
                ["good", "../escape", "x/..", "/etc/passwd"]
                    .map(entry)
                    .to_vec(),
            )
        }
        Request::Readdir { .. } => status_only(status::EOF),
        Request::Close { .. } => status_only(status::OK),
        _ => status_only(status::FAILURE),
    }
}

#[tokio::test]
async fn listings_drop_names_holding_a_slash_and_report_them() {
    let mut sftp = scripted(listing_hostile_names()).await;
    let reported = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = reported.clone();
    sftp.on_suspect_name(Box::new(move |dir: &[u8], name: &[u8]| {
        into.lock().unwrap().push(format!(
            "{}: {}",
            String::from_utf8_lossy(dir),
            String::from_utf8_lossy(name)
        ));
    }));
    let names = |entries: Vec<oxssh_sftp::codec::NameEntry>| -> Vec<Vec<u8>> {
        entries.into_iter().map(|e| e.filename).collect()
    };
    assert_eq!(names(sftp.read_dir(b"one").await.unwrap()), [b"good"]);
    let listings = sftp.read_dirs(&[b"two".to_vec(), b"three".to_vec()]).await;
    for listing in listings.unwrap() {
        assert_eq!(names(listing.unwrap()), [b"good"]);
    }
    let mut reported = reported.lock().unwrap().clone();
    reported.sort();
    let mut expected: Vec<String> = ["one", "two", "three"]
        .iter()
        .flat_map(|d| ["../escape", "x/..", "/etc/passwd"].map(|n| format!("{d}: {n}")))
        .collect();
    expected.sort();
    assert_eq!(reported, expected);
}

/// Lists 100 more entries at each READDIR of any directory, without end.
fn listing_without_end() -> impl FnMut(oxssh_sftp::codec::Request) -> oxssh_sftp::codec::Response {
    use oxssh_sftp::codec::{Request, Response};
    let mut n = 0u64;
    move |request| match request {
        Request::Opendir { path } => Response::Handle(path),
        Request::Readdir { .. } => Response::Name(
            (0..100)
                .map(|_| {
                    n += 1;
                    entry(&format!("file{n}"))
                })
                .collect(),
        ),
        _ => status_only(status::OK),
    }
}

#[tokio::test]
async fn a_listing_without_end_fails_at_the_listing_limit() {
    for together in [false, true] {
        let mut sftp = scripted(listing_without_end()).await;
        sftp.set_listing_limit(1 << 20);
        let err = if together {
            sftp.read_dirs(&[b"/a".to_vec(), b"/b".to_vec()])
                .await
                .unwrap_err()
        } else {
            sftp.read_dir(b"/a").await.unwrap_err()
        };
        assert!(
            matches!(&err, oxssh_sftp::Error::Protocol(m) if m.contains("listing over 1048576 bytes")),
            "{err:?}"
        );
    }
}
