#!/usr/bin/env bash
# Runs every benchmark, then rewrites the measured tables in BENCHMARKS.md.
#
#   scripts/bench.sh [--quick] [--no-tables]
#
# Benches, in this order:
#   stages, feed    criterion: ns per event of single-thread compute
#   hop, contention HDR harness: cross-thread latency
#   e2e             HDR harness: open-loop replay through the whole pipeline
# Results: target/bench/results.json (+ .hlog, .svg), target/criterion/.
# --quick runs every comparison briefly (criterion in its quick mode, the HDR benches with
# their own --quick): on the 2-core dev host 2 min 20 s in all, 24 s of it measuring and
# the rest relinking the bench binaries with fat LTO.
# Numbers use the real bench profile (fat LTO); for a faster iteration build, export
# CARGO_PROFILE_BENCH_LTO=false yourself — and do not publish what it measures.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
tables=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-tables) tables=0 ;;
    -h | --help)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench.sh: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

step "build (bench profile)"
build_start=$SECONDS
cargo bench --locked --no-run
echo "built in $((SECONDS - build_start)) s"

criterion_args=(--noplot)
hdr_args=()
if ((quick)); then
  # Criterion stops once its estimate is within 5% (at most the measurement time).
  criterion_args+=(--quick --warm-up-time 1 --measurement-time 2)
  hdr_args+=(--quick)
fi

ran=()
failed=()
run_start=$SECONDS
for bench in stages feed hop contention e2e; do
  case "$bench" in
    stages | feed) args=("${criterion_args[@]}") ;;
    # Each full e2e run first waits (up to 30 s) for other processes to leave the host
    # idle: on 2 cores, one compiler's 4 ms time slices are the whole tail.
    e2e)
      args=("${hdr_args[@]}")
      ((quick)) || args+=(--settle 30)
      ;;
    *) args=("${hdr_args[@]}") ;;
  esac
  step "bench $bench ${args[*]}"
  t0=$SECONDS
  # A failing bench does not stop the others; the script fails at the end.
  if cargo bench --locked --bench "$bench" -- "${args[@]}"; then
    ran+=("$bench")
  else
    failed+=("$bench")
  fi
  echo "$bench: $((SECONDS - t0)) s"
done
echo
echo "ran: ${ran[*]:-none}; failed: ${failed[*]:-none}"
echo "measuring took $((SECONDS - run_start)) s"

if ((tables)); then
  step "tables"
  command="scripts/bench.sh"
  if ((quick)); then command+=" --quick"; fi
  python3 scripts/bench_tables.py --command "$command"
fi

if ((${#failed[@]})); then
  echo "bench.sh: failed: ${failed[*]}" >&2
  exit 1
fi
