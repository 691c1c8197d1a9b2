//! The allowed_signers file of `ssh-keygen -Y verify` and `-Y find-principals`
//! (ssh-keygen(1) "ALLOWED SIGNERS"): `principals [options] key`, read line by line as
//! OpenSSH 9.2's sshsig.c does, with its error messages.
//!
//! Options are `namespaces="..."`, `valid-after="..."`, `valid-before="..."` and
//! `cert-authority`. Signatures made by certificates are not supported, so a
//! `cert-authority` line never matches (a plain key signature cannot match it in OpenSSH
//! either).
//!
//! Times: OpenSSH reads `YYYYMMDD[HHMM[SS]]` in the local zone unless it ends in `Z`.
//! oxssh-keygen reads no zone database, so both are taken as UTC (the same on the UTC
//! machines where packages are built and CI runs).

use oxssh_config::match_pattern_list;
use oxssh_keys::authorized_keys::ExpiryTime;
use oxssh_keys::PublicKey;

use super::super::log_line;
use super::super::time::format_time;

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The principals field as written (a pattern list).
    pub principals: String,
    /// The key.
    pub key: PublicKey,
    /// `cert-authority`.
    pub cert_authority: bool,
    /// `namespaces="..."` (a pattern list).
    pub namespaces: Option<String>,
    /// `valid-after` in Unix seconds.
    pub valid_after: Option<u64>,
    /// `valid-before` in Unix seconds.
    pub valid_before: Option<u64>,
}

/// What one line says about a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Blank, a comment, or (with a required principal) a line for someone else.
    Skip,
    /// A signer line.
    Signer(Signer),
    /// Malformed: ssh-keygen's reason after `PATH:LINE: `.
    Invalid(String),
}

/// Parses one line (`parse_principals_key_and_options`). With `required_principal`,
/// lines whose principals do not match it are skipped before their key is read.
pub fn parse_line(line: &str, required_principal: Option<&str>) -> Line {
    // The line keeps its newline, as getline(3) gives it: OpenSSH then reads an empty
    // line as an empty principal (a "missing key" error when no principal is wanted).
    let cp = line.trim_start_matches([' ', '\t']);
    if cp.starts_with('#') || cp.is_empty() {
        return Line::Skip;
    }
    let (principals, rest) = match cp.split_once([' ', '\t', '\r', '\n']) {
        Some((p, rest)) => (
            p,
            rest.trim_start_matches([' ', '\t', '\r', '\n'])
                .trim_end_matches(['\r', '\n']),
        ),
        None => return Line::Invalid("invalid line".into()),
    };
    if let Some(wanted) = required_principal {
        if !match_pattern_list(wanted, principals, false).is_match() {
            return Line::Skip;
        }
    }
    let (options, key_text) = match read_key(rest) {
        Some(key) => (None, key),
        None => {
            let end = match options_end(rest) {
                Some(end) => end,
                None => return Line::Invalid("invalid options".into()),
            };
            let (options, after) = rest.split_at(end);
            if after.is_empty() {
                return Line::Invalid("missing key".into());
            }
            match read_key(after.trim_start_matches([' ', '\t'])) {
                Some(key) => (Some(options), key),
                None => return Line::Invalid("invalid key".into()),
            }
        }
    };
    let mut signer = Signer {
        principals: principals.to_owned(),
        key: key_text,
        cert_authority: false,
        namespaces: None,
        valid_after: None,
        valid_before: None,
    };
    if let Some(options) = options {
        if let Err(reason) = parse_options(options, &mut signer) {
            return Line::Invalid(format!("bad options: {reason}"));
        }
    }
    Line::Signer(signer)
}

/// `sshkey_read` of a plain key: `type base64 [comment]`.
fn read_key(text: &str) -> Option<PublicKey> {
    super::super::inspect::read_key(text).map(|(key, _)| key)
}

/// `sshkey_advance_past_options`: the end of the options field (a blank outside
/// quotes), or `None` for an unterminated quote.
fn options_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if !quoted && (c == b' ' || c == b'\t') {
            return Some(i);
        }
        if c == b'\\' && bytes.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if c == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    (!quoted).then_some(text.len())
}

/// `sshsigopt_parse`: comma-separated options, each known name once.
fn parse_options(mut opts: &str, signer: &mut Signer) -> Result<(), &'static str> {
    while !opts.is_empty() {
        if let Some(rest) = flag(opts, "cert-authority") {
            signer.cert_authority = true;
            opts = rest;
        } else if let Some(rest) = valued(opts, "namespaces") {
            if signer.namespaces.is_some() {
                return Err("multiple \"namespaces\" clauses");
            }
            let (value, rest) = dequote(rest)?;
            signer.namespaces = Some(value);
            opts = rest;
        } else if let Some(rest) = valued(opts, "valid-after") {
            if signer.valid_after.is_some() {
                return Err("multiple \"valid-after\" clauses");
            }
            let (value, rest) = dequote(rest)?;
            signer.valid_after = Some(time(&value).ok_or("invalid \"valid-after\" time")?);
            opts = rest;
        } else if let Some(rest) = valued(opts, "valid-before") {
            if signer.valid_before.is_some() {
                return Err("multiple \"valid-before\" clauses");
            }
            let (value, rest) = dequote(rest)?;
            signer.valid_before = Some(time(&value).ok_or("invalid \"valid-before\" time")?);
            opts = rest;
        } else {
            return Err("unknown key option");
        }
        if opts.is_empty() {
            break;
        }
        opts = opts.strip_prefix(',').ok_or("unknown key option")?;
        if opts.is_empty() {
            return Err("unexpected end-of-options");
        }
    }
    if let (Some(after), Some(before)) = (signer.valid_after, signer.valid_before) {
        if before <= after {
            return Err("\"valid-before\" time is before \"valid-after\"");
        }
    }
    Ok(())
}

