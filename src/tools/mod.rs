//! Byte producers that need only the codecs: the deterministic sample session generator
//! and the MoldUDP64 feed server. They sit below the sources because replay can replay
//! the generated sample (`Input::Sample`).

pub mod sample;
pub mod server;
