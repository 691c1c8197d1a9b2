//! RFC 4254 §8 encoded terminal modes (the `pty-req` mode string): decoding the opcode
//! stream and applying it to a `termios` the way OpenSSH's `tty_parse_modes` does.
//!
//! The bytes come from the peer, so decoding is bounded and total: it stops at
//! `TTY_OP_END`, at an opcode of 160 or more (undefined; RFC 4254 says parsing stops), or
//! at a truncated argument, and never panics. Opcodes 1 to 159 this system has no
//! setting for are skipped with their `uint32` argument, as OpenSSH does.

use nix::libc;
use nix::sys::termios::{BaudRate, ControlFlags, InputFlags, LocalFlags, OutputFlags, Termios};

/// `TTY_OP_END`: ends the mode list.
pub const TTY_OP_END: u8 = 0;
/// `TTY_OP_ISPEED`: input baud rate.
pub const TTY_OP_ISPEED: u8 = 128;
/// `TTY_OP_OSPEED`: output baud rate.
pub const TTY_OP_OSPEED: u8 = 129;
/// The first opcode RFC 4254 leaves undefined: decoding stops there.
const FIRST_UNDEFINED: u8 = 160;

/// Which `termios` flag word a mode bit lives in.
#[derive(Clone, Copy, Debug)]
enum Word {
    Input,
    Output,
    Control,
    Local,
}

/// What one opcode sets on this system.
#[derive(Clone, Copy, Debug)]
enum Setting {
    /// A special character (`c_cc` index).
    Char(usize),
    /// A flag bit in a flag word.
    Flag(Word, libc::tcflag_t),
    /// Input or output speed.
    ISpeed,
    OSpeed,
}

/// RFC 4254 §8's opcode table (plus RFC 8160's `IUTF8`), restricted to what Linux has,
/// as in OpenSSH's `ttymodes.h`. Opcodes missing here (VDSUSP 11, VFLUSH 15, VSWTCH 16,
/// VSTATUS 17) have no Linux counterpart and are skipped.
fn setting(opcode: u8) -> Option<Setting> {
    use Setting::{Char, Flag};
    use Word::{Control, Input, Local, Output};
    Some(match opcode {
        1 => Char(libc::VINTR),
        2 => Char(libc::VQUIT),
        3 => Char(libc::VERASE),
        4 => Char(libc::VKILL),
        5 => Char(libc::VEOF),
        6 => Char(libc::VEOL),
        7 => Char(libc::VEOL2),
        8 => Char(libc::VSTART),
        9 => Char(libc::VSTOP),
        10 => Char(libc::VSUSP),
        12 => Char(libc::VREPRINT),
        13 => Char(libc::VWERASE),
        14 => Char(libc::VLNEXT),
        18 => Char(libc::VDISCARD),
        30 => Flag(Input, libc::IGNPAR),
        31 => Flag(Input, libc::PARMRK),
        32 => Flag(Input, libc::INPCK),
        33 => Flag(Input, libc::ISTRIP),
        34 => Flag(Input, libc::INLCR),
        35 => Flag(Input, libc::IGNCR),
        36 => Flag(Input, libc::ICRNL),
        37 => Flag(Input, libc::IUCLC),
        38 => Flag(Input, libc::IXON),
        39 => Flag(Input, libc::IXANY),
        40 => Flag(Input, libc::IXOFF),
        41 => Flag(Input, libc::IMAXBEL),
        42 => Flag(Input, libc::IUTF8),
        50 => Flag(Local, libc::ISIG),
        51 => Flag(Local, libc::ICANON),
        52 => Flag(Local, libc::XCASE),
        53 => Flag(Local, libc::ECHO),
        54 => Flag(Local, libc::ECHOE),
        55 => Flag(Local, libc::ECHOK),
        56 => Flag(Local, libc::ECHONL),
        57 => Flag(Local, libc::NOFLSH),
        58 => Flag(Local, libc::TOSTOP),
        59 => Flag(Local, libc::IEXTEN),
        60 => Flag(Local, libc::ECHOCTL),
        61 => Flag(Local, libc::ECHOKE),
        62 => Flag(Local, libc::PENDIN),
        70 => Flag(Output, libc::OPOST),
        71 => Flag(Output, libc::OLCUC),
        72 => Flag(Output, libc::ONLCR),
        73 => Flag(Output, libc::OCRNL),
        74 => Flag(Output, libc::ONOCR),
        75 => Flag(Output, libc::ONLRET),
        90 => Flag(Control, libc::CS7),
        91 => Flag(Control, libc::CS8),
        92 => Flag(Control, libc::PARENB),
        93 => Flag(Control, libc::PARODD),
        TTY_OP_ISPEED => Setting::ISpeed,
        TTY_OP_OSPEED => Setting::OSpeed,
        _ => return None,
    })
}

