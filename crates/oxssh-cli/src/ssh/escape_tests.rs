//! Tests of the escape filter against what OpenSSH 9.2 sends and prints (the help text and
//! messages were captured from the real client on a pty).

use super::*;

fn filter() -> EscapeFilter {
    EscapeFilter::new(EscapeConfig::new(b'~'))
}

/// Runs `reads` through one filter and flattens the result for comparison.
fn run(filter: &mut EscapeFilter, reads: &[&[u8]]) -> Vec<EscapeOutput> {
    let mut all = Vec::new();
    for read in reads {
        all.extend(filter.process(read));
    }
    // Merge across reads, so split and unsplit input compare equal.
    let mut merged: Vec<EscapeOutput> = Vec::new();
    for event in all {
        match (merged.last_mut(), event) {
            (Some(EscapeOutput::Send(a)), EscapeOutput::Send(b)) => a.extend(b),
            (Some(EscapeOutput::Print(a)), EscapeOutput::Print(b)) => a.extend(b),
            (_, event) => merged.push(event),
        }
    }
    merged
}

fn send(bytes: &[u8]) -> EscapeOutput {
    EscapeOutput::Send(bytes.to_vec())
}

fn print(bytes: &[u8]) -> EscapeOutput {
    EscapeOutput::Print(bytes.to_vec())
}

fn action(a: EscapeAction) -> EscapeOutput {
    EscapeOutput::Action(a)
}

/// `~?` on OpenSSH 9.2 with default options, as printed on the terminal.
const OPENSSH_HELP: &[u8] = b"~?\r\n\
Supported escape sequences:\r\n \
~.   - terminate connection (and any multiplexed sessions)\r\n \
~B   - send a BREAK to the remote system\r\n \
~R   - request rekey\r\n \
~V/v - decrease/increase verbosity (LogLevel)\r\n \
~^Z  - suspend ssh\r\n \
~#   - list forwarded connections\r\n \
~&   - background ssh (when waiting for connections to terminate)\r\n \
~?   - this message\r\n \
~~   - send the escape character by typing it twice\r\n\
(Note that escapes are only recognized immediately after newline.)\r\n";

#[test]
fn ordinary_input_passes_through() {
    let mut f = filter();
    assert_eq!(run(&mut f, &[b"ls -l\r"]), [send(b"ls -l\r")]);
    assert!(f.process(b"").is_empty());
}

#[test]
fn tilde_dot_at_session_start_disconnects_and_drops_the_rest() {
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"~.rest"]),
        [action(EscapeAction::Disconnect)]
    );
    assert!(f.is_stopped());
    assert!(f.process(b"more").is_empty());
}

#[test]
fn escapes_count_only_at_the_start_of_a_line() {
    let mut f = filter();
    assert_eq!(run(&mut f, &[b"a~.b"]), [send(b"a~.b")]);
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"echo\r~."]),
        [send(b"echo\r"), action(EscapeAction::Disconnect)]
    );
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"x\n~B"]),
        [
            send(b"x\n"),
            print(b"~B\r\n"),
            action(EscapeAction::SendBreak)
        ]
    );
}

#[test]
fn a_sequence_split_across_reads_is_recognised() {
    let mut f = filter();
    let out = run(&mut f, &[b"ls\r", b"~", b".", b"ignored"]);
    assert_eq!(out, [send(b"ls\r"), action(EscapeAction::Disconnect)]);
    // Byte by byte gives the same as all at once.
    let input = b"a\r~~b\r~x\r~?~R";
    let mut whole = filter();
    let mut split = filter();
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&mut whole, &[input]), run(&mut split, &bytes));
}

#[test]
fn doubled_escape_sends_one_and_ends_the_line_start() {
    let mut f = filter();
    // "~~." sends "~." : the second '~' is data, so '.' is not an escape.
    assert_eq!(run(&mut f, &[b"~~."]), [send(b"~.")]);
    assert!(!f.is_stopped());
}

#[test]
fn unknown_sequences_pass_both_bytes() {
    let mut f = filter();
    assert_eq!(run(&mut f, &[b"~x"]), [send(b"~x")]);
    // A newline after the escape is passed on and starts a new line.
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"~\r~."]),
        [send(b"~\r"), action(EscapeAction::Disconnect)]
    );
}

#[test]
fn handled_escapes_keep_the_line_start() {
    let mut f = filter();
    let out = run(&mut f, &[b"~?~#~."]);
    let mut expected = OPENSSH_HELP.to_vec();
    expected.extend_from_slice(b"~#\r\n");
    assert_eq!(
        out,
        [
            print(&expected),
            action(EscapeAction::ListConnections),
            action(EscapeAction::Disconnect),
        ]
    );
}

#[test]
fn help_text_matches_openssh() {
    assert_eq!(help(&EscapeConfig::new(b'~')), OPENSSH_HELP);
    let mut with_cmdline = EscapeConfig::new(b'~');
    with_cmdline.command_line = true;
    let text = String::from_utf8(help(&with_cmdline)).unwrap();
    assert!(text.contains(
        " ~B   - send a BREAK to the remote system\r\n ~C   - open a command line\r\n ~R "
    ));
    // Another escape character appears everywhere the tilde did.
    let text = String::from_utf8(help(&EscapeConfig::new(b'%'))).unwrap();
    assert!(text.starts_with("%?\r\n"));
    assert!(text.contains(" %%   - send the escape character by typing it twice\r\n"));
    assert!(!text.contains('~'));
}

