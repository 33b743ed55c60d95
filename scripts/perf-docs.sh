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
# Each result replaces the part of its document between the markers
#   <!-- BEGIN perf-docs: NAME -->  and  <!-- END perf-docs: NAME -->
# (NAME: bench in PERFORMANCE.md; realapps and vault in REALAPPS.md); the
# prose around them is kept.  Run it on a quiet machine: nothing else
# running (the figures of a 2-vCPU machine change several-fold with a build
# beside them); it warns when the load average says otherwise.  About 6-8
# minutes on 2 vCPUs.  As root (realapps starts servers as other users).
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

want vault || { echo "perf-docs: done (exit $rc)" >&2; exit $rc; }
scripts/vault-bench.sh --reps 3 --seconds 5 build | tee docs/perf/vault.txt || rc=$?
{
  echo "* command: \`scripts/vault-bench.sh --reps 3 --seconds 5\`; date: $(date -u '+%Y-%m-%d %H:%M UTC'); tree: $(git rev-parse --short HEAD)"
  echo
  echo '```'
  cat docs/perf/vault.txt
  echo '```'
} >docs/perf/vault.md
splice docs/REALAPPS.md vault docs/perf/vault.md
echo "perf-docs: docs/PERFORMANCE.md and docs/REALAPPS.md updated (exit $rc)" >&2
exit $rc
