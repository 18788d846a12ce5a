//! The seam between the IB source's logic and its wire: what the market-data connection
//! read from IB ([`FeedEvent`], no `ibapi` type), and the [`TickFeed`] the source polls.
//! The wire (`wire.rs`, feature `ibkr`) implements it over `ibapi`; tests script it.

/// One thing the market-data connection read. `symbol` is the index of the symbol in the
/// universe (`SymbolId`'s index), which is also its subscription's.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedEvent {
    /// A tick-by-tick `BidAsk`: IB's time (whole seconds since the Unix epoch) and the
    /// host's wall clock when it was read (nanoseconds since the epoch).
    Quote {
        symbol: usize,
        time_s: i64,
        recv_unix_ns: u64,
        bid: f64,
        ask: f64,
        bid_size: f64,
        ask_size: f64,
    },
    /// A tick-by-tick `AllLast` trade.
    Trade {
        symbol: usize,
        time_s: i64,
        recv_unix_ns: u64,
        price: f64,
        size: f64,
    },
    /// IB reported a market-data farm down (2103, 2105, 2157): on one symbol's
    /// subscription, or with no request id (`None`: it may serve every symbol).
    FarmDown { symbol: Option<usize>, code: i32 },
    /// IB ended a symbol's subscription with an error (e.g. no market-data permission
    /// for it): the symbol would never tick again.
    Refused { symbol: usize, reason: String },
    /// The connection to IB is gone.
    Lost,
}

/// IB's error codes for a market-data farm down: 2103 "market data farm connection is
/// broken", 2105 "HMDS data farm connection is broken", 2157 "sec-def data farm
/// connection is broken".
pub const FARM_DOWN: [i32; 3] = [2103, 2105, 2157];

/// What the IB source polls.
pub trait TickFeed: Send + 'static {
    /// The next event read, if any; never blocks.
    fn poll(&mut self) -> Option<FeedEvent>;
    /// The host's monotonic clock in nanoseconds, for the stale deadline.
    fn now_ns(&self) -> u64;
    /// The host's wall clock in nanoseconds since the Unix epoch, for the event time of
    /// what the source sends before any tick (the directory at start).
    fn wall_ns(&self) -> u64;
}

/// A feed that replays a script, for tests: each event is due at a monotonic time,
/// which the test advances.
#[derive(Debug, Default)]
pub struct ScriptedFeed {
    /// (due at, event), in order.
    pub script: std::collections::VecDeque<(u64, FeedEvent)>,
    /// The feed's clock: events due at or before it are polled; it advances to the next
    /// event's due time when nothing is left at the current one, so a scripted session
    /// runs without sleeping. With nothing left, it jumps a day ahead (every symbol's
    /// deadline passes) and the feed reports the connection lost.
    pub now: u64,
    /// What [`TickFeed::wall_ns`] answers: the session's opening time.
    pub wall: u64,
    lost: bool,
}

impl ScriptedFeed {
    pub fn new(script: Vec<(u64, FeedEvent)>) -> ScriptedFeed {
        ScriptedFeed {
            script: script.into(),
            now: 0,
            wall: 0,
            lost: false,
        }
    }
}

impl TickFeed for ScriptedFeed {
    fn poll(&mut self) -> Option<FeedEvent> {
        match self.script.front() {
            Some(&(due, _)) if due <= self.now => self.script.pop_front().map(|(_, e)| e),
            Some(&(due, _)) => {
                self.now = due;
                None
            }
            None if self.lost => None,
            None => {
                self.lost = true;
                self.now += 86_400_000_000_000;
                Some(FeedEvent::Lost)
            }
        }
    }

    fn now_ns(&self) -> u64 {
        self.now
    }

    fn wall_ns(&self) -> u64 {
        self.wall
    }
}
