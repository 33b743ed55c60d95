#!/bin/sh
# esem-bench runs every table with a daemon per binding mode and its JSON
# has every table, column and row. Sizes are --smoke: this checks the tool
# and its output, never a figure (no timed assertion).
# usage: check-json.sh ESEM-BENCH ESEMD
set -eu
bench=$1
esemd=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bench" --spawn-daemon "$esemd" --all --smoke --json >"$tmp/all.json"
"$bench" --spawn-daemon "$esemd" --binding semaphore --latency --smoke --sems 2 \
  --json-file "$tmp/one.json" >"$tmp/one.txt"
grep -q '^Post-lockless ' "$tmp/one.txt" || { echo "no Post-lockless row in the table" >&2; exit 1; }

st=0
"$bench" --binding process --smoke >/dev/null 2>&1 || st=$?
[ "$st" = 2 ] || { echo "--binding without --spawn-daemon: status $st, not 2" >&2; exit 1; }

python3 - "$tmp/all.json" "$tmp/one.json" <<'PY'
import json, sys

def check(cond, what):
    if not cond:
        sys.exit("esem-bench JSON: " + what)

ops = ["open", "close", "post", "wait", "unlink", "trywait", "handoff", "handoff_busy"]
paper = ["Open", "Close", "Post", "Wait", "Post-lockless", "Wait-lockless", "Unlink"]

def summary_ok(s):
    return s["n"] > 0 and 0 < s["median_ns"] <= s["p99_ns"] <= s["max_ns"]

d = json.load(open(sys.argv[1]))
check(d["tables"] == ["latency", "throughput", "scale"], "tables %r" % d["tables"])
for k in ("nproc", "cpu", "kernel", "libc"):
    check(k in d["machine"], "machine." + k)
cols = [c["key"] for c in d["columns"]]
check(cols == ["esem_process", "esem_semaphore", "glibc"], "columns %r" % cols)
check(all(c["daemon_start"].startswith("start:") for c in d["columns"][:2]), "daemon_start")
lat = d["latency"]
for op in ops:
    for c in cols:
        check(summary_ok(lat["ops"][op][c]), "latency %s %s" % (op, c))
    check(set(lat["ops"][op]["ratio_median"]) == set(cols[:2]), "ratio_median " + op)
rows = lat["paper_table"]["rows"]
check([r["row"] for r in rows] == paper, "paper rows %r" % [r["row"] for r in rows])
for r in rows:
    check(r["paper_esem"] > 0 and r["paper_legacy"] > 0, "paper figures " + r["row"])
    want = {"glibc", "esem_semaphore" if r["lockless"] else "esem_process"}
    if r["op"] not in ("post", "wait"):
        want = set(cols)
    check(set(r["measured_median_us"]) == want, "mapping of " + r["row"])
tp = d["throughput"]
check(tp["sems"] == [1, 4], "throughput sems")
shapes = {(r["procs"], r["threads_per_proc"], r["sems"]) for r in tp["rows"]}
for k in (1, 4):
    for n in (1, 2, 4):
        check((n, 1, k) in shapes and (1, n, k) in shapes, "throughput row %d, K=%d" % (n, k))
for r in tp["rows"]:
    check(all(r["pairs_per_s"][c] > 0 for c in cols), "throughput rates %r" % r)
    check(set(r["ratio_to_glibc"]) == set(cols[:2]), "throughput ratios")
runs = d["scale"]["runs"]
check([r["column"] for r in runs] == cols[:2], "scale runs")
for run in runs:
    dims = [(x["dimension"], x["wanted"]) for x in run["rows"]]
    check(dims == [("semaphores", 1), ("semaphores", 10), ("semaphores", 100),
                   ("clients", 1), ("clients", 2), ("clients", 4)], "scale rows %r" % dims)
    for x in run["rows"]:
        check(x["got"] == x["wanted"] and x["error"] is None, "scale %r" % x)
        check(summary_ok(x["pair"]) and x["daemon_rss_kb"] > 0, "scale figures %r" % x)

o = json.load(open(sys.argv[2]))
check(o["tables"] == ["latency"] and "throughput" not in o, "--latency alone")
check([c["key"] for c in o["columns"]] == ["esem_semaphore", "glibc"], "--binding semaphore")
post = [r for r in o["latency"]["paper_table"]["rows"] if r["row"] == "Post"][0]
check(set(post["measured_median_us"]) == {"glibc"}, "Post without a process column")
print("esem-bench --json: every table, column and row present")
PY
