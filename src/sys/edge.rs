//! A ring edge: one bounded SPSC ring between two runners.
//!
//! The ring is `rtrb` or our own [`crate::sys::ring`] (a sequence number in each slot),
//! as the topology says per edge ([`RingKind`]); a stage never knows which. The edge adds
//! what both leave to the caller: a named backpressure policy with a counter of every
//! time it was hit, and an explicit end-of-stream flag ([`crate::sys::CloseFlag`]) so the
//! drain protocol cannot lose the last items.
//!
//! [`Emit`], the trait every producing end implements, and [`BATCH`], the read batch of
//! every consumer, live here too: stages, sources and venues produce through them from
//! below the runtime, so none of them imports upward.

use std::sync::Arc;

use rtrb::{PushError, RingBuffer};
use serde::Deserialize;

use super::idle::Idler;
use super::ring::{RingConsumer, RingProducer, Zeroable, ring, zeroed};
use crate::msg::RawFrame;
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

/// Which ring an edge is built on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingKind {
    /// `rtrb`: head and tail indices, each on its own line; any capacity.
    Rtrb,
    /// [`crate::sys::ring`]: a sequence number in each slot's line, written in place;
    /// the capacity a power of two of at least 2.
    Seq,
}

impl RingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RingKind::Rtrb => "rtrb",
            RingKind::Seq => "seq",
        }
    }

    /// Why `capacity` slots cannot be built on this ring, if they cannot.
    pub fn capacity_problem(self, capacity: usize) -> Option<String> {
        match self {
            RingKind::Rtrb => (capacity == 0).then(|| "0 slots".to_string()),
            RingKind::Seq => (!capacity.is_power_of_two() || capacity < 2).then(|| {
                format!("{capacity} slots; a \"seq\" ring takes a power of two of at least 2")
            }),
        }
    }
}

// SAFETY: a frame is integers only (`ts_recv`, `len`, the byte array), so zero bytes are
// a frame: an empty one, which no writer sends (each sets `len` and its bytes).
unsafe impl Zeroable for RawFrame {}

/// Creates an rtrb ring of `capacity` slots; `name` appears in reports and failures.
pub fn edge<T: Copy + Send>(
    name: impl Into<String>,
    capacity: usize,
    policy: Backpressure,
    idle: Idler,
) -> (EdgeOut<T>, EdgeIn<T>) {
    edge_on(RingKind::Rtrb, name, capacity, policy, idle)
}

/// Creates a ring of `kind` with `capacity` slots (see [`RingKind::capacity_problem`]).
pub fn edge_on<T: Copy + Send>(
    kind: RingKind,
    name: impl Into<String>,
    capacity: usize,
    policy: Backpressure,
    idle: Idler,
) -> (EdgeOut<T>, EdgeIn<T>) {
    let (tx, rx) = match kind {
        RingKind::Rtrb => {
            let (producer, consumer) = RingBuffer::new(capacity);
            (Tx::Rtrb(producer), Rx::Rtrb(consumer))
        }
        RingKind::Seq => {
            let (producer, consumer) = ring(capacity);
            (Tx::Seq(producer), Rx::Seq(consumer))
        }
    };
    let close = Arc::new(CloseFlag::new());
    let out = EdgeOut {
        name: name.into(),
        tx,
        close: Arc::clone(&close),
        policy,
        idle,
        pushed: 0,
        full: 0,
    };
    (out, EdgeIn { rx, close })
}

/// The producing half of either ring. A match per push: the kind never changes, so the
/// branch is always predicted.
enum Tx<T> {
    Rtrb(rtrb::Producer<T>),
    Seq(RingProducer<T>),
}

impl<T: Copy> Tx<T> {
    #[inline]
    fn push(&mut self, item: T) -> Result<(), T> {
        match self {
            Tx::Rtrb(p) => p.push(item).map_err(|PushError::Full(item)| item),
            Tx::Seq(p) => p.try_push(item),
        }
    }
}

impl<T> Tx<T> {
    fn capacity(&self) -> usize {
        match self {
            Tx::Rtrb(p) => p.buffer().capacity(),
            Tx::Seq(p) => p.capacity(),
        }
    }

    fn occupancy(&self) -> usize {
        match self {
            Tx::Rtrb(p) => p.buffer().capacity() - p.slots(),
            Tx::Seq(p) => p.occupancy(),
        }
    }

    fn is_consumer_gone(&self) -> bool {
        match self {
            Tx::Rtrb(p) => crate::sys::abandon::consumer_gone(p),
            Tx::Seq(p) => p.is_consumer_gone(),
        }
    }
}

/// The producing end. Move-only and `Send`; never shared.
pub struct EdgeOut<T> {
    name: String,
    tx: Tx<T>,
    close: Arc<CloseFlag>,
    policy: Backpressure,
    idle: Idler,
    pushed: u64,
    full: u64,
}

