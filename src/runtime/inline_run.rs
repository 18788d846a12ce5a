//! A whole run on the calling thread: the replay source frames and routes a byte buffer,
//! then one shard's five stages, fused, run it with the simulated venue called inline.
//!
//! For fuzzing and tests, where a threaded pipeline per input costs too much (three
//! threads started and joined per input) and thread timing would make a failing input
//! hard to reproduce. It runs the same source, router, stages, duty cycle and venue as
//! [`super::pipeline::Pipeline`], so decisions and counters are those of a one-shard
//! replay; only the latencies differ, since every message is routed before the stages
//! start, and mean nothing here.
//!
//! The feed ring holds every routed frame at once (64 bytes each), so this suits inputs
//! of a few MB at most.

use std::sync::Arc;
use std::time::Instant;

use super::inline::inline_venue;
use super::runner::{Chain, Link, RunnerOutput, drive};
use crate::clock::MonoClock;
use crate::codec::itch::Framer;
use crate::latency::{LatencyRecorder, StageTimer};
use crate::msg::SymbolId;
use crate::runtime::config::Config;
use crate::runtime::report::{RunMeta, RunReport};
use crate::source::replay::{Pacing, ReplayInput, ReplaySource};
use crate::source::router::ShardRouter;
use crate::source::{Source, SourceContext};
use crate::stages::Control;
use crate::stages::coordinator::Coordinator;
use crate::stages::decode::Decode;
use crate::stages::features::FeatureStage;
use crate::stages::inference::Inference;
use crate::stages::risk::Risk;
use crate::stages::risk::firm::FirmPools;
use crate::stages::routing::Routing;
use crate::sys::edge::{Backpressure, edge};
use crate::sys::idle::{IdleStrategy, Idler};
use crate::sys::{Failure, Heartbeat, Progress, Pulse, StopSignal, TradingLatch};
use crate::universe::Universe;
use crate::venue::SimVenue;

