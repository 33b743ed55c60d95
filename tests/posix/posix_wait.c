/*
 * Waiting: sem_wait, sem_trywait, sem_timedwait, sem_clockwait, and the
 * value: sem_post's EOVERFLOW, sem_getvalue.
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

/* Only on success: a thread left blocked on a failed test keeps its memory. */
static void free_sem(sem_t *s)
{
    sem_destroy(s);
    munmap(s, sizeof *s);
}

/* ---- sem_trywait ---- */

static void test_trywait_eagain(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    errno = 0;
    assert_int_equal(sem_trywait(s), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(sem_post(s), 0);
    assert_int_equal(sem_trywait(s), 0);
    errno = 0;
    assert_int_equal(sem_trywait(s), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

/* ---- sem_timedwait: the deadline ---- */

static void test_timedwait_past_deadline_with_permit(void **state)
{
    (void)state;
    sem_t *s = new_sem(1);
    assert_non_null(s);
    /* POSIX: "Under no circumstance shall the function fail with a timeout
     * if the semaphore can be locked immediately." */
    struct timespec past = px_deadline(CLOCK_REALTIME, -1000);
    assert_int_equal(sem_timedwait(s, &past), 0);
    assert_int_equal(px_getvalue(s), 0);
    struct timespec epoch = {0, 0};
    assert_int_equal(sem_post(s), 0);
    assert_int_equal(sem_timedwait(s, &epoch), 0);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

static void test_timedwait_past_deadline_no_permit(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct timespec past = px_deadline(CLOCK_REALTIME, -1000);
    errno = 0;
    assert_int_equal(sem_timedwait(s, &past), -1);
    assert_int_equal(errno, ETIMEDOUT);
    struct timespec epoch = {0, 0};
    errno = 0;
    assert_int_equal(sem_timedwait(s, &epoch), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

/* POSIX: "The validity of the abstime need not be checked if the semaphore
 * can be locked immediately."  glibc checks it first anyway: EINVAL, and
 * the permit stays. */
static void test_timedwait_bad_nsec_einval(void **state)
{
    (void)state;
    const long bad[] = {-1, 1000000000L, LONG_MIN, LONG_MAX};
    for (int permit = 0; permit <= 1; permit++) {
        sem_t *s = new_sem((unsigned)permit);
        assert_non_null(s);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            struct timespec t = px_deadline(CLOCK_REALTIME, 1000);
            t.tv_nsec = bad[i];
            errno = 0;
            assert_int_equal(sem_timedwait(s, &t), -1);
            assert_int_equal(errno, EINVAL);
            assert_int_equal(px_getvalue(s), permit);
        }
        free_sem(s);
    }
}

/* A timeout never comes early: on return the clock reads >= the deadline. */
static void timeout_not_early(clockid_t clk, int use_clockwait)
{
    sem_t *s = new_sem(0);
    assert_non_null(s);
    const long ms[] = {1, 5, 20, 50, 120};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct timespec d = px_deadline(clk, ms[i]);
        errno = 0;
        int r = use_clockwait ? sem_clockwait(s, clk, &d) : sem_timedwait(s, &d);
        int e = errno;
        struct timespec now;
        clock_gettime(clk, &now);
        assert_int_equal(r, -1);
        assert_int_equal(e, ETIMEDOUT);
        if (!px_ts_ge(&now, &d))
            fail_msg("timeout of %ld ms came early: now %lld.%09ld < deadline %lld.%09ld", ms[i],
                     (long long)now.tv_sec, now.tv_nsec, (long long)d.tv_sec, d.tv_nsec);
    }
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

static void test_timedwait_never_early(void **state)
{
    (void)state;
    timeout_not_early(CLOCK_REALTIME, 0);
}

static void test_clockwait_realtime_never_early(void **state)
{
    (void)state;
    timeout_not_early(CLOCK_REALTIME, 1);
}

static void test_clockwait_monotonic_never_early(void **state)
{
    (void)state;
    timeout_not_early(CLOCK_MONOTONIC, 1);
}

/* ---- woken by a post ---- */

struct poster {
    sem_t *s;
    long delay_ms;
};

static void *post_later(void *p)
{
    struct poster *x = p;
    px_sleep_ms(x->delay_ms);
    return (void *)(intptr_t)sem_post(x->s);
}

static void woken_by_post(int kind, clockid_t clk)
{
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct poster x = {s, 50};
    struct px_thread t;
    assert_int_equal(px_thread_start(&t, post_later, &x), 0);
    struct timespec d = px_deadline(clk, PX_LONG_MS);
    int r;
    if (kind == 0)
        r = sem_wait(s);
    else if (kind == 1)
        r = sem_timedwait(s, &d);
    else
        r = sem_clockwait(s, clk, &d);
    struct timespec now;
    clock_gettime(clk, &now);
    void *pr = (void *)1;
    assert_int_equal(px_thread_join(&t, PX_LONG_MS, &pr), 0);
    assert_int_equal(r, 0);
    assert_null(pr);
    assert_false(px_ts_ge(&now, &d)); /* woken, not timed out */
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

static void test_wait_woken_by_post(void **state)
{
    (void)state;
    woken_by_post(0, CLOCK_REALTIME);
}

static void test_timedwait_woken_by_post(void **state)
{
    (void)state;
    woken_by_post(1, CLOCK_REALTIME);
}

static void test_clockwait_realtime_woken_by_post(void **state)
{
    (void)state;
    woken_by_post(2, CLOCK_REALTIME);
}

static void test_clockwait_monotonic_woken_by_post(void **state)
{
    (void)state;
    woken_by_post(2, CLOCK_MONOTONIC);
}

static void test_clockwait_with_permit(void **state)
{
    (void)state;
    sem_t *s = new_sem(2);
    assert_non_null(s);
    struct timespec past = px_deadline(CLOCK_MONOTONIC, -1000);
    assert_int_equal(sem_clockwait(s, CLOCK_MONOTONIC, &past), 0);
    past = px_deadline(CLOCK_REALTIME, -1000);
    assert_int_equal(sem_clockwait(s, CLOCK_REALTIME, &past), 0);
    past = px_deadline(CLOCK_MONOTONIC, -1000);
    errno = 0;
    assert_int_equal(sem_clockwait(s, CLOCK_MONOTONIC, &past), -1);
    assert_int_equal(errno, ETIMEDOUT);
    free_sem(s);
}

/* glibc supports CLOCK_REALTIME and CLOCK_MONOTONIC only; any other clock
 * is EINVAL, checked before the value (the permit stays). */
static void test_clockwait_cputime_einval(void **state)
{
    (void)state;
    const clockid_t bad[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
    for (int permit = 0; permit <= 1; permit++) {
        sem_t *s = new_sem((unsigned)permit);
        assert_non_null(s);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            struct timespec d = px_deadline(CLOCK_REALTIME, 100);
            errno = 0;
            assert_int_equal(sem_clockwait(s, bad[i], &d), -1);
            assert_int_equal(errno, EINVAL);
            assert_int_equal(px_getvalue(s), permit);
        }
        free_sem(s);
    }
}

/* ---- the value ---- */

static void test_post_at_max_eoverflow(void **state)
{
    (void)state;
    sem_t *s = new_sem((unsigned)SEM_VALUE_MAX);
    assert_non_null(s);
    errno = 0;
    assert_int_equal(sem_post(s), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(px_getvalue(s), SEM_VALUE_MAX);
    assert_int_equal(sem_trywait(s), 0);
    assert_int_equal(px_getvalue(s), SEM_VALUE_MAX - 1);
    assert_int_equal(sem_post(s), 0);
    errno = 0;
    assert_int_equal(sem_post(s), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(px_getvalue(s), SEM_VALUE_MAX);
    free_sem(s);
}

static void test_post_at_max_eoverflow_pshared(void **state)
{
    (void)state;
    sem_t *s = px_shared(sizeof *s);
    assert_non_null(s);
    assert_int_equal(sem_init(s, 1, (unsigned)SEM_VALUE_MAX - 1u), 0);
    assert_int_equal(sem_post(s), 0);
    errno = 0;
    assert_int_equal(sem_post(s), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(px_getvalue(s), SEM_VALUE_MAX);
    free_sem(s);
}

static void test_getvalue_counts(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(sem_post(s), 0);
        assert_int_equal(px_getvalue(s), i);
    }
    for (int i = 9; i >= 0; i--) {
        assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(px_getvalue(s), i);
    }
    free_sem(s);
}

/* POSIX lets sem_getvalue report 0 or minus the number of waiters while a
 * thread is blocked; glibc (Linux) reports 0. */
static void *wait_once(void *p) { return (void *)(intptr_t)sem_wait((sem_t *)p); }

static void test_getvalue_with_waiter_is_zero(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct px_thread t;
    assert_int_equal(px_thread_start(&t, wait_once, s), 0);
    px_sleep_ms(PX_SETTLE_MS);
    int v = px_getvalue(s);
    assert_int_equal(sem_post(s), 0);
    void *r = (void *)1;
    assert_int_equal(px_thread_join(&t, PX_LONG_MS, &r), 0);
    assert_int_equal(v, 0);
    assert_null(r);
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

/* n posts to n blocked waiters: each gets exactly one. */
static void test_posts_wake_each_waiter_once(void **state)
{
    (void)state;
    enum { N = 6 };
    sem_t *s = new_sem(0);
    assert_non_null(s);
    struct px_thread t[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(px_thread_start(&t[i], wait_once, s), 0);
    px_sleep_ms(PX_SETTLE_MS);
    for (int i = 0; i < N; i++)
        assert_int_equal(sem_post(s), 0);
    for (int i = 0; i < N; i++) {
        void *r = (void *)1;
        assert_int_equal(px_thread_join(&t[i], PX_LONG_MS, &r), 0);
        assert_null(r);
    }
    assert_int_equal(px_getvalue(s), 0);
    free_sem(s);
}

/* A deadline far in the future (tv_sec near the end of time_t) is just a
 * long wait: no overflow may turn it into an immediate timeout. */
struct far {
    sem_t *s;
    int kind;
    time_t sec;
    int r, err;
};

static void *far_waiter(void *p)
{
    struct far *f = p;
    struct timespec d = {f->sec, 0};
    errno = 0;
    if (f->kind == 0)
        f->r = sem_timedwait(f->s, &d);
    else
        f->r = sem_clockwait(f->s, f->kind == 1 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &d);
    f->err = errno;
    return NULL;
}

static void far_deadline(int kind)
{
    const time_t secs[] = {(time_t)INT64_MAX, (time_t)(INT64_MAX / 1000000000), (time_t)INT32_MAX * 4};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        sem_t *s = new_sem(0);
        assert_non_null(s);
        struct far f = {s, kind, secs[i], 12345, 0};
        struct px_thread t;
        assert_int_equal(px_thread_start(&t, far_waiter, &f), 0);
        px_sleep_ms(PX_SETTLE_MS);
        int early = atomic_load(&t.done);
        assert_int_equal(sem_post(s), 0);
        assert_int_equal(px_thread_join(&t, PX_LONG_MS, NULL), 0);
        if (early)
            fail_msg("deadline tv_sec=%lld: the wait ended before the post (r=%d, %s)",
                     (long long)secs[i], f.r, strerror(f.err));
        assert_int_equal(f.r, 0);
        free_sem(s);
    }
}

static void test_timedwait_far_future_deadline(void **state)
{
    (void)state;
    far_deadline(0);
}

static void test_clockwait_realtime_far_future_deadline(void **state)
{
    (void)state;
    far_deadline(1);
}

static void test_clockwait_monotonic_far_future_deadline(void **state)
{
    (void)state;
    far_deadline(2);
}

/* A deadline before the epoch has passed: ETIMEDOUT (a permit is still
 * taken if there is one). */
static void test_timedwait_negative_deadline(void **state)
{
    (void)state;
    sem_t *s = new_sem(0);
    assert_non_null(s);
    const struct timespec neg[] = {{-1, 0}, {-1000000, 500}, {(time_t)INT64_MIN, 0}};
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        errno = 0;
        assert_int_equal(sem_timedwait(s, &neg[i]), -1);
        assert_int_equal(errno, ETIMEDOUT);
        errno = 0;
        assert_int_equal(sem_clockwait(s, CLOCK_MONOTONIC, &neg[i]), -1);
        assert_int_equal(errno, ETIMEDOUT);
    }
    assert_int_equal(sem_post(s), 0);
    assert_int_equal(sem_timedwait(s, &neg[0]), 0);
    free_sem(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(test_trywait_eagain),
        PX_TEST(test_timedwait_past_deadline_with_permit),
        PX_TEST(test_timedwait_past_deadline_no_permit),
        PX_TEST(test_timedwait_bad_nsec_einval),
        PX_TEST(test_timedwait_never_early),
        PX_TEST(test_clockwait_realtime_never_early),
        PX_TEST(test_clockwait_monotonic_never_early),
        PX_TEST(test_wait_woken_by_post),
        PX_TEST(test_timedwait_woken_by_post),
        PX_TEST(test_clockwait_realtime_woken_by_post),
        PX_TEST(test_clockwait_monotonic_woken_by_post),
        PX_TEST(test_clockwait_with_permit),
        PX_TEST(test_timedwait_far_future_deadline),
        PX_TEST(test_clockwait_realtime_far_future_deadline),
        PX_TEST(test_clockwait_monotonic_far_future_deadline),
        PX_TEST(test_timedwait_negative_deadline),
        PX_TEST(test_clockwait_cputime_einval),
        PX_TEST(test_post_at_max_eoverflow),
        PX_TEST(test_post_at_max_eoverflow_pshared),
        PX_TEST(test_getvalue_counts),
        PX_TEST(test_getvalue_with_waiter_is_zero),
        PX_TEST(test_posts_wake_each_waiter_once),
    };
    return PX_MAIN(tests);
}
