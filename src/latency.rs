//! Latency histograms: time since receipt, recorded per runner without locks and merged
//! when the pipeline stops.

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
