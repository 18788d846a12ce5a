//! What a run reports: per-shard stage counters merged across shards, latency
//! percentiles, and the decision digest.

use std::fmt::Write;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::feed::live::{FeedEnd, FeedStats};
use crate::feed::replay::Pacing;
use crate::feed::router::SourceStats;
use crate::latency::{Percentiles, new_histogram};
use crate::msg::Price;
use crate::msg::SymbolName;
use crate::runtime::edge::EdgeStats;
use crate::runtime::pipeline::RunMeta;
use crate::runtime::runner::RunnerOutput;
use crate::runtime::topology::StageId;
use crate::stages::decode::DecodeStats;
use crate::stages::features::{FeatureStats, FinalBook};
use crate::stages::inference::InferenceStats;
use crate::stages::risk::RiskStats;
use crate::stages::risk::{RejectCode, SymbolStats};
use crate::stages::routing::RoutingStats;
use crate::sys::Failure;
use crate::venue::runner::VenueReport;

/// Everything one shard's stages report when the pipeline stops. Each stage fills its
/// own field ([`crate::stages::Stage::report`]); shards merge field by field.
#[derive(Default)]
pub struct ShardReport {
    pub decode: DecodeStats,
    pub features: FeatureStats,
    pub inference: InferenceStats,
    pub risk: RiskStats,
    pub routing: RoutingStats,
}

impl ShardReport {
    pub fn merge(&mut self, other: &ShardReport) {
        self.decode.merge(&other.decode);
        self.features.merge(&other.features);
        self.inference.merge(&other.inference);
        self.risk.merge(&other.risk);
        self.routing.merge(&other.routing);
    }
}

