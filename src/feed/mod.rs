//! Market-data sources: ITCH 5.0 codec, file replay, the sample session generator, and
//! the live MoldUDP64 feed (codec, UDP source, and a feed server to test it against).

pub mod event_clock;
pub mod integrity;
pub mod itch;
pub mod live;
pub mod mold;
pub mod replay;
pub mod router;
pub mod sample;
pub mod server;
