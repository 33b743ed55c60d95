#!/usr/bin/env bash
# Regenerate the measured figures of docs/PERFORMANCE.md in one command:
#   scripts/bench-report.sh [ESEM-BENCH OPTIONS...]
# builds the tree (build/), runs every table of esem-bench with a daemon
# spawned per binding mode, and writes into docs/perf/:
#   bench.json   esem-bench's JSON (--json-file)
#   bench.txt    the tables as esem-bench printed them
#   *.svg        the throughput and scale curves (scripts/bench-plot.sh)
#   report.md    the run's record and its tables in markdown (also printed),
#                for docs/PERFORMANCE.md: its links are relative to docs/
# Extra options go to esem-bench after --all (e.g. --duration 1, --sems 1,4,16).
# Needs the build's packages and gnuplot-nox, jq: installed when run as
# root, else named.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=docs/perf

need=()
for p in meson ninja-build gcc pkg-config libseccomp-dev libsodium-dev gnuplot-nox jq git; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench-report: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bench-report: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f build/build.ninja ]; then
  meson setup build >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
ninja -C build >"$log" 2>&1 || { cat "$log" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.svg
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null -- . ":!$out" ":!docs/PERFORMANCE.md")" ]; then
  commit="$commit + uncommitted changes"
fi
cmd=(build/bench/esem-bench --spawn-daemon build/host/esemd --all --json-file "$out/bench.json" "$@")
echo "bench-report: ${cmd[*]}" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"${cmd[@]}" | tee "$out/bench.txt" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/bench-plot.sh "$out/bench.json" "$out" >/dev/null

j=$out/bench.json
{
  echo "## Run of $(jq -r .started_utc "$j")"
  echo
  echo "* command: \`scripts/bench-report.sh$( [ $# -gt 0 ] && printf ' %s' "$@")\`, which ran \`${cmd[*]}\`"
  echo "* tree: $commit (branch $(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown))"
  echo "* machine: $(nproc) CPUs (\`nproc\`), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
       "kernel $(uname -r), $(jq -r .machine.libc "$j") (libc6 $(dpkg-query -W -f='${Version}' libc6 2>/dev/null || echo '?'))," \
       "clocksource $(jq -r .machine.clocksource "$j")"
  echo "* daemon: $(jq -r '.daemon.path' "$j"), one spawned per binding mode;" \
       "$(jq -r '[.columns[] | select(.daemon_start) | "\(.binding): `\(.daemon_start | sub("socket [^,]*, "; ""))`"] | join("; ")' "$j")"
  echo "* load average (1, 5, 15 min): $load_before before the run, $load_after after it"
  echo
  echo "### The paper's table, measured (µs per call, median / p99)"
  echo
  jq -r '
    def cell($r; $c): if $r.measured_median_us[$c] == null then "–"
      else "\($r.measured_median_us[$c]) / \($r.measured_p99_us[$c])" end;
    def us: . / 1000 | . * 1000 | round / 1000;
    [.columns[].key] as $cols | .latency as $l |
    ("| operation | " + ([.columns[] | .key | sub("_"; "/")] | join(" | ")) + " | paper ESem | paper legacy |"),
    ("|---|" + ([$cols[] | "---:"] | join("|")) + "|---:|---:|"),
    ($l.paper_table.rows[] as $r |
      "| \($r.row) | " + ([$cols[] as $c | cell($r; $c)] | join(" | ")) + " | \($r.paper_esem) | \($r.paper_legacy) |"),
    (["trywait", "handoff", "handoff_busy", "sysv_pingpong"][] as $op | select($l.ops[$op]) |
      "| \({"trywait": "trywait (not in the paper)", "handoff": "hand-off, cross-process",
            "handoff_busy": "hand-off, 4x CPUs busy", "sysv_pingpong": "SysV ping-pong, per hand-off"}[$op]) | " +
      ([$cols[] as $c | "\($l.ops[$op][$c].median_ns | us) / \($l.ops[$op][$c].p99_ns | us)"] | join(" | ")) + " | – | – |")
  ' "$j"
  echo
  echo "Post-lockless/Wait-lockless are the paper's thread-semaphore binding and take the binding=semaphore"
  echo "column; Post/Wait its thread-process binding (binding=process). glibc has no binding modes: its one"
  echo "figure is shown in both. Paper ESem/legacy: quoted from the paper (i7-9700k, SGX), not measured here."
  echo "Mean of a post+wait pair in a loop without per-call timers (ns): $(jq -r '.latency.batched_post_wait_pair_mean_ns | to_entries | map("\(.key | sub("_"; "/")) \(.value)") | join(", ")' "$j")."
  echo
  echo "### Throughput (wait+post pairs/s, all threads together; $(jq -r .throughput.duration_s "$j") s per run)"
  echo
  jq -r '
    [.columns[].key] as $cols | [.columns[] | select(.impl == "esem") | .key] as $e |
    ("| N × M | K | " + ([$cols[] | sub("_"; "/")] | join(" | ")) + " | " + ([$e[] | sub("esem_"; "") + "/glibc"] | join(" | ")) + " |"),
    ("|---|---:|" + ([$cols[], $e[] | "---:"] | join("|")) + "|"),
    (.throughput.rows[] as $r |
      "| \($r.procs) × \($r.threads_per_proc) | \($r.sems) | " +
      ([$cols[] as $c | $r.pairs_per_s[$c] | tostring] | join(" | ")) + " | " +
      ([$e[] as $c | $r.ratio_to_glibc[$c] | if . == null then "–" else (. * 10000 | round / 100 | tostring) + " %" end] | join(" | ")) + " |")
  ' "$j"
  echo
  echo "N × 1: N processes of one thread; 1 × M: one process of M threads. K semaphores, each a mutex (value 1)."
  echo
  echo "### Scale (esem post+wait pair, uncontended, while the daemon holds many semaphores / serves many clients)"
  echo
  jq -r '
    "| binding | what | count | median µs | p99 µs | vs base | daemon RSS MiB |",
    "|---|---|---:|---:|---:|---:|---:|",
    (.scale.runs[] as $run | $run.rows[] as $r |
      "| \($run.column | sub("esem_"; "")) | \($r.dimension) | \($r.got)\(if $r.error then " (of \($r.wanted): \($r.error))" else "" end) | " +
      "\($r.pair.median_ns / 1000) | \($r.pair.p99_ns / 1000) | \($r.ratio_to_base)× | " +
      "\(if $r.daemon_rss_kb == null then "n/a" else ($r.daemon_rss_kb / 1024 * 10 | round / 10 | tostring) end) |")
  ' "$j"
  echo
  echo "Idle daemon (a process blocked for good in esem_wait, nothing else running): $(jq -r '
    .scale.idle as $i | [$i | to_entries[] | select(.value | type == "object") |
      "\(.key | sub("esem_"; "")) \(if .value.ticks == null then "n/a" else "\(.value.ticks) ticks" end)"] |
      join(", ") + " of CPU (utime+stime) in \($i.seconds) s"' "$j")."
  echo
  echo "### Curves"
  echo
  for f in "$out"/throughput-k*.svg "$out"/scale.svg; do
    [ -f "$f" ] && echo "![$(basename "$f" .svg)](perf/$(basename "$f"))"
  done
  echo
  echo "Raw: [bench.json](perf/bench.json), [bench.txt](perf/bench.txt)."
} >"$out/report.md"
cat "$out/report.md"
echo "bench-report: wrote $out/bench.json, $out/bench.txt, $out/report.md and $(ls "$out"/*.svg | wc -l) SVG(s) in $top/$out" >&2
