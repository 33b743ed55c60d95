/*
 * libesem-preload.so: glibc's sem_* on esem, for unmodified programs.
 *
 *   LD_PRELOAD=libesem-preload.so PROGRAM      (or: esem run -- PROGRAM)
 *
 * Every sem_* symbol glibc exports is defined here under each of glibc's
 * symbol versions, so both old (GLIBC_2.2.5, from libpthread) and current
 * (GLIBC_2.34) references bind to us.
 *
 * Two kinds of sem_t pointer reach these functions:
 *  - from sem_open: our own esem_t (private heap memory, see esem.c);
 *  - from sem_init: the caller's 32-byte sem_t, which we overlay with
 *    struct shim_sem.  It may sit in a segment other processes can write
 *    (PostgreSQL), so it holds nothing but a handle and its keyed tag: a
 *    writer can make it unusable (EINVAL) or copy another valid sem_t of the
 *    same process tree over it, but cannot create or release a permit, reach
 *    a semaphore the victim's processes have not opened, or forge a handle
 *    (docs/SHIM.md).  We never key on its address: a segment may be mapped
 *    at different addresses in different processes.
 *
 * Environment:
 *   ESEM_FALLBACK=glibc  if esemd cannot be reached at the first call, run
 *                        this process on glibc's (unprotected) semaphores
 *                        instead of failing;
 *   ESEM_PRIVATE=esem    sem_init(pshared=0) semaphores (threads of one
 *                        process) on esem too; default (or =glibc): they
 *                        stay in the process, on glibc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "shim.h"

#define SHIM_MAGIC 0x53454d31u /* "SEM1": a sem_init'ed sem_t on esem */

struct shim_sem {
    uint32_t magic;
    uint32_t pad0_;
    uint64_t handle;
    uint64_t tag;
    uint64_t pad1_;
};
_Static_assert(sizeof(struct shim_sem) <= sizeof(sem_t), "overlay fits sem_t");
_Static_assert(offsetof(struct shim_sem, handle) == offsetof(struct esem, handle) &&
                   offsetof(struct shim_sem, tag) == offsetof(struct esem, tag),
               "same offsets");

/* ---- glibc, for the modes that ask for it ---- */

static struct {
    int (*init)(sem_t *, int, unsigned);
    int (*destroy)(sem_t *);
    sem_t *(*open)(const char *, int, ...);
    int (*close)(sem_t *);
    int (*unlink)(const char *);
    int (*wait)(sem_t *);
    int (*trywait)(sem_t *);
    int (*timedwait)(sem_t *, const struct timespec *);
    int (*clockwait)(sem_t *, clockid_t, const struct timespec *);
    int (*post)(sem_t *);
    int (*getvalue)(sem_t *, int *);
} real;

enum { MODE_UNKNOWN = 0, MODE_ESEM, MODE_GLIBC };
static _Atomic int mode;
static int private_glibc;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void load_real(void)
{
    real.init = (int (*)(sem_t *, int, unsigned))dlsym(RTLD_NEXT, "sem_init");
    real.destroy = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_destroy");
    real.open = (sem_t * (*)(const char *, int, ...)) dlsym(RTLD_NEXT, "sem_open");
    real.close = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_close");
    real.unlink = (int (*)(const char *))dlsym(RTLD_NEXT, "sem_unlink");
    real.wait = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_wait");
    real.trywait = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_trywait");
    real.timedwait = (int (*)(sem_t *, const struct timespec *))dlsym(RTLD_NEXT, "sem_timedwait");
    real.clockwait =
        (int (*)(sem_t *, clockid_t, const struct timespec *))dlsym(RTLD_NEXT, "sem_clockwait");
    real.post = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_post");
    real.getvalue = (int (*)(sem_t *, int *))dlsym(RTLD_NEXT, "sem_getvalue");
    /* Process-private semaphores (sem_init(pshared=0): threads of one
     * process) stay in the process by default: no other process can reach
     * them unless it already owns this one (ptrace, /proc/PID/mem), which
     * neither threat model lets esem stop for the process's own memory —
     * so the daemon would add a round trip per operation and no
     * protection.  ESEM_PRIVATE=esem puts them on esem as well. */
    const char *p = secure_getenv("ESEM_PRIVATE");
    private_glibc = !(p && strcmp(p, "esem") == 0);
}

