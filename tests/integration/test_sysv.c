/*
 * System V sets through libesem's esem_sem* calls against a real esemd:
 * data replies, key sessions (their replies and data are MAC-checked by
 * the library), strict sets across fork, SEM_UNDO after kill -9, timeouts,
 * and signals (EINTR never lost).
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "esem.h"

static char kdir[64] = "/tmp/esem-sysv-XXXXXX", keyring[128];
static unsigned char key[32];

static int op(int id, unsigned short n, short o, short flg)
{
    struct sembuf b = {n, o, flg};
    return esem_semop(id, &b, 1);
}

/* run fn in a child (its own esem session), return its exit status */
static int in_child(int (*fn)(void *), void *arg)
{
    pid_t p = fork();
    if (p == 0) {
        alarm(30);
        _exit(fn(arg));
    }
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "child: %s:%d: %s (errno %s)\n", __FILE__, __LINE__, #c,              \
                    strerror(errno));                                                             \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int round_trip(void *arg)
{
    int keyed = arg != NULL;
    if (keyed)
        CHECK(esem_set_key(key) == 0);
    int id = esem_semget(IPC_PRIVATE, 130, IPC_CREAT | 0600); /* > one GETALL step */
    CHECK(id >= 0);
    unsigned short v[130], got[130];
    for (int i = 0; i < 130; i++)
        v[i] = (unsigned short)(i * 3);
    CHECK(esem_semctl(id, 0, SETALL, v) == 0);
    memset(got, 0xff, sizeof got);
    CHECK(esem_semctl(id, 0, GETALL, got) == 0);
    CHECK(memcmp(v, got, sizeof v) == 0);
    struct sembuf two[2] = {{129, -3, 0}, {0, 5, SEM_UNDO}};
    CHECK(esem_semop(id, two, 2) == 0);
    CHECK(esem_semctl(id, 129, GETVAL) == 384);
    CHECK(esem_semctl(id, 0, GETPID) == getpid());
    struct semid_ds ds;
    CHECK(esem_semctl(id, 0, IPC_STAT, &ds) == 0);
    CHECK(ds.sem_nsems == 130 && (ds.sem_perm.mode & 0777) == 0600 && ds.sem_otime > 0);
    struct seminfo si;
    CHECK(esem_semctl(0, 0, IPC_INFO, &si) >= 0 && si.semopm == 32 && si.semvmx == 32767);
    CHECK(esem_semctl(id, 0, IPC_RMID) == 0);
    errno = 0;
    CHECK(esem_semctl(id, 0, GETVAL) == -1 && errno == EINVAL);
    return 0;
}

static void data_replies_round_trip(void **state)
{
    (void)state;
    assert_int_equal(in_child(round_trip, NULL), 0);
}

static void key_session_replies_and_data_check_out(void **state)
{
    (void)state;
    assert_int_equal(in_child(round_trip, key), 0);
}

struct strict_arg {
    int id;
};

static int outsider(void *arg)
{
    int id = ((struct strict_arg *)arg)->id;
    errno = 0;
    CHECK(op(id, 0, 1, IPC_NOWAIT) == -1 && errno == EACCES);
    errno = 0;
    CHECK(esem_semctl(id, 0, SETVAL, 3) == -1 && errno == EACCES);
    errno = 0;
    CHECK(esem_semctl(id, 0, IPC_RMID) == -1 && errno == EPERM);
    return 0;
}

static int strict_owner(void *arg)
{
    (void)arg;
    CHECK(esem_set_key(key) == 0);
    int id = esem_semget(IPC_PRIVATE, 1, IPC_CREAT | 0600 | ESEM_O_STRICT);
    CHECK(id >= 0);
    CHECK(op(id, 0, 1, 0) == 0);
    /* a fork child of the key's holder acts as it */
    pid_t p = fork();
    if (p == 0)
        _exit(op(id, 0, -1, IPC_NOWAIT) == 0 ? 0 : 1);
    int st;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("%d\n", id);
    fflush(stdout);
    return 0;
}

static void strict_set_of_a_key_refuses_another_process(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t p = fork();
    if (p == 0) {
        dup2(fd[1], 1);
        alarm(30);
        int r = strict_owner(NULL);
        char c;
        r |= read(0, &c, 1) < 0; /* stay alive until the outsider is done */
        _exit(r);
    }
    close(fd[1]);
    char buf[32] = {0};
    assert_true(read(fd[0], buf, sizeof buf - 1) > 0);
    struct strict_arg a = {.id = atoi(buf)};
    /* not a child of the owner, no key: a PID session of the same uid */
    assert_int_equal(in_child(outsider, &a), 0);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    close(fd[0]);
}

static int holder(void *arg)
{
    int id = *(int *)arg;
    CHECK(op(id, 0, -1, SEM_UNDO) == 0);
    CHECK(op(id, 1, 1, 0) == 0);
    pause();
    return 0;
}