/// A decoded mode string: the (opcode, argument) pairs this system knows, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerminalModes {
    modes: Vec<(u8, u32)>,
    /// Opcodes 1 to 159 that were skipped because this system has no such setting.
    pub skipped: Vec<u8>,
    /// Decoding stopped before `TTY_OP_END` (a truncated argument, an opcode >= 160, or
    /// no end marker): the modes before that point still apply.
    pub stopped_early: bool,
}

impl TerminalModes {
    /// Decodes an RFC 4254 §8 mode string (the `pty-req` "encoded terminal modes").
    pub fn decode(bytes: &[u8]) -> Self {
        let mut out = Self::default();
        let mut rest = bytes;
        loop {
            let Some((&opcode, tail)) = rest.split_first() else {
                // An empty string is "no modes"; a non-empty one should end in TTY_OP_END
                // but OpenSSH accepts its absence silently, and so do we.
                return out;
            };
            if opcode == TTY_OP_END {
                return out;
            }
            if opcode >= FIRST_UNDEFINED {
                out.stopped_early = true;
                return out;
            }
            let Some((arg, tail)) = tail.split_first_chunk::<4>() else {
                out.stopped_early = true;
                return out;
            };
            let value = u32::from_be_bytes(*arg);
            if setting(opcode).is_some() {
                out.modes.push((opcode, value));
            } else {
                out.skipped.push(opcode);
            }
            rest = tail;
        }
    }

    /// The decoded (opcode, argument) pairs this system applies, in order.
    pub fn modes(&self) -> &[(u8, u32)] {
        &self.modes
    }

    /// Applies the modes to `termios` as OpenSSH's `tty_parse_modes` does: a special
    /// character of 255 disables it (`_POSIX_VDISABLE`), a flag is set for any non-zero
    /// argument, speeds go through `cfsetispeed`/`cfsetospeed` (an unknown rate means
    /// 9600, as OpenSSH's `baud_to_speed`).
    pub fn apply(&self, termios: &mut Termios) {
        for &(opcode, value) in &self.modes {
            match setting(opcode) {
                Some(Setting::Char(index)) => {
                    if let Some(cc) = termios.control_chars.get_mut(index) {
                        *cc = special_char(value);
                    }
                }
                Some(Setting::Flag(word, bit)) => set_flag(termios, word, bit, value != 0),
                Some(Setting::ISpeed) => {
                    if let Err(e) = nix::sys::termios::cfsetispeed(termios, baud_rate(value)) {
                        tracing::debug!(value, error = %e, "cfsetispeed failed");
                    }
                }
                Some(Setting::OSpeed) => {
                    if let Err(e) = nix::sys::termios::cfsetospeed(termios, baud_rate(value)) {
                        tracing::debug!(value, error = %e, "cfsetospeed failed");
                    }
                }
                None => {}
            }
        }
    }
}

/// OpenSSH's `special_char_decode`: 255 means "disabled".
fn special_char(value: u32) -> libc::cc_t {
    match libc::cc_t::try_from(value) {
        Ok(255) | Err(_) => 0, // _POSIX_VDISABLE on Linux
        Ok(c) => c,
    }
}

