#!/bin/sh
# Proves the trusted core is freestanding: every undefined symbol of its
# object is on the allow-list, and its code holds no syscall/sysenter/int 0x80.
# usage: check-core.sh LIBESEMCORE.a symbols.allow
set -eu
lib=$1 allow=$2
nm=${NM:-nm} objdump=${OBJDUMP:-objdump}
bad=0
# undefined in one object of the archive and defined in none of them
defined=$($nm --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u)
for sym in $($nm -u "$lib" | awk '$1 == "U" {print $2}' | sort -u); do
  if printf '%s\n' "$defined" | grep -qx "$sym"; then continue; fi
  if ! grep -qx "$sym" "$allow"; then
    echo "core references $sym, which is not in $allow" >&2
    bad=1
  fi
done
if $objdump -d "$lib" | grep -E '\s(syscall|sysenter|int\s+\$0x80)\b' >&2; then
  echo "core contains a system call instruction" >&2
  bad=1
fi
[ "$bad" = 0 ] && echo "core is freestanding: every undefined symbol is allowed; no syscall instruction"
exit "$bad"
