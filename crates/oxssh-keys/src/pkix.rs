//! Public keys in the X.509/PKCS formats OpenSSL writes (`ssh-keygen -e/-i -m PKCS8|PEM`)
//! and the PEM armor (RFC 7468) around them and around PEM private keys: DER encoding
//! of `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7, with RFC 3279 / RFC 5480 / RFC 8410
//! algorithm identifiers) and of PKCS#1 `RSAPublicKey` (RFC 8017 §A.1.1), and a checked
//! DER reader. Formats only: no key is checked or used here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::public::{EcdsaCurve, KeyError, PublicKey};

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;

/// `rsaEncryption` (1.2.840.113549.1.1.1).
pub const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-ecPublicKey` (1.2.840.10045.2.1).
pub const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `id-Ed25519` (1.3.101.112).
pub const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The named-curve OID of `curve` (RFC 5480 §2.1.1.1).
pub fn curve_oid(curve: EcdsaCurve) -> &'static [u8] {
    match curve {
        EcdsaCurve::NistP256 => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        EcdsaCurve::NistP384 => &[0x2b, 0x81, 0x04, 0x00, 0x22],
        EcdsaCurve::NistP521 => &[0x2b, 0x81, 0x04, 0x00, 0x23],
    }
}

/// The curve named by `oid`.
pub fn curve_from_oid(oid: &[u8]) -> Option<EcdsaCurve> {
    [
        EcdsaCurve::NistP256,
        EcdsaCurve::NistP384,
        EcdsaCurve::NistP521,
    ]
    .into_iter()
    .find(|c| curve_oid(*c) == oid)
}

fn element(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let used = bytes.get(skip..).unwrap_or_default();
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        // At most size_of::<usize>() bytes of length follow.
        _ => {
            out.push(0x80 | u8::try_from(used.len()).unwrap_or(0x7f));
            out.extend_from_slice(used);
        }
    }
    out.extend_from_slice(contents);
    out
}

/// A DER INTEGER holding the unsigned magnitude `bytes`.
fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let trimmed = bytes.get(zeros..).unwrap_or_default();
    let mut contents = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        contents.push(0);
    }
    contents.extend_from_slice(trimmed);
    element(INTEGER, &contents)
}

fn rsa_public_der(e: &[u8], n: &[u8]) -> Vec<u8> {
    let mut fields = unsigned_integer(n);
    fields.extend(unsigned_integer(e));
    element(SEQUENCE, &fields)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut contents = vec![0];
    contents.extend_from_slice(bytes);
    element(BIT_STRING, &contents)
}

/// `SubjectPublicKeyInfo` DER for `key` (what OpenSSL's `PEM_write_PUBKEY` armors as
/// `PUBLIC KEY`).
pub fn spki_der(key: &PublicKey) -> Vec<u8> {
    let (algorithm, public) = match key {
        PublicKey::Ed25519(point) => (element(OID, OID_ED25519), bit_string(point)),
        PublicKey::Ecdsa { curve, point } => {
            let mut alg = element(OID, OID_EC);
            alg.extend(element(OID, curve_oid(*curve)));
            (alg, bit_string(point))
        }
        PublicKey::Rsa { e, n } => {
            let mut alg = element(OID, OID_RSA);
            alg.extend(element(NULL, &[]));
            (alg, bit_string(&rsa_public_der(e, n)))
        }
    };
    let mut body = element(SEQUENCE, &algorithm);
    body.extend(public);
    element(SEQUENCE, &body)
}

/// PKCS#1 `RSAPublicKey` DER (OpenSSL's `PEM_write_RSAPublicKey`, armored as
/// `RSA PUBLIC KEY`); `None` for a key that is not RSA.
pub fn pkcs1_der(key: &PublicKey) -> Option<Vec<u8>> {
    match key {
        PublicKey::Rsa { e, n } => Some(rsa_public_der(e, n)),
        _ => None,
    }
}

/// A checked DER reader over one level of nesting.
#[derive(Debug, Clone, Copy)]
pub struct Der<'a>(pub &'a [u8]);

impl<'a> Der<'a> {
    /// The contents of the next element if its tag is `tag` (definite lengths only).
    pub fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&found, rest) = self.0.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let (bytes, tail) = rest.split_at_checked(count)?;
            rest = tail;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (contents, tail) = rest.split_at_checked(len)?;
        self.0 = tail;
        Some(contents)
    }

    /// The next element's tag, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An INTEGER's magnitude, leading zeros removed.
    pub fn unsigned(&mut self) -> Option<&'a [u8]> {
        let bytes = self.element(INTEGER)?;
        let zeros = bytes.iter().take_while(|b| **b == 0).count();
        bytes.get(zeros..)
    }

    /// A BIT STRING with no unused bits.
    pub fn bit_string(&mut self) -> Option<&'a [u8]> {
        let (&unused, bits) = self.element(BIT_STRING)?.split_first()?;
        (unused == 0).then_some(bits)
    }

    /// An OCTET STRING.
    pub fn octet_string(&mut self) -> Option<&'a [u8]> {
        self.element(OCTET_STRING)
    }

    /// An OBJECT IDENTIFIER's encoded body.
    pub fn oid(&mut self) -> Option<&'a [u8]> {
        self.element(OID)
    }

    /// A SEQUENCE, as a reader over its contents.
    pub fn sequence(&mut self) -> Option<Der<'a>> {
        self.element(SEQUENCE).map(Der)
    }
}

fn rsa_from_pkcs1(der: &[u8]) -> Result<PublicKey, KeyError> {
    let bad = || KeyError::Invalid("malformed RSAPublicKey");
    let mut outer = Der(der);
    let mut fields = outer.sequence().ok_or_else(bad)?;
    let n = fields.unsigned().ok_or_else(bad)?;
    let e = fields.unsigned().ok_or_else(bad)?;
    if !fields.is_empty() || !outer.is_empty() {
        return Err(bad());
    }
    rsa_key(e, n)
}

/// Builds an RSA key through the blob parser, so the same size limits apply.
fn rsa_key(e: &[u8], n: &[u8]) -> Result<PublicKey, KeyError> {
    let mut blob = Vec::new();
    oxssh_wire::Writer::new(&mut blob)
        .string(oxssh_wire::names::key::SSH_RSA.as_bytes())
        .mpint_unsigned(e)
        .mpint_unsigned(n);
    PublicKey::from_blob(&blob)
}

/// Reads PKCS#1 `RSAPublicKey` DER.
///
/// # Errors
/// [`KeyError`] for malformed DER or an unusable key.
pub fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, KeyError> {
    rsa_from_pkcs1(der)
}

/// Reads `SubjectPublicKeyInfo` DER (RSA, ECDSA on the NIST curves, Ed25519).
///
/// # Errors
/// [`KeyError::UnknownType`] for another algorithm, [`KeyError`] for malformed DER.
pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
    let bad = || KeyError::Invalid("malformed SubjectPublicKeyInfo");
    let mut outer = Der(der);
    let mut info = outer.sequence().ok_or_else(bad)?;
    let mut alg = info.sequence().ok_or_else(bad)?;
    let oid = alg.oid().ok_or_else(bad)?;
    let public = info.bit_string().ok_or_else(bad)?;
    if !info.is_empty() || !outer.is_empty() {
        return Err(bad());
    }
    if oid == OID_RSA {
        return rsa_from_pkcs1(public);
    }
    if oid == OID_EC {
        let curve = alg
            .oid()
            .and_then(curve_from_oid)
            .ok_or(KeyError::Invalid("unsupported elliptic curve"))?;
        let mut blob = Vec::new();
        oxssh_wire::Writer::new(&mut blob)
            .string(curve.key_type().as_bytes())
            .string(curve.identifier().as_bytes())
            .string(public);
        return PublicKey::from_blob(&blob);
    }
    if oid == OID_ED25519 {
        let point: [u8; 32] = public
            .try_into()
            .map_err(|_| KeyError::Invalid("ed25519 key must be 32 bytes"))?;
        return Ok(PublicKey::Ed25519(point));
    }
    Err(KeyError::UnknownType(
        "unknown SubjectPublicKeyInfo algorithm".into(),
    ))
}

/// One PEM block (RFC 7468): its label, whether its headers say it is encrypted
/// (RFC 1421 `Proc-Type: 4,ENCRYPTED`), and its decoded contents.
#[derive(Debug)]
pub struct Pem {
    /// `RSA PRIVATE KEY`, `PUBLIC KEY`, ...
    pub label: String,
    /// Legacy OpenSSL encryption headers present.
    pub encrypted: bool,
    /// The DER contents (wiped on drop: they may be a private key).
    pub der: Zeroizing<Vec<u8>>,
}

/// Decodes the first PEM block in `text`; `None` if there is none or its base64 is bad.
pub fn decode_pem(text: &str) -> Option<Pem> {
    let mut lines = text.lines().map(str::trim);
    let label = lines.find_map(|l| {
        l.strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
    })?;
    let end = format!("-----END {label}-----");
    let mut body = Zeroizing::new(String::new());
    let mut encrypted = false;
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            encrypted |= name == "Proc-Type" && value.contains("ENCRYPTED");
            continue;
        }
        body.push_str(line);
    }
    if !ended {
        return None;
    }
    let der = Zeroizing::new(STANDARD.decode(body.as_bytes()).ok()?);
    Some(Pem {
        label: label.to_owned(),
        encrypted,
        der,
    })
}

/// Armors `der` as a PEM block labelled `label`, 64 base64 characters a line.
pub fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_and_pkcs1_round_trip_for_each_key_type() {
        let keys =
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c"];
        for line in keys {
            let key = PublicKey::from_openssh(line).unwrap();
            assert_eq!(from_spki_der(&spki_der(&key)).unwrap(), key);
            assert!(pkcs1_der(&key).is_none());
        }
        let rsa = PublicKey::Rsa {
            e: vec![1, 0, 1],
            n: [vec![0xc5], vec![0x11; 255]].concat(),
        };
        assert_eq!(from_spki_der(&spki_der(&rsa)).unwrap(), rsa);
        assert_eq!(from_pkcs1_der(&pkcs1_der(&rsa).unwrap()).unwrap(), rsa);
        let pem = encode_pem("RSA PUBLIC KEY", &pkcs1_der(&rsa).unwrap());
        let back = decode_pem(&pem).unwrap();
        assert_eq!(back.label, "RSA PUBLIC KEY");
        assert!(!back.encrypted);
        assert_eq!(from_pkcs1_der(&back.der).unwrap(), rsa);
    }

    #[test]
    fn truncated_der_is_an_error_not_a_panic() {
        let rsa = PublicKey::Rsa {
            e: vec![3],
            n: [vec![0xc5], vec![0x11; 127]].concat(),
        };
        let der = spki_der(&rsa);
        for len in 0..der.len() {
            assert!(from_spki_der(&der[..len]).is_err(), "{len}");
        }
    }
}
