/*
 * Per-user limits against a real esemd (--user-sems 3 --user-waits 1
 * --user-clients 3 --user-pending 2): a uid that reaches one gets a clear
 * error (ENOSPC for semaphores, EUSERS for connections) and an audit line;
 * a wait over the limit blocks instead of failing (never a broken lock);
 * root is not limited.
 */
#include "harness.h"

#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "esem.h"

#define NOBODY 65534

static int become_nobody(void)
{
    return setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0 ? 0 : -1;
}

static int in_child(int (*fn)(void), int as_nobody)
{
    pid_t p = fork();
    if (p == 0) {
        alarm(30);
        _exit(as_nobody && become_nobody() < 0 ? 90 : fn());
    }
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int sems_child(void)
{
    esem_t *s[3];
    for (int i = 0; i < 3; i++)
        if (!(s[i] = esem_create(0)))
            return 1;
    errno = 0;
    if (esem_create(0) || errno != ENOSPC)
        return 2;
    char name[64];
    snprintf(name, sizeof name, "/itest-quota-%d", (int)getpid());
    errno = 0;
    if (esem_open(name, O_CREAT, 0600, 0) || errno != ENOSPC)
        return 3;
    if (esem_destroy(s[0]) != 0 || !(s[0] = esem_create(0))) /* given back, taken again */
        return 4;
    return 0;
}

static void semaphores_per_user(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    size_t mark = hx_log_mark();
    assert_int_equal(in_child(sems_child, 1), 0);
    assert_true(hx_log_wait(mark, "a per-user limit is reached", 5000));
    /* root is not limited */
    esem_t *r[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(r[i] = esem_create(0));
    for (int i = 0; i < 5; i++)
        assert_int_equal(esem_destroy(r[i]), 0);
}

static esem_t *shared;
static void *blocked_wait(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)esem_wait(shared);
}

static int waits_child(void)
{
    if (!(shared = esem_create(0)))
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, blocked_wait, NULL) != 0)
        return 2;
    usleep(200000); /* its wait is queued: the uid's one */
    struct timespec d;
    clock_gettime(CLOCK_REALTIME, &d);
    d.tv_nsec += 300000000;
    if (d.tv_nsec >= 1000000000) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000;
    }
    errno = 0;
    int r = esem_timedwait(shared, &d);
    if (r != -1 || errno != ETIMEDOUT) /* blocked, not ENOSPC, not a permit */
        return 3;
    if (esem_post(shared) != 0)
        return 4;
    void *ret;
    pthread_join(t, &ret);
    return ret == NULL ? 0 : 5;
}

static void a_wait_over_the_limit_blocks(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    assert_int_equal(in_child(waits_child, 1), 0);
}

static int clients_child(void)
{
    int go[2];
    if (pipe(go) < 0)
        return 1;
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        int up[2];
        if (pipe(up) < 0)
            return 1;
        kids[i] = fork();
        if (kids[i] == 0) {
            close(go[1]);
            esem_t *s = esem_create(0); /* connects: one of the uid's 3 */
            char b = s ? 1 : 0;
            if (write(up[1], &b, 1) != 1)
                _exit(1);
            if (read(go[0], &b, 1) < 0)
                _exit(1);
            _exit(0);
        }
        close(up[1]);
        char b = 0;
        if (read(up[0], &b, 1) != 1 || b != 1)
            return 2;
        close(up[0]);
    }
    errno = 0;
    esem_t *fourth = esem_create(0); /* the fourth connection */
    int rc = fourth == NULL && errno == EUSERS ? 0 : 3;
    if (rc)
        fprintf(stderr, "fourth connection: %s\n", fourth ? "accepted" : strerror(errno));
    close(go[1]);
    for (int i = 0; i < 3; i++)
        waitpid(kids[i], NULL, 0);
    return rc;
}

static void connections_per_user(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    size_t mark = hx_log_mark();
    assert_int_equal(in_child(clients_child, 1), 0);
    assert_true(hx_log_wait(mark, "per-user limit of connections (--user-clients)", 5000));
}

int main(void)
{
    static const char *const limits[] = {"--user-sems",    "3", "--user-waits",   "1",
                                         "--user-clients", "3", "--user-pending", "2",
                                         NULL};
    hx_daemon_extra_args = limits;
    const struct CMUnitTest tests[] = {
        HX_TEST(semaphores_per_user),
        HX_TEST(a_wait_over_the_limit_blocks),
        HX_TEST(connections_per_user),
    };
    return HX_RUN_GROUP(tests);
}
