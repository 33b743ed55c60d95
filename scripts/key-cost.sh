#!/usr/bin/env bash
# What a key session costs per operation, next to a PID session, on this
# machine: one esemd started with --keyring, then `esem-bench --latency`
# run alternately as a PID session and as a key session (ESEM_KEY_FILE),
# ROUNDS times each, and the median of the runs' medians printed per op.
#
#   scripts/key-cost.sh [ROUNDS] [ITERS]      (defaults 3 and 20000)
#
# Needs a build in build/ (./run demo or ninja -C build).  Prints a markdown
# table; the raw JSON of every run stays in the temporary directory it names.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
iters=${2:-20000}
b=build
for f in "$b/host/esemd" "$b/tools/esemctl" "$b/bench/esem-bench"; do
  [ -x "$f" ] || { echo "key-cost: $f missing: build first (ninja -C $b)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "key-cost: python3 is needed" >&2; exit 2; }
dir=$(mktemp -d /tmp/esem-keycost-XXXXXX)
daemon=
cleanup() {
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
}
trap cleanup EXIT
"$b/tools/esemctl" keygen "$dir/app.key" >/dev/null
cp "$dir/app.key" "$dir/keyring"
chmod 600 "$dir/keyring"
"$b/host/esemd" -f -s "$dir/esemd.sock" --keyring "$dir/keyring" 2>"$dir/esemd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$dir/esemd.sock" ] && break; sleep 0.05; done
[ -S "$dir/esemd.sock" ] || { cat "$dir/esemd.log" >&2; exit 1; }
for r in $(seq "$rounds"); do
  for kind in pid key; do
    if [ "$kind" = key ]; then kf=$dir/app.key; else kf=; fi
    ESEM_SOCKET=$dir/esemd.sock ESEM_KEY_FILE=$kf \
      "$b/bench/esem-bench" --latency --iters "$iters" --json >"$dir/$kind-$r.json"
  done
done
grep -q "key=" "$dir/esemd.log" || { echo "key-cost: no key session was made" >&2; exit 1; }
python3 - "$dir" "$rounds" "$iters" <<'EOF'
import json, statistics, sys, os, platform, subprocess
d, rounds, iters = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ops = ["post", "wait", "trywait", "open", "close", "unlink", "handoff"]
def med(kind, op):
    vals = []
    for r in range(1, rounds + 1):
        j = json.load(open(os.path.join(d, f"{kind}-{r}.json")))
        o = j["latency"]["ops"].get(op)
        if not o:
            return None
        col = next(k for k in o if k.startswith("esem"))
        vals.append(o[col]["median_ns"] / 1000.0)
    return statistics.median(vals), vals
print(f"esem-bench --latency --iters {iters}, {rounds} runs each, alternating; median of run medians (us)")
print()
print("| op | PID session | key session | key - PID |")
print("|---|---:|---:|---:|")
for op in ops:
    p, k = med("pid", op), med("key", op)
    if p is None or k is None:
        continue
    print(f"| {op} | {p[0]:.3f} | {k[0]:.3f} | {k[0]-p[0]:+.3f} |")
print()
print(f"runs: {d}")
EOF
