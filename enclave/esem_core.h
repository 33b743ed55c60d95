/*
 * esem trusted core — the enclave boundary.
 *
 * This is the one file through which anything crosses into or out of the
 * trusted core.  Every entry point is listed in enum core_ecall, and each one
 * takes exactly one fixed-width, explicitly padded argument struct, so that an
 * SGX .edl can be derived from it line by line.  Nothing else is exported by
 * the core (enclave/symbols.allow is checked by CI).
 *
 * Rules every entry point follows:
 *   - all inputs are untrusted: ids, handles, lengths, flags and names are
 *     validated before use; nothing read from the argument struct is trusted
 *     to stay the same (it is copied once, then checked);
 *   - no host pointer is ever dereferenced except the argument struct itself
 *     and the arena handed in at init;
 *   - the result is 0, a positive status (CORE_QUEUED), or a negative
 *     CORE_E_* code; the core never aborts.
 *
 * Calls out: none.  The core needs nothing from the host at run time: a
 * blocking wait is reported as CORE_QUEUED and the permit hand-off is returned
 * as a wake record in the post's output, which the host delivers.  A wake is
 * therefore only ever the host's *delivery* of a grant the core made; the
 * client re-checks the reply it gets, it never infers a grant from a wake-up.
 *
 * Concurrency: one core instance is not internally synchronised; the host
 * serialises calls into one instance (esemd holds a mutex around them).
 */
#ifndef ESEM_CORE_H
#define ESEM_CORE_H

#include <stddef.h>
#include <stdint.h>

#define CORE_ABI_VERSION 4u

/* POSIX limits the core enforces (match glibc on Linux). */
#define CORE_SEM_VALUE_MAX 2147483647u /* SEM_VALUE_MAX */
#define CORE_NAME_MAX 251u             /* NAME_MAX - strlen("sem.") */
#define CORE_NGROUPS_MAX 16u           /* supplementary groups kept per session */

/* oflag bits understood by CORE_ECALL_SEM_OPEN (not the host's O_* values). */
#define CORE_O_CREAT 0x1u
#define CORE_O_EXCL 0x2u
#define CORE_O_STRICT 0x4u /* on create: strict policy (see below) */
#define CORE_O_FIFO 0x8u   /* on create: strict FIFO hand-off (see CORE_SEMF_FIFO) */

/* Rights on one semaphore, granted and revoked per principal. */
#define CORE_R_OPEN 0x1u
#define CORE_R_WAIT 0x2u /* wait, trywait, timedwait */
#define CORE_R_POST 0x4u
#define CORE_R_UNLINK 0x8u /* unlink a name; destroy an anonymous one */
#define CORE_R_ALL 0xfu

/* Who an access-list entry names. */
enum core_principal_kind {
    CORE_P_UID = 1,  /* id = uid (the caller's current uid) */
    CORE_P_GID = 2,  /* id = gid (primary or supplementary) */
    CORE_P_PROC = 3, /* id = pid, ext = its start time: one process, never a
                      * later one that reuses the pid */
    CORE_P_KEY = 4,  /* ext = key id: any key session proven with that key */
};
struct core_principal {
    uint32_t kind, id;
    uint64_t ext;
};

/* Key sessions. */
#define CORE_KEY_BYTES 32u
#define CORE_MAC_BYTES 16u
#define CORE_NONCE_BYTES 16u
#define CORE_MAX_SLOTS 1024u /* channel slots a key session tracks sequences for */

/* wait flags */
#define CORE_WAIT_TRY 0x1u /* never queue: CORE_E_AGAIN if no permit; for a woken
                            * waiter's retry: take a permit or leave the queue */

/* Result codes.  Negative = refused; see core_strerror(). */
enum core_status {
    CORE_OK = 0,
    CORE_QUEUED = 1, /* wait accepted, caller is queued; a post grants it */

