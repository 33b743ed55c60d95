/*
 * The public API against a real esemd: every function, with good and bad
 * input, and the errno each refusal must give.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"

#define assert_fails(expr, err)                                                          \
    do {                                                                                \
        errno = 0;                                                                      \
        long r_ = (long)(expr);                                                         \
        int e_ = errno;                                                                 \
        if (r_ != -1 || e_ != (err))                                                    \
            fail_msg("%s: got %ld errno %d (%s), want -1 errno %d (%s)", #expr, r_, e_,  \
                     strerror(e_), (int)(err), strerror(err));                          \
    } while (0)

#define assert_null_errno(expr, err)                                                     \
    do {                                                                                \
        errno = 0;                                                                      \
        void *p_ = (void *)(expr);                                                      \
        int e_ = errno;                                                                 \
        if (p_ != NULL || e_ != (err))                                                  \
            fail_msg("%s: got %p errno %d (%s), want NULL errno %d (%s)", #expr, p_, e_, \
                     strerror(e_), (int)(err), strerror(err));                          \
    } while (0)

static int value_of(esem_t *s)
{
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    return v;
}

/* ---- helpers: a thread blocked in esem_wait ---- */

struct waiter_arg {
    esem_t *sem;
    int rc, err;
};

static void *wait_thread(void *p)
{
    struct waiter_arg *a = p;
    a->rc = esem_wait(a->sem);
    a->err = errno;
    return NULL;
}

/* ---- tests ---- */

static void open_create_close_unlink_round_trip(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "round");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 3);
    assert_non_null(s);
    assert_int_equal(value_of(s), 3);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(esem_wait(s), 0);
    assert_int_equal(esem_trywait(s), 0);
    assert_int_equal(value_of(s), 2);
    assert_int_equal(esem_close(s), 0);

    /* A named semaphore outlives its last close, value included. */
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.value, 2);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 0);

    s = esem_open(name, 0, 0, 0);
    assert_non_null(s);
    assert_int_equal(value_of(s), 2);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
    assert_int_equal(hx_show(name, &sh), -1);
    assert_null_errno(esem_open(name, 0, 0, 0), ENOENT);
}

static void open_creat_existing_ignores_value(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "creat2");
    esem_t *a = esem_open(name, O_CREAT, 0600, 2);
    assert_non_null(a);
    esem_t *b = esem_open(name, O_CREAT, 0600, 7);
    assert_ptr_equal(a, b);
    assert_int_equal(value_of(b), 2);
    assert_int_equal(esem_close(b), 0);
    assert_int_equal(esem_close(a), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void leading_slashes_are_skipped(void **state)
{
    (void)state;
    char name[64], many[80];
    hx_name(name, sizeof name, "slash");
    snprintf(many, sizeof many, "//%s", name);
    esem_t *a = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(a);
    esem_t *b = esem_open(many, 0, 0, 0);
    assert_ptr_equal(a, b);
    assert_int_equal(esem_close(b), 0);
    assert_int_equal(esem_close(a), 0);
    assert_int_equal(esem_unlink(many), 0);
}

static void excl_on_existing_name_is_eexist(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "excl");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    assert_null_errno(esem_open(name, O_CREAT | O_EXCL, 0600, 0), EEXIST);
    assert_int_equal(esem_close(s), 0);
    /* Also with no process holding it open. */
    assert_null_errno(esem_open(name, O_CREAT | O_EXCL, 0600, 0), EEXIST);
    assert_int_equal(esem_unlink(name), 0);
}

static void missing_name_is_enoent(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "missing");
    assert_null_errno(esem_open(name, 0, 0, 0), ENOENT);
    assert_fails(esem_unlink(name), ENOENT);
}