impl<T: Copy> EdgeOut<T> {
    /// Pushes if there is room, else hands the value back. For runners that must never
    /// block on this edge (the venue); counts the refusal as a full hit.
    #[inline]
    pub fn try_emit(&mut self, item: T) -> Result<(), T> {
        match self.tx.push(item) {
            Ok(()) => {
                self.pushed += 1;
                Ok(())
            }
            Err(item) => {
                self.full += 1;
                Err(item)
            }
        }
    }

    /// The ring is full: applies the policy. A consumer that died is the cause, not a
    /// full ring: say so whatever the policy.
    #[cold]
    #[inline(never)]
    fn on_full(&mut self) {
        self.full += 1;
        self.stop_if_consumer_gone();
        if self.policy == Backpressure::Halt {
            panic!(
                "ring '{}' is full ({} slots) and its backpressure policy is 'halt'",
                self.name,
                self.tx.capacity()
            );
        }
        self.idle.reset();
    }
}

impl<T> EdgeOut<T> {
    /// True when the consumer has dropped its end (its runner stopped).
    pub fn is_consumer_gone(&self) -> bool {
        self.tx.is_consumer_gone()
    }

    pub fn stats(&self) -> EdgeStats {
        EdgeStats {
            name: self.name.clone(),
            capacity: self.tx.capacity(),
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
        self.tx.occupancy()
    }

    /// Stops the runner, quietly, if the consumer died while this producer waited.
    #[cold]
    #[inline(never)]
    fn stop_if_consumer_gone(&self) {
        if self.is_consumer_gone() {
            std::panic::resume_unwind(Box::new(ConsumerGone(self.name.clone())));
        }
    }
}

impl<T: Zeroable> EdgeOut<T> {
    /// Emits the value `fill` writes. On a `seq` ring `fill` writes straight into the
    /// slot (finding the slot's last value, or zeroes: it sets every field it sends); on
    /// rtrb it fills a zeroed value that is then pushed. Backpressure as [`Emit::emit`].
    #[inline]
    pub fn emit_with(&mut self, fill: impl Fn(&mut T)) {
        let Tx::Seq(p) = &mut self.tx else {
            let mut item = zeroed();
            fill(&mut item);
            return self.emit(item);
        };
        if !p.try_push_with(&fill) {
            self.on_full();
            loop {
                self.idle.idle();
                if let Tx::Seq(p) = &mut self.tx
                    && p.try_push_with(&fill)
                {
                    break;
                }
                self.stop_if_consumer_gone();
            }
        }
        self.pushed += 1;
    }
}

impl<T: Copy> Emit<T> for EdgeOut<T> {
    #[inline]
    fn emit(&mut self, item: T) {
        if let Err(mut item) = self.tx.push(item) {
            self.on_full();
            loop {
                self.idle.idle();
                match self.tx.push(item) {
                    Ok(()) => break,
                    Err(back) => item = back,
                }
                self.stop_if_consumer_gone();
            }
        }
        self.pushed += 1;
    }
}

impl<T> Drop for EdgeOut<T> {
    /// End of stream, also when the producing runner unwinds: the consumer then drains
    /// what was sent and ends, and the failure that caused it is in the stop signal.
    fn drop(&mut self) {
        self.close.close();
    }
}

/// The consuming half of either ring.
enum Rx<T> {
    Rtrb(rtrb::Consumer<T>),
    Seq(RingConsumer<T>),
}

/// The consuming end. Move-only and `Send`; never shared.
pub struct EdgeIn<T> {
    rx: Rx<T>,
    close: Arc<CloseFlag>,
}

impl<T: Copy> EdgeIn<T> {
    /// Hands up to `max` available items to `f` in order and frees their slots: on rtrb
    /// with one index update (`read_chunk`), on a `seq` ring slot by slot; returns how
    /// many.
    #[inline]
    pub fn read_batch(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        match &mut self.rx {
            Rx::Rtrb(consumer) => {
                let n = consumer.slots().min(max);
                if n == 0 {
                    return 0;
                }
                let Ok(chunk) = consumer.read_chunk(n) else {
                    unreachable!("slots() reported {n} readable")
                };
                let (a, b) = chunk.as_slices();
                for &item in a.iter().chain(b) {
                    f(item);
                }
                chunk.commit_all();
                n
            }
            Rx::Seq(consumer) => consumer.read_batch(max, f),
        }
    }

