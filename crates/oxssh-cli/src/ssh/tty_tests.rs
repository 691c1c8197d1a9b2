//! Tests of [`super`] on real pseudo-terminals (`openpty`), so the termios calls are the
//! ones the program makes.

use std::sync::Mutex;
use std::time::Duration;

use nix::pty::{openpty, OpenptyResult, Winsize};
use nix::sys::termios::{tcsetattr, SetArg};

use super::*;
use crate::ssh::tty_modes::{TTY_OP_END, TTY_OP_OSPEED};

/// Raw mode is process-wide state: tests that enter it take turns.
static TERMINAL_TESTS: Mutex<()> = Mutex::new(());

fn pty(rows: u16, cols: u16) -> OpenptyResult {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    openpty(Some(&size), None).expect("openpty")
}

fn raw_termios(fd: &OwnedFd) -> libc::termios {
    libc::termios::from(terminal_attributes(fd).unwrap())
}

#[test]
fn raw_mode_sets_openssh_flags_and_restores_on_drop() {
    let _turn = TERMINAL_TESTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let pty = pty(24, 80);
    let before = raw_termios(&pty.slave);
    assert_ne!(before.c_lflag & libc::ICANON, 0, "a fresh pty is canonical");
    {
        let guard = RawModeGuard::enter(&pty.slave).unwrap();
        let raw = raw_termios(&pty.slave);
        assert_ne!(raw.c_iflag & libc::IGNPAR, 0);
        for flag in [
            libc::ISTRIP,
            libc::INLCR,
            libc::IGNCR,
            libc::ICRNL,
            libc::IXON,
            libc::IXANY,
            libc::IXOFF,
            libc::IUCLC,
        ] {
            assert_eq!(raw.c_iflag & flag, 0, "iflag {flag:#o}");
        }
        for flag in [
            libc::ISIG,
            libc::ICANON,
            libc::ECHO,
            libc::ECHOE,
            libc::ECHOK,
            libc::ECHONL,
            libc::IEXTEN,
        ] {
            assert_eq!(raw.c_lflag & flag, 0, "lflag {flag:#o}");
        }
        assert_eq!(raw.c_oflag & libc::OPOST, 0);
        // Unlike cfmakeraw(), OpenSSH leaves the control flags and the other output flags.
        assert_eq!(raw.c_cflag, before.c_cflag);
        assert_eq!(raw.c_oflag, before.c_oflag & !libc::OPOST);
        assert_eq!((raw.c_cc[libc::VMIN], raw.c_cc[libc::VTIME]), (1, 0));
        // pty-req describes the settings from before raw mode.
        assert_eq!(guard.saved_modes().local & libc::ECHO, libc::ECHO);
    }
    let after = raw_termios(&pty.slave);
    assert_eq!(after.c_iflag, before.c_iflag);
    assert_eq!(after.c_oflag, before.c_oflag);
    assert_eq!(after.c_cflag, before.c_cflag);
    assert_eq!(after.c_lflag, before.c_lflag);
    assert_eq!(after.c_cc, before.c_cc);
}

#[test]
fn restore_keeps_flags_nix_has_no_names_for() {
    let _turn = TERMINAL_TESTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let pty = pty(24, 80);
    let mut odd = terminal_attributes(&pty.slave).unwrap();
    odd.input_flags |= InputFlags::from_bits_retain(libc::IUCLC);
    odd.local_flags |= LocalFlags::from_bits_retain(libc::XCASE);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &odd).unwrap();
    {
        let _guard = RawModeGuard::enter(&pty.slave).unwrap();
        assert_eq!(raw_termios(&pty.slave).c_iflag & libc::IUCLC, 0);
    }
    let after = raw_termios(&pty.slave);
    assert_ne!(after.c_iflag & libc::IUCLC, 0);
    assert_ne!(after.c_lflag & libc::XCASE, 0);
}

