//! Tests of `ssh` argument parsing. The expected values were taken from OpenSSH 9.2's
//! `ssh -G`; the last test replays a table of command lines against the real `ssh -G` when
//! it is installed.

use std::process::Command;

use super::*;

fn provider() -> CryptoProvider {
    oxssh_crypto::default_provider()
}

fn invoke(argv: &[&str]) -> Result<Invocation, ArgsError> {
    parse(argv.iter().copied(), &provider())
}

fn args(argv: &[&str]) -> Args {
    match invoke(argv) {
        Ok(Invocation::Connect(args)) => *args,
        other => panic!("{argv:?}: {other:?}"),
    }
}

fn err(argv: &[&str]) -> ArgsError {
    match invoke(argv) {
        Err(e) => e,
        other => panic!("{argv:?} should fail: {other:?}"),
    }
}

fn fatal_text(argv: &[&str]) -> String {
    match err(argv) {
        ArgsError::Fatal(message) => message,
        other => panic!("{argv:?}: {other:?}"),
    }
}

fn command(a: &Args) -> Option<String> {
    a.command_line().map(|c| String::from_utf8(c).unwrap())
}

#[test]
fn destination_then_command_joined_with_spaces() {
    let a = args(&["host", "ls", "-l", "a b"]);
    assert_eq!(a.host, "host");
    assert_eq!(command(&a).as_deref(), Some("ls -l a b"));
    assert_eq!(a.user, None);
    assert_eq!(a.port, None);
    let a = args(&["u@host"]);
    assert_eq!((a.user.as_deref(), a.host.as_str()), (Some("u"), "host"));
    assert_eq!(command(&a), None);
    // An empty command is no command: OpenSSH opens a shell for `ssh host ''`.
    assert_eq!(command(&args(&["host", ""])), None);
    assert_eq!(command(&args(&["host", "", ""])).as_deref(), Some(" "));
}

#[test]
fn options_are_parsed_once_more_after_the_destination() {
    let a = args(&["host", "-p", "2222", "-v", "ls", "-p", "1"]);
    assert_eq!(a.port, Some(2222));
    assert_eq!(a.debug, 1);
    assert_eq!(command(&a).as_deref(), Some("ls -p 1"));
    // "--" after the destination ends the options there.
    let a = args(&["host", "--", "-p", "3"]);
    assert_eq!((a.port, command(&a).as_deref()), (None, Some("-p 3")));
    // "--" before the destination ends them for good.
    let a = args(&["--", "host", "-p", "3"]);
    assert_eq!((a.port, command(&a).as_deref()), (None, Some("-p 3")));
    let a = args(&["-v", "--", "h", "--", "x"]);
    assert_eq!(command(&a).as_deref(), Some("-- x"));
    // A lone "-" is an operand: here the command.
    assert_eq!(command(&args(&["h", "-", "x"])).as_deref(), Some("- x"));
}

#[test]
fn getopt_forms_of_values() {
    assert_eq!(args(&["-p22", "h"]).port, Some(22));
    assert_eq!(args(&["-p", "22", "h"]).port, Some(22));
    assert_eq!(args(&["-vp", "22", "h"]).port, Some(22));
    assert_eq!(args(&["-p", "ssh", "h"]).port, Some(22));
    assert_eq!(
        args(&["-oUser=bob", "-o", "Port 7", "-o", "Compression=yes", "h"]).options,
        ["User=bob", "Port 7", "Compression=yes"]
    );
    // getopt does not strip '=' from short options, and takes "--" as a value.
    assert_eq!(fatal_text(&["-p=22", "h"]), "Bad port '=22'");
    assert_eq!(fatal_text(&["-p", "--", "h"]), "Bad port '--'");
    assert_eq!(args(&["-o=x", "h"]).options, ["=x"]);
    assert_eq!(args(&["-i", "-v", "h"]).identity_files, ["-v"]);
}

#[test]
fn verbosity_counts_like_openssh() {
    assert_eq!(args(&["h"]).log_level, None);
    let a = args(&["-vvv", "h"]);
    assert_eq!((a.log_level, a.debug), (Some(LogLevel::Debug3), 3));
    let a = args(&["-vvvvv", "h"]);
    assert_eq!((a.log_level, a.debug), (Some(LogLevel::Debug3), 3));
    assert_eq!(args(&["-q", "h"]).log_level, Some(LogLevel::Quiet));
    assert_eq!(args(&["-v", "-q", "h"]).log_level, Some(LogLevel::Quiet));
    assert_eq!(args(&["-q", "-v", "h"]).log_level, Some(LogLevel::Debug1));
    // After -v -q, a -v counts up from QUIET.
    assert_eq!(
        args(&["-v", "-q", "-v", "h"]).log_level,
        Some(LogLevel::Fatal)
    );
}