    CORE_E_INVAL = -1,       /* malformed argument */
    CORE_E_SESSION = -2,     /* unknown, stale or closed session id */
    CORE_E_HANDLE = -3,      /* unknown, stale or forged semaphore handle */
    CORE_E_NOTOPEN = -4,     /* session has not opened that semaphore */
    CORE_E_NOENT = -5,       /* no semaphore of that name */
    CORE_E_EXIST = -6,       /* O_CREAT|O_EXCL and the name exists */
    CORE_E_ACCES = -7,       /* mode bits / ownership deny it */
    CORE_E_NAMETOOLONG = -8, /* name longer than CORE_NAME_MAX */
    CORE_E_OVERFLOW = -9,    /* post would exceed SEM_VALUE_MAX */
    CORE_E_AGAIN = -10,      /* try-wait with no permit */
    CORE_E_NOSPC = -11,      /* a table of the core is full */
    CORE_E_BUSY = -12,       /* waiters present (destroy/close) or slot busy */
    CORE_E_NOWAITER = -13,   /* cancel found no waiter: it was granted */
    CORE_E_BADCALL = -14,    /* unknown entry point or wrong argument size */
    CORE_E_PERM = -15,       /* inheritance refused; grant/revoke by a non-owner */
    CORE_E_AUTH = -16,       /* key session: bad MAC, replayed or out-of-order
                              * sequence, unknown key, or a call a key session
                              * may only make through CORE_ECALL_REQUEST */
    CORE_E_NORAND = -17,     /* key session refused: the core has no randomness
                              * of its own (no working RDRAND) for its nonces */
    /* System V (semop/semctl), as Linux names them: */
    CORE_E_RANGE = -18,      /* a value past CORE_SEMVMX, or an undo past CORE_SEMAEM */
    CORE_E_2BIG = -19,       /* more than CORE_SEMOPM operations */
    CORE_E_FBIG = -20,       /* sem_num past the set's size */
    CORE_E_IDRM = -21,       /* the set was removed while the caller waited */
    CORE_E_QUOTA = -22,      /* a per-user limit (core_config uid_*) is reached */
};
#define CORE_E_MIN (-22)
#define CORE_CANCELLED 2 /* status of a wait its client withdrew (reply MACs) */
/* Status of a queued wait that a post woke (barging order): a permit was
 * there when it was woken; the waiter must ask again (CORE_ECALL_SEM_WAIT
 * from the same slot), and keeps its place in the queue if it lost the
 * permit to a running thread meanwhile.  A hint, never a grant. */
#define CORE_RETRY 3

/* The ecall table.  Values are part of the ABI: append, never renumber. */
enum core_ecall {
    CORE_ECALL_SESSION_OPEN = 1,
    CORE_ECALL_SESSION_INHERIT = 2,
    CORE_ECALL_SESSION_CLOSE = 3,
    CORE_ECALL_SEM_OPEN = 4,
    CORE_ECALL_SEM_CREATE = 5,
    CORE_ECALL_SEM_CLOSE = 6,
    CORE_ECALL_SEM_DESTROY = 7,
    CORE_ECALL_SEM_UNLINK = 8,
    CORE_ECALL_SEM_POST = 9,
    CORE_ECALL_SEM_WAIT = 10,
    CORE_ECALL_SEM_CANCEL = 11,
    CORE_ECALL_SEM_GETVALUE = 12,
    CORE_ECALL_SEM_INFO = 13,    /* iterate semaphores (admin) */
    CORE_ECALL_SEM_HOLDERS = 14, /* iterate sessions holding one open */
    CORE_ECALL_SEM_WAITERS = 15, /* iterate queued waiters of one */
    CORE_ECALL_STATS = 16,
    CORE_ECALL_SESSION_INFO = 17,
    CORE_ECALL_SESSION_SETCRED = 18,
    CORE_ECALL_KEY_ADD = 19,    /* provision a key (what SGX would seal/attest) */
    CORE_ECALL_REQUEST = 20,    /* one client request, MAC-checked for key sessions */
    CORE_ECALL_SEM_GRANT = 21,  /* owner only */
    CORE_ECALL_SEM_REVOKE = 22, /* owner only */
    CORE_ECALL_SEM_ACL = 23,    /* iterate access-list entries (admin) */
    CORE_ECALL_NOTES = 24,      /* take the replies queued waiters are owed */
    CORE_ECALL_KEY_REMOVE = 25, /* forget a provisioned key */
    /* System V sets: request calls only (inside CORE_ECALL_REQUEST); called
     * directly they are refused (CORE_E_BADCALL).  See "System V" below. */
    CORE_ECALL_SYSV_GET = 26,
    CORE_ECALL_SYSV_OP = 27,
    CORE_ECALL_SYSV_CTL = 28,
    CORE_ECALL_MAX_ = 29
};

