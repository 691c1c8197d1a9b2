//! `ssh-keygen -e [-m RFC4716] -f key`: a public key in the RFC 4716 ("SSH2") format,
//! as ssh-keygen 9.2's `do_convert_to_ssh2` writes it. The PKCS#8 and PEM export
//! formats and `-i` (import) are not implemented yet and are refused by name.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_keys::fingerprint::type_label;

use super::args::Options;
use super::inspect::key_path;
use super::{strerror, Failure, User};

/// RFC 4716 §3.3: base64 lines of at most 72 characters; ssh-keygen uses 70.
const LINE_WIDTH: usize = 70;

/// `-e`.
///
/// # Errors
/// ssh-keygen's messages; formats other than RFC 4716 are refused.
pub fn export(opts: &Options, user: &User) -> Result<(), Failure> {
    let format = opts.format.as_deref().unwrap_or("RFC4716");
    if !format.eq_ignore_ascii_case("RFC4716") {
        return Err(Failure::fatal(format!(
            "oxssh-keygen: -e -m {format} is not supported yet"
        )));
    }
    let path = key_path(opts, user, "Enter file in which the key is")?;
    std::fs::metadata(&path).map_err(|e| {
        Failure::fatal(format!(
            "oxssh-keygen: {}: {}",
            path.display(),
            strerror(&e)
        ))
    })?;
    let key = super::sig::load_public(&path)
        .map_err(|reason| Failure::fatal(format!("load key \"{}\": {reason}", path.display())))?;
    let blob = STANDARD.encode(key.to_blob());
    println!("---- BEGIN SSH2 PUBLIC KEY ----");
    println!(
        "Comment: \"{}-bit {}, converted by {}@{} from OpenSSH\"",
        key.bits(),
        type_label(&key),
        user.name,
        super::hostname()
    );
    for chunk in blob.as_bytes().chunks(LINE_WIDTH) {
        println!("{}", String::from_utf8_lossy(chunk));
    }
    println!("---- END SSH2 PUBLIC KEY ----");
    Ok(())
}
