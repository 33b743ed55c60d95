/*
 * Thread cancellation: sem_wait, sem_timedwait (and glibc's sem_clockwait)
 * are cancellation points; a cancelled waiter leaves no ghost behind; a
 * cancel pending at entry acts; sem_open, sem_unlink, sem_post and the
 * other sem_* calls are not cancellation points.
 */
#include "px.h"

static sem_t *new_sem(unsigned value)
{
    sem_t *s = px_shared(sizeof *s);
    if (s && sem_init(s, 0, value) != 0) {
        munmap(s, sizeof *s);
        return NULL;
    }
    return s;
}

static void free_sem(sem_t *s)
{
    sem_destroy(s);
    munmap(s, sizeof *s);
}

enum { K_WAIT, K_TIMED, K_CLOCK_RT, K_CLOCK_MONO, K_NKINDS };
static const char *const kind_name[] = {"sem_wait", "sem_timedwait", "sem_clockwait(REALTIME)",
                                        "sem_clockwait(MONOTONIC)"};

PX_CANCEL_FRAME static int do_wait(sem_t *s, int kind)
{
    struct timespec d;
    switch (kind) {
    case K_WAIT:
        return sem_wait(s);
    case K_TIMED:
        d = px_deadline(CLOCK_REALTIME, 30000);
        return sem_timedwait(s, &d);
    case K_CLOCK_RT:
        d = px_deadline(CLOCK_REALTIME, 30000);
        return sem_clockwait(s, CLOCK_REALTIME, &d);
    default:
        d = px_deadline(CLOCK_MONOTONIC, 30000);
        return sem_clockwait(s, CLOCK_MONOTONIC, &d);
    }
}

struct cw {
    sem_t *s;
    int kind;
    atomic_int cleanup_ran;
    atomic_int returned; /* the wait returned */
    atomic_int took;     /* ... with success */
};

static void cw_cleanup(void *p) { atomic_store(&((struct cw *)p)->cleanup_ran, 1); }

PX_CANCEL_FRAME static void *cw_main(void *p)
{
    struct cw *c = p;
    pthread_cleanup_push(cw_cleanup, c);
    int r = do_wait(c->s, c->kind);
    atomic_store(&c->took, r == 0);
    atomic_store(&c->returned, 1);
    pthread_cleanup_pop(0);
    return NULL;
}

/* Cancel a thread blocked in a wait: it ends as PTHREAD_CANCELED after its
 * cleanup handler ran, and a later post is not swallowed by a ghost. */
static void cancel_blocked(int kind)
{
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct cw *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->s = s;
    c->kind = kind;
    struct px_thread t;
    assert_int_equal(px_thread_start(&t, cw_main, c), 0);
    px_sleep_ms(PX_SETTLE_MS);
    assert_int_equal(pthread_cancel(t.t), 0);
    void *ret = NULL;
    if (px_thread_join(&t, 5000, &ret) != 0) {
        sem_post(s);
        fail_msg("%s was not cancelled", kind_name[kind]);
    }
    assert_ptr_equal(ret, PTHREAD_CANCELED);
    assert_int_equal(atomic_load(&c->cleanup_ran), 1);
    assert_int_equal(atomic_load(&c->returned), 0);
    assert_int_equal(px_getvalue(s), 0);
    /* no ghost: the post raises the value */
    assert_int_equal(sem_post(s), 0);
    assert_int_equal(px_getvalue(s), 1);
    assert_int_equal(sem_trywait(s), 0);
    free_sem(s);
    free(c);
}

static void test_cancel_blocked_sem_wait(void **state)
{
    (void)state;
    cancel_blocked(K_WAIT);
}

static void test_cancel_blocked_sem_timedwait(void **state)
{
    (void)state;
    cancel_blocked(K_TIMED);
}

static void test_cancel_blocked_sem_clockwait_realtime(void **state)
{
    (void)state;
    cancel_blocked(K_CLOCK_RT);
}

static void test_cancel_blocked_sem_clockwait_monotonic(void **state)
{
    (void)state;
    cancel_blocked(K_CLOCK_MONO);
}

