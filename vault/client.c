/*
 * esem-vault's client commands (put, get, ls, rm, mkdir) and its load
 * generator (bench).  Every connection is TLS to 127.0.0.1:PORT, pinned to
 * the server's certificate fingerprint (--pin HEX, or --dir DIR to read it
 * from DIR/cert.pem), and authenticated with the user's password (the
 * first line of --password-file, or $VAULT_PASSWORD).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vault.h"

struct conn_opts {
    int port;
    const char *user, *pwfile, *pin, *dir;
    char fp[65], password[256];
    int timeout_ms; /* per request (bench) */
};

struct conn {
    int fd;
    SSL *ssl;
};

static SSL_CTX *client_ctx;

static void conn_close(struct conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
}

/* Connect, check the pin, authenticate.  0, or -errno (EACCES: refused). */
static int conn_open(const struct conn_opts *o, struct conn *c)
{
    c->ssl = NULL;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1; /* requests go out at once (no Nagle delay) */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o->timeout_ms) {
        struct timeval tv = {o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        conn_close(c);
        return -e;
    }
    c->ssl = SSL_new(client_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
        conn_close(c);
        return -ECONNABORTED;
    }
    if (!tls_pin_ok(c->ssl, o->fp)) {
        conn_close(c);
        return -EPERM; /* not the vault whose certificate we pinned */
    }
    struct vhdr h;
    uint8_t *b = NULL;
    if (msg_send(c->ssl, VM_AUTH, 0, o->user, strlen(o->user) + 1, o->password,
                 strlen(o->password)) < 0 ||
        msg_recv(c->ssl, &h, &b, 0) < 0) {
        free(b);
        conn_close(c);
        return -ECONNRESET;
    }
    free(b);
    if (h.type != VM_OK) {
        conn_close(c);
        return -(h.status ? h.status : EACCES);
    }
    return 0;
}

/* One request; reply body in *out (malloc'd) if wanted.  0 or -errno;
 * -ECONNRESET if the connection broke (timeout included). */
static int call(struct conn *c, uint32_t type, const char *path, const void *data, size_t len,
                uint8_t **out, size_t *olen)
{
    struct vhdr h;
    uint8_t *b = NULL;
    if (msg_send(c->ssl, type, 0, path, strlen(path) + 1, data, len) < 0 ||
        msg_recv(c->ssl, &h, &b, VAULT_MAX_FILE) < 0) {
        free(b);
        return -ECONNRESET;
    }
    if (h.type != VM_OK) {
        free(b);
        return -(h.status ? h.status : EIO);
    }
    if (out) {
        *out = b;
        *olen = h.len;
    } else {
        free(b);
    }
    return 0;
}

static int parse_opts(int argc, char **argv, struct conn_opts *o, int *clients, double *secs)
{
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"user", required_argument, 0, 'u'},
                                         {"password-file", required_argument, 0, 'P'},
                                         {"pin", required_argument, 0, 'f'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"clients", required_argument, 0, 'c'},
                                         {"seconds", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:u:P:f:d:c:s:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': o->port = atoi(optarg); break;
        case 'u': o->user = optarg; break;
        case 'P': o->pwfile = optarg; break;
        case 'f': o->pin = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'c': if (clients) *clients = atoi(optarg); break;
        case 's': if (secs) *secs = atof(optarg); break;
        default: return -1;
        }
    }
    if (o->port <= 0 || !o->user || (!o->pin && !o->dir)) {
        fprintf(stderr, "esem-vault: --port, --user and --pin HEX or --dir DIR are needed\n");
        return -1;
    }
    if (o->pin) {
        snprintf(o->fp, sizeof o->fp, "%s", o->pin);
    } else if (cert_fingerprint(o->dir, o->fp) < 0) {
        fprintf(stderr, "esem-vault: no certificate in %s\n", o->dir);
        return -1;
    }
    const char *env = getenv("VAULT_PASSWORD");
    if (o->pwfile) {
        FILE *f = fopen(o->pwfile, "re");
        if (!f || !fgets(o->password, sizeof o->password, f)) {
            fprintf(stderr, "esem-vault: %s: cannot read a password\n", o->pwfile);
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        o->password[strcspn(o->password, "\r\n")] = 0;
    } else if (env) {
        snprintf(o->password, sizeof o->password, "%s", env);
    } else {
        fprintf(stderr, "esem-vault: give the password with --password-file or $VAULT_PASSWORD\n");
        return -1;
    }
    client_ctx = tls_client_ctx();
    signal(SIGPIPE, SIG_IGN);
    return client_ctx ? 0 : -1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            if (cap >= VAULT_MAX_FILE) {
                free(b);
                b = NULL;
                errno = EFBIG;
                break;
            }
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return b;
}

