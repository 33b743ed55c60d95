/* esemd --keyring: keys provisioned to the core at start. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyring.h"
#include "log.h"

/* Provision the keys of a keyring file to the core: one key per line, 64
 * hex digits (esemctl keygen writes them); blank lines and #-comments are
 * skipped.  The file must be the daemon user's and private to it.  (Under
 * SGX the core would get its keys sealed or over an attested channel; here
 * the host hands them in once, at start, and wipes its copies.) */
int keyring_load(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        esemd_log("keyring %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        esemd_log("keyring %s: must be a regular file of uid %u with mode 0600 or stricter",
                  path, (unsigned)geteuid());
        close(fd);
        return -1;
    }
    /* One read() into a buffer we wipe (stdio would leave copies of the
     * keys in buffers of its own). */
    enum { MAXSZ = 1 << 20 };
    if (st.st_size > MAXSZ) {
        esemd_log("keyring %s: larger than %d bytes", path, MAXSZ);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = sodium_malloc(cap);
    if (!buf) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == cap - 1)
            break;
    }
    close(fd);
    buf[len] = 0;
    int n = 0, bad = 0, lineno = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r")] = 0;
        if (*p == 0 || *p == '#')
            continue;
        struct core_key_add_args ka;
        size_t klen = 0;
        if (strlen(p) != 2 * CORE_KEY_BYTES ||
            sodium_hex2bin(ka.key, sizeof ka.key, p, strlen(p), NULL, &klen, NULL) != 0 ||
            klen != CORE_KEY_BYTES) {
            esemd_log("keyring %s:%d: not a key (64 hex digits)", path, lineno);
            bad = 1;
            break;
        }
        int32_t r = core_ecall(esemd.core, CORE_ECALL_KEY_ADD, &ka, sizeof ka);
        sodium_memzero(&ka, sizeof ka);
        if (r != CORE_OK) {
            esemd_log("keyring %s:%d: %s", path, lineno, core_strerror(r));
            bad = 1;
            break;
        }
        n++;
    }
    sodium_free(buf); /* wipes it */
    if (bad)
        return -1;
    esemd_log("keyring %s: %d key(s) provisioned to the core", path, n);
    return 0;
}

