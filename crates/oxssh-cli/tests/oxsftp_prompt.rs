//! `oxsftp`'s interactive prompt on a real terminal (under `script`): line editing
//! (cursor keys, Delete, history; lines wider than the terminal, checked by playing the
//! output onto an emulated screen), Tab completion of command names, remote and local
//! paths (`~/` for local ones), Ctrl-C, which drops the line at the prompt and stops a
//! transfer or a long listing without ending oxsftp, as OpenSSH's sftp does, and the
//! live progress lines of `get -r`/`put -r` (and `oxscp -r`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::client::{shell_line, Terminal};
use support::openssh::{sshd_opts, Fixture};
use support::sftp::{oxsftp, random_file, sha256, RemoteDir};

const WAIT: Duration = Duration::from_secs(30);

fn oxsshd() -> Option<Fixture> {
    Fixture::start_oxsshd(sshd_opts(&["Subsystem sftp internal-sftp"]))
}

/// oxsftp on a terminal, started in `local`, its remote directory `remote`.
fn prompt(f: &Fixture, local: &Path, remote: &Path, flags: &[&str]) -> Terminal {
    prompt_sized(f, local, remote, flags, 80)
}

/// [`prompt`] on a terminal `cols` columns wide.
fn prompt_sized(f: &Fixture, local: &Path, remote: &Path, flags: &[&str], cols: u16) -> Terminal {
    let mut cmd = support::sftp::client(&oxsftp(), f);
    cmd.args(flags).arg(format!(
        "{}@127.0.0.1:{}",
        support::users::TEST_USER,
        remote.display()
    ));
    // `exec`: the terminal's Ctrl-C reaches oxsftp, not a shell waiting for it.
    // HOME as `client` sets it (the shell line carries no environment).
    let term = Terminal::start(&format!(
        "cd {} && stty cols {cols} rows 50 && export HOME={} && exec {}",
        local.display(),
        support::client::shell_quote(&f.client.home().display().to_string()),
        shell_line(&cmd)
    ));
    term.wait_for("sftp> ", WAIT);
    term
}

/// How many times `text` is on the screen.
fn count(term: &Terminal, text: &str) -> usize {
    term.screen().matches(text).count()
}

fn wait_count(term: &Terminal, text: &str, n: usize) {
    support::client::wait_until(&format!("{n} x {text:?}"), WAIT, || count(term, text) >= n);
}

/// Types `keys` (ending with Enter) and waits for the command to end: the screen has
/// grown and ends with a fresh prompt. Where the screen was before, and after.
fn command(term: &mut Terminal, keys: &str) -> (usize, usize) {
    let before = term.screen().len();
    term.type_text(keys);
    support::client::wait_until(&format!("the end of {keys:?}"), WAIT, || {
        let screen = term.screen();
        screen.len() > before + keys.len() && screen.ends_with("sftp> ")
    });
    (before, term.screen().len())
}

#[test]
fn tab_completes_remote_and_local_names_and_commands() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-complete");
    random_file(&remote.path().join("unique name.bin"), 100_000, 61);
    random_file(&remote.path().join("other.bin"), 10, 62);
    random_file(&local.path().join("local-only.txt"), 5_000, 63);
    let mut term = prompt(&f, local.path(), remote.path(), &[]);
    // A unique remote name (with a space, escaped) is completed; the file arrives.
    term.type_text("get uni\t\n");
    wait_count(&term, "sftp> ", 2);
    support::client::wait_until("the download", WAIT, || {
        local.path().join("unique name.bin").exists()
    });
    // A local name for put.
    term.type_text("put loc\t\n");
    wait_count(&term, "sftp> ", 3);
    // A command name, then several matches are listed.
    term.type_text("pw\t\n");
    term.wait_for("Remote working directory:", WAIT);
    term.type_text("ls \t");
    term.wait_for("other.bin", WAIT);
    term.type_text("\x15bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    assert!(screen.contains("get unique\\ name.bin"), "{screen}");
    assert_eq!(
        sha256(&remote.path().join("unique name.bin")),
        sha256(&local.path().join("unique name.bin"))
    );
    assert_eq!(
        sha256(&local.path().join("local-only.txt")),
        sha256(&remote.path().join("local-only.txt"))
    );
}

