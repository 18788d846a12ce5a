//! Per-symbol control state the checklist's checks read beyond orders and positions:
//! when the top of book last changed, the Reg SHO flag, the message rate, recent fills per side (the
//! repeated-execution latch), the last order sent, and the restricted flag.
//!
//! Everything is sized at construction from the symbol's [`Limits`]; nothing here
//! allocates per event.

use super::config::Limits;
use crate::msg::{MarketView, Price, Side, ViewCause};

/// One second of event time: the message-rate window.
const SECOND_NS: u64 = 1_000_000_000;

/// The last order sent on a symbol, for the duplicate-order check.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SentOrder {
    pub side: Side,
    pub price: Price,
    pub qty: u32,
    pub ts_event: u64,
}

/// The top of book as last seen, to tell a quote change from a print or status view.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Top {
    bid_px: Price,
    ask_px: Price,
    bid_qty: u32,
    ask_qty: u32,
}

impl Top {
    fn of(view: &MarketView) -> Top {
        Top {
            bid_px: view.bid_px,
            ask_px: view.ask_px,
            bid_qty: view.bid_qty,
            ask_qty: view.ask_qty,
        }
    }
}

/// Fill times of one side, newest overwriting oldest: the last `capacity` fills.
#[derive(Debug)]
struct FillTimes {
    times: Box<[u64]>,
    next: usize,
    len: usize,
}

impl FillTimes {
    fn new(capacity: usize) -> FillTimes {
        FillTimes {
            times: vec![0; capacity].into_boxed_slice(),
            next: 0,
            len: 0,
        }
    }

    /// Records a fill at `ts`; true when the ring is full and its oldest fill is within
    /// `window_ns` of this one: `capacity` fills in `window_ns`.
    fn record(&mut self, ts: u64, window_ns: u64) -> bool {
        let capacity = self.times.len();
        self.times[self.next] = ts;
        self.next = (self.next + 1) % capacity;
        self.len = (self.len + 1).min(capacity);
        // Once full, `next` is the oldest of the last `capacity` fills.
        self.len == capacity && ts.saturating_sub(self.times[self.next]) <= window_ns
    }
}

/// The control state of one owned symbol.
#[derive(Debug)]
pub struct Controls {
    top: Option<Top>,
    /// Event time of the last view that changed the top of book (the first view counts).
    pub quote_ts: Option<u64>,
    /// Start of the current one-second window and the `New`s and `Cancel`s sent in it.
    window_start: u64,
    pub messages: u32,
    buys: FillTimes,
    sells: FillTimes,
    /// Latched by repeated automated executions; only an operator clears it.
    pub halted: bool,
    pub last_order: Option<SentOrder>,
    pub restricted: bool,
    /// The Reg SHO short-sale price test is in effect (ITCH `Y`).
    pub short_sale_restricted: bool,
}

impl Controls {
    pub fn new(limits: &Limits, restricted: bool) -> Controls {
        let fills = limits.max_repeat_fills as usize;
        Controls {
            top: None,
            quote_ts: None,
            window_start: 0,
            messages: 0,
            buys: FillTimes::new(fills),
            sells: FillTimes::new(fills),
            halted: false,
            last_order: None,
            restricted,
            short_sale_restricted: false,
        }
    }

    /// Notes a view: a changed top of book restarts the quote's age.
    #[inline]
    pub fn observe(&mut self, view: &MarketView) {
        match view.cause {
            ViewCause::ShortSaleRestricted => self.short_sale_restricted = true,
            ViewCause::ShortSaleLifted => self.short_sale_restricted = false,
            _ => {}
        }
        let top = Top::of(view);
        if self.top != Some(top) {
            self.top = Some(top);
            self.quote_ts = Some(view.stamp.ts_event);
        }
    }

    /// The messages sent in the one-second window holding `now`. A fixed window, not a
    /// sliding one: it needs one counter instead of a timestamp per message, and at
    /// worst lets twice the limit through across a window boundary.
    #[inline]
    pub fn messages_at(&mut self, now: u64) -> u32 {
        let start = now - now % SECOND_NS;
        if start != self.window_start {
            self.window_start = start;
            self.messages = 0;
        }
        self.messages
    }

    /// Counts a `New` or `Cancel` sent at `now`; returns the window's count.
    #[inline]
    pub fn sent(&mut self, now: u64) -> u32 {
        let n = self.messages_at(now) + 1;
        self.messages = n;
        n
    }

    /// Records a fill; true when it latches the symbol (it was not latched before).
    #[inline]
    pub fn filled(&mut self, side: Side, ts: u64, limits: &Limits) -> bool {
        let fills = match side {
            Side::Buy => &mut self.buys,
            Side::Sell => &mut self.sells,
        };
        let trips = fills.record(ts, limits.repeat_fills_window_ns);
        let latched = trips && !self.halted;
        self.halted |= trips;
        latched
    }

    /// An operator re-enabled the symbol: the latch and the fill history are cleared,
    /// so the fills that tripped it do not trip it again.
    pub fn reenable(&mut self) {
        self.halted = false;
        self.buys.len = 0;
        self.sells.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_times_trip_on_the_nth_fill_within_the_window() {
        let mut f = FillTimes::new(3);
        assert!(!f.record(0, 100));
        assert!(!f.record(50, 100));
        assert!(f.record(100, 100), "three fills in 100 ns");
        assert!(!f.record(251, 100), "50, 100, 251: 201 ns apart");
        assert!(!f.record(260, 100));
        assert!(f.record(300, 100));
    }
}
