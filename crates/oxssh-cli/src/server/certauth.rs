//! User certificates in public-key authentication, as sshd decides them
//! (`user_cert_trusted_ca`, and `cert-authority` lines in authorized_keys): the CA must
//! be listed in `TrustedUserCAKeys` or on a `cert-authority` line, sign with an
//! algorithm in `CASignatureAlgorithms`, and the certificate must be a user certificate,
//! valid now, name the user as a principal (or one of the line's `principals=`, or,
//! for `TrustedUserCAKeys`, one listed in the user's `AuthorizedPrincipalsFile`), carry
//! no unknown critical option, and be used from its `source-address`. The core has
//! already verified the CA's signature. The log text is sshd's.

use std::path::Path;

use oxssh_keys::authorized_keys::CertRestrictions;
use oxssh_keys::certificate::{CertType, Certificate};
use oxssh_keys::{HashAlg, KeyOptions, PublicKey};

use super::auth::{self, Candidate, Endpoints};

/// Longest `TrustedUserCAKeys` file read.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// Why a certificate was refused: `None` when sshd logs nothing above debug (a CA it
/// does not trust at all), else its log line.
pub(crate) type Refusal = Option<String>;

/// The session options a certificate logs `candidate` in with, or why it may not.
pub(crate) fn certificate_options(
    candidate: &Candidate,
    cert: &Certificate,
    ends: Endpoints,
    now: u64,
) -> Result<KeyOptions, Refusal> {
    let ca = &cert.signature_key;
    let config = &candidate.config;
    let line = if config
        .trusted_user_ca_keys
        .as_deref()
        .is_some_and(|path| file_lists_key(Path::new(path), ca))
    {
        None
    } else if let Some(options) = auth::find_cert_authority(candidate, ca, ends) {
        Some(options)
    } else {
        tracing::debug!(
            "CA {} {} is not listed in TrustedUserCAKeys or authorized_keys",
            ca_label(ca),
            ca.fingerprint(HashAlg::Sha256)
        );
        return Err(None);
    };
    let (sig_alg, _) = cert
        .signature_parts()
        .ok_or_else(|| Some("Certificate signature is malformed".to_owned()))?;
    if !config.ca_signature_algorithms.iter().any(|a| a == sig_alg) {
        return Err(Some(format!(
            "Certificate signature algorithm {sig_alg} not in CASignatureAlgorithms"
        )));
    }
    let not_authorized = || Some("Certificate does not contain an authorized principal".to_owned());
    let principals = line
        .as_ref()
        .and_then(KeyOptions::principals)
        .map(str::to_owned);
    if let Some(list) = &principals {
        let allowed: Vec<&str> = list.split(',').collect();
        if !cert
            .principals
            .iter()
            .any(|p| allowed.contains(&p.as_str()))
        {
            return Err(not_authorized());
        }
    }
    // A TrustedUserCAKeys certificate with an AuthorizedPrincipalsFile: a principal
    // must be listed there (and that line's options apply), instead of the user name.
    let user = &candidate.user;
    let principals_file = match line {
        Some(_) => None,
        None => {
            config.authorized_principals_path(&user.name, user.uid, &user.home.to_string_lossy())
        }
    };
    let line = match &principals_file {
        Some(path) => Some(
            listed_principal(candidate, cert, Path::new(path), ends).ok_or_else(not_authorized)?,
        ),
        None => line,
    };
    let name =
        (principals.is_none() && principals_file.is_none()).then_some(candidate.user.name.as_str());
    // OpenSSH requires a principal list for TrustedUserCAKeys, not for CA lines.
    let require_principal = principals_file.is_some() || line.is_none();
    check_authority(cert, now, name, require_principal).map_err(|r| Some(r.to_owned()))?;
    let restrictions = CertRestrictions::from_certificate(cert).map_err(|e| Some(e.to_string()))?;
    if let Some(list) = &restrictions.source_address {
        let ip = ends.peer.ip().to_string();
        match oxssh_config::addr_match_cidr_list(Some(&ip), list) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Some(format!(
                    "Authentication tried for {} with valid certificate but not from a \
                     permitted source address ({ip}).",
                    candidate.user.name
                )))
            }
            Err(_) => return Err(Some("Certificate source-address contents invalid".into())),
        }
    }
    match line {
        Some(line) => restrictions
            .merged_with_line(&line)
            .map_err(|e| Some(e.to_string())),
        None => Ok(restrictions.options),
    }
}

