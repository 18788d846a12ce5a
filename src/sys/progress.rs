//! A progress counter the source bumps once per batch and the owning thread reads to
//! print progress. Relaxed throughout: it is a display figure, ordering nothing.

use super::pad::CachePadded;
use super::sync::{AtomicU64, Ordering};

/// Padded: written by the source every batch, read by another thread once a second.
#[derive(Debug, Default)]
pub struct Progress {
    done: CachePadded<AtomicU64>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            done: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Relaxed, no partner: `get` needs the count only, not what came before it.
    #[inline]
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Relaxed, no partner: reads `add`'s count and nothing it might order.
    #[inline]
    pub fn get(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}