/* Sizing, chosen by the host at init and fixed for the core's lifetime. */
struct core_config {
    uint32_t max_sems;      /* semaphores, named + anonymous */
    uint32_t max_sessions;  /* client processes */
    uint32_t max_opens;     /* (session, semaphore) open records */
    uint32_t max_waiters;   /* queued waits */
    uint32_t max_long_names;/* names longer than CORE_INLINE_NAME-1 */
    uint32_t max_acls;      /* access-list entries, all semaphores together */
    uint32_t max_keys;      /* provisioned keys */
    uint32_t max_keyed;     /* key sessions at once (CORE_MAX_SLOTS * 4 bytes each) */
    uint32_t flags;         /* CORE_CFG_* */
    /* System V (0 everywhere: no System V sets) */
    uint32_t max_sets;      /* sets, at most CORE_SEMMNI */
    uint32_t max_set_sems;  /* semaphores in all sets together */
    uint32_t max_undos;     /* SEM_UNDO records: (process, set, semaphore) */
    uint32_t max_sysv_ops;  /* blocks of 8 operations held by queued semops */
    /* Per-user limits (0: none): semaphores and sets one uid may create,
     * waits its sessions may have queued.  uid 0 and exempt_uid (the
     * daemon's user) have none, so administration always works. */
    uint32_t uid_objects, uid_waiters, exempt_uid;
    /* Barging order: a post hands its permit straight to the waiter next
     * in line once that one has waited this long (the host's clock, ns;
     * 0: never).  Bounds how long barging can pass a sleeper over. */
    uint64_t handoff_ns;
    uint64_t entropy;       /* host randomness, mixed with the core's own
                             * (RDRAND where the CPU has it) into its boot nonce */
};
#define CORE_CFG_STRICT 0x1u /* every new semaphore gets the strict policy */
#define CORE_CFG_FIFO 0x2u   /* every new semaphore hands permits off in FIFO order */
#define CORE_CFG_ADAPTIVE 0x4u /* barging order: a post grants its permit to a sleeping
                                * waiter outright, except in a barging spell (handoff_due) */
#define CORE_ACL_PER_SEM 64u /* access-list entries one semaphore may hold */
#define CORE_INLINE_NAME 64u

/* Ids crossing the boundary: (generation << 32) | (index + 1); 0 is never valid. */
typedef uint64_t core_id_t;

/* --- argument structs: fixed width, explicit padding, in and out fields --- */

struct core_session_open_args {
    /* in: identity established by the host (SO_PEERCRED + /proc) */
    uint32_t pid, uid, gid, ngroups;
    uint32_t groups[CORE_NGROUPS_MAX];
    uint64_t start_time; /* process start time (clock ticks since boot) */
    /* in, key sessions only: the key the client claims and its fresh nonce */
    uint64_t key_id; /* 0: a PID session */
    uint8_t nonce[CORE_NONCE_BYTES];
    /* out */
    core_id_t session;
    uint64_t core_nonce; /* key sessions: unique per session opened by any
                          * core instance; in the session key and the proof */
    uint8_t proof[CORE_MAC_BYTES]; /* key sessions: core_auth_proof() */
};

struct core_key_add_args {
    uint8_t key[CORE_KEY_BYTES]; /* in; wiped by the core after use */
    uint64_t key_id;             /* out */
};

/* The process changed its credentials (setuid...): later opens, creates and
 * unlinks are checked against the new ones; what it has open stays open,
 * as file descriptors do. */
