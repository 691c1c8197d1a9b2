//! `oxsftp -b` against OpenSSH's sshd (its `sftp-server`) and against oxsshd's
//! `internal-sftp`: big files and trees round-trip byte for byte, `-p` keeps modes,
//! `reget`/`reput` resume, the remote commands change what they say, a failing batch
//! command stops the run with status 1 unless prefixed with `-`, and a read-only server
//! refuses writes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::sftp::oxscp;

use std::os::unix::fs::PermissionsExt;

use std::os::unix::fs::MetadataExt;

use support::openssh::{sshd_opts, Fixture};
use support::sftp::{
    assert_same_tree, awkward_tree, batch, modes, oxsftp, random_file, run_direct, same_as_sftp,
    sha256, RemoteDir,
};

const EXTERNAL: &str = "Subsystem sftp /usr/lib/openssh/sftp-server";
const INTERNAL: &str = "Subsystem sftp internal-sftp";

fn openssh_sshd() -> Option<Fixture> {
    Fixture::start(sshd_opts(&[EXTERNAL]))
}

fn oxsshd(subsystem: &str) -> Option<Fixture> {
    Fixture::start_oxsshd(sshd_opts(&[subsystem]))
}

fn round_trip(f: &Fixture, tag: &str) {
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    random_file(&local.path().join("big file"), 22 << 20, 21);
    awkward_tree(&local.path().join("tree"), 250);
    let r = remote.path().display();
    let out = batch(
        &oxsftp(),
        f,
        local.path(),
        &format!(
            "cd {r}\nput \"big file\"\nget \"big file\" back\nput -rp tree\n\
             get -rp tree tree-back\nls -l\npwd\nlpwd\n"
        ),
    );
    assert_eq!(
        out.code(),
        Some(0),
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        f.peer.log()
    );
    let big = local.path().join("big file");
    assert_eq!(sha256(&big), sha256(&remote.path().join("big file")));
    assert_eq!(sha256(&big), sha256(&local.path().join("back")));
    assert_same_tree(&local.path().join("tree"), &remote.path().join("tree"));
    assert_same_tree(&local.path().join("tree"), &local.path().join("tree-back"));
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&remote.path().join("tree"))
    );
    assert_eq!(
        modes(&local.path().join("tree")),
        modes(&local.path().join("tree-back"))
    );
    assert!(
        out.stdout.contains(&format!("sftp> cd {r}")),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains(&format!("Remote working directory: {r}")));
    assert!(out.stdout.contains("big file"), "{}", out.stdout);
}

#[test]
fn oxsftp_batch_round_trips_files_and_trees_with_openssh_sftp_server() {
    let Some(f) = openssh_sshd() else {
        return;
    };
    round_trip(&f, "ox-openssh");
}

#[test]
fn oxsftp_batch_round_trips_files_and_trees_with_internal_sftp() {
    let Some(f) = oxsshd(INTERNAL) else {
        return;
    };
    round_trip(&f, "ox-internal");
}

