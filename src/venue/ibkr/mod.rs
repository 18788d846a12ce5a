//! The Interactive Brokers venue: TWS or IB Gateway, asynchronous.
//!
//! - `client` (feature `ibkr`): the wire: the seam over `ibapi`'s sync client, and
//!   `tickpipe ibkr check`'s read-only look at the server.
//! - [`config`]: `[venue] kind = "ibkr"`: where the Gateway listens, the account, the
//!   contracts.
//! - [`events`]: the seam: what the connection reads from IB, translated, and the
//!   [`IbConnection`](events::IbConnection) trait the venue drives and the wire implements.
//! - [`id_log`]: the highest IB order id used, kept beside the shard's journal.

pub mod backoff;
#[cfg(feature = "ibkr")]
pub mod client;
pub mod config;
pub mod errors;
pub mod events;
pub mod id_log;
pub mod ids;
pub mod orders;
pub mod reconcile;
pub mod scripted;
pub mod venue;

pub use venue::{IbkrSetup, IbkrStats, IbkrVenue};
