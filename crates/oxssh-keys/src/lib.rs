//! SSH key material and the files OpenSSH keeps it in:
//!
//! - [`PublicKey`]: public key blobs (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709) and their
//!   one-line OpenSSH text form;
//! - [`PrivateKey`] (module [`private`]): `openssh-key-v1` private keys, plain or
//!   passphrase-protected, with the raw material the crypto provider signs with;
//! - [`key_file`]: key files on disk (format recognition, OpenSSH's permission check,
//!   writing with the right modes);
//! - [`fingerprint`]: `SHA256:`/`MD5:` fingerprints and the randomart picture;
//! - [`known_hosts`]: parsing, host key verification, and the `ssh-keygen -F/-R` edits.
//! - [`certificate`]: OpenSSH certificates (`*-cert-v01@openssh.com`), encoded and decoded;
//! - [`pkix`]: public keys as X.509 `SubjectPublicKeyInfo` and PKCS#1 DER, PEM armor;
//! - [`sshsig`]: SSHSIG signatures (`ssh-keygen -Y`), the armored format and signed data.
//!
//! Formats come from the `ssh-key` crate; hashes and randomness from aws-lc-rs. This
//! crate signs nothing: that is the crypto provider's job.
#![forbid(unsafe_code)]

pub mod authorized_keys;
pub mod certificate;
pub mod fingerprint;
pub mod key_file;
mod key_v1;
pub mod known_hosts;
pub mod pkix;
pub mod private;
mod public;
pub mod sshsig;
pub mod strict_modes;

pub use authorized_keys::{AuthorizedKey, AuthorizedKeysError, KeyOptions};
pub use fingerprint::{Fingerprint, HashAlg};
pub use key_file::KeyFileFormat;
pub use key_v1::write_private_key_body;
pub use known_hosts::{HostKeyMatch, KnownHosts};
pub use private::{KeyMaterial, PrivateKey, PrivateKeyError};
pub use public::{EcdsaCurve, KeyError, PublicKey};
pub use strict_modes::{check_secure_file, check_secure_path, InsecurePath};