#[test]
fn oxsftp_remote_commands_change_what_they_say() {
    for f in [openssh_sshd(), oxsshd(INTERNAL)].into_iter().flatten() {
        let local = tempfile::tempdir().unwrap();
        let remote = RemoteDir::new("ox-cmds");
        std::fs::write(local.path().join("a"), b"hello\n").unwrap();
        let r = remote.path().display();
        let out = batch(
            &oxsftp(),
            &f,
            local.path(),
            &format!(
                "cd {r}\nput a\nmkdir d\nrename a d/b\nchmod 600 d/b\nln -s d/b sym\n\
                 ln d/b hard\nrm hard\ndf\ndf -h\nls\nls -la d\nversion\n-rm missing\n\
                 lmkdir ldir\n!touch ldir/x\n"
            ),
        );
        assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
        let b = remote.path().join("d/b");
        assert_eq!(std::fs::read(&b).unwrap(), b"hello\n");
        assert_eq!(std::fs::metadata(&b).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read_link(remote.path().join("sym")).unwrap(),
            std::path::Path::new("d/b")
        );
        assert!(!remote.path().join("hard").exists());
        assert!(local.path().join("ldir/x").exists());
        assert!(out.stdout.contains("%Capacity"), "{}", out.stdout);
        assert!(out.stdout.contains("-rw-------"), "{}", out.stdout);
        assert!(out.stdout.contains("SFTP protocol version 3"));
        assert!(
            out.stderr.contains("No such file or directory"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn oxsftp_resumes_with_reget_and_reput() {
    for f in [openssh_sshd(), oxsshd(INTERNAL)].into_iter().flatten() {
        let local = tempfile::tempdir().unwrap();
        let remote = RemoteDir::new("ox-resume");
        random_file(&local.path().join("src"), 5 << 20, 31);
        random_file(&remote.path().join("rsrc"), 5 << 20, 32);
        let src = std::fs::read(local.path().join("src")).unwrap();
        let rsrc = std::fs::read(remote.path().join("rsrc")).unwrap();
        std::fs::write(remote.path().join("up"), &src[..(2 << 20) + 77]).unwrap();
        std::fs::write(local.path().join("down"), &rsrc[..(1 << 20) + 5]).unwrap();
        let uid = oxssh_os::SystemUser::by_name(support::users::TEST_USER)
            .unwrap()
            .unwrap()
            .uid;
        std::os::unix::fs::chown(remote.path().join("up"), Some(uid), None).unwrap();
        let r = remote.path().display();
        let out = batch(
            &oxsftp(),
            &f,
            local.path(),
            &format!("reput src {r}/up\nreget {r}/rsrc down\nget -a {r}/rsrc down\n"),
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(
            sha256(&local.path().join("src")),
            sha256(&remote.path().join("up"))
        );
        assert_eq!(
            sha256(&remote.path().join("rsrc")),
            sha256(&local.path().join("down"))
        );
    }
}

#[test]
fn a_failing_batch_command_stops_the_run_unless_prefixed_with_a_dash() {
    let Some(f) = oxsshd(INTERNAL) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-errors");
    let r = remote.path().display();
    let out = batch(
        &oxsftp(),
        &f,
        local.path(),
        &format!("-get {r}/missing\nmkdir {r}/one\nget {r}/missing\nmkdir {r}/two\n"),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(remote.path().join("one").is_dir());
    assert!(!remote.path().join("two").exists());
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

#[test]
fn oxsftp_against_a_read_only_server_gets_permission_denied() {
    let Some(f) = oxsshd("Subsystem sftp internal-sftp -R") else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-ro");
    std::fs::write(local.path().join("a"), b"x").unwrap();
    let r = remote.path().display();
    let out = batch(&oxsftp(), &f, local.path(), &format!("put a {r}/a\n"));
    assert_eq!(out.code(), Some(1));
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert!(!remote.path().join("a").exists());
}

#[test]
fn oxsftp_prompt_on_a_terminal_shows_progress_and_runs_commands() {
    let Some(f) = oxsshd(INTERNAL) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-tty");
    random_file(&local.path().join("p.bin"), 3 << 20, 51);
    let cmd = support::client::shell_line(support::sftp::client(&oxsftp(), &f).arg(format!(
        "{}@127.0.0.1:{}",
        support::users::TEST_USER,
        remote.path().display()
    )));
    let mut term =
        support::client::Terminal::start(&format!("cd {} && {cmd}", local.path().display()));
    term.wait_for("sftp> ", std::time::Duration::from_secs(30));
    term.type_text("put p.bin\n");
    term.wait_for("100%", std::time::Duration::from_secs(30));
    term.type_text("pwd\n");
    term.wait_for(
        "Remote working directory:",
        std::time::Duration::from_secs(10),
    );
    term.type_text("bye\n");
    let (status, screen) = term.finish(std::time::Duration::from_secs(20));
    assert!(status.success(), "{screen}");
    assert_eq!(
        sha256(&local.path().join("p.bin")),
        sha256(&remote.path().join("p.bin"))
    );
}

/// `oxsftp -D server -b batch` from `cwd` (no SSH: the server's pipes).
fn direct(server: &str, cwd: &std::path::Path, commands: &str) -> support::Output {
    let file = cwd.join(".batch");
    std::fs::write(&file, commands).unwrap();
    let mut cmd = std::process::Command::new(oxsftp());
    cmd.current_dir(cwd)
        .arg("-D")
        .arg(server)
        .arg("-b")
        .arg(&file);
    support::run(&mut cmd, b"", support::sftp::TRANSFER_TIMEOUT)
}

fn oxssh_sftp_server() -> String {
    std::path::Path::new(support::OXSSHD)
        .with_file_name("oxssh-sftp-server")
        .display()
        .to_string()
}

#[test]
fn oxsftp_talks_to_local_sftp_servers_with_dash_d() {
    let mut servers = vec![oxssh_sftp_server()];
    if let Some(openssh) = support::sftp::openssh_sftp_server() {
        servers.push(openssh.to_owned());
    }
    for server in servers {
        let dir = tempfile::tempdir().unwrap();
        random_file(&dir.path().join("a"), 1 << 20, 61);
        std::fs::write(dir.path().join("small"), b"x").unwrap();
        let d = dir.path().display();
        let out = direct(
            &server,
            dir.path(),
            &format!("cd {d}\nput a b\nget b c\nls -1S\nls -1t\nls -1r\nlumask 022\n"),
        );
        assert_eq!(out.code(), Some(0), "{server}: {}", out.stderr);
        assert_eq!(sha256(&dir.path().join("a")), sha256(&dir.path().join("c")));
        // Largest first for -S; reverse name order for -r.
        let listing = |cmd: &str| -> Vec<String> {
            out.stdout
                .split(&format!("sftp> {cmd}\n"))
                .nth(1)
                .unwrap()
                .lines()
                .take_while(|l| !l.starts_with("sftp> "))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(listing("ls -1S").last().map(String::as_str), Some("small"));
        assert_eq!(listing("ls -1r").first().map(String::as_str), Some("small"));
    }
    // Commands from a pipe (no -b): sftp's "Attached to" on stderr, the echo on stdout.
    if let (Some(openssh), true) = (
        support::sftp::openssh_sftp_server(),
        support::require_peer("sftp"),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let piped = |program: &str| {
            let mut cmd = std::process::Command::new(program);
            cmd.current_dir(dir.path()).args(["-D", openssh]);
            let out = support::run(&mut cmd, b"pwd\nbye\n", support::sftp::TRANSFER_TIMEOUT);
            (out.code(), out.stdout, out.stderr)
        };
        assert_eq!(piped(&oxsftp()), piped("sftp"));
    }
}

#[test]
fn a_read_only_oxssh_sftp_server_refuses_oxsftp_writes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"x").unwrap();
    let d = dir.path().display();
    let out = direct(
        &format!("{} -R", oxssh_sftp_server()),
        dir.path(),
        &format!("get {d}/a {d}/copy\nput {d}/a {d}/b\n"),
    );
    assert_eq!(out.code(), Some(1));
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert!(dir.path().join("copy").exists());
    assert!(!dir.path().join("b").exists());
}

#[test]
fn oxsftp_batch_output_matches_openssh_sftp_line_for_line() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"hello\n").unwrap();
    // Every command leaves the directory as it found it, so both programs see the same.
    let commands = "put a b\nget b c\nls -1\nls\nrm b\n!rm c\n-get nonexist\n-put nonexist\n\
                    -mkdir a\n-rmdir nonexist\n-rename nonexist x\n-chmod 600 nonexist\n\
                    -cd nonexist\n-ls nonexist\nversion\n-chown 0 nonexist\nln -s a l\n\
                    -ln -s a l\n-ln a l\nrm l\nprogress\n@pwd\n";
    same_as_sftp(sftp_server, dir.path(), commands);
}

/// Commands missing an operand or a number fail with sftp's words, extra operands are
/// ignored as sftp ignores them, and `cp`/`copy` copy on the server (copy-data) with
/// the original's mode, refused by name when the server lacks the extension.
#[test]
fn oxsftp_operand_checks_and_cp_match_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"hello\n").unwrap();
    std::fs::set_permissions(dir.path().join("a"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let commands = "-rename a\n-ln a\n-symlink a\n-rm\n-mkdir\n-rmdir\n-lmkdir\n-get\n-put\n\
                    -reget\n-chmod\n-chmod 600\n-chmod 9 a\n-chown\n-chown x a\n-lumask\n\
                    -lumask 9\nlumask 022\n-cp a\ncp a c\ncopy a d\n-cp nope c\n-cp a /nonexistent/c\n\
                    !ls -l c d\nrm c\nrm d\nls a b\n-rm x y\npwd x\nchmod 640 a b\n";
    let theirs = same_as_sftp(sftp_server, dir.path(), commands);
    assert!(theirs.1.contains("-rw-r----- 1"), "{}", theirs.1);
    // Lines sftp cannot parse are reported before their echo; commands in any case.
    let unparsed = "-foo bar\n-ls -Z\n-get\nLS a\n-rm -x a\n-rename -l a a2\nrename a2 a\n";
    let both = |program: &str| {
        let batch = dir.path().join(".both");
        std::fs::write(&batch, unparsed).unwrap();
        let mut cmd = std::process::Command::new("sh");
        cmd.current_dir(dir.path()).arg("-c").arg(format!(
            "{} -D {sftp_server} -b {} 2>&1",
            support::client::shell_quote(program),
            batch.display()
        ));
        let out = support::run(&mut cmd, b"", support::sftp::TRANSFER_TIMEOUT);
        (out.code(), out.stdout.replace('\r', ""))
    };
    let theirs = both("sftp");
    assert_eq!(both(&oxsftp()), theirs);
    assert!(
        theirs.1.starts_with("Invalid command.\nsftp> -foo bar\n"),
        "{}",
        theirs.1
    );
    // Without copy-data (sftp-server -P copy-data), cp says so.
    let without = format!("{sftp_server} -P copy-data");
    let theirs = same_as_sftp(&without, dir.path(), commands);
    assert!(theirs
        .2
        .contains("Server does not support copy-data extension"));
}

/// Failing file operations and resumes say what sftp says: a glob matching nothing is
/// tried as written, a complete download's resume leaves the file ("was not
/// modified"), a complete upload's resume fails, local errors in strerror's words,
/// df on a missing path fails silently, directories are refused as not regular files
/// and an upload's failed open is a "dest open".
#[test]
fn oxsftp_file_errors_and_resumes_match_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"hello\n").unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/f"), b"x\n").unwrap();
    // Leaves the directory as it found it, so both programs see the same.
    let commands = "-mkdir d\n-rmdir d\n-rm nope*\n-get nope\nget a a.copy\n-reget a a.copy\n\
                    put a d/a2\n-reput a d/a2\n-get -a a a.copy\n-chmod 644 nope*\n\
                    -ln -s nope d/l\n-ln -s nope d/l\nrm d/l\n-lcd nope\n-df nope\n\
                    -reget a ./sub/x\nrm d/a2\n!rm a.copy\n-get d\n-put d\n-put nope*\n\
                    -put a nodir/x\n";
    let theirs = same_as_sftp(sftp_server, dir.path(), commands);
    assert!(
        theirs.2.contains("File \"a.copy\" was not modified"),
        "{}",
        theirs.2
    );
    assert!(theirs.2.contains("nope*: No such file"), "{}", theirs.2);
}

/// Listings name and lay out entries as sftp does: a directory's entries under the
/// path it was given as, glob matches by their path (directories marked with `/`),
/// columns shared out across 80, long lines formatted by the client when the server
/// tells owners' names.
#[test]
fn oxsftp_listings_match_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(sub.join("dd")).unwrap();
    for name in ["a1", "bb2", "ccc3", "dddd4", "eeeee5", "ffffff7"] {
        std::fs::write(sub.join(name), name).unwrap();
    }
    std::fs::write(dir.path().join("top-level-name"), b"x").unwrap();
    let d = dir.path().display();
    let commands = format!(
        "ls\nls sub\nls sub/\nls sub/*\nls -1 sub\nls sub/a*\nls -l sub/a*\nls -lh sub\n\
         ls {d}/sub\nls -1 {d}/s*\nls -la sub/dd\nls -l\nls -1 sub/dd/..\nls t*\n\
         cd sub\nls .\nls ./\nls -1 ./dd/.\nls ..\nls -l .\n"
    );
    let theirs = same_as_sftp(sftp_server, dir.path(), &commands);
    assert!(theirs.1.contains("sub/a1       sub/bb2 "), "{}", theirs.1);
}

/// `ls -lh` writes sizes as sftp does (OpenBSD's fmt_scaled: `512B`, `1.5K`, `30.0M`,
/// `512M`, `2.0G`) and `df -h` its columns (`252GB`).
#[test]
fn oxsftp_human_sizes_match_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sizes: [u64; 7] = [0, 512, 1000, 1536, 2007, 30 << 20, 2 << 30];
    let mut commands = String::new();
    for size in sizes {
        // Sparse: the sizes cost no disk.
        let file = std::fs::File::create(dir.path().join(format!("f{size}"))).unwrap();
        file.set_len(size).unwrap();
        commands.push_str(&format!("ls -lh f{size}\n"));
    }
    commands.push_str("df -h\n");
    let theirs = same_as_sftp(sftp_server, dir.path(), &commands);
    assert!(theirs.1.contains(" 1.5K "), "{}", theirs.1);
}

