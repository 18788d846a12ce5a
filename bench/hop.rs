//! Placeholder: filled in by the measurement work (issue 4).

#[path = "support/mod.rs"]
mod support;

fn main() {
    println!("{:?}", support::machine());
}
