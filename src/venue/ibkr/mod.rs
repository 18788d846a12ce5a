//! The Interactive Brokers venue: TWS or IB Gateway, asynchronous.
//!
//! - [`config`]: `[venue] kind = "ibkr"`: where the Gateway listens, the account, the
//!   contracts.
//! - [`events`]: the seam: what the connection reads from IB, translated, and the
//!   [`IbConnection`](events::IbConnection) trait the venue drives and the wire implements.

pub mod config;
pub mod events;
