#!/usr/bin/env bash
# esemd --system, for real: root starts it, it drops to a dedicated user,
# clients of two uids (root and nobody) use it.  Needs root (exit 77, a
# skip, otherwise).  Creates the system user esemtest and the group
# esemtestg if missing.  The daemons listen on private paths under a fresh
# temporary directory, never on /run/esem.
#
# Environment (from meson): ESEMD, ESEMCTL, SYSCLIENT.
set -u
: "${ESEMD:?}" "${ESEMCTL:?}" "${SYSCLIENT:?}"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: esemd --system needs root"
    exit 77
fi
for t in setpriv useradd groupadd getent stat; do
    command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done

TUSER=esemtest
TGROUP=esemtestg
getent passwd "$TUSER" >/dev/null ||
    useradd --system --no-create-home --shell /usr/sbin/nologin "$TUSER" ||
    { echo "FAIL: cannot create user $TUSER"; exit 1; }
getent group "$TGROUP" >/dev/null || groupadd --system "$TGROUP" ||
    { echo "FAIL: cannot create group $TGROUP"; exit 1; }
TUID=$(id -u "$TUSER")
TGID=$(id -g "$TUSER")
GGID=$(getent group "$TGROUP" | cut -d: -f3)
NOBODY=65534

umask 022
T=$(mktemp -d /tmp/esem-systest.XXXXXX) || exit 1
chmod 0755 "$T" # nobody must reach the sockets below it
APID= BPID=
cleanup() {
    for p in $APID $BPID; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    if [ "$fails" = 0 ]; then rm -rf "$T"; else echo "files kept in $T"; fi
}
fails=0
trap cleanup EXIT

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
# expect DESCRIPTION EXPECTED ACTUAL
expect() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# expect_grep DESCRIPTION PATTERN FILE
expect_grep() {
    if grep -qE -- "$2" "$3"; then pass "$1"; else fail "$1: no line matching '$2' in $3"; cat "$3"; fi
}
as_nobody() { setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups -- "$@"; }
as_member() { setpriv --reuid "$NOBODY" --regid "$NOBODY" --groups "$GGID" -- "$@"; }
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds
wait_for() {
    local n=$(($1 * 20))
    shift
    while ! "$@" 2>/dev/null; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.05
    done
}
status_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^[ \t]+/, ""); print }' "/proc/$1/status"; }
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

echo "# start-up refusals"
out=$(as_nobody "$ESEMD" --system --user "$TUSER" --socket "$T/x/esemd.sock" 2>&1)
rc=$?
expect "non-root --system: exit status" 2 "$rc"
case $out in *"must be started as root"*) pass "non-root --system: says why" ;;
    *) fail "non-root --system: message '$out'" ;; esac
out=$("$ESEMD" --system --user esem-no-such-user --socket "$T/x/esemd.sock" 2>&1)
rc=$?
expect "unknown --user: exit status" 1 "$rc"
case $out in *"useradd --system --no-create-home --shell /usr/sbin/nologin esem-no-such-user"*)
    pass "unknown --user: names the useradd command" ;;
    *) fail "unknown --user: message '$out'" ;; esac
"$ESEMD" --user "$TUSER" --socket "$T/x/esemd.sock" >/dev/null 2>&1
expect "--user without --system: exit status" 2 "$?"
mkdir "$T/rootdir"
out=$("$ESEMD" --system --user "$TUSER" --socket "$T/rootdir/esemd.sock" 2>&1)
rc=$?
expect "runtime directory owned by root: exit status" 1 "$rc"
case $out in *"refusing runtime directory $T/rootdir"*) pass "runtime directory owned by root: refused" ;;
    *) fail "runtime directory owned by root: message '$out'" ;; esac
ln -s "$T/rootdir" "$T/link"
out=$("$ESEMD" --system --user "$TUSER" --socket "$T/link/esemd.sock" 2>&1)
expect "runtime directory a symbolic link: exit status" 1 "$?"
case $out in *"refusing runtime directory $T/link"*) pass "runtime directory a symbolic link: refused" ;;
    *) fail "runtime directory a symbolic link: message '$out'" ;; esac
out=$("$ESEMD" --system --user "$TUSER" --socket "$T/l/esemd.sock" --foreground \
    --log "$T/root-only.log" 2>&1)
expect "log where the daemon user cannot write: exit status" 1 "$?"
case $out in *"cannot open log $T/root-only.log: Permission denied (opened as the daemon user)"*)
    pass "log where the daemon user cannot write: refused, root opened nothing" ;;
    *) fail "log as the daemon user: message '$out'" ;; esac
