#!/usr/bin/env bash
# The latency issue's measurements for a many-core host, from binaries built elsewhere.
# Builds nothing: give it a release `tickpipe` and the `hop` bench binary
# (`cargo build --release` and `cargo bench --bench hop --no-run` print their paths).
#
# Runs, each --runs times, open loop at every --rates entry and unpaced ("max"):
#   fused 1 and 4 shards (source, venue and each shard on its own busy-spinning core),
#   staged 1 and 2 shards (one busy-spinning core per stage per shard),
#   each with every ring on rtrb and every ring on seq (our own; --rings);
# then the hop bench on two near cores and on two far cores. Writes the topologies it
# generated, every run's JSON report, the hop output and the tables (tables.md) to --out.
#
#   scripts/pinned-bench.sh --tickpipe PATH --hop PATH [--first-core N] [--near A,B]
#       [--far A,B] [--runs N] [--rates "100000 1000000 3000000 max"] [--fused "1 4"]
#       [--staged "1 2"] [--rings "rtrb seq"] [--messages N] [--hop-args "..."]
#       [--unpinned] [--out DIR]
#
# Cores: the pipelines take consecutive cores from --first-core (default 2, leaving 0–1
# to the OS): fused N shards needs N + 2, staged N shards 5N + 2 (12 for 2 shards). A
# core the host lacks fails that run at start-up, naming it. --unpinned pins nothing and
# makes every runner spin-then-yield: for a small host (it proves the script runs; its
# figures say so in every row and are not the pinned host's).
#
# Run from anywhere; paths (config/, the generated topologies) are resolved from the
# repository root, where the binaries are run.
set -euo pipefail

cd "$(dirname "$0")/.."

tickpipe="" hop="" first_core=2 near="2,3" far="" runs=3 unpinned=0
rates="100000 1000000 3000000 max" fused="1 4" staged="1 2" rings="rtrb seq" messages=""
hop_args=""
out="target/pinned-bench/$(date -u +%Y%m%dT%H%M%SZ)"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --tickpipe) tickpipe="$2"; shift 2 ;;
        --hop) hop="$2"; shift 2 ;;
        --first-core) first_core="$2"; shift 2 ;;
        --near) near="$2"; shift 2 ;;
        --far) far="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --fused) fused="$2"; shift 2 ;;
        --staged) staged="$2"; shift 2 ;;
        --rings) rings="$2"; shift 2 ;;
        --messages) messages="$2"; shift 2 ;;
        --hop-args) hop_args="$2"; shift 2 ;;
        --unpinned) unpinned=1; shift ;;
        --out) out="$2"; shift 2 ;;
        -h | --help) usage ;;
        *) echo "pinned-bench: unknown argument $1" >&2; usage ;;
    esac
done

for bin in "$tickpipe" "$hop"; do
    if [[ -z "$bin" || ! -x "$bin" ]]; then
        echo "pinned-bench: --tickpipe and --hop must name executable files (got '$bin'); this script builds nothing" >&2
        exit 2
    fi
done
cores=$(nproc)
if [[ -z "$far" ]]; then
    # The two cores furthest apart by number: on most hosts, different sockets or CCDs.
    far="$first_core,$((cores - 1))"
fi
mkdir -p "$out/reports" "$out/topologies"

{
    echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $cores cores, $(uname -r)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "tickpipe: $tickpipe ($(sha256sum "$tickpipe" | cut -c1-12)); hop: $hop ($(sha256sum "$hop" | cut -c1-12))"
    echo "runs: $runs per case; rates: $rates; $([[ $unpinned == 1 ]] && echo 'UNPINNED, spin-then-yield' || echo "pinned from core $first_core, busy-spin")"
} | tee "$out/host.txt"

# One runner's placement lines: pinned busy-spin on the given core(s), or unpinned
# spin-then-yield.
place() { # place KEY CORES
    if [[ $unpinned == 1 ]]; then
        echo 'idle = { strategy = "spin-then-yield", spins = 256 }'
    else
        echo 'idle = { strategy = "busy-spin" }'
        echo "$1 = $2"
    fi
}

