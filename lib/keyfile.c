/* libesem: key files (ESEM_KEY_FILE, esem_read_key_file) and key ids. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core_auth.h"

int esemi_read_key_file(const char *path, uint8_t key[CORE_KEY_BYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[2 * CORE_KEY_BYTES + 8];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = 0;
    size_t len = strcspn(buf, " \t\r\n");
    size_t got = 0;
    int r = len == 2 * CORE_KEY_BYTES &&
                    sodium_hex2bin(key, CORE_KEY_BYTES, buf, len, NULL, &got, NULL) == 0 &&
                    got == CORE_KEY_BYTES
                ? 0
                : -ENOKEY;
    sodium_memzero(buf, sizeof buf);
    if (r)
        sodium_memzero(key, CORE_KEY_BYTES);
    return r;
}

uint64_t esemi_key_id(const uint8_t key[CORE_KEY_BYTES])
{
    return core_auth_key_id(key);
}