struct core_session_setcred_args {
    core_id_t session;
    uint32_t uid, gid, ngroups, pad_;
    uint32_t groups[CORE_NGROUPS_MAX];
};

struct core_session_inherit_args {
    core_id_t child;  /* in: a fresh session with no opens */
    core_id_t parent; /* in: the session whose opens the child inherits */
    uint32_t nopens;  /* out: open records copied */
    uint32_t pad_;
};

struct core_session_close_args {
    core_id_t session;    /* in */
    uint32_t waiters_removed, opens_closed; /* out */
    uint32_t notes, pad_; /* out: replies now owed to other waiters (CORE_ECALL_NOTES) */
};

struct core_sem_open_args {
    core_id_t session;
    uint32_t oflag, mode, value, name_len;
    char name[CORE_NAME_MAX + 1]; /* not NUL-terminated; name_len bytes used */
    uint8_t pad_[4];
    core_id_t handle; /* out */
    uint32_t created; /* out: 1 if this call created it */
    uint32_t pad2_;
};

struct core_sem_create_args {
    core_id_t session;
    uint32_t value, flags; /* flags: CORE_O_FIFO */
    core_id_t handle; /* out */
};

struct core_sem_handle_args { /* close, destroy, getvalue */
    core_id_t session;
    core_id_t handle;
    uint32_t value; /* out (getvalue) */
    uint32_t pad_;
};

struct core_sem_unlink_args {
    core_id_t session;
    uint32_t name_len, pad_;
    char name[CORE_NAME_MAX + 1];
    uint8_t pad2_[4];
};

/* A reply the host must deliver to a queued waiter (session, slot):
 *   CORE_RETRY   barging order: a post woke it; it asks again (a hint);
 *   CORE_OK      FIFO order: it now holds a permit (a grant);
 *   CORE_E_ACCES its right to wait was revoked: it left the queue.
 * For a key session the core also gives the reply's MAC, so the waiter can
 * tell this reply from one the host made up. */
struct core_wake {
    core_id_t session;
    uint64_t seq;   /* the request the reply answers */
    core_id_t handle; /* the semaphore that request waits on */
    uint32_t slot;
    uint32_t valid; /* 1 if this record holds a wake */
    int32_t status;
    uint32_t pad_;
    uint8_t mac[CORE_MAC_BYTES];
};

/* Every call that may owe replies to waiters other than the caller
 * reports how many are pending in `notes`; the host then takes them with
 * CORE_ECALL_NOTES (a wake the host never delivers only delays a waiter:
 * it is a hint under TM-SGX too). */
struct core_notes_args {
    uint32_t n, pad_; /* out: records filled */
    struct core_wake note[8];
};

struct core_key_remove_args {
    uint64_t key_id; /* in: new key sessions with it are refused; open ones keep going */
};

struct core_sem_post_args {
    core_id_t session;
    core_id_t handle;
    struct core_wake wake; /* out: the waiter this post woke (or granted) */
    uint32_t notes, pad_;  /* out */
    uint64_t now_ns;       /* in: the host's monotonic clock (cfg.handoff_ns) */
};

struct core_sem_wait_args {
    core_id_t session;
    core_id_t handle;
    uint32_t slot;  /* caller's channel slot, identifies the waiter */
    uint32_t flags; /* CORE_WAIT_TRY */
    int32_t prio;   /* higher is released first; FIFO among equals */
    uint32_t pad_;
    uint64_t seq;   /* the request number (returned with the grant) */
    uint32_t notes, pad2_; /* out */
    uint64_t now_ns; /* in: the host's monotonic clock: when it queued */
};

struct core_sem_cancel_args {
    core_id_t session;
    uint32_t slot;
    uint32_t notes; /* out */
    uint64_t seq;   /* out: the request the cancelled wait was */
    uint8_t mac[CORE_MAC_BYTES]; /* out, key sessions: reply MAC for CORE_CANCELLED */
};

