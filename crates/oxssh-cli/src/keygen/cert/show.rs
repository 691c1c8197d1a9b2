//! `ssh-keygen -L [-f file]`: every certificate in a file, printed as ssh-keygen 9.2's
//! `do_show_cert` and `print_cert` do (fingerprints follow `-E`; times are UTC, see
//! [`super::super::time`]).

use std::fmt::Write as _;
use std::path::Path;

use oxssh_keys::certificate::{CertOption, Certificate};
use oxssh_keys::fingerprint::{type_label, Fingerprint};
use oxssh_keys::HashAlg;

use super::super::args::Options;
use super::super::inspect::key_path;
use super::super::{log_line, strerror, Failure, User};
use super::validity;

/// Options whose data ssh-keygen shows as text (critical) or not at all (flags).
const KNOWN_FLAGS: [&str; 6] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
    "no-touch-required",
];

fn show_options(out: &mut String, options: &[CertOption], critical: bool) {
    for option in options {
        let name = &option.name;
        let _ = write!(out, "                {name}");
        let value = option.string_value();
        if !critical && KNOWN_FLAGS.contains(&name.as_str()) {
            out.push('\n');
        } else if critical && (name == "force-command" || name == "source-address") {
            let _ = writeln!(out, " {}", value.unwrap_or_default());
        } else if critical && name == "verify-required" {
            out.push('\n');
        } else if !option.data.is_empty() {
            let hex: String = option.data.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, " UNKNOWN OPTION: {hex} (len {})", option.data.len());
        } else {
            out.push_str(" UNKNOWN FLAG OPTION\n");
        }
    }
}

/// `print_cert`: the indented description of one certificate.
pub fn describe(cert: &Certificate, hash: HashAlg) -> String {
    let mut out = String::new();
    let ca_alg = cert.signature_parts().map_or("(null)", |(alg, _)| alg);
    let _ = writeln!(
        out,
        "        Type: {} {} certificate",
        cert.key_type(),
        cert.cert_type.name()
    );
    let _ = writeln!(
        out,
        "        Public key: {}-CERT {}",
        type_label(&cert.key),
        Fingerprint::of(&cert.key, hash)
    );
    let _ = writeln!(
        out,
        "        Signing CA: {} {} (using {ca_alg})",
        type_label(&cert.signature_key),
        Fingerprint::of(&cert.signature_key, hash)
    );
    let _ = writeln!(out, "        Key ID: \"{}\"", cert.key_id);
    let _ = writeln!(out, "        Serial: {}", cert.serial);
    let _ = writeln!(
        out,
        "        Valid: {}",
        validity::describe(cert.valid_after, cert.valid_before)
    );
    out.push_str("        Principals: ");
    if cert.principals.is_empty() {
        out.push_str("(none)\n");
    } else {
        for principal in &cert.principals {
            let _ = write!(out, "\n                {principal}");
        }
        out.push('\n');
    }
    for (title, options, critical) in [
        ("Critical Options", &cert.critical_options, true),
        ("Extensions", &cert.extensions, false),
    ] {
        let _ = write!(out, "        {title}: ");
        if options.is_empty() {
            out.push_str("(none)\n");
        } else {
            out.push('\n');
            show_options(&mut out, options, critical);
        }
    }
    out
}

/// `-L [-f FILE]` (`-` reads standard input).
///
/// # Errors
/// ssh-keygen's: a missing file (255), or a file without any certificate (1).
pub fn run(opts: &Options, user: &User) -> Result<(), Failure> {
    let path = key_path(opts, user, "Enter file in which the key is")?;
    let stdin = path.as_os_str() == "-";
    let (bytes, shown) = if stdin {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Failure::fatal(format!("(stdin): {}", strerror(&e))))?;
        (buf, "(stdin)".to_owned())
    } else {
        let bytes = std::fs::read(&path).map_err(|e| {
            Failure::fatal(format!(
                "oxssh-keygen: {}: {}",
                path.display(),
                strerror(&e)
            ))
        })?;
        (bytes, Path::new(&path).display().to_string())
    };
    let mut ok = false;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let lnum = index + 1;
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Certificate::from_openssh(line) {
            Ok((cert, _)) => {
                ok = true;
                if !stdin && lnum == 1 {
                    println!("{shown}:");
                } else {
                    println!("{shown}:{lnum}:");
                }
                print!("{}", describe(&cert, opts.hash));
            }
            Err(_) if super::super::inspect::read_key(line).is_some() => {
                log_line(&format!("{shown}:{lnum} is not a certificate"));
            }
            Err(_) => log_line(&format!("{shown}:{lnum}: invalid key: invalid format")),
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Failure::exit(1))
    }
}
