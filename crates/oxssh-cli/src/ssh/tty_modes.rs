//! The encoded terminal modes of a `pty-req` (RFC 4254 §8, RFC 8160 for `IUTF8`), built from
//! the local terminal's settings exactly as OpenSSH 9.2's `ssh_tty_make_modes()` builds them:
//! output speed, input speed, then every special character and flag OpenSSH's `ttymodes.h`
//! lists that this platform defines, in that table's order, each with a `uint32` argument,
//! then `TTY_OP_END`.
//!
//! Two OpenSSH details kept on purpose: a disabled special character (`_POSIX_VDISABLE`) is
//! sent as 255, and the `CS7`/`CS8` flags are tested as `(c_cflag & CSx) != 0`, so an 8-bit
//! terminal reports both as set. Servers that are used to OpenSSH expect exactly this.

use nix::libc::{self, cc_t, tcflag_t};
use nix::sys::termios::{cfgetispeed, cfgetospeed, BaudRate, Termios};

/// Ends the modes.
pub const TTY_OP_END: u8 = 0;
/// Input baud rate.
pub const TTY_OP_ISPEED: u8 = 128;
/// Output baud rate.
pub const TTY_OP_OSPEED: u8 = 129;
/// `IUTF8` (RFC 8160), left out for servers that choke on it.
pub const TTY_OP_IUTF8: u8 = 42;

/// The modes of a session without a local terminal (OpenSSH sends only `TTY_OP_END` when it
/// has no saved terminal settings, e.g. with `-tt` and stdin not a tty).
pub const NO_MODES: &[u8] = &[TTY_OP_END];

/// The parts of a termios that the modes encode, as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyModes {
    /// `c_iflag`
    pub input: tcflag_t,
    /// `c_oflag`
    pub output: tcflag_t,
    /// `c_cflag`
    pub control: tcflag_t,
    /// `c_lflag`
    pub local: tcflag_t,
    /// `c_cc`
    pub chars: [cc_t; libc::NCCS],
    /// Input speed in baud (already mapped as OpenSSH's `speed_to_baud()` maps it).
    pub ispeed: u32,
    /// Output speed in baud.
    pub ospeed: u32,
}

impl TtyModes {
    /// Reads the values from a termios. Use a termios from
    /// [`terminal_attributes`](super::tty::terminal_attributes), which keeps the flag bits
    /// `nix` has no names for (`IUCLC`, `XCASE`).
    pub fn from_termios(termios: &Termios) -> Self {
        Self {
            input: termios.input_flags.bits(),
            output: termios.output_flags.bits(),
            control: termios.control_flags.bits(),
            local: termios.local_flags.bits(),
            chars: termios.control_chars,
            ispeed: speed_to_baud(cfgetispeed(termios).raw_speed()),
            ospeed: speed_to_baud(cfgetospeed(termios).raw_speed()),
        }
    }

    /// The encoded modes: the contents of the `string encoded terminal modes` field of
    /// `pty-req` (without its length prefix). `omit_iutf8` drops `IUTF8` as OpenSSH does for
    /// servers with [`peer_rejects_iutf8`].
    pub fn encode(&self, omit_iutf8: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 * (2 + CHARS.len() + FLAGS.len()) + 1);
        put(&mut out, TTY_OP_OSPEED, self.ospeed);
        put(&mut out, TTY_OP_ISPEED, self.ispeed);
        for &(opcode, index) in CHARS {
            let c = self.chars.get(index).copied().unwrap_or(VDISABLE);
            put(&mut out, opcode, if c == VDISABLE { 255 } else { c.into() });
        }
        for &(opcode, field, mask) in FLAGS {
            if omit_iutf8 && opcode == TTY_OP_IUTF8 {
                continue;
            }
            let bits = match field {
                Field::Input => self.input,
                Field::Output => self.output,
                Field::Control => self.control,
                Field::Local => self.local,
            };
            put(&mut out, opcode, u32::from(bits & mask != 0));
        }
        out.push(TTY_OP_END);
        out
    }
}

/// OpenSSH's `SSH_BUG_UTF8TTYMODE`: servers whose software version (the part of the
/// identification string after `SSH-2.0-`) starts with `ConfD-` reject `IUTF8`.
pub fn peer_rejects_iutf8(software_version: &str) -> bool {
    software_version.starts_with("ConfD-")
}

/// The `speed_t` value of what `cfget*speed` returns: a [`BaudRate`] on Linux, a plain
/// number on the BSDs.
trait RawSpeed {
    fn raw_speed(self) -> u32;
}

impl RawSpeed for BaudRate {
    fn raw_speed(self) -> u32 {
        // A field-less enum whose discriminants are the libc `B*` constants.
        self as u32
    }
}

impl RawSpeed for u32 {
    fn raw_speed(self) -> u32 {
        self
    }
}

fn put(out: &mut Vec<u8>, opcode: u8, value: u32) {
    out.push(opcode);
    out.extend_from_slice(&value.to_be_bytes());
}

/// Which termios field a flag lives in.
#[derive(Debug, Clone, Copy)]
enum Field {
    Input,
    Output,
    Control,
    Local,
}

