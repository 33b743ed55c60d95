/*
 * esemctl grant, revoke, keygen and keyid: principals, rights and key files
 * (the access lists and keys of esem_grant(3) and esem_set_key(3)).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "esem.h"
#include "acl_keys.h"
#include "json.h"

/* A key file, read by libesem as it reads ESEM_KEY_FILE.  0, or -1 with a
 * message. */
static int read_key_file(const char *path, unsigned char key[32])
{
    if (esem_read_key(path, key) == 0)
        return 0;
    if (errno == ENOKEY)
        fprintf(stderr, "esemctl: %s: not a key file (its first word must be 64 hex digits)\n",
                path);
    else
        fprintf(stderr, "esemctl: %s: %s\n", path, strerror(errno));
    return -1;
}

static void print_key_id(const char *path, uint64_t id, int json)
{
    if (json) {
        printf("{\"file\":");
        json_str(path, strlen(path));
        printf(",\"key_id\":\"%016" PRIx64 "\"}\n", id);
    } else {
        printf("%016" PRIx64 "\n", id);
    }
}

int cmd_keyid(const char *path, int json)
{
    unsigned char key[32];
    if (read_key_file(path, key) < 0)
        return 1;
    uint64_t id = esem_key_id(key);
    sodium_memzero(key, sizeof key);
    print_key_id(path, id, json);
    return 0;
}

int cmd_keygen(const char *path, int json)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "esemctl: keygen: libsodium cannot be initialised\n");
        return 1;
    }
    /* O_EXCL: never overwrite a key (or follow a planted symlink). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "esemctl: keygen %s: %s\n", path, strerror(errno));
        return 1;
    }
    unsigned char key[32];
    char line[2 * 32 + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(line, sizeof line, key, sizeof key);
    line[64] = '\n';
    uint64_t id = esem_key_id(key);
    sodium_memzero(key, sizeof key);
    size_t off = 0;
    int err = 0;
    /* exactly 0600 whatever the umask (a umask of 0277 would leave 0400) */
    if (fchmod(fd, 0600) < 0)
        err = errno;
    while (!err && off < 65) {
        ssize_t w = write(fd, line + off, 65 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    sodium_memzero(line, sizeof line);
    if (!err && fsync(fd) < 0)
        err = errno;
    if (close(fd) < 0 && !err)
        err = errno;
    if (err) {
        fprintf(stderr, "esemctl: keygen %s: %s\n", path, strerror(err));
        unlink(path);
        return 1;
    }
    print_key_id(path, id, json);
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 0xffffffffu)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* PRINCIPAL: uid:N|USER, gid:N|GROUP, pid:N, key:HEX (1-16 digits),
 * keyfile:PATH.  0, 1 (an error of the operand, message printed). */
static int parse_principal(const char *arg, struct esem_principal *p)
{
    memset(p, 0, sizeof *p);
    const char *colon = strchr(arg, ':');
    const char *v = colon ? colon + 1 : "";
    size_t kl = colon ? (size_t)(colon - arg) : strlen(arg);
    if (!colon || !*v) {
        fprintf(stderr, "esemctl: bad principal '%s' (uid:N, gid:N, pid:N, key:HEX16 or "
                        "keyfile:PATH)\n", arg);
        return 1;
    }
    if (kl == 3 && strncmp(arg, "uid", 3) == 0) {
        p->kind = ESEM_P_UID;
        if (parse_u32(v, &p->id) < 0) {
            struct passwd *pw = getpwnam(v);
            if (!pw) {
                fprintf(stderr, "esemctl: no such user: %s\n", v);
                return 1;
            }
            p->id = (uint32_t)pw->pw_uid;
        }
    } else if (kl == 3 && strncmp(arg, "gid", 3) == 0) {
        p->kind = ESEM_P_GID;
        if (parse_u32(v, &p->id) < 0) {
            struct group *gr = getgrnam(v);
            if (!gr) {
                fprintf(stderr, "esemctl: no such group: %s\n", v);
                return 1;
            }
            p->id = (uint32_t)gr->gr_gid;
        }
    } else if (kl == 3 && strncmp(arg, "pid", 3) == 0) {
        p->kind = ESEM_P_PROC;
        if (parse_u32(v, &p->id) < 0 || p->id == 0) {
            fprintf(stderr, "esemctl: bad pid: %s\n", v);
            return 1;
        }
    } else if (kl == 3 && strncmp(arg, "key", 3) == 0) {
        p->kind = ESEM_P_KEY;
        const char *h = strncmp(v, "0x", 2) == 0 ? v + 2 : v;
        size_t n = strlen(h);
        char *end;
        p->key_id = n >= 1 && n <= 16 && strspn(h, "0123456789abcdefABCDEF") == n
                        ? (uint64_t)strtoull(h, &end, 16)
                        : 0;
        if (!p->key_id) {
            fprintf(stderr, "esemctl: bad key id: %s (16 hex digits, as esemctl keyid "
                            "prints)\n", v);
            return 1;
        }
    } else if (kl == 7 && strncmp(arg, "keyfile", 7) == 0) {
        unsigned char key[32];
        if (read_key_file(v, key) < 0)
            return 1;
        p->kind = ESEM_P_KEY;
        p->key_id = esem_key_id(key);
        sodium_memzero(key, sizeof key);
    } else {
        fprintf(stderr, "esemctl: bad principal kind in '%s' (uid, gid, pid, key or keyfile)\n",
                arg);
        return 1;
    }
    return 0;
}

/* RIGHTS: open,wait,post,unlink (any order, comma separated) or all. */
static int parse_rights(const char *arg, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {{"open", ESEM_R_OPEN}, {"wait", ESEM_R_WAIT}, {"post", ESEM_R_POST},
               {"unlink", ESEM_R_UNLINK}, {"all", ESEM_R_ALL}};
    unsigned r = 0;
    const char *p = arg;
    for (;;) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (i < sizeof tab / sizeof tab[0] &&
               !(strlen(tab[i].name) == n && strncmp(tab[i].name, p, n) == 0))
            i++;
        if (i == sizeof tab / sizeof tab[0]) {
            fprintf(stderr, "esemctl: bad rights '%s' (a comma list of open, wait, post, unlink; "
                            "or all)\n", arg);
            return 1;
        }
        r |= tab[i].bit;
        if (!p[n])
            break;
        p += n + 1;
    }
    *out = r;
    return 0;
}

