/*
 * Wire formats shared by libesem, esemd and esemctl (untrusted side).
 *
 *  - The control socket (SOCK_SEQPACKET, AF_UNIX): one HELLO per connection.
 *    A client connection then carries nothing else; it stays open as the
 *    session's lifeline (hang-up = the process is gone or exec'd).  An admin
 *    connection carries request/record messages for esemctl.
 *  - The channel: shared memory that the daemon creates per client process
 *    (memfd, passed by fd, never named) holding one slot per client thread.
 *    Requests and replies go through it; the socket is not on the data path.
 */
#ifndef ESEM_PROTO_H
#define ESEM_PROTO_H

#include <errno.h>
#include <stdint.h>
#include "esem_core.h"

#define ESEM_PROTO_MAGIC 0x4553454du /* "ESEM" */
/* Bump with every change of a wire format or of the channel layout: a
 * library and a daemon from different builds then refuse each other with
 * EPROTO instead of misreading each other. */
#define ESEM_PROTO_VERSION 7u

#define ESEM_NSLOTS 1024u
#define ESEM_NAME_BUF 256u

/* TAKEOVER: a new esemd asking the running one for its state (restart
 * without loss, host/handover.c); only root on the system daemon, and the
 * daemon's own user (or root) where it runs with --allow-takeover. */
enum esem_hello_kind { ESEM_HELLO_CLIENT = 1, ESEM_HELLO_ADMIN = 2, ESEM_HELLO_TAKEOVER = 3 };
#define ESEM_TOKEN_BYTES 16u
#define ESEM_TOKENS_KEPT 64u /* tokens a process has registered and no child used yet */

struct esem_hello {
    uint32_t magic, version, kind, pad_;
    /* A child after fork(): the parent's session, whose opens it inherits,
     * and the one-time token the parent registered for it (ESEM_OP_FORK)
     * just before fork().  The daemon checks that the caller really is
     * that process's child and that the token is one the parent made and
     * nobody used: an exec'd child no longer has it, so exec drops the
     * parent's semaphores as POSIX says. */
    uint64_t inherit_session;
    uint8_t inherit_token[ESEM_TOKEN_BYTES];
    /* A key session: the id of the key the client holds (0: a PID session)
     * and a fresh random nonce; the core answers with a proof that it
     * knows the key, and from then on every request and reply is MACed
     * with the session key (enclave/core_auth.h). */
    uint64_t key_id;
    uint8_t nonce[CORE_NONCE_BYTES];
};

struct esem_hello_reply {
    int32_t err; /* 0 or a positive errno */
    uint32_t nslots;
    uint64_t session;
    uint64_t chan_size;
    uint32_t inherited;
    int32_t daemon_pid; /* the daemon that answers: after a restart without
                         * loss not the process that made the socket, which
                         * is what SO_PEERCRED names (it says the uid) */
    uint64_t core_nonce;           /* key sessions: see core_auth.h */
    uint8_t proof[CORE_MAC_BYTES]; /* key sessions: core_auth_proof() */
    /* SCM_RIGHTS (client only): [0] channel memfd, [1] doorbell eventfd,
     * [2] the daemon's life page (struct esem_life) followed, from
     * ESEM_WAKE_OFF, by the wake words (struct esem_wake): map the whole
     * memfd (fstat) read-only; it is sealed against writes */
};

/*
 * The life page: one page per daemon, shared read-only with every client.
 * `word` holds the daemon's main thread id | FUTEX_WAITERS and is on that
 * thread's robust futex list, so when the daemon dies — killed by any
 * signal included — the kernel sets FUTEX_OWNER_DIED in it and wakes one
 * sleeper; that client wakes all the others.  A client sleeps on its
 * slot's rep_seq and this word at once (futex_waitv), so it learns of the
 * daemon's death without waking up now and then to look — a periodic
 * wake-up would run a signal handler outside the sleep and lose its EINTR.
 */
struct esem_life {
    uint32_t word;
    uint32_t pad_[15];
};
#define ESEM_LIFE_DEAD 0x40000000u /* FUTEX_OWNER_DIED */
/* The daemon handed its state to a new one (a restart without loss) and
 * exited: no thread id in the word, so its exit marks nothing dead.  The
 * client asks for the daemon's life page on its socket (a struct
 * esem_relife with pid 0, the one message a client sends after its hello;
 * once per daemon) and gets it back the same way, with the memfd; it
 * sleeps on that page from then on. */
#define ESEM_LIFE_MOVED 0x20000000u
#define ESEM_RELIFE_MAGIC 0x6566696cu /* "life" */
struct esem_relife {
    uint32_t magic; /* ESEM_RELIFE_MAGIC */
    int32_t pid;    /* request: 0; answer: the daemon that serves now */
    /* answer, SCM_RIGHTS: its life page memfd (as [2] of the hello reply) */
};

