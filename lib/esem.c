/*
 * libesem: the client side.  A process connects to esemd lazily (first
 * call), gets a private channel, and each thread talks through its own slot.
 */
#include "esem.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

#define ESEM_MAGIC 0x6553454du
#define EXPORT __attribute__((visibility("default")))

struct esem {
    uint32_t magic;
    uint32_t refs;   /* esem_open calls not yet closed in this process */
    uint64_t handle; /* the core's id: global, so fork() children share it */
    int anon;
    struct esem *next;
};

enum { ST_DOWN = 0, ST_UP = 1, ST_BROKEN = 2 };

static struct {
    pthread_mutex_t mu; /* connect/disconnect and the registry */
    _Atomic int state;
    int sock, efd;
    struct esem_chan *chan;
    size_t chan_size;
    uint64_t session;
    uint64_t inherit_from; /* after fork: the parent's session */
    _Atomic uint64_t slot_used[ESEM_NSLOTS / 64];
    uint32_t seq[ESEM_NSLOTS];
    struct esem *list;
    uint64_t spin_ns;
    pthread_key_t slot_key;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .sock = -1, .efd = -1};

static _Thread_local int t_slot = -1; /* this thread's own slot */
static _Thread_local int t_busy;      /* own slot in use (re-entry from a handler) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- slots ---- */

/* The daemon polls only the slots marked active in the channel header. */
static void slot_mark(int k, int on)
{
    _Atomic uint64_t *m = (_Atomic uint64_t *)&G.chan->hdr.active[k / 64];
    if (on)
        atomic_fetch_or(m, 1ull << (k % 64));
    else
        atomic_fetch_and(m, ~(1ull << (k % 64)));
}

static int slot_take(void)
{
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++) {
        uint64_t cur = atomic_load(&G.slot_used[w]);
        while (~cur) {
            int b = __builtin_ctzll(~cur);
            if (atomic_compare_exchange_weak(&G.slot_used[w], &cur, cur | (1ull << b))) {
                int k = (int)(w * 64 + (uint32_t)b);
                slot_mark(k, 1);
                return k;
            }
        }
    }
    return -1;
}

static void slot_give(int k)
{
    if (G.chan)
        slot_mark(k, 0);
    atomic_fetch_and(&G.slot_used[k / 64], ~(1ull << (k % 64)));
}

static void thread_exit(void *p)
{
    (void)p;
    if (t_slot >= 0) {
        slot_give(t_slot);
        t_slot = -1;
    }
}

static void init_once(void);

/* A slot for this call: the thread's own, or a borrowed one when the own
 * slot is busy (a signal handler interrupted an esem call in this thread) or
 * none was free to keep.  Lock-free, so usable from a handler. */
static int slot_enter(int *borrowed)
{
    *borrowed = 0;
    if (t_slot < 0 && !t_busy) {
        int k = slot_take();
        if (k >= 0) {
            t_slot = k;
            pthread_setspecific(G.slot_key, (void *)1); /* so thread_exit runs */
        }
    }
    if (t_slot >= 0 && !t_busy) {
        t_busy = 1;
        atomic_signal_fence(memory_order_seq_cst);
        return t_slot;
    }
    int k;
    while ((k = slot_take()) < 0)
        sched_yield();
    *borrowed = 1;
    return k;
}

static void slot_leave(int k, int borrowed)
{
    if (borrowed) {
        slot_give(k);
        return;
    }
    atomic_signal_fence(memory_order_seq_cst);
    t_busy = 0;
}

/* ---- connection ---- */

