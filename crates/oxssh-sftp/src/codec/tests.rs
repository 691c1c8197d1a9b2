use super::*;

fn body(packet: &[u8]) -> &[u8] {
    &packet[4..]
}

#[test]
fn every_request_round_trips() {
    let attrs = Attrs {
        size: Some(7),
        uid_gid: Some((1, 2)),
        permissions: Some(0o100_644),
        times: Some((3, 4)),
        extended: vec![(b"a@b".to_vec(), b"x".to_vec())],
    };
    let h = b"h1".to_vec();
    let p = b"/p".to_vec();
    let requests = vec![
        Request::Open {
            path: p.clone(),
            pflags: open_flags::READ | open_flags::CREAT,
            attrs: attrs.clone(),
        },
        Request::Close { handle: h.clone() },
        Request::Read {
            handle: h.clone(),
            offset: 1 << 40,
            len: 32768,
        },
        Request::Write {
            handle: h.clone(),
            offset: 5,
            data: vec![9; 100],
        },
        Request::Lstat { path: p.clone() },
        Request::Fstat { handle: h.clone() },
        Request::Setstat {
            path: p.clone(),
            attrs: attrs.clone(),
        },
        Request::Fsetstat {
            handle: h.clone(),
            attrs: Attrs::default(),
        },
        Request::Opendir { path: p.clone() },
        Request::Readdir { handle: h.clone() },
        Request::Remove { path: p.clone() },
        Request::Mkdir {
            path: p.clone(),
            attrs: attrs.clone(),
        },
        Request::Rmdir { path: p.clone() },
        Request::Realpath { path: p.clone() },
        Request::Stat { path: p.clone() },
        Request::Rename {
            from: p.clone(),
            to: b"q".to_vec(),
        },
        Request::Readlink { path: p.clone() },
        Request::Symlink {
            target: p.clone(),
            link: b"l".to_vec(),
        },
        Request::Extended(Extended::PosixRename {
            from: p.clone(),
            to: b"q".to_vec(),
        }),
        Request::Extended(Extended::Statvfs { path: p.clone() }),
        Request::Extended(Extended::Fstatvfs { handle: h.clone() }),
        Request::Extended(Extended::Hardlink {
            from: p.clone(),
            to: b"q".to_vec(),
        }),
        Request::Extended(Extended::Fsync { handle: h.clone() }),
        Request::Extended(Extended::Lsetstat {
            path: p.clone(),
            attrs,
        }),
        Request::Extended(Extended::Limits),
        Request::Extended(Extended::ExpandPath { path: p.clone() }),
        Request::Extended(Extended::CopyData {
            read_handle: h.clone(),
            read_offset: 1,
            length: 0,
            write_handle: b"h2".to_vec(),
            write_offset: 3,
        }),
        Request::Extended(Extended::HomeDirectory {
            user: b"root".to_vec(),
        }),
        Request::Extended(Extended::UsersGroupsById {
            uids: vec![0, 1000],
            gids: vec![],
        }),
    ];
    for (id, request) in requests.into_iter().enumerate() {
        let mut out = Vec::new();
        encode_request(id as u32, &request, &mut out);
        let len = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!(
            decode_request(body(&out)).unwrap(),
            (id as u32, request.clone())
        );
    }
}

#[test]
fn every_response_round_trips() {
    let responses = vec![
        Response::status(status::EOF),
        Response::Handle(b"abc".to_vec()),
        Response::Data(vec![1, 2, 3]),
        Response::Name(vec![NameEntry {
            filename: "é x".as_bytes().to_vec(),
            longname: b"-rw-r--r-- ...".to_vec(),
            attrs: Attrs {
                size: Some(3),
                ..Attrs::default()
            },
        }]),
        Response::Attrs(Attrs::default()),
        Response::ExtendedReply(StatVfs::default().encode()),
    ];
    for response in responses {
        let mut out = Vec::new();
        encode_response(42, &response, &mut out);
        assert_eq!(decode_response(body(&out)).unwrap(), (42, response));
    }
}

#[test]
fn trailing_bytes_and_truncation_are_errors() {
    let mut out = Vec::new();
    encode_request(
        1,
        &Request::Stat {
            path: b"/".to_vec(),
        },
        &mut out,
    );
    let mut longer = body(&out).to_vec();
    longer.push(0);
    assert!(decode_request(&longer).is_err());
    for cut in 0..body(&out).len() {
        assert!(decode_request(&body(&out)[..cut]).is_err());
    }
}

#[test]
fn a_huge_extended_attribute_count_is_refused_without_allocating() {
    let mut b = vec![fxp::SETSTAT, 0, 0, 0, 1, 0, 0, 0, 1, b'/'];
    b.extend_from_slice(&ATTR_EXTENDED.to_be_bytes());
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(decode_request(&b).is_err());
}

#[test]
fn names_reply_round_trips() {
    let users = vec![b"root".to_vec(), Vec::new()];
    let data = encode_names_reply(&users, &[b"wheel".to_vec()]);
    assert_eq!(
        decode_names_reply(&data).unwrap(),
        (vec!["root".into(), String::new()], vec!["wheel".into()])
    );
}
