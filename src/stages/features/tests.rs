//! The stage driven directly, with a `Vec` as its output.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::config::Problem;
use crate::msg::{FeatureVector, Stamp, TradingStatus};

/// The one symbol the stage owns; `SymbolId(0)` is in the universe but owned elsewhere.
const S: SymbolId = SymbolId(1);

fn config(alpha: f64) -> FeaturesConfig {
    FeaturesConfig {
        max_orders: 64,
        max_levels: 4,
        volatility_alpha: alpha,
        trade_flow_alpha: alpha,
    }
}

fn stage() -> FeatureStage {
    let universe = Arc::new(Universe::new(&["AAA", "BBB", "CCC"]).unwrap());
    FeatureStage::new(universe, &[S], &config(0.5))
}

fn px(s: &str) -> Price {
    s.parse().unwrap()
}

fn event(symbol: SymbolId, update: MarketUpdate) -> MarketEvent {
    MarketEvent {
        stamp: Stamp {
            ts_recv: 7,
            ts_event: 34_200_000_000_000,
        },
        symbol,
        update,
    }
}

/// Feeds one update for `S`; returns what the stage emitted.
fn feed(stage: &mut FeatureStage, update: MarketUpdate) -> Vec<Features> {
    let mut out = Vec::new();
    stage.on_event(event(S, update), &mut out);
    out
}

/// The single view one update emitted.
fn one(stage: &mut FeatureStage, update: MarketUpdate) -> MarketView {
    let out = feed(stage, update);
    assert_eq!(out.len(), 1, "{update:?} emitted {out:?}");
    out[0].view
}

fn add(order_ref: u64, price: &str, shares: u32, side: Side) -> MarketUpdate {
    MarketUpdate::Add {
        order_ref,
        price: px(price),
        shares,
        side,
    }
}

/// Bid 100.00 × 300 (ref 1), ask 100.10 × 100 (ref 2).
fn two_sided() -> FeatureStage {
    let mut stage = stage();
    feed(&mut stage, add(1, "100.00", 300, Side::Buy));
    feed(&mut stage, add(2, "100.10", 100, Side::Sell));
    stage
}

fn close(got: f32, want: f64) -> bool {
    (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0)
}

#[test]
fn top_of_book_changes_emit_quotes_and_deep_changes_do_not() {
    let mut stage = stage();
    let v = one(&mut stage, add(1, "100.00", 300, Side::Buy));
    assert_eq!(
        (v.bid_px, v.bid_qty, v.ask_px, v.ask_qty),
        (px("100.00"), 300, Price::ZERO, 0)
    );
    assert_eq!(
        (v.cause, v.print_qty, v.status),
        (ViewCause::Quote, 0, TradingStatus::Unknown)
    );
    assert_eq!(
        v.stamp,
        event(S, MarketUpdate::Delete { order_ref: 0 }).stamp
    );
    assert_eq!(v.symbol, S);

    let v = one(&mut stage, add(2, "100.10", 100, Side::Sell));
    assert_eq!((v.ask_px, v.ask_qty), (px("100.10"), 100));

    // Below the best bid and above the best ask: nothing downstream can see.
    assert!(feed(&mut stage, add(3, "99.90", 500, Side::Buy)).is_empty());
    assert!(feed(&mut stage, add(4, "100.20", 500, Side::Sell)).is_empty());
    assert!(
        feed(
            &mut stage,
            MarketUpdate::Cancel {
                order_ref: 3,
                shares: 200
            }
        )
        .is_empty()
    );
    assert!(feed(&mut stage, MarketUpdate::Delete { order_ref: 4 }).is_empty());

    let v = one(&mut stage, add(5, "100.00", 50, Side::Buy));
    assert_eq!((v.bid_px, v.bid_qty), (px("100.00"), 350));
    // The best bid goes; the deep level becomes the top.
    feed(&mut stage, MarketUpdate::Delete { order_ref: 5 });
    let v = one(&mut stage, MarketUpdate::Delete { order_ref: 1 });
    assert_eq!(
        (v.bid_px, v.bid_qty, v.cause),
        (px("99.90"), 300, ViewCause::Quote)
    );

    let stats = stage.stats();
    assert_eq!((stats.events, stats.views), (9, 5));
}

