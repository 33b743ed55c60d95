/*
 * libesem's handle-level operations, 0 or -errno: open, create, close,
 * destroy, unlink, post, trywait, getvalue, wait, and the access lists'
 * grant and revoke, each one request of the channel protocol (client.c
 * makes the round trip).
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "proto.h"
#include "util.h"


static int norm_name(const char *name, const char **out, uint32_t *len)
{
    if (!name)
        return -EINVAL;
    /* POSIX names: leading slashes are skipped; the rest must be non-empty,
     * fit, and hold no further slash (the core checks again). */
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

int esemi_open(const char *name, int oflag, mode_t mode, unsigned int value, uint64_t *handle)
{
    const char *n;
    uint32_t len;
    int r = norm_name(name, &n, &len);
    if (r < 0)
        return r;
    struct esemi_call c = {.op = ESEM_OP_OPEN, .name = n, .name_len = len};
    if (oflag & O_CREAT) {
        if (value > ESEM_VALUE_MAX)
            return -EINVAL;
        c.oflag = CORE_O_CREAT | ((oflag & O_EXCL) ? CORE_O_EXCL : 0) |
                  ((oflag & ESEM_O_STRICT) ? CORE_O_STRICT : 0) |
                  ((oflag & ESEM_O_FIFO) ? CORE_O_FIFO : 0);
        c.mode = (uint32_t)(mode & 0777); /* esemd applies our umask, as open(2) would */
        c.value = value;
    }
    r = esemi_rpc(&c);
    if (r == 0) {
        esemi_held(1);
        *handle = c.rhandle;
    }
    return r;
}

int esemi_create(unsigned int value, uint64_t *handle)
{
    if (value > ESEM_VALUE_MAX)
        return -EINVAL;
    struct esemi_call c = {.op = ESEM_OP_CREATE, .value = value};
    int r = esemi_rpc(&c);
    if (r == 0) {
        esemi_held(1);
        *handle = c.rhandle;
    }
    return r;
}

static int handle_op(uint32_t op, uint64_t handle, uint32_t *value)
{
    struct esemi_call c = {.op = op, .handle = handle};
    int r = esemi_rpc(&c);
    if (r == 0 && value)
        *value = c.rvalue;
    return r;
}

int esemi_close(uint64_t handle)
{
    int r = handle_op(ESEM_OP_CLOSE, handle, NULL);
    if (r == 0)
        esemi_held(-1);
    return r;
}

int esemi_destroy(uint64_t handle)
{
    int r = handle_op(ESEM_OP_DESTROY, handle, NULL);
    if (r == 0)
        esemi_held(-1);
    return r;
}

int esemi_unlink(const char *name)
{
    const char *n;
    uint32_t len;
    int r = norm_name(name, &n, &len);
    if (r < 0)
        return r;
    struct esemi_call c = {.op = ESEM_OP_UNLINK, .name = n, .name_len = len};
    return esemi_rpc(&c);
}

int esemi_post(uint64_t handle)
{
    return handle_op(ESEM_OP_POST, handle, NULL);
}

int esemi_trywait(uint64_t handle)
{
    return handle_op(ESEM_OP_TRYWAIT, handle, NULL);
}

int esemi_getvalue(uint64_t handle, int *sval)
{
    uint32_t v = 0;
    int r = handle_op(ESEM_OP_GETVALUE, handle, &v);
    if (r == 0)
        *sval = (int)v;
    return r;
}

/* Queue position: POSIX wants the highest-priority waiter released first
 * under SCHED_FIFO and SCHED_RR; everyone else waits at priority 0. */
static int32_t rt_priority(void)
{
    struct sched_param sp;
    int policy;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) == 0 &&
        (policy == SCHED_FIFO || policy == SCHED_RR))
        return sp.sched_priority;
    return 0;
}

int esemi_wait(uint64_t handle, clockid_t clock, const struct timespec *abs, int cancel_at_entry)
{
    if (abs && (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000))
        return -EINVAL;
    /* Where a cancel pending at entry acts even if a permit is there
     * follows glibc: sem_wait and sem_timedwait yes, sem_clockwait no. */
    if (cancel_at_entry)
        pthread_testcancel();
    /* One round trip when a permit is there; only a wait that will block
     * pays for looking up the thread's scheduling priority.  (A single
     * WAIT request, granted or queued, would save the trywait's round trip
     * when the wait blocks, but measured slower: docs/DESIGN.md.) */
    int r = esemi_trywait(handle);
    if (r != -EAGAIN)
        return r;
    if (abs && esemi_deadline_passed(clock, abs))
        return -ETIMEDOUT;
    pthread_testcancel();
    struct esemi_call c = {.op = ESEM_OP_WAIT, .handle = handle, .prio = rt_priority(),
                           .interruptible = 1, .cancellable = 1, .clock = clock, .deadline = abs};
    return esemi_rpc_blocking(&c);
}

/* ---- access lists ---- */

static int acl_op(uint32_t op, uint64_t handle, uint32_t kind, uint32_t id, uint64_t ext,
                  unsigned rights)
{
    if (!rights || (rights & ~CORE_R_ALL))
        return -EINVAL;
    struct esem_grant_req g = {.who = {.kind = kind, .id = id, .ext = ext}, .rights = rights};
    struct core_principal *p = &g.who;
    if (kind == CORE_P_PROC) {
        /* name the process, not its pid: a later process that reuses the
         * pid is someone else (its start time differs) */
        pid_t ppid;
        if (id == 0 || esem_util_proc_stat((pid_t)id, &p->ext, &ppid) < 0)
            return -ESRCH;
    }
    struct esemi_call c = {.op = op, .handle = handle, .name = (const char *)&g,
                           .name_len = sizeof g};
    return esemi_rpc(&c);
}

int esemi_grant(uint64_t handle, uint32_t kind, uint32_t id, uint64_t ext, unsigned rights)
{
    return acl_op(ESEM_OP_GRANT, handle, kind, id, ext, rights);
}

int esemi_revoke(uint64_t handle, uint32_t kind, uint32_t id, uint64_t ext, unsigned rights)
{
    return acl_op(ESEM_OP_REVOKE, handle, kind, id, ext, rights);
}

_Static_assert(ESEM_R_OPEN == CORE_R_OPEN && ESEM_R_WAIT == CORE_R_WAIT &&
                   ESEM_R_POST == CORE_R_POST && ESEM_R_UNLINK == CORE_R_UNLINK &&
                   ESEM_R_ALL == CORE_R_ALL,
               "public rights are the core's");
_Static_assert((int)ESEM_P_UID == (int)CORE_P_UID && (int)ESEM_P_GID == (int)CORE_P_GID &&
                   (int)ESEM_P_PROC == (int)CORE_P_PROC && (int)ESEM_P_KEY == (int)CORE_P_KEY,
               "public principal kinds are the core's");
