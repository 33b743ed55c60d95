/*
 * Keys and files at rest (libsodium).
 *
 *   DIR/master.key   32 random bytes, 0600: stands in for what an SGX build
 *                    would hold as the enclave's sealing key (only the
 *                    enclave could unseal what it wraps);
 *   DIR/users        one line a user, "name:pwhash:wrapped": crypto_pwhash_str
 *                    of the password, and the user's file key wrapped
 *                    (sealed) with the master key (crypto_secretbox, base64);
 *   DIR/blobs/ID     a file's contents, encrypted with its owner's key
 *                    (crypto_secretstream_xchacha20poly1305, 64 KiB chunks,
 *                    the blob id as additional data of the first chunk, so a
 *                    blob cannot be passed off as another).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault.h"

#define CHUNK 65536u
#define WRAPPED (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 32u)

/* Move exactly n bytes to or from fd, retrying short transfers and EINTR. */
static int xfer_all(int fd, void *buf, size_t n, int writing)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = writing ? write(fd, p, n) : read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n) { return xfer_all(fd, buf, n, 0); }
static int write_all(int fd, const void *buf, size_t n) { return xfer_all(fd, (void *)buf, n, 1); }

int master_load(const char *dir, int create, uint8_t key[32])
{
    char path[VAULT_PATH];
    snprintf(path, sizeof path, "%s/master.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        randombytes_buf(key, 32);
        int r = write_all(fd, key, 32) == 0 && fsync(fd) == 0 ? 0 : -EIO;
        close(fd);
        return r;
    }
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = fstat(fd, &st) == 0 && st.st_size == 32 && !(st.st_mode & 077) &&
                    read_all(fd, key, 32) == 0
                ? 0
                : -EINVAL;
    close(fd);
    return r;
}

/* "name:hash:wrapped" -> fields; 0 or -1 */
static int parse_line(char *line, char **name, char **hash, char **wrapped)
{
    char *a = strchr(line, ':');
    char *b = a ? strchr(a + 1, ':') : NULL;
    if (!a || !b)
        return -1;
    *a = *b = 0;
    *name = line;
    *hash = a + 1;
    *wrapped = b + 1;
    (*wrapped)[strcspn(*wrapped, "\r\n")] = 0;
    return 0;
}

