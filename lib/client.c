/*
 * libesem's transport: a process connects to esemd lazily (first call),
 * gets a private channel, and each thread talks through its own slot.
 * Everything here works on core handles; esem.c (the public API) and the
 * preload shim put their own objects on top.
 */
#include "client.h"

#include <fcntl.h>

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
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "core_auth.h"
#include "lifepage.h"
#include "proto.h"
#include "util.h"

enum { ST_DOWN = 0, ST_UP = 1, ST_BROKEN = 2 };

static struct {
    pthread_mutex_t mu; /* connect/disconnect */
    _Atomic int state;
    int sock, efd;
    struct esem_chan *chan;
    size_t chan_size;
    uint64_t session;
    uint64_t inherit_from; /* after fork: the parent's session */
    uint8_t fork_token[ESEM_TOKEN_BYTES]; /* registered with esemd before fork(); the
                                           * child shows it in its hello (one use) */
    _Atomic uint64_t slot_used[ESEM_NSLOTS / 64];
    _Atomic uint32_t slot_epoch, slot_sleepers;
    int fork_pipe[2]; /* parent waits for the child's hello (inheritance) */
    uint64_t seq[ESEM_NSLOTS]; /* last request number per slot (never wraps) */
    struct pend {               /* what the slot's last request was, for its reply MAC */
        void *rdata;            /* where its reply data go (System V), and room */
        uint32_t rdata_max;
        uint32_t call;
        uint64_t handle;
    } pend[ESEM_NSLOTS];
    _Atomic long nheld; /* semaphores this process holds: opens + creates - closes */
    _Atomic int sysv;   /* it used System V sets (which have no "close") */
    uint64_t spin_ns;
    pthread_key_t slot_key;
    /* key session (esem_set_key or ESEM_KEY_FILE): every request is MACed
     * and only a reply with the core's MAC counts (see core_auth.h) */
    int keyed;
    int key_err; /* ESEM_KEY_FILE was set but unusable: fail closed */
    uint8_t key[CORE_KEY_BYTES];
    uint64_t key_id;
    uint8_t ks[CORE_KEY_BYTES]; /* this session's key */
    struct vrep {               /* the last reply that passed its MAC check */
        int32_t cstatus;
        uint32_t value;
        uint64_t handle;
        uint32_t len;           /* bytes of data it brought (in pend's rdata) */
    } vrep[ESEM_NSLOTS];
} proc_conn = {.mu = PTHREAD_MUTEX_INITIALIZER, .sock = -1, .efd = -1};

static _Thread_local int t_slot = -1; /* this thread's own slot */
static _Thread_local int t_busy;      /* own slot in use (re-entry from a handler) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- slots ---- */

/* The daemon polls only the slots marked active in the channel header. */
static void slot_mark(int k, int on)
{
    _Atomic uint64_t *m = (_Atomic uint64_t *)&proc_conn.chan->hdr.active[k / 64];
    if (on)
        atomic_fetch_or(m, 1ull << (k % 64));
    else
        atomic_fetch_and(m, ~(1ull << (k % 64)));
}

/* Slots [0, OWN_SLOTS) can be kept by a thread or taken for a blocking
 * wait; the last few are only ever borrowed for a call that does not block,
 * so a post always finds a slot even when every other one holds a waiter. */
#define RESERVED_SLOTS 8u
#define OWN_SLOTS (ESEM_NSLOTS - RESERVED_SLOTS)

