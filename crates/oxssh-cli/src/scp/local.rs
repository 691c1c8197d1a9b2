//! Copies with every operand local, as OpenSSH's scp makes them: not over SSH but by
//! the system's `cp`, one run per source (`-r` and `-p` passed on), after checking that
//! the target is a directory when there are several sources.

use std::process::Command;

use crate::strerror::strerror;

/// scp's check of a target that must be a directory (several sources): `Err` with the
/// exit status after saying why it is not.
pub(super) fn target_is_directory(target: &str) -> Result<(), u8> {
    let checked = match std::fs::metadata(target) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err("Not a directory".to_owned()),
        Err(e) => Err(strerror(&e)),
    };
    checked.map_err(|why| {
        eprintln!("{target}: {why}");
        1
    })
}

/// Copies `sources` to `target` with `cp`; scp's exit status (1 if any copy failed).
pub(super) fn copy(
    recursive: bool,
    preserve: bool,
    verbose: bool,
    sources: &[String],
    target: &str,
) -> u8 {
    if sources.len() > 1 {
        if let Err(code) = target_is_directory(target) {
            return code;
        }
    }
    let mut failed = false;
    for source in sources {
        let mut args: Vec<&str> = Vec::new();
        if recursive {
            args.push("-r");
        }
        if preserve {
            args.push("-p");
        }
        args.extend(["--", source, target]);
        if verbose {
            eprintln!("{}", executing("cp", &args));
        }
        match Command::new("cp").args(&args).status() {
            Ok(status) => failed |= !status.success(),
            Err(e) => {
                eprintln!("exec cp: {}", strerror(&e));
                failed = true;
            }
        }
    }
    u8::from(failed)
}

/// scp's `-v` line for a program it runs: each argument in single quotes.
pub(super) fn executing<A: AsRef<str>>(program: &str, args: &[A]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.as_ref())).collect();
    format!("Executing: {program} {}", quoted.join(" "))
}
