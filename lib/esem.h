/*
 * esem.h — hardened process-shared semaphores.
 *
 * The semaphores live in esemd's trusted core, not in memory or files the
 * caller (or any other process) can write.  Each call is checked against
 * the calling process's identity.  The API is POSIX <semaphore.h> in shape:
 * rename sem_* to esem_* and sem_t to esem_t.
 *
 * Conventions for every function below:
 *   - returns 0 (or a pointer) on success; -1 (or NULL) with errno set on
 *     failure, exactly like the POSIX call it mirrors;
 *   - errno values are the POSIX ones (EACCES, EEXIST, ENOENT, EINVAL,
 *     ENAMETOOLONG, EOVERFLOW, EAGAIN, ETIMEDOUT, EINTR, ENOSPC) plus:
 *       ECONNREFUSED  esemd is not running at the socket (ESEM_SOCKET, else
 *                     /run/esem/esemd.sock if ESEM_SYSTEM=1, else
 *                     $XDG_RUNTIME_DIR/esem/esemd.sock, else
 *                     /tmp/esem-$UID/esemd.sock; no fallback from one to
 *                     another) or refused the connection;
 *       EIO           the connection to esemd broke (the daemon died) — the
 *                     library fails closed and never falls back to
 *                     unprotected semaphores;
 *       EBUSY         esem_close of the last reference while another thread
 *                     of this process waits on it, or esem_destroy with
 *                     waiters (POSIX leaves both undefined);
 *       ENOSPC        one of esemd's tables (semaphores, open records,
 *                     queued waiters, clients) is full;
 *       ENOMEM        the library could not allocate an esem_t.
 *     A call that makes the first connection may also fail with the errno
 *     the daemon sent when it refused the connection (ENOSPC, ESRCH,
 *     EPROTO, ENOMEM), or with EPROTO when daemon and library come from
 *     builds with different wire formats.
 *   - thread-safe; each thread gets its own channel slot on first use and
 *     keeps it until it exits (1016 of the process's 1024 slots; a thread
 *     beyond that borrows one per call; a blocking wait that finds none
 *     free sleeps until one is; the last 8 serve only calls that do not
 *     block, so a post always gets through).
 *   - fork(): the child gets its own session with esemd and keeps the
 *     parent's open semaphores (same esem_t pointers), also if it changes
 *     its uid later: it connects from the fork handler, before it runs any
 *     code of its own.  If the daemon cannot prove the child's parent is
 *     the live process that held them (the parent died first), the child
 *     gets a session of its own and the inherited handles fail with EINVAL.
 *     The parent's channel is never visible to the child.  exec() and
 *     _exit() drop the process's references.
 *   - esem_open and esem_unlink are checked against the caller's identity
 *     at the time of the call (fs uid/gid, up to 16 supplementary groups,
 *     umask), read by esemd from /proc; what a process holds stays usable
 *     after it changes its uid, as open files do.
 *   - once the connection to esemd is lost every call fails with EIO for
 *     the rest of the process's life: the semaphores it held are gone.
 *   - a handle (esem_t *) is only meaningful in the process that opened it
 *     and in its children; forging or reusing one is refused with EINVAL.
 *   - access lists: beyond the mode bits, the owner of a semaphore can
 *     grant and revoke each right (open, wait, post, unlink) to a uid, a
 *     gid, one process, or a key (esem_grant, esem_revoke).  A revoked
 *     right stops working at once, also through handles already open
 *     (EACCES).  Under the strict policy (ESEM_O_STRICT, or esemd
 *     --policy=strict) nobody but the owner — the creating key, or the
 *     creating process and its fork() children — has any right until it
 *     is granted; not the same uid, not root.
 *   - key sessions: a process that holds a 256-bit key (esem_set_key, or
 *     the environment variable ESEM_KEY_FILE naming a file with the key as
 *     64 hex digits) proves it to esemd's core when it connects; then every
 *     request carries a MAC and a per-slot sequence number, and only
 *     replies with the core's MAC count — a forged, altered, replayed or
 *     reordered request is refused by the core (a line in `esemctl audit`,
 *     errno EBADMSG) and changes nothing; the process whose request was
 *     altered gets no answer, as if it had been dropped; a forged grant
 *     written into the channel is ignored (the waiter keeps waiting).  The key must be provisioned to the daemon
 *     (esemd --keyring); an unknown key fails with EKEYREJECTED, an
 *     unreadable ESEM_KEY_FILE with ENOKEY.
 */
#ifndef ESEM_H
#define ESEM_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESEM_VALUE_MAX 2147483647 /* == SEM_VALUE_MAX on Linux */
#define ESEM_NAME_MAX 251         /* bytes after the leading '/' */

