#!/bin/sh
# Every function libesem exports has a man page (man/NAME.3, a link to the
# group page esem(3) is fine), and the group page documents it by name.
# usage: check-manpages.sh LIBESEM.so MANDIR
set -eu
lib=$1 man=$2
bad=0
n=0
for sym in $(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u); do
  n=$((n + 1))
  page=$man/$sym.3
  if [ ! -f "$page" ]; then
    echo "no man page for $sym ($page)" >&2
    bad=1
    continue
  fi
  target=$page
  link=$(sed -n 's/^\.so man3\///p' "$page")
  [ -n "$link" ] && target=$man/$link
  if ! grep -q "$sym" "$target"; then
    echo "$target does not document $sym" >&2
    bad=1
  fi
done
[ "$bad" = 0 ] && echo "every one of the $n functions libesem exports has a man page that documents it"
exit "$bad"
