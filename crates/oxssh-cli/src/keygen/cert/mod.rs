//! `ssh-keygen -s CA -I ID [-h] [-n principals] [-V validity] [-z serial] [-O option]
//! key.pub ...`: OpenSSH certificates signed by a CA key (ssh-keygen 9.2's `do_ca_sign`),
//! written to `key-cert.pub`; and `-L` ([`show`]) to print them.
//!
//! The certificate is encoded by `oxssh_keys::certificate` and signed by oxssh-crypto
//! (RSA CAs sign with `rsa-sha2-512`, as ssh-keygen does). Options are ssh-keygen's
//! (`add_cert_option`), sorted by name as its `finalise_cert_exts` does.

pub mod show;
pub mod validity;

use std::path::{Path, PathBuf};

use oxssh_keys::certificate::{CertOption, CertType, Certificate};
use oxssh_keys::fingerprint::type_label;
use oxssh_keys::PublicKey;
use oxssh_wire::names::key as names;
use oxssh_wire::Writer;

use super::args::{Options, USAGE};
use super::{identity, log_line, strerror, Failure};

/// Extensions every user certificate gets unless `-O clear` or `no-*` remove them.
const DEFAULT_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// What the `-O` options ask for, before they become certificate options.
#[derive(Debug, Default)]
struct CertOptions {
    /// Flag extensions and critical flags that are on.
    flags: Vec<(&'static str, bool)>,
    force_command: Option<String>,
    source_address: Option<String>,
    /// `extension:NAME[=VALUE]` and `critical:NAME[=VALUE]`: (critical, name, value).
    custom: Vec<(bool, String, Option<String>)>,
}

/// The flags ssh-keygen knows, as (option word, certificate option, critical).
const FLAGS: [(&str, &str, bool); 7] = [
    ("x11-forwarding", "permit-X11-forwarding", false),
    ("agent-forwarding", "permit-agent-forwarding", false),
    ("port-forwarding", "permit-port-forwarding", false),
    ("pty", "permit-pty", false),
    ("user-rc", "permit-user-rc", false),
    ("touch-required", "no-touch-required", false),
    ("verify-required", "verify-required", true),
];

impl CertOptions {
    fn new(host: bool) -> Self {
        let on = |name: &str| !host && DEFAULT_EXTENSIONS.contains(&name);
        Self {
            flags: FLAGS.iter().map(|(_, name, _)| (*name, on(name))).collect(),
            ..Self::default()
        }
    }

    fn set(&mut self, name: &str, on: bool) {
        for flag in &mut self.flags {
            if flag.0 == name {
                flag.1 = on;
            }
        }
    }

    /// `add_cert_option`.
    fn add(&mut self, opt: &str) -> Result<(), Failure> {
        let lower = opt.to_ascii_lowercase();
        if lower == "clear" {
            self.flags.iter_mut().for_each(|f| f.1 = false);
            return Ok(());
        }
        for (word, name, _) in FLAGS {
            // touch-required is the negative form on the wire (`no-touch-required`).
            let positive = name != "no-touch-required";
            if lower == format!("no-{word}") {
                self.set(name, !positive);
                return Ok(());
            }
            if lower == format!("permit-{word}") || (lower == word && !name.starts_with("permit")) {
                self.set(name, positive);
                return Ok(());
            }
        }
        if let Some(value) = value_of(opt, "force-command=") {
            if value.is_empty() {
                return Err(Failure::fatal("Empty force-command option"));
            }
            if self.force_command.is_some() {
                return Err(Failure::fatal("force-command already specified"));
            }
            self.force_command = Some(value.to_owned());
        } else if let Some(value) = value_of(opt, "source-address=") {
            if value.is_empty() {
                return Err(Failure::fatal("Empty source-address option"));
            }
            if self.source_address.is_some() {
                return Err(Failure::fatal("source-address already specified"));
            }
            if oxssh_config::addr_match_cidr_list(None, value).is_err() {
                return Err(Failure::fatal("Invalid source-address list"));
            }
            self.source_address = Some(value.to_owned());
        } else if let Some((critical, rest)) = value_of(opt, "extension:")
            .map(|r| (false, r))
            .or_else(|| value_of(opt, "critical:").map(|r| (true, r)))
        {
            let (name, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (rest, None),
            };
            self.custom.push((critical, name.to_owned(), value));
        } else {
            return Err(Failure::fatal(format!(
                "Unsupported certificate option \"{opt}\""
            )));
        }
        Ok(())
    }

