/*
 * The data plane: worker threads (the paper's TCSs) that take requests from
 * client channels, call the core, and write replies.
 *
 * Binding: thread-process — each client channel is served by one worker.
 * A worker polls its hot channels while there is work and for spin_ns after
 * the last request; a channel with no news for COLD_NS turns cold (its
 * daemon_sleeping flag is set and its client rings the eventfd doorbell),
 * and an idle worker turns all of them cold and sleeps in epoll.  With both
 * sides busy a request therefore costs no system call on either side, and
 * polling costs follow the busy clients, not all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataplane.h"
#include "log.h"
#include "proc.h"
#include "util.h"


/* Refusals worth an audit line: a caller tried something it may not do or
 * sent something malformed.  Ordinary outcomes (ENOENT, EAGAIN...) are not. */
static int is_refusal(int32_t st)
{
    return st == CORE_E_ACCES || st == CORE_E_HANDLE || st == CORE_E_NOTOPEN ||
           st == CORE_E_SESSION || st == CORE_E_BADCALL || st == CORE_E_PERM ||
           st == CORE_E_AUTH || st == CORE_E_QUOTA;
}

/* FUTEX_WAKEs collected under the locks and issued after them: a sleeping
 * waiter is never woken into a lock its waker still holds. */
struct wakeq {
    uint32_t *addr[64];
    int n;
    int woke; /* a wake-up was issued since the worker last yielded */
};

static void wake_flush(struct wakeq *q)
{
    for (int i = 0; i < q->n; i++)
        esem_util_futex_wake(q->addr[i], 1);
    if (q->n)
        q->woke = 1;
    q->n = 0;
}

/* The wake page's count of the waits that sleep on the POSIX semaphore
 * ss's wait is queued on (queued, not woken): a poster that sees it
 * non-zero wakes one of them itself (proto.h, struct esem_wake).  core_mu
 * held. */
static void sleepers_add(const struct slot_state *ss, uint32_t d)
{
    uint64_t idx = (ss->wait_handle & 0xffffffffu) - 1;
    if (ss->sysv || !esemd.wake || idx >= esemd.nwake)
        return;
    atomic_fetch_add_explicit((_Atomic uint32_t *)&esemd.wake[idx].sleepers, d,
                              memory_order_relaxed);
}

/* Waits queued in the core, for the worker's spin policy and the wake
 * page.  Set woken, sysv and wait_handle first.  core_mu held. */
static void set_queued(struct slot_state *ss, uint32_t v)
{
    if (ss->queued != v) {
        atomic_fetch_add_explicit(&esemd.nqueued, v ? 1u : UINT32_MAX, memory_order_relaxed);
        if (!ss->woken)
            sleepers_add(ss, v ? 1u : UINT32_MAX);
    }
    ss->queued = v;
}

static void reply(struct client *c, uint32_t slot, uint64_t seq, int32_t cstatus,
                  uint32_t value, uint64_t handle, const uint8_t *mac, struct wakeq *q);

/* Publish a reply: the core's status (and its errno, or ESEM_ST_CANCELLED),
 * and for a key session the core's MAC over it.  Called with core_mu held. */
static void reply_data(struct client *c, uint32_t slot, uint64_t seq, int32_t cstatus,
                       uint32_t value, uint64_t handle, const uint8_t *mac, const uint8_t *data,
                       uint32_t len, struct wakeq *q)
{
    static const uint8_t nomac[CORE_MAC_BYTES];
    struct esem_slot *s = &c->chan->slot[slot];
    if (len > ESEM_NAME_BUF)
        len = 0;
    if (len)
        memcpy(s->name, data, len);
    s->rdata_len = len;
    s->status = cstatus == CORE_CANCELLED ? ESEM_ST_CANCELLED
                : cstatus == CORE_RETRY   ? ESEM_ST_RETRY
                                          : esem_status_errno(cstatus);
    s->cstatus = cstatus;
    s->rvalue = value;
    s->rhandle = handle;
    memcpy(s->rmac, mac ? mac : nomac, CORE_MAC_BYTES);
    atomic_store_explicit((_Atomic uint32_t *)&s->rep_seq, (uint32_t)seq, memory_order_seq_cst);
    /* Pairs with the client's store of client_sleeping then re-check of
     * rep_seq: one of the two sides sees the other's store. */
    if (atomic_load_explicit((_Atomic uint32_t *)&s->client_sleeping, memory_order_seq_cst)) {
        if (q->n == (int)(sizeof q->addr / sizeof q->addr[0]))
            wake_flush(q);
        q->addr[q->n++] = &s->rep_seq;
    }
}

static void reply(struct client *c, uint32_t slot, uint64_t seq, int32_t cstatus,
                  uint32_t value, uint64_t handle, const uint8_t *mac, struct wakeq *q)
{
    reply_data(c, slot, seq, cstatus, value, handle, mac, NULL, 0, q);
}

static void drain_notes(struct wakeq *q);

/* Deliver a reply the core owes a queued waiter (struct core_wake): a
 * barging wake (CORE_RETRY: the waiter asks again), a FIFO grant
 * (CORE_OK), or a revoke (CORE_E_ACCES).  core_mu held.  A FIFO grant to a
 * waiter whose process has already exited (killed while queued, its death
 * not yet handled) would take the permit to its grave; glibc loses no
 * post that way, so the permit goes to the next waiter, or to the value,
 * instead.  A wake to such a waiter needs nothing: closing its session
 * passes the wake on. */
