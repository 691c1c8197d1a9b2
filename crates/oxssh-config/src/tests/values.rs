//! Tokens, algorithm edits, unsupported keywords and how values print for `ssh -G`.

use super::*;

#[test]
fn tokens_expand_where_openssh_expands_them_before_dash_g() {
    let env = user(
        "Host example.com\n  HostName real-%h.test\n  User u_%u\n  ControlPath ~/cp_%h_%C\n\
         IdentityAgent ${XDG}/agent_%h\n  UserKnownHostsFile ~/kh_%h ${XDG}/kh2\n\
         RemoteCommand echo %h %p %r %n\n  ProxyCommand nc %h %p\n  IdentityFile ~/id_%h_%r\n\
         LocalForward /tmp/a%h /tmp/b%h\n  SetEnv A=%h\n",
    )
    .with_var("XDG", "/run/u");
    let c = resolve(&env, "example.com");
    let h = "real-example.com.test";
    // User is not expanded in OpenSSH 9.2.
    assert_eq!(c.user, "u_%u");
    let hash = sha1::sha1_hex(format!("box.example.org{h}22u_%u").as_bytes());
    assert_eq!(
        c.control_path.as_deref(),
        Some(format!("/home/alice/cp_{h}_{hash}").as_str())
    );
    assert_eq!(
        c.identity_agent.as_deref(),
        Some(format!("/run/u/agent_{h}").as_str())
    );
    assert_eq!(
        c.user_known_hosts_files,
        vec![format!("/home/alice/kh_{h}"), "/run/u/kh2".to_string()]
    );
    assert_eq!(
        c.remote_command.as_deref(),
        Some(format!("echo {h} 22 u_%u example.com").as_str())
    );
    assert_eq!(c.proxy_command.as_deref(), Some("nc %h %p"));
    assert_eq!(
        c.proxy_command_expanded().unwrap().as_deref(),
        Some(format!("nc {h} 22").as_str())
    );
    assert_eq!(dump_line(&c, "identityfile"), vec!["~/id_%h_%r"]);
    assert_eq!(
        c.identity_file_paths(&env).unwrap(),
        vec![format!("/home/alice/id_{h}_u_%u")]
    );
    assert_eq!(
        dump_line(&c, "localforward"),
        vec![format!("/tmp/a{h} /tmp/b{h}")]
    );
    assert_eq!(c.set_env, vec!["A=%h"]);
}

#[test]
fn token_errors_are_fatal() {
    let env = MemoryEnv::new();
    let e = with_o(&env, "h", &["ControlPath=%T"]).unwrap_err();
    assert_eq!(e.fatal_kind(), Some(FatalKind::Expansion));
    assert_eq!(
        e.messages(),
        vec![
            "vdollar_percent_expand: unknown key %T",
            "percent_dollar_expand: failed"
        ]
    );
    let e = with_o(&env, "h", &["ControlPath=${NOPE}"]).unwrap_err();
    assert_eq!(
        e.messages(),
        vec![
            "vdollar_percent_expand: env var ${NOPE} has no value",
            "invalid environment variable expansion",
        ]
    );
    let e = with_o(&env, "h", &["RemoteCommand=echo %T"]).unwrap_err();
    assert_eq!(e.messages()[1], "percent_expand: failed");
    let e = Loader::new(&env, AlgorithmLists::openssh_9_2())
        .resolve("h", {
            let mut o = Options::new();
            o.control_path = Some("%C".into());
            o
        })
        .unwrap_err();
    assert_eq!(e.fatal_kind(), Some(FatalKind::NoConnectionHasher));
    // IdentityAgent ${VAR} must be set when the line is read.
    let e = with_o(&env, "h", &["IdentityAgent=${NOPE}"]).unwrap_err();
    assert_eq!(
        e.messages(),
        vec![
            "vdollar_percent_expand: env var ${NOPE} has no value",
            "command-line line 0: Invalid environment expansion ${NOPE}.",
        ]
    );
}

