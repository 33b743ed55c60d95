#!/usr/bin/env bash
# Draw esem-bench's throughput and scale curves from its JSON, as SVG.
#   usage: scripts/bench-plot.sh [--png] BENCH.json OUTDIR
# Writes OUTDIR/throughput-k<K>.svg (one per K: pairs/s and esem's share of
# glibc's, against N x M, for the N-processes and the M-threads series) and
# OUTDIR/scale.svg (pair latency and daemon memory against the number of
# semaphores and of client processes), for the tables the JSON holds;
# with --png, .png files instead.
# Needs gnuplot and jq (Debian: gnuplot-nox, jq): installed when run as root,
# else named.
set -euo pipefail

fmt=svg
if [ "${1:-}" = --png ]; then
  fmt=png
  shift
fi
if [ $# -ne 2 ] || [ ! -f "$1" ]; then
  echo "usage: $0 [--png] BENCH.json OUTDIR   (BENCH.json from esem-bench --json or --json-file)" >&2
  exit 2
fi
json=$1
out=$2

need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench-plot: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bench-plot: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# columns: keys in the JSON's order (esem per binding mode, then glibc)
mapfile -t cols < <(jq -r '.columns[].key' "$json")
mapfile -t ecols < <(jq -r '.columns[] | select(.impl == "esem") | .key' "$json")
title=$(jq -r '"\(.machine.nproc) CPU(s), \(.machine.cpu), \(.machine.kernel), \(.machine.libc); \(.started_utc)"' "$json")
# terminal line for a plot of W x H pixels
term() {
  if [ $fmt = svg ]; then echo "set terminal svg size $1,$2 dynamic font 'sans,11'"
  else echo "set terminal pngcairo size $1,$2 font 'sans,10'"; fi
}
# in gnuplot's enhanced text _ is a subscript: the title escapes it, and
# the keys are shown as esem-bench's labels (esem_process -> esem/process)
esc() { printf '%s' "$1" | sed 's/_/\\\\_/g'; }
lab() { printf '%s' "${1/_//}"; }
made=()

if jq -e '.throughput' "$json" >/dev/null; then
  for k in $(jq -r '.throughput.sems[]' "$json"); do
    # one file per series: N x M, pairs/s per column, then esem/glibc per esem column
    for split in procs threads; do
      if [ $split = procs ]; then sel='.threads_per_proc == 1'; else sel='.procs == 1'; fi
      jq -r --argjson k "$k" '
        ([.columns[].key]) as $cols
        | ([.columns[] | select(.impl == "esem") | .key]) as $ecols
        | .throughput.rows[] | select(.sems == $k and ('"$sel"'))
        | [.total] + [$cols[] as $c | .pairs_per_s[$c]]
          + [$ecols[] as $c | (.ratio_to_glibc[$c] // "NaN" | if . == "NaN" then . else . * 100 end)]
        | @tsv' "$json" >"$tmp/tp-$k-$split.tsv"
    done
    svg=$out/throughput-k$k.$fmt
    {
      term 1200 520
      echo "set output '$svg'"
      echo "set multiplot layout 1,2 title \"esem-bench throughput, K = $k semaphore(s): wait+post pairs/s of N processes x 1 thread (solid) and 1 process x M threads (dashed)\\n$(esc "$title")\""
      echo "set logscale x 2; set xrange [0.8:80]; set xtics (1,2,4,8,16,32,64)"
      echo "set xlabel 'threads in all (N x M)'; set grid; set key outside bottom center horizontal"
      echo "set logscale y 10; set format y '10^{%L}'; set ylabel 'pairs per second'"
      echo "set title 'throughput'"
      plot="plot "
      for i in "${!cols[@]}"; do
        c=${cols[$i]}; n=$((i + 2)); lc=$((i + 1))
        plot+="'$tmp/tp-$k-procs.tsv' using 1:$n with linespoints lw 2 pt 7 lc $lc title '$(lab "$c"), N x 1', "
        plot+="'$tmp/tp-$k-threads.tsv' using 1:$n with linespoints lw 2 pt 6 dt 2 lc $lc title '$(lab "$c"), 1 x M', "
      done
      echo "${plot%, }"
      echo "set title 'esem as a share of glibc'; set ylabel 'esem pairs/s / glibc pairs/s (%)'"
      echo "set format y '%g'"
      plot="plot "
      for i in "${!ecols[@]}"; do
        c=${ecols[$i]}; n=$((${#cols[@]} + 2 + i)); lc=$((i + 1))
        plot+="'$tmp/tp-$k-procs.tsv' using 1:$n with linespoints lw 2 pt 7 lc $lc title '$(lab "$c"), N x 1', "
        plot+="'$tmp/tp-$k-threads.tsv' using 1:$n with linespoints lw 2 pt 6 dt 2 lc $lc title '$(lab "$c"), 1 x M', "
      done
      echo "${plot%, }"
      echo "unset multiplot"
    } >"$tmp/tp-$k.gp"
    gnuplot "$tmp/tp-$k.gp"
    made+=("$svg")
  done
fi

if jq -e '.scale' "$json" >/dev/null; then
  for c in "${ecols[@]}"; do
    for dim in semaphores clients; do
      jq -r --arg c "$c" --arg dim "$dim" '
        .scale.runs[] | select(.column == $c) | .rows[] | select(.dimension == $dim)
        | [.got, .pair.median_ns / 1000, .pair.p99_ns / 1000,
           (if .daemon_rss_kb == null then "NaN" else .daemon_rss_kb / 1024 end)] | @tsv' \
        "$json" >"$tmp/sc-$c-$dim.tsv"
    done
  done
  svg=$out/scale.$fmt
  {
    term 1200 800
    echo "set output '$svg'"
    echo "set multiplot layout 2,2 title \"esem-bench scale: an uncontended esem post+wait pair, and the daemon's memory\\n$(esc "$title")\""
    echo "set logscale x 10; set grid; set key top left"
    for dim in semaphores clients; do
      if [ $dim = semaphores ]; then xl='semaphores in the daemon'; else xl='client processes connected'; fi
      echo "set xlabel '$xl'; set xrange [0.7:*]"
      echo "set title 'post+wait pair latency'; set ylabel 'us (median solid, p99 dashed)'"
      echo "set logscale y 10; set yrange [*:*]"
      plot="plot "
      for i in "${!ecols[@]}"; do
        c=${ecols[$i]}; lc=$((i + 1))
        plot+="'$tmp/sc-$c-$dim.tsv' using 1:2 with linespoints lw 2 pt 7 lc $lc title '$(lab "$c") median', "
        plot+="'$tmp/sc-$c-$dim.tsv' using 1:3 with linespoints lw 1 pt 6 dt 2 lc $lc title '$(lab "$c") p99', "
      done
      echo "${plot%, }"
    done
    for dim in semaphores clients; do
      if [ $dim = semaphores ]; then xl='semaphores in the daemon'; else xl='client processes connected'; fi
      echo "set xlabel '$xl'; set title 'daemon memory (VmRSS)'; set ylabel 'MiB'"
      echo "unset logscale y; set yrange [0:*]; set key bottom right"
      plot="plot "
      for i in "${!ecols[@]}"; do
        c=${ecols[$i]}; lc=$((i + 1))
        plot+="'$tmp/sc-$c-$dim.tsv' using 1:4 with linespoints lw 2 pt 7 lc $lc title '$(lab "$c")', "
      done
      echo "${plot%, }"
    done
    echo "unset multiplot"
  } >"$tmp/scale.gp"
  gnuplot "$tmp/scale.gp"
  made+=("$svg")
fi

if [ ${#made[@]} -eq 0 ]; then
  echo "bench-plot: $json has neither a throughput nor a scale table (esem-bench --throughput --scale, or --all)" >&2
  exit 1
fi
printf '%s\n' "${made[@]}"
