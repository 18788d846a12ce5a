//! Message pacing toward a venue that limits the whole firm's rate (IB: 50 messages a
//! second on one TWS connection): a token bucket per symbol, in event time.
//!
//! Where the bucket lives decides two promises. One bucket shared by every shard would
//! be firm-wide but needs an atomic, and which shard is refused would then depend on
//! which thread drew first, so a replay could decide differently. Instead each symbol
//! owns a fixed share, `rate / symbols` of the firm's rate, refilled by event time: the
//! shares sum to the firm's rate whatever the shard count, a symbol's decisions depend
//! on its own history alone (the same with 1 shard or 8, as every other check), and a
//! replay refuses the same orders. The price is headroom one quiet symbol cannot lend
//! to a busy one: with the 8 bundled symbols, 6.25 messages a second each.
//!
//! Burst: a symbol's bucket holds `rate / symbols` messages (at least one), so all the
//! buckets together hold at most one second of the firm's rate. Only with more symbols
//! than the rate (over 50) can the one-message floor let a burst of one message per
//! symbol exceed it; the sustained rate never does.
//!
//! Cancels are never refused (reducing exposure is always allowed) but take tokens, going
//! into debt if need be, so new orders wait for them: the venue counts every message.

/// Nanoseconds a second: units are kept as (message cost) × this, so a refill over any
/// interval is exact integer arithmetic.
const NS_PER_SEC: u64 = 1_000_000_000;

/// One symbol's share of the venue's pacing.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Tokens, in units of 1/`symbols` message × ns; negative after cancels in debt.
    level: i64,
    /// What one message costs: `symbols` × 1 s.
    cost: i64,
    /// The most the bucket holds.
    capacity: i64,
    /// Units added per nanosecond of event time: the firm's rate.
    rate: u64,
    /// Event time of the last refill.
    at: u64,
}

impl Bucket {
    /// A full bucket for one of `symbols` symbols sharing `rate` messages a second.
    ///
    /// # Panics
    /// If `rate` or `symbols` is 0.
    pub fn new(rate: u32, symbols: usize) -> Bucket {
        assert!(
            rate > 0 && symbols > 0,
            "pacing: rate and symbols are positive"
        );
        let symbols = u64::try_from(symbols).expect("a universe fits u64");
        let cost = symbols * NS_PER_SEC;
        let capacity = (u64::from(rate) * NS_PER_SEC).max(cost);
        Bucket {
            level: i64::try_from(capacity).expect("at most 2^32 × 1e9"),
            cost: i64::try_from(cost).expect("at most 65 536 × 1e9"),
            capacity: i64::try_from(capacity).expect("at most 2^32 × 1e9"),
            rate: u64::from(rate),
            at: 0,
        }
    }

    fn refill(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.at);
        self.at = self.at.max(now);
        let added = i64::try_from(elapsed.saturating_mul(self.rate)).unwrap_or(i64::MAX);
        self.level = self.level.saturating_add(added).min(self.capacity);
    }

    /// Whether a new order may go at `now`; takes its token if so.
    pub fn admit(&mut self, now: u64) -> bool {
        self.refill(now);
        if self.level < self.cost {
            return false;
        }
        self.level -= self.cost;
        true
    }

    /// A cancel went at `now`: it takes a token even from an empty bucket.
    pub fn spend(&mut self, now: u64) {
        self.refill(now);
        self.level -= self.cost;
    }

    /// Messages' worth of tokens now, for a rejection's record (rounded down).
    pub fn messages(&self) -> i64 {
        self.level.div_euclid(self.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_symbol_gets_its_share_of_the_firm_rate_and_refills_in_event_time() {
        // 50 msgs/s over 10 symbols: 5 messages of burst, then one every 200 ms.
        let mut b = Bucket::new(50, 10);
        let sent = (0..20).filter(|_| b.admit(1_000 * MS)).count();
        assert_eq!(sent, 5);
        assert!(!b.admit(1_000 * MS + 199 * MS));
        assert!(b.admit(1_000 * MS + 200 * MS));
        assert!(!b.admit(1_000 * MS + 200 * MS));
    }

    #[test]
    fn all_symbols_together_never_exceed_the_firm_rate_over_a_second() {
        let symbols = 8;
        let mut buckets: Vec<Bucket> = (0..symbols).map(|_| Bucket::new(50, symbols)).collect();
        // Every symbol tries every millisecond for 10 s: at most 50 a second sustained,
        // plus the one burst the full buckets hold (at most 50).
        let mut sent = 0u64;
        for t in 0..10_000u64 {
            for b in &mut buckets {
                sent += u64::from(b.admit(t * MS));
            }
        }
        assert!(sent <= 50 * 10 + 50, "{sent}");
        assert!(sent >= 50 * 10 - symbols as u64, "{sent}");
    }

    #[test]
    fn cancels_go_into_debt_and_hold_back_new_orders() {
        let mut b = Bucket::new(50, 25); // 2 messages of burst, one per 500 ms
        b.spend(0);
        b.spend(0);
        b.spend(0);
        assert_eq!(b.messages(), -1);
        assert!(!b.admit(999 * MS));
        assert!(b.admit(1_000 * MS));
    }

    #[test]
    fn more_symbols_than_the_rate_still_lets_each_send_one() {
        let mut b = Bucket::new(50, 200);
        assert!(b.admit(0));
        assert!(!b.admit(0));
        assert!(b.admit(4_000 * MS)); // 200 / 50 = 4 s a message
    }
}
