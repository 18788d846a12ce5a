//! Metrics while a run is under way: each shard runner publishes a snapshot of its
//! chain's figures through a [`Mailbox`] at a low rate, the source runner its feed rings
//! and live feed counters (`source::metrics`), the venue runner its report rings
//! (`venue::runner::VenuePublisher`); [`Metrics::snapshot`] merges the latest ones into a
//! [`RunReport`], the same data the final report is built from. Rendering them
//! (Prometheus) is the application's (`app::metrics`).
//!
//! The hot path pays one add per event and, every [`CHECK_EVERY`] events, a clock read;
//! a publication copies the chain's counters and histograms into the mailbox's slot in
//! place, allocating nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::health::{HealthBoard, RunnerHealth};
use super::report::{RunMeta, RunReport};
use super::runner::{Chain, RunnerOutput, RunnerSnapshot};
use crate::clock::{Cadence, MonoClock};
use crate::source::metrics::{FeedCounters, SourceFigures, SourcePublisher};
use crate::source::router::ShardRouter;
use crate::sys::edge::{Emit, RingFigures};
use crate::sys::{Mailbox, Progress, StopSignal, TradingLatch, TradingState};
use crate::venue::Venue;
use crate::venue::runner::{Lane, VenuePublisher};

/// How often `run --metrics` has its runners publish. A publication under load copies
/// every histogram (~220 KiB of counts each, 11 for the fused shard) and evicts the
/// shard's working set from the cache with them: at 10 ms the fused replay spent 8–10%
/// more CPU time with publication on; at 100 ms, see BENCHMARKS.md ("Operability"). A
/// Prometheus scrape comes every few seconds at most, so 100 ms old figures are fresh.
pub const PERIOD: Duration = Duration::from_millis(100);

/// Events between two looks at the clock: at the fused shard's ~3.4 M messages/s on
/// one core (BENCHMARKS.md, `replay/fused_one_core`), about every 0.3 ms, far below the
/// [`PERIOD`], and one clock read (9.6 ns) per 1024 events is ~0.01 ns an event.
pub const CHECK_EVERY: u64 = 1024;

/// Where one runner publishes, and how often.
pub struct Publisher {
    mailbox: Arc<Mailbox<RunnerSnapshot>>,
    period: Duration,
    clock: MonoClock,
}

impl Publisher {
    /// Publishes into `mailbox` about every `period`, reading `clock`.
    pub fn new(
        mailbox: Arc<Mailbox<RunnerSnapshot>>,
        period: Duration,
        clock: MonoClock,
    ) -> Publisher {
        Publisher {
            mailbox,
            period,
            clock,
        }
    }
}

/// What every shard runner drives: its chain, which it passes every call through, and
/// where it publishes the chain's figures every period when metrics are on.
pub struct Publishing<C> {
    chain: C,
    /// Where and when it publishes; `None`: metrics are off.
    publisher: Option<(Publisher, Cadence)>,
    /// Events since the clock was last read.
    events: u64,
}

impl<C: Chain> Publishing<C> {
    /// Shapes the mailbox's slot for `chain` (allocating now, on the runner's thread at
    /// start-up) and publishes the starting figures.
    pub fn new(chain: C, publisher: Option<Publisher>) -> Publishing<C> {
        let publisher = publisher.map(|p| {
            let mut shaped = RunnerSnapshot::empty("");
            chain.shape(&mut shaped);
            p.mailbox.publish(|slot| {
                shaped.output.runner = std::mem::take(&mut slot.output.runner);
                *slot = shaped;
            });
            let cadence = Cadence::new(p.period, p.clock.now_ns());
            (p, cadence)
        });
        Publishing {
            chain,
            publisher,
            events: 0,
        }
    }
}

impl<In, C: Emit<In>> Emit<In> for Publishing<C> {
    #[inline]
    fn emit(&mut self, event: In) {
        self.events += 1;
        self.chain.emit(event);
    }
}

impl<C: Chain> Chain for Publishing<C> {
    #[inline]
    fn batch_end(&mut self) {
        self.chain.batch_end();
        if self.events < CHECK_EVERY {
            return;
        }
        self.events = 0;
        let Some((p, cadence)) = &mut self.publisher else {
            return;
        };
        if cadence.due(p.clock.now_ns()) {
            // A scrape holding the slot skips this one; the next comes a period later.
            let chain = &self.chain;
            p.mailbox.try_publish(|slot| chain.publish(slot, 0));
        }
    }

    fn control(&mut self, control: crate::stages::Control) {
        self.chain.control(control);
    }

    fn end(&mut self) {
        self.chain.end();
    }

    fn shape(&self, into: &mut RunnerSnapshot) {
        self.chain.shape(into);
    }

    fn publish(&self, into: &mut RunnerSnapshot, depth: usize) {
        self.chain.publish(into, depth);
    }

    /// The last publication waits for a reader rather than be skipped: it carries the
    /// final figures, the ones the report prints.
    fn finish(self, out: &mut RunnerOutput) {
        if let Some((p, _)) = &self.publisher {
            let chain = &self.chain;
            p.mailbox.publish(|slot| chain.publish(slot, 0));
        }
        self.chain.finish(out);
    }
}