/* Grant or revoke rights (CORE_R_*) on a semaphore the session has open. */
struct core_sem_grant_args {
    core_id_t session;
    core_id_t handle;
    struct core_principal who;
    uint32_t rights, notes; /* notes: out (a revoke dequeues waiters) */
};

/* Iterate a semaphore's access list (admin). */
struct core_sem_acl_args {
    core_id_t handle; /* in */
    uint32_t cursor;  /* in: 0 to start */
    uint32_t next;    /* out: cursor for the next call */
    uint32_t found;   /* out: 0 when the list is exhausted */
    uint32_t allow, deny, pad_;
    struct core_principal who;
};

/*
 * System V semaphore sets (semget/semop/semctl), kept like POSIX semaphores:
 * a set is a semaphore object (CORE_SEMF_SYSV) with its ipc_perm in the
 * object's uid/gid/mode, the same policy (POSIX bits or strict), access
 * list and audit, plus the set's own part (key, id, creator, times, its
 * semaphores).  Rights: read = CORE_R_OPEN (GETVAL, IPC_STAT, semop of
 * zero-waits only), alter = CORE_R_WAIT for a semop that decrements,
 * CORE_R_POST for one that increments, both for SETVAL/SETALL; remove
 * and IPC_SET = CORE_R_UNLINK (the owner, the creator or root).
 * Numbers and flags are Linux's, so the host passes them through.
 *
 * Requests (struct core_req fields):
 *   SYSV_GET  value = key, flags = semflg (CORE_IPC_CREAT|_EXCL|mode bits),
 *             mode = nsems, prio = CORE_O_STRICT|CORE_O_FIFO (esem's own)
 *             -> value = semid
 *   SYSV_OP   handle = semid, value = nsops, name = nsops struct core_sembuf,
 *             flags = CORE_WAIT_TRY: never queue (CORE_E_AGAIN instead)
 *             -> CORE_OK, or CORE_QUEUED (the completion comes as a wake
 *             record with the final status: CORE_OK, CORE_E_IDRM,
 *             CORE_E_RANGE, CORE_E_ACCES)
 *   SYSV_CTL  handle = semid (SEM_STAT*: the index), flags = cmd,
 *             value = semnum (GETALL/SETALL: the first semaphore of the
 *             chunk), mode = SETVAL's value, name = SETALL's values
 *             (uint16_t each) or IPC_SET's struct core_sysv_set
 *             -> value = the command's result, out = its data
 * Every reply's handle is the set's object handle (for grant/revoke).
 */
#define CORE_SEMMNI 32768u /* sets: the id holds a 15-bit index */
#define CORE_SEMID_BIT 0x40000000u /* set in every id (see core_sysv.c) */
#define CORE_SEMMSL 32000u /* semaphores per set */
#define CORE_SEMOPM 32u    /* operations per semop (Linux before 3.19; see DEVIATIONS) */
#define CORE_SEMVMX 32767
#define CORE_SEMAEM 32767
#define CORE_SYSV_DATA 240u /* bytes of reply data */
#define CORE_SYSV_CHUNK (CORE_SYSV_DATA / 2u) /* GETALL/SETALL values per call */

#define CORE_IPC_CREAT 01000u
#define CORE_IPC_EXCL 02000u
#define CORE_IPC_NOWAIT 04000u
#define CORE_SEM_UNDO 010000u

enum core_sysv_cmd {
    CORE_IPC_RMID = 0, CORE_IPC_SET = 1, CORE_IPC_STAT = 2, CORE_IPC_INFO = 3,
    CORE_GETPID = 11, CORE_GETVAL = 12, CORE_GETALL = 13, CORE_GETNCNT = 14,
    CORE_GETZCNT = 15, CORE_SETVAL = 16, CORE_SETALL = 17, CORE_SEM_STAT = 18,
    CORE_SEM_INFO = 19, CORE_SEM_STAT_ANY = 20,
};

struct core_sembuf { /* struct sembuf's layout */
    uint16_t num;
    int16_t op;
    int16_t flg;
};

