//! Wire formats: ITCH 5.0 (every message type, file framing, the block reader), MoldUDP64
//! packets, the in-band stale-feed notice a source writes and decode reads, and ONNX model
//! files (protobuf). Below everything that parses or produces them: the decode stage,
//! the sources, the tools, `inspect` and the inference stage's model loader.

pub mod itch;
pub mod mold;
pub mod notice;
pub mod onnx;