/*
 * The wake words: in the same memfd as the life page, from ESEM_WAKE_OFF,
 * one per index of the daemon's semaphore table (a POSIX semaphore's handle
 * is gen << 32 | index + 1).  `sleepers` counts the waits queued on that
 * semaphore and not yet woken (the daemon keeps it); a waiter sleeps on its
 * reply word, the life word and `word` at once.  A poster that sees
 * sleepers > 0 makes one FUTEX_WAKE on `word` right after sending its post,
 * so a sleeper starts waking while the daemon's worker handles the post
 * (glibc's poster wakes its waiter the same way): the waiter's own reply,
 * written by the core, is what counts; the wake is a hint.  The page is
 * read-only for clients: any of them can wake a semaphore's sleepers early
 * (CPU only: they look at their replies and sleep again), none can grant,
 * and each sees how many waits sleep on each semaphore index (not which
 * semaphore that is, nor who waits).
 */
#define ESEM_WAKE_OFF 4096u
struct esem_wake {
    uint32_t word;     /* the futex word; its value never matters */
    uint32_t sleepers; /* queued waits not woken yet */
};

/* ---- channel ---- */

enum esem_op {
    ESEM_OP_OPEN = 1,
    ESEM_OP_CREATE,
    ESEM_OP_CLOSE,
    ESEM_OP_DESTROY,
    ESEM_OP_UNLINK,
    ESEM_OP_POST,
    ESEM_OP_WAIT,    /* may block: reply comes when granted */
    ESEM_OP_TRYWAIT,
    ESEM_OP_GETVALUE,
    ESEM_OP_GRANT,  /* name = struct esem_grant_req (below) */
    ESEM_OP_REVOKE, /* same */
    ESEM_OP_FORK,   /* name = ESEM_TOKEN_BYTES of a fresh inheritance token (the
                     * daemon's own business: no core call, no core MAC) */
    /* System V (esem_core.h, "System V semaphore sets", gives the fields):
     * the reply's data (GETALL values, IPC_STAT...) comes back in name,
     * rdata_len bytes of it, covered by a key session's reply MAC. */
    ESEM_OP_SEMGET, /* value = key, oflag = semflg, mode = nsems, prio = esem flags */
    ESEM_OP_SEMOP,  /* may block; handle = semid, value = nsops, name = sembufs,
                     * oflag = CORE_WAIT_TRY: a try that never queues */
    ESEM_OP_SEMCTL, /* handle = semid, oflag = cmd, value = semnum, mode = arg, name = data */
    ESEM_OP_MAX_
};

/* What GRANT and REVOKE carry, in the slot's name buffer (name_len =
 * sizeof): whom they name and which CORE_R_* rights.  The slot's request
 * line has no room for per-op fields, so an op's own fields are a struct in
 * the payload, and esem_req_canon is the one reader. */
struct esem_grant_req {
    struct core_principal who;
    uint32_t rights;
    uint32_t pad_;
};

/* Reply status for a wait the client cancelled before it was granted. */
#define ESEM_ST_CANCELLED (-1)
/* Reply status for a queued wait a post woke (barging): ask again. */
#define ESEM_ST_RETRY (-2)

/*
 * One slot = one client thread's mailbox.  The first cache line is written
 * by the client, the second by the daemon, so the two sides do not bounce a
 * line while one spins and the other writes.
 *
 * Protocol (per slot, n = request number: 64 bits, of which req_seq and
 * rep_seq carry the low 32 — the futex word — and req_seq_hi the rest;
 * the core checks and MACs all 64, so a number is never used twice):
 *   client: a thread that takes a slot sets its bit in hdr.active (the
 *           daemon polls only active slots); per request: fill the request
 *           fields, store req_seq = n; if hdr.daemon_sleeping, write the
 *           doorbell eventfd.
 *   daemon: sees req_seq change, copies the request out (the client may
 *           change it under us), validates, calls the core, writes the reply
 *           fields, store-release rep_seq = n; if client_sleeping, FUTEX_WAKE.
 *   client: spin on rep_seq == n, then set client_sleeping and sleep on
 *           rep_seq and the life page; only rep_seq = n with status 0 is a
 *           grant, never a wake-up by itself.
 *   queued: a blocking request (WAIT, SEMOP) the core queued gets no reply
 *           yet; the daemon stores queued_seq = n instead, and the client,
 *           which spins on rep_seq or queued_seq, goes to sleep at once.  A
 *           hint only: a forged one makes a thread sleep early, nothing more
 *           (the reply still wakes it), so key sessions need no MAC on it.
 *   retry:  barging order: a post that finds waiters wakes one with
 *           ESEM_ST_RETRY; it sends WAIT again (TRYWAIT if it is giving
 *           up), keeping its place in the queue if it lost the permit.
 *   cancel: client stores cancel_seq = n and rings again; the daemon answers
 *           ESEM_ST_CANCELLED, or the grant if it won the race.
 *   ack:    after taking a grant of a queued wait the client stores
 *           ack_seq = n; if the process dies with a grant it never took
 *           (it was killed while queued, before the daemon saw the death),
 *           the daemon posts that permit again, as glibc loses no post to a
 *           killed waiter.
 * The request and the reply each fit one cache line, so a busy round trip
 * moves two lines between the cores and makes no system call.
 */
