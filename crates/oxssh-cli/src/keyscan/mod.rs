//! `oxssh-keyscan`: fetch hosts' public keys, as OpenSSH's `ssh-keyscan` does, but only
//! after the key exchange completed and the host key's signature over the exchange hash
//! verified (ssh-keyscan prints whatever key the server names).
//!
//! [`args`] reads the flags, [`targets`] the hosts, [`run`] scans them concurrently
//! through [`scan::scan`] (the network part, over the transport core), and [`output`]
//! formats what ssh-keyscan prints.

pub mod args;
pub mod keytype;
pub mod output;
pub mod run;
pub mod scan;
pub mod targets;

use std::fs::File;
use std::io::{self, BufReader};
use std::process::ExitCode;
use std::sync::Arc;

use args::{HostFile, Options};
use targets::HostSpec;

/// Exit status of OpenSSH's `fatal()`.
const EXIT_FATAL: u8 = 255;

/// Runs `oxssh-keyscan` with the process arguments; the exit status is ssh-keyscan's:
/// 0 if any key was printed, 1 if none (or a usage error), 255 on a fatal error.
pub fn main() -> ExitCode {
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(opts) => opts,
        Err(err) => {
            eprint!("{err}");
            return ExitCode::from(err.exit_code());
        }
    };
    let specs = match collect_specs(&opts) {
        Ok(specs) => specs,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("oxssh-keyscan: cannot start: {}", os_message(&err));
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let found = runtime.block_on(run::run(Arc::new(opts), specs));
    ExitCode::from(if found { 0 } else { 1 })
}

/// Host specs from the `-f` files, then from the arguments (ssh-keyscan's order).
fn collect_specs(opts: &Options) -> Result<Vec<HostSpec>, String> {
    let mut specs = Vec::new();
    for file in &opts.files {
        let read = match file {
            HostFile::Stdin => targets::read_specs(io::stdin().lock()),
            HostFile::Path(path) => {
                File::open(path).and_then(|f| targets::read_specs(BufReader::new(f)))
            }
        };
        let name = match file {
            HostFile::Stdin => "<stdin>".into(),
            HostFile::Path(path) => path.display().to_string(),
        };
        specs.extend(read.map_err(|err| format!("oxssh-keyscan: {name}: {}", os_message(&err)))?);
    }
    specs.extend(opts.hosts.iter().filter_map(|host| HostSpec::parse(host)));
    Ok(specs)
}

/// An I/O error as C's `strerror()` words it: without Rust's `(os error N)` suffix or
/// the resolver's `failed to lookup address information:` prefix.
fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(text).to_owned(),
        _ => text.to_owned(),
    }
}