/* Called with G.mu held (or in the child after fork, single-threaded). */
static int do_connect(void)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (esem_util_client_socket(path, sizeof path) < 0)
        return -ECONNREFUSED;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(s);
        return -ECONNREFUSED;
    }
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_CLIENT, .inherit_session = G.inherit_from};
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h) {
        close(s);
        return -ECONNREFUSED;
    }
    struct esem_hello_reply rep;
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    int fds[2] = {-1, -1};
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(2 * sizeof(int)))
        memcpy(fds, CMSG_DATA(cm), sizeof fds);
    if (n != (ssize_t)sizeof rep || rep.err || fds[0] < 0 || rep.nslots != ESEM_NSLOTS ||
        rep.chan_size != sizeof(struct esem_chan)) {
        int err = n == (ssize_t)sizeof rep && rep.err ? rep.err : ECONNREFUSED;
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        close(s);
        return -err;
    }
    void *m = mmap(NULL, rep.chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    if (m == MAP_FAILED) {
        close(fds[1]);
        close(s);
        return -EIO;
    }
    /* The child of a fork() must never see this process's channel. */
    madvise(m, rep.chan_size, MADV_DONTFORK);
    G.chan = m;
    G.chan_size = rep.chan_size;
    G.sock = s;
    G.efd = fds[1];
    G.session = rep.session;
    G.inherit_from = 0;
    memset(G.seq, 0, sizeof G.seq);
    atomic_store(&G.state, ST_UP);
    return 0;
}

static int ensure_connected(void)
{
    int st = atomic_load_explicit(&G.state, memory_order_acquire);
    if (st == ST_UP)
        return 0;
    if (st == ST_BROKEN)
        return -EIO;
    pthread_once(&once, init_once);
    pthread_mutex_lock(&G.mu);
    int r = 0;
    if (atomic_load(&G.state) == ST_DOWN)
        r = do_connect();
    else if (atomic_load(&G.state) == ST_BROKEN)
        r = -EIO;
    pthread_mutex_unlock(&G.mu);
    return r;
}

static int daemon_alive(void)
{
    struct pollfd p = {.fd = G.sock, .events = POLLIN};
    int r = poll(&p, 1, 0);
    return !(r > 0 && (p.revents & (POLLHUP | POLLERR | POLLIN)));
}

static void mark_broken(void)
{
    atomic_store(&G.state, ST_BROKEN);
}

/* ---- fork ---- */

static void atfork_prepare(void) { pthread_mutex_lock(&G.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&G.mu); }

static void atfork_child(void)
{
    pthread_mutex_init(&G.mu, NULL);
    int was_up = atomic_load(&G.state) == ST_UP;
    uint64_t parent = G.session;
    /* The parent's channel is not mapped here (MADV_DONTFORK); its socket
     * and doorbell are, and must go so the parent's death is seen. */
    if (G.sock >= 0)
        close(G.sock);
    if (G.efd >= 0)
        close(G.efd);
    G.chan = NULL;
    G.sock = G.efd = -1;
    G.session = 0;
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++)
        atomic_store(&G.slot_used[w], 0);
    t_slot = -1;
    t_busy = 0;
    atomic_store(&G.state, ST_DOWN);
    if (was_up && G.list) {
        /* Connect now, while the parent is certainly alive and before the
         * child can change its uid (Apache's children setuid first thing):
         * the daemon checks we are the parent's child and copies its opens. */
        G.inherit_from = parent;
        if (do_connect() < 0)
            atomic_store(&G.state, ST_DOWN); /* retried lazily, inheritance kept */
    } else {
        G.inherit_from = 0;
    }
}

