#!/bin/bash
# Run one POSIX conformance program under the esem preload shim, against a
# private esemd:
#
#   ESEMD=... ESEMCTL=... ESEM_PRELOAD=... run-shim.sh BINARY [ARGS...]
#
# Starts "$ESEMD -f -s DIR/esemd.sock --log DIR/esemd.log" on a fresh
# mktemp -d directory, waits (bounded) until "esemctl stats" gets an answer,
# runs BINARY with ESEM_SOCKET and LD_PRELOAD=$ESEM_PRELOAD, stops esemd with
# SIGTERM and requires it to exit 0.  Exits with the binary's status (77 =
# skipped, as meson reads it).  On any failure it prints the daemon's log.
#
# It also requires that the program created nothing in /dev/shm: under the
# shim no semaphore may fall back to glibc's files.  The programs name their
# semaphores /px-TAG-PID (PID: the program's), so files of theirs are told
# apart from those of whatever else runs on the machine.
set -u

die() { echo "run-shim: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: run-shim.sh BINARY [ARGS...]"
BIN=$1
shift
: "${ESEMD:?run-shim: set ESEMD to the esemd binary}"
: "${ESEMCTL:?run-shim: set ESEMCTL to the esemctl binary}"
: "${ESEM_PRELOAD:?run-shim: set ESEM_PRELOAD to libesem-preload.so}"
[ -x "$ESEMD" ] || die "ESEMD=$ESEMD is not executable"
[ -x "$ESEMCTL" ] || die "ESEMCTL=$ESEMCTL is not executable"
[ -r "$ESEM_PRELOAD" ] || die "ESEM_PRELOAD=$ESEM_PRELOAD is not readable"
[ -x "$BIN" ] || die "$BIN is not executable"

# ---- a sanitizer-instrumented shim cannot be preloaded into plain programs ----
# ASan (and TSan) insist on their runtime being the first library loaded;
# LD_PRELOAD of an instrumented shim into an uninstrumented program aborts
# ("ASan runtime does not come first").  That mix is skipped (77), not
# failed.  When the program is instrumented as well (a sanitized build of
# the whole project), the runtime is preloaded ahead of the shim, which is
# what the sanitizer asks for, and the run goes on.
sanitizer_of() {
    # NEEDED entries, or the static runtime's symbols (-static-libasan)
    local f=$1 d
    d=$(LC_ALL=C readelf -dW "$f" 2>/dev/null; LC_ALL=C readelf -sW --dyn-syms "$f" 2>/dev/null | grep -E '__(asan|tsan|hwasan)_init' | head -n 3)
    case $d in
    *libasan* | *__asan_init*) echo asan ;;
    *libtsan* | *__tsan_init*) echo tsan ;;
    *libhwasan* | *__hwasan_init*) echo hwasan ;;
    esac
}
command -v readelf >/dev/null 2>&1 || die "readelf (binutils) is needed"
shim_san=$(sanitizer_of "$ESEM_PRELOAD")
bin_san=$(sanitizer_of "$BIN")
if [ -n "$shim_san" ] && [ "$shim_san" != "$bin_san" ]; then
    echo "run-shim: SKIP: $ESEM_PRELOAD is built with ${shim_san} but $(basename "$BIN") is not;" \
        "an instrumented shim cannot be LD_PRELOADed into an uninstrumented program" >&2
    exit 77
fi
PRELOAD=$ESEM_PRELOAD
if [ -n "$shim_san" ]; then
    # the shim's sanitizer runtime(s), by path, ahead of the shim itself
    rt=$(LC_ALL=C ldd "$ESEM_PRELOAD" 2>/dev/null | awk '$1 ~ /^lib(asan|tsan|hwasan)\.so/ && $3 ~ /^\// { print $3 }')
    if [ -z "$rt" ]; then
        echo "run-shim: SKIP: $ESEM_PRELOAD is built with $shim_san and its runtime library is not" \
            "found (static runtime?): it cannot be preloaded first" >&2
        exit 77
    fi
    # shellcheck disable=SC2086 # one path a line, no blanks in them
    PRELOAD="$(printf '%s ' $rt)$ESEM_PRELOAD"
fi
# The preload must really load: ld.so only warns when it cannot, and the
# program would then silently run on glibc.
probe=$(LD_PRELOAD=$PRELOAD /bin/true 2>&1)
case $probe in
*"cannot be preloaded"* | *"ERROR"*) die "LD_PRELOAD=$ESEM_PRELOAD does not load: $probe" ;;
esac

# ---- the daemon ----
DIR=$(mktemp -d "${TMPDIR:-/tmp}/px-esemd.XXXXXX") || die "mktemp -d failed"
SOCK=$DIR/esemd.sock
LOG=$DIR/esemd.log
ERR=$DIR/esemd.stderr
DPID=
keep=0

show_log() {
    echo "---- esemd log ($LOG) ----" >&2
    [ -f "$LOG" ] && tail -n 200 "$LOG" >&2
    if [ -s "$ERR" ]; then
        echo "---- esemd stderr ----" >&2
        tail -n 100 "$ERR" >&2
    fi
    echo "---- end of esemd log ----" >&2
}

