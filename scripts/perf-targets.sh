#!/usr/bin/env bash
# scripts/perf-targets.sh: the targets of docs/DESIGN.md ("Targets") and of
# issues #10, #12 and #13, each met or missed, from the files one
# scripts/perf-docs.sh run wrote, as a markdown table on standard output.
#
#   scripts/perf-targets.sh [--before DIR] PERF_DIR
#
# PERF_DIR holds bench.json (esem-bench --all --json-file), realapps.md
# (scripts/realapps.sh --markdown) and vault.txt (scripts/vault-bench.sh);
# a file that is missing leaves its rows at "-".  With --before DIR (the
# same files from an older tree, written by `scripts/perf-docs.sh --before
# REV`), a column shows that tree's figures beside them.  Needs jq.
set -euo pipefail

before=
while [ $# -gt 0 ]; do
  case $1 in
    --before) before=${2:-}; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "perf-targets: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ $# = 1 ] || { echo "usage: scripts/perf-targets.sh [--before DIR] PERF_DIR" >&2; exit 2; }
dir=$1
command -v jq >/dev/null || { echo "perf-targets: needs jq (apt-get install jq)" >&2; exit 1; }

# jqf DIR FILTER: the filter over DIR/bench.json, or "-"
jqf() {
  [ -s "$1/bench.json" ] || { echo -; return; }
  jq -r "($2) // \"-\"" "$1/bench.json" 2>/dev/null || echo -
}
# ra DIR PROGRAM METRIC-PREFIX FIELD: a cell of realapps.md's table
# (FIELD 4 glibc, 5 esem, 6 ratio), or "-"
ra() {
  [ -s "$1/realapps.md" ] || { echo -; return; }
  awk -F'|' -v p="$2" -v m="$3" -v f="$4" '
    function t(s) { gsub(/^ +| +$/, "", s); return s }
    t($2) == p && index(t($3), m) == 1 { v = t($f) }
    END { print (v == "" ? "-" : v) }' "$1/realapps.md"
}
vault_ratio() {
  [ -s "$1/vault.txt" ] || { echo -; return; }
  sed -n 's/.*hardened\/legacy \([0-9.]*\).*/\1/p' "$1/vault.txt" | tail -n 1 | grep . || echo -
}
u() { [ "$1" = - ] && echo - || echo "$1$2"; } # u VALUE SUFFIX
us() { awk -v n="$1" 'BEGIN { if (n == "-") print "-"; else printf "%.2f", n / 1000 }'; }
ms() { awk -v n="$1" 'BEGIN { if (n == "-") print "-"; else printf "%.1f", n / 1e6 }'; }
pct() { awk -v n="$1" 'BEGIN { if (n == "-") print "-"; else printf "%.1f %%", n * 100 }'; }
# verdict VALUE OP LIMIT: met / missed / - (no figure)
verdict() {
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "-" || v == "") { print "-"; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0)
    print ok ? "**met**" : "**missed**" }'
}

tp81='.throughput.rows[] | select(.procs == 8 and .threads_per_proc == 1 and .sems == 1) | .ratio_to_glibc.esem_process'
lat() { echo ".latency.ops.$1.$2.$3"; }

# row TARGET OP LIMIT AFTER-NUMBER AFTER-SHOWN BEFORE-SHOWN REFERENCE-SHOWN
rows=()
row() { rows+=("| $1 | ${6:--} | $5 | $7 | $(verdict "$4" "$2" "$3") |"); }

b() { # b KIND ARGS...: the before column's figure (or "-")
  [ -n "$before" ] || { echo -; return; }
  "$@"
}

post=$(jqf "$dir" "$(lat post esem_process median_ns)")
row "uncontended post ≤ 0.3 µs (process binding)" "<=" 0.3 "$(us "$post")" "$(u "$(us "$post")" " µs")" \
  "$(u "$(b us "$(b jqf "$before" "$(lat post esem_process median_ns)")")" " µs")" \
  "glibc $(us "$(jqf "$dir" "$(lat post glibc median_ns)")") µs"
wait_=$(jqf "$dir" "$(lat wait esem_process median_ns)")
row "uncontended wait ≤ 0.3 µs (process binding)" "<=" 0.3 "$(us "$wait_")" "$(u "$(us "$wait_")" " µs")" \
  "$(u "$(b us "$(b jqf "$before" "$(lat wait esem_process median_ns)")")" " µs")" \
  "glibc $(us "$(jqf "$dir" "$(lat wait glibc median_ns)")") µs"
