//! Where the pipeline's market data comes from. A source is a [`Source`]: file replay
//! ([`replay`]), the live MoldUDP64 feed ([`live`]: UDP, gap recovery) and Interactive
//! Brokers' market data ([`ibkr`]: its ticks synthesised as ITCH) are built in. Every source hands its framed messages to the router, which stamps event
//! time ([`event_clock`]) and sends each frame to the shard that owns its stock locate.
//!
//! A source owns its framing (and its sockets or files); everything it shares with the
//! runtime — the router, the idle strategy, the clock, the progress counter and the stop
//! signal — comes in one [`SourceContext`].

pub mod event_clock;
pub mod ibkr;
pub mod live;
pub mod metrics;
pub mod replay;
pub mod router;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::clock::MonoClock;
use crate::sys::idle::Idler;
use crate::sys::{Progress, StopSignal};

use self::ibkr::IbSourceError;
use self::live::{FeedStats, LiveError};
use self::metrics::SourcePublisher;
use self::replay::{Pacing, ReplayError};
use self::router::ShardRouter;

/// What a source is given to run: one per pipeline, owned by the source runner.
pub struct SourceContext {
    /// Routes each framed message to its shard, stamping event time; counts what it saw.
    pub router: ShardRouter,
    /// The source runner's idle strategy: how to wait for input (or a paced send time)
    /// without starving a shard that shares the core.
    pub idle: Idler,
    /// Receipt time (`ts_recv`) of each message.
    pub clock: MonoClock,
    /// Messages framed so far, for the progress line; add to it every batch.
    pub progress: Arc<Progress>,
    /// Poll `should_stop` between batches: SIGINT, or a runner that failed.
    pub stop: Arc<StopSignal>,
    /// With `run --metrics`: tick it between batches, as often as `stop` is polled.
    pub metrics: Option<SourcePublisher>,
}

/// A pipeline's market data: framed, routed, stamped.
///
/// `run` is called once, on the source runner's thread; a `Box<dyn Source>` costs one
/// indirect call per session, never one per message.
pub trait Source: Send + 'static {
    /// For the report: the file, the sample's parameters, the feed and where it is bound.
    fn describe(&self) -> String;

    /// Frames the input into `ctx.router` until it ends or `ctx.stop` says to stop. An
    /// error is the source's failure in the report; whatever was routed before it still
    /// drains through the pipeline.
    fn run(&mut self, ctx: &mut SourceContext) -> Result<(), SourceError>;

    /// How fast it offers messages, for the report; a source that takes what comes (a
    /// live feed) offers as fast as it receives.
    fn pacing(&self) -> Pacing {
        Pacing::AsFastAsPossible
    }

    /// A live feed's counters, for the report; none for a source without them.
    fn feed_stats(&self) -> Option<FeedStats> {
        None
    }

    /// Where a network source listens (with the port chosen, for port 0); none for one
    /// that does not.
    fn listen_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// Why a source's run failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Ibkr(#[from] IbSourceError),
    /// A source defined outside this crate.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}
