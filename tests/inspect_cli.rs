//! `tickpipe inspect` as a user runs it: output streams, exit status, and errors that
//! name the file and the byte offset.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tickpipe::tools::sample::{SampleSpec, generate};

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
    let last_frame = tickpipe::codec::itch::Framer::new(&bytes)
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
fn an_empty_file_or_pipe_is_refused_with_exit_two_as_run_does() {
    let path = file("inspect-empty.itch", &[]);
    let out = inspect(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("empty"), "{stderr}");

    let out = inspect_stdin(&["/dev/stdin"], Stdio::null(), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8(out.stderr).unwrap().contains("empty"));
}

/// `tickpipe inspect ARGS` with `input` written to its stdin (a pipe) when `stdin` is
/// piped.
fn inspect_stdin(args: &[&str], stdin: Stdio, input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .arg("inspect")
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut pipe) = child.stdin.take() {
        let input = input.to_vec();
        // A writer thread: the pipe holds 64 KiB, the input more.
        std::thread::spawn(move || pipe.write_all(&input).unwrap());
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_pipe_is_inspected_like_the_file_it_carries() {
    let bytes = sample();
    let path = file("inspect-piped.itch", &bytes);
    let from_file = inspect(&["--json", path.to_str().unwrap()]);
    let piped = inspect_stdin(&["--json", "/dev/stdin"], Stdio::piped(), &bytes);
    assert_eq!(piped.status.code(), Some(0), "{piped:?}");
    assert_eq!(piped.stdout, from_file.stdout);
    let json: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(json["messages"], 2_000);
    // A redirected file is seekable and streams; it reads the same.
    let redirected = inspect_stdin(
        &["--json", "/dev/stdin"],
        Stdio::from(std::fs::File::open(&path).unwrap()),
        &[],
    );
    assert_eq!(redirected.stdout, from_file.stdout);
}

#[test]
fn a_corrupted_length_prefix_is_a_desync_with_its_skipped_bytes() {
    let mut bytes = sample();
    let offsets: Vec<u64> = tickpipe::codec::itch::Framer::new(&bytes)
        .map(|f| f.unwrap().offset)
        .collect();
    let (at, next) = (offsets[1000], offsets[1001]);
    bytes[at as usize] = 0x7f;
    let path = file("inspect-desync.itch", &bytes);
    let out = inspect(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first_line = format!(
        "1999 messages in {} bytes ({} skipped where the framing was lost)\n",
        bytes.len(),
        next - at
    );
    assert!(stdout.starts_with(&first_line), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "offset {at}: DESYNC: length prefix does not match its message type; {} bytes skipped",
        next - at
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