struct esem_slot {
    /* client -> daemon */
    uint32_t req_seq;
    uint32_t cancel_seq;
    uint32_t op;
    uint32_t oflag;
    uint64_t handle;
    uint32_t value;
    uint32_t mode;
    uint32_t name_len;
    int32_t prio;
    uint32_t ack_seq; /* the client took the grant of request n (see below) */
    uint8_t mac[CORE_MAC_BYTES]; /* key sessions: MAC of the request (esem_req_canon) */
    uint32_t req_seq_hi; /* high 32 bits of the request number (written first) */
    /* daemon -> client */
    uint32_t rep_seq; /* futex word */
    uint32_t client_sleeping;
    int32_t status; /* 0, a positive errno, or ESEM_ST_CANCELLED */
    uint32_t rvalue;
    uint64_t rhandle;
    int32_t cstatus; /* the core's status, which the reply MAC covers */
    uint32_t rdata_len; /* System V: bytes of reply data in name */
    uint8_t rmac[CORE_MAC_BYTES]; /* key sessions: the core's MAC of the reply */
    uint32_t queued_seq; /* the core queued request n: no reply soon, sleep */
    uint8_t pad2_[12];
    char name[ESEM_NAME_BUF];
};

struct esem_chan_hdr {
    uint32_t magic, nslots;
    uint32_t dropped; /* set by the daemon when it drops the client (a
                       * channel full of malformed requests): its calls end
                       * with EIO */
    uint8_t pad0_[52];
    uint32_t daemon_sleeping; /* set by the daemon before it sleeps */
    uint8_t pad1_[60];
    uint64_t active[ESEM_NSLOTS / 64]; /* slots a client thread holds */
};

struct esem_chan {
    struct esem_chan_hdr hdr;
    struct esem_slot slot[ESEM_NSLOTS];
};

_Static_assert(sizeof(struct esem_slot) == 128 + ESEM_NAME_BUF, "slot layout");
_Static_assert(ESEM_NSLOTS <= CORE_MAX_SLOTS, "the core tracks every slot's sequence");

/* The core call for a channel op (0: none). */
static inline uint32_t esem_op_call(uint32_t op)
{
    switch (op) {
    case ESEM_OP_OPEN: return CORE_ECALL_SEM_OPEN;
    case ESEM_OP_CREATE: return CORE_ECALL_SEM_CREATE;
    case ESEM_OP_CLOSE: return CORE_ECALL_SEM_CLOSE;
    case ESEM_OP_DESTROY: return CORE_ECALL_SEM_DESTROY;
    case ESEM_OP_UNLINK: return CORE_ECALL_SEM_UNLINK;
    case ESEM_OP_POST: return CORE_ECALL_SEM_POST;
    case ESEM_OP_WAIT:
    case ESEM_OP_TRYWAIT: return CORE_ECALL_SEM_WAIT;
    case ESEM_OP_GETVALUE: return CORE_ECALL_SEM_GETVALUE;
    case ESEM_OP_GRANT: return CORE_ECALL_SEM_GRANT;
    case ESEM_OP_REVOKE: return CORE_ECALL_SEM_REVOKE;
    case ESEM_OP_SEMGET: return CORE_ECALL_SYSV_GET;
    case ESEM_OP_SEMOP: return CORE_ECALL_SYSV_OP;
    case ESEM_OP_SEMCTL: return CORE_ECALL_SYSV_CTL;
    default: return 0;
    }
}

/*
 * The canonical form of a channel request: what the client MACs and what
 * the daemon hands the core.  One function for both ends, so they agree on
 * every byte.  Fields are copied from a private snapshot of the slot, never
 * read twice from shared memory.  Returns 0, or -1 for an unknown op.
 */
