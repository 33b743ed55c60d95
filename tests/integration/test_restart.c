/*
 * Restart without loss: a new esemd takes over the running one's state
 * (esemd --takeover, esemctl restart; host/handover.c).  A waiter blocked
 * across restarts wakes on a later post, and waiters keep their order; values, System V sets and their
 * undo records are kept; a connection that had not said hello yet is
 * answered by the new daemon; a key session's replies still carry the
 * core's MAC under its session key; the daemon's pid changes, the
 * clients' do not.  A takeover that is not allowed, or that fails half-way, leaves the
 * running daemon serving with nothing lost.
 */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "esem.h"
#include "proto.h"

extern char **environ;

/* hx's daemon's own pid, as `esemctl ping` reports it. */
static pid_t daemon_pid(void)
{
    int st;
    char *out = hx_ctl(&st, "ping", (char *)NULL);
    const char *p = out ? strstr(out, "\"pid\":") : NULL;
    pid_t pid = p ? (pid_t)atoi(p + 6) : -1;
    free(out);
    return pid;
}

/* Start `$ESEMD --takeover -f` on hx's socket and log as our child, and
 * wait for it.  nofile > 0: under `prlimit --nofile=N:N` and with no
 * descriptor but stdio inherited, so that it cannot take in the state (the
 * real esemd then, not a wrapper script a shell would need descriptors
 * for).  On success (the old daemon, our child too, exited 0 after handing
 * over) hx names the new daemon and 0 is returned; else the taker's wait
 * status. */
static int restart(int nofile)
{
    const char *bin = getenv("ESEMD");
    if (nofile > 0 && getenv("ESEMD_REAL"))
        bin = getenv("ESEMD_REAL");
    char lim[32];
    snprintf(lim, sizeof lim, "--nofile=%d:%d", nofile, nofile);
    const char *argv[] = {"prlimit", lim, "--", bin, "--takeover", "-f", "-s", hx.sock,
                          "--log", hx.log, NULL};
    const char *const *av = nofile > 0 ? argv : argv + 3;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, hx.err, O_WRONLY | O_APPEND | O_CREAT, 0600);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t taker;
    size_t mark = hx_log_mark();
    int r = posix_spawnp(&taker, av[0], &fa, NULL, (char *const *)av, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(r, 0);
    char line[64];
    snprintf(line, sizeof line, "esemd[%d]: took over from pid %d", (int)taker, (int)hx.pid);
    for (int i = 0; i < 200; i++) {
        if (hx_log_count(mark, line) > 0) {
            /* the old daemon handed over and exits 0 */
            int st = hx_reap(hx.pid, 10000);
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fail_msg("the old esemd ended with %s", hx_status_str(st));
            hx.pid = taker;
            return 0;
        }
        int st;
        if (waitpid(taker, &st, WNOHANG) == taker)
            return st ? st : -1;
        hx_sleep_ms(50);
    }
    fail_msg("the takeover did not finish in 10 s");
    return -1;
}

static int child_wait(void *arg)
{
    HX_CHECK(esem_wait(arg) == 0);
    return 0;
}

static void waiter_sleeps_through_restarts_and_wakes_on_a_later_post(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "rs-wait");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    pid_t c = hx_fork(child_wait, s);
    assert_true(hx_wait_waiter(name, c, 1, 10000));
    pid_t first = daemon_pid();
    for (int i = 0; i < 3; i++) {
        pid_t before = hx.pid;
        assert_int_equal(restart(0), 0);
        assert_int_not_equal(hx.pid, before);
        assert_int_equal(daemon_pid(), hx.pid);
        /* still queued, in its own process, in the new daemon's core */
        assert_true(hx_wait_waiter(name, c, 1, 10000));
        assert_int_equal(waitpid(c, NULL, WNOHANG), 0); /* and not answered */
    }
    assert_int_not_equal(daemon_pid(), first);
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0); /* our handle is still good */
    assert_int_equal(v, 0);
    assert_int_equal(esem_post(s), 0);
    hx_assert_child_ok(c, 10000);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* Waiters keep their place: two queued in order on a FIFO semaphore, a
 * restart, then one post goes to the first, the next to the second. */
