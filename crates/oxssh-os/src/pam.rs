//! PAM for the server (`UsePAM`): one transaction per login, for a service (`sshd`), a user
//! and the client's host (`PAM_RHOST`): authentication (passwords and keyboard-interactive
//! round trips), account checks (`pam_acct_mgmt`, with "password change required"),
//! sessions with credentials (`pam_setcred`, `pam_open_session`/`pam_close_session`) and
//! the environment PAM gives the session (`pam_getenvlist`).
//!
//! PAM is blocking and calls its conversation function from inside `pam_authenticate`,
//! so each transaction lives on its own thread, which owns the PAM handle for its whole
//! life (modules may keep thread-local state). The async side sends it commands and gets
//! back prompts and results through channels; every wait on either side has a timeout, so
//! a stuck module or a vanished client never blocks the server. A PAM call that never
//! returns leaves its thread behind (no thread can be killed safely), but the async side
//! gets [`PamError::Timeout`] and the transaction is abandoned.
//!
//! Answers are held in [`Zeroizing`] strings. pam-client2 copies each answer into a
//! `CString` that it frees unwiped after handing PAM its own copy: that short-lived copy
//! is the one the crate cannot wipe.

use std::ffi::{CStr, CString, OsString};
use std::fmt;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use pam_client2::{Context, ConversationHandler, ErrorCode, Flag, SessionToken};
use tokio::sync::mpsc as tokio_mpsc;
use zeroize::Zeroizing;

/// How many prompts [`Pam::password`] answers before giving up (a module looping on
/// prompts must not loop us).
const MAX_PASSWORD_PROMPTS: usize = 8;

/// What a PAM transaction is for.
#[derive(Clone, Debug)]
pub struct PamConfig {
    /// The service name: the policy is `/etc/pam.d/<service>` (`"sshd"` for the daemon).
    pub service: String,
    /// The user being authenticated.
    pub user: String,
    /// The client's host or address (`PAM_RHOST`), for logs and `pam_access`.
    pub rhost: Option<String>,
    /// `PAM_TTY`: OpenSSH sets `"ssh"` until a session has a pty, then its name.
    pub tty: Option<String>,
    /// The longest any single wait may take: a PAM call, or the conversation waiting for
    /// an answer (so it also bounds the user's think time; use the login grace time).
    pub timeout: Duration,
}

impl PamConfig {
    /// A transaction for `service` and `user` with `PAM_TTY` `"ssh"` and a 120 s timeout
    /// (OpenSSH's default `LoginGraceTime`).
    pub fn new(service: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            user: user.into(),
            rhost: None,
            tty: Some("ssh".into()),
            timeout: Duration::from_secs(120),
        }
    }
}

/// A question a PAM module asks (one keyboard-interactive prompt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PamPrompt {
    /// The prompt text, e.g. `"Password: "`.
    pub text: String,
    /// Whether the answer may be shown as typed (`PAM_PROMPT_ECHO_ON`).
    pub echo: bool,
    /// Informational and error messages the modules sent before this prompt (the
    /// keyboard-interactive instruction).
    pub info: Vec<String>,
}

/// Where authentication stands after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PamStep {
    /// PAM waits for an answer: call [`Pam::respond`].
    Prompt(PamPrompt),
    /// The user is authenticated; `info` holds messages sent after the last prompt.
    Authenticated {
        /// Informational messages for the user.
        info: Vec<String>,
    },
}

/// The outcome of [`Pam::acct_mgmt`] when the account may log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// The account is valid.
    Valid,
    /// The password has expired (`PAM_NEW_AUTHTOK_REQD`): the user must change it before
    /// the session (OpenSSH forces `passwd` or refuses non-interactive sessions).
    PasswordChangeRequired,
}

