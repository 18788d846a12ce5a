#!/usr/bin/env bash
# The one test command: README and .ci/run both call this.
# Format check, clippy with -D warnings, all tests, benches and fuzz targets compile,
# the loom model checks (release, LOOM_MAX_PREEMPTIONS=2), and every fuzz target run
# for a few seconds on its committed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
(cd loom-tests && cargo fmt -- --check)

step "clippy (-D warnings)"
cargo clippy --all-targets --locked -- -D warnings

step "tests"
cargo test --locked

step "the tract feature (clippy -D warnings, the ONNX tests)"
# The optional ONNX engine (cargo feature `tract`, off by default): its code and the
# tests that compare it with the native engine and onnxruntime's answers. Only these
# tests, not the whole suite again: nothing else changes with the feature. Cold, the
# tract crates add 2 min 44 s to a debug build on a 2-core machine (2026-12-04).
cargo clippy --all-targets --all-features --locked -- -D warnings
cargo test --features tract --locked --test onnx --test onnx_cli --test onnx_alloc

step "the ibkr feature (the Interactive Brokers wire against the fake TWS)"
# Clippy above covers it (--all-features); these are the tests that need the wire.
cargo test --features ibkr --locked --lib -- venue::ibkr source::ibkr
cargo test --features ibkr --locked --test ibkr_check --test ibkr_wire --test ibkr_run --test ibkr_source
step "crash harness (3 kills of a small paced session, debug build)"
# The binary cargo test just built; a 20 000-message session at 10 000 msgs/s (slow
# enough that the kills, which poll the journal, land mid-session in a debug build).
TICKPIPE=target/debug/tickpipe CRASH_MESSAGES=20000 CRASH_RATE=10000 scripts/crash-test.sh 3 1

step "benches compile"
# Only that they compile, not their speed: without fat LTO and with parallel codegen
# the bench binaries build in a fraction of the time on a 2-core runner.
CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=false \
  cargo bench --locked --no-run

step "fuzz targets compile (clippy -D warnings)"
# Plain cargo, no cargo-fuzz or libFuzzer instrumentation: this checks that every target
# still builds against the library; scripts/fuzz.sh runs them. The shared target
# directory reuses the dependencies clippy just checked above.
(
  cd fuzz
  cargo fmt -- --check
  cargo clippy --locked --target-dir ../target --bins -- -D warnings
)

step "loom model checks (release, LOOM_MAX_PREEMPTIONS=2)"
(
  cd loom-tests
  export RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2
  cargo clippy --release --tests --locked -- -D warnings
  cargo test --release --locked
)

step "fuzz every target (10 s each, committed seeds and regression inputs)"
# Last, so a find never hides the other checks' results. A crash fails the gate and
# scripts/fuzz.sh lists its panic. Cold (fresh clone, cargo-fuzz not installed), this
# whole script took 8 min 14 s on an idle 2-core machine (2026-12-04 morning); with the
# journal, ONNX (tract feature) and operability dependencies, 13 min 22 s cold (fresh
# clone, empty target, cargo-fuzz already installed; 2026-12-04 evening); with the
# ibkr feature's ibapi too, 15 min 52 s (2026-12-05); with the watchdog, IB market data
# and broken-trade tests, 24 min 31 s (2026-12-05, 04:00 UTC). This step
# is the instrumented build and 8 × 10 s of fuzzing (and installing cargo-fuzz if
# missing).
scripts/fuzz.sh --seconds 10

step "all checks passed"
