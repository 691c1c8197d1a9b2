//! `ls -l` lines as OpenSSH's `sftp-server` puts them in SSH_FXP_NAME's long names (and
//! `sftp`'s `ls -l` prints when a server sends none): mode, links, owner, group, size,
//! date (time within six months, else year), name.

use crate::codec::{Attrs, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;

/// `drwxr-xr-x` for an `st_mode`.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFREG => '-',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    let special = |exec: bool, set: bool, lower: char, upper: char| match (exec, set) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(mode & 0o100 != 0, mode & 0o4000 != 0, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(mode & 0o010 != 0, mode & 0o2000 != 0, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(mode & 0o001 != 0, mode & 0o1000 != 0, 't', 'T'));
    s
}

/// The date column: `Mon dd HH:MM` within six months of `now`, else `Mon dd  YYYY`.
pub fn date(mtime: i64, now: i64) -> String {
    static ZONE: std::sync::OnceLock<oxssh_os::login_records::TimeZone> =
        std::sync::OnceLock::new();
    let tz = ZONE.get_or_init(oxssh_os::login_records::TimeZone::local);
    // "Www Mmm dd hh:mm:ss yyyy"
    let text = oxssh_os::login_records::ctime(mtime, tz);
    let (Some(month_day), Some(clock), Some(year)) =
        (text.get(4..10), text.get(11..16), text.get(20..24))
    else {
        return text;
    };
    const SIX_MONTHS: i64 = 365 * 86400 / 2;
    if mtime <= now && now - mtime < SIX_MONTHS {
        format!("{month_day} {clock}")
    } else {
        format!("{month_day}  {year}")
    }
}

/// The long name of `name` with `attrs`, `nlink` links, owner and group names.
pub fn long_name(name: &str, attrs: &Attrs, nlink: u64, user: &str, group: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mode = mode_string(attrs.permissions.unwrap_or(0));
    let mtime = attrs.times.map_or(0, |(_, m)| i64::from(m));
    format!(
        // Two spaces: strmode's eleventh column (no alternate access method) and the
        // separator, as OpenSSH's sftp-server writes long names.
        "{mode}  {nlink:>3} {user:<8} {group:<8} {size:>8} {date} {name}",
        size = attrs.size.unwrap_or(0),
        date = date(mtime, now),
    )
}

/// A user or group column: the name, else the number.
pub fn owner_column(name: Option<String>, id: u32) -> String {
    name.unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings_match_ls() {
        assert_eq!(mode_string(0o040_755), "drwxr-xr-x");
        assert_eq!(mode_string(0o100_644), "-rw-r--r--");
        assert_eq!(mode_string(0o120_777), "lrwxrwxrwx");
        assert_eq!(mode_string(0o104_755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o041_777), "drwxrwxrwt");
        assert_eq!(mode_string(0o102_644), "-rw-r-Sr--");
    }
}
