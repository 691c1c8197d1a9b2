//! The authentication loop: `none` to learn the methods, then `PreferredAuthentications`
//! in order among those the server allows: public key (agent keys, then identity
//! files), keyboard-interactive, password; OpenSSH's prompts and messages.

use std::path::PathBuf;
use std::sync::Arc;

use oxssh::{AuthResult, Client};
use oxssh_config::values::PubkeyAuthentication;
use oxssh_keys::certificate::Certificate;
use oxssh_proto::certificate::CertifiedKey;

use super::identity::{agent_keys, load_file, Identity, DEFAULT_IDENTITY_FILES};
use super::prompt::Prompter;

/// OpenSSH's default `PreferredAuthentications` (gssapi and hostbased are not ours yet).
const DEFAULT_PREFERRED: &str = "gssapi-with-mic,hostbased,publickey,keyboard-interactive,password";

/// What authentication needs from the configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Remote user.
    pub user: String,
    /// Host as shown in prompts.
    pub host: String,
    /// Host named in keyboard-interactive prompts: `HostKeyAlias` if set, else `host`
    /// (OpenSSH's `input_userauth_info_req`).
    pub prompt_host: String,
    /// `PreferredAuthentications`.
    pub preferred: Option<String>,
    /// `PubkeyAuthentication`.
    pub pubkey: bool,
    /// `PasswordAuthentication`.
    pub password: bool,
    /// `KbdInteractiveAuthentication`.
    pub keyboard_interactive: bool,
    /// `NumberOfPasswordPrompts`.
    pub password_prompts: u32,
    /// Identity files, expanded.
    pub identity_files: Vec<PathBuf>,
    /// Whether identity files came from the configuration (else OpenSSH's defaults).
    pub identity_files_configured: bool,
    /// `CertificateFile`s, expanded.
    pub certificate_files: Vec<PathBuf>,
    /// `IdentitiesOnly`.
    pub identities_only: bool,
    /// The agent socket (`IdentityAgent` or `SSH_AUTH_SOCK`), if any.
    pub agent: Option<PathBuf>,
    /// Print banners (not with `-q`).
    pub show_banner: bool,
}

impl AuthSettings {
    /// From the resolved configuration.
    pub fn from_config(
        config: &oxssh_config::ClientConfig,
        identity_files: Vec<PathBuf>,
        show_banner: bool,
    ) -> Self {
        let agent = match config.identity_agent.as_deref() {
            Some("none") => None,
            Some("SSH_AUTH_SOCK") | None => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
            Some(path) => Some(PathBuf::from(super::run::expand_tilde(path))),
        };
        Self {
            user: config.user.clone(),
            host: config.hostname.clone(),
            prompt_host: config
                .host_key_alias
                .clone()
                .unwrap_or_else(|| config.hostname.clone()),
            preferred: config.preferred_authentications.clone(),
            pubkey: config.pubkey_authentication != PubkeyAuthentication::No,
            password: config.password_authentication,
            keyboard_interactive: config.kbd_interactive_authentication,
            password_prompts: config.number_of_password_prompts,
            identity_files_configured: !config.identity_files.is_empty(),
            identity_files,
            identities_only: config.identities_only,
            certificate_files: Vec::new(),
            agent,
            show_banner,
        }
    }
}

fn show_banners(client: &Client, settings: &AuthSettings) {
    if !settings.show_banner {
        return;
    }
    for banner in client.take_banners() {
        eprint!("{}", crate::width::escape_text(&banner));
    }
}

/// Runs authentication; `Err` holds OpenSSH's final message.
pub async fn authenticate(
    client: &Client,
    settings: &AuthSettings,
    prompter: Arc<dyn Prompter>,
) -> Result<(), String> {
    let mut allowed = match client.auth_none().await.map_err(|e| e.to_string())? {
        AuthResult::Success => return Ok(()),
        AuthResult::Failure { methods, .. } => methods,
    };
    show_banners(client, settings);
    let preferred = settings.preferred.as_deref().unwrap_or(DEFAULT_PREFERRED);
    let mut tried: Vec<&str> = Vec::new();
    // Each round takes the next preferred method the server still allows and we have
    // not exhausted.
    while let Some(method) = preferred
        .split(',')
        .find(|m| allowed.iter().any(|a| a == m) && !tried.contains(m))
    {
        tried.push(method);
        tracing::info!("Next authentication method: {method}");
        let result = match method {
            "publickey" if settings.pubkey => publickey(client, settings, &prompter).await?,
            "keyboard-interactive" if settings.keyboard_interactive => {
                keyboard_interactive(client, settings, &prompter).await?
            }
            "password" if settings.password => password(client, settings, &prompter).await?,
            _ => None,
        };
        show_banners(client, settings);
        match result {
            Some(AuthResult::Success) => {
                tracing::info!("Authenticated to {} using \"{method}\".", settings.host);
                return Ok(());
            }
            Some(AuthResult::Failure {
                methods,
                partial_success,
            }) => {
                if partial_success {
                    // Another method is required: everything may be tried again.
                    tried.clear();
                }
                allowed = methods;
            }
            None => {}
        }
    }
    Err(format!(
        "{}@{}: Permission denied ({}).",
        settings.user,
        settings.host,
        allowed.join(",")
    ))
}