[ ! -e "$T/root-only.log" ] || fail "root created $T/root-only.log"
[ ! -e "$T/x" ] && pass "nothing created by the refused starts" || fail "$T/x was created"

echo "# daemon A: --system --user $TUSER, foreground"
A=$T/a
"$ESEMD" --system --user "$TUSER" --socket "$A/esemd.sock" --foreground --log "$A/esemd.log" \
    2>"$T/a.err" &
APID=$!
wait_for 10 sh -c "grep -q 'start: socket' '$A/esemd.log' || ! kill -0 $APID"
if ! grep -q "start: socket" "$A/esemd.log" 2>/dev/null || ! kill -0 "$APID"; then
    fail "daemon A did not start"
    cat "$A/esemd.log" "$T/a.err" 2>&1
    exit 1
fi
pass "daemon A started (pid $APID)"
expect "daemon: Uid (real, effective, saved, fs)" "$TUID $TUID $TUID $TUID" "$(status_field "$APID" Uid | tr -s ' \t' ' ')"
expect "daemon: Gid (real, effective, saved, fs)" "$TGID $TGID $TGID $TGID" "$(status_field "$APID" Gid | tr -s ' \t' ' ')"
expect "daemon: no supplementary groups" "" "$(status_field "$APID" Groups)"
expect "daemon: NoNewPrivs" 1 "$(status_field "$APID" NoNewPrivs)"
for c in CapEff CapPrm CapInh CapBnd CapAmb; do
    expect "daemon: $c" 0000000000000000 "$(status_field "$APID" "$c")"
done
expect "daemon: not dumpable (/proc/PID owned by root)" 0 "$(stat -c %u "/proc/$APID/status")"
expect_grep "daemon log: privileges dropped, setuid(0) fails" \
    "privileges dropped: uid $TUID \($TUSER\) gid $TGID, .*setuid\(0\) now fails \(EPERM\)" "$A/esemd.log"
expect_grep "daemon log: the socket is open to all" "system-wide: socket mode 0666" "$A/esemd.log"
lck=$(status_field "$APID" VmLck | awk '{print $1}')
if grep -q "core arena [0-9]* bytes (.*locked)" "$A/esemd.log" && [ "${lck:-0}" -gt 1000 ]; then
    pass "daemon: core arena still locked after the drop (VmLck $lck kB)"
else
    fail "daemon: arena not locked after the drop (VmLck ${lck:-?} kB)"
fi
expect "runtime directory: mode, owner, group" "755 $TUSER $TUSER" "$(stat -c '%a %U %G' "$A")"
expect "socket: type, mode, owner" "socket 666 $TUSER" "$(stat -c '%F %a %U' "$A/esemd.sock")"
expect "lock file: mode, owner" "600 $TUSER" "$(stat -c '%a %U' "$A/esemd.sock.lock")"
expect "log file: mode, owner" "600 $TUSER" "$(stat -c '%a %U' "$A/esemd.log")"

echo "# clients of two uids on daemon A"
export ESEM_SOCKET=$A/esemd.sock
R=/systest-$$
expect "root creates $R-root 0600" ok "$("$SYSCLIENT" create "$R-root" 600 0)"
expect "nobody creates $R-nobody 0600" ok "$(as_nobody "$SYSCLIENT" create "$R-nobody" 600 0)"
expect "root posts its own" ok "$("$SYSCLIENT" post "$R-root")"
expect "root takes it back" ok "$("$SYSCLIENT" trywait "$R-root")"
expect "root: no permit left" EAGAIN "$("$SYSCLIENT" trywait "$R-root")"
expect "nobody posts its own" ok "$(as_nobody "$SYSCLIENT" post "$R-nobody")"
expect "nobody's value" 1 "$(as_nobody "$SYSCLIENT" value "$R-nobody")"
expect "nobody takes it back" ok "$(as_nobody "$SYSCLIENT" trywait "$R-nobody")"
mark=$(wc -l <"$A/esemd.log")
expect "nobody opens root's 0600 semaphore" EACCES "$(as_nobody "$SYSCLIENT" open "$R-root")"
expect "nobody posts root's 0600 semaphore" EACCES "$(as_nobody "$SYSCLIENT" post "$R-root")"
expect "nobody unlinks root's 0600 semaphore" EACCES "$(as_nobody "$SYSCLIENT" unlink "$R-root")"
expect "root's 0600 value untouched" 0 "$("$SYSCLIENT" value "$R-root")"
wait_for 5 sh -c "tail -n +$((mark + 1)) '$A/esemd.log' | grep -q 'audit: refused open pid=[0-9]* uid=$NOBODY: .*(Permission denied)'" &&
    pass "daemon log: audit line for nobody's refused open" ||
    fail "daemon log: no audit line for nobody's refused open"
