//! Stage 5, routing: the shard's gateway to its venue.
//!
//! Risk owns order and position state (one thread owns it, ARCHITECTURE.md); routing is what
//! stands between that decision and the wire. It measures tick-to-order — receipt of
//! the market data behind an order to the order leaving for the venue — and answers a
//! halt on the control ring with a mass cancel, so open orders are pulled even if risk
//! is busy. It is where a live venue adapter (Interactive Brokers) will plug in; today
//! its one venue is the simulated exchange.

use hdrhistogram::Histogram;

use crate::latency::{LatencyRecorder, new_histogram};
use crate::merge::Merge;
use crate::msg::{Stamp, VenueCommand};
use crate::stages::ShardReport;
use crate::stages::{Control, Stage};
use crate::sys::TradingState;
use crate::sys::edge::Emit;

crate::stats! {
    /// Commands routing forwarded, by kind.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct RoutingCounts {
        pub new_orders: u64,
        pub cancels: u64,
        /// Mass cancels sent: on a control event into `Halted`, or forwarded from risk when
        /// its own decision found the latch halted.
        pub cancel_alls: u64,
        pub ticks: u64,
        pub watermarks: u64,
    }
}

crate::stats! {
    /// Routing's report: its counts and the tick-to-order histogram.
    pub struct RoutingStats {
        pub counts: RoutingCounts,
        /// Receipt of the market data behind each new order to its hand-off to the venue.
        pub tick_to_order: Histogram<u64> => crate::merge::histogram,
    }
}

impl Default for RoutingStats {
    fn default() -> RoutingStats {
        RoutingStats {
            counts: RoutingCounts::default(),
            tick_to_order: new_histogram(),
        }
    }
}

pub struct Routing {
    tick_to_order: LatencyRecorder,
    /// The latest command's stamp: a mass cancel is sent at this event time, keeping the
    /// venue stream in order.
    last: Stamp,
    /// The trading state the last control event set.
    state: TradingState,
    counts: RoutingCounts,
}

impl Routing {
    pub fn new(tick_to_order: LatencyRecorder) -> Routing {
        Routing {
            tick_to_order,
            last: Stamp::default(),
            state: TradingState::Active,
            counts: RoutingCounts::default(),
        }
    }
}

impl Stage for Routing {
    type In = VenueCommand;
    type Out = VenueCommand;
    const NAME: &'static str = "routing";

    #[inline]
    fn on_event<O: Emit<VenueCommand>>(&mut self, command: VenueCommand, out: &mut O) {
        self.last = command.stamp();
        match command {
            VenueCommand::New { stamp, .. } => {
                out.emit(command);
                self.tick_to_order.record_since(stamp.ts_recv);
                self.counts.new_orders += 1;
                return;
            }
            VenueCommand::Cancel { .. } => self.counts.cancels += 1,
            VenueCommand::CancelAll { .. } => self.counts.cancel_alls += 1,
            VenueCommand::Tick { .. } => self.counts.ticks += 1,
            VenueCommand::Watermark { .. } => self.counts.watermarks += 1,
            VenueCommand::EndOfSession { .. } => {}
        }
        out.emit(command);
    }

    /// A change into `Halted` pulls every open order at once; a repeated `Halted` or any
    /// other state sends nothing.
    fn on_control<O: Emit<VenueCommand>>(&mut self, control: Control, out: &mut O) {
        let Control::TradingState(state) = control else {
            return;
        };
        if state == TradingState::Halted && self.state != TradingState::Halted {
            self.counts.cancel_alls += 1;
            out.emit(VenueCommand::CancelAll { stamp: self.last });
        }
        self.state = state;
    }

    fn report(&self, report: &mut ShardReport) {
        report.routing.merge(&RoutingStats {
            counts: self.counts,
            tick_to_order: self.tick_to_order.histogram().clone(),
        });
    }

    fn publish(&self, report: &mut ShardReport) {
        report.routing.counts = self.counts;
        crate::latency::publish_histogram(
            &mut report.routing.tick_to_order,
            self.tick_to_order.histogram(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MonoClock;
    use crate::msg::{ClOrdId, OrderIntent, Price, Side, SymbolId, TimeInForce};

    fn new_order(ts: u64) -> VenueCommand {
        VenueCommand::New {
            stamp: Stamp {
                ts_recv: 0,
                ts_event: ts,
            },
            order: OrderIntent {
                cl_ord_id: ClOrdId::new(SymbolId(0), 1),
                price: Price(1_000_000),
                qty: 100,
                symbol: SymbolId(0),
                side: Side::Buy,
                tif: TimeInForce::Day,
            },
        }
    }

    #[test]
    fn forwards_in_order_and_measures_new_orders() {
        let mut r = Routing::new(LatencyRecorder::new(MonoClock::new()));
        let mut out = Vec::new();
        r.on_event(new_order(5), &mut out);
        r.on_event(
            VenueCommand::Watermark {
                stamp: Stamp {
                    ts_recv: 0,
                    ts_event: 6,
                },
            },
            &mut out,
        );
        assert_eq!(out.len(), 2);
        let mut report = ShardReport::default();
        r.report(&mut report);
        assert_eq!(
            (
                report.routing.counts.new_orders,
                report.routing.counts.watermarks
            ),
            (1, 1)
        );
        assert_eq!(report.routing.tick_to_order.len(), 1);
    }

    #[test]
    fn a_halt_sends_one_mass_cancel_at_the_last_event_time() {
        let mut r = Routing::new(LatencyRecorder::new(MonoClock::new()));
        let mut out = Vec::new();
        r.on_event(new_order(42), &mut out);
        r.on_control(Control::TradingState(TradingState::ReduceOnly), &mut out);
        assert_eq!(out.len(), 1, "reduce-only leaves resting orders alone");
        r.on_control(Control::TradingState(TradingState::Halted), &mut out);
        assert_eq!(
            out[1],
            VenueCommand::CancelAll {
                stamp: Stamp {
                    ts_recv: 0,
                    ts_event: 42
                }
            }
        );
        r.on_control(Control::TradingState(TradingState::Halted), &mut out);
        assert_eq!(out.len(), 2, "already halted: nothing more to pull");
        r.on_control(Control::TradingState(TradingState::Active), &mut out);
        r.on_control(Control::TradingState(TradingState::Halted), &mut out);
        assert_eq!(out.len(), 3, "a new halt pulls again");
    }
}
