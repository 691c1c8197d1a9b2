//! `-Y verify`, `-Y check-novalidate` and `-Y find-principals`: ssh-keygen 9.2's
//! `sig_verify` and `sig_find_principals`, with their messages, their stdout lines
//! (`Good "NS" signature for ID with TYPE key FP`, `Could not verify signature.`) and
//! exit statuses (0, or 255 for every failure).

use std::path::Path;

use oxssh_keys::fingerprint::{type_label, Fingerprint};
use oxssh_keys::sshsig::{self, SshSig, SshSigError};
use oxssh_keys::PublicKey;
use oxssh_wire::names::key as names;

use super::super::args::Options;
use super::super::{log_line, strerror, Failure, EXIT_FATAL};
use super::allowed::{self, Line, Signer};

/// Reads and parses the signature file, logging ssh-keygen's errors; `caller` is the
/// function name OpenSSH's `error_f` puts before its messages.
fn read_signature(path: &Path, caller: &str) -> Option<SshSig> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            log_line(&format!("Couldn't read signature file: {}", strerror(&e)));
            return None;
        }
    };
    match SshSig::from_armored(&bytes) {
        Ok(sig) => Some(sig),
        Err(SshSigError::MissingHeader) => {
            log_line("Couldn't parse signature: missing header");
            log_line(&format!("{caller}: sshsig_armor: incomplete message"));
            None
        }
        Err(SshSigError::Version(v)) => {
            log_line(&format!(
                "Signature version {v} is larger than supported version 1"
            ));
            None
        }
        Err(e) => {
            log_line(&format!("Couldn't parse signature: {e}"));
            None
        }
    }
}

/// `sshsig_wrap_verify`: the namespace, the algorithm, then the signature over the
/// hash of standard input.
fn check_signature(sig: &SshSig, ns: &str) -> bool {
    if sig.namespace != ns {
        log_line("Couldn't verify signature: namespace does not match");
        return false;
    }
    let rsa = matches!(sig.public_key, PublicKey::Rsa { .. });
    if rsa && ![names::RSA_SHA2_512, names::RSA_SHA2_256].contains(&sig.algorithm.as_str()) {
        log_line(&format!(
            "RSA signature made with {} is not allowed for RSA key",
            sig.algorithm
        ));
        return false;
    }
    let provider = oxssh_crypto::default_provider();
    let Some(alg) = provider
        .signature(&sig.algorithm)
        .filter(|alg| alg.key_type() == sig.public_key.key_type())
    else {
        log_line("Signature verification failed: key type mismatch");
        return false;
    };
    let digest = match sig.hash.digest_reader(std::io::stdin().lock()) {
        Ok(digest) => digest,
        Err(e) => {
            log_line(&format!("Couldn't hash input: {}", strerror(&e)));
            return false;
        }
    };
    let Ok(data) = sshsig::signed_data(ns, sig.hash, &digest) else {
        log_line("Signature verification failed: invalid format");
        return false;
    };
    if alg.verify(&sig.public_key, &data, &sig.signature).is_err() {
        log_line("Signature verification failed: incorrect signature");
        return false;
    }
    true
}

/// The lines of an allowed signers file, or ssh-keygen's error when it cannot be read.
fn read_allowed(path: &Path) -> Option<Vec<String>> {
    match std::fs::File::open(path) {
        // Lines keep their newline: see `allowed::parse_line`.
        Ok(mut file) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
            Some(
                bytes
                    .split_inclusive(|&b| b == b'\n')
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect(),
            )
        }
        Err(e) => {
            log_line(&format!(
                "Unable to open allowed keys file \"{}\": {}",
                path.display(),
                strerror(&e)
            ));
            None
        }
    }
}

/// The signers in `lines` whose key is `key`, each with its `PATH:LINE` for messages;
/// malformed lines are reported and skipped, as OpenSSH does.
fn matching_signers<'a>(
    lines: &'a [String],
    path: &'a Path,
    key: &'a PublicKey,
    principal: Option<&'a str>,
) -> impl Iterator<Item = (Signer, String)> + 'a {
    lines.iter().enumerate().filter_map(move |(index, line)| {
        let where_ = format!("{}:{}", path.display(), index + 1);
        match allowed::parse_line(line, principal) {
            Line::Skip => None,
            Line::Invalid(reason) => {
                log_line(&format!("{where_}: {reason}"));
                None
            }
            // Signatures by certificates are not supported, so a CA line never matches.
            Line::Signer(s) => (!s.cert_authority && s.key == *key).then_some((s, where_)),
        }
    })
}