static int slot_take(uint32_t limit)
{
    for (uint32_t w = 0; w * 64 < limit; w++) {
        uint64_t cur = atomic_load(&proc_conn.slot_used[w]);
        uint64_t usable = limit - w * 64 >= 64 ? ~0ull : (1ull << (limit - w * 64)) - 1;
        while (~cur & usable) {
            int b = __builtin_ctzll(~cur & usable);
            if (atomic_compare_exchange_weak(&proc_conn.slot_used[w], &cur, cur | (1ull << b))) {
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
    if (proc_conn.chan)
        slot_mark(k, 0);
    atomic_fetch_and(&proc_conn.slot_used[k / 64], ~(1ull << (k % 64)));
    /* wake a blocking wait that found no slot (process-private futex) */
    atomic_fetch_add(&proc_conn.slot_epoch, 1);
    if (atomic_load(&proc_conn.slot_sleepers))
        syscall(SYS_futex, &proc_conn.slot_epoch, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
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
static void init_body(void);
static void use_key(const uint8_t key[CORE_KEY_BYTES]);

/* A slot for this call: the thread's own, or a borrowed one when the own
 * slot is busy (a signal handler interrupted an esem call in this thread) or
 * none was free to keep.  Lock-free, so usable from a handler. */
static int slot_enter(int blocking, int *borrowed)
{
    *borrowed = 0;
    if (t_slot < 0 && !t_busy) {
        int k = slot_take(OWN_SLOTS);
        if (k >= 0) {
            t_slot = k;
            pthread_setspecific(proc_conn.slot_key, (void *)1); /* so thread_exit runs */
        }
    }
    if (t_slot >= 0 && !t_busy) {
        t_busy = 1;
        atomic_signal_fence(memory_order_seq_cst);
        return t_slot;
    }
    int k;
    for (;;) {
        uint32_t epoch = atomic_load(&proc_conn.slot_epoch);
        k = slot_take(blocking ? OWN_SLOTS : ESEM_NSLOTS);
        if (k >= 0)
            break;
        if (!blocking) {
            sched_yield(); /* a non-blocking call's slot frees in microseconds */
            continue;
        }
        /* Every general slot holds a waiter: sleep until one is given back. */
        atomic_fetch_add(&proc_conn.slot_sleepers, 1);
        struct timespec rel = {0, 100000000};
        syscall(SYS_futex, &proc_conn.slot_epoch, FUTEX_WAIT_PRIVATE, epoch, &rel, NULL, 0);
        atomic_fetch_sub(&proc_conn.slot_sleepers, 1);
    }
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

/* Called with proc_conn.mu held (or in the child after fork, single-threaded). */
static int do_connect_once(void)
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
    if (proc_conn.key_err)
        return -proc_conn.key_err;
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_CLIENT, .inherit_session = proc_conn.inherit_from};
    if (proc_conn.inherit_from)
        memcpy(h.inherit_token, proc_conn.fork_token, ESEM_TOKEN_BYTES);
    if (proc_conn.keyed) {
        h.key_id = proc_conn.key_id;
        randombytes_buf(h.nonce, sizeof h.nonce);
    }
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h) {
        close(s);
        return -ECONNREFUSED;
    }
    struct esem_hello_reply rep;
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    int fds[3] = {-1, -1, -1};
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(3 * sizeof(int)))
        memcpy(fds, CMSG_DATA(cm), sizeof fds);
    struct esem_life *life = MAP_FAILED;
    size_t life_len = 0;
    if (fds[2] >= 0) {
        life = esemi_life_map(fds[2], &life_len);
        close(fds[2]);
    }
    if (n != (ssize_t)sizeof rep || rep.err || fds[0] < 0 || life == MAP_FAILED ||
        rep.nslots != ESEM_NSLOTS || rep.chan_size != sizeof(struct esem_chan)) {
        /* a daemon of another build: a clear EPROTO, not "not running" */
        int err = n == (ssize_t)sizeof rep && rep.err ? rep.err
                  : n == (ssize_t)sizeof rep     ? EPROTO
                                                 : ECONNREFUSED;
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        if (life != MAP_FAILED)
            munmap(life, life_len);
        close(s);
        return -err;
    }
    if (proc_conn.keyed) {
        /* Only the core holds our key: its proof shows we talk to it and
         * not to an impostor daemon. */
        uint8_t proof[CORE_MAC_BYTES];
        core_auth_session_key(proc_conn.key, rep.session, h.nonce, rep.core_nonce, proc_conn.ks);
        core_auth_proof(proc_conn.ks, rep.session, h.nonce, rep.core_nonce, proof);
        if (!core_auth_equal(proof, rep.proof)) {
            close(fds[0]);
            close(fds[1]);
            munmap(life, life_len);
            close(s);
            return -EBADMSG;
        }
    }
    void *m = mmap(NULL, rep.chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    if (m == MAP_FAILED) {
        close(fds[1]);
        munmap(life, life_len);
        close(s);
        return -EIO;
    }
    /* The child of a fork() must never see this process's channel. */
    madvise(m, rep.chan_size, MADV_DONTFORK);
    esemi_life_set(life, life_len);
    proc_conn.chan = m;
    proc_conn.chan_size = rep.chan_size;
    proc_conn.sock = s;
    proc_conn.efd = fds[1];
    proc_conn.session = rep.session;
    proc_conn.inherit_from = 0;
    sodium_memzero(proc_conn.fork_token, sizeof proc_conn.fork_token); /* one use */
    memset(proc_conn.seq, 0, sizeof proc_conn.seq);
    atomic_store(&proc_conn.state, ST_UP);
    return 0;
}

static int do_connect(void)
{
    int r = do_connect_once();
    if (r == -EPERM && proc_conn.inherit_from) {
        /* The daemon could not prove we are our parent's child (the parent
         * died first): we get a session of our own, and the semaphores we
         * were handed are not ours to use (EINVAL), instead of every call
         * failing for the rest of our life. */
        proc_conn.inherit_from = 0;
        r = do_connect_once();
    }
    return r;
}

static int ensure_connected(void)
{
    int st = atomic_load_explicit(&proc_conn.state, memory_order_acquire);
    if (st == ST_UP)
        return 0;
    if (st == ST_BROKEN)
        return -EIO;
    pthread_once(&once, init_once);
    /* connect() and recvmsg() are cancellation points, but none of the
     * calls that may connect first (sem_post, sem_open...) is one. */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    pthread_mutex_lock(&proc_conn.mu);
    int r = 0;
    if (atomic_load(&proc_conn.state) == ST_DOWN)
        r = do_connect();
    else if (atomic_load(&proc_conn.state) == ST_BROKEN)
        r = -EIO;
    pthread_mutex_unlock(&proc_conn.mu);
    pthread_setcancelstate(cs, &cs);
    return r;
}

static int daemon_alive(void)
{
    /* raw system call: poll() would be a cancellation point */
    struct pollfd p = {.fd = proc_conn.sock, .events = POLLIN};
    struct timespec zero = {0, 0};
    long r = syscall(SYS_ppoll, &p, 1, &zero, NULL, 0);
    /* POLLNVAL: the program closed our descriptor; we cannot talk to the
     * daemon any more, which is as good as gone.  (POLLIN alone is a new
     * daemon's life page after a restart, struct esem_relife.) */
    return !(r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)));
}

static void mark_broken(void)
{
    atomic_store(&proc_conn.state, ST_BROKEN);
}

/* ---- fork ---- */

/* A child inherits only while the daemon can see its parent alive; a
 * parent that holds semaphores therefore waits in fork() until the child's
 * hello was answered (one round trip), so even a parent that exits at once
 * (daemonising) hands its semaphores on. */
static int fork_register(void);

/* Does a fork child need a session at once (to inherit, before it can
 * setuid)?  POSIX semaphores held, or System V sets used: their ids stay
 * valid in the child, which Apache's children use after dropping root. */
static int holds_any(void)
{
    return atomic_load(&proc_conn.nheld) > 0 || atomic_load(&proc_conn.sysv);
}

void esemi_used_sysv(void)
{
    if (!atomic_load_explicit(&proc_conn.sysv, memory_order_relaxed))
        atomic_store(&proc_conn.sysv, 1);
}

static void atfork_prepare(void)
{
    /* A fresh one-time token for the child, registered before the fork
     * (one round trip): only a child that has it can act as our child. */
    if (atomic_load(&proc_conn.state) == ST_UP && fork_register() < 0)
        sodium_memzero(proc_conn.fork_token, sizeof proc_conn.fork_token);
    pthread_mutex_lock(&proc_conn.mu);
    proc_conn.fork_pipe[0] = proc_conn.fork_pipe[1] = -1;
    if (atomic_load(&proc_conn.state) == ST_UP && holds_any() &&
        pipe2(proc_conn.fork_pipe, O_CLOEXEC) < 0)
        proc_conn.fork_pipe[0] = proc_conn.fork_pipe[1] = -1;
}

static void atfork_parent(void)
{
    if (proc_conn.fork_pipe[0] >= 0) {
        int cs;
        char b;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs); /* fork is no cancellation point */
        close(proc_conn.fork_pipe[1]);
        /* EOF (the child died, or fork failed) ends the wait as well */
        while (read(proc_conn.fork_pipe[0], &b, 1) < 0 && errno == EINTR)
            ;
        close(proc_conn.fork_pipe[0]);
        pthread_setcancelstate(cs, &cs);
    }
    pthread_mutex_unlock(&proc_conn.mu);
}

