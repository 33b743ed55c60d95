#!/bin/sh
# meson install puts every deliverable under the prefix, and a program
# builds against the installed header and esem.pc alone.
# usage: check-install.sh BUILDDIR
set -eu
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
root=$dest$prefix
for f in bin/esemd bin/esemctl bin/esem-demo bin/esem-bench bin/esem-vault include/esem.h \
         share/man/man3/esem.3 share/man/man3/esem_post.3 share/man/man3/esem_semop.3 \
         share/man/man1/esem-vault.1 share/man/man8/esemd.8 \
         share/bash-completion/completions/esemctl; do
  [ -e "$root/$f" ] || { echo "not installed: $prefix/$f" >&2; exit 1; }
done
lib=$(find "$root" -name 'libesem.so' | head -n 1)
pc=$(find "$root" -name 'esem.pc' | head -n 1)
[ -n "$lib" ] && [ -n "$pc" ] || { echo "libesem.so or esem.pc not installed" >&2; exit 1; }
cat >"$dest/t.c" <<'C'
#include <esem.h>
int main(void) { esem_t *s = esem_create(0); return s ? esem_destroy(s) : 0; }
C
cflags=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags esem)
libs=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --libs esem)
# shellcheck disable=SC2086
${CC:-cc} $cflags "$dest/t.c" $libs -o "$dest/t"
echo "installed: esemd esemctl esem-demo esem-bench esem-vault esem.h libesem.so esem.pc and the man pages (one per call); a program links against them"
