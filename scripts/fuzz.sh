#!/usr/bin/env bash
# Fuzzes the cargo-fuzz targets in fuzz/ (libFuzzer, coverage-guided) for a bounded time.
#
#   scripts/fuzz.sh [--seconds N] [--keep-going] [--build-only] [TARGET...]
#
#   --seconds N    how long each target runs (default 60)
#   --keep-going   go on fuzzing after a crash, saving each crashing input, and list
#                  every panic message at the end (libFuzzer -fork=1 -ignore_crashes=1):
#                  for long runs, so a known crash does not end them in seconds
#   --build-only   build the targets and stop
#   TARGET...      which targets (default: every target in fuzz/Cargo.toml)
#
# Each target starts from its committed seeds, fuzz/corpus/TARGET/, and its committed
# regression inputs, fuzz/regressions/TARGET/ (inputs that once crashed it; libFuzzer
# runs every one before it mutates anything, so a regression fails the run at once).
# Both are read, never written: what the fuzzer finds interesting goes to
# fuzz/target/corpus/TARGET/ (ignored by git, kept between runs, so later runs start
# where earlier ones stopped). An input that panics, or runs over 10 s (a hang), is
# saved under fuzz/artifacts/TARGET/ and fails the script, which lists what each saved
# input panics with. Reproduce one with
# `cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/FILE`, shrink it with
# `cargo fuzz tmin -s none TARGET FILE`, commit it under fuzz/regressions/TARGET/, and
# make it a unit test in the crate beside the fix.
#
# libFuzzer prints its totals at the end of each target (-print_final_stats=1):
# stat::number_of_executed_units and stat::average_exec_per_sec; with --keep-going, the
# last "#N: ... exec/s: ... crash: C" line.
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
keep_going=false
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --keep-going) keep_going=true; shift ;;
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
  # One cargo invocation builds every target, linking them in parallel.
  cargo fuzz build -s none
else
  for t in "${targets[@]}"; do
    cargo fuzz build -s none "$t"
  done
fi
$build_only && exit 0

triple=$(rustc -vV | sed -n 's/^host: //p')
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
flags=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
$keep_going && flags+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1)
failed=()
for t in "${targets[@]}"; do
  work="fuzz/target/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  inputs=()
  for dir in "fuzz/regressions/$t" "fuzz/corpus/$t"; do
    [[ -d "$dir" ]] && inputs+=("$dir")
  done
  before=$(count "$work")
  stamp=$(mktemp)
  printf '\n==> %s for %ss (corpus %s)\n' "$t" "$seconds" "$work"
  if ! cargo fuzz run -s none "$t" "$work" "${inputs[@]}" -- "${flags[@]}"; then
    failed+=("$t")
  fi
  printf '==> %s: corpus %s -> %s inputs\n' "$t" "$before" "$(count "$work")"
  saved=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp")
  if [[ -n "$saved" ]]; then
    printf '==> %s: %s input(s) saved under %s; by panic (long numbers as N):\n' \
      "$t" "$(wc -l <<<"$saved")" "$artifacts"
    while read -r input; do
      { "fuzz/target/$triple/release/$t" -timeout=10 "$input" 2>&1 || true; } |
        grep -m1 -A1 'panicked at' | paste -sd' ' | sed 's/^thread .* panicked at/at/' |
        grep . || echo '(no panic message: a hang, or a crash without one)'
    done <<<"$saved" | sed -E 's/[0-9]{4,}/N/g' | sort | uniq -c | sort -rn
  fi
  rm -f "$stamp"
done

if ((${#failed[@]})); then
  echo "fuzz.sh: failures in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, nothing found"
