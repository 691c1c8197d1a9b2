//! Running `oxssh-keygen` next to OpenSSH's `ssh-keygen` (and PuTTY's `puttygen`) in one
//! temporary directory, with relative file names so both print the same paths.

use std::path::Path;
use std::process::Command;

use super::{run, Output, RUN_TIMEOUT};

/// Our binary.
pub const OXSSH_KEYGEN: &str = env!("CARGO_BIN_EXE_oxssh-keygen");

/// Runs `program args` in `dir`, feeding `stdin`. Runs under `setsid` when available, so
/// no controlling terminal is inherited and passphrases are read from stdin by both
/// programs (readpassphrase's fallback).
pub fn run_in(dir: &Path, program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = if super::find_program("setsid").is_some() {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).current_dir(dir);
    run(&mut cmd, stdin, RUN_TIMEOUT)
}

/// `oxssh-keygen args` in `dir`.
pub fn ox(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, OXSSH_KEYGEN, args, b"")
}

/// `ssh-keygen args` in `dir`.
pub fn ssh(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, "ssh-keygen", args, b"")
}

/// Asserts both runs printed the same bytes on both streams and exited alike, after
/// replacing the program name in ours (`oxssh-keygen:` prefixes, usage lines).
pub fn assert_same(ours: &Output, theirs: &Output, what: &str) {
    let norm = |s: &str| s.replace("oxssh-keygen", "ssh-keygen");
    assert_eq!(norm(&ours.stdout), theirs.stdout, "stdout of {what}");
    assert_eq!(norm(&ours.stderr), theirs.stderr, "stderr of {what}");
    assert_eq!(ours.code(), theirs.code(), "exit status of {what}");
}

/// Mode bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
