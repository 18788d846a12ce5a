//! A reference venue for risk's tests: the other side of the [`super::venue_sync`]
//! contract, run in the test's own thread.
//!
//! It is a discrete-event simulation in venue time. A command sent at `t` arrives at
//! `t + L`; fills happen at random later times; each report leaves at its event's venue
//! time plus `L`. Because later commands arrive at `≥ t + L`, on receiving a command at
//! `t` it may settle every event up to venue time `t` and no further: that keeps its
//! reports in event-time order and lets it answer `Watermark { W }` at `W + L` after
//! every report due before. Fill sizes, delays and rejections come from a seeded PRNG,
//! so a scenario replays exactly.
//!
//! [`Wire`] is risk's `Emit` (it records each command and hands it to the venue);
//! [`Link`] is risk's `ReportSource`, which can release reports in random chunks to mimic
//! thread timing.
//!
//! [`Broker`] is the other kind of venue: asynchronous, as a live broker is. The test
//! scripts what arrives between two signals, with any event times; it vouches for no
//! time, and it fails the test if risk ever waits on it.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::msg::{
    ClOrdId, ExecKind, ExecReport, OrderIntent, Price, RejectReason, Stamp, TimeInForce,
    VenueCommand, VenueTiming,
};
use crate::stages::ReportSource;
use crate::sys::edge::Emit;

/// How the venue treats orders; percentages are out of 100.
#[derive(Copy, Clone, Debug)]
pub struct Behaviour {
    pub latency: u64,
    pub reject_pct: u32,
    /// A day order that fills in full on arrival, without an ack.
    pub instant_fill_pct: u32,
    /// After each fill of a day order, the chance another follows.
    pub refill_pct: u32,
    pub seed: u64,
}

#[derive(Debug)]
enum Event {
    Arrive(VenueCommand),
    Fill(ClOrdId),
}

#[derive(Debug)]
struct Resting {
    order: OrderIntent,
    leaves: u32,
}

#[derive(Debug)]
pub struct Venue {
    behaviour: Behaviour,
    rng: Pcg64Mcg,
    /// Keyed by (venue time, sequence): ties settle in the order they were scheduled.
    events: BTreeMap<(u64, u64), Event>,
    next_event: u64,
    resting: BTreeMap<ClOrdId, Resting>,
    outbox: VecDeque<ExecReport>,
    /// Every report sent, in order: the tests' independent record.
    pub log: Vec<ExecReport>,
    last_command: u64,
    closed: bool,
}

impl Venue {
    pub fn new(behaviour: Behaviour) -> Venue {
        Venue {
            behaviour,
            rng: Pcg64Mcg::seed_from_u64(behaviour.seed),
            events: BTreeMap::new(),
            next_event: 0,
            resting: BTreeMap::new(),
            outbox: VecDeque::new(),
            log: Vec::new(),
            last_command: 0,
            closed: false,
        }
    }

    pub fn command(&mut self, command: VenueCommand) {
        let t = command.stamp().ts_event;
        assert!(!self.closed, "command after end of session: {command:?}");
        assert!(
            t >= self.last_command,
            "commands out of event-time order: {t} after {}",
            self.last_command
        );
        self.last_command = t;
        let latency = self.behaviour.latency;
        match command {
            VenueCommand::Watermark { .. } => {
                self.settle_through(t);
                self.send(report_at(ExecKind::Watermark, t + latency));
            }
            VenueCommand::EndOfSession { .. } => {
                self.schedule(t + latency, Event::Arrive(command));
                self.settle_through(u64::MAX);
            }
            _ => {
                self.schedule(t + latency, Event::Arrive(command));
                self.settle_through(t);
            }
        }
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.events.insert((at, self.next_event), event);
        self.next_event += 1;
    }

    /// Runs every event up to venue time `limit`, in time order.
    fn settle_through(&mut self, limit: u64) {
        while !self.closed {
            let Some(entry) = self.events.first_entry() else {
                return;
            };
            let at = entry.key().0;
            if at > limit {
                return;
            }
            let event = entry.remove();
            self.run(at, event);
        }
    }

    fn run(&mut self, at: u64, event: Event) {
        use RejectReason as Why;
        match event {
            Event::Arrive(VenueCommand::New { order, .. }) => self.arrive(at, order),
            Event::Arrive(VenueCommand::Cancel { cl_ord_id, .. }) => {
                match self.resting.remove(&cl_ord_id) {
                    Some(r) => self.report(at, &r.order, ExecKind::Cancelled, 0, 0, Why::Requested),
                    None => {
                        let mut gone =
                            report_at(ExecKind::CancelRejected, at + self.behaviour.latency);
                        gone.cl_ord_id = cl_ord_id;
                        gone.symbol = cl_ord_id.symbol();
                        gone.reason = Why::UnknownOrder;
                        self.send(gone);
                    }
                }
            }
            Event::Arrive(VenueCommand::EndOfSession { .. }) => {
                for r in std::mem::take(&mut self.resting).values() {
                    self.report(at, &r.order, ExecKind::Cancelled, 0, 0, Why::EndOfSession);
                }
                let end = report_at(ExecKind::EndOfSession, at + self.behaviour.latency);
                self.send(end);
                self.closed = true;
            }
            Event::Arrive(_) => {}
            Event::Fill(id) => self.fill_some(at, id),
        }
    }

