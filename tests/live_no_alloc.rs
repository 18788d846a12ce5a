//! No heap allocation per packet on the live path once it is warm — receiving,
//! detecting gaps, requesting, holding packets, applying recovered ones — in the live
//! source, the shards, or the feed server answering re-requests (README, "What it guarantees"),
//! with every runner publishing its metrics, the source its feed counters included. Its
//! own test binary: the counting allocator is process-wide.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tickpipe::codec::mold::Session;
use tickpipe::runtime::builder::Engine;
use tickpipe::source::live::Receive;
use tickpipe::source::replay::Input;
use tickpipe::sys::StopSignal;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::tools::server::{DropPolicy, FeedServer};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

const MESSAGES: u64 = 300_000;

#[test]
fn the_live_path_allocates_nothing_per_packet_while_recovering_gaps() {
    let session = Session::new("NOALLOC").unwrap();
    // Gaps throughout the session, so requests, holding and recovery are measured.
    let mut server = FeedServer::bind(common::server_config(
        session,
        DropPolicy::EveryKth(20),
        u64::MAX,
    ))
    .unwrap();
    let mut spec = common::spec("pipelines/staged.toml", 2, MESSAGES);
    spec.input = Input::Live(Box::new(common::live_config(
        &session.to_string(),
        Receive::Unicast {
            listen: "127.0.0.1:0".parse().unwrap(),
        },
        server.request_addr(),
    )));

    let bytes = generate(&SampleSpec {
        messages: MESSAGES,
        ..SampleSpec::default_session()
    });
    // Publishing every millisecond, a hundred times as often as `run --metrics`; nothing
    // scrapes in the measured middle (a scrape allocates on its own thread).
    let source = spec.input.source(spec.pacing).expect("the sockets open");
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .metrics(Duration::from_millis(1))
        .start()
        .expect("pipeline starts");
    let published = || pipeline.metrics().unwrap().snapshot().publications;
    let dest = pipeline.feed_addr().unwrap();
    let stop = Arc::new(StopSignal::new());
    let server_stop = Arc::clone(&stop);
    let thread = std::thread::spawn(move || server.run(&bytes, dest, &server_stop));

    common::wait_for(&pipeline, MESSAGES * 3 / 10);
    let published_before = published();
    let before = allocations();
    common::wait_for(&pipeline, MESSAGES * 7 / 10);
    let during = allocations() - before;
    let published_after = published();

    let report = pipeline.join();
    stop.request_stop();
    let server = thread.join().unwrap().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let feed = report.feed.as_ref().unwrap();
    assert!(
        feed.gaps > 100 && feed.recovered > 0 && feed.held > 0,
        "the session must recover gaps (every 20th packet is dropped, so the measured middle too): {feed:?}"
    );
    assert_eq!(feed.lost, 0, "{feed:?} {server:?}");
    assert!(
        published_after > published_before,
        "every runner published in the measured middle ({published_before} → {published_after})"
    );
    assert_eq!(
        during, 0,
        "{during} heap allocations while ~120k messages arrived live, with gaps recovered"
    );
}
