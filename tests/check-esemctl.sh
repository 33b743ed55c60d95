#!/bin/bash
# esemctl's views for people and monitors, against a real esemd:
# stats --format=prometheus is valid Prometheus text (and counts a
# semaphore a client holds), top refreshes N times and lists it, and every
# program answers --version.
#   check-esemctl.sh ESEMD ESEMCTL DEMO PROGRAM...
set -u
esemd=$1 ctl=$2 demo=$3; shift 3
T=$(mktemp -d /tmp/esem-ctl.XXXXXX)
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
trap '"$ctl" -s "$T/s" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
"$esemd" -s "$T/s" --log "$T/log" || { echo "esemd did not start"; exit 1; }
export ESEM_SOCKET=$T/s
"$demo" 40000 >/dev/null 2>&1 &
demo_pid=$!
sleep 0.5
"$ctl" stats --format=prometheus >"$T/prom"
python3 - "$T/prom" <<'PY' && pass "stats --format=prometheus is valid exposition text" || fail "prometheus: $(head -5 "$T/prom")"
import re, sys
seen_type = {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    m = re.match(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
    if m:
        if m.group(1) == "TYPE":
            assert m.group(3) in ("gauge", "counter"), line
            seen_type[m.group(2)] = m.group(3)
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"\})? (-?[0-9.e+]+)$', line)
    assert m, line
    assert m.group(1) in seen_type, "no TYPE for " + line
    if seen_type[m.group(1)] == "counter":
        assert m.group(1).endswith("_total"), line
assert "esem_semaphores" in seen_type and "esem_refusals_total" in seen_type
PY
grep -Eq '^esem_clients [1-9]' "$T/prom" && pass "the demo's processes are counted" || fail "esem_clients: $(grep '^esem_clients' "$T/prom")"
"$ctl" top --count=2 --interval=0.2 --limit=5 >"$T/top"
[ "$(grep -c '^esem top:' "$T/top")" = 2 ] && pass "top refreshed twice" || fail "top: $(cat "$T/top")"
grep -q 'esem-demo' "$T/top" && pass "top lists the demo's semaphore" || fail "top: $(cat "$T/top")"
"$ctl" stats --format=xml >/dev/null 2>&1 && fail "stats --format=xml accepted" || pass "an unknown format is refused"
wait "$demo_pid"
for p in "$@"; do
  out=$("$p" --version 2>&1) && [[ $out == *" 0."* ]] && pass "$(basename "$p") --version: $out" || fail "$p --version: $out"
done
[ "$fails" = 0 ]
