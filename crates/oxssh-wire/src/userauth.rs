//! User authentication messages (RFC 4252, RFC 4256, RFC 8332 §3) as typed structs.

use crate::codec::{NameList, Reader, Writer};
use crate::error::DecodeError;
use crate::transport::Message;

/// Message numbers of the authentication protocol.
pub mod num {
    /// RFC 4252 §5
    pub const USERAUTH_REQUEST: u8 = 50;
    /// RFC 4252 §5.1
    pub const USERAUTH_FAILURE: u8 = 51;
    /// RFC 4252 §5.1
    pub const USERAUTH_SUCCESS: u8 = 52;
    /// RFC 4252 §5.4
    pub const USERAUTH_BANNER: u8 = 53;
    /// RFC 4252 §7: PK_OK; RFC 4252 §8: PASSWD_CHANGEREQ; RFC 4256 §3.2: INFO_REQUEST.
    pub const USERAUTH_METHOD_SPECIFIC: u8 = 60;
    /// RFC 4256 §3.4
    pub const USERAUTH_INFO_RESPONSE: u8 = 61;
}

/// Authentication method names (RFC 4252 §5, RFC 4256).
pub mod method {
    /// No authentication (used to query the methods that can continue).
    pub const NONE: &str = "none";
    /// Public key.
    pub const PUBLICKEY: &str = "publickey";
    /// Password.
    pub const PASSWORD: &str = "password";
    /// Keyboard-interactive.
    pub const KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";
}

/// Most prompts accepted in one INFO_REQUEST/INFO_RESPONSE (bounds allocation).
pub const MAX_PROMPTS: u32 = 64;

/// The method-specific part of a USERAUTH_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `none`
    None,
    /// `publickey`: a query (no signature) or a signed attempt.
    PublicKey {
        /// Signature algorithm name.
        algorithm: String,
        /// Public key blob.
        key: Vec<u8>,
        /// Signature blob, when this is an attempt rather than a query.
        signature: Option<Vec<u8>>,
    },
    /// `password`, optionally changing it.
    Password {
        /// The password (zeroize after use).
        password: String,
        /// The new password when answering a change request.
        new_password: Option<String>,
    },
    /// `keyboard-interactive` (RFC 4256 §3.1).
    KeyboardInteractive {
        /// Language tag (deprecated, usually empty).
        language: String,
        /// Submethod hints.
        submethods: String,
    },
    /// A method we do not know, kept by name.
    Unknown(String),
}

/// SSH_MSG_USERAUTH_REQUEST (RFC 4252 §5)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthRequest {
    /// User name (UTF-8).
    pub user: String,
    /// Service to start afterwards (`ssh-connection`).
    pub service: String,
    /// The method and its fields.
    pub method: AuthMethod,
}

impl UserauthRequest {
    /// The method name as sent.
    pub fn method_name(&self) -> &str {
        match &self.method {
            AuthMethod::None => method::NONE,
            AuthMethod::PublicKey { .. } => method::PUBLICKEY,
            AuthMethod::Password { .. } => method::PASSWORD,
            AuthMethod::KeyboardInteractive { .. } => method::KEYBOARD_INTERACTIVE,
            AuthMethod::Unknown(name) => name,
        }
    }

    /// The data a public-key signature covers (RFC 4252 §7): the session id, then this
    /// request up to and including the public key blob.
    pub fn signed_data(&self, session_id: &[u8]) -> Option<Vec<u8>> {
        let AuthMethod::PublicKey { algorithm, key, .. } = &self.method else {
            return None;
        };
        let mut buf = Vec::new();
        Writer::new(&mut buf)
            .string(session_id)
            .u8(num::USERAUTH_REQUEST)
            .string(self.user.as_bytes())
            .string(self.service.as_bytes())
            .string(method::PUBLICKEY.as_bytes())
            .bool(true)
            .string(algorithm.as_bytes())
            .string(key);
        Some(buf)
    }
}