static void atfork_child(void)
{
    pthread_mutex_init(&proc_conn.mu, NULL);
    int was_up = atomic_load(&proc_conn.state) == ST_UP;
    uint64_t parent = proc_conn.session;
    /* The parent's channel is not mapped here (MADV_DONTFORK); its socket
     * and doorbell are, and must go so the parent's death is seen. */
    if (proc_conn.sock >= 0)
        close(proc_conn.sock);
    if (proc_conn.efd >= 0)
        close(proc_conn.efd);
    proc_conn.chan = NULL;
    proc_conn.sock = proc_conn.efd = -1;
    proc_conn.session = 0;
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++)
        atomic_store(&proc_conn.slot_used[w], 0);
    t_slot = -1;
    t_busy = 0;
    atomic_store(&proc_conn.state, ST_DOWN);
    if (was_up && holds_any()) {
        /* Connect now, while the parent is certainly alive and before the
         * child can change its uid (Apache's children setuid first thing):
         * the daemon checks we are the parent's child and copies its opens. */
        proc_conn.inherit_from = parent;
        if (do_connect() < 0)
            atomic_store(&proc_conn.state, ST_DOWN); /* retried lazily, inheritance kept */
    } else {
        /* Nothing to inherit now, but the child still acts as its parent
         * (strict ownership, process grants): its first call connects as
         * the parent's child, or — the parent gone, or the child's uid
         * changed — gets a session of its own. */
        proc_conn.inherit_from = was_up ? parent : 0;
    }
    if (proc_conn.fork_pipe[1] >= 0) {
        char b = 1;
        ssize_t r = write(proc_conn.fork_pipe[1], &b, 1);
        (void)r; /* if it fails the parent sees EOF when we close */
        close(proc_conn.fork_pipe[0]);
        close(proc_conn.fork_pipe[1]);
    }
}

/* Key for esemi_tag(): random per process tree (fork keeps it, exec makes
 * a new one, as exec drops all semaphores anyway).  The tag is SipHash-2-4
 * (libsodium's crypto_shorthash) of the handle: with a 128-bit key a
 * writer of a shared sem_t cannot compute a valid tag from the (handle,
 * tag) pairs it sees, as it could with a mere mixing function. */
static unsigned char tag_key[crypto_shorthash_KEYBYTES];