#[test]
fn cursor_keys_delete_and_history_edit_the_line() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-edit");
    let mut term = prompt(&f, local.path(), remote.path(), &[]);
    // "lpwX", Left, Delete, "d": lpwd.
    term.type_text("lpwX\x1b[D\x1b[3~d\n");
    term.wait_for("Local working directory:", WAIT);
    // Ctrl-A, Ctrl-K, then Backspace over a typo and Ctrl-E.
    term.type_text("xyz\x01\x0bpwdd\x7f\x05\n");
    term.wait_for("Remote working directory:", WAIT);
    // Up twice: lpwd again.
    term.type_text("\x1b[A\x1b[A\n");
    wait_count(&term, "Local working directory:", 2);
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    assert!(!screen.contains("Invalid command"), "{screen}");
}

#[test]
fn ctrl_c_drops_the_line_and_stops_a_transfer_not_oxsftp() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-intr");
    let size = 40 << 20;
    random_file(&remote.path().join("big.bin"), size, 64);
    // 8 Mbit/s: the 40 MiB file would take 40 s.
    let mut term = prompt(&f, local.path(), remote.path(), &["-l", "8000"]);
    term.type_text("garbage\x03");
    support::client::wait_until("a fresh prompt after Ctrl-C", WAIT, || {
        let screen = term.screen();
        screen.contains("garbage\r") && screen.ends_with("sftp> ")
    });
    term.type_text("get big.bin\n");
    term.wait_for("big.bin", WAIT);
    term.wait_for("ETA", WAIT);
    term.type_text("\x03");
    wait_count(&term, "sftp> ", 3);
    term.type_text("pwd\n");
    term.wait_for("Remote working directory:", WAIT);
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    assert!(!screen.contains("Invalid command"), "{screen}");
    let got = std::fs::metadata(local.path().join("big.bin"))
        .unwrap()
        .len();
    assert!(got < size as u64, "the transfer ran to the end: {screen}");
}

#[test]
fn a_line_wider_than_the_terminal_redraws_right_when_edited() {
    // "sftp> lls " is 10 columns: "XX" falls on columns 29 and 30, across the wrap.
    // Left across the wrap and back, then Backspace twice across it, and the fix.
    let Some((rows, line)) = edit_on_a_narrow_terminal(
        "ox-wrap",
        "a-rather-long-local-file-name-0123456789.txt",
        &[
            "lls a-rather-long-localXXfile-name-0123456789.txt",
            &"\x1b[D".repeat(30),
            &"\x1b[C".repeat(6),
            "\x7f\x7f-\n",
        ],
        "sftp> lls a-rather-long-local-",
    ) else {
        return;
    };
    let shown = rows.join("\n");
    assert_eq!(rows[line + 1], "file-name-0123456789.txt", "{shown}");
    // The listing of the file (the line ran as edited), and no stale characters.
    assert_eq!(rows[line + 2], "a-rather-long-local-file-name-", "{shown}");
    assert_eq!(rows[line + 3], "0123456789.txt", "{shown}");
    assert!(!shown.contains("XX"), "{shown}");
}

/// Types `keys` at oxsftp's prompt on a 30-column terminal, in a local directory that
/// holds the file `name`, running the line with the last of them; the screen's rows
/// and the row where the line, drawn as `first_row`, starts.
fn edit_on_a_narrow_terminal(
    tag: &str,
    name: &str,
    keys: &[&str],
    first_row: &str,
) -> Option<(Vec<String>, usize)> {
    let f = oxsshd()?;
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new(tag);
    std::fs::write(local.path().join(name), b"x").unwrap();
    let mut term = prompt_sized(&f, local.path(), remote.path(), &[], 30);
    let (last, typed) = keys.split_last().unwrap();
    for key in typed {
        term.type_text(key);
    }
    command(&mut term, last);
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    let rows = support::screen::play(&screen, 30);
    let line = rows
        .iter()
        .position(|r| r == first_row)
        .unwrap_or_else(|| panic!("the edited line is not on the screen:\n{}", rows.join("\n")));
    Some((rows, line))
}

