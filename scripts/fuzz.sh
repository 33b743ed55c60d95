#!/bin/bash
# scripts/fuzz.sh [--update-corpus] SECONDS [TARGET...]
#
# Builds the libFuzzer targets of tests/fuzz (clang, -Dfuzz=true, with
# ASan and UBSan) in build-fuzz and runs each for SECONDS, starting from the
# checked-in corpus (tests/fuzz/corpus/TARGET).  --update-corpus merges what
# it found (a minimal set) back into the checked-in corpus, which CI
# replays.  TARGET (core, shim, daemon) limits it to those targets.  Ends
# with one line: fuzz: T targets, E execs, C crashes.
set -u
update=0
[ "${1:-}" = --update-corpus ] && { update=1; shift; }
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [--update-corpus] SECONDS [TARGET...]" >&2; exit 2 ;; esac
shift
only=" $* "
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=build-fuzz
if [ ! -f "$B/build.ninja" ]; then
  CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >"$B.setup.log" 2>&1 ||
    { cat "$B.setup.log"; exit 1; }
fi
ninja -C "$B" >"$B.build.log" 2>&1 || { tail -n 30 "$B.build.log"; exit 1; }
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
targets=0 execs=0 crashes=0
for exe in "$B"/tests/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=${exe##*/fuzz_}
  [ "$only" = "  " ] || [[ $only == *" $name "* ]] || continue
  work=$(mktemp -d /tmp/esem-fuzz-"$name".XXXXXX)
  mkdir "$work/corpus" "$work/crashes"
  log=$work/log
  "$exe" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/crashes/" \
    -timeout=10 -rss_limit_mb=2048 -max_len=1024 "$work/corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  c=$(find "$work/crashes" -type f | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  echo "fuzz_$name: ${n:-0} execs, $c crash(es), ${cov:-cov: ?} edges; log $log"
  [ "$c" -gt 0 ] && ls "$work/crashes"
  if [ "$update" = 1 ]; then
    mkdir -p "$work/merged"
    "$exe" -merge=1 "$work/merged" "tests/fuzz/corpus/$name" "$work/corpus" >/dev/null 2>&1 &&
      rm -f "tests/fuzz/corpus/$name"/* && cp "$work/merged"/* "tests/fuzz/corpus/$name/"
    echo "  corpus: $(ls "tests/fuzz/corpus/$name" | wc -l) inputs in tests/fuzz/corpus/$name"
  fi
  targets=$((targets + 1)) execs=$((execs + ${n:-0})) crashes=$((crashes + c))
done
echo "fuzz: $targets targets, $execs execs, $crashes crashes"
[ "$crashes" = 0 ] && [ "$targets" -gt 0 ]