impl Message for UserauthRequest {
    const NUMBER: u8 = num::USERAUTH_REQUEST;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.user.as_bytes())
            .string(self.service.as_bytes())
            .string(self.method_name().as_bytes());
        match &self.method {
            AuthMethod::None | AuthMethod::Unknown(_) => {}
            AuthMethod::PublicKey {
                algorithm,
                key,
                signature,
            } => {
                w.bool(signature.is_some())
                    .string(algorithm.as_bytes())
                    .string(key);
                if let Some(sig) = signature {
                    w.string(sig);
                }
            }
            AuthMethod::Password {
                password,
                new_password,
            } => {
                w.bool(new_password.is_some()).string(password.as_bytes());
                if let Some(new) = new_password {
                    w.string(new.as_bytes());
                }
            }
            AuthMethod::KeyboardInteractive {
                language,
                submethods,
            } => {
                w.string(language.as_bytes()).string(submethods.as_bytes());
            }
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let user = r.utf8()?.to_owned();
        let service = r.utf8()?.to_owned();
        let name = r.utf8()?;
        let method = match name {
            method::NONE => AuthMethod::None,
            method::PUBLICKEY => {
                let has_signature = r.bool()?;
                let algorithm = r.utf8()?.to_owned();
                let key = r.string()?.to_vec();
                let signature = if has_signature {
                    Some(r.string()?.to_vec())
                } else {
                    None
                };
                AuthMethod::PublicKey {
                    algorithm,
                    key,
                    signature,
                }
            }
            method::PASSWORD => {
                let changing = r.bool()?;
                let password = r.utf8()?.to_owned();
                let new_password = if changing {
                    Some(r.utf8()?.to_owned())
                } else {
                    None
                };
                AuthMethod::Password {
                    password,
                    new_password,
                }
            }
            method::KEYBOARD_INTERACTIVE => AuthMethod::KeyboardInteractive {
                language: r.utf8()?.to_owned(),
                submethods: r.utf8()?.to_owned(),
            },
            other => {
                // Unknown methods carry fields we cannot parse: skip them.
                let _ = r.take(r.remaining())?;
                AuthMethod::Unknown(other.to_owned())
            }
        };
        Ok(Self {
            user,
            service,
            method,
        })
    }
}

/// SSH_MSG_USERAUTH_FAILURE (RFC 4252 §5.1)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthFailure {
    /// Methods that may productively continue.
    pub methods: NameList,
    /// Whether the last request succeeded but more methods are required.
    pub partial_success: bool,
}

impl Message for UserauthFailure {
    const NUMBER: u8 = num::USERAUTH_FAILURE;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.name_list(&self.methods).bool(self.partial_success);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            methods: r.name_list()?,
            partial_success: r.bool()?,
        })
    }
}

/// SSH_MSG_USERAUTH_SUCCESS (RFC 4252 §5.1)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserauthSuccess;

impl Message for UserauthSuccess {
    const NUMBER: u8 = num::USERAUTH_SUCCESS;
    fn encode_body(&self, _w: &mut Writer<'_>) {}
    fn decode_body(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}

/// SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthBanner {
    /// The banner text.
    pub message: String,
    /// Language tag.
    pub language: String,
}

impl Message for UserauthBanner {
    const NUMBER: u8 = num::USERAUTH_BANNER;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.message.as_bytes())
            .string(self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            message: String::from_utf8_lossy(r.string()?).into_owned(),
            language: String::from_utf8_lossy(r.string()?).into_owned(),
        })
    }
}

/// SSH_MSG_USERAUTH_PK_OK (RFC 4252 §7): the server would accept this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthPkOk {
    /// Algorithm from the query.
    pub algorithm: String,
    /// Key blob from the query.
    pub key: Vec<u8>,
}

impl Message for UserauthPkOk {
    const NUMBER: u8 = num::USERAUTH_METHOD_SPECIFIC;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.algorithm.as_bytes()).string(&self.key);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            algorithm: r.utf8()?.to_owned(),
            key: r.string()?.to_vec(),
        })
    }
}

/// SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (RFC 4252 §8)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthPasswdChangeReq {
    /// Prompt text.
    pub prompt: String,
    /// Language tag.
    pub language: String,
}

impl Message for UserauthPasswdChangeReq {
    const NUMBER: u8 = num::USERAUTH_METHOD_SPECIFIC;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.prompt.as_bytes())
            .string(self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            prompt: r.utf8()?.to_owned(),
            language: r.utf8()?.to_owned(),
        })
    }
}

/// One prompt of a keyboard-interactive INFO_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Prompt text.
    pub text: String,
    /// Whether the answer may be echoed.
    pub echo: bool,
}

/// SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthInfoRequest {
    /// Name (title).
    pub name: String,
    /// Instruction text.
    pub instruction: String,
    /// Language tag.
    pub language: String,
    /// Prompts, in order.
    pub prompts: Vec<Prompt>,
}

