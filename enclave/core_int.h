/*
 * The trusted core's insides, shared by its source files (core.c: POSIX
 * semaphores, sessions, access; core_sysv.c: System V sets).  Nothing here
 * crosses the boundary: esem_core.h is the only door.
 */
#ifndef ESEM_CORE_INT_H
#define ESEM_CORE_INT_H

#include "esem_core.h"

/* shared between the core's own files only: never exported */
#define CORE_INTERNAL __attribute__((visibility("hidden")))

#define NIL 0xffffffffu

/* ---- tiny freestanding helpers ---- */

/* memset/memcpy are on the core's allow-list (an enclave's trusted libc
 * has them); as builtins the compiler inlines the fixed-size ones, and a
 * byte loop here cost the request path ~75 ns (measured). */
static inline void zero(void *p, uint64_t n)
{
    __builtin_memset(p, 0, n);
}

static inline void copy(void *d, const void *s, uint64_t n)
{
    __builtin_memcpy(d, s, n);
}

static inline int same(const void *a, const void *b, uint64_t n)
{
    const unsigned char *x = a, *y = b;
    for (uint64_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

/* ---- objects ---- */

enum { SEM_FREE = 0, SEM_LIVE = 1 };

struct sem {
    uint32_t gen;
    uint8_t state;  /* SEM_FREE / SEM_LIVE */
    uint8_t flags;  /* CORE_SEMF_* */
    uint16_t pad_;
    uint32_t value;
    uint32_t mode, uid, gid;
    uint32_t open_count; /* sum of open record counts */
    uint32_t nwaiters;
    uint32_t wait_head, wait_tail; /* waiter indices, queue order */
    uint32_t open_head;            /* open records of this sem */
    uint32_t hash_next;            /* name hash chain / free list */
    uint32_t name_len;
    uint32_t long_name;            /* index into long-name pool or NIL */
    uint64_t posts, waits, blocks, cancels;
    uint32_t acl_head;             /* access-list entries or NIL */
    uint32_t nacl;                 /* entries on it (at most CORE_ACL_PER_SEM) */
    uint32_t nwoken;               /* queued waiters woken, not yet back */
    uint64_t retries;
    uint64_t handoffs;             /* posts granted outright to a waiter (handoff_due) */
    uint64_t handoff_at;           /* the host's clock at the last of them ... */
    uint64_t barge_until;          /* a barging spell lasts until then (handoff_due) */
    uint32_t handoff_sess;         /* ... and the session that posted it */
    uint32_t pad_hand_;
    uint32_t owner_pid;            /* strict: the owner process (tree) ... */
    uint64_t owner_start;          /* ... and its start time */
    uint64_t owner_key;            /* strict: the owner key id (0: none) */
    uint32_t set;                  /* System V: its struct semset; NIL: POSIX */
    uint32_t acct;                 /* the creator's per-user account; NIL: none */
    char name[CORE_INLINE_NAME];
};

struct session {
    uint32_t gen;
    uint32_t live;
    uint32_t pid, uid, gid, ngroups;
    uint32_t groups[CORE_NGROUPS_MAX];
    uint64_t start_time;
    /* The process this one acts as: itself, or for a child that inherited
     * its parent's opens after fork, the process that first connected. */
    uint32_t as_pid, kidx; /* kidx: key-session state or NIL */
    uint64_t as_start;
    uint64_t key_id;    /* 0: a PID session */
    uint32_t open_head; /* open records of this session */
    uint32_t nopens;
    uint32_t waiter_head; /* waiters of this session */
    uint32_t nwaiters;
    uint32_t next_free;
    uint32_t closing; /* being closed: its waiters are not woken any more */
    uint32_t undo_head; /* System V: its SEM_UNDO records */
    uint32_t pad_;
};

struct openrec {
    uint32_t sess, sem, count;
    uint32_t base;   /* CORE_R_* the policy gave at open (kept, like an fd's mode) */
    uint32_t rights; /* base with the access list applied; again on grant/revoke */
    uint32_t sess_next, sess_prev;
    uint32_t sem_next, sem_prev;
    uint32_t hash_next; /* hash chain / free list */
};

struct waiter {
    uint32_t sess, sem, slot;
    int32_t prio;
    uint32_t q_next, q_prev;       /* semaphore queue / free list */
    uint32_t s_next, s_prev;       /* session list */
    uint32_t live, woken; /* woken: a post told it to ask again (barging) */
    uint64_t seq;         /* the request this wait answers */
    /* what its reply's MAC names: the call and the handle the request gave */
    uint32_t call;
    uint32_t ops;         /* System V: its operations (struct opblk chain); NIL: POSIX */
    core_id_t req_handle;
    uint16_t nops, blk_num; /* System V: operations; the semaphore it waits on */
    uint8_t blk_zero, pad_[3]; /* ... for it to be zero (else to rise) */
    uint32_t acct;        /* its session's per-user account; NIL: none */
    uint32_t pad2_;
    uint64_t since;       /* the host's clock when it queued (cfg.handoff_ns) */
};

struct acl {
    struct core_principal who;
    uint32_t allow, deny;
    uint32_t next; /* semaphore's list / free list */
    uint32_t pad_;
};

struct keyrec {
    uint8_t key[CORE_KEY_BYTES];
    uint64_t id; /* 0: free */
};

struct keyed { /* one key session's secrets and per-slot sequence numbers */
    uint8_t ks[CORE_KEY_BYTES];
    uint32_t next_free, pad_;
    uint64_t last_seq[CORE_MAX_SLOTS];
};

struct longname {
    uint32_t next_free;
    char s[CORE_NAME_MAX + 1];
};

/* Per-user accounting (core_config uid_objects, uid_waiters): one entry a
 * uid, open addressing; an entry whose counts fall to 0 is a tombstone a
 * new uid may take. */
struct uacct {
    uint32_t uid, used; /* used: 1 live, 2 tombstone, 0 never used */
    uint32_t objects, waiters;
};

/* System V: a set's own part (its object is a struct sem). */
struct semset {
    uint32_t sem;        /* its object; NIL: this entry is free */
    uint32_t seq;        /* id = (seq << 15) | index; bumped at removal */
    int32_t key;
    uint32_t nsems, cells; /* its semaphores: cells[cells .. cells + nsems) */
    uint32_t cuid, cgid;
    uint32_t hash_next;  /* key hash chain / free list */
    uint64_t otime, ctime;
};

/* One System V semaphore.  In a free extent the first cell holds the
 * extent's length (val) and the next extent's start (pid). */
struct cell {
    int32_t val;
    uint32_t pid;   /* sempid: the last process that changed it */
    uint32_t epoch; /* bumped by SETVAL/SETALL: older undo records count 0 */
};

/* A process's SEM_UNDO adjustment of one semaphore. */
struct undo {
    uint32_t sess, set, seq, num, epoch; /* seq/epoch: stale when the set went */
    int32_t adj;
    uint32_t next; /* the session's list / free list */
    uint32_t pad_;
};

struct opblk { /* up to 8 operations of a queued semop */
    struct core_sembuf op[8];
    uint32_t next;
};

#define CORE_MAGIC 0x6553656du
/* The arena's shape: raise it whenever a table's record or the order of
 * the tables changes, so that a daemon never resumes a core it would
 * misread (core_arena.c). */
#define CORE_LAYOUT_VERSION 2u

struct core {
    uint32_t magic;
    uint32_t layout; /* CORE_LAYOUT_VERSION */
    struct core_config cfg;
    uint32_t name_buckets, open_buckets; /* powers of two */
    struct sem *sems;
    struct session *sessions;
    struct openrec *opens;
    struct waiter *waiters;
    struct longname *longnames;
    struct acl *acls;
    struct keyrec *keys;
    struct keyed *keyed;
    struct core_wake *notes; /* replies owed to waiters, taken by CORE_ECALL_NOTES */
    uint32_t nnotes, notes_dropped;
    uint32_t rng_ok;         /* the core had randomness of its own at init */
    uint32_t *name_hash;
    uint32_t *open_hash;
    uint32_t sem_free, session_free, open_free, waiter_free, longname_free;
    uint32_t sems_in_use, sessions_in_use, opens_in_use, waiters_in_use;
    uint32_t acl_free, keyed_free, acls_in_use, keys_in_use, keyed_in_use;
    uint64_t ops_ok;
    uint64_t refused[-CORE_E_MIN + 1];
    uint64_t arena_bytes;
    uint64_t next_nonce; /* core nonce of the next key session */
    /* System V */
    struct semset *sets;
    struct cell *cells;
    struct undo *undos;
    struct opblk *opblks;
    uint32_t *key_hash;
    uint32_t key_buckets, set_free, cell_free, undo_free, opblk_free;
    uint32_t sets_in_use, cells_in_use, undos_in_use, opblks_in_use;
    struct uacct *acct;
    uint32_t acct_buckets; /* a power of two; 0: no per-user limits */
};

/* ---- ids ---- */

static inline core_id_t mkid(uint32_t idx, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint64_t)(idx + 1);
}
static inline uint32_t id_index(core_id_t id) { return (uint32_t)id - 1; }
static inline uint32_t id_gen(core_id_t id) { return (uint32_t)(id >> 32); }

/* ---- hashes ---- */

static inline uint32_t hash_bytes(const char *s, uint32_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static inline uint32_t hash_pair(uint32_t a, uint32_t b)
{
    uint64_t x = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}


/* ---- core_obj.c: the records, shared by core.c and core_sysv.c ---- */

CORE_INTERNAL struct session *session_get(struct core *c, core_id_t id, uint32_t *idx);
CORE_INTERNAL struct sem *sem_get(struct core *c, core_id_t h, uint32_t *idx);
/* (session, handle) to the session's index, the object's and its open
 * record's: every operation is checked against its caller; resolve also
 * refuses a System V set (no sem_t) */
CORE_INTERNAL int32_t resolve_any(struct core *c, core_id_t session, core_id_t handle,
                                  uint32_t *ssi, uint32_t *si, uint32_t *oi);
CORE_INTERNAL int32_t resolve(struct core *c, core_id_t session, core_id_t handle,
                              uint32_t *ssi, uint32_t *si, uint32_t *oi);
CORE_INTERNAL uint32_t open_find(const struct core *c, uint32_t sess, uint32_t sem);
CORE_INTERNAL int32_t open_add(struct core *c, uint32_t sess, uint32_t sem, uint32_t n,
                               uint32_t base);
CORE_INTERNAL void open_remove(struct core *c, uint32_t o);
CORE_INTERNAL int32_t sem_alloc(struct core *c, uint32_t *out);
CORE_INTERNAL void sem_free(struct core *c, uint32_t si);
CORE_INTERNAL void set_owner(const struct core *c, const struct session *ss, struct sem *s,
                             uint32_t oflag);
CORE_INTERNAL int in_group(const struct session *ss, uint32_t gid);
CORE_INTERNAL int is_owner(const struct session *ss, const struct sem *s);
CORE_INTERNAL uint32_t apply_acl(const struct core *c, const struct session *ss,
                                 const struct sem *s, uint32_t r);
CORE_INTERNAL struct keyed *keyed_of(struct core *c, const struct session *ss);
CORE_INTERNAL void reply_mac(struct core *c, core_id_t session, uint32_t slot, uint64_t seq,
                             uint32_t call, core_id_t req_handle, int32_t status,
                             uint32_t value, core_id_t handle, const uint8_t *data,
                             uint32_t len, uint8_t mac[CORE_MAC_BYTES]);
/* Per-user limits: take one object or waiter for uid (CORE_E_QUOTA if
 * over; *acct: the account to give it back to, NIL if none is kept). */
enum { ACCT_OBJECT, ACCT_WAITER };
CORE_INTERNAL int32_t acct_take(struct core *c, uint32_t uid, int kind, uint32_t *acct);
CORE_INTERNAL void acct_give(struct core *c, uint32_t acct, int kind);

/* Queue a waiter at the end of its priority class; CORE_E_NOSPC if full. */
CORE_INTERNAL int32_t waiter_add(struct core *c, uint32_t ssi, uint32_t si, uint32_t slot,
                                 uint64_t seq, int32_t prio, uint32_t *out);
CORE_INTERNAL void waiter_unlink(struct core *c, uint32_t w);
CORE_INTERNAL uint32_t waiter_of_slot(const struct core *c, uint32_t sess, uint32_t slot);
CORE_INTERNAL void note_push(struct core *c, uint32_t w, int32_t status);
/* A System V waiter leaves (granted, cancelled, died): its operations go back. */
CORE_INTERNAL void sysv_waiter_free(struct core *c, uint32_t w);
CORE_INTERNAL void wake_fill(struct core *c, uint32_t w, int32_t status, struct core_wake *out);
CORE_INTERNAL const char *sem_name(const struct core *c, const struct sem *s);
CORE_INTERNAL void name_unhash(struct core *c, uint32_t si);
CORE_INTERNAL void sem_maybe_free(struct core *c, uint32_t si);

/* core_wait.c: the wait queue's orders (barging, adaptive, FIFO) */
CORE_INTERNAL void rebalance(struct core *c, uint32_t si, struct core_wake *direct);
CORE_INTERNAL int32_t do_sem_post(struct core *c, struct core_sem_post_args *a);
CORE_INTERNAL int32_t do_sem_wait(struct core *c, struct core_sem_wait_args *a);
CORE_INTERNAL int32_t do_sem_cancel(struct core *c, struct core_sem_cancel_args *a);
CORE_INTERNAL int32_t name_check(const char *n, uint32_t len);
CORE_INTERNAL uint32_t name_lookup(const struct core *c, const char *n, uint32_t len);
CORE_INTERNAL uint32_t base_rights(const struct session *ss, const struct sem *s);
CORE_INTERNAL uint32_t rights_of(const struct core *c, const struct session *ss,
                                 const struct sem *s);
CORE_INTERNAL void refresh_rights(struct core *c, uint32_t si);

/* ---- core_view.c: the admin views (dispatched by core.c) ---- */

CORE_INTERNAL int32_t do_sem_info(struct core *c, struct core_sem_info_args *a);
CORE_INTERNAL int32_t do_sem_holders(struct core *c, struct core_sem_member_args *a);
CORE_INTERNAL int32_t do_sem_waiters(struct core *c, struct core_sem_member_args *a);
CORE_INTERNAL int32_t do_session_info(struct core *c, struct core_session_info_args *a);
CORE_INTERNAL int32_t do_stats(struct core *c, struct core_stats_args *a);
CORE_INTERNAL int32_t do_sem_acl(struct core *c, struct core_sem_acl_args *a);

/* ---- core_sysv.c ---- */

/* Arena: bytes for cfg's System V tables (after off), and their set-up. */
CORE_INTERNAL uint64_t sysv_plan(const struct core_config *cfg, uint64_t off,
                                 uint64_t offs[5], uint32_t *key_buckets);
/* The tables' addresses in this mapping (init and resume), then their
 * free lists (init only). */
CORE_INTERNAL void sysv_place(struct core *c, unsigned char *base, const uint64_t offs[5],
                              uint32_t key_buckets);
CORE_INTERNAL void sysv_init(struct core *c);
/* A SYSV_* request; a->req is the core's copy. */
CORE_INTERNAL int32_t sysv_request(struct core *c, uint32_t ssi, struct core_request_args *a,
                                   uint32_t *value, core_id_t *handle);

/* The session ends: its SEM_UNDO adjustments are applied, then freed. */
CORE_INTERNAL void sysv_session_end(struct core *c, uint32_t ssi);
/* After a revoke: queued semops whose rights went leave with EACCES. */
CORE_INTERNAL void sysv_revoked(struct core *c, uint32_t si);
CORE_INTERNAL void sysv_fill_info(const struct core *c, uint32_t si, struct core_sem_info *o);


#endif