#[test]
fn user_and_port_slots_are_first_come() {
    assert_eq!(args(&["-l", "bob", "alice@h"]).user.as_deref(), Some("bob"));
    assert_eq!(
        args(&["alice@h", "-l", "bob"]).user.as_deref(),
        Some("alice")
    );
    // An earlier -o User takes the slot: the flag and the destination lose to it.
    assert_eq!(args(&["-o", "User=x", "-l", "bob", "alice@h"]).user, None);
    assert_eq!(
        args(&["-l", "bob", "-o", "User=x", "h"]).user.as_deref(),
        Some("bob")
    );
    assert_eq!(args(&["-p", "1", "ssh://u@h:2"]).port, Some(1));
    assert_eq!(args(&["ssh://u@h:2", "-p", "3"]).port, Some(2));
    // Later -p values are ignored without being checked.
    assert_eq!(args(&["-p", "22", "-p", "bad", "h"]).port, Some(22));
    assert_eq!(args(&["-o", "Port=2222", "-p", "bad", "h"]).port, None);
    assert_eq!(
        fatal_text(&["-p", "bad", "-p", "22", "h"]),
        "Bad port 'bad'"
    );
    assert_eq!(fatal_text(&["-p", "0", "h"]), "Bad port '0'");
    assert_eq!(fatal_text(&["-p", "65536", "h"]), "Bad port '65536'");
}

#[test]
fn uri_destinations() {
    let a = args(&["ssh://u@h:2200", "true"]);
    assert_eq!(
        (a.user.as_deref(), a.host.as_str(), a.port),
        (Some("u"), "h", Some(2200))
    );
    assert_eq!(command(&a).as_deref(), Some("true"));
    for bad in ["ssh://u@h/path", "ssh://[::1]:22", "ssh://h:0", "@h"] {
        assert_eq!(err(&[bad]), ArgsError::Usage(None), "{bad}");
    }
}

#[test]
fn tty_flags() {
    assert_eq!(args(&["-t", "h"]).request_tty, Some(RequestTty::Yes));
    assert_eq!(args(&["-tt", "h"]).request_tty, Some(RequestTty::Force));
    assert_eq!(args(&["-T", "-t", "h"]).request_tty, Some(RequestTty::Yes));
    assert_eq!(args(&["-tt", "-T", "h"]).request_tty, Some(RequestTty::No));
    assert_eq!(
        args(&["-o", "RequestTTY=yes", "-t", "h"]).request_tty,
        Some(RequestTty::Force)
    );
    // Set by -o only: left to the config code.
    assert_eq!(args(&["-o", "RequestTTY=force", "h"]).request_tty, None);
    let a = args(&["-N", "h"]);
    assert_eq!(
        (a.request_tty, a.session_type),
        (Some(RequestTty::No), Some(SessionType::None))
    );
    let a = args(&["-n", "h"]);
    assert!(a.stdin_null && !a.fork_after_auth);
    let a = args(&["-f", "h", "cmd"]);
    assert!(a.stdin_null && a.fork_after_auth);
}

#[test]
fn session_type_conflicts() {
    assert_eq!(
        fatal_text(&["-N", "-s", "h", "sftp"]),
        "Cannot specify -s with -N/SessionType"
    );
    assert_eq!(
        fatal_text(&["-s", "-N", "h", "sftp"]),
        "Cannot specify -N with -s/SessionType"
    );
    assert_eq!(
        fatal_text(&["-o", "SessionType=default", "-N", "h"]),
        "Cannot specify -N with -s/SessionType"
    );
    assert_eq!(
        args(&["-N", "-N", "h"]).session_type,
        Some(SessionType::None)
    );
    assert_eq!(
        err(&["-s", "h"]),
        ArgsError::Usage(Some("You must specify a subsystem to invoke.".into()))
    );
    assert!(matches!(
        err(&["-o", "SessionType=subsystem", "h"]),
        ArgsError::Usage(Some(_))
    ));
    let a = args(&["-s", "h", "sftp"]);
    assert_eq!(a.session_type, Some(SessionType::Subsystem));
    assert!(a.unsupported_flags().is_empty(), "-s is supported");
}

