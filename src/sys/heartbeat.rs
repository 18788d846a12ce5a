//! A runner's heartbeat: a counter its own thread bumps as it enters and leaves each pass
//! of its duty cycle, and by two for each event it hands on inside a pass, read by the
//! watchdog (`runtime::health`) every period. Odd: the runner is inside a pass (it has
//! taken control events or data and not finished them); even: between passes, or done.
//! An odd count that stops moving is a runner stuck on one event it holds; an even one
//! is idle, never stalled. Per event, not per pass: a pass of 256 events pushing into a
//! full ring lasts as long as the slowest runner downstream, and once took over 2 s on
//! the 2-core test host under the whole suite (a false stall, a changed digest); an event
//! that long is a stall.
//!
//! Relaxed throughout: the count is the whole message and orders no other data (the
//! watchdog reads nothing the runner wrote besides it), so there is no partner to pair
//! with and no interleaving for loom to check; the module is left out of the loom build.

use super::pad::CachePadded;
use super::sync::{Arc, AtomicU64, Ordering};

/// Padded: written by its runner for every event, read by the watchdog once a period; it
/// must not share a line with anything the runner's neighbours write.
#[derive(Debug, Default)]
pub struct Heartbeat {
    count: CachePadded<AtomicU64>,
}

impl Heartbeat {
    pub fn new() -> Heartbeat {
        Heartbeat {
            count: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// The count now. Relaxed, no partner: the watchdog needs the number only.
    #[inline]
    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether `count` was read inside a pass.
    #[inline]
    pub fn is_inside(count: u64) -> bool {
        count % 2 == 1
    }

    /// Heartbeats, from a count: passes completed plus events handed on.
    #[inline]
    pub fn beats(count: u64) -> u64 {
        count / 2
    }
}

/// The one writer of a [`Heartbeat`], owned by its runner: it keeps the count locally, so
/// a beat is a plain store (no read-modify-write, no lock prefix).
#[derive(Debug)]
pub struct Pulse {
    shared: Arc<Heartbeat>,
    count: u64,
}

impl Pulse {
    /// The writer of `shared`, which must have no other: counts would interleave.
    pub fn new(shared: Arc<Heartbeat>) -> Pulse {
        let count = shared.get();
        Pulse { shared, count }
    }

    /// The runner starts a pass. Relaxed, no partner (see the module's note).
    #[inline]
    pub fn enter(&mut self) {
        debug_assert!(!Heartbeat::is_inside(self.count), "enter twice");
        self.count += 1;
        self.shared.count.store(self.count, Ordering::Relaxed);
    }

    /// The runner handed on one event of its pass: by two, so the count stays odd.
    /// Relaxed, no partner; one add and one plain store to a line only this thread
    /// writes.
    #[inline]
    pub fn tick(&mut self) {
        self.count += 2;
        self.shared.count.store(self.count, Ordering::Relaxed);
    }

    /// The runner finished its pass. Relaxed, no partner.
    #[inline]
    pub fn leave(&mut self) {
        debug_assert!(Heartbeat::is_inside(self.count), "leave outside a pass");
        self.count += 1;
        self.shared.count.store(self.count, Ordering::Relaxed);
    }
}

/// A runner that ends, by a panic too (which skips its `leave`), is not inside a pass:
/// the watchdog must not call a dead runner stalled and halt the draining run for it.
impl Drop for Pulse {
    fn drop(&mut self) {
        if Heartbeat::is_inside(self.count) {
            self.leave();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_is_odd_inside_and_even_between() {
        let beat = Arc::new(Heartbeat::new());
        let mut pulse = Pulse::new(Arc::clone(&beat));
        assert!(!Heartbeat::is_inside(beat.get()));
        pulse.enter();
        assert!(Heartbeat::is_inside(beat.get()));
        pulse.tick();
        assert!(Heartbeat::is_inside(beat.get()), "an event keeps it inside");
        pulse.leave();
        pulse.enter();
        pulse.leave();
        assert_eq!((beat.get(), Heartbeat::beats(beat.get())), (6, 3));
        assert!(!Heartbeat::is_inside(beat.get()));
    }

    #[test]
    fn a_writer_dropped_inside_a_pass_leaves_it() {
        let beat = Arc::new(Heartbeat::new());
        let mut pulse = Pulse::new(Arc::clone(&beat));
        pulse.enter();
        drop(pulse);
        assert_eq!(beat.get(), 2, "a runner that unwound is not stalled");
    }
}
