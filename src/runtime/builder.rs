//! The engine a user builds on: a config, a topology, a source, a venue and a model in;
//! a running [`Pipeline`] (or its final report) out.
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use tickpipe::msg::Features;
//! # use tickpipe::runtime::{builder::Engine, config::{Config, Kinds}, topology::Topology};
//! # use tickpipe::source::replay::{Input, Pacing};
//! # use tickpipe::stages::inference::Model;
//! # use tickpipe::venue::SimVenue;
//! struct Contrarian;
//! impl Model for Contrarian {
//!     const KIND: &'static str = "contrarian";
//!     fn score(&mut self, f: &Features) -> Option<f32> {
//!         f.view.is_two_sided().then(|| -f.values.imbalance)
//!     }
//! }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kinds = Kinds::of::<Contrarian, SimVenue>();
//! let (config, universe) = Config::load_for(Path::new("my.toml"), kinds)?;
//! let topology = Topology::load(Path::new("pipelines/fused.toml"), None, &universe, &[0, 1])?;
//! let source = Input::File("day.itch".into()).source(Pacing::AsFastAsPossible)?;
//! let report = Engine::new(topology, config, Arc::new(universe), source)
//!     .model(|_| Contrarian)
//!     .run()?;
//! println!("digest {:016x}", report.digest());
//! # Ok(())
//! # }
//! ```
//!
//! The model and the venue are type parameters: every shard's chain is monomorphised
//! over them, so neither costs an indirect call per message. Their factories, and the
//! source (`Box<dyn Source>`, run once per session), are called at set-up only.

use std::sync::Arc;

use super::config::{Config, Kinds};
use super::journal::{JournalMeta, LogFactory};
use super::pipeline::{Parts, Pipeline, PipelineSpec, StartError};
use super::report::RunReport;
use super::topology::Topology;
use crate::source::Source;
use crate::stages::inference::{LinearModel, Model, ModelSetup};
use crate::universe::Universe;
use crate::venue::{SimVenue, Venue, VenueSetup};

/// A pipeline to be started: `M` is the model every shard runs, `V` the venue.
pub struct Engine<M, V> {
    parts: Parts<M, V>,
}

impl Engine<LinearModel, SimVenue> {
    /// The built-in engine — the linear model `[model]` describes, the simulated exchange
    /// of `[venue]` — reading `source`. [`Engine::model`] and [`Engine::venue`] replace
    /// either.
    pub fn new(
        topology: Topology,
        config: Config,
        universe: Arc<Universe>,
        source: Box<dyn Source>,
    ) -> Engine<LinearModel, SimVenue> {
        Engine {
            parts: Parts {
                topology,
                config,
                universe,
                source,
                model: Box::new(|setup: &ModelSetup<'_>| setup.config.linear()),
                venue: Box::new(SimVenue::from_setup),
                metrics: None,
                journal: None,
            },
        }
    }
}

impl<M: Model, V: Venue> Engine<M, V> {
    /// Runs `factory`'s model instead: it is called once per shard, with the shard's
    /// symbols and `[model]`. The config's `[model] kind` must be `N::KIND`.
    pub fn model<N: Model>(self, factory: impl Fn(&ModelSetup<'_>) -> N + 'static) -> Engine<N, V> {
        let p = self.parts;
        Engine {
            parts: Parts {
                topology: p.topology,
                config: p.config,
                universe: p.universe,
                source: p.source,
                model: Box::new(factory),
                venue: p.venue,
                metrics: p.metrics,
                journal: p.journal,
            },
        }
    }

    /// Sends orders to `factory`'s venue instead: it is called once per shard, with
    /// the shard's order capacity and `[venue]`. The config's `[venue] kind` must be
    /// `W::KIND`.
    pub fn venue<W: Venue>(self, factory: impl Fn(&VenueSetup<'_>) -> W + 'static) -> Engine<M, W> {
        let p = self.parts;
        Engine {
            parts: Parts {
                topology: p.topology,
                config: p.config,
                universe: p.universe,
                source: p.source,
                model: p.model,
                venue: Box::new(factory),
                metrics: p.metrics,
                journal: p.journal,
            },
        }
    }

    /// Has every runner publish its figures for [`Pipeline::metrics`] about every
    /// `period` (a shard runner checks every `metrics::CHECK_EVERY` events, so an idle
    /// one publishes its last figures when its input ends).
    pub fn metrics(mut self, period: std::time::Duration) -> Engine<M, V> {
        self.parts.metrics = Some(period);
        self
    }

    /// Journals every shard's decisions to the logs `factory` builds when the pipeline
    /// starts (one per shard; `stages::journal`); a log holding a past session has it
    /// re-derived and checked first, and `meta` is what the report says about it.
    pub fn journal(mut self, meta: JournalMeta, factory: LogFactory) -> Engine<M, V> {
        self.parts.journal = Some((meta, factory));
        self
    }

    /// Checks the config against the model and venue plugged in (every problem, each
    /// with its key), then starts every runner.
    pub fn start(self) -> Result<Pipeline, StartError> {
        self.parts
            .config
            .validate_for(Kinds::of::<M, V>())
            .map_err(StartError::Config)?;
        Pipeline::launch(self.parts)
    }

    /// Starts, then waits for the run to end (the input ends, or a stop is requested
    /// through [`Pipeline::stop_signal`]) and returns its report.
    pub fn run(self) -> Result<RunReport, StartError> {
        Ok(self.start()?.join())
    }
}

// The built-in engine's entry point stands here, beside the engine it runs, so that
// `pipeline` (which launches what an `Engine` hands it) imports nothing of the builder.
impl Pipeline {
    /// Runs the built-in engine: opens the input (a live feed's sockets bind now, so a
    /// bad address fails the start), then [`Engine::start`].
    pub fn start(spec: PipelineSpec) -> Result<Pipeline, StartError> {
        let source = spec.input.source(spec.pacing)?;
        Engine::new(spec.topology, spec.config, spec.universe, source).start()
    }
}
