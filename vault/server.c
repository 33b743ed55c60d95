/*
 * esem-vault serve: a pre-forked pool of W worker processes (the paper's
 * service threads) on one listening socket (127.0.0.1:PORT, TLS).  A
 * worker authenticates the user, then serves its requests; each request's
 * work on the files (encryption and the tree) happens inside the protected
 * part, which at most N workers may be in at once (vault_enter).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vault.h"

struct server {
    const char *dir;
    int port, lfd;
    uint32_t workers, slots;
    SSL_CTX *ctx;
    struct vtree *t;
    struct vsems s;
    uint8_t master[32];
};

static volatile sig_atomic_t stopping;
static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static int reply_err(SSL *ssl, int e) { return msg_send(ssl, VM_ERR, e, NULL, 0, NULL, 0); }

/* A request's path: NUL-terminated, at most VAULT_PATH. */
static const char *path_of(const uint8_t *b, size_t len, size_t *used)
{
    size_t n = strnlen((const char *)b, len);
    if (n == len || n >= VAULT_PATH)
        return NULL;
    *used = n + 1;
    return (const char *)b;
}

static int do_ls(struct server *sv, SSL *ssl, uint32_t home, const char *path)
{
    uint32_t d;
    int r = tree_lookup(sv->t, home, path, &d);
    if (r)
        return reply_err(ssl, -r);
    if (sv->t->node[d].type != NODE_DIR)
        return reply_err(ssl, ENOTDIR);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return reply_err(ssl, ENOMEM);
    for (uint32_t i = 1; i < VAULT_MAX_NODES; i++) {
        const struct vnode *n = &sv->t->node[i];
        if (n->type == NODE_FREE || n->parent != d)
            continue;
        if (cap - len < VAULT_NAME + 32) {
            char *o = realloc(out, cap *= 2);
            if (!o) {
                free(out);
                return reply_err(ssl, ENOMEM);
            }
            out = o;
        }
        len += (size_t)snprintf(out + len, cap - len, "%c %llu %s\n",
                                n->type == NODE_DIR ? 'd' : 'f', (unsigned long long)n->size,
                                n->name);
    }
    r = msg_send(ssl, VM_OK, 0, out, len, NULL, 0);
    free(out);
    return r;
}

/* One request, inside the protected part.  -1: the connection is gone. */
static int request(struct server *sv, SSL *ssl, const struct vuser *u, uint32_t home,
                   const struct vhdr *h, const uint8_t *body)
{
    size_t used = 0;
    const char *path = path_of(body, h->len, &used);
    if (!path)
        return reply_err(ssl, EINVAL);
    int slot, r = vault_enter(sv->t, &sv->s, &slot);
    if (r)
        return reply_err(ssl, -r); /* EBUSY: more workers inside than slots */
    uint64_t old = 0;
    switch (h->type) {
    case VM_PUT: {
        uint64_t blob = tree_new_blob(sv->t, &sv->s);
        r = blob ? blob_write(sv->dir, blob, u->key, body + used, h->len - used) : -EIO;
        if (!r) {
            r = tree_put(sv->t, &sv->s, home, u->index, path, blob, h->len - used, &old);
            if (r)
                blob_remove(sv->dir, blob);
            else if (old)
                blob_remove(sv->dir, old);
        }
        vault_leave(sv->t, &sv->s, slot);
        return r ? reply_err(ssl, -r) : msg_send(ssl, VM_OK, 0, NULL, 0, NULL, 0);
    }
    case VM_GET: {
        uint32_t n;
        uint8_t *data = NULL;
        size_t len = 0;
        r = tree_lookup(sv->t, home, path, &n);
        if (!r && sv->t->node[n].type != NODE_FILE)
            r = -EISDIR;
        if (!r)
            r = blob_read(sv->dir, sv->t->node[n].blob, u->key, &data, &len);
        vault_leave(sv->t, &sv->s, slot);
        int w = r ? reply_err(ssl, -r) : msg_send(ssl, VM_OK, 0, data, len, NULL, 0);
        free(data);
        return w;
    }
    case VM_LS:
        r = do_ls(sv, ssl, home, path);
        vault_leave(sv->t, &sv->s, slot);
        return r;
    case VM_RM:
        r = tree_rm(sv->t, &sv->s, home, path, &old);
        if (!r && old)
            blob_remove(sv->dir, old);
        vault_leave(sv->t, &sv->s, slot);
        return r ? reply_err(ssl, -r) : msg_send(ssl, VM_OK, 0, NULL, 0, NULL, 0);
    case VM_MKDIR:
        r = tree_mkdir(sv->t, &sv->s, home, u->index, path);
        vault_leave(sv->t, &sv->s, slot);
        return r ? reply_err(ssl, -r) : msg_send(ssl, VM_OK, 0, NULL, 0, NULL, 0);
    default:
        vault_leave(sv->t, &sv->s, slot);
        return reply_err(ssl, EINVAL);
    }
}

