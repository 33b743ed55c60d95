/* libesem internals shared by the public API (esem.c) and the preload
 * shim: handle-level operations returning 0 or -errno.  Hidden: the
 * esemi_ prefix is not exported by either library's version script. */
#ifndef ESEM_CLIENT_H
#define ESEM_CLIENT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "esem.h"

#define ESEMI __attribute__((visibility("hidden")))

ESEMI int esemi_open(const char *name, int oflag, mode_t mode, unsigned int value, uint64_t *handle);
ESEMI int esemi_create(unsigned int value, uint64_t *handle);
ESEMI int esemi_close(uint64_t handle);
ESEMI int esemi_destroy(uint64_t handle);
ESEMI int esemi_unlink(const char *name);
ESEMI int esemi_post(uint64_t handle);
ESEMI int esemi_trywait(uint64_t handle);
/* Blocks until granted; abs (on clock) NULL = no deadline.  EINTR on a
 * handled signal, ETIMEDOUT at the deadline, a pthread cancellation point
 * (also before taking a permit that is there if cancel_at_entry). */
ESEMI int esemi_wait(uint64_t handle, clockid_t clock, const struct timespec *abs,
                     int cancel_at_entry);
ESEMI int esemi_getvalue(uint64_t handle, int *sval);

/* Access lists (CORE_P_* kinds, CORE_R_* rights; for CORE_P_PROC the
 * process's start time is looked up here, ext is ignored). */
ESEMI int esemi_grant(uint64_t handle, uint32_t kind, uint32_t id, uint64_t ext, unsigned rights);
ESEMI int esemi_revoke(uint64_t handle, uint32_t kind, uint32_t id, uint64_t ext, unsigned rights);
/* Key sessions: set the key before the first call (-EISCONN after). */
ESEMI int esemi_set_key(const uint8_t key[32]);
/* A key file: its first word is the key as 64 hex digits.  0, -errno of
 * the open or read, or -ENOKEY. */
ESEMI int esemi_read_key_file(const char *path, uint8_t key[32]);
ESEMI uint64_t esemi_key_id(const uint8_t key[32]);

/* One request on this thread's slot (the channel protocol in proto.h).
 * For the calls that do not fit the handle-level ones (System V). */
struct esemi_call {
    uint32_t op, oflag, value, mode, name_len;
    int32_t prio;
    uint64_t handle;
    const char *name;
    /* blocking waits */
    int interruptible;
    int cancellable; /* a pthread cancellation point while asleep */
    clockid_t clock;
    const struct timespec *deadline; /* absolute, on clock; NULL = none */
    /* out */
    uint32_t rvalue;
    uint64_t rhandle;
    void *rdata;         /* reply data (System V) go here ... */
    uint32_t rdata_max;  /* ... up to this many bytes */
    uint32_t rdata_len;  /* out: how many came */
};
/* 0 or -errno (the reply's status). */
ESEMI int esemi_rpc(struct esemi_call *c);
/* The same for a call that may block: a full waiter table (ENOSPC) makes
 * it block until there is room, as a wait must not fail for that. */
ESEMI int esemi_rpc_blocking(struct esemi_call *c);
/* Is the deadline d on clock past? */
ESEMI int esemi_deadline_passed(clockid_t clock, const struct timespec *d);
/* Semaphores this process holds (opens + creates - closes), which its fork
 * children inherit: changed by delta. */
ESEMI void esemi_held(long delta);

/* System V (sysv.c): a result >= 0 or -errno.  semop's rel: semtimedop's
 * relative timeout (NULL: none). */
union esemi_semun {
    int val;
    void *buf; /* struct semid_ds *, struct seminfo * */
    unsigned short *array;
};
struct sembuf;
ESEMI int esemi_sysv_semget(key_t key, int nsems, int semflg);
ESEMI int esemi_sysv_semop(int semid, struct sembuf *sops, size_t nsops,
                           const struct timespec *rel);
ESEMI int esemi_sysv_semctl(int semid, int semnum, int cmd, union esemi_semun arg);
/* This process uses System V sets: its fork children connect at fork, while
 * they still have the parent's identity (lib/client.c atfork_child). */
ESEMI void esemi_used_sysv(void);
/* The set's object handle (for grant/revoke). */
ESEMI int esemi_sysv_handle(int semid, uint64_t *handle);

/* A keyed check value (SipHash-2-4, 128-bit key random per process tree)
 * for a handle stored in memory others may write (an esem_t, or a sem_t in
 * a shared segment under the shim): a value that was not written by this
 * process tree fails the check (EINVAL) instead of being used, and cannot
 * be computed from the pairs a writer sees.  It cannot stop a copy of a
 * valid (handle, tag) pair. */
ESEMI uint64_t esemi_tag(uint64_t handle);

/* The public esem_t, laid out so that the shim's sem_t overlay keeps the
 * magic, handle and tag at the same offsets. */
#define ESEM_MAGIC 0x6553454du
struct esem {
    uint32_t magic;
    uint32_t refs;   /* esem_open calls not yet closed in this process */
    uint64_t handle; /* the core's id: global, so fork() children share it */
    uint64_t tag;    /* esemi_tag(handle) */
    int anon;
    struct esem *next;
};

#endif
