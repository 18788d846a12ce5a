//! Where the pipeline's market data comes from: file replay, the live MoldUDP64 feed
//! (UDP source, gap recovery), and the router that frames, stamps event time
//! ([`event_clock`]) and sends each frame to the shard that owns its stock locate.

pub mod event_clock;
pub mod live;
pub mod replay;
pub mod router;