uint64_t esemi_tag(uint64_t handle)
{
    pthread_once(&once, init_once);
    unsigned char in[8], out[crypto_shorthash_BYTES];
    memcpy(in, &handle, sizeof in);
    crypto_shorthash(out, in, sizeof in, tag_key);
    uint64_t t;
    memcpy(&t, out, sizeof t);
    return t;
}

static void init_once(void)
{
    /* The first call of a process may be one that is no cancellation point
     * (sem_open, sem_post...): nothing here may act on a pending cancel
     * (libsodium may open and poll a device on its first use). */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    init_body();
    pthread_setcancelstate(cs, &cs);
}

static void init_body(void)
{
    if (sodium_init() < 0)
        abort(); /* libsodium cannot work at all: never run with a weak key */
    randombytes_buf(tag_key, sizeof tag_key);
    const char *kf = secure_getenv("ESEM_KEY_FILE");
    if (kf && *kf && !proc_conn.keyed) {
        uint8_t key[CORE_KEY_BYTES];
        if (esemi_read_key_file(kf, key) == 0)
            use_key(key);
        else
            proc_conn.key_err = ENOKEY; /* fail closed: every call fails */
        sodium_memzero(key, sizeof key);
    }
    const char *spin = secure_getenv("ESEM_SPIN_US");
    proc_conn.spin_ns = (spin ? strtoull(spin, NULL, 10) : 20) * 1000ull;
    pthread_key_create(&proc_conn.slot_key, thread_exit);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- the request path ---- */

/* glibc unwinds a cancelled thread past these frames in a way ASan cannot
 * follow (it then reports their stack as out of scope): not instrumented. */
#if defined(__SANITIZE_ADDRESS__)
#define ESEM_NO_ASAN __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ESEM_NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#ifndef ESEM_NO_ASAN
#define ESEM_NO_ASAN
#endif


/* Call after publishing req_seq or cancel_seq (seq_cst).  Dekker pair with
 * the worker, which sets daemon_sleeping and then re-scans the slots: one
 * side always sees the other's store, so no request sleeps unnoticed. */
static int ring(void)
{
    struct esem_chan *ch = proc_conn.chan;
    if (!atomic_load_explicit((_Atomic uint32_t *)&ch->hdr.daemon_sleeping, memory_order_seq_cst))
        return 0;
    uint64_t one = 1;
    /* raw system call: write() is a cancellation point, sem_post is not;
     * EAGAIN means the counter is saturated and the worker wakes anyway */
    long r = syscall(SYS_write, proc_conn.efd, &one, sizeof one);
    (void)r;
    return 1;
}

int esemi_deadline_passed(clockid_t clock, const struct timespec *d)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return d->tv_sec < now.tv_sec || (d->tv_sec == now.tv_sec && d->tv_nsec <= now.tv_nsec);
}

/* Key sessions: does the reply in s carry the core's MAC for request seq?
 * Reads each field once; what passed is kept privately (proc_conn.vrep), so a
 * writer of the channel cannot change it after the check. */
static int reply_authentic(struct esem_slot *s)
{
    uint32_t k = (uint32_t)(s - proc_conn.chan->slot);
    struct core_reply rep;
    uint8_t mac[CORE_MAC_BYTES], want[CORE_MAC_BYTES];
    memset(&rep, 0, sizeof rep);
    rep.session = proc_conn.session;
    rep.slot = k;
    rep.seq = proc_conn.seq[k];
    rep.call = proc_conn.pend[k].call;
    rep.req_handle = proc_conn.pend[k].handle;
    rep.status = ((volatile struct esem_slot *)s)->cstatus;
    rep.value = ((volatile struct esem_slot *)s)->rvalue;
    rep.handle = ((volatile struct esem_slot *)s)->rhandle;
    for (unsigned i = 0; i < sizeof mac; i++)
        mac[i] = ((volatile struct esem_slot *)s)->rmac[i];
    /* System V data: copied once to where the caller wants it, and the MAC
     * checked over that copy */
    uint32_t len = ((volatile struct esem_slot *)s)->rdata_len;
    const struct pend *pd = &proc_conn.pend[k];
    if (len > CORE_SYSV_DATA || len > pd->rdata_max)
        return 0;
    if (len) {
        memcpy(pd->rdata, s->name, len);
        core_auth_rep_mac_data(proc_conn.ks, &rep, pd->rdata, len, want);
    } else {
        core_auth_rep_mac(proc_conn.ks, &rep, want);
    }
    if (!core_auth_equal(mac, want))
        return 0;
    proc_conn.vrep[k].len = len;
    proc_conn.vrep[k].cstatus = rep.status;
    proc_conn.vrep[k].value = rep.value;
    proc_conn.vrep[k].handle = rep.handle;
    return 1;
}

