//! `oxsshd`: the SSH server (embedded default mode for now).
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(oxssh_cli::server::main(
        std::env::args_os().skip(1).collect(),
    ));
}
