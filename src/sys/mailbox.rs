//! A one-slot mailbox for snapshots a hot thread publishes and another thread reads:
//! the runners' metrics (`runtime::metrics`).
//!
//! The writer never waits: it fills the slot in place under a `try_lock` and skips the
//! publication when a reader holds the slot (the next one comes a period later). A
//! seqlock would need the reader to copy bytes that may be torn mid-copy, which only
//! `Copy` data survives; a snapshot holds histograms (213 KiB each), so the slot is
//! exclusive instead and a reader sees one whole publication or the one before it.
//! Filling in place lets the writer reuse the slot's allocations: publishing allocates
//! nothing once the slot has its shape.

use super::sync::Mutex;

pub struct Mailbox<T> {
    slot: Mutex<Published<T>>,
}

struct Published<T> {
    value: T,
    /// Publications so far: 0 until the writer's first.
    count: u64,
}

impl<T> Mailbox<T> {
    /// A mailbox whose slot starts as `shape`: the writer overwrites it in place, so
    /// `shape` should already hold whatever the writer's figures need room for.
    pub fn new(shape: T) -> Mailbox<T> {
        Mailbox {
            slot: Mutex::new(Published {
                value: shape,
                count: 0,
            }),
        }
    }

    /// Overwrites the slot with `fill`, unless a reader holds it; returns whether it
    /// published. Never blocks.
    pub fn try_publish(&self, fill: impl FnOnce(&mut T)) -> bool {
        self.slot
            .try_with(|p| {
                fill(&mut p.value);
                p.count += 1;
            })
            .is_some()
    }

    /// Publishes, waiting for a reader to let go: for the writer's last publication,
    /// which must not be skipped.
    pub fn publish(&self, fill: impl FnOnce(&mut T)) {
        self.slot.with(|p| {
            fill(&mut p.value);
            p.count += 1;
        });
    }

    /// Reads the latest whole publication and how many there have been (0: the slot
    /// still holds its shape). The writer skips publishing while `read` runs, so keep
    /// `read` short.
    pub fn read<R>(&self, read: impl FnOnce(&T, u64) -> R) -> R {
        self.slot.with(|p| read(&p.value, p.count))
    }
}