/* A connection: the user's password first, then requests until it ends. */
static void session(struct server *sv, int fd)
{
    int one = 1; /* a reply goes out at once (no Nagle delay on the last record) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0}; /* a silent or stalled client is dropped */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(sv->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        return;
    }
    struct vhdr h;
    uint8_t *b = NULL;
    struct vuser u;
    uint32_t home = 0;
    int ok = 0;
    if (msg_recv(ssl, &h, &b, 2 * VAULT_USER + 256) == 0 && h.type == VM_AUTH) {
        const char *name = (const char *)b;
        size_t nl = strnlen(name, h.len);
        const char *pw = nl < h.len ? name + nl + 1 : "";
        ok = nl < h.len && users_find(sv->dir, sv->master, name, &u) == 0 &&
             crypto_pwhash_str_verify(u.hash, pw, strlen(pw)) == 0 &&
             tree_home(sv->t, &sv->s, u.index, u.name, &home) == 0;
        if (!ok) {
            sleep(1); /* a wrong password costs the guesser a second */
            reply_err(ssl, EACCES);
        } else {
            ok = msg_send(ssl, VM_OK, 0, NULL, 0, NULL, 0) == 0;
        }
    }
    free(b);
    /* a client that disconnects mid-upload is a failed msg_recv: nothing
     * of its request was written */
    while (ok && !stopping && msg_recv(ssl, &h, &b, VAULT_MAX_FILE + VAULT_PATH) == 0) {
        ok = request(sv, ssl, &u, home, &h, b) == 0;
        free(b);
        b = NULL;
    }
    free(b);
    sodium_memzero(&u, sizeof u);
    SSL_shutdown(ssl);
    SSL_free(ssl);
}

static void worker(struct server *sv)
{
    /* the parent ends a worker with SIGTERM wherever it is (accept, a
     * semaphore, a request): it holds nothing that must outlive the server */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    while (!stopping) {
        int fd = accept(sv->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        session(sv, fd);
        close(fd);
    }
    _exit(0);
}

static pid_t spawn(struct server *sv)
{
    pid_t p = fork();
    if (p == 0)
        worker(sv);
    return p;
}

int vault_serve(int argc, char **argv)
{
    struct server sv = {.port = 0, .workers = 8, .slots = 2};
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"port", required_argument, 0, 'p'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"slots", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:p:w:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': sv.dir = optarg; break;
        case 'p': sv.port = atoi(optarg); break;
        case 'w': sv.workers = (uint32_t)atoi(optarg); break;
        case 'n': sv.slots = (uint32_t)atoi(optarg); break;
        default: return 2;
        }
    }
    if (!sv.dir || sv.port <= 0 || sv.port > 65535 || sv.workers < 1 || sv.workers > 256 ||
        sv.slots < 1 || sv.slots > VAULT_MAX_SLOTS) {
        fprintf(stderr, "usage: esem-vault serve --dir DIR --port PORT [--workers 1..256] "
                        "[--slots 1..%u]\n",
                VAULT_MAX_SLOTS);
        return 2;
    }
    char blobs[VAULT_PATH];
    snprintf(blobs, sizeof blobs, "%s/blobs", sv.dir);
    if ((mkdir(sv.dir, 0700) < 0 && errno != EEXIST) || (mkdir(blobs, 0700) < 0 && errno != EEXIST)) {
        perror("esem-vault: mkdir");
        return 1;
    }
    char fp[65];
    int r;
    if ((r = master_load(sv.dir, 1, sv.master)) < 0) {
        fprintf(stderr, "esem-vault: %s/master.key: %s\n", sv.dir, strerror(-r));
        return 1;
    }
    if (!(sv.t = tree_map(sv.dir, 1, sv.slots))) {
        fprintf(stderr, "esem-vault: %s/tree.img: %s\n", sv.dir, strerror(errno));
        return 1;
    }
    if (!(sv.ctx = tls_server_ctx(sv.dir, fp)))
        return 1;
    if ((r = sems_open(sv.port, sv.slots, 1, &sv.s)) < 0) {
        fprintf(stderr, "esem-vault: sem_open: %s\n", strerror(-r));
        return 1;
    }
    sv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(sv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sv.lfd < 0 || bind(sv.lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(sv.lfd, 128) < 0) {
        fprintf(stderr, "esem-vault: 127.0.0.1:%d: %s\n", sv.port, strerror(errno));
        return 1;
    }
    printf("esem-vault: serving %s on 127.0.0.1:%d: %u workers, %u slots in the protected "
           "part; semaphores %s (%u) and %s (1); certificate sha256 %s\n",
           sv.dir, sv.port, sv.workers, sv.slots, sv.s.admit_name, sv.slots, sv.s.tree_name, fp);
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pid_t *kids = calloc(sv.workers, sizeof *kids);
    for (uint32_t i = 0; i < sv.workers; i++)
        kids[i] = spawn(&sv);
    while (!stopping) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0)
            continue;
        for (uint32_t i = 0; i < sv.workers; i++) {
            if (kids[i] == p && !stopping) {
                /* a worker died inside the protected part: free its slot */
                for (uint32_t k = 0; k < sv.slots; k++)
                    if (sv.t->slot[k].pid == p)
                        vault_leave(sv.t, &sv.s, (int)k);
                kids[i] = spawn(&sv);
            }
        }
    }
    for (uint32_t i = 0; i < sv.workers; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    for (uint32_t i = 0; i < sv.workers; i++)
        if (kids[i] > 0)
            waitpid(kids[i], NULL, 0);
    sem_close(sv.s.admit);
    sem_close(sv.s.tree);
    sem_unlink(sv.s.admit_name);
    sem_unlink(sv.s.tree_name);
    sodium_memzero(sv.master, sizeof sv.master);
    tree_unmap(sv.t);
    free(kids);
    return 0;
}