static void init_once(void)
{
    const char *spin = getenv("ESEM_SPIN_US");
    G.spin_ns = (spin ? strtoull(spin, NULL, 10) : 20) * 1000ull;
    pthread_key_create(&G.slot_key, thread_exit);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- the request path ---- */

struct call {
    uint32_t op, oflag, value, mode, name_len;
    uint64_t handle;
    const char *name;
    /* blocking waits */
    int interruptible;
    clockid_t clock;
    const struct timespec *deadline; /* absolute, on clock; NULL = none */
    /* out */
    uint32_t rvalue;
    uint64_t rhandle;
};

/* Call after publishing req_seq or cancel_seq (seq_cst).  Dekker pair with
 * the worker, which sets daemon_sleeping and then re-scans the slots: one
 * side always sees the other's store, so no request sleeps unnoticed. */
static void ring(void)
{
    struct esem_chan *ch = G.chan;
    if (atomic_load_explicit((_Atomic uint32_t *)&ch->hdr.daemon_sleeping, memory_order_seq_cst)) {
        uint64_t one = 1;
        ssize_t r = write(G.efd, &one, sizeof one);
        (void)r; /* EAGAIN: the counter is saturated, the worker wakes anyway */
    }
}

static int reply_ready(struct esem_slot *s, uint32_t seq)
{
    return atomic_load_explicit((_Atomic uint32_t *)&s->rep_seq, memory_order_acquire) == seq;
}

/* Wait for the reply to request seq.  Returns 0 when it arrived, -EINTR or
 * -ETIMEDOUT if the call may be abandoned (interruptible + deadline), -EIO
 * if the daemon is gone. */
static int await(struct esem_slot *s, uint32_t seq, const struct call *c, int may_abandon)
{
    /* Spin while the answer is likely to come soon: a pure spin first, then
     * yielding (the daemon's worker may need this very CPU), then sleep.
     * A wait the core queued will not be answered soon: sleep at once. */
    uint64_t t0 = esem_util_now_ns(CLOCK_MONOTONIC);
    unsigned i = 0;
    while (!reply_ready(s, seq)) {
        if (atomic_load_explicit((_Atomic uint32_t *)&s->queued_seq, memory_order_acquire) == seq)
            break;
        if ((++i & 31) != 0) {
            esem_util_cpu_relax();
            continue;
        }
        uint64_t spent = esem_util_now_ns(CLOCK_MONOTONIC) - t0;
        if (spent > G.spin_ns)
            break;
        if (spent > ESEM_PURE_SPIN_NS)
            sched_yield();
    }
    while (!reply_ready(s, seq)) {
        struct timespec rel = {1, 0}; /* wake up now and then to check the daemon */
        if (may_abandon && c->deadline) {
            struct timespec now;
            clock_gettime(c->clock, &now);
            int64_t left = (int64_t)(c->deadline->tv_sec - now.tv_sec) * 1000000000ll +
                           (c->deadline->tv_nsec - now.tv_nsec);
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < 1000000000ll) {
                rel.tv_sec = 0;
                rel.tv_nsec = left;
            }
        }
        atomic_store_explicit((_Atomic uint32_t *)&s->client_sleeping, 1, memory_order_seq_cst);
        uint32_t cur = atomic_load_explicit((_Atomic uint32_t *)&s->rep_seq, memory_order_seq_cst);
        int r = 0;
        if (cur != seq)
            r = esem_util_futex_wait(&s->rep_seq, cur, &rel);
        atomic_store_explicit((_Atomic uint32_t *)&s->client_sleeping, 0, memory_order_relaxed);
        if (r == -EINTR && may_abandon && c->interruptible && !reply_ready(s, seq))
            return -EINTR;
        if (r == -ETIMEDOUT && !reply_ready(s, seq) && !daemon_alive()) {
            mark_broken();
            return -EIO;
        }
    }
    return 0;
}

static int rpc(struct call *c)
{
    int r = ensure_connected();
    if (r < 0)
        return r;
    int borrowed;
    int k = slot_enter(&borrowed);
    struct esem_slot *s = &G.chan->slot[k];
    uint32_t seq = ++G.seq[k];
    if (seq == 0)
        seq = ++G.seq[k];
    s->op = c->op;
    s->oflag = c->oflag;
    s->value = c->value;
    s->mode = c->mode;
    s->handle = c->handle;
    s->prio = 0;
    s->name_len = c->name_len;
    if (c->name_len)
        memcpy(s->name, c->name, c->name_len);
    atomic_store_explicit((_Atomic uint32_t *)&s->req_seq, seq, memory_order_seq_cst);
    ring();

    r = await(s, seq, c, c->op == ESEM_OP_WAIT);
    if (r == -EINTR || r == -ETIMEDOUT) {
        /* Abandon the wait: ask the core to dequeue us, then take whatever
         * final answer comes — a grant that won the race is kept. */
        int why = r;
        atomic_store_explicit((_Atomic uint32_t *)&s->cancel_seq, seq, memory_order_seq_cst);
        ring();
        r = await(s, seq, c, 0);
        if (r == 0 && s->status == ESEM_ST_CANCELLED)
            r = why;
    }
    if (r == 0) {
        int32_t st = s->status;
        c->rvalue = s->rvalue;
        c->rhandle = s->rhandle;
        r = st == 0 ? 0 : st > 0 ? -st : -EIO;
    }
    slot_leave(k, borrowed);
    return r;
}

