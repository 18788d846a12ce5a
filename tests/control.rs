//! The kill switch from outside: an operator halts a running pipeline. Every shard's
//! risk refuses new orders (TRADING_HALTED) and routing pulls what rests.

mod common;

use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::source::replay::Pacing;
use tickpipe::stages::reject::RejectCode;
use tickpipe::sys::TradingState;

const MESSAGES: u64 = 300_000;

#[test]
fn an_operator_halt_stops_new_orders_and_pulls_resting_ones() {
    let mut spec = common::spec("pipelines/fused.toml", 2, MESSAGES);
    // Paced so the halt lands mid-session whatever the host's speed.
    spec.pacing = Pacing::Rate {
        messages_per_sec: 300_000.0,
    };
    let mut pipeline = Pipeline::start(spec).expect("pipeline starts");
    common::wait_for(&pipeline, MESSAGES / 3);
    pipeline.set_trading_state(TradingState::Halted);
    pipeline.set_trading_state(TradingState::Halted);
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let risk = &report.shard.risk;
    assert!(risk.orders_sent > 0, "the strategy traded before the halt");
    assert!(
        risk.rejected(RejectCode::TradingHalted) > 0,
        "after the halt, proposals are refused"
    );
    // Routing pulls once per shard on the control event, however often it is repeated;
    // risk pulls once more per shard on its first decision under the halt if it still
    // had orders open then (the venue ignores a mass cancel with nothing open).
    assert!(risk.cancel_alls_sent <= 2, "{}", risk.cancel_alls_sent);
    assert_eq!(
        report.shard.routing.counts.cancel_alls,
        2 + risk.cancel_alls_sent,
        "one mass cancel per shard from the control event, plus risk's"
    );
    assert_eq!(risk.orders_open_at_end, 0);
}
