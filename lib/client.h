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

ESEMI int esemi_norm_name(const char *name, const char **out, uint32_t *len);
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
ESEMI uint64_t esemi_rejected_replies(void);

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