/// `get -r` and `put -r` name each directory as sftp does going down the tree
/// ("Retrieving DIR" by its canonical path, "Entering DIR" as typed, in the
/// directory's own order, also with -b), and
/// commands from a pipe are echoed as sftp echoes them, with nothing after the last.
#[test]
fn recursive_transfers_name_each_directory_and_piped_commands_echo_as_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for sub in ["a/b", "c", "zz/y", "d e"] {
        std::fs::create_dir_all(tree.join(sub)).unwrap();
    }
    for (i, file) in ["f", "a/g", "zz/y/h", "d e/i"].into_iter().enumerate() {
        random_file(&tree.join(file), 1000 * i, 40 + i as u64);
    }
    let commands = "get -r tree copy\nput -r tree/ back\n\n  lpwd  \n# note\n  @pwd\n\
                    get -r tree/zz/ copy2\nget -r tree/./../tree/a copy3\n\
                    !rm -r copy back copy2 copy3\n";
    let run =
        |program: &str, batch: bool| run_direct(program, sftp_server, dir.path(), commands, batch);
    for batch in [true, false] {
        let theirs = run("sftp", batch);
        let ours = run(&oxsftp(), batch);
        assert_eq!(ours, theirs, "batch: {batch}");
        assert_eq!(ours.0, Some(0), "{}", ours.2);
        assert_eq!(ours.1.matches("Retrieving ").count(), 11, "{}", ours.1);
        assert_eq!(ours.1.matches("Entering ").count(), 7, "{}", ours.1);
    }
}

