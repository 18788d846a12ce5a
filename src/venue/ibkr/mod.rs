//! The Interactive Brokers venue (`[venue] kind = "ibkr"`).

pub mod config;
