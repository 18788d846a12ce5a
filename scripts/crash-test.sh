#!/usr/bin/env bash
# crash-test.sh [KILLS] [SEED]: kill -9 a journaled replay KILLS times at seeded random
# moments, restart it each time on the same journal, and check that the session ends
# exactly as an uninterrupted run of the same input: the same digest, orders, cancels,
# fills, positions and P&L, and every order journaled (so sent) once.
#
# Every run, restarts included, replays the whole input at the same paced rate
# (--rate): a restart re-derives the journal while it replays the input from the start
# (sending nothing twice) and goes on past the journal's end. The first run is killed
# a random delay after its journal exists;
# each restart then lives a random delay longer than the run before it, so (pacing
# being the same every time) it gets past the point where the last one died and the
# session progresses. Delays are drawn from SEED and scaled to add up to 90% of the
# session's length, so the kills spread over all of it and none falls after its end.
# Restarts that added nothing (startup jitter beyond the delay) are counted and shown.
#
# Environment: TICKPIPE (the binary; default: cargo build --release, then
# target/release/tickpipe), CRASH_MESSAGES (session size, default 200000), CRASH_RATE
# (messages per second, default 100000), CRASH_PIPELINE (default pipelines/fused.toml),
# CRASH_SHARDS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

kills=${1:-10}
seed=${2:-1}
messages=${CRASH_MESSAGES:-200000}
rate=${CRASH_RATE:-100000}
pipeline=${CRASH_PIPELINE:-pipelines/fused.toml}
shards=${CRASH_SHARDS:-2}
if [[ -z "${TICKPIPE:-}" ]]; then
  cargo build --release --locked --quiet
  TICKPIPE=target/release/tickpipe
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tickpipe-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
session="$work/session.itch"
journal="$work/journal"
"$TICKPIPE" generate --out "$session" --messages "$messages" --seed "$seed" 2> /dev/null

# The bundled config with 1 MiB journal segments: `journal inspect`, which the kills
# poll, scans a segment to its end, and the session needs far less than the default.
config="$work/tickpipe.toml"
sed 's/^segment_bytes = .*/segment_bytes = 1048576/' config/tickpipe.toml > "$config"

run() { # run [extra args...]: one run of the session on the journal
  "$TICKPIPE" run --input "$session" --pipeline "$pipeline" --shards "$shards" \
    --config "$config" --quiet "$@"
}

# The uninterrupted run it must end equal to (no journal; pacing changes no decision).
run --report-json "$work/uninterrupted.json" > /dev/null

# Kill delays in seconds.
delays=$(python3 - "$kills" "$seed" "$messages" "$rate" <<'EOF'
import random, sys
kills, seed, messages, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
random.seed(seed)
span = messages / rate
weights = [random.uniform(0.05, 1) for _ in range(kills)]
# Scaled to add up to 90% of the session: every kill falls inside it, spread over all of it.
print(" ".join(f"{0.9 * span * w / sum(weights):.3f}" for w in weights))
EOF
)

records() { # valid records in the journal over all shards; $previous while unreadable
  local summary
  if [[ -f "$journal/session.json" ]] &&
    summary=$("$TICKPIPE" journal inspect "$journal" --json 2> /dev/null); then
    python3 -c 'import json, sys; print(sum(s["records"] for s in json.load(sys.stdin)["shards"]))' \
      <<< "$summary"
  else
    echo "$previous"
  fi
}