expect "root creates $R-shared 0666" ok "$("$SYSCLIENT" create "$R-shared" 666 0)"
expect "nobody posts root's 0666 semaphore" ok "$(as_nobody "$SYSCLIENT" post "$R-shared")"
expect "root sees nobody's post" 1 "$("$SYSCLIENT" value "$R-shared")"
expect "root takes it" ok "$("$SYSCLIENT" trywait "$R-shared")"
expect "root posts again" ok "$("$SYSCLIENT" post "$R-shared")"
expect "nobody takes root's post" ok "$(as_nobody "$SYSCLIENT" trywait "$R-shared")"
expect "the 0666 semaphore is back to 0" 0 "$(as_nobody "$SYSCLIENT" value "$R-shared")"
expect_grep "daemon log: a root session" "session start pid=[0-9]+ uid=0 gid=0" "$A/esemd.log"
expect_grep "daemon log: a nobody session" "session start pid=[0-9]+ uid=$NOBODY gid=$NOBODY" "$A/esemd.log"
ls_out=$("$ESEMCTL" --socket "$A/esemd.sock" ls)
case $ls_out in *"$R-root"*"$R-shared"*|*"$R-shared"*"$R-root"*) pass "esemctl ls as root lists them" ;;
    *) fail "esemctl ls: $ls_out" ;; esac
for cmd in ls stats audit stop; do
    mark=$(wc -l <"$A/esemd.log")
    out=$(as_nobody "$ESEMCTL" --socket "$A/esemd.sock" $cmd 2>&1)
    rc=$?
    case "$rc $out" in
    "1 esemctl: esemd refused the connection: Permission denied")
        pass "nobody's esemctl $cmd: refused (EACCES)" ;;
    *) fail "nobody's esemctl $cmd: status $rc, '$out'" ;;
    esac
    wait_for 5 sh -c "tail -n +$((mark + 1)) '$A/esemd.log' | grep -q 'audit: refused connection pid=[0-9]* uid=$NOBODY: admin connection from a user other than root'" ||
        fail "nobody's esemctl $cmd: no audit line"
done
kill -0 "$APID" && pass "daemon A still runs" || fail "daemon A stopped by nobody"
expect "nobody unlinks its own" ok "$(as_nobody "$SYSCLIENT" unlink "$R-nobody")"
expect "root unlinks its own" ok "$("$SYSCLIENT" unlink "$R-root")"
expect "root unlinks the shared one" ok "$("$SYSCLIENT" unlink "$R-shared")"
unset ESEM_SOCKET

echo "# how clients find the system daemon"
expect "ESEM_SYSTEM=1 selects /run/esem" /run/esem/esemd.sock "$(ESEM_SYSTEM=1 "$SYSCLIENT" sockpath)"
expect "ESEM_SOCKET wins over ESEM_SYSTEM" "$A/esemd.sock" \
    "$(ESEM_SOCKET=$A/esemd.sock ESEM_SYSTEM=1 "$SYSCLIENT" sockpath)"
d=$(env -u ESEM_SOCKET -u ESEM_SYSTEM XDG_RUNTIME_DIR= "$SYSCLIENT" sockpath)
expect "no fallback: without ESEM_SYSTEM the per-user default" "/tmp/esem-0/esemd.sock" "$d"
if [ ! -e /run/esem/esemd.sock ]; then
    out=$(env -u ESEM_SOCKET "$ESEMCTL" --system stats 2>&1)
    case $out in *"/run/esem/esemd.sock"*"esemd --system"*) pass "esemctl --system uses /run/esem/esemd.sock" ;;
        *) fail "esemctl --system: '$out'" ;; esac
fi

echo "# stopping daemon A"
"$ESEMCTL" --socket "$A/esemd.sock" stop
wait "$APID"
rc=$?
APID=
expect "daemon A exit status" 0 "$rc"
[ ! -e "$A/esemd.sock" ] && pass "daemon A removed its socket" || fail "socket left behind"
expect_grep "daemon A logged its stop" "esemd\[[0-9]+\]: stop$" "$A/esemd.log"
if [ -s "$T/a.err" ]; then fail "daemon A wrote to stderr (sanitizer?)"; cat "$T/a.err"; else pass "daemon A stderr empty"; fi

echo "# daemon B: --group $TGROUP, detached"
B=$T/b
"$ESEMD" --system --user "$TUSER" --group "$TGROUP" --socket "$B/esemd.sock"
expect "daemon B: the starter's exit status" 0 "$?"
BPID=$(grep -o 'esemd\[[0-9]*\]: start: ' "$B/esemd.log" | grep -o '[0-9][0-9]*' | tail -n 1)
[ -n "$BPID" ] && kill -0 "$BPID" && pass "daemon B runs (pid $BPID), log beside its socket" ||
    { fail "daemon B not running"; cat "$B/esemd.log"; exit 1; }
