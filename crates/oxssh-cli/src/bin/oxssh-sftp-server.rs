//! `oxssh-sftp-server`: a drop-in for OpenSSH's `sftp-server` (SFTP on stdin/stdout).
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(oxssh_cli::sftp_server::main(
        std::env::args_os().skip(1).collect(),
    ));
}
