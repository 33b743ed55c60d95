/*
 * Client death: a process killed at any point loses nothing for the others.
 * Its waiters are removed and its session closed; a permit it took stays
 * taken (a semaphore has no owner); a post it made stays made.  And the
 * other way round: when the daemon dies, clients fail closed with EIO.
 */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"

static int timed_wait_s(esem_t *s, int seconds)
{
    struct timespec dl = hx_deadline(CLOCK_REALTIME, seconds * 1000L);
    return esem_timedwait(s, &dl);
}

static int value_of(esem_t *s)
{
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    return v;
}

static int child_wait_forever(void *arg)
{
    esem_t *s = arg;
    esem_wait(s);
    return 2; /* never granted: nobody posts before the kill */
}

static void waiter_killed_is_removed(void **state)
{
    (void)state;
    char name[64], line[64];
    hx_name(name, sizeof name, "killw");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    pid_t c = hx_fork(child_wait_forever, s);
    assert_true(c > 0);
    assert_true(hx_wait_waiter(name, c, 1, 10000));

    size_t mark = hx_log_mark();
    assert_int_equal(kill(c, SIGKILL), 0);
    int st = hx_reap(c, 10000);
    assert_true(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_true(hx_wait_waiter(name, c, 0, 10000));
    snprintf(line, sizeof line, "session end pid=%d ", (int)c);
    assert_true(hx_log_wait(mark, line, 10000));

    /* The post goes to the value, not to the dead waiter. */
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.nwaiters, 0);
    assert_int_equal(hx_holder_opens(&sh, c), 0);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_trywait(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void many_waiters_killed_others_keep_their_place(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "killmany");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    enum { N = 6 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = hx_fork(child_wait_forever, s);
        assert_true(kids[i] > 0);
        assert_true(hx_wait_waiter(name, kids[i], 1, 10000));
    }
    /* Kill every other one; the survivors still get one grant each. */
    for (int i = 0; i < N; i += 2) {
        kill(kids[i], SIGKILL);
        hx_reap(kids[i], 10000);
    }
    for (int i = 0; i < N; i += 2)
        assert_true(hx_wait_waiter(name, kids[i], 0, 10000));
    for (int i = 1; i < N; i += 2)
        assert_int_equal(esem_post(s), 0);
    for (int i = 1; i < N; i += 2) {
        int st = hx_reap(kids[i], 10000);
        assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    }
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

struct mutex_arg {
    esem_t *mutex;
    struct hx_gate taken;
};

static int child_take_and_hang(void *arg)
{
    struct mutex_arg *m = arg;
    HX_CHECK(esem_trywait(m->mutex) == 0);
    HX_CHECK(hx_gate_post(&m->taken) == 0);
    for (;;)
        pause();
}

static int child_post_then_wait(void *arg)
{
    esem_t *s = arg;
    HX_CHECK(esem_post(s) == 0);
    HX_CHECK(esem_wait(s) == 0);
    return 0;
}

static void permit_of_killed_holder_is_not_given_back(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "mutex");
    esem_t *m = esem_open(name, O_CREAT | O_EXCL, 0600, 1);
    assert_non_null(m);
    struct mutex_arg a = {.mutex = m};
    hx_gate_init(&a.taken);
    pid_t c = hx_fork(child_take_and_hang, &a);
    assert_true(c > 0);
    assert_int_equal(hx_gate_wait(&a.taken, 30000), 0);
    kill(c, SIGKILL);
    hx_reap(c, 10000);
    hx_gate_close(&a.taken);
    assert_true(hx_wait_holder(name, c, 0, 10000));

    assert_int_equal(value_of(m), 0);
    errno = 0;
    assert_int_equal(esem_trywait(m), -1);
    assert_int_equal(errno, EAGAIN);
    /* Others keep working with it. */
    pid_t d = hx_fork(child_post_then_wait, m);
    assert_true(d > 0);
    hx_assert_child_ok(d, 30000);
    assert_int_equal(esem_post(m), 0);
    assert_int_equal(esem_wait(m), 0);
    assert_int_equal(value_of(m), 0);
    assert_int_equal(esem_close(m), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static int child_post_and_die(void *arg)
{
    esem_t *s = arg;
    if (esem_post(s) != 0)
        return 1;
    raise(SIGKILL);
    return 1;
}

static int child_post_and_exit(void *arg)
{
    esem_t *s = arg;
    if (esem_post(s) != 0)
        return 1;
    _exit(0);
}

static void post_right_before_death_is_not_lost(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    enum { ROUNDS = 20 };
    for (int i = 0; i < ROUNDS; i++) {
        pid_t c = hx_fork(i % 2 ? child_post_and_die : child_post_and_exit, s);
        assert_true(c > 0);
        int st = hx_reap(c, 30000);
        assert_true(st != -1);
        if (WIFEXITED(st))
            assert_int_equal(WEXITSTATUS(st), 0);
        else
            assert_int_equal(WTERMSIG(st), SIGKILL);
    }
    for (int i = 0; i < ROUNDS; i++)
        assert_int_equal(timed_wait_s(s, 30), 0);
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_destroy(s), 0);
}

static int child_open_then_exit(void *arg)
{
    const char *name = arg;
    esem_t *s = esem_open(name, 0, 0, 0);
    HX_CHECK(s != NULL);
    return 0; /* exits holding it open */
}

static void session_end_is_logged_and_opens_closed(void **state)
{
    (void)state;
    char name[64], line[64];
    hx_name(name, sizeof name, "sessend");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    assert_int_equal(esem_close(s), 0); /* the child connects fresh */
    size_t mark = hx_log_mark();
    pid_t c = hx_fork(child_open_then_exit, name);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);
    snprintf(line, sizeof line, "session end pid=%d ", (int)c);
    assert_true(hx_log_wait(mark, line, 10000));
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.opens, 0);
    assert_int_equal(esem_unlink(name), 0);
    assert_int_equal(hx_show(name, &sh), -1);
}