static inline int esem_req_canon(uint32_t op, uint32_t oflag, uint32_t value, uint32_t mode,
                                 uint32_t name_len, int32_t prio, uint64_t handle,
                                 const char *name, uint32_t slot, uint64_t seq,
                                 struct core_req *q)
{
    __builtin_memset(q, 0, sizeof *q);
    q->call = esem_op_call(op);
    if (!q->call)
        return -1;
    q->slot = slot;
    q->seq = seq;
    q->handle = handle;
    switch (op) {
    case ESEM_OP_OPEN:
        q->flags = oflag;
        q->value = value;
        q->mode = mode;
        /* fall through */
    case ESEM_OP_UNLINK:
        q->name_len = name_len <= CORE_NAME_MAX ? name_len : CORE_NAME_MAX + 1;
        if (name_len <= CORE_NAME_MAX)
            __builtin_memcpy(q->name, name, name_len);
        break;
    case ESEM_OP_CREATE:
        q->value = value;
        q->flags = oflag;
        break;
    case ESEM_OP_WAIT: q->prio = prio; break;
    case ESEM_OP_TRYWAIT: q->flags = CORE_WAIT_TRY; break;
    case ESEM_OP_GRANT:
    case ESEM_OP_REVOKE:
        if (name_len == sizeof(struct esem_grant_req)) {
            struct esem_grant_req g;
            __builtin_memcpy(&g, name, sizeof g);
            q->who = g.who;
            q->rights = g.rights;
        }
        break;
    case ESEM_OP_SEMGET:
        q->value = value;
        q->flags = oflag;
        q->mode = mode;
        q->prio = prio;
        break;
    case ESEM_OP_SEMCTL:
        q->flags = oflag;
        q->mode = mode;
        /* fall through */
    case ESEM_OP_SEMOP:
        if (op == ESEM_OP_SEMOP)
            q->flags = oflag; /* CORE_WAIT_TRY */
        q->value = value;
        q->name_len = name_len <= CORE_NAME_MAX ? name_len : CORE_NAME_MAX + 1;
        if (name_len && name_len <= CORE_NAME_MAX) /* a semctl may carry none (name NULL) */
            __builtin_memcpy(q->name, name, name_len);
        break;
    default: break;
    }
    return 0;
}

/* errno for a core status (the daemon's replies; a key-session client
 * derives it itself from the MACed core status). */
static inline int esem_status_errno(int32_t st)
{
    switch (st) {
    case CORE_OK: return 0;
    case CORE_E_NOENT: return ENOENT;
    case CORE_E_EXIST: return EEXIST;
    case CORE_E_ACCES: return EACCES;
    case CORE_E_NAMETOOLONG: return ENAMETOOLONG;
    case CORE_E_OVERFLOW: return EOVERFLOW;
    case CORE_E_AGAIN: return EAGAIN;
    case CORE_E_NOSPC: return ENOSPC;
    case CORE_E_BUSY: return EBUSY;
    case CORE_E_PERM: return EPERM;
    case CORE_E_AUTH: return EBADMSG;
    case CORE_E_NORAND: return EKEYREJECTED;
    case CORE_E_RANGE: return ERANGE;
    case CORE_E_2BIG: return E2BIG;
    case CORE_E_FBIG: return EFBIG;
    case CORE_E_IDRM: return EIDRM;
    case CORE_E_QUOTA: return ENOSPC; /* the audit line says which limit */
    /* A bad, stale or not-opened handle is an invalid sem_t to POSIX. */
    default: return EINVAL;
    }
}
_Static_assert(sizeof(struct esem_chan_hdr) % 64 == 0, "header layout");

/* ---- admin (esemctl) ---- */

enum esem_admin_type {
    ESEM_ADM_LIST = 1, /* -> SEM* END */
    ESEM_ADM_SHOW,     /* name -> SEM HOLDER* WAITER* END */
    ESEM_ADM_STATS,    /* -> STATS */
    ESEM_ADM_SHUTDOWN, /* -> END (daemon's own uid or root only) */
    ESEM_ADM_AUDIT,    /* -> AUDITREC* END: the last refusals, oldest first */
    /* records */
    ESEM_ADM_SEM = 100,
    ESEM_ADM_HOLDER,
    ESEM_ADM_WAITER,
    ESEM_ADM_STATSREC,
    ESEM_ADM_END,
    ESEM_ADM_AUDITREC, /* pid, count = uid, prio = the caller's errno,
                        * err = the core's status (0: refused outside the
                        * core), name = what was refused, uptime_ms = when
                        * (ms since the epoch) */
    ESEM_ADM_ACL       /* (after SEM, in SHOW) who, allow, deny: one access-list entry */
};

struct esem_admin_msg {
    uint32_t type;
    int32_t err; /* END: 0 or positive errno */
    uint32_t pid, count;
    int32_t prio;
    uint32_t name_len;
    char name[ESEM_NAME_BUF];
    struct core_sem_info sem;
    struct core_stats stats;
    uint64_t uptime_ms;
    uint32_t nclients, nworkers;
    uint64_t reposted; /* STATS: grants whose waiter died before taking them, posted again */
    uint64_t consumed; /* STATS: ... of key sessions: consumed (the host may not post them) */
    struct core_principal who; /* ACL */
    uint32_t allow, deny;      /* ACL: CORE_R_* */
};

#endif