static void deliver(const struct core_wake *first, struct wakeq *q)
{
    struct core_wake wk = *first;
    for (int hops = 0; wk.valid && hops < 1000000; hops++) {
        uint32_t idx = (uint32_t)wk.session - 1;
        struct client *t = idx < esemd.max_sessions ? esemd.by_session[idx] : NULL;
        if (!t || t->session != wk.session || wk.slot >= ESEM_NSLOTS) {
            esemd_log("internal: reply for unknown session %#llx slot %u dropped",
                      (unsigned long long)wk.session, wk.slot);
            return;
        }
        struct slot_state *st = &t->ss[wk.slot];
        if (!st->queued || st->queued_seq != wk.seq) {
            esemd_log("internal: reply for pid %d slot %u with no queued wait", (int)t->pid,
                      wk.slot);
            return;
        }
        if (wk.status == CORE_RETRY) {
            st->woken = 1; /* still queued in the core, until it asks again */
            sleepers_add(st, UINT32_MAX);
            reply(t, wk.slot, wk.seq, CORE_RETRY, 0, 0, wk.mac, q);
            return;
        }
        set_queued(st, 0);
        /* a semop's completion is final whether or not its process lives
         * (it is the kernel's "done before the signal came") */
        if (wk.status != CORE_OK || st->sysv || esem_util_pidfd_alive(t->pidfd)) {
            if (wk.status == CORE_OK && !st->sysv) {
                st->granted = 1;
                st->granted_seq = wk.seq;
            }
            reply(t, wk.slot, wk.seq, wk.status, 0, 0, wk.mac, q);
            return;
        }
        /* A key session's permit cannot be re-posted by the host (the core
         * refuses to post in its name): the dead waiter consumed it. */
        if (t->key_id) {
            esemd_log("grant to exited key-session pid %d consumed (not re-posted)",
                      (int)t->pid);
            atomic_fetch_add(&esemd.consumed, 1);
            return;
        }
        atomic_fetch_add(&esemd.reposted, 1);
        struct core_sem_post_args a = {.session = t->session, .handle = st->wait_handle};
        if (core_ecall(esemd.core, CORE_ECALL_SEM_POST, &a, sizeof a) != CORE_OK)
            return;
        if (a.notes)
            drain_notes(q);
        wk = a.wake;
    }
}

/* Take and deliver every reply the core owes waiters.  core_mu held. */
static void drain_notes(struct wakeq *q)
{
    for (int guard = 0; guard < 1 << 20; guard++) {
        struct core_notes_args n;
        if (core_ecall(esemd.core, CORE_ECALL_NOTES, &n, sizeof n) != CORE_OK || n.n == 0)
            return;
        for (uint32_t i = 0; i < n.n && i < 8; i++)
            deliver(&n.note[i], q);
    }
}

static void cancel_queued(struct client *c, uint32_t slot, struct wakeq *q)
{
    struct core_sem_cancel_args a = {.session = c->session, .slot = slot};
    core_ecall(esemd.core, CORE_ECALL_SEM_CANCEL, &a, sizeof a);
    set_queued(&c->ss[slot], 0);
    c->ss[slot].woken = 0;
    if (a.notes)
        drain_notes(q);
}

struct req {
    uint32_t op, oflag, value, mode, name_len;
    int32_t prio;
    uint64_t handle;
    uint8_t mac[CORE_MAC_BYTES];
    char name[ESEM_NAME_BUF];
};

static const char *op_name(uint32_t op)
{
    static const char *const n[] = {"?",       "open",    "create",  "close",   "destroy",
                                    "unlink",  "post",    "wait",    "trywait", "getvalue",
                                    "grant",   "revoke",  "fork",    "semget",  "semop",
                                    "semctl"};
    _Static_assert(sizeof n / sizeof n[0] == ESEM_OP_MAX_, "one name per op");
    return op < ESEM_OP_MAX_ ? n[op] : "bad-op";
}

/* Run one request against the core: the request goes in as the client
 * wrote it (the core checks a key session's MAC over exactly that), with
 * the umask the daemon read.  core_mu held.  Returns the core status;
 * CORE_QUEUED means no reply now. */
/* Take the queued waits of processes that have died, but whose death the
 * main thread has not handled yet, off semaphore h.  Before a destroy: a
 * program that re-creates its semaphores after a child was killed
 * (PostgreSQL's crash recovery) must not get EBUSY from a dead waiter.
 * core_mu held. */
static void reap_dead_waiters(uint64_t h, struct wakeq *q)
{
    for (int guard = 0; guard < 4096; guard++) {
        struct core_sem_member_args m = {.handle = h, .cursor = 0};
        int reaped = 0;
        while (core_ecall(esemd.core, CORE_ECALL_SEM_WAITERS, &m, sizeof m) == CORE_OK &&
               m.found) {
            uint32_t idx = (uint32_t)m.session - 1;
            struct client *t = idx < esemd.max_sessions ? esemd.by_session[idx] : NULL;
            if (t && t->session == m.session && m.count < ESEM_NSLOTS &&
                !esem_util_pidfd_alive(t->pidfd)) {
                cancel_queued(t, m.count, q);
                reaped = 1;
                break;
            }
            if (m.next == 0xffffffffu)
                break;
            m.cursor = m.next;
        }
        if (!reaped)
            return;
    }
}

struct result {
    uint32_t value;
    uint64_t handle;
    uint8_t rmac[CORE_MAC_BYTES];
    uint32_t len; /* System V: reply data */
    uint8_t data[CORE_SYSV_DATA];
};

static int32_t execute(struct client *c, uint32_t slot, uint64_t seq, const struct req *r,
                       uint32_t umask, struct result *out, struct wakeq *q)
{
    if (r->op == ESEM_OP_DESTROY)
        reap_dead_waiters(r->handle, q);
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    if (esem_req_canon(r->op, r->oflag, r->value, r->mode, r->name_len, r->prio, r->handle,
                       r->name, slot, seq, &a.req) < 0)
        return CORE_E_BADCALL;
    a.session = c->session;
    memcpy(a.mac, r->mac, sizeof a.mac);
    a.umask = umask;
    if (r->op >= ESEM_OP_SEMGET) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        a.now = (uint64_t)ts.tv_sec;
    }
    int32_t st = core_ecall(esemd.core, CORE_ECALL_REQUEST, &a, sizeof a);
    out->value = a.value;
    out->handle = a.handle;
    memcpy(out->rmac, a.rmac, CORE_MAC_BYTES);
    out->len = a.out_len <= sizeof out->data ? a.out_len : 0;
    memcpy(out->data, a.out, out->len);
    if (st == CORE_OK && r->op == ESEM_OP_POST)
        deliver(&a.wake, q);
    if (a.notes)
        drain_notes(q);
    return st;
}

struct refusal {
    int32_t st;
    uint32_t op;
};

/* A request taken out of its slot, before the core lock is taken. */
struct taken {
    uint32_t seq, cseq;
    uint64_t seq64; /* seq with the client's high bits */
    int fresh;      /* a new request (else: maybe a cancel) */
    int setcred;    /* the caller's identity was read again: tell the core */
    int32_t cred_st; /* OPEN/UNLINK: 0, or why the caller's identity is refused */
    const char *cred_why; /* ... in words, for the audit line */
    struct req r;
    struct proc_creds pc;
};

/* Finding 1 of the security review: whoever holds a client's socket and
 * channel can send requests, so credentials read later from /proc may
 * only drop below those SO_PEERCRED gave at connect, never rise — else a
 * process that connects, hands its channel to a helper and execs a setuid
 * program lends the helper root's identity.  Connected as root: anything
 * (dropping privileges is normal).  Otherwise the uid stays, and gid and
 * groups only among those it had. */