#[test]
fn tab_completes_local_paths_under_the_home_directory() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-tilde");
    // The client's HOME (see support::sftp::client).
    std::fs::create_dir_all(f.client.home().join("only-in-home-dir")).unwrap();
    std::fs::write(f.client.home().join("only-in-home-dir/inside.txt"), b"x").unwrap();
    let mut term = prompt(&f, local.path(), remote.path(), &[]);
    // lls expands ~/ as sftp's (through the shell).
    command(&mut term, "lls ~/only-in-home-dir\n");
    assert!(term.screen().contains("inside.txt"), "{}", term.screen());
    command(&mut term, "lcd ~/only-in\t\n");
    command(&mut term, "lpwd\n");
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    assert!(screen.contains("lcd ~/only-in-home-dir/"), "{screen}");
    let home = f.client.home().join("only-in-home-dir");
    assert!(
        screen.contains(&format!("Local working directory: {}", home.display())),
        "{screen}"
    );
}

/// A subsystem that runs OpenSSH's sftp-server and holds back each of its answers for
/// 20 ms: a listing of thousands of names takes seconds. It ignores SIGINT.
const SLOW_SERVER: &str = r#"#!/usr/bin/python3
import os, signal, subprocess, sys, threading, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
p = subprocess.Popen(["/usr/lib/openssh/sftp-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            p.stdin.close()
            return
        p.stdin.write(d)
threading.Thread(target=up, daemon=True).start()
while True:
    d = os.read(p.stdout.fileno(), 65536)
    if not d:
        break
    time.sleep(0.02)
    os.write(1, d)
"#;

#[test]
fn ctrl_c_stops_a_long_listing_and_at_an_empty_prompt_keeps_the_session() {
    if support::sftp::openssh_sftp_server().is_none() || !support::require_peer("python3") {
        return;
    }
    let remote = RemoteDir::new("ox-ls-intr");
    let server = remote.path().join("slow-sftp-server");
    std::fs::write(&server, SLOW_SERVER).unwrap();
    std::fs::set_permissions(&server, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let many = remote.path().join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..20_000 {
        std::fs::write(many.join(format!("entry-{i:05}")), b"").unwrap();
    }
    let subsystem = format!("Subsystem sftp {}", server.display());
    let Some(f) = Fixture::start(sshd_opts(&[&subsystem])) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let mut term = prompt(&f, local.path(), remote.path(), &[]);
    // Ctrl-C at an empty prompt: a fresh prompt on the next row, as sftp 9.2 shows it
    // (no "^C").
    term.type_text("\x03");
    support::client::wait_until("a fresh prompt after Ctrl-C", WAIT, || {
        let rows = support::screen::play(&term.screen(), 80);
        rows.iter().rev().take(2).all(|r| r == "sftp>")
    });
    let started = std::time::Instant::now();
    term.type_text("ls many\n");
    std::thread::sleep(Duration::from_millis(1500));
    term.type_text("\x03");
    support::client::wait_until("the prompt after Ctrl-C", WAIT, || {
        term.screen().ends_with("sftp> ")
    });
    let stopped = started.elapsed();
    command(&mut term, "pwd\n");
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    // Stopped before the end: nothing listed (sftp lists once all names are in).
    assert!(!screen.contains("entry-19999"), "{screen}");
    assert!(screen.contains("Remote working directory:"), "{screen}");
    eprintln!("ls stopped after {stopped:?}");
    assert!(!screen.contains("Couldn't"), "{screen}");
}

/// How many times `name`'s progress line was drawn, and whether one showed it part
/// way (not at 100%).
fn redraws(screen: &str, name: &str) -> (usize, bool) {
    let lines: Vec<&str> = screen
        .split(['\r', '\n'])
        .filter(|l| l.starts_with(name) && l.contains('%'))
        .collect();
    (lines.len(), lines.iter().any(|l| !l.contains("100%")))
}

#[test]
fn recursive_transfers_draw_each_files_progress_live() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-tree-meter");
    let tree = remote.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    random_file(&tree.join("big-one.bin"), 5 << 20, 65);
    random_file(&tree.join("small.txt"), 1000, 66);
    // 16 Mbit/s: 5 MiB take about 2.6 s, the meter redraws once a second.
    let mut term = prompt(&f, local.path(), remote.path(), &["-l", "16000"]);
    let got = command(&mut term, "get -r tree\n");
    let put = command(&mut term, "put -r tree tree-back\n");
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    for part in [&screen[got.0..got.1], &screen[put.0..put.1]] {
        let (count, partial) = redraws(part, "big-one.bin");
        assert!(count >= 3 && partial, "{count} draws:\n{part}");
        assert!(redraws(part, "small.txt").0 >= 1, "{part}");
    }
    assert_eq!(
        sha256(&tree.join("big-one.bin")),
        sha256(&local.path().join("tree/big-one.bin"))
    );
    assert_eq!(
        sha256(&tree.join("big-one.bin")),
        sha256(&remote.path().join("tree-back/big-one.bin"))
    );
    // oxscp -r shares the meters.
    let mut cmd = support::sftp::client(
        &Path::new(support::OXSSHD)
            .with_file_name("oxscp")
            .display()
            .to_string(),
        &f,
    );
    cmd.args(["-r", "-l", "16000"]).arg(format!(
        "{}@127.0.0.1:{}",
        support::users::TEST_USER,
        tree.display()
    ));
    cmd.arg("scp-copy");
    let out = support::client::under_script(
        &format!("cd {} && exec {}", local.path().display(), shell_line(&cmd)),
        b"",
    );
    assert!(out.status.success(), "{}", out.stdout);
    let (count, partial) = redraws(&out.stdout, "big-one.bin");
    assert!(count >= 3 && partial, "{count} draws:\n{}", out.stdout);
}

#[test]
fn recursive_transfers_print_each_files_final_line_once_and_nothing_with_q() {
    let Some(f) = oxsshd() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let remote = RemoteDir::new("ox-tree-lines");
    let tree = remote.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let names = ["大きなファイル.bin", "small.txt", "mid.dat", "empty"];
    for (i, size) in [2usize << 20, 1000, 512 << 10, 0].into_iter().enumerate() {
        random_file(&tree.join(names[i]), size, 80 + i as u64);
    }
    let mut term = prompt(&f, local.path(), remote.path(), &["-l", "16000"]);
    let got = command(&mut term, "get -r tree\n");
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    let part = &screen[got.0..got.1];
    for name in names {
        let finals = part
            .split(['\r', '\n'])
            .filter(|l| l.starts_with(name) && l.contains("100%") && !l.contains("ETA"))
            .count();
        // sftp draws no meter for an empty file's download.
        let expected = usize::from(name != "empty");
        assert_eq!(finals, expected, "{name}:\n{part}");
        assert_eq!(
            sha256(&tree.join(name)),
            sha256(&local.path().join("tree").join(name))
        );
    }
    assert!(
        redraws(part, names[0]).1,
        "no live line for the big file:\n{part}"
    );
    // Every meter line fills 79 of the 80 columns, the wide name counted as such.
    for line in part.split(['\r', '\n']).filter(|l| l.contains("B/s")) {
        let cols: usize = line
            .chars()
            .map(|c| {
                if ('\u{3000}'..='\u{9fff}').contains(&c) {
                    2
                } else {
                    1
                }
            })
            .sum();
        assert_eq!(cols, 79, "{line:?}");
    }
    // -q: the same transfer draws no meter at all.
    let mut term = prompt(&f, local.path(), remote.path(), &["-q", "-l", "16000"]);
    let got = command(&mut term, "get -r tree quiet-copy\n");
    term.type_text("bye\n");
    let (status, screen) = term.finish(WAIT);
    assert!(status.success(), "{screen}");
    assert!(!screen[got.0..got.1].contains('%'), "{screen}");
    assert_eq!(
        sha256(&tree.join(names[0])),
        sha256(&local.path().join("quiet-copy").join(names[0]))
    );
}

#[test]
fn a_wide_character_line_wraps_and_edits_by_terminal_columns() {
    let name = "日本語のファイル名前です.txt";
    // "sftp> lls -1 " is 13 columns, then eight wide characters to column 29, where
    // the "Z" typed by mistake fits; 名 then starts row 1. Left onto "Z" (over
    // 名前です.txt), delete it: 名 no longer fits in column 29 and wraps whole; then
    // Left and Right across the wrap before running it.
    let Some((rows, line)) = edit_on_a_narrow_terminal(
        "ox-wide",
        name,
        &[
            "lls -1 日本語のファイルZ名前です.txt",
            &"\x1b[D".repeat(9),
            "\x1b[3~",
            &"\x1b[D".repeat(3),
            &"\x1b[C".repeat(3),
            "\n",
        ],
        "sftp> lls -1 日本語のファイル",
    ) else {
        return;
    };
    let shown = rows.join("\n");
    assert_eq!(rows[line + 1], "名前です.txt", "{shown}");
    // ls found the file by its name as edited.
    assert_eq!(rows[line + 2], name, "{shown}");
    assert!(!shown.contains('Z'), "{shown}");
}
