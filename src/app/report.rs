//! The run report as the CLI shows it (text) and writes it (JSON, through
//! [`ReportFile`]).

use std::fmt::Write;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::escape::escape;
use crate::latency::{Percentiles, SERVICE_SAMPLE_EVERY};
use crate::msg::Price;
use crate::runtime::report::RunReport;
use crate::source::live::{FeedEnd, FeedStats};
use crate::source::replay::Pacing;
use crate::stages::coordinator::config::TASKS;
use crate::stages::coordinator::{CoordinatorStats, Level};
use crate::stages::reject::RejectCode;

/// Why the JSON report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    #[error("{path:?}: not a file name for the JSON report")]
    NotAFile { path: PathBuf },
    #[error("{path}: cannot create the JSON report's temporary file here")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write the JSON report")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot rename {from} over {to}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}

/// Where `--report-json` goes.
///
/// A regular file (or a path that does not exist yet) is replaced whole: a temporary
/// file is created beside it before the run starts, so a missing or read-only directory
/// fails at start-up rather than after the replay; the report is written to it and
/// renamed over the target, so a reader never sees half a report and two runs writing
/// one path never interleave (the last rename wins, whole). A symbolic link is followed
/// first, so the file it names is replaced and the link stays. Dropped without
/// [`ReportFile::commit`], it removes the temporary file.
///
/// Anything else that exists (`/dev/stdout`, a named pipe) cannot be replaced, and
/// renaming over it would put a regular file in its place: it is opened at start-up and
/// written in place.
pub struct ReportFile {
    target: PathBuf,
    way: Way,
}

enum Way {
    Replace { temp: PathBuf, file: Option<File> },
    InPlace { file: Option<File> },
}

impl ReportFile {
    pub fn create(target: &Path) -> Result<ReportFile, ReportFileError> {
        let not_a_file = || ReportFileError::NotAFile {
            path: target.to_path_buf(),
        };
        match std::fs::metadata(target) {
            Ok(meta) if meta.is_dir() => return Err(not_a_file()),
            Ok(meta) if !meta.is_file() => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(create(target))?;
                return Ok(ReportFile {
                    target: target.to_path_buf(),
                    way: Way::InPlace { file: Some(file) },
                });
            }
            _ => {}
        }
        let is_link = std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
        let target = if is_link {
            std::fs::canonicalize(target).map_err(create(target))?
        } else {
            target.to_path_buf()
        };
        let name = target.file_name().ok_or_else(not_a_file)?.to_string_lossy();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The process id keeps two concurrent runs' temporary files apart; `create_new`
        // refuses to reuse a stale one.
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(create(&temp))?;
        Ok(ReportFile {
            target,
            way: Way::Replace {
                temp,
                file: Some(file),
            },
        })
    }

    /// Writes `value`; a replaced file is flushed to disk and renamed over the target.
    pub fn commit(mut self, value: &Value) -> Result<(), ReportFileError> {
        let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serialises");
        text.push('\n');
        match &mut self.way {
            Way::InPlace { file } => {
                let mut file = file.take().expect("a ReportFile is committed once");
                file.write_all(text.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|source| ReportFileError::Write {
                        path: self.target.clone(),
                        source,
                    })
            }
            Way::Replace { temp, file } => {
                let mut file = file.take().expect("a ReportFile is committed once");
                let write = |source| ReportFileError::Write {
                    path: temp.clone(),
                    source,
                };
                file.write_all(text.as_bytes()).map_err(write)?;
                file.sync_all().map_err(write)?;
                std::fs::rename(&*temp, &self.target).map_err(|source| ReportFileError::Rename {
                    from: temp.clone(),
                    to: self.target.clone(),
                    source,
                })
            }
        }
    }
}

