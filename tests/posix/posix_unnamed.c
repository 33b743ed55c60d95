/*
 * Unnamed semaphores: sem_init, sem_destroy, sem_getvalue.
 *
 * pshared=1 follows PostgreSQL: one MAP_SHARED|MAP_ANONYMOUS segment with
 * many sem_t's, all sem_init'ed before fork(), then children post each
 * other's semaphores; after a child crashes the postmaster sem_init's all of
 * them again and goes on.  pshared=0 follows stress-ng: threads of one
 * process hand off through sem_t's.
 */
#include "px.h"

#define NSEMS 130
#define RING_KIDS 5
#define RING_ROUNDS 20

/* ---- PostgreSQL pattern ---- */

struct ring {
    sem_t sem[NSEMS];
};

/* Child `who` owns the semaphores k < NSEMS-1 with k % RING_KIDS == who: on
 * its turn it takes sem[k] and passes the token on to sem[k+1].  The parent
 * starts each round at sem[0] and collects the token at sem[NSEMS-1]. */
struct ring_arg {
    struct ring *r;
    int who;
};

static int ring_member(void *p)
{
    struct ring_arg *a = p;
    for (int round = 0; round < RING_ROUNDS; round++) {
        for (int k = a->who; k < NSEMS - 1; k += RING_KIDS) {
            struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
            PX_CHILD_CHECK(sem_timedwait(&a->r->sem[k], &d) == 0);
            PX_CHILD_CHECK(sem_post(&a->r->sem[k + 1]) == 0);
        }
    }
    return 0;
}

/* Run RING_ROUNDS rounds of the ring with fresh children; 1 if all went well. */
static int run_ring(struct ring *r)
{
    struct ring_arg args[RING_KIDS];
    pid_t kids[RING_KIDS];
    for (int i = 0; i < RING_KIDS; i++) {
        args[i].r = r;
        args[i].who = i;
        kids[i] = px_fork(ring_member, &args[i]);
        if (kids[i] < 0)
            return 0;
    }
    int ok = 1;
    for (int round = 0; round < RING_ROUNDS && ok; round++) {
        if (sem_post(&r->sem[0]) != 0) {
            ok = 0;
            break;
        }
        struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
        if (sem_timedwait(&r->sem[NSEMS - 1], &d) != 0) {
            fprintf(stderr, "ring: round %d: token did not come back: %s\n", round,
                    strerror(errno));
            ok = 0;
        }
    }
    for (int i = 0; i < RING_KIDS; i++)
        ok &= px_reap_ok(kids[i], ok ? 30000 : 1000);
    return ok;
}

static void test_pshared_130_ring(void **state)
{
    (void)state;
    struct ring *r = px_shared(sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_init(&r->sem[i], 1, 0), 0);
    assert_true(run_ring(r));
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(px_getvalue(&r->sem[i]), 0);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_destroy(&r->sem[i]), 0);
    munmap(r, sizeof *r);
}

/* A child dies holding a permit and another dies blocked in a wait; the
 * parent re-initialises every semaphore in the segment and the next
 * generation of children works as before. */
static int crash_holder(void *p)
{
    struct ring *r = p;
    PX_CHILD_CHECK(sem_trywait(&r->sem[3]) == 0);
    for (;;)
        pause();
}

static int crash_waiter(void *p)
{
    struct ring *r = p;
    sem_wait(&r->sem[7]);
    return 1; /* nobody posts sem[7] */
}

static void test_pshared_reinit_after_crash(void **state)
{
    (void)state;
    struct ring *r = px_shared(sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_init(&r->sem[i], 1, i == 3 ? 1 : 0), 0);
    /* a first generation runs fine */
    assert_true(run_ring(r));
    assert_int_equal(sem_post(&r->sem[3]), 0);
    assert_int_equal(px_getvalue(&r->sem[3]), 2);
    pid_t h = px_fork(crash_holder, r);
    pid_t w = px_fork(crash_waiter, r);
    assert_true(h > 0 && w > 0);
    /* the holder took its permit, the waiter is surely blocked */
    for (int i = 0; i < 5000 && px_getvalue(&r->sem[3]) != 1; i++)
        px_sleep_ms(1);
    assert_int_equal(px_getvalue(&r->sem[3]), 1);
    px_sleep_ms(PX_SETTLE_MS);
    /* simulated crash */
    kill(h, SIGKILL);
    kill(w, SIGKILL);
    int sh = px_reap(h, 10000), sw = px_reap(w, 10000);
    assert_true(sh >= 0 && WIFSIGNALED(sh) && WTERMSIG(sh) == SIGKILL);
    assert_true(sw >= 0 && WIFSIGNALED(sw) && WTERMSIG(sw) == SIGKILL);
    /* the postmaster re-initialises them all, over the old ones */
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_init(&r->sem[i], 1, 0), 0);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(px_getvalue(&r->sem[i]), 0);
    assert_true(run_ring(r));
    /* and the re-initialised ones really are independent semaphores */
    assert_int_equal(sem_post(&r->sem[7]), 0);
    assert_int_equal(px_getvalue(&r->sem[7]), 1);
    assert_int_equal(px_getvalue(&r->sem[3]), 0);
    assert_int_equal(sem_trywait(&r->sem[7]), 0);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_destroy(&r->sem[i]), 0);
    munmap(r, sizeof *r);
}