static void waiters_keep_their_place_in_the_queue(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "rs-order");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL | ESEM_O_FIFO, 0600, 0);
    assert_non_null(s);
    pid_t first = hx_fork(child_wait, s);
    assert_true(hx_wait_waiter(name, first, 1, 10000));
    pid_t second = hx_fork(child_wait, s);
    assert_true(hx_wait_waiter(name, second, 1, 10000));
    assert_int_equal(restart(0), 0);
    assert_int_equal(esem_post(s), 0);
    hx_assert_child_ok(first, 10000);
    hx_sleep_ms(100);
    assert_int_equal(waitpid(second, NULL, WNOHANG), 0); /* still waiting */
    assert_true(hx_wait_waiter(name, second, 1, 10000));
    assert_int_equal(esem_post(s), 0);
    hx_assert_child_ok(second, 10000);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void values_and_names_are_kept(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "rs-value");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 5);
    assert_non_null(s);
    assert_int_equal(restart(0), 0);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.value, 5);
    /* the name opens the same semaphore; a new one can be made */
    esem_t *again = esem_open(name, 0, 0, 0);
    assert_non_null(again);
    assert_int_equal(esem_trywait(again), 0);
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    assert_int_equal(v, 4);
    char other[64];
    hx_name(other, sizeof other, "rs-new");
    esem_t *n = esem_open(other, O_CREAT | O_EXCL, 0600, 1);
    assert_non_null(n);
    assert_int_equal(esem_close(n), 0);
    assert_int_equal(esem_unlink(other), 0);
    assert_int_equal(esem_close(again), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

struct undo_arg {
    int semid;
    struct hx_gate held;
};

static int child_hold_with_undo(void *arg)
{
    struct undo_arg *a = arg;
    struct sembuf op = {0, -1, SEM_UNDO};
    HX_CHECK(esem_semop(a->semid, &op, 1) == 0);
    HX_CHECK(hx_gate_post(&a->held) == 0);
    pause(); /* killed */
    return 0;
}

static void sysv_sets_and_undo_records_are_kept(void **state)
{
    (void)state;
    struct undo_arg a;
    a.semid = esem_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    assert_true(a.semid >= 0);
    assert_int_equal(esem_semctl(a.semid, 0, SETVAL, 1), 0);
    assert_int_equal(esem_semctl(a.semid, 1, SETVAL, 7), 0);
    hx_gate_init(&a.held);
    pid_t c = hx_fork(child_hold_with_undo, &a);
    assert_int_equal(hx_gate_wait(&a.held, 10000), 0);
    assert_int_equal(esem_semctl(a.semid, 0, GETVAL), 0);
    assert_int_equal(restart(0), 0);
    assert_int_equal(esem_semctl(a.semid, 0, GETVAL), 0);
    assert_int_equal(esem_semctl(a.semid, 1, GETVAL), 7);
    assert_int_equal(esem_semctl(a.semid, 0, GETPID), (int)c);
    /* the holder dies under the new daemon: its undo gives the mutex back */
    kill(c, SIGKILL);
    hx_reap(c, 10000);
    int v = -1;
    for (int i = 0; i < 200 && v != 1; i++) {
        v = esem_semctl(a.semid, 0, GETVAL);
        if (v != 1)
            hx_sleep_ms(25);
    }
    assert_int_equal(v, 1);
    hx_gate_close(&a.held);
    assert_int_equal(esem_semctl(a.semid, 0, IPC_RMID), 0);
}

static char keyfile[128];

/* A key session: a helper with the key (esem_set_key) waits across the
 * restart; the grant, and every reply after it, passes its MAC check, so
 * the new daemon is the core that holds the session key (an impostor
 * daemon could not answer: the client would fail with EBADMSG). */
static void a_key_session_keeps_working_across_a_restart(void **state)
{
    (void)state;
    char name[64], setkey[160], create[80];
    hx_name(name, sizeof name, "rs-key");
    snprintf(setkey, sizeof setkey, "setkey:%s", keyfile);
    snprintf(create, sizeof create, "create:%s", name);
    const char *const steps[] = {setkey, create, "sync", "wait", "post", "trywait",
                                 "getvalue:0", "close", NULL};
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL, steps), 0);
    assert_int_equal(hx_helper_ready(&h, 10000), 0);
    assert_int_equal(hx_helper_go(&h), 0);
    assert_true(hx_wait_waiter(name, h.pid, 1, 10000));
    assert_int_equal(restart(0), 0);
    esem_t *s = esem_open(name, 0, 0, 0);
    assert_non_null(s);
    assert_int_equal(esem_post(s), 0);
    hx_assert_ok_status(hx_helper_end(&h, 10000), "the key-session helper");
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* A connection made before the restart whose hello comes after it. */
static void a_connection_before_its_hello_is_answered_by_the_new_daemon(void **state)
{
    (void)state;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(hx.sock) < sizeof sa.sun_path);
    memcpy(sa.sun_path, hx.sock, strlen(hx.sock) + 1);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    hx_sleep_ms(100); /* accepted by the old daemon */
    assert_int_equal(restart(0), 0);
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_ADMIN};
    assert_int_equal(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(recv(s, &rep, sizeof rep, 0), (ssize_t)sizeof rep);
    assert_int_equal(rep.err, 0);
    assert_int_equal(rep.daemon_pid, hx.pid);
    close(s);
}

