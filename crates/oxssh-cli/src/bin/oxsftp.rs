//! `oxsftp`: a drop-in for OpenSSH's `sftp`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(oxssh_cli::sftp::main())
}
