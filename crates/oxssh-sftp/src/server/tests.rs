#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
use std::os::unix::fs::MetadataExt;

use super::*;
use crate::codec::{decode_response, encode_request, Attrs};

fn started(options: ServerOptions) -> Server<LocalFs> {
    let mut server = Server::new(LocalFs::new(), options);
    let mut out = Vec::new();
    Init {
        version: 3,
        extensions: vec![],
    }
    .encode(fxp::INIT, &mut out);
    let mut answer = Vec::new();
    server.handle_packet(&out[4..], &mut answer).unwrap();
    let version = Init::decode(&answer[4..], fxp::VERSION).unwrap();
    assert_eq!(version.version, 3);
    assert!(version.extensions.iter().any(|(n, _)| n == ext::LIMITS));
    server
}

fn call(server: &mut Server<LocalFs>, request: Request) -> Response {
    let mut packet = Vec::new();
    encode_request(9, &request, &mut packet);
    raw(server, &packet[4..])
}

fn raw(server: &mut Server<LocalFs>, body: &[u8]) -> Response {
    let mut answer = Vec::new();
    server.handle_packet(body, &mut answer).unwrap();
    let (id, response) = decode_response(&answer[4..]).unwrap();
    assert_eq!(id, 9);
    response
}

fn code(response: &Response) -> u32 {
    match response {
        Response::Status { code, .. } => *code,
        other => panic!("expected a status, got {other:?}"),
    }
}

fn bytes(path: &std::path::Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn open(server: &mut Server<LocalFs>, path: &std::path::Path, pflags: u32) -> Response {
    call(
        server,
        Request::Open {
            path: bytes(path),
            pflags,
            attrs: Attrs::default(),
        },
    )
}

#[test]
fn written_data_reads_back_and_reading_past_the_end_is_eof() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = started(ServerOptions::default());
    let path = dir.path().join("f");
    let Response::Handle(h) = open(
        &mut server,
        &path,
        open_flags::READ | open_flags::WRITE | open_flags::CREAT,
    ) else {
        panic!("no handle");
    };
    let write = Request::Write {
        handle: h.clone(),
        offset: 3,
        data: b"abc".to_vec(),
    };
    assert_eq!(code(&call(&mut server, write)), status::OK);
    let read = |offset| Request::Read {
        handle: h.clone(),
        offset,
        len: 100,
    };
    assert_eq!(
        call(&mut server, read(0)),
        Response::Data(b"\0\0\0abc".to_vec())
    );
    assert_eq!(code(&call(&mut server, read(6))), status::EOF);
    assert_eq!(
        code(&call(&mut server, Request::Close { handle: h.clone() })),
        status::OK
    );
    assert_eq!(server.open_handles(), 0);
    // Closed handles are gone.
    assert_eq!(code(&call(&mut server, read(0))), status::FAILURE);
}

#[test]
fn never_opened_and_malformed_handles_get_failure() {
    let mut server = started(ServerOptions::default());
    for handle in [vec![], vec![0, 0, 0, 7], vec![1; 300]] {
        let r = Request::Read {
            handle: handle.clone(),
            offset: 0,
            len: 10,
        };
        assert_eq!(code(&call(&mut server, r)), status::FAILURE);
        assert_eq!(
            code(&call(&mut server, Request::Close { handle })),
            status::FAILURE
        );
    }
}

