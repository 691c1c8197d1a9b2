//! OpenSSH certificates (`PROTOCOL.certkeys`): `*-cert-v01@openssh.com` blobs, their
//! one-line text form, and the bytes a CA signs.
//!
//! Encoded and decoded here with the one checked wire `Reader`/`Writer` rather than
//! with `ssh-key`'s `certificate::Builder`: its debug builds verify the new certificate
//! with `ssh-key`'s own crypto (which this project never enables), and its options map
//! re-sorts options, where `ssh-keygen -L` shows them in the order they were signed.
//! This module signs and verifies nothing: the crypto provider signs
//! [`Certificate::to_be_signed`] and checks [`Certificate::signature`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_wire::{Reader, Writer};

use crate::public::{KeyError, PublicKey};

/// The suffix of every certificate key type.
pub const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// User or host certificate (`PROTOCOL.certkeys`: `SSH2_CERT_TYPE_USER` = 1, `_HOST` = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    /// A user certificate.
    User,
    /// A host certificate.
    Host,
}

impl CertType {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            Self::User => 1,
            Self::Host => 2,
        }
    }

    /// `user` or `host`, as ssh-keygen prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Host => "host",
        }
    }
}

/// One critical option or extension: its name and raw data (empty for flags, a
/// `string` holding the value for `force-command` and `source-address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertOption {
    /// The option name.
    pub name: String,
    /// The option data as encoded.
    pub data: Vec<u8>,
}

impl CertOption {
    /// A flag option (no data), such as `permit-pty`.
    pub fn flag(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            data: Vec::new(),
        }
    }

    /// An option holding one string, such as `force-command`.
    pub fn string(name: &str, value: &str) -> Self {
        let mut data = Vec::new();
        Writer::new(&mut data).string(value.as_bytes());
        Self {
            name: name.to_owned(),
            data,
        }
    }

    /// The value of a string option (`None` if the data is not exactly one string).
    pub fn string_value(&self) -> Option<&str> {
        let mut r = Reader::new(&self.data);
        let value = r.utf8().ok()?;
        r.finish().ok()?;
        Some(value)
    }
}

/// A certificate: a key, what it may be used for, and a CA's signature over it all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The CA's random nonce.
    pub nonce: Vec<u8>,
    /// The certified key.
    pub key: PublicKey,
    /// Serial number.
    pub serial: u64,
    /// User or host.
    pub cert_type: CertType,
    /// Key identifier (logged by servers).
    pub key_id: String,
    /// User or host names; empty means any.
    pub principals: Vec<String>,
    /// Start of validity, Unix seconds (0: always).
    pub valid_after: u64,
    /// End of validity, Unix seconds (`u64::MAX`: forever).
    pub valid_before: u64,
    /// Critical options, in signed order.
    pub critical_options: Vec<CertOption>,
    /// Extensions, in signed order.
    pub extensions: Vec<CertOption>,
    /// The CA's public key.
    pub signature_key: PublicKey,
    /// The CA's signature blob (`string algorithm || string signature`); empty before
    /// signing.
    pub signature: Vec<u8>,
}

fn write_options(w: &mut Writer<'_>, options: &[CertOption]) {
    let mut buf = Vec::new();
    let mut inner = Writer::new(&mut buf);
    for option in options {
        inner.string(option.name.as_bytes()).string(&option.data);
    }
    w.string(&buf);
}

fn read_options(bytes: &[u8]) -> Result<Vec<CertOption>, KeyError> {
    let mut r = Reader::new(bytes);
    let mut options = Vec::new();
    while !r.is_empty() {
        let name = r.utf8()?.to_owned();
        let data = r.string()?.to_vec();
        options.push(CertOption { name, data });
    }
    Ok(options)
}

impl Certificate {
    /// The certificate key type, `ssh-ed25519-cert-v01@openssh.com` and so on.
    pub fn key_type(&self) -> String {
        format!("{}{CERT_SUFFIX}", self.key.key_type())
    }