#[test]
fn progress_on_with_stdout_not_a_terminal_draws_no_meter_as_openssh_sftp() {
    let Some(sftp_server) = direct_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    for (i, size) in [300_000usize, 1000, 700_000, 0].into_iter().enumerate() {
        random_file(&dir.path().join(format!("tree/f{i}")), size, 90 + i as u64);
    }
    random_file(&dir.path().join("big.bin"), 2 << 20, 95);
    // The meter switched on: OpenSSH's sftp still draws nothing when stdout is a pipe.
    let files = "progress\nget tree/f0 copy\nput big.bin big2\nget big2 big3\nget tree/f* .\n\
                 !rm -r copy big2 big3 f0 f1 f2 f3\n";
    let theirs = same_as_sftp(sftp_server, dir.path(), files);
    assert_eq!(theirs.0, Some(0), "{}", theirs.2);
    assert!(theirs.1.contains("Progress meter enabled"), "{}", theirs.1);
    // Trees (several files in flight at once) too.
    let trees = "progress\nget -r tree copy\nput -r tree back\n";
    let (code, stdout, stderr) = run_direct(&oxsftp(), sftp_server, dir.path(), trees, true);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains('%') && !stdout.contains('\r'), "{stdout}");
    assert_same_tree(&dir.path().join("tree"), &dir.path().join("copy"));
    assert_same_tree(&dir.path().join("tree"), &dir.path().join("back"));
}

