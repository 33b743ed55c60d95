/*
 * The vault's protected part (the paper's File Vault enclave): the file tree
 * in DIR/tree.img, mapped shared by every worker, entered by at most N
 * workers at once (the admission semaphore, N slots), changed only under
 * the tree mutex.  Both are named POSIX semaphores; nothing else orders the
 * tree, so a semaphore that lies corrupts it (docs/VAULT.md, the lab's
 * vault rows).
 *
 * Debug hook (for the attack lab's deterministic interleaving): with
 * VAULT_DEBUG_HOLD=NAME in the environment, a worker inserting a new entry
 * called NAME stops after it chose the node and before it wrote it — still
 * holding the tree mutex — writes "NODE PID" to DIR/debug/held, and goes on
 * when DIR/debug/release exists (at most 60 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault.h"

static char debug_dir[VAULT_PATH];

struct vtree *tree_map(const char *dir, int create, uint32_t nslots)
{
    char path[VAULT_PATH];
    snprintf(path, sizeof path, "%s/tree.img", dir);
    snprintf(debug_dir, sizeof debug_dir, "%s/debug", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_size != 0 && st.st_size != (off_t)sizeof(struct vtree)) ||
        (st.st_size == 0 && (!create || ftruncate(fd, sizeof(struct vtree)) < 0))) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    struct vtree *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (t == MAP_FAILED)
        return NULL;
    if (t->magic == 0 && create) {
        t->magic = VAULT_MAGIC;
        t->version = 1;
        t->next_blob = 1;
        t->node[VAULT_ROOT].type = NODE_DIR;
        t->node[VAULT_ROOT].parent = VAULT_ROOT;
        t->dirs = 1;
    }
    if (t->magic != VAULT_MAGIC) {
        munmap(t, sizeof *t);
        errno = EINVAL;
        return NULL;
    }
    if (create) {
        t->nslots = nslots;
        memset(t->slot, 0, sizeof t->slot); /* no worker inside at start */
    }
    return t;
}

void tree_unmap(struct vtree *t)
{
    if (t)
        munmap(t, sizeof *t);
}

void sem_names(int port, struct vsems *s)
{
    snprintf(s->admit_name, sizeof s->admit_name, "/esem-vault-%d-admit", port);
    snprintf(s->tree_name, sizeof s->tree_name, "/esem-vault-%d-tree", port);
}

int sems_open(int port, uint32_t nslots, int create, struct vsems *s)
{
    sem_names(port, s);
    if (create) { /* a fresh pair: whatever an earlier run left goes */
        sem_unlink(s->admit_name);
        sem_unlink(s->tree_name);
    }
    int of = create ? O_CREAT | O_EXCL : 0;
    s->admit = sem_open(s->admit_name, of, 0600, nslots);
    if (s->admit == SEM_FAILED)
        return -errno;
    s->tree = sem_open(s->tree_name, of, 0600, 1);
    if (s->tree == SEM_FAILED) {
        int e = errno;
        sem_close(s->admit);
        return -e;
    }
    return 0;
}

