//! The binary as a user meets it: the README's main command, the JSON report's keys,
//! and a clear error — naming the key, path, core or byte offset — for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

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