    /// True once the producer has closed and every item has been read: nothing more can
    /// arrive. The flag is read *before* emptiness is checked — the order the drain
    /// protocol depends on (see [`crate::sys::close`]).
    #[inline]
    pub fn is_finished(&self) -> bool {
        self.close.is_closed()
            && match &self.rx {
                Rx::Rtrb(consumer) => consumer.is_empty(),
                Rx::Seq(consumer) => consumer.is_empty(),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::idle::IdleStrategy;

    const KINDS: [RingKind; 2] = [RingKind::Rtrb, RingKind::Seq];

    fn idler() -> Idler {
        Idler::new(IdleStrategy::SpinThenYield { spins: 10 })
    }

    fn on<T: Copy + Send>(
        kind: RingKind,
        name: &str,
        capacity: usize,
        policy: Backpressure,
    ) -> (EdgeOut<T>, EdgeIn<T>) {
        edge_on(kind, name, capacity, policy, idler())
    }

    #[test]
    fn delivers_in_order_and_finishes_after_close_and_drain() {
        for kind in KINDS {
            let (mut tx, mut rx) = on::<u32>(kind, "t", 4, Backpressure::Spin);
            for i in 0..3 {
                tx.emit(i);
            }
            assert!(!rx.is_finished());
            drop(tx);
            assert!(!rx.is_finished(), "{kind:?}: closed but not drained");
            let mut got = Vec::new();
            assert_eq!(rx.read_batch(2, |x| got.push(x)), 2);
            assert_eq!(rx.read_batch(8, |x| got.push(x)), 1);
            assert_eq!(got, [0, 1, 2]);
            assert!(rx.is_finished(), "{kind:?}");
        }
    }

    #[test]
    fn spin_policy_waits_for_room_and_counts_it() {
        for kind in KINDS {
            let (mut tx, mut rx) = on::<u32>(kind, "t", 2, Backpressure::Spin);
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
            assert_eq!(stats.pushed, 100, "{kind:?}");
        }
    }

    #[test]
    fn halt_policy_panics_naming_the_ring() {
        for kind in KINDS {
            let (mut tx, _rx) = on::<u32>(kind, "shard0/orders", 2, Backpressure::Halt);
            tx.emit(1);
            tx.emit(2);
            let err =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.emit(3))).unwrap_err();
            let msg = err.downcast_ref::<String>().unwrap();
            assert!(
                msg.contains("shard0/orders") && msg.contains("halt"),
                "{kind:?}: {msg}"
            );
        }
    }

    /// A spinning producer stops rather than spin forever, and a halt ring reports the
    /// death rather than a full ring; in place or not.
    #[test]
    fn a_full_ring_whose_consumer_is_gone_reports_the_death_under_every_policy() {
        for kind in KINDS {
            for policy in [Backpressure::Spin, Backpressure::Halt] {
                let (mut tx, rx) = on::<u64>(kind, "t", 2, policy);
                tx.emit(1);
                tx.emit(2);
                drop(rx);
                let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.emit(3)))
                    .unwrap_err();
                assert!(
                    err.downcast_ref::<ConsumerGone>().is_some(),
                    "{kind:?} {policy:?}"
                );
                let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    tx.emit_with(|v| *v = 3)
                }))
                .unwrap_err();
                assert!(
                    err.downcast_ref::<ConsumerGone>().is_some(),
                    "{kind:?} {policy:?}"
                );
            }
        }
    }

    #[test]
    fn try_emit_hands_back_when_full() {
        for kind in KINDS {
            let (mut tx, _rx) = on::<u32>(kind, "t", 2, Backpressure::Spin);
            assert_eq!(tx.try_emit(1), Ok(()));
            assert_eq!(tx.try_emit(2), Ok(()));
            assert_eq!(tx.try_emit(3), Err(3));
            assert_eq!((tx.stats().pushed, tx.stats().full), (2, 1), "{kind:?}");
            assert_eq!(tx.occupancy(), 2, "{kind:?}");
        }
    }

    /// Frames written in place arrive as built ones do, on either ring, through a wrap
    /// and a full ring: a shorter frame after a longer one carries its own length and
    /// bytes.
    #[test]
    fn frames_written_in_place_arrive_as_built_ones() {
        let messages: Vec<Vec<u8>> = (1..=40u8).map(|n| vec![n; usize::from(n)]).collect();
        for kind in KINDS {
            let (mut tx, mut rx) = on::<RawFrame>(kind, "t", 4, Backpressure::Spin);
            let consumer = std::thread::spawn(move || {
                let mut got = Vec::new();
                while !rx.is_finished() {
                    rx.read_batch(3, |f| got.push((f.ts_recv, f.message().to_vec())));
                }
                got
            });
            for (i, m) in messages.iter().enumerate() {
                tx.emit_with(|f| {
                    f.ts_recv = i as u64;
                    f.len = m.len() as u8;
                    f.bytes[..m.len()].copy_from_slice(m);
                });
            }
            assert_eq!(tx.stats().pushed, messages.len() as u64);
            drop(tx);
            let want: Vec<_> = messages
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, m)| (i as u64, m))
                .collect();
            assert_eq!(consumer.join().unwrap(), want, "{kind:?}");
        }
    }

    #[test]
    fn a_seq_ring_needs_a_power_of_two_of_at_least_two() {
        assert_eq!(RingKind::Seq.capacity_problem(16384), None);
        assert!(RingKind::Seq.capacity_problem(1).is_some());
        assert!(RingKind::Seq.capacity_problem(1000).is_some());
        assert_eq!(RingKind::Rtrb.capacity_problem(1000), None);
        assert!(RingKind::Rtrb.capacity_problem(0).is_some());
    }
}
