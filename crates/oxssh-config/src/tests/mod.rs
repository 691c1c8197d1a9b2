//! Behaviour tests of whole configurations, run against an in-memory environment: source
//! order, blocks, includes, tokens, algorithm edits and error messages.

#[path = "../../tests/support/sha1.rs"]
mod sha1;
mod values;

use crate::{
    AlgorithmLists, ClientConfig, ConfigError, ExecStatus, FatalKind, ForwardAgent, Keyword,
    Loader, MemoryEnv, Options,
};

const USER_CONFIG: &str = "/home/alice/.ssh/config";
const SYSTEM: &str = "/etc/ssh/ssh_config";

fn loader(env: &MemoryEnv) -> Loader<'_> {
    Loader::new(env, AlgorithmLists::openssh_9_2()).connection_hasher(sha1::sha1_hex)
}

fn user(text: &str) -> MemoryEnv {
    MemoryEnv::new().with_file(USER_CONFIG, text)
}

fn resolve(env: &MemoryEnv, host: &str) -> ClientConfig {
    loader(env).resolve(host, Options::new()).unwrap()
}

fn resolve_err(env: &MemoryEnv, host: &str) -> ConfigError {
    loader(env).resolve(host, Options::new()).unwrap_err()
}

fn with_o(env: &MemoryEnv, host: &str, opts: &[&str]) -> Result<ClientConfig, ConfigError> {
    let l = loader(env);
    let mut o = Options::new();
    for opt in opts {
        l.command_line_option(&mut o, opt)?;
    }
    l.resolve(host, o)
}

fn dump_line(c: &ClientConfig, key: &str) -> Vec<String> {
    c.dump()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_string))
        .collect()
}

#[test]
fn first_value_wins_command_line_then_user_then_system() {
    let env = user("Port 2001\nUser fromuser\n").with_file(
        SYSTEM,
        "Port 3001\nUser fromsystem\nHostName fromsystem.example\nPort 3002\n",
    );
    let c = with_o(&env, "h", &["Port=1001"]).unwrap();
    assert_eq!(c.port, 1001);
    assert_eq!(c.user, "fromuser");
    assert_eq!(c.hostname, "fromsystem.example");
}

#[test]
fn first_value_wins_within_a_file_and_later_host_blocks_only_fill_gaps() {
    let env = user("Host web*\n  User deploy\nHost *\n  User nobody\n  Port 2222\n");
    let c = resolve(&env, "web1");
    assert_eq!((c.user.as_str(), c.port), ("deploy", 2222));
    let c = resolve(&env, "db1");
    assert_eq!((c.user.as_str(), c.port), ("nobody", 2222));
}

#[test]
fn dash_f_skips_the_system_file_and_none_reads_nothing() {
    let env = MemoryEnv::new()
        .with_file("/tmp/custom", "Port 7\n")
        .with_file(SYSTEM, "User sys\n")
        .with_file(USER_CONFIG, "User home\n");
    let c = loader(&env)
        .config_file("/tmp/custom")
        .resolve("h", Options::new())
        .unwrap();
    assert_eq!((c.port, c.user.as_str()), (7, "alice"));
    let c = loader(&env)
        .config_file("NONE")
        .resolve("h", Options::new())
        .unwrap();
    assert_eq!((c.port, c.user.as_str()), (22, "alice"));
    let e = loader(&env)
        .config_file("/nope")
        .resolve("h", Options::new())
        .unwrap_err();
    assert_eq!(
        e.messages(),
        vec!["Can't open user config file /nope: No such file or directory"]
    );
    assert_eq!(e.fatal_kind(), Some(FatalKind::CannotOpen));
}

#[test]
fn host_patterns_negation_and_literal_commas() {
    let env = user(
        "Host *.example.com !secret.example.com\n  User wild\nHost a,b\n  Port 99\nHost *\n  User other\n",
    );
    assert_eq!(resolve(&env, "www.example.com").user, "wild");
    assert_eq!(resolve(&env, "secret.example.com").user, "other");
    // Commas are not separators on Host lines.
    assert_eq!(resolve(&env, "a").port, 22);
    assert_eq!(resolve(&env, "a,b").port, 99);
}

#[test]
fn host_matching_is_case_sensitive_but_hostname_is_lowercased() {
    let env = user("Host example.com\n  Port 2200\n");
    assert_eq!(resolve(&env, "EXAMPLE.com").port, 22);
    assert_eq!(resolve(&env, "EXAMPLE.com").hostname, "example.com");
    let c = with_o(&MemoryEnv::new(), "Ex.com", &["HostName=FOO.%h.Bar"]).unwrap();
    assert_eq!(c.hostname, "foo.ex.com.bar");
    assert_eq!(c.host_arg, "Ex.com");
}

