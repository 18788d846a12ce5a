//! Latency histograms, recorded per runner without locks and merged when the pipeline
//! stops: time since receipt (queueing included) and per-stage service time (the work
//! alone).

use hdrhistogram::Histogram;

use crate::clock::MonoClock;

/// Highest value a histogram tracks: 60 s. Larger values are clamped, so a stall shows
/// as a maximum of 60 s rather than vanishing.
const MAX_NS: u64 = 60_000_000_000;
/// Three significant figures: 0.1% resolution, 213 KiB per histogram.
const SIGFIG: u8 = 3;

/// One histogram of nanosecond latencies plus the clock that stamps "now".
#[derive(Clone)]
pub struct LatencyRecorder {
    clock: MonoClock,
    hist: Histogram<u64>,
}

impl LatencyRecorder {
    /// Allocates the whole histogram now, so recording never allocates.
    pub fn new(clock: MonoClock) -> LatencyRecorder {
        LatencyRecorder {
            clock,
            hist: new_histogram(),
        }
    }

    /// Records the time from `ts_recv` (a [`MonoClock`] reading) to now.
    #[inline]
    pub fn record_since(&mut self, ts_recv: u64) {
        let now = self.clock.now_ns();
        self.hist.saturating_record(now.saturating_sub(ts_recv));
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    pub fn into_histogram(self) -> Histogram<u64> {
        self.hist
    }
}

/// Service time is timed on one event in this many, counted at the head of each chain
/// of fused stages (the stages it calls are timed with it, so the shares still nest).
/// Timing every event cost `replay/fused_one_core` 1.33× (BENCHMARKS.md, "Per-stage
/// service time"), about 43 ns per message in ~5 stage calls; one in 31 leaves
/// ~1.4 ns, under 1%, and still gives the 2 M-message session ~52 000 samples of
/// decode's 1.61 M events (52 beyond its p99.9). Measured after: 0.53–0.57× the time
/// of timing every event, under heavy load (BENCHMARKS.md, "Service time, sampled").
/// Prime, so it never falls into step with the 256-event read batches. Time since
/// receipt, and every count, stay exact: every event is entered.
pub const SERVICE_SAMPLE_EVERY: u32 = 31;

/// What a runner measures around each call into one stage: time since receipt at entry,
/// and the stage's service time — entry to return, less the time spent in the stages it
/// called on the same thread. Each boundary between two stages is one clock read: the
/// read at a stage's entry is also the moment its caller paused, and the read at its
/// return the moment the caller resumed (the caller subtracts what [`StageTimer::leave`]
/// returns). The entry read is taken for every event; the return read only for the
/// sampled ones ([`SERVICE_SAMPLE_EVERY`]).
pub struct StageTimer {
    clock: MonoClock,
    since_receipt: Histogram<u64>,
    service: Histogram<u64>,
}

impl StageTimer {
    /// Allocates both histograms now, so recording never allocates.
    pub fn new(clock: MonoClock) -> StageTimer {
        StageTimer {
            clock,
            since_receipt: new_histogram(),
            service: new_histogram(),
        }
    }

    /// An event received at `ts_recv` enters the stage: records the time since receipt
    /// and returns the entry time, for [`StageTimer::leave`].
    #[inline]
    pub fn enter(&mut self, ts_recv: u64) -> u64 {
        let now = self.clock.now_ns();
        self.since_receipt
            .saturating_record(now.saturating_sub(ts_recv));
        now
    }

    /// The stage returned from the event it entered at `entered`, having spent
    /// `downstream` ns inside the stages it called: records its own share and returns the
    /// whole call's time, which is its caller's `downstream`.
    #[inline]
    pub fn leave(&mut self, entered: u64, downstream: u64) -> u64 {
        let inclusive = self.clock.now_ns().saturating_sub(entered);
        self.service
            .saturating_record(inclusive.saturating_sub(downstream));
        inclusive
    }