expect "daemon B: Uid" "$TUID $TUID $TUID $TUID" "$(status_field "$BPID" Uid | tr -s ' \t' ' ')"
expect "daemon B: no supplementary groups (not even $TGROUP)" "" "$(status_field "$BPID" Groups)"
expect "socket: type, mode, owner, group" "socket 660 $TUSER $TGROUP" "$(stat -c '%F %a %U %G' "$B/esemd.sock")"
expect_grep "daemon B log: members only" "socket mode 0660, group $TGROUP \(gid $GGID\)" "$B/esemd.log"
expect "non-member: connect refused" EACCES "$(as_nobody "$SYSCLIENT" connect "$B/esemd.sock")"
expect "non-member: esem_open fails" ECONNREFUSED \
    "$(ESEM_SOCKET=$B/esemd.sock as_nobody "$SYSCLIENT" create "$R-m" 600 0)"
expect "member: connects" ok "$(as_member "$SYSCLIENT" connect "$B/esemd.sock")"
expect "member: creates" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" create "$R-m" 600 0)"
expect "member: posts" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" post "$R-m")"
expect "member: takes" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" trywait "$R-m")"
expect "root (not a member) still connects" 0 "$(ESEM_SOCKET=$B/esemd.sock "$SYSCLIENT" value "$R-m")"
expect "member: unlinks" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" unlink "$R-m")"

echo "# daemon B: restart without loss (root only, on a system daemon)"
expect "member: creates $R-keep" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" create "$R-keep" 600 0)"
expect "member: posts it" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" post "$R-keep")"
mark=$(wc -l <"$B/esemd.log")
as_member "$ESEMD" --takeover --foreground --socket "$B/esemd.sock" >/dev/null 2>&1
expect "a member's esemd --takeover fails" 1 "$?"
wait_for 5 sh -c "tail -n +$((mark + 1)) '$B/esemd.log' | grep -q 'audit: refused connection pid=[0-9]* uid=$NOBODY: takeover asked by a user other than root'" &&
    pass "daemon B log: audit line for the member's takeover" ||
    fail "daemon B log: no audit line for the member's takeover"
kill -0 "$BPID" && pass "daemon B still runs after the refused takeover" || fail "daemon B stopped"
# (no options given: the new daemon gets the running one's, --system --user
# --group among them, from its command line)
out=$(ESEMD=$ESEMD "$ESEMCTL" --socket "$B/esemd.sock" restart 2>&1)
rc=$?
NPID=$(printf '%s\n' "$out" | sed -n 's/.*restarted without loss: pid [0-9]* -> \([0-9]*\)$/\1/p')
[ "$rc" = 0 ] && [ -n "$NPID" ] && pass "root's esemctl restart: $out" || fail "restart: status $rc, '$out'"
wait_for 10 gone "$BPID" && pass "the old daemon B exited" || fail "the old daemon B still runs"
if [ -n "$NPID" ] && kill -0 "$NPID" 2>/dev/null; then
    BPID=$NPID
    expect "new daemon B: Uid" "$TUID $TUID $TUID $TUID" "$(status_field "$BPID" Uid | tr -s ' \t' ' ')"
    expect "new daemon B: CapEff" 0000000000000000 "$(status_field "$BPID" CapEff)"
    expect "new daemon B: not dumpable" 0 "$(stat -c %u "/proc/$BPID/status")"
fi
expect "the socket is the same: type, mode, owner, group" "socket 660 $TUSER $TGROUP" "$(stat -c '%F %a %U %G' "$B/esemd.sock")"
expect "member: the value survived the restart" 1 "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" value "$R-keep")"
expect "member: takes it" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" trywait "$R-keep")"
expect "member: unlinks it" ok "$(ESEM_SOCKET=$B/esemd.sock as_member "$SYSCLIENT" unlink "$R-keep")"
expect "non-member: still refused" EACCES "$(as_nobody "$SYSCLIENT" connect "$B/esemd.sock")"
expect_grep "daemon B log: the new daemon took over" "esemd\[$BPID\]: took over from pid" "$B/esemd.log"
"$ESEMCTL" --socket "$B/esemd.sock" stop
wait_for 10 gone "$BPID" && pass "daemon B stopped" || fail "daemon B did not stop"
BPID=
expect_grep "daemon B logged its stop" "esemd\[[0-9]+\]: stop$" "$B/esemd.log"

echo "# $fails failure(s)"
[ "$fails" = 0 ]