#[test]
fn match_host_originalhost_user_and_negation() {
    let env = user(
        "Match host foo*,!foobar user bob\n  Port 1001\n\
         Match originalhost alias\n  HostName real.example\n\
         Match host real.example\n  Port 1002\n\
         Match !host zzz all\n  Port 9\n",
    );
    let bob = |host| with_o(&env, host, &["User=bob"]).unwrap().port;
    assert_eq!(bob("foo1"), 1001);
    assert_eq!(bob("foobar"), 9);
    let c = resolve(&env, "alias");
    assert_eq!((c.hostname.as_str(), c.port), ("real.example", 1002));
}

#[test]
fn match_localuser_and_all() {
    let env = user("Match localuser alice\n  User matched\nMatch all\n  Port 5\n");
    let c = resolve(&env, "h");
    assert_eq!((c.user.as_str(), c.port), ("matched", 5));
}

#[test]
fn match_exec_runs_the_expanded_command_and_uses_its_status() {
    let env = user(
        "Match exec \"test %h = real.example && echo %n %p %r %u %l %L %d %i %k %C\"\n  User execuser\n\
         HostName real.example\n",
    )
    .with_exec(|cmd| ExecStatus::Exited(if cmd.starts_with("test real.example") { 0 } else { 1 }));
    // HostName is set after the Match line, so %h is the alias here and the test fails.
    let c = resolve(&env, "alias");
    assert_eq!(c.user, "alice");
    let log = env.exec_log.borrow().clone();
    let hash = sha1::sha1_hex(b"box.example.orgalias22alice");
    assert_eq!(
        log,
        vec![format!(
            "test alias = real.example && echo alias 22 alice alice box.example.org box /home/alice 1000 alias {hash}"
        )]
    );

    let env =
        user("HostName real.example\nMatch exec \"test %h = real.example\"\n  User execuser\n")
            .with_exec(|cmd| {
                ExecStatus::Exited(if cmd == "test real.example = real.example" {
                    0
                } else {
                    1
                })
            });
    assert_eq!(resolve(&env, "alias").user, "execuser");
}

#[test]
fn match_exec_is_skipped_after_a_failed_criterion_and_signals_are_fatal() {
    let env =
        user("Match host nomatch exec \"true\"\n  Port 3\n").with_exec(|_| ExecStatus::Exited(0));
    assert_eq!(resolve(&env, "h").port, 22);
    assert!(env.exec_log.borrow().is_empty());

    let env = user("Match exec \"kill -9 $$\"\n  Port 3\n").with_exec(|_| ExecStatus::Signaled);
    let e = resolve_err(&env, "h");
    assert_eq!(e.fatal_kind(), Some(FatalKind::MatchExec));
    assert_eq!(
        e.messages(),
        vec![format!(
            "{USER_CONFIG} line 1: match exec 'kill -9 $$' error"
        )]
    );
}

#[test]
fn match_final_reads_the_files_again_with_the_final_host_name() {
    let env = user("Host real\n  Port 7\nMatch final host real\n  User finaluser\nHost alias\n  HostName REAL\n");
    let c = resolve(&env, "alias");
    assert_eq!(c.hostname, "real");
    assert_eq!(c.user, "finaluser");
    // In the final pass `Host` matches the new name too.
    assert_eq!(c.port, 7);
    // `Match canonical` is false in the first pass and true in the final one.
    let env = user("CanonicalizeHostname yes\nMatch canonical\n  User canon\n");
    assert_eq!(resolve(&env, "h").user, "canon");
    let env = user("Match !final\n  User first\n");
    assert_eq!(resolve(&env, "h").user, "first");
}

#[test]
fn match_errors_use_openssh_messages() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Match all extra",
            &["'all' cannot be combined with other Match attributes"],
        ),
        ("Match host", &["Missing Match criteria for host"]),
        ("Match bogus x", &["Unsupported Match attribute bogus"]),
        ("Match #c", &["One or more attributes required for Match"]),
    ];
    for (line, first) in cases {
        let env = user(&format!("{line}\n"));
        let msgs = resolve_err(&env, "h").messages();
        let want_first = if first[0].starts_with('\'') {
            format!("{USER_CONFIG} line 1: {}", first[0])
        } else {
            first[0].to_string()
        };
        assert_eq!(
            msgs,
            vec![
                want_first,
                format!("{USER_CONFIG} line 1: Bad Match condition"),
                format!("{USER_CONFIG}: terminating, 1 bad configuration options"),
            ],
            "{line}"
        );
    }
}

