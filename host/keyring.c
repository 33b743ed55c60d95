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
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return -1;
    }
    char line[256];
    int n = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n")] = 0;
        if (*p == 0 || *p == '#')
            continue;
        struct core_key_add_args ka;
        size_t len = 0;
        if (strlen(p) != 2 * CORE_KEY_BYTES ||
            sodium_hex2bin(ka.key, sizeof ka.key, p, strlen(p), NULL, &len, NULL) != 0 ||
            len != CORE_KEY_BYTES) {
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
    sodium_memzero(line, sizeof line);
    fclose(f);
    if (bad)
        return -1;
    esemd_log("keyring %s: %d key(s) provisioned to the core", path, n);
    return 0;
}

