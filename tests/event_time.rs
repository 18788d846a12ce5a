//! Hostile timestamps: a feed whose ITCH timestamps go back, repeat, jump far ahead or
//! name no time of day still runs to the end of the session through the whole pipeline,
//! every such message is counted at the source, and the decisions stay the same whatever
//! the topology or shard count, because event time is decided once, at the source.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use tickpipe::codec::itch::{Framer, MAX_TIMESTAMP, PREFIX_LEN};
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::runtime::report::RunReport;
use tickpipe::source::event_clock::DAY_NS;
use tickpipe::source::replay::Input;
use tickpipe::tools::sample::{SampleSpec, generate};

/// Enough of the sample for the strategy to trade, small enough for many debug runs.
const MESSAGES: u64 = 40_000;

/// Where the 6-byte timestamp sits in a framed message: after the length prefix, the
/// type byte, the locate and the tracking number.
const TS_AT: usize = PREFIX_LEN + 5;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-event-time-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn sample(messages: u64) -> Vec<u8> {
    generate(&SampleSpec {
        messages,
        ..SampleSpec::default_session()
    })
}

/// Byte offset of every frame's length prefix.
fn offsets(bytes: &[u8]) -> Vec<usize> {
    Framer::new(bytes)
        .map(|f| f.expect("the sample frames cleanly").offset as usize)
        .collect()
}

fn timestamp(bytes: &[u8], offset: usize) -> u64 {
    let at = offset + TS_AT;
    bytes[at..at + 6]
        .iter()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

fn set_timestamp(bytes: &mut [u8], offset: usize, ts: u64) {
    bytes[offset + TS_AT..offset + TS_AT + 6].copy_from_slice(&ts.to_be_bytes()[2..]);
}

/// What the source must count for these timestamps, worked out from the rule as the
/// README states it: event time is the running maximum of the valid (< 24 h) ones.
fn expected_counts(timestamps: &[u64]) -> (u64, u64, u64) {
    let (mut high_water, mut regressions, mut max_by, mut bad) = (0, 0, 0, 0);
    for &ts in timestamps {
        if ts >= DAY_NS {
            bad += 1;
        } else if ts < high_water {
            regressions += 1;
            max_by = u64::max(max_by, high_water - ts);
        } else {
            high_water = ts;
        }
    }
    (regressions, max_by, bad)
}

fn run_file(path: &Path, topology: &str, shards: usize) -> RunReport {
    let mut spec = common::spec(topology, shards, MESSAGES);
    spec.input = Input::File(path.to_path_buf());
    Pipeline::start(spec).expect("pipeline starts").join()
}

/// One way to corrupt the timestamps of a run of messages.
#[derive(Clone, Debug)]
enum Edit {
    /// `run` messages from `at` stamped `by` earlier than they were.
    Back { at: usize, run: usize, by: u64 },
    /// `run` messages from `at` stamped the same as the message at `at`.
    Equal { at: usize, run: usize },
    /// The message at `at` stamped at or past 24 h.
    Impossible { at: usize, ts: u64 },
    /// The message at `at` stamped far ahead, up to the last nanosecond of the day;
    /// what follows is then behind it.
    Jump { at: usize, ts: u64 },
}

fn edit(len: usize) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..len, 1..200usize, 1..40_000_000_000u64).prop_map(|(at, run, by)| Edit::Back {
            at,
            run,
            by
        }),
        (0..len, 1..200usize).prop_map(|(at, run)| Edit::Equal { at, run }),
        (0..len, DAY_NS..=MAX_TIMESTAMP).prop_map(|(at, ts)| Edit::Impossible { at, ts }),
        (0..len, 34_200_000_000_000..DAY_NS).prop_map(|(at, ts)| Edit::Jump { at, ts }),
    ]
}

fn apply(timestamps: &mut [u64], edit: &Edit) {
    let len = timestamps.len();
    match *edit {
        Edit::Back { at, run, by } => {
            for ts in &mut timestamps[at..(at + run).min(len)] {
                *ts = ts.saturating_sub(by);
            }
        }
        Edit::Equal { at, run } => {
            let first = timestamps[at];
            for ts in &mut timestamps[at..(at + run).min(len)] {
                *ts = first;
            }
        }
        Edit::Impossible { at, ts } | Edit::Jump { at, ts } => timestamps[at] = ts,
    }
}