static void name_too_long_is_enametoolong(void **state)
{
    (void)state;
    char name[ESEM_NAME_MAX + 3];
    name[0] = '/';
    memset(name + 1, 'n', ESEM_NAME_MAX + 1); /* 252 bytes after the slash */
    name[ESEM_NAME_MAX + 2] = 0;
    assert_null_errno(esem_open(name, O_CREAT, 0600, 0), ENAMETOOLONG);
    assert_null_errno(esem_open(name, 0, 0, 0), ENAMETOOLONG);
    assert_fails(esem_unlink(name), ENAMETOOLONG);

    /* 251 bytes is the longest name and works. */
    name[ESEM_NAME_MAX + 1] = 0;
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 1);
    assert_non_null(s);
    assert_int_equal(esem_wait(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void bad_names_are_einval(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "/", "//", "/a/b", "a/", "/.", "/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null_errno(esem_open(bad[i], O_CREAT, 0600, 0), EINVAL);
        assert_fails(esem_unlink(bad[i]), EINVAL);
    }
    assert_null_errno(esem_open(NULL, O_CREAT, 0600, 0), EINVAL);
    assert_fails(esem_unlink(NULL), EINVAL);
}

static void value_above_max_is_einval(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "toobig");
    assert_null_errno(esem_open(name, O_CREAT, 0600, ESEM_VALUE_MAX + 1u), EINVAL);
    assert_null_errno(esem_open(name, O_CREAT, 0600, 0xffffffffu), EINVAL);
    assert_null_errno(esem_create(ESEM_VALUE_MAX + 1u), EINVAL);
    /* Nothing was created. */
    assert_null_errno(esem_open(name, 0, 0, 0), ENOENT);
    esem_t *s = esem_create(ESEM_VALUE_MAX);
    assert_non_null(s);
    assert_int_equal(value_of(s), ESEM_VALUE_MAX);
    assert_int_equal(esem_destroy(s), 0);
}

static void post_at_max_is_eoverflow(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "max");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, ESEM_VALUE_MAX);
    assert_non_null(s);
    assert_fails(esem_post(s), EOVERFLOW);
    assert_int_equal(value_of(s), ESEM_VALUE_MAX);
    assert_int_equal(esem_trywait(s), 0);
    assert_int_equal(esem_post(s), 0);
    assert_fails(esem_post(s), EOVERFLOW);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);

    esem_t *a = esem_create(ESEM_VALUE_MAX);
    assert_non_null(a);
    assert_fails(esem_post(a), EOVERFLOW);
    assert_int_equal(esem_destroy(a), 0);
}

static void trywait_on_zero_is_eagain(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    assert_fails(esem_trywait(s), EAGAIN);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(esem_trywait(s), 0);
    assert_fails(esem_trywait(s), EAGAIN);
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_destroy(s), 0);
}

static void bad_timespec_is_einval(void **state)
{
    (void)state;
    esem_t *s = esem_create(1);
    assert_non_null(s);
    struct timespec t = hx_deadline(CLOCK_REALTIME, 1000);
    t.tv_nsec = -1;
    assert_fails(esem_timedwait(s, &t), EINVAL);
    t.tv_nsec = 1000000000L;
    assert_fails(esem_timedwait(s, &t), EINVAL);
    assert_fails(esem_clockwait(s, CLOCK_MONOTONIC, &t), EINVAL);
    assert_fails(esem_timedwait(s, NULL), EINVAL);
    /* Invalid input takes no permit. */
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_destroy(s), 0);
}

static void clockwait_other_clocks_are_einval(void **state)
{
    (void)state;
    esem_t *s = esem_create(1);
    assert_non_null(s);
    static const clockid_t bad[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                                    CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct timespec t = hx_deadline(CLOCK_MONOTONIC, 1000);
        assert_fails(esem_clockwait(s, bad[i], &t), EINVAL);
    }
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_destroy(s), 0);
}

static void past_deadline_takes_a_permit_or_times_out(void **state)
{
    (void)state;
    esem_t *s = esem_create(1);
    assert_non_null(s);
    struct timespec past = {1, 0}; /* 1970 */
    assert_int_equal(esem_timedwait(s, &past), 0);
    assert_fails(esem_timedwait(s, &past), ETIMEDOUT);
    assert_int_equal(esem_post(s), 0);
    struct timespec mpast = hx_deadline(CLOCK_MONOTONIC, -1);
    assert_int_equal(esem_clockwait(s, CLOCK_MONOTONIC, &mpast), 0);
    assert_fails(esem_clockwait(s, CLOCK_MONOTONIC, &mpast), ETIMEDOUT);
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_destroy(s), 0);
}

