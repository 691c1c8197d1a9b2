//! `oxssh-agent`: a drop-in for OpenSSH's `ssh-agent`.

fn main() -> std::process::ExitCode {
    oxssh_cli::agent::main()
}
