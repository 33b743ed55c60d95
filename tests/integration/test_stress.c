/*
 * Load: many processes and threads hammer a few semaphores with every kind
 * of wait.  Checked invariants, not speed:
 *   - permits are conserved: for each semaphore,
 *       permits acquired - permits released == initial value - final value;
 *   - a semaphore of value 1 used as a mutex never has two holders;
 *   - every call returns 0 or an errno its kind of call may return.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "esem.h"

enum { NSEM = 4, MUTEX = 0, NPROC = 8, NTHR = 4, RUN_MS = 3000 };

static const unsigned initial[NSEM] = {1, 3, 2, 5};

struct shared {
    _Atomic long acquired[NSEM], released[NSEM];
    _Atomic int holders, max_holders;
    _Atomic int stop;
    _Atomic long bad_errno, last_bad_errno;
    _Atomic long ops, timeouts;
};

struct world {
    esem_t *sem[NSEM];
    char name[2][64]; /* sem[0] and sem[1] are named, the others anonymous */
    struct shared *sh;
};

static void bad(struct shared *sh, int err)
{
    atomic_fetch_add(&sh->bad_errno, 1);
    atomic_store(&sh->last_bad_errno, err);
}

/* Take a permit of sem i by method m; 1 if taken. */
static int acquire(struct world *w, int i, unsigned m, unsigned *seed, int may_block)
{
    esem_t *s = w->sem[i];
    int r;
    if (m == 1 && !may_block)
        m = 0;
    switch (m) {
    case 0:
        r = esem_trywait(s);
        if (r < 0 && errno != EAGAIN)
            bad(w->sh, errno);
        break;
    case 1:
        r = esem_wait(s);
        if (r < 0)
            bad(w->sh, errno);
        break;
    default: {
        struct timespec dl = hx_deadline(CLOCK_REALTIME, 0);
        dl.tv_nsec += (long)(rand_r(seed) % 2000) * 1000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        r = (m == 2) ? esem_timedwait(s, &dl) : esem_clockwait(s, CLOCK_REALTIME, &dl);
        if (r < 0 && errno == ETIMEDOUT)
            atomic_fetch_add(&w->sh->timeouts, 1);
        else if (r < 0)
            bad(w->sh, errno);
        break;
    }
    }
    atomic_fetch_add(&w->sh->ops, 1);
    if (r == 0)
        atomic_fetch_add(&w->sh->acquired[i], 1);
    return r == 0;
}

static void release(struct world *w, int i)
{
    if (esem_post(w->sem[i]) == 0)
        atomic_fetch_add(&w->sh->released[i], 1);
    else
        bad(w->sh, errno);
    atomic_fetch_add(&w->sh->ops, 1);
}

struct worker_arg {
    struct world *w;
    unsigned seed;
};

static void *worker(void *arg)
{
    struct worker_arg *a = arg;
    struct world *w = a->w;
    struct shared *sh = w->sh;
    unsigned seed = a->seed;
    int held[NSEM] = {0}, nheld = 0;
    while (!atomic_load(&sh->stop)) {
        int i = rand_r(&seed) % NSEM;
        unsigned m = (unsigned)rand_r(&seed) % 4;
        if (i == MUTEX) {
            /* The holder never blocks inside, so blocking for it is safe. */
            if (!acquire(w, i, m, &seed, 1))
                continue;
            int h = atomic_fetch_add(&sh->holders, 1) + 1;
            int mx = atomic_load(&sh->max_holders);
            while (h > mx && !atomic_compare_exchange_weak(&sh->max_holders, &mx, h))
                ;
            for (volatile int k = 0; k < 50; k++)
                ;
            atomic_fetch_sub(&sh->holders, 1);
            release(w, i);
            continue;
        }
        if (held[i] < 2 && rand_r(&seed) % 2) {
            /* Block only while holding nothing: no hold-and-wait cycle. */
            if (acquire(w, i, m, &seed, nheld == 0)) {
                held[i]++;
                nheld++;
            }
        } else if (held[i] > 0) {
            release(w, i);
            held[i]--;
            nheld--;
        }
        /* Now and then mint a permit or consume one for good, so that the
         * value wanders instead of only growing or only draining. */
        unsigned r = (unsigned)rand_r(&seed) % 64;
        if (r == 0)
            release(w, i);
        else if (r == 1)
            acquire(w, i, m == 1 ? 0 : m, &seed, 0);
    }
    for (int i = 0; i < NSEM; i++)
        while (held[i]-- > 0)
            release(w, i);
    return NULL;
}

