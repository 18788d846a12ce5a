//! The Interactive Brokers venue: TWS or IB Gateway, asynchronous.
//!
//! - [`events`]: the seam: what the connection reads from IB, translated, and the
//!   [`IbConnection`](events::IbConnection) trait the venue drives and the wire implements.

pub mod backoff;
pub mod errors;
pub mod events;
pub mod ids;
pub mod orders;
pub mod reconcile;
pub mod scripted;
pub mod venue;

pub use venue::{IbkrSetup, IbkrStats, IbkrVenue};
