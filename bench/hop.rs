//! Hop latency: one 64-byte message from one pinned thread to another, through tickpipe's
//! ring edge and through the queues it is judged against, with the bare cache-line
//! transfer as the floor.
//!
//! Both threads busy-poll (`try_recv`, then PAUSE), so this measures the data structures
//! at their fastest; parking and waking are not measured here.
//!
//! Two methods, because each covers the other's weakness:
//!
//! - **one-way** (open loop): the sender stamps the TSC into the message, pushes it, and
//!   waits `--gap-ns` before the next; the receiver busy-polls, reads the TSC on arrival
//!   and records the difference. This is what a pipeline hop costs a message, and being
//!   open loop it does not hide a stalled receiver (coordinated omission). It compares
//!   two cores' TSCs, and nothing guarantees a VM's vCPUs agree (the estimated offset
//!   moved between −19 and +20 ns from run to run here). So each run measures the offset
//!   ([`tsc_offset`]) and subtracts it, and half the samples go each way (core A→B, then
//!   B→A) into one histogram: whatever error the offset estimate has enters the two
//!   halves with opposite signs, so the merged median does not move with it. The p50 of
//!   each direction is reported beside it; when they differ, the offset estimate was off.
//! - **rtt/2** (closed loop): the pinger stamps, pushes over one ring, the echo thread
//!   pushes the message back over a second ring of the same kind, and the pinger halves
//!   the round trip. One core's clock only; it includes the echo's poll and push.
//!
//! Every implementation moves the same `#[repr(C, align(64))]` message (tickpipe's slot,
//! one cache line, like `RawFrame`) through a ring of the same capacity, and every
//! receiver is polled by the same loop, so what differs is the data structure, not a
//! wait strategy.
//!
//! The whole set runs `--runs` times, interleaved (run 1 of every implementation, then
//! run 2, …) so that a burst of noise from the other engineers' builds on this 2-core
//! host lands on different implementations rather than on all runs of one; each row is
//! the run with the median p50, with the spread of all runs beside it. Runs are short
//! (about 4 s for the whole set) and many, because the host moves the two vCPUs: the
//! floor's rtt/2 is 35–45 ns in one placement and 160–175 ns in another, and switches
//! every few tens of seconds. Ratios are therefore taken within each run ([`ratio`]).
//!
//! Output: rows in `target/bench/results.json` (`bench = "hop"`, `case` = `one-way` or
//! `rtt/2`), `target/bench/hop.hlog`, `target/bench/hop.svg`, and a table with the ratios
//! to the floor, crossbeam and disruptor. `cargo bench --bench hop -- --help` for flags.

#[path = "support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use disruptor::{
    BusySpin, EventPoller, Producer, SingleConsumerBarrier, SingleProducer, SingleProducerBarrier,
};
use hdrhistogram::Histogram;
use serde_json::{Map, json};
use tickpipe::latency::{Percentiles, new_histogram};
use tickpipe::msg::RawFrame;
use tickpipe::sys::edge::{Backpressure, EdgeIn, EdgeOut, Emit, RingKind, edge, edge_on};
use tickpipe::sys::idle::{IdleStrategy, Idler};
use tickpipe::sys::ring::{RingConsumer, RingProducer};

/// Slots in every ring (a power of two: the disruptor requires it). Never the limit here:
/// at most one message is in flight except after a stall.
const CAPACITY: usize = 1024;

/// The stamp of the message that ends a measurement.
const STOP: u64 = u64::MAX;

#[derive(Parser)]
#[command(about = "Hop latency between two pinned threads (issue #4, item 2)")]
struct Args {
    /// Fewer samples and three runs: the whole bench in about 5 s.
    #[arg(long)]
    quick: bool,
    /// Recorded messages per implementation, method and run [default: 200000; quick 50000].
    #[arg(long)]
    samples: Option<u64>,
    /// Messages sent and not recorded before them [default: samples / 10].
    #[arg(long)]
    warmup: Option<u64>,
    /// Runs of the whole set; each row is the median run [default: 15; quick 3].
    #[arg(long)]
    runs: Option<usize>,
    /// One-way: pause between sends, so each message meets an idle receiver.
    #[arg(long, default_value_t = 2_000)]
    gap_ns: u64,
    /// Sender core, receiver core [default: TICKPIPE_BENCH_CORES, else 0,1].
    #[arg(long, value_delimiter = ',')]
    cores: Option<Vec<usize>>,
    /// Implementations to measure [default: all].
    #[arg(long, value_delimiter = ',', value_enum)]
    impls: Vec<Impl>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Impl {
    Floor,
    Tickpipe,
    TickpipeSeq,
    Ring,
    FrameRtrb,
    FrameSeq,
    Crossbeam,
    CrossbeamArrayQueue,
    StdMpsc,
    Disruptor,
    MutexVecdeque,
}

impl Impl {
    const ALL: [Impl; 11] = [
        Impl::Floor,
        Impl::Tickpipe,
        Impl::TickpipeSeq,
        Impl::Ring,
        Impl::FrameRtrb,
        Impl::FrameSeq,
        Impl::Crossbeam,
        Impl::CrossbeamArrayQueue,
        Impl::StdMpsc,
        Impl::Disruptor,
        Impl::MutexVecdeque,
    ];