static int run_threads(struct world *w, int n, unsigned seed)
{
    pthread_t th[16];
    struct worker_arg a[16];
    for (int t = 0; t < n; t++) {
        a[t].w = w;
        a[t].seed = seed + (unsigned)t * 7919u;
        if (pthread_create(&th[t], NULL, worker, &a[t]) != 0)
            return -1;
    }
    for (int t = 0; t < n; t++)
        pthread_join(th[t], NULL);
    return 0;
}

static int stress_process(void *arg)
{
    struct world *w = arg;
    return run_threads(w, NTHR, (unsigned)getpid()) == 0 ? 0 : 1;
}

static void world_open(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->sh = hx_shared(sizeof *w->sh);
    assert_non_null(w->sh);
    hx_name(w->name[0], sizeof w->name[0], "stress-mutex");
    hx_name(w->name[1], sizeof w->name[1], "stress-pool");
    for (int i = 0; i < 2; i++) {
        w->sem[i] = esem_open(w->name[i], O_CREAT | O_EXCL, 0600, initial[i]);
        assert_non_null(w->sem[i]);
    }
    for (int i = 2; i < NSEM; i++) {
        w->sem[i] = esem_create(initial[i]);
        assert_non_null(w->sem[i]);
    }
}

static void world_check_and_close(struct world *w)
{
    struct shared *sh = w->sh;
    print_message("stress: %ld operations, %ld timeouts\n", atomic_load(&sh->ops),
                  atomic_load(&sh->timeouts));
    if (atomic_load(&sh->bad_errno))
        fail_msg("%ld calls failed with an unexpected errno (last: %s)",
                 atomic_load(&sh->bad_errno), strerror((int)atomic_load(&sh->last_bad_errno)));
    assert_int_equal(atomic_load(&sh->max_holders), 1);
    for (int i = 0; i < NSEM; i++) {
        int v = -1;
        assert_int_equal(esem_getvalue(w->sem[i], &v), 0);
        long acq = atomic_load(&sh->acquired[i]), rel = atomic_load(&sh->released[i]);
        print_message("  sem %d: initial %u, acquired %ld, released %ld, final %d\n", i,
                      initial[i], acq, rel, v);
        assert_true(acq > 0);
        assert_int_equal(acq - rel, (long)initial[i] - v);
    }
    for (int i = 0; i < 2; i++) {
        assert_true(hx_wait_nwaiters(w->name[i], 0, 10000));
        assert_int_equal(esem_close(w->sem[i]), 0);
        assert_int_equal(esem_unlink(w->name[i]), 0);
    }
    for (int i = 2; i < NSEM; i++)
        assert_int_equal(esem_destroy(w->sem[i]), 0);
    hx_shared_free(sh, sizeof *sh);
}

static void processes_and_threads_conserve_permits(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    pid_t kids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        kids[p] = hx_fork(stress_process, &w);
        assert_true(kids[p] > 0);
    }
    hx_sleep_ms(RUN_MS);
    atomic_store(&w.sh->stop, 1);
    for (int p = 0; p < NPROC; p++)
        hx_assert_child_ok(kids[p], 30000);
    world_check_and_close(&w);
}

