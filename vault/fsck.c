/*
 * esem-vault fsck --dir DIR: the tree and the files against each other.
 * Every entry reachable from the root exactly once (parents in range, live,
 * directories; no cycle), no two entries of one name in a directory, every
 * file's blob there, decryptable with its owner's key and of its recorded
 * size, every blob referenced by exactly one entry, and the tree's counters
 * equal to what is in it.  Exits 1 with the list of what is broken.
 * (Run it on a stopped vault, or accept that it reads a moving tree.)
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault.h"

static int problems;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("BROKEN: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    problems++;
}

static int blob_refs(const struct vtree *t, uint64_t blob)
{
    int n = 0;
    for (uint32_t i = 1; i < VAULT_MAX_NODES; i++)
        n += t->node[i].type == NODE_FILE && t->node[i].blob == blob;
    return n;
}

int vault_fsck(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
    if (!dir) {
        fprintf(stderr, "usage: esem-vault fsck --dir DIR\n");
        return 2;
    }
    struct vtree *t = tree_map(dir, 0, 0);
    uint8_t master[32];
    if (!t || master_load(dir, 0, master) < 0) {
        fprintf(stderr, "esem-vault fsck: %s: not a vault (%s)\n", dir, strerror(errno));
        return 2;
    }
    problems = 0;
    if (t->node[VAULT_ROOT].type != NODE_DIR)
        bad("the root is not a directory");
    uint64_t files = 0, dirs = 1, bytes = 0;
    for (uint32_t i = 1; i < VAULT_MAX_NODES; i++) {
        const struct vnode *n = &t->node[i];
        if (n->type == NODE_FREE)
            continue;
        if (n->type != NODE_DIR && n->type != NODE_FILE) {
            bad("entry %u: unknown type %u", i, n->type);
            continue;
        }
        if (strnlen(n->name, VAULT_NAME) == VAULT_NAME || !n->name[0])
            bad("entry %u: bad name", i);
        /* reachable: up the parents to the root, no cycle, all directories */
        uint32_t p = n->parent, steps = 0;
        while (p != VAULT_ROOT && p < VAULT_MAX_NODES && t->node[p].type == NODE_DIR &&
               steps++ < VAULT_MAX_NODES)
            p = t->node[p].parent;
        if (p != VAULT_ROOT)
            bad("entry %u (%s): not reachable from the root", i, n->name);
        for (uint32_t j = i + 1; j < VAULT_MAX_NODES; j++)
            if (t->node[j].type != NODE_FREE && t->node[j].parent == n->parent &&
                strncmp(t->node[j].name, n->name, VAULT_NAME) == 0)
                bad("entries %u and %u: the name \"%s\" twice in one directory", i, j, n->name);
        if (n->type == NODE_DIR) {
            dirs++;
            continue;
        }
        files++;
        bytes += n->size;
        int refs = blob_refs(t, n->blob);
        if (refs != 1)
            bad("blob %llu: referenced by %d entries", (unsigned long long)n->blob, refs);
        struct vuser u;
        uint8_t *data = NULL;
        size_t len = 0;
        int r = users_by_index(dir, master, n->owner, &u);
        if (r)
            bad("file %u (%s): owner %u unknown", i, n->name, n->owner);
        else if ((r = blob_read(dir, n->blob, u.key, &data, &len)) != 0)
            bad("file %u (%s): blob %llu %s", i, n->name, (unsigned long long)n->blob,
                r == -ENOENT ? "missing" : "does not decrypt with its owner's key");
        else if (len != n->size)
            bad("file %u (%s): %zu bytes, the tree says %llu", i, n->name, len,
                (unsigned long long)n->size);
        free(data);
        sodium_memzero(&u, sizeof u);
    }
    char bpath[VAULT_PATH];
    snprintf(bpath, sizeof bpath, "%s/blobs", dir);
    DIR *d = opendir(bpath);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        unsigned long long b = strtoull(e->d_name, &end, 10);
        if (e->d_name[0] == '.' || !*e->d_name)
            continue;
        if (*end) {
            if (strcmp(end, ".tmp") != 0)
                bad("blobs/%s: not a blob", e->d_name);
            continue; /* an upload cut short: not part of the tree */
        }
        if (blob_refs(t, b) == 0)
            bad("blob %llu: no entry refers to it (a file lost from the tree)", b);
    }
    if (d)
        closedir(d);
    if (t->files != files || t->dirs != dirs || t->bytes != bytes)
        bad("counters: the tree says %llu files, %llu directories, %llu bytes; it holds %llu, "
            "%llu, %llu",
            (unsigned long long)t->files, (unsigned long long)t->dirs,
            (unsigned long long)t->bytes, (unsigned long long)files, (unsigned long long)dirs,
            (unsigned long long)bytes);
    sodium_memzero(master, sizeof master);
    tree_unmap(t);
    if (problems) {
        printf("fsck %s: %d problem(s)\n", dir, problems);
        return 1;
    }
    printf("fsck %s: clean: %llu files, %llu directories, %llu bytes\n", dir,
           (unsigned long long)files, (unsigned long long)dirs, (unsigned long long)bytes);
    return 0;
}