fn create(path: &Path) -> impl FnOnce(std::io::Error) -> ReportFileError + '_ {
    move |source| ReportFileError::Create {
        path: path.to_path_buf(),
        source,
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        // After a successful rename the temporary path no longer exists.
        if let Way::Replace { temp, .. } = &self.way {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// The report as JSON. Keys are documented in the README ("Report").
pub fn json(r: &RunReport) -> Value {
    let risk = &r.shard.risk;
    let by_type: serde_json::Map<String, Value> = type_counts(&r.source.by_type)
        .map(|(kind, n)| (kind, json!(n)))
        .collect();
    let rejections: serde_json::Map<String, Value> = RejectCode::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), json!(risk.rejected(*c))))
        .collect();
    let positions: serde_json::Map<String, Value> = r
        .positions()
        .map(|s| (s.symbol.to_string(), json!(s)))
        .collect();
    let latency: serde_json::Map<String, Value> = r
        .latency_rows()
        .into_iter()
        .map(|(n, p)| (n.to_string(), json!(p)))
        .collect();
    let books: serde_json::Map<String, Value> = r
        .books()
        .map(|(name, b)| (name.to_string(), json!(b)))
        .collect();
    let mut book = json!(r.shard.features);
    book["final"] = Value::Object(books);
    let money = r.money().ok();
    let venue = &r.venue.stats;
    let mut report = json!({
        "input": r.meta.input,
        "topology": r.meta.topology,
        "shards": r.meta.shards,
        "elapsed_s": r.elapsed.as_secs_f64(),
        "offered_per_s": match r.meta.pacing {
            Pacing::AsFastAsPossible => Value::Null,
            Pacing::Rate { messages_per_sec } => json!(messages_per_sec),
        },
        "messages": r.source.messages,
        "by_type": by_type,
        "skipped": r.source.skipped,
        "skipped_samples": r.source.skipped_samples,
        "untracked": r.source.untracked,
        "stale_notices": r.source.stale_notices,
        "time_regressions": {
            "count": r.source.time_regressions.count,
            "max_ns": r.source.max_time_regression_ns,
            "samples": r.source.time_regressions.samples,
            "risk": risk.time_regressions,
            "venue": venue.time_regressions,
        },
        "bad_timestamps": {
            "count": r.source.bad_timestamps.count,
            "samples": r.source.bad_timestamps.samples,
        },
        "stopped_early": r.source.stopped_early,
        "feed": r.feed.as_ref().map(|f| {
            let mut v = json!(f);
            v["stale_notices"] = json!(r.source.stale_notices);
            v
        }),
        "throughput": { "messages_per_s": r.messages_per_sec(), "bytes": r.source.bytes },
        "orders": risk.orders_sent,
        "cancels": risk.cancels_sent,
        "acks": risk.acks,
        "fills": risk.fills,
        "filled_shares": risk.filled_shares,
        "venue_rejects": risk.venue_rejects,
        "rejections": rejections,
        "invalid_reports": risk.invalid_reports,
        "watermarks": { "sent": risk.watermarks_sent, "waits": risk.watermark_waits },
        "orders_open_at_end": risk.orders_open_at_end,
        "positions": positions,
        "pnl": {
            "realised": money.map(|m| m.realised),
            "unrealised": money.and_then(|m| m.unrealised),
        },
        "nlv": money.and_then(|m| m.nlv),
        "digest": format!("{:016x}", r.digest()),
        "latency_ns": latency,
        "decode": r.shard.decode,
        "book": book,
        "venue": {
            "acks": venue.acks,
            "fills": venue.fills,
            "filled_shares": venue.filled_shares,
            "rejects": venue.rejects.total(),
            "cancels": venue.cancels.total(),
            "watermarks": venue.watermarks,
            "outbox_high_water": r.venue.outbox_high_water,
        },
        "rings": r.edges,
        "failures": r.failures.iter().map(|f| json!({
            "runner": f.runner, "stage": f.stage, "message": f.message,
        })).collect::<Vec<_>>(),
    });
    // Added after: one more key in the literal above passes json!'s recursion limit.
    report["resyncs"] = json!(r.source.resyncs);
    report["resync_bytes"] = json!(r.source.resync_bytes);
    report["resync_samples"] = json!(r.source.resync_samples);
    let service: serde_json::Map<String, Value> = r
        .service_rows()
        .into_iter()
        .map(|(n, p)| (n.to_string(), json!(p)))
        .collect();
    report["service_ns"] = Value::Object(service);
    report["service_sampled_every"] = json!(SERVICE_SAMPLE_EVERY);
    report["compute_ns_per_message"] = json!(r.compute_ns_per_message());
    report["watermarks"]["wait_ns"] = json!(Percentiles::of(&risk.watermark_wait_ns.0));
    report["journal"] = journal_json(r);
    report["halts"] = json!({
        "REPEATED_EXECUTIONS": risk.repeated_execution_halts,
        "MESSAGE_RATE": risk.message_rate_halts,
        "CIRCUIT_BREAKER": risk.circuit_breaker_halts,
        "FIRM_MESSAGE_RATE": risk.firm_message_rate_halts,
        "FIRM_LOSS": risk.firm_loss_halts,
        "FIRM_DRAWDOWN": risk.firm_drawdown_halts,
    });
    report["reduce_only"] = json!({
        "FIRM_LOSS": risk.firm_loss_reduce_only,
        "FIRM_DRAWDOWN": risk.firm_drawdown_reduce_only,
    });
    report["operator_commands"] = json!(risk.operator_commands);
    report["broken_trades"] = json!({
        "BROKEN_TRADE": risk.broken_trade_reversals,
        "shares": risk.broken_trade_shares,
        "not_ours": risk.broken_trades_not_ours,
        "forgotten": risk.broken_trade_fills_forgotten,
    });
    report["coordinator"] = coordinator_json(risk.coordinator.as_ref());
    report["health"] = health_json(r);
    report
}

