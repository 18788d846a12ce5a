//! A user's own strategy on tickpipe: the mean-reversion [`model`] replaces the linear
//! model; everything else is the crate's (features, risk, routing, the simulated
//! exchange). It replays a generated session and prints the report.
//!
//! ```sh
//! cargo run --release --example mean_reversion -- --pipeline pipelines/fused.toml --shards 2
//! ```
//!
//! An example of the seams, not an edge.

mod model;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use tickpipe::app::report;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::{Config, Kinds};
use tickpipe::runtime::topology::{self, Topology};
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::tools::sample::SampleSpec;
use tickpipe::venue::SimVenue;

use self::model::MeanReversion;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "examples/mean_reversion/config.toml")]
    config: PathBuf,
    #[arg(long, default_value = "pipelines/fused.toml")]
    pipeline: PathBuf,
    #[arg(long)]
    shards: Option<usize>,
    /// Messages in the generated session.
    #[arg(long, default_value_t = 2_000_000)]
    messages: u64,
}

fn main() -> Result<ExitCode> {
    let args = Args::parse();
    let (config, universe) =
        Config::load_for(&args.config, Kinds::of::<MeanReversion, SimVenue>())?;
    let cores = topology::host_cores();
    let topology = Topology::load(&args.pipeline, args.shards, &universe, &cores)?;
    let session = SampleSpec {
        messages: args.messages,
        ..SampleSpec::default_session()
    };
    let source = Input::Sample(session).source(Pacing::AsFastAsPossible)?;
    let run = Engine::new(topology, config, Arc::new(universe), source)
        .model(MeanReversion::new)
        .run()?;
    print!("{}", report::text(&run));
    Ok(if run.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