static void say(const char *msg)
{
    /* write(2) by raw system call: async-signal-safe, no cancellation point */
    long r = syscall(SYS_write, 2, msg, strlen(msg));
    (void)r;
}

/* The process's mode is settled at its first call that needs the daemon:
 * esem if it answers; if not, glibc only when the user asked for that. */
int shim_settle(int r)
{
    if (r == -EPROTO) {
        static _Atomic int told_proto;
        if (!atomic_exchange(&told_proto, 1))
            say("esem: esemd and libesem-preload.so come from different builds (protocol "
                "mismatch); semaphore calls fail with EPROTO\n");
        return r;
    }
    if (r != -ECONNREFUSED && r != -EIO)
        return r;
    int expect = MODE_UNKNOWN;
    const char *fb = secure_getenv("ESEM_FALLBACK");
    if (fb && strcmp(fb, "glibc") == 0) {
        if (atomic_compare_exchange_strong(&mode, &expect, MODE_GLIBC))
            say("esem: esemd is not reachable; ESEM_FALLBACK=glibc: this process uses glibc's "
                "unprotected semaphores\n");
        return r;
    }
    static _Atomic int told;
    if (!atomic_exchange(&told, 1))
        say(r == -EIO ? "esem: the connection to esemd broke; semaphore calls fail with EIO\n"
                      : "esem: cannot reach esemd (start it with: esemd; or set ESEM_SOCKET); "
                        "semaphore calls fail with ECONNREFUSED\n");
    return r;
}

static int fail(int neg)
{
    errno = -neg;
    return -1;
}

int shim_glibc_mode(void)
{
    pthread_once(&real_once, load_real);
    return atomic_load_explicit(&mode, memory_order_relaxed) == MODE_GLIBC;
}

/* ESEM_PRIVATE=glibc: the addresses of the sem_t this process itself
 * sem_init'ed with pshared=0 and glibc serves.  Only those go to glibc: a
 * sem_t the shim does not recognise is otherwise EINVAL, so a process that
 * can write a shared segment cannot turn one of our process-shared
 * semaphores into a glibc one by overwriting it (finding 8 of the security
 * review).  Open addressing over a fixed table, read without a lock (the
 * sem_post path must stay async-signal-safe); changed under a mutex. */
#define PRIV_SLOTS 4096u
static _Atomic uintptr_t priv_set[PRIV_SLOTS];
static pthread_mutex_t priv_mu = PTHREAD_MUTEX_INITIALIZER;
#define PRIV_GONE ((uintptr_t)1) /* a removed entry: probing goes on past it */

static uint32_t priv_hash(uintptr_t a)
{
    return (uint32_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> 40) % PRIV_SLOTS;
}

static int priv_has(const sem_t *sem)
{
    uintptr_t a = (uintptr_t)sem;
    for (uint32_t i = 0, k = priv_hash(a); i < PRIV_SLOTS; i++, k = (k + 1) % PRIV_SLOTS) {
        uintptr_t v = atomic_load_explicit(&priv_set[k], memory_order_acquire);
        if (v == a)
            return 1;
        if (v == 0)
            return 0;
    }
    return 0;
}