/// sshd's `match_principals_file`: the options of the first line of the user's
/// `AuthorizedPrincipalsFile` (`[options] principal`, read with the `StrictModes`
/// checks of authorized_keys) that names one of the certificate's principals and whose
/// `from=` accepts this connection.
fn listed_principal(
    candidate: &Candidate,
    cert: &Certificate,
    path: &Path,
    ends: Endpoints,
) -> Option<KeyOptions> {
    let text = auth::read_authorized_keys(path, candidate)?;
    let ip = ends.peer.ip().to_string();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (options, principal) = match line.rsplit_once([' ', '\t']) {
            Some((options, principal)) => (options.trim_end(), principal),
            None => ("", line),
        };
        let options = match KeyOptions::parse(options) {
            Ok(options) => options,
            Err(e) => {
                tracing::debug!(
                    "{}:{}: bad principals options: {e}",
                    path.display(),
                    number + 1
                );
                continue;
            }
        };
        if !cert.principals.iter().any(|p| p == principal) {
            continue;
        }
        if let Some(patterns) = options.from_patterns() {
            if !oxssh_config::match_host_and_ip(Some(&ip), Some(&ip), patterns).unwrap_or(false) {
                tracing::info!(
                    "Authentication tried with principal {principal} in {} line {} from {ip}: \
                     not allowed by from=",
                    path.display(),
                    number + 1
                );
                continue;
            }
        }
        return Some(options);
    }
    None
}

/// OpenSSH's `sshkey_cert_check_authority`: a user certificate, valid at `now`, naming
/// `name` among its principals (an empty list names everyone unless
/// `require_principal`).
fn check_authority(
    cert: &Certificate,
    now: u64,
    name: Option<&str>,
    require_principal: bool,
) -> Result<(), &'static str> {
    if cert.cert_type != CertType::User {
        return Err("Certificate invalid: not a user certificate");
    }
    if now < cert.valid_after {
        return Err("Certificate invalid: not yet valid");
    }
    if now >= cert.valid_before {
        return Err("Certificate invalid: expired");
    }
    if let Some(name) = name {
        if cert.principals.is_empty() {
            if require_principal {
                return Err("Certificate lacks principal list");
            }
        } else if !cert.principals.iter().any(|p| p == name) {
            return Err("Certificate invalid: name is not a listed principal");
        }
    }
    Ok(())
}

/// Whether the key file at `path` (one OpenSSH public key per line) lists `key`.
fn file_lists_key(path: &Path, key: &PublicKey) -> bool {
    use std::io::Read;
    let mut text = String::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_CA_FILE).read_to_string(&mut text));
    if let Err(e) = read {
        tracing::info!("TrustedUserCAKeys {}: {e}", path.display());
        return false;
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| PublicKey::from_openssh(l).is_ok_and(|k| k == *key))
}

/// `ED25519`, `ECDSA`, `RSA`: sshd's label for a key in log lines.
pub(crate) fn ca_label(key: &PublicKey) -> &'static str {
    super::log::key_label(key)
}

/// sshd's description of a certificate in its "Accepted publickey" line:
/// `ID keyid (serial N) CA TYPE SHA256:...`.
pub(crate) fn describe(cert: &Certificate) -> String {
    format!(
        "ID {} (serial {}) CA {} {}",
        cert.key_id,
        cert.serial,
        ca_label(&cert.signature_key),
        cert.signature_key.fingerprint(HashAlg::Sha256)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(principals: &[&str], valid_after: u64, valid_before: u64) -> Certificate {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c",
        )
        .unwrap();
        Certificate {
            nonce: vec![0; 32],
            key: key.clone(),
            serial: 1,
            cert_type: CertType::User,
            key_id: "id".into(),
            principals: principals.iter().map(|p| (*p).to_owned()).collect(),
            valid_after,
            valid_before,
            critical_options: Vec::new(),
            extensions: Vec::new(),
            signature_key: key,
            signature: Vec::new(),
        }
    }

    #[test]
    fn authority_checks_type_window_and_principal_as_sshd() {
        let c = cert(&["alice"], 100, 200);
        assert_eq!(check_authority(&c, 150, Some("alice"), true), Ok(()));
        assert_eq!(
            check_authority(&c, 99, Some("alice"), true),
            Err("Certificate invalid: not yet valid")
        );
        assert_eq!(
            check_authority(&c, 200, Some("alice"), true),
            Err("Certificate invalid: expired")
        );
        assert_eq!(
            check_authority(&c, 150, Some("bob"), true),
            Err("Certificate invalid: name is not a listed principal")
        );
        let anyone = cert(&[], 0, u64::MAX);
        assert!(check_authority(&anyone, 1, Some("bob"), true).is_err());
        assert_eq!(check_authority(&anyone, 1, Some("bob"), false), Ok(()));
        let mut host = cert(&["alice"], 0, u64::MAX);
        host.cert_type = CertType::Host;
        assert!(check_authority(&host, 1, Some("alice"), true).is_err());
    }
}