static int reply_ready(struct esem_slot *s, uint32_t seq)
{
    _Atomic uint32_t *rs = (_Atomic uint32_t *)&s->rep_seq;
    if (atomic_load_explicit(rs, memory_order_acquire) != seq)
        return 0;
    /* a request the daemon answers itself (ESEM_OP_FORK) has no core MAC */
    if (!proc_conn.keyed || proc_conn.pend[s - proc_conn.chan->slot].call == 0 || reply_authentic(s))
        return 1;
    /* Not the core's reply (a forged grant, say): refuse it and keep
     * waiting.  Put the sequence back so the futex can sleep again; if the
     * real reply landed meanwhile its fields check out now. */
    uint32_t exp = seq;
    atomic_compare_exchange_strong(rs, &exp, seq - 1);
    if (reply_authentic(s)) {
        atomic_store_explicit(rs, seq, memory_order_release);
        return 1;
    }
    return 0;
}

/* The reply to the request just answered: status as in the slot (0, a
 * positive errno or ESEM_ST_CANCELLED).  A key session takes only what
 * passed its MAC check. */
static int32_t reply_status(struct esem_slot *s, uint32_t *value, uint64_t *handle)
{
    if (!proc_conn.keyed) {
        if (value)
            *value = s->rvalue;
        if (handle)
            *handle = s->rhandle;
        return s->status;
    }
    const struct vrep *v = &proc_conn.vrep[s - proc_conn.chan->slot];
    if (value)
        *value = v->value;
    if (handle)
        *handle = v->handle;
    return v->cstatus == CORE_CANCELLED ? ESEM_ST_CANCELLED
           : v->cstatus == CORE_RETRY   ? ESEM_ST_RETRY
                                        : esem_status_errno(v->cstatus);
}

/* Bytes of System V reply data now in c->rdata: a key session's were
 * copied there when their MAC was checked; else copied now, once. */
static uint32_t reply_data(struct esem_slot *s, struct esemi_call *c)
{
    if (proc_conn.keyed)
        return proc_conn.vrep[s - proc_conn.chan->slot].len;
    uint32_t len = ((volatile struct esem_slot *)s)->rdata_len;
    if (len > c->rdata_max || len > ESEM_NAME_BUF)
        return 0;
    memcpy(c->rdata, s->name, len);
    return len;
}

/* After sending a post: if waits sleep on the semaphore, wake one now, so
 * that it wakes while the daemon handles the post (its answer, written by
 * the core, is what counts; this is a hint, as glibc's poster's wake). */
static void hint_wake(uint64_t handle)
{
    struct esem_wake *wk = esemi_wake_of(handle);
    if (wk && atomic_load_explicit((_Atomic uint32_t *)&wk->sleepers, memory_order_relaxed))
        esem_util_futex_wake(&wk->word, 1);
}

/* Did the daemon queue request seq (a hint: sleep now)? */
static int queued(const struct esem_slot *s, uint32_t seq)
{
    return atomic_load_explicit((_Atomic uint32_t *)&s->queued_seq, memory_order_acquire) == seq;
}

/* Spin while the answer to request seq is likely to come soon: a pure spin
 * first, then yielding (the daemon's worker may need this very CPU).  The
 * pure spin adapts per thread: a reply that came during it (the worker was
 * awake on another CPU) lets the next one spin as long as
 * ESEM_PURE_SPIN_NS; a reply that needed a yield or a sleep (the worker was
 * asleep, or shares our CPU, or the machine is oversubscribed) halves it,
 * down to PURE_MIN_NS (1 us, a busy round trip), so that on a busy 2-vCPU
 * machine we hand the CPU over at once instead of burning it.  Yielding
 * stops after proc_conn.spin_ns (20 us) in all.  A blocking request the
 * core queued has no answer soon: the daemon says so (queued_seq) and, if
 * at_queued, the spin ends.  Not for a woken waiter's retry that the core
 * queued again (a barger took the permit): it keeps spinning, as the next
 * post usually comes within the spin (sleeping there at once cut the
 * contended throughput several-fold: docs/DESIGN.md, "The client
 * library").  A signal handler that runs during the spin (one round trip)
 * does not end a wait, as one that runs in glibc's sem_wait before its
 * futex sleep does not.  1: the reply is there (and, in a key session,
 * passed its MAC check); 0: sleep for it. */
ESEM_NO_ASAN static int spin_for(struct esem_slot *s, uint32_t seq, int at_queued)
{
    enum { PURE_MIN_NS = 1000 };
    static _Thread_local uint32_t t_pure_ns = ESEM_PURE_SPIN_NS;
    uint64_t t0 = esem_util_now_ns(CLOCK_MONOTONIC);
    uint32_t pure = t_pure_ns;
    unsigned i = 0;
    int yielded = 0, ready = 0, answered = 0;
    for (;;) {
        if (reply_ready(s, seq)) {
            ready = answered = 1;
            break;
        }
        if (at_queued && queued(s, seq)) {
            answered = 1;
            break;
        }
        if ((++i & 31) != 0) {
            esem_util_cpu_relax();
            continue;
        }
        uint64_t spent = esem_util_now_ns(CLOCK_MONOTONIC) - t0;
        if (spent > proc_conn.spin_ns)
            break;
        if (spent > pure) {
            yielded = 1;
            sched_yield();
        }
    }
    if (answered && !yielded)
        t_pure_ns = pure * 2 > ESEM_PURE_SPIN_NS ? (uint32_t)ESEM_PURE_SPIN_NS : pure * 2;
    else
        t_pure_ns = pure / 2 < PURE_MIN_NS ? PURE_MIN_NS : pure / 2;
    return ready;
}