/* 0, or -1 if the table is full (the semaphore then goes to esem) */
static int priv_add(const sem_t *sem)
{
    uintptr_t a = (uintptr_t)sem;
    int r = -1;
    pthread_mutex_lock(&priv_mu);
    if (priv_has(sem)) {
        r = 0;
    } else {
        for (uint32_t i = 0, k = priv_hash(a); i < PRIV_SLOTS; i++, k = (k + 1) % PRIV_SLOTS) {
            uintptr_t v = atomic_load_explicit(&priv_set[k], memory_order_relaxed);
            if (v == 0 || v == PRIV_GONE) {
                atomic_store_explicit(&priv_set[k], a, memory_order_release);
                r = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&priv_mu);
    return r;
}

static void priv_remove(const sem_t *sem)
{
    uintptr_t a = (uintptr_t)sem;
    pthread_mutex_lock(&priv_mu);
    for (uint32_t i = 0, k = priv_hash(a); i < PRIV_SLOTS; i++, k = (k + 1) % PRIV_SLOTS) {
        uintptr_t v = atomic_load_explicit(&priv_set[k], memory_order_relaxed);
        if (v == a) {
            atomic_store_explicit(&priv_set[k], PRIV_GONE, memory_order_release);
            break;
        }
        if (v == 0)
            break;
    }
    pthread_mutex_unlock(&priv_mu);
}

/* Does a sem_t the shim does not recognise go to glibc? */
static int to_glibc(const sem_t *sem)
{
    return shim_glibc_mode() || (private_glibc && priv_has(sem));
}

/* The handle behind a sem_t, or 0 if the sem_t is not (or no longer) ours. */
static uint64_t handle_of(const sem_t *s)
{
    const struct shim_sem *o = (const struct shim_sem *)s;
    if (!o || (o->magic != SHIM_MAGIC && o->magic != ESEM_MAGIC))
        return 0;
    uint64_t h = o->handle;
    return o->tag == esemi_tag(h) ? h : 0;
}

/* ---- the interposed functions ---- */

#define VERSIONED(fn, base)                                                                       \
    __asm__(".symver shim_" #fn ", " #fn "@" base);                                               \
    __asm__(".symver shim_" #fn "_34, " #fn "@@GLIBC_2.34")

int shim_sem_init(sem_t *sem, int pshared, unsigned int value) __attribute__((visibility("default")));
int shim_sem_init(sem_t *sem, int pshared, unsigned int value)
{
    if (shim_glibc_mode())
        return real.init(sem, pshared, value);
    if (pshared == 0 && private_glibc && sem && priv_add(sem) == 0) {
        int r = real.init(sem, pshared, value);
        if (r < 0)
            priv_remove(sem);
        return r;
    }
    if (!sem)
        return fail(-EINVAL);
    if (value > ESEM_VALUE_MAX)
        return fail(-EINVAL);
    struct shim_sem *o = (struct shim_sem *)sem;
    /* Re-initialising one of ours (PostgreSQL does after a crash): drop our
     * reference to the old object first; it is undefined in POSIX anyway. */
    uint64_t old = handle_of(sem);
    uint64_t h;
    int r = shim_settle(esemi_create(value, &h));
    if (r < 0) {
        if (shim_glibc_mode())
            return real.init(sem, pshared, value);
        return fail(r);
    }
    if (old)
        esemi_close(old);
    memset(o, 0, sizeof *o);
    o->handle = h;
    o->tag = esemi_tag(h);
    o->magic = SHIM_MAGIC;
    return 0;
}

int shim_sem_destroy(sem_t *sem) __attribute__((visibility("default")));
int shim_sem_destroy(sem_t *sem)
{
    uint64_t h = handle_of(sem);
    if (!h) {
        if (!to_glibc(sem))
            return fail(-EINVAL);
        int r = real.destroy(sem);
        if (r == 0 && !shim_glibc_mode())
            priv_remove(sem);
        return r;
    }
    int r = esemi_destroy(h);
    if (r < 0)
        return fail(r);
    ((struct shim_sem *)sem)->magic = 0;
    return 0;
}

sem_t *shim_sem_open(const char *name, int oflag, ...) __attribute__((visibility("default")));
sem_t *shim_sem_open(const char *name, int oflag, ...)
{
    mode_t m = 0;
    unsigned int value = 0;
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        m = (mode_t)va_arg(ap, unsigned int); /* mode_t is promoted */
        value = va_arg(ap, unsigned int);
        va_end(ap);
    }
    if (shim_glibc_mode())
        return real.open(name, oflag, m, value);
    /* glibc's answer for a name longer than NAME_MAX (POSIX: ENAMETOOLONG);
     * programs written against glibc see the same (tests/posix/DEVIATIONS.md) */
    if (name && strlen(name + strspn(name, "/")) > 255) {
        errno = EINVAL;
        return SEM_FAILED;
    }
    esem_t *e = esem_open(name, oflag, m, value);
    if (!e) {
        int r = shim_settle(-errno);
        if (shim_glibc_mode())
            return real.open(name, oflag, m, value);
        errno = -r;
        return SEM_FAILED;
    }
    return (sem_t *)e;
}

int shim_sem_close(sem_t *sem) __attribute__((visibility("default")));
int shim_sem_close(sem_t *sem)
{
    if (shim_glibc_mode())
        return real.close(sem);
    return esem_close((esem_t *)sem);
}

int shim_sem_unlink(const char *name) __attribute__((visibility("default")));
int shim_sem_unlink(const char *name)
{
    if (shim_glibc_mode())
        return real.unlink(name);
    int r = shim_settle(esemi_unlink(name));
    if (r < 0 && shim_glibc_mode())
        return real.unlink(name);
    /* glibc reports every name it cannot use as ENOENT, except one of
     * 252..255 bytes, which is ENAMETOOLONG as in sem_open */
    if (r == -EINVAL || (r == -ENAMETOOLONG && strlen(name + strspn(name, "/")) > 255))
        r = -ENOENT;
    return r < 0 ? fail(r) : 0;
}

int shim_sem_post(sem_t *sem) __attribute__((visibility("default")));
int shim_sem_post(sem_t *sem)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.post(sem) : fail(-EINVAL);
    int saved = errno;
    int r = esemi_post(h);
    if (r < 0)
        return fail(r);
    errno = saved; /* async-signal-safe callers must not see errno move */
    return 0;
}

int shim_sem_wait(sem_t *sem) __attribute__((visibility("default")));
int shim_sem_wait(sem_t *sem)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.wait(sem) : fail(-EINVAL);
    int r = esemi_wait(h, CLOCK_REALTIME, NULL, 1);
    return r < 0 ? fail(r) : 0;
}

int shim_sem_trywait(sem_t *sem) __attribute__((visibility("default")));
int shim_sem_trywait(sem_t *sem)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.trywait(sem) : fail(-EINVAL);
    int r = esemi_trywait(h);
    return r < 0 ? fail(r) : 0;
}