static int in_groups(const struct proc_creds *p, uint32_t g)
{
    if (p->gid == g)
        return 1;
    for (uint32_t i = 0; i < p->ngroups && i < CORE_NGROUPS_MAX; i++)
        if (p->groups[i] == g)
            return 1;
    return 0;
}

static int creds_within(const struct proc_creds *hello, struct proc_creds *now)
{
    if (hello->uid == 0)
        return 1;
    if (now->uid != hello->uid || !in_groups(hello, now->gid))
        return 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < now->ngroups && i < CORE_NGROUPS_MAX; i++)
        if (in_groups(hello, now->groups[i]))
            now->groups[n++] = now->groups[i];
    now->ngroups = n;
    return 1;
}

/* Did the process exec since hello?  Its /proc/PID/exe names another file
 * (exec of the same file is not seen: documented).  Its channel and socket
 * may be held by another process, which must not go on in its name. */
static int exec_happened(struct client *c)
{
    char path[48];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", (int)c->pid);
    if (stat(path, &st) < 0)
        return 0; /* unreadable (not our uid, hidepid): no exe check */
    return (uint64_t)st.st_dev != c->exe_dev || (uint64_t)st.st_ino != c->exe_ino;
}

/* Calls checked against who the caller is now (its uid, groups, umask
 * read from /proc): opening, creating, removing, and System V's semget and
 * the semctl commands that change a set's owner or remove it. */
static int needs_creds(const struct req *r)
{
    return r->op == ESEM_OP_OPEN || r->op == ESEM_OP_UNLINK || r->op == ESEM_OP_SEMGET ||
           (r->op == ESEM_OP_SEMCTL && (r->oflag == CORE_IPC_RMID || r->oflag == CORE_IPC_SET));
}

/* Phase one, without the core lock: copy the request once (the client can
 * rewrite the slot at any time, so nothing is read from it twice), and for
 * the calls checked against the caller's identity read that identity now —
 * a process may have called setuid since it connected, and reading /proc
 * takes microseconds we must not spend holding the lock. */
/* Returns 0 if there was nothing to take after all: under semaphore
 * binding another worker claimed the request first.  The claim is a
 * compare-and-swap of the host-private sequence numbers, so each request
 * number (and each cancel) is taken by exactly one worker whatever the
 * client writes meanwhile. */
static int take(struct client *c, uint32_t k, struct taken *t)
{
    struct esem_slot *s = &c->chan->slot[k];
    struct slot_state *ss = &c->ss[k];
    t->seq = atomic_load_explicit((_Atomic uint32_t *)&s->req_seq, memory_order_acquire);
    t->cseq = atomic_load_explicit((_Atomic uint32_t *)&s->cancel_seq, memory_order_acquire);
    uint32_t last = atomic_load_explicit((_Atomic uint32_t *)&ss->last_seq, memory_order_acquire);
    t->fresh = t->seq != last;
    t->cred_st = 0;
    t->setcred = 0;
    t->cred_why = NULL;
    if (!t->fresh) {
        /* Only now is the cancel looked at: one that came with a fresh
         * request (a deadline that passed at once) must still be seen on
         * the next scan, after the wait it cancels is queued.  It is
         * consumed under the core lock (serve_slot), where it is known
         * whether the request it cancels is still being served. */
        return 1;
    }
    if (!atomic_compare_exchange_strong((_Atomic uint32_t *)&ss->last_seq, &last, t->seq))
        return 0;
    atomic_fetch_add_explicit((_Atomic uint32_t *)&ss->inflight, 1, memory_order_relaxed);
    /* written before req_seq by the client; a lie only hurts its own
     * request (the core refuses a key session's old number) */
    t->seq64 = (uint64_t)atomic_load_explicit((_Atomic uint32_t *)&s->req_seq_hi,
                                              memory_order_relaxed) << 32 | t->seq;
    struct req *r = &t->r;
    r->op = s->op;
    r->oflag = s->oflag;
    r->value = s->value;
    r->mode = s->mode;
    r->name_len = s->name_len;
    r->prio = s->prio;
    r->handle = s->handle;
    memcpy(r->mac, s->mac, sizeof r->mac);
    if (r->op == ESEM_OP_GRANT || r->op == ESEM_OP_REVOKE || r->op == ESEM_OP_FORK ||
        r->op == ESEM_OP_SEMOP || r->op == ESEM_OP_SEMCTL) {
        if (r->name_len > ESEM_NAME_BUF)
            r->name_len = ESEM_NAME_BUF;
        memcpy(r->name, s->name, r->name_len);
    }
    int full = needs_creds(r);
    if (!full && (r->op == ESEM_OP_SEMOP || r->op == ESEM_OP_SEMCTL)) {
        /* System V checks the caller as it is now at every call (a worker
         * that dropped root must not keep root's access): one ioctl tells
         * whether the uid or gid changed; only then is /proc read again.
         * (Kernels without PIDFD_GET_INFO: checked as of the last semget.) */
        uint32_t u, g;
        full = esem_util_pidfd_fscreds(c->pidfd, &u, &g) == 0 &&
               (u != c->creds.uid || g != c->creds.gid);
    }
    t->setcred = full;
    if (full) {
        if (r->op == ESEM_OP_OPEN || r->op == ESEM_OP_UNLINK) {
            if (r->name_len > ESEM_NAME_BUF)
                r->name_len = ESEM_NAME_BUF;
            memcpy(r->name, s->name, r->name_len);
        }
        /* Unlink is checked against the uid alone (sticky /dev/shm), which
         * the pidfd gives without rendering /proc/PID/status (far dearer);
         * an open needs the groups and umask too.  Groups last read stay
         * in the session for the unlink case, where they do not count. */
        t->pc = c->creds;
        /* (for unlink the pidfd names this process even if the pid was
         * reused; for an open, the pidfd check after the read shows the
         * data is this process's, not a successor's that reused the pid) */
        int fast = r->op == ESEM_OP_UNLINK &&
                   esem_util_pidfd_fscreds(c->pidfd, &t->pc.uid, &t->pc.gid) == 0;
        if (!fast && (proc_creds_read(&c->status_fd, c->pid, &t->pc) < 0 ||
                      !esem_util_pidfd_alive(c->pidfd))) {
            t->cred_st = CORE_E_SESSION;
            t->cred_why = "process gone";
        } else if (exec_happened(c)) {
            t->cred_st = CORE_E_SESSION;
            t->cred_why = "the process exec'd: its session ended";
        } else if (!creds_within(&c->hello_creds, &t->pc)) {
            t->cred_st = CORE_E_ACCES;
            t->cred_why = "credentials above those it connected with";
        } else if (!fast) {
            c->creds = t->pc; /* the core applies t->pc.umask, as open(2) would */
        }
    }
    return 1;
}