static void undo_returns_the_mutex_of_a_killed_holder(void **state)
{
    (void)state;
    int id = esem_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    assert_true(id >= 0);
    assert_int_equal(esem_semctl(id, 0, SETVAL, 1), 0);
    for (int round = 0; round < 10; round++) {
        pid_t p = fork();
        if (p == 0) {
            alarm(30);
            _exit(holder(&id));
        }
        assert_int_equal(op(id, 1, -1, 0), 0); /* it holds the mutex */
        if (round % 2) {
            /* and a second process waits for it */
            pid_t w = fork();
            if (w == 0) {
                alarm(30);
                _exit(op(id, 0, -1, 0) == 0 && op(id, 0, 1, 0) == 0 ? 0 : 1);
            }
            for (int i = 0; i < 5000 && esem_semctl(id, 0, GETNCNT) != 1; i++)
                usleep(1000);
            kill(p, SIGKILL);
            int st;
            waitpid(w, &st, 0);
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        } else {
            kill(p, SIGKILL);
        }
        waitpid(p, NULL, 0);
        struct sembuf b = {0, -1, 0};
        struct timespec rel = {10, 0};
        assert_int_equal(esem_semtimedop(id, &b, 1, &rel), 0);
        assert_int_equal(op(id, 0, 1, 0), 0);
    }
    assert_int_equal(esem_semctl(id, 0, GETVAL), 1);
    assert_int_equal(esem_semctl(id, 0, IPC_RMID), 0);
}

static volatile sig_atomic_t handled;
static void on_sig(int sig)
{
    (void)sig;
    handled++;
}

static void signals_end_a_blocked_semop_every_time(void **state)
{
    (void)state;
    int id = esem_semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    assert_true(id >= 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGALRM, &sa, &old);
    /* the timer fires once the thread sleeps in the semop (a handler that
     * runs before, during the first non-blocking try, is not reported: as
     * with glibc's sem_wait) */
    for (int i = 0; i < 50; i++) {
        struct itimerval it = {{0, 0}, {0, 50000 + (i % 7) * 5000}};
        setitimer(ITIMER_REAL, &it, NULL);
        errno = 0;
        int r = op(id, 0, -1, 0);
        assert_int_equal(r, -1);
        assert_int_equal(errno, EINTR);
    }
    /* SA_RESTART: the wait goes on (a documented difference), the timeout ends it */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    handled = 0;
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct sembuf b = {0, -1, 0};
    struct timespec rel = {0, 300000000};
    errno = 0;
    assert_int_equal(esem_semtimedop(id, &b, 1, &rel), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(handled, 1);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(esem_semctl(id, 0, GETNCNT), 0);
    assert_int_equal(esem_semctl(id, 0, IPC_RMID), 0);
}

static void esemctl_lists_and_removes_sets(void **state)
{
    (void)state;
    int id = esem_semget(0x5e5e0001, 2, IPC_CREAT | 0640);
    assert_true(id >= 0);
    int st;
    char *out = hx_ctl(&st, "ipcs", NULL); /* hx_ctl asks for --json */
    assert_int_equal(st, 0);
    char want[64];
    snprintf(want, sizeof want, "\"key\":\"0x5e5e0001\",\"semid\":%d,", id);
    assert_non_null(strstr(out, want));
    free(out);
    char ids[32];
    snprintf(ids, sizeof ids, "%d", id);
    out = hx_ctl(&st, "ipcs", ids, NULL);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\"sems\":[{\"value\":0,"));
    free(out);
    out = hx_ctl(&st, "ipcrm", ids, NULL);
    assert_int_equal(st, 0);
    free(out);
    errno = 0;
    assert_int_equal(esem_semget(0x5e5e0001, 0, 0), -1);
    assert_int_equal(errno, ENOENT);
}

static int write_keyring(void)
{
    if (!mkdtemp(kdir) || getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        return -1;
    snprintf(keyring, sizeof keyring, "%s/keyring", kdir);
    FILE *f = fopen(keyring, "w");
    if (!f)
        return -1;
    for (int i = 0; i < 32; i++)
        fprintf(f, "%02x", key[i]);
    fprintf(f, "\n");
    fclose(f);
    return chmod(keyring, 0600);
}

int main(void)
{
    if (write_keyring() < 0) {
        perror("keyring");
        return 1;
    }
    const char *extra[] = {"--keyring", keyring, NULL};
    hx_daemon_extra_args = extra;
    const struct CMUnitTest tests[] = {
        HX_TEST(data_replies_round_trip),
        HX_TEST(key_session_replies_and_data_check_out),
        HX_TEST(strict_set_of_a_key_refuses_another_process),
        HX_TEST(undo_returns_the_mutex_of_a_killed_holder),
        HX_TEST(signals_end_a_blocked_semop_every_time),
        HX_TEST(esemctl_lists_and_removes_sets),
    };
    int r = HX_RUN_GROUP(tests);
    unlink(keyring);
    rmdir(kdir);
    return r;
}