int vault_client(const char *cmd, int argc, char **argv)
{
    struct conn_opts o = {.timeout_ms = 0};
    if (parse_opts(argc, argv, &o, NULL, NULL) < 0)
        return 2;
    int nargs = argc - optind;
    char **a = argv + optind;
    int want = strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0 ? 2 : strcmp(cmd, "ls") == 0 ? -1 : 1;
    if ((want >= 0 && nargs != want) || (want < 0 && nargs > 1)) {
        fprintf(stderr, "esem-vault %s: wrong arguments (see esem-vault --help)\n", cmd);
        return 2;
    }
    struct conn c;
    int r = conn_open(&o, &c);
    if (r) {
        fprintf(stderr, "esem-vault: %s\n",
                r == -EACCES ? "login refused (user or password)"
                : r == -EPERM ? "the server's certificate does not match the pin"
                              : strerror(-r));
        return 1;
    }
    uint8_t *out = NULL;
    size_t olen = 0;
    if (strcmp(cmd, "put") == 0) {
        size_t len;
        uint8_t *data = read_file(a[0], &len);
        if (!data) {
            fprintf(stderr, "esem-vault: %s: %s\n", a[0], strerror(errno));
            conn_close(&c);
            return 1;
        }
        r = call(&c, VM_PUT, a[1], data, len, NULL, NULL);
        free(data);
    } else if (strcmp(cmd, "get") == 0) {
        r = call(&c, VM_GET, a[0], NULL, 0, &out, &olen);
        if (!r) {
            FILE *f = strcmp(a[1], "-") == 0 ? stdout : fopen(a[1], "wb");
            if (!f || fwrite(out, 1, olen, f) != olen || (f != stdout && fclose(f) != 0))
                r = -errno;
        }
    } else if (strcmp(cmd, "ls") == 0) {
        r = call(&c, VM_LS, nargs ? a[0] : "/", NULL, 0, &out, &olen);
        if (!r)
            fwrite(out, 1, olen, stdout);
    } else {
        r = call(&c, strcmp(cmd, "rm") == 0 ? VM_RM : VM_MKDIR, a[0], NULL, 0, NULL, NULL);
    }
    free(out);
    conn_close(&c);
    if (r) {
        fprintf(stderr, "esem-vault %s: %s\n", cmd, strerror(-r));
        return 1;
    }
    return 0;
}

/* ---- bench: C clients, a mix of put/get/ls on small files ---- */

struct bench {
    struct conn_opts o;
    double secs;
    _Atomic uint64_t ops, errors;
    struct timespec end;
    pthread_barrier_t ready, go; /* every client logged in; the clock started */
};

static int past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

struct bthread {
    struct bench *b;
    int id;
};

static void *bench_thread(void *arg)
{
    struct bthread *bt = arg;
    struct bench *b = bt->b;
    struct conn c = {.fd = -1};
    uint8_t data[2048];
    randombytes_buf(data, sizeof data);
    char path[64];
    /* log in before the clock starts: a password check (crypto_pwhash) is
     * the cost of a login, not of the requests measured */
    if (conn_open(&b->o, &c) < 0) {
        atomic_fetch_add(&b->errors, 1);
        c.fd = -1;
    }
    pthread_barrier_wait(&b->ready);
    pthread_barrier_wait(&b->go);
    for (uint64_t i = 0; !past(&b->end); i++) {
        if (c.fd < 0 && conn_open(&b->o, &c) < 0) {
            atomic_fetch_add(&b->errors, 1);
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
            continue;
        }
        snprintf(path, sizeof path, "/bench/c%d-%llu", bt->id, (unsigned long long)(i % 8));
        uint8_t *out = NULL;
        size_t olen = 0;
        int r;
        switch (i % 3) {
        case 0: r = call(&c, VM_PUT, path, data, 512 + (i * 97) % 1536, NULL, NULL); break;
        case 1:
            r = call(&c, VM_GET, path, NULL, 0, &out, &olen);
            if (r == -ENOENT)
                r = 0; /* not put yet in this round */
            break;
        default: r = call(&c, VM_LS, "/bench", NULL, 0, &out, &olen); break;
        }
        free(out);
        if (r && !past(&b->end)) {
            atomic_fetch_add(&b->errors, 1);
            if (r == -ECONNRESET)
                conn_close(&c); /* a timeout: the connection is out of step */
        } else if (!r) {
            atomic_fetch_add(&b->ops, 1);
        }
    }
    conn_close(&c);
    return NULL;
}

int vault_bench(int argc, char **argv)
{
    static struct bench b;
    int clients = 8;
    b.secs = 5;
    b.o.timeout_ms = 2000;
    if (parse_opts(argc, argv, &b.o, &clients, &b.secs) < 0 || clients < 1 || clients > 256 ||
        b.secs <= 0)
        return 2;
    struct conn c;
    int r = conn_open(&b.o, &c);
    if (r) {
        fprintf(stderr, "esem-vault bench: %s\n", strerror(-r));
        return 1;
    }
    r = call(&c, VM_MKDIR, "/bench", NULL, 0, NULL, NULL);
    conn_close(&c);
    if (r && r != -EEXIST) /* a vault that does not answer is measured, not refused */
        fprintf(stderr, "esem-vault bench: mkdir /bench: %s\n", strerror(-r));
    pthread_barrier_init(&b.ready, NULL, (unsigned)clients + 1);
    pthread_barrier_init(&b.go, NULL, (unsigned)clients + 1);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    struct bthread *bt = calloc((size_t)clients, sizeof *bt);
    for (int i = 0; i < clients; i++) {
        bt[i] = (struct bthread){&b, i};
        pthread_create(&th[i], NULL, bench_thread, &bt[i]);
    }
    pthread_barrier_wait(&b.ready);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    b.end = t0;
    b.end.tv_sec += (time_t)b.secs;
    b.end.tv_nsec += (long)((b.secs - (double)(time_t)b.secs) * 1e9);
    if (b.end.tv_nsec >= 1000000000L) {
        b.end.tv_sec++;
        b.end.tv_nsec -= 1000000000L;
    }
    pthread_barrier_wait(&b.go);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("clients %d seconds %.2f ops %llu errors %llu ops/s %.1f\n", clients, el,
           (unsigned long long)atomic_load(&b.ops), (unsigned long long)atomic_load(&b.errors),
           (double)atomic_load(&b.ops) / el);
    free(th);
    free(bt);
    return 0;
}
