//! `tickpipe inspect` as a user runs it: output streams, exit status, and errors that
//! name the file and the byte offset.

use std::path::PathBuf;
use std::process::{Command, Output};

use tickpipe::feed::sample::{SampleSpec, generate};

/// A file in the target directory's temp space, named for the test.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .arg("inspect")
        .args(args)
        .output()
        .unwrap()
}

fn sample() -> Vec<u8> {
    generate(&SampleSpec {
        messages: 2_000,
        ..SampleSpec::default_session()
    })
}

#[test]
fn json_goes_to_stdout_and_a_clean_file_exits_zero() {
    let path = file("inspect-clean.itch", &sample());
    let out = inspect(&["--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["by_type", "messages", "symbols"]);
    assert_eq!(json["messages"], 2_000);
    let aapl = &json["symbols"]["AAPL"];
    assert_eq!(aapl["state"], "T");
    assert!(aapl["bid"][0].as_str().unwrap().contains('.'), "{aapl}");
}

#[test]
fn a_truncated_file_reports_its_offset_and_exits_one() {
    let bytes = sample();
    let cut = bytes.len() - 5;
    let path = file("inspect-truncated.itch", &bytes[..cut]);
    let out = inspect(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("1999 messages in "), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let last_frame = tickpipe::feed::itch::Framer::new(&bytes)
        .map(|f| f.unwrap().offset)
        .last()
        .unwrap();
    let expected = format!(
        "{}: offset {last_frame}: TRUNCATED_MESSAGE: ",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn an_unreadable_file_is_named_and_exits_two() {
    let out = inspect(&["/nonexistent/day.itch"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("/nonexistent/day.itch"), "{stderr}");
}

#[test]
fn an_empty_file_has_no_messages() {
    let path = file("inspect-empty.itch", &[]);
    let out = inspect(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("0 messages in 0 bytes")
    );
}
