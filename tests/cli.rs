//! The binary as a user meets it: the README's main command, the JSON report's keys,
//! and a clear error — naming the key, path, core or byte offset — for bad input.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn tickpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A small session written with `tickpipe generate`, once: tests run in parallel, and
/// a second writer would truncate the file under a test that is reading it.
fn small_session() -> PathBuf {
    static SESSION: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SESSION
        .get_or_init(|| {
            let path = scratch("small.itch");
            let o = tickpipe(&[
                "generate",
                "--out",
                path.to_str().unwrap(),
                "--messages",
                "60000",
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            path
        })
        .clone()
}
#[test]
fn run_prints_a_report_and_writes_every_documented_json_key() {
    let json = scratch("report.json");
    let input = small_session();
    let o = tickpipe(&[
        "run",
        "--quiet",
        "--input",
        input.to_str().unwrap(),
        "--report-json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for section in [
        "messages",
        "orders",
        "rejections",
        "positions",
        "P&L",
        "latency",
        "digest",
        "status         ok",
    ] {
        assert!(
            text.contains(section),
            "the report lacks {section:?}:\n{text}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in [
        "messages",
        "by_type",
        "orders",
        "fills",
        "rejections",
        "digest",
        "positions",
        "pnl",
        "nlv",
        "latency_ns",
    ] {
        assert!(report.get(key).is_some(), "JSON lacks {key}");
    }
    assert_eq!(
        report["messages"].as_u64(),
        Some(60_000),
        "every framed message counts"
    );
    let t2o = &report["latency_ns"]["tick_to_order"];
    for key in ["p50", "p90", "p99", "p999", "p9999", "max", "count"] {
        assert!(
            t2o[key].is_u64(),
            "latency_ns.tick_to_order.{key} missing: {t2o}"
        );
    }
    assert_eq!(report["digest"].as_str().map(str::len), Some(16));
}

#[test]
fn the_same_input_gives_the_same_digest_from_the_command_line() {
    let input = small_session();
    let digest = |pipeline: &str| {
        let json = scratch(&format!("digest-{}.json", pipeline.replace('/', "_")));
        let o = tickpipe(&[
            "run",
            "--quiet",
            "--pipeline",
            pipeline,
            "--shards",
            "2",
            "--input",
            input.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    assert_eq!(
        digest("pipelines/fused.toml"),
        digest("pipelines/staged.toml")
    );
}

#[test]
fn a_bad_config_lists_every_bad_key_and_exits_2() {
    let good = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let bad = good
        .replace("max_position = 1000", "max_position = 0")
        .replace("latency_ns = 50000", "latency_ns = 0")
        .replace("[venue]", "[venue]\nspeed = 3");
    let path = scratch("bad-config.toml");
    std::fs::write(&path, bad.replace("\nspeed = 3", "")).unwrap();
    let o = tickpipe(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("risk.max_position") && err.contains("venue.latency_ns"),
        "{err}"
    );

    std::fs::write(&path, &bad).unwrap();
    let err = stderr(&tickpipe(&["run", "--config", path.to_str().unwrap()]));
    assert!(err.contains("unknown field `speed`"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    for args in [
        ["run", "--input", "no/such.itch"].as_slice(),
        ["run", "--config", "no/such.toml"].as_slice(),
        ["run", "--pipeline", "no/such.toml"].as_slice(),
    ] {
        let o = tickpipe(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("no/such"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_core_this_host_lacks_is_a_start_up_error_naming_it() {
    let o = tickpipe(&["run", "--pipeline", "pipelines/pinned.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("does not exist on this host"), "{err}");
}

#[test]
fn a_truncated_file_fails_with_the_byte_offset_after_replaying_what_came_before() {
    let input = small_session();
    let bytes = std::fs::read(&input).unwrap();
    let cut = bytes.len() - 7;
    let path = scratch("truncated.itch");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let o = tickpipe(&["run", "--quiet", "--input", path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed run exits 1 with its report"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("FAILED") && out.contains("offset"), "{out}");
    assert!(out.contains("stage 'source'"), "{out}");
}

#[test]
fn an_empty_file_is_refused() {
    let path = scratch("empty.itch");
    std::fs::write(&path, b"").unwrap();
    let o = tickpipe(&["run", "--input", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
}

#[test]
fn help_explains_every_command_and_flag() {
    let top = tickpipe(&["--help"]);
    let top = String::from_utf8_lossy(&top.stdout);
    for (command, flags) in [
        (
            "run",
            &[
                "--pipeline",
                "--shards",
                "--input",
                "--live",
                "--rate",
                "--config",
                "--report-json",
                "--quiet",
            ][..],
        ),
        ("generate", &["--out", "--messages", "--seed"][..]),
        ("inspect", &["--json"][..]),
        (
            "feed-server",
            &[
                "--dest",
                "--rate",
                "--drop-every",
                "--drop-random",
                "--seed",
                "--retransmit-window",
            ][..],
        ),
    ] {
        assert!(top.contains(command), "--help lacks {command}");
        let o = tickpipe(&[command, "--help"]);
        assert!(o.status.success(), "{command} --help");
        let help = String::from_utf8_lossy(&o.stdout);
        for flag in flags {
            assert!(help.contains(flag), "{command} --help lacks {flag}");
        }
    }
}

/// The shipped config with `edit` applied, written where `run --config` can read it.
fn config_with(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let path = scratch(name);
    std::fs::write(
        &path,
        edit(std::fs::read_to_string("config/tickpipe.toml").unwrap()),
    )
    .unwrap();
    path
}

#[test]
fn a_full_disk_on_stdout_is_an_error_with_exit_status_3_not_a_panic() {
    let input = small_session();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--quiet", "--input", input.to_str().unwrap()])
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("writing the report to stdout") && err.contains("No space left"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_full_disk_on_stderr_does_not_stop_the_run() {
    let input = small_session();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    // Not --quiet: the banner goes to stderr.
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--input", input.to_str().unwrap()])
        .stderr(Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("status         ok"));
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_run_quietly() {
    let input = small_session();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--quiet", "--input", input.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -c 0`: the reader goes away before the report is written.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn a_report_json_path_that_cannot_be_written_fails_before_the_run_starts() {
    let input = small_session();
    let json = scratch("no-such-dir").join("report.json");
    // Not --quiet: the banner that follows a successful start must not appear.
    let o = tickpipe(&[
        "run",
        "--input",
        input.to_str().unwrap(),
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no-such-dir") && err.contains("JSON report"),
        "{err}"
    );
    assert!(!err.contains("tickpipe: "), "the pipeline started: {err}");
    assert!(o.stdout.is_empty(), "a report was printed");
}

#[test]
fn two_runs_writing_one_report_file_leave_one_whole_report() {
    let input = small_session();
    let json = scratch("shared-dir").join("shared.json");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_tickpipe"))
            .args(["run", "--quiet", "--input", input.to_str().unwrap()])
            .args(["--report-json", json.to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["messages"].as_u64(), Some(60_000));
    let left: Vec<_> = std::fs::read_dir(json.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["shared.json"], "no temporary file is left behind");
}

#[test]
fn replay_rates_outside_the_range_are_refused_naming_the_flag() {
    for rate in ["1e-300", "0.5", "0", "-5", "inf", "nan", "2e9"] {
        let o = tickpipe(&["run", &format!("--rate={rate}")]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{rate}: {err}");
        assert!(
            err.contains("--rate") && err.contains("from 1 to 1e9"),
            "{rate}: {err}"
        );
    }
}

#[test]
fn too_many_shards_is_one_line_naming_the_flag() {
    for shards in ["1000", "0"] {
        let o = tickpipe(&["run", "--shards", shards]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("1 invalid value(s)"), "{err}");
        assert!(
            err.contains("--shards: ") && err.contains("use 1 to 8"),
            "{err}"
        );
    }
}

#[test]
fn generate_refuses_a_session_too_large_to_build_in_memory() {
    let out = scratch("huge.itch");
    let o = tickpipe(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--messages",
        "1000000000",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--messages") && err.contains("at most 100000000"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn hostile_config_values_are_named_by_key_before_anything_runs() {
    let path = config_with("hostile.toml", |c| {
        c.replace("\"AMD\"]", "\"amd\"]")
            .replace("max_orders = 16384", "max_orders = 1000000000000000")
            .replace("max_levels = 1024", "max_levels = 4000000000")
            .replace(
                "starting_cash = \"1000000.00\"",
                "starting_cash = \"922337203685477\"",
            )
            .replace("target_qty = 100", "target_qty = 600")
    });
    let o = tickpipe(&["run", "--config", path.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for key in [
        "symbols.tickers: ticker \"amd\"",
        "features.max_orders: 1000000000000000: use 1 to 16777216",
        "features.max_levels: 4000000000: use 1 to 16384",
        "risk.starting_cash: 922337203685477.0000: use 0 to",
        "risk.max_order_qty: 500 is below model.target_qty (600)",
    ] {
        assert!(err.contains(key), "missing {key:?} in {err}");
    }
    assert!(!err.contains("memory allocation"), "{err}");
}

#[test]
fn control_bytes_from_the_input_are_escaped_in_the_text_report() {
    // A valid session followed by a message of type 0x07 (BEL), which is skipped.
    let mut bytes = std::fs::read(small_session()).unwrap();
    bytes.extend_from_slice(&[0, 3, 0x07, 0x1b, b'[']);
    let path = scratch("bell.itch");
    std::fs::write(&path, &bytes).unwrap();
    let o = tickpipe(&["run", "--quiet", "--input", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        !out.bytes().any(|b| b.is_ascii_control() && b != b'\n'),
        "{out}"
    );
    assert!(
        out.contains("\\x07 1"),
        "the type byte is shown escaped: {out}"
    );
}

#[test]
fn inspect_on_a_full_disk_is_an_error_with_exit_status_3_not_a_panic() {
    let input = small_session();
    for full_stream in ["stdout", "stderr"] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickpipe"));
        cmd.args(["inspect", input.to_str().unwrap()]);
        if full_stream == "stdout" {
            cmd.stdout(Stdio::from(full));
        } else {
            cmd.stderr(Stdio::from(full));
        }
        let o = cmd.output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{full_stream}: {err}");
        if full_stream == "stdout" {
            assert_eq!(o.status.code(), Some(3), "{err}");
            assert!(err.contains("No space left"), "{err}");
        } else {
            // Nothing to say on stderr for a clean file, and the summary is on stdout.
            assert_eq!(o.status.code(), Some(0));
            assert!(String::from_utf8_lossy(&o.stdout).contains("messages"));
        }
    }
}

#[test]
fn feed_server_refuses_a_sample_too_large_to_build_in_memory() {
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "feed-server",
            "--dest",
            "127.0.0.1:9",
            "--messages",
            "1000000000",
        ])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--messages") && err.contains("at most 100000000"),
        "{err}"
    );
}
