//! Unit tests of the server configuration, on an in-memory file system.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use crate::env::MemoryEnv;

const CFG: &str = "/etc/oxssh/sshd_config";

fn load(env: &MemoryEnv) -> Result<SshdConfig, SshdConfigError> {
    SshdConfig::load(env, CFG, &AlgorithmLists::openssh_9_2())
}

fn load_text(text: &str) -> Result<SshdConfig, SshdConfigError> {
    load(&MemoryEnv::new().with_file(CFG, text))
}

fn user(name: &str) -> ConnectionContext {
    ConnectionContext {
        user: Some(name.into()),
        ..ConnectionContext::default()
    }
}

#[test]
fn defaults_are_sshds() {
    let c = load_text("").unwrap();
    assert_eq!(c.ports, vec![22]);
    assert_eq!(c.login_grace_time, 120);
    assert_eq!(c.max_auth_tries, 6);
    assert_eq!(c.max_sessions, 10);
    assert_eq!(
        c.max_startups,
        MaxStartups {
            start: 10,
            rate: 30,
            full: 100
        }
    );
    assert_eq!(c.permit_root_login, PermitRootLogin::ProhibitPassword);
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.syslog_facility, SyslogFacility::Auth);
    assert_eq!(c.listen_addresses.len(), 2);
    assert!(c.not_acted_on.is_empty());
}

#[test]
fn relative_includes_are_taken_from_the_config_directory() {
    let env = MemoryEnv::new()
        .with_file(CFG, "Include conf.d/*.conf\nPort 2\n")
        .with_file("/etc/oxssh/conf.d/b.conf", "MaxSessions 3\n")
        .with_file("/etc/oxssh/conf.d/a.conf", "Port 1\nMaxSessions 2\n");
    let c = load(&env).unwrap();
    assert_eq!(c.ports, vec![1, 2]);
    assert_eq!(c.max_sessions, 2);
}

#[test]
fn include_inside_match_applies_only_to_that_block() {
    let env = MemoryEnv::new()
        .with_file(
            CFG,
            "Match User bob\nInclude bob.conf\nMatch all\nMaxSessions 9\n",
        )
        .with_file(
            "/etc/oxssh/bob.conf",
            "MaxSessions 1\nMatch Address 10.0.0.0/8\nBanner /b\n",
        );
    let c = load(&env).unwrap();
    assert_eq!(c.max_sessions, 9);
    let bob = c.for_connection(&user("bob"));
    assert_eq!(bob.max_sessions, 1);
    assert_eq!(bob.banner, None);
    let mut bob_lan = user("bob");
    bob_lan.address = Some("10.1.1.1".into());
    assert_eq!(c.for_connection(&bob_lan).banner.as_deref(), Some("/b"));
    let mut eve_lan = user("eve");
    eve_lan.address = Some("10.1.1.1".into());
    assert_eq!(c.for_connection(&eve_lan).banner, None);
}

#[test]
fn errors_in_included_files_name_that_file() {
    let env = MemoryEnv::new()
        .with_file(CFG, "Include /x/*.conf\n")
        .with_file("/x/a.conf", "\nMaxAuthTries lots\n");
    let e = load(&env).unwrap_err();
    assert_eq!(e.location(), Some(("/x/a.conf", 2)));
    assert_eq!(
        e.messages(),
        vec!["/x/a.conf line 2: MaxAuthTries integer value invalid."]
    );
}

#[test]
fn unknown_keywords_are_all_reported_with_their_lines() {
    let e = load_text("Port 22\nFoo 1\nPerSourcePenalties yes\n").unwrap_err();
    assert_eq!(
        e.messages(),
        vec![
            "/etc/oxssh/sshd_config: line 2: Bad configuration option: Foo",
            "/etc/oxssh/sshd_config: line 3: Bad configuration option: PerSourcePenalties",
            "/etc/oxssh/sshd_config: terminating, 2 bad configuration options",
        ]
    );
}

