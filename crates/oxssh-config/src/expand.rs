//! `%` tokens, `${VAR}` environment references and `~` home-directory expansion, as
//! OpenSSH's `percent_expand`, `dollar_expand` and `tilde_expand` do them.
//!
//! Which keyword gets which expansion is decided by the caller (see `resolve.rs`); this
//! module only knows how to expand. The token values of one connection are a
//! [`TokenContext`], which the resolved configuration keeps so that values expanded later
//! (IdentityFile, ProxyCommand, LocalCommand, ...) see the same ones.

use crate::env::ConfigEnv;

/// Why an expansion failed; `Display` gives OpenSSH's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// `%x` with an unknown `x`.
    #[error("unknown key %{0}")]
    UnknownKey(char),
    /// A lone `%` at the end of the string.
    #[error("invalid format")]
    InvalidFormat,
    /// `${VAR` without the closing brace.
    #[error("environment variable '{0}' missing closing '}}'")]
    Unclosed(String),
    /// `${}`.
    #[error("zero-length environment variable")]
    EmptyVariable,
    /// `${VAR}` where `VAR` is not set.
    #[error("env var ${{{0}}} has no value")]
    MissingVariable(String),
    /// `~user` for an unknown user.
    #[error("No such user {0}")]
    NoSuchUser(String),
    /// `%C` was used but no SHA-1 hasher was supplied.
    #[error("%C needs a connection hasher (SHA-1), which the caller did not supply")]
    NoConnectionHasher,
}

/// The fatal error OpenSSH reports when expanding a keyword fails: the detail line, then
/// `<function>: failed` (or `invalid environment variable expansion` for an unset `${VAR}`).
/// `function` is `percent_expand` for keywords without `${VAR}` support.
pub(crate) fn expansion_fatal(e: &ExpandError, function: &str) -> crate::ConfigError {
    use crate::error::{ConfigError, FatalKind};
    let (kind, detail, message) = match e {
        ExpandError::NoConnectionHasher => (FatalKind::NoConnectionHasher, None, e.to_string()),
        ExpandError::NoSuchUser(_) => (FatalKind::Expansion, None, format!("tilde_expand: {e}")),
        ExpandError::MissingVariable(_) => (
            FatalKind::Expansion,
            Some(format!("vdollar_percent_expand: {e}")),
            "invalid environment variable expansion".to_string(),
        ),
        _ => (
            FatalKind::Expansion,
            Some(format!("vdollar_percent_expand: {e}")),
            format!("{function}: failed"),
        ),
    };
    ConfigError::fatal(kind, message).with_preceding(detail.into_iter().collect())
}

/// Expands `%x` tokens from `tokens` and, when `env` is given, `${VAR}` references.
///
/// `%%` is a literal `%`. Like OpenSSH, a missing variable does not stop the scan (so a later
/// syntax error still wins), but the expansion fails.
pub fn percent_dollar_expand(
    s: &str,
    tokens: &[(char, &str)],
    env: Option<&dyn ConfigEnv>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut missing: Option<String> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(env) = env {
            if c == '$' && s.get(i + 1..).is_some_and(|r| r.starts_with('{')) {
                let body = s.get(i + 2..).unwrap_or("");
                let Some(end) = body.find('}') else {
                    return Err(ExpandError::Unclosed(body.to_string()));
                };
                let name = body.get(..end).unwrap_or("");
                if name.is_empty() {
                    return Err(ExpandError::EmptyVariable);
                }
                match env.var(name) {
                    Some(v) => out.push_str(&v),
                    None => missing = missing.or_else(|| Some(name.to_string())),
                }
                // Skip `{name}`.
                let skip_to = i + 2 + end;
                while chars.peek().is_some_and(|&(j, _)| j <= skip_to) {
                    chars.next();
                }
                continue;
            }
        }
        if c != '%' || tokens.is_empty() {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => return Err(ExpandError::InvalidFormat),
            Some((_, '%')) => out.push('%'),
            Some((_, k)) => match tokens.iter().find(|(t, _)| *t == k) {
                Some((_, v)) => out.push_str(v),
                None => return Err(ExpandError::UnknownKey(k)),
            },
        }
    }
    match missing {
        Some(name) => Err(ExpandError::MissingVariable(name)),
        None => Ok(out),
    }
}

