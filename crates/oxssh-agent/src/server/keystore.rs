//! The agent's keys and lock state, without I/O: requests in, answers (or a signing job
//! to run outside the lock) out. Time is passed in, so lifetimes are testable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA512};
use oxssh_keys::{Fingerprint, HashAlg};
use oxssh_proto::crypto::SigningKey;
use oxssh_wire::names::key;
use oxssh_wire::Writer;
use zeroize::Zeroizing;

use super::request::{ClientRequest, Constraints};
use crate::codec::{Identity, Response, SIGN_RSA_SHA2_256, SIGN_RSA_SHA2_512};

/// Most keys held at once (bounds memory; OpenSSH has no fixed limit).
pub const MAX_KEYS: usize = 1024;

/// A key the agent holds. The signer keeps the private key inside aws-lc objects, which
/// wipe it when dropped.
pub struct HeldKey {
    signer: Box<dyn SigningKey>,
    blob: Vec<u8>,
    comment: String,
    expires: Option<Instant>,
    confirm: bool,
}

impl std::fmt::Debug for HeldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldKey")
            .field("comment", &self.comment)
            .field("expires", &self.expires)
            .field("confirm", &self.confirm)
            .finish_non_exhaustive()
    }
}

impl HeldKey {
    /// Its comment.
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Whether each use must be confirmed.
    pub fn needs_confirmation(&self) -> bool {
        self.confirm
    }

    /// `SHA256:...` of the public key, for confirmation prompts and logs.
    pub fn fingerprint(&self) -> String {
        Fingerprint::of_blob(&self.blob, HashAlg::Sha256).to_string()
    }

    /// Signs `data` as SIGN_REQUEST asks: `string algorithm || string signature`.
    pub fn sign(&self, data: &[u8], flags: u32) -> Option<Vec<u8>> {
        let algorithms = self.signer.signature_algorithms();
        let algorithm = if self.signer.public_key().key_type() == key::SSH_RSA {
            if flags & SIGN_RSA_SHA2_512 != 0 {
                key::RSA_SHA2_512
            } else if flags & SIGN_RSA_SHA2_256 != 0 {
                key::RSA_SHA2_256
            } else {
                // SHA-1 `ssh-rsa`: aws-lc cannot make it, and OpenSSH 8.8+ never asks.
                key::SSH_RSA
            }
        } else {
            algorithms.first().copied()?
        };
        let signature = self.signer.sign(algorithm, data).ok()?;
        let mut blob = Vec::with_capacity(signature.len() + algorithm.len() + 8);
        Writer::new(&mut blob)
            .string(algorithm.as_bytes())
            .string(&signature);
        Some(blob)
    }
}

/// What the connection does next.
#[derive(Debug)]
pub enum Action {
    /// Send this answer.
    Reply(Response),
    /// Sign outside the store's lock (confirmation may take a while), then answer.
    Sign {
        /// The key.
        key: Arc<HeldKey>,
        /// The data.
        data: Vec<u8>,
        /// `SIGN_RSA_SHA2_*` flags.
        flags: u32,
    },
    /// A failed UNLOCK: answer FAILURE after a delay (slows passphrase guessing).
    FailedUnlock,
}

/// The agent's state.
#[derive(Debug, Default)]
pub struct Keystore {
    keys: Vec<Arc<HeldKey>>,
    /// SHA-512 of the lock passphrase while locked.
    locked: Option<Zeroizing<Vec<u8>>>,
    default_lifetime: Option<Duration>,
    can_confirm: bool,
}

fn lock_digest(passphrase: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(digest(&SHA512, passphrase).as_ref().to_vec())
}

impl Keystore {
    /// An empty store. `default_lifetime` applies to keys added without one (`-t`);
    /// `can_confirm` says whether confirmation prompts can be shown (`SSH_ASKPASS`).
    pub fn new(default_lifetime: Option<Duration>, can_confirm: bool) -> Self {
        Self {
            keys: Vec::new(),
            locked: None,
            default_lifetime,
            can_confirm,
        }
    }

    /// Drops keys whose lifetime has passed.
    pub fn expire(&mut self, now: Instant) {
        self.keys.retain(|k| {
            let keep = k.expires.is_none_or(|t| t > now);
            if !keep {
                tracing::debug!("expired key {} ({})", k.fingerprint(), k.comment);
            }
            keep
        });
    }

