//! `oxssh-copy-id`: a drop-in for OpenSSH's `ssh-copy-id`.

fn main() -> std::process::ExitCode {
    oxssh_cli::copyid::main()
}
