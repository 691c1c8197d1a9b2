//! `ssh-keygen -Y`: SSHSIG signatures (OpenSSH `PROTOCOL.sshsig`), as git's SSH commit
//! signing drives them. This module checks the arguments (with ssh-keygen's messages and
//! its prefix matching of operation names) and signs (`-Y sign`); [`verify`] checks
//! signatures (`-Y verify`, `-Y check-novalidate`) and finds their signers
//! (`-Y find-principals`) in an [`allowed`] signers file.
//!
//! Signing and verifying go through oxssh-crypto (aws-lc); the format through
//! `oxssh_keys::sshsig`. RSA keys sign with `rsa-sha2-512` and the message hash is
//! SHA-512, as ssh-keygen 9.2 does.

pub mod allowed;
pub mod verify;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use oxssh_keys::sshsig::{self, SigHash, SshSig};
use oxssh_keys::PublicKey;
use oxssh_proto::crypto::SigningKey;
use oxssh_wire::names::key as names;

use super::args::{Options, USAGE};
use super::identity;
use super::prompts::confirm_overwrite;
use super::{log_line, strerror, Failure};

/// ssh-keygen's `error(...); exit(1)` for a missing argument.
fn too_few(message: &str) -> Failure {
    Failure::with_code(message, 1)
}

/// `-n` as ssh-keygen reads it for `-Y`: the namespace, which must not be empty.
fn namespace(opts: &Options) -> Option<&str> {
    opts.n_value.as_deref().filter(|n| !n.is_empty())
}

/// Runs `-Y OP`. ssh-keygen compares only the length of each operation's name
/// (`strncmp`), so `-Y signature` is `sign`; we keep that.
///
/// # Errors
/// ssh-keygen's messages and exit statuses.
pub fn run(opts: &Options, op: &str) -> Result<(), Failure> {
    if op.starts_with("find-principals") {
        let sig = opts.s_file.as_deref().ok_or_else(|| {
            too_few("Too few arguments for find-principals:missing signature file")
        })?;
        let allowed = opts.file.as_deref().ok_or_else(|| {
            too_few("Too few arguments for find-principals:missing allowed keys file")
        })?;
        return verify::find_principals(sig, allowed, verify_time(opts));
    }
    if op.starts_with("match-principals") {
        let identity = opts.identity.as_deref().ok_or_else(|| {
            too_few("Too few arguments for match-principals: missing principal ID")
        })?;
        let allowed = opts.file.as_deref().ok_or_else(|| {
            too_few("Too few arguments for match-principals:missing allowed keys file")
        })?;
        return verify::match_principals(allowed, identity);
    }
    if op.starts_with("sign") {
        let ns = namespace(opts)
            .ok_or_else(|| too_few("Too few arguments for sign: missing namespace"))?;
        let key = opts
            .file
            .as_deref()
            .ok_or_else(|| too_few("Too few arguments for sign: missing key"))?;
        return sign(opts, key, ns);
    }
    if op.starts_with("check-novalidate") {
        let ns = namespace(opts)
            .ok_or_else(|| too_few("Too few arguments for check-novalidate: missing namespace"))?;
        let sig = opts.s_file.as_deref().ok_or_else(|| {
            too_few("Too few arguments for check-novalidate: missing signature file")
        })?;
        return verify::verify(opts, sig, ns, None, verify_time(opts));
    }
    if op.starts_with("verify") {
        let ns = namespace(opts)
            .ok_or_else(|| too_few("Too few arguments for verify: missing namespace"))?;
        let sig = opts
            .s_file
            .as_deref()
            .ok_or_else(|| too_few("Too few arguments for verify: missing signature file"))?;
        // ssh-keygen 9.2 says "sign" here; scripts may match the text, so we do too.
        let allowed = opts
            .file
            .as_deref()
            .ok_or_else(|| too_few("Too few arguments for sign: missing allowed keys file"))?;
        let identity = opts
            .identity
            .as_deref()
            .ok_or_else(|| too_few("Too few arguments for verify: missing principal identity"))?;
        return verify::verify(opts, sig, ns, Some((allowed, identity)), verify_time(opts));
    }
    log_line(&format!("Unsupported operation for -Y: \"{op}\""));
    eprint!("{USAGE}");
    Err(Failure::exit(1))
}

