//! A run's report as data: every runner's output merged (per-shard stage counters, the
//! source's and the venue's, latency histograms, rings, failures), the money totals and
//! the decision digest. Rendering it is the application's (`app::report`).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::health::HealthReport;
use super::journal::JournalMeta;
use super::runner::RunnerOutput;
use super::topology::StageId;
use crate::latency::{Percentiles, new_histogram};
use crate::merge::{self, Merge};
use crate::msg::SymbolName;
use crate::msg::{MoneyOverflow, Price};
use crate::source::live::FeedStats;
use crate::source::replay::Pacing;
use crate::source::router::SourceStats;
use crate::stages::ShardReport;
use crate::stages::features::FinalBook;
use crate::stages::risk::SymbolStats;
use crate::sys::Failure;
use crate::sys::edge::EdgeStats;
use crate::universe::Universe;
use crate::venue::runner::VenueReport;

/// The run's money totals.
#[derive(Copy, Clone)]
pub struct Money {
    pub realised: Price,
    /// `None` if any position has no mark.
    pub unrealised: Option<Price>,
    /// `None` if any position has no mark.
    pub nlv: Option<Price>,
}

/// Adds each named histogram to the row of the same stage.
fn merge_by_stage(
    rows: &mut [(&'static str, Histogram<u64>)],
    from: &[(&'static str, Histogram<u64>)],
) {
    for (name, h) in from {
        if let Some((_, merged)) = rows.iter_mut().find(|(n, _)| n == name) {
            merge::histogram(merged, h);
        }
    }
}

/// What the report says about the run besides counters.
#[derive(Clone, Debug)]
pub struct RunMeta {
    pub input: String,
    pub topology: String,
    pub topology_description: String,
    pub shards: usize,
    pub universe: Arc<Universe>,
    pub starting_cash: crate::msg::Price,
    pub pacing: Pacing,
    /// The decision journal, if the run keeps one.
    pub journal: Option<JournalMeta>,
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
    /// Each stage's service time per event, merged across shards, in pipeline order.
    pub stage_service: Vec<(&'static str, Histogram<u64>)>,
    pub edges: Vec<EdgeStats>,
    pub failures: Vec<Failure>,
    /// Each runner's heartbeat and what the watchdog did; empty for a report not built
    /// from a pipeline's threads (a status answer, an inline run).
    pub health: HealthReport,
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
        let per_stage = || -> Vec<(&'static str, Histogram<u64>)> {
            StageId::ALL
                .iter()
                .map(|s| (s.name(), new_histogram()))
                .collect()
        };
        let (mut stage_latency, mut stage_service) = (per_stage(), per_stage());
        let mut edges = Vec::new();
        for out in outputs {
            shard.merge(&out.report);
            merge_by_stage(&mut stage_latency, &out.latency);
            merge_by_stage(&mut stage_service, &out.service);
            edges.extend(out.edges);
            if let Some(s) = out.source {
                source = Some(s);
            }
            if let Some(f) = out.feed {
                feed = Some(f);
            }
            if let Some(v) = out.venue {
                venue.stats.merge(&v.stats);
                merge::max(&mut venue.outbox_high_water, &v.outbox_high_water);
                venue.undelivered += v.undelivered;
                edges.extend(v.edges);
            }
        }
        edges.sort_by(|a, b| a.name.cmp(&b.name));
        let source = source.unwrap_or_default();
        let mut report = RunReport {
            meta,
            elapsed,
            source,
            feed,
            shard,
            venue,
            stage_latency,
            stage_service,
            edges,
            failures,
            health: HealthReport::default(),
        };
        if let Err(e) = report.money() {
            report.failures.push(Failure {
                runner: "report".into(),
                stage: "report".into(),
                message: format!("P&L and NLV: {e}"),
            });
        }
        report
    }

    /// The decision digest: a hash of every symbol's ordered orders, cancels and fills.
    pub fn digest(&self) -> u64 {
        self.shard.risk.digest()
    }

    /// Framed messages per second of wall time, start to last runner exit.
    pub fn messages_per_sec(&self) -> f64 {
        self.source.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Percentiles of each stage's latency, then tick-to-order, in pipeline order.
    pub fn latency_rows(&self) -> Vec<(&'static str, Percentiles)> {
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

    /// Percentiles of each stage's service time, in pipeline order. The histograms are
    /// sampled ([`crate::latency::SERVICE_SAMPLE_EVERY`]); each row's count is the stage's exact event
    /// count, from its time-since-receipt histogram, which records every event.
    pub fn service_rows(&self) -> Vec<(&'static str, Percentiles)> {
        self.stage_service
            .iter()
            .zip(&self.stage_latency)
            .map(|((n, h), (_, all))| {
                (
                    *n,
                    Percentiles {
                        count: all.len(),
                        ..Percentiles::of(h)
                    },
                )
            })
            .collect()
    }

    /// The shards' compute per message: every stage's service time summed (each sampled
    /// histogram's mean × the stage's exact event count, to its 0.1% resolution), less
    /// risk's watermark waits (idle, not work), over the messages that entered decode.
    /// `None` when none did. Its inverse is one shard's capacity on one core.
    pub fn compute_ns_per_message(&self) -> Option<f64> {
        let entered = self.stage_latency.first().map_or(0, |(_, h)| h.len());
        if entered == 0 {
            return None;
        }
        let busy: f64 = self
            .stage_service
            .iter()
            .zip(&self.stage_latency)
            .map(|((_, h), (_, all))| h.mean() * all.len() as f64)
            .sum();
        let waits = &self.shard.risk.watermark_wait_ns.0;
        Some((busy - waits.mean() * waits.len() as f64).max(0.0) / entered as f64)
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

    /// Every symbol's position statistics, from the shard that owns it.
    pub fn positions(&self) -> impl Iterator<Item = &SymbolStats> {
        self.shard.risk.symbols.iter().flatten()
    }

    /// Realised and unrealised P&L summed over symbols, and NLV; an error, which `build`
    /// records as a failure, if a total or a symbol's own money does not fit a `Price`.
    pub fn money(&self) -> Result<Money, MoneyOverflow> {
        let rows = self
            .positions()
            .map(|s| s.money)
            .collect::<Result<Vec<_>, _>>()?;
        let realised = Price::total(rows.iter().map(|m| i128::from(m.realised.0)))?;
        let unrealised = match rows
            .iter()
            .map(|m| m.unrealised.map(|p| i128::from(p.0)))
            .collect::<Option<Vec<i128>>>()
        {
            Some(terms) => Some(Price::total(terms)?),
            None => None,
        };
        let nlv = self.shard.risk.nlv(self.meta.starting_cash)?;
        Ok(Money {
            realised,
            unrealised,
            nlv,
        })
    }
}
