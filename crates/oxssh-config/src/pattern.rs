//! OpenSSH pattern matching (`match.c`): `*` and `?` wildcards, comma-separated pattern
//! lists with `!` negation, and the allow/deny filters used for algorithm lists.
//!
//! `Host` lines match each whitespace-separated pattern on its own with [`match_pattern`]
//! (commas are literal there); `Match host`, `Match user` and algorithm lists use pattern
//! lists where a negated match vetoes everything ([`match_pattern_list`]).

/// Longest sub-pattern OpenSSH accepts in a list (its buffer is 1024 bytes with the NUL).
const MAX_SUBPATTERN: usize = 1023;

/// Whether `s` matches `pattern`, where `*` matches any run of bytes and `?` any one byte.
/// Matching is case-sensitive and byte-wise, as in OpenSSH.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    wildcard(s.as_bytes(), pattern.as_bytes())
}

/// Iterative wildcard matching with one backtrack point. It accepts exactly the strings the
/// recursive `match_pattern` of OpenSSH accepts, without its exponential worst case.
fn wildcard(s: &[u8], p: &[u8]) -> bool {
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (p.get(pi), s.get(si)) {
            (Some(b'*'), _) => {
                star = Some((pi, si));
                pi += 1;
            }
            (Some(&pc), Some(&sc)) if pc == b'?' || pc == sc => {
                pi += 1;
                si += 1;
            }
            (None, None) => return true,
            _ => match star {
                // Let the last `*` swallow one more byte and retry.
                Some((sp, ss)) if ss < s.len() => {
                    star = Some((sp, ss + 1));
                    pi = sp + 1;
                    si = ss + 1;
                }
                _ => return false,
            },
        }
    }
}

/// The outcome of matching against a pattern list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMatch {
    /// No pattern matched.
    NoMatch,
    /// A positive pattern matched and no negated one did.
    Match,
    /// A negated (`!`) pattern matched: this vetoes any positive match.
    Negated,
}

impl ListMatch {
    /// True only for [`ListMatch::Match`].
    pub fn is_match(self) -> bool {
        self == ListMatch::Match
    }
}

/// Matches `s` against a comma-separated list of patterns, each optionally negated with `!`.
/// With `lowercase_patterns` the patterns (not `s`) are lower-cased first.
pub fn match_pattern_list(s: &str, list: &str, lowercase_patterns: bool) -> ListMatch {
    let mut positive = false;
    let mut rest = list;
    while !rest.is_empty() {
        let (negated, body) = match rest.strip_prefix('!') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let (sub, next) = match body.find(',') {
            Some(i) => (body.get(..i).unwrap_or(""), body.get(i + 1..).unwrap_or("")),
            None => (body, ""),
        };
        // OpenSSH gives up on the whole list when one pattern overflows its buffer.
        if sub.len() >= MAX_SUBPATTERN {
            return ListMatch::NoMatch;
        }
        let matched = if lowercase_patterns {
            match_pattern(s, &sub.to_ascii_lowercase())
        } else {
            match_pattern(s, sub)
        };
        if matched {
            if negated {
                return ListMatch::Negated;
            }
            positive = true;
        }
        rest = next;
    }
    if positive {
        ListMatch::Match
    } else {
        ListMatch::NoMatch
    }
}

/// Matches a host name against a pattern list, case-insensitively (both sides lower-cased).
pub fn match_hostname(host: &str, list: &str) -> ListMatch {
    match_pattern_list(&host.to_ascii_lowercase(), list, true)
}

/// The names of `proposal` (comma-separated) that match the pattern list `filter`, in
/// `proposal` order (OpenSSH's `match_filter_allowlist`).
pub fn filter_allowlist(proposal: &[String], filter: &str) -> Vec<String> {
    proposal
        .iter()
        .filter(|name| match_pattern_list(name, filter, false).is_match())
        .cloned()
        .collect()
}

/// The names of `proposal` that do not match the pattern list `filter`
/// (OpenSSH's `match_filter_denylist`).
pub fn filter_denylist(proposal: &[String], filter: &str) -> Vec<String> {
    proposal
        .iter()
        .filter(|name| !match_pattern_list(name, filter, false).is_match())
        .cloned()
        .collect()
}