    /// The `impl` of its rows in results.json.
    fn name(self) -> &'static str {
        match self {
            Impl::Floor => "floor",
            Impl::Tickpipe => "tickpipe",
            Impl::TickpipeSeq => "tickpipe_seq",
            Impl::Ring => "ring",
            Impl::FrameRtrb => "frame_rtrb",
            Impl::FrameSeq => "frame_seq",
            Impl::Crossbeam => "crossbeam",
            Impl::CrossbeamArrayQueue => "crossbeam_array_queue",
            Impl::StdMpsc => "std_mpsc",
            Impl::Disruptor => "disruptor",
            Impl::MutexVecdeque => "mutex_vecdeque",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Impl::Floor => "one AtomicU64 per direction, Release store / Acquire load",
            Impl::Tickpipe => "sys::edge (rtrb), emit / read_batch(1)",
            Impl::TickpipeSeq => {
                "sys::edge on the seq ring (the 64 B message and its sequence: two lines), emit / read_batch(1)"
            }
            Impl::FrameRtrb => {
                "sys::edge (rtrb) carrying a RawFrame of a 36 B add order, built by RawFrame::new and emitted: the feed edge before"
            }
            Impl::FrameSeq => {
                "sys::edge on the seq ring, the same frame written into its slot by emit_with: the feed edge after"
            }
            Impl::Ring => {
                "sys::ring, 56 B of the message (one line per slot), try_push_with / read_batch(1)"
            }
            Impl::Crossbeam => "crossbeam_channel::bounded, send / try_recv",
            Impl::CrossbeamArrayQueue => "crossbeam_queue::ArrayQueue, push / pop",
            Impl::StdMpsc => "std::sync::mpsc::sync_channel, send / try_recv",
            Impl::Disruptor => "disruptor single producer, EventPoller::poll_take(1)",
            Impl::MutexVecdeque => "Arc<Mutex<VecDeque>>, lock + push_back / pop_front",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Method {
    OneWay,
    RttHalf,
}

impl Method {
    fn case(self) -> &'static str {
        match self {
            Method::OneWay => "one-way",
            Method::RttHalf => "rtt/2",
        }
    }
}

/// What every implementation moves: one cache line, as tickpipe's ring slots are.
#[repr(C, align(64))]
#[derive(Copy, Clone)]
struct Msg {
    /// The sender's TSC reading just before the push (`quanta::Clock::raw`); [`STOP`] ends.
    tsc: u64,
    /// The rest of a 64-byte market message; carried, never read.
    _body: [u64; 7],
}

const _: () = assert!(std::mem::size_of::<Msg>() == 64);

impl Msg {
    fn new(tsc: u64, seq: u64) -> Msg {
        Msg {
            tsc,
            _body: [seq; 7],
        }
    }
}

/// The sending end of an implementation under test.
trait Tx: Send {
    fn push(&mut self, m: Msg);
}

/// The receiving end. Never blocks: the harness polls every implementation alike.
trait Rx: Send {
    fn try_recv(&mut self) -> Option<Msg>;
}

// ---- the floor: test code, so its atomics live here and not in `src/sys` ----

/// The bare cross-core floor: one `AtomicU64` on its own cache line (128-byte padded, so
/// no other traffic shares it), written by one thread and polled by the other. A message
/// is the stamp itself: what it costs is the line's transfer, the least any ring pays.
struct FloorTx(Arc<CachePadded<AtomicU64>>);

struct FloorRx {
    cell: Arc<CachePadded<AtomicU64>>,
    /// The last value seen; stamps only grow, so a different value is a new message.
    last: u64,
}

fn floor() -> (FloorTx, FloorRx) {
    let cell = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let rx = FloorRx {
        cell: Arc::clone(&cell),
        last: 0,
    };
    (FloorTx(cell), rx)
}

impl Tx for FloorTx {
    fn push(&mut self, m: Msg) {
        // Release: the ordering a flag publishing a slot needs (a ring's index store);
        // paired with the Acquire load in `FloorRx::try_recv`. Plain x86 stores either way.
        self.0.store(m.tsc, Ordering::Release);
    }
}

impl Rx for FloorRx {
    fn try_recv(&mut self) -> Option<Msg> {
        // Acquire: paired with the Release store in `FloorTx::push`.
        let v = self.cell.load(Ordering::Acquire);
        (v != self.last).then(|| {
            self.last = v;
            Msg::new(v, 0)
        })
    }
}

// ---- tickpipe's ring edge, as a runner uses it ----

fn tickpipe() -> (EdgeOut<Msg>, EdgeIn<Msg>) {
    let idle = Idler::new(IdleStrategy::BusySpin {});
    edge("hop", CAPACITY, Backpressure::Spin, idle)
}

fn on(kind: RingKind) -> (EdgeOut<Msg>, EdgeIn<Msg>) {
    let idle = Idler::new(IdleStrategy::BusySpin {});
    edge_on(kind, "hop", CAPACITY, Backpressure::Spin, idle)
}

impl Tx for EdgeOut<Msg> {
    fn push(&mut self, m: Msg) {
        self.emit(m);
    }
}

impl Rx for EdgeIn<Msg> {
    fn try_recv(&mut self) -> Option<Msg> {
        let mut got = None;
        self.read_batch(1, |m| got = Some(m));
        got
    }
}

// ---- sys::ring: a slot is one cache line when its value is at most 56 bytes, so it
// carries the stamp and six of the message's seven body words ----

type Line = [u64; 7];

fn ring() -> (RingProducer<Line>, RingConsumer<Line>) {
    tickpipe::sys::ring::ring(CAPACITY)
}

impl Tx for RingProducer<Line> {
    fn push(&mut self, m: Msg) {
        while !self.try_push_with(|slot| {
            slot[0] = m.tsc;
            slot[1..].copy_from_slice(&m._body[..6]);
        }) {
            spin_loop();
        }
    }
}

impl Rx for RingConsumer<Line> {
    fn try_recv(&mut self) -> Option<Msg> {
        let mut got = None;
        self.read_batch(1, |line| got = Some(Msg::new(line[0], line[1])));
        got
    }
}

// ---- the feed edge: a RawFrame of an ITCH add order (36 bytes, the commonest message)
// with the stamp as its receive time. `frame_rtrb` sends it as the router did before
// (built on the stack, then copied into the slot), `frame_seq` as it does on a seq ring
// (written into the slot) ----

const ADD_ORDER: [u8; 36] = [b'A'; 36];

/// The sending end of a feed edge, in the way its ring takes frames.
struct FrameTx {
    edge: EdgeOut<RawFrame>,
    in_place: bool,
}

fn frames(kind: RingKind) -> (FrameTx, EdgeIn<RawFrame>) {
    let idle = Idler::new(IdleStrategy::BusySpin {});
    let (edge, rx) = edge_on(kind, "hop", CAPACITY, Backpressure::Spin, idle);
    let in_place = kind == RingKind::Seq;
    (FrameTx { edge, in_place }, rx)
}

impl Tx for FrameTx {
    fn push(&mut self, m: Msg) {
        if self.in_place {
            self.edge.emit_with(|f| {
                f.ts_recv = m.tsc;
                f.len = ADD_ORDER.len() as u8;
                f.bytes[..ADD_ORDER.len()].copy_from_slice(&ADD_ORDER);
            });
        } else {
            self.edge
                .emit(RawFrame::new(m.tsc, &ADD_ORDER).expect("an add order fits"));
        }
    }
}

impl Rx for EdgeIn<RawFrame> {
    fn try_recv(&mut self) -> Option<Msg> {
        let mut got = None;
        self.read_batch(1, |f| got = Some(Msg::new(f.ts_recv, u64::from(f.len))));
        got
    }
}

// ---- the peers ----

impl Tx for crossbeam_channel::Sender<Msg> {
    fn push(&mut self, m: Msg) {
        self.send(m).expect("the receiver outlives the sender");
    }
}

impl Rx for crossbeam_channel::Receiver<Msg> {
    fn try_recv(&mut self) -> Option<Msg> {
        crossbeam_channel::Receiver::try_recv(self).ok()
    }
}

/// Both ends hold the queue: `ArrayQueue` is MPMC and has no split handles.
struct ArrayQueueEnd(Arc<ArrayQueue<Msg>>);

fn array_queue() -> (ArrayQueueEnd, ArrayQueueEnd) {
    let q = Arc::new(ArrayQueue::new(CAPACITY));
    (ArrayQueueEnd(Arc::clone(&q)), ArrayQueueEnd(q))
}

impl Tx for ArrayQueueEnd {
    fn push(&mut self, mut m: Msg) {
        while let Err(back) = self.0.push(m) {
            m = back;
            spin_loop();
        }
    }
}

impl Rx for ArrayQueueEnd {
    fn try_recv(&mut self) -> Option<Msg> {
        self.0.pop()
    }
}

impl Tx for SyncSender<Msg> {
    fn push(&mut self, m: Msg) {
        self.send(m).expect("the receiver outlives the sender");
    }
}

impl Rx for Receiver<Msg> {
    fn try_recv(&mut self) -> Option<Msg> {
        Receiver::try_recv(self).ok()
    }
}

/// The disruptor crate in its single-producer, single-consumer form, with our own
/// consumer thread through its `EventPoller` (its docs: comparable to managed threads).
/// `BusySpin` is the producer's wait when full, which never happens here.
fn disruptor() -> (
    SingleProducer<Msg, SingleConsumerBarrier>,
    EventPoller<Msg, SingleProducerBarrier>,
) {
    let builder = disruptor::build_single_producer(CAPACITY, || Msg::new(0, 0), BusySpin);
    let (poller, builder) = builder.event_poller();
    (builder.build(), poller)
}

impl Tx for SingleProducer<Msg, SingleConsumerBarrier> {
    fn push(&mut self, m: Msg) {
        self.publish(|slot| *slot = m);
    }
}

impl Rx for EventPoller<Msg, SingleProducerBarrier> {
    fn try_recv(&mut self) -> Option<Msg> {
        // Dropping the guard releases the slot to the producer.
        let mut events = self.poll_take(1).ok()?;
        (&mut events).next().copied()
    }
}

/// The lock-and-queue style tickpipe replaces: both ends lock one `Mutex<VecDeque>`,
/// bounded by hand to the same capacity as the rings.
struct LockedQueue(Arc<Mutex<VecDeque<Msg>>>);

fn mutex_vecdeque() -> (LockedQueue, LockedQueue) {
    let q = Arc::new(Mutex::new(VecDeque::with_capacity(CAPACITY)));
    (LockedQueue(Arc::clone(&q)), LockedQueue(q))
}

impl Tx for LockedQueue {
    fn push(&mut self, m: Msg) {
        loop {
            let mut q = self.0.lock().expect("no thread panics holding the queue");
            if q.len() < CAPACITY {
                q.push_back(m);
                return;
            }
            drop(q);
            spin_loop();
        }
    }
}

impl Rx for LockedQueue {
    fn try_recv(&mut self) -> Option<Msg> {
        self.0
            .lock()
            .expect("no thread panics holding the queue")
            .pop_front()
    }
}

// ---- the harness ----

struct Config {
    clock: quanta::Clock,
    /// (sender / pinger, receiver / echo).
    cores: (usize, usize),
    /// The receiver core's TSC minus the sender core's, in ticks ([`tsc_offset`]);
    /// subtracted from every one-way sample.
    tsc_offset: i64,
    samples: u64,
    warmup: u64,
    gap_ns: u64,
}

impl Config {
    /// The same measurement with the two cores' roles swapped.
    fn reversed(&self) -> Config {
        Config {
            clock: self.clock.clone(),
            cores: (self.cores.1, self.cores.0),
            tsc_offset: -self.tsc_offset,
            ..*self
        }
    }

