//! `oxscp -3` between two servers (OpenSSH's sshd with its sftp-server, and oxsshd's
//! internal-sftp), side by side with OpenSSH's `scp -3`: a 50 MB file and a tree of
//! awkward names with `-r -p`, compared by sha256, `diff -r`, modes and times; the data
//! streams through memory (nothing under the working directory, no temporary
//! directory needed, a peak RSS well under the file's size); failures print scp's
//! messages with scp's exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use support::openssh::{sshd_opts, Fixture};
use support::sftp::{
    assert_same_tree, awkward_tree, client_options, modes, random_file, sha256, RemoteDir,
    TRANSFER_TIMEOUT,
};
use support::users::TEST_USER;
use support::{run, Output};

/// `program` (oxscp or scp) with both servers' keys, run from `cwd` with `TMPDIR`
/// naming a directory that does not exist; under `/usr/bin/time` writing the peak
/// RSS to `timing` when given.
fn command(program: &str, a: &Fixture, b: &Fixture, cwd: &Path, timing: Option<&Path>) -> Command {
    let mut cmd = match timing {
        Some(file) => {
            let mut cmd = Command::new("/usr/bin/time");
            cmd.args(["-f", "%M %e %U %S", "-o"]).arg(file).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    client_options(&mut cmd, a);
    cmd.env("TMPDIR", cwd.join("no-such-tmp"))
        .current_dir(cwd)
        .arg("-i")
        .arg(&b.key.path);
    cmd
}

fn copy(program: &str, a: &Fixture, b: &Fixture, cwd: &Path, args: &[String]) -> Output {
    run(
        command(program, a, b, cwd, None).args(args),
        b"",
        TRANSFER_TIMEOUT,
    )
}

fn url(f: &Fixture, path: &Path) -> String {
    format!(
        "scp://{TEST_USER}@127.0.0.1:{}/{}",
        f.peer.port(),
        path.display()
    )
}

/// Peak resident memory (KiB) of the last `/usr/bin/time -f "%M %e %U %S" -o file`
/// run, and the rest of its line (elapsed, user and system seconds).
fn peak_kib(file: &Path) -> (u64, String) {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text.lines().last().unwrap().trim().to_owned();
    let (peak, rest) = line.split_once(' ').unwrap();
    (peak.parse().unwrap(), rest.to_owned())
}

#[test]
fn oxscp_3_streams_between_two_servers_as_openssh_scp() {
    if !support::require_peer("scp") || !Path::new("/usr/bin/time").exists() {
        return;
    }
    let Some(a) = Fixture::start(sshd_opts(&["Subsystem sftp /usr/lib/openssh/sftp-server"]))
    else {
        return;
    };
    let Some(b) = Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"])) else {
        return;
    };
    let src = RemoteDir::new("scp3-src");
    let dst = RemoteDir::new("scp3-dst");
    let big = src.path().join("big.bin");
    random_file(&big, 50 << 20, 71);
    let old = std::fs::FileTimes::new()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_times(old)
        .unwrap();
    awkward_tree(&src.path().join("tree"), 40);
    support::sftp::chown_to_test_user(src.path());
    for (program, tag) in [(oxscp(), "ours"), ("scp".to_owned(), "theirs")] {
        let into = dst.path().join(tag);
        std::fs::create_dir(&into).unwrap();
        support::sftp::chown_to_test_user(&into);
        let work = tempfile::tempdir().unwrap();
        let timing = tempfile::NamedTempFile::new().unwrap();
        let out = run(
            command(&program, &a, &b, work.path(), Some(timing.path())).args([
                "-3".to_owned(),
                "-rp".to_owned(),
                url(&a, &big),
                url(&a, &src.path().join("tree")),
                url(&b, &into),
            ]),
            b"",
            TRANSFER_TIMEOUT,
        );
        assert_eq!(out.code(), Some(0), "{program}: {}", out.stderr);
        assert_eq!(sha256(&big), sha256(&into.join("big.bin")), "{program}");
        assert_same_tree(&src.path().join("tree"), &into.join("tree"));
        assert_eq!(modes(&src.path().join("tree")), modes(&into.join("tree")));
        let mtime = |p: &Path| std::fs::metadata(p).unwrap().mtime();
        assert_eq!(mtime(&big), mtime(&into.join("big.bin")), "{program} -p");
        // Nothing staged locally.
        let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
        assert!(left.is_empty(), "{program} wrote {left:?}");
        let (peak, times) = peak_kib(timing.path());
        eprintln!("{program} -3: peak RSS {peak} KiB, elapsed/user/sys s {times}");
        if tag == "ours" {
            assert!(
                peak < 32 * 1024,
                "oxscp -3 peaked at {peak} KiB for a 50 MiB file"
            );
        }
    }
    assert_eq!(
        modes(&dst.path().join("ours")),
        modes(&dst.path().join("theirs"))
    );
    // Failures: a missing source, a directory without -r; scp's words and status.
    let work = tempfile::tempdir().unwrap();
    let cases = [
        vec![
            "-3".to_owned(),
            url(&a, &src.path().join("nope")),
            url(&b, &dst.path().join("x")),
        ],
        vec![
            "-3".to_owned(),
            url(&a, &src.path().join("tree")),
            url(&b, &dst.path().join("x")),
        ],
        vec![
            "-3".to_owned(),
            url(&a, &big),
            url(&a, &src.path().join("tree")),
            url(&b, &dst.path().join("ours/big.bin")),
        ],
    ];
    for case in cases {
        let theirs = copy("scp", &a, &b, work.path(), &case);
        let ours = copy(&oxscp(), &a, &b, work.path(), &case);
        eprintln!(
            "{case:?}: scp said {:?} ({:?})",
            theirs.stderr,
            theirs.code()
        );
        assert_eq!(
            (ours.code(), ours.stderr.replace('\r', "")),
            (theirs.code(), theirs.stderr.replace('\r', "")),
            "{case:?}"
        );
    }
}

/// How many logins `f`'s server accepted.
fn logins(f: &Fixture) -> usize {
    f.peer.log().matches("Accepted publickey").count()
}

#[test]
fn oxscp_3_logs_in_once_per_remote_whatever_the_order_of_the_sources() {
    let Some(a) = Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"])) else {
        return;
    };
    let Some(b) = Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"])) else {
        return;
    };
    let src = RemoteDir::new("scp3-once-src");
    let dst = RemoteDir::new("scp3-once-dst");
    let into = dst.path().join("into");
    std::fs::create_dir(&into).unwrap();
    for (i, name) in ["one.bin", "two.bin", "three.bin", "four.bin"]
        .iter()
        .enumerate()
    {
        random_file(&src.path().join(name), (3 << 20) + i * 1000, 120 + i as u64);
    }
    support::sftp::chown_to_test_user(src.path());
    support::sftp::chown_to_test_user(dst.path());
    let work = tempfile::tempdir().unwrap();
    let before = (logins(&a), logins(&b));
    // Sources on A, B, A, B (B is also the destination), in that order.
    let out = copy(
        &oxscp(),
        &a,
        &b,
        work.path(),
        &[
            "-3".to_owned(),
            url(&a, &src.path().join("one.bin")),
            url(&b, &src.path().join("two.bin")),
            url(&a, &src.path().join("three.bin")),
            url(&b, &src.path().join("four.bin")),
            url(&b, &into),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    for name in ["one.bin", "two.bin", "three.bin", "four.bin"] {
        assert_eq!(
            sha256(&src.path().join(name)),
            sha256(&into.join(name)),
            "{name}"
        );
    }
    // One login on A for both of its sources; one on B, the destination's
    // connection also carrying B's sources.
    assert_eq!(
        (logins(&a) - before.0, logins(&b) - before.1),
        (1, 1),
        "A's log:\n{}\nB's log:\n{}",
        a.peer.log(),
        b.peer.log()
    );
}