#[test]
fn leave_reenter_and_restore_terminal_are_idempotent() {
    let _turn = TERMINAL_TESTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let pty = pty(24, 80);
    let canonical = |fd: &OwnedFd| raw_termios(fd).c_lflag & libc::ICANON != 0;
    let guard = RawModeGuard::enter(&pty.slave).unwrap();
    assert!(!canonical(&pty.slave));
    guard.leave().unwrap();
    guard.leave().unwrap();
    assert!(canonical(&pty.slave));
    guard.reenter().unwrap();
    assert!(!canonical(&pty.slave));
    // The exit-path restore works while the guard still exists, and the guard's drop then
    // has nothing left to do.
    restore_terminal().unwrap();
    assert!(canonical(&pty.slave));
    restore_terminal().unwrap();
    drop(guard);
    assert!(canonical(&pty.slave));
}

#[test]
fn an_old_guard_does_not_restore_a_newer_one() {
    let _turn = TERMINAL_TESTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let first = pty(24, 80);
    let second = pty(24, 80);
    let canonical = |fd: &OwnedFd| raw_termios(fd).c_lflag & libc::ICANON != 0;
    let old = RawModeGuard::enter(&first.slave).unwrap();
    old.leave().unwrap();
    let new = RawModeGuard::enter(&second.slave).unwrap();
    drop(old);
    assert!(!canonical(&second.slave));
    drop(new);
    assert!(canonical(&second.slave));
}

#[test]
fn the_panic_hook_restores_a_leaked_guard() {
    let _turn = TERMINAL_TESTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let pty = pty(24, 80);
    let canonical = |fd: &OwnedFd| raw_termios(fd).c_lflag & libc::ICANON != 0;
    let outer = std::panic::take_hook();
    // Silence the expected panic's message, then add the restoring hook on top.
    std::panic::set_hook(Box::new(|_| {}));
    restore_terminal_on_panic();
    // A guard that is never dropped: only the hook can restore the terminal.
    std::mem::forget(RawModeGuard::enter(&pty.slave).unwrap());
    assert!(!canonical(&pty.slave));
    let result = std::panic::catch_unwind(|| panic!("on purpose"));
    std::panic::set_hook(outer);
    assert!(result.is_err());
    assert!(canonical(&pty.slave));
}

#[test]
fn raw_mode_needs_a_terminal() {
    let null = std::fs::File::open("/dev/null").unwrap();
    assert!(RawModeGuard::enter(&null).is_err());
    assert!(window_size(&null).is_err());
}

#[test]
fn reads_the_window_size() {
    let pty = pty(30, 100);
    assert_eq!(
        window_size(&pty.slave).unwrap(),
        WindowSize {
            cols: 100,
            rows: 30,
            width_px: 0,
            height_px: 0
        }
    );
}

#[test]
fn stty_output_is_checked() {
    use std::os::unix::process::ExitStatusExt;
    let output = |status: i32, stdout: &str| std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    };
    let size = parse_stty_size(&output(0, "24 80\n")).unwrap();
    assert_eq!((size.rows, size.cols), (24, 80));
    assert!(parse_stty_size(&output(0, "24\n")).is_err());
    assert!(parse_stty_size(&output(0, "24 80 1\n")).is_err());
    assert!(parse_stty_size(&output(0, "x 80\n")).is_err());
    assert!(parse_stty_size(&output(1 << 8, "24 80\n")).is_err());
}

#[test]
fn modes_of_a_real_terminal_encode() {
    let pty = pty(24, 80);
    let modes = TtyModes::from_termios(&terminal_attributes(&pty.slave).unwrap());
    let bytes = modes.encode(false);
    assert_eq!(bytes.first(), Some(&TTY_OP_OSPEED));
    assert_eq!(bytes.last(), Some(&TTY_OP_END));
    assert_eq!(bytes.len() % 5, 1);
    // ECHO (53) is on in a fresh pty.
    let echo = bytes.chunks(5).find(|c| c[0] == 53).unwrap();
    assert_eq!(echo, [53, 0, 0, 0, 1]);
}

#[tokio::test]
async fn sigwinch_yields_the_new_size() {
    let pty = pty(40, 120);
    let mut changes = WindowChanges::new(&pty.slave).unwrap();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGWINCH).unwrap();
    let size = tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a size after SIGWINCH");
    assert_eq!(size.map(|s| (s.rows, s.cols)), Some((40, 120)));
    assert_eq!(
        window_size_async(&pty.slave).await.unwrap().cols,
        120,
        "the async reader agrees"
    );
}