    /// Signed ticks as nanoseconds.
    fn ticks_ns(&self, ticks: i64) -> f64 {
        let ns = self.clock.delta_as_nanos(0, ticks.unsigned_abs()) as f64;
        if ticks < 0 { -ns } else { ns }
    }
}

/// How far the receiver core's TSC runs ahead of the sender core's, in ticks.
///
/// NTP's estimate: the floor bounced with the echo stamping its own clock gives, per
/// round trip, `t1 - (t0 + t2) / 2`, exact when both directions take equally long, which
/// the floor (the same code on both sides) is built to do; the round trips with the
/// shortest 10% RTTs are the least disturbed, and their median offset is the answer.
/// The first round trips on idle cores are slow and scattered here (an RTT p50 of 650 ns
/// where the same cores then measured 340 ns) and skewed the estimate by up to 140 ns,
/// so as many round trips again go first, unused.
fn tsc_offset(clock: &quanta::Clock, cores: (usize, usize)) -> i64 {
    const WARMUP: usize = 50_000;
    const ROUND_TRIPS: usize = 50_000;
    let (ping_tx, ping_rx) = floor();
    let (pong_tx, pong_rx) = floor();
    let (mut ping_tx, mut ping_rx) = (CachePadded::new(ping_tx), CachePadded::new(ping_rx));
    let (mut pong_tx, mut pong_rx) = (CachePadded::new(pong_tx), CachePadded::new(pong_rx));
    let start = &Barrier::new(2);
    let mut trips: Vec<(u64, i64)> = thread::scope(|s| {
        s.spawn(move || {
            support::pin(cores.1);
            start.wait();
            while recv(&mut *ping_rx).tsc != STOP {
                pong_tx.push(Msg::new(clock.raw(), 0));
            }
        });
        let pinger = s.spawn(move || {
            support::pin(cores.0);
            let mut trips = Vec::with_capacity(WARMUP + ROUND_TRIPS);
            start.wait();
            for _ in 0..WARMUP + ROUND_TRIPS {
                let t0 = clock.raw();
                ping_tx.push(Msg::new(t0, 0));
                let t1 = recv(&mut *pong_rx).tsc;
                let t2 = clock.raw();
                let mid = t0 + (t2 - t0) / 2;
                trips.push((t2 - t0, t1 as i64 - mid as i64));
            }
            ping_tx.push(Msg::new(STOP, 0));
            trips.split_off(WARMUP)
        });
        pinger.join().expect("pinger thread")
    });
    trips.sort_unstable_by_key(|&(rtt, _)| rtt);
    let mut best: Vec<i64> = trips[..ROUND_TRIPS / 10].iter().map(|&(_, o)| o).collect();
    best.sort_unstable();
    best[best.len() / 2]
}

/// One measurement: the histogram, and how many recorded messages never arrived (only
/// the floor can lose one: a stamp overwritten before it was read).
struct Measured {
    hist: Histogram<u64>,
    lost: u64,
    /// One-way only: the p50 of each direction, (A→B, B→A).
    p50_by_direction: Option<(u64, u64)>,
}

/// Polls until a message arrives, with a PAUSE between polls as tickpipe's busy-spin
/// idler has. Without it this host measured the floor's rtt/2 at 60 ns instead of 40 and
/// tickpipe's at 115 instead of 70: a load loop running ahead pays a memory-order machine
/// clear each time the line changes.
#[inline]
fn recv<R: Rx>(rx: &mut R) -> Msg {
    loop {
        if let Some(m) = rx.try_recv() {
            return m;
        }
        spin_loop();
    }
}

/// One direction of the one-way method: `samples` recorded messages from `cfg.cores.0`
/// to `cfg.cores.1`.
///
/// Each ring end moves into the thread that uses it, padded to its own cache lines
/// wherever the closure that carries it is placed. Left side by side on the spawning
/// thread's stack, the ends' per-message fields (rtrb's cached indices, the floor's last
/// value) shared a line in some processes, depending on where the stack landed:
/// tickpipe's rtt/2 then measured 125–135 ns instead of 65–75.
fn one_way<T: Tx, R: Rx>(cfg: &Config, samples: u64, (tx, rx): (T, R)) -> Measured {
    let (mut tx, mut rx) = (CachePadded::new(tx), CachePadded::new(rx));
    let start = &Barrier::new(2);
    let clock = &cfg.clock;
    let total = cfg.warmup + samples;
    thread::scope(|s| {
        let receiver = s.spawn(move || {
            support::pin(cfg.cores.1);
            let mut hist = new_histogram();
            let mut seen = 0u64;
            start.wait();
            loop {
                let m = recv(&mut *rx);
                let now = clock.raw();
                if m.tsc == STOP {
                    break;
                }
                seen += 1;
                if seen > cfg.warmup {
                    let sent = m.tsc.wrapping_add_signed(cfg.tsc_offset);
                    hist.saturating_record(clock.delta_as_nanos(sent, now));
                }
            }
            Measured {
                hist,
                lost: total - seen,
                p50_by_direction: None,
            }
        });
        s.spawn(move || {
            support::pin(cfg.cores.0);
            start.wait();
            for seq in 0..total {
                let t0 = clock.raw();
                tx.push(Msg::new(t0, seq));
                while clock.delta_as_nanos(t0, clock.raw()) < cfg.gap_ns {
                    spin_loop();
                }
            }
            tx.push(Msg::new(STOP, total));
        });
        receiver.join().expect("receiver thread")
    })
}

/// The rtt/2 method; ring ends are placed as in [`one_way`].
fn round_trip<T: Tx, R: Rx>(
    cfg: &Config,
    (ping_tx, ping_rx): (T, R),
    (pong_tx, pong_rx): (T, R),
) -> Measured {
    let (mut ping_tx, mut ping_rx) = (CachePadded::new(ping_tx), CachePadded::new(ping_rx));
    let (mut pong_tx, mut pong_rx) = (CachePadded::new(pong_tx), CachePadded::new(pong_rx));
    let start = &Barrier::new(2);
    let clock = &cfg.clock;
    thread::scope(|s| {
        s.spawn(move || {
            support::pin(cfg.cores.1);
            start.wait();
            loop {
                let m = recv(&mut *ping_rx);
                if m.tsc == STOP {
                    break;
                }
                pong_tx.push(m);
            }
        });
        let pinger = s.spawn(move || {
            support::pin(cfg.cores.0);
            let mut hist = new_histogram();
            start.wait();
            for seq in 0..cfg.warmup + cfg.samples {
                let t0 = clock.raw();
                ping_tx.push(Msg::new(t0, seq));
                recv(&mut *pong_rx);
                let rtt = clock.delta_as_nanos(t0, clock.raw());
                if seq >= cfg.warmup {
                    hist.saturating_record(rtt / 2);
                }
            }
            ping_tx.push(Msg::new(STOP, 0));
            Measured {
                hist,
                lost: 0,
                p50_by_direction: None,
            }
        });
        pinger.join().expect("pinger thread")
    })
}

/// Both methods for one implementation; `make` builds a fresh ring (pair) each time.
fn measure_with<T: Tx, R: Rx>(cfg: &Config, make: impl Fn() -> (T, R)) -> [Measured; 2] {
    let there = one_way(cfg, cfg.samples / 2, make());
    let back = one_way(&cfg.reversed(), cfg.samples - cfg.samples / 2, make());
    let mut hist = there.hist.clone();
    hist.add(&back.hist).expect("same bounds");
    let one = Measured {
        hist,
        lost: there.lost + back.lost,
        p50_by_direction: Some((
            there.hist.value_at_quantile(0.5),
            back.hist.value_at_quantile(0.5),
        )),
    };
    [one, round_trip(cfg, make(), make())]
}

fn measure(cfg: &Config, imp: Impl) -> [Measured; 2] {
    match imp {
        Impl::Floor => measure_with(cfg, floor),
        Impl::Tickpipe => measure_with(cfg, tickpipe),
        Impl::TickpipeSeq => measure_with(cfg, || on(RingKind::Seq)),
        Impl::FrameRtrb => measure_with(cfg, || frames(RingKind::Rtrb)),
        Impl::FrameSeq => measure_with(cfg, || frames(RingKind::Seq)),
        Impl::Ring => measure_with(cfg, ring),
        Impl::Crossbeam => measure_with(cfg, || crossbeam_channel::bounded(CAPACITY)),
        Impl::CrossbeamArrayQueue => measure_with(cfg, array_queue),
        Impl::StdMpsc => measure_with(cfg, || sync_channel(CAPACITY)),
        Impl::Disruptor => measure_with(cfg, disruptor),
        Impl::MutexVecdeque => measure_with(cfg, mutex_vecdeque),
    }
}

/// The p50 of 100k back-to-back pairs of TSC reads, in ns: the resolution of every
/// figure here (on this host 10 ns, the step in which its TSC advances, rather than the
/// cost of a read).
fn tsc_resolution_ns(clock: &quanta::Clock) -> u64 {
    let mut hist = new_histogram();
    for _ in 0..100_000 {
        let a = clock.raw();
        let b = clock.raw();
        hist.saturating_record(clock.delta_as_nanos(a, b));
    }
    hist.value_at_quantile(0.5)
}

/// The interquartile mean: the mean of the samples from p25 to p75. The TSC here
/// advances in steps of ~26 ticks (10 ns), so a p50 moves in 5–10 ns steps; averaging the
/// middle half resolves what the p50 rounds away, and no stall (a descheduled thread,
/// often more than 1% of one-way samples on this shared host) can reach it.
fn iqm(h: &Histogram<u64>) -> f64 {
    let (lo, hi) = (h.value_at_quantile(0.25), h.value_at_quantile(0.75));
    let (sum, n) = h
        .iter_recorded()
        .filter(|v| (lo..=hi).contains(&v.value_iterated_to()))
        .fold((0f64, 0u64), |(sum, n), v| {
            let c = v.count_at_value();
            (sum + v.value_iterated_to() as f64 * c as f64, n + c)
        });
    sum / n.max(1) as f64
}

/// All runs of one (implementation, method).
struct Series {
    imp: Impl,
    method: Method,
    runs: Vec<Measured>,
}

impl Series {
    /// The run whose p50 is the median of the runs' (the lower middle for an even count).
    fn median(&self) -> &Measured {
        support::median_by(&self.runs, |a, b| {
            a.hist
                .value_at_quantile(0.5)
                .cmp(&b.hist.value_at_quantile(0.5))
        })
    }