/// A whole run's report: what every runner handed back, merged.
pub struct RunReport {
    pub meta: RunMeta,
    pub elapsed: Duration,
    pub source: SourceStats,
    /// The live source's counters; `None` for a replay.
    pub feed: Option<FeedStats>,
    /// Every shard's stage reports, merged.
    pub shard: ShardReport,
    pub venue: VenueReport,
    /// Time since receipt at entry to each stage, merged across shards, in pipeline order.
    pub stage_latency: Vec<(&'static str, Histogram<u64>)>,
    pub edges: Vec<EdgeStats>,
    pub failures: Vec<Failure>,
}

impl RunReport {
    pub fn build(
        meta: RunMeta,
        outputs: Vec<RunnerOutput>,
        failures: Vec<Failure>,
        elapsed: Duration,
    ) -> RunReport {
        let mut shard = ShardReport::default();
        let mut source = None;
        let mut feed = None;
        let mut venue = VenueReport::default();
        let mut stage_latency: Vec<(&'static str, Histogram<u64>)> = StageId::ALL
            .iter()
            .map(|s| (s.name(), new_histogram()))
            .collect();
        let mut edges = Vec::new();
        for out in outputs {
            shard.merge(&out.report);
            for (name, h) in &out.latency {
                if let Some((_, merged)) = stage_latency.iter_mut().find(|(n, _)| n == name) {
                    merged.add(h).expect("stage histograms share bounds");
                }
            }
            edges.extend(out.edges);
            if let Some(s) = out.source {
                source = Some(s);
            }
            if let Some(f) = out.feed {
                feed = Some(f);
            }
            if let Some(v) = out.venue {
                venue.stats.merge(&v.stats);
                venue.outbox_high_water = venue.outbox_high_water.max(v.outbox_high_water);
                venue.undelivered += v.undelivered;
                edges.extend(v.edges);
            }
        }
        edges.sort_by(|a, b| a.name.cmp(&b.name));
        let source = source.unwrap_or_default();
        RunReport {
            meta,
            elapsed,
            source,
            feed,
            shard,
            venue,
            stage_latency,
            edges,
            failures,
        }
    }

    /// The decision digest: a hash of every symbol's ordered orders, cancels and fills.
    pub fn digest(&self) -> u64 {
        self.shard.risk.digest()
    }

    /// Framed messages per second of wall time, start to last runner exit.
    pub fn messages_per_sec(&self) -> f64 {
        self.source.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn latency_rows(&self) -> Vec<(&'static str, Percentiles)> {
        let mut rows: Vec<_> = self
            .stage_latency
            .iter()
            .map(|(n, h)| (*n, Percentiles::of(h)))
            .collect();
        rows.push((
            "tick_to_order",
            Percentiles::of(&self.shard.routing.tick_to_order),
        ));
        rows
    }

    /// Each symbol's final book, from the shard that owns it, in `SymbolId` order.
    pub fn books(&self) -> impl Iterator<Item = (SymbolName, FinalBook)> + '_ {
        self.meta.universe.ids().filter_map(|id| {
            let book = self
                .shard
                .features
                .books
                .get(id.index())
                .copied()
                .flatten()?;
            Some((self.meta.universe.name(id), book))
        })
    }

    fn positions(&self) -> impl Iterator<Item = &SymbolStats> {
        self.shard.risk.symbols.iter().flatten()
    }

    fn pnl(&self) -> (Price, Option<Price>) {
        let realised = Price(self.positions().map(|s| s.realised.0).sum());
        let unrealised = self
            .positions()
            .map(|s| s.unrealised.map(|p| p.0))
            .sum::<Option<i64>>()
            .map(Price);
        (realised, unrealised)
    }

    /// The report as JSON. Keys are documented in the README ("Report").
    pub fn to_json(&self) -> serde_json::Value {
        let risk = &self.shard.risk;
        let by_type: serde_json::Map<String, Value> = type_counts(&self.source.by_type)
            .map(|(kind, n)| (kind.to_string(), json!(n)))
            .collect();
        let rejections: serde_json::Map<String, Value> = RejectCode::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), json!(risk.rejected(*c))))
            .collect();
        let positions: serde_json::Map<String, Value> = self
            .positions()
            .map(|s| {
                let v = json!({
                    "position": s.position,
                    "avg_price": s.avg_price,
                    "mark": s.mark,
                    "realised": s.realised,
                    "unrealised": s.unrealised,
                    "cash_flow": s.cash_flow,
                });
                (s.symbol.to_string(), v)
            })
            .collect();
        let latency: serde_json::Map<String, Value> = self
            .latency_rows()
            .into_iter()
            .map(|(n, p)| (n.to_string(), json!(p)))
            .collect();
        let books: serde_json::Map<String, Value> = self
            .books()
            .map(|(name, b)| {
                let v = json!({
                    "bid_px": b.top.bid_px,
                    "bid_qty": b.top.bid_qty,
                    "ask_px": b.top.ask_px,
                    "ask_qty": b.top.ask_qty,
                    "status": b.status.as_char().to_string(),
                });
                (name.to_string(), v)
            })
            .collect();
        let (realised, unrealised) = self.pnl();
        let venue = &self.venue.stats;
        let mut report = json!({
            "input": self.meta.input,
            "topology": self.meta.topology,
            "shards": self.meta.shards,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "offered_per_s": match self.meta.pacing {
                Pacing::AsFastAsPossible => Value::Null,
                Pacing::Rate { messages_per_sec } => json!(messages_per_sec),
            },
            "messages": self.source.messages,
            "by_type": by_type,
            "skipped": self.source.skipped,
            "skipped_samples": self.source.skipped_samples,
            "untracked": self.source.untracked,
            "stale_notices": self.source.stale_notices,
            "stopped_early": self.source.stopped_early,
            "feed": self.feed.as_ref().map(|f| {
                let mut v = json!(f);
                v["stale_notices"] = json!(self.source.stale_notices);
                v
            }),
            "throughput": { "messages_per_s": self.messages_per_sec(), "bytes": self.source.bytes },
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
            "pnl": { "realised": realised, "unrealised": unrealised },
            "nlv": risk.nlv(self.meta.starting_cash),
            "digest": format!("{:016x}", self.digest()),
            "latency_ns": latency,
            "decode": {
                "emitted": self.shard.decode.emitted,
                "unmapped_locate": self.shard.decode.unmapped_locate,
                "bad_codes": self.shard.decode.bad_codes,
                "malformed": self.shard.decode.malformed,
            },
            "book": {
                "events": self.shard.features.events,
                "views": self.shard.features.views,
                "unknown_ref": self.shard.features.book.unknown_ref,
                "duplicate_ref": self.shard.features.book.duplicate_ref,
                "crossings": self.shard.features.book.crossings,
                "capacity_growths": self.shard.features.book.capacity_growths,
                "final": books,
            },
            "venue": {
                "acks": venue.acks,
                "fills": venue.fills,
                "filled_shares": venue.filled_shares,
                "rejects": venue.rejects.total(),
                "cancels": venue.cancels.total(),
                "watermarks": venue.watermarks,
                "outbox_high_water": self.venue.outbox_high_water,
            },
            "rings": self.edges,
            "failures": self.failures.iter().map(|f| json!({
                "runner": f.runner, "stage": f.stage, "message": f.message,
            })).collect::<Vec<_>>(),
        });
        // Added after: one more key in the literal above passes json!'s recursion limit.
        report["resyncs"] = json!(self.source.resyncs);
        report["resync_bytes"] = json!(self.source.resync_bytes);
        report["resync_samples"] = json!(self.source.resync_samples);
        report
    }

    /// The report as the CLI prints it.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        self.write_text(&mut o)
            .expect("writing to a String cannot fail");
        o
    }

    fn write_text(&self, o: &mut String) -> std::fmt::Result {
        let risk = &self.shard.risk;
        let m = &self.meta;
        writeln!(o, "tickpipe run report")?;
        writeln!(o, "  input        {}", m.input)?;
        writeln!(
            o,
            "  topology     {} ({} shard(s)): {}",
            m.topology, m.shards, m.topology_description
        )?;
        writeln!(
            o,
            "  elapsed      {:.3} s, {:.2} M msgs/s (wall time, start to last runner exit)",
            self.elapsed.as_secs_f64(),
            self.messages_per_sec() / 1e6
        )?;
        if self.source.stopped_early {
            writeln!(
                o,
                "  STOPPED EARLY on request: the report covers what was replayed and drained"
            )?;
        }
        writeln!(o)?;
        if let Some(feed) = &self.feed {
            write_feed(o, feed, self.source.stale_notices)?;
            writeln!(o)?;
        }
        let types: Vec<String> = type_counts(&self.source.by_type)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            o,
            "messages       {} framed, {} bytes",
            self.source.messages, self.source.bytes
        )?;
        writeln!(o, "  by type      {}", types.join(", "))?;
        writeln!(
            o,
            "  skipped      {} (unknown type or bad length), {} outside the universe",
            self.source.skipped, self.source.untracked
        )?;
        for s in &self.source.skipped_samples {
            writeln!(o, "    {}", s.reason)?;
        }
        if self.source.resyncs > 0 {
            writeln!(
                o,
                "  resyncs      {} (framing lost), {} bytes skipped to find it again",
                self.source.resyncs, self.source.resync_bytes
            )?;
            for s in &self.source.resync_samples {
                writeln!(o, "    {}", s.reason)?;
            }
        }
        let f = &self.shard.features;
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
        for (name, b) in self.books() {
            writeln!(
                o,
                "    {:<8} bid {:>12} x {:<8} ask {:>12} x {:<8} status {}",
                name.to_string(),
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
            risk.orders_sent,
            risk.acks,
            risk.venue_rejects,
            risk.cancels_sent,
            risk.cancels_confirmed
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
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                writeln!(o, "  {:<18} {:>8}   first: {first}", code.as_str(), n)?;
            }
        }
        if risk.invalid_reports > 0 {
            writeln!(
                o,
                "  INVALID REPORTS {} (trading halted); first: {:?}",
                risk.invalid_reports, risk.first_invalid_report
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
        for s in self.positions() {
            writeln!(
                o,
                "               {:<8} {:>9} {:>12} {:>12} {:>14} {:>14}",
                s.symbol.to_string(),
                s.position,
                s.avg_price.to_string(),
                opt(s.mark),
                s.realised.to_string(),
                opt(s.unrealised)
            )?;
        }
        let (realised, unrealised) = self.pnl();
        writeln!(
            o,
            "P&L            realised {realised}, unrealised {} (marked to the book); NLV {} from {}",
            opt(unrealised),
            opt(risk.nlv(m.starting_cash)),
            m.starting_cash
        )?;
        writeln!(o)?;
        match m.pacing {
            Pacing::AsFastAsPossible => writeln!(
                o,
                "latency        as-fast-as-possible replay: the source runs ahead until the feed ring is full, so\n               time since receipt is mostly waiting in it (replay with --rate for latency under load)"
            )?,
            Pacing::Rate { messages_per_sec } => writeln!(
                o,
                "latency        open loop at {messages_per_sec:.0} msgs/s offered; each message stamped with its intended send time"
            )?,
        }
        writeln!(
            o,
            "latency (ns, since receipt)  {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
            "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
        )?;
        for (name, p) in self.latency_rows() {
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
        for e in &self.edges {
            writeln!(
                o,
                "               {:<24} {:>8} {:>6} {:>12} {:>9}",
                e.name, e.capacity, e.policy, e.pushed, e.full
            )?;
        }
        writeln!(o)?;
        writeln!(o, "digest         {:016x}", self.digest())?;
        if self.failures.is_empty() {
            writeln!(o, "status         ok")?;
        } else {
            for failure in &self.failures {
                writeln!(o, "FAILED         {failure}")?;
            }
        }
        Ok(())
    }
}

/// The live feed's section of the text report.
fn write_feed(o: &mut String, f: &FeedStats, stale_notices: u64) -> std::fmt::Result {
    writeln!(
        o,
        "live feed      session {}, {} (SO_RCVBUF {} bytes), re-requests to {}",
        f.session, f.listen, f.recv_buffer_bytes, f.rerequest_server
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
            m.socket, m.datagram, m.detail, m.kind
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

/// Non-zero counts by message type, in type-byte order.
fn type_counts(by_type: &[u64; 256]) -> impl Iterator<Item = (char, u64)> + '_ {
    by_type
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k as u8 as char, *n))
}

fn opt(p: Option<Price>) -> String {
    p.map_or_else(|| "unknown".to_string(), |p| p.to_string())
}