/// The byte that disables a special character. Platforms without `_POSIX_VDISABLE` in libc
/// use 0, as Linux does.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
const VDISABLE: cc_t = libc::_POSIX_VDISABLE;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
const VDISABLE: cc_t = 0;

/// `TTYCHAR` entries of OpenSSH's `ttymodes.h`: (opcode, `c_cc` index). `VFLUSH` (15) and
/// `VSWTCH` (16) have no constant in libc on the platforms we build for, as on Linux.
const CHARS: &[(u8, usize)] = &[
    (1, libc::VINTR),
    (2, libc::VQUIT),
    (3, libc::VERASE),
    (4, libc::VKILL),
    (5, libc::VEOF),
    (6, libc::VEOL),
    (7, libc::VEOL2),
    (8, libc::VSTART),
    (9, libc::VSTOP),
    (10, libc::VSUSP),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (11, libc::VDSUSP),
    (12, libc::VREPRINT),
    (13, libc::VWERASE),
    (14, libc::VLNEXT),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (17, libc::VSTATUS),
    (18, libc::VDISCARD),
];

/// `TTYMODE` entries of OpenSSH's `ttymodes.h`: (opcode, field, flag).
const FLAGS: &[(u8, Field, tcflag_t)] = &[
    (30, Field::Input, libc::IGNPAR),
    (31, Field::Input, libc::PARMRK),
    (32, Field::Input, libc::INPCK),
    (33, Field::Input, libc::ISTRIP),
    (34, Field::Input, libc::INLCR),
    (35, Field::Input, libc::IGNCR),
    (36, Field::Input, libc::ICRNL),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (37, Field::Input, libc::IUCLC),
    (38, Field::Input, libc::IXON),
    (39, Field::Input, libc::IXANY),
    (40, Field::Input, libc::IXOFF),
    (41, Field::Input, libc::IMAXBEL),
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios"
    ))]
    (TTY_OP_IUTF8, Field::Input, libc::IUTF8),
    (50, Field::Local, libc::ISIG),
    (51, Field::Local, libc::ICANON),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (52, Field::Local, libc::XCASE),
    (53, Field::Local, libc::ECHO),
    (54, Field::Local, libc::ECHOE),
    (55, Field::Local, libc::ECHOK),
    (56, Field::Local, libc::ECHONL),
    (57, Field::Local, libc::NOFLSH),
    (58, Field::Local, libc::TOSTOP),
    (59, Field::Local, libc::IEXTEN),
    (60, Field::Local, libc::ECHOCTL),
    (61, Field::Local, libc::ECHOKE),
    (62, Field::Local, libc::PENDIN),
    (70, Field::Output, libc::OPOST),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (71, Field::Output, libc::OLCUC),
    (72, Field::Output, libc::ONLCR),
    (73, Field::Output, libc::OCRNL),
    (74, Field::Output, libc::ONOCR),
    (75, Field::Output, libc::ONLRET),
    (90, Field::Control, libc::CS7),
    (91, Field::Control, libc::CS8),
    (92, Field::Control, libc::PARENB),
    (93, Field::Control, libc::PARODD),
];

/// OpenSSH's `speed_to_baud()`: the rates it knows, 9600 for any other (including the
/// faster Linux rates above 230400).
pub fn speed_to_baud(speed: u32) -> u32 {
    let speed = u64::from(speed);
    SPEEDS
        .iter()
        .find(|&&(constant, _)| u64::from(constant) == speed)
        .map_or(9600, |&(_, baud)| baud)
}

