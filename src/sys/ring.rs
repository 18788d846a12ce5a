//! A bounded SPSC ring whose only shared state is a sequence number in each slot.
//!
//! rtrb (and every head/tail ring) makes the consumer read the producer's index, on its
//! own cache line, before it reads the slot: a message moves two lines between cores.
//! Here each slot carries its own sequence number beside the value (Vyukov's bounded
//! queue, specialised to one producer and one consumer):
//!
//! - slot `i` starts with `seq = i`: free for position `i`;
//! - the producer at position `p` waits for `seq == p`, writes the value, then stores
//!   `seq = p + 1` (Release): published;
//! - the consumer at position `p` waits for `seq == p + 1` (Acquire), reads the value,
//!   then stores `seq = p + capacity` (Release): free for the producer's next lap, which
//!   checks it with Acquire before it writes.
//!
//! Neither side reads an index the other writes, so there is no index to update, batched
//! or not: each side keeps its position in a plain field, and a hop touches only the
//! slot's line. With `#[repr(align(64))]`, a slot whose value is at most 56 bytes (align
//! ≤ 8) is exactly one cache line ([`slot_bytes`]). Values are written in place:
//! [`RingProducer::try_push_with`] hands the writer the slot's own value to fill, so a
//! message need not be built on the stack and copied in. Slots start zeroed, so that
//! needs a type for which zero bytes are a value ([`Zeroable`]); any `Copy` type can be
//! pushed whole ([`RingProducer::try_push`]).
//!
//! Model-checked by `loom-tests/tests/ring.rs`, which also checks that loom catches a
//! publish weakened to Relaxed (its negative control), and property-tested against a
//! `VecDeque` (`tests/ring.rs`). End of stream is the caller's
//! ([`crate::sys::CloseFlag`]), as for the rtrb edge.

use std::mem::MaybeUninit;

use super::sync::{Arc, AtomicU64, Ordering, UnsafeCell};

/// A `Copy` type whose all-zero bytes are a valid value (integers and arrays of them):
/// a ring's slot, zeroed at start, can then be filled in place before its first write.
///
/// # Safety
/// Every field of the type, padding aside, must accept all-zero bytes.
pub unsafe trait Zeroable: Copy {}

// SAFETY: an integer of zero bytes is 0.
unsafe impl Zeroable for u64 {}
// SAFETY: an array of zeroable values is zeroable element by element.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}

/// A value of `T` with every byte zero, for writers that fill a value field by field.
#[inline]
pub fn zeroed<T: Zeroable>() -> T {
    // SAFETY: `T: Zeroable` says zero bytes are a valid `T`.
    unsafe { MaybeUninit::zeroed().assume_init() }
}

