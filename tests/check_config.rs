//! `tickpipe check-config`: exit 0 with the settings in effect for valid files; exit 2
//! with every problem, each naming its key, otherwise.

use std::path::PathBuf;
use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .arg("check-config")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_bundled_files_are_valid_and_their_settings_print() {
    let o = check(&["--pipeline", "pipelines/staged.toml", "--shards", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for expected in [
        "config config/tickpipe.toml: valid",
        "AAPL",
        "max_notional",
        "pipeline pipelines/staged.toml: valid",
        "shards       2",
        "runner risk",
        "ring feed",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

#[test]
fn every_bad_key_is_named_and_the_exit_status_is_2() {
    let good = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let bad = good
        .replacen("max_levels = 1024", "max_levels = 0", 1)
        .replacen("max_orders = 16384", "max_orders = 0", 1);
    assert_ne!(
        bad, good,
        "the bundled config has the lines this test edits"
    );
    let path = scratch("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let o = check(&["--config", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no settings for an invalid config");
    let err = text(&o.stderr);
    assert!(err.contains("features.max_orders: 0"), "{err}");
    assert!(err.contains("features.max_levels: 0"), "{err}");
    assert!(
        err.contains("not checked"),
        "the topology is said to be unchecked: {err}"
    );
}

#[test]
fn an_unknown_key_is_named() {
    let good = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let path = scratch("unknown.toml");
    std::fs::write(
        &path,
        good.replacen("[features]", "[features]\nsurprise = 1", 1),
    )
    .unwrap();
    let o = check(&["--config", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("surprise"), "{}", text(&o.stderr));
}

#[test]
fn a_topology_this_host_cannot_run_names_each_core() {
    let o = check(&["--pipeline", "pipelines/pinned.toml", "--shards", "2"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("source.core") && err.contains("does not exist on this host"),
        "{err}"
    );
    assert!(err.contains("runner[0].cores"), "{err}");
}