const SPEEDS: &[(libc::speed_t, u32)] = &[
    (libc::B0, 0),
    (libc::B50, 50),
    (libc::B75, 75),
    (libc::B110, 110),
    (libc::B134, 134),
    (libc::B150, 150),
    (libc::B200, 200),
    (libc::B300, 300),
    (libc::B600, 600),
    (libc::B1200, 1200),
    (libc::B1800, 1800),
    (libc::B2400, 2400),
    (libc::B4800, 4800),
    (libc::B9600, 9600),
    (libc::B19200, 19200),
    (libc::B38400, 38400),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::B7200, 7200),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::B14400, 14400),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::B28800, 28800),
    (libc::B57600, 57600),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::B76800, 76800),
    (libc::B115200, 115200),
    (libc::B230400, 230400),
];

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    /// A terminal as a fresh Linux pty has it (`stty -a` on one), at 38400 baud.
    fn linux_pty_modes() -> TtyModes {
        let mut chars = [0; libc::NCCS];
        for (index, value) in [
            (libc::VINTR, 3),
            (libc::VQUIT, 0x1c),
            (libc::VERASE, 0x7f),
            (libc::VKILL, 0x15),
            (libc::VEOF, 4),
            (libc::VSTART, 0x11),
            (libc::VSTOP, 0x13),
            (libc::VSUSP, 0x1a),
            (libc::VREPRINT, 0x12),
            (libc::VWERASE, 0x17),
            (libc::VLNEXT, 0x16),
            (libc::VDISCARD, 0x0f),
            (libc::VMIN, 1),
        ] {
            chars[index] = value;
        }
        TtyModes {
            input: libc::ICRNL | libc::IXON | libc::IUTF8,
            output: libc::OPOST | libc::ONLCR,
            control: libc::CS8 | libc::CREAD,
            local: libc::ISIG
                | libc::ICANON
                | libc::IEXTEN
                | libc::ECHO
                | libc::ECHOE
                | libc::ECHOK
                | libc::ECHOCTL
                | libc::ECHOKE,
            chars,
            ispeed: 38400,
            ospeed: 38400,
        }
    }

    /// The (opcode, value) pairs OpenSSH sends for [`linux_pty_modes`], in its order.
    const EXPECTED: &[(u8, u32)] = &[
        (129, 38400),
        (128, 38400),
        (1, 3),
        (2, 0x1c),
        (3, 0x7f),
        (4, 0x15),
        (5, 4),
        (6, 255), // VEOL is disabled (0 on Linux): sent as 255
        (7, 255),
        (8, 0x11),
        (9, 0x13),
        (10, 0x1a),
        (12, 0x12),
        (13, 0x17),
        (14, 0x16),
        (18, 0x0f),
        (30, 0),
        (31, 0),
        (32, 0),
        (33, 0),
        (34, 0),
        (35, 0),
        (36, 1),
        (37, 0),
        (38, 1),
        (39, 0),
        (40, 0),
        (41, 0),
        (42, 1),
        (50, 1),
        (51, 1),
        (52, 0),
        (53, 1),
        (54, 1),
        (55, 1),
        (56, 0),
        (57, 0),
        (58, 0),
        (59, 1),
        (60, 1),
        (61, 1),
        (62, 0),
        (70, 1),
        (71, 0),
        (72, 1),
        (73, 0),
        (74, 0),
        (75, 0),
        (90, 1), // CS8 includes the CS7 bit, and OpenSSH tests bits, not the size field
        (91, 1),
        (92, 0),
        (93, 0),
    ];

    fn encoded(pairs: &[(u8, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(op, value) in pairs {
            out.push(op);
            out.extend_from_slice(&value.to_be_bytes());
        }
        out.push(TTY_OP_END);
        out
    }

    #[test]
    fn encodes_a_linux_pty_like_openssh() {
        assert_eq!(linux_pty_modes().encode(false), encoded(EXPECTED));
    }

    #[test]
    fn omits_iutf8_for_servers_that_reject_it() {
        let without: Vec<(u8, u32)> = EXPECTED
            .iter()
            .copied()
            .filter(|&(op, _)| op != 42)
            .collect();
        assert_eq!(linux_pty_modes().encode(true), encoded(&without));
        assert!(peer_rejects_iutf8("ConfD-4.3"));
        assert!(!peer_rejects_iutf8("OpenSSH_9.2p1 Debian-2+deb12u10"));
    }

    #[test]
    fn raw_flags_and_seven_bit_terminals_encode_their_bits() {
        let mut modes = linux_pty_modes();
        modes.local = 0;
        modes.input = libc::IGNPAR | libc::IUCLC;
        modes.output = libc::OLCUC;
        modes.control = libc::CS7 | libc::PARENB | libc::PARODD;
        modes.chars[libc::VINTR] = 0;
        modes.ospeed = 9600;
        let bytes = modes.encode(false);
        let value = |op: u8| {
            let pos = (0..bytes.len())
                .step_by(5)
                .find(|&i| bytes[i] == op)
                .unwrap();
            u32::from_be_bytes(bytes[pos + 1..pos + 5].try_into().unwrap())
        };
        assert_eq!(value(129), 9600);
        assert_eq!(value(1), 255);
        assert_eq!((value(30), value(36), value(37)), (1, 0, 1));
        assert_eq!((value(50), value(51), value(53)), (0, 0, 0));
        assert_eq!((value(70), value(71), value(72)), (0, 1, 0));
        // CS7's bit is inside CS8's mask, so OpenSSH reports both for a 7-bit terminal too.
        assert_eq!((value(90), value(91), value(92), value(93)), (1, 1, 1, 1));
        assert_eq!(bytes.len(), 5 * EXPECTED.len() + 1);
        assert_eq!(bytes.last(), Some(&TTY_OP_END));
        modes.control = libc::CS5;
        let bytes = modes.encode(false);
        let cs = bytes.len() - 21;
        assert_eq!(bytes[cs..cs + 10], [90, 0, 0, 0, 0, 91, 0, 0, 0, 0]);
    }

    #[test]
    fn speeds_map_like_speed_to_baud() {
        assert_eq!(speed_to_baud(libc::B0), 0);
        assert_eq!(speed_to_baud(libc::B38400), 38400);
        assert_eq!(speed_to_baud(libc::B115200), 115200);
        assert_eq!(speed_to_baud(libc::B230400), 230400);
        // Rates OpenSSH does not list fall back to 9600.
        assert_eq!(speed_to_baud(libc::B460800), 9600);
        assert_eq!(speed_to_baud(libc::B4000000), 9600);
    }
}
