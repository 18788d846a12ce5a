//! Structured logs go to stderr, as text or one JSON object a line, filtered by
//! `--log-level` or RUST_LOG, and never into the report on stdout; no progress is drawn
//! when stderr is not a terminal (here it is a pipe), and it is on one (a pseudo-terminal
//! from util-linux's `script`), unless `--quiet`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn session() -> PathBuf {
    static SESSION: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SESSION
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("tickpipe-logs-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("small.itch");
            let o = tickpipe(
                &[
                    "generate",
                    "--out",
                    path.to_str().unwrap(),
                    "--messages",
                    "20000",
                ],
                None,
            );
            assert!(o.status.success());
            // A pipe is not a terminal: no spinner, only the line saying what was written.
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.lines().count(), 1, "{err:?}");
            assert!(err.starts_with("wrote ") && !err.contains('\r'), "{err:?}");
            path
        })
        .clone()
}

/// What the progress bar draws, and a pipe must never see: indicatif clears the line
/// before each redraw, and the bar's template counts messages (`app::progress`).
const BAR_MARKS: [&str; 2] = ["\u{1b}[2K", " messages  "];

fn assert_no_progress(err: &str) {
    for mark in BAR_MARKS {
        assert!(
            !err.contains(mark),
            "progress drawn on a pipe ({mark:?}): {err}"
        );
    }
    assert!(!err.contains('\r'), "a carriage return on a pipe: {err}");
}

fn tickpipe(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tickpipe"));
    c.args(args).env_remove("RUST_LOG");
    if let Some(filter) = rust_log {
        c.env("RUST_LOG", filter);
    }
    c.output().expect("the binary runs")
}

fn run(extra: &[&str], rust_log: Option<&str>) -> (String, String) {
    let input = session();
    let mut args = vec!["run", "--input", input.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = tickpipe(&args, rust_log);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn json_logs_are_one_object_a_line_on_stderr_and_stay_out_of_the_report() {
    let (out, err) = run(&["--log-format", "json"], None);
    let mut messages = Vec::new();
    for line in err.lines() {
        if line.starts_with("tickpipe: ") {
            continue; // the banner
        }
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
        messages.push(event["message"].as_str().unwrap().to_string());
    }
    for expected in [
        "run started",
        "topology",
        "drained: every ring emptied and every runner joined",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected:?} not in {messages:?}"
        );
    }
    assert!(out.starts_with("tickpipe run report"), "{out}");
    assert!(
        !out.contains("\"level\""),
        "a log line in the report: {out}"
    );
    assert_no_progress(&err);
}

#[test]
fn text_logs_follow_log_level_over_rust_log() {
    let (_, err) = run(&[], None);
    assert!(err.contains(" INFO run started input="), "{err}");
    assert_no_progress(&err);

    let (_, err) = run(&[], Some("warn"));
    assert!(!err.contains("INFO"), "RUST_LOG=warn is respected: {err}");

    let (_, err) = run(&["--log-level", "info"], Some("warn"));
    assert!(
        err.contains(" INFO run started"),
        "--log-level overrides RUST_LOG: {err}"
    );

    let (_, err) = run(&["--quiet"], None);
    assert!(
        err.is_empty(),
        "--quiet: warnings only, and there are none: {err}"
    );
}

#[test]
fn a_bad_log_level_is_an_error_naming_the_flag() {
    let input = session();
    let o = tickpipe(
        &[
            "run",
            "--input",
            input.to_str().unwrap(),
            "--log-level",
            "loud==",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--log-level"),
        "{o:?}"
    );
}

/// The positive control for the pipe tests: the same run with stderr on a
/// pseudo-terminal draws the bar, and `--quiet` still does not.
#[test]
fn progress_is_drawn_on_a_terminal_unless_quiet() {
    let input = session();
    let on_a_terminal = |extra: &str| {
        // `script` runs the command on a new pseudo-terminal and copies what it writes
        // there to its own stdout; the report goes to /dev/null, stderr to the terminal.
        let command = format!(
            "{} run --input {} --rate 20000 {extra} > /dev/null",
            env!("CARGO_BIN_EXE_tickpipe"),
            input.display()
        );
        let o = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_remove("RUST_LOG")
            .output()
            .expect("util-linux script runs the binary on a pseudo-terminal");
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let drawn = on_a_terminal("");
    for mark in BAR_MARKS {
        assert!(
            drawn.contains(mark),
            "no progress ({mark:?}) on a terminal: {drawn}"
        );
    }
    let quiet = on_a_terminal("--quiet");
    for mark in BAR_MARKS {
        assert!(!quiet.contains(mark), "progress with --quiet: {quiet}");
    }
}
