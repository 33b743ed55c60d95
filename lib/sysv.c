/*
 * System V semaphores on esem: semget/semop/semtimedop/semctl as requests
 * to esemd's core (enclave/core_sysv.c keeps the sets).  The internal
 * esemi_sysv_* calls return a result >= 0 or -errno and serve both the
 * public esem_sem* functions here and the preload shim's semget & co.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/sem.h>
#include <time.h>

#include "client.h"
#include "proto.h"
#include "util.h"

#define EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(struct sembuf) == sizeof(struct core_sembuf), "struct sembuf's layout");
_Static_assert(IPC_CREAT == CORE_IPC_CREAT && IPC_EXCL == CORE_IPC_EXCL &&
                   IPC_NOWAIT == CORE_IPC_NOWAIT && SEM_UNDO == CORE_SEM_UNDO,
               "Linux's flag values are the core's");
_Static_assert(IPC_RMID == CORE_IPC_RMID && IPC_SET == CORE_IPC_SET && IPC_STAT == CORE_IPC_STAT &&
                   IPC_INFO == CORE_IPC_INFO && GETPID == CORE_GETPID && GETVAL == CORE_GETVAL &&
                   GETALL == CORE_GETALL && GETNCNT == CORE_GETNCNT &&
                   GETZCNT == CORE_GETZCNT && SETVAL == CORE_SETVAL && SETALL == CORE_SETALL &&
                   SEM_STAT == CORE_SEM_STAT && SEM_INFO == CORE_SEM_INFO &&
                   SEM_STAT_ANY == CORE_SEM_STAT_ANY,
               "Linux's semctl commands are the core's");

int esemi_sysv_semget(key_t key, int nsems, int semflg)
{
    if (nsems < 0)
        return -EINVAL;
    struct esemi_call c = {.op = ESEM_OP_SEMGET,
                           .value = (uint32_t)key,
                           .oflag = (uint32_t)semflg & (IPC_CREAT | IPC_EXCL | 0777),
                           .mode = (uint32_t)nsems,
                           .prio = (semflg & ESEM_O_STRICT) ? (int32_t)CORE_O_STRICT : 0};
    int r = esemi_rpc(&c);
    if (r < 0)
        return r;
    esemi_used_sysv();
    return (int)c.rvalue;
}

int esemi_sysv_semop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *rel)
{
    if (nsops == 0 || semid < 0)
        return -EINVAL;
    if (nsops > CORE_SEMOPM)
        return -E2BIG;
    if (!sops)
        return -EFAULT;
    struct timespec abs;
    if (rel) {
        if (rel->tv_sec < 0 || rel->tv_nsec < 0 || rel->tv_nsec >= 1000000000)
            return -EINVAL;
        clock_gettime(CLOCK_MONOTONIC, &abs);
        abs.tv_sec += rel->tv_sec;
        abs.tv_nsec += rel->tv_nsec;
        if (abs.tv_nsec >= 1000000000) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000;
        }
    }
    /* First a try that never queues: its answer comes at once, so the
     * thread spins for it instead of sleeping (a semop that can proceed —
     * most of them — costs no futex sleep and wake-up); only if it would
     * block is it sent again to wait, as esemi_wait does after its trywait
     * (the daemon says at once that it queued it, and the thread sleeps). */
    struct esemi_call t = {.op = ESEM_OP_SEMOP,
                           .oflag = CORE_WAIT_TRY,
                           .handle = (uint64_t)semid,
                           .value = (uint32_t)nsops,
                           .name = (const char *)sops,
                           .name_len = (uint32_t)(nsops * sizeof *sops)};
    int r = esemi_rpc(&t);
    if (r != -EAGAIN) {
        if (r == 0)
            esemi_used_sysv();
        return r;
    }
    /* it would block; final if every operation has IPC_NOWAIT, or for a
     * zero timeout (else the blocking operation may be one without) */
    size_t nowait = 0;
    for (size_t i = 0; i < nsops; i++)
        nowait += (sops[i].sem_flg & IPC_NOWAIT) != 0;
    if (nowait == nsops || (rel && rel->tv_sec == 0 && rel->tv_nsec == 0))
        return -EAGAIN;
    /* semop is interrupted by any handled signal, SA_RESTART or not
     * (signal(7)); here only by one without SA_RESTART: docs/DEVIATIONS */
    struct esemi_call c = {.op = ESEM_OP_SEMOP,
                           .handle = (uint64_t)semid,
                           .value = (uint32_t)nsops,
                           .name = (const char *)sops,
                           .name_len = (uint32_t)(nsops * sizeof *sops),
                           .interruptible = 1,
                           .clock = CLOCK_MONOTONIC,
                           .deadline = rel ? &abs : NULL};
    r = esemi_rpc_blocking(&c);
    if (r == 0)
        esemi_used_sysv(); /* an id that came from elsewhere (another process) */
    return r == -ETIMEDOUT ? -EAGAIN : r; /* semtimedop says EAGAIN */
}

