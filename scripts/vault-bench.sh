#!/bin/bash
# scripts/vault-bench.sh [--reps N] [--seconds S] [--clients C] [BUILD_DIR]
#
# The File Vault's throughput, legacy (glibc's semaphores) against hardened
# (esem run -- esem-vault serve, with esemd --policy=strict), in one run:
# each rep starts a fresh server of each kind on the same vault (8 workers,
# 2 slots) and runs `esem-vault bench --clients C --seconds S` against it,
# the two kinds alternated.  Prints every run and the medians.
set -u
reps=3 secs=5 clients=8 build=
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --seconds) secs=$2; shift ;;
    --clients) clients=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build=$1 ;;
  esac
  shift
done
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${build:-$top/build}" && pwd) || { echo "vault-bench: no build directory" >&2; exit 1; }
V=$B/vault/esem-vault ESEMD=$B/host/esemd RUN=$B/tools/esem
for f in "$V" "$ESEMD" "$RUN"; do [ -x "$f" ] || { echo "vault-bench: $f missing (ninja -C $B)" >&2; exit 1; }; done
T=$(mktemp -d /tmp/esem-vault-bench.XXXXXX)
SRV= DAEMON=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; [ -n "$DAEMON" ] && kill $DAEMON 2>/dev/null; wait; rm -rf "$T"' EXIT
echo "vault-bench-password" >"$T/pw"
"$V" useradd --dir "$T/vault" bench <"$T/pw" >/dev/null || exit 1
mkdir -m 700 "$T/esem"
"$ESEMD" -f -s "$T/esem/s" --log "$T/esem/log" --policy=strict ${ESEMD_ARGS:-} &
DAEMON=$!
for _ in $(seq 100); do [ -S "$T/esem/s" ] && break; sleep 0.05; done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
one() { # one legacy|hardened: ops/s of one bench run
  local p; p=$(port)
  if [ "$1" = legacy ]; then
    "$V" serve --dir "$T/vault" --port "$p" --workers 8 --slots 2 >"$T/serve.log" 2>&1 &
  else
    ESEM_SOCKET=$T/esem/s "$RUN" run -- "$V" serve --dir "$T/vault" --port "$p" --workers 8 --slots 2 >"$T/serve.log" 2>&1 &
  fi
  SRV=$!
  for _ in $(seq 100); do grep -q serving "$T/serve.log" && break; sleep 0.05; done
  "$V" bench --port "$p" --user bench --dir "$T/vault" --password-file "$T/pw" \
    --clients "$clients" --seconds "$secs" | sed -n 's/.*errors \([0-9]*\) ops\/s \([0-9.]*\).*/\2 \1/p'
  kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
}
L=() H=()
for r in $(seq "$reps"); do
  read -r l le <<<"$(one legacy)"; read -r h he <<<"$(one hardened)"
  echo "run $r: legacy $l ops/s ($le errors), hardened $h ops/s ($he errors)"
  L+=("$l"); H+=("$h")
done
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ml=$(med "${L[@]}") mh=$(med "${H[@]}")
echo "clients $clients, $secs s a run, $reps runs a side; $(nproc) CPUs; $(uname -r)"
echo "median: legacy $ml ops/s, hardened $mh ops/s, hardened/legacy $(awk -v a="$ml" -v b="$mh" 'BEGIN { printf "%.2f", b / a }')"
grep -c 'audit: refused' "$T/esem/log" | sed 's/^/esemd refusals during the runs: /'