#[test]
fn malformed_requests_get_status_errors_not_panics() {
    let mut server = started(ServerOptions::default());
    // Truncated OPEN (no pflags, no attrs).
    let truncated = [fxp::OPEN, 0, 0, 0, 9, 0, 0, 0, 1, b'x'];
    assert_eq!(code(&raw(&mut server, &truncated)), status::BAD_MESSAGE);
    // A string length far beyond the packet.
    let long = [fxp::STAT, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(code(&raw(&mut server, &long)), status::BAD_MESSAGE);
    // An unknown packet type.
    assert_eq!(
        code(&raw(&mut server, &[77, 0, 0, 0, 9])),
        status::OP_UNSUPPORTED
    );
    // An unknown extension.
    let mut ext_req = vec![fxp::EXTENDED, 0, 0, 0, 9, 0, 0, 0, 3];
    ext_req.extend_from_slice(b"foo");
    assert_eq!(code(&raw(&mut server, &ext_req)), status::OP_UNSUPPORTED);
    // Every prefix of a valid request is answered or refused, never a panic.
    let mut packet = Vec::new();
    encode_request(
        9,
        &Request::Extended(Extended::CopyData {
            read_handle: vec![0; 4],
            read_offset: 0,
            length: 0,
            write_handle: vec![0; 4],
            write_offset: 0,
        }),
        &mut packet,
    );
    for cut in 5..packet.len() - 4 {
        let mut answer = Vec::new();
        server
            .handle_packet(&packet[4..4 + cut], &mut answer)
            .unwrap();
    }
    // Too short for an id: the session ends.
    let mut answer = Vec::new();
    assert!(server.handle_packet(&[fxp::STAT, 0], &mut answer).is_err());
}

#[test]
fn requests_before_init_and_a_second_init_end_the_session() {
    let mut server = Server::new(LocalFs::new(), ServerOptions::default());
    let mut answer = Vec::new();
    assert!(server
        .handle_packet(&[fxp::STAT, 0, 0, 0, 1, 0, 0, 0, 0], &mut answer)
        .is_err());
    let mut server = started(ServerOptions::default());
    assert!(server
        .handle_packet(&[fxp::INIT, 0, 0, 0, 3], &mut answer)
        .is_err());
}

#[test]
fn oversized_packet_lengths_end_the_session() {
    let mut server = Server::new(LocalFs::new(), ServerOptions::default());
    let mut input = Vec::new();
    input.extend_from_slice(&(MAX_PACKET as u32 + 1).to_be_bytes());
    input.extend_from_slice(&[0; 64]);
    let mut output = Vec::new();
    let result = serve(&mut server, &input[..], &mut output);
    assert!(matches!(result, Err(ServeError::BadLength(_))));
    let zero = [0u8; 4];
    assert!(matches!(
        serve(&mut server, &zero[..], &mut output),
        Err(ServeError::BadLength(0))
    ));
    // A clean end of input is a clean end.
    let mut fresh = Server::new(LocalFs::new(), ServerOptions::default());
    assert!(serve(&mut fresh, &[][..], &mut output).is_ok());
}

#[test]
fn opens_beyond_the_handle_limit_fail_and_a_close_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = started(ServerOptions {
        max_handles: 3,
        ..ServerOptions::default()
    });
    let mut handles = Vec::new();
    for _ in 0..3 {
        let Response::Handle(h) = open(&mut server, dir.path(), open_flags::READ) else {
            panic!("no handle");
        };
        handles.push(h);
    }
    let opendir = Request::Opendir {
        path: bytes(dir.path()),
    };
    assert_eq!(code(&call(&mut server, opendir.clone())), status::FAILURE);
    assert_eq!(
        code(&open(&mut server, dir.path(), open_flags::READ)),
        status::FAILURE
    );
    call(
        &mut server,
        Request::Close {
            handle: handles.pop().unwrap(),
        },
    );
    assert!(matches!(call(&mut server, opendir), Response::Handle(_)));
}

#[test]
fn read_only_mode_refuses_every_change_with_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let mut server = started(ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    });
    let p = bytes(&file);
    let changes = [
        Request::Open {
            path: bytes(&dir.path().join("new")),
            pflags: open_flags::WRITE | open_flags::CREAT,
            attrs: Attrs::default(),
        },
        Request::Remove { path: p.clone() },
        Request::Mkdir {
            path: bytes(&dir.path().join("d")),
            attrs: Attrs::default(),
        },
        Request::Setstat {
            path: p.clone(),
            attrs: Attrs {
                permissions: Some(0o600),
                ..Attrs::default()
            },
        },
        Request::Rename {
            from: p.clone(),
            to: b"/tmp/x".to_vec(),
        },
        Request::Symlink {
            target: p.clone(),
            link: bytes(&dir.path().join("l")),
        },
        Request::Extended(Extended::PosixRename {
            from: p.clone(),
            to: b"y".to_vec(),
        }),
        Request::Extended(Extended::Hardlink {
            from: p.clone(),
            to: bytes(&dir.path().join("h")),
        }),
    ];
    for request in changes {
        assert_eq!(code(&call(&mut server, request)), status::PERMISSION_DENIED);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Reading still works.
    assert!(matches!(
        open(&mut server, &file, open_flags::READ),
        Response::Handle(_)
    ));
}

