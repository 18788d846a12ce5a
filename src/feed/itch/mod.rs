//! ITCH 5.0 codec. STUB: implemented in the feed work package.