#[repr(C, align(64))]
struct Slot<T> {
    seq: AtomicU64,
    /// Zeroed at start; a value once the producer has published this slot.
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Shared<T> {
    slots: Box<[Slot<T>]>,
    mask: u64,
    /// The ordering of the producer's publish: Release, except in the loom model's
    /// negative control.
    publish: Ordering,
}

// SAFETY: a slot's value is written only by the producer while the slot's `seq` says it
// is free for the producer's position, and read only by the consumer while `seq` says it
// is published for the consumer's; each hand-over is a Release store paired with an
// Acquire load of that `seq`, so the two never touch one value concurrently. `T: Send`
// because values move from one thread to the other.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; the shared state is only reached through the two ends.
unsafe impl<T: Send> Send for Shared<T> {}

/// Bytes per slot for values of type `T`: 64 (one cache line) when `T` is at most 56
/// bytes with alignment at most 8.
pub const fn slot_bytes<T>() -> usize {
    std::mem::size_of::<Slot<T>>()
}

/// A ring of `capacity` slots (a power of two, at least 2), every slot starting zeroed so
/// that a writer filling a slot in place ([`Zeroable`]) never exposes an uninitialised
/// byte.
///
/// # Panics
/// If `capacity` is not a power of two of at least 2: with one slot, "published for
/// position `p`" (`p + 1`) would read as "free for position `p + 1`" (the property
/// test in `tests/ring.rs` found it).
pub fn ring<T: Copy + Send>(capacity: usize) -> (RingProducer<T>, RingConsumer<T>) {
    with_publish(capacity, Ordering::Release)
}

/// The ring with its publish weakened, for loom's negative control: a consumer may then
/// see a slot published before the value written into it.
#[cfg(loom)]
pub fn ring_with_relaxed_publish<T: Copy + Send>(
    capacity: usize,
) -> (RingProducer<T>, RingConsumer<T>) {
    with_publish(capacity, Ordering::Relaxed)
}

fn with_publish<T: Copy + Send>(
    capacity: usize,
    publish: Ordering,
) -> (RingProducer<T>, RingConsumer<T>) {
    assert!(
        capacity.is_power_of_two() && capacity >= 2,
        "ring capacity {capacity} is not a power of two of at least 2"
    );
    let slots = (0..capacity as u64)
        .map(|i| Slot {
            seq: AtomicU64::new(i),
            value: UnsafeCell::new(MaybeUninit::zeroed()),
        })
        .collect();
    let shared = Arc::new(Shared {
        slots,
        mask: capacity as u64 - 1,
        publish,
    });
    (
        RingProducer {
            shared: Arc::clone(&shared),
            pos: 0,
        },
        RingConsumer { shared, pos: 0 },
    )
}

/// The producing end. Move-only; never shared.
pub struct RingProducer<T> {
    shared: Arc<Shared<T>>,
    /// The next position to write.
    pos: u64,
}

impl<T: Zeroable> RingProducer<T> {
    /// Fills the next slot in place with `fill` and publishes it; `false` (and `fill`
    /// not called) when the ring is full. `fill` finds the slot's last value (zeroes on
    /// the first lap) and sets every field it means to send.
    #[inline]
    pub fn try_push_with(&mut self, fill: impl FnOnce(&mut T)) -> bool {
        self.publish_next(|value| {
            // SAFETY: the slot holds a value, or zeroes, which `T: Zeroable` says are one.
            fill(unsafe { (*value).assume_init_mut() })
        })
    }
}

impl<T: Copy> RingProducer<T> {
    /// Pushes `item`, or hands it back when the ring is full.
    #[inline]
    pub fn try_push(&mut self, item: T) -> Result<(), T> {
        if self.publish_next(|value| {
            // SAFETY: `value` is the free slot `publish_next` hands over, ours alone
            // until published; writing a whole value needs nothing of what was there.
            unsafe { (*value).write(item) };
        }) {
            Ok(())
        } else {
            Err(item)
        }
    }

    /// Writes the next slot with `write`, which gets the only pointer to it, and
    /// publishes it; `false` (and `write` not called) when the ring is full.
    #[inline]
    fn publish_next(&mut self, write: impl FnOnce(*mut MaybeUninit<T>)) -> bool {
        let shared = &*self.shared;
        let slot = &shared.slots[(self.pos & shared.mask) as usize];
        // Acquire: pairs with the consumer's Release in `read_batch`, so its read of
        // this slot's previous value happened before the write below.
        if slot.seq.load(Ordering::Acquire) != self.pos {
            return false;
        }
        // `seq == pos` says the consumer has freed this slot for this position and will
        // not read it until the store below publishes it: no one else touches the value
        // now.
        slot.value.with_mut(write);
        // Release (in the pipeline): pairs with the consumer's Acquire in `read_batch`,
        // so the value written above is visible once this is.
        slot.seq.store(self.pos + 1, shared.publish);
        self.pos += 1;
        true
    }
}

impl<T> RingProducer<T> {
    /// The ring's capacity in slots.
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// Slots published and not yet read, as the producer sees them: a gauge, stale once
    /// read. Read positions are a prefix of the written ones, so a binary search over the
    /// last lap finds the consumer's position in log₂(capacity) loads (14 for the
    /// 16 Ki-slot feed ring); for metrics, never on the hot path.
    pub fn occupancy(&self) -> usize {
        let shared = &*self.shared;
        let unread = |q: u64| {
            // Relaxed: a gauge; nothing is read through what it says.
            shared.slots[(q & shared.mask) as usize]
                .seq
                .load(Ordering::Relaxed)
                == q + 1
        };
        let (mut lo, mut hi) = (self.pos.saturating_sub(shared.mask + 1), self.pos);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if unread(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        (self.pos - lo) as usize
    }

    /// True when the consumer has dropped its end.
    pub fn is_consumer_gone(&self) -> bool {
        let gone = Arc::strong_count(&self.shared) == 1;
        // Acquire fence after the count's load (Relaxed in std's Arc): pairs with the
        // Release decrement of the consumer's drop, as for rtrb in `abandon`. Only a
        // producer stopping on a full ring asks; it reads nothing after.
        super::sync::fence(Ordering::Acquire);
        gone
    }
}

/// The consuming end. Move-only; never shared.
pub struct RingConsumer<T> {
    shared: Arc<Shared<T>>,
    /// The next position to read.
    pos: u64,
}

impl<T: Copy> RingConsumer<T> {
    /// Hands up to `max` published values to `f` in order, freeing each slot as it goes;
    /// returns how many.
    #[inline]
    pub fn read_batch(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let shared = &*self.shared;
        let capacity = shared.slots.len() as u64;
        let mut n = 0;
        while n < max {
            let slot = &shared.slots[(self.pos & shared.mask) as usize];
            // Acquire: pairs with the producer's Release publish; the value is then
            // visible.
            if slot.seq.load(Ordering::Acquire) != self.pos + 1 {
                break;
            }
            // SAFETY: `seq == pos + 1` says the producer published this slot for this
            // position (so it holds a value) and will not write it again until the store
            // below frees it.
            let value = slot.value.with(|value| unsafe { (*value).assume_init() });
            // Release: pairs with the producer's Acquire in `publish_next`, so the read
            // above happens before its next write to this slot.
            slot.seq.store(self.pos + capacity, Ordering::Release);
            self.pos += 1;
            n += 1;
            f(value);
        }
        n
    }

