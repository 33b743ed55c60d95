#!/usr/bin/env bash
# The whole test suite: three builds (gcc, clang, gcc with ASan+UBSan), each
# with warnings as errors, each running every test; then one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# Parts of the suite run as other uids (nobody, the lab's uid): they must be
# able to reach the programs they run.  A checkout in a directory only root
# may enter (root's home, any mktemp -d) does not let them, so the suite then
# runs from a copy of the tree in a directory every user may enter.
if [ "$(id -u)" = 0 ] && [ -z "${ESEM_TEST_STAGED:-}" ] &&
   ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$top/run" 2>/dev/null; then
  stage=$(mktemp -d /tmp/esem-test-XXXXXX)
  chmod 0755 "$stage"
  echo "test-all: $top is not reachable by other users; running the suite from a copy in $stage"
  tar -C "$top" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$stage" -xf -
  ESEM_TEST_STAGED=1 "$stage/scripts/test-all.sh"
  rc=$?
  # the build logs and test logs stay in $stage for a look; the sources go
  rm -rf "$stage"/{bench,common,debian,demo,docs,enclave,host,lib,man,preload,scripts,tools,tests,vault}
  exit $rc
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

configs=(
  "build|gcc|"
  "build-clang|clang|"
  "build-asan|gcc|-Db_sanitize=address,undefined -Db_lundef=false"
)
# Compile-only: every other build type a packager or developer uses must
# build cleanly too (warnings are errors), with gcc and clang; running the
# suite again on them would add nothing the three builds above do not test.
deb_cflags="$(dpkg-buildflags --get CFLAGS 2>/dev/null) $(dpkg-buildflags --get CPPFLAGS 2>/dev/null)"
deb_ldflags="$(dpkg-buildflags --get LDFLAGS 2>/dev/null)"
compile_only=(
  "build-debug|gcc|--buildtype=debug"
  "build-release|gcc|--buildtype=release"
  "build-release-clang|clang|--buildtype=release"
  "build-debug-clang|clang|--buildtype=debug"
  "build-debian|gcc|--buildtype=plain"
  "build-debian-clang|clang|--buildtype=plain"
)
fail=0
compiled=0
for cfg in "${compile_only[@]}"; do
  IFS='|' read -r dir compiler opts <<<"$cfg"
  echo "=== $dir ($compiler $opts, compile only) ==="
  if [ ! -f "$dir/build.ninja" ]; then
    envs=(CC="$compiler")
    # Debian's hardening flags (dpkg-buildflags), as a package build uses them
    case $dir in build-debian*) envs+=(CFLAGS="$deb_cflags" LDFLAGS="$deb_ldflags") ;; esac
    # shellcheck disable=SC2086
    env "${envs[@]}" meson setup "$dir" $opts >"$dir.setup.log" 2>&1 ||
      { cat "$dir.setup.log"; fail=1; continue; }
  fi
  if ninja -C "$dir" >"$dir.build.log" 2>&1; then
    compiled=$((compiled + 1))
  else
    echo "FAILED: $dir does not compile"; tail -n 30 "$dir.build.log"; fail=1
  fi
done
for cfg in "${configs[@]}"; do
  IFS='|' read -r dir compiler opts <<<"$cfg"
  echo "=== $dir ($compiler ${opts:-default}) ==="
  if [ ! -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    CC=$compiler meson setup "$dir" $opts >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; fail=1; continue; }
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"; fail=1; continue
  fi
  meson test -C "$dir" --print-errorlogs --num-processes 1 2>&1 | tail -n 40 || true
done

# The Debian packages: built, checked with lintian, installed, the installed
# daemon asked, removed (root only; one check, skipped otherwise)
echo "=== Debian packages (tests/package/test-deb.sh) ==="
bash tests/package/test-deb.sh "$top" 2>&1 | tail -n 30
pkg_rc=${PIPESTATUS[0]}

python3 - "$fail" "$compiled" "$pkg_rc" build build-clang build-asan <<'PY'
import json, os, sys
build_failed = int(sys.argv[1])
# each compile-only build type that built counts as one passed check
passed, failed, skipped = int(sys.argv[2]), 0, 0
pkg = int(sys.argv[3])
if pkg == 0:
    passed += 1
elif pkg == 77:
    skipped += 1
else:
    failed += 1
    print("FAILED: the Debian package test (tests/package/test-deb.sh)")
for d in sys.argv[4:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1
        print(f"{d}: no test results (build failed?)")
        continue
    for line in open(log):
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {d}: {r.get('name')} ({res})")
if build_failed:
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
