use super::headers::glob_match;
use super::*;

#[test]
fn remote_commands_are_scps() {
    let f = Flags {
        recursive: true,
        preserve: true,
        ..Flags::default()
    };
    assert_eq!(remote_command(f, "-t", "dir", true), "scp -r -p -d -t dir");
    assert_eq!(
        remote_command(Flags::default(), "-f", "-odd", false),
        "scp -f -- -odd"
    );
    assert_eq!(
        remote_command(Flags::default(), "-t", "", false),
        "scp -t ."
    );
}

#[test]
fn the_sink_refuses_names_that_escape_or_were_not_asked_for() {
    for bad in ["..", ".", "", "a/b", "/etc"] {
        assert!(check_name(bad, None).is_err(), "{bad}");
    }
    assert!(check_name("f.txt", Some("*.txt")).is_ok());
    assert!(check_name(".bashrc", Some("f.txt")).is_err());
    assert!(check_name("f.txt", Some("f.txt")).is_ok());
    assert!(glob_match(b"a*b?c", b"axxbyc"));
    assert!(!glob_match(b"a*b", b"axxc"));
}

#[test]
fn control_lines_parse_and_bad_ones_stop() {
    assert_eq!(
        parse_entry("0644 12 a b")
            .map(|e| (e.0, e.1, e.2.to_owned()))
            .ok(),
        Some((0o644, 12, "a b".to_owned()))
    );
    assert!(parse_entry("644 12 a").is_err());
    assert!(parse_entry("0644 x a").is_err());
    assert!(parse_entry("0644").is_err());
    assert_eq!(parse_times("5 0 7 0").ok(), Some((5, 7)));
    assert!(parse_times("5 0").is_err());
}

#[tokio::test]
async fn a_hostile_source_cannot_write_outside_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let input: &[u8] = b"C0644 3 ../evil\nabc\0";
    let mut wire = Wire::new(input, Vec::new());
    let r = receive(&mut wire, Flags::default(), dir.path(), None).await;
    assert!(matches!(r, Err(Stop::Fatal(m)) if m.contains("unexpected filename")));
    assert!(!dir.path().parent().unwrap().join("evil").exists());
    // Times past what the system can hold are ignored, not a panic.
    let input: &[u8] = b"T18446744073709551615 0 18446744073709551615 0\nC0644 1 f\nx\0";
    let mut wire = Wire::new(input, Vec::new());
    let p = Flags {
        preserve: true,
        ..Flags::default()
    };
    assert!(receive(&mut wire, p, dir.path(), None).await.is_ok());
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"x");
    // An endless line is refused, not buffered.
    let long = vec![b'C'; MAX_LINE + 10];
    let mut wire = Wire::new(&long[..], Vec::new());
    assert!(receive(&mut wire, Flags::default(), dir.path(), None)
        .await
        .is_err());
}
