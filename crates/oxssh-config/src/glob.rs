//! `glob(3)` for `Include`, over [`ConfigEnv::list_dir`] so tests need no real files.
//!
//! As OpenSSH calls it (`GLOB_TILDE`, sorted results): a leading `~` or `~/` is `$HOME`
//! (falling back to the password database), `~user` that user's home; each path component
//! with `*`, `?` or `[` is matched against the directory listing, without matching a leading
//! `.` implicitly; literal components are taken as they are. A pattern without wildcards
//! yields itself, and the reader then treats a missing file as "matched nothing".

use crate::env::ConfigEnv;
use crate::pattern::fnmatch;

fn has_magic(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Expands `~` the way `glob(3)` with `GLOB_TILDE` does; an unknown user leaves it alone.
fn glob_tilde(pattern: &str, env: &dyn ConfigEnv) -> String {
    let Some(rest) = pattern.strip_prefix('~') else {
        return pattern.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    let home = if user.is_empty() {
        env.var("HOME").unwrap_or_else(|| env.home_dir())
    } else {
        match env.user_home(user) {
            Some(h) => h,
            None => return pattern.to_string(),
        }
    };
    format!("{home}{tail}")
}

/// Expands an `Include` pattern into sorted paths. Unreadable directories match nothing.
pub(crate) fn glob(pattern: &str, env: &dyn ConfigEnv) -> Vec<String> {
    let expanded = glob_tilde(pattern, env);
    if !has_magic(&expanded) {
        return vec![expanded];
    }
    let absolute = expanded.starts_with('/');
    // Each candidate is a path prefix built so far.
    let mut candidates = vec![if absolute {
        String::from("/")
    } else {
        String::new()
    }];
    let components: Vec<&str> = expanded.split('/').filter(|c| !c.is_empty()).collect();
    for component in components {
        let mut next = Vec::new();
        for prefix in &candidates {
            let join = |name: &str| {
                if prefix.is_empty() || prefix.ends_with('/') {
                    format!("{prefix}{name}")
                } else {
                    format!("{prefix}/{name}")
                }
            };
            if !has_magic(component) {
                next.push(join(component));
                continue;
            }
            let dir = if prefix.is_empty() {
                "."
            } else {
                prefix.as_str()
            };
            if let Ok(names) = env.list_dir(dir) {
                next.extend(
                    names
                        .iter()
                        .filter(|n| fnmatch(component, n))
                        .map(|n| join(n)),
                );
            }
        }
        candidates = next;
    }
    candidates.sort();
    candidates.dedup();
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemoryEnv;

    #[test]
    fn globs_expand_sorted_and_skip_hidden_files() {
        let env = MemoryEnv::new()
            .with_file("/etc/ssh/ssh_config.d/b.conf", "")
            .with_file("/etc/ssh/ssh_config.d/a.conf", "")
            .with_file("/etc/ssh/ssh_config.d/.hidden.conf", "")
            .with_file("/etc/ssh/ssh_config.d/c.txt", "");
        assert_eq!(
            glob("/etc/ssh/ssh_config.d/*.conf", &env),
            vec![
                "/etc/ssh/ssh_config.d/a.conf",
                "/etc/ssh/ssh_config.d/b.conf"
            ]
        );
        assert!(glob("/nowhere/*.conf", &env).is_empty());
    }

    #[test]
    fn wildcards_in_directories_and_tilde() {
        let env = MemoryEnv::new()
            .with_var("HOME", "/home/alice")
            .with_file("/home/alice/.ssh/x/config", "")
            .with_file("/home/alice/.ssh/y/config", "")
            .with_file("/home/alice/.ssh/z/other", "");
        assert_eq!(
            glob("~/.ssh/*/config", &env),
            vec![
                "/home/alice/.ssh/x/config",
                "/home/alice/.ssh/y/config",
                "/home/alice/.ssh/z/config"
            ]
        );
        assert_eq!(glob("~/.ssh/plain", &env), vec!["/home/alice/.ssh/plain"]);
    }
}