static int fail(int neg_err)
{
    errno = -neg_err;
    return -1;
}

/* ---- handles ---- */

static int valid(const esem_t *sem)
{
    return sem && sem->magic == ESEM_MAGIC;
}

/* POSIX names: skip leading slashes; the rest must be non-empty, fit, and
 * hold no further slash (the core checks again). */
static int norm_name(const char *name, const char **out, uint32_t *len)
{
    if (!name)
        return -EINVAL;
    while (*name == '/')
        name++;
    size_t n = strnlen(name, ESEM_NAME_MAX + 1);
    if (n > ESEM_NAME_MAX)
        return -ENAMETOOLONG;
    if (n == 0 || memchr(name, '/', n))
        return -EINVAL;
    *out = name;
    *len = (uint32_t)n;
    return 0;
}

/* The umask has no getter but /proc (Linux >= 4.7); setting it to read it
 * back would race with other threads creating files. */
static mode_t current_umask(void)
{
    char buf[2048];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n > 0) {
        buf[n] = 0;
        const char *p = strstr(buf, "\nUmask:");
        if (p)
            return (mode_t)strtoul(p + 7, NULL, 8);
    }
    return 022; /* most restrictive common default */
}

static esem_t *registry_add(uint64_t handle, int anon)
{
    pthread_mutex_lock(&G.mu);
    for (esem_t *e = G.list; e; e = e->next) {
        if (e->handle == handle) {
            e->refs++;
            pthread_mutex_unlock(&G.mu);
            return e;
        }
    }
    esem_t *e = calloc(1, sizeof *e);
    if (e) {
        e->magic = ESEM_MAGIC;
        e->refs = 1;
        e->handle = handle;
        e->anon = anon;
        e->next = G.list;
        G.list = e;
    }
    pthread_mutex_unlock(&G.mu);
    return e;
}

/* Drop n references; frees the object at zero.  G.mu held. */
static void registry_drop(esem_t *sem, uint32_t n)
{
    if (sem->refs > n) {
        sem->refs -= n;
        return;
    }
    for (esem_t **pp = &G.list; *pp; pp = &(*pp)->next) {
        if (*pp == sem) {
            *pp = sem->next;
            break;
        }
    }
    sem->magic = 0;
    free(sem);
}

/* ---- API ---- */

EXPORT esem_t *esem_open(const char *name, int oflag, mode_t mode, unsigned int value)
{
    const char *n;
    uint32_t len;
    int r = norm_name(name, &n, &len);
    if (r < 0) {
        fail(r);
        return NULL;
    }
    struct call c = {.op = ESEM_OP_OPEN, .name = n, .name_len = len};
    if (oflag & O_CREAT) {
        if (value > ESEM_VALUE_MAX) {
            fail(-EINVAL);
            return NULL;
        }
        c.oflag = CORE_O_CREAT | ((oflag & O_EXCL) ? CORE_O_EXCL : 0);
        c.mode = (uint32_t)(mode & ~current_umask() & 0777);
        c.value = value;
    }
    r = rpc(&c);
    if (r < 0) {
        fail(r);
        return NULL;
    }
    esem_t *e = registry_add(c.rhandle, 0);
    if (!e) {
        struct call cl = {.op = ESEM_OP_CLOSE, .handle = c.rhandle};
        rpc(&cl);
        errno = ENOMEM;
    }
    return e;
}