/* Sleep until the reply to request seq arrives.  Returns 0 when it
 * arrived, -EINTR or -ETIMEDOUT if the call may be abandoned
 * (interruptible + deadline), -EIO if the daemon is gone. */
ESEM_NO_ASAN static int sleep_for(struct esem_slot *s, uint32_t seq, const struct esemi_call *c,
                                  int may_abandon)
{
    /* Sleep on the slot's reply word and the daemon's life word at once,
     * with no periodic wake-up: a signal whose handler runs during the
     * wait always ends the sleep itself (EINTR, or a restart after an
     * SA_RESTART handler, which POSIX asks for), never lands between two
     * sleeps where nothing would report it. */
    const struct timespec *abs = may_abandon && c->deadline ? c->deadline : NULL;
    int interruptible = may_abandon && c->interruptible;
    uint32_t *lifew = (uint32_t *)&esemi_life_page()->word;
    /* A POSIX wait also sleeps on its semaphore's wake word, for a poster's
     * hint (struct esem_wake in proto.h). */
    struct esem_wake *wk = c->op == ESEM_OP_WAIT ? esemi_wake_of(c->handle) : NULL;
    uint32_t *hint = wk ? &wk->word : NULL;
    while (!reply_ready(s, seq)) {
        if (abs && esemi_deadline_passed(c->clock, abs))
            return -ETIMEDOUT;
        if (atomic_load_explicit((_Atomic uint32_t *)&proc_conn.chan->hdr.dropped,
                                 memory_order_acquire)) {
            /* the daemon dropped this process (its channel was scribbled
             * on): nothing more will be answered */
            mark_broken();
            return -EIO;
        }
        uint32_t life = atomic_load_explicit((_Atomic uint32_t *)lifew, memory_order_acquire);
        if (life & ESEM_LIFE_DEAD) {
            /* the kernel woke one sleeper at the daemon's death: pass it on */
            esem_util_futex_wake(lifew, INT_MAX);
            mark_broken();
            return -EIO;
        }
        if (life & ESEM_LIFE_MOVED) {
            /* a restart without loss: our request is in the new daemon's
             * hands; sleep on its life page from now on */
            int f = esemi_life_follow(proc_conn.sock);
            if (f == -EIO) {
                mark_broken();
                return -EIO;
            }
            if (f == -EINTR && interruptible)
                return -EINTR;
            lifew = (uint32_t *)&esemi_life_page()->word;
            wk = c->op == ESEM_OP_WAIT ? esemi_wake_of(c->handle) : NULL;
            hint = wk ? &wk->word : NULL;
            continue;
        }
        atomic_store_explicit((_Atomic uint32_t *)&s->client_sleeping, 1, memory_order_seq_cst);
        uint32_t cur = atomic_load_explicit((_Atomic uint32_t *)&s->rep_seq, memory_order_seq_cst);
        int r = 0;
        if (cur != seq) {
            int old = 0;
            /* Only the system call runs with asynchronous cancellation, as
             * glibc does for its own cancellation points; rpc() has a
             * cleanup handler that dequeues us. */
            if (may_abandon && c->cancellable)
                pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
            uint32_t *w[3] = {&s->rep_seq, lifew, hint};
            uint32_t v[3] = {cur, life, hint ? *(volatile uint32_t *)hint : 0};
            r = esem_util_futex_waitv(w, v, hint ? 3 : 2, c->clock, abs);
            if (r == -ENOSYS) /* Linux < 5.16: look at the daemon now and then */
                r = esem_util_futex_wait(&s->rep_seq, cur, &(struct timespec){1, 0});
            if (may_abandon && c->cancellable)
                pthread_setcanceltype(old, &old);
        }
        atomic_store_explicit((_Atomic uint32_t *)&s->client_sleeping, 0, memory_order_relaxed);
        if (reply_ready(s, seq))
            break;
        /* A poster's wake (the hint word): the daemon is handling its post
         * now, and our answer is likely a moment away. */
        if (r == 2 && spin_for(s, seq, 0))
            break;
        if (r == -EINTR && interruptible)
            return -EINTR;
        if (r == -ETIMEDOUT && abs)
            return -ETIMEDOUT;
        if (r == -ETIMEDOUT && !daemon_alive()) { /* the ENOSYS path */
            mark_broken();
            return -EIO;
        }
    }
    return 0;
}

/* Spin, then sleep, until the reply to request seq arrives (as sleep_for). */
ESEM_NO_ASAN static int await(struct esem_slot *s, uint32_t seq, const struct esemi_call *c,
                              int may_abandon)
{
    return spin_for(s, seq, 1) ? 0 : sleep_for(s, seq, c, may_abandon);
}

/* The grant of a queued wait was taken: from here on the permit is ours,
 * and the daemon must not give it back if we die (see proto.h). */