    /// Time since receipt at entry, and service time, so far.
    pub fn histograms(&self) -> (&Histogram<u64>, &Histogram<u64>) {
        (&self.since_receipt, &self.service)
    }

    /// Time since receipt at entry, and service time.
    pub fn into_histograms(self) -> (Histogram<u64>, Histogram<u64>) {
        (self.since_receipt, self.service)
    }
}

/// A histogram with the pipeline's bounds as a statistics field ([`crate::stats!`]):
/// empty by default, merged by adding every recorded value (its `Merge` is in
/// [`crate::merge`], which imports this module).
#[derive(Debug, PartialEq)]
pub struct LatencyHistogram(pub Histogram<u64>);

impl Clone for LatencyHistogram {
    fn clone(&self) -> LatencyHistogram {
        LatencyHistogram(self.0.clone())
    }

    /// In place: a metrics publication copies stats every 10 ms on the hot thread, and
    /// must not allocate (`tests/no_alloc.rs`).
    fn clone_from(&mut self, source: &LatencyHistogram) {
        self.0.reset();
        self.0
            .add(&source.0)
            .expect("latency histograms share new_histogram's bounds");
    }
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram(new_histogram())
    }
}

/// Overwrites `published`, a metrics slot's copy of `own` taken at an earlier
/// publication, with `own` now. A runner's histograms only grow, so an equal count means
/// nothing was recorded since: the copy (a reset and a memcpy of ~220 KiB of counts,
/// most of a publication's cost) is skipped.
pub fn publish_histogram(published: &mut Histogram<u64>, own: &Histogram<u64>) {
    if published.len() == own.len() {
        return;
    }
    published.reset();
    published
        .add(own)
        .expect("latency histograms share new_histogram's bounds");
}

/// An empty histogram with the pipeline's bounds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, SIGFIG).expect("static histogram bounds are valid")
}

/// Percentiles of one histogram, as the report shows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
    pub count: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            count: h.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_histogram_catches_up_with_its_runners() {
        let mut own = new_histogram();
        let mut published = new_histogram();
        publish_histogram(&mut published, &own);
        assert_eq!(published, own);
        for round in 1..=3u64 {
            for v in [10, 1_000 * round, 7_000_000 * round] {
                own.record(v).unwrap();
            }
            publish_histogram(&mut published, &own);
            assert_eq!(published, own, "round {round}");
            assert_eq!(published.len(), 3 * round, "round {round}");
            // Nothing recorded since: still equal, the copy skipped.
            publish_histogram(&mut published, &own);
            assert_eq!(published, own);
        }
    }

    /// A stage's service time excludes what its callees report, and what it returns is
    /// its caller's `downstream`: nested like a fused chain, the shares add up to the
    /// outer call.
    #[test]
    fn service_time_is_the_stage_alone_and_nests() {
        let clock = MonoClock::new();
        let (mut outer, mut inner) = (StageTimer::new(clock.clone()), StageTimer::new(clock));
        let spin = |ns: u64| {
            let start = std::time::Instant::now();
            while (start.elapsed().as_nanos() as u64) < ns {}
        };
        let entered = outer.enter(0);
        spin(200_000);
        let inner_entered = inner.enter(0);
        spin(2_000_000);
        let inner_total = inner.leave(inner_entered, 0);
        let outer_total = outer.leave(entered, inner_total);
        let (outer_since, outer_service) = outer.into_histograms();
        let (_, inner_service) = inner.into_histograms();
        assert_eq!(
            (outer_since.len(), outer_service.len(), inner_service.len()),
            (1, 1, 1)
        );
        assert!(
            outer_total >= inner_total,
            "the inner call is inside the outer one"
        );
        // The outer stage's share is its whole call less the inner call, within the
        // histogram's 0.1% resolution.
        let expected = outer_total - inner_total;
        let got = outer_service.max();
        assert!(
            got.abs_diff(expected) <= expected / 500 + 1,
            "{got} vs {expected}"
        );
    }
}