killed=0 finished_early=0 stalled=0 previous=0 progress="" lived=""
for delay in $delays; do
  # The binary itself in the background (not the function: $! would be a subshell,
  # and killing it would leave the run going on, writing the journal).
  started=$(date +%s.%N)
  "$TICKPIPE" run --input "$session" --pipeline "$pipeline" --shards "$shards" \
    --config "$config" --quiet --rate "$rate" --journal "$journal" \
    > "$work/run.out" 2> "$work/run.err" &
  pid=$!
  if [[ -z "$lived" ]]; then
    while kill -0 "$pid" 2> /dev/null && [[ ! -f "$journal/session.json" ]]; do
      sleep 0.01
    done
    sleep "$delay"
    lived=$(python3 -c "print($(date +%s.%N) - $started)")
  else
    # The planned lifetime grows by exactly the delay; measuring it instead would add
    # this loop's own overhead (two python starts, ~0.1 s on a loaded host) every time,
    # and after a few dozen restarts every run would outlive the session.
    lived=$(python3 -c "print($lived + $delay)")
    sleep "$(python3 -c "import sys; print(max(0.0, $lived - ($(date +%s.%N) - $started)))")"
  fi
  this=finished
  if kill -KILL "$pid" 2> /dev/null; then
    killed=$((killed + 1))
    this=killed
  else
    finished_early=$((finished_early + 1))
  fi
  status=0
  { wait "$pid"; } 2> /dev/null || status=$?
  if [[ $status -ne 0 && $status -ne 137 ]]; then
    echo "crash-test: a restart failed (exit $status):" >&2
    cat "$work/run.err" "$work/run.out" >&2
    exit 1
  fi
  now=$(records)
  if (( now < previous )); then
    echo "crash-test: the journal went back from $previous to $now records" >&2
    exit 1
  fi
  if [[ $this == killed ]] && (( now == previous )); then
    stalled=$((stalled + 1))
  fi
  previous=$now
  progress+=" $now"
done

# The last restart runs to the end.
if ! run --rate "$rate" --journal "$journal" --report-json "$work/final.json" > "$work/run.out" 2> "$work/run.err"; then
  echo "crash-test: the final run failed:" >&2
  cat "$work/run.err" "$work/run.out" >&2
  exit 1
fi
# Once more on the finished session: verified, nothing sent, the same report.
run --journal "$journal" --report-json "$work/again.json" > /dev/null
"$TICKPIPE" journal verify "$journal" --input "$session" --config "$config" \
  > "$work/verify.out"
"$TICKPIPE" journal inspect "$journal" --json > "$work/inspect.json"

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}.json"))
base, final, again, inspect = load("uninterrupted"), load("final"), load("again"), load("inspect")
keys = ["digest", "orders", "cancels", "acks", "fills", "filled_shares", "venue_rejects",
        "positions", "pnl", "nlv", "orders_open_at_end", "rejections", "invalid_reports"]
for name, run in [("final", final), ("re-run", again)]:
    for key in keys:
        if run[key] != base[key]:
            sys.exit(f"crash-test: {name} run's {key} differs from the uninterrupted run's:\n"
                     f"  {json.dumps(run[key])}\n  {json.dumps(base[key])}")
assert again["journal"]["finished_before"], "the re-run found the session finished"
assert all(s["records_written"] == 0 for s in again["journal"]["shards"]), "the re-run wrote"
journaled = sum(s["orders"] for s in inspect["shards"])
if journaled != base["orders"]:
    sys.exit(f"crash-test: {journaled} orders journaled, {base['orders']} decided: "
             "an order was journaled (so sent) more than once, or lost")
if not all(s["finished"] for s in inspect["shards"]):
    sys.exit("crash-test: the journal's session is not finished")
EOF
grep -q "distinct" "$work/verify.out" || { cat "$work/verify.out" >&2; exit 1; }
if (( killed == 0 )); then
  echo "crash-test: no run was killed before it finished: lower CRASH_RATE" >&2
  exit 1
fi
echo "crash-test: $killed kills ($stalled added no record; $finished_early runs had already finished), seed $seed," \
  "$messages messages at $rate msgs/s, $pipeline ×$shards: digest $(python3 -c \
  "import json; print(json.load(open('$work/final.json'))['digest'])") equal to the" \
  "uninterrupted run; orders, fills and positions equal; $(head -1 "$work/verify.out")"
echo "crash-test: journal records after each kill:$progress"