/// The `health` section: the watchdog's deadlines (`null`: no `[health]`, the watchdog
/// was off), each runner's heartbeats, and every stall the watchdog acted on.
fn health_json(r: &RunReport) -> Value {
    let h = &r.health;
    json!({
        "watchdog": h.watchdog.map(|c| json!({
            "period_ms": c.period_ms,
            "stall_after_ms": c.stall_after_ms,
            "halt_after_ms": c.halt_after_ms,
        })),
        "runners": h.runners.iter().map(|r| json!({
            "runner": r.runner,
            "heartbeats": r.beats,
            "stalled_ms": r.stalled_for.map(|d| d.as_millis() as u64),
        })).collect::<Vec<_>>(),
        "stalls": h.events.iter().map(|e| json!({
            "runner": e.runner,
            "at_ms": e.at.as_millis() as u64,
            "stalled_ms": e.stalled_for.as_millis() as u64,
            "action": e.action.as_str(),
            "trading_state": e.state.as_str(),
        })).collect::<Vec<_>>(),
    })
}

/// The health lines of the text report: the watchdog, each runner's heartbeats, and
/// every stall it acted on.
fn write_health(o: &mut String, r: &RunReport) -> std::fmt::Result {
    let h = &r.health;
    match h.watchdog {
        Some(c) => writeln!(
            o,
            "health         watchdog every {} ms: reduce-only after {} ms stalled, halt after {} ms",
            c.period_ms, c.stall_after_ms, c.halt_after_ms
        )?,
        None => writeln!(o, "health         watchdog off (no [health] in the config)")?,
    }
    for runner in &h.runners {
        writeln!(
            o,
            "               {:<24} heartbeats {:>12}{}",
            runner.runner,
            runner.beats,
            runner
                .stalled_for
                .map_or(String::new(), |d| format!("  STALLED {} ms", d.as_millis()))
        )?;
    }
    for e in &h.events {
        writeln!(
            o,
            "STALL          {} at {:.3} s: {} after {} ms without progress (trading state {})",
            e.runner,
            e.at.as_secs_f64(),
            e.action.as_str(),
            e.stalled_for.as_millis(),
            e.state.as_str()
        )?;
    }
    writeln!(o)
}

/// The coordinator's counters; `null` for a run without `[coordinator]`.
fn coordinator_json(c: Option<&CoordinatorStats>) -> Value {
    let Some(c) = c else {
        return Value::Null;
    };
    let tasks: serde_json::Map<String, Value> = TASKS
        .iter()
        .zip(&c.tasks)
        .map(|(name, t)| {
            let counts = json!({
                "started": t.started, "finished": t.finished, "abandoned": t.abandoned,
                "blocked": t.blocked, "skipped": t.skipped,
            });
            ((*name).to_string(), counts)
        })
        .collect();
    json!({
        "level": c.level.map(Level::as_str),
        "level_changes": c.level_changes,
        "tasks": tasks,
        "regime": {"calm": c.regime.calm, "normal": c.regime.normal, "volatile": c.regime.volatile},
        "slices": {"sent": c.slices_sent, "refused": c.slices_refused, "remaining": c.slices_remaining},
        "pnl_snapshots": c.snapshots,
    })
}