    /// (critical options, extensions), each sorted by name.
    fn build(&self) -> (Vec<CertOption>, Vec<CertOption>) {
        let mut critical = Vec::new();
        let mut extensions = Vec::new();
        for (name, on) in &self.flags {
            let is_critical = FLAGS.iter().any(|(_, n, c)| n == name && *c);
            if *on {
                let list = if is_critical {
                    &mut critical
                } else {
                    &mut extensions
                };
                list.push(CertOption::flag(name));
            }
        }
        if let Some(command) = &self.force_command {
            critical.push(CertOption::string("force-command", command));
        }
        if let Some(addresses) = &self.source_address {
            critical.push(CertOption::string("source-address", addresses));
        }
        for (is_critical, name, value) in &self.custom {
            let option = match value {
                Some(v) => CertOption::string(name, v),
                None => CertOption::flag(name),
            };
            if *is_critical {
                critical.push(option);
            } else {
                extensions.push(option);
            }
        }
        critical.sort_by(|a, b| a.name.cmp(&b.name));
        extensions.sort_by(|a, b| a.name.cmp(&b.name));
        (critical, extensions)
    }
}

/// `strncasecmp(opt, prefix)`: the rest after a case-insensitive prefix.
fn value_of<'a>(opt: &'a str, prefix: &str) -> Option<&'a str> {
    let head = opt.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| opt.get(prefix.len()..))
        .flatten()
}

/// `-z [+]N`: the serial and whether it counts up per key.
fn serial(opts: &Options) -> Result<(u64, bool), Failure> {
    let Some(text) = opts.serial.as_deref() else {
        return Ok((0, false));
    };
    let (number, autoinc) = match text.strip_prefix('+') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let value = number
        .parse::<u64>()
        .ok()
        .filter(|_| number.starts_with(|c: char| c.is_ascii_digit()))
        .ok_or_else(|| Failure::fatal(format!("Invalid serial number \"{number}\"")))?;
    Ok((value, autoinc))
}

/// A public key file as `sshkey_load_public` reads it, with its comment. A certificate
/// is reported as such (it cannot be certified again).
fn load_subject(path: &Path) -> Result<(PublicKey, String), Failure> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::fatal(format!("load pubkey \"{shown}\": {}", strerror(&e))))?;
    for line in text.lines() {
        if let Some((key, rest)) = super::inspect::read_key(line) {
            return Ok((key, rest.trim().to_owned()));
        }
        if let Ok((cert, _)) = Certificate::from_openssh(line) {
            return Err(Failure::fatal(format!(
                "do_ca_sign: key \"{shown}\" type {}-CERT cannot be certified",
                type_label(&cert.key)
            )));
        }
    }
    oxssh_keys::private::read_public(&text)
        .map(|key| (key, String::new()))
        .map_err(|_| Failure::fatal(format!("load pubkey \"{shown}\": invalid format")))
}

/// The signature algorithm: `-t` if given (it must suit the CA key), else the CA's
/// own, `rsa-sha2-512` for RSA.
fn ca_algorithm(opts: &Options, ca: &PublicKey) -> Result<&'static str, Failure> {
    let default = match ca {
        PublicKey::Rsa { .. } => names::RSA_SHA2_512,
        other => other.key_type(),
    };
    let Some(wanted) = opts.key_type.as_deref() else {
        return Ok(default);
    };
    [names::RSA_SHA2_512, names::RSA_SHA2_256, ca.key_type()]
        .into_iter()
        .find(|alg| *alg == wanted && (alg == &ca.key_type() || ca.key_type() == names::SSH_RSA))
        .ok_or_else(|| {
            Failure::fatal(format!(
                "CA key type {} doesn't match specified {wanted}",
                ca.key_type()
            ))
        })
}

