#!/bin/sh
# libesem exports the esem_ prefix and nothing else (the version script).
set -eu
bad=$(nm -D --defined-only "$1" | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v -e '^esem_' -e '^ESEM_' || true)
if [ -n "$bad" ]; then
  echo "libesem exports symbols outside the esem_ prefix:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "libesem exports $(nm -D --defined-only "$1" | grep -c ' T esem_') esem_* functions and nothing else"