/// A PAM transaction failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PamError {
    /// A PAM function returned an error.
    #[error("{op}: {message}")]
    Pam {
        /// The PAM function, e.g. `"pam_authenticate"`.
        op: &'static str,
        /// PAM's return code (`PAM_AUTH_ERR`, ...).
        code: i32,
        /// `pam_strerror`'s text.
        message: String,
    },
    /// A wait took longer than [`PamConfig::timeout`]; the transaction is abandoned.
    #[error("PAM timed out during {0}")]
    Timeout(&'static str),
    /// The transaction's thread is gone (it failed, or an earlier step timed out).
    #[error("the PAM transaction has ended")]
    Ended,
    /// A call out of order, e.g. [`Pam::respond`] with no prompt outstanding.
    #[error("PAM API misuse: {0}")]
    Misuse(&'static str),
    /// The transaction's thread could not be started.
    #[error("cannot start the PAM thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl PamError {
    /// True when PAM refused the credentials or the user (wrong password, unknown user,
    /// too many tries): a normal authentication failure rather than a system fault.
    pub fn is_auth_failure(&self) -> bool {
        let codes = [
            ErrorCode::AUTH_ERR,
            ErrorCode::USER_UNKNOWN,
            ErrorCode::MAXTRIES,
            ErrorCode::CRED_INSUFFICIENT,
            ErrorCode::AUTHINFO_UNAVAIL,
        ];
        matches!(self, Self::Pam { code, .. } if codes.iter().any(|c| c.repr() == *code))
    }

    fn from_pam(op: &'static str, e: &pam_client2::Error) -> Self {
        Self::Pam {
            op,
            code: e.code().repr(),
            message: e.to_string(),
        }
    }
}

/// A command for the transaction's thread.
enum Command {
    Authenticate,
    AcctMgmt,
    OpenSession,
    Reinitialize,
    CloseSession,
    SetTty(String),
    EnvList,
}

/// What the thread tells the async side.
enum Event {
    Prompt(PamPrompt),
    Done {
        result: Result<Outcome, PamError>,
        info: Vec<String>,
    },
}

/// A command's successful result.
enum Outcome {
    Ok,
    PasswordChangeRequired,
    Env(Vec<(OsString, OsString)>),
}

/// One PAM transaction, driven from async code. Dropping it ends the transaction: an
/// open session is closed and credentials deleted on the thread, then `pam_end`.
pub struct Pam {
    commands: std_mpsc::Sender<Command>,
    answers: std_mpsc::Sender<Option<Zeroizing<String>>>,
    events: tokio_mpsc::UnboundedReceiver<Event>,
    timeout: Duration,
    /// A prompt is outstanding: only [`Pam::respond`] may follow.
    prompting: bool,
    /// An earlier wait timed out or the thread died: every call fails.
    ended: bool,
    /// Messages modules sent outside authentication prompts (e.g. pam_unix's "You are
    /// required to change your password immediately"), for the user.
    messages: Vec<String>,
}

impl fmt::Debug for Pam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pam")
            .field("prompting", &self.prompting)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Pam {
    /// Starts a transaction (`pam_start`, then `PAM_RHOST` and `PAM_TTY`) on its own
    /// thread.
    pub async fn start(config: PamConfig) -> Result<Self, PamError> {
        let (commands, command_rx) = std_mpsc::channel();
        let (answers, answer_rx) = std_mpsc::channel();
        let (event_tx, events) = tokio_mpsc::unbounded_channel();
        let timeout = config.timeout;
        std::thread::Builder::new()
            // A fixed name: the user name comes from the client and may hold a NUL,
            // which `Builder::name` would reject with a panic.
            .name("oxssh-pam".into())
            .spawn(move || transaction_thread(config, command_rx, answer_rx, event_tx))
            .map_err(PamError::Thread)?;
        let mut pam = Self {
            commands,
            answers,
            events,
            timeout,
            prompting: false,
            ended: false,
            messages: Vec::new(),
        };
        match pam.wait("pam_start").await? {
            Event::Done { result, .. } => result.map(|_| pam),
            Event::Prompt(_) => Err(PamError::Misuse("prompt during pam_start")),
        }
    }

    /// `pam_authenticate` (with `PAM_DISALLOW_NULL_AUTHTOK`, as sshd unless
    /// `PermitEmptyPasswords`): runs until PAM asks a question or decides.
    pub async fn authenticate(&mut self) -> Result<PamStep, PamError> {
        self.send(Command::Authenticate)?;
        self.auth_step().await
    }

    /// Answers the outstanding prompt and runs to the next prompt or the decision.
    pub async fn respond(&mut self, answer: Zeroizing<String>) -> Result<PamStep, PamError> {
        if !self.prompting || self.ended {
            return Err(PamError::Misuse("respond without an outstanding prompt"));
        }
        self.prompting = false;
        self.answers.send(Some(answer)).map_err(|_| self.end())?;
        self.auth_step().await
    }

    /// Password authentication (RFC 4252 §8 `password` through PAM): answers every
    /// hidden prompt with `password`, and fails on any other question, as sshd's
    /// password conversation does.
    pub async fn password(&mut self, password: &Zeroizing<String>) -> Result<(), PamError> {
        let mut step = self.authenticate().await?;
        for _ in 0..MAX_PASSWORD_PROMPTS {
            match step {
                PamStep::Authenticated { .. } => return Ok(()),
                PamStep::Prompt(prompt) if !prompt.echo => {
                    step = self.respond(password.clone()).await?;
                }
                PamStep::Prompt(_) => {
                    // Refuse the question: PAM sees a conversation error and fails.
                    self.prompting = false;
                    self.answers.send(None).map_err(|_| self.end())?;
                    step = self.auth_step().await?;
                }
            }
        }
        Err(PamError::Misuse(
            "too many PAM prompts for password authentication",
        ))
    }

    /// `pam_acct_mgmt`: may this (authenticated) account log in now?
    pub async fn acct_mgmt(&mut self) -> Result<AccountStatus, PamError> {
        match self.command(Command::AcctMgmt, "pam_acct_mgmt").await? {
            Outcome::PasswordChangeRequired => Ok(AccountStatus::PasswordChangeRequired),
            Outcome::Ok | Outcome::Env(_) => Ok(AccountStatus::Valid),
        }
    }

    /// Sets `PAM_TTY` (the session's tty name, e.g. `"/dev/pts/3"`) before
    /// [`Pam::open_session`].
    pub async fn set_tty(&mut self, tty: &str) -> Result<(), PamError> {
        self.command(Command::SetTty(tty.into()), "pam_set_item")
            .await
            .map(drop)
    }

    /// Establishes credentials and opens the session (`pam_setcred(ESTABLISH)`,
    /// `pam_open_session`, `pam_setcred(REINITIALIZE)`, the order OpenSSH settled on),
    /// and returns PAM's environment for it (`pam_getenvlist`). Run as root, before the
    /// session's process starts.
    pub async fn open_session(&mut self) -> Result<Vec<(OsString, OsString)>, PamError> {
        self.command(Command::OpenSession, "pam_open_session")
            .await?;
        self.env().await
    }

    /// `pam_setcred(PAM_REINITIALIZE_CRED)`, e.g. after a re-authentication.
    pub async fn reinitialize_credentials(&mut self) -> Result<(), PamError> {
        self.command(Command::Reinitialize, "pam_setcred")
            .await
            .map(drop)
    }

    /// PAM's environment list (`pam_getenvlist`): variables modules set (e.g. from
    /// `pam_env`), to add to the session's environment.
    pub async fn env(&mut self) -> Result<Vec<(OsString, OsString)>, PamError> {
        match self.command(Command::EnvList, "pam_getenvlist").await? {
            Outcome::Env(env) => Ok(env),
            Outcome::Ok | Outcome::PasswordChangeRequired => Ok(Vec::new()),
        }
    }

    /// Closes the session and deletes its credentials (`pam_close_session`,
    /// `pam_setcred(DELETE)`). Dropping [`Pam`] does this too.
    pub async fn close_session(&mut self) -> Result<(), PamError> {
        self.command(Command::CloseSession, "pam_close_session")
            .await
            .map(drop)
    }

    /// Messages PAM modules sent outside authentication prompts since the last call
    /// (account and session notices such as password expiry warnings), to show the user
    /// (OpenSSH adds them to its login message).
    pub fn take_messages(&mut self) -> Vec<String> {
        std::mem::take(&mut self.messages)
    }

    async fn command(&mut self, command: Command, op: &'static str) -> Result<Outcome, PamError> {
        self.send(command)?;
        let mut event = self.wait(op).await?;
        // Only authentication prompts are answered; a module asking anything else gets a
        // conversation error (bounded: each refusal makes PAM progress or fail).
        for _ in 0..MAX_PASSWORD_PROMPTS {
            match event {
                Event::Done { result, info } => {
                    self.messages.extend(info);
                    return result;
                }
                Event::Prompt(prompt) => {
                    self.messages.extend(prompt.info);
                    self.answers.send(None).map_err(|_| self.end())?;
                    event = self.wait(op).await?;
                }
            }
        }
        self.ended = true;
        Err(PamError::Misuse("unexpected PAM prompts"))
    }

    fn send(&mut self, command: Command) -> Result<(), PamError> {
        if self.ended {
            return Err(PamError::Ended);
        }
        if self.prompting {
            return Err(PamError::Misuse("a prompt is outstanding"));
        }
        self.commands.send(command).map_err(|_| self.end())
    }

    async fn auth_step(&mut self) -> Result<PamStep, PamError> {
        match self.wait("pam_authenticate").await? {
            Event::Prompt(prompt) => {
                self.prompting = true;
                Ok(PamStep::Prompt(prompt))
            }
            Event::Done { result, info } => result.map(|_| PamStep::Authenticated { info }),
        }
    }

    async fn wait(&mut self, op: &'static str) -> Result<Event, PamError> {
        if self.ended {
            return Err(PamError::Ended);
        }
        match tokio::time::timeout(self.timeout, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(self.end()),
            Err(_) => {
                self.ended = true;
                Err(PamError::Timeout(op))
            }
        }
    }

    fn end(&mut self) -> PamError {
        self.ended = true;
        PamError::Ended
    }
}

/// The conversation: forwards prompts to the async side and waits (bounded) for answers.
struct Conversation {
    events: tokio_mpsc::UnboundedSender<Event>,
    answers: std_mpsc::Receiver<Option<Zeroizing<String>>>,
    timeout: Duration,
    /// Messages since the last prompt.
    info: Vec<String>,
}

impl Conversation {
    fn ask(&mut self, prompt: &CStr, echo: bool) -> Result<CString, ErrorCode> {
        let prompt = PamPrompt {
            text: prompt.to_string_lossy().into_owned(),
            echo,
            info: std::mem::take(&mut self.info),
        };
        self.events
            .send(Event::Prompt(prompt))
            .map_err(|_| ErrorCode::CONV_ERR)?;
        match self.answers.recv_timeout(self.timeout) {
            Ok(Some(answer)) => CString::new(answer.as_bytes()).map_err(|_| ErrorCode::CONV_ERR),
            Ok(None) | Err(_) => Err(ErrorCode::CONV_ERR),
        }
    }
}

impl ConversationHandler for Conversation {
    fn prompt_echo_on(&mut self, prompt: &CStr) -> Result<CString, ErrorCode> {
        self.ask(prompt, true)
    }

    fn prompt_echo_off(&mut self, prompt: &CStr) -> Result<CString, ErrorCode> {
        self.ask(prompt, false)
    }

    fn text_info(&mut self, msg: &CStr) {
        self.info.push(msg.to_string_lossy().into_owned());
    }

    fn error_msg(&mut self, msg: &CStr) {
        self.info.push(msg.to_string_lossy().into_owned());
    }

    fn radio_prompt(&mut self, _prompt: &CStr) -> Result<bool, ErrorCode> {
        Err(ErrorCode::CONV_ERR)
    }
}

/// The transaction's thread: owns the PAM handle from `pam_start` to `pam_end`.
fn transaction_thread(
    config: PamConfig,
    commands: std_mpsc::Receiver<Command>,
    answers: std_mpsc::Receiver<Option<Zeroizing<String>>>,
    events: tokio_mpsc::UnboundedSender<Event>,
) {
    let conversation = Conversation {
        events: events.clone(),
        answers,
        timeout: config.timeout,
        info: Vec::new(),
    };
    let mut context = match start_context(&config, conversation) {
        Ok(context) => context,
        Err(e) => {
            let _ = events.send(Event::Done {
                result: Err(e),
                info: Vec::new(),
            });
            return;
        }
    };
    let _ = events.send(Event::Done {
        result: Ok(Outcome::Ok),
        info: Vec::new(),
    });
    let mut session: Option<SessionToken> = None;
    // Ends when `Pam` is dropped (the sender goes away).
    while let Ok(command) = commands.recv() {
        let result = run_command(&mut context, &mut session, command);
        let info = std::mem::take(&mut context.conversation_mut().info);
        if events.send(Event::Done { result, info }).is_err() {
            break;
        }
    }
    if let Some(token) = session.take() {
        // Dropping the session closes it and deletes the credentials.
        drop(context.unleak_session(token));
    }
    // `context` drops here: pam_end.
}

fn start_context(
    config: &PamConfig,
    conversation: Conversation,
) -> Result<Context<Conversation>, PamError> {
    let mut context = Context::new(&config.service, Some(&config.user), conversation)
        .map_err(|e| PamError::from_pam("pam_start", &e))?;
    if let Some(rhost) = &config.rhost {
        context
            .set_rhost(Some(rhost))
            .map_err(|e| PamError::from_pam("pam_set_item(PAM_RHOST)", &e))?;
    }
    if let Some(tty) = &config.tty {
        context
            .set_tty(Some(tty))
            .map_err(|e| PamError::from_pam("pam_set_item(PAM_TTY)", &e))?;
    }
    Ok(context)
}

fn run_command(
    context: &mut Context<Conversation>,
    session: &mut Option<SessionToken>,
    command: Command,
) -> Result<Outcome, PamError> {
    match command {
        Command::Authenticate => context
            .authenticate(Flag::DISALLOW_NULL_AUTHTOK)
            .map(|()| Outcome::Ok)
            .map_err(|e| PamError::from_pam("pam_authenticate", &e)),
        Command::AcctMgmt => match context.acct_mgmt(Flag::NONE) {
            Ok(()) => Ok(Outcome::Ok),
            Err(e) if e.code() == ErrorCode::NEW_AUTHTOK_REQD => {
                Ok(Outcome::PasswordChangeRequired)
            }
            Err(e) => Err(PamError::from_pam("pam_acct_mgmt", &e)),
        },
        Command::SetTty(tty) => context
            .set_tty(Some(&tty))
            .map(|()| Outcome::Ok)
            .map_err(|e| PamError::from_pam("pam_set_item(PAM_TTY)", &e)),
        Command::OpenSession => {
            if session.is_some() {
                return Err(PamError::Misuse("session already open"));
            }
            let opened = context
                .open_session(Flag::NONE)
                .map_err(|e| PamError::from_pam("pam_open_session", &e))?;
            *session = Some(opened.leak());
            Ok(Outcome::Ok)
        }
        Command::Reinitialize => context
            .reinitialize_credentials(Flag::NONE)
            .map(|()| Outcome::Ok)
            .map_err(|e| PamError::from_pam("pam_setcred", &e)),
        Command::CloseSession => {
            let token = session
                .take()
                .ok_or(PamError::Misuse("no session is open"))?;
            context
                .unleak_session(token)
                .close(Flag::NONE)
                .map(|()| Outcome::Ok)
                .map_err(|e| PamError::from_pam("pam_close_session", &e.into_without_payload()))
        }
        Command::EnvList => Ok(Outcome::Env(
            context
                .envlist()
                .iter_tuples()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )),
    }
}
