#!/usr/bin/env bash
# scripts/perf-docs.sh: regenerate the measured figures of docs/PERFORMANCE.md
# and docs/REALAPPS.md in one command, from one run on this machine.
#
#   1. scripts/bench-report.sh   esem-bench --all (latency, hand-off, the
#                                hand-off with 4x CPUs busy, throughput,
#                                scale) -> docs/perf/report.md
#   2. scripts/realapps.sh --quick --reps 3 --markdown docs/perf/realapps.md
#                                stress-ng, PostgreSQL, Apache (needs root)
#   3. scripts/vault-bench.sh --reps 3 --seconds 5 -> docs/perf/vault.txt
#
# `scripts/perf-docs.sh bench realapps vault` names the parts to run (default:
# all three); the others keep what they have.
#
# --before REV also builds the tree REV (a commit, e.g. 1d08957: the tree
# before issue #10's work) in a temporary git worktree and measures it the
# same way, one after the other in the same run: esem-bench's latency and
# throughput tables (process binding; REV's own esem-bench, library and
# daemon) into docs/perf/before/bench.json, and scripts/realapps.sh with
# REV's build (stress-ng, pgbench, Apache posixsem: the programs every tree
# ran) into docs/perf/before/realapps.md.  Then, with or without it,
# scripts/perf-targets.sh writes the targets table -- each target met or
# missed, before and now -- between the "targets" markers of PERFORMANCE.md.
#
# Each result replaces the part of its document between the markers
#   <!-- BEGIN perf-docs: NAME -->  and  <!-- END perf-docs: NAME -->
# (NAME: bench and targets in PERFORMANCE.md; realapps and vault in
# REALAPPS.md); the prose around them is kept.  Run it on a quiet machine:
# nothing else running (the figures of a 2-vCPU machine change several-fold
# with a build beside them); it warns when the load average says otherwise.
# About 6-8 minutes on 2 vCPUs, 12-15 with --before.  As root (realapps
# starts servers as other users).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "perf-docs: run as root (scripts/realapps.sh needs it)" >&2; exit 1; }
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "perf-docs: load average $load on $(nproc) CPUs: the figures will be disturbed" >&2
fi

# splice DOC NAME FILE: put FILE between the NAME markers of DOC
splice() {
  local doc=$1 name=$2 file=$3
  if ! grep -q "^<!-- BEGIN perf-docs: $name -->\$" "$doc" ||
    ! grep -q "^<!-- END perf-docs: $name -->\$" "$doc"; then
    echo "perf-docs: $doc has no markers for $name" >&2
    exit 1
  fi
  awk -v name="$name" -v file="$file" '
    $0 == "<!-- BEGIN perf-docs: " name " -->" { print; while ((getline l < file) > 0) print l; skip = 1; next }
    $0 == "<!-- END perf-docs: " name " -->" { skip = 0 }
    !skip' "$doc" >"$doc.new"
  mv "$doc.new" "$doc"
}

before=
if [ "${1:-}" = --before ]; then
  before=${2:-}
  [ -n "$before" ] || { echo "perf-docs: --before needs a commit" >&2; exit 2; }
  git rev-parse --verify -q "$before^{commit}" >/dev/null ||
    { echo "perf-docs: --before $before: no such commit here" >&2; exit 2; }
  shift 2
fi
parts=" ${*:-bench realapps vault} "
for p in $parts; do
  case $p in bench|realapps|vault) ;; *) echo "perf-docs: unknown part $p (bench, realapps, vault)" >&2; exit 2 ;; esac
done
want() { case $parts in *" $1 "*) return 0 ;; esac; return 1; }

mkdir -p docs/perf
rc=0
if want bench; then
  scripts/bench-report.sh >/dev/null
  # the report's own heading level is one below the document's section
  sed 's/^## /### /; s/^### \(The\|Throughput\|Scale\|Curves\)/#### \1/' docs/perf/report.md >docs/perf/report.section.md
  splice docs/PERFORMANCE.md bench docs/perf/report.section.md
  rm -f docs/perf/report.section.md
fi

if want realapps; then
  scripts/realapps.sh --quick --reps 3 --markdown docs/perf/realapps.md build | tee docs/perf/realapps.txt || rc=$?
  splice docs/REALAPPS.md realapps docs/perf/realapps.md
fi

if want vault; then
  scripts/vault-bench.sh --reps 3 --seconds 5 build | tee docs/perf/vault.txt || rc=$?
  {
    echo "* command: \`scripts/vault-bench.sh --reps 3 --seconds 5\`; date: $(date -u '+%Y-%m-%d %H:%M UTC'); tree: $(git rev-parse --short HEAD)"
    echo
    echo '```'
    cat docs/perf/vault.txt
    echo '```'
  } >docs/perf/vault.md
  splice docs/REALAPPS.md vault docs/perf/vault.md
fi

# The older tree, measured after ours in the same run (--before REV).
if [ -n "$before" ]; then
  bsrc=$(mktemp -d /tmp/esem-before.XXXXXX)
  trap 'git worktree remove --force "$bsrc/src" >/dev/null 2>&1; rm -rf "$bsrc"' EXIT
  git worktree add --detach "$bsrc/src" "$before" >/dev/null
  echo "perf-docs: building $before in $bsrc" >&2
  meson setup "$bsrc/build" "$bsrc/src" >"$bsrc/setup.log" 2>&1 && ninja -C "$bsrc/build" >"$bsrc/build.log" 2>&1 ||
    { echo "perf-docs: $before does not build (logs in $bsrc)" >&2; trap - EXIT; exit 1; }
  mkdir -p docs/perf/before
  git rev-parse --short "$before" >docs/perf/before/tree
  "$bsrc/build/bench/esem-bench" --spawn-daemon "$bsrc/build/host/esemd" --binding process \
    --latency --throughput --sems 1 --json-file docs/perf/before/bench.json \
    >docs/perf/before/bench.txt || rc=$?
  scripts/realapps.sh --quick --reps 3 --only stress-ng,pgbench,apache \
    --markdown docs/perf/before/realapps.md "$bsrc/build" >docs/perf/before/realapps.txt || rc=$?
fi

# The targets, met or missed: from this run's files (and the older tree's,
# those of an earlier --before run if this one had none)
{
  echo "* from: \`scripts/perf-targets.sh$([ -s docs/perf/before/bench.json ] && echo " --before docs/perf/before") docs/perf\`; date: $(date -u '+%Y-%m-%d %H:%M UTC'); now = tree $(git rev-parse --short HEAD)$([ -s docs/perf/before/tree ] && echo ", before = tree $(cat docs/perf/before/tree)")"
  echo
  if [ -s docs/perf/before/bench.json ]; then
    scripts/perf-targets.sh --before docs/perf/before docs/perf
  else
    scripts/perf-targets.sh docs/perf
  fi
} >docs/perf/targets.md
splice docs/PERFORMANCE.md targets docs/perf/targets.md
echo "perf-docs: docs/PERFORMANCE.md and docs/REALAPPS.md updated (exit $rc)" >&2
exit $rc
