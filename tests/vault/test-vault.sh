#!/bin/bash
# esem-vault end to end: users, put/get/ls/rm/mkdir, bad input (wrong
# password, wrong pin, an upload cut short, a full disk), restart, fsck, and
# the demo on glibc and under esem run (esemd --policy=strict).
#   ESEM_VAULT=... ESEMD=... ESEM_RUN=... test-vault.sh
set -u
: "${ESEM_VAULT:?set ESEM_VAULT}" "${ESEMD:?set ESEMD}" "${ESEM_RUN:?set ESEM_RUN}"
V=$ESEM_VAULT
T=$(mktemp -d /tmp/esem-vault-test.XXXXXX)
chmod 700 "$T"
SRV=
DAEMON=
MNT=
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # start DIR: a server on a fresh port, $PORT
  PORT=$(port)
  "$V" serve --dir "$1" --port "$PORT" --workers 4 --slots 2 >"$T/serve.log" 2>&1 &
  SRV=$!
  for _ in $(seq 100); do grep -q 'serving' "$T/serve.log" && return 0; sleep 0.05; done
  fail "the server on $1 did not start: $(cat "$T/serve.log")"
  return 1
}
stop() { kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=; }
cl() { "$V" "$1" --port "$PORT" --user alice --dir "$D" --password-file "$T/pw" "${@:2}"; }

D=$T/vault
echo "alice-password" >"$T/pw"
echo "short" | "$V" useradd --dir "$D" alice >/dev/null 2>&1 && fail "a 5-character password was accepted" || pass "short password refused"
echo "alice-password" | "$V" useradd --dir "$D" 'bad name' >/dev/null 2>&1 && fail "a bad user name was accepted" || pass "bad user name refused"
"$V" useradd --dir "$D" alice <"$T/pw" >/dev/null && pass "useradd alice" || fail "useradd alice"
"$V" useradd --dir "$D" alice <"$T/pw" >/dev/null 2>&1 && fail "alice added twice" || pass "alice cannot be added twice"
echo "bob-password" | "$V" useradd --dir "$D" bob >/dev/null || fail "useradd bob"
[ "$(stat -c %a "$D/master.key")" = 600 ] && pass "master.key is 0600" || fail "master.key mode"

start "$D" || exit 1
head -c 100000 /dev/urandom >"$T/in.bin"
cl put "$T/in.bin" /big.bin && cl get /big.bin "$T/out.bin" && cmp -s "$T/in.bin" "$T/out.bin" &&
  pass "put and get 100000 random bytes" || fail "put/get round trip"
