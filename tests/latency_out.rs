//! `run --latency-out DIR`: every histogram the report summarises comes back from its
//! `.hlog`, read with hdrhistogram's own interval-log reader, with the report's counts;
//! the plot is an SVG; a directory that cannot be made fails before the run.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-latency-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every interval of the log at `path`, decoded.
fn read_hlog(path: &PathBuf) -> Vec<(Option<String>, Histogram<u64>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(interval) = entry.expect("a well-formed log") {
            let encoded = base64::engine::general_purpose::STANDARD
                .decode(interval.encoded_histogram())
                .expect("base64");
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut encoded.as_slice())
                .expect("a V2 histogram");
            out.push((interval.tag().map(|t| t.as_str().to_string()), h));
        }
    }
    out
}

#[test]
fn every_histogram_reads_back_with_the_reports_counts() {
    let input = scratch("session.itch");
    let json = scratch("report.json");
    let dir = scratch("latency");
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "generate",
            "--out",
            input.to_str().unwrap(),
            "--messages",
            "30000",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "run",
            "--input",
            input.to_str().unwrap(),
            "--rate",
            "50000",
            "--quiet",
        ])
        .args(["--report-json", json.to_str().unwrap()])
        .args(["--latency-out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["latency_ns"].as_object().unwrap();
    assert_eq!(rows.len(), 6, "five stages and tick-to-order");
    for (name, row) in rows {
        let intervals = read_hlog(&dir.join(format!("{name}.hlog")));
        assert_eq!(intervals.len(), 1, "{name}: one interval, the whole run");
        let (tag, h) = &intervals[0];
        assert_eq!(tag.as_deref(), Some(name.as_str()));
        assert_eq!(h.len(), row["count"].as_u64().unwrap(), "{name} count");
        assert!(!h.is_empty(), "{name}: the run recorded latencies");
        assert_eq!(h.max(), row["max"].as_u64().unwrap(), "{name} max");
        assert_eq!(
            h.value_at_quantile(0.99),
            row["p99"].as_u64().unwrap(),
            "{name} p99"
        );
    }
    let service = report["service_ns"].as_object().unwrap();
    assert_eq!(service.len(), 5, "five stages");
    // Service time is sampled: the .hlog holds the samples, the report's count every
    // event. Decode heads the one fused chain, so its samples are exactly 1 in `every`.
    let every = report["service_sampled_every"].as_u64().unwrap();
    for (stage, row) in service {
        let name = format!("{stage}.service");
        let intervals = read_hlog(&dir.join(format!("{name}.hlog")));
        let (tag, h) = &intervals[0];
        assert_eq!(tag.as_deref(), Some(name.as_str()));
        let count = row["count"].as_u64().unwrap();
        assert_eq!(
            count,
            rows[stage.as_str()]["count"].as_u64().unwrap(),
            "{name}: every event counted"
        );
        assert!(
            h.len() <= count && !h.is_empty(),
            "{name}: {} samples of {count}",
            h.len()
        );
        if stage == "decode" {
            assert_eq!(h.len(), count.div_ceil(every), "{name} samples");
        }
        assert_eq!(h.max(), row["max"].as_u64().unwrap(), "{name} max");
    }
    let svg = std::fs::read_to_string(dir.join("latency.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("tick_to_order"),
        "{}",
        &svg[..200.min(svg.len())]
    );
}

#[test]
fn a_directory_that_cannot_be_made_fails_before_the_run() {
    let blocker = scratch("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "run",
            "--quiet",
            "--latency-out",
            blocker.join("sub").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no run, no report");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--latency-out"), "{err}");
}