/* ---- the daemon dies under a client ---- */

static int child_daemon_dies(void *arg)
{
    (void)arg;
    struct hx_daemon d;
    HX_CHECK(hx_daemon_start(&d) == 0);
    setenv("ESEM_SOCKET", d.sock, 1);
    esem_t *s = esem_create(0);
    HX_CHECK(s != NULL);
    esem_t *n = esem_open("/itest-eio", O_CREAT, 0600, 0);
    HX_CHECK(n != NULL);
    HX_CHECK(esem_post(n) == 0);

    /* Stop it (cleanly: it must still exit 0), then every call fails
     * closed with EIO: no call succeeds against a vanished daemon. */
    kill(d.pid, SIGTERM);
    int st = hx_reap(d.pid, 20000);
    HX_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    d.exited = 1;
    d.status = st;
    errno = 0;
    HX_CHECK(esem_wait(s) == -1 && errno == EIO);
    errno = 0;
    HX_CHECK(esem_post(n) == -1 && errno == EIO);
    errno = 0;
    HX_CHECK(esem_trywait(n) == -1 && errno == EIO);
    errno = 0;
    HX_CHECK(esem_open("/itest-eio2", O_CREAT, 0600, 0) == NULL && errno == EIO);
    errno = 0;
    HX_CHECK(esem_create(0) == NULL && errno == EIO);
    struct stat st_err;
    HX_CHECK(stat(d.err, &st_err) == 0 && st_err.st_size == 0); /* no sanitizer report */
    hx_daemon_remove_files(&d);
    return 0;
}

static void daemon_death_fails_closed_with_eio(void **state)
{
    (void)state;
    pid_t c = hx_fork(child_daemon_dies, NULL);
    assert_true(c > 0);
    hx_assert_child_ok(c, 50000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(waiter_killed_is_removed),
        HX_TEST(many_waiters_killed_others_keep_their_place),
        HX_TEST(permit_of_killed_holder_is_not_given_back),
        HX_TEST(post_right_before_death_is_not_lost),
        HX_TEST(session_end_is_logged_and_opens_closed),
        HX_TEST(daemon_death_fails_closed_with_eio),
    };
    return HX_RUN_GROUP(tests);
}