python3 - "$T/in.bin" "$D"/blobs/* <<'EOF' && pass "blobs hold no 64-byte run of the plaintext" || fail "a blob holds plaintext"
import sys
plain = open(sys.argv[1], "rb").read()
blobs = [open(p, "rb").read() for p in sys.argv[2:]]
assert blobs, "no blob"
assert sum(len(b) for b in blobs) >= len(plain), "blobs smaller than the file"
sys.exit(1 if any(plain[i:i + 64] in b for b in blobs for i in range(0, len(plain) - 64, 4096)) else 0)
EOF
cl mkdir /docs && echo "note" | cl put - /docs/note.txt && [ "$(cl get /docs/note.txt -)" = note ] &&
  pass "mkdir, put into it from stdin, get to stdout" || fail "mkdir/put/get in a directory"
ls_out=$(cl ls /)
case $ls_out in *"f 100000 big.bin"*"d 0 docs"*|*"d 0 docs"*"f 100000 big.bin"*) pass "ls /" ;; *) fail "ls /: $ls_out" ;; esac
cl rm /docs >/dev/null 2>&1 && fail "rm of a non-empty directory" || pass "rm of a non-empty directory refused"
cl rm /docs/note.txt && cl rm /docs && pass "rm a file, then its directory" || fail "rm"
cl get /docs/note.txt "$T/x" 2>"$T/err" && fail "get of a removed file" ||
  { grep -q "No such file" "$T/err" && pass "get of a removed file: ENOENT" || fail "get of a removed file: $(cat "$T/err")"; }
"$V" ls --port "$PORT" --user bob --dir "$D" --password-file "$T/pw" / 2>"$T/err" && fail "bob with alice's password" ||
  { grep -q "login refused" "$T/err" && pass "wrong password: login refused" || fail "wrong password: $(cat "$T/err")"; }
echo "bob-password" >"$T/pwb"
[ -z "$("$V" ls --port "$PORT" --user bob --dir "$D" --password-file "$T/pwb" /)" ] &&
  pass "bob sees none of alice's files" || fail "bob sees alice's files"
"$V" ls --port "$PORT" --user alice --pin "$(printf '0%.0s' $(seq 64))" --password-file "$T/pw" / 2>"$T/err" && fail "a wrong pin was accepted" ||
  { grep -q "does not match the pin" "$T/err" && pass "wrong pin: refused" || fail "wrong pin: $(cat "$T/err")"; }

# an upload cut short: the header says 100000 bytes, 1000 come, the client goes
python3 - "$PORT" <<'EOF' && pass "a client that disconnects mid-upload" || fail "truncated-upload client"
import socket, ssl, struct, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
def msg(t, body): s.sendall(struct.pack("<IiQ", t, 0, len(body)) + body)
msg(1, b"alice\0alice-password")
h = s.recv(16)
assert struct.unpack("<IiQ", h)[0] == 100, h
path = b"/cut.bin\0"
s.sendall(struct.pack("<IiQ", 2, 0, len(path) + 100000) + path + b"x" * 1000)
s.close()
EOF
sleep 0.3
case $(cl ls /) in *cut.bin*) fail "the cut upload is in the tree" ;; *) pass "nothing of the cut upload in the tree" ;; esac
stop
"$V" fsck --dir "$D" >"$T/fsck" && pass "fsck clean: $(cat "$T/fsck")" || fail "fsck: $(cat "$T/fsck")"

start "$D" || exit 1
cl get /big.bin "$T/out2.bin" && cmp -s "$T/in.bin" "$T/out2.bin" && pass "after a restart the file is there" || fail "file lost across a restart"
stop

# a full disk (root only: a small tmpfs)
if [ "$(id -u)" = 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=600k tmpfs "$T/small" 2>/dev/null; then
  MNT=$T/small
  D2=$MNT/vault
  "$V" useradd --dir "$D2" alice <"$T/pw" >/dev/null
  D_SAVE=$D; D=$D2
  start "$D2" || exit 1
  head -c 200000 /dev/urandom >"$T/200k"
  cl put "$T/200k" /one.bin || fail "the first 200 KB put"
  head -c 1000000 /dev/urandom >"$T/1m"
  cl put "$T/1m" /too-big.bin 2>"$T/err" && fail "a 1 MB put on a 600 KB disk succeeded" ||
    { grep -q "No space left" "$T/err" && pass "full disk: the put fails with ENOSPC" || fail "full disk: $(cat "$T/err")"; }
  cl get /one.bin "$T/one.back" && cmp -s "$T/200k" "$T/one.back" && pass "full disk: the earlier file is intact" || fail "full disk lost a file"
  ls "$D2"/blobs/*.tmp >/dev/null 2>&1 && fail "full disk: a .tmp blob left behind" || pass "full disk: no partial blob left"
  stop
  "$V" fsck --dir "$D2" >"$T/fsck" && pass "full disk: fsck clean" || fail "full disk: fsck: $(cat "$T/fsck")"
  D=$D_SAVE
  umount "$MNT"; MNT=
else
  echo "skip - full disk (needs root to mount a small tmpfs)"
fi

# the demo, on glibc and under esem (a strict daemon)
"$V" demo >"$T/demo" 2>&1 && grep -q "demo done" "$T/demo" && pass "esem-vault demo on glibc" || fail "demo on glibc: $(tail -3 "$T/demo")"
mkdir -m 700 "$T/esem"
"$ESEMD" -f -s "$T/esem/s" --log "$T/esem/log" --policy=strict &
DAEMON=$!
for _ in $(seq 100); do [ -S "$T/esem/s" ] && break; sleep 0.05; done
ESEM_SOCKET=$T/esem/s "$ESEM_RUN" run -- "$V" demo >"$T/demo2" 2>&1 && grep -q "demo done" "$T/demo2" &&
  pass "esem run -- esem-vault demo (esemd --policy=strict)" || fail "demo under esem: $(tail -3 "$T/demo2")"
grep -q "session start" "$T/esem/log" && pass "the demo's server was an esemd client" || fail "no session in the esemd log"
! grep -q "audit: refused" "$T/esem/log" && pass "no refusal in the esemd log" || fail "refusals: $(grep 'audit: refused' "$T/esem/log" | head -2)"
[ ! -e /dev/shm/sem.esem-vault-*-admit ] 2>/dev/null; ls /dev/shm/ | grep -q 'esem-vault' && fail "a /dev/shm file of the vault remains" || pass "no /dev/shm file of the vault"

echo "$fails failed"
[ "$fails" = 0 ]