/// The `journal` section: `null` for a run without one.
fn journal_json(r: &RunReport) -> Value {
    let Some(meta) = &r.meta.journal else {
        return Value::Null;
    };
    let shards: Vec<Value> = r
        .shard
        .risk
        .journal
        .iter()
        .map(|j| {
            json!({
                "shard": j.shard,
                "records_written": j.counts.appended,
                "bytes_written": j.bytes,
                "records_verified": j.counts.verified,
                "recovered_commands": j.counts.recovered_commands,
                "recovered_reports": j.counts.recovered_reports,
                "in_flight": j.in_flight.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "replay_ns": j.replay_ns,
                "fault": j.fault,
            })
        })
        .collect();
    json!({
        "dir": meta.dir,
        "policy": meta.policy,
        "risks": meta.risks,
        "resumed": meta.resumed,
        "finished_before": meta.finished,
        "notes": meta.notes,
        "shards": shards,
    })
}

/// The journal's lines of the text report.
fn write_journal(o: &mut String, r: &RunReport) -> std::fmt::Result {
    let Some(meta) = &r.meta.journal else {
        return Ok(());
    };
    let state = match (meta.resumed, meta.finished) {
        (false, _) => "new session",
        (true, false) => "resumed an unfinished session",
        (true, true) => "verified a finished session (nothing sent)",
    };
    writeln!(
        o,
        "journal        {} ({}): {state}",
        escape(&meta.dir),
        meta.policy
    )?;
    writeln!(o, "               risks: {}", meta.risks)?;
    for note in &meta.notes {
        writeln!(o, "               note: {}", escape(note))?;
    }
    for j in &r.shard.risk.journal {
        write!(
            o,
            "  shard {:<3}    written {} records ({} bytes), verified {}, recovered {} commands and {} reports",
            j.shard,
            j.counts.appended,
            j.bytes,
            j.counts.verified,
            j.counts.recovered_commands,
            j.counts.recovered_reports
        )?;
        if let Some(ns) = j.replay_ns {
            write!(o, ", replay {:.3} s", ns as f64 / 1e9)?;
        }
        writeln!(o)?;
        if !j.in_flight.is_empty() {
            let ids: Vec<String> = j.in_flight.iter().map(ToString::to_string).collect();
            writeln!(o, "               in flight: {}", ids.join(" "))?;
        }
    }
    writeln!(o)
}

/// The report as the CLI prints it.
pub fn text(r: &RunReport) -> String {
    let mut o = String::new();
    write_text(r, &mut o).expect("writing to a String cannot fail");
    o
}