#[test]
fn executions_print_at_the_resting_price_and_name_the_resting_side() {
    let mut stage = two_sided();
    // The trade also moves the top; the cause is the trade.
    let v = one(
        &mut stage,
        MarketUpdate::Execute {
            order_ref: 1,
            shares: 100,
            match_number: 7,
        },
    );
    assert_eq!(
        (v.cause, v.print_px, v.print_qty),
        (ViewCause::BidHit, px("100.00"), 100)
    );
    assert_eq!(v.bid_qty, 200);

    let v = one(
        &mut stage,
        MarketUpdate::Execute {
            order_ref: 2,
            shares: 100,
            match_number: 7,
        },
    );
    assert_eq!(
        (v.cause, v.print_px, v.print_qty),
        (ViewCause::AskLifted, px("100.10"), 100)
    );
    assert_eq!((v.ask_px, v.ask_qty), (Price::ZERO, 0));
}

#[test]
fn executions_at_a_price_print_only_when_printable() {
    let mut stage = two_sided();
    feed(&mut stage, add(3, "99.50", 100, Side::Buy));

    let v = one(
        &mut stage,
        MarketUpdate::ExecuteAtPrice {
            order_ref: 1,
            price: px("100.02"),
            shares: 50,
            printable: true,
            match_number: 7,
        },
    );
    assert_eq!(
        (v.cause, v.print_px, v.print_qty),
        (ViewCause::BidHit, px("100.02"), 50)
    );

    let v = one(
        &mut stage,
        MarketUpdate::ExecuteAtPrice {
            order_ref: 2,
            price: px("100.08"),
            shares: 40,
            printable: false,
            match_number: 7,
        },
    );
    assert_eq!((v.cause, v.print_qty, v.ask_qty), (ViewCause::Quote, 0, 60));

    let deep = MarketUpdate::ExecuteAtPrice {
        order_ref: 3,
        price: px("99.50"),
        shares: 40,
        printable: false,
        match_number: 7,
    };
    assert!(feed(&mut stage, deep).is_empty());
}

#[test]
fn hidden_trades_and_crosses_print_without_touching_the_book() {
    let mut stage = two_sided();
    let v = one(
        &mut stage,
        MarketUpdate::Trade {
            price: px("100.05"),
            shares: 10,
            match_number: 7,
        },
    );
    assert_eq!(
        (v.cause, v.print_px, v.print_qty),
        (ViewCause::Hidden, px("100.05"), 10),
        "ITCH gives a hidden trade no usable side"
    );
    assert_eq!((v.bid_qty, v.ask_qty), (300, 100));

    let v = one(
        &mut stage,
        MarketUpdate::Cross {
            price: px("100.04"),
            shares: 5_000_000_000,
            match_number: 7,
        },
    );
    assert_eq!(
        (v.cause, v.print_px, v.print_qty),
        (ViewCause::Cross, px("100.04"), u32::MAX)
    );

    // A cross of no shares prints nothing.
    assert!(
        feed(
            &mut stage,
            MarketUpdate::Cross {
                price: px("100.04"),
                shares: 0,
                match_number: 7,
            }
        )
        .is_empty()
    );
}

#[test]
fn trading_state_changes_emit_status_views() {
    let mut stage = two_sided();
    let status = |status| MarketUpdate::Status { status };
    let halt = |halted| MarketUpdate::OperationalHalt { halted };

    let v = one(&mut stage, status(TradingStatus::Trading));
    assert_eq!(
        (v.cause, v.status),
        (ViewCause::Status, TradingStatus::Trading)
    );
    assert_eq!((v.bid_qty, v.ask_qty), (300, 100));
    assert!(feed(&mut stage, status(TradingStatus::Trading)).is_empty());

    let v = one(&mut stage, halt(true));
    assert_eq!(
        (v.cause, v.status),
        (ViewCause::Status, TradingStatus::Halted)
    );
    assert!(!stage.books().book(S).unwrap().can_trade());
    // Still halted as far as anyone downstream can tell.
    assert!(feed(&mut stage, status(TradingStatus::Paused)).is_empty());

    let v = one(&mut stage, halt(false));
    assert_eq!(
        (v.cause, v.status),
        (ViewCause::Status, TradingStatus::Paused)
    );
    let v = one(&mut stage, status(TradingStatus::Trading));
    assert_eq!(v.status, TradingStatus::Trading);

    // A quote under a halt carries the halt.
    feed(&mut stage, halt(true));
    let v = one(&mut stage, add(3, "100.01", 1, Side::Buy));
    assert_eq!(
        (v.cause, v.status),
        (ViewCause::Quote, TradingStatus::Halted)
    );
}