ho=$(jqf "$dir" '.latency.ops.handoff.ratio_median.esem_process')
row "cross-process hand-off ≤ 1.5× glibc" "<=" 1.5 "$ho" \
  "$(u "$ho" "× ($(us "$(jqf "$dir" "$(lat handoff esem_process median_ns)")") µs)")" \
  "$(u "$(b jqf "$before" '.latency.ops.handoff.ratio_median.esem_process')" "× ($(b us "$(b jqf "$before" "$(lat handoff esem_process median_ns)")") µs)")" \
  "glibc $(us "$(jqf "$dir" "$(lat handoff glibc median_ns)")") µs"
t81=$(jqf "$dir" "$tp81")
row "8 processes × 1 thread on one mutex ≥ 50 % of glibc" ">=" 0.5 "$t81" "$(pct "$t81")" \
  "$(b pct "$(b jqf "$before" "$tp81")")" \
  "glibc $(jqf "$dir" '.throughput.rows[] | select(.procs == 8 and .threads_per_proc == 1 and .sems == 1) | .pairs_per_s.glibc') pairs/s"
hb=$(jqf "$dir" "$(lat handoff_busy esem_process p99_ns)")
row "4× CPUs busy: a post wakes a blocked waiter, p99 ≤ 50 ms" "<=" 50 "$(ms "$hb")" "$(u "$(ms "$hb")" " ms")" \
  "$(u "$(b ms "$(b jqf "$before" "$(lat handoff_busy esem_process p99_ns)")")" " ms")" \
  "glibc $(us "$(jqf "$dir" "$(lat handoff_busy glibc p99_ns)")") µs"
sp=$(jqf "$dir" '.latency.ops.sysv_pingpong.ratio_median.esem_process')
row "System V ping-pong ≤ 1.5× the kernel" "<=" 1.5 "$sp" "$(u "$sp" "×")" \
  "$(u "$(b jqf "$before" '.latency.ops.sysv_pingpong.ratio_median.esem_process')" "×")" \
  "kernel $(us "$(jqf "$dir" "$(lat sysv_pingpong glibc median_ns)")") µs"

# real programs: esem / glibc, medians of the realapps run
rrow() { # rrow TARGET LIMIT PROGRAM METRIC
  local r
  r=$(ra "$dir" "$3" "$4" 6)
  row "$1" ">=" "$2" "$r" "$r" "$(b ra "$before" "$3" "$4" 6)" \
    "$(ra "$dir" "$3" "$4" 4) (glibc or kernel) vs $(ra "$dir" "$3" "$4" 5)"
}
rrow "stress-ng \`--sem 2\` ≥ 0.83 of glibc (in the process, the default)" 0.83 "stress-ng --sem 2" "bogo ops/s (real"
rrow "stress-ng \`--sem 2\` through esemd (\`ESEM_PRIVATE=esem\`)" 0.83 "stress-ng --sem 2, core" "bogo ops/s"
rrow "stress-ng \`--sem-sysv 2\` ≥ 0.83 of the kernel" 0.83 "stress-ng --sem-sysv 2" "bogo ops/s"
rrow "pgbench \`-c 8\` ≥ 0.97 of glibc" 0.97 "postgresql-15 pgbench" "tps"
rrow "Apache prefork \`Mutex posixsem\` ≥ 0.97 of glibc" 0.97 "apache2 prefork" "requests/s"
rrow "Apache prefork \`Mutex sysvsem\` ≥ 0.97 of the kernel" 0.97 "apache2 Mutex sysvsem" "requests/s"
failed() { # failed DIR: failed requests in realapps.md's table, both sides
  [ -s "$1/realapps.md" ] || { echo -; return; }
  awk -F'|' 'index($3, "failed") { gsub(/ /, "", $4); gsub(/ /, "", $5); s += $4 + $5 } END { print s + 0 }' "$1/realapps.md"
}
fails=$(failed "$dir")
row "no failed request or transaction" "<=" 0 "$fails" "$(u "$fails" " failed")" \
  "$(u "$(b failed "$before")" " failed")" \
  "ab and pgbench, both sides"
idle=$(jqf "$dir" '.scale.idle.esem_process.ticks')
row "idle daemon: no CPU (a waiter blocked, 10 s)" "<=" 0 "$idle" "$(u "$idle" " ticks")" \
  "$(u "$(b jqf "$before" '.scale.idle.esem_process.ticks')" " ticks")" "utime+stime of esemd"
v=$(vault_ratio "$dir")
row "File Vault, hardened ≥ 0.9 of legacy (8 clients)" ">=" 0.9 "$v" "$v" "$(b vault_ratio "$before")" \
  "\`esem-vault bench\`"

echo "| target | before | now | reference (now's run) | |"
echo "|---|---:|---:|---|---|"
printf '%s\n' "${rows[@]}"
