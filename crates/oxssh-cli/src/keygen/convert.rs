//! `ssh-keygen -e` and `-i [-m RFC4716|PKCS8|PEM]`: public keys to and from the formats
//! other software uses, as ssh-keygen 9.2 (with OpenSSL 3) writes and reads them:
//!
//! - RFC4716 (the default): the "SSH2" public key block (`do_convert_to_ssh2`);
//! - PKCS8: X.509 `SubjectPublicKeyInfo`, armored `PUBLIC KEY` (RSA and ECDSA; import
//!   also takes PKCS#1 `RSA PUBLIC KEY`, as OpenSSL's reader does);
//! - PEM: PKCS#1 `RSA PUBLIC KEY` for RSA; ECDSA exports as `PUBLIC KEY` too.
//!
//! Ed25519 has no such export in ssh-keygen 9.2, and is refused with its message. Import
//! prints the key as one OpenSSH line without a comment; ssh.com private keys in the
//! RFC 4716 container are refused by name.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_keys::certificate::Certificate;
use oxssh_keys::fingerprint::type_label;
use oxssh_keys::{pkix, PublicKey};

use super::args::Options;
use super::inspect::key_path;
use super::{strerror, Failure, User};

/// RFC 4716 §3.3: base64 lines of at most 72 characters; ssh-keygen uses 70.
const LINE_WIDTH: usize = 70;

/// `EVP_PKEY_ED25519`, the number ssh-keygen 9.2 prints for a key type it cannot import.
const EVP_PKEY_ED25519: u32 = 1087;

/// The conversion formats of `-m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rfc4716,
    Pkcs8,
    Pem,
}

fn format(opts: &Options) -> Result<Format, Failure> {
    let name = opts.format.as_deref().unwrap_or("RFC4716");
    match name.to_ascii_uppercase().as_str() {
        "RFC4716" => Ok(Format::Rfc4716),
        "PKCS8" => Ok(Format::Pkcs8),
        "PEM" => Ok(Format::Pem),
        _ => Err(Failure::fatal(format!(
            "Unsupported conversion format \"{name}\""
        ))),
    }
}

/// The `-f` file (asked for when missing), which must exist.
fn input_path(opts: &Options, user: &User) -> Result<std::path::PathBuf, Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    std::fs::metadata(&path).map_err(|e| {
        Failure::fatal(format!(
            "oxssh-keygen: {}: {}",
            path.display(),
            strerror(&e)
        ))
    })?;
    Ok(path)
}

/// `-e`.
///
/// # Errors
/// ssh-keygen's messages.
pub fn export(opts: &Options, user: &User) -> Result<(), Failure> {
    let format = format(opts)?;
    let path = input_path(opts, user)?;
    // A certificate exports whole in RFC 4716, as its key in the X.509 forms.
    let cert = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| Certificate::from_openssh(text.lines().next()?).ok())
        .map(|(cert, _)| cert);
    let key = match &cert {
        Some(cert) => cert.key.clone(),
        None => super::sig::load_public(&path).map_err(|reason| {
            Failure::fatal(format!("load key \"{}\": {reason}", path.display()))
        })?,
    };
    match format {
        Format::Rfc4716 => print_rfc4716(&key, cert.as_ref(), user),
        Format::Pkcs8 | Format::Pem => {
            if matches!(key, PublicKey::Ed25519(_)) {
                let function = match format {
                    Format::Pkcs8 => "do_convert_to_pkcs8",
                    _ => "do_convert_to_pem",
                };
                let suffix = if cert.is_some() { "-CERT" } else { "" };
                return Err(Failure::fatal(format!(
                    "{function}: unsupported key type {}{suffix}",
                    type_label(&key)
                )));
            }
            let pem = match (format, pkix::pkcs1_der(&key)) {
                (Format::Pem, Some(pkcs1)) => pkix::encode_pem("RSA PUBLIC KEY", &pkcs1),
                _ => pkix::encode_pem("PUBLIC KEY", &pkix::spki_der(&key)),
            };
            print!("{pem}");
        }
    }
    Ok(())
}

