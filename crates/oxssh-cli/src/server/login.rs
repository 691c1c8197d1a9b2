//! Answers the core's authentication attempts with the policy of `auth.rs` and PAM:
//! public keys from authorized_keys, passwords and keyboard-interactive through PAM
//! (auth, then account management), `PermitRootLogin` per method. Failures wait the
//! core's failure delay, the same for users that exist and users that do not, and an
//! unknown user still gets a password prompt, so nothing tells them apart.

use std::time::Instant;

use oxssh_keys::certificate::Certificate;
use oxssh_keys::{KeyOptions, PublicKey};
use oxssh_os::{AccountStatus, Pam, PamConfig, PamStep};
use oxssh_proto::auth::{AttemptMethod, AuthAttempt};
use oxssh_proto::TransportError;
use oxssh_wire::userauth::Prompt;
use zeroize::Zeroizing;

use super::auth::{self, Candidate};
use super::certauth;
use super::conn::{Conn, Login};
use super::log;
use super::settings::PAM_SERVICE;

/// How an attempt ended, for the core and the log.
enum Verdict {
    /// Let the user in (or PK_OK for a query).
    Accept(Option<KeyOptions>),
    /// Let the user in to change their expired password, and nothing else.
    AcceptExpired(Option<KeyOptions>),
    /// Another keyboard-interactive round.
    Prompt(Prompt, Vec<String>),
    /// Refuse; the text is for the log.
    Reject(Option<String>),
}

impl Conn {
    /// Answers one attempt.
    pub(super) async fn on_auth(&mut self, attempt: AuthAttempt) -> Result<(), TransportError> {
        let started = Instant::now();
        // sshd looks the user up at the first request, whatever its method, and says
        // so once (the user cannot change: the core refuses that).
        let first_request = self.candidate.is_none();
        let candidate = self.lookup(&attempt.user);
        if candidate.is_none() && first_request {
            log::invalid_user(&self.settings, self.ends, &attempt.user);
        }
        let query = matches!(attempt.method, AttemptMethod::PublicKeyQuery { .. });
        let method = match attempt.method.name() {
            "keyboard-interactive" => "keyboard-interactive/pam",
            other => other,
        };
        let (key, cert) = match &attempt.method {
            AttemptMethod::PublicKey {
                key, certificate, ..
            }
            | AttemptMethod::PublicKeyQuery {
                key, certificate, ..
            } => (Some(key.clone()), certificate.clone()),
            _ => (None, None),
        };
        let used = key.as_ref().map(|key| log::UsedKey {
            key,
            cert: cert.as_deref(),
        });
        let verdict = match (&candidate, &attempt.method) {
            (_, AttemptMethod::None) => Verdict::Reject(None),
            (Some(c), AttemptMethod::PublicKeyQuery { key, .. })
            | (Some(c), AttemptMethod::PublicKey { key, .. }) => {
                self.public_key_login(c, key, cert.as_deref(), query).await
            }
            (None, AttemptMethod::PublicKeyQuery { .. } | AttemptMethod::PublicKey { .. }) => {
                Verdict::Reject(None)
            }
            (c, AttemptMethod::Password { password, .. }) => {
                self.password(
                    c.as_ref(),
                    &attempt.user,
                    Zeroizing::new(password.expose().to_owned()),
                )
                .await
            }
            (c, AttemptMethod::KeyboardInteractiveStart { .. }) => {
                self.kbd_start(c.as_ref(), &attempt.user).await
            }
            (c, AttemptMethod::KeyboardInteractiveResponse { answers }) => {
                let answer = answers
                    .first()
                    .map(|a| a.expose().to_owned())
                    .unwrap_or_default();
                self.kbd_answer(c.as_ref(), &attempt.user, Zeroizing::new(answer))
                    .await
            }
            (_, _) => Verdict::Reject(None),
        };
        let password_change = matches!(verdict, Verdict::AcceptExpired(_));
        match verdict {
            Verdict::Accept(_) | Verdict::AcceptExpired(_) if query => {
                log::postponed(&self.settings, self.ends, &attempt.user, method);
                self.core.pk_ok()
            }
            Verdict::Accept(key_options) | Verdict::AcceptExpired(key_options) => {
                let Some(candidate) = candidate else {
                    return self.core.reject();
                };
                log::accepted(
                    &self.settings,
                    self.ends,
                    &candidate.user.name,
                    method,
                    used,
                );
                self.accepted = Some(Login {
                    candidate,
                    key_options,
                    password_change,
                });
                self.core.accept()
            }
            Verdict::Prompt(prompt, info) => {
                self.core.info_request("", &info.join("\n"), vec![prompt])
            }
            Verdict::Reject(reason) => {
                if let Some(reason) = reason {
                    tracing::info!("{reason}");
                }
                if method != "none" {
                    let max_auth_tries = candidate
                        .as_ref()
                        .map_or(self.settings.config.max_auth_tries, |c| {
                            c.config.max_auth_tries
                        });
                    let line = log::Attempt {
                        user: &attempt.user,
                        invalid: candidate.is_none(),
                        method,
                        key: used,
                    };
                    let failures = self.core.auth().failures();
                    log::failed(&self.settings, self.ends, line, failures, max_auth_tries);
                }
                // `none` is how clients learn the methods, not a real attempt: sshd
                // answers it at once (the delay would tax every login).
                if method != "none" {
                    tokio::time::sleep(self.core.failure_delay(started.elapsed())).await;
                }
                self.core.reject()
            }
        }
    }