static int take(sem_t *m)
{
    while (sem_wait(m) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

int vault_enter(struct vtree *t, struct vsems *s, int *slot)
{
    int r = take(s->admit);
    if (r)
        return r;
    /* a permit means a slot is free — unless the semaphore lied */
    int32_t me = (int32_t)getpid();
    for (uint32_t i = 0; i < t->nslots && i < VAULT_MAX_SLOTS; i++) {
        int32_t free_ = 0;
        if (__atomic_compare_exchange_n(&t->slot[i].pid, &free_, me, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            *slot = (int)i;
            return 0;
        }
    }
    sem_post(s->admit);
    return -EBUSY;
}

void vault_leave(struct vtree *t, struct vsems *s, int slot)
{
    __atomic_store_n(&t->slot[slot].pid, 0, __ATOMIC_RELEASE);
    sem_post(s->admit);
}

/* ---- paths ---- */

static int name_ok(const char *n, size_t len)
{
    if (len == 0 || len >= VAULT_NAME || (len == 1 && n[0] == '.') ||
        (len == 2 && n[0] == '.' && n[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == '/')
            return 0;
    return 1;
}

static uint32_t child(const struct vtree *t, uint32_t dir, const char *name, size_t len)
{
    for (uint32_t i = 1; i < VAULT_MAX_NODES; i++) {
        const struct vnode *n = &t->node[i];
        if (n->type != NODE_FREE && n->parent == dir && strlen(n->name) == len &&
            memcmp(n->name, name, len) == 0)
            return i;
    }
    return 0;
}

/* Walk path below home; the last component's name in *last (len *llen),
 * its parent in *parent.  0 or -errno. */
static int walk(const struct vtree *t, uint32_t home, const char *path, uint32_t *parent,
                const char **last, size_t *llen)
{
    uint32_t cur = home;
    const char *p = path;
    while (*p == '/')
        p++;
    if (!*p)
        return -EINVAL;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!name_ok(p, len))
            return -EINVAL;
        const char *q = e;
        while (q && *q == '/')
            q++;
        if (!e || !*q) {
            *parent = cur;
            *last = p;
            *llen = len;
            return 0;
        }
        uint32_t c = child(t, cur, p, len);
        if (!c)
            return -ENOENT;
        if (t->node[c].type != NODE_DIR)
            return -ENOTDIR;
        cur = c;
        p = q;
    }
}

int tree_lookup(struct vtree *t, uint32_t home, const char *path, uint32_t *node)
{
    const char *p = path;
    while (*p == '/')
        p++;
    if (!*p) {
        *node = home;
        return 0;
    }
    uint32_t parent;
    const char *last;
    size_t len;
    int r = walk(t, home, path, &parent, &last, &len);
    if (r)
        return r;
    uint32_t c = child(t, parent, last, len);
    if (!c)
        return -ENOENT;
    *node = c;
    return 0;
}

static uint32_t free_node(const struct vtree *t)
{
    for (uint32_t i = 1; i < VAULT_MAX_NODES; i++)
        if (t->node[i].type == NODE_FREE)
            return i;
    return 0;
}

/* The debug hook (see the top of this file). */
static void debug_hold(const char *name, uint32_t k)
{
    const char *want = getenv("VAULT_DEBUG_HOLD");
    if (!want || strcmp(want, name) != 0)
        return;
    char held[VAULT_PATH + 16], rel[VAULT_PATH + 16];
    snprintf(held, sizeof held, "%s/held", debug_dir);
    snprintf(rel, sizeof rel, "%s/release", debug_dir);
    mkdir(debug_dir, 0700);
    FILE *f = fopen(held, "w");
    if (f) {
        fprintf(f, "%u %d\n", k, (int)getpid());
        fclose(f);
    }
    for (int i = 0; i < 60000 && access(rel, F_OK) < 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Insert a node: find room, then fill it — two steps the mutex keeps
 * together. */
static int insert(struct vtree *t, uint32_t parent, const char *name, size_t len, uint8_t type,
                  uint32_t owner, uint64_t blob, uint64_t size)
{
    uint32_t k = free_node(t);
    if (!k)
        return -ENOSPC;
    char nm[VAULT_NAME];
    memcpy(nm, name, len);
    nm[len] = 0;
    debug_hold(nm, k);
    struct vnode *n = &t->node[k];
    memset(n, 0, sizeof *n);
    memcpy(n->name, nm, len + 1);
    n->parent = parent;
    n->owner = owner;
    n->blob = blob;
    n->size = size;
    n->type = type;
    if (type == NODE_FILE) {
        t->files++;
        t->bytes += size;
    } else {
        t->dirs++;
    }
    return 0;
}

int tree_home(struct vtree *t, struct vsems *s, uint32_t owner, const char *user,
              uint32_t *home)
{
    int r = take(s->tree);
    if (r)
        return r;
    size_t len = strlen(user);
    uint32_t c = child(t, VAULT_ROOT, user, len);
    if (!c && (r = insert(t, VAULT_ROOT, user, len, NODE_DIR, owner, 0, 0)) == 0)
        c = child(t, VAULT_ROOT, user, len);
    sem_post(s->tree);
    if (r)
        return r;
    *home = c;
    return c ? 0 : -EIO;
}

uint64_t tree_new_blob(struct vtree *t, struct vsems *s)
{
    if (take(s->tree))
        return 0;
    uint64_t b = t->next_blob++;
    sem_post(s->tree);
    return b;
}

/* Take the tree mutex and walk path: on 0 the caller holds the mutex and
 * must post it; on -errno it is not held. */
static int lock_walk(struct vtree *t, struct vsems *s, uint32_t home, const char *path,
                     uint32_t *parent, const char **last, size_t *len)
{
    int r = take(s->tree);
    if (r)
        return r;
    r = walk(t, home, path, parent, last, len);
    if (r)
        sem_post(s->tree);
    return r;
}

int tree_put(struct vtree *t, struct vsems *s, uint32_t home, uint32_t owner, const char *path,
             uint64_t blob, uint64_t size, uint64_t *old_blob)
{
    *old_blob = 0;
    uint32_t parent;
    const char *last;
    size_t len;
    int r = lock_walk(t, s, home, path, &parent, &last, &len);
    if (r)
        return r;
    uint32_t c = child(t, parent, last, len);
    if (c && t->node[c].type != NODE_FILE) {
        r = -EISDIR;
    } else if (c) { /* replace the file's contents */
        t->bytes = t->bytes - t->node[c].size + size;
        *old_blob = t->node[c].blob;
        t->node[c].blob = blob;
        t->node[c].size = size;
    } else {
        r = insert(t, parent, last, len, NODE_FILE, owner, blob, size);
    }
    sem_post(s->tree);
    return r;
}

int tree_mkdir(struct vtree *t, struct vsems *s, uint32_t home, uint32_t owner,
               const char *path)
{
    uint32_t parent;
    const char *last;
    size_t len;
    int r = lock_walk(t, s, home, path, &parent, &last, &len);
    if (r)
        return r;
    r = child(t, parent, last, len) ? -EEXIST
                                    : insert(t, parent, last, len, NODE_DIR, owner, 0, 0);
    sem_post(s->tree);
    return r;
}

int tree_rm(struct vtree *t, struct vsems *s, uint32_t home, const char *path,
            uint64_t *old_blob)
{
    *old_blob = 0;
    uint32_t parent;
    const char *last;
    size_t len;
    int r = lock_walk(t, s, home, path, &parent, &last, &len);
    if (r)
        return r;
    uint32_t c = child(t, parent, last, len);
    if (!c) {
        r = -ENOENT;
    } else if (t->node[c].type == NODE_DIR) {
        for (uint32_t i = 1; i < VAULT_MAX_NODES && !r; i++)
            if (t->node[i].type != NODE_FREE && t->node[i].parent == c)
                r = -ENOTEMPTY;
        if (!r)
            t->dirs--;
    } else {
        *old_blob = t->node[c].blob;
        t->files--;
        t->bytes -= t->node[c].size;
    }
    if (!r)
        memset(&t->node[c], 0, sizeof t->node[c]);
    sem_post(s->tree);
    return r;
}