/// Runs `bytes` (a NASDAQ-format ITCH 5.0 file: 2-byte big-endian length before each
/// message) through one shard that owns every symbol, and reports as a run would.
///
/// `config` must have passed [`Config::validate`], which gave `universe`. Input that
/// ends inside a message is the source's failure in the report, as in a pipeline run;
/// everything framed before it has run.
///
/// # Panics
/// Where a stage or the venue panics: a pipeline run would record it as a failure
/// naming the stage; here it reaches the caller, with its backtrace.
pub fn run_inline(bytes: &[u8], config: &Config, universe: Arc<Universe>) -> RunReport {
    let started = Instant::now();
    let clock = MonoClock::new();
    let stop = Arc::new(StopSignal::new());
    let owned: Vec<SymbolId> = universe.ids().collect();
    let idle = || Idler::new(IdleStrategy::BusySpin {});

    // Room for every frame the source can route: one shard gets at most one per message.
    let frames = Framer::new(bytes).filter(Result::is_ok).count();
    let (feed_out, mut feed_in) = edge("shard0/feed", frames.max(1), Backpressure::Halt, idle());
    let mut ctx = SourceContext {
        router: ShardRouter::new(
            Arc::clone(&universe),
            vec![0; universe.len()],
            vec![feed_out],
        ),
        idle: idle(),
        clock: clock.clone(),
        progress: Arc::new(Progress::new()),
        stop: Arc::clone(&stop),
        metrics: None,
    };
    let input = format!("{} bytes in memory", bytes.len());
    let mut source = ReplaySource::new(
        ReplayInput::Bytes(bytes.to_vec()),
        input.clone(),
        Pacing::AsFastAsPossible,
    );
    if let Err(e) = source.run(&mut ctx) {
        stop.fail(Failure {
            runner: "source".into(),
            stage: "source".into(),
            message: e.to_string(),
        });
    }
    let mut source_out = RunnerOutput::new("source");
    source_out.edges = ctx.router.edge_stats();
    source_out.source = Some(ctx.router.stats().clone());
    // Dropping the router closes the feed ring: the shard drains it and ends.
    drop(ctx);

    let open_limit = config.risk.open_orders_limit(&universe, &owned);
    let sim = config
        .venue
        .sim()
        .expect("a validated config's [venue] is the simulated exchange's");
    let venue = SimVenue::new(universe.len(), sim, open_limit);
    let (venue, reports) = inline_venue(venue, open_limit);
    let latch = Arc::new(TradingLatch::new(config.risk.trading_state));
    let rec = || StageTimer::new(clock.clone());
    let routing = Link::new(
        Routing::new(LatencyRecorder::new(clock.clone())),
        venue,
        rec(),
    );
    let risk = Risk::new(
        Arc::clone(&universe),
        &owned,
        &config.risk,
        &config.execution,
        latch,
        reports,
    )
    .with_firm(Arc::new(FirmPools::new(&config.firm, 1)), 0);
    let risk = match &config.coordinator {
        Some(c) => risk.with_coordinator(Coordinator::new(
            c,
            universe.len(),
            &owned,
            &config.parents(&universe),
        )),
        None => risk,
    };
    let risk = Link::new(risk, routing, rec());
    let inference = Link::new(Inference::new(&config.model, universe.len()), risk, rec());
    let features = FeatureStage::new(Arc::clone(&universe), &owned, &config.features);
    let features = Link::new(features, inference, rec());
    let mut chain = Link::new(Decode::new(Arc::clone(&universe)), features, rec());
    // No operator sends control events to an inline run: its control ring is closed.
    let (_, mut control) = edge::<Control>("shard0/control", 1, Backpressure::Halt, idle());
    // Nothing watches a run on the calling thread: its heartbeat is counted and unread,
    // and the report's health section says the watchdog was off.
    let mut pulse = Pulse::new(Arc::new(Heartbeat::new()));
    drive(
        &mut feed_in,
        &mut control,
        &mut chain,
        &mut idle(),
        &mut pulse,
    );
    let mut shard_out = RunnerOutput::new("shard0/inline");
    chain.finish(&mut shard_out);

    let meta = RunMeta {
        input,
        topology: "inline".into(),
        topology_description: "one shard: source, five stages and the simulated venue on \
                               the calling thread"
            .into(),
        shards: 1,
        starting_cash: config.risk.starting_cash,
        universe,
        pacing: Pacing::AsFastAsPossible,
        journal: None,
    };
    RunReport::build(
        meta,
        vec![source_out, shard_out],
        stop.failures(),
        started.elapsed(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::codec::itch::{Header, Message, PREFIX_LEN, encode, testing};
    use crate::runtime::pipeline::{Pipeline, PipelineSpec};
    use crate::runtime::topology::Topology;
    use crate::source::replay::Input;
    use crate::stages::risk::RiskStats;
    use crate::tools::sample::{SampleSpec, generate};

    fn config() -> (Config, Arc<Universe>) {
        let (config, universe) =
            Config::load(Path::new("config/tickpipe.toml")).expect("bundled config");
        (config, Arc::new(universe))
    }

    fn sample(messages: u64) -> SampleSpec {
        SampleSpec {
            messages,
            ..SampleSpec::default_session()
        }
    }

    #[test]
    fn decides_and_counts_as_a_one_shard_pipeline_does() {
        let (config, universe) = config();
        let spec = sample(30_000);
        let inline = run_inline(&generate(&spec), &config, Arc::clone(&universe));

        let cores: Vec<usize> = (0..64).collect();
        let topology = Topology::load(
            Path::new("pipelines/fused.toml"),
            Some(1),
            &universe,
            &cores,
        )
        .expect("bundled topology");
        let threaded = Pipeline::start(PipelineSpec {
            topology,
            config,
            universe,
            input: Input::Sample(spec),
            pacing: Pacing::AsFastAsPossible,
        })
        .expect("pipeline starts")
        .join();

        assert!(inline.failures.is_empty(), "{:?}", inline.failures);
        assert!(threaded.failures.is_empty(), "{:?}", threaded.failures);
        assert!(inline.shard.risk.orders_sent > 0, "the sample trades");
        assert_eq!(inline.digest(), threaded.digest());
        assert_eq!(inline.source, threaded.source);
        assert_eq!(inline.shard.decode, threaded.shard.decode);
        // How often risk waited for the venue depends on thread timing, nothing else.
        let decided = |r: &RiskStats| RiskStats {
            watermark_waits: 0,
            watermark_wait_ns: Default::default(),
            ..r.clone()
        };
        assert_eq!(decided(&inline.shard.risk), decided(&threaded.shard.risk));
        assert_eq!(inline.venue.stats, threaded.venue.stats);
        assert_eq!(
            inline.books().collect::<Vec<_>>(),
            threaded.books().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_truncated_input_is_the_sources_failure_after_what_it_framed() {
        let (config, universe) = config();
        let mut bytes = generate(&sample(300));
        let whole = Framer::new(&bytes).count() as u64;
        bytes.truncate(bytes.len() - 7);
        let report = run_inline(&bytes, &config, universe);

        let [failure] = &report.failures[..] else {
            panic!("one failure expected: {:?}", report.failures);
        };
        assert_eq!(
            (failure.runner.as_str(), failure.stage.as_str()),
            ("source", "source")
        );
        assert!(
            failure.message.starts_with("input ended short at byte")
                && failure.message.contains("it ends inside a message"),
            "{}",
            failure.message
        );
        assert_eq!(report.source.messages, whole - 1, "all but the cut message");
        let last = Framer::new(&bytes).filter_map(Result::ok).last().unwrap();
        assert_eq!(
            report.source.bytes,
            last.offset + (PREFIX_LEN + last.bytes.len()) as u64
        );
        assert_eq!(report.shard.risk.orders_open_at_end, 0);
        assert_eq!(report.venue.stats.commands.end_of_session, 1);
    }

    #[test]
    fn every_framed_message_is_routed_untracked_or_skipped() {
        let (config, universe) = config();
        let header = |locate| Header {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: 1,
        };
        let mut bytes = Vec::new();
        let mut frame = |msg: &[u8]| {
            bytes.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            bytes.extend_from_slice(msg);
        };
        let encoded = |msg: &Message<'_>| {
            let mut out = Vec::new();
            encode(msg, &mut out).unwrap();
            out
        };
        let aapl = encoded(&testing::stock_directory(header(1), b"AAPL    "));
        let ibm = encoded(&testing::stock_directory(header(2), b"IBM     "));
        let delete = |locate| Message::OrderDelete {
            header: header(locate),
            order_ref: 7,
        };
        let (on_aapl, on_ibm, unnamed) = (
            encoded(&delete(1)),
            encoded(&delete(2)),
            encoded(&delete(3)),
        );
        for msg in [&aapl, &ibm, &on_aapl, &on_ibm, &unnamed] {
            frame(msg);
        }
        // Each bad frame is followed by well-formed ones (untracked deletes), so the
        // framer knows its length prefix was good and skips that message alone rather
        // than resynchronising (`itch::frame`'s rule).
        let bad: [&[u8]; 3] = [&[], b"Z", &on_aapl[..on_aapl.len() - 1]];
        for msg in bad {
            frame(msg);
            for _ in 0..4 {
                frame(&unnamed);
            }
        }
        let report = run_inline(&bytes, &config, universe);

        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let s = &report.source;
        // The zero-length frame is skipped but is no message.
        assert_eq!((s.messages, s.untracked, s.skipped), (19, 15, 3));
        assert_eq!(s.resyncs, 0);
        let feed = report
            .edges
            .iter()
            .find(|e| e.name == "shard0/feed")
            .unwrap();
        assert_eq!(feed.pushed, 2, "AAPL's directory and its delete");
        assert_eq!(report.shard.features.book.unknown_ref, 1);
        assert_eq!(report.shard.risk.orders_sent, 0);
    }
}