/// Expands only `${VAR}` references (OpenSSH's `dollar_expand`).
pub fn dollar_expand(s: &str, env: &dyn ConfigEnv) -> Result<String, ExpandError> {
    percent_dollar_expand(s, &[], Some(env))
}

/// Expands a leading `~`, `~/` or `~user/` (OpenSSH's `tilde_expand`). The current user's
/// home comes from the password database, not `$HOME`.
pub fn tilde_expand(path: &str, env: &dyn ConfigEnv) -> Result<String, ExpandError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    let (home, tail) = if rest.is_empty() || rest.starts_with('/') {
        (env.home_dir(), rest.trim_start_matches('/'))
    } else {
        let (user, tail) = match rest.find('/') {
            Some(i) => (
                rest.get(..i).unwrap_or(""),
                rest.get(i + 1..).unwrap_or("").trim_start_matches('/'),
            ),
            None => (rest, ""),
        };
        let home = env
            .user_home(user)
            .ok_or_else(|| ExpandError::NoSuchUser(user.to_string()))?;
        (home, tail)
    };
    let slash = if home.ends_with('/') { "" } else { "/" };
    Ok(format!("{home}{slash}{tail}"))
}

/// The values of the `%` tokens for one connection (OpenSSH's `ssh_conn_info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenContext {
    /// `%l`: the local host name.
    pub local_host: String,
    /// `%L`: the local host name up to the first dot.
    pub short_local_host: String,
    /// `%p`: the remote port.
    pub port: String,
    /// `%i`: the local uid.
    pub uid: String,
    /// `%k`: HostKeyAlias if set, else the host name as given on the command line.
    pub key_alias: String,
    /// `%n`: the host name as given on the command line.
    pub host_arg: String,
    /// `%h`: the remote host name after HostName and canonicalisation.
    pub remote_host: String,
    /// `%d`: the local user's home directory.
    pub home_dir: String,
    /// `%u`: the local user name.
    pub local_user: String,
    /// `%r`: the remote user name.
    pub remote_user: String,
    /// `%j`: the ProxyJump host, or empty. (OpenSSH 9.2 does not know `%j`; later releases
    /// do, and accepting it changes no 9.2-valid configuration.)
    pub jump_host: String,
    /// `%C`: SHA-1 hex of `%l%h%p%r`, when a hasher was supplied.
    pub connection_hash: Option<String>,
}

impl TokenContext {
    /// The tokens most client keywords accept, as (letter, value) pairs.
    fn pairs(&self) -> Vec<(char, &str)> {
        let mut v = vec![
            ('L', self.short_local_host.as_str()),
            ('i', &self.uid),
            ('k', &self.key_alias),
            ('l', &self.local_host),
            ('n', &self.host_arg),
            ('p', &self.port),
            ('d', &self.home_dir),
            ('h', &self.remote_host),
            ('r', &self.remote_user),
            ('u', &self.local_user),
            ('j', &self.jump_host),
        ];
        if let Some(c) = &self.connection_hash {
            v.push(('C', c));
        }
        v
    }

    /// Expands `%` tokens only (RemoteCommand, LocalCommand, forwarding socket paths).
    pub fn expand(&self, s: &str) -> Result<String, ExpandError> {
        self.check_hash(s)?;
        percent_dollar_expand(s, &self.pairs(), None)
    }

    /// Expands `%` tokens and `${VAR}` (ControlPath, IdentityAgent, UserKnownHostsFile, ...).
    pub fn expand_with_env(&self, s: &str, env: &dyn ConfigEnv) -> Result<String, ExpandError> {
        self.check_hash(s)?;
        percent_dollar_expand(s, &self.pairs(), Some(env))
    }