#[test]
fn feature_values_on_a_hand_computed_book() {
    let mut stage = stage();
    let out = feed(&mut stage, add(1, "100.00", 300, Side::Buy));
    assert_eq!(out[0].values, FeatureVector::default(), "one-sided");

    let f = feed(&mut stage, add(2, "100.10", 100, Side::Sell))[0].values;
    // mid 100.05; spread 0.10; microprice (100.00·100 + 100.10·300) / 400 = 100.075.
    assert!(close(f.spread_bps, 0.10 / 100.05 * 1e4), "{f:?}");
    assert!(close(f.imbalance, 0.5), "{f:?}");
    assert!(
        close(f.microprice_bps, (100.075 - 100.05) / 100.05 * 1e4),
        "{f:?}"
    );
    assert_eq!((f.volatility_bps, f.trade_flow), (0.0, 0.0));

    // Ask-heavy, bid 100.00 × 300 and ask 100.10 × 900: the microprice is below the mid.
    let f = feed(&mut stage, add(3, "100.10", 800, Side::Sell))[0].values;
    let micro = (100.00 * 900.0 + 100.10 * 300.0) / 1200.0;
    assert!(close(f.imbalance, -0.5), "{f:?}");
    assert!(
        close(f.microprice_bps, (micro - 100.05) / 100.05 * 1e4),
        "{f:?}"
    );
}

#[test]
fn volatility_is_an_ewma_of_squared_mid_returns() {
    let mut stage = stage();
    feed(&mut stage, add(1, "100.00", 100, Side::Buy));
    feed(&mut stage, add(2, "100.10", 100, Side::Sell));

    // Mid 100.05 → 100.04.
    let f = feed(&mut stage, add(3, "100.08", 100, Side::Sell))[0].values;
    let r1: f64 = (100.04 - 100.05) / 100.05 * 1e4;
    let var1 = 0.5 * r1 * r1;
    assert!(close(f.volatility_bps, var1.sqrt()), "{f:?}");

    // Size changes leave the mid, and so the volatility, alone.
    let f = feed(&mut stage, add(4, "100.08", 100, Side::Sell))[0].values;
    assert!(close(f.volatility_bps, var1.sqrt()), "{f:?}");

    // Mid 100.04 → 100.05.
    let f = feed(&mut stage, add(5, "100.02", 100, Side::Buy))[0].values;
    let r2: f64 = (100.05 - 100.04) / 100.04 * 1e4;
    let var2 = 0.5 * r2 * r2 + 0.5 * var1;
    assert!(close(f.volatility_bps, var2.sqrt()), "{f:?}");
}

#[test]
fn trade_flow_is_signed_by_the_aggressor_and_ignores_crosses_and_hidden_trades() {
    let mut stage = two_sided();
    feed(&mut stage, add(4, "100.10", 100, Side::Sell));
    // A resting sell traded: a buyer was the aggressor.
    let f = feed(
        &mut stage,
        MarketUpdate::Execute {
            order_ref: 2,
            shares: 100,
            match_number: 7,
        },
    )[0]
    .values;
    assert!(close(f.trade_flow, 1.0), "{f:?}");
    let hidden = MarketUpdate::Trade {
        price: px("100.05"),
        shares: 500,
        match_number: 7,
    };
    let f = feed(&mut stage, hidden)[0].values;
    assert!(
        close(f.trade_flow, 1.0),
        "a hidden trade has no side: {f:?}"
    );

    // Seller hits the bid for 300: (0.5·−300 + 0.5·50) / (0.5·300 + 0.5·50).
    let f = feed(
        &mut stage,
        MarketUpdate::Execute {
            order_ref: 1,
            shares: 300,
            match_number: 7,
        },
    );
    assert_eq!(
        f[0].values,
        FeatureVector::default(),
        "the bid is gone: one-sided"
    );
    let f = feed(&mut stage, add(3, "100.00", 300, Side::Buy))[0].values;
    let flow = -125.0 / 175.0;
    assert!(close(f.trade_flow, flow), "{f:?}");

    let f = feed(
        &mut stage,
        MarketUpdate::Cross {
            price: px("100.05"),
            shares: 1000,
            match_number: 7,
        },
    )[0]
    .values;
    assert!(close(f.trade_flow, flow), "{f:?}");
    let hidden = MarketUpdate::ExecuteAtPrice {
        order_ref: 3,
        price: px("100.00"),
        shares: 10,
        printable: false,
        match_number: 7,
    };
    let f = feed(&mut stage, hidden)[0].values;
    assert!(close(f.trade_flow, flow), "{f:?}");
}

