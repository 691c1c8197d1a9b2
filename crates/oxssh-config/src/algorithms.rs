//! Algorithm lists: validating `Ciphers`, `MACs`, `KexAlgorithms` and the key-type lists, and
//! assembling the final list from the caller's defaults with OpenSSH's edits:
//! - `a,b`: exactly these (each entry may be a wildcard pattern for key types);
//! - `+a,b`: the defaults followed by these (duplicates dropped);
//! - `-a*,b`: the defaults without anything matching these patterns;
//! - `^a,b`: these followed by the defaults.
//!
//! The configuration crate knows no algorithm itself: the caller (the CLI, from the crypto
//! provider's registry) passes what it supports and prefers in an [`AlgorithmLists`].
//! [`AlgorithmLists::openssh_9_2`] holds OpenSSH 9.2's lists for comparisons with `ssh -G`.

use crate::pattern::{filter_allowlist, filter_denylist, match_pattern_list, ListMatch};

/// One kind of algorithm: the default preference order and everything that is supported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmList {
    /// Names used when the configuration does not say otherwise, most preferred first.
    pub default: Vec<String>,
    /// Every supported name, in the order wildcard patterns expand to.
    pub all: Vec<String>,
}

impl AlgorithmList {
    /// Builds a list from string slices.
    pub fn new(default: &[&str], all: &[&str]) -> Self {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect();
        AlgorithmList {
            default: v(default),
            all: v(all),
        }
    }
}

/// Every algorithm kind a client configuration names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmLists {
    /// `Ciphers`.
    pub ciphers: AlgorithmList,
    /// `MACs`.
    pub macs: AlgorithmList,
    /// `KexAlgorithms`.
    pub kex: AlgorithmList,
    /// Key and signature types: `HostKeyAlgorithms`, `PubkeyAcceptedAlgorithms`,
    /// `HostbasedAcceptedAlgorithms` (wildcards allowed).
    pub key_types: AlgorithmList,
    /// `CASignatureAlgorithms`.
    pub ca_signatures: AlgorithmList,
}

/// The kind of name a list holds, which decides validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Cipher, MAC or key exchange names: each must be known, no wildcards.
    Exact,
    /// Key types: known names, or patterns that match at least one known name.
    KeyTypes,
}

/// Validates a configured list the way `readconf.c` does at parse time. Removal lists
/// (`-...`) are not checked; `+`/`^` lists are checked without their prefix.
pub(crate) fn valid_spec(spec: &str, all: &[String], kind: ListKind) -> bool {
    if spec.starts_with('-') {
        return true;
    }
    let names = spec
        .strip_prefix('+')
        .or_else(|| spec.strip_prefix('^'))
        .unwrap_or(spec);
    if names.is_empty() {
        return false;
    }
    match kind {
        // ciphers_valid / mac_valid / kex_names_valid: every comma-separated name is known.
        ListKind::Exact => first_unknown(names, all).is_none(),
        // sshkey_names_valid2 stops at the first empty name and accepts any pattern that
        // matches (or negatively matches) some known type.
        ListKind::KeyTypes => names.split(',').take_while(|n| !n.is_empty()).all(|n| {
            all.iter().any(|a| a == n)
                || all
                    .iter()
                    .any(|a| match_pattern_list(a, n, false) != ListMatch::NoMatch)
        }),
    }
}

/// The first name of a comma-separated list that is not in `all` (OpenSSH stops checking at
/// the first empty name).
pub(crate) fn first_unknown<'s>(names: &'s str, all: &[String]) -> Option<&'s str> {
    names
        .split(',')
        .take_while(|n| !n.is_empty())
        .find(|n| !all.iter().any(|a| a == n))
}

/// Why a list could not be assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// A `!` pattern in a list that is not a removal list.
    #[error("invalid argument")]
    Negation,
    /// The result would be empty.
    #[error("invalid argument")]
    Empty,
}

