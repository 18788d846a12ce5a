//! `[risk]` (the limits every order is checked against) and `[execution]` (how orders
//! are sized, priced and timed out).
//!
//! The three enumerated settings (`trading_state`, `price`, `time_in_force`) are typed:
//! serde refuses an unknown value while parsing, quoting the key's line and listing the
//! accepted values. The numeric limits are checked after parsing, every bad one
//! reported at once with its key.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::config::Problems;
use crate::msg::{Price, SymbolId, TimeInForce};
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

/// Largest `max_repeat_fills`: each symbol keeps that many fill times per side, allocated
/// at start-up (8 bytes each), so this bounds the memory a typo can ask for.
pub const MAX_REPEAT_FILLS: u32 = 65_536;

/// Largest `broken_trade_fills`: each symbol keeps that many fills against prints,
/// allocated at start-up (32 bytes each, 2 MiB a symbol at this bound), so this bounds
/// the memory a typo can ask for.
pub const MAX_BROKEN_TRADE_FILLS: u32 = 65_536;

/// Most live orders all symbols together may be configured for: risk and the venue
/// each allocate every symbol's order table up front, and a million live orders is far
/// beyond any strategy's book (the shipped config allows 32).
pub const MAX_OPEN_ORDERS_TOTAL: u64 = 1 << 20;

