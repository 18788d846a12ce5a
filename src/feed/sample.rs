//! Deterministic sample ITCH session. STUB: implemented in the feed work package.
