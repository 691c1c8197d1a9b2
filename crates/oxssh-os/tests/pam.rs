//! PAM through a real policy (pam_unix, pam_env) in a service file of the test's own:
//! passwords right and wrong, keyboard-interactive round trips, expired passwords,
//! sessions and their environment, and conversations nobody answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use oxssh_os::{AccountStatus, Pam, PamConfig, PamError, PamStep};
use support::{expired_user, require_pam, require_root, test_user, PamService, PASSWORD, WAIT};
use zeroize::Zeroizing;

fn ready() -> bool {
    require_root() && require_pam()
}

fn config(service: &PamService, user: &str) -> PamConfig {
    let mut config = PamConfig::new(&service.name, user);
    config.rhost = Some("127.0.0.1".into());
    config.timeout = WAIT;
    config
}

fn secret(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

#[tokio::test]
async fn right_password_authenticates_and_opens_a_session_with_pam_env() {
    if !ready() {
        return;
    }
    let user = test_user();
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    pam.password(&secret(PASSWORD)).await.unwrap();
    assert_eq!(pam.acct_mgmt().await.unwrap(), AccountStatus::Valid);
    pam.set_tty("/dev/pts/99").await.unwrap();
    let env = pam.open_session().await.unwrap();
    assert!(
        env.iter()
            .any(|(k, v)| k == "OXSSH_PAM_TEST" && v == "from-pam"),
        "{env:?}"
    );
    pam.close_session().await.unwrap();
    assert!(matches!(
        pam.close_session().await,
        Err(PamError::Misuse(_))
    ));
}

#[tokio::test]
async fn wrong_password_is_an_authentication_failure() {
    if !ready() {
        return;
    }
    let user = test_user();
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    let err = pam.password(&secret("not-the-password")).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    // A second try in the same transaction, as keyboard-interactive retries do.
    pam.password(&secret(PASSWORD)).await.unwrap();
}

#[tokio::test]
async fn unknown_user_fails_like_a_wrong_password() {
    if !ready() {
        return;
    }
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, "oxssh-no-such-user"))
        .await
        .unwrap();
    let err = pam.password(&secret(PASSWORD)).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
}

#[tokio::test]
async fn keyboard_interactive_answers_each_prompt() {
    if !ready() {
        return;
    }
    let user = test_user();
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    let PamStep::Prompt(prompt) = pam.authenticate().await.unwrap() else {
        panic!("pam_unix asks for the password");
    };
    assert!(!prompt.echo);
    assert!(prompt.text.contains("assword"), "{prompt:?}");
    assert!(matches!(pam.acct_mgmt().await, Err(PamError::Misuse(_))));
    let step = pam.respond(secret(PASSWORD)).await.unwrap();
    assert!(matches!(step, PamStep::Authenticated { .. }), "{step:?}");
    assert!(matches!(
        pam.respond(secret("late")).await,
        Err(PamError::Misuse(_))
    ));
}

#[tokio::test]
async fn expired_password_requires_a_change() {
    if !ready() {
        return;
    }
    let user = expired_user();
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    pam.password(&secret(PASSWORD)).await.unwrap();
    assert_eq!(
        pam.acct_mgmt().await.unwrap(),
        AccountStatus::PasswordChangeRequired
    );
    let messages = pam.take_messages();
    assert!(
        messages.iter().any(|m| m.contains("change your password")),
        "{messages:?}"
    );
    assert!(pam.take_messages().is_empty());
}

#[tokio::test]
async fn a_user_name_with_a_nul_byte_is_an_error_not_a_panic() {
    if !ready() {
        return;
    }
    let service = PamService::unix();
    let err = Pam::start(config(&service, "ro\0ot")).await.unwrap_err();
    assert!(
        matches!(
            err,
            PamError::Pam {
                op: "pam_start",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unanswered_prompt_times_out_instead_of_hanging() {
    if !ready() {
        return;
    }
    let user = test_user();
    let service = PamService::unix();
    let mut config = config(&service, &user.name);
    config.timeout = Duration::from_millis(500);
    let mut pam = Pam::start(config).await.unwrap();
    let started = Instant::now();
    assert!(matches!(
        pam.authenticate().await.unwrap(),
        PamStep::Prompt(_)
    ));
    // Nobody answers: the conversation gives up after the timeout and PAM fails.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = pam.respond(secret(PASSWORD)).await.unwrap_err();
    assert!(matches!(err, PamError::Pam { .. }), "{err:?}");
    assert!(started.elapsed() < WAIT);
}

#[tokio::test]
async fn dropping_a_transaction_mid_prompt_ends_its_thread() {
    if !ready() {
        return;
    }
    let user = test_user();
    let service = PamService::unix();
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    assert!(matches!(
        pam.authenticate().await.unwrap(),
        PamStep::Prompt(_)
    ));
    drop(pam);
    // The next transaction is unaffected.
    let mut pam = Pam::start(config(&service, &user.name)).await.unwrap();
    pam.password(&secret(PASSWORD)).await.unwrap();
}