#[test]
fn algorithm_edits_apply_to_the_callers_defaults() {
    let env = user(
        "Ciphers -aes*-ctr\nMACs ^hmac-sha1\nKexAlgorithms +diffie-hellman-group14-sha1\n\
         HostKeyAlgorithms ssh-ed25519*\nPubkeyAcceptedAlgorithms -*-cert-v01@openssh.com,ssh-ed25519\n",
    );
    let c = resolve(&env, "h");
    assert_eq!(
        c.ciphers,
        vec![
            "chacha20-poly1305@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com"
        ]
    );
    assert_eq!(c.macs[0], "hmac-sha1");
    assert_eq!(c.macs.iter().filter(|m| *m == "hmac-sha1").count(), 1);
    assert_eq!(
        c.kex_algorithms.last().map(String::as_str),
        Some("diffie-hellman-group14-sha1")
    );
    assert_eq!(
        c.host_key_algorithms,
        vec!["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"]
    );
    assert!(!c.host_key_algorithms_is_default);
    assert!(c
        .pubkey_accepted_algorithms
        .iter()
        .all(|a| !a.contains("cert") && a != "ssh-ed25519"));
    let e = with_o(
        &MemoryEnv::new(),
        "h",
        &["PubkeyAcceptedAlgorithms=ssh-ed25519,!ssh-rsa"],
    )
    .unwrap_err();
    assert_eq!(e.fatal_kind(), Some(FatalKind::InvalidValue));
}

#[test]
fn unsupported_keywords_are_recorded_only_when_active() {
    let env = user("ForwardX11 yes\nHost other\n  Tunnel yes\nHost *\n  Compression yes\n");
    let c = resolve(&env, "h");
    assert_eq!(c.unsupported.len(), 1);
    assert_eq!(c.unsupported[0].keyword, Keyword::ForwardX11);
    assert_eq!(c.unsupported[0].value, "yes");
    assert_eq!(
        c.unsupported_messages(),
        vec![format!(
            "{USER_CONFIG} line 1: keyword forwardx11 is not supported by oxssh yet"
        )]
    );
    let env = user("ForwardX11 no\nGSSAPIAuthentication yes\nTunnel yes\n");
    let c = resolve(&env, "h");
    assert_eq!(c.unsupported.len(), 3);
    assert_eq!(
        c.unsupported_messages(),
        vec![format!(
            "{USER_CONFIG} line 3: keyword tunnel is not supported by oxssh yet"
        )]
    );
    let env = user("RSAAuthentication yes\n");
    assert_eq!(
        resolve(&env, "h").warnings,
        vec![format!(
            "{USER_CONFIG} line 1: Unsupported option \"rsaauthentication\""
        )]
    );
}

#[test]
fn proxy_jump_and_proxy_command_exclude_each_other() {
    let c = with_o(
        &MemoryEnv::new(),
        "h",
        &["ProxyJump=u@j:2222", "ProxyCommand=nc %h %p"],
    )
    .unwrap();
    assert_eq!(c.proxy_command, None);
    assert_eq!(dump_line(&c, "proxyjump"), vec!["u@j:2222"]);
    assert_eq!(
        c.proxy_jump_command("ssh", None, 0).as_deref(),
        Some("ssh -l u -p 2222 -W '[%h]:%p' j")
    );
    let c = with_o(
        &MemoryEnv::new(),
        "h",
        &["ProxyJump=none", "ProxyCommand=nc"],
    )
    .unwrap();
    assert_eq!((c.proxy_command, c.proxy_jump), (None, None));
    let c = with_o(
        &MemoryEnv::new(),
        "h",
        &["ProxyCommand=nc %h", "ProxyJump=j"],
    )
    .unwrap();
    assert_eq!(c.proxy_command.as_deref(), Some("nc %h"));
    let e = with_o(&MemoryEnv::new(), "j", &["ProxyJump=j"]).unwrap_err();
    assert_eq!(e.messages(), vec!["jumphost loop via j"]);
}

