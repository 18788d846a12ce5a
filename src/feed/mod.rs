//! Market-data sources: ITCH 5.0 codec, file replay, the sample session generator.

pub mod integrity;
pub mod itch;
pub mod replay;
pub mod router;
pub mod sample;