    /// True when nothing is published at the consumer's position.
    #[inline]
    pub fn is_empty(&self) -> bool {
        let shared = &*self.shared;
        let slot = &shared.slots[(self.pos & shared.mask) as usize];
        slot.seq.load(Ordering::Acquire) != self.pos + 1
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_small_value_takes_one_cache_line() {
        assert_eq!(slot_bytes::<[u64; 7]>(), 64);
        assert_eq!(slot_bytes::<u64>(), 64);
    }

    #[test]
    fn fills_in_place_wraps_and_refuses_when_full() {
        let (mut tx, mut rx) = ring::<[u64; 2]>(2);
        assert!(tx.try_push_with(|s| s[0] = 1));
        assert!(tx.try_push_with(|s| s[1] = 2));
        assert!(!tx.try_push_with(|_| unreachable!("full: not called")));
        let mut got = Vec::new();
        assert_eq!(rx.read_batch(1, |v| got.push(v)), 1);
        assert!(tx.try_push_with(|s| s[1] = 3));
        assert_eq!(rx.read_batch(8, |v| got.push(v)), 2);
        assert!(rx.is_empty());
        // In place: the second lap's writer found the slot's old value, [1, 0], and set
        // one field of it. A writer sets every field it means to send.
        assert_eq!(got, [[1, 0], [0, 2], [1, 3]]);
    }

    #[test]
    fn moves_every_value_in_order_between_two_threads() {
        let (mut tx, mut rx) = ring::<u64>(8);
        let consumer = std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 10_000 {
                rx.read_batch(64, |v| got.push(v));
            }
            got
        });
        for i in 0..10_000u64 {
            let mut v = i;
            while let Err(back) = tx.try_push(v) {
                v = back;
                std::hint::spin_loop();
            }
        }
        assert_eq!(consumer.join().unwrap(), (0..10_000).collect::<Vec<_>>());
    }

    /// The gauge counts what is published and unread, across wraps, and any `Copy` type
    /// (here one with no zero value) goes through whole.
    #[test]
    fn occupancy_counts_the_unread_slots_and_whole_values_need_no_zero() {
        let (mut tx, mut rx) = ring::<std::num::NonZeroU8>(4);
        let one = std::num::NonZeroU8::MIN;
        assert_eq!(tx.occupancy(), 0);
        for pushed in 1..=4 {
            assert!(tx.try_push(one).is_ok());
            assert_eq!(tx.occupancy(), pushed);
        }
        assert_eq!(tx.try_push(one), Err(one));
        for round in 0..9 {
            assert_eq!(rx.read_batch(3, |_| {}), 3, "round {round}");
            assert_eq!(tx.occupancy(), 1);
            for _ in 0..3 {
                assert!(tx.try_push(one).is_ok());
            }
            assert_eq!(tx.occupancy(), 4);
        }
        assert_eq!(rx.read_batch(8, |_| {}), 4);
        assert_eq!(tx.occupancy(), 0);
    }

    #[test]
    #[should_panic(expected = "at least 2")]
    fn one_slot_is_refused() {
        let _ = ring::<u64>(1);
    }

    #[test]
    fn the_producer_sees_the_consumer_go() {
        let (tx, rx) = ring::<u64>(2);
        assert!(!tx.is_consumer_gone());
        drop(rx);
        assert!(tx.is_consumer_gone());
    }
}