/// The runners' mailboxes and what a snapshot adds to them: a cheap handle, cloned
/// into whatever serves the metrics.
#[derive(Clone)]
pub struct Metrics {
    mailboxes: Vec<Arc<Mailbox<RunnerSnapshot>>>,
    source: Option<Arc<Mailbox<SourceFigures>>>,
    venue: Option<Arc<Mailbox<RingFigures>>>,
    meta: RunMeta,
    started: Instant,
    latch: Arc<TradingLatch>,
    progress: Arc<Progress>,
    stop: Arc<StopSignal>,
    health: Arc<HealthBoard>,
    period: Duration,
    clock: MonoClock,
}

/// The run's figures now.
pub struct Snapshot {
    /// The runners' latest publications merged, as the final report merges their
    /// outputs: the rings of every runner, the stages' figures. Messages framed are in
    /// `framed`, the venue's answers in `report.shard.risk`, a live feed's counters in
    /// `feed`.
    pub report: RunReport,
    /// Each published ring: name, capacity, slots in use.
    pub rings: Vec<(String, usize, usize)>,
    /// Messages the source has framed.
    pub framed: u64,
    /// A live feed's counters; `None` for a replay.
    pub feed: Option<FeedCounters>,
    pub trading_state: TradingState,
    /// Every runner's heartbeat and stall, as the watchdog last saw it.
    pub health: Vec<RunnerHealth>,
    /// Publications merged: 0 until every runner has published once.
    pub publications: u64,
}

impl Metrics {
    pub(super) fn new(
        meta: RunMeta,
        latch: Arc<TradingLatch>,
        progress: Arc<Progress>,
        stop: Arc<StopSignal>,
        health: Arc<HealthBoard>,
        period: Duration,
        clock: MonoClock,
    ) -> Metrics {
        Metrics {
            mailboxes: Vec::new(),
            source: None,
            venue: None,
            meta,
            started: Instant::now(),
            latch,
            progress,
            stop,
            health,
            period,
            clock,
        }
    }

    /// A publisher for the runner `name`, whose mailbox this handle reads.
    pub(super) fn publisher(&mut self, name: &str) -> Publisher {
        let mailbox = Arc::new(Mailbox::new(RunnerSnapshot::empty(name)));
        self.mailboxes.push(Arc::clone(&mailbox));
        Publisher::new(mailbox, self.period, self.clock.clone())
    }

    /// The source runner's publisher, shaped for `router`'s rings.
    pub(super) fn source_publisher(&mut self, router: &ShardRouter) -> SourcePublisher {
        let mailbox = Arc::new(Mailbox::new(SourceFigures::default()));
        self.source = Some(Arc::clone(&mailbox));
        SourcePublisher::new(mailbox, router, self.period, self.clock.now_ns())
    }

    /// The venue runner's publisher, shaped for `lanes`' report rings.
    pub(super) fn venue_publisher<V: Venue>(&mut self, lanes: &[Lane<V>]) -> VenuePublisher {
        let mailbox = Arc::new(Mailbox::new(RingFigures::default()));
        self.venue = Some(Arc::clone(&mailbox));
        VenuePublisher::new(mailbox, lanes, self.period, self.clock.clone())
    }

    /// Merges every runner's latest publication. Each mailbox is held only while its
    /// snapshot is copied out (the runner skips a publication meanwhile).
    pub fn snapshot(&self) -> Snapshot {
        let mut outputs = Vec::with_capacity(self.mailboxes.len());
        let mut rings = Vec::new();
        let mut publications = u64::MAX;
        for mailbox in &self.mailboxes {
            mailbox.read(|s, count| {
                publications = publications.min(count);
                let mut out = RunnerOutput::new(&s.output.runner);
                crate::merge::Merge::merge(&mut out.report, &s.output.report);
                out.latency.clone_from(&s.output.latency);
                out.service.clone_from(&s.output.service);
                out.edges.clone_from(&s.output.edges);
                out.venue = s
                    .output
                    .venue
                    .as_ref()
                    .map(|v| crate::venue::runner::VenueReport {
                        stats: v.stats.clone(),
                        ..Default::default()
                    });
                for (edge, used) in s.output.edges.iter().zip(&s.occupancy) {
                    rings.push((edge.name.clone(), edge.capacity, *used));
                }
                outputs.push(out);
            });
        }
        // The source's and the venue's rings, as their runners report them at the end.
        let mut ring_runner = |name: &str, figures: &RingFigures| {
            let mut out = RunnerOutput::new(name);
            out.edges.clone_from(&figures.stats);
            for (edge, used) in figures.stats.iter().zip(&figures.occupancy) {
                rings.push((edge.name.clone(), edge.capacity, *used));
            }
            outputs.push(out);
        };
        let mut feed = None;
        if let Some(mailbox) = &self.source {
            mailbox.read(|s, count| {
                publications = publications.min(count);
                ring_runner("source", &s.rings);
                feed = s.feed;
            });
        }
        if let Some(mailbox) = &self.venue {
            mailbox.read(|s, count| {
                publications = publications.min(count);
                ring_runner("venue", s);
            });
        }
        rings.sort();
        Snapshot {
            report: RunReport::build(
                self.meta.clone(),
                outputs,
                self.stop.failures(),
                self.started.elapsed(),
            ),
            rings,
            framed: self.progress.get(),
            feed,
            trading_state: self.latch.get(),
            health: self.health.runners(),
            publications: if self.mailboxes.is_empty() {
                0
            } else {
                publications
            },
        }
    }
}
