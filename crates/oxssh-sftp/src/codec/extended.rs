//! SSH_FXP_EXTENDED request bodies, one arm per extension we speak.

// The wire cursor, writer, request types and errors come from the parent module.
use super::*;

pub(super) fn decode_extended(r: &mut Reader<'_>) -> Result<Extended, DecodeError> {
    let name = r.string()?;
    let s = |r: &mut Reader<'_>| r.string().map(<[u8]>::to_vec);
    let ids = |r: &mut Reader<'_>| -> Result<Vec<u32>, DecodeError> {
        let mut inner = Reader::new(r.string()?);
        let mut ids = Vec::with_capacity(inner.remaining() / 4);
        while !inner.is_empty() {
            ids.push(inner.u32()?);
        }
        Ok(ids)
    };
    Ok(match std::str::from_utf8(name).unwrap_or("") {
        ext::POSIX_RENAME => Extended::PosixRename {
            from: s(r)?,
            to: s(r)?,
        },
        ext::STATVFS => Extended::Statvfs { path: s(r)? },
        ext::FSTATVFS => Extended::Fstatvfs { handle: s(r)? },
        ext::HARDLINK => Extended::Hardlink {
            from: s(r)?,
            to: s(r)?,
        },
        ext::FSYNC => Extended::Fsync { handle: s(r)? },
        ext::LSETSTAT => Extended::Lsetstat {
            path: s(r)?,
            attrs: Attrs::decode(r)?,
        },
        ext::LIMITS => Extended::Limits,
        ext::EXPAND_PATH => Extended::ExpandPath { path: s(r)? },
        ext::COPY_DATA => Extended::CopyData {
            read_handle: s(r)?,
            read_offset: r.u64()?,
            length: r.u64()?,
            write_handle: s(r)?,
            write_offset: r.u64()?,
        },
        ext::HOME_DIRECTORY => Extended::HomeDirectory { user: s(r)? },
        ext::USERS_GROUPS_BY_ID => Extended::UsersGroupsById {
            uids: ids(r)?,
            gids: ids(r)?,
        },
        _ => {
            let _ = r.take(r.remaining());
            Extended::Unknown {
                name: name.to_vec(),
            }
        }
    })
}

pub(super) fn encode_extended(e: &Extended, w: &mut Writer<'_>) {
    let name = |w: &mut Writer<'_>, n: &str| {
        w.string(n.as_bytes());
    };
    let ids = |w: &mut Writer<'_>, ids: &[u32]| {
        let mut packed = Vec::with_capacity(ids.len() * 4);
        for id in ids {
            packed.extend_from_slice(&id.to_be_bytes());
        }
        w.string(&packed);
    };
    match e {
        Extended::PosixRename { from, to } => {
            name(w, ext::POSIX_RENAME);
            w.string(from).string(to);
        }
        Extended::Statvfs { path } => {
            name(w, ext::STATVFS);
            w.string(path);
        }
        Extended::Fstatvfs { handle } => {
            name(w, ext::FSTATVFS);
            w.string(handle);
        }
        Extended::Hardlink { from, to } => {
            name(w, ext::HARDLINK);
            w.string(from).string(to);
        }
        Extended::Fsync { handle } => {
            name(w, ext::FSYNC);
            w.string(handle);
        }
        Extended::Lsetstat { path, attrs } => {
            name(w, ext::LSETSTAT);
            w.string(path);
            attrs.encode(w);
        }
        Extended::Limits => name(w, ext::LIMITS),
        Extended::ExpandPath { path } => {
            name(w, ext::EXPAND_PATH);
            w.string(path);
        }
        Extended::CopyData {
            read_handle,
            read_offset,
            length,
            write_handle,
            write_offset,
        } => {
            name(w, ext::COPY_DATA);
            w.string(read_handle)
                .u64(*read_offset)
                .u64(*length)
                .string(write_handle)
                .u64(*write_offset);
        }
        Extended::HomeDirectory { user } => {
            name(w, ext::HOME_DIRECTORY);
            w.string(user);
        }
        Extended::UsersGroupsById { uids, gids } => {
            name(w, ext::USERS_GROUPS_BY_ID);
            ids(w, uids);
            ids(w, gids);
        }
        Extended::Unknown { name: n } => {
            w.string(n);
        }
    }
}
