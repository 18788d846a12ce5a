//! A ring edge: one bounded SPSC ring between two runners.
//!
//! Wraps `rtrb` (hop p50 1.68–1.75× the bare cache-line floor, rtt/2, on the 2-core
//! host of BENCHMARKS.md) behind our own types so a different ring can later serve the
//! hottest hops without touching a stage. Adds what rtrb leaves to the caller: a named backpressure policy with a
//! counter of every time it was hit, and an explicit end-of-stream flag
//! ([`crate::sys::CloseFlag`]) so the drain protocol cannot lose the last items.
//!
//! [`Emit`], the trait every producing end implements, and [`BATCH`], the read batch of
//! every consumer, live here too: stages, sources and venues produce through them from
//! below the runtime, so none of them imports upward.

use std::sync::Arc;

use rtrb::{PushError, RingBuffer};
use serde::Deserialize;

use super::idle::Idler;
use crate::sys::CloseFlag;

/// Where a stage puts what it produces.
///
/// `emit` cannot fail: a full ring is handled by the edge's backpressure policy
/// (wait, or stop the pipeline), never by a stage dropping a value.
pub trait Emit<T> {
    fn emit(&mut self, item: T);
}

impl<T> Emit<T> for Vec<T> {
    #[inline]
    fn emit(&mut self, item: T) {
        self.push(item);
    }
}

impl<T> Emit<T> for std::collections::VecDeque<T> {
    #[inline]
    fn emit(&mut self, item: T) {
        self.push_back(item);
    }
}

/// Events handed to a chain per ring read: large enough that the index update is
/// amortised, small enough that the control ring is polled at least every 256 events.
pub const BATCH: usize = 256;

/// What a producer does when its ring is full.
///
/// There is no drop policy: every edge carries state a drop would corrupt (a dropped
/// ITCH add desynchronises the book; a dropped order command or report loses an order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backpressure {
    /// Wait, with the runner's idle strategy, until the consumer makes room.
    Spin,
    /// Stop the pipeline with a failure naming the ring.
    Halt,
}

impl Backpressure {
    pub fn as_str(self) -> &'static str {
        match self {
            Backpressure::Spin => "spin",
            Backpressure::Halt => "halt",
        }
    }
}

/// What an edge reports at shutdown.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EdgeStats {
    pub name: String,
    pub capacity: usize,
    pub policy: &'static str,
    /// Items pushed.
    pub pushed: u64,
    /// Pushes that found the ring full (the policy was applied).
    pub full: u64,
}

/// The rings one runner produces into, as `run --metrics` publishes them: counters and
/// occupancy, in the runner's order.
#[derive(Clone, Debug, Default)]
pub struct RingFigures {
    pub stats: Vec<EdgeStats>,
    /// Slots in use in each ring of `stats` when it was published.
    pub occupancy: Vec<usize>,
}

impl RingFigures {
    /// The figures of `rings` now (allocating: once, at start-up).
    pub fn of<'a, T: 'a>(rings: impl IntoIterator<Item = &'a EdgeOut<T>>) -> RingFigures {
        let mut figures = RingFigures::default();
        for ring in rings {
            figures.stats.push(ring.stats());
            figures.occupancy.push(ring.occupancy());
        }
        figures
    }

    /// Overwrites the figures in place with those of `rings`, the rings [`RingFigures::of`]
    /// was given, in the same order: allocates nothing.
    pub fn publish<'a, T: 'a>(&mut self, rings: impl IntoIterator<Item = &'a EdgeOut<T>>) {
        for ((stats, used), ring) in self.stats.iter_mut().zip(&mut self.occupancy).zip(rings) {
            ring.publish(stats);
            *used = ring.occupancy();
        }
    }
}

/// Unwinding payload of a producer whose consumer is gone: the runner stops quietly,
/// because the consumer's own failure is already recorded and is the cause.
#[derive(Debug)]
pub struct ConsumerGone(pub String);

/// Creates a ring of `capacity` slots; `name` appears in reports and failures.
pub fn edge<T>(
    name: impl Into<String>,
    capacity: usize,
    policy: Backpressure,
    idle: Idler,
) -> (EdgeOut<T>, EdgeIn<T>) {
    let (producer, consumer) = RingBuffer::new(capacity);
    let close = Arc::new(CloseFlag::new());
    let out = EdgeOut {
        name: name.into(),
        producer,
        close: Arc::clone(&close),
        policy,
        idle,
        pushed: 0,
        full: 0,
    };
    (out, EdgeIn { consumer, close })
}

/// The producing end. Move-only and `Send`; never shared.
pub struct EdgeOut<T> {
    name: String,
    producer: rtrb::Producer<T>,
    close: Arc<CloseFlag>,
    policy: Backpressure,
    idle: Idler,
    pushed: u64,
    full: u64,
}

impl<T> EdgeOut<T> {
    /// Pushes if there is room, else hands the value back. For runners that must never
    /// block on this edge (the venue); counts the refusal as a full hit.
    #[inline]
    pub fn try_emit(&mut self, item: T) -> Result<(), T> {
        match self.producer.push(item) {
            Ok(()) => {
                self.pushed += 1;
                Ok(())
            }
            Err(PushError::Full(item)) => {
                self.full += 1;
                Err(item)
            }
        }
    }

    /// True when the consumer has dropped its end (its runner stopped).
    pub fn is_consumer_gone(&self) -> bool {
        crate::sys::abandon::consumer_gone(&self.producer)
    }

    pub fn stats(&self) -> EdgeStats {
        EdgeStats {
            name: self.name.clone(),
            capacity: self.producer.buffer().capacity(),
            policy: self.policy.as_str(),
            pushed: self.pushed,
            full: self.full,
        }
    }