static void threads_of_one_process_conserve_permits(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    /* 16 threads, stopped by the main thread after RUN_MS. */
    pthread_t th[16];
    struct worker_arg a[16];
    for (int t = 0; t < 16; t++) {
        a[t].w = &w;
        a[t].seed = 4242u + (unsigned)t * 31u;
        assert_int_equal(pthread_create(&th[t], NULL, worker, &a[t]), 0);
    }
    hx_sleep_ms(RUN_MS);
    atomic_store(&w.sh->stop, 1);
    for (int t = 0; t < 16; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    world_check_and_close(&w);
}

/* ---- many short-lived client processes ---- */

struct churn_arg {
    esem_t *inherited;
    const char *name;
};

static int churn_child(void *arg)
{
    struct churn_arg *c = arg;
    HX_CHECK(esem_post(c->inherited) == 0);
    esem_t *s = esem_open(c->name, 0, 0, 0);
    HX_CHECK(s == c->inherited);
    HX_CHECK(esem_wait(s) == 0);
    HX_CHECK(esem_close(s) == 0);
    return 0;
}

static void short_lived_processes_come_and_go(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "churn");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    struct churn_arg c = {.inherited = s, .name = name};
    enum { LIVE = 8, TOTAL = 400 };
    pid_t kids[LIVE] = {0};
    int started = 0, failed = 0;
    while (started < TOTAL) {
        for (int k = 0; k < LIVE && started < TOTAL; k++) {
            if (kids[k]) {
                int st;
                pid_t r = waitpid(kids[k], &st, WNOHANG);
                if (r == 0)
                    continue;
                if (r != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    fprintf(stderr, "churn child %d: %s\n", (int)kids[k], hx_status_str(st));
                    failed++;
                }
            }
            kids[k] = hx_fork(churn_child, &c);
            assert_true(kids[k] > 0);
            started++;
        }
    }
    for (int k = 0; k < LIVE; k++) {
        int st = hx_reap(kids[k], 30000);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "churn child %d: %s\n", (int)kids[k], hx_status_str(st));
            failed++;
        }
    }
    assert_int_equal(failed, 0);
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    assert_int_equal(v, 0);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.nwaiters, 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- threads ---- */

static void *post_once(void *arg)
{
    return (void *)(intptr_t)esem_post(arg);
}

/* Far more threads over time than the channel has slots: an exiting
 * thread gives its slot back. */
static void short_lived_threads_come_and_go(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    for (int i = 0; i < 400; i++) {
        pthread_t t;
        void *rc;
        assert_int_equal(pthread_create(&t, NULL, post_once, s), 0);
        assert_int_equal(pthread_join(t, &rc), 0);
        assert_int_equal((intptr_t)rc, 0);
    }
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    assert_int_equal(v, 400);
    assert_int_equal(esem_destroy(s), 0);
}


enum { MANY = 160 }; /* more than ESEM_NSLOTS (128) */

struct crowd {
    esem_t *sem;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int posted, may_exit, failed;
};

static void *crowd_member(void *arg)
{
    struct crowd *c = arg;
    int r = esem_post(c->sem);
    pthread_mutex_lock(&c->mu);
    if (r != 0)
        c->failed++;
    c->posted++;
    pthread_cond_broadcast(&c->cv);
    /* Stay alive, idle, like the threads of a pool between jobs. */
    while (!c->may_exit)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* A process may have more live threads than its channel has slots; each
 * thread's call must still complete (a slot in use by an idle thread cannot
 * be what another thread waits for). */
static void more_threads_than_channel_slots(void **state)
{
    (void)state;
    struct crowd c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    c.sem = esem_create(0);
    assert_non_null(c.sem);
    pthread_t th[MANY];
    for (int i = 0; i < MANY; i++)
        assert_int_equal(pthread_create(&th[i], NULL, crowd_member, &c), 0);

    struct timespec dl = hx_deadline(CLOCK_REALTIME, 10000);
    pthread_mutex_lock(&c.mu);
    while (c.posted < MANY && pthread_cond_timedwait(&c.cv, &c.mu, &dl) == 0)
        ;
    int posted_while_all_alive = c.posted;
    /* Let them go; exiting threads give their slots back, which also
     * releases any thread stuck without one, so that all can be joined. */
    c.may_exit = 1;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    for (int i = 0; i < MANY; i++) {
        struct timespec jl = hx_deadline(CLOCK_REALTIME, 20000);
        assert_int_equal(pthread_timedjoin_np(th[i], NULL, &jl), 0);
    }
    assert_int_equal(c.failed, 0);
    int v = -1;
    assert_int_equal(esem_getvalue(c.sem, &v), 0);
    assert_int_equal(v, MANY);
    assert_int_equal(esem_destroy(c.sem), 0);
    assert_int_equal(posted_while_all_alive, MANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(processes_and_threads_conserve_permits),
        HX_TEST(threads_of_one_process_conserve_permits),
        HX_TEST(short_lived_processes_come_and_go),
        HX_TEST(short_lived_threads_come_and_go),
        HX_TEST(more_threads_than_channel_slots),
    };
    return HX_RUN_GROUP(tests);
}
