//! Runners: one OS thread each, driving one stage or several fused stages through a
//! duty cycle (control ring first, then a batch of data, then idle).
//!
//! Fused stages are nested [`Link`]s: a stage's output is the next stage's input by a
//! direct, monomorphised call, and the last link's output is a ring ([`EdgeOut`]). The
//! same stages therefore run fused or staged with identical decisions; only where the
//! rings sit changes.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use hdrhistogram::Histogram;

use crate::latency::{SERVICE_SAMPLE_EVERY, StageTimer};
use crate::msg::Stamped;
use crate::source::live::FeedStats;
use crate::source::router::SourceStats;
use crate::stages::ShardReport;
use crate::stages::{Control, Stage};
use crate::sys::edge::{BATCH, ConsumerGone, EdgeIn, EdgeOut, EdgeStats, Emit};
use crate::sys::idle::Idler;
use crate::sys::{Failure, Pulse, StopSignal};
use crate::venue::runner::VenueReport;

thread_local! {
    /// The stage this thread is inside, so a panic can be attributed to it. Set on entry
    /// to each stage call and restored on return; a panic skips the restore, leaving the
    /// innermost stage. One thread-local store per stage call (~1 ns).
    static CURRENT_STAGE: Cell<&'static str> = const { Cell::new("") };
}

fn in_stage<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let outer = CURRENT_STAGE.replace(name);
    let r = f();
    CURRENT_STAGE.set(outer);
    r
}