#[test]
fn flags_that_override_the_config() {
    let a = args(&[
        "-C", "-6", "-4", "-e", "^A", "-F", "a", "-F", "b", "-E", "log", "-G", "h",
    ]);
    assert!(a.compression && a.config_test);
    assert_eq!(a.address_family, Some(AddressFamily::Inet));
    assert_eq!(a.escape_char, Some(EscapeChar::Byte(1)));
    assert_eq!(a.config_file.as_deref(), Some("b"));
    assert_eq!(a.log_file.as_deref(), Some("log"));
    assert_eq!(
        args(&["-e", "none", "h"]).escape_char,
        Some(EscapeChar::None)
    );
    assert_eq!(fatal_text(&["-e", "ab", "h"]), "Bad escape character 'ab'.");
    assert_eq!(fatal_text(&["-e", "", "h"]), "Bad escape character ''.");
    let a = args(&["-i", "a", "-i", "~/b", "-i", "a", "h"]);
    assert_eq!(a.identity_files, ["a", "~/b", "a"]);
}

#[test]
fn cipher_and_mac_specs_are_checked() {
    let a = args(&["-c", "aes128-ctr", "-c", "aes256-gcm@openssh.com", "h"]);
    assert_eq!(a.cipher_spec.as_deref(), Some("aes256-gcm@openssh.com"));
    for good in [
        "+aes128-ctr",
        "^chacha20-poly1305@openssh.com",
        "aes128-ctr,,junk",
        ",",
        "+,",
    ] {
        assert!(args(&["-c", good, "h"]).cipher_spec.is_some(), "{good}");
    }
    for bad in [
        "foo",
        "-aes128-ctr",
        "aes128-ctr,foo",
        "none",
        "^",
        "+",
        "",
        "3des-cbc",
    ] {
        assert_eq!(
            fatal_text(&["-c", bad, "h"]),
            format!("Unknown cipher type '{bad}'")
        );
    }
    assert!(args(&["-m", "hmac-sha2-256,hmac-sha1", "h"])
        .mac_spec
        .is_some());
    for bad in ["foo", "+hmac-sha1", "^hmac-sha1", "none", ""] {
        assert_eq!(
            fatal_text(&["-m", bad, "h"]),
            format!("Unknown mac type '{bad}'")
        );
    }
}

#[test]
fn version_and_query_act_immediately() {
    assert_eq!(invoke(&["-V"]), Ok(Invocation::Version));
    assert_eq!(invoke(&["-V", "-Z"]), Ok(Invocation::Version));
    assert_eq!(invoke(&["-vV"]), Ok(Invocation::Version));
    assert!(matches!(err(&["-Z", "-V"]), ArgsError::Usage(_)));
    assert_eq!(
        invoke(&["-Q", "cipher"]),
        Ok(Invocation::Query(Query::Cipher))
    );
    assert_eq!(invoke(&["-Qmac", "-Z"]), Ok(Invocation::Query(Query::Mac)));
    assert_eq!(
        invoke(&["-Q", "Ciphers"]),
        Ok(Invocation::Query(Query::Cipher))
    );
    assert_eq!(fatal_text(&["-Q", "foo"]), "Unsupported query \"foo\"");
    assert_eq!(VERSION, "oxssh_0.1.0, aws-lc-rs");
}

#[test]
fn usage_errors() {
    assert_eq!(err(&[]), ArgsError::Usage(None));
    assert_eq!(err(&["-v"]), ArgsError::Usage(None));
    assert_eq!(
        err(&["-Z", "h"]),
        ArgsError::Usage(Some("unknown option -- Z".into()))
    );
    assert_eq!(
        err(&["-p"]),
        ArgsError::Usage(Some("option requires an argument -- p".into()))
    );
    assert_eq!(
        err(&["h", "-l"]),
        ArgsError::Usage(Some("option requires an argument -- l".into()))
    );
    assert_eq!(
        err(&["--foo", "h"]),
        ArgsError::Usage(Some("unknown option -- -".into()))
    );
    assert_eq!(
        err(&["-h"]).to_string(),
        format!("unknown option -- h\n{USAGE}")
    );
    assert_eq!(err(&["-h"]).exit_code(), 255);
    assert_eq!(
        fatal_text(&["-1", "h"]),
        "SSH protocol v.1 is no longer supported"
    );
    assert_eq!(args(&["-2", "h"]).host, "h");
    assert_eq!(
        err(&["-1", "h"]).to_string(),
        "SSH protocol v.1 is no longer supported\n"
    );
}

