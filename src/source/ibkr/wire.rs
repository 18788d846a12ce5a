//! The market-data wire (feature `ibkr`): [`IbTickWire`] implements [`TickFeed`] over
//! `ibapi`'s sync client, with two tick-by-tick subscriptions per symbol (`BidAsk`,
//! `AllLast`) on a connection of its own (the source's client id, not the venue's).
//!
//! `ibapi` reads the socket on its own thread and decodes each message there (allocating:
//! a trade carries its exchange and conditions as `String`s); [`IbTickWire::poll`] only
//! drains its channels, round robin over the subscriptions so one busy symbol cannot
//! starve the rest. Its own reconnect is off: a lost connection is
//! [`FeedEvent::Lost`].

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ibapi::Notice;
use ibapi::client::blocking::{Client, NoticeStream, Subscription};
use ibapi::contracts::{Contract, Currency, Exchange, SecurityType};
use ibapi::market_data::IgnoreSize;
use ibapi::market_data::realtime::{BidAsk, Trade};
use ibapi::subscriptions::SubscriptionItem;

use super::config::IbSourceConfig;
use super::feed::{FARM_DOWN, FeedEvent, TickFeed};
use crate::msg::SymbolName;

/// Ticks of history before the live ones, per subscription: none, the source wants only
/// what happens from now on.
const HISTORY_TICKS: i32 = 0;

/// One symbol's two subscriptions.
struct Symbol {
    quotes: Subscription<BidAsk>,
    trades: Subscription<Trade>,
}

/// [`TickFeed`] over `ibapi`.
pub struct IbTickWire {
    client: Client,
    notices: NoticeStream,
    symbols: Vec<Symbol>,
    /// The subscription the next poll looks at first: `2 × symbol + (0 quotes, 1 trades)`.
    cursor: usize,
    started: Instant,
    lost: bool,
}

fn contract(config: &IbSourceConfig, ticker: &str) -> Contract {
    let c = &config.contracts[ticker];
    Contract {
        contract_id: c.con_id as i32,
        security_type: SecurityType::Stock,
        exchange: Exchange::from(c.exchange()),
        currency: Currency::from(c.currency()),
        ..Contract::default()
    }
}

impl IbTickWire {
    /// Connects as `[source.ibkr]` says and subscribes to every one of `tickers` (the
    /// universe's, in its order). A refused connection or subscription is an error
    /// naming it.
    pub fn connect(config: &IbSourceConfig, tickers: &[SymbolName]) -> Result<IbTickWire, String> {
        let client = Client::builder()
            .address(config.address())
            .client_id(config.client_id as i32)
            .tcp_no_delay(true)
            .max_reconnect_attempts(0)
            .connect()
            .map_err(|e| {
                format!(
                    "cannot connect to TWS/IB Gateway at {} as client {} (source.ibkr): {e}",
                    config.address(),
                    config.client_id
                )
            })?;
        let notices = client
            .notice_stream()
            .map_err(|e| format!("notice stream: {e}"))?;
        let mut symbols = Vec::with_capacity(tickers.len());
        for name in tickers {
            let ticker = name.to_string();
            let contract = contract(config, &ticker);
            let refused = |what: &str, e: ibapi::Error| {
                format!(
                    "{what} subscription of {ticker} (source.ibkr.contracts.{ticker}.con_id = {}): {e}",
                    contract.contract_id
                )
            };
            let quotes = client
                .tick_by_tick(&contract, HISTORY_TICKS)
                .bid_ask(IgnoreSize::No)
                .map_err(|e| refused("tick-by-tick BidAsk", e))?;
            let trades = client
                .tick_by_tick(&contract, HISTORY_TICKS)
                .all_last()
                .map_err(|e| refused("tick-by-tick AllLast", e))?;
            symbols.push(Symbol { quotes, trades });
        }
        Ok(IbTickWire {
            client,
            notices,
            symbols,
            cursor: 0,
            started: Instant::now(),
            lost: false,
        })
    }

    fn wall_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }

    /// One subscription's next item as an event; `None` when it has nothing.
    fn next_of(&mut self, at: usize) -> Option<FeedEvent> {
        let symbol = at / 2;
        let s = &self.symbols[symbol];
        let item = if at.is_multiple_of(2) {
            match s.quotes.try_next()? {
                Ok(SubscriptionItem::Data(q)) => Ok(FeedEvent::Quote {
                    symbol,
                    time_s: q.time.unix_timestamp(),
                    recv_unix_ns: Self::wall_now(),
                    bid: q.bid_price,
                    ask: q.ask_price,
                    bid_size: q.bid_size,
                    ask_size: q.ask_size,
                }),
                Ok(SubscriptionItem::Notice(n)) => Err(Ok(n)),
                Err(e) => Err(Err(e)),
            }
        } else {
            match s.trades.try_next()? {
                Ok(SubscriptionItem::Data(t)) => Ok(FeedEvent::Trade {
                    symbol,
                    time_s: t.time.unix_timestamp(),
                    recv_unix_ns: Self::wall_now(),
                    price: t.price,
                    size: t.size,
                }),
                Ok(SubscriptionItem::Notice(n)) => Err(Ok(n)),
                Err(e) => Err(Err(e)),
            }
        };
        match item {
            Ok(event) => Some(event),
            Err(Ok(notice)) => farm_down(&notice, Some(symbol)),
            Err(Err(e)) => Some(self.failed(symbol, e)),
        }
    }

    /// A subscription ended with an error: the connection is gone, or IB refused the
    /// symbol's data (e.g. no market-data permission), which ends the run naming it.
    fn failed(&mut self, symbol: usize, e: ibapi::Error) -> FeedEvent {
        if e.is_connection_lost()
            || matches!(e, ibapi::Error::Shutdown | ibapi::Error::ConnectionFailed)
        {
            self.lost = true;
            return FeedEvent::Lost;
        }
        FeedEvent::Refused {
            symbol,
            reason: e.to_string(),
        }
    }
}

/// A farm-down notice as the event; `None` for any other notice (logged by `ibapi`).
fn farm_down(notice: &Notice, symbol: Option<usize>) -> Option<FeedEvent> {
    FARM_DOWN
        .contains(&notice.code)
        .then_some(FeedEvent::FarmDown {
            symbol,
            code: notice.code,
        })
}

impl TickFeed for IbTickWire {
    fn poll(&mut self) -> Option<FeedEvent> {
        if self.lost {
            return None;
        }
        while let Some(notice) = self.notices.try_next() {
            if let Some(event) = farm_down(&notice, None) {
                return Some(event);
            }
        }
        let n = self.symbols.len() * 2;
        for i in 0..n {
            let at = (self.cursor + i) % n;
            if let Some(event) = self.next_of(at) {
                self.cursor = (at + 1) % n;
                return Some(event);
            }
        }
        if !self.client.is_connected() {
            self.lost = true;
            return Some(FeedEvent::Lost);
        }
        None
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn wall_ns(&self) -> u64 {
        Self::wall_now()
    }
}
