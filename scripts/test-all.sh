#!/usr/bin/env bash
# The whole test suite: three builds (gcc, clang, gcc with ASan+UBSan), each
# with warnings as errors, each running every test; then one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

configs=(
  "build|gcc|"
  "build-clang|clang|"
  "build-asan|gcc|-Db_sanitize=address,undefined -Db_lundef=false"
)
fail=0
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

python3 - "$fail" build build-clang build-asan <<'PY'
import json, os, sys
build_failed = int(sys.argv[1])
passed = failed = skipped = 0
for d in sys.argv[2:]:
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
