use super::*;
use crate::authorized_keys::PermitPort;

fn parse(field: &str) -> KeyOptions {
    KeyOptions::parse(field).unwrap_or_else(|e| panic!("{field:?}: {e}"))
}

fn permissions(o: &KeyOptions) -> [bool; 5] {
    Permission::ALL.map(|p| o.allows(p))
}

#[test]
fn no_options_allow_everything_and_force_nothing() {
    let o = parse("");
    assert_eq!(o, KeyOptions::default());
    assert_eq!(permissions(&o), [true; 5]);
    assert!(!o.is_restricted() && !o.is_cert_authority());
    assert!(o.touch_required() && !o.verify_required());
    assert_eq!(o.forced_command(), None);
    assert_eq!(o.expires_at(0), None);
    assert!(!o.is_expired(i64::MAX, 0));
}

#[test]
fn each_no_flag_turns_off_its_permission_only() {
    for p in Permission::ALL {
        let o = parse(&format!("no-{}", p.option_name()));
        for q in Permission::ALL {
            assert_eq!(o.allows(q), p != q, "no-{} and {q:?}", p.option_name());
        }
    }
    let o = parse("no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc");
    assert_eq!(permissions(&o), [false; 5]);
    assert!(!o.is_restricted());
}

#[test]
fn restrict_turns_off_every_permission() {
    let o = parse("restrict");
    assert!(o.is_restricted());
    assert!(!o.pty_allowed() && !o.port_forwarding_allowed() && !o.agent_forwarding_allowed());
    assert!(!o.x11_forwarding_allowed() && !o.user_rc_allowed());
}

#[test]
fn restrict_then_pty_allows_a_pty() {
    let o = parse("restrict,pty");
    assert!(o.pty_allowed());
    assert!(!o.port_forwarding_allowed() && !o.user_rc_allowed());
}

#[test]
fn each_re_enabler_after_restrict_allows_its_permission_only() {
    for p in Permission::ALL {
        let o = parse(&format!("restrict,{}", p.option_name()));
        for q in Permission::ALL {
            assert_eq!(
                o.allows(q),
                p == q,
                "restrict,{} and {q:?}",
                p.option_name()
            );
        }
    }
    let o = parse("restrict,pty,port-forwarding,agent-forwarding,x11-forwarding,user-rc");
    assert_eq!(permissions(&o), [true; 5]);
    assert!(o.is_restricted());
}

#[test]
fn options_apply_in_order_as_in_openssh() {
    // OpenSSH assigns each flag as it reads it, so a later restrict wins.
    assert!(!parse("pty,restrict").pty_allowed());
    assert!(parse("no-pty,pty").pty_allowed());
    assert!(!parse("pty,no-pty").pty_allowed());
}

#[test]
fn option_names_are_case_insensitive() {
    let o = parse("RESTRICT,Pty,NO-X11-FORWARDING,x11-Forwarding,Cert-Authority");
    assert!(o.is_restricted() && o.pty_allowed() && o.x11_forwarding_allowed());
    assert!(o.is_cert_authority());
    let o = parse("COMMAND=\"ls\",From=\"*.example\",ENVIRONMENT=\"A=b\"");
    assert_eq!(o.forced_command(), Some("ls"));
    assert_eq!(o.from_patterns(), Some("*.example"));
    assert_eq!(o.environment(), ["A=b"]);
}

