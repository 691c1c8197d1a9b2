//! The local terminal: raw mode while a session with a pty runs, its size, and the SIGWINCH
//! stream that tells the server about resizes.
//!
//! Raw mode is exactly OpenSSH's `enter_raw_mode()` (sshtty.c), which is not `cfmakeraw()`:
//! it keeps `c_cflag` (parity, character size) and the output/input flags it does not name,
//! and sets `IGNPAR`. The saved settings are process-wide, as the terminal is: a
//! [`RawModeGuard`] restores them when dropped (also while unwinding from a panic), and
//! [`restore_terminal`] restores them from any other exit path (before `process::exit`, from
//! a signal handler task, from a panic hook when panics abort).
//!
//! The window size comes from `stty size`: reading it directly needs the `TIOCGWINSZ`
//! ioctl, an unchecked OS call the workspace forbids, and neither `nix` nor `std` wraps
//! it safely. `stty` reports rows and columns but not pixels, so those are sent as 0, which
//! RFC 4254 §6.2 allows. A resize costs one short process spawn.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use nix::libc;
use nix::sys::termios::{
    tcgetattr, tcsetattr, ControlFlags, InputFlags, LocalFlags, OutputFlags, SetArg,
    SpecialCharacterIndices, Termios,
};

use super::tty_modes::TtyModes;

/// The terminal settings to put back, and the terminal they belong to.
struct Saved {
    /// The [`RawModeGuard`] that saved them.
    guard: u64,
    fd: OwnedFd,
    termios: Termios,
}

/// Numbers guards, so a guard only ever restores what it saved itself.
static NEXT_GUARD: AtomicU64 = AtomicU64::new(0);

/// The one saved terminal state of the process (OpenSSH's `_saved_tio`); `None` when the
/// terminal is not in raw mode.
static SAVED: Mutex<Option<Saved>> = Mutex::new(None);

/// Reads a terminal's settings keeping every flag bit, including those `nix` has no name for
/// (`IUCLC`, `XCASE`) and would otherwise drop when the settings are written back.
pub fn terminal_attributes(fd: impl AsFd) -> io::Result<Termios> {
    let mut termios = tcgetattr(fd)?;
    let raw = libc::termios::from(termios.clone());
    termios.input_flags = InputFlags::from_bits_retain(raw.c_iflag);
    termios.output_flags = OutputFlags::from_bits_retain(raw.c_oflag);
    termios.control_flags = ControlFlags::from_bits_retain(raw.c_cflag);
    termios.local_flags = LocalFlags::from_bits_retain(raw.c_lflag);
    Ok(termios)
}

/// OpenSSH's raw-mode settings derived from `saved`.
pub fn raw_settings(saved: &Termios) -> Termios {
    let mut tio = saved.clone();
    tio.input_flags |= InputFlags::IGNPAR;
    tio.input_flags &= !(InputFlags::ISTRIP
        | InputFlags::INLCR
        | InputFlags::IGNCR
        | InputFlags::ICRNL
        | InputFlags::IXON
        | InputFlags::IXANY
        | InputFlags::IXOFF);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        tio.input_flags &= !InputFlags::from_bits_retain(libc::IUCLC);
    }
    tio.local_flags &= !(LocalFlags::ISIG
        | LocalFlags::ICANON
        | LocalFlags::ECHO
        | LocalFlags::ECHOE
        | LocalFlags::ECHOK
        | LocalFlags::ECHONL
        | LocalFlags::IEXTEN);
    tio.output_flags &= !OutputFlags::OPOST;
    set_char(&mut tio, SpecialCharacterIndices::VMIN, 1);
    set_char(&mut tio, SpecialCharacterIndices::VTIME, 0);
    tio
}

fn set_char(tio: &mut Termios, index: SpecialCharacterIndices, value: libc::cc_t) {
    if let Some(c) = tio.control_chars.get_mut(index as usize) {
        *c = value;
    }
}

/// Puts the terminal back as it was before raw mode (OpenSSH's `leave_raw_mode()`); does
/// nothing when it is not in raw mode. Safe to call from any exit path, any number of times.
pub fn restore_terminal() -> io::Result<()> {
    restore_if(|_| true)
}

/// Restores the saved settings if `owner` accepts the guard that saved them.
fn restore_if(owner: impl Fn(u64) -> bool) -> io::Result<()> {
    let mut saved = SAVED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(state) = saved.as_ref().filter(|s| owner(s.guard)) {
        // TCSADRAIN: output already written is shown with the settings it was written for.
        tcsetattr(&state.fd, SetArg::TCSADRAIN, &state.termios)?;
        *saved = None;
    }
    Ok(())
}

/// Makes every panic restore the terminal before the panic message is printed: in raw mode
/// the message would come out garbled, and with `panic = "abort"` no destructor runs.
pub fn restore_terminal_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore_terminal();
        previous(info);
    }));
}