#[test]
fn suspend_break_rekey_background() {
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"~\x1a~B~R"]),
        [
            print(b"~^Z [suspend ssh]\r\n"),
            action(EscapeAction::Suspend),
            print(b"~B\r\n"),
            action(EscapeAction::SendBreak),
            action(EscapeAction::Rekey),
        ]
    );
    let mut f = filter();
    assert_eq!(
        run(&mut f, &[b"~&after"]),
        [
            action(EscapeAction::Background),
            print(b"~& [backgrounded]\n")
        ]
    );
    assert!(f.is_stopped());
}

#[test]
fn verbosity_steps_like_openssh() {
    let mut f = filter();
    let out = run(&mut f, &[b"~v~V~V~V~V~V"]);
    let expected: &[u8] = b"~v [LogLevel VERBOSE]\r\n~V [LogLevel INFO]\r\n\
        ~V [LogLevel ERROR]\r\n~V [LogLevel FATAL]\r\n~V [LogLevel SILENT]\r\n\
        ~V [LogLevel SILENT]\r\n";
    let printed: Vec<u8> = out
        .iter()
        .filter_map(|e| match e {
            EscapeOutput::Print(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(printed, expected);
    assert_eq!(f.log_level(), LogLevel::Quiet);
    assert!(out.contains(&action(EscapeAction::SetLogLevel(LogLevel::Verbose))));
    let mut f = filter();
    run(&mut f, &[b"~v~v~v~v~v~v"]);
    assert_eq!(f.log_level(), LogLevel::Debug3);

    let mut config = EscapeConfig::new(b'~');
    config.log_on_stderr = false;
    let mut f = EscapeFilter::new(config);
    assert_eq!(
        run(&mut f, &[b"~v"]),
        [print(b"~v [Logging to syslog]\r\n")]
    );
    assert_eq!(f.log_level(), LogLevel::Info);
}

#[test]
fn command_line_is_disabled_by_default() {
    let mut f = filter();
    assert_eq!(run(&mut f, &[b"~C"]), [print(b"commandline disabled\r\n")]);
    let mut config = EscapeConfig::new(b'~');
    config.command_line = true;
    let mut f = EscapeFilter::new(config);
    assert_eq!(
        run(&mut f, &[b"~C", b"-L 1:h:2\r"]),
        [
            print(b"\r\nssh> -L 1:h:2\r\n"),
            action(EscapeAction::CommandLine)
        ]
    );
    assert_eq!(f.take_command_line().as_deref(), Some("-L 1:h:2"));
    assert_eq!(f.take_command_line(), None);
}

#[test]
fn command_line_edits_like_a_cooked_terminal_then_data_flows_again() {
    let mut config = EscapeConfig::new(b'~');
    config.command_line = true;
    let mut f = EscapeFilter::new(config);
    // Erase, kill, then a line; the bytes after Enter are data at a line start.
    assert_eq!(
        run(&mut f, &[b"~C-Kx\x7fL 5\x15?\rls\r~C\x03~."]),
        [
            print(b"\r\nssh> -Kx\x08 \x08L 5\x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08?\r\n"),
            action(EscapeAction::CommandLine),
            send(b"ls\r"),
            print(b"\r\nssh> \r\n"),
            action(EscapeAction::Disconnect),
        ]
    );
    assert_eq!(f.take_command_line().as_deref(), Some("?"));
}

#[test]
fn control_character_escapes_work() {
    let esc = match EscapeChar::parse("^A") {
        Some(EscapeChar::Byte(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(esc, 1);
    let mut f = EscapeFilter::new(EscapeConfig::new(esc));
    assert_eq!(
        run(&mut f, &[b"~.\r\x01\x01\r\x01."]),
        [send(b"~.\r\x01\r"), action(EscapeAction::Disconnect)]
    );
}

#[test]
fn escape_char_parses_like_openssh() {
    let parse = EscapeChar::parse;
    assert_eq!(parse("~"), Some(EscapeChar::Byte(b'~')));
    assert_eq!(parse("x"), Some(EscapeChar::Byte(b'x')));
    assert_eq!(parse("^"), Some(EscapeChar::Byte(b'^')));
    assert_eq!(parse("none"), Some(EscapeChar::None));
    assert_eq!(parse("^A"), Some(EscapeChar::Byte(1)));
    assert_eq!(parse("^a"), Some(EscapeChar::Byte(1)));
    assert_eq!(parse("^@"), Some(EscapeChar::Byte(0)));
    assert_eq!(parse("^~"), Some(EscapeChar::Byte(0x1e)));
    for bad in ["", "ab", "^?", "^1", "None", "é", "^é"] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
    assert_eq!(EscapeChar::default(), EscapeChar::Byte(b'~'));
}