proptest! {
    // Each case runs the whole pipeline four times; a few cases cover the edit kinds.
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_timestamps_run_to_the_end_with_the_same_decisions_everywhere(
        edits in prop::collection::vec(edit(MESSAGES as usize), 1..12),
    ) {
        let mut bytes = sample(MESSAGES);
        let at = offsets(&bytes);
        let mut timestamps: Vec<u64> = at.iter().map(|&o| timestamp(&bytes, o)).collect();
        for e in &edits {
            apply(&mut timestamps, e);
        }
        for (&offset, &ts) in at.iter().zip(&timestamps) {
            set_timestamp(&mut bytes, offset, ts);
        }
        let path = scratch("hostile.itch");
        std::fs::write(&path, &bytes).unwrap();
        let (regressions, max_by, bad) = expected_counts(&timestamps);

        let mut digests = Vec::new();
        for (topology, shards) in [
            ("pipelines/fused.toml", 1),
            ("pipelines/fused.toml", 2),
            ("pipelines/staged.toml", 1),
            ("pipelines/staged.toml", 2),
        ] {
            let r = run_file(&path, topology, shards);
            let name = format!("{topology} ×{shards}");
            prop_assert!(r.failures.is_empty(), "{}: {:?}", name, r.failures);
            prop_assert_eq!(r.source.messages, MESSAGES, "{}", name);
            prop_assert!(!r.source.stopped_early, "{}", name);
            prop_assert_eq!(r.source.time_regressions.count, regressions, "{}", name);
            prop_assert_eq!(r.source.max_time_regression_ns, max_by, "{}", name);
            prop_assert_eq!(r.source.bad_timestamps.count, bad, "{}", name);
            prop_assert_eq!(r.shard.risk.time_regressions, 0, "{}: risk saw time go back", name);
            prop_assert_eq!(r.venue.stats.time_regressions, 0, "{}: the venue saw time go back", name);
            prop_assert_eq!(r.shard.risk.orders_open_at_end, 0, "{}", name);
            digests.push((name, r.digest()));
        }
        let base = digests[0].1;
        for (name, digest) in &digests {
            prop_assert_eq!(*digest, base, "{} decided differently from fused ×1", name);
        }
    }
}

/// The tester's input: 100 messages of the sample, then one `A` stamped 1 ns after
/// midnight, then the rest of the session.
#[test]
fn one_add_order_stamped_1_ns_after_100_messages_is_counted_not_fatal() {
    let bytes = sample(MESSAGES);
    let at = offsets(&bytes);
    let add = (100..at.len())
        .find(|&i| bytes[at[i] + PREFIX_LEN] == b'A')
        .expect("the sample adds orders");
    let frame = |i: usize| at[i]..at.get(i + 1).copied().unwrap_or(bytes.len());
    let mut moved = bytes[frame(add)].to_vec();
    set_timestamp(&mut moved, 0, 1);
    let mut hostile = bytes[..at[100]].to_vec();
    hostile.extend_from_slice(&moved);
    hostile.extend_from_slice(&bytes[at[100]..at[add]]);
    hostile.extend_from_slice(&bytes[frame(add).end..]);
    assert_eq!(hostile.len(), bytes.len());
    let path = scratch("one-add-at-1ns.itch");
    std::fs::write(&path, &hostile).unwrap();
    let high_water = timestamp(&bytes, at[99]);

    let json = scratch("one-add-at-1ns.json");
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--quiet", "--input"])
        .arg(&path)
        .arg("--report-json")
        .arg(&json)
        .output()
        .expect("the binary runs");
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let t = &report["time_regressions"];
    assert_eq!(t["count"], 1, "{t}");
    assert_eq!(t["max_ns"], high_water - 1, "{t}");
    assert_eq!(
        t["samples"][0],
        serde_json::json!({
            "offset": at[100],
            "timestamp_ns": 1,
            "stamped_ns": high_water,
        })
    );
    assert_eq!((&t["risk"], &t["venue"]), (&0.into(), &0.into()), "{t}");
    assert_eq!(report["bad_timestamps"]["count"], 0);
    assert_eq!(report["failures"], serde_json::json!([]));
    assert!(
        report["fills"].as_u64() > Some(0),
        "the venue was exercised"
    );

    // `inspect` no longer calls such a file clean.
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .arg("inspect")
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("offset {}: TIME_REGRESSION", at[100])),
        "{stderr}"
    );
}
