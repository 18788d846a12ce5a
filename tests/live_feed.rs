//! The live source against the feed server on loopback: with packets dropped on
//! purpose, the recovered run must end with the same books and make the same decisions
//! as a replay of the same session; when recovery is impossible, every symbol must go
//! stale, risk must block it, and nothing may hang. Every socket binds port 0, so these
//! tests run in parallel with each other and anything else.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickpipe::app::report as render;
use tickpipe::codec::mold::{PacketBuilder, Session};
use tickpipe::msg::TradingStatus;
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::runtime::report::RunReport;
use tickpipe::source::live::{FeedEnd, FeedStats, LiveConfig, Receive};
use tickpipe::source::replay::Input;
use tickpipe::stages::reject::RejectCode;
use tickpipe::sys::StopSignal;
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::tools::server::{DropPolicy, FeedServer, ServerConfig, ServerStats};

/// Enough of the sample for the strategy to trade (see tests/determinism.rs), small
/// enough that a debug build plays it in a few seconds.
const MESSAGES: u64 = 120_000;

fn session() -> Session {
    Session::new("LIVETEST").unwrap()
}

fn live_config(receive: Receive, rerequest_server: SocketAddr) -> LiveConfig {
    common::live_config(&session().to_string(), receive, rerequest_server)
}

fn server_config(drops: DropPolicy, retransmit_window: u64) -> ServerConfig {
    common::server_config(session(), drops, retransmit_window)
}

struct LiveRun {
    report: RunReport,
    server: ServerStats,
}

impl LiveRun {
    fn feed(&self) -> &FeedStats {
        self.report
            .feed
            .as_ref()
            .expect("a live run reports its feed")
    }
}

/// Plays the first `messages` of the sample through the feed server into a live
/// pipeline of `topology` with `shards` shards. `tweak` adjusts the live config.
fn live_run(
    topology: &str,
    shards: usize,
    messages: u64,
    server: ServerConfig,
    receive: Receive,
    tweak: impl FnOnce(&mut LiveConfig),
) -> LiveRun {
    live_run_after(topology, shards, messages, server, receive, tweak, |_| {})
}

/// [`live_run`], calling `before_play` with the feed address before the server starts.
fn live_run_after(
    topology: &str,
    shards: usize,
    messages: u64,
    server: ServerConfig,
    receive: Receive,
    tweak: impl FnOnce(&mut LiveConfig),
    before_play: impl FnOnce(SocketAddr),
) -> LiveRun {
    let bytes = generate(&SampleSpec {
        messages,
        ..SampleSpec::default_session()
    });
    let mut server = FeedServer::bind(server).expect("server binds");
    let mut live = live_config(receive, server.request_addr());
    tweak(&mut live);
    let mut spec = common::spec(topology, shards, messages);
    spec.input = Input::Live(Box::new(live));
    let pipeline = Pipeline::start(spec).expect("pipeline starts");
    let dest = pipeline
        .feed_addr()
        .expect("a live pipeline has a feed address");
    before_play(dest);
    let stop = Arc::new(StopSignal::new());
    let server_stop = Arc::clone(&stop);
    let thread = std::thread::spawn(move || server.run(&bytes, dest, &server_stop));
    let report = pipeline.join();
    stop.request_stop();
    let server = thread.join().expect("server thread").expect("server runs");
    LiveRun { report, server }
}

fn unicast() -> Receive {
    Receive::Unicast {
        listen: "127.0.0.1:0".parse().unwrap(),
    }
}

/// The recovered live run decided exactly as the replay did.
fn assert_same_as_replay(live: &LiveRun, replay: &RunReport) {
    let feed = live.feed();
    assert!(
        live.report.failures.is_empty(),
        "{:?}",
        live.report.failures
    );
    assert_eq!(feed.end, Some(FeedEnd::EndOfSession));
    assert_eq!((feed.lost, feed.losses), (0, 0), "{feed:?}");
    assert_eq!(live.report.source.stale_notices, 0);
    assert!(
        feed.recovered >= live.server.dropped_messages,
        "every dropped message came back: {feed:?} {:?}",
        live.server
    );
    assert_eq!(live.report.source.messages, replay.source.messages);
    assert_eq!(live.report.source.by_type, replay.source.by_type);
    assert_eq!(
        live.report.shard.features.books, replay.shard.features.books,
        "final books differ"
    );
    assert_eq!(
        (
            live.report.digest(),
            live.report.shard.risk.orders_sent,
            live.report.shard.risk.fills
        ),
        (
            replay.digest(),
            replay.shard.risk.orders_sent,
            replay.shard.risk.fills
        ),
        "the live run decided differently from the replay"
    );
}