    /// Expands `~` first, then `%` tokens and `${VAR}` (IdentityFile, CertificateFile, ...).
    pub fn expand_path(&self, s: &str, env: &dyn ConfigEnv) -> Result<String, ExpandError> {
        let t = tilde_expand(s, env)?;
        self.expand_with_env(&t, env)
    }

    /// `%C` without a hasher gets its own error instead of "unknown key".
    fn check_hash(&self, s: &str) -> Result<(), ExpandError> {
        if self.connection_hash.is_none() && uses_token(s, 'C') {
            return Err(ExpandError::NoConnectionHasher);
        }
        Ok(())
    }
}

/// Whether `s` uses the token `%t` (ignoring `%%`).
pub(crate) fn uses_token(s: &str, t: char) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(k) if k == t => return true,
                _ => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemoryEnv;

    fn ctx() -> TokenContext {
        TokenContext {
            local_host: "box.example.org".into(),
            short_local_host: "box".into(),
            port: "22".into(),
            uid: "1000".into(),
            key_alias: "h".into(),
            host_arg: "h".into(),
            remote_host: "h.example".into(),
            home_dir: "/home/alice".into(),
            local_user: "alice".into(),
            remote_user: "bob".into(),
            jump_host: String::new(),
            connection_hash: Some("abc".into()),
        }
    }

    #[test]
    fn every_token_expands() {
        let s = ctx()
            .expand("%%_%h_%p_%r_%u_%l_%L_%n_%d_%i_%k_%C_%j.")
            .unwrap();
        assert_eq!(
            s,
            "%_h.example_22_bob_alice_box.example.org_box_h_/home/alice_1000_h_abc_."
        );
    }

    #[test]
    fn bad_tokens_are_errors() {
        assert_eq!(ctx().expand("%T"), Err(ExpandError::UnknownKey('T')));
        assert_eq!(ctx().expand("a%"), Err(ExpandError::InvalidFormat));
        let mut no_hash = ctx();
        no_hash.connection_hash = None;
        assert_eq!(no_hash.expand("%C"), Err(ExpandError::NoConnectionHasher));
        assert_eq!(no_hash.expand("%%C").as_deref(), Ok("%C"));
    }

    #[test]
    fn environment_references() {
        let env = MemoryEnv::new().with_var("X", "1");
        assert_eq!(dollar_expand("a${X}b", &env).as_deref(), Ok("a1b"));
        assert_eq!(dollar_expand("$X", &env).as_deref(), Ok("$X"));
        assert_eq!(
            dollar_expand("${NOPE}", &env),
            Err(ExpandError::MissingVariable("NOPE".into()))
        );
        assert_eq!(
            dollar_expand("${X", &env),
            Err(ExpandError::Unclosed("X".into()))
        );
        assert_eq!(dollar_expand("${}", &env), Err(ExpandError::EmptyVariable));
        // Without an environment `${...}` is literal.
        assert_eq!(ctx().expand("${X}").as_deref(), Ok("${X}"));
        assert_eq!(
            ctx().expand_with_env("%h${X}", &env).as_deref(),
            Ok("h.example1")
        );
    }

    #[test]
    fn tilde_forms() {
        let mut env = MemoryEnv::new();
        env.users.insert("bob".into(), "/home/bob/".into());
        assert_eq!(tilde_expand("~", &env).as_deref(), Ok("/home/alice/"));
        assert_eq!(tilde_expand("~/", &env).as_deref(), Ok("/home/alice/"));
        assert_eq!(tilde_expand("~//x", &env).as_deref(), Ok("/home/alice/x"));
        assert_eq!(tilde_expand("~bob/k", &env).as_deref(), Ok("/home/bob/k"));
        assert_eq!(tilde_expand("/a/~", &env).as_deref(), Ok("/a/~"));
        assert_eq!(
            tilde_expand("~carol/x", &env),
            Err(ExpandError::NoSuchUser("carol".into()))
        );
    }
}