#[test]
fn usage_text_has_openssh_layout() {
    // OpenSSH 9.2's usage(), re-indented for the longer program name.
    let openssh = "\
usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface]
           [-b bind_address] [-c cipher_spec] [-D [bind_address:]port]
           [-E log_file] [-e escape_char] [-F configfile] [-I pkcs11]
           [-i identity_file] [-J [user@]host[:port]] [-L address]
           [-l login_name] [-m mac_spec] [-O ctl_cmd] [-o option] [-p port]
           [-Q query_option] [-R address] [-S ctl_path] [-W host:port]
           [-w local_tun[:remote_tun]] destination [command [argument ...]]
";
    let ours = openssh
        .replace("usage: ssh ", "usage: oxssh ")
        .replace("\n           [", "\n             [");
    assert_eq!(USAGE, ours);
}

#[test]
fn names_are_checked_after_parsing() {
    assert_eq!(
        fatal_text(&["a;b@h"]),
        "remote username contains invalid characters"
    );
    assert_eq!(
        fatal_text(&["-l", "-x", "h"]),
        "remote username contains invalid characters"
    );
    assert_eq!(
        fatal_text(&["-o", "User=a;b", "h"]),
        "remote username contains invalid characters"
    );
    assert_eq!(
        fatal_text(&["ho$st"]),
        "hostname contains invalid characters"
    );
    assert_eq!(
        fatal_text(&["--", "-host"]),
        "hostname contains invalid characters"
    );
    // The user is checked first, then the host; bad flags are found before either.
    assert_eq!(
        fatal_text(&["a;b@ho$st"]),
        "remote username contains invalid characters"
    );
    assert!(matches!(err(&["ho$st", "-Z"]), ArgsError::Usage(Some(_))));
    assert_eq!(
        fatal_text(&["-s", "ho$st"]),
        "hostname contains invalid characters"
    );
    assert_eq!(args(&["-l", "", "h"]).user.as_deref(), Some(""));
    assert_eq!(args(&[""]).host, "");
}

#[test]
fn unsupported_flags_are_listed_by_name() {
    let a = args(&["-W", "h:1", "-A", "-x", "-J", "jump", "-P", "tag", "h"]);
    let flags: Vec<char> = a.unsupported_flags().iter().map(|f| f.flag).collect();
    assert_eq!(flags, ['x', 'P']);
    let messages: Vec<String> = a
        .unsupported_flags()
        .iter()
        .map(UnsupportedFlag::message)
        .collect();
    assert_eq!(
        messages,
        [
            "oxssh: -x is not supported yet",
            "oxssh: -P is not supported yet",
        ]
    );
    assert_eq!(a.unsupported_flags()[1].value.as_deref(), Some("tag"));
    assert!(a.unsupported_flags()[0].is_harmless());
    assert!(!a.unsupported_flags()[1].is_harmless());
    assert_eq!(a.stdio_forward.as_deref(), Some("h:1"));
    assert_eq!(a.jump.as_deref(), Some("jump"));
    let all = args(&[
        "-A", "-a", "-g", "-K", "-k", "-M", "-X", "-x", "-Y", "-y", "-B", "i", "-b", "a", "-D",
        "1080", "-I", "p", "-O", "check", "-R", "1:h:2", "-S", "s", "-w", "0", "h",
    ]);
    assert_eq!(all.unsupported_flags().len(), 10);
    assert_eq!(all.forward_agent, Some(false));
    assert!(all.gateway_ports);
    assert_eq!(all.dynamic_forwards, ["1080"]);
    assert_eq!(all.remote_forwards, ["1:h:2"]);
    assert_eq!(all.control_master, 1);
    assert_eq!(all.control_path.as_deref(), Some("s"));
    assert_eq!(args(&["h"]).unsupported_flags(), []);
}

#[test]
fn stdio_forward_and_jump_follow_opensshs_rules() {
    let w = args(&["-W", "h:1", "h"]);
    assert_eq!(w.request_tty, Some(RequestTty::No));
    assert_eq!(w.session_type, Some(SessionType::None));
    assert_eq!(
        fatal_text(&["-W", "a:1", "-W", "b:2", "h"]),
        "stdio forward already specified"
    );
    assert_eq!(
        fatal_text(&["-O", "check", "-W", "a:1", "h"]),
        "Cannot specify stdio forward with -O"
    );
    assert_eq!(
        fatal_text(&["-W", "a:1", "-O", "check", "h"]),
        "Cannot specify multiplexing command with -W"
    );
    assert_eq!(
        fatal_text(&["-J", "a", "-J", "b", "h"]),
        "Only a single -J option is permitted (use commas to separate multiple jump hops)"
    );
    assert_eq!(
        fatal_text(&["-o", "ProxyCommand=nc %h %p", "-J", "a", "h"]),
        "Cannot specify -J with ProxyCommand"
    );
    assert_eq!(
        args(&["-J", "a", "-o", "ProxyCommand=nc", "h"])
            .jump
            .as_deref(),
        Some("a")
    );
}