#[test]
fn a_forged_end_of_session_ahead_of_the_stream_does_not_end_the_session() {
    let replay = common::run("pipelines/fused.toml", 1, MESSAGES);
    let forged_at = MESSAGES / 2;
    let live = live_run_after(
        "pipelines/fused.toml",
        1,
        MESSAGES,
        server_config(DropPolicy::EveryKth(40), u64::MAX),
        unicast(),
        |_| {},
        |dest| {
            let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
            let forged = PacketBuilder::new(session(), 1400).end_of_session(forged_at);
            forger.send_to(&forged, dest).unwrap();
        },
    );
    assert_same_as_replay(&live, &replay);
    let feed = live.feed();
    assert_eq!(feed.malformed, 1, "{feed:?}");
    let sample = &feed.malformed_samples[0];
    assert_eq!(
        (sample.socket, sample.datagram, sample.kind),
        ("feed", 1, "end_unconfirmed")
    );
    assert!(
        sample.detail.contains(&format!("message {forged_at},")),
        "{sample:?}"
    );
}

#[test]
fn every_kth_packet_dropped_and_recovered_gives_the_replay_books_and_digest() {
    let replay = common::run("pipelines/fused.toml", 1, MESSAGES);
    assert!(replay.shard.risk.orders_sent > 10, "the window must trade");
    let live = live_run(
        "pipelines/fused.toml",
        1,
        MESSAGES,
        server_config(DropPolicy::EveryKth(25), u64::MAX),
        unicast(),
        |_| {},
    );
    assert!(live.server.dropped_packets > 50, "{:?}", live.server);
    assert!(live.feed().gaps >= live.server.dropped_packets / 2);
    assert_same_as_replay(&live, &replay);
    // The final books are in the report, text and JSON.
    let text = render::text(&live.report);
    assert!(text.contains("live feed"), "{text}");
    assert!(!text.contains("STALE"), "{text}");
    let json = render::json(&live.report);
    assert_eq!(json["feed"]["lost"], 0);
    assert_eq!(json["book"]["final"]["AAPL"]["status"], "T");
}

#[test]
fn random_drops_on_two_staged_shards_recover_to_the_replay() {
    let replay = common::run("pipelines/staged.toml", 2, MESSAGES);
    let live = live_run(
        "pipelines/staged.toml",
        2,
        MESSAGES,
        server_config(
            DropPolicy::Random {
                probability: 0.03,
                seed: 11,
            },
            u64::MAX,
        ),
        unicast(),
        |_| {},
    );
    assert!(live.server.dropped_packets > 20, "{:?}", live.server);
    assert_same_as_replay(&live, &replay);
}

#[test]
fn a_multicast_feed_recovers_to_the_replay() {
    let messages = MESSAGES / 2;
    let replay = common::run("pipelines/fused.toml", 1, messages);
    // A group and port of this test's own: the port of a socket bound just now.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let group: SocketAddr = format!("239.77.0.1:{port}").parse().unwrap();
    let mut server = server_config(DropPolicy::EveryKth(10), u64::MAX);
    server.multicast_interface = Some("127.0.0.1".parse().unwrap());
    let live = live_run(
        "pipelines/fused.toml",
        1,
        messages,
        server,
        Receive::Multicast {
            group,
            interface: "127.0.0.1".parse().unwrap(),
        },
        |_| {},
    );
    assert_same_as_replay(&live, &replay);
}

#[test]
fn when_recovery_is_impossible_every_symbol_goes_stale_and_risk_blocks_it() {
    let started = Instant::now();
    let live = live_run(
        "pipelines/staged.toml",
        2,
        MESSAGES,
        // Re-requests disabled: the first dropped packet is lost for good.
        server_config(DropPolicy::EveryKth(200), 0),
        unicast(),
        |c| c.recovery_timeout_ms = 100,
    );
    let feed = live.feed();
    let report = &live.report;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(feed.end, Some(FeedEnd::EndOfSession));
    assert_eq!(feed.recovered, 0);
    assert!(
        feed.losses >= 1 && feed.lost >= live.server.dropped_messages,
        "{feed:?}"
    );
    assert_eq!(report.source.stale_notices, feed.losses);
    assert!(feed.books_stale());
    assert!(live.server.requests_refused >= 1, "{:?}", live.server);
    // Every traded symbol's book ends stale, and risk refused to trade on it.
    let books: Vec<_> = report.books().collect();
    assert_eq!(books.len(), 8);
    for (name, book) in &books {
        assert_eq!(book.status, TradingStatus::FeedStale, "{name}");
    }
    assert!(
        report.shard.risk.rejected(RejectCode::FeedStale) > 0,
        "the strategy kept signalling and risk blocked it"
    );
    let text = render::text(report);
    assert!(text.contains("STALE"), "{text}");
    assert!(text.contains("FEED_STALE"), "{text}");
    assert_eq!(render::json(report)["feed"]["losses"], feed.losses);
    assert_eq!(render::json(report)["feed"]["stale_notices"], feed.losses);
    common::not_hung(started);
}