/// Declares the per-symbol limits once. Each row is a required key of `[risk]` (the
/// default), an optional key of `[risk.symbols.TICKER]` (an override) and a field of the
/// resolved [`Limits`]. Adding a limit is a row here, its bound in
/// [`LimitOverrides::validate`] (which destructures every limit, so the compiler asks for
/// it) and its check in `checks.rs`.
macro_rules! limits {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty, )*) => {
        /// `[risk]`.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RiskConfig {
            /// The latch's state at start-up: `"active"`, `"reduce-only"` or `"halted"`.
            /// The pipeline creates the latch from it; risk itself only reads the latch.
            #[serde(deserialize_with = "trading_state")]
            pub trading_state: TradingState,
            /// Cash before the first fill, for net liquidation value (decimal string).
            pub starting_cash: Price,
            $( $(#[$doc])* pub $name: $ty, )*
            /// Tickers no order may be sent for (`RESTRICTED`); each a configured ticker.
            pub restricted: Vec<String>,
            /// Per-ticker overrides, e.g. `[risk.symbols.TSLA] max_position = 200`.
            pub symbols: BTreeMap<String, LimitOverrides>,
        }

        /// `[risk.symbols.<TICKER>]`: any subset of the per-symbol limits.
        #[derive(Copy, Clone, Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct LimitOverrides {
            $( pub $name: Option<$ty>, )*
        }

        /// One symbol's limits, resolved from the defaults and its overrides.
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub struct Limits {
            $( $(#[$doc])* pub $name: $ty, )*
        }

        impl RiskConfig {
            /// The `[risk]` defaults.
            fn defaults(&self) -> Limits {
                Limits { $( $name: self.$name, )* }
            }
        }

        impl LimitOverrides {
            /// These overrides over `defaults`.
            fn over(&self, defaults: &Limits) -> Limits {
                Limits { $( $name: self.$name.unwrap_or(defaults.$name), )* }
            }
        }

        impl From<Limits> for LimitOverrides {
            /// Every limit set, so one function validates the defaults and the overrides.
            fn from(limits: Limits) -> LimitOverrides {
                LimitOverrides { $( $name: Some(limits.$name), )* }
            }
        }
    };
}

limits! {
    max_order_qty: u32,
    /// Largest `qty × price` of one order (decimal string).
    max_notional: Price,
    /// Largest |position| an order may lead to, counting same-side open orders.
    max_position: u32,
    /// Largest distance of an order's price from the mark, in basis points of the mark.
    collar_bps: u32,
    /// A last-trade mark older than this (event time) blocks orders.
    max_mark_age_ns: u64,
    /// Most live orders per symbol; sizes each symbol's order storage.
    max_open_orders: u32,
    /// The top of book unchanged for longer than this (event time) blocks orders.
    max_quote_age_ns: u64,
    /// `New`s and `Cancel`s per one-second window of event time past which a `New` is
    /// refused (`MESSAGE_RATE`).
    max_messages_per_sec: u32,
    /// `New`s and `Cancel`s per one-second window that halt the latch: cancels are never
    /// refused, so only this stops a cancel storm.
    halt_messages_per_sec: u32,
    /// This many fills on one side of a symbol within `repeat_fills_window_ns` halt the
    /// symbol until an operator re-enables it (MiFID II RTS 6 art. 15).
    max_repeat_fills: u32,
    repeat_fills_window_ns: u64,
    /// An order with the side, price and quantity of the last one sent within this long
    /// (event time) is refused as a duplicate.
    duplicate_window_ns: u64,
    /// Our fills against prints remembered, newest first, so a broken trade (ITCH `B`)
    /// can reverse them (`BROKEN_TRADE`); past this many the oldest is forgotten, and
    /// counted.
    broken_trade_fills: u32,
}

/// Every state the latch may start in, and their config names ([`TradingState::as_str`]).
const TRADING_STATES: [TradingState; 3] = [
    TradingState::Active,
    TradingState::ReduceOnly,
    TradingState::Halted,
];
const TRADING_STATE_NAMES: &[&str] = &["active", "reduce-only", "halted"];

/// `trading_state` by its config name; anything else is serde's "unknown variant" error,
/// listing the names. `TradingState` lives in `sys`, which has no serde (`loom-tests`
/// compiles it alone), so it cannot derive `Deserialize`.
fn trading_state<'de, D: Deserializer<'de>>(d: D) -> Result<TradingState, D::Error> {
    let name = String::deserialize(d)?;
    TRADING_STATES
        .into_iter()
        .find(|state| state.as_str() == name)
        .ok_or_else(|| D::Error::unknown_variant(&name, TRADING_STATE_NAMES))
}

impl RiskConfig {
    /// Without a `universe` (the tickers were invalid) every check but "is this override
    /// a configured ticker" still runs.
    pub fn validate(&self, universe: Option<&Universe>, p: &mut Problems<'_>) {
        p.check(
            (Price::ZERO..=MAX_CASH).contains(&self.starting_cash),
            "starting_cash",
            format!(
                "{}: use 0 to {MAX_CASH} (net liquidation value is summed in 64-bit fixed \
                 point, ±922 trillion)",
                self.starting_cash
            ),
        );
        LimitOverrides::from(self.defaults()).validate(p);
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
        for (i, ticker) in self.restricted.iter().enumerate() {
            if universe.is_some_and(|u| u.id_of(ticker).is_none()) {
                p.nested("restricted").add(
                    &i.to_string(),
                    format!("{ticker:?} is not a ticker in symbols.tickers"),
                );
            }
        }
        for (ticker, overrides) in &self.symbols {
            let mut p = p.nested("symbols");
            if universe.is_some_and(|u| u.id_of(ticker).is_none()) {
                p.add(ticker, "not a ticker in symbols.tickers");
            }
            let mut p = p.nested(ticker);
            overrides.validate(&mut p);
            // Either half of the pair may be overridden alone: check what resolves.
            let partial = overrides.halt_messages_per_sec.is_some()
                != overrides.max_messages_per_sec.is_some();
            if partial {
                let l = self.limits_for(ticker);
                check_message_ceiling(l.halt_messages_per_sec, l.max_messages_per_sec, &mut p);
            }
        }
    }

    /// Whether `ticker` is on the restricted list.
    pub fn is_restricted(&self, ticker: &str) -> bool {
        self.restricted.iter().any(|t| t == ticker)
    }

    /// The limits for `ticker`: its overrides over the defaults.
    pub fn limits_for(&self, ticker: &str) -> Limits {
        let defaults = self.defaults();
        self.symbols
            .get(ticker)
            .map_or(defaults, |o| o.over(&defaults))
    }

    /// The most orders a shard owning `owned` may have live at once: the sum of their
    /// `max_open_orders`. A venue serving the shard sizes its storage by it.
    pub fn open_orders_limit(&self, universe: &Universe, owned: &[SymbolId]) -> usize {
        owned
            .iter()
            .map(|&id| self.limits_for(universe.name(id).as_str()).max_open_orders as usize)
            .sum()
    }
}

/// The halt ceiling must lie above the refusal limit, or it would bind first.
fn check_message_ceiling(halt: u32, max: u32, p: &mut Problems<'_>) {
    p.check(
        halt > max,
        "halt_messages_per_sec",
        format!(
            "{halt}: must exceed max_messages_per_sec ({max}), or the halt would come before \
             the refusals"
        ),
    );
}

impl LimitOverrides {
    /// A zero limit would block every order of the symbol; that is the latch's job, or
    /// the universe's, not a limit's.
    fn validate(&self, p: &mut Problems<'_>) {
        let LimitOverrides {
            max_order_qty,
            max_notional,
            max_position,
            collar_bps,
            max_mark_age_ns,
            max_open_orders,
            max_quote_age_ns,
            max_messages_per_sec,
            halt_messages_per_sec,
            max_repeat_fills,
            repeat_fills_window_ns,
            duplicate_window_ns,
            broken_trade_fills,
        } = *self;
        for (key, v) in [
            ("max_quote_age_ns", max_quote_age_ns),
            ("repeat_fills_window_ns", repeat_fills_window_ns),
            ("duplicate_window_ns", duplicate_window_ns),
        ] {
            if let Some(v) = v {
                p.check(
                    (1..=MAX_EVENT_NS).contains(&v),
                    key,
                    format!("{v}: use 1 to {MAX_EVENT_NS} (one day of event time)"),
                );
            }
        }
        if let Some(v) = max_messages_per_sec {
            p.check(
                v >= 1,
                "max_messages_per_sec",
                format!("{v}: at least 1 (0 would refuse every order: that is the latch's job)"),
            );
        }
        if let (Some(halt), Some(max)) = (halt_messages_per_sec, max_messages_per_sec) {
            check_message_ceiling(halt, max, p);
        }
        if let Some(v) = max_repeat_fills {
            p.check(
                (1..=MAX_REPEAT_FILLS).contains(&v),
                "max_repeat_fills",
                format!(
                    "{v} must be in 1..={MAX_REPEAT_FILLS} (each side keeps the times of the \
                     last this many fills, allocated up front)"
                ),
            );
        }
        if let Some(v) = broken_trade_fills {
            p.check(
                (1..=MAX_BROKEN_TRADE_FILLS).contains(&v),
                "broken_trade_fills",
                format!(
                    "{v} must be in 1..={MAX_BROKEN_TRADE_FILLS} (each symbol keeps the last \
                     this many fills against prints, allocated up front)"
                ),
            );
        }
        if let Some(v) = max_order_qty {
            p.check(
                (1..=MAX_ORDER_QTY).contains(&v),
                "max_order_qty",
                format!(
                    "{v}: use 1 to {MAX_ORDER_QTY} (a million shares is more than one NASDAQ order)"
                ),
            );
        }
        if let Some(v) = max_notional {
            p.check(
                v > Price::ZERO && v <= MAX_CASH,
                "max_notional",
                format!("{v}: must be positive and at most {MAX_CASH}"),
            );
        }
        if let Some(v) = max_position {
            p.check(
                (1..=MAX_POSITION).contains(&v),
                "max_position",
                format!(
                    "{v}: use 1 to {MAX_POSITION} (position × mark must stay well inside \
                     64-bit fixed point)"
                ),
            );
        }
        if let Some(v) = collar_bps {
            p.check(
                (1..=10_000).contains(&v),
                "collar_bps",
                format!("{v} must be in 1..=10000"),
            );
        }
        if let Some(v) = max_mark_age_ns {
            p.check(
                (1..=MAX_EVENT_NS).contains(&v),
                "max_mark_age_ns",
                format!("{v}: use 1 to {MAX_EVENT_NS} (one day of event time)"),
            );
        }
        if let Some(v) = max_open_orders {
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

/// How an order is priced against the touch; `price` in `[execution]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// `"join"` or `"cross"`.
    pub price: Pricing,
    /// `"day"` or `"ioc"`.
    pub time_in_force: TimeInForce,
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
        max_quote_age_ns = 1000000000
        max_messages_per_sec = 100
        halt_messages_per_sec = 1000
        max_repeat_fills = 50
        repeat_fills_window_ns = 1000000000
        duplicate_window_ns = 1000
        broken_trade_fills = 64
        restricted = []
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
        assert_eq!(c.trading_state, TradingState::Active);
        let tsla = c.limits_for("TSLA");
        assert_eq!(tsla.max_position, 200);
        assert_eq!(tsla.max_notional, Price(500_000_000));
        assert_eq!(tsla.max_order_qty, 500);
        assert_eq!(c.limits_for("AAPL").max_position, 1000);
        let e: ExecutionConfig = toml::from_str(EXECUTION).unwrap();
        assert!(execution_keys(&e).is_empty());
        assert_eq!(e.price, Pricing::Join);
        assert_eq!(e.time_in_force, TimeInForce::Day);
    }

    #[test]
    fn trading_states_parse_by_their_config_names() {
        let names: Vec<&str> = TRADING_STATES.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, TRADING_STATE_NAMES);
        for state in TRADING_STATES {
            let text = RISK.replace("\"active\"", &format!("{:?}", state.as_str()));
            let c: RiskConfig = toml::from_str(&text).unwrap();
            assert_eq!(c.trading_state, state);
        }
    }

    /// An unknown value of an enumerated setting fails the parse, on the key's line,
    /// listing every accepted value.
    fn refused(error: String, key: &str, accepted: &[&str]) {
        assert!(
            error.contains(&format!("{key} = ")),
            "the key's line: {error}"
        );
        assert!(error.contains("unknown variant"), "{error}");
        for value in accepted {
            assert!(error.contains(&format!("`{value}`")), "{value}: {error}");
        }
    }

    #[test]
    fn unknown_enumerated_values_are_refused_naming_the_key_and_the_accepted_values() {
        for bad in ["paused", "Active", "reduce_only"] {
            let text = RISK.replace("\"active\"", &format!("{bad:?}"));
            let e = toml::from_str::<RiskConfig>(&text).unwrap_err().to_string();
            refused(e, "trading_state", &["active", "reduce-only", "halted"]);
        }
        let text = EXECUTION.replace("\"join\"", "\"mid\"");
        let e = toml::from_str::<ExecutionConfig>(&text)
            .unwrap_err()
            .to_string();
        refused(e, "price", &["join", "cross"]);
        let text = EXECUTION.replace("\"day\"", "\"gtc\"");
        let e = toml::from_str::<ExecutionConfig>(&text)
            .unwrap_err()
            .to_string();
        refused(e, "time_in_force", &["day", "ioc"]);
        let text = EXECUTION
            .replace("\"join\"", "\"cross\"")
            .replace("\"day\"", "\"ioc\"");
        let e: ExecutionConfig = toml::from_str(&text).unwrap();
        assert_eq!(
            (e.price, e.time_in_force),
            (Pricing::Cross, TimeInForce::Ioc)
        );
    }

    #[test]
    fn validate_names_every_bad_key() {
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
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
            ..toml::from_str(EXECUTION).unwrap()
        };
        assert_eq!(execution_keys(&e), ["execution.order_ttl_ns"]);
    }

    #[test]
    fn checklist_keys_are_validated_by_name() {
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
        c.max_quote_age_ns = 0;
        c.max_messages_per_sec = 0;
        c.max_repeat_fills = MAX_REPEAT_FILLS + 1;
        c.repeat_fills_window_ns = MAX_EVENT_NS + 1;
        c.duplicate_window_ns = 0;
        c.restricted = vec!["AAPL".into(), "IBM".into()];
        assert_eq!(
            risk_keys(&c),
            [
                "risk.max_quote_age_ns",
                "risk.repeat_fills_window_ns",
                "risk.duplicate_window_ns",
                "risk.max_messages_per_sec",
                "risk.max_repeat_fills",
                "risk.restricted.1",
            ]
        );
        // The ceiling must exceed the refusal limit, also where an override sets one
        // half and the default the other.
        let mut c: RiskConfig = toml::from_str(RISK).unwrap();
        c.halt_messages_per_sec = c.max_messages_per_sec;
        c.symbols.get_mut("TSLA").unwrap().max_messages_per_sec = Some(5_000);
        assert_eq!(
            risk_keys(&c),
            [
                "risk.halt_messages_per_sec",
                "risk.symbols.TSLA.halt_messages_per_sec"
            ]
        );
        assert!(c.is_restricted("AAPL") == c.restricted.contains(&"AAPL".to_string()));
        let missing = RISK.replace("duplicate_window_ns = 1000", "");
        let e = toml::from_str::<RiskConfig>(&missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `duplicate_window_ns`"), "{e}");
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