fn write_text(r: &RunReport, o: &mut String) -> std::fmt::Result {
    let risk = &r.shard.risk;
    let m = &r.meta;
    writeln!(o, "tickpipe run report")?;
    writeln!(o, "  input        {}", escape(&m.input))?;
    writeln!(
        o,
        "  topology     {} ({} shard(s)): {}",
        escape(&m.topology),
        m.shards,
        escape(&m.topology_description)
    )?;
    writeln!(
        o,
        "  elapsed      {:.3} s, {:.2} M msgs/s (wall time, start to last runner exit)",
        r.elapsed.as_secs_f64(),
        r.messages_per_sec() / 1e6
    )?;
    if r.source.stopped_early {
        writeln!(
            o,
            "  STOPPED EARLY on request: the report covers what was replayed and drained"
        )?;
    }
    writeln!(o)?;
    write_service(r, o)?;
    if let Some(feed) = &r.feed {
        write_feed(o, feed, r.source.stale_notices)?;
        writeln!(o)?;
    }
    let types: Vec<String> = type_counts(&r.source.by_type)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        o,
        "messages       {} framed, {} bytes",
        r.source.messages, r.source.bytes
    )?;
    writeln!(o, "  by type      {}", types.join(", "))?;
    writeln!(
        o,
        "  skipped      {} (unknown type or bad length), {} outside the universe",
        r.source.skipped, r.source.untracked
    )?;
    for s in &r.source.skipped_samples {
        writeln!(o, "    {}", escape(&s.reason))?;
    }
    let src = &r.source;
    writeln!(
        o,
        "  event time   {} stamped back in time (by at most {} ns), {} at an impossible time (24 h or later); both restamped to event time. After the source: risk {}, venue {} (0 unless a bug)",
        src.time_regressions.count,
        src.max_time_regression_ns,
        src.bad_timestamps.count,
        risk.time_regressions,
        r.venue.stats.time_regressions
    )?;
    for s in src
        .time_regressions
        .samples
        .iter()
        .chain(&src.bad_timestamps.samples)
    {
        writeln!(
            o,
            "    byte offset {}: timestamp {} ns, stamped {} ns",
            s.offset, s.timestamp_ns, s.stamped_ns
        )?;
    }
    if r.source.resyncs > 0 {
        writeln!(
            o,
            "  resyncs      {} (framing lost), {} bytes skipped to find it again",
            r.source.resyncs, r.source.resync_bytes
        )?;
        for s in &r.source.resync_samples {
            writeln!(o, "    {}", s.reason)?;
        }
    }
    let f = &r.shard.features;
    writeln!(
        o,
        "  book         {} events, {} views; unknown refs {}, duplicate refs {}, crossed {}, growths {}",
        f.events,
        f.views,
        f.book.unknown_ref,
        f.book.duplicate_ref,
        f.book.crossings,
        f.book.capacity_growths
    )?;
    for (name, b) in r.books() {
        writeln!(
            o,
            "    {:<8} bid {:>12} x {:<8} ask {:>12} x {:<8} status {}",
            escape(name.as_str()),
            b.top.bid_px.to_string(),
            b.top.bid_qty,
            b.top.ask_px.to_string(),
            b.top.ask_qty,
            b.status.as_char()
        )?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "orders         {} sent, {} acked, {} rejected by the venue; {} cancels sent, {} confirmed",
        risk.orders_sent, risk.acks, risk.venue_rejects, risk.cancels_sent, risk.cancels_confirmed
    )?;
    writeln!(
        o,
        "fills          {} ({} shares)",
        risk.fills, risk.filled_shares
    )?;
    let total_rejections: u64 = risk.rejections.iter().sum();
    writeln!(o, "rejections     {total_rejections} by risk")?;
    for code in RejectCode::ALL {
        let n = risk.rejected(code);
        if n > 0 {
            let first = risk.first_rejection[code.index()]
                .as_ref()
                .map(|r| escape(&r.to_string()))
                .unwrap_or_default();
            writeln!(o, "  {:<18} {:>8}   first: {first}", code.as_str(), n)?;
        }
    }
    for (code, n) in [
        ("REPEATED_EXECUTIONS", risk.repeated_execution_halts),
        ("MESSAGE_RATE", risk.message_rate_halts),
        ("CIRCUIT_BREAKER", risk.circuit_breaker_halts),
        ("FIRM_MESSAGE_RATE", risk.firm_message_rate_halts),
        ("FIRM_LOSS", risk.firm_loss_halts),
        ("FIRM_DRAWDOWN", risk.firm_drawdown_halts),
    ] {
        if n > 0 {
            let what = if code == "REPEATED_EXECUTIONS" {
                "symbol(s) latched"
            } else {
                "halted the latch"
            };
            writeln!(o, "  HALT {code:<19} {n:>8}   {what}")?;
        }
    }
    for (code, n) in [
        ("FIRM_LOSS", risk.firm_loss_reduce_only),
        ("FIRM_DRAWDOWN", risk.firm_drawdown_reduce_only),
    ] {
        if n > 0 {
            writeln!(
                o,
                "  REDUCE-ONLY {code:<12} {n:>8}   took the latch to reduce-only"
            )?;
        }
    }
    if risk.operator_commands > 0 {
        writeln!(o, "  operator commands  {:>8}", risk.operator_commands)?;
    }
    if risk.broken_trade_reversals + risk.broken_trades_not_ours + risk.broken_trade_fills_forgotten
        > 0
    {
        writeln!(
            o,
            "  REVERSED {:<15} {:>8}   fill(s), {} shares; {} broken print(s) not ours, {} \
             print fill(s) forgotten",
            "BROKEN_TRADE",
            risk.broken_trade_reversals,
            risk.broken_trade_shares,
            risk.broken_trades_not_ours,
            risk.broken_trade_fills_forgotten
        )?;
    }
    if let Some(c) = &risk.coordinator {
        writeln!(
            o,
            "  coordinator: level {} ({} changes), slices sent {} refused {} remaining {}, \
             {} P&L snapshots",
            c.level.map_or("n/a", Level::as_str),
            c.level_changes,
            c.slices_sent,
            c.slices_refused,
            c.slices_remaining,
            c.snapshots
        )?;
        for (name, t) in TASKS.iter().zip(&c.tasks) {
            writeln!(
                o,
                "    task {name:<13} started {} finished {} abandoned {} blocked {} skipped {}",
                t.started, t.finished, t.abandoned, t.blocked, t.skipped
            )?;
        }
    }
    if risk.invalid_reports > 0 {
        writeln!(
            o,
            "  INVALID REPORTS {} (trading halted); first: {}",
            risk.invalid_reports,
            escape(&format!("{:?}", risk.first_invalid_report))
        )?;
    }
    if risk.orders_open_at_end > 0 {
        writeln!(o, "  ORDERS OPEN AT END {}", risk.orders_open_at_end)?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "positions      {:<8} {:>9} {:>12} {:>12} {:>14} {:>14}",
        "symbol", "shares", "avg price", "mark", "realised", "unrealised"
    )?;
    for s in r.positions() {
        let (avg_price, realised, unrealised) = match s.money {
            Ok(m) => (
                m.avg_price.to_string(),
                m.realised.to_string(),
                opt(m.unrealised),
            ),
            Err(_) => ("OVERFLOW".into(), "OVERFLOW".into(), "OVERFLOW".into()),
        };
        writeln!(
            o,
            "               {:<8} {:>9} {:>12} {:>12} {:>14} {:>14}",
            escape(s.symbol.as_str()),
            s.position,
            avg_price,
            opt(s.mark),
            realised,
            unrealised
        )?;
    }
    match r.money() {
        Ok(money) => writeln!(
            o,
            "P&L            realised {}, unrealised {} (marked to the book); NLV {} from {}",
            money.realised,
            opt(money.unrealised),
            opt(money.nlv),
            m.starting_cash
        )?,
        Err(e) => writeln!(o, "P&L            OVERFLOW: {e}")?,
    }
    writeln!(o)?;
    let heading = if is_unpaced_replay(r) {
        writeln!(
            o,
            "queueing       as-fast-as-possible replay: the source runs ahead until the feed ring is full, so\n               time since receipt is mostly waiting in it, not the engine's latency (see service time above)"
        )?;
        "queueing (ns, since receipt)"
    } else {
        match m.pacing {
            Pacing::Rate { messages_per_sec } => writeln!(
                o,
                "latency        open loop at {messages_per_sec:.0} msgs/s offered; each message stamped with its intended send time"
            )?,
            Pacing::AsFastAsPossible => writeln!(
                o,
                "latency        live feed: each message stamped when its datagram was received"
            )?,
        }
        "latency (ns, since receipt)"
    };
    writeln!(
        o,
        "{heading:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
    )?;
    for (name, p) in r.latency_rows() {
        writeln!(
            o,
            "  {:<27} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
            name, p.p50, p.p90, p.p99, p.p999, p.p9999, p.max, p.count
        )?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "rings          {:<24} {:>8} {:>6} {:>12} {:>9}",
        "name", "slots", "policy", "pushed", "full"
    )?;
    for e in &r.edges {
        writeln!(
            o,
            "               {:<24} {:>8} {:>6} {:>12} {:>9}",
            e.name, e.capacity, e.policy, e.pushed, e.full
        )?;
    }
    writeln!(o)?;
    write_journal(o, r)?;
    write_health(o, r)?;
    writeln!(o, "digest         {:016x}", r.digest())?;
    if r.failures.is_empty() {
        writeln!(o, "status         ok")?;
    } else {
        for failure in &r.failures {
            writeln!(o, "FAILED         {}", escape(&failure.to_string()))?;
        }
    }
    Ok(())
}

