#!/bin/bash
# The Debian packages, as a packager and an administrator meet them (root):
# build them from the tree (dpkg-buildpackage -b), lintian (no error), install
# them, start the installed daemon as its units would (systemd's socket
# activation, emulated by systemd-socket-activate: no systemd as PID 1 here),
# ask it through esemctl --system, run a program under esem run, remove and
# purge, and check nothing is left.  Exit 77 (skip) when not root or without
# debhelper.
#   test-deb.sh SOURCE_TREE
set -u
src=$(cd "${1:-.}" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: the package test installs packages: root only"; exit 77; }
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
  { echo "SKIP: dpkg-buildpackage and debhelper are needed (apt-get install dpkg-dev debhelper)"; exit 77; }
if dpkg-query -W -f='${Status}' esemd 2>/dev/null | grep -q "install ok installed"; then
  echo "SKIP: esemd is installed already on this machine; not touching it"; exit 77
fi
W=$(mktemp -d /tmp/esem-deb.XXXXXX)
ACT=
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
pkgs=(esemd libesem0 libesem-dev esem-apps)
cleanup() {
  [ -n "$ACT" ] && { kill "$ACT" 2>/dev/null; pkill -f '^/usr/bin/esemd --system' 2>/dev/null; wait "$ACT" 2>/dev/null; }
  dpkg-query -W -f='${Status}' esemd 2>/dev/null | grep -q installed &&
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT

# 1. build
mkdir "$W/src"
tar -C "$src" --exclude='./build*' --exclude='./.git' --exclude='./obj-*' -cf - . | tar -C "$W/src" -xf -
(cd "$W/src" && dpkg-buildpackage -b -us -uc >"$W/build.log" 2>&1) &&
  pass "dpkg-buildpackage -b -us -uc" || { fail "dpkg-buildpackage: $(tail -n 20 "$W/build.log")"; exit 1; }
for p in "${pkgs[@]}"; do
  ls "$W"/"${p}"_*.deb >/dev/null 2>&1 && pass "package $p built" || fail "no package $p"
done
dpkg-deb -c "$W"/libesem0_*.deb | grep -q 'libesem.so.0 ->' && pass "libesem0 holds the soname link" || fail "libesem0: no libesem.so.0"
dpkg-deb -I "$W"/libesem0_*.deb symbols >/dev/null 2>&1 && pass "libesem0 has a symbols file" || fail "libesem0: no symbols file"
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$W"/esem_*.changes >"$W/lintian.log" 2>&1
  if grep -q '^E:' "$W/lintian.log"; then fail "lintian errors: $(grep '^E:' "$W/lintian.log" | head -5)"
  else pass "lintian: no error ($(grep -c '^W:' "$W/lintian.log") warning(s))"; fi
else
  echo "skip - lintian not installed"
fi

# 2. install
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$W"/esemd_*.deb "$W"/libesem0_*.deb \
  "$W"/libesem-dev_*.deb "$W"/esem-apps_*.deb >"$W/install.log" 2>&1 &&
  pass "apt-get install of the four packages" || { fail "install: $(tail -n 10 "$W/install.log")"; exit 1; }
getent passwd esem >/dev/null && pass "the system user esem exists" || fail "no user esem"
for f in /usr/bin/esemd /usr/bin/esemctl /usr/bin/esem /usr/bin/esem-vault /usr/include/esem.h \
         /lib/systemd/system/esemd.socket /lib/systemd/system/esemd.service; do
  [ -e "$f" ] || fail "not installed: $f"
done
ls /usr/lib/*/esem/libesem-preload.so >/dev/null 2>&1 && pass "the shim in its private directory" || fail "no shim"
pkg-config --exists esem && pass "pkg-config finds esem" || fail "pkg-config esem"
printf '#include <esem.h>\nint main(void){esem_t *s=esem_create(0);return s?esem_destroy(s):0;}\n' >"$W/t.c"
cc "$W/t.c" $(pkg-config --cflags --libs esem) -o "$W/t" && pass "a program builds against libesem-dev" || fail "build against libesem-dev"

# 3. the daemon as its units start it: esemd.socket (ListenSequentialPacket=
# /run/esem/esemd.sock, DirectoryMode 0755) starts esemd.service's ExecStart
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/esemd.service)
listen=$(sed -n 's/^ListenSequentialPacket=//p' /lib/systemd/system/esemd.socket)
[ "$exec_start" = "/usr/bin/esemd --system --foreground" ] && [ "$listen" = /run/esem/esemd.sock ] &&
  pass "units: $exec_start on $listen" || fail "units: '$exec_start' '$listen'"
mkdir -p -m 0755 /run/esem
# shellcheck disable=SC2086
systemd-socket-activate --seqpacket -l "$listen" $exec_start >"$W/esemd.out" 2>&1 &
ACT=$!
for _ in $(seq 50); do [ -S "$listen" ] && break; sleep 0.1; done
chmod 0666 "$listen"
esemctl --system stats >"$W/stats" 2>&1 && grep -q 'semaphores' "$W/stats" &&
  pass "esemctl --system stats answers through the installed daemon" || fail "stats: $(cat "$W/stats") $(cat "$W/esemd.out")"
ps -o user= -C esemd | grep -q esem && pass "the daemon runs as esem" || fail "daemon user: $(ps -o user=,args= -C esemd)"
(cd "$W" && ESEM_SYSTEM=1 timeout 60 esem run -- esem-vault demo >"$W/demo" 2>&1) && grep -q "demo done" "$W/demo" &&
  pass "ESEM_SYSTEM=1 esem run -- esem-vault demo" || fail "demo: $(tail -n 5 "$W/demo")"
kill "$ACT" 2>/dev/null; pkill -f '^/usr/bin/esemd --system' 2>/dev/null; wait "$ACT" 2>/dev/null; ACT=
rm -f "$listen"; rmdir /run/esem 2>/dev/null

# 4. remove and purge: nothing left
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >"$W/purge.log" 2>&1 &&
  pass "apt-get purge" || fail "purge: $(tail -n 5 "$W/purge.log")"
left=$(ls -d /usr/bin/esem* /usr/lib/*/esem /usr/lib/*/libesem* /usr/include/esem.h \
  /lib/systemd/system/esemd.* /usr/share/man/man*/esem* /usr/share/doc/esem* 2>/dev/null)
[ -z "$left" ] && pass "nothing of the packages left" || fail "left behind: $left"
getent passwd esem >/dev/null && fail "the user esem is left after purge" || pass "purge removed the user esem"
echo "$fails failed"
[ "$fails" = 0 ]