/// Shell-style matching of one file name for `Include` globs: `*`, `?`, `[...]` classes with
/// ranges and `!`/`^` negation, `\` escapes; a leading `.` must be matched literally.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    fn go(p: &[u8], s: &[u8]) -> bool {
        let Some((&pc, prest)) = p.split_first() else {
            return s.is_empty();
        };
        match pc {
            b'*' => (0..=s.len()).any(|i| go(prest, s.get(i..).unwrap_or(&[]))),
            b'?' => s.split_first().is_some_and(|(_, srest)| go(prest, srest)),
            b'[' => {
                let Some((&sc, srest)) = s.split_first() else {
                    return false;
                };
                match class(prest, sc) {
                    Some((true, after)) => go(after, srest),
                    Some((false, _)) => false,
                    // An unclosed `[` is an ordinary character.
                    None => sc == b'[' && go(prest, srest),
                }
            }
            b'\\' if !prest.is_empty() => match (prest.split_first(), s.split_first()) {
                (Some((&e, prest)), Some((&sc, srest))) => e == sc && go(prest, srest),
                _ => false,
            },
            _ => s
                .split_first()
                .is_some_and(|(&sc, srest)| sc == pc && go(prest, srest)),
        }
    }
    /// Matches `c` against the class starting after `[`; returns (matched, rest of pattern).
    fn class(p: &[u8], c: u8) -> Option<(bool, &[u8])> {
        let (negate, mut p) = match p.split_first() {
            Some((b'!' | b'^', rest)) => (true, rest),
            _ => (false, p),
        };
        let mut matched = false;
        let mut first = true;
        loop {
            let (&lo, rest) = p.split_first()?;
            if lo == b']' && !first {
                return Some((matched != negate, rest));
            }
            first = false;
            match rest {
                [b'-', hi, tail @ ..] if *hi != b']' => {
                    if lo <= c && c <= *hi {
                        matched = true;
                    }
                    p = tail;
                }
                _ => {
                    if lo == c {
                        matched = true;
                    }
                    p = rest;
                }
            }
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_openssh() {
        assert!(match_pattern("example.com", "*.com"));
        assert!(match_pattern("example.com", "ex?mple.*"));
        assert!(match_pattern("", "*"));
        assert!(match_pattern("abc", "a**c"));
        assert!(!match_pattern("abc", "a?"));
        assert!(!match_pattern("Example.com", "example.com"));
        assert!(match_pattern("aaab", "*a*b"));
        assert!(!match_pattern("aaac", "*a*b"));
        assert!(match_pattern("a,b", "a,b"));
    }

    #[test]
    fn pattern_lists_with_negation() {
        assert_eq!(
            match_pattern_list("foo1", "foo*,!foobar", false),
            ListMatch::Match
        );
        assert_eq!(
            match_pattern_list("foobar", "foo*,!foobar", false),
            ListMatch::Negated
        );
        assert_eq!(match_pattern_list("x", "foo*", false), ListMatch::NoMatch);
        assert_eq!(match_pattern_list("x", "!y", false), ListMatch::NoMatch);
        assert_eq!(
            match_pattern_list("bob", "ALICE,BOB", true),
            ListMatch::Match
        );
        assert_eq!(
            match_hostname("Host.Example", "*.example"),
            ListMatch::Match
        );
    }

    #[test]
    fn overlong_subpattern_never_matches() {
        let long = "a".repeat(1100);
        assert_eq!(match_pattern_list(&long, &long, false), ListMatch::NoMatch);
    }

    #[test]
    fn allow_and_deny_filters_keep_proposal_order() {
        let p: Vec<String> = ["aes128-ctr", "aes256-ctr", "chacha20"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            filter_allowlist(&p, "aes*"),
            vec!["aes128-ctr", "aes256-ctr"]
        );
        assert_eq!(filter_denylist(&p, "aes*-ctr"), vec!["chacha20"]);
    }

    #[test]
    fn fnmatch_classes_and_hidden_files() {
        assert!(fnmatch("*.conf", "a.conf"));
        assert!(!fnmatch("*.conf", ".a.conf"));
        assert!(fnmatch(".*", ".hidden"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(!fnmatch("[!a-c]x", "bx"));
        assert!(fnmatch("[]]", "]"));
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
        assert!(fnmatch("[x", "[x"));
    }
}