/* A child's post is the parent's permit, and back. */
static int post_child(void *p)
{
    sem_t *s = p;
    PX_CHILD_CHECK(sem_post(&s[0]) == 0);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    PX_CHILD_CHECK(sem_timedwait(&s[1], &d) == 0);
    PX_CHILD_CHECK(px_getvalue(&s[1]) == 0);
    return 0;
}

static void test_pshared_child_and_parent(void **state)
{
    (void)state;
    sem_t *s = px_shared(2 * sizeof *s);
    assert_non_null(s);
    assert_int_equal(sem_init(&s[0], 1, 0), 0);
    assert_int_equal(sem_init(&s[1], 1, 0), 0);
    pid_t c = px_fork(post_child, s);
    assert_true(c > 0);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    assert_int_equal(sem_timedwait(&s[0], &d), 0);
    assert_int_equal(sem_post(&s[1]), 0);
    assert_true(px_reap_ok(c, 30000));
    assert_int_equal(px_getvalue(&s[0]), 0);
    assert_int_equal(px_getvalue(&s[1]), 0);
    assert_int_equal(sem_destroy(&s[0]), 0);
    assert_int_equal(sem_destroy(&s[1]), 0);
    munmap(s, 2 * sizeof *s);
}

/* ---- sem_init, sem_getvalue, sem_destroy ---- */

static void test_getvalue_tracks_value(void **state)
{
    (void)state;
    for (int pshared = 0; pshared <= 1; pshared++) {
        sem_t *s = px_shared(sizeof *s);
        assert_non_null(s);
        assert_int_equal(sem_init(s, pshared, 3), 0);
        int v = -1;
        assert_int_equal(sem_getvalue(s, &v), 0);
        assert_int_equal(v, 3);
        assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(px_getvalue(s), 2);
        assert_int_equal(sem_post(s), 0);
        assert_int_equal(sem_post(s), 0);
        assert_int_equal(px_getvalue(s), 4);
        for (int i = 0; i < 4; i++)
            assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(px_getvalue(s), 0);
        assert_int_equal(sem_destroy(s), 0);
        munmap(s, sizeof *s);
    }
}

