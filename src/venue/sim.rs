//! The simulated exchange. STUB: implemented in the venue work package.