/// `sig_process_opts` for the checking operations: `-O verify-time=TIME`, the time at
/// which allowed_signers validity is judged (git passes the commit's time). `None`
/// after logging ssh-keygen's error for any other option or a bad time.
fn verify_time(opts: &Options) -> Option<u64> {
    let mut time = super::time::now();
    for option in &opts.options {
        let value = option
            .get(..12)
            .filter(|name| name.eq_ignore_ascii_case("verify-time="))
            .and_then(|_| option.get(12..));
        let Some(value) = value else {
            log_line(&format!("Invalid option \"{option}\""));
            return None;
        };
        let parsed = oxssh_keys::authorized_keys::ExpiryTime::parse(value)
            .and_then(|t| u64::try_from(t.to_unix(0)).ok())
            .filter(|t| *t != 0);
        let Some(parsed) = parsed else {
            log_line("Invalid \"verify-time\" option");
            return None;
        };
        time = parsed;
    }
    Some(time)
}

/// `sig_process_opts` for signing: `-O hashalg=sha256|sha512`. `Err` holds the
/// unsupported name; an unknown option is logged and fails at once.
fn sign_hash(opts: &Options) -> Result<Result<SigHash, String>, Failure> {
    let mut hash = Ok(SigHash::Sha512);
    for option in &opts.options {
        let value = option
            .get(..8)
            .filter(|name| name.eq_ignore_ascii_case("hashalg="))
            .and_then(|_| option.get(8..));
        let Some(value) = value else {
            return Err(Failure::fatal(format!("Invalid option \"{option}\"")));
        };
        hash = match value {
            "sha256" => Ok(SigHash::Sha256),
            "sha512" => Ok(SigHash::Sha512),
            other => Err(other.to_owned()),
        };
    }
    Ok(hash)
}

/// `-Y sign -f KEY -n NS [FILE ...]`: `FILE.sig` for each file, or the signature of
/// standard input on standard output.
fn sign(opts: &Options, key_path: &Path, ns: &str) -> Result<(), Failure> {
    let hash = sign_hash(opts)?;
    let public = load_public(key_path).map_err(|reason| {
        Failure::fatal(format!(
            "Couldn't load public key {}: {reason}",
            key_path.display()
        ))
    })?;
    let signer = load_signer(opts, key_path, &public)?;
    if opts.operands.is_empty() {
        return sign_one(opts, signer.as_ref(), ns, &hash, None);
    }
    for name in &opts.operands {
        let input = (name != "-").then(|| PathBuf::from(name));
        sign_one(opts, signer.as_ref(), ns, &hash, input.as_deref())?;
    }
    Ok(())
}

/// `sshkey_load_public`: the file as a public key, then `FILE.pub`, then the public
/// half stored in the clear in an `openssh-key-v1` private key.
pub(crate) fn load_public(path: &Path) -> Result<PublicKey, String> {
    let first_key = |text: &str| {
        text.lines()
            .find_map(|line| super::inspect::read_key(line).map(|(key, _)| key))
    };
    let text = std::fs::read_to_string(path);
    if let Some(key) = text.as_deref().ok().and_then(first_key) {
        return Ok(key);
    }
    let mut pub_name = path.as_os_str().to_owned();
    pub_name.push(".pub");
    if let Some(key) = std::fs::read_to_string(pub_name)
        .ok()
        .as_deref()
        .and_then(first_key)
    {
        return Ok(key);
    }
    let text = text.map_err(|e| strerror(&e))?;
    oxssh_keys::private::read_public(&text).map_err(|_| "invalid format".into())
}