static void ack(struct esem_slot *s, uint32_t seq)
{
    atomic_store_explicit((_Atomic uint32_t *)&s->ack_seq, seq, memory_order_release);
}

struct inflight {
    struct esem_slot *s;
    uint32_t seq; /* low 32 bits of the request number (the futex word's) */
    int k, borrowed;
    uint64_t handle;
};

/* Publish request c in f's slot under the slot's next number.  1 if the
 * worker was asleep (we rang its doorbell). */
static int send_req(struct inflight *f, const struct esemi_call *c)
{
    struct esem_slot *s = f->s;
    uint64_t seq = ++proc_conn.seq[f->k];
    if ((uint32_t)seq == 0) /* 0 is no request in the 32-bit words */
        seq = ++proc_conn.seq[f->k];
    f->seq = (uint32_t)seq;
    proc_conn.pend[f->k].call = esem_op_call(c->op);
    proc_conn.pend[f->k].handle = c->handle;
    proc_conn.pend[f->k].rdata = c->rdata;
    proc_conn.pend[f->k].rdata_max = c->rdata_max;
    s->op = c->op;
    s->oflag = c->oflag;
    s->value = c->value;
    s->mode = c->mode;
    s->handle = c->handle;
    s->prio = c->prio;
    s->name_len = c->name_len;
    if (c->name_len)
        memcpy(s->name, c->name, c->name_len);
    if (proc_conn.keyed) {
        struct core_req q;
        esem_req_canon(c->op, c->oflag, c->value, c->mode, c->name_len, c->prio, c->handle,
                       c->name, (uint32_t)f->k, seq, &q);
        core_auth_req_mac(proc_conn.ks, &q, s->mac);
    }
    atomic_store_explicit((_Atomic uint32_t *)&s->req_seq_hi, (uint32_t)(seq >> 32),
                          memory_order_relaxed);
    atomic_store_explicit((_Atomic uint32_t *)&s->req_seq, f->seq, memory_order_seq_cst);
    return ring();
}

/* Abandon a queued wait: ask the core to dequeue us and wait for the final
 * answer.  Returns 0 if the wait was cancelled, 1 if an answer won the
 * race (a FIFO grant, or a barging wake: see settle()), or -EIO. */
ESEM_NO_ASAN static int withdraw(struct inflight *f)
{
    struct esemi_call none = {.op = 0};
    atomic_store_explicit((_Atomic uint32_t *)&f->s->cancel_seq, f->seq, memory_order_seq_cst);
    ring();
    int r = await(f->s, f->seq, &none, 0);
    if (r < 0)
        return r;
    return reply_status(f->s, NULL, NULL) == ESEM_ST_CANCELLED ? 0 : 1;
}

/* A woken waiter that is giving up (deadline, signal, cancellation) asks
 * once more without queueing: it takes a permit if one is free, else it
 * leaves the queue (and its wake passes on).  0: took a permit; -EAGAIN:
 * left; another -errno. */
ESEM_NO_ASAN static int settle(struct inflight *f)
{
    struct esemi_call t = {.op = ESEM_OP_TRYWAIT, .handle = f->handle};
    send_req(f, &t);
    int r = await(f->s, f->seq, &t, 0);
    if (r < 0)
        return r;
    int32_t st = reply_status(f->s, NULL, NULL);
    return st == 0 ? 0 : st > 0 ? -st : -EIO;
}

static int rpc(struct esemi_call *c);

/* The thread is being cancelled inside a wait (POSIX makes sem_wait a
 * cancellation point): leave no ghost waiter behind, and if a permit had
 * already come our way, give it back rather than lose it. */
ESEM_NO_ASAN static void on_cancel(void *arg)
{
    struct inflight *f = arg;
    int granted = 0;
    if (withdraw(f) == 1) {
        int32_t st = reply_status(f->s, NULL, NULL);
        granted = st == 0 || (st == ESEM_ST_RETRY && settle(f) == 0);
    }
    if (granted)
        ack(f->s, f->seq); /* we hand it back ourselves, just below */
    slot_leave(f->k, f->borrowed);
    if (granted) {
        struct esemi_call post = {.op = ESEM_OP_POST, .handle = f->handle};
        rpc(&post);
    }
}

/* pthread_cleanup_push is setjmp-based in C: keep it in a frame of its own. */
ESEM_NO_ASAN static int await_cancellable(struct inflight *f, const struct esemi_call *c)
{
    volatile int r;
    pthread_cleanup_push(on_cancel, f);
    r = sleep_for(f->s, f->seq, c, 1);
    pthread_cleanup_pop(0);
    return r;
}

