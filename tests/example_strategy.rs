//! The mean-reversion example (`examples/mean_reversion/`), a user's own model plugged
//! in through the builder, trades on a generated session and decides the same whatever
//! the topology: fused or staged, 1 or 2 shards, the venue on its thread or inline.

use std::path::Path;
use std::sync::Arc;

use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::{Config, Kinds};
use tickpipe::runtime::report::RunReport;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::tools::sample::SampleSpec;
use tickpipe::venue::SimVenue;

#[path = "../examples/mean_reversion/model.rs"]
mod model;

use model::MeanReversion;

/// Enough of the sample for the rule to trade, small enough for a debug build.
const MESSAGES: u64 = 200_000;

fn run(topology: &str, shards: usize) -> RunReport {
    let (config, universe) = Config::load_for(
        Path::new("examples/mean_reversion/config.toml"),
        Kinds::of::<MeanReversion, SimVenue>(),
    )
    .expect("the example's config is valid");
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(Path::new(topology), Some(shards), &universe, &cores)
        .expect("bundled topology");
    let session = SampleSpec {
        messages: MESSAGES,
        ..SampleSpec::default_session()
    };
    let source = Input::Sample(session)
        .source(Pacing::AsFastAsPossible)
        .expect("the sample opens");
    let report = Engine::new(topology, config, Arc::new(universe), source)
        .model(MeanReversion::new)
        .run()
        .expect("the pipeline starts");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

#[test]
fn the_example_strategy_trades_and_decides_the_same_in_every_topology() {
    let base = run("pipelines/fused.toml", 1);
    let risk = &base.shard.risk;
    assert!(risk.orders_sent > 0, "the rule must trade");
    assert!(
        risk.fills > 0,
        "and get filled: {} orders",
        risk.orders_sent
    );
    assert_eq!(risk.orders_open_at_end, 0);
    for (topology, shards) in [
        ("pipelines/fused.toml", 2),
        ("pipelines/staged.toml", 1),
        ("pipelines/staged.toml", 2),
        ("pipelines/fused-inline.toml", 1),
        ("pipelines/fused-inline.toml", 2),
    ] {
        let other = run(topology, shards);
        assert_eq!(
            (
                other.digest(),
                other.shard.risk.orders_sent,
                other.shard.risk.fills
            ),
            (base.digest(), risk.orders_sent, risk.fills),
            "{topology} with {shards} shard(s) decided differently from fused with 1"
        );
    }
}

/// The linear model's config does not run the example's model: the kind names another.
#[test]
fn a_config_for_another_model_is_refused_naming_the_key() {
    let err = Config::load_for(
        Path::new("config/tickpipe.toml"),
        Kinds::of::<MeanReversion, SimVenue>(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("model.kind: unknown model kind \"linear\""),
        "{err}"
    );
    assert!(
        err.contains("model.bias: only kind \"linear\" has a bias"),
        "{err}"
    );

    // Handed a config validated for the built-in model, the builder refuses to start.
    let (config, universe) = Config::load(Path::new("config/tickpipe.toml")).unwrap();
    let topology =
        Topology::load(Path::new("pipelines/fused.toml"), None, &universe, &[0, 1]).unwrap();
    let session = SampleSpec {
        messages: 1_000,
        ..SampleSpec::default_session()
    };
    let source = Input::Sample(session)
        .source(Pacing::AsFastAsPossible)
        .unwrap();
    let Err(err) = Engine::new(topology, config, Arc::new(universe), source)
        .model(MeanReversion::new)
        .start()
    else {
        panic!("a linear config must not start the mean-reversion model");
    };
    assert!(err.to_string().contains("model.kind"), "{err}");
}
