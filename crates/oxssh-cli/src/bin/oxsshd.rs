//! `oxsshd`: the SSH server (the system daemon with a configuration, else the embedded default).
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(oxssh_cli::server::main(
        std::env::args_os().skip(1).collect(),
    ));
}
