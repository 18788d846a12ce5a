//! Firm-wide limits across shards: each shard's share of a lock-free credit pool
//! ([`crate::sys::credit`]).
//!
//! Built so far: the firm-wide open notional, the notional of every live order of every
//! shard together (`[firm] max_open_notional`). A shard commits an order's notional
//! (limit price × shares) before the order is journaled or sent, and releases it as
//! reports close the order (fills, cancels, rejects), at the same limit price, so what a
//! shard has committed is exactly its live orders' notional. A proposal the pool cannot cover is
//! refused with `FIRM_OPEN_NOTIONAL`.
//!
//! While the pool never runs dry, every commitment succeeds whatever the other shards
//! did, so decisions do not depend on thread timing; once it binds, which shard is
//! refused depends on which drew first: that is the nature of a shared limit.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::Price;
use crate::sys::{CreditPool, CreditShare};

/// Most a firm-wide money limit may be: $1 trillion, as `[risk] max_notional`.
const MAX_FIRM_MONEY: Price = Price(1_000_000_000_000 * Price::SCALE);

/// `[firm]`: limits that span every shard. Every key is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmConfig {
    /// Notional of every live order of every shard together (decimal string).
    pub max_open_notional: Price,
    /// How much notional a shard draws from the firm-wide pool at a time (decimal
    /// string). Larger chunks touch the shared atomic less often; but each shard keeps
    /// up to one chunk of headroom it is not using, so the limit can bind up to
    /// shards × chunk before the pool's capacity is committed. It never binds later.
    pub chunk_notional: Price,
}

impl FirmConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        p.check(
            (Price(1)..=MAX_FIRM_MONEY).contains(&self.max_open_notional),
            "max_open_notional",
            format!("{}: use 0.0001 to {MAX_FIRM_MONEY}", self.max_open_notional),
        );
        p.check(
            Price(1) <= self.chunk_notional && self.chunk_notional <= self.max_open_notional,
            "chunk_notional",
            format!(
                "{}: use 0.0001 to max_open_notional ({})",
                self.chunk_notional, self.max_open_notional
            ),
        );
    }
}

/// The firm-wide pools, shared by every shard's risk.
#[derive(Debug)]
pub struct FirmPools {
    pub open_notional: CreditPool,
    chunk: u64,
}

impl FirmPools {
    /// # Panics
    /// If `config` would not pass `validate`.
    pub fn new(config: &FirmConfig) -> FirmPools {
        let units = |p: Price| u64::try_from(p.0).expect("validated: positive");
        FirmPools {
            open_notional: CreditPool::new(units(config.max_open_notional)),
            chunk: units(config.chunk_notional),
        }
    }
}

/// One shard's share of the firm-wide pools.
#[derive(Debug)]
pub struct FirmShare {
    pools: Arc<FirmPools>,
    open: CreditShare,
}

/// An order's notional in price units; saturates (a notional beyond u64 can never be
/// covered, so it is refused, never wrapped into a small one).
#[inline]
fn notional(price: Price, qty: u32) -> u64 {
    u64::try_from(i128::from(price.0) * i128::from(qty)).unwrap_or(u64::MAX)
}

impl FirmShare {
    pub fn new(pools: Arc<FirmPools>) -> FirmShare {
        let chunk = pools.chunk;
        FirmShare {
            pools,
            open: CreditShare::new(chunk),
        }
    }

    /// Commits a new order's notional; false (nothing committed) when the firm-wide
    /// limit binds. Returns the notional it asked for, for the rejection's record.
    #[inline]
    pub fn admit(&mut self, price: Price, qty: u32) -> Result<(), u64> {
        let amount = notional(price, qty);
        if self.open.commit(&self.pools.open_notional, amount) {
            Ok(())
        } else {
            Err(amount)
        }
    }

    /// `shares` of an order at `price` closed (filled, cancelled or rejected).
    #[inline]
    pub fn closed(&mut self, price: Price, shares: u32) {
        self.open
            .release(&self.pools.open_notional, notional(price, shares));
    }

    /// The firm-wide limit, for a rejection's record.
    pub fn limit(&self) -> u64 {
        self.pools.open_notional.capacity()
    }
}

impl Drop for FirmShare {
    /// A shard that stops hands back the headroom it held, so the others can use it.
    fn drop(&mut self) {
        self.open.settle(&self.pools.open_notional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let config: FirmConfig = toml::from_str(text).expect("parses");
        let mut out = Vec::new();
        config.validate(&mut Problems::new("firm", &mut out));
        out.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn every_bad_key_is_named() {
        assert!(problems("max_open_notional = \"100.00\"\nchunk_notional = \"10.00\"").is_empty());
        assert_eq!(
            problems("max_open_notional = \"0.00\"\nchunk_notional = \"10.00\""),
            ["firm.max_open_notional", "firm.chunk_notional"]
        );
        assert_eq!(
            problems("max_open_notional = \"100.00\"\nchunk_notional = \"100.01\""),
            ["firm.chunk_notional"]
        );
        let missing = toml::from_str::<FirmConfig>("max_open_notional = \"1.00\"");
        assert!(missing.unwrap_err().to_string().contains("chunk_notional"));
        let unknown = toml::from_str::<FirmConfig>(
            "max_open_notional = \"1.00\"\nchunk_notional = \"1.00\"\nmax_loss = \"1.00\"",
        );
        assert!(unknown.unwrap_err().to_string().contains("max_loss"));
    }

    #[test]
    fn a_share_commits_and_releases_at_the_order_price() {
        let pools = Arc::new(FirmPools::new(&FirmConfig {
            max_open_notional: Price(1_000 * Price::SCALE),
            chunk_notional: Price(100 * Price::SCALE),
        }));
        let mut a = FirmShare::new(Arc::clone(&pools));
        let mut b = FirmShare::new(Arc::clone(&pools));
        assert_eq!(a.admit(Price(50 * Price::SCALE), 12), Ok(()), "$600");
        let refused = b.admit(Price(50 * Price::SCALE), 9);
        assert_eq!(refused, Err(450 * Price::SCALE as u64), "$450 > $400 left");
        // $100 closed stays with `a` as headroom (one chunk); $200 frees a chunk.
        a.closed(Price(50 * Price::SCALE), 2);
        assert!(b.admit(Price(50 * Price::SCALE), 9).is_err());
        a.closed(Price(50 * Price::SCALE), 2);
        assert_eq!(b.admit(Price(50 * Price::SCALE), 9), Ok(()));
        drop((a, b));
        let dollars = |d: i64| u64::try_from(d * Price::SCALE).unwrap();
        assert_eq!(
            pools.open_notional.available(),
            dollars(1_000 - 400 - 450),
            "stopped shards return their headroom, keep nothing else"
        );
    }
}
