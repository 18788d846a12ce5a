//! A firm-wide count per one-second window of event time, shared by every shard without
//! a lock: the firm-wide message rate (`New`s and `Cancel`s of every shard together).
//!
//! A window's slot is one atomic holding the window's index (high 32 bits) and its count
//! (low 32 bits), so a shard that moves the slot on to a new window and one that counts
//! in it can never both win: each update is a compare-and-swap of the pair. Shards'
//! clocks differ by what waits in their rings: a few queued messages span seconds of
//! event time where the feed is sparse (two slots were not enough on the bundled
//! session's opening with 2 shards). So [`SLOTS`] windows are kept, window `w` in slot
//! `w % SLOTS`, and a shard up to `SLOTS − 1` seconds behind another still counts in
//! its own second exactly. One further behind finds its slot taken by a later window and
//! counts into that one: counting early messages late can only make the limit bind
//! sooner, never later.

use super::pad::CachePadded;
use super::sync::{AtomicU64, Ordering};

/// How many one-second windows are kept: one minute of event time between the furthest
/// shard ahead and the furthest behind, which every shard is allowed (8 KiB).
pub const SLOTS: usize = 64;

/// The `New`s and `Cancel`s of the latest [`SLOTS`] one-second windows, every shard
/// together. Padded: every shard writes them.
#[derive(Debug)]
pub struct WindowCount {
    slots: [CachePadded<AtomicU64>; SLOTS],
}

const COUNT_BITS: u32 = 32;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn pack(window: u32, count: u32) -> u64 {
    (u64::from(window) << COUNT_BITS) | u64::from(count)
}

fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> COUNT_BITS) as u32, (packed & COUNT_MASK) as u32)
}

impl Default for WindowCount {
    fn default() -> WindowCount {
        WindowCount::new()
    }
}

impl WindowCount {
    /// Nothing counted yet (windows 0 to `SLOTS − 1`, count 0).
    pub fn new() -> WindowCount {
        WindowCount {
            slots: std::array::from_fn(|w| CachePadded::new(AtomicU64::new(pack(w as u32, 0)))),
        }
    }

    fn slot(&self, window: u32) -> &AtomicU64 {
        &self.slots[window as usize % SLOTS]
    }

    /// Counts one message in `window` if fewer than `max` are counted there; returns
    /// whether it did. Exact across shards: no interleaving counts past `max` through
    /// this call.
    ///
    /// Relaxed: the pair is the whole protocol (read-modify-writes on one atomic are
    /// totally ordered) and a count publishes no other data.
    #[inline]
    pub fn try_add(&self, window: u32, max: u32) -> bool {
        self.update(window, |count| (count < max).then(|| count + 1))
            .is_some()
    }

    /// Counts one message in `window` whatever the count (a cancel, which is never
    /// refused); returns the count with it.
    #[inline]
    pub fn add(&self, window: u32) -> u32 {
        self.update(window, |count| Some(count.saturating_add(1)))
            .unwrap_or(u32::MAX)
    }

    /// The count of `window` (of the later window in its slot, if one took it).
    pub fn count(&self, window: u32) -> u32 {
        let (latest, count) = unpack(self.slot(window).load(Ordering::Relaxed));
        if window > latest { 0 } else { count }
    }

    /// Applies `next` to the count of `window` (restarted at 0 when `window` is later
    /// than its slot's); `None` from `next` leaves it as it was.
    #[inline]
    fn update(&self, window: u32, next: impl Fn(u32) -> Option<u32>) -> Option<u32> {
        let slot = self.slot(window);
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            let (latest, count) = unpack(current);
            let (at, count) = if window > latest {
                (window, 0)
            } else {
                (latest, count)
            };
            let counted = next(count)?;
            match slot.compare_exchange_weak(
                current,
                pack(at, counted),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(counted),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counts_per_window_and_refuses_past_the_limit() {
        let w = WindowCount::new();
        assert!(w.try_add(100, 2));
        assert!(w.try_add(100, 2));
        assert!(!w.try_add(100, 2), "two already in window 100");
        assert_eq!(w.add(100), 3, "a cancel is counted past the limit");
        assert_eq!(w.count(100), 3);
        assert!(w.try_add(101, 2), "a new window starts at 0");
        assert_eq!(w.count(101), 1);
        assert_eq!(w.count(102), 0);
        assert_eq!(
            w.count(100),
            3,
            "a shard a second behind still counts in its own"
        );
        assert!(!w.try_add(100, 2));
        let late = 101 - SLOTS as u32;
        assert_eq!(
            w.add(late),
            2,
            "SLOTS seconds behind: into the later window"
        );
        assert!(!w.try_add(late, 2));
        assert_eq!(w.count(101), 2);
    }

    #[test]
    fn shards_on_threads_never_count_past_the_limit() {
        let w = std::sync::Arc::new(WindowCount::new());
        let granted: u32 = (0..4)
            .map(|_| {
                let w = std::sync::Arc::clone(&w);
                std::thread::spawn(move || (0..10_000).filter(|_| w.try_add(9, 1_000)).count())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap() as u32)
            .sum();
        assert_eq!(granted, 1_000);
        assert_eq!(w.count(9), 1_000);
    }
}