/// Runs `-s CA_KEY -I ID ... FILE...`.
///
/// # Errors
/// ssh-keygen's messages and exit statuses.
pub fn sign(opts: &Options, ca_path: &Path) -> Result<(), Failure> {
    let now = super::time::now();
    let (valid_after, valid_before) = match opts.validity.as_deref() {
        Some(spec) => validity::parse(spec, now)?,
        None => (0, validity::FOREVER),
    };
    let (mut serial, autoinc) = serial(opts)?;
    if opts.operands.is_empty() {
        log_line("Too few arguments.");
        eprint!("{USAGE}");
        return Err(Failure::exit(1));
    }
    let key_id = opts
        .identity
        .as_deref()
        .ok_or_else(|| Failure::fatal("Must specify key id (-I) when certifying"))?;
    let mut cert_options = CertOptions::new(opts.host_cert);
    for option in &opts.options {
        cert_options.add(option)?;
    }
    let (critical_options, extensions) = cert_options.build();
    let passphrase = opts.old_passphrase.as_deref().map(String::as_str);
    let (ca, _) = identity::load(ca_path, passphrase, "Enter passphrase: ").map_err(
        |identity::LoadError(reason)| {
            Failure::fatal(format!("Load key \"{}\": {reason}", ca_path.display()))
        },
    )?;
    let algorithm = ca_algorithm(opts, ca.public_key())?;
    let signer = oxssh_crypto::signer_from_private(&ca).map_err(|_| {
        Failure::fatal(format!(
            "Load key \"{}\": invalid format",
            ca_path.display()
        ))
    })?;
    let principals: Vec<String> = match opts.n_value.as_deref() {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => Vec::new(),
    };
    if principals.iter().any(String::is_empty) {
        return Err(Failure::fatal("Empty principal name"));
    }
    let cert_type = if opts.host_cert {
        CertType::Host
    } else {
        CertType::User
    };
    for name in &opts.operands {
        let path = PathBuf::from(name);
        let (key, comment) = load_subject(&path)?;
        let mut nonce = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| Failure::fatal("Couldn't certify key: random source failed"))?;
        let mut cert = Certificate {
            nonce,
            key,
            serial,
            cert_type,
            key_id: key_id.to_owned(),
            principals: principals.clone(),
            valid_after,
            valid_before,
            critical_options: critical_options.clone(),
            extensions: extensions.clone(),
            signature_key: ca.public_key().clone(),
            signature: Vec::new(),
        };
        let raw = signer.sign(algorithm, &cert.to_be_signed()).map_err(|_| {
            Failure::fatal(format!("Couldn't certify key {name}: error in libcrypto"))
        })?;
        Writer::new(&mut cert.signature)
            .string(algorithm.as_bytes())
            .string(&raw);
        let out = format!("{}-cert.pub", name.strip_suffix(".pub").unwrap_or(name));
        let line = cert.to_openssh_with_comment(&comment) + "\n";
        std::fs::write(&out, line).map_err(|e| {
            Failure::fatal(format!(
                "Unable to save public key to {out}: {}",
                strerror(&e)
            ))
        })?;
        if !opts.quiet {
            let principals = opts
                .n_value
                .as_deref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default();
            log_line(&format!(
                "Signed {} key {out}: id \"{key_id}\" serial {serial}{principals} valid {}",
                cert_type.name(),
                validity::describe(valid_after, valid_before)
            ));
        }
        if autoinc {
            serial = serial.wrapping_add(1);
        }
    }
    Ok(())
}