# shellcheck disable=SC2317 # called from the trap
cleanup() {
    if [ -n "${TPID:-}" ] && kill -0 "$TPID" 2>/dev/null; then
        kill -KILL "$TPID" 2>/dev/null
    fi
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    [ -n "${WATCH:-}" ] && kill "$WATCH" 2>/dev/null
    [ "$keep" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ESEMD" -f -s "$SOCK" --log "$LOG" </dev/null >/dev/null 2>"$ERR" &
DPID=$!

ready=0
for _ in $(seq 1 200); do # 200 x 50 ms = 10 s
    if ! kill -0 "$DPID" 2>/dev/null; then
        wait "$DPID"
        echo "run-shim: esemd exited early (status $?)" >&2
        show_log
        exit 1
    fi
    if [ -S "$SOCK" ] && timeout 5 "$ESEMCTL" --socket "$SOCK" stats >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.05
done
if [ "$ready" != 1 ]; then
    echo "run-shim: esemd did not answer on $SOCK within 10 s" >&2
    show_log
    exit 1
fi

# Some tests run children that setuid() to other users before they first
# reach the daemon (EACCES between users); esemd makes its socket private to
# its own uid.  Open it to everyone: the daemon's per-semaphore checks, not
# the socket's mode, are what those tests are about.
chmod 0711 "$DIR"
chmod 0666 "$SOCK"

# ---- /dev/shm before ----
shm_list() {
    local f
    for f in /dev/shm/sem.*; do
        [ -e "$f" ] && printf '%s\n' "${f#/dev/shm/}"
    done | sort
}
before=$(shm_list)
SEEN=$DIR/shm.seen
: >"$SEEN"

# ---- the program ----
# ESEM_PRIVATE is passed on as the test asked (meson: esem for posix-esem, so
# that process-private semaphores go through the daemon too; unset for
# posix-esem-semaphore, the default: they stay in the process).
env -u ESEM_FALLBACK ${ESEM_PRIVATE:+ESEM_PRIVATE=$ESEM_PRIVATE} ESEM_SOCKET="$SOCK" \
    LD_PRELOAD="$PRELOAD" "$BIN" "$@" &
TPID=$!
# Watch /dev/shm while it runs, to catch files made and removed in between.
(
    while kill -0 "$TPID" 2>/dev/null; do
        for f in /dev/shm/sem.px-*-"$TPID"; do
            [ -e "$f" ] && printf '%s\n' "${f#/dev/shm/}"
        done >>"$SEEN"
        sleep 0.05
    done
) &
WATCH=$!
wait "$TPID"
status=$?
TPID_DONE=$TPID
TPID=
wait "$WATCH" 2>/dev/null
WATCH=

fail=0
case $status in
0 | 77) ;;
*)
    echo "run-shim: $(basename "$BIN") exited with status $status" >&2
    fail=1
    ;;
esac

# ---- /dev/shm after ----
after=$(shm_list)
new=$(comm -13 <(printf '%s\n' "$before" | sed '/^$/d') <(printf '%s\n' "$after" | sed '/^$/d'))
mine=$( (printf '%s\n' "$new" | grep -E "^sem\.px-.*-$TPID_DONE\$"; sort -u "$SEEN") | sed '/^$/d' | sort -u)
if [ -n "$mine" ]; then
    echo "run-shim: the program created files in /dev/shm under the shim (fell back to glibc?):" >&2
    printf '%s\n' "$mine" | sed 's|^|  /dev/shm/|' >&2
    fail=1
fi
others=$(printf '%s\n' "$new" | grep -vE "^sem\.px-.*-$TPID_DONE\$" | sed '/^$/d')
[ -n "$others" ] && echo "run-shim: note: new /dev/shm files not from this program: $others" >&2

if [ "$status" = 0 ] && ! grep -q 'session start' "$LOG" 2>/dev/null; then
    echo "run-shim: note: $(basename "$BIN") never opened a session with esemd" >&2
fi

# ---- stop the daemon ----
kill -TERM "$DPID"
dstatus=
for _ in $(seq 1 200); do # 10 s
    if ! kill -0 "$DPID" 2>/dev/null; then
        break
    fi
    sleep 0.05
done
if kill -0 "$DPID" 2>/dev/null; then
    echo "run-shim: esemd did not exit within 10 s of SIGTERM: killing it" >&2
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    fail=1
else
    wait "$DPID"
    dstatus=$?
    if [ "$dstatus" != 0 ]; then
        echo "run-shim: esemd exited with status $dstatus after SIGTERM" >&2
        fail=1
    fi
fi
DPID=
# A daemon that logged an internal error, or wrote to stderr (a sanitizer
# report), failed even if the program did not notice.
if grep -q ' internal: ' "$LOG" 2>/dev/null; then
    echo "run-shim: esemd logged internal errors:" >&2
    grep ' internal: ' "$LOG" | head -n 20 >&2
    fail=1
fi
if [ -s "$ERR" ]; then
    echo "run-shim: esemd wrote to stderr (sanitizer report?)" >&2
    fail=1
fi

if [ "$fail" != 0 ]; then
    show_log
    [ "$status" = 0 ] || [ "$status" = 77 ] && exit 1
    exit "$status"
fi
exit "$status"