    /// The bytes the CA signs: the whole certificate up to (not including) the
    /// signature.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.string(self.key_type().as_bytes()).string(&self.nonce);
        // The key's fields follow the nonce: its blob without the type name.
        let blob = self.key.to_blob();
        let mut r = Reader::new(&blob);
        let fields = r.string().map(|_| r.rest()).unwrap_or_default();
        w.raw(fields)
            .u64(self.serial)
            .u32(self.cert_type.code())
            .string(self.key_id.as_bytes());
        let mut principals = Vec::new();
        let mut p = Writer::new(&mut principals);
        for principal in &self.principals {
            p.string(principal.as_bytes());
        }
        w.string(&principals)
            .u64(self.valid_after)
            .u64(self.valid_before);
        write_options(&mut w, &self.critical_options);
        write_options(&mut w, &self.extensions);
        w.string(b"").string(&self.signature_key.to_blob());
        buf
    }

    /// The whole certificate blob.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut buf = self.to_be_signed();
        Writer::new(&mut buf).string(&self.signature);
        buf
    }

    /// Parses a certificate blob; trailing data is an error.
    ///
    /// # Errors
    /// [`KeyError`] for a malformed blob, an unknown key type or a certificate type
    /// other than user or host.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(blob);
        let name = r.utf8()?;
        let plain = name
            .strip_suffix(CERT_SUFFIX)
            .ok_or_else(|| KeyError::UnknownType(name.to_owned()))?;
        let nonce = r.string()?.to_vec();
        // Rebuild the plain key blob from the type name and the fields that follow.
        let mut plain_blob = Vec::new();
        let mut w = Writer::new(&mut plain_blob);
        w.string(plain.as_bytes());
        let field_count = match plain {
            "ssh-ed25519" => 1,
            _ => 2,
        };
        for _ in 0..field_count {
            w.string(r.string()?);
        }
        let key = PublicKey::from_blob(&plain_blob)?;
        let serial = r.u64()?;
        let cert_type = match r.u32()? {
            1 => CertType::User,
            2 => CertType::Host,
            _ => return Err(KeyError::Invalid("unknown certificate type")),
        };
        let key_id = r.utf8()?.to_owned();
        let mut pr = Reader::new(r.string()?);
        let mut principals = Vec::new();
        while !pr.is_empty() {
            principals.push(pr.utf8()?.to_owned());
        }
        let valid_after = r.u64()?;
        let valid_before = r.u64()?;
        let critical_options = read_options(r.string()?)?;
        let extensions = read_options(r.string()?)?;
        let _reserved = r.string()?;
        let signature_key = PublicKey::from_blob(r.string()?)?;
        let signature = r.string()?.to_vec();
        r.finish()?;
        Ok(Self {
            nonce,
            key,
            serial,
            cert_type,
            key_id,
            principals,
            valid_after,
            valid_before,
            critical_options,
            extensions,
            signature_key,
            signature,
        })
    }

    /// The signature's algorithm name and bytes (`None` if the blob is malformed).
    pub fn signature_parts(&self) -> Option<(&str, &[u8])> {
        let mut r = Reader::new(&self.signature);
        let alg = r.utf8().ok()?;
        let sig = r.string().ok()?;
        r.finish().ok()?;
        Some((alg, sig))
    }

    /// The `.pub` line: `type base64 [comment]`.
    pub fn to_openssh_with_comment(&self, comment: &str) -> String {
        let mut line = format!("{} {}", self.key_type(), STANDARD.encode(self.to_blob()));
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// Parses `type base64 [comment]`; the type must be the blob's.
    ///
    /// # Errors
    /// [`KeyError`] as [`Certificate::from_blob`], or for a line that is not a
    /// certificate.
    pub fn from_openssh(line: &str) -> Result<(Self, String), KeyError> {
        let bad = || KeyError::Invalid("not an OpenSSH certificate line");
        let mut fields = line.trim().splitn(3, [' ', '\t']);
        let type_name = fields.next().ok_or_else(bad)?;
        let blob = STANDARD
            .decode(fields.next().ok_or_else(bad)?)
            .map_err(|_| bad())?;
        let comment = fields.next().unwrap_or_default().trim().to_owned();
        let cert = Self::from_blob(&blob)?;
        if cert.key_type() != type_name {
            return Err(bad());
        }
        Ok((cert, comment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -s ed -I u2 -n alice,bob -V 20240101:20300101123456
    /// -O force-command=/bin/true -O source-address=127.0.0.1/32 -O no-pty
    /// -O no-port-forwarding user.pub` (OpenSSH 9.2).
    const SIGNED_BY_SSH_KEYGEN: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIEBo1UAWt7SjYdHYvDQGRCYD+x40k0o7wnVEG6DgCnOzAAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4cAAAAAAAAAAAAAAABAAAAAnUyAAAAEAAAAAVhbGljZQAAAANib2IAAAAAZZIAgAAAAABw3IlwAAAASAAAAA1mb3JjZS1jb21tYW5kAAAADQAAAAkvYmluL3RydWUAAAAOc291cmNlLWFkZHJlc3MAAAAQAAAADDEyNy4wLjAuMS8zMgAAAFIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgslf6CZhbcoHjD7RLiydfSNvXYnT9zbmrtPP9/rM4jhwAAABTAAAAC3NzaC1lZDI1NTE5AAAAQO6icv9lySfFSsm+TsMaITsZcyVP1HRIo0r/VnaFNryLb6evmbqWHYrCZVLy8E/LxANlF9bC/gvCRINf1y9Q/wc= me@x";

    #[test]
    fn ssh_keygen_certificate_reads_and_rewrites_byte_for_byte() {
        let (cert, comment) = Certificate::from_openssh(SIGNED_BY_SSH_KEYGEN).unwrap();
        assert_eq!(comment, "me@x");
        assert_eq!(cert.cert_type, CertType::User);
        assert_eq!(cert.key_id, "u2");
        assert_eq!(cert.principals, ["alice", "bob"]);
        assert_eq!(cert.valid_after, 1_704_067_200);
        let names: Vec<_> = cert.critical_options.iter().map(|o| &o.name).collect();
        assert_eq!(names, ["force-command", "source-address"]);
        assert_eq!(cert.critical_options[0].string_value(), Some("/bin/true"));
        assert_eq!(cert.extensions.len(), 3);
        assert_eq!(cert.signature_parts().unwrap().0, "ssh-ed25519");
        assert_eq!(cert.to_openssh_with_comment("me@x"), SIGNED_BY_SSH_KEYGEN);
    }

    #[test]
    fn truncated_and_plain_keys_are_not_certificates() {
        let (cert, _) = Certificate::from_openssh(SIGNED_BY_SSH_KEYGEN).unwrap();
        let blob = cert.to_blob();
        for len in [0, 10, blob.len() / 2, blob.len() - 1] {
            assert!(Certificate::from_blob(&blob[..len]).is_err(), "{len}");
        }
        assert!(Certificate::from_blob(&cert.key.to_blob()).is_err());
    }
}