# Writes a topology: fused or staged, N shards, every ring on RING, cores from
# first_core on.
topology() { # topology KIND SHARDS RING FILE
    local kind=$1 n=$2 ring=$3 file=$4 next=$((first_core + 2)) stage list
    {
        echo "description = \"pinned-bench: $kind, $n shard(s), $ring rings, $([[ $unpinned == 1 ]] && echo unpinned spin-then-yield || echo "busy-spinning from core $first_core")\""
        echo "[shards]"
        echo "count = $n"
        echo 'map = "round-robin"'
        echo "[source]"
        place core "$first_core"
        echo "[venue]"
        echo 'placement = "thread"'
        place core "$((first_core + 1))"
        if [[ $kind == fused ]]; then
            list=$(seq -s, "$next" $((next + n - 1)))
            echo "[[runner]]"
            echo 'name = "shard"'
            echo 'stages = ["decode", "features", "inference", "risk", "routing"]'
            place cores "[$list]"
        else
            for stage in decode features inference risk routing; do
                list=$(seq -s, "$next" $((next + n - 1)))
                next=$((next + n))
                echo "[[runner]]"
                echo "name = \"$stage\""
                echo "stages = [\"$stage\"]"
                place cores "[$list]"
            done
        fi
        echo "[rings]"
        echo "feed = { capacity = 16384, policy = \"spin\", ring = \"$ring\" }"
        if [[ $kind == staged ]]; then
            echo "market = { capacity = 8192, policy = \"spin\", ring = \"$ring\" }"
            echo "features = { capacity = 8192, policy = \"spin\", ring = \"$ring\" }"
            echo "signals = { capacity = 8192, policy = \"spin\", ring = \"$ring\" }"
            echo "orders = { capacity = 4096, policy = \"spin\", ring = \"$ring\" }"
        fi
        echo "venue = { capacity = 4096, policy = \"spin\", ring = \"$ring\" }"
        echo "reports = { capacity = 2048, policy = \"spin\", ring = \"$ring\" }"
        echo "control = { capacity = 64, policy = \"halt\", ring = \"$ring\" }"
    } >"$file"
}

session="$out/session.itch"
"$tickpipe" generate --out "$session" ${messages:+--messages "$messages"} >/dev/null

for kind in fused staged; do
    shard_counts=$fused
    [[ $kind == staged ]] && shard_counts=$staged
    for n in $shard_counts; do
        for ring in $rings; do
            file="$out/topologies/$kind-$ring-$n.toml"
            topology "$kind" "$n" "$ring" "$file"
            for rate in $rates; do
                for run in $(seq 1 "$runs"); do
                    json="$out/reports/$kind-$ring-$n-$rate-run$run.json"
                    pacing=()
                    [[ $rate != max ]] && pacing=(--rate "$rate")
                    echo "$kind, $ring rings, $n shard(s), $rate, run $run"
                    "$tickpipe" run --quiet --pipeline "$file" --input "$session" "${pacing[@]}" \
                        --report-json "$json" >/dev/null
                done
            done
        done
    done
done

for pair in "near:$near" "far:$far"; do
    name=${pair%%:*}
    echo "hop, $name cores ${pair#*:}"
    # shellcheck disable=SC2086 # --hop-args is a list of flags
    "$hop" --cores "${pair#*:}" $hop_args | tee "$out/hop-$name.txt"
done

# The tables: one row per case, the median run by tick-to-order p50, with every run's
# p99.9 beside it so the spread shows.
python3 - "$out" "$unpinned" <<'EOF' | tee "$out/tables.md"
import json, pathlib, re, sys
out, unpinned = pathlib.Path(sys.argv[1]), sys.argv[2] == "1"
cases = {}
for f in sorted((out / "reports").glob("*.json")):
    kind, ring, n, rate, _ = re.match(r"(\w+)-(\w+)-(\d+)-(\w+)-run(\d+)\.json", f.name).groups()
    cases.setdefault((kind, ring, int(n), rate), []).append(json.loads(f.read_text()))
def rate_key(r):
    return float("inf") if r == "max" else float(r)
print("| topology | rings | shards | offered | achieved msgs/s | t2o p50 ns | p99 ns | p99.9 ns (every run) | compute ns/msg | watermark waits | digest |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (kind, ring, n, rate) in sorted(cases, key=lambda c: (c[0], c[2], c[1], rate_key(c[3]))):
    rs = sorted(cases[(kind, ring, n, rate)], key=lambda r: r["latency_ns"]["tick_to_order"]["p50"])
    m = rs[len(rs) // 2]
    t = m["latency_ns"]["tick_to_order"]
    spread = ", ".join(str(r["latency_ns"]["tick_to_order"]["p999"]) for r in cases[(kind, ring, n, rate)])
    digests = {r["digest"] for r in rs}
    compute = m.get("compute_ns_per_message")
    place = "unpinned, spin-then-yield" if unpinned else "pinned, busy-spin"
    offered = "unpaced (queueing)" if rate == "max" else f"{float(rate):,.0f}/s"
    print(f"| {kind} ({place}) | {ring} | {n} | {offered} | {m['throughput']['messages_per_s']:,.0f} | "
          f"{t['p50']} | {t['p99']} | {t['p999']} ({spread}) | "
          f"{'-' if compute is None else round(compute)} | {m['watermarks']['waits']} | "
          f"{'/'.join(sorted(digests))} |")
print()
for name in ("near", "far"):
    text = (out / f"hop-{name}.txt").read_text()
    print(f"hop, {name} cores: see hop-{name}.txt; its table:")
    print()
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("Hop,")), None)
    print("\n".join(lines[start:]) if start is not None else text)
    print()
EOF
echo "pinned-bench: wrote $out"
