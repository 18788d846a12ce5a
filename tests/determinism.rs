//! The same input gives the same orders and fills whatever the topology or shard count:
//! decisions run in event time, never on thread timing (DESIGN.md).

mod common;

/// Enough of the sample for hundreds of orders and fills, small enough for a debug build.
const MESSAGES: u64 = 300_000;

#[test]
fn fused_and_staged_with_one_and_two_shards_give_identical_decisions() {
    let base = common::run("pipelines/fused.toml", 1, MESSAGES);
    let risk = &base.shard.risk;
    assert!(
        risk.orders_sent > 50,
        "the sample must make the strategy trade: {} orders",
        risk.orders_sent
    );
    assert!(risk.fills > 10, "and get filled: {} fills", risk.fills);
    for (topology, shards) in [
        ("pipelines/fused.toml", 2),
        ("pipelines/staged.toml", 1),
        ("pipelines/staged.toml", 2),
    ] {
        let other = common::run(topology, shards, MESSAGES);
        assert_eq!(
            (
                other.digest(),
                other.shard.risk.orders_sent,
                other.shard.risk.fills
            ),
            (base.digest(), risk.orders_sent, risk.fills),
            "{topology} with {shards} shard(s) decided differently from fused with 1"
        );
        assert_eq!(other.source.messages, base.source.messages);
    }
}

#[test]
fn a_replay_repeats_itself_exactly() {
    let a = common::run("pipelines/staged.toml", 2, MESSAGES / 3);
    let b = common::run("pipelines/staged.toml", 2, MESSAGES / 3);
    assert_eq!(a.digest(), b.digest());
}
