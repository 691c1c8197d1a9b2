//! oxsshd's `internal-sftp` against real clients: OpenSSH 9.2's `sftp` and `scp` (SFTP
//! mode, its default) and Paramiko. Big files and trees of awkward names round-trip
//! byte for byte, the server runs as the logged-in user (files are theirs, the kernel
//! checks their rights), `-p` keeps modes, `reget`/`reput` resume, the read-only flag
//! refuses writes, `ForceCommand internal-sftp` serves SFTP whatever was asked, and an
//! external `sftp-server` subsystem keeps working.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use support::openssh::{sshd_opts, Fixture};
use support::sftp::{
    assert_same_tree, awkward_tree, batch, client, modes, random_file, sha256, RemoteDir,
    TRANSFER_TIMEOUT,
};
use support::users::TEST_USER;
use support::{require_peer, run};

const INTERNAL: &str = "Subsystem sftp internal-sftp";

fn oxsshd(extra: &[&str]) -> Option<Fixture> {
    if !require_peer("sftp") {
        return None;
    }
    Fixture::start_oxsshd(sshd_opts(extra))
}

fn test_uid() -> u32 {
    oxssh_os::SystemUser::by_name(TEST_USER)
        .unwrap()
        .unwrap()
        .uid
}

#[test]
fn openssh_sftp_puts_and_gets_a_big_file_through_internal_sftp_as_the_user() {
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("big");
    random_file(&local.path().join("big"), 24 << 20, 7);
    let r = remote.path().display();
    let out = batch(
        "sftp",
        &f,
        local.path(),
        &format!("put big {r}/big\nget {r}/big back\n"),
    );
    assert!(out.status.success(), "{}\n{}", out.stderr, f.peer.log());
    assert_eq!(
        sha256(&local.path().join("big")),
        sha256(&remote.path().join("big"))
    );
    assert_eq!(
        sha256(&local.path().join("big")),
        sha256(&local.path().join("back"))
    );
    // Written by the user's own process.
    let meta = std::fs::metadata(remote.path().join("big")).unwrap();
    assert_eq!(meta.uid(), test_uid());
}

#[test]
fn openssh_sftp_round_trips_a_tree_of_awkward_names_with_modes() {
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("tree");
    awkward_tree(&local.path().join("tree"), 300);
    let r = remote.path().display();
    let out = batch(
        "sftp",
        &f,
        local.path(),
        &format!("put -rp tree {r}/tree\nget -rp {r}/tree back\n"),
    );
    assert!(out.status.success(), "{}\n{}", out.stderr, f.peer.log());
    assert_same_tree(&local.path().join("tree"), &remote.path().join("tree"));
    assert_same_tree(&local.path().join("tree"), &local.path().join("back"));
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&local.path().join("back"))
    );
}

#[test]
fn openssh_sftp_commands_work_against_internal_sftp() {
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("cmds");
    std::fs::write(local.path().join("a"), b"hello\n").unwrap();
    let r = remote.path().display();
    let out = batch(
        "sftp",
        &f,
        local.path(),
        &format!(
            "cd {r}\nput a\nmkdir d\nrename a d/b\nchmod 600 d/b\nln -s d/b sym\n\
             ln d/b hard\nls -l\ndf -h .\npwd\n-rm missing\nrm hard\nrmdir nonempty-missing\n"
        ),
    );
    // The last command fails, so sftp -b stops with status 1 there.
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let b = remote.path().join("d/b");
    assert_eq!(std::fs::read(&b).unwrap(), b"hello\n");
    assert_eq!(std::fs::metadata(&b).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_link(remote.path().join("sym")).unwrap(),
        std::path::Path::new("d/b")
    );
    assert!(!remote.path().join("hard").exists());
    assert!(out
        .stdout
        .contains(&format!("Remote working directory: {r}")));
    assert!(out.stdout.contains("drwx"), "{}", out.stdout);
    assert!(out.stdout.contains("Avail"), "{}", out.stdout);
    assert!(out.stderr.contains("not found") || out.stderr.contains("No such file"));
}