#[test]
fn directory_listing_has_dots_long_names_and_ends_with_eof() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a b", "é", "c"] {
        std::fs::write(dir.path().join(name), b"12345").unwrap();
    }
    let mut server = started(ServerOptions::default());
    let Response::Handle(h) = call(
        &mut server,
        Request::Opendir {
            path: bytes(dir.path()),
        },
    ) else {
        panic!("no handle");
    };
    let Response::Name(entries) = call(&mut server, Request::Readdir { handle: h.clone() }) else {
        panic!("no names");
    };
    let mut names: Vec<String> = entries
        .iter()
        .map(|e| String::from_utf8(e.filename.clone()).unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".", "..", "a b", "c", "é"]);
    let c = entries.iter().find(|e| e.filename == b"c").unwrap();
    let long = String::from_utf8(c.longname.clone()).unwrap();
    assert!(long.starts_with("-rw"), "{long}");
    assert!(long.ends_with(" c"), "{long}");
    assert_eq!(c.attrs.size, Some(5));
    assert_eq!(
        code(&call(&mut server, Request::Readdir { handle: h })),
        status::EOF
    );
}

#[test]
fn extensions_answer_as_openssh_describes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"hello world").unwrap();
    let mut server = started(ServerOptions::default());
    let Response::ExtendedReply(limits) = call(&mut server, Request::Extended(Extended::Limits))
    else {
        panic!("no limits");
    };
    let limits = Limits::decode(&limits).unwrap();
    assert_eq!(limits.max_packet, MAX_PACKET as u64);
    assert_eq!(limits.max_open_handles, 10_000);
    let Response::ExtendedReply(vfs) = call(
        &mut server,
        Request::Extended(Extended::Statvfs {
            path: bytes(dir.path()),
        }),
    ) else {
        panic!("no statvfs");
    };
    assert!(codec::StatVfs::decode(&vfs).unwrap().bsize > 0);
    // copy-data to the end of the source.
    let b = dir.path().join("b");
    let Response::Handle(ra) = open(&mut server, &a, open_flags::READ) else {
        panic!()
    };
    let Response::Handle(wb) = open(&mut server, &b, open_flags::WRITE | open_flags::CREAT) else {
        panic!()
    };
    let copy = Request::Extended(Extended::CopyData {
        read_handle: ra.clone(),
        read_offset: 6,
        length: 0,
        write_handle: wb.clone(),
        write_offset: 0,
    });
    assert_eq!(code(&call(&mut server, copy)), status::OK);
    assert_eq!(std::fs::read(&b).unwrap(), b"world");
    // hardlink and posix-rename over an existing name.
    let h = dir.path().join("h");
    let link = Request::Extended(Extended::Hardlink {
        from: bytes(&a),
        to: bytes(&h),
    });
    assert_eq!(code(&call(&mut server, link)), status::OK);
    let plain_rename = Request::Rename {
        from: bytes(&h),
        to: bytes(&b),
    };
    assert_eq!(code(&call(&mut server, plain_rename)), status::FAILURE);
    let posix = Request::Extended(Extended::PosixRename {
        from: bytes(&h),
        to: bytes(&b),
    });
    assert_eq!(code(&call(&mut server, posix)), status::OK);
    assert_eq!(std::fs::read(&b).unwrap(), b"hello world");
    // expand-path and home-directory.
    let Response::Name(home) = call(
        &mut server,
        Request::Extended(Extended::HomeDirectory {
            user: b"root".to_vec(),
        }),
    ) else {
        panic!()
    };
    assert_eq!(home[0].filename, b"/root");
    let Response::Name(expanded) = call(
        &mut server,
        Request::Extended(Extended::ExpandPath {
            path: b"~root/".to_vec(),
        }),
    ) else {
        panic!()
    };
    assert_eq!(expanded[0].filename, b"/root");
    let Response::ExtendedReply(names) = call(
        &mut server,
        Request::Extended(Extended::UsersGroupsById {
            uids: vec![0, 4_000_000_000],
            gids: vec![0],
        }),
    ) else {
        panic!()
    };
    assert_eq!(
        codec::decode_names_reply(&names).unwrap(),
        (
            vec!["root".to_owned(), String::new()],
            vec!["root".to_owned()]
        )
    );
    // fsync on a file handle; lsetstat on a symlink leaves the target alone.
    assert_eq!(
        code(&call(
            &mut server,
            Request::Extended(Extended::Fsync { handle: wb })
        )),
        status::OK
    );
    let l = dir.path().join("l");
    std::os::unix::fs::symlink(&a, &l).unwrap();
    let lset = Request::Extended(Extended::Lsetstat {
        path: bytes(&l),
        attrs: Attrs {
            times: Some((1000, 1000)),
            ..Attrs::default()
        },
    });
    assert_eq!(code(&call(&mut server, lset)), status::OK);
    assert_eq!(std::fs::symlink_metadata(&l).unwrap().mtime(), 1000);
    assert_ne!(std::fs::metadata(&a).unwrap().mtime(), 1000);
}