/* Two waiters, one cancelled: the first post goes to the survivor. */
static void test_cancel_one_of_two_waiters(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct cw *c = calloc(2, sizeof *c);
    assert_non_null(c);
    struct px_thread t[2];
    for (int i = 0; i < 2; i++) {
        c[i].s = s;
        c[i].kind = K_WAIT;
        assert_int_equal(px_thread_start(&t[i], cw_main, &c[i]), 0);
        px_sleep_ms(PX_SETTLE_MS / 2); /* t[0] queues first */
    }
    px_sleep_ms(PX_SETTLE_MS);
    assert_int_equal(pthread_cancel(t[0].t), 0);
    void *ret = NULL;
    if (px_thread_join(&t[0], 5000, &ret) != 0) {
        sem_post(s);
        sem_post(s);
        fail_msg("sem_wait was not cancelled");
    }
    assert_ptr_equal(ret, PTHREAD_CANCELED);
    assert_int_equal(sem_post(s), 0);
    ret = PTHREAD_CANCELED;
    if (px_thread_join(&t[1], 5000, &ret) != 0) {
        sem_post(s);
        fail_msg("the surviving waiter did not get the post");
    }
    assert_null(ret);
    assert_int_equal(atomic_load(&c[1].returned), 1);
    assert_int_equal(px_getvalue(s), 0);
    assert_int_equal(sem_post(s), 0);
    assert_int_equal(px_getvalue(s), 1);
    free_sem(s);
    free(c);
}

/* ---- a cancel pending at entry ---- */

struct pend {
    sem_t *s;
    sem_t *go;
    int kind;
    atomic_int reached, returned;
};

PX_CANCEL_FRAME static void *pend_main(void *p)
{
    struct pend *x = p;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    if (sem_timedwait(x->go, &d) != 0) /* not a cancellation point now */
        return (void *)1;
    /* deferred, enabled: the pending cancel waits for a cancellation point
     * (pthread_setcancelstate is none) */
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    atomic_store(&x->reached, 1);
    do_wait(x->s, x->kind);
    atomic_store(&x->returned, 1);
    pthread_testcancel();
    return (void *)2;
}

/* Start a thread that meets a pending cancel at the entry of a wait on a
 * semaphore of the given value.  Returns x (its fields tell what happened). */
static struct pend *run_pending(int kind, unsigned value, sem_t **sp)
{
    sem_t *s = new_sem(value);
    sem_t *go = new_sem(0);
    assert_true(s && go);
    struct pend *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->s = s;
    x->go = go;
    x->kind = kind;
    struct px_thread t;
    assert_int_equal(px_thread_start(&t, pend_main, x), 0);
    assert_int_equal(pthread_cancel(t.t), 0);
    assert_int_equal(sem_post(go), 0);
    void *ret = NULL;
    if (px_thread_join(&t, 5000, &ret) != 0) {
        sem_post(s);
        fail_msg("%s did not act on the pending cancel", kind_name[kind]);
    }
    assert_int_equal(atomic_load(&x->reached), 1);
    assert_ptr_equal(ret, PTHREAD_CANCELED); /* in the wait or right after it */
    free_sem(go);
    *sp = s;
    return x;
}

/* POSIX: sem_wait and sem_timedwait "shall" be cancellation points, which
 * means they act on a pending cancel even when they would not block (glibc
 * checks at entry: a permit that is there is not taken). */
static void cancel_pending_at_entry(int kind, unsigned value)
{
    sem_t *s;
    struct pend *x = run_pending(kind, value, &s);
    assert_int_equal(atomic_load(&x->returned), 0);
    assert_int_equal(px_getvalue(s), (int)value);
    free_sem(s);
    free(x);
}

static void test_cancel_pending_sem_wait_no_permit(void **state)
{
    (void)state;
    cancel_pending_at_entry(K_WAIT, 0);
}

static void test_cancel_pending_sem_wait_with_permit(void **state)
{
    (void)state;
    cancel_pending_at_entry(K_WAIT, 1);
}

static void test_cancel_pending_sem_timedwait_no_permit(void **state)
{
    (void)state;
    cancel_pending_at_entry(K_TIMED, 0);
}

static void test_cancel_pending_sem_timedwait_with_permit(void **state)
{
    (void)state;
    cancel_pending_at_entry(K_TIMED, 1);
}

static void test_cancel_pending_sem_clockwait_no_permit(void **state)
{
    (void)state;
    cancel_pending_at_entry(K_CLOCK_MONO, 0);
}

/* DEVIATION (glibc 2.36): POSIX.1-2024 lists sem_clockwait among the
 * functions that shall be cancellation points, like sem_timedwait; glibc's
 * sem_clockwait only acts on a pending cancel when it has to block (it has
 * no __pthread_testcancel() at entry, unlike its sem_wait and
 * sem_timedwait).  With a permit there it takes it and returns 0; the
 * thread is cancelled at the next cancellation point.  We expect glibc's
 * answer. */
