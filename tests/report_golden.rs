//! The JSON report of a small fixed run, key for key and value for value, against the
//! copy in `tests/golden/report.json`. README documents these keys, so any change to
//! how the report is built or rendered must leave this file as it is.
//!
//! The run is `run_inline` (source, stages and venue on one thread), so every counter,
//! ring figure and decision is deterministic; only wall-clock figures are not, and
//! those (`elapsed_s`, `throughput.messages_per_s`, `compute_ns_per_message`, the
//! latency, service-time and watermark-wait percentiles) are blanked before comparing.
//! Their counts stay: they are message counts. A report key added on purpose: copy the
//! dump this test writes on a mismatch over the golden file, and document the key.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tickpipe::app::report::json;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::inline_run::run_inline;
use tickpipe::tools::sample::{SampleSpec, generate};

const GOLDEN: &str = "tests/golden/report.json";

/// 30 000 messages of the default session (orders, fills, rejections, every type),
/// with a message of an unknown type spliced in so the skip counters and samples are
/// filled too.
fn session() -> Vec<u8> {
    let mut bytes = generate(&SampleSpec {
        messages: 30_000,
        ..SampleSpec::default_session()
    });
    let mut cut = 0;
    for _ in 0..15_000 {
        cut += 2 + usize::from(u16::from_be_bytes([bytes[cut], bytes[cut + 1]]));
    }
    bytes.splice(cut..cut, [0, 3, b'z', 0, 0]);
    bytes
}

fn report() -> Value {
    let (config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    let report = run_inline(&session(), &config, Arc::new(universe));
    let mut v = json(&report);
    v["elapsed_s"] = Value::Null;
    v["throughput"]["messages_per_s"] = Value::Null;
    v["compute_ns_per_message"] = Value::Null;
    for table in ["latency_ns", "service_ns"] {
        for (_, row) in v[table].as_object_mut().expect(table).iter_mut() {
            blank_timings(row);
        }
    }
    blank_timings(&mut v["watermarks"]["wait_ns"]);
    v
}

/// Blanks every field of a percentile row but its count.
fn blank_timings(row: &mut Value) {
    for (key, field) in row.as_object_mut().expect("a percentile row").iter_mut() {
        if key != "count" {
            *field = Value::Null;
        }
    }
}

#[test]
fn the_json_report_of_a_fixed_run_is_unchanged() {
    let actual = report();
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(GOLDEN).expect("the golden report is committed"),
    )
    .expect("the golden report is JSON");
    if actual != golden {
        let dump = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.json");
        std::fs::write(&dump, serde_json::to_string_pretty(&actual).unwrap()).unwrap();
        panic!(
            "the JSON report differs from {GOLDEN}; this run's is in {} (diff them)",
            dump.display()
        );
    }
}
