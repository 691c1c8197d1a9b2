//! File-transfer test helpers: OpenSSH's `sftp`/`scp` and our `oxsftp` command lines
//! against a [`Fixture`], a scratch directory in the test user's home owned by them,
//! pseudo-random files and trees with awkward names, and tree comparison.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::openssh::Fixture;
use super::users::TEST_USER;
use super::{run, Output};

/// Time limit for one transfer program run.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// `oxsftp` under test (beside `oxsshd`: not every test binary names it).
pub fn oxsftp() -> String {
    beside_oxsshd("oxsftp")
}

/// `oxscp` under test.
pub fn oxscp() -> String {
    beside_oxsshd("oxscp")
}

fn beside_oxsshd(name: &str) -> String {
    Path::new(super::OXSSHD)
        .with_file_name(name)
        .display()
        .to_string()
}

/// Gives `path` and everything under it to the test user (`chown -R`), so that its
/// sessions can read what root created there.
pub fn chown_to_test_user(path: &Path) {
    let out = run(
        Command::new("chown")
            .args(["-R", &format!("{TEST_USER}:")])
            .arg(path),
        b"",
        TRANSFER_TIMEOUT,
    );
    assert!(out.status.success(), "chown: {}", out.stderr);
}

/// A directory in the test user's home, owned by them, removed on drop.
pub struct RemoteDir(PathBuf);

impl RemoteDir {
    /// A fresh directory named after `tag`.
    pub fn new(tag: &str) -> Self {
        let user = oxssh_os::SystemUser::by_name(TEST_USER)
            .unwrap()
            .expect("test user");
        let path = user.home.join(format!("sftp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).unwrap();
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RemoteDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file transfer client (`sftp`, `scp` or `oxsftp`) set up like [`Fixture::openssh`].
pub fn client(program: &str, f: &Fixture) -> Command {
    let mut cmd = Command::new(program);
    client_options(&mut cmd, f);
    cmd.arg("-P").arg(f.peer.port().to_string());
    cmd
}

/// The fixture's client set-up for a transfer program (no port: scp names it per
/// operand): its HOME and known_hosts, no agent, no config, batch mode, its key.
pub fn client_options(cmd: &mut Command, f: &Fixture) {
    cmd.env_remove("SSH_AUTH_SOCK")
        .env("HOME", f.client.home())
        .args(["-F", "/dev/null", "-o"])
        .arg(format!(
            "UserKnownHostsFile={}",
            f.client.known_hosts().display()
        ))
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "BatchMode=yes",
        ])
        .arg("-i")
        .arg(&f.key.path);
}

/// Runs `program -b batch user@127.0.0.1` with the `commands`, from directory `cwd`.
pub fn batch(program: &str, f: &Fixture, cwd: &Path, commands: &str) -> Output {
    let file = cwd.join(".batch");
    std::fs::write(&file, commands).unwrap();
    let mut cmd = client(program, f);
    cmd.current_dir(cwd)
        .arg("-b")
        .arg(&file)
        .arg(format!("{TEST_USER}@127.0.0.1"));
    let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
    let _ = std::fs::remove_file(&file);
    out
}

/// Writes `len` pseudo-random bytes (a fixed xorshift stream seeded by `seed`).
pub fn random_file(path: &Path, len: usize, seed: u64) {
    let mut state = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).unwrap();
}

/// A tree of `files` small files in nested directories with spaces and non-ASCII in
/// their names and varied modes. No symbolic links: OpenSSH's `sftp -r` skips them and
/// `scp -r` follows them, so links are tested one by one.
pub fn awkward_tree(root: &Path, files: usize) {
    let dirs = ["", "sub dir", "sub dir/ünïcödé", "日本語", "a/b/c"];
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for i in 0..files {
        let dir = root.join(dirs[i % dirs.len()]);
        let name = match i % 4 {
            0 => format!("file {i}.txt"),
            1 => format!("ファイル-{i}"),
            2 => format!("plain{i}"),
            _ => format!("é {i} ñ"),
        };
        let path = dir.join(name);
        std::fs::write(&path, format!("content {i}\n").repeat(i % 50 + 1)).unwrap();
        let mode = [0o644, 0o600, 0o755, 0o640][i % 4];
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(root.join("sub dir"), std::fs::Permissions::from_mode(0o750)).unwrap();
}

/// `diff -r` of two trees; panics with its output.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let out = run(
        Command::new("diff").arg("-r").arg(a).arg(b),
        b"",
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "trees differ:\n{}{}",
        out.stdout,
        out.stderr
    );
}

/// Every file's permission bits under `root`, by relative path (symlinks excluded).
pub fn modes(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
            out.push((rel, meta.permissions().mode() & 0o7777));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// The sha256 of a file, as `sha256sum` prints it.
pub fn sha256(path: &Path) -> String {
    let out = run(
        Command::new("sha256sum").arg(path),
        b"",
        Duration::from_secs(60),
    );
    out.stdout.split(' ').next().unwrap_or_default().to_owned()
}

/// OpenSSH's `sftp-server`, as Debian installs it. When missing: panics under
/// `CI=true`, else a loud SKIP and `None` (as [`super::require_peer`]).
pub fn openssh_sftp_server() -> Option<&'static str> {
    const PATH: &str = "/usr/lib/openssh/sftp-server";
    if Path::new(PATH).exists() {
        return Some(PATH);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{PATH} is not installed, and CI=true forbids skipping interop tests");
    }
    eprintln!("\n*** SKIP: `{PATH}` is not installed; this interop test did not run. ***\n");
    None
}

/// `dir/ours` and `dir/theirs` (our copy and OpenSSH's of `dir/tree`) both hold the
/// tree, with the same modes.
pub fn assert_copies_alike(dir: &Path) {
    let tree = dir.join("tree");
    assert_same_tree(&tree, &dir.join("ours"));
    assert_same_tree(&tree, &dir.join("theirs"));
    assert_eq!(modes(&dir.join("ours")), modes(&dir.join("theirs")));
}

/// Runs `commands` as a batch through `sftp -D` and `oxsftp -D` on `sftp_server` in
/// `dir`, checks that both said and did the same, and returns what sftp said.
pub fn same_as_sftp(
    sftp_server: &str,
    dir: &Path,
    commands: &str,
) -> (Option<i32>, String, String) {
    let theirs = run_direct("sftp", sftp_server, dir, commands, true);
    let ours = run_direct(&oxsftp(), sftp_server, dir, commands, true);
    assert_eq!(ours, theirs);
    theirs
}

/// Runs `program -D sftp_server` in `dir` on `commands`, as a `-b` batch file or on
/// its stdin: exit code, stdout and stderr (OpenSSH's log lines there end in CR LF;
/// the CRs are dropped).
pub fn run_direct(
    program: &str,
    sftp_server: &str,
    dir: &Path,
    commands: &str,
    batch: bool,
) -> (Option<i32>, String, String) {
    let file = dir.join(".batch");
    std::fs::write(&file, commands).unwrap();
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).args(["-D", sftp_server]);
    let input: &[u8] = if batch {
        cmd.arg("-b").arg(&file);
        b""
    } else {
        commands.as_bytes()
    };
    let out = run(&mut cmd, input, TRANSFER_TIMEOUT);
    std::fs::remove_file(&file).unwrap();
    (out.code(), out.stdout, out.stderr.replace('\r', ""))
}