static void test_cancel_pending_sem_clockwait_with_permit_glibc(void **state)
{
    (void)state;
    sem_t *s;
    struct pend *x = run_pending(K_CLOCK_MONO, 1, &s);
    assert_int_equal(atomic_load(&x->returned), 1);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
    free(x);
}

/* ---- calls that are not cancellation points ---- */

enum {
    NC_OPEN,
    NC_UNLINK,
    NC_POST,
    NC_CLOSE,
    NC_TRYWAIT,
    NC_GETVALUE,
    NC_INIT,
    NC_DESTROY,
};
static const char *const nc_name[] = {"sem_open",    "sem_unlink",   "sem_post", "sem_close",
                                      "sem_trywait", "sem_getvalue", "sem_init", "sem_destroy"};

struct nc {
    int what;
    char name[64];
    sem_t *go;
    sem_t *u;       /* an unnamed one for post/trywait/getvalue/init/destroy */
    sem_t *opened;  /* sem_open's result */
    atomic_int completed, r, err, after_testcancel;
};

PX_CANCEL_FRAME static void *nc_main(void *p)
{
    struct nc *x = p;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    if (sem_timedwait(x->go, &d) != 0)
        return (void *)1;
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    /* the cancel is pending from here on */
    int r = 0, v = 0;
    errno = 0;
    switch (x->what) {
    case NC_OPEN:
        x->opened = sem_open(x->name, O_CREAT | O_EXCL, 0644, 3);
        r = x->opened == SEM_FAILED ? -1 : 0;
        break;
    case NC_UNLINK:
        r = sem_unlink(x->name);
        break;
    case NC_POST:
        r = sem_post(x->u);
        break;
    case NC_CLOSE:
        r = sem_close(x->opened);
        break;
    case NC_TRYWAIT:
        r = sem_trywait(x->u);
        break;
    case NC_GETVALUE:
        r = sem_getvalue(x->u, &v);
        break;
    case NC_INIT:
        r = sem_init(x->u, 0, 5);
        break;
    case NC_DESTROY:
        r = sem_destroy(x->u);
        break;
    }
    atomic_store(&x->err, errno);
    atomic_store(&x->r, r);
    atomic_store(&x->completed, 1);
    pthread_testcancel();
    atomic_store(&x->after_testcancel, 1);
    return (void *)2;
}

static void not_a_cancellation_point(int what)
{
    struct nc *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->what = what;
    px_name(x->name, sizeof x->name, nc_name[what]);
    x->go = new_sem(0);
    x->u = new_sem(what == NC_TRYWAIT ? 1 : 0);
    assert_true(x->go && x->u);
    if (what == NC_UNLINK || what == NC_CLOSE) {
        x->opened = sem_open(x->name, O_CREAT | O_EXCL, 0644, 0);
        assert_ptr_not_equal(x->opened, SEM_FAILED);
    }
    if (what == NC_INIT)
        assert_int_equal(sem_destroy(x->u), 0);
    struct px_thread t;
    assert_int_equal(px_thread_start(&t, nc_main, x), 0);
    assert_int_equal(pthread_cancel(t.t), 0);
    assert_int_equal(sem_post(x->go), 0);
    void *ret = NULL;
    assert_int_equal(px_thread_join(&t, PX_LONG_MS, &ret), 0);
    if (!atomic_load(&x->completed))
        fail_msg("%s acted on the pending cancel: it is no cancellation point", nc_name[what]);
    assert_ptr_equal(ret, PTHREAD_CANCELED); /* at pthread_testcancel() */
    assert_int_equal(atomic_load(&x->after_testcancel), 0);
    if (atomic_load(&x->r) != 0)
        fail_msg("%s failed: %s", nc_name[what], strerror(atomic_load(&x->err)));
    /* and it did its work */
    switch (what) {
    case NC_OPEN:
        assert_ptr_not_equal(x->opened, SEM_FAILED);
        assert_int_equal(px_getvalue(x->opened), 3);
        assert_int_equal(sem_close(x->opened), 0);
        assert_int_equal(sem_unlink(x->name), 0);
        break;
    case NC_UNLINK:
        errno = 0;
        assert_ptr_equal(sem_open(x->name, 0), SEM_FAILED);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(sem_close(x->opened), 0);
        break;
    case NC_POST:
        assert_int_equal(px_getvalue(x->u), 1);
        break;
    case NC_CLOSE:
        assert_int_equal(sem_unlink(x->name), 0);
        break;
    case NC_TRYWAIT:
        assert_int_equal(px_getvalue(x->u), 0);
        break;
    case NC_INIT:
        assert_int_equal(px_getvalue(x->u), 5);
        break;
    case NC_DESTROY:
        assert_int_equal(sem_init(x->u, 0, 0), 0);
        break;
    default:
        break;
    }
    free_sem(x->go);
    free_sem(x->u);
    free(x);
}