#[test]
fn include_globs_relative_to_dot_ssh_in_sorted_order() {
    let env = user("Include conf.d/*.conf\n")
        .with_file("/home/alice/.ssh/conf.d/b.conf", "User fromb\nPort 2\n")
        .with_file("/home/alice/.ssh/conf.d/a.conf", "Port 1\n")
        .with_file("/home/alice/.ssh/conf.d/.hidden.conf", "User hidden\n");
    let c = resolve(&env, "h");
    assert_eq!((c.port, c.user.as_str()), (1, "fromb"));
}

#[test]
fn system_includes_are_relative_to_etc_ssh_and_may_not_use_tilde() {
    let env = MemoryEnv::new()
        .with_file(SYSTEM, "Include ssh_config.d/*.conf\n")
        .with_file("/etc/ssh/ssh_config.d/x.conf", "Port 44\n");
    assert_eq!(resolve(&env, "h").port, 44);
    let env = MemoryEnv::new().with_file(SYSTEM, "Include ~/x\n");
    assert_eq!(
        resolve_err(&env, "h").messages()[0],
        format!("{SYSTEM} line 1: bad include path ~/x.")
    );
}

#[test]
fn include_inside_a_host_block_applies_only_to_that_host() {
    let env = user("Host special\n  Include extra.conf\nHost *\n  Port 22\n")
        .with_file("/home/alice/.ssh/extra.conf", "Port 2022\nUser extra\n");
    assert_eq!(resolve(&env, "special").port, 2022);
    let other = resolve(&env, "other");
    assert_eq!((other.port, other.user.as_str()), (22, "alice"));
}

#[test]
fn a_match_in_an_included_file_does_not_leak_into_the_including_file() {
    let env = user("Include inc.conf\nPort 444\n")
        .with_file("/home/alice/.ssh/inc.conf", "User inc\nMatch host zzz\n");
    let c = resolve(&env, "h");
    assert_eq!((c.port, c.user.as_str()), (444, "inc"));
}

#[test]
fn included_files_in_inactive_blocks_are_still_checked() {
    let env =
        user("Host zz\nInclude bad.conf\n").with_file("/home/alice/.ssh/bad.conf", "Bogus 1\n");
    assert_eq!(
        resolve_err(&env, "h").messages(),
        vec![
            "/home/alice/.ssh/bad.conf: line 1: Bad configuration option: bogus",
            "/home/alice/.ssh/bad.conf: terminating, 1 bad configuration options",
        ]
    );
}

#[test]
fn include_recursion_stops_at_depth_16() {
    let env =
        user("Include self.conf\n").with_file("/home/alice/.ssh/self.conf", "Include self.conf\n");
    let e = resolve_err(&env, "h");
    assert_eq!(e.fatal_kind(), Some(FatalKind::IncludeDepth));
    assert_eq!(
        e.messages(),
        vec!["Too many recursive configuration includes"]
    );
    // Sixteen levels below the top file are fine.
    let mut env = user("Include l1\n");
    for i in 1..=16 {
        let next = if i < 16 {
            format!("Include l{}\n", i + 1)
        } else {
            "Port 16\n".into()
        };
        env = env.with_file(&format!("/home/alice/.ssh/l{i}"), &next);
    }
    assert_eq!(resolve(&env, "h").port, 16);
}

#[test]
fn files_writable_by_others_are_refused_where_openssh_checks() {
    let env = MemoryEnv::new().with_file_mode(USER_CONFIG, "Port 1\n", 1000, 0o666);
    let e = resolve_err(&env, "h");
    assert_eq!(
        e.messages(),
        vec![format!("Bad owner or permissions on {USER_CONFIG}")]
    );
    let env = MemoryEnv::new().with_file_mode(USER_CONFIG, "Port 1\n", 0, 0o644);
    assert_eq!(resolve(&env, "h").port, 1);
    // -F files are not checked.
    let env = MemoryEnv::new().with_file_mode("/tmp/f", "Port 1\n", 4242, 0o666);
    let c = loader(&env)
        .config_file("/tmp/f")
        .resolve("h", Options::new())
        .unwrap();
    assert_eq!(c.port, 1);
}

#[test]
fn bad_lines_are_all_reported_with_file_and_line() {
    let env = user("Foo bar\nPort\nBaz\nPort abc\nUser a b\nPort 22\nUser \"a\n");
    assert_eq!(
        resolve_err(&env, "h").messages(),
        vec![
            format!("{USER_CONFIG}: line 1: Bad configuration option: foo"),
            format!("{USER_CONFIG} line 2: no argument after keyword \"port\""),
            format!("{USER_CONFIG} line 3: no argument after keyword \"baz\""),
            format!("{USER_CONFIG} line 4: Bad port 'abc'."),
            format!("{USER_CONFIG} line 5: keyword user extra arguments at end of line"),
            format!("{USER_CONFIG} line 7: invalid quotes"),
            format!("{USER_CONFIG}: terminating, 6 bad configuration options"),
        ]
    );
}