#[test]
fn openssh_sftp_resumes_with_reget_and_reput() {
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("resume");
    random_file(&local.path().join("src"), 3 << 20, 11);
    random_file(&remote.path().join("rsrc"), 3 << 20, 12);
    let src = std::fs::read(local.path().join("src")).unwrap();
    let rsrc = std::fs::read(remote.path().join("rsrc")).unwrap();
    // Partial copies: the first megabyte of each.
    std::fs::write(remote.path().join("up"), &src[..1 << 20]).unwrap();
    std::fs::write(local.path().join("down"), &rsrc[..1 << 20]).unwrap();
    let uid = test_uid();
    std::os::unix::fs::chown(remote.path().join("up"), Some(uid), None).unwrap();
    let r = remote.path().display();
    let out = batch(
        "sftp",
        &f,
        local.path(),
        &format!("reput src {r}/up\nreget {r}/rsrc down\n"),
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        sha256(&local.path().join("src")),
        sha256(&remote.path().join("up"))
    );
    assert_eq!(
        sha256(&remote.path().join("rsrc")),
        sha256(&local.path().join("down"))
    );
}

/// Runs OpenSSH's `sftp -b` with `commands` (`{r}` stands for the remote directory)
/// against internal-sftp configured by `subsystem`, after writing `remote_files` and
/// `local_files`; the run must stop with status 1 and "Permission denied". The two
/// directories are returned for the caller's checks.
fn refused_run(
    subsystem: &str,
    tag: &str,
    remote_files: &[(&str, &[u8])],
    local_files: &[(&str, &[u8])],
    commands: &str,
) -> Option<(tempfile::TempDir, RemoteDir)> {
    let f = oxsshd(&[subsystem])?;
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    for (name, data) in remote_files {
        std::fs::write(remote.path().join(name), data).unwrap();
    }
    for (name, data) in local_files {
        std::fs::write(local.path().join(name), data).unwrap();
    }
    let r = remote.path().display().to_string();
    let out = batch("sftp", &f, local.path(), &commands.replace("{r}", &r));
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    Some((local, remote))
}

#[test]
fn read_only_internal_sftp_refuses_writes_with_permission_denied() {
    let Some((local, remote)) = refused_run(
        "Subsystem sftp internal-sftp -R",
        "ro",
        &[("present", b"here")],
        &[("a", b"x")],
        "get {r}/present\n-mkdir {r}/d\nput a {r}/a\n",
    ) else {
        return;
    };
    assert_eq!(
        std::fs::read(local.path().join("present")).unwrap(),
        b"here"
    );
    assert!(!remote.path().join("a").exists());
    assert!(!remote.path().join("d").exists());
}

#[test]
fn force_command_internal_sftp_serves_sftp_and_no_shell() {
    let Some(f) = oxsshd(&["ForceCommand internal-sftp -d /tmp"]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let out = batch("sftp", &f, local.path(), "pwd\n");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("Remote working directory: /tmp"),
        "{}",
        out.stdout
    );
    // A command gets the SFTP server, not a shell: it never prints.
    let ssh = f.openssh().run("echo shell-ran", b"");
    assert!(!ssh.stdout.contains("shell-ran"));
}

#[test]
fn openssh_scp_copies_files_and_trees_through_internal_sftp() {
    if !require_peer("scp") {
        return;
    }
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("scp");
    random_file(&local.path().join("file"), 21 << 20, 3);
    awkward_tree(&local.path().join("tree"), 200);
    let target = format!("{TEST_USER}@127.0.0.1:{}/", remote.path().display());
    let mut up = client("scp", &f);
    up.current_dir(local.path())
        .args(["-r", "-p", "file", "tree"])
        .arg(&target);
    let out = run(&mut up, b"", TRANSFER_TIMEOUT);
    assert!(out.status.success(), "{}\n{}", out.stderr, f.peer.log());
    let mut down = client("scp", &f);
    down.current_dir(local.path())
        .args(["-r", "-p"])
        .arg(format!("{target}tree"))
        .arg(format!("{target}file"))
        .arg("back");
    std::fs::create_dir(local.path().join("back")).unwrap();
    let out = run(&mut down, b"", TRANSFER_TIMEOUT);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        sha256(&local.path().join("file")),
        sha256(&local.path().join("back/file"))
    );
    assert_same_tree(&local.path().join("tree"), &local.path().join("back/tree"));
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&local.path().join("back/tree"))
    );
}

