//! I/O errors in the words OpenSSH prints for them: the C library's `strerror(errno)`,
//! without the ` (os error N)` Rust's `Display` adds.

/// `strerror(errno)` for `e`; a timeout without an errno reads as ETIMEDOUT's text, any
/// other error without one as its own description.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        // The C library's own text (nix's table differs: "I/O error" for EIO).
        Some(_) => match text.find(" (os error ") {
            Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
            None => text,
        },
        None if e.kind() == std::io::ErrorKind::TimedOut => "Connection timed out".to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_the_c_librarys_strerror() {
        let text = |code| strerror(&std::io::Error::from_raw_os_error(code));
        assert_eq!(text(nix::libc::ENOENT), "No such file or directory");
        assert_eq!(text(nix::libc::EACCES), "Permission denied");
        assert_eq!(text(nix::libc::EIO), "Input/output error");
        let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline");
        assert_eq!(strerror(&e), "Connection timed out");
        let e = std::io::Error::other("file changed size");
        assert_eq!(strerror(&e), "file changed size");
    }
}
