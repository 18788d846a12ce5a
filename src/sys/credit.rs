//! The firm-wide credit pool: a limit that spans shards, without a lock.
//!
//! A firm-wide limit (gross notional, open exposure, loss) is a quantity of credit held
//! in one atomic. A shard draws a chunk before it commits any of it and keeps the chunk
//! locally, so most of its decisions touch only its own state; it returns what it no
//! longer needs (on a fill that closes exposure, on a cancel). The pool can never grant
//! more than its capacity: a draw is a compare-and-swap that takes credit only if that
//! much is still there, and a return is a `fetch_add`, which no concurrent draw can
//! overwrite. `loom-tests/tests/credit.rs` checks both in every interleaving.
//!
//! Only the amounts move through the atomic; the shard's own books say why. A draw that
//! finds the pool short takes nothing (no partial grant), so a shard either holds the
//! chunk it asked for or knows exactly that the firm-wide limit binds.

use super::pad::CachePadded;
use super::sync::{AtomicU64, Ordering};

/// Credit shared by every shard. Padded: every shard's draws and returns write it.
#[derive(Debug)]
pub struct CreditPool {
    available: CachePadded<AtomicU64>,
    capacity: u64,
}

impl CreditPool {
    /// A pool holding `capacity` units.
    pub fn new(capacity: u64) -> CreditPool {
        CreditPool {
            available: CachePadded::new(AtomicU64::new(capacity)),
            capacity,
        }
    }

    /// What the pool was created with.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Takes `amount` if the pool still holds that much; otherwise takes nothing and
    /// returns false.
    ///
    /// The CAS retries only when another shard drew or returned in between. Relaxed is
    /// enough: the counter is the whole protocol (read-modify-writes on one atomic are
    /// totally ordered), and a grant publishes no other data.
    #[inline]
    pub fn draw(&self, amount: u64) -> bool {
        let mut current = self.available.load(Ordering::Relaxed);
        loop {
            if current < amount {
                return false;
            }
            match self.available.compare_exchange_weak(
                current,
                current - amount,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Gives back `amount` drawn earlier. A `fetch_add`, so a concurrent draw or return
    /// can never overwrite it. Relaxed for the same reason as [`CreditPool::draw`].
    #[inline]
    pub fn give_back(&self, amount: u64) {
        let before = self.available.fetch_add(amount, Ordering::Relaxed);
        debug_assert!(
            before + amount <= self.capacity,
            "returned more credit than was drawn"
        );
    }

    /// Credit not held by any shard now. A snapshot for reports and status: by the time
    /// a caller reads it a shard may have drawn or returned.
    pub fn available(&self) -> u64 {
        self.available.load(Ordering::Relaxed)
    }
}

/// One shard's share of a [`CreditPool`]: what it holds and what it has committed.
///
/// Plain fields, owned by the shard's thread. It draws whole chunks when a commitment
/// needs more than it holds and returns whatever exceeds one chunk of headroom, so a
/// shard trading back and forth around one level does not hit the shared atomic on every
/// decision.
#[derive(Debug)]
pub struct CreditShare {
    held: u64,
    used: u64,
    chunk: u64,
}

impl CreditShare {
    /// A share that draws `chunk` units at a time (at least 1).
    pub fn new(chunk: u64) -> CreditShare {
        CreditShare {
            held: 0,
            used: 0,
            chunk: chunk.max(1),
        }
    }

    /// Commits `amount` more, drawing from `pool` as needed. False (and nothing
    /// committed) when the pool cannot cover it: the firm-wide limit binds.
    #[inline]
    pub fn commit(&mut self, pool: &CreditPool, amount: u64) -> bool {
        let need = self.used.saturating_add(amount);
        if need > self.held {
            let short = need - self.held;
            // Whole chunks, so the next commitments are local; the exact shortfall when
            // a whole chunk is not there, so the limit binds at the pool's capacity and
            // not a chunk earlier.
            let chunked = short.div_ceil(self.chunk).saturating_mul(self.chunk);
            if pool.draw(chunked) {
                self.held += chunked;
            } else if pool.draw(short) {
                self.held += short;
            } else {
                return false;
            }
        }
        self.used = need;
        true
    }

    /// Releases `amount` of what was committed (clamped to what is) and returns to
    /// `pool` whatever exceeds one chunk of headroom.
    #[inline]
    pub fn release(&mut self, pool: &CreditPool, amount: u64) {
        self.used -= amount.min(self.used);
        let keep = self.used.saturating_add(self.chunk);
        if self.held > keep {
            pool.give_back(self.held - keep);
            self.held = keep;
        }
    }

    /// Returns everything held beyond what is committed (the shard is done, or halted).
    pub fn settle(&mut self, pool: &CreditPool) {
        if self.held > self.used {
            pool.give_back(self.held - self.used);
            self.held = self.used;
        }
    }

    /// Units committed now.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Units drawn from the pool and not yet returned.
    pub fn held(&self) -> u64 {
        self.held
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_draw_takes_all_or_nothing() {
        let pool = CreditPool::new(10);
        assert!(pool.draw(7));
        assert!(!pool.draw(4), "only 3 left");
        assert_eq!(pool.available(), 3);
        assert!(pool.draw(3));
        assert_eq!(pool.available(), 0);
        pool.give_back(10);
        assert_eq!(pool.available(), 10);
    }

    #[test]
    fn a_share_draws_chunks_and_binds_at_the_pool_capacity() {
        let pool = CreditPool::new(250);
        let mut share = CreditShare::new(100);
        assert!(share.commit(&pool, 30));
        assert_eq!(
            (share.used(), share.held(), pool.available()),
            (30, 100, 150)
        );
        assert!(share.commit(&pool, 150), "two more chunks");
        assert_eq!((share.held(), pool.available()), (200, 50));
        // A whole chunk is not there, the exact shortfall is.
        assert!(share.commit(&pool, 70));
        assert_eq!(
            (share.used(), share.held(), pool.available()),
            (250, 250, 0)
        );
        assert!(!share.commit(&pool, 1), "the limit binds");
        assert_eq!(share.used(), 250, "a refused commitment commits nothing");
    }

    #[test]
    fn a_release_keeps_one_chunk_of_headroom_and_returns_the_rest() {
        let pool = CreditPool::new(1_000);
        let mut share = CreditShare::new(100);
        assert!(share.commit(&pool, 450));
        assert_eq!(share.held(), 500);
        share.release(&pool, 400);
        assert_eq!(
            (share.used(), share.held(), pool.available()),
            (50, 150, 850)
        );
        share.release(&pool, 1_000);
        assert_eq!((share.used(), share.held()), (0, 100));
        share.settle(&pool);
        assert_eq!((share.held(), pool.available()), (0, 1_000));
    }

    #[test]
    fn shards_on_threads_never_hold_more_than_the_pool_and_lose_nothing() {
        let pool = std::sync::Arc::new(CreditPool::new(1_000));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let pool = std::sync::Arc::clone(&pool);
                std::thread::spawn(move || {
                    let mut share = CreditShare::new(7 + t);
                    for i in 0..20_000u64 {
                        if !share.commit(&pool, i % 13) {
                            share.release(&pool, i % 29);
                        }
                        if i % 3 == 0 {
                            share.release(&pool, i % 17);
                        }
                        assert!(share.held() <= pool.capacity());
                    }
                    share.release(&pool, u64::MAX);
                    share.settle(&pool);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(pool.available(), 1_000, "every unit came back");
    }
}