#[test]
fn paramiko_sftp_works_against_internal_sftp() {
    if !require_peer("python3") {
        return;
    }
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let remote = RemoteDir::new("paramiko");
    let script = r#"
import hashlib, os, sys, stat, paramiko
port, key, base = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect("127.0.0.1", port=port, username=sys.argv[4], key_filename=key,
          look_for_keys=False, allow_agent=False)
s = c.open_sftp()
data = os.urandom(5 * 1024 * 1024 + 17)
with s.open(base + "/p.bin", "wb") as fh:
    fh.set_pipelined(True)
    fh.write(data)
with s.open(base + "/p.bin", "rb") as fh:
    fh.prefetch()
    back = fh.read()
assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
s.mkdir(base + "/dir é")
s.rename(base + "/p.bin", base + "/dir é/q.bin")
s.chmod(base + "/dir é/q.bin", 0o640)
st = s.stat(base + "/dir é/q.bin")
assert st.st_size == len(data), st
assert stat.S_IMODE(st.st_mode) == 0o640
s.symlink("q.bin", base + "/dir é/l")
assert s.readlink(base + "/dir é/l") == "q.bin"
names = sorted(s.listdir(base + "/dir é"))
assert names == ["l", "q.bin"], names
try:
    s.stat(base + "/missing")
    raise SystemExit("stat of a missing file succeeded")
except FileNotFoundError:
    pass
assert s.normalize(".").startswith("/")
s.remove(base + "/dir é/l")
print("ok")
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .arg(f.peer.port().to_string())
        .arg(&f.key.path)
        .arg(remote.path())
        .arg(TEST_USER);
    let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
    assert_eq!(out.stdout.trim(), "ok", "{}\n{}", out.stderr, f.peer.log());
    assert!(remote.path().join("dir é/q.bin").exists());
}

#[test]
fn an_external_sftp_server_subsystem_keeps_working() {
    let Some(server) = support::sftp::openssh_sftp_server() else {
        return;
    };
    let Some(f) = oxsshd(&[&format!("Subsystem sftp {server}")]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("external");
    random_file(&local.path().join("x"), 1 << 20, 5);
    let r = remote.path().display();
    let out = batch("sftp", &f, local.path(), &format!("put x {r}/x\n"));
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        sha256(&local.path().join("x")),
        sha256(&remote.path().join("x"))
    );
}

#[test]
fn internal_sftp_deny_list_refuses_the_named_requests() {
    let Some((local, remote)) = refused_run(
        "Subsystem sftp internal-sftp -P remove,rmdir",
        "deny",
        &[("keep", b"x")],
        &[],
        "get {r}/keep\nrm {r}/keep\n",
    ) else {
        return;
    };
    assert!(remote.path().join("keep").exists());
    assert!(local.path().join("keep").exists());
}

#[test]
fn asyncssh_sftp_works_against_internal_sftp() {
    if !require_peer("python3") {
        return;
    }
    let Some(f) = oxsshd(&[INTERNAL]) else {
        return;
    };
    let remote = RemoteDir::new("asyncssh");
    let local = tempfile::tempdir().unwrap();
    random_file(&local.path().join("src"), 4 << 20, 71);
    let script = r#"
import asyncio, hashlib, sys, asyncssh
port, key, base, user, src, dst = sys.argv[1:7]
async def main():
    async with asyncssh.connect("127.0.0.1", port=int(port), username=user,
                                client_keys=[key], known_hosts=None,
                                agent_path=None) as conn:
        async with conn.start_sftp_client() as sftp:
            await sftp.put(src, base + "/up")
            await sftp.get(base + "/up", dst)
            await sftp.makedirs(base + "/a/b")
            assert await sftp.isdir(base + "/a/b")
            names = sorted(await sftp.listdir(base))
            assert names == [".", "..", "a", "up"] or names == ["a", "up"], names
            vfs = await sftp.statvfs(base)
            assert vfs.bsize > 0
            await sftp.posix_rename(base + "/up", base + "/up2")
            assert await sftp.exists(base + "/up2")
    print("ok")
asyncio.run(main())
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .arg(f.peer.port().to_string())
        .arg(&f.key.path)
        .arg(remote.path())
        .arg(TEST_USER)
        .arg(local.path().join("src"))
        .arg(local.path().join("dst"));
    let out = run(&mut cmd, b"", TRANSFER_TIMEOUT);
    assert_eq!(out.stdout.trim(), "ok", "{}\n{}", out.stderr, f.peer.log());
    assert_eq!(
        sha256(&local.path().join("src")),
        sha256(&local.path().join("dst"))
    );
}