/* A client whose channel holds nothing but malformed requests (a process
 * scribbling on its own channel) is dropped: no more of its requests are
 * served, every sleeping thread of it is woken to find the channel's
 * `dropped` flag (its calls end with EIO), and its socket is shut down, so
 * the main thread ends its session as for a hang-up.  core_mu held. */
#define DROP_AFTER 64u

static void drop_client(struct client *c)
{
    if (atomic_exchange(&c->dropped, 1))
        return;
    atomic_store_explicit((_Atomic uint32_t *)&c->chan->hdr.dropped, 1, memory_order_seq_cst);
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++) {
        uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&c->chan->hdr.active[w],
                                             memory_order_relaxed);
        for (; bits; bits &= bits - 1)
            esem_util_futex_wake(&c->chan->slot[w * 64 + (uint32_t)__builtin_ctzll(bits)].rep_seq,
                                 INT_MAX);
    }
    esem_util_futex_wake(&c->chan->slot[0].rep_seq, INT_MAX);
    shutdown(c->sock, SHUT_RDWR);
    esemd_refusal_errno(c, "channel", "dropped: 64 malformed requests in a row", EIO);
    /* its own line too: the refusal above may fall under the rate limit
     * that the 63 before it filled */
    esemd_log_limited("client pid=%d uid=%u dropped: 64 malformed requests in a row",
                      (int)c->pid, (unsigned)c->uid);
}

/* Phase two, core_mu held: act on what take() found. */
static void serve_slot(struct client *c, uint32_t k, struct taken *t, struct wakeq *q,
                       struct refusal *ref)
{
    struct slot_state *ss = &c->ss[k];
    ref->st = 0;
    if (t->fresh) {
        atomic_fetch_sub_explicit((_Atomic uint32_t *)&ss->inflight, 1, memory_order_relaxed);
        /* A new request on a slot whose wait is still queued: a woken
         * waiter asking again (barging), or a client that gave up on that
         * wait (a well-behaved one cancels first). */
        int retry = ss->queued && ss->woken &&
                    (t->r.op == ESEM_OP_WAIT || t->r.op == ESEM_OP_TRYWAIT) &&
                    t->r.handle == ss->wait_handle;
        if (ss->queued && !retry)
            cancel_queued(c, k, q);
        ss->granted = 0; /* a client that sends again took its last reply */
        struct result res;
        res.value = 0;
        res.handle = 0;
        res.len = 0;
        memset(res.rmac, 0, sizeof res.rmac);
        int32_t st = t->cred_st;
        if (st && t->cred_why)
            esemd_refusal_errno(c, op_name(t->r.op), t->cred_why, esem_status_errno(st));
        if (t->r.op == ESEM_OP_FORK) {
            /* a token for a child this process is about to fork */
            if (t->r.name_len == ESEM_TOKEN_BYTES) {
                memcpy(c->tokens[c->next_token], t->r.name, ESEM_TOKEN_BYTES);
                c->next_token = (c->next_token + 1) % ESEM_TOKENS_KEPT;
                if (c->ntokens < ESEM_TOKENS_KEPT)
                    c->ntokens++;
            }
            reply(c, k, t->seq64, t->r.name_len == ESEM_TOKEN_BYTES ? CORE_OK : CORE_E_INVAL, 0,
                  0, NULL, q);
            return;
        }
        if (!st && t->setcred) {
            struct core_session_setcred_args sc = {.session = c->session, .uid = t->pc.uid,
                                                   .gid = t->pc.gid, .ngroups = t->pc.ngroups};
            memcpy(sc.groups, t->pc.groups, sizeof sc.groups);
            st = core_ecall(esemd.core, CORE_ECALL_SESSION_SETCRED, &sc, sizeof sc);
        }
        if (!st)
            st = execute(c, k, t->seq64, &t->r, t->r.op == ESEM_OP_OPEN ? t->pc.umask : 0,
                         &res, q);
        if (retry) {
            /* the core took the woken waiter out, or queued it again */
            set_queued(ss, 0);
            ss->woken = 0;
        }
        if (st == CORE_QUEUED) {
            ss->woken = 0;
            ss->sysv = t->r.op == ESEM_OP_SEMOP;
            ss->queued_seq = t->seq64;
            /* read without the lock by slot_owner(), as a hint */
            atomic_store_explicit((_Atomic uint64_t *)&ss->wait_handle, t->r.handle,
                                  memory_order_relaxed);
            set_queued(ss, 1);
            /* tell the client to stop spinning and sleep (a hint) */
            atomic_store_explicit((_Atomic uint32_t *)&c->chan->slot[k].queued_seq,
                                  (uint32_t)t->seq64, memory_order_release);
            return;
        }
        if (is_refusal(st)) {
            ref->st = st;
            ref->op = t->r.op;
        }
        reply_data(c, k, t->seq64, st, res.value, res.handle, res.rmac, res.data, res.len, q);
        if (st == CORE_E_BADCALL && ++c->bad_requests >= DROP_AFTER)
            drop_client(c);
        else if (st != CORE_E_BADCALL)
            c->bad_requests = 0;
        return;
    }
    /* A cancel.  Not while a request of this slot is claimed by another
     * worker but not served yet (semaphore binding): the wait it may cancel
     * is not queued yet, and the cancel is looked at again next scan. */
    if (atomic_load_explicit((_Atomic uint32_t *)&ss->inflight, memory_order_relaxed) ||
        atomic_load_explicit((_Atomic uint32_t *)&ss->cancel_seen, memory_order_relaxed) ==
            t->cseq)
        return;
    atomic_store_explicit((_Atomic uint32_t *)&ss->cancel_seen, t->cseq, memory_order_relaxed);
    /* A woken waiter's answer (ESEM_ST_RETRY) is already in its slot:
     * the client reads it as the final answer to this cancel and settles
     * with a TRYWAIT, so nothing is done here. */
    if (ss->queued && !ss->woken && t->cseq == (uint32_t)ss->queued_seq) {
        struct core_sem_cancel_args a = {.session = c->session, .slot = k};
        int32_t st = core_ecall(esemd.core, CORE_ECALL_SEM_CANCEL, &a, sizeof a);
        set_queued(ss, 0);
        /* CORE_E_NOWAITER cannot happen here: grants clear `queued` under
         * the same lock.  Either way the client gets a final answer. */
        reply(c, k, ss->queued_seq, st == CORE_OK ? CORE_CANCELLED : CORE_OK, 0, 0, a.mac, q);
        if (a.notes)
            drain_notes(q);
    }
}

