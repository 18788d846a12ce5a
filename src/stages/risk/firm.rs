//! Firm-wide limits across shards: each shard's share of a lock-free credit pool
//! ([`crate::sys::credit`]).
//!
//! Built so far: the firm-wide open notional, the notional of every live order of every
//! shard together (`[firm] max_open_notional`). A shard commits an order's notional
//! (limit price × shares) before the order is journaled or sent, and releases it as
//! reports close the order (fills, cancels, rejects), at the same limit price, so what a
//! shard holds is exactly its live orders' notional. A proposal the pool cannot cover is
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
    /// string): larger chunks touch the shared atomic less often, smaller ones let the
    /// last shards still draw when the pool is nearly spent.
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

    /// The shard's live orders' notional, as committed.
    pub fn open_notional(&self) -> u64 {
        self.open.used()
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
