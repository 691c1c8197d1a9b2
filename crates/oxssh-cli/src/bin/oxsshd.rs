//! `oxsshd`: the SSH server (the system daemon with a configuration, else the embedded
//! default). Started under the name `internal-sftp` (as oxsshd does itself for
//! `Subsystem sftp internal-sftp`, in the session's child process) it is the SFTP server.
#![forbid(unsafe_code)]

fn main() {
    let mut args = std::env::args_os();
    let name = args.next().unwrap_or_default();
    let code = if name == oxssh_cli::server::INTERNAL_SFTP {
        oxssh_cli::sftp_server::internal_main(args.collect())
    } else {
        oxssh_cli::server::main(args.collect())
    };
    std::process::exit(code);
}