/* Cheap check without the core lock.  last_seq and cancel_seen belong to
 * the one worker of the channel under process binding; under semaphore
 * binding every worker reads them and take() claims by compare-and-swap. */
static int slot_has_news(const struct client *c, uint32_t k)
{
    const struct esem_slot *s = &c->chan->slot[k];
    return atomic_load_explicit((_Atomic uint32_t *)&s->req_seq, memory_order_acquire) !=
               atomic_load_explicit((_Atomic uint32_t *)&c->ss[k].last_seq,
                                    memory_order_relaxed) ||
           atomic_load_explicit((_Atomic uint32_t *)&s->cancel_seq, memory_order_acquire) !=
               atomic_load_explicit((_Atomic uint32_t *)&c->ss[k].cancel_seen,
                                    memory_order_relaxed);
}

/* Semaphore binding: which worker serves slot k's news.  Calls that name
 * a semaphore go to the worker of its table index (the handle's low half
 * is index + 1); calls by name (open, unlink) and create go to worker 0,
 * and so does anything malformed.  A cancel goes to the worker of the
 * semaphore its wait is queued on.  The slot is the client's to rewrite,
 * so this is only a hint for spreading the work: take() claims each
 * request exactly once, and whoever claims it serves it correctly. */
static int slot_owner(const struct client *c, uint32_t k)
{
    const volatile struct esem_slot *s = &c->chan->slot[k];
    const struct slot_state *ss = &c->ss[k];
    uint64_t h;
    if (s->req_seq != atomic_load_explicit((_Atomic uint32_t *)&ss->last_seq,
                                           memory_order_relaxed)) {
        uint32_t op = s->op;
        if (op == 0 || op >= ESEM_OP_MAX_ || op == ESEM_OP_OPEN || op == ESEM_OP_UNLINK ||
            op == ESEM_OP_CREATE)
            return 0;
        h = s->handle;
    } else {
        h = atomic_load_explicit((_Atomic uint64_t *)&ss->wait_handle, memory_order_relaxed);
    }
    return (int)(((uint32_t)h - 1u) % (uint32_t)esemd.nworkers);
}

static void worker_poke(struct worker *w);

/* c->last_news: written by whichever worker serves c (semaphore binding) */
static uint64_t news_get(const struct client *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)&c->last_news, memory_order_relaxed);
}

static void news_set(struct client *c, uint64_t t)
{
    atomic_store_explicit((_Atomic uint64_t *)&c->last_news, t, memory_order_relaxed);
}

/* Under semaphore binding a worker with nothing to do sleeps; whoever sees
 * news for it wakes it.  Dekker pair with the sleeper, which sets
 * `sleeping` and then scans once more. */
static void wake_owner(int o)
{
    struct worker *w = &esemd.workers[o];
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
        worker_poke(w);
}

/* Serve news in a client's active slots; returns how many slots had news
 * (under semaphore binding, including news left for another worker).  The
 * active mask is the client's to write, so any bit pattern is accepted: at
 * worst a hostile client makes us look at all of its slots. */
static int scan_client(struct worker *me, struct client *c, struct wakeq *q)
{
    int n = 0;
    if (atomic_load_explicit(&c->dropped, memory_order_relaxed))
        return 0;
    int by_sem = esemd.binding == ESEM_BIND_SEMAPHORE && esemd.nworkers > 1;
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++) {
        uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&c->chan->hdr.active[w],
                                             memory_order_seq_cst);
        while (bits) {
            uint32_t k = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (!slot_has_news(c, k))
                continue;
            n++;
            if (by_sem) {
                int o = slot_owner(c, k);
                if (o != me->index) {
                    wake_owner(o);
                    continue;
                }
            }
            struct refusal ref;
            struct taken t;
            if (!take(c, k, &t))
                continue;
            pthread_mutex_lock(&esemd.core_mu);
            serve_slot(c, k, &t, q, &ref);
            pthread_mutex_unlock(&esemd.core_mu);
            /* A grant to a sleeping waiter is woken now, not after the
             * rest of the pass: the hand-off is what someone waits for. */
            wake_flush(q);
            if (by_sem) {
                news_set(c, esem_util_now_ns(CLOCK_MONOTONIC));
                atomic_fetch_add_explicit(&esemd.served, 1, memory_order_relaxed);
            }
            if (ref.st)
                esemd_refusal(c, op_name(ref.op), ref.st);
        }
    }
    return n;
}

/* Hot and cold channels.  A worker polls only its hot channels; a channel
 * with no news for COLD_NS turns cold: the worker sets its daemon_sleeping
 * flag and from then on the client rings the doorbell (eventfd) with its
 * next request.  So the polling cost follows the busy clients, not all of
 * them (1000 idle clients would otherwise cost every request a scan of
 * 1000 channels). */
#define COLD_NS 2000000ull       /* 2 ms without news */
#define DOORBELL_POLL_NS 50000ull /* how often a busy worker looks at doorbells */

/* Move c between the cold set and the worker's hot list (w->hot, which
 * the polling loop walks).  w->mu held. */
static void set_cold(struct worker *w, struct client *c, uint32_t v)
{
    if (v && !c->cold) {
        struct client *last = w->hot[--w->nhot];
        w->hot[c->hot_idx] = last;
        last->hot_idx = c->hot_idx;
    } else if (!v && c->cold) {
        c->hot_idx = w->nhot;
        w->hot[w->nhot++] = c;
    }
    c->cold = v;
    atomic_store_explicit((_Atomic uint32_t *)&c->chan->hdr.daemon_sleeping, v,
                          memory_order_seq_cst);
}

/* Turn c cold.  Dekker pair with the client (store req_seq, load
 * daemon_sleeping): after our store we look once more, so a request that
 * raced the flag is served now.  w->mu held. */
static int cool(struct worker *w, struct client *c, struct wakeq *q)
{
    set_cold(w, c, 1);
    int n = scan_client(w, c, q);
    if (n) {
        set_cold(w, c, 0);
        news_set(c, esem_util_now_ns(CLOCK_MONOTONIC));
    }
    return n;
}

