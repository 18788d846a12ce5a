#!/usr/bin/env bash
# Fuzzes the cargo-fuzz targets in fuzz/ (libFuzzer, coverage-guided) for a bounded time.
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [TARGET...]
#
#   --seconds N    how long each target runs (default 60)
#   --build-only   build the targets and stop
#   TARGET...      which targets (default: every target in fuzz/Cargo.toml)
#
# The committed seeds in fuzz/corpus/TARGET/ are read, never written: what the fuzzer
# finds interesting goes to fuzz/target/corpus/TARGET/ (ignored by git, kept between runs,
# so later runs start where earlier ones stopped). An input that panics, or runs over
# 10 s (a hang), is saved under fuzz/artifacts/TARGET/ and fails the script; reproduce it
# with `cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/FILE`, then make it a unit test
# in the crate beside the fix.
#
# Runs on stable Rust. `-s none` builds without a sanitizer, and cargo-fuzz's remaining
# flags (-Cpasses=sancov-module, -Cllvm-args=...) are stable codegen options, so no
# nightly and no RUSTC_BOOTSTRAP is needed. AddressSanitizer (cargo-fuzz's default) needs
# -Zsanitizer: `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET` works on stable too, but ran
# itch_decode at 77k execs/s against 230k without it, and the code under test denies
# `unsafe`, so the default here is the faster build.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

seconds=60
build_only=false
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --build-only) build_only=true; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: --seconds takes a positive whole number, not '$seconds'" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz not found; installing it" >&2
  cargo install cargo-fuzz --locked
fi

if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi

for t in "${targets[@]}"; do
  cargo fuzz build -s none "$t"
done
$build_only && exit 0

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
failed=()
for t in "${targets[@]}"; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work"
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds=("fuzz/corpus/$t")
  before=$(count "$work")
  printf '\n==> %s for %ss (corpus %s)\n' "$t" "$seconds" "$work"
  if ! cargo fuzz run -s none "$t" "$work" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
    failed+=("$t")
  fi
  printf '==> %s: corpus %s -> %s inputs\n' "$t" "$before" "$(count "$work")"
done

if ((${#failed[@]})); then
  echo "fuzz.sh: failures in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, nothing found"