#[test]
fn errors_map_to_the_status_openssh_sends() {
    let mut server = started(ServerOptions::default());
    let missing = Request::Stat {
        path: b"/nonexistent/x".to_vec(),
    };
    assert_eq!(code(&call(&mut server, missing)), status::NO_SUCH_FILE);
    let Response::Name(real) = call(&mut server, Request::Realpath { path: vec![] }) else {
        panic!()
    };
    assert!(real[0].filename.starts_with(b"/"));
}

#[test]
fn allow_and_deny_lists_refuse_requests_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = started(ServerOptions {
        denied: vec!["remove".into(), "opendir".into()],
        ..ServerOptions::default()
    });
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let remove = Request::Remove { path: bytes(&file) };
    assert_eq!(code(&call(&mut server, remove)), status::PERMISSION_DENIED);
    let opendir = Request::Opendir {
        path: bytes(dir.path()),
    };
    assert_eq!(code(&call(&mut server, opendir)), status::PERMISSION_DENIED);
    assert!(file.exists());
    let mut server = started(ServerOptions {
        allowed: Some(vec!["stat".into()]),
        ..ServerOptions::default()
    });
    assert!(matches!(
        call(&mut server, Request::Stat { path: bytes(&file) }),
        Response::Attrs(_)
    ));
    let lstat = Request::Lstat { path: bytes(&file) };
    assert_eq!(code(&call(&mut server, lstat)), status::PERMISSION_DENIED);
}

/// The client's end of a pipelined upload: hands the server its requests a pipe's
/// worth (64 KiB) at a time, cutting through packet boundaries, and notes at every
/// read (where a real server may wait on the client) how many requests it had
/// wholly received and how many answers had reached the client.
struct PacedClient {
    input: Vec<u8>,
    pos: usize,
    ends: Vec<usize>,
    answers: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    seen: Vec<(usize, usize)>,
}

impl io::Read for PacedClient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let sent = self.ends.iter().filter(|&&end| end <= self.pos).count();
        self.seen.push((sent, answers_in(&self.answers.borrow())));
        let n = buf.len().min(64 * 1024).min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct SharedOut(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl io::Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn answers_in(mut out: &[u8]) -> usize {
    let mut n = 0;
    while let Some(len) = out.first_chunk::<4>() {
        out = &out[4 + u32::from_be_bytes(*len) as usize..];
        n += 1;
    }
    n
}

#[test]
fn pipelined_writes_are_answered_before_the_server_waits_for_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = started(ServerOptions::default());
    let path = dir.path().join("up");
    let Response::Handle(handle) = open(&mut server, &path, open_flags::WRITE | open_flags::CREAT)
    else {
        panic!("no handle");
    };
    // Sixteen 200 KiB WRITEs in a row, as a client with requests in flight sends them.
    let size = 200 * 1024;
    let (mut input, mut ends) = (Vec::new(), Vec::new());
    for i in 0..16u32 {
        let write = Request::Write {
            handle: handle.clone(),
            offset: u64::from(i) * size as u64,
            data: vec![i as u8; size],
        };
        encode_request(i + 1, &write, &mut input);
        ends.push(input.len());
    }
    let answers = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut client = PacedClient {
        input,
        pos: 0,
        ends,
        answers: answers.clone(),
        seen: Vec::new(),
    };
    serve(&mut server, &mut client, SharedOut(answers.clone())).unwrap();
    // Every time the server read on, each request it had whole was answered: a
    // client bounded in requests in flight never waits on answers held back.
    for &(sent, answered) in &client.seen {
        assert_eq!(
            answered, sent,
            "reads (requests whole, answered): {:?}",
            client.seen
        );
    }
    let out = answers.borrow();
    assert_eq!(answers_in(&out), 16);
    let mut rest = &out[..];
    for i in 0..16u32 {
        let len = u32::from_be_bytes(*rest.first_chunk::<4>().unwrap()) as usize;
        let (id, response) = decode_response(&rest[4..4 + len]).unwrap();
        assert_eq!((id, code(&response)), (i + 1, status::OK));
        rest = &rest[4 + len..];
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 16 * size as u64);
}
