//! Hot-path messages: the types that cross rings between stages.
//!
//! Every message is `Copy`, `#[repr(C)]`, holds prices in fixed point ([`Price`]) and
//! times in nanoseconds, and starts with a [`Stamp`] carrying the receive time of the
//! bytes that caused it, so any stage can record time-since-receipt without an extra
//! clock read per hop. Sizes are checked at compile time below: a slot that grows past
//! its budget is a deliberate, reviewed change, never an accident.
//!
//! Budget: 64 bytes (one cache line) for every message but those that carry the 64-byte
//! [`MarketView`] beside something else: [`Features`] (five `f32` features, 88),
//! [`Signal`] (score and target, 72) and [`VenueCommand`] (its tag, 72). Splitting them
//! would cost a second ring hop per book update. The view grew from 56 bytes when it took
//! the print's match number (broken trades, ITCH `B`): no field was free, and the number
//! has no other way from decode, the only stage that reads it, to the venue that fills
//! against the print.

mod exec;
mod features;
mod frame;
mod ids;
mod market;
mod order;
mod price;

pub use exec::{ExecKind, ExecReport, RejectReason, VenueTiming};
pub use features::{FeatureVector, Features, MarketView, Signal, ViewCause};
pub use frame::RawFrame;
pub use ids::{ClOrdId, Side, SymbolId, SymbolName, TradingStatus};
pub use market::{MarketEvent, MarketUpdate};
pub use order::{InFlightOrder, OrderIntent, TimeInForce, VenueCommand};
pub use price::{MoneyOverflow, ParsePriceError, Price};

/// Times every hot-path message carries.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// When the bytes that caused this message were read, in nanoseconds of the
    /// pipeline's monotonic clock ([`crate::clock::MonoClock`]).
    pub ts_recv: u64,
    /// Event time in nanoseconds since midnight: the exchange timestamp for market data,
    /// the simulated arrival time for venue reports. Decisions depend on this, never on
    /// `ts_recv`, which is why a replay is deterministic.
    pub ts_event: u64,
}

/// Anything that carries a [`Stamp`]; lets generic runners record latency.
pub trait Stamped {
    fn stamp(&self) -> Stamp;
}

macro_rules! stamped {
    ($($t:ty),* $(,)?) => {
        $(impl Stamped for $t {
            #[inline]
            fn stamp(&self) -> Stamp {
                self.stamp
            }
        })*
    };
}
stamped!(MarketEvent, ExecReport);

impl Stamped for Features {
    #[inline]
    fn stamp(&self) -> Stamp {
        self.view.stamp
    }
}

impl Stamped for Signal {
    #[inline]
    fn stamp(&self) -> Stamp {
        self.view.stamp
    }
}

const _: () = {
    use std::mem::size_of;
    assert!(size_of::<RawFrame>() == 64);
    assert!(size_of::<MarketEvent>() <= 64);
    assert!(size_of::<MarketView>() <= 64);
    assert!(size_of::<Features>() <= 88);
    assert!(size_of::<Signal>() <= 72);
    assert!(size_of::<VenueCommand>() <= 72);
    assert!(size_of::<ExecReport>() <= 64);
};