#[test]
fn command_keeps_spaces_commas_and_escaped_quotes() {
    let o = parse(r#"command="echo \"a, b\" c\\d  e",no-pty"#);
    assert_eq!(o.forced_command(), Some(r#"echo "a, b" c\\d  e"#));
    assert!(!o.pty_allowed());
    assert_eq!(parse(r#"command="""#).forced_command(), Some(""));
}

#[test]
fn from_and_principals_are_kept_raw() {
    let o =
        parse(r#"from="10.0.0.0/8,!bad.example,*.example",principals="alice,bob",cert-authority"#);
    assert_eq!(o.from_patterns(), Some("10.0.0.0/8,!bad.example,*.example"));
    assert_eq!(o.principals(), Some("alice,bob"));
}

#[test]
fn environment_accumulates_and_first_value_of_a_name_wins() {
    let o =
        parse(r#"environment="A=1",environment="B=two words",environment="A=3",environment="C=""#);
    assert_eq!(o.environment(), ["A=1", "B=two words", "C="]);
    let vars: Vec<_> = o.environment_vars().collect();
    assert_eq!(vars, [("A", "1"), ("B", "two words"), ("C", "")]);
}

#[test]
fn environment_needs_a_valid_name() {
    for bad in [
        r#"environment="A""#,
        r#"environment="=x""#,
        r#"environment="A-B=x""#,
        r#"environment="A B=x""#,
    ] {
        assert!(
            matches!(
                KeyOptions::parse(bad),
                Err(OptionsError::InvalidEnvironment(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(parse(r#"environment="_a1=x=y""#).environment(), ["_a1=x=y"]);
}

#[test]
fn expiry_time_keeps_the_earliest() {
    let o = parse(r#"expiry-time="20300101Z",expiry-time="202001010000Z""#);
    assert_eq!(o.expiry_times().len(), 2);
    assert_eq!(o.expires_at(0), Some(1_577_836_800));
    assert!(o.is_expired(1_577_836_801, 0));
    assert!(!o.is_expired(1_577_836_800, 0));
    let local = parse(r#"expiry-time="20200101""#);
    assert_eq!(local.expires_at(3600), Some(1_577_836_800 - 3600));
    assert!(matches!(
        KeyOptions::parse(r#"expiry-time="2020""#),
        Err(OptionsError::InvalidExpiryTime(_))
    ));
}

#[test]
fn permitopen_and_permitlisten_accumulate_typed_targets() {
    let o = parse(
        r#"permitopen="db:5432",permitopen="[::1]:*",permitopen="h/22",permitlisten="8080",permitlisten="localhost:*",permitlisten="[fe80::1]:2222""#,
    );
    let t = |host: &str, port| PermitTarget {
        host: host.to_owned(),
        port,
    };
    assert_eq!(
        o.permit_open(),
        [
            t("db", PermitPort::Port(5432)),
            t("::1", PermitPort::Any),
            t("h", PermitPort::Port(22))
        ]
    );
    assert_eq!(
        o.permit_listen(),
        [
            t("*", PermitPort::Port(8080)),
            t("localhost", PermitPort::Any),
            t("fe80::1", PermitPort::Port(2222))
        ]
    );
}

#[test]
fn last_tunnel_wins() {
    assert_eq!(
        parse(r#"tunnel="1",tunnel="any""#).tunnel(),
        Some(Tunnel::Any)
    );
    assert!(matches!(
        KeyOptions::parse(r#"tunnel="x""#),
        Err(OptionsError::InvalidTunnel(_))
    ));
}

#[test]
fn fido_flags() {
    let o = parse("no-touch-required,verify-required");
    assert!(!o.touch_required() && o.verify_required());
    let o = parse("no-touch-required,touch-required,verify-required,no-verify-required");
    assert!(o.touch_required() && !o.verify_required());
}

#[test]
fn unknown_options_and_junk_are_refused() {
    for bad in [
        "bogus",
        "no-pty,bogus",
        "no-restrict",
        "no-cert-authority",
        "ptyx",
        "pty=\"x\"",
        "bogus=\"x\"",
        "command",
        "command=\"ls\"x",
        "no-pty\"x\"",
    ] {
        assert!(
            matches!(KeyOptions::parse(bad), Err(OptionsError::UnknownOption(_))),
            "{bad}"
        );
    }
}

#[test]
fn empty_options_and_a_trailing_comma_are_accepted_as_in_openssh() {
    assert!(!parse(",no-pty,,").pty_allowed());
}

#[test]
fn quoting_errors() {
    assert_eq!(
        KeyOptions::parse("command=ls"),
        Err(OptionsError::MissingStartQuote("command"))
    );
    assert_eq!(
        KeyOptions::parse("command=\"ls"),
        Err(OptionsError::MissingEndQuote("command"))
    );
    assert_eq!(
        KeyOptions::parse(r#"from="a\""#),
        Err(OptionsError::MissingEndQuote("from"))
    );
}

#[test]
fn single_valued_options_may_not_repeat() {
    for (field, name) in [
        (r#"command="a",command="b""#, "command"),
        (r#"from="a",from="b""#, "from"),
        (r#"principals="a",principals="b""#, "principals"),
    ] {
        assert_eq!(KeyOptions::parse(field), Err(OptionsError::Duplicate(name)));
    }
}

#[test]
fn split_options_ends_at_the_first_unquoted_blank() {
    assert_eq!(split_options("a,b c d"), Ok(("a,b", " c d")));
    assert_eq!(
        split_options("command=\"x y\"\tk"),
        Ok(("command=\"x y\"", "\tk"))
    );
    assert_eq!(
        split_options(r#"command="a \" b" k"#),
        Ok((r#"command="a \" b""#, " k"))
    );
    assert_eq!(split_options("abc"), Ok(("abc", "")));
    assert_eq!(
        split_options("command=\"x y k"),
        Err(OptionsError::UnterminatedQuote)
    );
    assert_eq!(
        split_options(r#"command="x \" k"#),
        Err(OptionsError::UnterminatedQuote)
    );
}

#[test]
fn error_text_is_bounded() {
    let long = format!("{},", "x".repeat(5000));
    match KeyOptions::parse(&long) {
        Err(OptionsError::UnknownOption(text)) => assert!(text.len() <= 64, "{}", text.len()),
        other => panic!("{other:?}"),
    }
}