static const char *principal_str(const struct esem_principal *p, char *buf, size_t len)
{
    switch (p->kind) {
    case ESEM_P_UID: snprintf(buf, len, "uid %u", (unsigned)p->id); break;
    case ESEM_P_GID: snprintf(buf, len, "gid %u", (unsigned)p->id); break;
    case ESEM_P_PROC: snprintf(buf, len, "pid %u", (unsigned)p->id); break;
    default: snprintf(buf, len, "key %016" PRIx64, p->key_id); break;
    }
    return buf;
}

/* grant/revoke through the public API: open the semaphore (as this
 * process, with its key if ESEM_KEY_FILE names one), change its access
 * list, close it. */
int cmd_acl(int revoke, const char *name, const char *who, const char *rights,
            const char *sock_opt)
{
    const char *cmd = revoke ? "revoke" : "grant";
    struct esem_principal p;
    unsigned r;
    if (parse_principal(who, &p) || parse_rights(rights, &r))
        return 2;
    if (sock_opt)
        setenv("ESEM_SOCKET", sock_opt, 1);
    esem_t *s = esem_open(name, 0, 0, 0);
    if (!s) {
        int e = errno;
        const char *hint = e == ENOKEY         ? " (ESEM_KEY_FILE is not a readable key file)"
                           : e == EKEYREJECTED ? " (the key in ESEM_KEY_FILE is not in esemd's "
                                                 "keyring)"
                           : e == EACCES       ? " (no open right on it)"
                           : e == ENOENT       ? " (no such semaphore)"
                                               : "";
        fprintf(stderr, "esemctl: %s %s: cannot open: %s%s\n", cmd, name, strerror(e), hint);
        return 1;
    }
    int rc = revoke ? esem_revoke(s, &p, r) : esem_grant(s, &p, r);
    int e = errno;
    esem_close(s);
    if (rc < 0) {
        char pb[64];
        const char *hint = e == EPERM   ? " (only the semaphore's owner may change its access list)"
                           : e == ESRCH ? " (no such process)"
                           : e == ENOSPC ? " (esemd's access-list table is full)"
                                         : "";
        fprintf(stderr, "esemctl: %s %s %s: %s%s\n", cmd, name,
                principal_str(&p, pb, sizeof pb), strerror(e), hint);
        return 1;
    }
    return 0;
}