/// `sshsig_check_allowed_keys`: a line for `principal` with the signing key that
/// permits the namespace and is valid now.
fn allowed_to_sign(path: &Path, key: &PublicKey, principal: &str, ns: &str, now: u64) -> bool {
    let Some(lines) = read_allowed(path) else {
        return false;
    };
    let found = matching_signers(&lines, path, key, Some(principal)).any(|(signer, where_)| {
        if let Some(namespaces) = &signer.namespaces {
            if !oxssh_config::match_pattern_list(ns, namespaces, false).is_match() {
                log_line(&format!(
                    "{where_}: key is not permitted for use in signature namespace \"{ns}\""
                ));
                return false;
            }
        }
        allowed::valid_at(&signer, now, &where_)
    });
    found
}

/// `-Y verify` (with `allowed` = the signers file and the identity) or
/// `-Y check-novalidate` (without): the signature file against standard input.
/// `verify_time` is `None` when `-O` was wrong (already reported).
///
/// # Errors
/// Exit 255 after `Could not verify signature.`.
pub fn verify(
    opts: &Options,
    sig_path: &Path,
    ns: &str,
    allowed: Option<(&Path, &str)>,
    verify_time: Option<u64>,
) -> Result<(), Failure> {
    let sig = verify_time.and_then(|_| read_signature(sig_path, "sig_verify"));
    let good = sig.as_ref().zip(verify_time).is_some_and(|(sig, now)| {
        check_signature(sig, ns)
            && allowed.is_none_or(|(path, principal)| {
                allowed_to_sign(path, &sig.public_key, principal, ns, now)
            })
    });
    if let (true, Some(sig)) = (good, &sig) {
        if !opts.quiet {
            let fp = Fingerprint::of(&sig.public_key, opts.hash);
            let label = type_label(&sig.public_key);
            match allowed {
                Some((_, principal)) => {
                    println!("Good \"{ns}\" signature for {principal} with {label} key {fp}")
                }
                None => println!("Good \"{ns}\" signature with {label} key {fp}"),
            }
        }
        return Ok(());
    }
    if !opts.quiet {
        println!("Could not verify signature.");
    }
    Err(Failure::exit(EXIT_FATAL))
}

/// `-Y find-principals -s SIG -f ALLOWED`: the principals of the first line with the
/// signature's key that is valid now, one per line.
///
/// # Errors
/// Exit 255 after `No principal matched.`.
pub fn find_principals(
    sig_path: &Path,
    allowed_path: &Path,
    verify_time: Option<u64>,
) -> Result<(), Failure> {
    let principals = verify_time.and_then(|now| {
        let sig = read_signature(sig_path, "sig_find_principals")?;
        let lines = read_allowed(allowed_path)?;
        let found = matching_signers(&lines, allowed_path, &sig.public_key, None)
            .find(|(signer, where_)| allowed::valid_at(signer, now, where_))
            .map(|(signer, _)| signer.principals);
        found
    });
    match principals {
        Some(principals) => {
            for principal in principals.split(',').take_while(|p| !p.is_empty()) {
                println!("{principal}");
            }
            Ok(())
        }
        None => {
            eprintln!("No principal matched.");
            Err(Failure::exit(EXIT_FATAL))
        }
    }
}

/// `-Y match-principals -I id -f allowed_signers` (`sshsig_match_principals`): prints
/// the principals field of every line whose principals match `id`. The exit statuses
/// are ssh-keygen's (its internal error codes): 210 when nothing matched, 232 for a
/// file it cannot open, 252 for a malformed line (which ends the search).
///
/// # Errors
/// `No principal matched.` with those statuses.
pub fn match_principals(allowed_path: &Path, identity: &str) -> Result<(), Failure> {
    let none = |code: u8| {
        eprintln!("No principal matched.");
        Err(Failure::exit(code))
    };
    let Some(lines) = read_allowed(allowed_path) else {
        return none(232);
    };
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        match allowed::parse_line(line, Some(identity)) {
            Line::Skip => {}
            Line::Invalid(reason) => {
                log_line(&format!(
                    "{}:{}: {reason}",
                    allowed_path.display(),
                    index + 1
                ));
                return none(252);
            }
            Line::Signer(signer) => found.push(signer.principals),
        }
    }
    if found.is_empty() {
        return none(210);
    }
    for principals in found {
        println!("{principals}");
    }
    Ok(())
}