int shim_sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abs) __attribute__((visibility("default")));
int shim_sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abs)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.clockwait(sem, clock, abs) : fail(-EINVAL);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return fail(-EINVAL);
    int r = esemi_wait(h, clock, abs, 0);
    return r < 0 ? fail(r) : 0;
}

int shim_sem_timedwait(sem_t *sem, const struct timespec *abs) __attribute__((visibility("default")));
int shim_sem_timedwait(sem_t *sem, const struct timespec *abs)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.timedwait(sem, abs) : fail(-EINVAL);
    int r = esemi_wait(h, CLOCK_REALTIME, abs, 1);
    return r < 0 ? fail(r) : 0;
}

int shim_sem_getvalue(sem_t *sem, int *sval) __attribute__((visibility("default")));
int shim_sem_getvalue(sem_t *sem, int *sval)
{
    uint64_t h = handle_of(sem);
    if (!h)
        return to_glibc(sem) ? real.getvalue(sem, sval) : fail(-EINVAL);
    int r = esemi_getvalue(h, sval);
    return r < 0 ? fail(r) : 0;
}

/* Each function once more under its GLIBC_2.34 name. */
#define ALIAS34(fn)                                                                               \
    __typeof__(shim_##fn) shim_##fn##_34                                                          \
        __attribute__((alias("shim_" #fn), visibility("default")))
ALIAS34(sem_init);
ALIAS34(sem_destroy);
ALIAS34(sem_open);
ALIAS34(sem_close);
ALIAS34(sem_unlink);
ALIAS34(sem_post);
ALIAS34(sem_wait);
ALIAS34(sem_trywait);
ALIAS34(sem_timedwait);
ALIAS34(sem_clockwait);
ALIAS34(sem_getvalue);

#if defined(__x86_64__)
#define GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define GLIBC_BASE "GLIBC_2.17"
#else
#error "add this architecture's glibc base symbol version"
#endif
VERSIONED(sem_init, GLIBC_BASE);
VERSIONED(sem_destroy, GLIBC_BASE);
VERSIONED(sem_open, GLIBC_BASE);
VERSIONED(sem_close, GLIBC_BASE);
VERSIONED(sem_unlink, GLIBC_BASE);
VERSIONED(sem_post, GLIBC_BASE);
VERSIONED(sem_wait, GLIBC_BASE);
VERSIONED(sem_trywait, GLIBC_BASE);
VERSIONED(sem_timedwait, GLIBC_BASE);
VERSIONED(sem_clockwait, "GLIBC_2.30");
VERSIONED(sem_getvalue, GLIBC_BASE);
