/*
 * libesem's public API (esem.h): esem_t objects on top of core handles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "client.h"

#define EXPORT __attribute__((visibility("default")))

/* Every esem_t of this process, so that opening one semaphore twice gives
 * the same pointer, as POSIX wants of sem_open. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct esem *reg_list;

static int fail(int neg_err)
{
    errno = -neg_err;
    return -1;
}

static int valid(const esem_t *sem)
{
    return sem && sem->magic == ESEM_MAGIC && sem->tag == esemi_tag(sem->handle);
}

static esem_t *registry_add(uint64_t handle, int anon)
{
    pthread_mutex_lock(&reg_mu);
    for (esem_t *e = reg_list; e; e = e->next) {
        if (e->handle == handle) {
            e->refs++;
            pthread_mutex_unlock(&reg_mu);
            return e;
        }
    }
    esem_t *e = calloc(1, sizeof *e);
    if (e) {
        e->magic = ESEM_MAGIC;
        e->refs = 1;
        e->handle = handle;
        e->tag = esemi_tag(handle);
        e->anon = anon;
        e->next = reg_list;
        reg_list = e;
    }
    pthread_mutex_unlock(&reg_mu);
    return e;
}

/* Is sem one of ours?  A pointer that merely carries the magic (memory a
 * caller forged) must never reach free(). */
static int registered(const esem_t *sem)
{
    pthread_mutex_lock(&reg_mu);
    const esem_t *e = reg_list;
    while (e && e != sem)
        e = e->next;
    pthread_mutex_unlock(&reg_mu);
    return e != NULL;
}

/* Drop n references; frees the object at zero. */
static void registry_drop(esem_t *sem, uint32_t n)
{
    pthread_mutex_lock(&reg_mu);
    if (sem->refs > n) {
        sem->refs -= n;
    } else {
        for (esem_t **pp = &reg_list; *pp; pp = &(*pp)->next) {
            if (*pp == sem) {
                *pp = sem->next;
                break;
            }
        }
        sem->magic = 0;
        free(sem);
    }
    pthread_mutex_unlock(&reg_mu);
}

EXPORT esem_t *esem_open(const char *name, int oflag, mode_t mode, unsigned int value)
{
    uint64_t h;
    int r = esemi_open(name, oflag, mode, value, &h);
    if (r < 0) {
        fail(r);
        return NULL;
    }
    esem_t *e = registry_add(h, 0);
    if (!e) {
        esemi_close(h);
        errno = ENOMEM;
    }
    return e;
}

EXPORT int esem_close(esem_t *sem)
{
    if (!valid(sem) || sem->anon || !registered(sem))
        return fail(-EINVAL);
    int r = esemi_close(sem->handle);
    if (r < 0)
        return fail(r);
    registry_drop(sem, 1);
    return 0;
}

EXPORT int esem_unlink(const char *name)
{
    int r = esemi_unlink(name);
    return r < 0 ? fail(r) : 0;
}

EXPORT esem_t *esem_create(unsigned int value)
{
    uint64_t h;
    int r = esemi_create(value, &h);
    if (r < 0) {
        fail(r);
        return NULL;
    }
    esem_t *e = registry_add(h, 1);
    if (!e) {
        esemi_destroy(h);
        errno = ENOMEM;
    }
    return e;
}

EXPORT int esem_destroy(esem_t *sem)
{
    if (!valid(sem) || !sem->anon || !registered(sem))
        return fail(-EINVAL);
    int r = esemi_destroy(sem->handle);
    if (r < 0)
        return fail(r);
    registry_drop(sem, sem->refs);
    return 0;
}

EXPORT int esem_post(esem_t *sem)
{
    if (!valid(sem))
        return fail(-EINVAL);
    int saved = errno;
    int r = esemi_post(sem->handle);
    if (r < 0)
        return fail(r);
    errno = saved; /* a signal handler must not see errno change on success */
    return 0;
}

EXPORT int esem_wait(esem_t *sem)
{
    if (!valid(sem))
        return fail(-EINVAL);
    int r = esemi_wait(sem->handle, CLOCK_REALTIME, NULL, 1);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_trywait(esem_t *sem)
{
    if (!valid(sem))
        return fail(-EINVAL);
    int r = esemi_trywait(sem->handle);
    return r < 0 ? fail(r) : 0;
}

static int timed(esem_t *sem, clockid_t clock, const struct timespec *abs, int cancel_at_entry)
{
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return fail(-EINVAL);
    if (!valid(sem) || !abs)
        return fail(-EINVAL);
    int r = esemi_wait(sem->handle, clock, abs, cancel_at_entry);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_clockwait(esem_t *sem, clockid_t clock, const struct timespec *abs)
{
    return timed(sem, clock, abs, 0);
}

EXPORT int esem_timedwait(esem_t *sem, const struct timespec *abs)
{
    return timed(sem, CLOCK_REALTIME, abs, 1);
}

EXPORT int esem_getvalue(esem_t *sem, int *sval)
{
    if (!valid(sem) || !sval)
        return fail(-EINVAL);
    int r = esemi_getvalue(sem->handle, sval);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_grant(esem_t *sem, const struct esem_principal *who, unsigned rights)
{
    if (!valid(sem) || !who)
        return fail(-EINVAL);
    int r = esemi_grant(sem->handle, (uint32_t)who->kind, who->id, who->key_id, rights);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_revoke(esem_t *sem, const struct esem_principal *who, unsigned rights)
{
    if (!valid(sem) || !who)
        return fail(-EINVAL);
    int r = esemi_revoke(sem->handle, (uint32_t)who->kind, who->id, who->key_id, rights);
    return r < 0 ? fail(r) : 0;
}

EXPORT int esem_set_key(const unsigned char key[32])
{
    if (!key)
        return fail(-EINVAL);
    int r = esemi_set_key(key);
    return r < 0 ? fail(r) : 0;
}

EXPORT uint64_t esem_key_id(const unsigned char key[32])
{
    return key ? esemi_key_id(key) : 0;
}

EXPORT int esem_read_key(const char *path, unsigned char key[32])
{
    if (!path || !key)
        return fail(-EINVAL);
    int r = esemi_read_key_file(path, key);
    return r < 0 ? fail(r) : 0;
}