    /// Overwrites `into`'s counters with this edge's, in place: a metrics publication
    /// allocates nothing (`into` came from [`EdgeOut::stats`] once).
    pub fn publish(&self, into: &mut EdgeStats) {
        into.pushed = self.pushed;
        into.full = self.full;
    }

    /// Slots in use now, as the producer sees them: a gauge, stale once read.
    pub fn occupancy(&self) -> usize {
        self.producer.buffer().capacity() - self.producer.slots()
    }

    #[cold]
    #[inline(never)]
    fn push_when_full(&mut self, mut item: T) {
        self.full += 1;
        // A consumer that died is the cause, not a full ring: say so whatever the policy.
        if self.is_consumer_gone() {
            std::panic::resume_unwind(Box::new(ConsumerGone(self.name.clone())));
        }
        if self.policy == Backpressure::Halt {
            panic!(
                "ring '{}' is full ({} slots) and its backpressure policy is 'halt'",
                self.name,
                self.producer.buffer().capacity()
            );
        }
        self.idle.reset();
        loop {
            self.idle.idle();
            match self.producer.push(item) {
                Ok(()) => {
                    self.pushed += 1;
                    return;
                }
                Err(PushError::Full(back)) => item = back,
            }
            if self.is_consumer_gone() {
                std::panic::resume_unwind(Box::new(ConsumerGone(self.name.clone())));
            }
        }
    }
}

impl<T> Emit<T> for EdgeOut<T> {
    #[inline]
    fn emit(&mut self, item: T) {
        match self.producer.push(item) {
            Ok(()) => self.pushed += 1,
            Err(PushError::Full(item)) => self.push_when_full(item),
        }
    }
}

impl<T> Drop for EdgeOut<T> {
    /// End of stream, also when the producing runner unwinds: the consumer then drains
    /// what was sent and ends, and the failure that caused it is in the stop signal.
    fn drop(&mut self) {
        self.close.close();
    }
}

/// The consuming end. Move-only and `Send`; never shared.
pub struct EdgeIn<T> {
    consumer: rtrb::Consumer<T>,
    close: Arc<CloseFlag>,
}

impl<T: Copy> EdgeIn<T> {
    /// Hands up to `max` available items to `f` in order, then frees their slots with one
    /// index update (rtrb `read_chunk`); returns how many.
    #[inline]
    pub fn read_batch(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let n = self.consumer.slots().min(max);
        if n == 0 {
            return 0;
        }
        let Ok(chunk) = self.consumer.read_chunk(n) else {
            unreachable!("slots() reported {n} readable")
        };
        let (a, b) = chunk.as_slices();
        for &item in a.iter().chain(b) {
            f(item);
        }
        chunk.commit_all();
        n
    }

    /// True once the producer has closed and every item has been read: nothing more can
    /// arrive. The flag is read *before* emptiness is checked — the order the drain
    /// protocol depends on (see [`crate::sys::close`]).
    #[inline]
    pub fn is_finished(&self) -> bool {
        self.close.is_closed() && self.consumer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::idle::IdleStrategy;

    fn idler() -> Idler {
        Idler::new(IdleStrategy::SpinThenYield { spins: 10 })
    }

    #[test]
    fn delivers_in_order_and_finishes_after_close_and_drain() {
        let (mut tx, mut rx) = edge::<u32>("t", 4, Backpressure::Spin, idler());
        for i in 0..3 {
            tx.emit(i);
        }
        assert!(!rx.is_finished());
        drop(tx);
        assert!(!rx.is_finished(), "closed but not drained");
        let mut got = Vec::new();
        assert_eq!(rx.read_batch(2, |x| got.push(x)), 2);
        assert_eq!(rx.read_batch(8, |x| got.push(x)), 1);
        assert_eq!(got, [0, 1, 2]);
        assert!(rx.is_finished());
    }

    #[test]
    fn spin_policy_waits_for_room_and_counts_it() {
        let (mut tx, mut rx) = edge::<u32>("t", 2, Backpressure::Spin, idler());
        let consumer = std::thread::spawn(move || {
            let mut got = Vec::new();
            while !rx.is_finished() {
                rx.read_batch(1, |x| got.push(x));
            }
            got
        });
        for i in 0..100 {
            tx.emit(i);
        }
        let stats = tx.stats();
        drop(tx);
        assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
        assert_eq!(stats.pushed, 100);
    }

    #[test]
    fn halt_policy_panics_naming_the_ring() {
        let (mut tx, _rx) = edge::<u32>("shard0/orders", 1, Backpressure::Halt, idler());
        tx.emit(1);
        let err =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.emit(2))).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("shard0/orders") && msg.contains("halt"),
            "{msg}"
        );
    }

    /// A spinning producer stops rather than spin forever, and a halt ring reports the
    /// death rather than a full ring.
    #[test]
    fn a_full_ring_whose_consumer_is_gone_reports_the_death_under_every_policy() {
        for policy in [Backpressure::Spin, Backpressure::Halt] {
            let (mut tx, rx) = edge::<u32>("t", 1, policy, idler());
            tx.emit(1);
            drop(rx);
            let err =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.emit(2))).unwrap_err();
            assert!(err.downcast_ref::<ConsumerGone>().is_some(), "{policy:?}");
        }
    }

    #[test]
    fn try_emit_hands_back_when_full() {
        let (mut tx, _rx) = edge::<u32>("t", 1, Backpressure::Spin, idler());
        assert_eq!(tx.try_emit(1), Ok(()));
        assert_eq!(tx.try_emit(2), Err(2));
        assert_eq!((tx.stats().pushed, tx.stats().full), (1, 1));
    }
}
