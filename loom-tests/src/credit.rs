//! The negative control for the credit pool's model check: a draw written as a load, a
//! check and a separate store (the obvious mistake), which two shards can both pass with
//! the same reading and so be granted more than the pool holds. Loom must find that.

use loom::sync::atomic::{AtomicU64, Ordering};

pub struct RacyPool {
    available: AtomicU64,
}

impl RacyPool {
    pub fn new(capacity: u64) -> RacyPool {
        RacyPool {
            available: AtomicU64::new(capacity),
        }
    }

    pub fn draw(&self, amount: u64) -> bool {
        let current = self.available.load(Ordering::Relaxed);
        if current < amount {
            return false;
        }
        self.available.store(current - amount, Ordering::Relaxed);
        true
    }
}
