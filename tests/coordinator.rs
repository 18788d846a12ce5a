//! The coordinator through the whole pipeline, against the in-memory journal: scheduled
//! orders and degradation levels survive a kill and a restart (every slice once, the
//! same level changes, an operator's level re-applied where it was set), and the
//! schedule's slices pass risk like any order.

mod common;
mod coordinator_common;

use std::collections::HashSet;

use coordinator_common::{COORDINATOR, SCHEDULE, config};
use serde_json::Value;
use tickpipe::app::report::json;
use tickpipe::msg::VenueCommand;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::journal::{Cut, MemoryJournal};
use tickpipe::runtime::report::RunReport;
use tickpipe::stages::coordinator::{Event, Level, LevelCause, SliceFate};
use tickpipe::stages::journal::Record;

const MESSAGES: u64 = 150_000;

/// Regime runs that never finish (no symbol gets a million views in half a second), so
/// every one is abandoned and the health task keeps changing the level.
fn stuck() -> Config {
    config(&COORDINATOR.replace("MIN_VIEWS", "1_000_000"))
}

fn calm() -> Config {
    config(&COORDINATOR.replace("MIN_VIEWS", "50"))
}

fn run(config: &Config, shards: usize, journal: &MemoryJournal) -> RunReport {
    let mut spec = common::spec("pipelines/fused.toml", shards, MESSAGES);
    spec.config = config.clone();
    let source = spec.input.source(spec.pacing).unwrap();
    let resumed = journal.records().iter().any(|r| !r.is_empty());
    let report = Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(
            common::memory_journal_meta(resumed),
            journal.factory(Cut::None, 1 << 16),
        )
        .run()
        .expect("the pipeline starts");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

/// What must not change across a restart.
fn outcome(report: &RunReport) -> Value {
    let v = json(report);
    serde_json::json!({
        "digest": v["digest"], "orders": v["orders"], "cancels": v["cancels"],
        "fills": v["fills"], "positions": v["positions"], "pnl": v["pnl"],
        "rejections": v["rejections"], "coordinator": v["coordinator"],
    })
}

/// Index just past the `n`-th record of `shard` that `pick` selects.
fn after_nth(shard: &[Record], n: usize, pick: impl Fn(&Record) -> bool) -> usize {
    shard
        .iter()
        .enumerate()
        .filter(|(_, r)| pick(r))
        .nth(n - 1)
        .map(|(i, _)| i + 1)
        .expect("enough records")
}

/// The first index at or after `from` where a new input position begins: a cut there
/// keeps every record of the positions before it.
fn boundary(shard: &[Record], from: usize) -> usize {
    (from.max(1)..shard.len())
        .find(|&i| shard[i].position() > shard[i - 1].position())
        .expect("a later position")
}

fn slices(records: &[Vec<Record>]) -> Vec<(u16, u16, SliceFate)> {
    records
        .iter()
        .flatten()
        .filter_map(|r| match *r {
            Record::Coordinator {
                event:
                    Event::Slice {
                        parent,
                        slice,
                        fate,
                    },
                ..
            } => Some((parent, slice, fate)),
            _ => None,
        })
        .collect()
}

fn levels(records: &[Record]) -> Vec<(u64, Level, LevelCause)> {
    records
        .iter()
        .filter_map(|r| match *r {
            Record::Coordinator {
                position,
                event: Event::Level { level, cause },
            } => Some((position, level, cause)),
            _ => None,
        })
        .collect()
}

fn is_slice(r: &Record) -> bool {
    matches!(
        r,
        Record::Coordinator {
            event: Event::Slice { .. },
            ..
        }
    )
}

#[test]
fn dca_schedule_survives_restart() {
    let config = config(&(COORDINATOR.replace("MIN_VIEWS", "50") + SCHEDULE));
    let full_journal = MemoryJournal::default();
    let base = run(&config, 2, &full_journal);
    let full = full_journal.records();
    let all = slices(&full);
    assert_eq!(all.len(), 6, "every slice settles once: {all:?}");
    assert!(
        all.iter().any(|s| matches!(s.2, SliceFate::Sent(_))),
        "the schedule must trade: {all:?}"
    );
    let v = json(&base);
    assert_eq!(v["coordinator"]["slices"]["remaining"], 0);
    // AAPL is symbol 0: shard 0 of 2, round robin.
    for killed_after in [1, 3, 5] {
        let mut kept = full.clone();
        kept[0].truncate(after_nth(&full[0], killed_after, is_slice));
        kept[1].truncate(full[1].len() / 2);
        let journal = MemoryJournal::new(kept);
        let resumed = run(&config, 2, &journal);
        let at = format!("killed after slice {killed_after}");
        assert_eq!(outcome(&resumed), outcome(&base), "{at}");
        let records = journal.records();
        let again = slices(&records);
        assert_eq!(again, all, "{at}: the same slices, each settled once");
        let distinct: HashSet<(u16, u16)> = again.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(distinct.len(), 6, "{at}: no slice twice");
        // Each sent slice is one `New` in the journal, never two.
        for (_, _, fate) in &again {
            if let SliceFate::Sent(id) = fate {
                let news = records
                    .iter()
                    .flatten()
                    .filter(|r| {
                        matches!(r, Record::Command { command: VenueCommand::New { order, .. }, .. }
                            if order.cl_ord_id == *id)
                    })
                    .count();
                assert_eq!(news, 1, "{at}: slice order {id}");
            }
        }
    }
}

#[test]
fn slices_pass_the_checks_like_any_order() {
    // 2 slices priced $50 through the touch against a 50 bps collar: both refused by that
    // check, which only the market at the time can apply (a slice over max_order_qty is
    // refused by the config check instead).
    let schedule = SCHEDULE
        .replace("slices = 6", "slices = 2")
        .replace("limit_offset = \"0.01\"", "limit_offset = \"50.00\"");
    let config = config(&(COORDINATOR.replace("MIN_VIEWS", "50") + &schedule));
    let journal = MemoryJournal::default();
    let report = run(&config, 1, &journal);
    let fates = slices(&journal.records());
    assert_eq!(fates.len(), 2, "{fates:?}");
    for (_, _, fate) in fates {
        assert_eq!(
            fate,
            SliceFate::Refused(tickpipe::stages::reject::RejectCode::PriceCollar)
        );
    }
    let v = json(&report);
    assert_eq!(v["coordinator"]["slices"]["refused"], 2);
    assert!(v["rejections"]["PRICE_COLLAR"].as_u64().unwrap() >= 2);
}

#[test]
fn degradation_level_survives_restart() {
    // Levels the health task derives: re-derived, checked and continued after a kill.
    let config = stuck();
    let full_journal = MemoryJournal::default();
    let base = run(&config, 1, &full_journal);
    let full = full_journal.records();
    let changes = levels(&full[0]);
    assert!(changes.len() >= 3, "the level must move: {changes:?}");
    assert!(changes.iter().all(|c| c.2 == LevelCause::Health));
    let is_level = |r: &Record| {
        matches!(
            r,
            Record::Coordinator {
                event: Event::Level { .. },
                ..
            }
        )
    };
    let journal = MemoryJournal::new(vec![full[0][..after_nth(&full[0], 2, is_level)].to_vec()]);
    let resumed = run(&config, 1, &journal);
    assert_eq!(outcome(&resumed), outcome(&base));
    assert_eq!(levels(&journal.records()[0]), changes);

    // A level an operator set: not derivable from the input, so the journal's record
    // is re-applied at its position, and it holds as the floor to the end.
    let config = calm();
    let full_journal = MemoryJournal::default();
    let base = run(&config, 2, &full_journal);
    assert_eq!(json(&base)["coordinator"]["level"], "normal");
    let full = full_journal.records();
    let mut kept = Vec::new();
    let mut set_at = Vec::new();
    for shard in &full {
        let cut = boundary(shard, shard.len() / 3);
        let position = shard[cut - 1].position();
        let mut records = shard[..cut].to_vec();
        records.push(Record::Coordinator {
            position,
            event: Event::Level {
                level: Level::Emergency,
                cause: LevelCause::Operator,
            },
        });
        kept.push(records);
        set_at.push(position);
    }
    let journal = MemoryJournal::new(kept);
    let resumed = run(&config, 2, &journal);
    let v = json(&resumed);
    assert_eq!(v["coordinator"]["level"], "emergency");
    assert_ne!(
        v["digest"],
        json(&base)["digest"],
        "emergency changed decisions"
    );
    for (shard, records) in journal.records().iter().enumerate() {
        let after: Vec<_> = levels(records)
            .into_iter()
            .filter(|l| l.0 >= set_at[shard])
            .collect();
        assert_eq!(
            after.first().map(|l| (l.1, l.2)),
            Some((Level::Emergency, LevelCause::Operator)),
            "shard {shard}: {after:?}"
        );
        assert!(
            after.iter().all(|l| l.1 == Level::Emergency),
            "shard {shard}: nothing goes below the operator's level: {after:?}"
        );
    }
    // Resumed again from that journal, finished: it verifies, directive included.
    let finished = run(&config, 2, &journal);
    assert_eq!(json(&finished)["coordinator"]["level"], "emergency");
    assert_eq!(json(&finished)["digest"], v["digest"]);
}

#[test]
fn ctl_sets_the_level_adds_a_schedule_and_status_shows_them() {
    use tickpipe::app::ctl::{self, Request};
    use tickpipe::runtime::control::ControlServer;
    use tickpipe::runtime::pipeline::Pipeline;

    let dir = std::env::temp_dir().join(format!("tickpipe-coord-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ctl.sock");
    let mut spec = common::spec("pipelines/fused.toml", 2, 300_000);
    spec.config = calm();
    spec.pacing = tickpipe::source::replay::Pacing::Rate {
        messages_per_sec: 100_000.0,
    };
    let pipeline = Pipeline::start(spec).unwrap();
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
    common::wait_for(&pipeline, 20_000);

    let send = |r: Request| ctl::send(&path, r).unwrap();
    assert_eq!(send(Request::Level("reduced".into())), "ok level reduced\n");
    assert!(send(Request::Level("panic".into())).starts_with("error unknown level 'panic'"));
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    // Two slices of 10 MSFT, due from midnight on: sent at MSFT's next decisions.
    assert_eq!(
        send(Request::ScheduleAdd(words("MSFT sell 20 2 0 1 0.00"))),
        "ok schedule added\n"
    );
    assert!(
        send(Request::ScheduleAdd(words("XXXX buy 20 2 0 1 0.00")))
            .starts_with("error unknown symbol")
    );
    assert!(
        send(Request::ScheduleAdd(words("MSFT buy 1 2 0 1 0.00")))
            .starts_with("error not a valid schedule")
    );
    assert!(send(Request::ScheduleAdd(words("MSFT buy 20"))).starts_with("error usage"));
    assert_eq!(
        send(Request::ScheduleAdd(words("MSFT buy 1001 2 0 1 0.00"))),
        "error slices of up to 501 shares exceed max_order_qty (500) for MSFT: every such \
         slice would be refused (MAX_ORDER_QTY)\n"
    );

    let status: Value = serde_json::from_str(&send(Request::Status { json: true })).unwrap();
    let c = &status["coordinator"];
    assert_eq!(c["level"], "reduced", "{status}");
    for task in ["health", "pnl_snapshot", "regime", "flatten_at"] {
        assert!(c["next"][task].is_u64(), "{task}: {c}");
    }
    let text = send(Request::Status { json: false });
    assert!(text.contains("degradation level: reduced"), "{text}");
    assert!(text.contains("next regime: "), "{text}");

    drop(server);
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let v = json(&report);
    assert_eq!(v["coordinator"]["level"], "reduced");
    assert_eq!(
        v["coordinator"]["slices"]["remaining"], 0,
        "{}",
        v["coordinator"]
    );
    let settled = v["coordinator"]["slices"]["sent"].as_u64().unwrap()
        + v["coordinator"]["slices"]["refused"].as_u64().unwrap();
    assert_eq!(settled, 2, "{}", v["coordinator"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_run_without_a_coordinator_refuses_its_requests() {
    use tickpipe::runtime::control::respond;
    use tickpipe::runtime::pipeline::Pipeline;
    let pipeline = Pipeline::start(common::spec("pipelines/fused.toml", 1, 20_000)).unwrap();
    let hub = pipeline.control_hub();
    assert_eq!(
        respond("level limited", &hub),
        "error this run has no [coordinator]\n"
    );
    let _ = pipeline.join();
}

#[test]
fn flatten_at_goes_reduce_only_then_flat() {
    // From 200 ms after the open: reduce-only for 50 ms, then every target flat.
    let config = config(
        &COORDINATOR
            .replace("MIN_VIEWS", "50")
            .replace(
                "first_at_ns = 57_000_000_000_000",
                "first_at_ns = 34_200_200_000_000",
            )
            .replace(
                "flat_after_ns = 60_000_000_000",
                "flat_after_ns = 50_000_000",
            ),
    );
    let report = run(&config, 2, &MemoryJournal::default());
    let v = json(&report);
    let flatten = &v["coordinator"]["tasks"]["flatten_at"];
    assert_eq!(flatten["started"], 2, "once per shard: {flatten}");
    assert_eq!(flatten["finished"], 2, "each shard went flat: {flatten}");
    for (symbol, p) in v["positions"].as_object().unwrap() {
        assert_eq!(p["position"], 0, "{symbol}: {p}");
    }
    // Without it, the same session ends with positions open.
    let open = json(&run(&calm(), 2, &MemoryJournal::default()));
    assert!(
        open["positions"]
            .as_object()
            .unwrap()
            .values()
            .any(|p| p["position"] != 0),
        "the control case must hold positions: {}",
        open["positions"]
    );
}

/// Every problem of `extra` appended to the bundled config, as `key: message` lines.
fn problems(extra: &str) -> Vec<String> {
    let text = std::fs::read_to_string("config/tickpipe.toml").unwrap() + extra;
    match toml::from_str::<Config>(&text) {
        Err(e) => vec![e.message().to_string()],
        Ok(config) => match config.validate() {
            Ok(_) => Vec::new(),
            Err(found) => found.iter().map(ToString::to_string).collect(),
        },
    }
}

#[test]
fn coordinator_config_problems_name_their_keys() {
    let base = COORDINATOR.replace("MIN_VIEWS", "50");
    assert_eq!(problems(&base), Vec::<String>::new());
    let unknown =
        problems(&base.replace("reduce_only = false\n", "reduce_only = false\nspeed = 1\n"));
    assert!(unknown[0].contains("unknown field `speed`"), "{unknown:?}");
    let found = problems(
        &base
            .replace("deadline_ns = 1_000_000\n", "deadline_ns = 30_000_000\n")
            .replace("after = [\"pnl_snapshot\"]", "after = [\"regime\"]")
            .replace(
                "target_scale = 0.5\nreduce_only = false",
                "target_scale = 1.5\nreduce_only = false",
            ),
    );
    assert_eq!(
        found,
        [
            "coordinator.levels.reduced.target_scale: 1.5 is not between 0 and 1",
            "coordinator.tasks.health.deadline_ns: 30000000 is past the period (20000000)",
            "coordinator.tasks.regime.after: regime is not another task",
            "coordinator.tasks.after: the dependencies form a cycle: no task in it could ever run",
        ]
    );
    let missing =
        problems(&base.replace("[coordinator.tasks.health]", "[coordinator.tasks.other]"));
    assert_eq!(
        missing,
        [
            "coordinator.tasks.health: missing: every built-in task needs its timing",
            "coordinator.tasks.other: not a task (the tasks are health, pnl_snapshot, regime, flatten_at)",
        ]
    );
    assert_eq!(
        problems(SCHEDULE),
        ["schedule: scheduled orders need [coordinator], which works them"]
    );
    let bad = SCHEDULE
        .replace("\"AAPL\"", "\"ZZZZ\"")
        .replace("slices = 6", "slices = 100")
        .replace("limit_offset = \"0.01\"", "limit_offset = \"-0.01\"");
    assert_eq!(
        problems(&(base.clone() + &bad)),
        [
            "schedule[0].symbol: ZZZZ is not in symbols.tickers",
            "schedule[0].quantity: 60 is fewer shares than slices (100)",
            "schedule[0].limit_offset: must be ≥ 0 (toward the far side)",
        ]
    );
    // 1 200 shares in 2 slices against max_order_qty = 500: refused before the run.
    let oversize = SCHEDULE
        .replace("quantity = 60", "quantity = 1200")
        .replace("slices = 6", "slices = 2");
    assert_eq!(
        problems(&(base + &oversize)),
        [
            "schedule[0].quantity: slices of up to 600 shares exceed max_order_qty (500) for \
             AAPL: every such slice would be refused (MAX_ORDER_QTY)"
        ]
    );
}