/// What a runner hands back when it stops.
pub struct RunnerOutput {
    pub runner: String,
    pub report: ShardReport,
    /// Time since receipt at entry to each stage, by stage name.
    pub latency: Vec<(&'static str, Histogram<u64>)>,
    /// Each stage's service time per event, by stage name.
    pub service: Vec<(&'static str, Histogram<u64>)>,
    pub edges: Vec<EdgeStats>,
    /// Set by the source runner.
    pub source: Option<SourceStats>,
    /// Set by the source runner of a live feed.
    pub feed: Option<FeedStats>,
    /// Set by the venue runner.
    pub venue: Option<VenueReport>,
}

impl RunnerOutput {
    pub fn new(runner: &str) -> RunnerOutput {
        RunnerOutput {
            runner: runner.to_string(),
            report: ShardReport::default(),
            latency: Vec::new(),
            service: Vec::new(),
            edges: Vec::new(),
            source: None,
            feed: None,
            venue: None,
        }
    }
}

/// What one runner last published, for the metrics (`runtime::metrics`).
pub struct RunnerSnapshot {
    /// Its chain's counters, latency histograms (in chain order) and output ring, as the
    /// runner hands them back when it stops.
    pub output: RunnerOutput,
    /// Slots in use in each of `output.edges`, in the same order.
    pub occupancy: Vec<usize>,
}

impl RunnerSnapshot {
    /// Nothing yet, for the runner `runner`: the runner gives it its shape.
    pub fn empty(runner: &str) -> RunnerSnapshot {
        RunnerSnapshot {
            output: RunnerOutput::new(runner),
            occupancy: Vec::new(),
        }
    }
}

/// What every element of a fused chain does besides handling events.
pub trait Chain {
    /// End of a batch: each stage may flush.
    fn batch_end(&mut self);
    /// A control event, delivered to every stage in pipeline order.
    fn control(&mut self, control: Control);
    /// The input ended: each stage emits what it owes, in pipeline order.
    fn end(&mut self);
    /// Collects counters, histograms and edge statistics; closes the output ring.
    fn finish(self, out: &mut RunnerOutput);
    /// Nanoseconds spent inside this element's `emit` calls since the last call, which
    /// its caller subtracts from its own service time. A ring or a venue at the end of
    /// the chain says 0: pushing is the calling stage's work.
    #[inline]
    fn take_busy(&mut self) -> u64 {
        0
    }
    /// This element is called by a stage on the same thread: it times its events'
    /// service when its caller's event is sampled, and never on its own count. Called
    /// once, by [`Link::new`]; a ring or a venue at the end of the chain ignores it.
    fn follow(&mut self) {}
    /// Whether the caller's current event is sampled ([`SERVICE_SAMPLE_EVERY`]), so the
    /// events it hands this element are too: set before each of the caller's events.
    #[inline]
    fn sample(&mut self, _on: bool) {}
    /// Adds room for this element's figures to a metrics snapshot (allocating: once, at
    /// start-up).
    fn shape(&self, into: &mut RunnerSnapshot);
    /// Overwrites this element's figures in a snapshot [`Chain::shape`] made, without
    /// allocating; `depth` is the element's place in the chain.
    fn publish(&self, into: &mut RunnerSnapshot, depth: usize);
}

/// One stage and what follows it on the same thread.
pub struct Link<S: Stage, N> {
    stage: S,
    next: N,
    timer: StageTimer,
    /// Time inside this link's `emit` calls not yet taken by the stage before it.
    busy: u64,
    /// Which of this link's events have their service timed.
    sampling: Sampling,
}

/// How a link picks the events whose service it times: the head of a chain counts its
/// own; a link behind it times what its caller times, so a sampled event's service is
/// split across every stage it passed through.
#[derive(Copy, Clone, Debug)]
enum Sampling {
    /// Events left until the next sampled one.
    Head { countdown: u32 },
    /// The caller's current event is sampled.
    Follow { on: bool },
}

impl<S: Stage, N: Emit<S::Out> + Chain> Link<S, N> {
    pub fn new(stage: S, mut next: N, timer: StageTimer) -> Link<S, N> {
        next.follow();
        Link {
            stage,
            next,
            timer,
            busy: 0,
            // The first event is sampled: a short run still has a service time.
            sampling: Sampling::Head { countdown: 0 },
        }
    }

    /// Whether this event's service is timed; counts it at the head.
    #[inline]
    fn sampled(&mut self) -> bool {
        match &mut self.sampling {
            Sampling::Follow { on } => *on,
            Sampling::Head { countdown } => {
                let on = *countdown == 0;
                *countdown = if on {
                    SERVICE_SAMPLE_EVERY - 1
                } else {
                    *countdown - 1
                };
                on
            }
        }
    }
}

impl<S: Stage, N: Emit<S::Out> + Chain> Emit<S::In> for Link<S, N> {
    #[inline]
    fn emit(&mut self, event: S::In) {
        // Every event: its time since receipt, and the entry read a sampled stage
        // after this one shares as its caller's pause.
        let entered = self.timer.enter(event.stamp().ts_recv);
        let sampled = self.sampled();
        self.next.sample(sampled);
        let (stage, next) = (&mut self.stage, &mut self.next);
        in_stage(S::NAME, || stage.on_event(event, next));
        if sampled {
            let downstream = self.next.take_busy();
            self.busy += self.timer.leave(entered, downstream);
        }
    }
}

impl<S: Stage, N: Emit<S::Out> + Chain> Chain for Link<S, N> {
    fn batch_end(&mut self) {
        self.next.sample(false);
        let (stage, next) = (&mut self.stage, &mut self.next);
        in_stage(S::NAME, || stage.on_batch_end(next));
        // Time spent downstream outside an event belongs to no event of this stage.
        self.next.take_busy();
        self.next.batch_end();
    }

    fn control(&mut self, control: Control) {
        self.next.sample(false);
        let (stage, next) = (&mut self.stage, &mut self.next);
        in_stage(S::NAME, || stage.on_control(control, next));
        self.next.take_busy();
        self.next.control(control);
    }

    fn end(&mut self) {
        self.next.sample(false);
        let (stage, next) = (&mut self.stage, &mut self.next);
        in_stage(S::NAME, || stage.on_end(next));
        self.next.take_busy();
        self.next.end();
    }

    fn finish(self, out: &mut RunnerOutput) {
        self.stage.report(&mut out.report);
        let (since_receipt, service) = self.timer.into_histograms();
        out.latency.push((S::NAME, since_receipt));
        out.service.push((S::NAME, service));
        self.next.finish(out);
    }

    #[inline]
    fn take_busy(&mut self) -> u64 {
        std::mem::take(&mut self.busy)
    }

    fn follow(&mut self) {
        self.sampling = Sampling::Follow { on: false };
    }

    #[inline]
    fn sample(&mut self, on: bool) {
        if let Sampling::Follow { on: follows } = &mut self.sampling {
            *follows = on;
        }
    }

    fn shape(&self, into: &mut RunnerSnapshot) {
        self.stage.report(&mut into.output.report);
        let (since_receipt, service) = self.timer.histograms();
        into.output.latency.push((S::NAME, since_receipt.clone()));
        into.output.service.push((S::NAME, service.clone()));
        self.next.shape(into);
    }

    fn publish(&self, into: &mut RunnerSnapshot, depth: usize) {
        self.stage.publish(&mut into.output.report);
        let (since_receipt, service) = self.timer.histograms();
        for (published, own) in [
            (&mut into.output.latency[depth].1, since_receipt),
            (&mut into.output.service[depth].1, service),
        ] {
            crate::latency::publish_histogram(published, own);
        }
        self.next.publish(into, depth + 1);
    }
}

impl<T> Chain for EdgeOut<T> {
    fn batch_end(&mut self) {}
    fn control(&mut self, _control: Control) {}
    fn end(&mut self) {}
    fn finish(self, out: &mut RunnerOutput) {
        out.edges.push(self.stats());
        // Dropping closes the ring: the consumer drains it and ends.
    }

    fn shape(&self, into: &mut RunnerSnapshot) {
        into.output.edges.push(self.stats());
        into.occupancy.push(self.occupancy());
    }

    /// A chain ends in one ring: the snapshot's last.
    fn publish(&self, into: &mut RunnerSnapshot, _depth: usize) {
        if let (Some(edge), Some(used)) = (into.output.edges.last_mut(), into.occupancy.last_mut())
        {
            self.publish(edge);
            *used = self.occupancy();
        }
    }
}

/// The duty cycle of a stage runner: control first, then up to [`BATCH`] events, then
/// idle; when the input is closed and drained, the chain's `end`. Returns normally only
/// after the input is finished.
///
/// Each pass, from its control read to its batch's end, and the chain's `end`, are
/// bracketed by `pulse`, which also ticks per event (`sys::heartbeat`: a plain store
/// each), so a stage stuck on an event leaves the heartbeat odd and unmoved and the
/// watchdog (`runtime::health`) sees it.
pub fn drive<In: Copy, C: Emit<In> + Chain>(
    input: &mut EdgeIn<In>,
    control: &mut EdgeIn<Control>,
    chain: &mut C,
    idle: &mut Idler,
    pulse: &mut Pulse,
) {
    loop {
        pulse.enter();
        control.read_batch(BATCH, |c| chain.control(c));
        let n = input.read_batch(BATCH, |event| {
            chain.emit(event);
            pulse.tick();
        });
        if n > 0 {
            chain.batch_end();
            pulse.leave();
            idle.reset();
        } else {
            pulse.leave();
            if input.is_finished() {
                break;
            }
            idle.idle();
        }
    }
    pulse.enter();
    chain.end();
    pulse.leave();
}

/// Where a runner goes: its thread name and the core to pin it to, if any.
#[derive(Clone, Debug)]
pub struct Placement {
    pub name: String,
    pub core: Option<core_affinity::CoreId>,
}

/// Spawns a runner thread. `work` runs under `catch_unwind`; whatever happens, `finish`
/// then collects its output, so a failed runner still closes its rings (its consumers
/// drain and end) and reports its counters. A panic is recorded in `stop` with the
/// stage it happened in; a producer stopped because its consumer died is not recorded
/// again (that consumer's failure is the cause).
pub fn spawn<S: Send + 'static>(
    placement: Placement,
    stop: Arc<StopSignal>,
    state: S,
    work: impl FnOnce(&mut S) + Send + 'static,
    finish: impl FnOnce(S, &mut RunnerOutput) + Send + 'static,
) -> std::io::Result<JoinHandle<RunnerOutput>> {
    let name = placement.name.clone();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            if let Some(core) = placement.core
                && !core_affinity::set_for_current(core)
            {
                stop.fail(Failure {
                    runner: name.clone(),
                    stage: "runner".into(),
                    message: format!("could not pin to core {}", core.id),
                });
            }
            let mut state = state;
            let outcome = catch_unwind(AssertUnwindSafe(|| work(&mut state)));
            if let Err(payload) = outcome {
                if payload.downcast_ref::<ConsumerGone>().is_none() {
                    let stage = CURRENT_STAGE.get();
                    stop.fail(Failure {
                        runner: name.clone(),
                        stage: if stage.is_empty() {
                            name.clone()
                        } else {
                            stage.to_string()
                        },
                        message: panic_message(payload.as_ref()),
                    });
                }
                stop.request_stop();
            }
            let mut out = RunnerOutput::new(&name);
            finish(state, &mut out);
            out
        })
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MonoClock;
    use crate::msg::{Stamp, Stamped};
    use crate::sys::edge::{Backpressure, edge};
    use crate::sys::idle::IdleStrategy;

    #[derive(Copy, Clone, Debug, PartialEq)]
    struct Ev(u64);
    impl Stamped for Ev {
        fn stamp(&self) -> Stamp {
            Stamp {
                ts_recv: 0,
                ts_event: self.0,
            }
        }
    }

    /// Doubles its input; panics on 13; records control events and its end.
    struct Doubler {
        seen: Vec<String>,
    }
    impl Stage for Doubler {
        type In = Ev;
        type Out = Ev;
        const NAME: &'static str = "doubler";
        fn on_event<O: Emit<Ev>>(&mut self, e: Ev, out: &mut O) {
            assert!(e.0 != 13, "unlucky event");
            self.seen.push(format!("ev{}", e.0));
            out.emit(Ev(e.0 * 2));
        }
        fn on_control<O: Emit<Ev>>(&mut self, c: Control, _out: &mut O) {
            self.seen.push(format!("{c:?}"));
        }
        fn on_end<O: Emit<Ev>>(&mut self, out: &mut O) {
            self.seen.push("end".into());
            out.emit(Ev(1000));
        }
        fn report(&self, _report: &mut ShardReport) {}
        fn publish(&self, _report: &mut ShardReport) {}
    }

    fn idler() -> Idler {
        Idler::new(IdleStrategy::SpinThenYield { spins: 10 })
    }

    fn pulse() -> Pulse {
        Pulse::new(Arc::new(crate::sys::Heartbeat::new()))
    }

    fn recorder() -> StageTimer {
        StageTimer::new(MonoClock::new())
    }

    #[test]
    fn fused_links_call_through_and_end_in_order() {
        let (tx_in, mut rx_in) = edge::<Ev>("in", 8, Backpressure::Spin, idler());
        let (_tx_ctl, mut rx_ctl) = edge::<Control>("ctl", 8, Backpressure::Spin, idler());
        let (tx_out, mut rx_out) = edge::<Ev>("out", 8, Backpressure::Spin, idler());
        let mut chain = Link::new(
            Doubler { seen: vec![] },
            Link::new(Doubler { seen: vec![] }, tx_out, recorder()),
            recorder(),
        );
        let mut tx_in = tx_in;
        tx_in.emit(Ev(1));
        tx_in.emit(Ev(2));
        drop(tx_in);
        let beat = Arc::new(crate::sys::Heartbeat::new());
        drive(
            &mut rx_in,
            &mut rx_ctl,
            &mut chain,
            &mut idler(),
            &mut Pulse::new(Arc::clone(&beat)),
        );
        // One pass with the batch (two events), one that finds the input finished, and
        // the end.
        assert_eq!(beat.get(), 10, "every pass left: the runner is not stalled");
        let mut out = RunnerOutput::new("t");
        chain.finish(&mut out);
        let mut got = Vec::new();
        rx_out.read_batch(16, |e| got.push(e.0));
        // 1→2→4, 2→4→8; the first stage's end emits 1000 → 2000; the second's end 1000.
        assert_eq!(got, [4, 8, 2000, 1000]);
        assert!(rx_out.is_finished());
        assert_eq!(
            out.latency
                .iter()
                .map(|(n, h)| (*n, h.len()))
                .collect::<Vec<_>>(),
            [("doubler", 2), ("doubler", 3)]
        );
        assert_eq!(
            out.service
                .iter()
                .map(|(n, h)| (*n, h.len()))
                .collect::<Vec<_>>(),
            [("doubler", 1), ("doubler", 1)],
            "the first event is sampled, with what it caused downstream; what a stage \
             emits at its end is not"
        );
    }

    /// The head of a chain times one event in `SERVICE_SAMPLE_EVERY`; the link behind it
    /// times exactly the events those caused, whatever its own count; time since receipt
    /// is recorded for every event.
    #[test]
    fn service_is_sampled_at_the_head_and_followed_downstream() {
        let every = u64::from(SERVICE_SAMPLE_EVERY);
        let events = every * 10 + 3;
        let (tx_out, _rx_out) = edge::<Ev>("out", 1024, Backpressure::Spin, idler());
        let mut chain = Link::new(
            Doubler { seen: vec![] },
            Link::new(Doubler { seen: vec![] }, tx_out, recorder()),
            recorder(),
        );
        for i in 0..events {
            chain.emit(Ev(i + 100));
        }
        let mut out = RunnerOutput::new("t");
        chain.finish(&mut out);
        let counts =
            |v: &[(&str, Histogram<u64>)]| v.iter().map(|(_, h)| h.len()).collect::<Vec<_>>();
        assert_eq!(counts(&out.latency), [events, events]);
        // Events 0, every, 2 × every, … are sampled: 11 of them.
        assert_eq!(counts(&out.service), [11, 11]);
    }

    #[test]
    fn control_is_handled_before_queued_data() {
        use crate::sys::TradingState;
        let (mut tx_in, mut rx_in) = edge::<Ev>("in", 8, Backpressure::Spin, idler());
        let (mut tx_ctl, mut rx_ctl) = edge::<Control>("ctl", 8, Backpressure::Spin, idler());
        let (tx_out, _rx_out) = edge::<Ev>("out", 8, Backpressure::Spin, idler());
        tx_in.emit(Ev(1));
        tx_ctl.emit(Control::TradingState(TradingState::Halted));
        drop(tx_in);
        let mut chain = Link::new(Doubler { seen: vec![] }, tx_out, recorder());
        drive(
            &mut rx_in,
            &mut rx_ctl,
            &mut chain,
            &mut idler(),
            &mut pulse(),
        );
        assert_eq!(chain.stage.seen, ["TradingState(Halted)", "ev1", "end"]);
    }

    #[test]
    fn a_panicking_stage_fails_the_pipeline_naming_the_stage_and_closes_its_output() {
        let stop = Arc::new(StopSignal::new());
        let (mut tx_in, rx_in) = edge::<Ev>("in", 8, Backpressure::Spin, idler());
        let (_tx_ctl, rx_ctl) = edge::<Control>("ctl", 8, Backpressure::Spin, idler());
        let (tx_out, mut rx_out) = edge::<Ev>("out", 8, Backpressure::Spin, idler());
        tx_in.emit(Ev(1));
        tx_in.emit(Ev(13));
        drop(tx_in);
        let chain = Link::new(Doubler { seen: vec![] }, tx_out, recorder());
        let handle = spawn(
            Placement {
                name: "shard0/solo".into(),
                core: None,
            },
            Arc::clone(&stop),
            (rx_in, rx_ctl, chain),
            |(i, c, ch)| drive(i, c, ch, &mut idler(), &mut pulse()),
            |(_, _, ch), out| ch.finish(out),
        )
        .unwrap();
        let out = handle.join().unwrap();
        assert!(stop.is_failed());
        let f = &stop.failures()[0];
        assert_eq!(
            (f.runner.as_str(), f.stage.as_str()),
            ("shard0/solo", "doubler")
        );
        assert!(f.message.contains("unlucky event"), "{}", f.message);
        let mut got = Vec::new();
        rx_out.read_batch(16, |e| got.push(e.0));
        assert_eq!(got, [2], "what was emitted before the panic is delivered");
        assert!(
            rx_out.is_finished(),
            "the failed runner's output ring is closed"
        );
        assert_eq!(out.edges.len(), 1);
    }
}
