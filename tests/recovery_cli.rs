//! `tickpipe run --journal DIR` and `tickpipe journal verify` through the binary: a
//! session journaled, re-run (verified, nothing written, the same digest), verified by
//! the audit replay; a policy change resumes the same session, a changed decision key is
//! refused naming the header field (exit 2 for `run`, 1 for `verify`). A divergence is
//! tested engine-level (`tests/recovery.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("recovery-cli-{name}"));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    path
}

fn tickpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(dir: &Path, config: &str, report: &str) -> Output {
    let (session, journal) = (dir.join("s.itch"), dir.join("journal"));
    tickpipe(&[
        "run",
        "--input",
        session.to_str().unwrap(),
        "--config",
        config,
        "--journal",
        journal.to_str().unwrap(),
        "--quiet",
        "--report-json",
        dir.join(report).to_str().unwrap(),
    ])
}

fn json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn journal_run_rerun_verify_and_refusals() {
    let dir = scratch("session");
    let session = dir.join("s.itch");
    let out = tickpipe(&[
        "generate",
        "--out",
        session.to_str().unwrap(),
        "--messages",
        "40000",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(&dir, "config/tickpipe.toml", "first.json");
    assert!(out.status.success(), "{}", text(&out));
    let first = json(dir.join("first.json"));
    let journal = &first["journal"];
    assert_eq!(journal["policy"], "process");
    assert_eq!(journal["resumed"], false);
    let written: u64 = journal["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["records_written"].as_u64().unwrap())
        .sum();
    assert!(written > 100, "{journal}");

    // Only the policy changed: the same session, finished, so verified and left alone.
    let fsync = dir.join("fsync.toml");
    let shipped = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    std::fs::write(
        &fsync,
        shipped.replace("durability = \"process\"", "durability = \"fsync\""),
    )
    .unwrap();
    let out = run(&dir, fsync.to_str().unwrap(), "again.json");
    assert!(out.status.success(), "{}", text(&out));
    let again = json(dir.join("again.json"));
    assert_eq!(again["digest"], first["digest"]);
    assert_eq!(again["orders"], first["orders"]);
    assert_eq!(again["journal"]["finished_before"], true);
    for shard in again["journal"]["shards"].as_array().unwrap() {
        assert_eq!(shard["records_written"], 0, "{shard}");
    }

    let journal_dir = dir.join("journal");
    let verify = |config: &str| {
        tickpipe(&[
            "journal",
            "verify",
            journal_dir.to_str().unwrap(),
            "--input",
            session.to_str().unwrap(),
            "--config",
            config,
        ])
    };
    let out = verify("config/tickpipe.toml");
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("verified {written} of {written} records"))
            && said.contains("session finished")
            && said.contains(first["digest"].as_str().unwrap()),
        "{said}"
    );

    // A decision-affecting key changed: refused before the run, naming the field.
    let other = dir.join("other.toml");
    std::fs::write(
        &other,
        shipped.replace("latency_ns = 50000", "latency_ns = 60000"),
    )
    .unwrap();
    let out = run(&dir, other.to_str().unwrap(), "other.json");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("config_hash"), "{}", text(&out));
    let out = verify(other.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("config"), "{}", text(&out));

    // Bad arguments: exit 2.
    let out = tickpipe(&["journal", "verify", journal_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