static void timedwait_times_out_not_before_the_deadline(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    struct timespec dl = hx_deadline(CLOCK_REALTIME, 100);
    assert_fails(esem_timedwait(s, &dl), ETIMEDOUT);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    assert_true(hx_ts_ge(&now, &dl));

    dl = hx_deadline(CLOCK_MONOTONIC, 100);
    assert_fails(esem_clockwait(s, CLOCK_MONOTONIC, &dl), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &now);
    assert_true(hx_ts_ge(&now, &dl));

    /* The abandoned waits left no waiter behind: a post raises the value. */
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_destroy(s), 0);
}

struct clockwait_arg {
    esem_t *sem;
    clockid_t clk;
    int rc, err;
};

static void *clockwait_thread(void *p)
{
    struct clockwait_arg *a = p;
    struct timespec dl = hx_deadline(a->clk, 30000);
    a->rc = esem_clockwait(a->sem, a->clk, &dl);
    a->err = errno;
    return NULL;
}

static void timed_waits_are_granted_by_a_post(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "tgrant");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int i = 0; i < 2; i++) {
        struct clockwait_arg a = {.sem = s, .clk = clocks[i]};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, clockwait_thread, &a), 0);
        assert_true(hx_wait_waiter(name, getpid(), 1, 10000));
        assert_int_equal(esem_post(s), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(a.rc, 0);
        assert_int_equal(value_of(s), 0);
    }
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* Deadlines a few microseconds ahead: the wait reaches the daemon around
 * the time the client gives up, so the request and its cancel can arrive
 * together.  Every such wait must still end, with ETIMEDOUT. */
static void near_deadlines_always_end(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    for (int i = 0; i < 400; i++) {
        if (i % 4 == 0)
            hx_sleep_ms(1); /* let the daemon's worker fall asleep */
        struct timespec dl = hx_deadline(CLOCK_MONOTONIC, 0);
        dl.tv_nsec += (i % 50) * 1000;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        alarm(10);
        assert_fails(esem_clockwait(s, CLOCK_MONOTONIC, &dl), ETIMEDOUT);
    }
    alarm(60);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_destroy(s), 0);
}

static void same_name_twice_is_one_handle_needing_two_closes(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "twice");
    esem_t *a = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(a);
    esem_t *b = esem_open(name, 0, 0, 0);
    assert_ptr_equal(a, b);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 2);

    assert_int_equal(esem_close(a), 0);
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 1);
    assert_int_equal(esem_post(b), 0); /* still open */
    assert_int_equal(value_of(b), 1);

    assert_int_equal(esem_close(b), 0);
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 0);
    assert_int_equal(sh.value, 1);
    assert_int_equal(esem_unlink(name), 0);
}

static void unlink_while_open_frees_the_name_at_once(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "unl");
    esem_t *old = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(old);
    assert_int_equal(esem_unlink(name), 0);
    assert_null_errno(esem_open(name, 0, 0, 0), ENOENT);

    esem_t *fresh = esem_open(name, O_CREAT | O_EXCL, 0600, 5);
    assert_non_null(fresh);
    assert_ptr_not_equal(old, fresh);
    assert_int_equal(esem_post(old), 0);
    assert_int_equal(esem_post(old), 0);
    assert_int_equal(esem_wait(old), 0);
    assert_int_equal(value_of(old), 1);
    assert_int_equal(value_of(fresh), 5);
    assert_int_equal(esem_close(old), 0);

    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.value, 5);
    assert_int_equal(esem_close(fresh), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void named_and_anonymous_are_not_interchangeable(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "kinds");
    esem_t *n = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(n);
    assert_fails(esem_destroy(n), EINVAL);
    assert_int_equal(esem_post(n), 0); /* untouched */
    assert_int_equal(esem_close(n), 0);
    assert_int_equal(esem_unlink(name), 0);

    esem_t *a = esem_create(0);
    assert_non_null(a);
    assert_fails(esem_close(a), EINVAL);
    assert_int_equal(esem_post(a), 0);
    assert_int_equal(value_of(a), 1);
    assert_int_equal(esem_destroy(a), 0);
}