#[test]
fn match_group_uses_the_callers_groups() {
    let c = load_text("Match Group wheel,!banned\nMaxAuthTries 2\n").unwrap();
    let mut ctx = user("alice");
    assert_eq!(c.for_connection(&ctx).max_auth_tries, 6);
    ctx.groups = Some(vec!["users".into(), "wheel".into()]);
    assert_eq!(c.for_connection(&ctx).max_auth_tries, 2);
    ctx.groups = Some(vec!["wheel".into(), "banned".into()]);
    assert_eq!(c.for_connection(&ctx).max_auth_tries, 6);
}

#[test]
fn match_local_port_and_first_match_value_wins() {
    let c = load_text(
        "ClientAliveInterval 5\nMatch LocalPort 2222\nClientAliveInterval 1m\nMatch all\nClientAliveInterval 2m\n",
    )
    .unwrap();
    // At start-up the main section's value wins over `Match all`.
    assert_eq!(c.client_alive_interval, 5);
    let mut ctx = ConnectionContext {
        local_port: Some(2222),
        ..ConnectionContext::default()
    };
    assert_eq!(c.for_connection(&ctx).client_alive_interval, 60);
    ctx.local_port = Some(22);
    assert_eq!(c.for_connection(&ctx).client_alive_interval, 120);
}

#[test]
fn enabling_an_unsupported_feature_fails_with_file_and_line() {
    let e = load_text("Port 22\nMatch User sftp\n  AuthorizedKeysCommand /bin/k\n").unwrap_err();
    assert_eq!(e.location(), Some((CFG, 3)));
    assert_eq!(
        e.to_string(),
        "/etc/oxssh/sshd_config line 3: AuthorizedKeysCommand /bin/k is not supported by oxsshd yet"
    );
    for bad in [
        "AuthorizedKeysCommand /bin/k",
        "HostbasedAuthentication yes",
    ] {
        let e = load_text(&format!("{bad}\n")).unwrap_err();
        assert!(
            e.to_string().contains("not supported by oxsshd"),
            "{bad}: {e}"
        );
    }
    // Disabled or default values are fine.
    let c = load_text("ChrootDirectory none\nX11Forwarding no\nAllowTcpForwarding no\n").unwrap();
    assert!(c.not_acted_on.is_empty());
}

#[test]
fn chroot_directory_applies_per_match_block_with_tokens_kept() {
    let c =
        load_text("Match User jailed\n  ChrootDirectory /srv/%u\n  ForceCommand internal-sftp\n")
            .unwrap();
    assert_eq!(c.chroot_directory, None);
    let jailed = c.for_connection(&user("jailed"));
    assert_eq!(jailed.chroot_directory.as_deref(), Some("/srv/%u"));
    assert_eq!(jailed.force_command.as_deref(), Some("internal-sftp"));
    assert_eq!(c.for_connection(&user("free")).chroot_directory, None);
    assert!(c.not_acted_on.is_empty());
}

#[test]
fn debian_stock_x11_forwarding_is_accepted_and_listed() {
    let c = load_text("X11Forwarding yes\nAllowAgentForwarding yes\nPrintMotd no\n").unwrap();
    let listed: Vec<String> = c.not_acted_on.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        vec![
            "/etc/oxssh/sshd_config line 1: X11Forwarding yes is accepted but not acted on by oxsshd yet",
        ]
    );
    assert!(c.dump().contains("\nx11forwarding yes\n"));
}

#[test]
fn authorized_keys_tokens_and_relative_paths() {
    let c = load_text("AuthorizedKeysFile %h/.ssh/ak .ssh/k_%u /etc/keys/%u%%%U none\n").unwrap();
    assert_eq!(
        c.authorized_keys_paths("bob", 1001, "/home/bob"),
        vec![
            "/home/bob/.ssh/ak",
            "/home/bob/.ssh/k_bob",
            "/etc/keys/bob%1001",
        ]
    );
}

