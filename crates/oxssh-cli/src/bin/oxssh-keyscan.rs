//! `oxssh-keyscan`: a drop-in for OpenSSH's `ssh-keyscan`.

fn main() -> std::process::ExitCode {
    oxssh_cli::keyscan::main()
}