/* One semctl request; data out into rdata (up to max bytes). */
static int ctl(int semid, int num, int cmd, uint32_t arg, const void *in, uint32_t inlen,
               void *rdata, uint32_t max, uint32_t *rlen, uint64_t *handle)
{
    struct esemi_call c = {.op = ESEM_OP_SEMCTL,
                           .handle = (uint64_t)(uint32_t)semid,
                           .oflag = (uint32_t)cmd,
                           .value = (uint32_t)num,
                           .mode = arg,
                           .name = in,
                           .name_len = inlen,
                           .rdata = rdata,
                           .rdata_max = max};
    int r = esemi_rpc(&c);
    if (rlen)
        *rlen = c.rdata_len;
    if (handle)
        *handle = c.rhandle;
    return r < 0 ? r : (int)c.rvalue;
}

static int stat_of(int semid, int cmd, struct core_sysv_ds *d, uint64_t *handle)
{
    uint32_t len = 0;
    int r = ctl(semid, 0, cmd, 0, NULL, 0, d, sizeof *d, &len, handle);
    if (r >= 0 && len != sizeof *d)
        return -EIO;
    return r;
}

int esemi_sysv_semctl(int semid, int semnum, int cmd, union esemi_semun arg)
{
    if (semid < 0)
        return -EINVAL;
    switch (cmd) {
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY: {
        struct core_sysv_ds d;
        int r = stat_of(semid, cmd, &d, NULL);
        if (r < 0)
            return r;
        if (!arg.buf)
            return -EFAULT;
        struct semid_ds *o = arg.buf;
        memset(o, 0, sizeof *o);
        o->sem_perm.__key = d.key;
        o->sem_perm.uid = d.uid;
        o->sem_perm.gid = d.gid;
        o->sem_perm.cuid = d.cuid;
        o->sem_perm.cgid = d.cgid;
        o->sem_perm.mode = (unsigned short)d.mode;
        o->sem_perm.__seq = (unsigned short)d.seq;
        o->sem_otime = (time_t)d.otime;
        o->sem_ctime = (time_t)d.ctime;
        o->sem_nsems = d.nsems;
        return r;
    }
    case IPC_SET: {
        if (!arg.buf)
            return -EFAULT;
        const struct semid_ds *in = arg.buf;
        struct core_sysv_set s = {.uid = in->sem_perm.uid, .gid = in->sem_perm.gid,
                                  .mode = in->sem_perm.mode & 0777u};
        return ctl(semid, 0, cmd, 0, &s, sizeof s, NULL, 0, NULL, NULL);
    }
    case IPC_INFO:
    case SEM_INFO: {
        if (!arg.buf)
            return -EFAULT;
        struct core_sysv_limits l;
        uint32_t len = 0;
        int r = ctl(0, 0, cmd, 0, NULL, 0, &l, sizeof l, &len, NULL);
        if (r < 0)
            return r;
        if (len != sizeof l)
            return -EIO;
        struct seminfo *o = arg.buf;
        o->semmap = l.semmap;
        o->semmni = l.semmni;
        o->semmns = l.semmns;
        o->semmnu = l.semmnu;
        o->semmsl = l.semmsl;
        o->semopm = l.semopm;
        o->semume = l.semume;
        o->semusz = l.semusz;
        o->semvmx = l.semvmx;
        o->semaem = l.semaem;
        return r;
    }
    case IPC_RMID:
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT: return ctl(semid, semnum, cmd, 0, NULL, 0, NULL, 0, NULL, NULL);
    case SETVAL: return ctl(semid, semnum, cmd, (uint32_t)arg.val, NULL, 0, NULL, 0, NULL, NULL);
    case GETALL: {
        if (!arg.array)
            return -EFAULT;
        /* CORE_SYSV_CHUNK values a request: one request (a snapshot) for
         * sets up to that size, in pieces past it (docs/DEVIATIONS) */
        for (uint32_t at = 0;;) {
            uint16_t v[CORE_SYSV_CHUNK];
            uint32_t len = 0;
            int n = ctl(semid, (int)at, cmd, 0, NULL, 0, v, sizeof v, &len, NULL);
            if (n < 0)
                return at == 0 || n != -EINVAL ? n : 0;
            if (n == 0 || len != 2u * (uint32_t)n)
                return -EIO;
            memcpy(arg.array + at, v, len);
            at += (uint32_t)n;
            if ((uint32_t)n < CORE_SYSV_CHUNK)
                return 0;
        }
    }
    case SETALL: {
        if (!arg.array)
            return -EFAULT;
        /* how many: a SETALL of nothing answers the set's size (alter right) */
        int nsems = ctl(semid, 0, cmd, 0, NULL, 0, NULL, 0, NULL, NULL);
        if (nsems < 0)
            return nsems;
        for (int at = 0; at < nsems; at += (int)CORE_SYSV_CHUNK) {
            int n = nsems - at < (int)CORE_SYSV_CHUNK ? nsems - at : (int)CORE_SYSV_CHUNK;
            int r = ctl(semid, at, cmd, 0, arg.array + at, 2u * (uint32_t)n, NULL, 0, NULL,
                        NULL);
            if (r < 0)
                return r;
        }
        return 0;
    }
    default: return -EINVAL;
    }
}