/* esem_open oflag: with O_CREAT, the new semaphore gets the strict policy. */
#define ESEM_O_STRICT 0x40000000
/* esem_open oflag: with O_CREAT, the new semaphore hands each post's permit
 * to the first waiter (FIFO order; priority first under SCHED_FIFO/RR)
 * instead of the default barging order, where a post raises the value and
 * wakes a waiter, and whoever asks first takes the permit (as glibc does).
 * FIFO: no waiter is ever passed over, but each contended hand-off waits
 * for the waiter to be scheduled.  Barging: a running thread may take a
 * permit ahead of a woken waiter, which then sleeps again in its old place;
 * a waiter can lose that way again and again while others keep the
 * semaphore busy (no bound), as on glibc.  esemd --order=fifo makes FIFO
 * the default of every new semaphore. */
#define ESEM_O_FIFO 0x20000000

/* Rights for esem_grant / esem_revoke. */
#define ESEM_R_OPEN 0x1u
#define ESEM_R_WAIT 0x2u /* wait, trywait, timedwait, clockwait */
#define ESEM_R_POST 0x4u
#define ESEM_R_UNLINK 0x8u
#define ESEM_R_ALL 0xfu

/* Whom a grant names. */
enum esem_principal_kind {
    ESEM_P_UID = 1,  /* id = a uid */
    ESEM_P_GID = 2,  /* id = a gid (primary or supplementary) */
    ESEM_P_PROC = 3, /* id = a pid: that process only (by its start time),
                      * and the children it forks */
    ESEM_P_KEY = 4,  /* key_id = esem_key_id() of a key */
};
struct esem_principal {
    int kind;
    uint32_t id;
    uint64_t key_id;
};

#if defined(__GNUC__)
#define ESEM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define ESEM_MUST_CHECK
#endif

/* Opaque handle to a semaphore; only ever used through a pointer. */
typedef struct esem esem_t;

/*
 * esem_open — open (and with O_CREAT, create) a named semaphore.
 * name:  "/name" (leading slashes are skipped), at most ESEM_NAME_MAX bytes,
 *        no further '/'.
 * oflag: 0, O_CREAT, or O_CREAT|O_EXCL (other bits are ignored).
 * mode, value: used only when the call creates it; the process umask is
 *        applied to mode; value <= ESEM_VALUE_MAX.
 * Access: read+write permission by mode bits and the creator's uid/gid, as
 *        for the file glibc would create; root may open any.
 * Opening the same semaphore again in one process returns the same pointer;
 * each successful esem_open needs one esem_close.
 * Errors: EACCES, EEXIST, ENOENT, EINVAL (bad name, value too large),
 *        ENAMETOOLONG, ENOSPC (daemon tables full), ECONNREFUSED, EIO.
 * Not async-signal-safe.
 */
ESEM_MUST_CHECK esem_t *esem_open(const char *name, int oflag, mode_t mode, unsigned int value);

/* esem_close — drop one reference taken by esem_open.  The semaphore lives
 * on (named semaphores persist until unlinked and closed by all).
 * Errors: EINVAL (not an open handle), EBUSY, EIO. */
int esem_close(esem_t *sem);

/* esem_unlink — remove a name; it can be reused at once, and processes that
 * have the old semaphore open keep using it until their last close.
 * Only the owner (or root) may unlink.
 * Errors: ENOENT, EACCES, EINVAL, ENAMETOOLONG, ECONNREFUSED, EIO. */
int esem_unlink(const char *name);

/* esem_create — a new anonymous semaphore (like sem_init with pshared=1):
 * shared with children created by fork() after this call.
 * Errors: EINVAL (value > ESEM_VALUE_MAX), ENOSPC, ECONNREFUSED, EIO. */
ESEM_MUST_CHECK esem_t *esem_create(unsigned int value);

/* esem_destroy — end an anonymous semaphore for every process sharing it
 * and free the handle.  Errors: EINVAL (named or invalid), EBUSY (waiters). */
int esem_destroy(esem_t *sem);

/* esem_post — add one permit, or hand it straight to the first waiter
 * (highest priority first, FIFO among equals).  Not a cancellation point.
 * Async-signal-safe, also from a handler that interrupted another esem call
 * in the same thread, provided the process is already connected (it is once
 * it holds an open semaphore, unless its connection at fork() failed) and
 * the calling thread has made an esem call before (a thread's first call
 * registers it with pthread_setspecific).
 * Errors: EINVAL, EOVERFLOW (value would exceed ESEM_VALUE_MAX), EIO. */
