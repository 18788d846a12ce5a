//! `run --metrics`: a paced replay, and live feeds with packets dropped, scraped as
//! Prometheus would, over HTTP, parsed by a real text-format parser. Counters only rise,
//! and the last scrape (while the final figures linger) agrees with the report.

mod common;
mod coordinator_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use tickpipe::app::metrics::MetricsServer;
use tickpipe::app::report as render;
use tickpipe::codec::mold::Session;
use tickpipe::msg::TradingStatus;
use tickpipe::runtime::builder::Engine;
use tickpipe::source::live::{FeedEnd, Receive};
use tickpipe::source::replay::Input;
use tickpipe::sys::StopSignal;
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::tools::server::{DropPolicy, FeedServer, SendRate};

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

/// Counters only rise, scrape after scrape.
fn assert_counters_rise(scrapes: &[Samples]) {
    for pair in scrapes.windows(2) {
        for (key, before) in pair[0].iter().filter(|(k, _)| k.contains("_total")) {
            let after = get(&pair[1], key);
            assert!(after >= *before, "{key} fell from {before} to {after}");
        }
    }
}

/// Every ring of the report is served, with its counters and a gauge of its occupancy
/// (as its producer last saw it: a producer's last publication comes before its
/// consumer drains the ring), and no other ring is.
fn assert_rings_agree(last: &Samples, report: &serde_json::Value) {
    let rings = report["rings"].as_array().unwrap();
    for ring in rings {
        let name = ring["name"].as_str().unwrap();
        for (metric, key) in [
            ("tickpipe_ring_pushed_total", "pushed"),
            ("tickpipe_ring_full_total", "full"),
            ("tickpipe_ring_capacity_slots", "capacity"),
        ] {
            assert_eq!(
                get(last, &format!("{metric}{{ring={name}}}")),
                ring[key].as_f64().unwrap(),
                "{metric} of {name}"
            );
        }
        let used = get(
            last,
            &format!("tickpipe_ring_occupancy_slots{{ring={name}}}"),
        );
        assert!(
            used <= ring["capacity"].as_f64().unwrap(),
            "{name}: {used} slots in use"
        );
    }
    let served = last
        .keys()
        .filter(|k| k.starts_with("tickpipe_ring_pushed_total{"))
        .count();
    assert_eq!(served, rings.len(), "a ring served that the report lacks");
}

/// Each shard's journal rows against the report's, the lag included (the session's
/// last record is synced: nothing is left unsynced at the end).
fn assert_journal_agrees(last: &Samples, report: &serde_json::Value) {
    let shards = report["journal"]["shards"].as_array().unwrap();
    assert!(!shards.is_empty(), "the run kept a journal");
    for row in shards {
        let i = row["shard"].as_u64().unwrap();
        let at = |metric: &str| get(last, &format!("{metric}{{shard={i}}}"));
        let n = |key: &str| row[key].as_f64().unwrap();
        assert_eq!(at("tickpipe_journal_records_total"), n("records_written"));
        assert_eq!(
            at("tickpipe_journal_written_bytes_total"),
            n("bytes_written")
        );
        assert_eq!(
            at("tickpipe_journal_verified_records_total"),
            n("records_verified")
        );
        assert_eq!(at("tickpipe_journal_unsynced_records"), 0.0);
        assert!(n("bytes_written") > 0.0, "shard {i} journaled");
    }
}