static void test_sem_open_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_OPEN);
}

static void test_sem_unlink_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_UNLINK);
}

static void test_sem_post_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_POST);
}

static void test_sem_close_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_CLOSE);
}

static void test_sem_trywait_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_TRYWAIT);
}

static void test_sem_getvalue_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_GETVALUE);
}

static void test_sem_init_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_INIT);
}

static void test_sem_destroy_not_cancellation_point(void **state)
{
    (void)state;
    not_a_cancellation_point(NC_DESTROY);
}

/* ---- a cancel racing a post: no permit lost ---- */

#define CRACE_ITER 200

static void test_cancel_racing_post_conserves_permits(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct cw *c = calloc(1, sizeof *c);
    assert_non_null(c);
    int cancelled = 0, woke = 0;
    for (int i = 0; i < CRACE_ITER; i++) {
        memset(c, 0, sizeof *c);
        c->s = s;
        c->kind = i % 3 == 0 ? K_WAIT : i % 3 == 1 ? K_TIMED : K_CLOCK_MONO;
        struct px_thread t;
        assert_int_equal(px_thread_start(&t, cw_main, c), 0);
        static const long delay_ns[] = {0, 5000, 50000, 300000, 1000000};
        px_sleep_ns(delay_ns[i % 5]);
        if (i & 1) {
            sem_post(s);
            pthread_cancel(t.t);
        } else {
            pthread_cancel(t.t);
            sem_post(s);
        }
        void *ret = NULL;
        if (px_thread_join(&t, PX_LONG_MS, &ret) != 0)
            fail_msg("iteration %d: the waiter neither woke nor was cancelled", i);
        int v = px_getvalue(s);
        int took = atomic_load(&c->took);
        if (atomic_load(&c->returned) && !took)
            fail_msg("iteration %d: the wait failed", i);
        if (ret == PTHREAD_CANCELED)
            cancelled++;
        else
            woke++;
        /* cancelled inside the wait: the permit stays; woken: it is taken
         * (the thread then exits normally: no cancellation point follows) */
        if (v + took != 1)
            fail_msg("iteration %d: %s, value %d: a permit was %s", i,
                     ret == PTHREAD_CANCELED ? "cancelled" : "woken", v,
                     v + took > 1 ? "made" : "lost");
        if (v == 1)
            assert_int_equal(sem_trywait(s), 0);
    }
    printf("    %d iterations: %d cancelled, %d woken\n", CRACE_ITER, cancelled, woke);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(test_cancel_blocked_sem_wait),
        PX_TEST(test_cancel_blocked_sem_timedwait),
        PX_TEST(test_cancel_blocked_sem_clockwait_realtime),
        PX_TEST(test_cancel_blocked_sem_clockwait_monotonic),
        PX_TEST(test_cancel_one_of_two_waiters),
        PX_TEST(test_cancel_pending_sem_wait_no_permit),
        PX_TEST(test_cancel_pending_sem_wait_with_permit),
        PX_TEST(test_cancel_pending_sem_timedwait_no_permit),
        PX_TEST(test_cancel_pending_sem_timedwait_with_permit),
        PX_TEST(test_cancel_pending_sem_clockwait_no_permit),
        PX_TEST(test_cancel_pending_sem_clockwait_with_permit_glibc),
        PX_TEST(test_sem_open_not_cancellation_point),
        PX_TEST(test_sem_unlink_not_cancellation_point),
        PX_TEST(test_sem_post_not_cancellation_point),
        PX_TEST(test_sem_close_not_cancellation_point),
        PX_TEST(test_sem_trywait_not_cancellation_point),
        PX_TEST(test_sem_getvalue_not_cancellation_point),
        PX_TEST(test_sem_init_not_cancellation_point),
        PX_TEST(test_sem_destroy_not_cancellation_point),
        PX_TEST(test_cancel_racing_post_conserves_permits),
    };
    return PX_MAIN(tests);
}
