/*
 * libesem-preload.so, System V part: semget, semop, semtimedop and semctl
 * on esem for unmodified programs (Apache's Mutex sysvsem, stress-ng
 * --sem-sysv, LMBench's lat_sem...).
 *
 * Sets a program creates under the shim live in esemd's core and never in
 * the kernel's tables (ipcs -s shows nothing of them); their ids all have
 * bit 30 set (CORE_SEMID_BIT).  A set created by a program outside the
 * shim stays in the kernel and is left alone: semget of its key (without
 * IPC_CREAT) finds it there when esem has no set of that key, and the ids
 * the kernel gave this process go to the kernel.  Any other id without
 * bit 30 is the kernel's too (an id passed in from outside).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/sem.h>

#include "client.h"
#include "proto.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's own semctl argument (sys/sem.h leaves it to the program) */
union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

static struct {
    int (*semget)(key_t, int, int);
    int (*semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
    int (*semctl)(int, int, int, ...);
} kern;
static pthread_once_t kern_once = PTHREAD_ONCE_INIT;

static void load_kern(void)
{
    kern.semget = (int (*)(key_t, int, int))dlsym(RTLD_NEXT, "semget");
    kern.semtimedop = (int (*)(int, struct sembuf *, size_t, const struct timespec *))dlsym(
        RTLD_NEXT, "semtimedop");
    kern.semctl = (int (*)(int, int, int, ...))dlsym(RTLD_NEXT, "semctl");
}

/* The kernel's ids this process learned from the kernel's semget (a few:
 * sets made outside the shim).  Lock-free reads, like the shim's table of
 * private sem_t: fork() children keep it. */
#define KID_SLOTS 256u
static _Atomic int kids[KID_SLOTS]; /* id + 1; 0 empty */

static int kid_has(int id)
{
    for (uint32_t i = 0; i < KID_SLOTS; i++) {
        int v = atomic_load_explicit(&kids[i], memory_order_acquire);
        if (v == id + 1)
            return 1;
        if (v == 0)
            return 0;
    }
    return 0;
}

static void kid_add(int id)
{
    for (uint32_t i = 0; i < KID_SLOTS && !kid_has(id); i++) {
        int empty = 0;
        if (atomic_compare_exchange_strong(&kids[i], &empty, id + 1))
            return;
    }
}

static int kernels(int semid)
{
    pthread_once(&kern_once, load_kern);
    return shim_glibc_mode() || semid < 0 || !((uint32_t)semid & CORE_SEMID_BIT) ||
           kid_has(semid);
}

static int ret(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

EXPORT int shim_semget(key_t key, int nsems, int semflg);
int shim_semget(key_t key, int nsems, int semflg)
{
    pthread_once(&kern_once, load_kern);
    if (shim_glibc_mode())
        return kern.semget(key, nsems, semflg);
    int r = shim_settle(esemi_sysv_semget(key, nsems, semflg & (IPC_CREAT | IPC_EXCL | 0777)));
    if (r == -ENOENT && key != IPC_PRIVATE && !(semflg & IPC_CREAT)) {
        /* no esem set of that key: a set made outside the shim? */
        int k = kern.semget(key, nsems, semflg);
        if (k >= 0)
            kid_add(k);
        return k;
    }
    if (r < 0 && shim_glibc_mode())
        return kern.semget(key, nsems, semflg);
    return ret(r);
}

EXPORT int shim_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                           const struct timespec *timeout);
int shim_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout)
{
    if (kernels(semid))
        return kern.semtimedop(semid, sops, nsops, timeout);
    return ret(esemi_sysv_semop(semid, sops, nsops, timeout));
}

EXPORT int shim_semop(int semid, struct sembuf *sops, size_t nsops);
int shim_semop(int semid, struct sembuf *sops, size_t nsops)
{
    if (kernels(semid))
        return kern.semtimedop(semid, sops, nsops, NULL);
    return ret(esemi_sysv_semop(semid, sops, nsops, NULL));
}

/* The fourth argument, where the command has one, as glibc reads it: a
 * union semun — a program passing a bare int (LMBench) or a pointer passes
 * the same register. */
EXPORT int shim_semctl(int semid, int semnum, int cmd, ...);
int shim_semctl(int semid, int semnum, int cmd, ...)
{
    union semun arg = {.buf = NULL};
    va_list ap;
    va_start(ap, cmd);
    switch (cmd) {
    case SETVAL:
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
    case IPC_SET:
    case IPC_INFO:
    case SEM_INFO:
    case GETALL:
    case SETALL: arg = va_arg(ap, union semun); break;
    default: break;
    }
    va_end(ap);
    /* by index or no set at all: esem's table, as ipcs under the shim sees it */
    int by_id = cmd != SEM_STAT && cmd != SEM_STAT_ANY && cmd != IPC_INFO && cmd != SEM_INFO;
    if (by_id ? kernels(semid) : (pthread_once(&kern_once, load_kern), shim_glibc_mode()))
        return kern.semctl(semid, semnum, cmd, arg);
    union esemi_semun a;
    if (cmd == SETVAL)
        a.val = arg.val;
    else
        a.buf = arg.buf;
    return ret(esemi_sysv_semctl(semid, semnum, cmd, a));
}

#if defined(__x86_64__)
__asm__(".symver shim_semget, semget@@GLIBC_2.2.5");
__asm__(".symver shim_semop, semop@@GLIBC_2.2.5");
__asm__(".symver shim_semctl, semctl@@GLIBC_2.2.5");
__asm__(".symver shim_semtimedop, semtimedop@@GLIBC_2.3.3");
#elif defined(__aarch64__)
__asm__(".symver shim_semget, semget@@GLIBC_2.17");
__asm__(".symver shim_semop, semop@@GLIBC_2.17");
__asm__(".symver shim_semctl, semctl@@GLIBC_2.17");
__asm__(".symver shim_semtimedop, semtimedop@@GLIBC_2.17");
#else
#error "add this architecture's glibc symbol versions"
#endif
