//! Passing one open file descriptor over a Unix-domain socket (`SCM_RIGHTS`), as
//! OpenSSH's `mm_send_fd`/`mm_receive_fd` do it: one byte of data carrying one
//! descriptor per message. Used by `ProxyUseFdpass` (the proxy command hands back a
//! connected socket) and by connection sharing (a mux client hands its stdin, stdout
//! and stderr to the master).
//!
//! Both calls work on blocking and non-blocking sockets: on a non-blocking one they
//! return `ErrorKind::WouldBlock`, so tokio's `async_io` can retry them.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Sends `fd` over the connected Unix socket `socket` with one byte of data.
///
/// # Errors
/// The socket's error (`WouldBlock` on a full non-blocking socket).
pub fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let data = [0u8];
    let iov = [IoSlice::new(&data)];
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(io::Error::from)?;
    if sent != 1 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short fd-passing write",
        ));
    }
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`] (close-on-exec set). Extra descriptors in
/// the same message are closed; a message without one is an error.
///
/// # Errors
/// The socket's error, `UnexpectedEof` when the peer closed, `InvalidData` when the
/// message carried no descriptor.
pub fn recv_fd(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut data = [0u8; 1];
    let (bytes, fd) = recv_with_fd(socket, &mut data)?;
    if bytes == 0 && fd.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed before passing a descriptor",
        ));
    }
    fd.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "message carried no descriptor"))
}

/// Receives one message into `data` and the first descriptor it carries, if any
/// (close-on-exec set; extra descriptors are closed). Returns the bytes read.
///
/// # Errors
/// The socket's error.
pub fn recv_with_fd(
    socket: BorrowedFd<'_>,
    data: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(data)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut received: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            received.extend(fds.into_iter().map(owned));
        }
    }
    // Any extra descriptors are closed when `received` drops.
    Ok((msg.bytes, received.into_iter().next()))
}

#[allow(unsafe_code)]
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just installed in this process by the kernel for an SCM_RIGHTS
    // message we received; nothing else knows of it, so taking sole ownership is sound.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_passed_pipe_end_reaches_the_other_side() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut left, right) = UnixStream::pair().unwrap();
        send_fd(a.as_fd(), right.as_fd()).unwrap();
        drop(right);
        let got = recv_fd(b.as_fd()).unwrap();
        let mut got = UnixStream::from(got);
        let _ = got.write_all(b"hi");
        let mut buf = [0u8; 2];
        let _ = left.read_exact(&mut buf);
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn a_closed_peer_is_eof_not_a_descriptor() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let err = recv_fd(b.as_fd()).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::UnexpectedEof));
    }
}
