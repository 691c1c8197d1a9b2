//! `oxssh-keygen`: a drop-in for OpenSSH's `ssh-keygen`.

fn main() -> std::process::ExitCode {
    oxssh_cli::keygen::main()
}
