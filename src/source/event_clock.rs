//! What event time means in tickpipe, and the one place it is decided.
//!
//! Event time is the running maximum of the feed's ITCH timestamps, taken once, at the
//! source, in feed order, before any message is routed to a shard. Every stage, the
//! simulated venue and the report then see non-decreasing event time by construction.
//!
//! - A message stamped before the high-water mark is a *time regression*. It is kept,
//!   since dropping it would corrupt the book, and stamped at the high-water mark.
//! - An ITCH timestamp counts nanoseconds since midnight, so one at or past 24 h is
//!   impossible: a *bad timestamp*. The message is kept and stamped at the high-water
//!   mark, which does not move: a corrupt far-future value would otherwise freeze event
//!   time for the rest of the session.
//!
//! The rule is applied at the source and not per shard: clamping per shard would make a
//! symbol's clamped time depend on which other symbols share its shard, and the decision
//! digest must be the same whatever the shard count or topology. `tickpipe inspect`
//! applies the same rule to report such messages with their offsets.

/// Nanoseconds in a day: no ITCH timestamp (nanoseconds since midnight) reaches it.
pub const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// How a message's own timestamp relates to event time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Timing {
    /// At or after the high-water mark: it is the new event time.
    InOrder,
    /// Before the high-water mark by `by_ns`.
    Regressed { by_ns: u64 },
    /// At or past 24 h: not a time of day.
    Impossible,
}

/// The high-water mark of a feed's timestamps; see the module docs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct EventClock {
    high_water: u64,
}

impl EventClock {
    /// The event time of a message stamped `ts`, and how `ts` relates to it.
    #[inline]
    pub fn stamp(&mut self, ts: u64) -> (u64, Timing) {
        if ts >= DAY_NS {
            return (self.high_water, Timing::Impossible);
        }
        if ts < self.high_water {
            let by_ns = self.high_water - ts;
            return (self.high_water, Timing::Regressed { by_ns });
        }
        self.high_water = ts;
        (ts, Timing::InOrder)
    }

    /// Event time so far: the latest valid timestamp seen, 0 before any.
    #[inline]
    pub fn now(&self) -> u64 {
        self.high_water
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_is_the_running_maximum_of_valid_timestamps() {
        let mut c = EventClock::default();
        assert_eq!(c.stamp(10), (10, Timing::InOrder));
        assert_eq!(c.stamp(10), (10, Timing::InOrder), "equal is in order");
        assert_eq!(c.stamp(3), (10, Timing::Regressed { by_ns: 7 }));
        assert_eq!(c.now(), 10, "a regression does not move the mark");
        assert_eq!(c.stamp(25), (25, Timing::InOrder));
        assert_eq!(c.now(), 25);
    }

    #[test]
    fn a_timestamp_past_midnight_is_stamped_at_the_mark_without_moving_it() {
        let mut c = EventClock::default();
        c.stamp(1_000);
        assert_eq!(c.stamp(DAY_NS), (1_000, Timing::Impossible));
        assert_eq!(c.stamp(u64::MAX), (1_000, Timing::Impossible));
        assert_eq!(
            c.stamp(DAY_NS - 1),
            (DAY_NS - 1, Timing::InOrder),
            "the last nanosecond of the day is valid"
        );
        assert_eq!(
            c.stamp(2_000),
            (
                DAY_NS - 1,
                Timing::Regressed {
                    by_ns: DAY_NS - 2_001
                }
            )
        );
    }
}