#[test]
fn locked_books_are_marked_invalid_until_they_clear() {
    let mut stage = two_sided();
    let v = one(&mut stage, add(3, "100.10", 10, Side::Buy));
    assert_eq!((v.bid_px, v.ask_px), (px("100.10"), px("100.10")));
    assert!(!stage.books().book(S).unwrap().is_valid());
    one(&mut stage, MarketUpdate::Delete { order_ref: 3 });
    assert!(stage.books().book(S).unwrap().is_valid());
    assert_eq!(stage.stats().book.crossings, 1);
}

#[test]
fn bad_events_and_other_shards_symbols_are_counted_and_skipped() {
    let mut stage = two_sided();
    let mut out = Vec::new();
    stage.on_event(event(SymbolId(0), add(9, "1.00", 1, Side::Buy)), &mut out);
    stage.on_event(event(SymbolId(2), add(9, "1.00", 1, Side::Buy)), &mut out);
    stage.on_event(
        event(
            S,
            MarketUpdate::Execute {
                order_ref: 99,
                shares: 1,
                match_number: 7,
            },
        ),
        &mut out,
    );
    stage.on_event(event(S, add(1, "100.05", 1, Side::Buy)), &mut out);
    assert!(out.is_empty(), "{out:?}");

    let stats = stage.stats();
    assert_eq!((stats.events, stats.views, stats.not_owned), (6, 2, 2));
    assert_eq!((stats.book.unknown_ref, stats.book.duplicate_ref), (1, 1));

    let mut report = ShardReport::default();
    stage.report(&mut report);
    stage.report(&mut report);
    assert_eq!(report.features.events, 12);
    assert_eq!(report.features.book.unknown_ref, 2);
}

fn parse(text: &str) -> Result<FeaturesConfig, toml::de::Error> {
    toml::from_str(text)
}

fn problems(config: &FeaturesConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    config.validate(&mut Problems::new("features", &mut out));
    out
}

#[test]
fn config_requires_every_key_and_rejects_unknown_ones() {
    let full =
        "max_orders = 1000000\nmax_levels = 256\nvolatility_alpha = 0.05\ntrade_flow_alpha = 0.1\n";
    let config = parse(full).unwrap();
    assert!(problems(&config).is_empty());
    assert_eq!((config.max_orders, config.max_levels), (1_000_000, 256));

    let missing = full.replace("max_levels = 256\n", "");
    assert!(
        parse(&missing)
            .unwrap_err()
            .to_string()
            .contains("max_levels")
    );
    let unknown = format!("{full}depth = 5\n");
    assert!(parse(&unknown).unwrap_err().to_string().contains("depth"));
}

#[test]
fn sizes_are_bounded_and_the_error_gives_the_reason() {
    let text = "max_orders = 1000000000000000\nmax_levels = 4000000000\nvolatility_alpha = 0.05\ntrade_flow_alpha = 0.1\n";
    let found = problems(&parse(text).unwrap());
    let shown: Vec<String> = found.iter().map(Problem::to_string).collect();
    assert_eq!(
        shown,
        [
            "features.max_orders: 1000000000000000: use 1 to 16777216 (the order map is \
             allocated up front: 48 bytes an order, 768 MiB at the bound)",
            "features.max_levels: 4000000000: use 1 to 16384 (each symbol's two sides are \
             allocated up front: 48 bytes a level, 768 KiB a symbol at the bound)",
        ]
    );
    let mut c = config(1.0);
    (c.max_orders, c.max_levels) = (MAX_ORDERS, MAX_LEVELS);
    assert!(problems(&c).is_empty());
}

#[test]
fn config_validation_names_every_bad_key() {
    let text = "max_orders = 0\nmax_levels = 0\nvolatility_alpha = nan\ntrade_flow_alpha = 1.5\n";
    let keys: Vec<String> = problems(&parse(text).unwrap())
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(
        keys,
        [
            "features.max_orders",
            "features.max_levels",
            "features.volatility_alpha",
            "features.trade_flow_alpha"
        ]
    );
    for alpha in [0.0, -0.1, f64::INFINITY] {
        let mut c = config(1.0);
        c.volatility_alpha = alpha;
        assert_eq!(problems(&c).len(), 1, "{alpha}");
    }
    assert!(problems(&config(1.0)).is_empty());
}