fn print_rfc4716(key: &PublicKey, cert: Option<&Certificate>, user: &User) {
    let (blob, suffix) = match cert {
        Some(cert) => (cert.to_blob(), "-CERT"),
        None => (key.to_blob(), ""),
    };
    let blob = STANDARD.encode(blob);
    println!("---- BEGIN SSH2 PUBLIC KEY ----");
    println!(
        "Comment: \"{}-bit {}{suffix}, converted by {}@{} from OpenSSH\"",
        key.bits(),
        type_label(key),
        user.name,
        super::hostname()
    );
    for chunk in blob.as_bytes().chunks(LINE_WIDTH) {
        println!("{}", String::from_utf8_lossy(chunk));
    }
    println!("---- END SSH2 PUBLIC KEY ----");
}

/// `-i`.
///
/// # Errors
/// ssh-keygen's messages.
pub fn import(opts: &Options, user: &User) -> Result<(), Failure> {
    let format = format(opts)?;
    let path = input_path(opts, user)?;
    let text = std::fs::read(&path).map_err(|e| {
        Failure::fatal(format!(
            "oxssh-keygen: {}: {}",
            path.display(),
            strerror(&e)
        ))
    })?;
    let text = String::from_utf8_lossy(&text);
    let key = match format {
        Format::Rfc4716 => from_rfc4716(&text)?,
        Format::Pkcs8 => from_pkcs8(&text, &path)?,
        Format::Pem => from_pem(&text)?,
    };
    let line = key
        .to_openssh()
        .map_err(|e| Failure::fatal(format!("key write failed: {e}")))?;
    println!("{line}");
    Ok(())
}

/// ssh-keygen's `do_convert_from_ssh2`: header lines (`----` markers, `Name: value`
/// with `\` continuations) are skipped, the rest is the base64 key blob.
fn from_rfc4716(text: &str) -> Result<PublicKey, Failure> {
    let fail = |what: &str| Failure::fatal(format!("do_convert_from_ssh2: {what}"));
    let mut encoded = String::new();
    let mut continued = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if continued {
            continued = line.ends_with('\\');
            continue;
        }
        if line.starts_with("----") || line.contains(": ") {
            if line.contains(" END ") {
                break;
            }
            continued = line.ends_with('\\');
            continue;
        }
        encoded.push_str(line);
    }
    let blob = STANDARD
        .decode(encoded.trim())
        .map_err(|_| fail("base64 decode: invalid format"))?;
    // ssh.com's private key container (its magic number opens the blob).
    if blob.starts_with(&[0x3f, 0x6f, 0xf9, 0xeb]) {
        return Err(fail(
            "ssh.com private keys are not supported by oxssh-keygen",
        ));
    }
    PublicKey::from_blob(&blob).map_err(|_| fail("parse key: invalid format"))
}

/// `do_convert_from_pkcs8`: a `PUBLIC KEY` (or PKCS#1 `RSA PUBLIC KEY`) block.
fn from_pkcs8(text: &str, path: &Path) -> Result<PublicKey, Failure> {
    let unrecognised = || {
        Failure::fatal(format!(
            "do_convert_from_pkcs8: {} is not a recognised public key format",
            path.display()
        ))
    };
    let pem = pkix::decode_pem(text).ok_or_else(unrecognised)?;
    match pem.label.as_str() {
        "PUBLIC KEY" => {
            let mut info = pkix::Der(&pem.der);
            let is_ed25519 = info
                .sequence()
                .and_then(|mut i| i.sequence())
                .and_then(|mut alg| alg.oid())
                == Some(pkix::OID_ED25519);
            if is_ed25519 {
                return Err(Failure::fatal(format!(
                    "do_convert_from_pkcs8: unsupported pubkey type {EVP_PKEY_ED25519}"
                )));
            }
            pkix::from_spki_der(&pem.der).map_err(|_| unrecognised())
        }
        "RSA PUBLIC KEY" => pkix::from_pkcs1_der(&pem.der).map_err(|_| unrecognised()),
        _ => Err(unrecognised()),
    }
}

/// `do_convert_from_pem`: a PKCS#1 `RSA PUBLIC KEY` block.
fn from_pem(text: &str) -> Result<PublicKey, Failure> {
    let unrecognised =
        || Failure::fatal("do_convert_from_pem: unrecognised raw private key format");
    let pem = pkix::decode_pem(text)
        .filter(|p| p.label == "RSA PUBLIC KEY")
        .ok_or_else(unrecognised)?;
    pkix::from_pkcs1_der(&pem.der).map_err(|_| unrecognised())
}