static void a_takeover_is_refused_without_allow_takeover(void **state)
{
    (void)state;
    struct hx_daemon d2;
    assert_int_equal(hx_daemon_start(&d2), 0); /* no --allow-takeover */
    const char *bin = getenv("ESEMD");
    const char *argv[] = {bin, "--takeover", "-f", "-s", d2.sock, "--log", d2.log, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t taker;
    assert_int_equal(posix_spawn(&taker, bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st = hx_reap(taker, 20000);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
    assert_true(hx_daemon_alive(&d2));
    FILE *f = fopen(d2.log, "r");
    assert_non_null(f);
    char line[512];
    int refused = 0;
    while (fgets(line, sizeof line, f))
        refused += strstr(line, "without --allow-takeover") != NULL;
    fclose(f);
    assert_true(refused > 0);
    assert_int_equal(hx_daemon_stop(&d2), 0);
}

static void a_takeover_that_fails_half_way_leaves_the_daemon_serving(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "rs-fail");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    pid_t c = hx_fork(child_wait, s);
    assert_true(hx_wait_waiter(name, c, 1, 10000));
    pid_t before = hx.pid;
    size_t mark = hx_log_mark();
    /* Too few descriptors to take the state in (stdio, log, socket and
     * pidfd leave 3 of 9 for the first message's 4): it gives up after
     * the old daemon sent everything. */
    int st = restart(9);
    assert_true(st != 0);
    assert_true(hx_log_wait(mark, "failed: serving on", 10000));
    assert_int_equal(hx.pid, before);
    assert_true(hx_daemon_alive(&hx));
    assert_true(hx_wait_waiter(name, c, 1, 10000));
    assert_int_equal(esem_post(s), 0);
    hx_assert_child_ok(c, 10000);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* esemctl restart: the daemon detaches as usual; as a subreaper we get it
 * as our child, so the harness can stop it. */
static void esemctl_restart_starts_the_new_daemon_and_reports_both_pids(void **state)
{
    (void)state;
    pid_t before = hx.pid;
    int st;
    char *out = hx_ctl(&st, "restart", "--esemd", getenv("ESEMD"), "--", "--log", hx.log,
                       (char *)NULL);
    assert_non_null(out);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const char *o = strstr(out, "\"old_pid\":"), *p = strstr(out, ",\"pid\":");
    assert_non_null(o);
    assert_non_null(p);
    assert_int_equal(atoi(o + 10), (int)before);
    pid_t now = (pid_t)atoi(p + 7);
    free(out);
    assert_int_not_equal(now, before);
    st = hx_reap(before, 10000);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    hx.pid = now;
    assert_int_equal(daemon_pid(), now);
}

int main(int argc, char **argv)
{
    hx_helper_dispatch(argc, argv);
    /* one key, provisioned to the daemon (a key file is a one-line keyring) */
    unsigned char key[32];
    FILE *r = fopen("/dev/urandom", "re");
    if (!r || fread(key, 1, sizeof key, r) != sizeof key)
        return 1;
    fclose(r);
    snprintf(keyfile, sizeof keyfile, "/tmp/esem-itest-restart-key.%d", (int)getpid());
    if (hx_write_key(keyfile, key) < 0)
        return 1;
    static const char *extra[] = {"--allow-takeover", "--keyring", keyfile, NULL};
    hx_daemon_extra_args = extra;
    /* daemons started by esemctl restart detach; they become our children */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        HX_TEST(waiter_sleeps_through_restarts_and_wakes_on_a_later_post),
        HX_TEST(waiters_keep_their_place_in_the_queue),
        HX_TEST(values_and_names_are_kept),
        HX_TEST(sysv_sets_and_undo_records_are_kept),
        HX_TEST(a_key_session_keeps_working_across_a_restart),
        HX_TEST(a_connection_before_its_hello_is_answered_by_the_new_daemon),
        HX_TEST(a_takeover_is_refused_without_allow_takeover),
        HX_TEST(a_takeover_that_fails_half_way_leaves_the_daemon_serving),
        HX_TEST(esemctl_restart_starts_the_new_daemon_and_reports_both_pids),
    };
    int rc = HX_RUN_GROUP(tests);
    unlink(keyfile);
    return rc;
}