#[test]
fn algorithm_edits_and_empty_results() {
    let c = load_text("Ciphers -chacha20*,aes1*\nKexAlgorithms +diffie-hellman-group14-sha1\n")
        .unwrap();
    assert_eq!(c.ciphers, vec!["aes256-ctr", "aes256-gcm@openssh.com"]);
    assert_eq!(
        c.kex_algorithms.last().unwrap(),
        "diffie-hellman-group14-sha1"
    );
    // sshd -t accepts a removal that leaves nothing (only AEAD ciphers can then be used).
    assert!(load_text("MACs -*\n").unwrap().macs.is_empty());
}

#[test]
fn missing_file_and_include_depth() {
    let e = load(&MemoryEnv::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "load_server_config: fopen /etc/oxssh/sshd_config: No such file or directory"
    );
    let e = load_text("Include /etc/oxssh/sshd_config\n").unwrap_err();
    assert_eq!(e.to_string(), "Too many recursive configuration includes");
}

#[test]
fn deprecated_keywords_warn() {
    let c = load_text("UsePrivilegeSeparation sandbox\nProtocol 2\n").unwrap();
    assert_eq!(
        c.warnings,
        vec!["/etc/oxssh/sshd_config line 1: Deprecated option UsePrivilegeSeparation"]
    );
}

#[test]
fn forwarding_settings_have_sshds_defaults_and_values() {
    use super::{AllowForwarding, GatewayPorts};
    let c = load_text("PrintMotd no\n").unwrap();
    assert!(c.allow_agent_forwarding);
    assert_eq!(c.allow_tcp_forwarding, AllowForwarding::Yes);
    assert_eq!(c.gateway_ports, GatewayPorts::No);
    assert_eq!(c.permit_open, vec!["any"]);
    assert_eq!(c.permit_listen, vec!["any"]);
    assert!(!c.disable_forwarding);
    let c = load_text(
        "AllowAgentForwarding no\nAllowTcpForwarding local\nGatewayPorts clientspecified\n\
         PermitOpen 127.0.0.1:80 localhost:*\nPermitListen 8080\nDisableForwarding yes\n",
    )
    .unwrap();
    assert!(!c.allow_agent_forwarding);
    assert_eq!(c.allow_tcp_forwarding, AllowForwarding::Local);
    assert!(c.allow_tcp_forwarding.local() && !c.allow_tcp_forwarding.remote());
    assert_eq!(c.gateway_ports, GatewayPorts::ClientSpecified);
    assert_eq!(c.permit_open, vec!["127.0.0.1:80", "localhost:*"]);
    assert_eq!(c.permit_listen, vec!["8080"]);
    assert!(c.disable_forwarding);
    assert!(c.not_acted_on.is_empty());
}

#[test]
fn stream_local_settings_have_sshds_defaults_values_and_errors() {
    use super::AllowForwarding;
    let c = load_text("").unwrap();
    assert_eq!(c.allow_stream_local_forwarding, AllowForwarding::Yes);
    assert!(!c.stream_local_bind_unlink);
    assert_eq!(c.stream_local_bind_mask, 0o177);
    assert!(c.dump().contains("\nstreamlocalbindmask 0177\n"));
    let c = load_text(
        "AllowStreamLocalForwarding remote\nStreamLocalBindUnlink yes\nStreamLocalBindMask 12x\n",
    )
    .unwrap();
    assert_eq!(c.allow_stream_local_forwarding, AllowForwarding::Remote);
    assert!(c.stream_local_bind_unlink);
    assert_eq!(c.stream_local_bind_mask, 0o12);
    assert!(c.not_acted_on.is_empty());
    let dump = c.dump();
    assert!(dump.contains("\nstreamlocalbindmask 012\n"), "{dump}");
    assert!(
        dump.contains("\nallowstreamlocalforwarding remote\n"),
        "{dump}"
    );
    assert!(dump.contains("\nstreamlocalbindunlink yes\n"), "{dump}");
    assert!(load_text("StreamLocalBindMask 0\n")
        .unwrap()
        .dump()
        .contains("\nstreamlocalbindmask 00\n"));
    for bad in ["abc", "7777", "-1"] {
        let err = load_text(&format!("StreamLocalBindMask {bad}\n")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("line 1: Invalid StreamLocalBindMask."),
            "{err}"
        );
    }
}
