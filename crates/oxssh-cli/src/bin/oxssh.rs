//! `oxssh`: the SSH client, a drop-in for OpenSSH's `ssh`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(oxssh_cli::client::main())
}