/// ssh-keygen's `load_sign_key`: the private key beside a `.pub` or `-cert.pub` path,
/// asking for its passphrase when it is encrypted, and matching the public key.
fn load_signer(
    opts: &Options,
    key_path: &Path,
    public: &PublicKey,
) -> Result<Box<dyn SigningKey>, Failure> {
    let shown = key_path.display().to_string();
    let stripped = ["-cert.pub", ".pub"]
        .iter()
        .find_map(|suffix| shown.strip_suffix(suffix).filter(|s| !s.is_empty()));
    let private_path = PathBuf::from(stripped.unwrap_or(&shown));
    if stripped.is_some() && !private_path.exists() {
        return Err(Failure::fatal(format!(
            "No private key found for public key \"{shown}\""
        )));
    }
    let passphrase = opts.old_passphrase.as_deref().map(String::as_str);
    let (key, _) = identity::load(&private_path, passphrase, "Enter passphrase: ").map_err(
        |identity::LoadError(reason)| {
            Failure::fatal(format!("Load key \"{}\": {reason}", private_path.display()))
        },
    )?;
    if key.public_key() != public {
        return Err(Failure::fatal(format!(
            "Public key {shown} doesn't match private {}",
            private_path.display()
        )));
    }
    oxssh_crypto::signer_from_private(&key)
        .map_err(|_| Failure::fatal(format!("Load key \"{shown}\": invalid format")))
}

/// The algorithm ssh-keygen signs SSHSIGs with: the key's own, `rsa-sha2-512` for RSA.
fn sig_algorithm(key: &PublicKey) -> &'static str {
    match key {
        PublicKey::Rsa { .. } => names::RSA_SHA2_512,
        other => other.key_type(),
    }
}

/// ssh-keygen's `sign_one`: hash the input, sign, armor, write `FILE.sig` (asking
/// before overwriting) or standard output.
fn sign_one(
    opts: &Options,
    signer: &dyn SigningKey,
    ns: &str,
    hash: &Result<SigHash, String>,
    input: Option<&Path>,
) -> Result<(), Failure> {
    let shown = input.map_or_else(|| "(stdin)".to_owned(), |p| p.display().to_string());
    let failed = |reason: &str| Failure::fatal(format!("Signing {shown} failed: {reason}"));
    let reader: Box<dyn std::io::Read> = match input {
        None => {
            if !opts.quiet {
                eprintln!("Signing data on standard input");
            }
            Box::new(std::io::stdin().lock())
        }
        Some(path) => {
            let file = File::open(path).map_err(|e| {
                Failure::fatal(format!(
                    "Cannot open {} for signing: {}",
                    path.display(),
                    strerror(&e)
                ))
            })?;
            if !opts.quiet {
                eprintln!("Signing file {}", path.display());
            }
            Box::new(file)
        }
    };
    let hash = match hash {
        Ok(hash) => *hash,
        Err(name) => {
            log_line(&format!(
                "sshsig_check_hashalg: unsupported hash algorithm \"{name}\""
            ));
            log_line("sshsig_sign_fd: hash_file: signature algorithm not supported");
            return Err(failed("signature algorithm not supported"));
        }
    };
    let digest = hash.digest_reader(reader);
    let digest = digest.map_err(|e| failed(&strerror(&e)))?;
    let data = sshsig::signed_data(ns, hash, &digest).map_err(|e| failed(&e.to_string()))?;
    let public = signer.public_key().clone();
    let algorithm = sig_algorithm(&public);
    let signature = signer
        .sign(algorithm, &data)
        .map_err(|_| failed("error in libcrypto"))?;
    let armored = SshSig {
        public_key: public,
        namespace: ns.to_owned(),
        hash,
        algorithm: algorithm.to_owned(),
        signature,
    }
    .to_armored()
    .map_err(|e| failed(&e.to_string()))?;
    let Some(path) = input else {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(armored.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Failure::fatal(format!("Write (stdout): {}", strerror(&e))));
    };
    let mut sig_name = path.as_os_str().to_owned();
    sig_name.push(".sig");
    let sig_path = PathBuf::from(sig_name);
    if !confirm_overwrite(&sig_path) {
        return Ok(());
    }
    std::fs::write(&sig_path, armored.as_bytes()).map_err(|e| {
        Failure::fatal(format!(
            "Cannot open {}: {}",
            sig_path.display(),
            strerror(&e)
        ))
    })?;
    if !opts.quiet {
        eprintln!("Write signature to {}", sig_path.display());
    }
    Ok(())
}
