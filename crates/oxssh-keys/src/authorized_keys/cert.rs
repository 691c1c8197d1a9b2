//! What a user certificate's critical options and extensions (`PROTOCOL.certkeys`) mean
//! for a session, in the terms of authorized_keys options, and how they combine with
//! the options of a `cert-authority` line, as OpenSSH's `sshauthopt_from_cert` and
//! `sshauthopt_merge` do: a certificate grants only the permissions its extensions name,
//! `force-command` forces a command, `source-address` limits where it may be used from,
//! and any other critical option makes the certificate unusable.

use super::options::{KeyOptions, Permission};
use crate::certificate::{CertOption, Certificate};

/// A certificate's restrictions: the session options and the `source-address` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRestrictions {
    /// Permissions and forced command, as authorized_keys options.
    pub options: KeyOptions,
    /// The `source-address` CIDR list, if any (the server matches the client against
    /// it).
    pub source_address: Option<String>,
}

/// Why a certificate's options make it unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertOptionError {
    /// A critical option this implementation does not know (sshd refuses these).
    #[error("Certificate has unknown critical option {0:?}")]
    UnknownCritical(String),
    /// A critical option given twice, or whose value is not one string.
    #[error("Certificate has a malformed critical option {0:?}")]
    Malformed(String),
    /// The certificate and its `cert-authority` line both force a command.
    #[error("Certificate and key both force a command")]
    ConflictingCommands,
}

/// The extension that grants `permission`.
fn extension(permission: Permission) -> &'static str {
    match permission {
        Permission::Pty => "permit-pty",
        Permission::PortForwarding => "permit-port-forwarding",
        Permission::AgentForwarding => "permit-agent-forwarding",
        Permission::X11Forwarding => "permit-X11-forwarding",
        Permission::UserRc => "permit-user-rc",
    }
}

fn string_option(option: &CertOption, slot: &mut Option<String>) -> Result<(), CertOptionError> {
    let value = option
        .string_value()
        .filter(|_| slot.is_none())
        .ok_or_else(|| CertOptionError::Malformed(option.name.clone()))?;
    *slot = Some(value.to_owned());
    Ok(())
}

impl CertRestrictions {
    /// The restrictions `cert` carries.
    ///
    /// # Errors
    /// [`CertOptionError`] for an unknown or malformed critical option.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, CertOptionError> {
        let mut command = None;
        let mut source_address = None;
        for option in &cert.critical_options {
            match option.name.as_str() {
                "force-command" => string_option(option, &mut command)?,
                "source-address" => string_option(option, &mut source_address)?,
                other => return Err(CertOptionError::UnknownCritical(other.to_owned())),
            }
        }
        let mut options = KeyOptions::default();
        for permission in Permission::ALL {
            let granted = cert
                .extensions
                .iter()
                .any(|e| e.name == extension(permission));
            options.set_permitted(permission, granted);
        }
        options.set_forced_command(command);
        Ok(Self {
            options,
            source_address,
        })
    }

    /// Combines these restrictions with the options of the `cert-authority` line that
    /// trusted the CA: a permission survives only if both allow it, a command forced by
    /// either is forced (both forcing one refuses the login), and the line's other
    /// options (`environment=`, `permitopen=`, ...) apply as written.
    ///
    /// # Errors
    /// [`CertOptionError::ConflictingCommands`].
    pub fn merged_with_line(&self, line: &KeyOptions) -> Result<KeyOptions, CertOptionError> {
        let mut merged = line.clone();
        for permission in Permission::ALL {
            merged.set_permitted(
                permission,
                line.allows(permission) && self.options.allows(permission),
            );
        }
        match (line.forced_command(), self.options.forced_command()) {
            (Some(_), Some(_)) => return Err(CertOptionError::ConflictingCommands),
            (None, Some(cmd)) => merged.set_forced_command(Some(cmd.to_owned())),
            _ => {}
        }
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::CertType;
    use crate::PublicKey;

    fn cert(critical: Vec<CertOption>, extensions: Vec<CertOption>) -> Certificate {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILJX+gmYW3KB4w+0S4snX0jb12J0/c25q7Tz/f6zOI4c",
        )
        .unwrap();
        Certificate {
            nonce: vec![0; 32],
            key: key.clone(),
            serial: 1,
            cert_type: CertType::User,
            key_id: "id".into(),
            principals: vec!["alice".into()],
            valid_after: 0,
            valid_before: u64::MAX,
            critical_options: critical,
            extensions,
            signature_key: key,
            signature: Vec::new(),
        }
    }

    #[test]
    fn extensions_grant_permissions_and_force_command_forces() {
        let c = cert(
            vec![
                CertOption::string("force-command", "/bin/true"),
                CertOption::string("source-address", "127.0.0.1/32"),
            ],
            vec![CertOption::flag("permit-pty")],
        );
        let r = CertRestrictions::from_certificate(&c).unwrap();
        assert!(r.options.pty_allowed());
        assert!(!r.options.port_forwarding_allowed());
        assert!(!r.options.agent_forwarding_allowed());
        assert_eq!(r.options.forced_command(), Some("/bin/true"));
        assert_eq!(r.source_address.as_deref(), Some("127.0.0.1/32"));
    }

    #[test]
    fn unknown_or_repeated_critical_options_refuse_the_certificate() {
        let c = cert(vec![CertOption::flag("verify-required-x")], vec![]);
        assert!(matches!(
            CertRestrictions::from_certificate(&c),
            Err(CertOptionError::UnknownCritical(_))
        ));
        let twice = CertOption::string("force-command", "a");
        let c = cert(vec![twice.clone(), twice], vec![]);
        assert!(CertRestrictions::from_certificate(&c).is_err());
    }

    #[test]
    fn merging_keeps_only_what_both_allow() {
        let c = cert(
            vec![],
            vec![
                CertOption::flag("permit-pty"),
                CertOption::flag("permit-user-rc"),
            ],
        );
        let r = CertRestrictions::from_certificate(&c).unwrap();
        let line = KeyOptions::parse("cert-authority,no-pty,command=\"/bin/id\"").unwrap();
        let merged = r.merged_with_line(&line).unwrap();
        assert!(!merged.pty_allowed() && merged.user_rc_allowed());
        assert_eq!(merged.forced_command(), Some("/bin/id"));
        let forced = cert(vec![CertOption::string("force-command", "x")], vec![]);
        let r = CertRestrictions::from_certificate(&forced).unwrap();
        assert_eq!(
            r.merged_with_line(&line),
            Err(CertOptionError::ConflictingCommands)
        );
    }
}
