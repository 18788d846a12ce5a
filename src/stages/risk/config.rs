//! `[risk]` (the limits every order is checked against) and `[execution]` (how orders
//! are sized, priced and timed out).
//!
//! The three enumerated settings (`trading_state`, `price`, `time_in_force`) are read as
//! strings and parsed by [`RiskConfig::validate`] / [`ExecutionConfig::validate`] rather
//! than by serde, so a file with several bad values reports all of them, each with its
//! key, instead of stopping at the first.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::{Price, TimeInForce};
use crate::sys::TradingState;
use crate::universe::Universe;

/// The most live orders one symbol may be configured for. Order storage is allocated per
/// symbol at construction, so this bounds the memory a typo can ask for.
pub const MAX_OPEN_ORDERS_CAP: u32 = 1024;

/// Largest `starting_cash` and `max_notional`: $1 trillion. Money is `i64` units of
/// 1/10 000 (±$922 trillion); NLV adds starting cash to every symbol's cash flow and
/// position value, and this leaves that sum 900× headroom.
pub const MAX_CASH: Price = Price(1_000_000_000_000 * Price::SCALE);

/// Largest `max_order_qty` (and `model.target_qty`): a million shares, more than NASDAQ
/// takes in one order, so `qty × price` stays below 2^63 for any ITCH price (at most
/// $429 496.7295: 4.3 × 10^15 units).
pub const MAX_ORDER_QTY: u32 = 1_000_000;

/// Largest `max_position`: 100 million shares, so `position × mark` at the highest ITCH
/// price is 4.3 × 10^17 units, 20× under `i64::MAX`.
pub const MAX_POSITION: u32 = 100_000_000;

/// Largest event-time duration (`max_mark_age_ns`, `order_ttl_ns`): one day. Event times
/// are nanoseconds since midnight, so a longer one is a unit mistake.
pub const MAX_EVENT_NS: u64 = 86_400_000_000_000;

/// Most live orders all symbols together may be configured for: risk and the venue
/// each allocate every symbol's order table up front, and a million live orders is far
/// beyond any strategy's book (the shipped config allows 32).
pub const MAX_OPEN_ORDERS_TOTAL: u64 = 1 << 20;

/// `[risk]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// The latch's state at start-up: `"active"`, `"reduce-only"` or `"halted"`. The
    /// pipeline creates the latch from it ([`RiskConfig::initial_state`]); risk itself
    /// only reads the latch.
    pub trading_state: String,
    /// Cash before the first fill, for net liquidation value (decimal string).
    pub starting_cash: Price,
    pub max_order_qty: u32,
    /// Largest `qty × price` of one order (decimal string).
    pub max_notional: Price,
    /// Largest |position| an order may lead to, counting same-side open orders.
    pub max_position: u32,
    /// Largest distance of an order's price from the mark, in basis points of the mark.
    pub collar_bps: u32,
    /// A last-trade mark older than this (event time) blocks orders.
    pub max_mark_age_ns: u64,
    /// Most live orders per symbol; sizes each symbol's order storage.
    pub max_open_orders: u32,
    /// Per-ticker overrides, e.g. `[risk.symbols.TSLA] max_position = 200`.
    pub symbols: BTreeMap<String, LimitOverrides>,
}

/// `[risk.symbols.<TICKER>]`: any subset of the per-symbol limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub max_order_qty: Option<u32>,
    pub max_notional: Option<Price>,
    pub max_position: Option<u32>,
    pub collar_bps: Option<u32>,
    pub max_mark_age_ns: Option<u64>,
    pub max_open_orders: Option<u32>,
}

/// One symbol's limits, resolved from the defaults and its overrides.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_order_qty: u32,
    pub max_notional: Price,
    pub max_position: u32,
    pub collar_bps: u32,
    pub max_mark_age_ns: u64,
    pub max_open_orders: u32,
}

/// Parses a latch state as written in config files.
pub fn parse_trading_state(s: &str) -> Result<TradingState, String> {
    [
        TradingState::Active,
        TradingState::ReduceOnly,
        TradingState::Halted,
    ]
    .into_iter()
    .find(|state| state.as_str() == s)
    .ok_or_else(|| {
        format!("unknown trading state {s:?}; expected \"active\", \"reduce-only\" or \"halted\"")
    })
}