/// The Grafana dashboard queries only metrics the endpoint serves; `absent` are the
/// prefixes of those this kind of run does not serve (a replay has no live feed, a run
/// without `--journal` no journal).
fn assert_dashboard_served(last: &Samples, absent: &[&str]) {
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
                if absent.iter().any(|prefix| name.starts_with(prefix)) {
                    continue;
                }
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
fn a_paced_replay_scraped_several_times_rises_and_ends_at_the_report() {
    let input = scratch("paced.itch");
    let json = scratch("paced.json");
    let journal = scratch("paced.journal");
    let _ = std::fs::remove_dir_all(&journal);
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
        .args(["--journal", journal.to_str().unwrap()])
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

    assert_counters_rise(&scrapes);
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
    // Every runner's heartbeat is served (the bundled config's watchdog is on), and none
    // is stalled.
    let runners = report["health"]["runners"].as_array().unwrap();
    assert!(!runners.is_empty(), "{}", report["health"]);
    for r in runners {
        let name = r["runner"].as_str().unwrap();
        let beats = get(
            &last,
            &format!("tickpipe_runner_heartbeats_total{{runner={name}}}"),
        );
        assert!(
            beats > 0.0 && beats <= n(&r["heartbeats"]),
            "{name}: {beats} served, {} reported",
            r["heartbeats"]
        );
        let stalled = format!("tickpipe_runner_stalled_seconds{{runner={name}}}");
        assert_eq!(get(&last, &stalled), 0.0, "{name}");
    }

    assert_rings_agree(&last, &report);
    assert!(
        last.keys().all(|k| !k.starts_with("tickpipe_feed_")),
        "a replay has no live feed to report"
    );
    assert_journal_agrees(&last, &report);
    // Under the bundled `process` durability nothing is synced before the session's
    // last record: the lag grows while the run is under way.
    assert!(
        scrapes.iter().any(|s| s
            .iter()
            .any(|(k, v)| k.starts_with("tickpipe_journal_unsynced_records{") && *v > 0.0)),
        "the journal's lag never seen under way"
    );
    assert_dashboard_served(&last, &["tickpipe_feed_"]);
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

/// A live run with metrics on, scraped while it ran and once after.
struct LiveScraped {
    report: tickpipe::runtime::report::RunReport,
    /// The report as `--report-json` writes it.
    json: serde_json::Value,
    /// Scrapes taken while the pipeline ran.
    during: Vec<Samples>,
    /// The scrape after it ended: the final publications.
    last: Samples,
}

const LIVE_MESSAGES: u64 = 60_000;

fn live_session() -> Session {
    Session::new("METRICS").unwrap()
}

/// Plays the first [`LIVE_MESSAGES`] of the sample through the feed server, dropping
/// `drops`, into two staged shards publishing metrics as `run --metrics` does, served on
/// 127.0.0.1 and scraped every 50 ms until the pipeline ends.
fn live_scraped(
    drops: DropPolicy,
    retransmit_window: u64,
    recovery_timeout_ms: u64,
) -> LiveScraped {
    let bytes = generate(&SampleSpec {
        messages: LIVE_MESSAGES,
        ..SampleSpec::default_session()
    });
    let mut server_config = common::server_config(live_session(), drops, retransmit_window);
    // Slow enough that the session lasts seconds, scraped dozens of times under way.
    server_config.rate = SendRate::MessagesPerSec(20_000.0);
    let mut server = FeedServer::bind(server_config).expect("server binds");
    let listen = Receive::Unicast {
        listen: "127.0.0.1:0".parse().unwrap(),
    };
    let mut live = common::live_config(&live_session().to_string(), listen, server.request_addr());
    live.recovery_timeout_ms = recovery_timeout_ms;
    let mut spec = common::spec("pipelines/staged.toml", 2, LIVE_MESSAGES);
    spec.input = Input::Live(Box::new(live));
    let source = spec.input.source(spec.pacing).expect("the sockets open");
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .metrics(tickpipe::runtime::metrics::PERIOD)
        .start()
        .expect("pipeline starts");
    let endpoint = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
    let url = format!("http://{}/metrics", endpoint.local_addr().unwrap());
    endpoint
        .serve(pipeline.metrics().expect("metrics on").clone())
        .unwrap();
    let dest = pipeline
        .feed_addr()
        .expect("a live pipeline has a feed address");
    let stop = Arc::new(StopSignal::new());
    let server_stop = Arc::clone(&stop);
    let thread = std::thread::spawn(move || server.run(&bytes, dest, &server_stop));
    let started = Instant::now();
    let mut during = Vec::new();
    while !pipeline.is_finished() {
        during.push(scrape(&url));
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run did not end"
        );
    }
    let report = pipeline.join();
    stop.request_stop();
    thread.join().expect("server thread").expect("server runs");
    let last = scrape(&url);
    assert!(during.len() >= 4, "only {} scrapes under way", during.len());
    let mut all = during.clone();
    all.push(last.clone());
    assert_counters_rise(&all);
    LiveScraped {
        json: render::json(&report),
        report,
        during,
        last,
    }
}

/// `samples[key]`, 0 when absent (the source had not published the feed yet).
fn get_or_zero(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// Some scrape under way saw `key` above 0 and below its final value: it rose while the
/// feed ran, not only at the end.
fn rose_under_way(run: &LiveScraped, key: &str) -> bool {
    let last = get(&run.last, key);
    run.during.iter().any(|s| {
        let v = get_or_zero(s, key);
        v > 0.0 && v < last
    })
}

/// Each feed counter of the last scrape against the report's `feed` key.
fn assert_feed_agrees(run: &LiveScraped) {
    for (metric, key) in [
        ("packets", "packets"),
        ("recovery_packets", "recovery_packets"),
        ("heartbeats", "heartbeats"),
        ("messages", "messages"),
        ("duplicate_packets", "duplicate_packets"),
        ("gaps", "gaps"),
        ("gap_messages", "gap_messages"),
        ("requests", "requests"),
        ("request_errors", "request_errors"),
        ("recovered_messages", "recovered"),
        ("lost_messages", "lost"),
        ("losses", "losses"),
        ("recovery_timeouts", "timed_out"),
        ("held_packets", "held"),
        ("overflow_packets", "overflow"),
        ("malformed", "malformed"),
    ] {
        assert_eq!(
            get(&run.last, &format!("tickpipe_feed_{metric}_total{{}}")),
            run.json["feed"][key].as_f64().unwrap(),
            "feed {metric} against the report's {key}"
        );
    }
}

#[test]
fn a_live_feed_with_gaps_scraped_under_way_rises_and_ends_at_the_report() {
    let run = live_scraped(DropPolicy::EveryKth(40), u64::MAX, 5_000);
    let feed = run
        .report
        .feed
        .as_ref()
        .expect("a live run reports its feed");
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert_eq!(feed.end, Some(FeedEnd::EndOfSession));
    assert!(feed.gaps >= 10 && feed.recovered > 0, "{feed:?}");
    assert_eq!((feed.lost, feed.losses), (0, 0), "{feed:?}");
    for key in [
        "tickpipe_feed_gaps_total{}",
        "tickpipe_feed_recovered_messages_total{}",
    ] {
        assert!(rose_under_way(&run, key), "{key} never seen under way");
    }
    assert_feed_agrees(&run);
    assert_eq!(get(&run.last, "tickpipe_stale_symbols{}"), 0.0);
    assert_eq!(
        get(&run.last, "tickpipe_messages_total{}"),
        run.json["messages"].as_f64().unwrap()
    );
    assert_rings_agree(&run.last, &run.json);
    assert!(
        run.last.keys().all(|k| !k.starts_with("tickpipe_journal_")),
        "a run without --journal has none to report"
    );
    assert_dashboard_served(&run.last, &["tickpipe_journal_"]);
}

#[test]
fn a_live_feed_that_loses_data_shows_its_losses_and_stale_symbols_under_way() {
    // Re-requests disabled: every dropped packet is lost for good.
    let run = live_scraped(DropPolicy::EveryKth(200), 0, 100);
    let feed = run
        .report
        .feed
        .as_ref()
        .expect("a live run reports its feed");
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert!(feed.losses >= 2 && feed.recovered == 0, "{feed:?}");
    assert_feed_agrees(&run);
    let stale = run
        .report
        .books()
        .filter(|(_, b)| b.status == TradingStatus::FeedStale)
        .count();
    assert!(stale > 0, "every book ends stale");
    assert_eq!(get(&run.last, "tickpipe_stale_symbols{}"), stale as f64);
    assert!(
        run.during
            .iter()
            .any(|s| get_or_zero(s, "tickpipe_stale_symbols{}") > 0.0),
        "stale symbols never seen under way"
    );
    assert!(rose_under_way(&run, "tickpipe_feed_losses_total{}"));
    assert_rings_agree(&run.last, &run.json);
}

/// With `[coordinator]`, the degradation level is served like the trading state: one
/// series per level, 1 for the level the report ends at, 0 for the others.
#[test]
fn the_degradation_level_is_served_with_a_coordinator() {
    let input = scratch("coordinated.itch");
    let config = scratch("coordinated.toml");
    let json = scratch("coordinated.json");
    let bundled = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let extra = coordinator_common::COORDINATOR.replace("MIN_VIEWS", "50");
    std::fs::write(&config, bundled + &extra).unwrap();
    let generated = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["generate", "--out", input.to_str().unwrap()])
        .args(["--messages", "20000"])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["run", "--input", input.to_str().unwrap()])
        .args(["--config", config.to_str().unwrap()])
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
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = stderr.next().expect("the bound address").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].to_string();
        }
    };
    // The figures linger once the run is over: wait for that line, then scrape, still
    // draining stderr so the engine never writes into a closed pipe.
    assert!(
        stderr
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("run over")),
        "the run ended without lingering"
    );
    let drain = std::thread::spawn(move || stderr.map_while(Result::ok).count());
    let last = scrape(&url);
    assert!(child.wait().unwrap().success());
    drain.join().unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let level = report["coordinator"]["level"].as_str().expect("a level");
    for l in ["normal", "reduced", "limited", "emergency"] {
        let served = get(&last, &format!("tickpipe_degradation_level{{level={l}}}"));
        assert_eq!(
            served,
            f64::from(u8::from(l == level)),
            "{l} against {level}"
        );
    }
}