    fn spread(&self, q: f64) -> Vec<u64> {
        self.runs
            .iter()
            .map(|m| m.hist.value_at_quantile(q))
            .collect()
    }
}

fn main() {
    let args = Args::parse();
    let samples = args
        .samples
        .unwrap_or(if args.quick { 50_000 } else { 200_000 });
    let runs = args.runs.unwrap_or(if args.quick { 3 } else { 15 }).max(1);
    let impls = if args.impls.is_empty() {
        Impl::ALL.to_vec()
    } else {
        args.impls.clone()
    };
    let cfg = Config {
        clock: quanta::Clock::new(),
        cores: support::two_cores(args.cores.as_deref()),
        tsc_offset: 0,
        samples,
        warmup: args.warmup.unwrap_or(samples / 10),
        gap_ns: args.gap_ns,
    };
    let mut ctx = Context {
        placement: format!(
            "two threads pinned to cores {a} and {b}, never sharing one: rtt/2 pinger on \
             {a}, echo on {b}; one-way sender on {a} for half the samples and on {b} for \
             the other half; both cores shared with the OS and whatever else runs here",
            a = cfg.cores.0,
            b = cfg.cores.1
        ),
        tsc_resolution_ns: tsc_resolution_ns(&cfg.clock),
        load_before: support::load_average(),
        load_after: String::new(),
        offsets_ns: Vec::new(),
        runs,
        cfg,
    };
    println!("hop: {:?}", support::machine());
    println!("{}", ctx.placement);
    println!(
        "{samples} samples after {} warm-up, {runs} run(s), 64-byte message, capacity \
         {CAPACITY}, one-way gap {} ns; TSC resolution {} ns; load average {}",
        ctx.cfg.warmup, ctx.cfg.gap_ns, ctx.tsc_resolution_ns, ctx.load_before
    );

    let began = Instant::now();
    let mut series: Vec<Series> = impls
        .iter()
        .flat_map(|&imp| {
            [Method::OneWay, Method::RttHalf].map(|method| Series {
                imp,
                method,
                runs: Vec::new(),
            })
        })
        .collect();
    for run in 1..=runs {
        // Measured again each run: a drifting offset would show in the spread.
        ctx.cfg.tsc_offset = tsc_offset(&ctx.cfg.clock, ctx.cfg.cores);
        ctx.offsets_ns.push(ctx.cfg.ticks_ns(ctx.cfg.tsc_offset));
        for (i, &imp) in impls.iter().enumerate() {
            let [one, rtt] = measure(&ctx.cfg, imp);
            series[2 * i].runs.push(one);
            series[2 * i + 1].runs.push(rtt);
        }
        println!(
            "  run {run}/{runs} done; TSC offset core {}−{} {:.1} ns",
            ctx.cfg.cores.1,
            ctx.cfg.cores.0,
            ctx.offsets_ns[run - 1]
        );
    }
    ctx.load_after = support::load_average();
    report(&ctx, &series, began.elapsed());
}

/// What the report states beside the figures.
struct Context {
    cfg: Config,
    runs: usize,
    placement: String,
    tsc_resolution_ns: u64,
    load_before: String,
    load_after: String,
    /// Per run: the second core's TSC minus the first's, ns.
    offsets_ns: Vec<f64>,
}

/// One implementation against another, by the same method.
struct Ratio {
    /// The median over runs of the p50 ratio.
    p50: f64,
    /// The same of the interquartile means.
    iqm: f64,
    /// The p50 ratio of each run.
    p50_runs: Vec<f64>,
}

fn median_f64(v: &[f64]) -> f64 {
    *support::median_by(v, f64::total_cmp)
}

/// `s` against `base`, taken run by run and then the median. Within a run the two were
/// measured seconds apart, under one placement of the vCPUs; between runs the host may
/// move them (the floor's rtt/2 has jumped from 35 to 165 ns between runs here), so a
/// ratio of two medians could compare one placement with another.
fn ratio(series: &[Series], s: &Series, base: Impl) -> Option<Ratio> {
    let b = series
        .iter()
        .find(|b| b.imp == base && b.method == s.method)?;
    let per_run = |f: &dyn Fn(&Histogram<u64>) -> f64| -> Vec<f64> {
        s.runs
            .iter()
            .zip(&b.runs)
            .map(|(x, y)| f(&x.hist) / f(&y.hist).max(1.0))
            .collect()
    };
    let p50_runs = per_run(&|h| h.value_at_quantile(0.5) as f64);
    Some(Ratio {
        p50: median_f64(&p50_runs),
        iqm: median_f64(&per_run(&iqm)),
        p50_runs,
    })
}

/// What an implementation's "×rtrb" compares it with: the feed edge's frames with the
/// frames sent over rtrb, everything else with the rtrb edge.
fn rtrb_peer(imp: Impl) -> Impl {
    match imp {
        Impl::FrameRtrb | Impl::FrameSeq => Impl::FrameRtrb,
        _ => Impl::Tickpipe,
    }
}

fn report(ctx: &Context, series: &[Series], span: Duration) {
    let cfg = &ctx.cfg;
    let fmt_ratio = |r: Option<Ratio>| r.map_or_else(|| "-".into(), |r| format!("{:.2}", r.p50));

    println!(
        "\n{:<22} {:<8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>8} {:>9} {:>8} {:>13} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "impl",
        "case",
        "iqm",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "count",
        "p50 all runs",
        "×floor",
        "×xbeam",
        "×disr",
        "×rtrb",
        format!(
            "{}→{}/{}→{}",
            cfg.cores.0, cfg.cores.1, cfg.cores.1, cfg.cores.0
        ),
    );
    let mut rows = Vec::new();
    for s in series {
        let p = Percentiles::of(&s.median().hist);
        let p50s = s.spread(0.5);
        let lo = p50s.iter().min().copied().unwrap_or(0);
        let hi = p50s.iter().max().copied().unwrap_or(0);
        println!(
            "{:<22} {:<8} {:>6.1} {:>6} {:>6} {:>6} {:>7} {:>8} {:>9} {:>8} {:>13} {:>6} {:>6} {:>6} {:>6} {:>9}",
            s.imp.name(),
            s.method.case(),
            iqm(&s.median().hist),
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.p9999,
            p.max,
            p.count,
            format!("{lo}–{hi}"),
            fmt_ratio(ratio(series, s, Impl::Floor)),
            fmt_ratio(ratio(series, s, Impl::Crossbeam)),
            fmt_ratio(ratio(series, s, Impl::Disruptor)),
            fmt_ratio(ratio(series, s, rtrb_peer(s.imp))),
            s.median()
                .p50_by_direction
                .map_or_else(|| "-".into(), |(a, b)| format!("{a}/{b}")),
        );
        let mut extra = Map::new();
        extra.insert("what".into(), json!(s.imp.what()));
        extra.insert("message_bytes".into(), json!(64));
        extra.insert("capacity".into(), json!(CAPACITY));
        extra.insert("warmup".into(), json!(cfg.warmup));
        extra.insert("cores".into(), json!([cfg.cores.0, cfg.cores.1]));
        extra.insert("threads_sharing_a_core".into(), json!(0));
        extra.insert("placement".into(), json!(ctx.placement));
        extra.insert("tsc_resolution_ns".into(), json!(ctx.tsc_resolution_ns));
        extra.insert("load_average_before".into(), json!(ctx.load_before));
        extra.insert("load_average_after".into(), json!(ctx.load_after));
        extra.insert("runs".into(), json!(ctx.runs));
        let iqm_ns = iqm(&s.median().hist);
        extra.insert("iqm_ns".into(), json!((iqm_ns * 10.0).round() / 10.0));
        extra.insert("p50_ns_runs".into(), json!(p50s));
        extra.insert("p99_ns_runs".into(), json!(s.spread(0.99)));
        extra.insert("p9999_ns_runs".into(), json!(s.spread(0.9999)));
        if s.method == Method::OneWay {
            extra.insert("gap_ns".into(), json!(cfg.gap_ns));
            extra.insert("offered_per_s".into(), json!(1e9 / cfg.gap_ns as f64));
            extra.insert("tsc_offset_ns_runs".into(), json!(ctx.offsets_ns));
            let lost: u64 = s.runs.iter().map(|m| m.lost).sum();
            if lost > 0 {
                extra.insert("lost_in_all_runs".into(), json!(lost));
            }
            if let Some((there, back)) = s.median().p50_by_direction {
                extra.insert("p50_ns_first_to_second_core".into(), json!(there));
                extra.insert("p50_ns_second_to_first_core".into(), json!(back));
            }
        }
        let round3 = |r: f64| (r * 1000.0).round() / 1000.0;
        for base in [
            Impl::Floor,
            Impl::Crossbeam,
            Impl::Disruptor,
            rtrb_peer(s.imp),
        ] {
            if let Some(r) = ratio(series, s, base) {
                let key = format!("p50_ratio_to_{}", base.name());
                extra.insert(key.clone(), json!(round3(r.p50)));
                let runs: Vec<f64> = r.p50_runs.iter().map(|&x| round3(x)).collect();
                extra.insert(format!("{key}_runs"), json!(runs));
            }
        }
        rows.push(support::Row {
            bench: "hop".into(),
            imp: s.imp.name().into(),
            case: s.method.case().into(),
            latency: Some(p),
            extra,
        });
    }
    support::record(&rows);

    for s in series.iter().filter(|s| s.imp == Impl::Floor) {
        let lost: u64 = s.runs.iter().map(|m| m.lost).sum();
        if lost > 0 {
            println!(
                "note: floor {}: {lost} stamps overwritten before the receiver read them \
                 (it was descheduled for longer than the gap)",
                s.method.case()
            );
        }
    }
    println!(
        "clock: TSC offset core {}−{} per run {:?} ns; one-way `{a}→{b}/{b}→{a}` shows each \
         direction's p50 after correcting it (equal when the estimate is right; the merged \
         p50 sits between them either way)",
        cfg.cores.1,
        cfg.cores.0,
        ctx.offsets_ns
            .iter()
            .map(|o| (o * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        a = cfg.cores.0,
        b = cfg.cores.1,
    );
    println!(
        "load average before {}, after {}",
        ctx.load_before, ctx.load_after
    );

    if let Some(floor) = series
        .iter()
        .find(|s| s.imp == Impl::Floor && s.method == Method::RttHalf)
    {
        println!(
            "placement: floor rtt/2 p50 per run {:?} ns (a jump means the host moved the vCPUs)",
            floor.spread(0.5)
        );
    }

    println!(
        "\ntargets (tickpipe ÷ peer, per run, median of runs; by p50, and by the interquartile \
         mean as a check):"
    );
    for s in series
        .iter()
        .filter(|s| matches!(s.imp, Impl::Tickpipe | Impl::Ring))
    {
        for (base, limit) in [
            (Impl::Floor, 1.5),
            (Impl::Crossbeam, 0.5),
            (Impl::Disruptor, 1.0),
        ] {
            if let Some(r) = ratio(series, s, base) {
                println!(
                    "  {:<8} {:<8} ≤ {limit:.1} × {:<10} p50 {:.2} {:<8} iqm {:.2}  runs {:?}",
                    s.imp.name(),
                    s.method.case(),
                    base.name(),
                    r.p50,
                    if r.p50 <= limit { "met" } else { "NOT met" },
                    r.iqm,
                    r.p50_runs
                        .iter()
                        .map(|x| (x * 100.0).round() / 100.0)
                        .collect::<Vec<_>>(),
                );
            }
        }
    }

    let tags: Vec<(String, &Histogram<u64>)> = series
        .iter()
        .map(|s| {
            (
                format!("{}/{}", s.imp.name(), s.method.case()),
                &s.median().hist,
            )
        })
        .collect();
    let tagged: Vec<(&str, &Histogram<u64>)> = tags.iter().map(|(t, h)| (t.as_str(), *h)).collect();
    let hlog = support::write_hlog("hop", span, &tagged);
    let title = format!(
        "Hop, 64 B message, threads on cores {} and {} (none shared), median runs",
        cfg.cores.0, cfg.cores.1
    );
    let svg = support::plot_percentiles("hop", &title, &tagged);
    println!("\nwrote {} and {}", hlog.display(), svg.display());
}