/// A replay as fast as the pipeline takes it: time since receipt is then queueing.
fn is_unpaced_replay(r: &RunReport) -> bool {
    r.feed.is_none() && r.meta.pacing == Pacing::AsFastAsPossible
}

/// The report's lead: what each stage costs per event, and the capacity that follows;
/// in an unpaced replay, how to measure latency instead.
fn write_service(r: &RunReport, o: &mut String) -> std::fmt::Result {
    match r.compute_ns_per_message() {
        Some(ns) => writeln!(
            o,
            "  compute      {ns:.0} ns per message in the five stages (means, watermark waits excluded; a thread descheduled mid-event counts the stall): {:.2} M msgs/s per shard on one core",
            1e3 / ns
        )?,
        None => writeln!(o, "  compute      no message reached a stage")?,
    }
    if is_unpaced_replay(r) {
        writeln!(
            o,
            "               unpaced, this run measures capacity; for latency under load replay with --rate MSGS_PER_SEC"
        )?;
    }
    writeln!(
        o,
        "service (ns per event, 1 in {SERVICE_SAMPLE_EVERY} timed) {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "count", "mean"
    )?;
    let row = |o: &mut String, name: &str, p: Percentiles, h: &Histogram<u64>| {
        writeln!(
            o,
            "  {:<27} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9.0}",
            name,
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.p9999,
            p.max,
            p.count,
            h.mean()
        )
    };
    for ((name, p), (_, h)) in r.service_rows().into_iter().zip(&r.stage_service) {
        row(o, name, p, h)?;
        if name == "risk" {
            // Inside risk's service time: decisions that waited for the venue thread
            // (every wait, not sampled).
            let waits = &r.shard.risk.watermark_wait_ns.0;
            row(
                o,
                "  of which watermark waits",
                Percentiles::of(waits),
                waits,
            )?;
        }
    }
    writeln!(o)
}