static void invalid_handles_are_einval(void **state)
{
    (void)state;
    /* A forged handle: memory that was never returned by esem_open. */
    static uint64_t fake[16];
    memset(fake, 0x41, sizeof fake);
    esem_t *f = (esem_t *)fake;
    int v;
    struct timespec t = hx_deadline(CLOCK_REALTIME, 100);
    assert_fails(esem_post(NULL), EINVAL);
    assert_fails(esem_wait(NULL), EINVAL);
    assert_fails(esem_trywait(NULL), EINVAL);
    assert_fails(esem_timedwait(NULL, &t), EINVAL);
    assert_fails(esem_getvalue(NULL, &v), EINVAL);
    assert_fails(esem_close(NULL), EINVAL);
    assert_fails(esem_destroy(NULL), EINVAL);
    assert_fails(esem_post(f), EINVAL);
    assert_fails(esem_wait(f), EINVAL);
    assert_fails(esem_trywait(f), EINVAL);
    assert_fails(esem_timedwait(f, &t), EINVAL);
    assert_fails(esem_getvalue(f, &v), EINVAL);
    assert_fails(esem_close(f), EINVAL);
    assert_fails(esem_destroy(f), EINVAL);

    esem_t *s = esem_create(0);
    assert_non_null(s);
    assert_fails(esem_getvalue(s, NULL), EINVAL);
    assert_int_equal(esem_destroy(s), 0);
}

static void getvalue_reports_value_and_zero_while_waited_on(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "getv");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(esem_post(s), 0);
        assert_int_equal(value_of(s), i);
    }
    for (int i = 4; i >= 0; i--) {
        assert_int_equal(esem_wait(s), 0);
        assert_int_equal(value_of(s), i);
    }
    struct waiter_arg wa = {.sem = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &wa), 0);
    assert_true(hx_wait_waiter(name, getpid(), 1, 10000));
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(wa.rc, 0);
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void close_and_destroy_with_own_waiter_are_ebusy(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "busy");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    struct waiter_arg wa = {.sem = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &wa), 0);
    assert_true(hx_wait_waiter(name, getpid(), 1, 10000));
    assert_fails(esem_close(s), EBUSY);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(wa.rc, 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);

    char before[256][32], id[32];
    int n = hx_anon_ids(before, 256);
    assert_true(n >= 0);
    esem_t *a = esem_create(0);
    assert_non_null(a);
    assert_int_equal(hx_new_anon_id(before, n, id, sizeof id), 0);
    wa.sem = a;
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &wa), 0);
    assert_true(hx_wait_waiter(id, getpid(), 1, 10000));
    assert_fails(esem_destroy(a), EBUSY);
    assert_int_equal(esem_post(a), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(wa.rc, 0);
    assert_int_equal(esem_destroy(a), 0);
    assert_int_equal(hx_show(id, &(struct hx_show){0}), -1);
}

static void mode_is_masked_by_umask(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "umask");
    mode_t old = umask(027);
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0666, 0);
    umask(old);
    assert_non_null(s);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.mode, 0640);
    assert_int_equal(sh.uid, getuid());
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- access control: needs processes of other uids ---- */

#define UID_A 65534
#define UID_B 65533

struct acc_arg {
    const char *name;
};

static int child_create_private(void *p)
{
    struct acc_arg *a = p;
    HX_CHECK(hx_become(UID_A, UID_A) == 0);
    esem_t *s = esem_open(a->name, O_CREAT | O_EXCL, 0600, 1);
    HX_CHECK(s != NULL);
    HX_CHECK(esem_close(s) == 0);
    return 0;
}