#[test]
fn command_line_errors_name_command_line_line_0() {
    let env = MemoryEnv::new();
    let err = |o: &str| with_o(&env, "h", &[o]).unwrap_err().messages();
    assert_eq!(
        err("foo=bar"),
        vec!["command-line: line 0: Bad configuration option: foo"]
    );
    assert_eq!(err("Port=0"), vec!["command-line line 0: Bad port '0'."]);
    assert_eq!(
        err("Host x"),
        vec!["Host directive not supported as a command-line option"]
    );
    assert_eq!(
        err("Include /x"),
        vec!["Include directive not supported as a command-line option"]
    );
    assert_eq!(
        err("Ciphers=aes*"),
        vec!["command-line line 0: Bad SSH2 cipher spec 'aes*'."]
    );
    assert_eq!(
        err("ServerAliveCountMax=-1"),
        vec!["command-line line 0: integer value too small."]
    );
    assert_eq!(
        err("BatchMode=\"\""),
        vec![
            "command-line line 0: missing argument.",
            "command-line line 0: unsupported option \"\".",
        ]
    );
    assert_eq!(
        err("RekeyLimit=10"),
        vec!["command-line line 0: RekeyLimit too small"]
    );
    assert_eq!(
        err("SetEnv=X"),
        vec!["command-line line 0: Invalid SetEnv."]
    );
    assert_eq!(
        err("ProxyJump=a,b;c"),
        vec![
            "parse_jump: invalid hostname \"b;c\"",
            "command-line line 0: Invalid ProxyJump \"a,b;c\"",
        ]
    );
}

#[test]
fn ignore_unknown_must_come_first() {
    let env = user("IgnoreUnknown Foo*,bar\nFOOBAR 1\nBar 2\nbaz 3\n");
    assert_eq!(
        resolve_err(&env, "h").messages()[0],
        format!("{USER_CONFIG}: line 4: Bad configuration option: baz")
    );
    let env = user("Foo 1\nIgnoreUnknown foo\n");
    assert_eq!(
        resolve_err(&env, "h").messages()[0],
        format!("{USER_CONFIG}: line 1: Bad configuration option: foo")
    );
}

#[test]
fn multi_valued_keywords_accumulate() {
    let env = user(
        "IdentityFile /i1\nIdentityFile /i2\nIdentityFile /i1\nCertificateFile /c1\n\
         SendEnv LANG LC_*\nSendEnv -LC_ALL X -LANG\n\
         SetEnv A=1 A=2\nSetEnv B=2\n\
         LocalForward 1 h:1\nLocalForward 1 h:1\nDynamicForward 1080\nRemoteForward 2 h:2\n\
         UserKnownHostsFile /a /b\nUserKnownHostsFile /c\n",
    )
    .with_file(SYSTEM, "IdentityFile /i1\nSendEnv SYS\n");
    let c = resolve(&env, "h");
    let ids: Vec<(&str, bool)> = c
        .identity_files
        .iter()
        .map(|p| (p.path.as_str(), p.user_provided))
        .collect();
    assert_eq!(ids, vec![("/i1", true), ("/i2", true), ("/i1", false)]);
    assert_eq!(c.certificate_files.len(), 1);
    assert_eq!(c.send_env, vec!["LC_*", "X", "SYS"]);
    assert_eq!(c.set_env, vec!["A=1"]);
    assert_eq!(dump_line(&c, "localforward"), vec!["1 [h]:1"]);
    assert_eq!(dump_line(&c, "dynamicforward"), vec!["1080"]);
    assert_eq!(dump_line(&c, "remoteforward"), vec!["2 [h]:2"]);
    assert_eq!(c.user_known_hosts_files, vec!["/a", "/b"]);
}

#[test]
fn default_identity_files_and_known_hosts() {
    let c = resolve(&MemoryEnv::new(), "h");
    assert_eq!(dump_line(&c, "identityfile")[0], "~/.ssh/id_rsa");
    assert_eq!(c.identity_files.len(), 7);
    assert_eq!(
        c.user_known_hosts_files,
        vec![
            "/home/alice/.ssh/known_hosts",
            "/home/alice/.ssh/known_hosts2"
        ]
    );
    assert_eq!(
        c.identity_file_paths(&MemoryEnv::new()).unwrap()[0],
        "/home/alice/.ssh/id_rsa"
    );
}