/// Appends the names of `b` missing from `a` (OpenSSH's `kex_names_cat`).
fn names_cat(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for n in b {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Assembles the final list from a configured value (`None` = not configured) and the caller's
/// defaults (OpenSSH's `kex_assemble_names`).
pub fn assemble(
    configured: Option<&str>,
    list: &AlgorithmList,
) -> Result<Vec<String>, AssembleError> {
    let spec = match configured {
        None | Some("") => return Ok(list.default.clone()),
        Some(s) => s,
    };
    let wanted = if let Some(rest) = spec.strip_prefix('+') {
        names_cat(&list.default, &split(rest))
    } else if let Some(rest) = spec.strip_prefix('-') {
        // Removal patterns are applied to the defaults and the result is used as is.
        return Ok(filter_denylist(&list.default, rest));
    } else if let Some(rest) = spec.strip_prefix('^') {
        names_cat(&split(rest), &list.default)
    } else {
        split(spec)
    };
    // Each remaining entry may be a pattern: expand it against everything supported, in the
    // order of the entries.
    let mut out: Vec<String> = Vec::new();
    for pat in wanted.iter().map(String::as_str) {
        if pat.starts_with('!') {
            return Err(AssembleError::Negation);
        }
        out = names_cat(&out, &filter_allowlist(&list.all, pat));
    }
    if out.is_empty() {
        return Err(AssembleError::Empty);
    }
    Ok(out)
}

impl AlgorithmLists {
    /// OpenSSH 9.2's client defaults and supported names (OpenSSL build), for comparing with
    /// `ssh -G` and for tests. oxssh's own lists come from its crypto provider.
    pub fn openssh_9_2() -> Self {
        let key_default = [
            "ssh-ed25519-cert-v01@openssh.com",
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            "ecdsa-sha2-nistp384-cert-v01@openssh.com",
            "ecdsa-sha2-nistp521-cert-v01@openssh.com",
            "sk-ssh-ed25519-cert-v01@openssh.com",
            "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
            "rsa-sha2-512-cert-v01@openssh.com",
            "rsa-sha2-256-cert-v01@openssh.com",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "sk-ssh-ed25519@openssh.com",
            "sk-ecdsa-sha2-nistp256@openssh.com",
            "rsa-sha2-512",
            "rsa-sha2-256",
        ];
        let key_all = [
            "ssh-ed25519",
            "ssh-ed25519-cert-v01@openssh.com",
            "sk-ssh-ed25519@openssh.com",
            "sk-ssh-ed25519-cert-v01@openssh.com",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp384-cert-v01@openssh.com",
            "ecdsa-sha2-nistp521",
            "ecdsa-sha2-nistp521-cert-v01@openssh.com",
            "sk-ecdsa-sha2-nistp256@openssh.com",
            "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
            "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
            "ssh-dss",
            "ssh-dss-cert-v01@openssh.com",
            "ssh-rsa",
            "ssh-rsa-cert-v01@openssh.com",
            "rsa-sha2-256",
            "rsa-sha2-256-cert-v01@openssh.com",
            "rsa-sha2-512",
            "rsa-sha2-512-cert-v01@openssh.com",
        ];
        AlgorithmLists {
            ciphers: AlgorithmList::new(
                &[
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                ],
                &[
                    "3des-cbc",
                    "aes128-cbc",
                    "aes192-cbc",
                    "aes256-cbc",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                    "chacha20-poly1305@openssh.com",
                ],
            ),
            macs: AlgorithmList::new(
                &[
                    "umac-64-etm@openssh.com",
                    "umac-128-etm@openssh.com",
                    "hmac-sha2-256-etm@openssh.com",
                    "hmac-sha2-512-etm@openssh.com",
                    "hmac-sha1-etm@openssh.com",
                    "umac-64@openssh.com",
                    "umac-128@openssh.com",
                    "hmac-sha2-256",
                    "hmac-sha2-512",
                    "hmac-sha1",
                ],
                &[
                    "hmac-sha1",
                    "hmac-sha1-96",
                    "hmac-sha2-256",
                    "hmac-sha2-512",
                    "hmac-md5",
                    "hmac-md5-96",
                    "umac-64@openssh.com",
                    "umac-128@openssh.com",
                    "hmac-sha1-etm@openssh.com",
                    "hmac-sha1-96-etm@openssh.com",
                    "hmac-sha2-256-etm@openssh.com",
                    "hmac-sha2-512-etm@openssh.com",
                    "hmac-md5-etm@openssh.com",
                    "hmac-md5-96-etm@openssh.com",
                    "umac-64-etm@openssh.com",
                    "umac-128-etm@openssh.com",
                ],
            ),
            kex: AlgorithmList::new(
                &[
                    "sntrup761x25519-sha512",
                    "sntrup761x25519-sha512@openssh.com",
                    "curve25519-sha256",
                    "curve25519-sha256@libssh.org",
                    "ecdh-sha2-nistp256",
                    "ecdh-sha2-nistp384",
                    "ecdh-sha2-nistp521",
                    "diffie-hellman-group-exchange-sha256",
                    "diffie-hellman-group16-sha512",
                    "diffie-hellman-group18-sha512",
                    "diffie-hellman-group14-sha256",
                ],
                &[
                    "diffie-hellman-group1-sha1",
                    "diffie-hellman-group14-sha1",
                    "diffie-hellman-group14-sha256",
                    "diffie-hellman-group16-sha512",
                    "diffie-hellman-group18-sha512",
                    "diffie-hellman-group-exchange-sha1",
                    "diffie-hellman-group-exchange-sha256",
                    "ecdh-sha2-nistp256",
                    "ecdh-sha2-nistp384",
                    "ecdh-sha2-nistp521",
                    "curve25519-sha256",
                    "curve25519-sha256@libssh.org",
                    "sntrup761x25519-sha512",
                    "sntrup761x25519-sha512@openssh.com",
                ],
            ),
            key_types: AlgorithmList::new(&key_default, &key_all),
            ca_signatures: AlgorithmList::new(
                &[
                    "ssh-ed25519",
                    "ecdsa-sha2-nistp256",
                    "ecdsa-sha2-nistp384",
                    "ecdsa-sha2-nistp521",
                    "sk-ssh-ed25519@openssh.com",
                    "sk-ecdsa-sha2-nistp256@openssh.com",
                    "rsa-sha2-512",
                    "rsa-sha2-256",
                ],
                &[
                    "ssh-ed25519",
                    "sk-ssh-ed25519@openssh.com",
                    "ecdsa-sha2-nistp256",
                    "ecdsa-sha2-nistp384",
                    "ecdsa-sha2-nistp521",
                    "sk-ecdsa-sha2-nistp256@openssh.com",
                    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
                    "ssh-dss",
                    "ssh-rsa",
                    "rsa-sha2-256",
                    "rsa-sha2-512",
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ciphers() -> AlgorithmList {
        AlgorithmLists::openssh_9_2().ciphers
    }

    fn asm(spec: &str, l: &AlgorithmList) -> String {
        assemble(Some(spec), l).unwrap().join(",")
    }

    #[test]
    fn plus_appends_without_duplicates() {
        let l = ciphers();
        assert_eq!(
            asm("+aes128-cbc,aes128-ctr", &l),
            "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-cbc"
        );
    }

    #[test]
    fn minus_removes_wildcard_matches() {
        let l = ciphers();
        assert_eq!(
            asm("-aes*-ctr", &l),
            "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        );
        assert_eq!(
            asm("-chacha20-poly1305@openssh.com,aes128*", &l),
            "aes192-ctr,aes256-ctr,aes256-gcm@openssh.com"
        );
        assert_eq!(asm("-bogus", &l), l.default.join(","));
    }

    #[test]
    fn caret_prepends() {
        let l = ciphers();
        assert_eq!(
            asm("^aes128-ctr,3des-cbc", &l),
            "aes128-ctr,3des-cbc,chacha20-poly1305@openssh.com,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        );
    }

    #[test]
    fn explicit_lists_replace_and_patterns_expand_in_supported_order() {
        let l = ciphers();
        assert_eq!(
            asm("aes256-ctr,aes128-ctr,aes256-ctr", &l),
            "aes256-ctr,aes128-ctr"
        );
        let k = AlgorithmLists::openssh_9_2().key_types;
        assert_eq!(
            asm("ssh-ed25519*", &k),
            "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com"
        );
        assert_eq!(
            assemble(Some("ssh-ed25519,!ssh-rsa"), &k),
            Err(AssembleError::Negation)
        );
        assert_eq!(assemble(None, &k).unwrap(), k.default);
    }

    #[test]
    fn validation_matches_readconf() {
        let all = ciphers().all;
        assert!(valid_spec("aes128-ctr", &all, ListKind::Exact));
        assert!(!valid_spec("aes*", &all, ListKind::Exact));
        assert!(!valid_spec("+", &all, ListKind::Exact));
        assert!(!valid_spec("+bogus", &all, ListKind::Exact));
        assert!(valid_spec("-bogus", &all, ListKind::Exact));
        let keys = AlgorithmLists::openssh_9_2().key_types.all;
        assert!(valid_spec("ssh-ed25519*", &keys, ListKind::KeyTypes));
        assert!(valid_spec(
            "ssh-ed25519,!ssh-rsa",
            &keys,
            ListKind::KeyTypes
        ));
        assert!(!valid_spec("zzz*", &keys, ListKind::KeyTypes));
        assert!(!valid_spec("+", &keys, ListKind::KeyTypes));
    }
}