    fn arrive(&mut self, at: u64, order: OrderIntent) {
        use RejectReason as Why;
        let b = self.behaviour;
        if self.rng.gen_range(0..100) < b.reject_pct {
            self.report(at, &order, ExecKind::Rejected, 0, 0, Why::Halted);
            return;
        }
        let qty = order.qty;
        match order.tif {
            TimeInForce::Ioc => {
                let filled = self.rng.gen_range(0..=qty);
                if filled == qty {
                    self.report(at, &order, ExecKind::Fill, qty, 0, Why::None);
                    return;
                }
                self.report(at, &order, ExecKind::Ack, 0, qty, Why::None);
                if filled > 0 {
                    self.report(at, &order, ExecKind::Fill, filled, qty - filled, Why::None);
                }
                self.report(
                    at,
                    &order,
                    ExecKind::Cancelled,
                    0,
                    0,
                    Why::ImmediateOrCancel,
                );
            }
            TimeInForce::Day => {
                if self.rng.gen_range(0..100) < b.instant_fill_pct {
                    self.report(at, &order, ExecKind::Fill, qty, 0, Why::None);
                    return;
                }
                self.report(at, &order, ExecKind::Ack, 0, qty, Why::None);
                let leaves = qty;
                self.resting
                    .insert(order.cl_ord_id, Resting { order, leaves });
                self.schedule_fill(at, order.cl_ord_id);
            }
        }
    }

    fn schedule_fill(&mut self, now: u64, id: ClOrdId) {
        let delay = self.rng.gen_range(1..=3 * self.behaviour.latency + 1);
        self.schedule(now + delay, Event::Fill(id));
    }

    fn fill_some(&mut self, at: u64, id: ClOrdId) {
        let Some(r) = self.resting.get_mut(&id) else {
            return;
        };
        let qty = self.rng.gen_range(1..=r.leaves);
        r.leaves -= qty;
        let (order, leaves) = (r.order, r.leaves);
        if leaves == 0 {
            self.resting.remove(&id);
        }
        self.report(at, &order, ExecKind::Fill, qty, leaves, RejectReason::None);
        if leaves > 0 && self.rng.gen_range(0..100) < self.behaviour.refill_pct {
            self.schedule_fill(at, id);
        }
    }

    /// Sends a report about `order` for an event at venue time `at`.
    fn report(
        &mut self,
        at: u64,
        order: &OrderIntent,
        kind: ExecKind,
        qty: u32,
        leaves: u32,
        reason: RejectReason,
    ) {
        self.send(ExecReport {
            stamp: Stamp {
                ts_recv: 0,
                ts_event: at + self.behaviour.latency,
            },
            cl_ord_id: order.cl_ord_id,
            price: if kind == ExecKind::Fill {
                order.price
            } else {
                Price::ZERO
            },
            qty,
            leaves,
            symbol: order.symbol,
            kind,
            side: order.side,
            reason,
            match_number: 0,
        });
    }

    fn send(&mut self, r: ExecReport) {
        if let Some(last) = self.log.last() {
            assert!(
                r.stamp.ts_event >= last.stamp.ts_event,
                "reference venue broke its own ordering: {r:?} after {last:?}"
            );
        }
        self.outbox.push_back(r);
        self.log.push(r);
    }
}

fn report_at(kind: ExecKind, ts_event: u64) -> ExecReport {
    ExecReport::session(
        kind,
        Stamp {
            ts_recv: 0,
            ts_event,
        },
    )
}

/// Risk's `Emit`: records every command and delivers it to the venue at once.
pub struct Wire {
    pub venue: Rc<RefCell<Venue>>,
    pub sent: Vec<VenueCommand>,
}

impl Emit<VenueCommand> for Wire {
    fn emit(&mut self, command: VenueCommand) {
        self.sent.push(command);
        self.venue.borrow_mut().command(command);
    }
}

/// Risk's `ReportSource`. With `chunks`, each drain takes a random prefix of what is
/// waiting (at least one report after an `idle`), as a ring read racing the venue would.
pub struct Link {
    pub venue: Rc<RefCell<Venue>>,
    pub chunks: Option<Pcg64Mcg>,
    idled: bool,
}

impl Link {
    pub fn new(venue: Rc<RefCell<Venue>>, chunk_seed: Option<u64>) -> Link {
        Link {
            venue,
            chunks: chunk_seed.map(Pcg64Mcg::seed_from_u64),
            idled: false,
        }
    }
}

impl ReportSource for Link {
    const TIMING: VenueTiming = VenueTiming::EventTime;

    fn drain_into(&mut self, sink: &mut VecDeque<ExecReport>) -> usize {
        let mut venue = self.venue.borrow_mut();
        let waiting = venue.outbox.len();
        let n = match &mut self.chunks {
            None => waiting,
            Some(_) if waiting == 0 => 0,
            Some(rng) => rng.gen_range(usize::from(self.idled)..=waiting),
        };
        self.idled = false;
        sink.extend(venue.outbox.drain(..n));
        n
    }

    fn is_finished(&self) -> bool {
        let venue = self.venue.borrow();
        venue.closed && venue.outbox.is_empty()
    }

    fn idle(&mut self) {
        self.idled = true;
    }
}

/// A scripted asynchronous venue: reports arrive when the test pushes them, with
/// whatever `ts_event` a broker would stamp (behind or ahead of risk's clock).
#[derive(Debug, Default)]
pub struct Broker {
    /// Reports that have arrived and not yet been read, in arrival order.
    pub arrived: VecDeque<ExecReport>,
    /// The broker has closed its session: nothing more will arrive.
    pub closed: bool,
}

impl ReportSource for Broker {
    const TIMING: VenueTiming = VenueTiming::Asynchronous;

    fn drain_into(&mut self, sink: &mut VecDeque<ExecReport>) -> usize {
        let n = self.arrived.len();
        sink.extend(self.arrived.drain(..));
        n
    }

    fn is_finished(&self) -> bool {
        self.closed && self.arrived.is_empty()
    }

    /// Risk never waits on an asynchronous venue while it decides.
    fn idle(&mut self) {
        panic!("risk waited on an asynchronous venue");
    }
}
