//! Market-data sources: ITCH 5.0 codec, MoldUDP64 codec, file replay, the sample session
//! generator.

pub mod integrity;
pub mod itch;
pub mod mold;
pub mod replay;
pub mod router;
pub mod sample;
