//! `oxscp`: a drop-in for OpenSSH's `scp` (SFTP mode).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(oxssh_cli::scp::main())
}