int esemi_sysv_handle(int semid, uint64_t *handle)
{
    struct core_sysv_ds d;
    int r = stat_of(semid, IPC_STAT, &d, handle);
    return r < 0 ? r : 0;
}

/* ---- the public API (esem.h) ---- */

static int ret(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

EXPORT int esem_semget(key_t key, int nsems, int semflg)
{
    return ret(esemi_sysv_semget(key, nsems, semflg));
}

EXPORT int esem_semop(int semid, struct sembuf *sops, size_t nsops)
{
    return ret(esemi_sysv_semop(semid, sops, nsops, NULL));
}

EXPORT int esem_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                           const struct timespec *timeout)
{
    return ret(esemi_sysv_semop(semid, sops, nsops, timeout));
}

EXPORT int esem_semctl(int semid, int semnum, int cmd, ...)
{
    union esemi_semun arg = {.buf = NULL};
    va_list ap;
    va_start(ap, cmd);
    switch (cmd) { /* the fourth argument only where the command has one */
    case SETVAL: arg.val = va_arg(ap, int); break;
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
    case IPC_SET:
    case IPC_INFO:
    case SEM_INFO:
    case GETALL:
    case SETALL: arg.buf = va_arg(ap, void *); break;
    default: break;
    }
    va_end(ap);
    return ret(esemi_sysv_semctl(semid, semnum, cmd, arg));
}

static int acl(int semid, const struct esem_principal *who, unsigned rights, int revoke)
{
    if (!who)
        return ret(-EINVAL);
    uint64_t h = 0;
    int r = esemi_sysv_handle(semid, &h);
    if (r == 0)
        r = revoke ? esemi_revoke(h, (uint32_t)who->kind, who->id, who->key_id, rights)
                   : esemi_grant(h, (uint32_t)who->kind, who->id, who->key_id, rights);
    return ret(r);
}

EXPORT int esem_semgrant(int semid, const struct esem_principal *who, unsigned rights)
{
    return acl(semid, who, rights, 0);
}

EXPORT int esem_semrevoke(int semid, const struct esem_principal *who, unsigned rights)
{
    return acl(semid, who, rights, 1);
}