int esem_post(esem_t *sem);

/* esem_wait — take a permit, blocking until one is granted.
 * A wake-up is never taken as a grant: it returns 0 only when esemd's core
 * granted this thread a permit.  A signal handler installed without
 * SA_RESTART interrupting the wait makes it fail with EINTR; with SA_RESTART
 * the wait goes on (POSIX's rule for interruptible calls; glibc does the
 * same).  If a grant raced the signal, the call returns 0 instead and the
 * permit is kept — it is never lost.  (A signal handled before the thread goes to
 * sleep does not end the wait, as with glibc.)  Under SCHED_FIFO/SCHED_RR
 * the thread queues by its real-time priority.
 * A cancellation point: a thread cancelled while blocked leaves no waiter
 * behind, and a permit granted to it at that moment is posted back.
 * Errors: EINVAL, EINTR, ENOSPC (waiter table full), EIO. */
int esem_wait(esem_t *sem);

/* esem_trywait — take a permit if one is available now.
 * Errors: EAGAIN (none available), EINVAL, EIO. */
int esem_trywait(esem_t *sem);

/* esem_timedwait — esem_wait with an absolute CLOCK_REALTIME deadline.
 * Succeeds if a permit is available even when the deadline has passed;
 * never times out early.  A handled signal ends it with EINTR, SA_RESTART or
 * not (as glibc's sem_timedwait).  Errors: ETIMEDOUT, EINVAL (tv_nsec
 * outside [0, 1e9)), EINTR, EIO. */
int esem_timedwait(esem_t *sem, const struct timespec *abs_timeout);

/* esem_clockwait — as esem_timedwait, on CLOCK_REALTIME or CLOCK_MONOTONIC
 * (EINVAL for any other clock). */
int esem_clockwait(esem_t *sem, clockid_t clock, const struct timespec *abs_timeout);

/* esem_getvalue — the current value; 0 while threads wait (as glibc).
 * Errors: EINVAL, EIO. */
int esem_getvalue(esem_t *sem, int *sval);

/* esem_grant — give rights (ESEM_R_*) on sem to a principal; esem_revoke —
 * take them away (an explicit deny, which beats what the mode bits or a
 * less specific principal give: gid < uid < key < process).  Only the
 * semaphore's owner may call them: EPERM otherwise; EINVAL for a bad
 * principal or rights; ESRCH if the process of ESEM_P_PROC does not exist;
 * ENOSPC if esemd's access-list table is full. */
int esem_grant(esem_t *sem, const struct esem_principal *who, unsigned rights);
int esem_revoke(esem_t *sem, const struct esem_principal *who, unsigned rights);

/* esem_set_key — make this process's session a key session (before its
 * first esem call; EISCONN after).  key: 32 bytes.  esem_key_id — the id
 * under which esemd knows a key (for ESEM_P_KEY grants). */
int esem_set_key(const unsigned char key[32]);
uint64_t esem_key_id(const unsigned char key[32]);

/* esem_read_key — read a key file as ESEM_KEY_FILE is read: its first word
 * is the key, 64 hex digits.  -1 with errno from open/read, or ENOKEY for
 * anything else. */
int esem_read_key(const char *path, unsigned char key[32]);

/*
 * System V semaphores on esem (the same calls as semget(2), semop(2),
 * semtimedop(2) and semctl(2), with their arguments, results and errors):
 * the sets live in esemd's core, never in the kernel's tables, and every
 * call is checked against the caller's identity there: the ipc_perm mode
 * bits (read; alter), owner/creator for IPC_SET and IPC_RMID, then the
 * set's access list.  semflg may add ESEM_O_STRICT (only the creating
 * process, its children, or its key may use the set, and whom it grants).
 * esem_semgrant/esem_semrevoke: as esem_grant, for a set (rights: OPEN =
 * read, WAIT = decrement, POST = increment, UNLINK = IPC_RMID/IPC_SET).
 * Differences from the kernel: at most 32 operations a semop (E2BIG), and
 * a handler installed with SA_RESTART does not end a blocked semop
 * (esem(3), "System V").
 */
struct sembuf;
int esem_semget(key_t key, int nsems, int semflg);
int esem_semop(int semid, struct sembuf *sops, size_t nsops);
int esem_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout);
int esem_semctl(int semid, int semnum, int cmd, ...);
int esem_semgrant(int semid, const struct esem_principal *who, unsigned rights);
int esem_semrevoke(int semid, const struct esem_principal *who, unsigned rights);

#ifdef __cplusplus
}
#endif
#endif
