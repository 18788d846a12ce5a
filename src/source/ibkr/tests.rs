//! The IB source against a scripted feed: ticks become ITCH in order, staleness is per
//! symbol and lifted by a tick, and the capture holds exactly what was routed.

use std::sync::Arc;

use super::feed::{FeedEvent, ScriptedFeed};
use super::*;
use crate::codec::itch::FrameReader;
use crate::sys::edge::{Backpressure, EdgeIn, edge};
use crate::sys::idle::{IdleStrategy, Idler};
use crate::sys::{Progress, StopSignal};
use crate::universe::Universe;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
/// 2026-12-04 14:30:00 UTC.
const OPEN_S: i64 = 1_796_394_600;

fn quote(symbol: usize, bid: f64, bid_size: f64) -> FeedEvent {
    FeedEvent::Quote {
        symbol,
        time_s: OPEN_S,
        recv_unix_ns: OPEN_S as u64 * S,
        bid,
        ask: bid + 0.05,
        bid_size,
        ask_size: 100.0,
    }
}

fn trade(symbol: usize) -> FeedEvent {
    FeedEvent::Trade {
        symbol,
        time_s: OPEN_S + 7,
        recv_unix_ns: (OPEN_S as u64 + 7) * S,
        price: 100.02,
        size: 10.0,
    }
}

struct Run {
    /// (type byte, stock locate) of every frame routed, in order.
    frames: Vec<(u8, u16)>,
    /// The same frames' bytes.
    bytes: Vec<Vec<u8>>,
    result: Result<(), SourceError>,
    stale_notices: u64,
    skipped: u64,
}

fn run(script: Vec<(u64, FeedEvent)>, capture: Option<&Path>) -> Run {
    let universe = Arc::new(Universe::new(&["AAPL", "MSFT"]).unwrap());
    let idle = || Idler::new(IdleStrategy::BusySpin {});
    let (out, mut rx): (_, EdgeIn<crate::msg::RawFrame>) =
        edge("shard0/feed", 256, Backpressure::Halt, idle());
    let mut ctx = SourceContext {
        router: ShardRouter::new(Arc::clone(&universe), vec![0, 0], vec![out]),
        idle: idle(),
        clock: MonoClock::new(),
        progress: Arc::new(Progress::new()),
        stop: Arc::new(StopSignal::new()),
        metrics: None,
    };
    let tickers: Vec<SymbolName> = universe.ids().map(|id| universe.name(id)).collect();
    let mut feed = ScriptedFeed::new(script);
    feed.wall = OPEN_S as u64 * S;
    let mut source = IbSource::new(feed, &tickers, 5_000, "test".into());
    if let Some(path) = capture {
        source.capture_to(path).unwrap();
    }
    let result = source.run(&mut ctx);
    let mut frames = Vec::new();
    let mut bytes = Vec::new();
    rx.read_batch(256, |f| {
        let m = f.message();
        frames.push((m[0], u16::from_be_bytes([m[1], m[2]])));
        bytes.push(m.to_vec());
    });
    let stats = ctx.router.stats();
    Run {
        frames,
        bytes,
        result,
        stale_notices: stats.stale_notices,
        skipped: stats.skipped,
    }
}

#[test]
fn a_farm_down_on_one_subscription_stales_only_its_symbol_and_a_tick_lifts_it() {
    let r = run(
        vec![
            (0, quote(0, 100.0, 300.0)),
            (0, quote(1, 50.0, 200.0)),
            (
                MS,
                FeedEvent::FarmDown {
                    symbol: Some(0),
                    code: 2103,
                },
            ),
            (2 * MS, quote(0, 100.01, 300.0)),
        ],
        None,
    );
    let tail: Vec<(u8, u16)> = r.frames[8..].to_vec();
    assert_eq!(
        &r.frames[..8],
        [
            (b'R', 1),
            (b'H', 1),
            (b'R', 2),
            (b'H', 2),
            (b'A', 1),
            (b'A', 1),
            (b'A', 2),
            (b'A', 2)
        ]
    );
    assert_eq!(
        tail,
        [
            (b'!', 1),
            (b'+', 1),
            (b'U', 1),
            (b'U', 1),
            // The script's end: the connection lost, every symbol stale.
            (b'!', 0)
        ]
    );
    assert!(
        matches!(
            r.result,
            Err(SourceError::Ibkr(IbSourceError::ConnectionLost))
        ),
        "{:?}",
        r.result
    );
    assert_eq!(r.stale_notices, 2);
}

#[test]
fn ticks_stopping_past_the_deadline_stale_the_quiet_symbol_only() {
    let r = run(
        vec![
            (0, quote(0, 100.0, 300.0)),
            (0, quote(1, 50.0, 200.0)),
            (3 * S, quote(0, 100.01, 300.0)),
            // MSFT has been quiet 7 s (deadline 5 s), AAPL 4 s.
            (7 * S, trade(0)),
            (8 * S, quote(1, 50.0, 200.0)),
        ],
        None,
    );
    assert_eq!(
        &r.frames[8..],
        [
            (b'U', 1),
            (b'U', 1),
            (b'!', 2),
            (b'P', 1),
            // The same quote again moves nothing, yet lifts the symbol.
            (b'+', 2),
            (b'!', 0)
        ]
    );
}

#[test]
fn an_untranslatable_tick_is_skipped_and_lifts_nothing() {
    let r = run(
        vec![
            (
                0,
                FeedEvent::FarmDown {
                    symbol: None,
                    code: 2105,
                },
            ),
            (MS, quote(0, 100.00001, 300.0)),
        ],
        None,
    );
    assert_eq!(&r.frames[4..], [(b'!', 0), (b'!', 0)]);
    assert_eq!(r.skipped, 1);
}

#[test]
fn a_refused_subscription_ends_the_run_naming_the_symbol() {
    let r = run(
        vec![(
            0,
            FeedEvent::Refused {
                symbol: 1,
                reason: "no market data permissions".into(),
            },
        )],
        None,
    );
    let e = r.result.unwrap_err().to_string();
    assert!(
        e.contains("subscription of MSFT: no market data permissions"),
        "{e}"
    );
    assert_eq!(r.frames.last(), Some(&(b'!', 0)));
}

#[test]
fn the_capture_holds_every_frame_routed_in_order() {
    let dir = std::env::temp_dir().join(format!("tickpipe-ibsource-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input.itch");
    let _ = std::fs::remove_file(&path);
    let r = run(
        vec![
            (0, quote(0, 100.0, 300.0)),
            (
                MS,
                FeedEvent::FarmDown {
                    symbol: Some(0),
                    code: 2157,
                },
            ),
            (7 * S, trade(0)),
        ],
        Some(&path),
    );
    let file = std::fs::read(&path).unwrap();
    let mut captured = Vec::new();
    let read = FrameReader::new(file.as_slice()).for_each(|f| {
        captured.push(f.unwrap().bytes.to_vec());
        std::ops::ControlFlow::Continue(())
    });
    assert_eq!(read.unwrap(), std::ops::ControlFlow::Continue(()));
    assert_eq!(captured, r.bytes);
    assert!(r.bytes.len() > 8, "{:?}", r.frames);
    std::fs::remove_dir_all(&dir).unwrap();
}
