//! `oxssh-add`: a drop-in for OpenSSH's `ssh-add`.

fn main() -> std::process::ExitCode {
    oxssh_cli::add::main()
}