#[test]
fn garbage_on_the_feed_socket_is_counted_and_the_run_goes_on() {
    let messages = MESSAGES / 2;
    let replay = common::run("pipelines/fused.toml", 1, messages);
    let bytes = generate(&SampleSpec {
        messages,
        ..SampleSpec::default_session()
    });
    let mut server = FeedServer::bind(server_config(DropPolicy::None, u64::MAX)).unwrap();
    let mut spec = common::spec("pipelines/fused.toml", 1, messages);
    spec.input = Input::Live(Box::new(live_config(unicast(), server.request_addr())));
    let pipeline = Pipeline::start(spec).unwrap();
    let dest = pipeline.feed_addr().unwrap();

    // Before the feed starts: every kind of bad datagram, once.
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut packet = PacketBuilder::new(session(), 1400);
    packet.start(1);
    packet.push(b"x").unwrap();
    let good = packet.bytes().to_vec();
    let mut past_end = good.clone();
    past_end[21] = 200; // the block's length now points past the packet
    let mut trailing = good.clone();
    trailing.push(0);
    let mut flipped = good.clone();
    flipped[3] ^= 0x40; // a bit flip in the session name
    let other = {
        let mut b = PacketBuilder::new(Session::new("OTHER").unwrap(), 1400);
        b.start(1);
        b.push(b"x").unwrap();
        b.bytes().to_vec()
    };
    let bad: [&[u8]; 6] = [&[], &good[..11], &past_end, &trailing, &flipped, &other];
    for datagram in bad {
        junk.send_to(datagram, dest).unwrap();
    }

    let stop = Arc::new(StopSignal::new());
    let server_stop = Arc::clone(&stop);
    let thread = std::thread::spawn(move || server.run(&bytes, dest, &server_stop));
    let report = pipeline.join();
    stop.request_stop();
    let server = thread.join().unwrap().unwrap();
    let live = LiveRun { report, server };

    let feed = live.feed();
    assert_eq!(feed.malformed, 6, "{feed:?}");
    let kinds: Vec<(&str, usize)> = feed
        .malformed_samples
        .iter()
        .map(|m| (m.kind, m.offset))
        .collect();
    assert_eq!(
        kinds,
        [
            ("truncated_header", 0),
            ("truncated_header", 0),
            ("block_past_end", 20),
            ("trailing_bytes", 23),
            ("wrong_session", 0),
            ("wrong_session", 0),
        ]
    );
    assert_same_as_replay(&live, &replay);
    let text = render::text(&live.report);
    assert!(text.contains("block_past_end"), "{text}");
}

#[test]
fn a_feed_that_goes_silent_fails_the_run_with_stale_books_within_its_deadline() {
    // No server: the test sends the first packets itself, then nothing.
    let requests = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::Live(Box::new(LiveConfig {
        silence_timeout_ms: 300,
        ..live_config(unicast(), requests.local_addr().unwrap())
    }));
    let started = Instant::now();
    let pipeline = Pipeline::start(spec).unwrap();
    let dest = pipeline.feed_addr().unwrap();
    let bytes = generate(&SampleSpec {
        messages: 2_000,
        ..SampleSpec::default_session()
    });
    let mut packet = PacketBuilder::new(session(), 1400);
    let mut seq = 1;
    packet.start(seq);
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for frame in tickpipe::codec::itch::Framer::new(&bytes).map(Result::unwrap) {
        if packet.push(frame.bytes).is_err() {
            sender.send_to(packet.bytes(), dest).unwrap();
            seq += u64::from(packet.count());
            packet.start(seq);
            packet.push(frame.bytes).unwrap();
        }
    }
    let report = pipeline.join();
    let feed = report.feed.as_ref().unwrap();
    assert_eq!(feed.end, Some(FeedEnd::Silent));
    assert!(feed.messages > 0 && feed.books_stale(), "{feed:?}");
    let failure = &report.failures[0];
    assert_eq!(failure.runner, "source");
    assert!(
        failure.message.contains("silence_timeout_ms = 300"),
        "{failure}"
    );
    assert!(
        report
            .books()
            .all(|(_, b)| b.status == TradingStatus::FeedStale)
    );
    common::not_hung(started);
}