struct core_sysv_set { /* IPC_SET in */
    uint32_t uid, gid, mode;
};

struct core_sysv_ds { /* IPC_STAT, SEM_STAT out */
    int32_t key;
    uint32_t uid, gid, cuid, cgid, mode, seq, nsems;
    uint64_t otime, ctime;
};

struct core_sysv_limits { /* IPC_INFO, SEM_INFO out: struct seminfo's order */
    int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};

/*
 * One client request as the client sent it and (for key sessions) MACed it:
 * the host copies the channel slot into this and passes it unchanged; the
 * core checks the MAC over the first CORE_REQ_HDR bytes and name_len bytes
 * of name, then the per-slot sequence number, then runs it.
 *   call:  CORE_ECALL_SEM_OPEN, _CREATE, _CLOSE, _DESTROY, _UNLINK, _POST,
 *          _WAIT, _GETVALUE, _GRANT, _REVOKE
 *   flags: OPEN: CORE_O_*; WAIT: CORE_WAIT_TRY
 *   who, rights: GRANT/REVOKE only (the principal and its CORE_R_* rights)
 */
struct core_req {
    uint32_t call, slot;
    uint64_t seq; /* per slot, 64 bits: it never wraps */
    uint32_t flags, value;
    core_id_t handle;
    uint32_t mode;
    int32_t prio;
    uint32_t name_len;
    uint32_t rights;           /* GRANT/REVOKE */
    struct core_principal who; /* GRANT/REVOKE */
    char name[CORE_NAME_MAX + 1];
    uint8_t pad2_[4];
};
#define CORE_REQ_HDR 64u /* offsetof(struct core_req, name) */
_Static_assert(CORE_REQ_HDR == offsetof(struct core_req, name), "request header");

/* What a reply says, as its MAC covers it: which request it answers
 * (session, slot, 64-bit sequence number, call and the handle the request
 * named), so no reply can stand for another request's. */
struct core_reply {
    core_id_t session;
    uint64_t seq;
    uint32_t slot, call;
    core_id_t req_handle;
    int32_t status; /* the core status (CORE_OK, CORE_E_*, CORE_CANCELLED, CORE_RETRY) */
    uint32_t value;
    core_id_t handle;
};

struct core_request_args {
    core_id_t session;
    struct core_req req;
    uint8_t mac[CORE_MAC_BYTES]; /* in: the client's MAC (key sessions) */
    uint32_t umask;              /* in: OPEN with O_CREAT: applied to mode */
    uint32_t pad_;
    uint64_t now;                /* in: the host's clock (s since the epoch), for
                                  * System V's otime/ctime (the host's word) */
    uint64_t now_ns;             /* in: POST, WAIT: the host's monotonic clock, ns
                                  * (cfg.handoff_ns; the host's word: it can only
                                  * change who is served first, never how many) */
    uint32_t created;            /* out: OPEN created the semaphore */
    uint32_t value;              /* out: GETVALUE */
    uint32_t notes;              /* out: replies owed to other waiters */
    core_id_t handle;            /* out: OPEN, CREATE */
    struct core_wake wake;       /* out: the waiter a POST woke or granted */
    uint8_t rmac[CORE_MAC_BYTES];/* out, key sessions: reply MAC (not for CORE_QUEUED) */
    uint32_t out_len, pad2_;     /* out: bytes of out (System V replies with data) */
    uint8_t out[CORE_SYSV_DATA]; /* out: GETALL values, IPC_STAT, IPC_INFO...;
                                  * a key session's reply MAC covers them */
};