impl RiskConfig {
    /// Without a `universe` (the tickers were invalid) every check but "is this override
    /// a configured ticker" still runs.
    pub fn validate(&self, universe: Option<&Universe>, p: &mut Problems<'_>) {
        if let Err(message) = self.initial_state() {
            p.add("trading_state", message);
        }
        p.check(
            (Price::ZERO..=MAX_CASH).contains(&self.starting_cash),
            "starting_cash",
            format!(
                "{}: use 0 to {MAX_CASH} (net liquidation value is summed in 64-bit fixed \
                 point, ±922 trillion)",
                self.starting_cash
            ),
        );
        self.defaults().validate(p);
        if let Some(u) = universe {
            let total: u64 = u
                .ids()
                .map(|id| u64::from(self.limits_for(u.name(id).as_str()).max_open_orders))
                .sum();
            p.check(
                total <= MAX_OPEN_ORDERS_TOTAL,
                "max_open_orders",
                format!(
                    "{total} live orders over {} symbols (overrides included); at most \
                     {MAX_OPEN_ORDERS_TOTAL}: risk and the venue allocate every symbol's \
                     order table up front",
                    u.len()
                ),
            );
        }
        for (ticker, overrides) in &self.symbols {
            let mut p = p.nested("symbols");
            if universe.is_some_and(|u| u.id_of(ticker).is_none()) {
                p.add(ticker, "not a ticker in symbols.tickers");
            }
            overrides.validate(&mut p.nested(ticker));
        }
    }

    /// The latch state to start in.
    pub fn initial_state(&self) -> Result<TradingState, String> {
        parse_trading_state(&self.trading_state)
    }

    /// The limits for `ticker`: its overrides over the defaults.
    pub fn limits_for(&self, ticker: &str) -> Limits {
        let o = self.symbols.get(ticker).cloned().unwrap_or_default();
        Limits {
            max_order_qty: o.max_order_qty.unwrap_or(self.max_order_qty),
            max_notional: o.max_notional.unwrap_or(self.max_notional),
            max_position: o.max_position.unwrap_or(self.max_position),
            collar_bps: o.collar_bps.unwrap_or(self.collar_bps),
            max_mark_age_ns: o.max_mark_age_ns.unwrap_or(self.max_mark_age_ns),
            max_open_orders: o.max_open_orders.unwrap_or(self.max_open_orders),
        }
    }

    /// The defaults as a full set of overrides, so one function validates both.
    fn defaults(&self) -> LimitOverrides {
        LimitOverrides {
            max_order_qty: Some(self.max_order_qty),
            max_notional: Some(self.max_notional),
            max_position: Some(self.max_position),
            collar_bps: Some(self.collar_bps),
            max_mark_age_ns: Some(self.max_mark_age_ns),
            max_open_orders: Some(self.max_open_orders),
        }
    }
}

impl LimitOverrides {
    /// A zero limit would block every order of the symbol; that is the latch's job, or
    /// the universe's, not a limit's.
    fn validate(&self, p: &mut Problems<'_>) {
        if let Some(v) = self.max_order_qty {
            p.check(
                (1..=MAX_ORDER_QTY).contains(&v),
                "max_order_qty",
                format!(
                    "{v}: use 1 to {MAX_ORDER_QTY} (a million shares is more than one NASDAQ order)"
                ),
            );
        }
        if let Some(v) = self.max_notional {
            p.check(
                v > Price::ZERO && v <= MAX_CASH,
                "max_notional",
                format!("{v}: must be positive and at most {MAX_CASH}"),
            );
        }
        if let Some(v) = self.max_position {
            p.check(
                (1..=MAX_POSITION).contains(&v),
                "max_position",
                format!(
                    "{v}: use 1 to {MAX_POSITION} (position × mark must stay well inside \
                     64-bit fixed point)"
                ),
            );
        }
        if let Some(v) = self.collar_bps {
            p.check(
                (1..=10_000).contains(&v),
                "collar_bps",
                format!("{v} must be in 1..=10000"),
            );
        }
        if let Some(v) = self.max_mark_age_ns {
            p.check(
                (1..=MAX_EVENT_NS).contains(&v),
                "max_mark_age_ns",
                format!("{v}: use 1 to {MAX_EVENT_NS} (one day of event time)"),
            );
        }
        if let Some(v) = self.max_open_orders {
            p.check(
                (1..=MAX_OPEN_ORDERS_CAP).contains(&v),
                "max_open_orders",
                format!(
                    "{v} must be in 1..={MAX_OPEN_ORDERS_CAP} (each symbol's order storage is \
                     allocated up front)"
                ),
            );
        }
    }
}

/// How an order is priced against the touch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pricing {
    /// Rest at our side's best price: buy at the bid, sell at the ask.
    Join,
    /// Take the other side's best price: buy at the ask, sell at the bid.
    Cross,
}

/// `[execution]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionConfig {
    /// A live order older than this (event time) is cancelled.
    pub order_ttl_ns: u64,
    /// `"join"` or `"cross"` ([`Pricing`]).
    pub price: String,
    /// `"day"` or `"ioc"`.
    pub time_in_force: String,
}