fn events() -> impl Strategy<Value = Vec<MarketEvent>> {
    let symbol = prop_oneof![8 => Just(S), 1 => Just(SymbolId(0))];
    proptest::collection::vec(
        (symbol, book::model_tests::update()).prop_map(|(s, u)| event(s, u)),
        1..300,
    )
}

proptest! {
    /// Whatever arrives, a view is emitted exactly when downstream could see a change,
    /// and every view is self-consistent.
    #[test]
    fn views_are_emitted_on_visible_change_and_are_consistent(events in events()) {
        let mut stage = stage();
        let mut out = Vec::new();
        for e in events {
            let before = stage.books().book(S).map(|b| (b.top(), b.effective_status())).unwrap();
            out.clear();
            stage.on_event(e, &mut out);
            let after = stage.books().book(S).map(|b| (b.top(), b.effective_status())).unwrap();
            let printed = out.first().is_some_and(|f| f.view.print_qty > 0);
            prop_assert_eq!(out.len(), usize::from(before != after || printed));
            prop_assert!(out.len() <= 1);
            let Some(f) = out.first() else { continue };
            let (v, x) = (f.view, f.values);
            prop_assert_eq!(v.symbol, S);
            prop_assert_eq!(v.cause.is_trade(), v.print_qty > 0);
            if !printed && before.1 != after.1 {
                prop_assert_eq!(v.cause, ViewCause::Status);
            }
            prop_assert!(v.bid_qty > 0 || v.bid_px == Price::ZERO);
            prop_assert!(v.ask_qty > 0 || v.ask_px == Price::ZERO);
            if !v.is_two_sided() {
                prop_assert_eq!(x, FeatureVector::default());
            }
            for value in [x.microprice_bps, x.spread_bps, x.imbalance, x.volatility_bps, x.trade_flow] {
                prop_assert!(value.is_finite());
            }
            prop_assert!(x.imbalance.abs() <= 1.0 && x.trade_flow.abs() <= 1.0);
        }
    }
}

#[test]
fn reg_sho_and_circuit_breakers_reach_risk_as_views_of_the_unchanged_top() {
    let mut stage = two_sided();
    let on = MarketUpdate::ShortSaleRestriction { restricted: true };
    let v = one(&mut stage, on);
    assert_eq!(v.cause, ViewCause::ShortSaleRestricted);
    assert_eq!(
        (v.bid_px, v.bid_qty, v.ask_px, v.ask_qty),
        (px("100.00"), 300, px("100.10"), 100)
    );
    assert!(feed(&mut stage, on).is_empty(), "no change, no view");
    let off = MarketUpdate::ShortSaleRestriction { restricted: false };
    assert_eq!(one(&mut stage, off).cause, ViewCause::ShortSaleLifted);
    let v = one(&mut stage, MarketUpdate::CircuitBreaker { level: 1 });
    assert_eq!(v.cause, ViewCause::CircuitBreaker);
    assert_eq!(
        (v.bid_px, v.ask_px),
        (px("100.00"), px("100.10")),
        "the book is untouched"
    );
}

#[test]
fn prints_carry_their_match_number_and_a_broken_trade_names_the_one_it_breaks() {
    let mut stage = two_sided();
    let v = one(
        &mut stage,
        MarketUpdate::Execute {
            order_ref: 1,
            shares: 100,
            match_number: 256_461,
        },
    );
    assert_eq!((v.cause, v.match_number), (ViewCause::BidHit, 256_461));
    let v = one(
        &mut stage,
        MarketUpdate::BrokenTrade {
            match_number: 256_461,
        },
    );
    assert_eq!(
        (v.cause, v.match_number, v.print_qty),
        (ViewCause::BrokenTrade, 256_461, 0)
    );
    assert_eq!(
        (v.bid_px, v.bid_qty, v.ask_px, v.ask_qty),
        (px("100.00"), 200, px("100.10"), 100),
        "the book is untouched"
    );
    // A quote change prints nothing and names no match.
    assert_eq!(
        one(&mut stage, add(9, "100.01", 100, Side::Buy)).match_number,
        0
    );
}