/* Admin view of one semaphore. */
struct core_sem_info {
    core_id_t handle;
    uint32_t value, nwaiters, open_count, uid, gid, mode;
    uint32_t flags; /* CORE_SEMF_* */
    uint32_t name_len;
    char name[CORE_NAME_MAX + 1];
    uint8_t pad_[4];
    uint64_t posts, waits, blocks, cancels;
    uint64_t owner_key;  /* strict, created by a key session: the owner key id */
    uint32_t owner_pid;  /* strict, created by a PID session: the owner process */
    uint32_t nacl;       /* access-list entries */
    uint32_t nwoken, pad2_; /* waiters woken and not yet back (barging) */
    uint64_t retries;    /* woken waiters that asked again */
    uint64_t handoffs;   /* posts handed to a waiter queued cfg.handoff_ns or more */
    int32_t key;         /* System V: the set's key (0: IPC_PRIVATE) */
    uint32_t semid;      /* System V: the set's id */
    uint32_t nsems;      /* System V: semaphores in the set */
    uint32_t pad3_;
};
#define CORE_SEMF_NAMED 0x1u
#define CORE_SEMF_UNLINKED 0x2u
#define CORE_SEMF_ANON 0x4u
#define CORE_SEMF_STRICT 0x8u /* only the owner and whom it grants */
#define CORE_SEMF_FIFO 0x10u  /* a post hands its permit to the first waiter */
#define CORE_SEMF_SYSV 0x20u  /* a System V set (see below), not a POSIX semaphore */

struct core_sem_info_args {
    uint32_t cursor; /* in: first semaphore index to consider */
    uint32_t next;   /* out: cursor for the next call; found=0 ends */
    uint32_t found, pad_;
    struct core_sem_info info; /* out */
};

/* Iterate holders (SEM_HOLDERS) or waiters (SEM_WAITERS) of one semaphore. */
struct core_sem_member_args {
    core_id_t handle; /* in */
    uint32_t cursor;  /* in: 0 to start */
    uint32_t next;    /* out */
    uint32_t found;   /* out: 0 when the list is exhausted */
    uint32_t pid;     /* out */
    core_id_t session;/* out */
    uint32_t count;   /* out: opens (holders) or slot (waiters) */
    int32_t prio;     /* out (waiters) */
    uint32_t woken, pad_; /* out (waiters): woken, not yet back */
};

struct core_session_info_args {
    core_id_t session; /* in */
    uint32_t pid, uid, gid, nopens, nwaiters, pad_;
    uint64_t start_time;
    uint64_t key_id; /* 0: a PID session */
};

struct core_stats {
    uint32_t sems_in_use, sessions_in_use, opens_in_use, waiters_in_use;
    uint32_t max_sems, max_sessions, max_opens, max_waiters;
    uint32_t acls_in_use, keys_in_use, keyed_in_use, max_acls;
    uint64_t ops_ok;
    uint64_t refused[-CORE_E_MIN + 1]; /* indexed by -status */
    uint64_t arena_bytes;
    uint32_t sem_bytes; /* bytes of core metadata per semaphore object */
    uint32_t sets_in_use, max_sets;         /* System V */
    uint32_t set_sems_in_use, max_set_sems;
    uint32_t undos_in_use, max_undos;
    uint32_t opblks_in_use;                 /* operations held by queued semops */
};

struct core_stats_args {
    struct core_stats stats; /* out */
};

/* --- entry points --- */

struct core;

/* Bytes of arena needed for cfg (0 if cfg is unusable). */
uint64_t core_arena_size(const struct core_config *cfg);

/* Lay out a core in arena (size bytes, 64-byte aligned). NULL if too small. */
struct core *core_init(void *arena, uint64_t size, const struct core_config *cfg);

/* Take over the core a previous daemon laid out in arena (the same memory,
 * mapped here at any address): checks its magic, layout version and size,
 * and sets its table addresses for this mapping, clearing nothing.  *cfg_out
 * (if not NULL) gets its configuration.  NULL if the arena is not a core of
 * this build's layout.  Under SGX this is where sealed state would be
 * unsealed; here the arena is handed over as it is (docs/DESIGN.md). */
struct core *core_resume(void *arena, uint64_t size, struct core_config *cfg_out);

/* The single gate: dispatch one ecall.  args must point to args_size bytes,
 * and args_size must equal the size of the call's struct. */
int32_t core_ecall(struct core *c, uint32_t call, void *args, uint64_t args_size);

/* Static string for a core status (never NULL). */
const char *core_strerror(int32_t status);

#endif
