/*
 * One request, from a client's channel slot to the core and back: take it
 * out of the slot (a private copy, the caller's identity read again where
 * the call needs it), run it through the core, write the reply, and wake
 * whoever the core's answer concerns — the caller, a waiter granted or
 * woken by a post, the sleepers of the wake page.  And the end of a
 * session.  The worker threads that find the requests are dataplane.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "proc.h"
#include "serve.h"
#include "util.h"

/* Refusals worth an audit line: a caller tried something it may not do or
 * sent something malformed.  Ordinary outcomes (ENOENT, EAGAIN...) are not. */
static int is_refusal(int32_t st)
{
    return st == CORE_E_ACCES || st == CORE_E_HANDLE || st == CORE_E_NOTOPEN ||
           st == CORE_E_SESSION || st == CORE_E_BADCALL || st == CORE_E_PERM ||
           st == CORE_E_AUTH || st == CORE_E_QUOTA;
}


void wakeq_flush(struct wakeq *q)
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
            wakeq_flush(q);
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


const char *serve_op_name(uint32_t op)
{
    static const char *const n[] = {"?",       "open",    "create",  "close",   "destroy",
                                    "unlink",  "post",    "wait",    "trywait", "getvalue",
                                    "grant",   "revoke",  "fork",    "semget",  "semop",
                                    "semctl"};
    _Static_assert(sizeof n / sizeof n[0] == ESEM_OP_MAX_, "one name per op");
    return op < ESEM_OP_MAX_ ? n[op] : "bad-op";
}

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

/* Run one request against the core: the request goes in as the client
 * wrote it (the core checks a key session's MAC over exactly that), with
 * the umask the daemon read.  core_mu held.  Returns the core status;
 * CORE_QUEUED means no reply now. */
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
    } else if (esemd.handoff && (r->op == ESEM_OP_POST || r->op == ESEM_OP_WAIT)) {
        a.now_ns = esem_util_now_ns(CLOCK_MONOTONIC);
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
int serve_take(struct client *c, uint32_t k, struct taken *t)
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

/* Phase two, core_mu held: act on what serve_take() found. */
void serve_slot(struct client *c, uint32_t k, struct taken *t, struct wakeq *q,
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
            esemd_refusal_errno(c, serve_op_name(t->r.op), t->cred_why, esem_status_errno(st));
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

void serve_session_end(struct client *c, uint32_t *waiters_removed, uint32_t *opens_closed,
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
    wakeq_flush(&q);
    *waiters_removed = a.waiters_removed;
    *opens_closed = a.opens_closed;
}
