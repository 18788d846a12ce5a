//! `run --metrics`: a paced replay scraped as Prometheus would, over HTTP, parsed by a
//! real text-format parser. Counters only rise, and the last scrape (while the final
//! figures linger) agrees with the report.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Samples by metric name and sorted labels.
type Samples = BTreeMap<String, f64>;

fn scrape(url: &str) -> Samples {
    let body = ureq::get(url)
        .call()
        .expect("the endpoint answers")
        .body_mut()
        .read_to_string()
        .expect("a text body");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = Scrape::parse(lines).expect("the text format parses");
    assert!(!scrape.samples.is_empty(), "an empty scrape: {body}");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                other => panic!("{}: unexpected sample kind {other:?}", s.metric),
            };
            let mut labels: Vec<_> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            (format!("{}{{{}}}", s.metric, labels.join(",")), value)
        })
        .collect()
}

fn get(samples: &Samples, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {:#?}", samples.keys()))
}

#[test]
fn a_paced_replay_scraped_several_times_rises_and_ends_at_the_report() {
    let input = scratch("paced.itch");
    let json = scratch("paced.json");
    let generated = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "generate",
            "--out",
            input.to_str().unwrap(),
            "--messages",
            "60000",
        ])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--input", input.to_str().unwrap(), "--rate", "30000"])
        // Staged, so the shard runners produce into rings and every family the dashboard
        // queries is served (the fused-inline default has no ring after the feed's, which
        // the source runner fills and does not publish).
        .args(["--pipeline", "pipelines/staged.toml"])
        .args([
            "--metrics",
            "127.0.0.1:0",
            "--metrics-linger",
            "5",
            "--quiet",
        ])
        .args(["--report-json", json.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stderr lines, read on a thread so a scrape never waits on them.
    let (lines_tx, lines) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let started = Instant::now();
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the bound address");
        if let Some(at) = line.find("http://") {
            break line[at..].to_string();
        }
    };

    let mut scrapes = vec![scrape(&url)];
    let over = loop {
        std::thread::sleep(Duration::from_millis(150));
        scrapes.push(scrape(&url));
        match lines.try_recv() {
            Ok(line) if line.contains("run over") => break true,
            Ok(_) | Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => break false,
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run did not end"
        );
    };
    assert!(over, "the run ended without lingering");
    let last = scrape(&url);
    scrapes.push(last.clone());
    assert!(child.wait().unwrap().success());
    assert!(scrapes.len() >= 4, "only {} scrapes", scrapes.len());

    // Counters only rise, scrape after scrape.
    for pair in scrapes.windows(2) {
        for (key, before) in pair[0].iter().filter(|(k, _)| k.contains("_total")) {
            let after = get(&pair[1], key);
            assert!(after >= *before, "{key} fell from {before} to {after}");
        }
    }
    assert!(
        get(&scrapes[1], "tickpipe_messages_total{}") < get(&last, "tickpipe_messages_total{}"),
        "the run was scraped while under way"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = |v: &serde_json::Value| v.as_f64().unwrap();
    assert_eq!(
        get(&last, "tickpipe_messages_total{}"),
        n(&report["messages"])
    );
    for (metric, key) in [
        ("tickpipe_orders_total{}", "orders"),
        ("tickpipe_cancels_total{}", "cancels"),
        ("tickpipe_fills_total{}", "fills"),
        ("tickpipe_filled_shares_total{}", "filled_shares"),
        ("tickpipe_acks_total{}", "acks"),
        ("tickpipe_venue_rejects_total{}", "venue_rejects"),
        ("tickpipe_invalid_reports_total{}", "invalid_reports"),
    ] {
        assert_eq!(
            get(&last, metric),
            n(&report[key]),
            "{metric} against {key}"
        );
    }
    assert!(
        get(&last, "tickpipe_orders_total{}") > 0.0,
        "the session trades"
    );
    for (code, count) in report["rejections"].as_object().unwrap() {
        assert_eq!(
            get(&last, &format!("tickpipe_rejections_total{{code={code}}}")),
            n(count)
        );
    }
    for (stage, row) in report["latency_ns"].as_object().unwrap() {
        if stage == "tick_to_order" {
            let max = get(&last, "tickpipe_tick_to_order_seconds{quantile=1}");
            assert_eq!((max * 1e9).round(), n(&row["max"]));
            continue;
        }
        let events = get(
            &last,
            &format!("tickpipe_stage_events_total{{stage={stage}}}"),
        );
        assert_eq!(events, n(&row["count"]), "{stage} events");
        let p99 = format!(
            "tickpipe_stage_latency_seconds{{kind=since_receipt,quantile=0.99,stage={stage}}}"
        );
        assert_eq!(
            (get(&last, &p99) * 1e9).round(),
            n(&row["p99"]),
            "{stage} p99"
        );
    }
    for (symbol, row) in report["positions"].as_object().unwrap() {
        let position = get(
            &last,
            &format!("tickpipe_position_shares{{symbol={symbol}}}"),
        );
        assert_eq!(position, n(&row["position"]), "{symbol} position");
        let realised = get(
            &last,
            &format!("tickpipe_realised_pnl_dollars{{symbol={symbol}}}"),
        );
        let reported: f64 = row["realised"].as_str().unwrap().parse().unwrap();
        assert!(
            (realised - reported).abs() < 1e-6,
            "{symbol}: {realised} against {reported}"
        );
    }
    let nlv: f64 = report["nlv"].as_str().unwrap().parse().unwrap();
    assert!((get(&last, "tickpipe_nlv_dollars{}") - nlv).abs() < 1e-6);
    assert_eq!(get(&last, "tickpipe_trading_state{state=active}"), 1.0);

    // The Grafana dashboard queries only metrics the endpoint serves.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("config/grafana-dashboard.json").unwrap())
            .expect("the dashboard is valid JSON");
    let served: Vec<&str> = last.keys().map(|k| &k[..k.find('{').unwrap()]).collect();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("tickpipe_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    served.contains(&name.as_str()),
                    "the dashboard queries {name}, not served"
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 10, "the dashboard queries {queried} metrics");
}

#[test]
fn a_non_loopback_address_is_refused_without_metrics_public() {
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--metrics", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--metrics 0.0.0.0:0") && err.contains("--metrics-public"),
        "{err}"
    );
}