/* Take the doorbells that rang: their channels turn hot.  w->mu held.
 * An event whose eventfd no longer belongs to one of our clients (detached
 * meanwhile) is dropped without touching the descriptor. */
static void take_doorbells(struct worker *w, const struct epoll_event *ev, int ne, uint64_t now)
{
    for (int i = 0; i < ne; i++) {
        int fd = (int)ev[i].data.u64;
        if (fd == w->cmd_efd) {
            uint64_t v;
            if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
                esemd_log("worker %d: command read: %s", w->index, strerror(errno));
            continue;
        }
        for (uint32_t j = 0; j < w->nclients; j++) {
            struct client *c = w->clients[j];
            if (c->efd != fd)
                continue;
            uint64_t v;
            if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
                esemd_log("worker %d: doorbell read: %s", w->index, strerror(errno));
            set_cold(w, c, 0);
            news_set(c, now);
            break;
        }
    }
}

/* ---- the idle spin policy ----
 *
 * After its last request a worker keeps polling for a while, so that a busy
 * client's next request needs no doorbell (a system call) and no wake-up of
 * the worker (waking a thread on an idle vCPU is slow on a VM: the profile
 * of the cross-process hand-off in docs/DESIGN.md showed it as one of its
 * two big costs).  How long:
 *
 *  - spin_ns (--spin-us) after any request;
 *  - longer, up to ARM_MAX_NS, while a wait is queued in the core (someone
 *    will want the post that ends it, and the post should find the worker
 *    awake): twice the recent idle gaps that a request ended (a decaying
 *    maximum), so a daemon whose waiters sleep for seconds does not spin;
 *  - the longer spin only while a CPU is free: /proc/loadavg's count of
 *    runnable threads (this worker included) at most the CPUs we may use,
 *    read at most every LOAD_SAMPLE_NS and only once we have been idle a
 *    while (right after a reply the client we answered still runs and
 *    would count), and no sched_yield of ours took longer than
 *    YIELD_SLOW_NS (then someone else was waiting for our CPU, whatever
 *    the sample said).  A spinning worker on an oversubscribed machine
 *    takes the CPU from the very threads it waits for (2 vCPUs: poster,
 *    waiter and worker), so there it yields from the first poll and sleeps
 *    after BUSY_SPIN_NS -- unless spinning has been paying: while
 *    most recent idle spells ended with a request inside the spin
 *    (w->hits, a saturating score: +1 per hit, -4 per spell that ended in
 *    sleep), it keeps the spin_ns spin, as a client streaming requests
 *    would otherwise pay a doorbell and a wake-up for each one.
 *
 * Spinning is a pure spin for ESEM_PURE_SPIN_NS (none when no CPU is
 * free), then sched_yield between polls, so a thread that shares our CPU
 * runs at once.  The sample is taken
 * at most every LOAD_SAMPLE_NS (an lseek+read of a descriptor kept open),
 * so it costs nothing measurable. */
#define ARM_MAX_NS 500000ull     /* longest spin while a wait is queued */
#define LOAD_SAMPLE_NS 1000000ull /* how often /proc/loadavg is read */
#define YIELD_SLOW_NS 50000ull    /* a yield this long: another thread ran */