/// The live feed's section of the text report.
fn write_feed(o: &mut String, f: &FeedStats, stale_notices: u64) -> std::fmt::Result {
    writeln!(
        o,
        "live feed      session {}, {} (SO_RCVBUF {} bytes), re-requests to {}",
        escape(&f.session),
        escape(&f.listen),
        f.recv_buffer_bytes,
        escape(&f.rerequest_server)
    )?;
    let end = f.end.map_or("running", FeedEnd::as_str);
    writeln!(
        o,
        "  packets      {} feed, {} recovery, {} heartbeats, {} end of session; ended: {end}",
        f.packets, f.recovery_packets, f.heartbeats, f.end_of_session
    )?;
    writeln!(
        o,
        "  gaps         {} ({} messages missing); {} requests ({} errors); {} recovered, {} lost",
        f.gaps, f.gap_messages, f.requests, f.request_errors, f.recovered, f.lost
    )?;
    writeln!(
        o,
        "  reordering   {} held (at most {} at once), {} dropped when full, {} too long; {} duplicates, {} beyond max_gap",
        f.held,
        f.held_high_water,
        f.overflow,
        f.too_long_to_hold,
        f.duplicate_packets,
        f.out_of_window
    )?;
    writeln!(o, "  malformed    {}", f.malformed)?;
    for m in &f.malformed_samples {
        writeln!(
            o,
            "    {} datagram {}: {} ({})",
            m.socket,
            m.datagram,
            escape(&m.detail),
            m.kind
        )?;
    }
    if f.books_stale() {
        writeln!(
            o,
            "  STALE        {} message(s) lost in {} loss(es) ({} timed out, {} beyond re-request reach); {stale_notices} stale notice(s) sent: every symbol's book is stale for the rest of the session and risk blocks it (FEED_STALE)",
            f.lost,
            f.losses,
            f.timed_out,
            f.losses - f.timed_out
        )?;
    }
    Ok(())
}

/// Non-zero counts by message type, in type-byte order, each type as [`type_label`].
fn type_counts(by_type: &[u64; 256]) -> impl Iterator<Item = (String, u64)> + '_ {
    by_type
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (type_label(k as u8), *n))
}

/// A message type byte as the report shows it: the character for printable ASCII (every
/// ITCH type), `\xNN` for any other byte a malformed input carried.
fn type_label(kind: u8) -> String {
    if kind.is_ascii_graphic() {
        char::from(kind).to_string()
    } else {
        format!("\\x{kind:02x}")
    }
}

