//! Halt-to-last-order latency: how long after an operator's halt the last order of any
//! shard reaches the venue, and how long until every shard's venue has the mass cancel
//! that pulls its orders.
//!
//! Each run replays the sample session unpaced (every feed ring full of market data)
//! through `pipelines/fused.toml` with 2 shards and a venue that stamps every `New` and
//! `CancelAll` it is handed with the monotonic clock. At a third of the session the
//! halt is sent the way `tickpipe ctl halt` sends it (the control socket's request
//! handler: latch, then every runner's control ring). Figures are from the halt's
//! request to the stamps; a negative "last order" means no order arrived after the
//! halt. `--runs` runs; the table gives the median and the worst.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;
use tickpipe::msg::{ExecReport, InFlightOrder, VenueCommand, VenueTiming};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::control::respond;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::sys::edge::Emit;
use tickpipe::tools::sample::SampleSpec;
use tickpipe::venue::{ReconcileError, SimVenue, Venue, VenueStats};

#[derive(Parser)]
#[command(about = "Halt-to-last-order latency through the control socket's handler")]
struct Args {
    /// Runs [default: 9].
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Messages per run [default: 600000].
    #[arg(long, default_value_t = 600_000)]
    messages: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Default)]
struct Stamps {
    news: Vec<Instant>,
    cancel_all: Option<Instant>,
}

struct Stamping {
    venue: SimVenue,
    stamps: Arc<Mutex<Stamps>>,
}

impl Venue for Stamping {
    const KIND: &'static str = SimVenue::KIND;
    const TIMING: VenueTiming = SimVenue::TIMING;

    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        match command {
            VenueCommand::New { .. } => self.stamps.lock().unwrap().news.push(Instant::now()),
            VenueCommand::CancelAll { .. } => {
                let mut s = self.stamps.lock().unwrap();
                s.cancel_all.get_or_insert_with(Instant::now);
            }
            _ => {}
        }
        self.venue.on_command(command, out);
    }

    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        self.venue.poll(out)
    }

    fn stats(&self) -> &VenueStats {
        self.venue.stats()
    }

    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        positions: &[(tickpipe::msg::SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        self.venue.reconcile(in_flight, positions)
    }
}

/// Signed microseconds from `from` to `to`.
fn us(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e6
    } else {
        -((from - to).as_secs_f64() * 1e6)
    }
}

fn main() {
    let args = Args::parse();
    let (config, universe) = Config::load(Path::new("config/tickpipe.toml")).expect("config");
    let universe = Arc::new(universe);
    let cores: Vec<usize> = (0..64).collect();
    let mut last_order = Vec::new();
    let mut all_pulled = Vec::new();
    for _ in 0..args.runs {
        let topology = Topology::load(
            Path::new("pipelines/fused.toml"),
            Some(2),
            &universe,
            &cores,
        )
        .expect("topology");
        let input = Input::Sample(SampleSpec {
            messages: args.messages,
            ..SampleSpec::default_session()
        });
        let source = input.source(Pacing::AsFastAsPossible).expect("source");
        let logs: Arc<Mutex<Vec<Arc<Mutex<Stamps>>>>> = Arc::default();
        let registry = Arc::clone(&logs);
        let pipeline = Engine::new(topology, config.clone(), Arc::clone(&universe), source)
            .venue(move |setup| {
                let stamps = Arc::new(Mutex::new(Stamps::default()));
                registry.lock().unwrap().push(Arc::clone(&stamps));
                Stamping {
                    venue: SimVenue::from_setup(setup),
                    stamps,
                }
            })
            .start()
            .expect("pipeline");
        while pipeline.progress() < args.messages / 3 {
            std::thread::yield_now();
        }
        let hub = pipeline.control_hub();
        let halted = Instant::now();
        assert_eq!(respond("halt", &hub), "ok halted\n");
        let report = pipeline.join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let logs = logs.lock().unwrap();
        let mut last = f64::NEG_INFINITY;
        let mut pulled = 0f64;
        for stamps in logs.iter() {
            let s = stamps.lock().unwrap();
            if let Some(&t) = s.news.last() {
                last = last.max(us(halted, t));
            }
            let c = s.cancel_all.expect("the halt reached every venue");
            pulled = pulled.max(us(halted, c));
        }
        last_order.push(last);
        all_pulled.push(pulled);
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (lo_med, lo_max) = summary(&mut last_order);
    let (p_med, p_max) = summary(&mut all_pulled);
    println!(
        "halt, fused, 2 shards, unpaced, {} runs (µs after the halt request)",
        args.runs
    );
    println!("| figure | median | worst |");
    println!("|---|---|---|");
    println!("| last order reaches a venue | {lo_med:.1} | {lo_max:.1} |");
    println!("| every venue has the mass cancel | {p_med:.1} | {p_max:.1} |");
}