impl Message for UserauthInfoRequest {
    const NUMBER: u8 = num::USERAUTH_METHOD_SPECIFIC;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.string(self.name.as_bytes())
            .string(self.instruction.as_bytes())
            .string(self.language.as_bytes())
            .u32(u32::try_from(self.prompts.len()).unwrap_or(u32::MAX));
        for p in &self.prompts {
            w.string(p.text.as_bytes()).bool(p.echo);
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.utf8()?.to_owned();
        let instruction = r.utf8()?.to_owned();
        let language = r.utf8()?.to_owned();
        let count = r.u32()?;
        if count > MAX_PROMPTS {
            return Err(DecodeError::TooLong(count as usize));
        }
        let mut prompts = Vec::with_capacity(count as usize);
        for _ in 0..count {
            prompts.push(Prompt {
                text: r.utf8()?.to_owned(),
                echo: r.bool()?,
            });
        }
        Ok(Self {
            name,
            instruction,
            language,
            prompts,
        })
    }
}

/// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 §3.4)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthInfoResponse {
    /// Answers, one per prompt.
    pub responses: Vec<String>,
}

impl Message for UserauthInfoResponse {
    const NUMBER: u8 = num::USERAUTH_INFO_RESPONSE;
    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u32(u32::try_from(self.responses.len()).unwrap_or(u32::MAX));
        for answer in &self.responses {
            w.string(answer.as_bytes());
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = r.u32()?;
        if count > MAX_PROMPTS {
            return Err(DecodeError::TooLong(count as usize));
        }
        let mut responses = Vec::with_capacity(count as usize);
        for _ in 0..count {
            responses.push(r.utf8()?.to_owned());
        }
        Ok(Self { responses })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests_support::round_trip;

    #[test]
    fn every_userauth_message_round_trips() {
        for method in [
            AuthMethod::None,
            AuthMethod::PublicKey {
                algorithm: "ssh-ed25519".into(),
                key: vec![1; 51],
                signature: None,
            },
            AuthMethod::PublicKey {
                algorithm: "rsa-sha2-256".into(),
                key: vec![1; 10],
                signature: Some(vec![2; 20]),
            },
            AuthMethod::Password {
                password: "pw".into(),
                new_password: None,
            },
            AuthMethod::Password {
                password: "old".into(),
                new_password: Some("new".into()),
            },
            AuthMethod::KeyboardInteractive {
                language: String::new(),
                submethods: "pam".into(),
            },
        ] {
            round_trip(UserauthRequest {
                user: "alice".into(),
                service: "ssh-connection".into(),
                method,
            });
        }
        round_trip(UserauthFailure {
            methods: NameList::from_names(["publickey", "password"]),
            partial_success: true,
        });
        round_trip(UserauthSuccess);
        round_trip(UserauthBanner {
            message: "hi\n".into(),
            language: String::new(),
        });
        round_trip(UserauthPkOk {
            algorithm: "ssh-ed25519".into(),
            key: vec![3; 51],
        });
        round_trip(UserauthPasswdChangeReq {
            prompt: "change".into(),
            language: String::new(),
        });
        round_trip(UserauthInfoRequest {
            name: "n".into(),
            instruction: "i".into(),
            language: String::new(),
            prompts: vec![Prompt {
                text: "Password: ".into(),
                echo: false,
            }],
        });
        round_trip(UserauthInfoResponse {
            responses: vec!["secret".into()],
        });
    }

    #[test]
    fn unknown_methods_are_kept_by_name() {
        let mut buf = Vec::new();
        Writer::new(&mut buf)
            .u8(50)
            .string(b"u")
            .string(b"ssh-connection")
            .string(b"hostbased")
            .string(b"whatever");
        let req = UserauthRequest::decode(&buf).unwrap();
        assert_eq!(req.method, AuthMethod::Unknown("hostbased".into()));
    }

    #[test]
    fn signed_data_follows_rfc4252_section_7() {
        let req = UserauthRequest {
            user: "u".into(),
            service: "ssh-connection".into(),
            method: AuthMethod::PublicKey {
                algorithm: "ssh-ed25519".into(),
                key: vec![9],
                signature: Some(vec![1]),
            },
        };
        let data = req.signed_data(b"sid").unwrap();
        let mut r = Reader::new(&data);
        assert_eq!(r.string().unwrap(), b"sid");
        assert_eq!(r.u8().unwrap(), 50);
        assert_eq!(r.string().unwrap(), b"u");
        assert_eq!(r.string().unwrap(), b"ssh-connection");
        assert_eq!(r.string().unwrap(), b"publickey");
        assert!(r.bool().unwrap());
        assert_eq!(r.string().unwrap(), b"ssh-ed25519");
        assert_eq!(r.string().unwrap(), &[9]);
        r.finish().unwrap();
    }
}
