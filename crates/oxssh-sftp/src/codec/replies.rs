//! The bodies of extended replies: `statvfs@openssh.com`, `limits@openssh.com` and
//! `users-groups-by-id@openssh.com`.

// The wire cursor, writer and errors come from the parent module.
use super::*;

/// `statvfs@openssh.com`'s reply, OpenSSH `PROTOCOL` §4.4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatVfs {
    pub bsize: u64,
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub favail: u64,
    pub fsid: u64,
    /// `ST_RDONLY` 0x1, `ST_NOSUID` 0x2.
    pub flag: u64,
    pub namemax: u64,
}

impl StatVfs {
    /// The reply's payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(88);
        for v in self.fields() {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    fn fields(&self) -> [u64; 11] {
        [
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.flag,
            self.namemax,
        ]
    }

    /// Decodes the reply's payload.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let v = Self {
            bsize: r.u64()?,
            frsize: r.u64()?,
            blocks: r.u64()?,
            bfree: r.u64()?,
            bavail: r.u64()?,
            files: r.u64()?,
            ffree: r.u64()?,
            favail: r.u64()?,
            fsid: r.u64()?,
            flag: r.u64()?,
            namemax: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// `limits@openssh.com`'s reply, OpenSSH `PROTOCOL` §4.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_packet: u64,
    pub max_read: u64,
    pub max_write: u64,
    /// 0: no limit announced.
    pub max_open_handles: u64,
}

impl Limits {
    /// The reply's payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        for v in [
            self.max_packet,
            self.max_read,
            self.max_write,
            self.max_open_handles,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Decodes the reply's payload.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let v = Self {
            max_packet: r.u64()?,
            max_read: r.u64()?,
            max_write: r.u64()?,
            max_open_handles: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// Encodes `users-groups-by-id@openssh.com`'s reply: two strings, each holding one
/// string per id asked (empty for an unknown id).
pub fn encode_names_reply(users: &[Vec<u8>], groups: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out);
    for list in [users, groups] {
        let mut inner = Vec::new();
        let mut iw = Writer::new(&mut inner);
        for name in list {
            iw.string(name);
        }
        w.string(&inner);
    }
    out
}

/// Decodes `users-groups-by-id@openssh.com`'s reply.
pub fn decode_names_reply(data: &[u8]) -> Result<(Vec<String>, Vec<String>), DecodeError> {
    let mut r = Reader::new(data);
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let mut inner = Reader::new(r.string()?);
        while !inner.is_empty() {
            list.push(String::from_utf8_lossy(inner.string()?).into_owned());
        }
    }
    r.finish()?;
    let [users, groups] = lists;
    Ok((users, groups))
}
