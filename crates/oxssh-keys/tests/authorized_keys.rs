//! authorized_keys files with keys made by OpenSSH's ssh-keygen, of every type the
//! server accepts: plain lines, lines with options, CA lines, and bad lines that must
//! fail alone; plus a property test that no input makes the parser panic.
// Test helpers outside #[test] functions may fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use oxssh_keys::authorized_keys::{
    find_key, parse_file, parse_line, AuthorizedKeysError, OptionsError, PermitPort, MAX_LINE_LEN,
};
use oxssh_keys::PublicKey;
use proptest::prelude::*;
use std::fs;
use support::{generate, have_keygen, KINDS};

/// `(label, .pub line)` for a fresh key of every kind, made by ssh-keygen.
fn keygen_pub_lines(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    KINDS
        .iter()
        .map(|(label, kind)| {
            let path = generate(dir, label, kind, "", &format!("{label}@test"));
            let line = fs::read_to_string(path.with_extension("pub")).unwrap();
            (*label, line.trim_end().to_owned())
        })
        .collect()
}

#[test]
fn every_key_type_from_ssh_keygen_parses_with_and_without_options() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (label, pub_line) in keygen_pub_lines(dir.path()) {
        let (key, comment) = PublicKey::from_openssh_with_comment(&pub_line).unwrap();

        let plain = parse_line(&pub_line).unwrap().unwrap();
        assert_eq!(plain.key, key, "{label}");
        assert_eq!(plain.comment, comment, "{label}");
        assert!(plain.options.pty_allowed(), "{label}");

        let with_options = format!(
            r#"restrict,pty,command="echo \"a, b\"",from="10.0.0.0/8,*.example",environment="LANG=C" {pub_line}"#
        );
        let entry = parse_line(&with_options).unwrap().unwrap();
        assert_eq!(entry.key, key, "{label}");
        assert_eq!(entry.comment, comment, "{label}");
        assert!(entry.options.pty_allowed() && !entry.options.port_forwarding_allowed());
        assert_eq!(entry.options.forced_command(), Some(r#"echo "a, b""#));
        assert_eq!(entry.options.from_patterns(), Some("10.0.0.0/8,*.example"));
        assert_eq!(entry.options.environment(), ["LANG=C"]);
        assert!(entry.authorizes(&key), "{label}");

        let ca = parse_line(&format!("cert-authority,principals=\"alice\" {pub_line}"))
            .unwrap()
            .unwrap();
        assert!(
            !ca.authorizes(&key),
            "{label}: a CA line is not a plain key line"
        );
        assert!(ca.trusts_ca(&key), "{label}");
    }
}

#[test]
fn bad_lines_fail_alone_and_the_good_ones_still_match() {
    if !have_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen_pub_lines(dir.path());
    let ed = &keys[0].1;
    let rsa = &keys[4].1;
    let (ed_type, ed_data) = ed.split_once(' ').unwrap();
    let ed_data = ed_data.split(' ').next().unwrap();
    let text = [
        "# authorized_keys".to_owned(),
        String::new(),
        format!("command=\"unterminated {ed}"),
        format!("no-pty,bogus-option {ed}"),
        "no-pty,restrict".to_owned(),
        format!("{ed_type} {}", &ed_data[..ed_data.len() - 8]),
        format!("{ed_type} not*base64"),
        format!("{ed} {}", "x".repeat(MAX_LINE_LEN)),
        format!("cert-authority {ed}"),
        format!("permitopen=\"db:5432\",permitlisten=\"8022\",no-agent-forwarding {ed} good"),
        format!("  {rsa}"),
    ]
    .join("\n");
    let parsed: Vec<_> = parse_file(&text).collect();
    let lines: Vec<usize> = parsed.iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, (3..=11).collect::<Vec<_>>());
    let errors: Vec<_> = parsed
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (*n, e.clone())))
        .collect();
    assert_eq!(
        errors[0],
        (
            3,
            AuthorizedKeysError::Options(OptionsError::UnterminatedQuote)
        )
    );
    assert!(matches!(
        errors[1],
        (
            4,
            AuthorizedKeysError::Options(OptionsError::UnknownOption(_))
        )
    ));
    assert_eq!(errors[2], (5, AuthorizedKeysError::MissingKey));
    assert!(
        matches!(
            errors[3],
            (
                6,
                AuthorizedKeysError::BadBase64 | AuthorizedKeysError::InvalidKey(_)
            )
        ),
        "{:?}",
        errors[3]
    );
    assert_eq!(errors[4], (7, AuthorizedKeysError::BadBase64));
    assert_eq!(errors[5], (8, AuthorizedKeysError::LineTooLong));
    assert_eq!(errors.len(), 6);

    let entries: Vec<_> = parsed.into_iter().filter_map(|(_, r)| r.ok()).collect();
    assert_eq!(entries.len(), 3);
    let ed_key = PublicKey::from_openssh(ed).unwrap();
    let found = find_key(&entries, &ed_key).unwrap();
    assert_eq!(
        found.comment, "ed25519@test good",
        "the CA line before it must not match"
    );
    assert!(!found.options.agent_forwarding_allowed());
    assert_eq!(found.options.permit_open()[0].port, PermitPort::Port(5432));
    assert_eq!(found.options.permit_listen()[0].host, "*");
    let rsa_key = PublicKey::from_openssh(rsa).unwrap();
    assert!(find_key(&entries, &rsa_key).is_some());
}

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

/// Lines built from authorized_keys-like pieces, so the parser goes past the first byte.
fn authorized_keys_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("restrict".to_owned()),
        Just("no-pty".to_owned()),
        Just("pty".to_owned()),
        Just(",".to_owned()),
        Just("command=".to_owned()),
        Just("expiry-time=".to_owned()),
        Just("permitopen=".to_owned()),
        Just("permitlisten=".to_owned()),
        Just("environment=".to_owned()),
        Just("tunnel=".to_owned()),
        Just("\"".to_owned()),
        Just("\\\"".to_owned()),
        Just("[::1]:".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("#".to_owned()),
        Just(ED.to_owned()),
        Just("ssh-rsa AAAAB3NzaC1yc2E".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn random_bytes_never_panic_parse_line(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_line(&text);
        let _ = parse_file(&text).count();
    }

    #[test]
    fn structured_lines_never_panic(text in authorized_keys_text()) {
        let key = PublicKey::from_openssh(ED).unwrap();
        let entries: Vec<_> = parse_file(&text).filter_map(|(_, r)| r.ok()).collect();
        let _ = find_key(&entries, &key);
        for entry in &entries {
            let _ = entry.options.expires_at(i32::MAX);
            let _ = entry.options.expires_at(i32::MIN);
            let _ = entry.options.environment_vars().count();
        }
    }
}