static int unwrap(const uint8_t master[32], const char *b64, uint8_t key[32])
{
    uint8_t w[WRAPPED];
    size_t n = 0;
    if (sodium_base642bin(w, sizeof w, b64, strlen(b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != WRAPPED)
        return -EINVAL;
    return crypto_secretbox_open_easy(key, w + crypto_secretbox_NONCEBYTES,
                                      WRAPPED - crypto_secretbox_NONCEBYTES, w, master) == 0
               ? 0
               : -EBADMSG;
}

static int users_scan(const char *dir, const uint8_t master[32], const char *want,
                      uint32_t want_index, struct vuser *u)
{
    char path[VAULT_PATH];
    snprintf(path, sizeof path, "%s/users", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? -ENOENT : -errno;
    char line[512];
    uint32_t idx = 0;
    int r = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        idx++;
        char *name, *hash, *wrapped;
        if (parse_line(line, &name, &hash, &wrapped) < 0)
            continue;
        size_t nl = strlen(name), hl = strlen(hash);
        if (nl >= sizeof u->name || hl >= sizeof u->hash)
            continue; /* not a line users_add wrote */
        if ((want && strcmp(name, want) == 0) || (!want && idx == want_index)) {
            memset(u, 0, sizeof *u);
            memcpy(u->name, name, nl + 1);
            memcpy(u->hash, hash, hl + 1);
            u->index = idx;
            r = master ? unwrap(master, wrapped, u->key) : 0;
            break;
        }
    }
    fclose(f);
    return r;
}

int users_find(const char *dir, const uint8_t master[32], const char *name, struct vuser *u)
{
    return users_scan(dir, master, name, 0, u);
}

int users_by_index(const char *dir, const uint8_t master[32], uint32_t index, struct vuser *u)
{
    return users_scan(dir, master, NULL, index, u);
}

int users_add(const char *dir, const char *name, const char *password)
{
    size_t len = strlen(name);
    if (len == 0 || len >= VAULT_USER || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
        return -EINVAL;
    struct vuser u;
    if (users_find(dir, NULL, name, &u) == 0)
        return -EEXIST;
    uint8_t master[32];
    int r = master_load(dir, 1, master);
    if (r)
        return r;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -ENOMEM;
    uint8_t key[32], w[WRAPPED];
    crypto_secretstream_xchacha20poly1305_keygen(key);
    randombytes_buf(w, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(w + crypto_secretbox_NONCEBYTES, key, sizeof key, w, master);
    sodium_memzero(key, sizeof key);
    sodium_memzero(master, sizeof master);
    char b64[sodium_base64_ENCODED_LEN(WRAPPED, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, w, sizeof w, sodium_base64_VARIANT_ORIGINAL);
    char path[VAULT_PATH];
    snprintf(path, sizeof path, "%s/users", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char line[512];
    int n = snprintf(line, sizeof line, "%s:%s:%s\n", name, hash, b64);
    r = write_all(fd, line, (size_t)n) == 0 && fsync(fd) == 0 ? 0 : -EIO;
    close(fd);
    return r;
}

static void blob_path(const char *dir, uint64_t blob, char *out, size_t len, int tmp)
{
    snprintf(out, len, "%s/blobs/%llu%s", dir, (unsigned long long)blob, tmp ? ".tmp" : "");
}

int blob_write(const char *dir, uint64_t blob, const uint8_t key[32], const uint8_t *data,
               size_t len)
{
    char tmp[VAULT_PATH + 32], fin[VAULT_PATH + 32];
    blob_path(dir, blob, tmp, sizeof tmp, 1);
    blob_path(dir, blob, fin, sizeof fin, 0);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
    int r = write_all(fd, hdr, sizeof hdr);
    static _Thread_local uint8_t out[CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES];
    size_t off = 0;
    int first = 1;
    do {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        uint8_t tag = off + n == len ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(&st, out, &clen, data + off, n,
                                                   first ? (const uint8_t *)&blob : NULL,
                                                   first ? sizeof blob : 0, tag);
        if (!r)
            r = write_all(fd, out, (size_t)clen);
        off += n;
        first = 0;
    } while (off < len);
    /* a full disk shows here (or at close): nothing is renamed into place.
     * No fsync: a put is as durable as the page cache, as with most file
     * servers that do not ask for O_SYNC (the rename keeps it atomic). */
    if (r || close(fd) != 0) {
        int e = errno ? errno : EIO;
        if (!r)
            fd = -1; /* close() itself failed */
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -e;
    }
    if (rename(tmp, fin) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int blob_read(const char *dir, uint64_t blob, const uint8_t key[32], uint8_t **data,
              size_t *len)
{
    char path[VAULT_PATH + 32];
    blob_path(dir, blob, path, sizeof path, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    uint8_t hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_state s;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof hdr ||
        st.st_size > (off_t)VAULT_MAX_FILE * 2 || read_all(fd, hdr, sizeof hdr) < 0 ||
        crypto_secretstream_xchacha20poly1305_init_pull(&s, hdr, key) != 0) {
        close(fd);
        return -EBADMSG;
    }
    size_t left = (size_t)st.st_size - sizeof hdr;
    uint8_t *out = malloc(left + 1);
    static _Thread_local uint8_t in[CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES];
    size_t got = 0;
    int r = out ? 0 : -ENOMEM, first = 1, final = 0;
    while (!r && left) {
        size_t n = left < sizeof in ? left : sizeof in;
        unsigned long long plen;
        uint8_t tag;
        if (read_all(fd, in, n) < 0 ||
            crypto_secretstream_xchacha20poly1305_pull(&s, out + got, &plen, &tag, in, n,
                                                       first ? (const uint8_t *)&blob : NULL,
                                                       first ? sizeof blob : 0) != 0) {
            r = -EBADMSG;
            break;
        }
        got += (size_t)plen;
        left -= n;
        first = 0;
        final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    }
    close(fd);
    if (!r && !final)
        r = -EBADMSG; /* truncated */
    if (r) {
        free(out);
        return r;
    }
    *data = out;
    *len = got;
    return 0;
}

void blob_remove(const char *dir, uint64_t blob)
{
    char path[VAULT_PATH + 32];
    blob_path(dir, blob, path, sizeof path, 0);
    unlink(path);
}
