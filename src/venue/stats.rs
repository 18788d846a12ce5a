//! What a simulated venue counts. One instance per shard; the run's report merges them
//! ([`crate::merge`]).

use crate::msg::VenueCommand;

crate::stats! {
    /// Counters of one [`SimVenue`](super::SimVenue). Report counters are taken from the
    /// reports actually sent, so they always agree with what risk received.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct VenueStats {
        /// Commands received, by kind.
        pub commands: CommandCounts,
        pub acks: u64,
        pub rejects: RejectCounts,
        /// `Fill` reports.
        pub fills: u64,
        /// Shares in those fills.
        pub filled_shares: u64,
        pub cancels: CancelCounts,
        /// Cancels for an order that was not resting.
        pub cancel_rejects: u64,
        /// Watermarks answered.
        pub watermarks: u64,
        /// Every report sent, of any kind.
        pub reports: u64,
        /// Commands earlier than the one before, handled at its time instead. Risk never
        /// sends one, so anything but 0 is a bug upstream.
        pub time_regressions: u64,
    }
}

crate::stats! {
    /// Commands received, by kind.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct CommandCounts {
        pub new: u64,
        pub cancel: u64,
        pub cancel_all: u64,
        pub tick: u64,
        pub watermark: u64,
        pub end_of_session: u64,
    }
}

crate::stats! {
    /// `Rejected` reports, by reason.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct RejectCounts {
        pub duplicate_id: u64,
        pub no_market: u64,
        pub halted: u64,
    }
}

crate::stats! {
    /// `Cancelled` reports, by reason.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct CancelCounts {
        /// By `Cancel` or `CancelAll`.
        pub requested: u64,
        /// IOC remainders.
        pub immediate_or_cancel: u64,
        /// Resting at the end of the session.
        pub end_of_session: u64,
    }
}

impl CommandCounts {
    pub(super) fn count(&mut self, cmd: &VenueCommand) {
        let counter = match cmd {
            VenueCommand::New { .. } => &mut self.new,
            VenueCommand::Cancel { .. } => &mut self.cancel,
            VenueCommand::CancelAll { .. } => &mut self.cancel_all,
            VenueCommand::Tick { .. } => &mut self.tick,
            VenueCommand::Watermark { .. } => &mut self.watermark,
            VenueCommand::EndOfSession { .. } => &mut self.end_of_session,
        };
        *counter += 1;
    }
}

impl RejectCounts {
    /// Every reason together.
    pub fn total(&self) -> u64 {
        self.duplicate_id + self.no_market + self.halted
    }
}

impl CancelCounts {
    /// Every reason together.
    pub fn total(&self) -> u64 {
        self.requested + self.immediate_or_cancel + self.end_of_session
    }
}