static int rpc(struct esemi_call *c)
{
    int r = ensure_connected();
    if (r < 0)
        return r;
    struct inflight f;
    int blocking = c->op == ESEM_OP_WAIT || c->op == ESEM_OP_SEMOP;
    f.k = slot_enter(blocking, &f.borrowed);
    f.s = &proc_conn.chan->slot[f.k];
    f.handle = c->handle;
    struct esem_slot *s = f.s;
    c->rdata_len = 0;
    /* The poster's wake, only when the worker was asleep: then the wake-up
     * of the worker and that of a waiter run in parallel.  A spinning
     * worker handles the post at once and wakes the waiter the core chose;
     * a hint then only wakes some sleeper for nothing (the futex queue
     * and the core's queue differ once a woken waiter lost to a barger),
     * which cut the contended throughput (docs/DESIGN.md). */
    if (send_req(&f, c) && c->op == ESEM_OP_POST)
        hint_wake(c->handle);
    int again = 0; /* a woken waiter asking again */
    for (;;) {
        /* the cancellation handler only around the sleep: a reply that
         * comes during the spin needs none */
        r = spin_for(s, f.seq, !again) ? 0
            : c->cancellable ? await_cancellable(&f, c)
                             : sleep_for(s, f.seq, c, blocking);
        int32_t st = 0;
        if (r == -EINTR || r == -ETIMEDOUT) {
            /* An answer that won the race against the signal or the
             * deadline is kept: a grant makes the call succeed, a wake
             * gets one last try. */
            int w = withdraw(&f);
            if (w <= 0) {
                r = w < 0 ? w : r;
                break;
            }
            if (reply_status(s, NULL, NULL) == ESEM_ST_RETRY) {
                int t = settle(&f);
                r = t == -EAGAIN ? r : t;
                break;
            }
            r = 0;
        }
        if (r < 0)
            break;
        st = reply_status(s, &c->rvalue, &c->rhandle);
        if (c->rdata_max)
            c->rdata_len = reply_data(s, c);
        if (st == ESEM_ST_RETRY && blocking) {
            /* Woken (barging order): ask again; the core keeps our place
             * in the queue if a running thread took the permit first. */
            if (c->deadline && esemi_deadline_passed(c->clock, c->deadline)) {
                int t = settle(&f);
                r = t == -EAGAIN ? -ETIMEDOUT : t;
                break;
            }
            send_req(&f, c);
            again = 1;
            continue;
        }
        r = st == 0 ? 0 : st > 0 ? -st : -EIO;
        break;
    }
    if (r == 0 && blocking)
        ack(s, f.seq);
    slot_leave(f.k, f.borrowed);
    return r;
}

int esemi_rpc(struct esemi_call *c)
{
    return rpc(c);
}

void esemi_held(long delta)
{
    atomic_fetch_add(&proc_conn.nheld, delta);
}

int esemi_rpc_blocking(struct esemi_call *c)
{
    for (long backoff_ns = 100000;; backoff_ns = backoff_ns < 25000000 ? backoff_ns * 2 : 50000000) {
        int w = rpc(c);
        if (w != -ENOSPC)
            return w;
        /* The core's waiter table is full (another user may have filled
         * it).  ENOSPC is no answer a POSIX program expects from a wait:
         * its `while (sem_wait(m) == -1 && errno == EINTR);` would walk
         * into the critical section.  Block until a waiter slot is free —
         * ended only by the deadline, a signal (EINTR, any handler) or
         * the daemon's death — looking again after a growing pause. */
        struct esem_life *lp = esemi_life_page();
        uint32_t life = atomic_load_explicit((_Atomic uint32_t *)&lp->word, memory_order_acquire);
        if (life & ESEM_LIFE_DEAD)
            return -EIO;
        if (life & ESEM_LIFE_MOVED) {
            int f = esemi_life_follow(proc_conn.sock);
            if (f == -EIO || f == -EINTR)
                return f;
            continue;
        }
        struct timespec rel = {0, backoff_ns};
        int s = esem_util_futex_wait((uint32_t *)&lp->word, life, &rel);
        if (s == -EINTR)
            return -EINTR;
        if (c->deadline && esemi_deadline_passed(c->clock, c->deadline))
            return -ETIMEDOUT;
        if (c->cancellable)
            pthread_testcancel();
    }
}

/* ---- keys ---- */

/* Register a fresh inheritance token for the child about to be forked. */
static int fork_register(void)
{
    uint8_t t[ESEM_TOKEN_BYTES];
    randombytes_buf(t, sizeof t);
    struct esemi_call c = {.op = ESEM_OP_FORK, .name = (const char *)t, .name_len = sizeof t};
    int r = rpc(&c);
    if (r == 0)
        memcpy(proc_conn.fork_token, t, sizeof t);
    sodium_memzero(t, sizeof t);
    return r;
}

/* Make this process's session a key session.  proc_conn.mu held, or from
 * init_once (nothing connected yet). */
static void use_key(const uint8_t key[CORE_KEY_BYTES])
{
    memcpy(proc_conn.key, key, CORE_KEY_BYTES);
    proc_conn.key_id = core_auth_key_id(key);
    proc_conn.keyed = 1;
    proc_conn.key_err = 0;
}

int esemi_set_key(const uint8_t key[CORE_KEY_BYTES])
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&proc_conn.mu);
    int r = 0;
    if (atomic_load(&proc_conn.state) != ST_DOWN)
        r = -EISCONN; /* a session's kind is fixed when it starts */
    else
        use_key(key);
    pthread_mutex_unlock(&proc_conn.mu);
    return r;
}