/// The local terminal in raw mode for as long as the guard lives.
#[derive(Debug)]
pub struct RawModeGuard {
    id: u64,
    fd: OwnedFd,
    /// The settings from before raw mode, for `pty-req` and for re-entering.
    saved: Termios,
}

impl RawModeGuard {
    /// Saves the terminal's settings and switches it to raw mode (OpenSSH's
    /// `enter_raw_mode()`). Fails when `fd` is not a terminal; OpenSSH then carries on
    /// without raw mode, printing the error unless the tty was forced (`-tt`).
    pub fn enter(fd: impl AsFd) -> io::Result<Self> {
        let fd = fd.as_fd().try_clone_to_owned()?;
        let saved = terminal_attributes(&fd)?;
        let id = NEXT_GUARD.fetch_add(1, Ordering::Relaxed);
        let guard = Self { id, fd, saved };
        guard.reenter()?;
        Ok(guard)
    }

    /// The settings from before raw mode: what `pty-req` describes to the server.
    pub fn saved_modes(&self) -> TtyModes {
        TtyModes::from_termios(&self.saved)
    }

    /// Leaves raw mode without giving up the guard (before suspending, backgrounding, or
    /// printing a prompt); [`RawModeGuard::reenter`] goes back.
    pub fn leave(&self) -> io::Result<()> {
        restore_if(|guard| guard == self.id)
    }

    /// Enters raw mode again after [`RawModeGuard::leave`].
    pub fn reenter(&self) -> io::Result<()> {
        // Everything that can fail before the terminal changes, so it is never left raw
        // without a way back.
        let fd = self.fd.try_clone()?;
        let mut saved = SAVED.lock().unwrap_or_else(PoisonError::into_inner);
        tcsetattr(&self.fd, SetArg::TCSADRAIN, &raw_settings(&self.saved))?;
        *saved = Some(Saved {
            guard: self.id,
            fd,
            termios: self.saved.clone(),
        });
        Ok(())
    }

    /// `~^Z`: restores the terminal, stops the process with SIGTSTP as the shell's job
    /// control expects, and on `fg` (SIGCONT) enters raw mode again. The caller should then
    /// send a window-change, as OpenSSH does, since the terminal may have been resized.
    pub fn suspend_self(&self) -> io::Result<()> {
        self.leave()?;
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP)?;
        self.reenter()
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        // Nothing useful can be done with an error while dropping; explicit callers of
        // leave() and restore_terminal() see it.
        let _ = self.leave();
    }
}

/// A terminal size for `pty-req` and `window-change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSize {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Width in pixels (0: unknown).
    pub width_px: u32,
    /// Height in pixels (0: unknown).
    pub height_px: u32,
}

/// The size of the terminal on `fd`. OpenSSH sends zeros when it cannot read the size.
pub fn window_size(fd: impl AsFd) -> io::Result<WindowSize> {
    let output = stty_size(fd)?.output()?;
    parse_stty_size(&output)
}

/// [`window_size`] without blocking the async runtime.
pub async fn window_size_async(fd: impl AsFd) -> io::Result<WindowSize> {
    let output = tokio::process::Command::from(stty_size(fd)?)
        .output()
        .await?;
    parse_stty_size(&output)
}

/// `stty size` with the terminal as its stdin: it prints `rows cols`.
fn stty_size(fd: impl AsFd) -> io::Result<Command> {
    let tty = fd.as_fd().try_clone_to_owned()?;
    let mut command = Command::new("stty");
    command
        .arg("size")
        .stdin(Stdio::from(tty))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    Ok(command)
}

fn parse_stty_size(output: &std::process::Output) -> io::Result<WindowSize> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "cannot read the terminal size");
    if !output.status.success() {
        return Err(bad());
    }
    let text = std::str::from_utf8(&output.stdout).map_err(|_| bad())?;
    let mut numbers = text.split_whitespace().map(str::parse::<u32>);
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(Ok(rows)), Some(Ok(cols)), None) => Ok(WindowSize {
            cols,
            rows,
            ..WindowSize::default()
        }),
        _ => Err(bad()),
    }
}

/// Terminal sizes after each SIGWINCH, for `window-change` requests.
///
/// Like OpenSSH it reports the size after every signal without comparing it with the last
/// one (signals that arrive while a size is being read merge into one), and skips a signal
/// whose size cannot be read.
#[derive(Debug)]
pub struct WindowChanges {
    signal: tokio::signal::unix::Signal,
    fd: OwnedFd,
}

impl WindowChanges {
    /// Starts listening; needs a Tokio runtime with the signal driver enabled.
    pub fn new(fd: impl AsFd) -> io::Result<Self> {
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
        let fd = fd.as_fd().try_clone_to_owned()?;
        Ok(Self { signal, fd })
    }

    /// The size after the next SIGWINCH; `None` when signals can no longer be received.
    pub async fn next(&mut self) -> Option<WindowSize> {
        loop {
            self.signal.recv().await?;
            if let Ok(size) = window_size_async(&self.fd).await {
                return Some(size);
            }
        }
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
#[path = "tty_tests.rs"]
mod tests;