/* With sample == 0 the last verdict (optimistic before the first). */
static int cpu_free(struct worker *w, uint64_t now, int sample)
{
    if (!sample || (w->load_at && now - w->load_at < LOAD_SAMPLE_NS))
        return w->load_free;
    w->load_at = now;
    w->load_free = 0;
    if (w->load_fd < 0)
        w->load_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    char buf[128];
    ssize_t n = -1;
    if (w->load_fd >= 0 && lseek(w->load_fd, 0, SEEK_SET) == 0)
        n = read(w->load_fd, buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long running = 0;
    /* "0.66 1.44 1.91 2/345 12345": runnable now / threads */
    if (sscanf(buf, "%*s %*s %*s %lu/", &running) == 1)
        w->load_free = running <= (unsigned long)esemd.ncpu;
    return w->load_free;
}

#define BUSY_SPIN_NS 10000ull /* oversubscribed: yield-spin this long, then sleep */
#define HITS_MAX 32
#define HITS_SPIN 16 /* score from which an oversubscribed worker spins spin_ns */

static void note_sleep(struct worker *w)
{
    w->hits = w->hits > 4 ? w->hits - 4 : 0;
}

static void note_gap(struct worker *w, uint64_t gap)
{
    if (gap <= esemd.spin_ns && w->hits < HITS_MAX)
        w->hits++;
    if (gap > 4 * ARM_MAX_NS)
        gap = 4 * ARM_MAX_NS;
    uint64_t decayed = w->gap_est - w->gap_est / 8;
    w->gap_est = gap > decayed ? gap : decayed;
}

/* How long to poll without a request before sleeping. */
static uint64_t spin_budget(struct worker *w, uint64_t now, int sample)
{
    if (!cpu_free(w, now, sample))
        return w->hits >= HITS_SPIN || esemd.spin_ns < BUSY_SPIN_NS ? esemd.spin_ns : BUSY_SPIN_NS;
    uint64_t b = esemd.spin_ns;
    if (atomic_load_explicit(&esemd.nqueued, memory_order_relaxed) && w->gap_est &&
        w->gap_est <= ARM_MAX_NS) {
        uint64_t a = 2 * w->gap_est + esemd.spin_ns;
        if (a > ARM_MAX_NS)
            a = ARM_MAX_NS;
        if (a > b)
            b = a;
    }
    return b;
}

/* How long to spin without yielding: with no CPU free, not at all -- the
 * thread we wait for may be queued behind us on this very CPU (a profile
 * showed client and worker sharing one CPU, the worker spinning out its
 * pure spin, then sleeping, and every request paying a doorbell). */
static uint64_t pure_spin(struct worker *w)
{
    return w->load_free ? ESEM_PURE_SPIN_NS : 0;
}

/* sched_yield, and learn from how long it took (see cpu_free). */
static void yield_timed(struct worker *w)
{
    uint64_t t0 = esem_util_now_ns(CLOCK_MONOTONIC);
    sched_yield();
    uint64_t t1 = esem_util_now_ns(CLOCK_MONOTONIC);
    if (t1 - t0 > YIELD_SLOW_NS) {
        w->load_free = 0;
        w->load_at = t1;
    }
}

static int stopping(struct worker *w)
{
    return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
}

/* Semaphore binding: every worker scans worker 0's hot channels.  They are
 * scanned from a copy of the list taken under its lock, each pinned so
 * dp_detach waits until the scan is over: a worker must not hold the list
 * lock for a whole pass (with the core calls in it), or the others starve
 * on it while worker 0 loops. */
struct snap {
    struct client **c;
    uint32_t n, cap;
};

static int scan_hot(struct worker *me, struct snap *sn, struct wakeq *q, uint64_t now)
{
    struct worker *h = &esemd.workers[0];
    pthread_mutex_lock(&h->mu);
    if (sn->cap < h->nhot) {
        uint32_t cap = h->nhot * 2;
        struct client **nc = realloc(sn->c, cap * sizeof *nc);
        if (nc) {
            sn->c = nc;
            sn->cap = cap;
        }
    }
    sn->n = h->nhot < sn->cap ? h->nhot : sn->cap;
    for (uint32_t i = 0; i < sn->n; i++) {
        sn->c[i] = h->hot[i];
        atomic_fetch_add_explicit(&sn->c[i]->pins, 1, memory_order_acquire);
    }
    pthread_mutex_unlock(&h->mu);
    int n = 0;
    for (uint32_t i = 0; i < sn->n; i++) {
        struct client *c = sn->c[i];
        int k = scan_client(me, c, q);
        if (k) {
            n += k;
            news_set(c, now);
        }
        atomic_fetch_sub_explicit(&c->pins, 1, memory_order_release);
    }
    return n;
}


/* A worker's idle spell: when it began, how long it may spin, polls since. */
struct idle {
    uint64_t since, budget;
    unsigned spins;
};

/* The spin policy both worker loops share: after a pass at time now that
 * found n requests, 1 = poll again, 0 = the spell is over: sleep. */
static int keep_polling(struct worker *w, struct idle *id, uint64_t now, int n)
{
    if (n) {
        if (id->since)
            note_gap(w, now - id->since);
        id->since = 0;
        id->spins = 0;
        return 1;
    }
    if (!id->since) {
        id->since = now;
        id->budget = spin_budget(w, now, 0);
    }
    if (++id->spins & 15) {
        esem_util_cpu_relax();
        return 1;
    }
    if (now - id->since < id->budget) {
        if (now - id->since >= pure_spin(w)) {
            /* re-check now and then: the machine may have filled up */
            id->budget = spin_budget(w, now, (id->spins & 1023) == 0);
            yield_timed(w);
        }
        return 1;
    }
    /* Before sleeping, one fresh look (at most every LOAD_SAMPLE_NS): now
     * that we have been idle, the sample is not biased by the client we
     * just answered. */
    id->budget = spin_budget(w, now, 1);
    return now - id->since < id->budget;
}

/* The channel worker: process binding, every worker; semaphore binding,
 * worker 0, which keeps all channels hot or cold and answers their
 * doorbells (the other workers poll its hot list, see helper_main). */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct wakeq q = {.n = 0};
    struct epoll_event ev[64];
    uint64_t last_bells = 0, served = 0;
    struct idle idle = {0, 0, 0};
    int by_sem = esemd.binding == ESEM_BIND_SEMAPHORE && esemd.nworkers > 1;
    struct snap sn = {NULL, 0, 0};
    for (;;) {
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        int n = by_sem ? scan_hot(w, &sn, &q, now) : 0;
        pthread_mutex_lock(&w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        for (uint32_t i = 0; i < w->nhot;) {
            struct client *c = w->hot[i];
            int k = by_sem ? 0 : scan_client(w, c, &q);
            if (k) {
                n += k;
                news_set(c, now);
            } else if (now - news_get(c) > COLD_NS && now > news_get(c)) {
                n += cool(w, c, &q);
                if (c->cold)
                    continue; /* the list's last entry moved into place i */
            }
            i++;
        }
        /* A busy worker still answers cold clients' doorbells promptly. */
        if (now - last_bells > DOORBELL_POLL_NS) {
            last_bells = now;
            int ne = epoll_wait(w->epfd, ev, 64, 0);
            if (ne > 0) {
                take_doorbells(w, ev, ne, now);
                n += ne;
            }
        }
        pthread_mutex_unlock(&w->mu);
        /* Semaphore binding: the channels are busy while another worker
         * serves them, even if we had nothing to do ourselves. */
        uint64_t sv = atomic_load_explicit(&esemd.served, memory_order_relaxed);
        if (sv != served) {
            served = sv;
            n++;
        }
        wake_flush(&q);
        if (q.woke) {
            /* We just woke a waiter.  With no CPU free the scheduler put
             * it on a busy one, maybe ours: let it run now rather than
             * after our next poll. */
            q.woke = 0;
            sched_yield();
        }
        if (keep_polling(w, &idle, now, n))
            continue;
        /* Idle: every channel turns cold, then sleep until a doorbell. */
        pthread_mutex_lock(&w->mu);
        int busy = w->stop;
        for (uint32_t i = 0; i < w->nhot;) {
            struct client *c = w->hot[i];
            busy += cool(w, c, &q);
            if (c->cold)
                continue;
            i++;
        }
        pthread_mutex_unlock(&w->mu);
        wake_flush(&q);
        q.woke = 0;
        if (!busy) {
            note_sleep(w);
            int ne = epoll_wait(w->epfd, ev, 64, -1);
            if (ne > 0) {
                pthread_mutex_lock(&w->mu);
                take_doorbells(w, ev, ne, esem_util_now_ns(CLOCK_MONOTONIC));
                pthread_mutex_unlock(&w->mu);
            }
            /* idle.since stays: the gap this doorbell ends is counted
             * when its request is served */
            idle.budget = 0;
            continue;
        }
        idle.since = 0;
    }
    if (w->load_fd >= 0)
        close(w->load_fd);
    free(sn.c);
    return NULL;
}

/* Semaphore binding, workers 1..N-1: poll worker 0's hot channels and serve
 * the requests on their own semaphores (slot_owner).  Worker 0 turns
 * channels hot and cold; it never sleeps while one is hot, and wakes a
 * sleeping worker that has news (wake_owner), so no request is missed:
 * news on a hot channel is seen by worker 0 at least, and news on a cold
 * one rings worker 0's doorbell. */
static void *helper_main(void *arg)
{
    struct worker *w = arg;
    struct wakeq q = {.n = 0};
    struct snap sn = {NULL, 0, 0};
    struct idle idle = {0, 0, 0};
    while (!stopping(w)) {
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        int n = scan_hot(w, &sn, &q, now);
        if (q.woke) {
            q.woke = 0;
            sched_yield();
        }
        if (keep_polling(w, &idle, now, n))
            continue;
        /* Sleep.  Dekker pair with wake_owner(): set the flag, then look
         * once more, so news that came meanwhile is served now. */
        atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        n += scan_hot(w, &sn, &q, now);
        q.woke = 0;
        if (!n && !stopping(w)) {
            note_sleep(w);
            struct epoll_event ev[4];
            int ne = epoll_wait(w->epfd, ev, 4, -1);
            for (int i = 0; i < ne; i++) {
                uint64_t v;
                if (read(w->cmd_efd, &v, sizeof v) < 0 && errno != EAGAIN)
                    esemd_log("worker %d: command read: %s", w->index, strerror(errno));
            }
        }
        atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
        idle.budget = 0;
        if (n)
            idle.since = 0;
    }
    if (w->load_fd >= 0)
        close(w->load_fd);
    free(sn.c);
    return NULL;
}

static void worker_poke(struct worker *w)
{
    uint64_t one = 1;
    if (write(w->cmd_efd, &one, sizeof one) < 0 && errno != EAGAIN)
        esemd_log("worker %d: poke: %s", w->index, strerror(errno));
}

void dp_session_end(struct client *c, uint32_t *waiters_removed, uint32_t *opens_closed,
                    uint32_t *reposted)
{
    struct wakeq q = {.n = 0};
    *reposted = 0;
    pthread_mutex_lock(&esemd.core_mu);
    if (c->chan) {
        for (uint32_t k = 0; k < ESEM_NSLOTS; k++) {
            struct slot_state *ss = &c->ss[k];
            /* our own record first: reading every slot of the channel
             * faulted in pages the client never touched (half of a
             * session's cost on the main thread) */
            if (!ss->granted)
                continue;
            uint32_t ack = atomic_load_explicit((_Atomic uint32_t *)&c->chan->slot[k].ack_seq,
                                                memory_order_acquire);
            if (ack == (uint32_t)ss->granted_seq)
                continue;
            if (c->key_id) {
                /* the core posts nothing in a key session's name */
                ss->granted = 0;
                atomic_fetch_add(&esemd.consumed, 1);
                continue;
            }
            /* Granted while the process was already dying: it never took
             * the permit, so it goes to the next waiter (or the value). */
            struct core_sem_post_args a = {.session = c->session, .handle = ss->wait_handle};
            if (core_ecall(esemd.core, CORE_ECALL_SEM_POST, &a, sizeof a) == CORE_OK) {
                deliver(&a.wake, &q);
                if (a.notes)
                    drain_notes(&q);
                ++*reposted;
                atomic_fetch_add(&esemd.reposted, 1);
            }
            ss->granted = 0;
        }
    }
    struct core_session_close_args a = {.session = c->session};
    core_ecall(esemd.core, CORE_ECALL_SESSION_CLOSE, &a, sizeof a);
    for (uint32_t k = 0; k < ESEM_NSLOTS; k++) {
        set_queued(&c->ss[k], 0); /* the close took the session's waiters out */
        c->ss[k].woken = 0;
    }
    esemd.by_session[(uint32_t)c->session - 1] = NULL;
    if (a.notes)
        drain_notes(&q); /* woken waiters of this session passed their wakes on */
    pthread_mutex_unlock(&esemd.core_mu);
    wake_flush(&q);
    *waiters_removed = a.waiters_removed;
    *opens_closed = a.opens_closed;
}

int dp_start(int nworkers)
{
    esemd.nworkers = nworkers;
    esemd.workers = calloc((size_t)nworkers, sizeof *esemd.workers);
    if (!esemd.workers)
        return -1;
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        w->index = i;
        w->load_fd = -1;
        w->load_free = 1; /* until the first sample says otherwise */
        w->hits = HITS_SPIN;
        pthread_mutex_init(&w->mu, NULL);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->cmd_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->epfd < 0 || w->cmd_efd < 0)
            return -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)w->cmd_efd};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->cmd_efd, &ev) < 0)
            return -1;
        int helper = esemd.binding == ESEM_BIND_SEMAPHORE && i > 0;
        if (pthread_create(&w->thread, NULL, helper ? helper_main : worker_main, w) != 0)
            return -1;
    }
    return 0;
}