    /// The account behind `name`, looked up once per name and connection.
    fn lookup(&mut self, name: &str) -> Option<Candidate> {
        match &self.candidate {
            Some((cached, candidate)) if cached == name => candidate.clone(),
            _ => {
                let candidate = auth::candidate(&self.settings, name, self.ends);
                self.candidate = Some((name.to_owned(), candidate.clone()));
                candidate
            }
        }
    }

    /// A key the policy accepts, then (with `UsePAM`) PAM's account stack, as sshd runs
    /// it for key logins too; a query is answered before PAM is involved.
    async fn public_key_login(
        &mut self,
        candidate: &Candidate,
        key: &PublicKey,
        cert: Option<&Certificate>,
        query: bool,
    ) -> Verdict {
        let verdict = self.public_key(candidate, key, cert, query);
        let Verdict::Accept(options) = verdict else {
            return verdict;
        };
        if query || !candidate.config.use_pam {
            return Verdict::Accept(options);
        }
        if self.pam_for(&candidate.user.name).await.is_none() {
            return Verdict::Reject(None);
        }
        match self.account_check(candidate).await {
            Verdict::Accept(_) => Verdict::Accept(options),
            Verdict::AcceptExpired(_) => Verdict::AcceptExpired(options),
            other => other,
        }
    }