EXPORT int esem_close(esem_t *sem)
{
    if (!valid(sem) || sem->anon)
        return fail(-EINVAL);
    struct call c = {.op = ESEM_OP_CLOSE, .handle = sem->handle};
    int r = rpc(&c);
    if (r < 0)
        return fail(r);
    pthread_mutex_lock(&G.mu);
    registry_drop(sem, 1);
    pthread_mutex_unlock(&G.mu);
    return 0;
}

EXPORT int esem_unlink(const char *name)
{
    const char *n;
    uint32_t len;
    int r = norm_name(name, &n, &len);
    if (r < 0)
        return fail(r);
    struct call c = {.op = ESEM_OP_UNLINK, .name = n, .name_len = len};
    r = rpc(&c);
    return r < 0 ? fail(r) : 0;
}

EXPORT esem_t *esem_create(unsigned int value)
{
    if (value > ESEM_VALUE_MAX) {
        fail(-EINVAL);
        return NULL;
    }
    struct call c = {.op = ESEM_OP_CREATE, .value = value};
    int r = rpc(&c);
    if (r < 0) {
        fail(r);
        return NULL;
    }
    esem_t *e = registry_add(c.rhandle, 1);
    if (!e) {
        struct call d = {.op = ESEM_OP_DESTROY, .handle = c.rhandle};
        rpc(&d);
        errno = ENOMEM;
    }
    return e;
}

EXPORT int esem_destroy(esem_t *sem)
{
    if (!valid(sem) || !sem->anon)
        return fail(-EINVAL);
    struct call c = {.op = ESEM_OP_DESTROY, .handle = sem->handle};
    int r = rpc(&c);
    if (r < 0)
        return fail(r);
    pthread_mutex_lock(&G.mu);
    registry_drop(sem, sem->refs);
    pthread_mutex_unlock(&G.mu);
    return 0;
}

EXPORT int esem_post(esem_t *sem)
{
    if (!valid(sem))
        return fail(-EINVAL);
    int saved = errno;
    struct call c = {.op = ESEM_OP_POST, .handle = sem->handle};
    int r = rpc(&c);
    if (r < 0)
        return fail(r);
    errno = saved; /* a handler must not see errno change on success */
    return 0;
}

static int wait_common(esem_t *sem, uint32_t op, clockid_t clock, const struct timespec *abs)
{
    if (!valid(sem))
        return fail(-EINVAL);
    struct call c = {.op = op, .handle = sem->handle, .interruptible = 1, .clock = clock,
                     .deadline = abs};
    int r = rpc(&c);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_wait(esem_t *sem)
{
    return wait_common(sem, ESEM_OP_WAIT, CLOCK_REALTIME, NULL);
}

EXPORT int esem_trywait(esem_t *sem)
{
    return wait_common(sem, ESEM_OP_TRYWAIT, CLOCK_REALTIME, NULL);
}

EXPORT int esem_clockwait(esem_t *sem, clockid_t clock, const struct timespec *abs)
{
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return fail(-EINVAL);
    if (!abs || abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
        return fail(-EINVAL);
    struct timespec now;
    clock_gettime(clock, &now);
    if (abs->tv_sec < now.tv_sec || (abs->tv_sec == now.tv_sec && abs->tv_nsec <= now.tv_nsec)) {
        /* Deadline already past: a permit that is there is still taken. */
        int r = wait_common(sem, ESEM_OP_TRYWAIT, clock, NULL);
        if (r < 0 && errno == EAGAIN)
            errno = ETIMEDOUT;
        return r;
    }
    return wait_common(sem, ESEM_OP_WAIT, clock, abs);
}

EXPORT int esem_timedwait(esem_t *sem, const struct timespec *abs)
{
    return esem_clockwait(sem, CLOCK_REALTIME, abs);
}

EXPORT int esem_getvalue(esem_t *sem, int *sval)
{
    if (!valid(sem) || !sval)
        return fail(-EINVAL);
    struct call c = {.op = ESEM_OP_GETVALUE, .handle = sem->handle};
    int r = rpc(&c);
    if (r < 0)
        return fail(r);
    *sval = (int)c.rvalue;
    return 0;
}