fn opt(p: Option<Price>) -> String {
    p.map_or_else(|| "unknown".to_string(), |p| p.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::msg::{MoneyOverflow, SymbolName};
    use crate::runtime::report::RunMeta;
    use crate::runtime::runner::RunnerOutput;
    use crate::stages::risk::SymbolStats;
    use crate::stages::risk::positions::Valuation;

    /// A fresh directory per test (tests run in parallel), and `name` in it.
    fn scratch(test: &str, name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tickpipe-report-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_json_report_replaces_its_target_whole_and_leaves_no_temporary_file() {
        let target = scratch("whole", "whole.json");
        std::fs::write(&target, "old").unwrap();
        let file = ReportFile::create(&target).unwrap();
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "old",
            "untouched until commit"
        );
        file.commit(&json!({"digest": "x"})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "{\n  \"digest\": \"x\"\n}\n"
        );
        let abandoned = ReportFile::create(&scratch("whole", "abandoned.json")).unwrap();
        drop(abandoned);
        let dir = target.parent().unwrap();
        assert_eq!(entries(dir), ["whole.json"]);
    }

    #[test]
    fn a_link_is_followed_and_a_device_or_pipe_is_written_in_place() {
        // A link to a regular file: the file is replaced, the link stays a link.
        let real = scratch("link", "real.json");
        std::fs::write(&real, "old").unwrap();
        let link = real.with_file_name("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        ReportFile::create(&link)
            .unwrap()
            .commit(&json!({"digest": "x"}))
            .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&real).unwrap(),
            "{\n  \"digest\": \"x\"\n}\n"
        );
        // A device (`/dev/null` stands for `/dev/stdout`): written in place, never
        // renamed over, so it stays a device.
        ReportFile::create(Path::new("/dev/null"))
            .unwrap()
            .commit(&json!({"digest": "x"}))
            .unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn a_json_report_path_that_cannot_be_written_fails_at_create() {
        let missing = scratch("bad", "no-such-dir").join("r.json");
        let e = ReportFile::create(&missing).err().unwrap();
        assert!(matches!(e, ReportFileError::Create { .. }), "{e}");
        assert!(e.to_string().contains("no-such-dir"), "{e}");
        let dir = scratch("bad", "a-dir");
        std::fs::create_dir_all(&dir).unwrap();
        for not_a_file in [dir.as_path(), Path::new(""), Path::new("/")] {
            let e = ReportFile::create(not_a_file).err().unwrap();
            assert!(matches!(e, ReportFileError::NotAFile { .. }), "{e}");
        }
    }

    #[test]
    fn an_nlv_overflow_is_a_failure_of_the_run_not_a_wrapped_number() {
        let universe = std::sync::Arc::new(crate::universe::Universe::new(&["AAPL"]).unwrap());
        let meta = |starting_cash| RunMeta {
            input: "test".into(),
            topology: "test".into(),
            topology_description: "test".into(),
            shards: 1,
            universe: universe.clone(),
            starting_cash,
            pacing: Pacing::AsFastAsPossible,
            journal: None,
        };
        let output = || {
            let mut out = RunnerOutput::new("shard0/all");
            out.report.risk.symbols = vec![Some(SymbolStats {
                symbol: SymbolName::new("AAPL").unwrap(),
                position: 0,
                mark: Some(Price(1)),
                money: Ok(Valuation {
                    avg_price: Price::ZERO,
                    realised: Price(1),
                    unrealised: Some(Price::ZERO),
                    cash_flow: Price(1),
                }),
                digest: 0,
            })];
            out
        };
        let fine = RunReport::build(
            meta(Price(i64::MAX - 1)),
            vec![output()],
            Vec::new(),
            Duration::ZERO,
        );
        assert!(fine.failures.is_empty());
        assert_eq!(json(&fine)["nlv"], json!("922337203685477.5807"));

        let over = RunReport::build(
            meta(Price(i64::MAX)),
            vec![output()],
            Vec::new(),
            Duration::ZERO,
        );
        assert_eq!(over.failures.len(), 1);
        assert_eq!(over.failures[0].stage, "report");
        assert!(over.failures[0].message.contains("beyond ±922 trillion"));
        assert_eq!(json(&over)["nlv"], Value::Null);
        let text = text(&over);
        assert!(text.contains("P&L            OVERFLOW"), "{text}");
        assert!(!text.contains("status         ok"), "{text}");

        let mut lost = output();
        lost.report.risk.symbols[0].as_mut().unwrap().money = Err(MoneyOverflow);
        let lost = RunReport::build(meta(Price::ZERO), vec![lost], Vec::new(), Duration::ZERO);
        assert_eq!(lost.failures.len(), 1);
        assert_eq!(lost.failures[0].stage, "report");
        let report = json(&lost);
        assert_eq!(report["positions"]["AAPL"]["realised"], Value::Null);
        assert_eq!(report["pnl"]["realised"], Value::Null);
        assert_eq!(report["nlv"], Value::Null);
        let printed = super::text(&lost);
        assert!(printed.contains("OVERFLOW       OVERFLOW"), "{printed}");
    }

    #[test]
    fn type_bytes_outside_printable_ascii_are_shown_as_hex() {
        assert_eq!(type_label(b'A'), "A");
        assert_eq!(type_label(0x07), "\\x07");
        assert_eq!(type_label(b' '), "\\x20");
        assert_eq!(type_label(0xe9), "\\xe9");
    }
}