    /// Whether the agent is locked.
    pub fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Answers one request (extensions are the connection's business).
    pub fn dispatch(&mut self, request: ClientRequest, now: Instant) -> Action {
        self.expire(now);
        if self.locked.is_some() {
            // OpenSSH: while locked, no identities and every other request fails.
            return Action::Reply(match request {
                ClientRequest::Identities => Response::Identities(Vec::new()),
                ClientRequest::Unlock(passphrase) => return self.unlock(&passphrase),
                _ => Response::Failure,
            });
        }
        let reply = match request {
            ClientRequest::Identities => Response::Identities(
                self.keys
                    .iter()
                    .map(|k| Identity {
                        key_blob: k.blob.clone(),
                        comment: k.comment.clone(),
                    })
                    .collect(),
            ),
            ClientRequest::Sign {
                key_blob,
                data,
                flags,
            } => match self.keys.iter().find(|k| k.blob == key_blob) {
                Some(key) => {
                    return Action::Sign {
                        key: key.clone(),
                        data,
                        flags,
                    }
                }
                None => Response::Failure,
            },
            ClientRequest::Add { key, constraints } => self.add(&key, constraints, now),
            ClientRequest::Remove { key_blob } => {
                let before = self.keys.len();
                self.keys.retain(|k| k.blob != key_blob);
                status(self.keys.len() < before)
            }
            ClientRequest::RemoveAll => {
                self.keys.clear();
                Response::Success
            }
            ClientRequest::Lock(passphrase) => {
                self.locked = Some(lock_digest(&passphrase));
                tracing::debug!("agent locked");
                Response::Success
            }
            ClientRequest::Unlock(_) | ClientRequest::Extension { .. } => Response::Failure,
            ClientRequest::Unknown(n) => {
                tracing::debug!("unknown message {n}");
                Response::Failure
            }
        };
        Action::Reply(reply)
    }

    fn unlock(&mut self, passphrase: &[u8]) -> Action {
        let given = lock_digest(passphrase);
        let matches = self
            .locked
            .as_ref()
            .is_some_and(|want| verify_slices_are_equal(want, &given).is_ok());
        if matches {
            self.locked = None;
            tracing::debug!("agent unlocked");
            Action::Reply(Response::Success)
        } else {
            Action::FailedUnlock
        }
    }

    fn add(
        &mut self,
        key: &oxssh_keys::PrivateKey,
        constraints: Constraints,
        now: Instant,
    ) -> Response {
        if constraints.confirm && !self.can_confirm {
            tracing::info!(
                "refusing key {}: confirmation (-c) needs SSH_ASKPASS in the agent's environment",
                key.comment()
            );
            return Response::Failure;
        }
        let signer = match oxssh_crypto::signer_from_private(key) {
            Ok(signer) => signer,
            Err(e) => {
                tracing::info!("refusing key {}: {e}", key.comment());
                return Response::Failure;
            }
        };
        let blob = key.public_key().to_blob();
        self.keys.retain(|k| k.blob != blob);
        if self.keys.len() >= MAX_KEYS {
            return Response::Failure;
        }
        let lifetime = constraints.lifetime.or(self.default_lifetime);
        let held = HeldKey {
            signer,
            blob,
            comment: key.comment().to_owned(),
            expires: lifetime.and_then(|life| now.checked_add(life)),
            confirm: constraints.confirm,
        };
        tracing::debug!(
            "added key {} ({}), lifetime {lifetime:?}",
            held.fingerprint(),
            held.comment
        );
        self.keys.push(Arc::new(held));
        Response::Success
    }
}

fn status(ok: bool) -> Response {
    if ok {
        Response::Success
    } else {
        Response::Failure
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use oxssh_crypto::KeyKind;
    use zeroize::Zeroizing;

    fn add(store: &mut Keystore, life: Option<u64>, now: Instant) -> Vec<u8> {
        let key = oxssh_crypto::generate_private_key(KeyKind::Ed25519, "k").unwrap();
        let blob = key.public_key().to_blob();
        let request = ClientRequest::Add {
            key,
            constraints: Constraints {
                lifetime: life.map(Duration::from_secs),
                confirm: false,
            },
        };
        assert!(matches!(
            store.dispatch(request, now),
            Action::Reply(Response::Success)
        ));
        blob
    }

    fn identities(store: &mut Keystore, now: Instant) -> usize {
        match store.dispatch(ClientRequest::Identities, now) {
            Action::Reply(Response::Identities(ids)) => ids.len(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_with_a_lifetime_disappear_after_it() {
        let now = Instant::now();
        let mut store = Keystore::new(None, false);
        add(&mut store, Some(5), now);
        add(&mut store, None, now);
        assert_eq!(identities(&mut store, now + Duration::from_secs(4)), 2);
        assert_eq!(identities(&mut store, now + Duration::from_secs(6)), 1);
    }

    #[test]
    fn a_locked_agent_lists_nothing_signs_nothing_and_unlocks_only_with_the_passphrase() {
        let now = Instant::now();
        let mut store = Keystore::new(None, false);
        let blob = add(&mut store, None, now);
        let lock = ClientRequest::Lock(Zeroizing::new(b"secret".to_vec()));
        assert!(matches!(
            store.dispatch(lock, now),
            Action::Reply(Response::Success)
        ));
        assert_eq!(identities(&mut store, now), 0);
        let sign = ClientRequest::Sign {
            key_blob: blob,
            data: b"x".to_vec(),
            flags: 0,
        };
        assert!(matches!(
            store.dispatch(sign, now),
            Action::Reply(Response::Failure)
        ));
        let wrong = ClientRequest::Unlock(Zeroizing::new(b"secreT".to_vec()));
        assert!(matches!(store.dispatch(wrong, now), Action::FailedUnlock));
        let right = ClientRequest::Unlock(Zeroizing::new(b"secret".to_vec()));
        assert!(matches!(
            store.dispatch(right, now),
            Action::Reply(Response::Success)
        ));
        assert_eq!(identities(&mut store, now), 1);
    }

    #[test]
    fn confirm_is_refused_without_a_way_to_ask() {
        let mut store = Keystore::new(None, false);
        let key = oxssh_crypto::generate_private_key(KeyKind::Ed25519, "k").unwrap();
        let request = ClientRequest::Add {
            key,
            constraints: Constraints {
                lifetime: None,
                confirm: true,
            },
        };
        assert!(matches!(
            store.dispatch(request, Instant::now()),
            Action::Reply(Response::Failure)
        ));
    }
}