static int child_open_foreign(void *p)
{
    struct acc_arg *a = p;
    HX_CHECK(hx_become(UID_B, UID_B) == 0);
    errno = 0;
    HX_CHECK(esem_open(a->name, 0, 0, 0) == NULL && errno == EACCES);
    errno = 0;
    HX_CHECK(esem_open(a->name, O_CREAT, 0666, 0) == NULL && errno == EACCES);
    errno = 0;
    HX_CHECK(esem_unlink(a->name) == -1 && errno == EACCES);
    return 0;
}

static void other_uid_is_refused_eacces_and_audited(void **state)
{
    (void)state;
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acc");
    struct acc_arg a = {.name = name};
    pid_t c = hx_fork(child_create_private, &a);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);

    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.uid, UID_A); /* created by that uid, not inherited as root */
    assert_int_equal(sh.mode, 0600);

    size_t mark = hx_log_mark();
    pid_t d = hx_fork(child_open_foreign, &a);
    assert_true(d > 0);
    hx_assert_child_ok(d, 30000);
    char want[96];
    snprintf(want, sizeof want, "audit: refused open pid=%d uid=%d", (int)d, UID_B);
    assert_true(hx_log_wait(mark, want, 5000));
    snprintf(want, sizeof want, "audit: refused unlink pid=%d uid=%d", (int)d, UID_B);
    assert_true(hx_log_wait(mark, want, 5000));

    /* The refusals changed nothing; root may open and remove it. */
    esem_t *s = esem_open(name, 0, 0, 0);
    assert_non_null(s);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- no daemon ---- */

static int child_no_daemon(void *p)
{
    (void)p;
    errno = 0;
    HX_CHECK(esem_open("/itest-nodaemon", O_CREAT, 0600, 0) == NULL && errno == ECONNREFUSED);
    errno = 0;
    HX_CHECK(esem_create(0) == NULL && errno == ECONNREFUSED);
    errno = 0;
    HX_CHECK(esem_unlink("/itest-nodaemon") == -1 && errno == ECONNREFUSED);
    return 0;
}

static void no_daemon_is_econnrefused(void **state)
{
    (void)state;
    char dead[HX_PATH + 32];
    snprintf(dead, sizeof dead, "%s/nobody-here.sock", hx.dir);
    /* Set before fork: a child connects as it is created if this process
     * holds semaphores, so the variable must already name the dead path. */
    setenv("ESEM_SOCKET", dead, 1);
    pid_t c = hx_fork(child_no_daemon, NULL);
    setenv("ESEM_SOCKET", hx.sock, 1);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(open_create_close_unlink_round_trip),
        HX_TEST(open_creat_existing_ignores_value),
        HX_TEST(leading_slashes_are_skipped),
        HX_TEST(excl_on_existing_name_is_eexist),
        HX_TEST(missing_name_is_enoent),
        HX_TEST(name_too_long_is_enametoolong),
        HX_TEST(bad_names_are_einval),
        HX_TEST(value_above_max_is_einval),
        HX_TEST(post_at_max_is_eoverflow),
        HX_TEST(trywait_on_zero_is_eagain),
        HX_TEST(bad_timespec_is_einval),
        HX_TEST(clockwait_other_clocks_are_einval),
        HX_TEST(past_deadline_takes_a_permit_or_times_out),
        HX_TEST(timedwait_times_out_not_before_the_deadline),
        HX_TEST(timed_waits_are_granted_by_a_post),
        HX_TEST(near_deadlines_always_end),
        HX_TEST(same_name_twice_is_one_handle_needing_two_closes),
        HX_TEST(unlink_while_open_frees_the_name_at_once),
        HX_TEST(named_and_anonymous_are_not_interchangeable),
        HX_TEST(invalid_handles_are_einval),
        HX_TEST(getvalue_reports_value_and_zero_while_waited_on),
        HX_TEST(close_and_destroy_with_own_waiter_are_ebusy),
        HX_TEST(mode_is_masked_by_umask),
        HX_TEST(other_uid_is_refused_eacces_and_audited),
        HX_TEST(no_daemon_is_econnrefused),
    };
    return HX_RUN_GROUP(tests);
}
