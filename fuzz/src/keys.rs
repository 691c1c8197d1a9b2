//! The `wire_messages` target's key half: public key blobs as a server sends them in
//! its key exchange reply. A parsed key must survive the blob and the OpenSSH text
//! round trips.

use oxssh_keys::PublicKey;

/// Parses `data` as a public key blob; returns whether it was one.
pub fn decode_key(data: &[u8]) -> bool {
    let Ok(key) = PublicKey::from_blob(data) else {
        return false;
    };
    assert_eq!(PublicKey::from_blob(&key.to_blob()).as_ref(), Ok(&key));
    if let Ok(line) = key.to_openssh() {
        assert_eq!(PublicKey::from_openssh(&line).as_ref(), Ok(&key));
    }
    true
}
