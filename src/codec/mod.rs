//! Wire formats: ITCH 5.0 (every message type, file framing, the block reader), MoldUDP64
//! packets, and the in-band stale-feed notice a source writes and decode reads. Below
//! everything that parses or produces them: the decode stage, the sources, the tools and
//! `inspect`.

pub mod itch;
pub mod mold;
pub mod notice;
