//! A reference SPSC ring on loom atomics, with rtrb's orderings, so the drain protocol
//! built on [`crate::sys::CloseFlag`] can be model-checked (rtrb itself is not
//! loom-aware).
//!
//! Orderings mirror rtrb 0.3: `push` writes the slot, then stores `tail` with Release;
//! `pop` loads `tail` with Acquire before reading the slot, and stores `head` with
//! Release; `push` loads `head` with Acquire before reusing a slot.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};

struct Shared {
    slots: Vec<UnsafeCell<u64>>,
    head: AtomicUsize,
    tail: AtomicUsize,
}

// SAFETY: each slot is written only by the producer while it is outside [head, tail)
// and read only by the consumer while it is inside, as published by the Release/Acquire
// pairs on `head` and `tail`; loom checks exactly that.
unsafe impl Sync for Shared {}

pub struct Producer(Arc<Shared>);
pub struct Consumer(Arc<Shared>);

pub fn ring(capacity: usize) -> (Producer, Consumer) {
    let shared = Arc::new(Shared {
        slots: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
    });
    (Producer(Arc::clone(&shared)), Consumer(shared))
}

impl Producer {
    /// Pushes `v`, or hands it back when full.
    pub fn push(&self, v: u64) -> Result<(), u64> {
        let s = &*self.0;
        let tail = s.tail.load(Ordering::Relaxed);
        let head = s.head.load(Ordering::Acquire);
        if tail - head == s.slots.len() {
            return Err(v);
        }
        // SAFETY: the slot at `tail` is outside [head, tail): the consumer is not reading it.
        s.slots[tail % s.slots.len()].with_mut(|p| unsafe { *p = v });
        s.tail.store(tail + 1, Ordering::Release);
        Ok(())
    }
}

impl Consumer {
    pub fn pop(&self) -> Option<u64> {
        let s = &*self.0;
        let head = s.head.load(Ordering::Relaxed);
        let tail = s.tail.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        // SAFETY: the slot at `head` is inside [head, tail), published by the Release on tail.
        let v = s.slots[head % s.slots.len()].with(|p| unsafe { *p });
        s.head.store(head + 1, Ordering::Release);
        Some(v)
    }

    pub fn is_empty(&self) -> bool {
        let s = &*self.0;
        s.head.load(Ordering::Relaxed) == s.tail.load(Ordering::Acquire)
    }
}