fn set_flag(termios: &mut Termios, word: Word, bit: libc::tcflag_t, on: bool) {
    fn update(bits: libc::tcflag_t, bit: libc::tcflag_t, on: bool) -> libc::tcflag_t {
        if on {
            bits | bit
        } else {
            bits & !bit
        }
    }
    match word {
        Word::Input => {
            let bits = update(termios.input_flags.bits(), bit, on);
            termios.input_flags = InputFlags::from_bits_retain(bits);
        }
        Word::Output => {
            let bits = update(termios.output_flags.bits(), bit, on);
            termios.output_flags = OutputFlags::from_bits_retain(bits);
        }
        Word::Control => {
            let bits = update(termios.control_flags.bits(), bit, on);
            termios.control_flags = ControlFlags::from_bits_retain(bits);
        }
        Word::Local => {
            let bits = update(termios.local_flags.bits(), bit, on);
            termios.local_flags = LocalFlags::from_bits_retain(bits);
        }
    }
}

/// OpenSSH's `baud_to_speed`: a numeric rate to its `B*` constant, 9600 when unknown.
fn baud_rate(baud: u32) -> BaudRate {
    match baud {
        0 => BaudRate::B0,
        50 => BaudRate::B50,
        75 => BaudRate::B75,
        110 => BaudRate::B110,
        134 => BaudRate::B134,
        150 => BaudRate::B150,
        200 => BaudRate::B200,
        300 => BaudRate::B300,
        600 => BaudRate::B600,
        1200 => BaudRate::B1200,
        1800 => BaudRate::B1800,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        500000 => BaudRate::B500000,
        576000 => BaudRate::B576000,
        921600 => BaudRate::B921600,
        1000000 => BaudRate::B1000000,
        1152000 => BaudRate::B1152000,
        1500000 => BaudRate::B1500000,
        2000000 => BaudRate::B2000000,
        _ => BaudRate::B9600,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(opcode: u8, value: u32) -> Vec<u8> {
        let mut v = vec![opcode];
        v.extend_from_slice(&value.to_be_bytes());
        v
    }

    #[test]
    fn decodes_known_opcodes_and_stops_at_end() {
        let mut bytes = [op(53, 0), op(1, 3), op(128, 38400), op(129, 38400)].concat();
        bytes.push(TTY_OP_END);
        bytes.extend_from_slice(&op(51, 0)); // after the end: ignored
        let modes = TerminalModes::decode(&bytes);
        assert_eq!(
            modes.modes(),
            &[(53, 0), (1, 3), (128, 38400), (129, 38400)]
        );
        assert!(!modes.stopped_early);
        assert!(modes.skipped.is_empty());
    }

    #[test]
    fn skips_unknown_opcodes_below_160_with_their_argument() {
        let bytes = [op(11, 25), op(99, 7), op(53, 1), vec![0]].concat();
        let modes = TerminalModes::decode(&bytes);
        assert_eq!(modes.modes(), &[(53, 1)]);
        assert_eq!(modes.skipped, vec![11, 99]);
    }

    #[test]
    fn stops_at_undefined_opcodes_and_truncated_arguments() {
        let bytes = [op(53, 0), vec![200, 1, 2, 3, 4], op(51, 0)].concat();
        let modes = TerminalModes::decode(&bytes);
        assert_eq!(modes.modes(), &[(53, 0)]);
        assert!(modes.stopped_early);

        let modes = TerminalModes::decode(&[53, 0, 0]);
        assert!(modes.modes().is_empty());
        assert!(modes.stopped_early);
        assert_eq!(TerminalModes::decode(&[]), TerminalModes::default());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        // A deterministic pseudo-random walk over short inputs.
        let mut x: u32 = 0x1234_5678;
        for len in 0..200usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x.to_le_bytes()[0]
                })
                .collect();
            let modes = TerminalModes::decode(&bytes);
            assert!(modes.modes().len() * 5 <= len);
        }
    }

    #[test]
    fn special_char_255_disables() {
        assert_eq!(special_char(255), 0);
        assert_eq!(special_char(3), 3);
        assert_eq!(special_char(0x1_0003), 0);
        assert_eq!(baud_rate(12345), BaudRate::B9600);
    }
}