void dp_stop(void)
{
    for (int i = 0; i < esemd.nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        pthread_mutex_lock(&w->mu);
        __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&w->mu);
        worker_poke(w);
    }
    for (int i = 0; i < esemd.nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        pthread_join(w->thread, NULL);
        close(w->epfd);
        close(w->cmd_efd);
        free(w->clients);
        free(w->hot);
    }
    free(esemd.workers);
    esemd.workers = NULL;
}

void dp_attach(struct client *c)
{
    /* Fewest clients wins; ties go to the lowest index.  Semaphore
     * binding: worker 0 holds every channel, the others poll its list. */
    struct worker *w = &esemd.workers[0];
    for (int i = 1; i < esemd.nworkers && esemd.binding == ESEM_BIND_PROCESS; i++)
        if (esemd.workers[i].nclients < w->nclients)
            w = &esemd.workers[i];
    pthread_mutex_lock(&w->mu);
    if (w->nclients == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 16;
        struct client **n = realloc(w->clients, cap * sizeof *n);
        struct client **h = n ? realloc(w->hot, cap * sizeof *h) : NULL;
        if (h)
            w->hot = h;
        if (!n || !h) {
            if (n)
                w->clients = n;
            pthread_mutex_unlock(&w->mu);
            esemd_log("out of memory attaching pid %d", (int)c->pid);
            return;
        }
        w->clients = n;
        w->cap = cap;
    }
    w->clients[w->nclients++] = c;
    c->w = w;
    /* Start cold: the client's first request rings the doorbell, which
     * turns the channel hot. */
    c->cold = 1;
    c->chan->hdr.daemon_sleeping = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c->efd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->efd, &ev) < 0)
        esemd_log("epoll add for pid %d: %s", (int)c->pid, strerror(errno));
    pthread_mutex_unlock(&w->mu);
    worker_poke(w);
}

void dp_detach(struct client *c)
{
    struct worker *w = c->w;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!c->cold)
        set_cold(w, c, 1); /* off the hot list */
    for (uint32_t i = 0; i < w->nclients; i++) {
        if (w->clients[i] == c) {
            w->clients[i] = w->clients[--w->nclients];
            break;
        }
    }
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->efd, NULL);
    pthread_mutex_unlock(&w->mu);
    /* off the lists: no new scan can start; wait for those running */
    while (atomic_load_explicit(&c->pins, memory_order_acquire))
        sched_yield();
    c->w = NULL;
}
