//! Placeholder: filled in by the measurement work (issue 4).

fn main() {}