fn identities(settings: &AuthSettings, prompter: &Arc<dyn Prompter>) -> Vec<Identity> {
    let mut keys = Vec::new();
    let files: Vec<PathBuf> = if settings.identity_files_configured {
        settings.identity_files.clone()
    } else {
        DEFAULT_IDENTITY_FILES
            .iter()
            .map(|p| PathBuf::from(super::run::expand_tilde(p)))
            .collect()
    };
    let file_keys: Vec<Identity> = files
        .iter()
        .filter_map(|path| load_file(path, prompter.clone()))
        .collect();
    if let Some(socket) = &settings.agent {
        for key in agent_keys(socket) {
            // IdentitiesOnly: only agent keys that match an identity file.
            let wanted = !settings.identities_only
                || file_keys
                    .iter()
                    .any(|f| f.key.public_key() == key.key.public_key());
            if wanted {
                keys.push(key);
            }
        }
    }
    for key in file_keys {
        if !keys
            .iter()
            .any(|k| k.key.public_key() == key.key.public_key())
        {
            keys.push(key);
        }
    }
    with_certificates(keys, &files, &settings.certificate_files)
}

/// Adds, after each key, the certificates for it, as ssh does: `KEY-cert.pub` next to
/// each identity file, and every `CertificateFile`.
fn with_certificates(
    keys: Vec<Identity>,
    files: &[PathBuf],
    explicit: &[PathBuf],
) -> Vec<Identity> {
    let next_to = files.iter().map(|f| {
        let mut name = f.as_os_str().to_owned();
        name.push("-cert.pub");
        PathBuf::from(name)
    });
    let mut certs: Vec<(PathBuf, Certificate)> = Vec::new();
    for path in next_to.chain(explicit.iter().cloned()) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            if explicit.contains(&path) {
                tracing::debug!("no certificate {}", path.display());
            }
            continue;
        };
        match Certificate::from_openssh(&text) {
            Ok((cert, _)) if !certs.iter().any(|(_, c)| *c == cert) => certs.push((path, cert)),
            Ok(_) => {}
            Err(e) => tracing::debug!("{}: not a certificate: {e}", path.display()),
        }
    }
    let mut out = Vec::new();
    for identity in keys {
        let matching: Vec<Identity> = certs
            .iter()
            .filter_map(|(path, cert)| {
                let key = CertifiedKey::new(identity.key.clone(), cert.clone())?;
                Some(Identity {
                    key: Arc::new(key),
                    source: path.display().to_string(),
                })
            })
            .collect();
        out.push(identity);
        out.extend(matching);
    }
    out
}

async fn publickey(
    client: &Client,
    settings: &AuthSettings,
    prompter: &Arc<dyn Prompter>,
) -> Result<Option<AuthResult>, String> {
    let mut last = None;
    for identity in identities(settings, prompter) {
        tracing::info!("Offering public key: {}", identity.source);
        match client.auth_publickey(identity.key.as_ref()).await {
            Ok(AuthResult::Success) => return Ok(Some(AuthResult::Success)),
            Ok(failure) => last = Some(failure),
            // A key that cannot sign (wrong passphrase, agent refusal) is skipped.
            Err(oxssh::Error::Signing(e)) => tracing::debug!("{}: {e}", identity.source),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(last)
}

async fn password(
    client: &Client,
    settings: &AuthSettings,
    prompter: &Arc<dyn Prompter>,
) -> Result<Option<AuthResult>, String> {
    let mut last = None;
    for attempt in 0..settings.password_prompts.max(1) {
        if attempt > 0 {
            eprintln!("Permission denied, please try again.");
        }
        let question = format!("{}@{}'s password: ", settings.user, settings.host);
        let Some(pw) = prompter.secret(&question) else {
            break;
        };
        match client.auth_password(&pw).await.map_err(|e| e.to_string())? {
            AuthResult::Success => return Ok(Some(AuthResult::Success)),
            failure => last = Some(failure),
        }
    }
    Ok(last)
}

async fn keyboard_interactive(
    client: &Client,
    settings: &AuthSettings,
    prompter: &Arc<dyn Prompter>,
) -> Result<Option<AuthResult>, String> {
    let mut last = None;
    for _ in 0..settings.password_prompts.max(1) {
        let mut gave_up = false;
        let mut asked = false;
        let result = client
            .auth_keyboard_interactive(|request| {
                asked = true;
                // The server's words, escaped as OpenSSH logs them.
                if !request.name.is_empty() {
                    eprintln!("{}", crate::width::escape_log(&request.name));
                }
                if !request.instruction.is_empty() {
                    eprintln!("{}", crate::width::escape_log(&request.instruction));
                }
                request
                    .prompts
                    .iter()
                    .map(|p| {
                        // OpenSSH names the account the server asks about: the same
                        // "Password: " could come from any of several hosts.
                        let question = format!(
                            "({}@{}) {}",
                            settings.user,
                            settings.prompt_host,
                            crate::width::escape(&p.text)
                        );
                        let answer = if p.echo {
                            prompter.visible(&question)
                        } else {
                            prompter.secret(&question).map(|s| s.to_string())
                        };
                        answer.unwrap_or_else(|| {
                            gave_up = true;
                            String::new()
                        })
                    })
                    .collect()
            })
            .await
            .map_err(|e| e.to_string())?;
        match result {
            AuthResult::Success => return Ok(Some(AuthResult::Success)),
            failure => last = Some(failure),
        }
        // A server that refuses without asking anything (sshd with `UsePAM no`) will
        // refuse again: retrying would only spend its MaxAuthTries before the password
        // method gets a turn (OpenSSH's "no info_req_seen").
        if gave_up || !asked {
            break;
        }
    }
    Ok(last)
}
