//! Per-stage compute benchmarks (criterion, single thread). Filled in with the stages.

fn main() {}