/// OpenSSH's sftp-server, for comparisons with `sftp -D` (which must be there too).
/// `-S program`: oxsftp runs the program with the arguments sftp hands its ssh (the
/// same list, recorded by a wrapper that then runs OpenSSH's ssh) and speaks SFTP over
/// it; a program that ends at once, or a `-D` server that does, gets sftp's (and
/// scp's) messages and status; one that fails after the session does not change it.
#[test]
fn oxsftp_connects_through_an_ssh_program_as_sftp_does() {
    if !support::require_peer("ssh") {
        return;
    }
    let Some(f) = openssh_sshd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        let text = format!("#!/bin/sh\nprintf '[%s]\\n' \"$@\" > \"$0.args\"\n{body}\n");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let wrapper = script("wrap", "exec ssh \"$@\"");
    let quitter = script("quit", "exit 1");
    let remote = RemoteDir::new("dash-s");
    std::fs::write(remote.path().join("f"), b"through ssh\n").unwrap();
    let commands = format!("get {}/f got\n", remote.path().display());
    std::fs::write(dir.path().join("batch"), commands).unwrap();
    let run_one = |program: &str, through: &std::path::Path| {
        let mut cmd = support::sftp::client(program, &f);
        cmd.current_dir(dir.path()).arg("-S").arg(through).args([
            "-C",
            "-b",
            "batch",
            &format!("{}@127.0.0.1", support::users::TEST_USER),
        ]);
        let out = support::run(&mut cmd, b"", support::sftp::TRANSFER_TIMEOUT);
        let args = std::fs::read_to_string(through.with_extension("args")).unwrap();
        let got = std::fs::read(dir.path().join("got")).ok();
        let _ = std::fs::remove_file(dir.path().join("got"));
        (out.code(), out.stdout, args, got)
    };
    let theirs = run_one("sftp", &wrapper);
    assert_eq!(run_one(&oxsftp(), &wrapper), theirs);
    assert_eq!(theirs.0, Some(0));
    assert_eq!(theirs.3.as_deref(), Some(&b"through ssh\n"[..]));
    // sftp waits for its program but does not count its status (scp does).
    let failing = script("fail3", "ssh \"$@\"\nexit 3");
    let theirs = run_one("sftp", &failing);
    assert_eq!(run_one(&oxsftp(), &failing), theirs);
    assert_eq!(theirs.0, Some(0));
    let ended = |program: &str, args: &[&str]| {
        let out = support::run(
            std::process::Command::new(program).args(args),
            b"",
            support::sftp::TRANSFER_TIMEOUT,
        );
        (out.code(), out.stderr)
    };
    let quit = quitter.display().to_string();
    // What sftp and scp say, and their status, depend on whether the program's end meets
    // their first write or their first read, and sftp's two lines come in either order
    // (sftp now and then says nothing, or dies of SIGPIPE: status `None`; scp's "lost
    // connection" comes from its SIGPIPE handler, status 1). Each entry: a status and the
    // lines said with it, any of them in any order (200 runs of each by hand); ours say
    // the first line of the first entry, as they do most of the time.
    let sftp_lines: &[&str] = &["Connection closed\r\n", "\rConnection closed.  \n"];
    let sftp_said: &[(Option<i32>, &[&str])] = &[(Some(255), sftp_lines), (None, sftp_lines)];
    let scp_said: &[(Option<i32>, &[&str])] = &[
        (Some(255), &["scp: Connection closed\r\n"]),
        (Some(1), &["lost connection\n"]),
    ];
    let scp_args = vec!["-D", "/bin/false", "/etc/hostname", "h:x"];
    for (ours, theirs, said, args) in [
        (oxsftp(), "sftp", sftp_said, vec!["-S", &quit, "h"]),
        (oxsftp(), "sftp", sftp_said, vec!["-D", "/bin/false"]),
        (oxscp(), "scp", scp_said, scp_args),
    ] {
        let (code, text) = ended(theirs, &args);
        assert!(
            text.is_empty()
                || said
                    .iter()
                    .any(|&(c, lines)| c == code && made_of(&text, lines)),
            "{theirs} {args:?} said {text:?} with status {code:?}"
        );
        let expected = (said[0].0, said[0].1[0].to_owned());
        assert_eq!(ended(&ours, &args), expected, "{args:?}");
    }
}

/// Whether `text` is some of `lines`, each at most once, in any order.
fn made_of(text: &str, lines: &[&str]) -> bool {
    text.is_empty()
        || lines.iter().enumerate().any(|(i, line)| {
            text.strip_prefix(line).is_some_and(|rest| {
                let others: Vec<&str> = [&lines[..i], &lines[i + 1..]].concat();
                made_of(rest, &others)
            })
        })
}

fn direct_server() -> Option<&'static str> {
    if !support::require_peer("sftp") {
        return None;
    }
    support::sftp::openssh_sftp_server()
}