#[test]
fn no_feed_at_all_fails_the_run_at_the_first_packet_deadline() {
    let requests = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::Live(Box::new(LiveConfig {
        first_packet_timeout_ms: 200,
        ..live_config(unicast(), requests.local_addr().unwrap())
    }));
    let started = Instant::now();
    let report = Pipeline::start(spec).unwrap().join();
    common::not_hung(started);
    assert_eq!(
        report.feed.as_ref().unwrap().end,
        Some(FeedEnd::NoFirstPacket)
    );
    assert!(
        report.failures[0]
            .message
            .contains("first_packet_timeout_ms = 200"),
        "{:?}",
        report.failures
    );
}

#[test]
fn a_stop_request_ends_a_live_run_cleanly() {
    let requests = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::Live(Box::new(live_config(
        unicast(),
        requests.local_addr().unwrap(),
    )));
    let pipeline = Pipeline::start(spec).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    pipeline.request_stop();
    let report = pipeline.join();
    common::not_hung(started);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.source.stopped_early);
    assert_eq!(report.feed.as_ref().unwrap().end, Some(FeedEnd::Stopped));
}

#[test]
fn a_bad_live_config_fails_the_start_naming_its_keys() {
    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::Live(Box::new(LiveConfig {
        max_request_messages: 0,
        request_interval_ms: 0,
        ..live_config(unicast(), "127.0.0.1:9".parse().unwrap())
    }));
    let Err(e) = Pipeline::start(spec) else {
        panic!("an invalid live config must not start");
    };
    let message = e.to_string();
    assert!(message.contains("max_request_messages"), "{message}");
    assert!(message.contains("request_interval_ms"), "{message}");
}

/// `run --live FILE --journal DIR` as the binary wires it: the journal's header names the
/// feed, the live source captures what it applies into `DIR/input.itch`, and
/// `journal verify` re-derives every journaled decision from that capture. Packets are
/// dropped and recovered on the way, so the capture holds the messages in sequence order,
/// not as they arrived.
#[test]
fn a_journaled_live_session_captures_its_input_and_verifies_against_it() {
    use tickpipe::app::verify;
    use tickpipe::runtime::builder::Engine;
    use tickpipe::runtime::config::decision_identity;
    use tickpipe::runtime::journal::Policy;
    use tickpipe::runtime::journal::store;
    use tickpipe::source::live::CAPTURE_FILE;

    let messages = MESSAGES / 2;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-journal");
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = generate(&SampleSpec {
        messages,
        ..SampleSpec::default_session()
    });
    let mut server = FeedServer::bind(server_config(DropPolicy::EveryKth(97), u64::MAX)).unwrap();
    let input = Input::Live(Box::new(live_config(unicast(), server.request_addr())));
    let spec = common::spec("pipelines/fused.toml", 1, messages);
    let config_text = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let header = store::header(
        decision_identity(&config_text).unwrap(),
        store::input_identity(&input).unwrap(),
        1,
    );
    assert_eq!(header.input.kind, "live");
    let (meta, logs) = store::open_for_run(&dir, &header, Policy::Process, 1 << 20).unwrap();
    let source = input
        .source_capturing(spec.pacing, &dir.join(CAPTURE_FILE))
        .expect("the live source opens and captures");
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(meta, logs)
        .start()
        .expect("pipeline starts");
    let dest = pipeline
        .feed_addr()
        .expect("a live pipeline has a feed address");
    let stop = Arc::new(StopSignal::new());
    let server_stop = Arc::clone(&stop);
    let thread = std::thread::spawn(move || server.run(&bytes, dest, &server_stop));
    let report = pipeline.join();
    stop.request_stop();
    let served = thread.join().expect("server thread").expect("server runs");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(
        served.dropped_messages > 0,
        "packets were dropped: {served:?}"
    );
    let feed = report.feed.as_ref().expect("a live run reports its feed");
    assert_eq!((feed.lost, feed.end), (0, Some(FeedEnd::EndOfSession)));
    let capture = feed.capture.as_ref().expect("the feed reports its capture");
    assert_eq!(capture.messages, report.source.messages);

    // Recovered in sequence order, the capture is the session's own bytes.
    let captured = std::fs::read(dir.join(CAPTURE_FILE)).unwrap();
    assert_eq!(captured.len() as u64, capture.bytes);
    assert!(
        captured
            == generate(&SampleSpec {
                messages,
                ..SampleSpec::default_session()
            }),
        "the capture differs from the session played"
    );
    assert!(report.shard.risk.orders_sent > 0, "the session traded");

    let cores: Vec<usize> = (0..64).collect();
    let found = verify::verify(
        &dir,
        &dir.join(CAPTURE_FILE),
        std::path::Path::new("config/tickpipe.toml"),
        std::path::Path::new("pipelines/fused.toml"),
        &cores,
    )
    .expect("the journal verifies");
    assert!(found.ok(), "{}", found.text());
    assert!(found.finished, "{}", found.text());
    assert_eq!(found.digest, report.digest(), "{}", found.text());
}
