//! The `sftp_packets` target: one SFTP packet body fed to the request and response
//! decoders (each successful decode must survive a round trip) and to the server core,
//! after INIT, over a filesystem that refuses every call (no files are touched).
//! `crates/oxssh-sftp/tests/fuzz_corpus_replay.rs` includes this file by path.

use std::io;
use std::path::{Path, PathBuf};

use oxssh_sftp::codec::{
    decode_request, decode_response, encode_request, encode_response, fxp, Attrs, Init, NameEntry,
    StatVfs,
};
use oxssh_sftp::server::{Filesystem, Server, ServerOptions};

/// A filesystem that refuses everything.
struct Refusing;

fn no<T>() -> io::Result<T> {
    Err(io::Error::from(io::ErrorKind::PermissionDenied))
}

impl Filesystem for Refusing {
    type File = ();
    type Dir = ();
    fn open(&mut self, _: &Path, _: u32, _: &Attrs) -> io::Result<()> {
        Ok(())
    }
    fn close(&mut self, _: ()) -> io::Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &mut (), _: u64, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn write(&mut self, _: &mut (), _: u64, _: &[u8]) -> io::Result<()> {
        no()
    }
    fn fstat(&mut self, _: &mut ()) -> io::Result<Attrs> {
        Ok(Attrs::default())
    }
    fn fsetstat(&mut self, _: &mut (), _: &Attrs) -> io::Result<()> {
        no()
    }
    fn fsync(&mut self, _: &mut ()) -> io::Result<()> {
        no()
    }
    fn fstatvfs(&mut self, _: &mut ()) -> io::Result<StatVfs> {
        no()
    }
    fn opendir(&mut self, _: &Path) -> io::Result<()> {
        Ok(())
    }
    fn readdir(&mut self, _: &mut (), _: usize) -> io::Result<Vec<NameEntry>> {
        Ok(Vec::new())
    }
    fn stat(&mut self, _: &Path, _: bool) -> io::Result<Attrs> {
        no()
    }
    fn setstat(&mut self, _: &Path, _: &Attrs, _: bool) -> io::Result<()> {
        no()
    }
    fn remove(&mut self, _: &Path) -> io::Result<()> {
        no()
    }
    fn mkdir(&mut self, _: &Path, _: &Attrs) -> io::Result<()> {
        no()
    }
    fn rmdir(&mut self, _: &Path) -> io::Result<()> {
        no()
    }
    fn realpath(&mut self, p: &Path) -> io::Result<PathBuf> {
        Ok(p.to_path_buf())
    }
    fn rename(&mut self, _: &Path, _: &Path, _: bool) -> io::Result<()> {
        no()
    }
    fn readlink(&mut self, _: &Path) -> io::Result<PathBuf> {
        no()
    }
    fn symlink(&mut self, _: &Path, _: &Path) -> io::Result<()> {
        no()
    }
    fn hardlink(&mut self, _: &Path, _: &Path) -> io::Result<()> {
        no()
    }
    fn statvfs(&mut self, _: &Path) -> io::Result<StatVfs> {
        no()
    }
    fn home_directory(&mut self, _: &str) -> io::Result<PathBuf> {
        no()
    }
    fn user_name(&mut self, _: u32) -> Option<String> {
        None
    }
    fn group_name(&mut self, _: u32) -> Option<String> {
        None
    }
}

/// Feeds `data` to the decoders and the server; returns how many decoders accepted it.
/// Panics only on a round-trip mismatch (or a bug the fuzzer found).
pub fn decode_sftp(data: &[u8]) -> usize {
    let mut accepted = 0;
    if let Ok((id, request)) = decode_request(data) {
        let mut out = Vec::new();
        encode_request(id, &request, &mut out);
        let again = decode_request(out.get(4..).unwrap_or_default());
        assert_eq!(again.ok(), Some((id, request)), "request round trip");
        accepted += 1;
    }
    if let Ok((id, response)) = decode_response(data) {
        let mut out = Vec::new();
        encode_response(id, &response, &mut out);
        let again = decode_response(out.get(4..).unwrap_or_default());
        assert_eq!(again.ok(), Some((id, response)), "response round trip");
        accepted += 1;
    }
    if Init::decode(data, fxp::INIT).is_ok() {
        accepted += 1;
    }
    let mut server = Server::new(
        Refusing,
        ServerOptions {
            max_handles: 4,
            ..ServerOptions::default()
        },
    );
    let mut init = Vec::new();
    Init {
        version: 3,
        extensions: Vec::new(),
    }
    .encode(fxp::INIT, &mut init);
    let mut answer = Vec::new();
    let _ = server.handle_packet(init.get(4..).unwrap_or_default(), &mut answer);
    // The same packet a few times: opens fill the handle table, later ones must fail.
    for _ in 0..6 {
        answer.clear();
        if server.handle_packet(data, &mut answer).is_err() {
            break;
        }
        assert!(server.open_handles() <= 4, "handle bound exceeded");
    }
    accepted
}