impl ExecutionConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        p.check(
            (1..=MAX_EVENT_NS).contains(&self.order_ttl_ns),
            "order_ttl_ns",
            format!(
                "{}: use 1 to {MAX_EVENT_NS} (one day of event time)",
                self.order_ttl_ns
            ),
        );
        if let Err(message) = self.pricing() {
            p.add("price", message);
        }
        if let Err(message) = self.tif() {
            p.add("time_in_force", message);
        }
    }

    pub fn pricing(&self) -> Result<Pricing, String> {
        match self.price.as_str() {
            "join" => Ok(Pricing::Join),
            "cross" => Ok(Pricing::Cross),
            other => Err(format!(
                "unknown pricing {other:?}; expected \"join\" or \"cross\""
            )),
        }
    }

    pub fn tif(&self) -> Result<TimeInForce, String> {
        match self.time_in_force.as_str() {
            "day" => Ok(TimeInForce::Day),
            "ioc" => Ok(TimeInForce::Ioc),
            other => Err(format!(
                "unknown time in force {other:?}; expected \"day\" or \"ioc\""
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::Problem;

    pub(crate) const RISK: &str = r#"
        trading_state = "active"
        starting_cash = "1000000.00"
        max_order_qty = 500
        max_notional = "100000.00"
        max_position = 1000
        collar_bps = 50
        max_mark_age_ns = 1000000000
        max_open_orders = 4
        [symbols.TSLA]
        max_position = 200
        max_notional = "50000"
    "#;

    pub(crate) const EXECUTION: &str = r#"
        order_ttl_ns = 5000000
        price = "join"
        time_in_force = "day"
    "#;

    fn universe() -> Universe {
        Universe::new(&["AAPL", "TSLA"]).unwrap()
    }

    fn risk_keys(c: &RiskConfig) -> Vec<String> {
        let mut out = Vec::new();
        c.validate(Some(&universe()), &mut Problems::new("risk", &mut out));
        out.into_iter().map(|p: Problem| p.key).collect()
    }

    fn execution_keys(c: &ExecutionConfig) -> Vec<String> {
        let mut out = Vec::new();
        c.validate(&mut Problems::new("execution", &mut out));
        out.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn example_validates_and_overrides_resolve() {
        let c: RiskConfig = toml::from_str(RISK).unwrap();
        assert!(risk_keys(&c).is_empty());
        assert_eq!(c.initial_state(), Ok(TradingState::Active));
        let tsla = c.limits_for("TSLA");
        assert_eq!(tsla.max_position, 200);
        assert_eq!(tsla.max_notional, Price(500_000_000));
        assert_eq!(tsla.max_order_qty, 500);
        assert_eq!(c.limits_for("AAPL").max_position, 1000);
        let e: ExecutionConfig = toml::from_str(EXECUTION).unwrap();
        assert!(execution_keys(&e).is_empty());
        assert_eq!(e.pricing(), Ok(Pricing::Join));
        assert_eq!(e.tif(), Ok(TimeInForce::Day));
    }

    #[test]
    fn trading_states_parse_by_their_config_names() {
        for s in ["active", "reduce-only", "halted"] {
            assert_eq!(parse_trading_state(s).unwrap().as_str(), s);
        }
        assert!(parse_trading_state("Active").is_err());
        assert!(parse_trading_state("reduce_only").is_err());
    }

    #[test]
    fn validate_names_every_bad_key() {
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
        c.trading_state = "paused".into();
        c.starting_cash = Price(-1);
        c.max_order_qty = 0;
        c.max_notional = Price::ZERO;
        c.max_position = 0;
        c.collar_bps = 10_001;
        c.max_mark_age_ns = 0;
        c.max_open_orders = MAX_OPEN_ORDERS_CAP + 1;
        c.symbols.insert(
            "MSFT".into(),
            LimitOverrides {
                collar_bps: Some(0),
                ..LimitOverrides::default()
            },
        );
        c.symbols.get_mut("TSLA").unwrap().max_open_orders = Some(0);
        assert_eq!(
            risk_keys(&c),
            [
                "risk.trading_state",
                "risk.starting_cash",
                "risk.max_order_qty",
                "risk.max_notional",
                "risk.max_position",
                "risk.collar_bps",
                "risk.max_mark_age_ns",
                "risk.max_open_orders",
                "risk.symbols.MSFT",
                "risk.symbols.MSFT.collar_bps",
                "risk.symbols.TSLA.max_open_orders",
            ]
        );

        let e = ExecutionConfig {
            order_ttl_ns: 0,
            price: "mid".into(),
            time_in_force: "gtc".into(),
        };
        assert_eq!(
            execution_keys(&e),
            [
                "execution.order_ttl_ns",
                "execution.price",
                "execution.time_in_force"
            ]
        );
    }

    #[test]
    fn every_size_has_an_upper_bound_and_says_why() {
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
        c.starting_cash = Price(i64::MAX - 1);
        c.max_order_qty = MAX_ORDER_QTY + 1;
        c.max_notional = Price(MAX_CASH.0 + 1);
        c.max_position = u32::MAX;
        c.max_mark_age_ns = MAX_EVENT_NS + 1;
        c.symbols.get_mut("TSLA").unwrap().max_position = Some(MAX_POSITION + 1);
        let mut out = Vec::new();
        c.validate(Some(&universe()), &mut Problems::new("risk", &mut out));
        let shown: Vec<String> = out.iter().map(Problem::to_string).collect();
        assert_eq!(
            shown,
            [
                "risk.starting_cash: 922337203685477.5806: use 0 to 1000000000000.0000 (net \
                 liquidation value is summed in 64-bit fixed point, ±922 trillion)",
                "risk.max_order_qty: 1000001: use 1 to 1000000 (a million shares is more \
                 than one NASDAQ order)",
                "risk.max_notional: 1000000000000.0001: must be positive and at most \
                 1000000000000.0000",
                "risk.max_position: 4294967295: use 1 to 100000000 (position × mark must \
                 stay well inside 64-bit fixed point)",
                "risk.max_mark_age_ns: 86400000000001: use 1 to 86400000000000 (one day of \
                 event time)",
                "risk.symbols.TSLA.max_position: 100000001: use 1 to 100000000 (position × \
                 mark must stay well inside 64-bit fixed point)",
            ]
        );
        c = toml::from_str(RISK).unwrap();
        (c.starting_cash, c.max_order_qty, c.max_position) =
            (MAX_CASH, MAX_ORDER_QTY, MAX_POSITION);
        (c.max_notional, c.max_mark_age_ns) = (MAX_CASH, MAX_EVENT_NS);
        assert!(risk_keys(&c).is_empty());
        let e = ExecutionConfig {
            order_ttl_ns: MAX_EVENT_NS + 1,
            ..toml::from_str(EXECUTION).unwrap()
        };
        assert_eq!(execution_keys(&e), ["execution.order_ttl_ns"]);
    }

    #[test]
    fn live_orders_over_the_whole_universe_are_bounded() {
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
        c.max_open_orders = MAX_OPEN_ORDERS_CAP;
        c.symbols.clear();
        let tickers: Vec<String> = (0..1024).map(|i| format!("S{i}")).collect();
        let u = Universe::new(&tickers).unwrap();
        let check = |c: &RiskConfig, u: &Universe| {
            let mut out = Vec::new();
            c.validate(Some(u), &mut Problems::new("risk", &mut out));
            out.iter().map(Problem::to_string).collect::<Vec<_>>()
        };
        assert_eq!(
            check(&c, &u),
            Vec::<String>::new(),
            "1024 × 1024 is the bound"
        );
        let tickers: Vec<String> = (0..1025).map(|i| format!("S{i}")).collect();
        let u = Universe::new(&tickers).unwrap();
        let found = check(&c, &u);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("risk.max_open_orders: 1049600 live orders over 1025 symbols"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn every_key_is_required_and_unknown_keys_are_errors() {
        for key in [
            "trading_state",
            "starting_cash",
            "max_order_qty",
            "max_notional",
            "max_position",
            "collar_bps",
            "max_mark_age_ns",
            "max_open_orders",
        ] {
            let without: String = RISK
                .lines()
                .filter(|l| !l.trim_start().starts_with(&format!("{key} =")))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                toml::from_str::<RiskConfig>(&without).is_err(),
                "{key} missing"
            );
        }
        let no_symbols = RISK.split("[symbols.TSLA]").next().unwrap();
        assert!(toml::from_str::<RiskConfig>(no_symbols).is_err());
        let empty_symbols = format!("{no_symbols}\n[symbols]\n");
        assert!(toml::from_str::<RiskConfig>(&empty_symbols).is_ok());
        let typo = format!("{RISK}\nmax_positon = 3");
        assert!(toml::from_str::<RiskConfig>(&typo).is_err());
        let override_typo = RISK.replace("max_position = 200", "max_pos = 200");
        assert!(toml::from_str::<RiskConfig>(&override_typo).is_err());
        let float_cash = RISK.replace("\"1000000.00\"", "1000000.0");
        assert!(toml::from_str::<RiskConfig>(&float_cash).is_err());
        let no_tif = EXECUTION.replace("time_in_force = \"day\"", "");
        assert!(toml::from_str::<ExecutionConfig>(&no_tif).is_err());
    }
}