static void test_init_value_too_big_einval(void **state)
{
    (void)state;
    for (int pshared = 0; pshared <= 1; pshared++) {
        sem_t *s = px_shared(sizeof *s);
        assert_non_null(s);
        errno = 0;
        assert_int_equal(sem_init(s, pshared, (unsigned)SEM_VALUE_MAX + 1u), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(sem_init(s, pshared, (unsigned)SEM_VALUE_MAX), 0);
        assert_int_equal(px_getvalue(s), SEM_VALUE_MAX);
        assert_int_equal(sem_destroy(s), 0);
        munmap(s, sizeof *s);
    }
}

static void test_destroy_then_init_again(void **state)
{
    (void)state;
    for (int pshared = 0; pshared <= 1; pshared++) {
        sem_t *s = px_shared(sizeof *s);
        assert_non_null(s);
        assert_int_equal(sem_init(s, pshared, 1), 0);
        assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(sem_destroy(s), 0);
        assert_int_equal(sem_init(s, pshared, 2), 0);
        assert_int_equal(px_getvalue(s), 2);
        assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(sem_trywait(s), 0);
        errno = 0;
        assert_int_equal(sem_trywait(s), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(sem_destroy(s), 0);
        munmap(s, sizeof *s);
    }
}

/* Many unnamed semaphores at once, each its own. */
static void test_many_independent(void **state)
{
    (void)state;
    sem_t *s = px_shared(NSEMS * sizeof *s);
    assert_non_null(s);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_init(&s[i], 1, (unsigned)i), 0);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(px_getvalue(&s[i]), i);
    for (int i = 0; i < NSEMS; i += 2)
        assert_int_equal(sem_post(&s[i]), 0);
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(px_getvalue(&s[i]), i + (i % 2 == 0));
    for (int i = 0; i < NSEMS; i++)
        assert_int_equal(sem_destroy(&s[i]), 0);
    munmap(s, NSEMS * sizeof *s);
}

/* ---- stress-ng pattern: threads of one process (pshared=0) ---- */

#define T_RING 4
#define T_ROUNDS 2000

struct tring {
    sem_t sem[T_RING];
    atomic_int errors;
};

struct tring_arg {
    struct tring *r;
    int who;
};

static void *tring_member(void *p)
{
    struct tring_arg *a = p;
    sem_t *mine = &a->r->sem[a->who], *next = &a->r->sem[(a->who + 1) % T_RING];
    for (int i = 0; i < T_ROUNDS; i++) {
        struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
        if (sem_timedwait(mine, &d) != 0 || sem_post(next) != 0) {
            atomic_fetch_add(&a->r->errors, 1);
            break;
        }
    }
    return NULL;
}

static void test_private_thread_ring(void **state)
{
    (void)state;
    struct tring *r = calloc(1, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < T_RING; i++)
        assert_int_equal(sem_init(&r->sem[i], 0, i == 0), 0);
    struct px_thread t[T_RING];
    struct tring_arg a[T_RING];
    for (int i = 0; i < T_RING; i++) {
        a[i].r = r;
        a[i].who = i;
        assert_int_equal(px_thread_start(&t[i], tring_member, &a[i]), 0);
    }
    for (int i = 0; i < T_RING; i++)
        assert_int_equal(px_thread_join(&t[i], 60000, NULL), 0);
    assert_int_equal(atomic_load(&r->errors), 0);
    /* the token is back at the start */
    assert_int_equal(px_getvalue(&r->sem[0]), 1);
    for (int i = 1; i < T_RING; i++)
        assert_int_equal(px_getvalue(&r->sem[i]), 0);
    for (int i = 0; i < T_RING; i++)
        assert_int_equal(sem_destroy(&r->sem[i]), 0);
    free(r);
}

/* The semaphore as a mutex between threads (stress-ng --sem). */
#define M_THREADS 4
#define M_ITER 5000

struct tmutex {
    sem_t s;
    long count;
    atomic_int inside, overlap, errors;
};

static void *tmutex_member(void *p)
{
    struct tmutex *m = p;
    for (int i = 0; i < M_ITER; i++) {
        if (sem_wait(&m->s) != 0) {
            atomic_fetch_add(&m->errors, 1);
            break;
        }
        if (atomic_exchange(&m->inside, 1))
            atomic_fetch_add(&m->overlap, 1);
        m->count++;
        atomic_store(&m->inside, 0);
        if (sem_post(&m->s) != 0) {
            atomic_fetch_add(&m->errors, 1);
            break;
        }
    }
    return NULL;
}

static void test_private_thread_mutex(void **state)
{
    (void)state;
    struct tmutex *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(sem_init(&m->s, 0, 1), 0);
    struct px_thread t[M_THREADS];
    for (int i = 0; i < M_THREADS; i++)
        assert_int_equal(px_thread_start(&t[i], tmutex_member, m), 0);
    for (int i = 0; i < M_THREADS; i++)
        assert_int_equal(px_thread_join(&t[i], 60000, NULL), 0);
    assert_int_equal(atomic_load(&m->errors), 0);
    assert_int_equal(atomic_load(&m->overlap), 0);
    assert_int_equal(m->count, (long)M_THREADS * M_ITER);
    assert_int_equal(px_getvalue(&m->s), 1);
    assert_int_equal(sem_destroy(&m->s), 0);
    free(m);
}

/* Many threads at once, each blocked on its own semaphore in a ring (a pool
 * of idle workers, each with its own wake-up semaphore): the token must go
 * round, however many threads there are. */
#define BIG_RING 300
#define BIG_ROUNDS 3

struct bigring {
    sem_t sem[BIG_RING];
    atomic_int errors, passes;
};

struct bigring_arg {
    struct bigring *r;
    int who;
};

static void *bigring_member(void *p)
{
    struct bigring_arg *a = p;
    sem_t *mine = &a->r->sem[a->who], *next = &a->r->sem[(a->who + 1) % BIG_RING];
    for (int i = 0; i < BIG_ROUNDS; i++) {
        struct timespec d = px_deadline(CLOCK_REALTIME, 20000);
        if (sem_timedwait(mine, &d) != 0 || sem_post(next) != 0) {
            atomic_fetch_add(&a->r->errors, 1);
            break;
        }
        atomic_fetch_add(&a->r->passes, 1);
    }
    return NULL;
}

static void test_private_ring_of_300_threads(void **state)
{
    (void)state;
    struct bigring *r = calloc(1, sizeof *r);
    struct bigring_arg *a = calloc(BIG_RING, sizeof *a);
    struct px_thread *t = calloc(BIG_RING, sizeof *t);
    assert_true(r && a && t);
    for (int i = 0; i < BIG_RING; i++)
        assert_int_equal(sem_init(&r->sem[i], 0, 0), 0);
    for (int i = 0; i < BIG_RING; i++) {
        a[i].r = r;
        a[i].who = i;
        assert_int_equal(px_thread_start(&t[i], bigring_member, &a[i]), 0);
    }
    px_sleep_ms(PX_SETTLE_MS); /* all idle, each on its own semaphore */
    assert_int_equal(sem_post(&r->sem[0]), 0);
    int joined = 1;
    for (int i = 0; i < BIG_RING; i++)
        joined &= px_thread_join(&t[i], i == 0 ? 40000 : 2000, NULL) == 0;
    if (!joined)
        fail_msg("the token got stuck after %d of %d passes (errors %d)",
                 atomic_load(&r->passes), BIG_RING * BIG_ROUNDS, atomic_load(&r->errors));
    assert_int_equal(atomic_load(&r->errors), 0);
    assert_int_equal(atomic_load(&r->passes), BIG_RING * BIG_ROUNDS);
    /* the token is back at the start */
    assert_int_equal(px_getvalue(&r->sem[0]), 1);
    for (int i = 0; i < BIG_RING; i++)
        assert_int_equal(sem_destroy(&r->sem[i]), 0);
    free(r);
    free(a);
    free(t);
}

/* Many threads blocked on one semaphore; a thread that never used a
 * semaphore before posts them all free. */
#define CROWD 300

static void *crowd_waiter(void *p)
{
    struct timespec d = px_deadline(CLOCK_REALTIME, 30000);
    return (void *)(intptr_t)sem_timedwait((sem_t *)p, &d);
}

static void *crowd_poster(void *p)
{
    for (int i = 0; i < CROWD; i++)
        if (sem_post((sem_t *)p) != 0)
            return (void *)1;
    return NULL;
}

static void test_private_300_waiters_new_poster(void **state)
{
    (void)state;
    sem_t *s = calloc(1, sizeof *s);
    struct px_thread *t = calloc(CROWD, sizeof *t);
    assert_true(s && t);
    assert_int_equal(sem_init(s, 0, 0), 0);
    for (int i = 0; i < CROWD; i++)
        assert_int_equal(px_thread_start(&t[i], crowd_waiter, s), 0);
    px_sleep_ms(PX_SETTLE_MS);
    struct px_thread poster;
    assert_int_equal(px_thread_start(&poster, crowd_poster, s), 0);
    void *pr = (void *)2;
    assert_int_equal(px_thread_join(&poster, 30000, &pr), 0);
    assert_null(pr);
    int bad = 0;
    for (int i = 0; i < CROWD; i++) {
        void *r = (void *)1;
        if (px_thread_join(&t[i], 35000, &r) != 0 || r != NULL)
            bad++;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(px_getvalue(s), 0);
    assert_int_equal(sem_destroy(s), 0);
    free(s);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(test_pshared_130_ring),
        PX_TEST(test_pshared_reinit_after_crash),
        PX_TEST(test_pshared_child_and_parent),
        PX_TEST(test_getvalue_tracks_value),
        PX_TEST(test_init_value_too_big_einval),
        PX_TEST(test_destroy_then_init_again),
        PX_TEST(test_many_independent),
        PX_TEST(test_private_thread_ring),
        PX_TEST(test_private_thread_mutex),
        PX_TEST(test_private_ring_of_300_threads),
        PX_TEST(test_private_300_waiters_new_poster),
    };
    return PX_MAIN(tests);
}
