//! The whole-pipeline check shared by the `pipeline` and `session` targets: an ITCH file
//! through the replay source, one shard's five stages and the simulated venue, all on
//! this thread ([`run_inline`]), then the drain protocol's accounting.
//!
//! The configuration is the bundled one with smaller book capacities: allocating and
//! zeroing the bundled 16 384-order map for every input would dominate a short run,
//! and small capacities make the books grow, a path real sessions rarely reach.

use std::sync::{Arc, LazyLock};

use tickpipe::codec::itch::{FrameError, Framer};
use tickpipe::runtime::config::Config;
use tickpipe::runtime::inline_run::run_inline;
use tickpipe::runtime::report::RunReport;
use tickpipe::universe::Universe;

/// The binary's allocator. Each run allocates about 3 MB of latency histograms (14 of
/// ~216 KB); glibc's malloc hands such blocks back to the kernel on free, and faulting
/// them in again took over a third of each run (perf on `session`: 117 → 580 runs/s).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Live orders and price levels per side the books hold before growing.
const MAX_ORDERS: usize = 64;
const MAX_LEVELS: usize = 8;

static SETUP: LazyLock<(Config, Arc<Universe>)> = LazyLock::new(|| {
    let mut config: Config = toml::from_str(include_str!("../../config/tickpipe.toml"))
        .expect("the bundled config parses");
    config.features.max_orders = MAX_ORDERS;
    config.features.max_levels = MAX_LEVELS;
    let universe = config
        .validate()
        .unwrap_or_else(|problems| panic!("fuzz config: {problems:?}"));
    (config, Arc::new(universe))
});

/// What framing `bytes` gives, counted independently of the source.
struct Framing {
    /// Messages framed (length prefix and body present).
    messages: u64,
    /// Zero-length prefixes, skipped by the source but not messages.
    empty: u64,
    /// Times the framing was lost, and the bytes passed over to find it again.
    desyncs: u64,
    desync_bytes: u64,
    /// The input ends inside a message.
    truncated: bool,
}

fn framing(bytes: &[u8]) -> Framing {
    let mut f = Framing {
        messages: 0,
        empty: 0,
        desyncs: 0,
        desync_bytes: 0,
        truncated: false,
    };
    for item in Framer::new(bytes) {
        match item {
            Ok(_) => f.messages += 1,
            Err(FrameError::ZeroLength { .. }) => f.empty += 1,
            Err(FrameError::Desync { skipped, .. }) => {
                f.desyncs += 1;
                f.desync_bytes += skipped;
            }
            Err(FrameError::TruncatedLength { .. } | FrameError::TruncatedMessage { .. }) => {
                f.truncated = true
            }
        }
    }
    f
}

/// Runs `bytes` through the whole pipeline and checks what it reports; panics on any
/// broken promise.
pub fn check(bytes: &[u8]) {
    let (config, universe) = &*SETUP;
    let report = run_inline(bytes, config, Arc::clone(universe));
    let framed = framing(bytes);
    check_source(&report, &framed);
    check_orders(&report);
}

/// Every message the source framed was routed, untracked or skipped, and every routed
/// one reached decode. Only input cut inside a message fails the run, as the source.
fn check_source(report: &RunReport, framed: &Framing) {
    let source = &report.source;
    assert_eq!(source.messages, framed.messages);
    assert_eq!(
        (source.resyncs, source.resync_bytes),
        (framed.desyncs, framed.desync_bytes),
        "a lost framing was not counted, or not to the byte"
    );
    let feed = report
        .edges
        .iter()
        .find(|e| e.name == "shard0/feed")
        .expect("the feed ring reports");
    assert_eq!(
        framed.messages + framed.empty,
        feed.pushed + source.untracked + source.skipped,
        "a framed message is neither routed, untracked nor skipped"
    );
    let (_, decoded) = report
        .stage_latency
        .iter()
        .find(|(stage, _)| *stage == "decode")
        .expect("decode reports");
    assert_eq!(
        decoded.len(),
        feed.pushed,
        "a routed frame never reached decode"
    );
    match &report.failures[..] {
        [] => assert!(!framed.truncated, "a truncated input did not fail"),
        [f] if framed.truncated => {
            assert_eq!((f.runner.as_str(), f.stage.as_str()), ("source", "source"));
            assert!(
                f.message.starts_with("input ended short at byte")
                    && f.message.contains("it ends inside a message"),
                "{f:?}"
            );
        }
        failures => panic!("the run failed: {failures:?}"),
    }
}

/// Risk and the venue agree on every command and report: every order was answered (an
/// ack or a reject), every report reached risk and was a legal transition, and the
/// venue's end of session left nothing open.
fn check_orders(report: &RunReport) {
    let risk = &report.shard.risk;
    let venue = &report.venue.stats;
    let commands = &venue.commands;
    assert_eq!(commands.end_of_session, 1);
    assert_eq!(commands.new, risk.orders_sent);
    assert_eq!(commands.cancel, risk.cancels_sent);
    assert_eq!(commands.cancel_all, risk.cancel_alls_sent);
    assert_eq!(commands.watermark, risk.watermarks_sent);
    assert_eq!(
        venue.acks + venue.rejects.total(),
        commands.new,
        "an order was never answered"
    );
    assert_eq!(risk.acks, venue.acks);
    assert_eq!(risk.venue_rejects, venue.rejects.total());
    assert_eq!(
        (risk.fills, risk.filled_shares),
        (venue.fills, venue.filled_shares)
    );
    assert_eq!(
        risk.cancels_confirmed + risk.venue_cancels,
        venue.cancels.total()
    );
    assert_eq!(risk.cancel_rejects, venue.cancel_rejects);
    assert_eq!(risk.invalid_reports, 0, "{:?}", risk.first_invalid_report);
    assert_eq!(risk.orders_open_at_end, 0);
}