#[test]
fn control_flags_are_parsed_as_openssh_does() {
    let a = args(&[
        "-M", "-M", "-S", "/a", "-S", "/b", "-O", "check", "-O", "exit", "h",
    ]);
    assert_eq!(a.control_master, 2);
    assert_eq!(a.control_path.as_deref(), Some("/b"));
    assert_eq!(a.mux_command, Some(MuxCommand::Exit));
    assert_eq!(
        fatal_text(&["-O", "bogus", "h"]),
        "Invalid multiplex command."
    );
}

#[test]
fn fork_needs_something_to_run() {
    let fatal = Err(ArgsError::Fatal(
        "Cannot fork into background without a command to execute.".into(),
    ));
    assert_eq!(args(&["-f", "h"]).check_fork(false, false), fatal);
    assert_eq!(args(&["-f", "h"]).check_fork(true, false), Ok(()));
    assert_eq!(args(&["-f", "h"]).check_fork(false, true), Ok(()));
    assert_eq!(args(&["-f", "h", "x"]).check_fork(false, false), Ok(()));
    assert_eq!(args(&["-f", "-N", "h"]).check_fork(false, true), Ok(()));
    assert_eq!(args(&["h"]).check_fork(false, false), Ok(()));
}

/// Replays command lines through the real `ssh -G` (when installed) and compares the user,
/// port and host it resolves, and whether it accepts the line at all.
#[test]
fn agrees_with_openssh_ssh_g() {
    let Ok(out) = Command::new("ssh").args(["-G", "-F", "none", "h"]).output() else {
        eprintln!("ssh not installed; skipping");
        return;
    };
    let field = |text: &str, key: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_owned))
    };
    let default_user = field(&String::from_utf8_lossy(&out.stdout), "user").unwrap();
    let cases: &[&[&str]] = &[
        &["h", "-p", "2222"],
        &["-l", "bob", "alice@h"],
        &["alice@h", "-l", "bob"],
        &["-p", "1", "ssh://u@h:2"],
        &["ssh://u@h:2", "-p", "3"],
        &["--", "h", "-p", "3"],
        &["h", "--", "-p", "3"],
        &["-p", "22", "-p", "bad", "h"],
        &["-p", "bad", "-p", "22", "h"],
        &["-o", "Port=2222", "-p", "bad", "h"],
        &["-o", "User=x", "-l", "bob", "h"],
        &["-l", "bob", "-o", "User=x", "h"],
        &["a@b@h"],
        &["ssh://u%20x@h:ssh"],
        &["ssh://u;fp=x@h."],
        &["ssh://[::1]"],
        &["ssh://u@h/path"],
        &["@h"],
        &["a;b@h"],
        &["ho$st"],
        &["-p=22", "h"],
        &["-Z", "h"],
        &["-e", "^?", "h"],
        &["-c", "foo", "h"],
        &["-c", "+aes128-ctr", "h"],
        &["-m", "+hmac-sha1", "h"],
        &["-1", "h"],
        &["-s", "h"],
        &["-N", "-s", "h", "x"],
        &["h", "-v", "-l", "u", "cmd", "-l", "x"],
    ];
    let (mut accepted, mut refused) = (0, 0);
    for case in cases {
        let mut argv = vec!["-G", "-F", "none"];
        argv.extend_from_slice(case);
        let real = Command::new("ssh")
            .args(&argv)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let ours = invoke(&argv);
        let ours = match ours {
            Ok(Invocation::Connect(a)) => a,
            Ok(other) => panic!("{case:?}: {other:?}"),
            Err(e) => {
                assert_eq!(real.status.code(), Some(255), "{case:?}: we refuse: {e}");
                refused += 1;
                continue;
            }
        };
        assert!(real.status.success(), "{case:?}: ssh refuses, we accept");
        accepted += 1;
        let text = String::from_utf8_lossy(&real.stdout);
        assert_eq!(
            field(&text, "hostname").unwrap(),
            ours.host.strip_suffix('.').unwrap_or(&ours.host),
            "{case:?}"
        );
        if !ours.options.iter().any(|o| o.starts_with("User")) {
            let user = ours.user.clone().unwrap_or_else(|| default_user.clone());
            assert_eq!(field(&text, "user").unwrap(), user, "{case:?}");
        }
        if !ours.options.iter().any(|o| o.starts_with("Port")) {
            let port = ours.port.unwrap_or(22).to_string();
            assert_eq!(field(&text, "port").unwrap(), port, "{case:?}");
        }
    }
    assert_eq!((accepted, refused), (16, 14));
}
