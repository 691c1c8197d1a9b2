//! The rcp protocol's header lines (`T`, `C`/`D`) and the name checks on what a
//! source sends.

// The protocol's step and stop types come from the parent module.
use super::*;

/// `T<mtime> <usec> <atime> <usec>` (the `T` already read).
pub(super) fn parse_times(text: &str) -> Step<(u64, u64)> {
    let bad = || Stop::Fatal("protocol error: mtime.sec not delimited".into());
    let mut words = text.split(' ');
    let mtime = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let _ = words
        .next()
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let atime = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let _ = words
        .next()
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or_else(bad)?;
    Ok((mtime, atime))
}

/// `<mode> <size> <name>` (the `C` or `D` already read).
pub(super) fn parse_entry(text: &str) -> Step<(u32, u64, &str)> {
    let (mode, rest) = text
        .split_once(' ')
        .ok_or_else(|| Stop::Fatal("protocol error: bad mode".into()))?;
    let mode = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| mode.len() == 4 && *m <= 0o7777)
        .ok_or_else(|| Stop::Fatal("protocol error: bad mode".into()))?;
    let (size, name) = rest
        .split_once(' ')
        .ok_or_else(|| Stop::Fatal("protocol error: size not delimited".into()))?;
    let size = size
        .parse()
        .map_err(|_| Stop::Fatal("protocol error: size not delimited".into()))?;
    Ok((mode & MODE_MASK, size, name))
}

/// Refuses names that would leave the target, and (without `-r`/`-T`) names that are
/// not what was asked for. `.` is refused too, as scp 9.2's sink refuses it.
pub(super) fn check_name(name: &str, pattern: Option<&str>) -> Step<()> {
    if name.is_empty() || name.contains('/') || name == ".." || name == "." {
        let shown = crate::width::escape(name);
        return Err(Stop::Fatal(format!("error: unexpected filename: {shown}")));
    }
    if let Some(pattern) = pattern {
        // Brace and bracket patterns are the remote shell's business: not checked.
        if !pattern.contains(['[', '{']) && !glob_match(pattern.as_bytes(), name.as_bytes()) {
            return Err(Stop::Fatal(
                "protocol error: filename does not match request".into(),
            ));
        }
    }
    Ok(())
}

/// `*` and `?` matching, as fnmatch without flags.
pub(super) fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}