#[test]
fn update_host_keys_default_follows_known_hosts_and_dns() {
    let env = MemoryEnv::new();
    assert_eq!(
        dump_line(&resolve(&env, "h"), "updatehostkeys"),
        vec!["true"]
    );
    let c = with_o(&env, "h", &["UserKnownHostsFile=/x"]).unwrap();
    assert_eq!(dump_line(&c, "updatehostkeys"), vec!["false"]);
    let c = with_o(&env, "h", &["VerifyHostKeyDNS=ask"]).unwrap();
    assert_eq!(dump_line(&c, "updatehostkeys"), vec!["false"]);
    let c = with_o(&env, "h", &["UpdateHostKeys=ask", "RequestTTY=no"]).unwrap();
    assert_eq!(dump_line(&c, "updatehostkeys"), vec!["false"]);
    let c = with_o(&env, "h", &["UpdateHostKeys=ask"]).unwrap();
    assert_eq!(dump_line(&c, "updatehostkeys"), vec!["ask"]);
}

#[test]
fn values_print_like_ssh_dash_g() {
    let env = MemoryEnv::new();
    let c = with_o(
        &env,
        "h",
        &[
            "StrictHostKeyChecking=yes",
            "EscapeChar=^A",
            "RekeyLimit=1G 1h",
            "ConnectTimeout=1m30s",
            "ControlPersist=10m",
            "AddKeysToAgent=confirm 5m",
            "IPQoS=0x10 255",
            "ForwardAgent=yes",
            "LogLevel=DEBUG1",
            "StreamLocalBindMask=0",
            "CanonicalizePermittedCNAMEs=*.A.com:*.b.com",
        ],
    )
    .unwrap();
    for (k, v) in [
        ("stricthostkeychecking", "true"),
        ("escapechar", "\\^A"),
        ("rekeylimit", "1073741824 3600"),
        ("connecttimeout", "90"),
        ("controlpersist", "600"),
        ("addkeystoagent confirm", "300"),
        ("ipqos", "lowdelay 0xff"),
        ("forwardagent", "yes"),
        ("loglevel", "DEBUG"),
        ("streamlocalbindmask", "00"),
        ("canonicalizePermittedcnames", "*.a.com:*.b.com"),
    ] {
        assert_eq!(dump_line(&c, k), vec![v.to_string()], "{k}");
    }
    assert!(matches!(c.forward_agent, ForwardAgent::Yes));
}

#[test]
fn debian_defaults_differ_only_where_debian_patches_openssh() {
    let env = MemoryEnv::new();
    let plain = with_o(&env, "h", &["BatchMode=yes"]).unwrap();
    let l = loader(&env).debian_defaults(true);
    let mut o = Options::new();
    l.command_line_option(&mut o, "BatchMode=yes").unwrap();
    let deb = l.resolve("h", o).unwrap();
    assert_eq!(
        (plain.server_alive_interval, deb.server_alive_interval),
        (0, 300)
    );
    assert_eq!(
        (plain.forward_x11_trusted, deb.forward_x11_trusted),
        (false, true)
    );
    assert_eq!(dump_line(&plain, "ipqos"), vec!["af21 cs1"]);
    assert_eq!(dump_line(&deb, "ipqos"), vec!["lowdelay throughput"]);
}

#[test]
fn dump_starts_with_host_user_hostname_port() {
    let c = resolve(&user("Host h\n  HostName Real.Example\n  User bob\n"), "h");
    let text = c.dump();
    let first: Vec<&str> = text.lines().take(5).collect();
    assert_eq!(
        first,
        vec![
            "host h",
            "user bob",
            "hostname real.example",
            "port 22",
            "addressfamily any"
        ]
    );
    assert!(text.ends_with("syslogfacility USER\n"));
}