/// `opt_flag(name, 0, ...)`: the name (any case) followed by the end or a comma.
fn flag<'a>(opts: &'a str, name: &str) -> Option<&'a str> {
    let head = opts.get(..name.len())?;
    let rest = opts.get(name.len()..)?;
    (head.eq_ignore_ascii_case(name) && (rest.is_empty() || rest.starts_with(','))).then_some(rest)
}

/// `opt_match`: `name=` (any case); returns what follows the `=`.
fn valued<'a>(opts: &'a str, name: &str) -> Option<&'a str> {
    let head = opts.get(..name.len())?;
    let rest = opts.get(name.len()..)?.strip_prefix('=')?;
    head.eq_ignore_ascii_case(name).then_some(rest)
}

/// `opt_dequote`: a double-quoted value with `\"` escapes.
fn dequote(text: &str) -> Result<(String, &str), &'static str> {
    let body = text.strip_prefix('"').ok_or("missing start quote")?;
    let mut value = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, body.get(i + 1..).unwrap_or_default())),
            '\\' if chars.peek().is_some_and(|(_, n)| *n == '"') => {
                value.push('"');
                chars.next();
            }
            other => value.push(other),
        }
    }
    Err("missing end quote")
}

fn time(text: &str) -> Option<u64> {
    let parsed = ExpiryTime::parse(text)?;
    u64::try_from(parsed.to_unix(0)).ok().filter(|t| *t != 0)
}

/// Checks a validity window at `now`, logging ssh-keygen's message when it fails.
pub fn valid_at(signer: &Signer, now: u64, where_: &str) -> bool {
    if let Some(after) = signer.valid_after {
        if now < after {
            log_line(&format!(
                "{where_}: key is not yet valid: verify time {} < valid-after {}",
                format_time(now),
                format_time(after)
            ));
            return false;
        }
    }
    if let Some(before) = signer.valid_before {
        if now > before {
            log_line(&format!(
                "{where_}: key has expired: verify time {} > valid-before {}",
                format_time(now),
                format_time(before)
            ));
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c";

    fn signer(line: &str) -> Signer {
        match parse_line(line, None) {
            Line::Signer(s) => s,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn invalid(line: &str) -> String {
        match parse_line(line, None) {
            Line::Invalid(reason) => reason,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn plain_and_optioned_lines_parse() {
        let s = signer(&format!("me@x {KEY} comment\n"));
        assert_eq!(s.principals, "me@x");
        assert_eq!(s.namespaces, None);
        let s = signer(&format!(
            "a,*@x namespaces=\"git,fi\\\"le\",valid-after=\"20200101\",VALID-BEFORE=\"20990101Z\",cert-authority {KEY}"
        ));
        assert_eq!(s.namespaces.as_deref(), Some("git,fi\"le"));
        assert_eq!(s.valid_after, Some(1_577_836_800));
        assert!(s.valid_before.is_some());
        assert!(s.cert_authority);
    }

    #[test]
    fn blank_comment_and_other_principals_are_skipped() {
        assert_eq!(parse_line("# x\n", None), Line::Skip);
        assert_eq!(parse_line("   ", None), Line::Skip);
        assert_eq!(parse_line("\n", Some("me@x")), Line::Skip);
        assert_eq!(parse_line("garbage line", Some("me@x")), Line::Skip);
    }

    #[test]
    fn malformed_lines_give_ssh_keygen_reasons() {
        assert_eq!(invalid("garbage line"), "missing key");
        assert_eq!(invalid("lonely"), "invalid line");
        assert_eq!(invalid("lonely\n"), "missing key");
        assert_eq!(invalid("\n"), "missing key");
        assert_eq!(
            invalid(&format!("me valid-before=20200101 {KEY}")),
            "bad options: missing start quote"
        );
        assert_eq!(
            invalid(&format!("me bogus {KEY}")),
            "bad options: unknown key option"
        );
        assert_eq!(
            invalid(&format!("me namespaces=\"a\" valid-after=\"1\" {KEY}")),
            "invalid key"
        );
        assert_eq!(invalid("me namespaces=\"a b"), "invalid options");
        assert_eq!(
            invalid(&format!(
                "me valid-after=\"20300101\",valid-before=\"20200101\" {KEY}"
            )),
            "bad options: \"valid-before\" time is before \"valid-after\""
        );
    }
}