    fn public_key(
        &mut self,
        candidate: &Candidate,
        key: &PublicKey,
        cert: Option<&Certificate>,
        query: bool,
    ) -> Verdict {
        if let Some(reason) = &candidate.refused {
            return Verdict::Reject(Some(reason.clone()));
        }
        if !candidate.config.pubkey_authentication {
            return Verdict::Reject(None);
        }
        if let Some(path) = &candidate.config.revoked_keys {
            if let Some(reason) = super::revoked::revocation(path, key, cert) {
                return Verdict::Reject(Some(reason));
            }
        }
        let options = match cert {
            Some(cert) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                match certauth::certificate_options(candidate, cert, self.ends, now) {
                    Ok(options) => options,
                    Err(reason) => return Verdict::Reject(reason),
                }
            }
            None => match self.authorized_key(candidate, key, query) {
                Some(options) => options,
                None => return Verdict::Reject(None),
            },
        };
        let forced = candidate.config.force_command.is_some() || options.forced_command().is_some();
        if !auth::root_allowed(&candidate.config, &candidate.user, true, forced) {
            return Verdict::Reject(Some(format!(
                "ROOT LOGIN REFUSED FROM {} port {}",
                self.ends.peer.ip(),
                self.ends.peer.port()
            )));
        }
        Verdict::Accept(Some(options))
    }

    /// The options of the authorized_keys line that lets `key` in: those found when the
    /// same key was just queried for the same user, else read from the files now. A
    /// query's answer is kept for the signed attempt that follows it.
    fn authorized_key(
        &mut self,
        candidate: &Candidate,
        key: &PublicKey,
        query: bool,
    ) -> Option<KeyOptions> {
        let name = &candidate.user.name;
        let options = match self.queried_key.take() {
            Some((user, queried, options)) if &user == name && &queried == key => Some(options),
            _ => auth::find_authorized_key(candidate, key, self.ends),
        }?;
        if query {
            self.queried_key = Some((name.clone(), key.clone(), options.clone()));
        }
        Some(options)
    }

    async fn password(
        &mut self,
        candidate: Option<&Candidate>,
        user: &str,
        password: Zeroizing<String>,
    ) -> Verdict {
        let Some(candidate) = candidate.filter(|c| self.password_allowed(c)) else {
            return Verdict::Reject(None);
        };
        if password.is_empty() && !candidate.config.permit_empty_passwords {
            return Verdict::Reject(None);
        }
        let Some(pam) = self.pam_for(user).await else {
            return Verdict::Reject(None);
        };
        if pam.password(&password).await.is_err() {
            return Verdict::Reject(None);
        }
        self.account_check(candidate).await
    }

    async fn kbd_start(&mut self, candidate: Option<&Candidate>, user: &str) -> Verdict {
        let Some(candidate) = candidate.filter(|c| self.kbd_allowed(c)) else {
            // Ask anyway: an unknown user looks like a known one with a wrong password.
            self.pam = None;
            return Verdict::Prompt(password_prompt(), Vec::new());
        };
        let _ = candidate;
        let Some(pam) = self.pam_for(user).await else {
            return Verdict::Reject(None);
        };
        match pam.authenticate().await {
            Ok(PamStep::Prompt(p)) => Verdict::Prompt(
                Prompt {
                    text: p.text,
                    echo: p.echo,
                },
                p.info,
            ),
            Ok(PamStep::Authenticated { .. }) => match self.candidate_for(user) {
                Some(c) => self.account_check(&c).await,
                None => Verdict::Reject(None),
            },
            Err(_) => Verdict::Reject(None),
        }
    }

    async fn kbd_answer(
        &mut self,
        candidate: Option<&Candidate>,
        user: &str,
        answer: Zeroizing<String>,
    ) -> Verdict {
        let (Some(candidate), Some((pam_user, pam))) = (candidate, self.pam.as_mut()) else {
            return Verdict::Reject(None);
        };
        if pam_user != user {
            return Verdict::Reject(None);
        }
        match pam.respond(answer).await {
            Ok(PamStep::Prompt(p)) => Verdict::Prompt(
                Prompt {
                    text: p.text,
                    echo: p.echo,
                },
                p.info,
            ),
            Ok(PamStep::Authenticated { .. }) => self.account_check(candidate).await,
            Err(_) => {
                self.pam = None;
                Verdict::Reject(None)
            }
        }
    }

    fn candidate_for(&self, user: &str) -> Option<Candidate> {
        match &self.candidate {
            Some((name, c)) if name == user => c.clone(),
            _ => None,
        }
    }

    fn password_allowed(&self, c: &Candidate) -> bool {
        c.refused.is_none()
            && c.config.use_pam
            && c.config.password_authentication
            && auth::root_allowed(&c.config, &c.user, false, false)
    }

    fn kbd_allowed(&self, c: &Candidate) -> bool {
        c.refused.is_none()
            && c.config.use_pam
            && c.config.kbd_interactive_authentication
            && auth::root_allowed(&c.config, &c.user, false, false)
    }

    /// The PAM transaction for `user`, started on first use.
    async fn pam_for(&mut self, user: &str) -> Option<&mut Pam> {
        let fresh = !matches!(&self.pam, Some((u, _)) if u == user);
        if fresh {
            let mut config = PamConfig::new(PAM_SERVICE, user);
            config.rhost = Some(self.ends.peer.ip().to_string());
            match Pam::start(config).await {
                Ok(pam) => self.pam = Some((user.to_owned(), pam)),
                Err(e) => {
                    tracing::error!("PAM start for {user}: {e}");
                    self.pam = None;
                    return None;
                }
            }
        }
        self.pam.as_mut().map(|(_, pam)| pam)
    }

    /// PAM's account stack after a successful password or keyboard-interactive check.
    async fn account_check(&mut self, candidate: &Candidate) -> Verdict {
        let Some((_, pam)) = self.pam.as_mut() else {
            return Verdict::Reject(None);
        };
        match pam.acct_mgmt().await {
            Ok(AccountStatus::Valid) => Verdict::Accept(None),
            Ok(AccountStatus::PasswordChangeRequired) => Verdict::AcceptExpired(None),
            Err(e) => Verdict::Reject(Some(format!(
                "PAM account check for {}: {e}",
                candidate.user.name
            ))),
        }
    }
}

fn password_prompt() -> Prompt {
    Prompt {
        text: "Password: ".into(),
        echo: false,
    }
}
