/*
 * System V semaphores (semget/semop/semtimedop/semctl): one program, run on
 * the kernel and under libesem-preload.so (run-shim.sh), with the same
 * expectations — except where DEVIATIONS.md says esem differs (SEMOPM).
 * Under the shim it also checks that the kernel's table never sees a set.
 */
#include "px.h"

#include <sys/ipc.h>
#include <sys/time.h>
#include <sys/sem.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

static int mkset(int nsems)
{
    int id = semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600);
    assert_true(id >= 0);
    return id;
}

static void rmset(int id) { assert_int_equal(semctl(id, 0, IPC_RMID), 0); }

static int getval(int id, int n) { return semctl(id, n, GETVAL); }

static void setval(int id, int n, int v)
{
    union semun u = {.val = v};
    assert_int_equal(semctl(id, n, SETVAL, u), 0);
}

static int op(int id, unsigned short n, short o, short flg)
{
    struct sembuf b = {n, o, flg};
    return semop(id, &b, 1);
}

/* a key of our own: this test's pid in the low bits */
static key_t our_key(int k) { return (key_t)(0x5e000000 | (getpid() & 0xffff) << 4 | k); }

/* Is the key in the kernel's table (/proc/sysvipc/sem)? */
static int kernel_has_key(key_t key)
{
    FILE *f = fopen("/proc/sysvipc/sem", "r");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        long long k;
        if (sscanf(line, "%lld", &k) == 1 && (key_t)k == key)
            found = 1;
    }
    fclose(f);
    return found;
}

static void get_create_find_and_stat(void **state)
{
    (void)state;
    key_t key = our_key(1);
    int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0640);
    assert_true(id >= 0);
    assert_int_equal(semget(key, 0, 0), id);
    assert_int_equal(semget(key, 2, 0600), id);
    errno = 0;
    assert_int_equal(semget(key, 3, IPC_CREAT | IPC_EXCL | 0600), -1);
    assert_int_equal(errno, EEXIST);
    errno = 0;
    assert_int_equal(semget(key, 4, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(semget(our_key(2), 1, 0600), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(semget(our_key(2), 0, IPC_CREAT | 0600), -1);
    assert_int_equal(errno, EINVAL);
    struct semid_ds ds;
    union semun u = {.buf = &ds};
    assert_int_equal(semctl(id, 0, IPC_STAT, u), 0);
    assert_int_equal(ds.sem_nsems, 3);
    assert_int_equal(ds.sem_perm.mode & 0777, 0640);
    assert_int_equal(ds.sem_perm.uid, geteuid());
    assert_int_equal(ds.sem_perm.cuid, geteuid());
    assert_int_equal(ds.sem_perm.__key, key);
    assert_true(ds.sem_ctime > 0);
    assert_int_equal(ds.sem_otime, 0);
    /* the kernel's table has it only when it is the kernel's */
    assert_int_equal(kernel_has_key(key), px_under_esem() ? 0 : 1);
    ds.sem_perm.mode = 0600;
    assert_int_equal(semctl(id, 0, IPC_SET, u), 0);
    assert_int_equal(semctl(id, 0, IPC_STAT, u), 0);
    assert_int_equal(ds.sem_perm.mode & 0777, 0600);
    rmset(id);
    errno = 0;
    assert_int_equal(semctl(id, 0, GETVAL), -1);
    assert_true(errno == EINVAL || errno == EIDRM);
    /* IPC_PRIVATE: a new set every time */
    int a = mkset(1), b = mkset(1);
    assert_true(a != b);
    rmset(a);
    rmset(b);
}

static void semop_all_or_none_and_errors(void **state)
{
    (void)state;
    int id = mkset(2);
    setval(id, 0, 1);
    struct sembuf two[2] = {{0, -1, 0}, {1, -1, IPC_NOWAIT}};
    errno = 0;
    assert_int_equal(semop(id, two, 2), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(getval(id, 0), 1);
    struct sembuf rep[2] = {{0, 1, 0}, {0, -2, 0}};
    assert_int_equal(semop(id, rep, 2), 0);
    assert_int_equal(getval(id, 0), 0);
    assert_int_equal(semctl(id, 0, GETPID), getpid());
    errno = 0;
    assert_int_equal(op(id, 2, 1, 0), -1);
    assert_int_equal(errno, EFBIG);
    errno = 0;
    assert_int_equal(semop(id, two, 0), -1);
    assert_int_equal(errno, EINVAL);
    static struct sembuf many[501];
    errno = 0;
    assert_int_equal(semop(id, many, 501), -1);
    assert_int_equal(errno, E2BIG);
    union semun u = {.val = 32768};
    errno = 0;
    assert_int_equal(semctl(id, 0, SETVAL, u), -1);
    assert_int_equal(errno, ERANGE);
    setval(id, 0, 32767);
    errno = 0;
    assert_int_equal(op(id, 0, 1, 0), -1);
    assert_int_equal(errno, ERANGE);
    /* LMBench passes SETVAL's value as a bare int */
    assert_int_equal(semctl(id, 1, SETVAL, 5), 0);
    assert_int_equal(getval(id, 1), 5);
    unsigned short all[2] = {3, 4}, got[2] = {0, 0};
    union semun a = {.array = all}, g = {.array = got};
    assert_int_equal(semctl(id, 0, SETALL, a), 0);
    assert_int_equal(semctl(id, 0, GETALL, g), 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 4);
    struct seminfo si;
    union semun i = {.__buf = &si};
    assert_true(semctl(0, 0, IPC_INFO, i) >= 0);
    assert_int_equal(si.semvmx, 32767);
    assert_true(si.semopm >= 32);
    rmset(id);
}

static int waiter_child(void *arg)
{
    int id = *(int *)arg;
    PX_CHILD_CHECK(op(id, 0, -1, 0) == 0);
    return 0;
}

static int wait_for(int id, int cmd, int want)
{
    for (int i = 0; i < PX_LONG_MS; i++) {
        if (semctl(id, 0, cmd) == want)
            return 1;
        px_sleep_ms(1);
    }
    return 0;
}

static void blocked_across_fork_and_zero_wait(void **state)
{
    (void)state;
    int id = mkset(1);
    pid_t c = px_fork(waiter_child, &id);
    assert_true(wait_for(id, GETNCNT, 1));
    assert_int_equal(op(id, 0, 1, 0), 0);
    assert_true(px_reap_ok(c, PX_LONG_MS));
    assert_int_equal(getval(id, 0), 0);
    assert_int_equal(semctl(id, 0, GETPID), c); /* the waiter's op was the last */
    /* wait for zero */
    setval(id, 0, 1);
    pid_t z = fork();
    if (z == 0) {
        alarm(PX_CHILD_ALARM_S);
        _exit(op(id, 0, 0, 0) == 0 ? 0 : 1);
    }
    assert_true(wait_for(id, GETZCNT, 1));
    assert_int_equal(op(id, 0, -1, 0), 0);
    assert_true(px_reap_ok(z, PX_LONG_MS));
    rmset(id);
}

static void semtimedop_times_out_not_early(void **state)
{
    (void)state;
    int id = mkset(1);
    struct sembuf b = {0, -1, 0};
    struct timespec t0, rel = {0, 150 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    assert_int_equal(semtimedop(id, &b, 1, &rel), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(px_ms_since(&t0) >= 149);
    assert_int_equal(semctl(id, 0, GETNCNT), 0); /* it left the queue */
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    assert_int_equal(semtimedop(id, &b, 1, &bad), -1);
    assert_int_equal(errno, EINVAL);
    rmset(id);
}

static void on_alarm_plain(int sig) { (void)sig; }

static void signal_without_sa_restart_is_eintr(void **state)
{
    (void)state;
    int id = mkset(1);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_plain;
    sigaction(SIGALRM, &sa, &old);
    for (int i = 0; i < 5; i++) {
        struct itimerval it = {{0, 0}, {0, 50000}};
        setitimer(ITIMER_REAL, &it, NULL);
        errno = 0;
        assert_int_equal(op(id, 0, -1, 0), -1);
        assert_int_equal(errno, EINTR);
    }
    sigaction(SIGALRM, &old, NULL);
    alarm(PX_TEST_ALARM_S);
    assert_int_equal(semctl(id, 0, GETNCNT), 0);
    rmset(id);
}

static int holder_child(void *arg)
{
    int id = *(int *)arg;
    PX_CHILD_CHECK(op(id, 0, -1, SEM_UNDO) == 0);
    PX_CHILD_CHECK(op(id, 1, 1, 0) == 0); /* "I hold it" */
    pause();
    return 0;
}

static void sem_undo_gives_a_killed_holders_mutex_back(void **state)
{
    (void)state;
    int id = mkset(2);
    setval(id, 0, 1);
    pid_t c = px_fork(holder_child, &id);
    assert_int_equal(op(id, 1, -1, 0), 0); /* it holds the mutex now */
    assert_int_equal(getval(id, 0), 0);
    kill(c, SIGKILL);
    int st = px_reap(c, PX_LONG_MS);
    assert_true(st >= 0 && WIFSIGNALED(st));
    struct sembuf b = {0, -1, 0};
    struct timespec rel = {PX_LONG_MS / 1000, 0};
    assert_int_equal(semtimedop(id, &b, 1, &rel), 0); /* given back */
    /* a fork child does not inherit the parent's undo */
    assert_int_equal(op(id, 0, 1, 0), 0);
    pid_t p = fork();
    if (p == 0) {
        alarm(PX_CHILD_ALARM_S);
        if (op(id, 0, -1, SEM_UNDO) != 0)
            _exit(1);
        pid_t g = fork();
        if (g == 0)
            _exit(0); /* the grandchild ends: nothing to undo */
        int gs;
        waitpid(g, &gs, 0);
        _exit(getval(id, 0) == 0 ? 0 : 2);
    }
    assert_true(px_reap_ok(p, PX_LONG_MS));
    /* the child's own undo ran: at once on the kernel; on esem when the
     * daemon has seen the death, a moment after waitpid (DEVIATIONS.md) */
    int v = -1;
    for (int i = 0; i < PX_LONG_MS && (v = getval(id, 0)) != 1; i++)
        px_sleep_ms(1);
    assert_int_equal(v, 1);
    rmset(id);
}

static int idrm_child(void *arg)
{
    int id = *(int *)arg;
    errno = 0;
    int r = op(id, 0, -1, 0);
    PX_CHILD_CHECK(r == -1 && errno == EIDRM);
    return 0;
}

static void rmid_wakes_waiters_with_eidrm(void **state)
{
    (void)state;
    int id = mkset(1);
    pid_t c = px_fork(idrm_child, &id);
    assert_true(wait_for(id, GETNCNT, 1));
    rmset(id);
    assert_true(px_reap_ok(c, PX_LONG_MS));
}

static int other_user_child(void *arg)
{
    int id = *(int *)arg;
    PX_CHILD_CHECK(px_become(PX_UID_A, PX_UID_A) == 0);
    errno = 0;
    PX_CHILD_CHECK(semctl(id, 0, GETVAL) == -1 && errno == EACCES);
    errno = 0;
    PX_CHILD_CHECK(op(id, 0, 1, IPC_NOWAIT) == -1 && errno == EACCES);
    errno = 0;
    PX_CHILD_CHECK(semctl(id, 0, IPC_RMID) == -1 && errno == EPERM);
    return 0;
}

static void permissions_after_dropping_root(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    int id = mkset(1);
    pid_t c = px_fork(other_user_child, &id);
    assert_true(px_reap_ok(c, PX_LONG_MS));
    assert_int_equal(getval(id, 0), 0);
    rmset(id);
}

static void sem_stat_any_lists_the_set(void **state)
{
    (void)state;
    int id = mkset(2);
    struct seminfo si;
    union semun i = {.__buf = &si};
    int top = semctl(0, 0, SEM_INFO, i);
    assert_true(top >= 0);
    int seen = 0;
    for (int k = 0; k <= top; k++) {
        struct semid_ds ds;
        union semun u = {.buf = &ds};
        int sid = semctl(k, 0, SEM_STAT_ANY, u);
        if (sid == id && ds.sem_nsems == 2)
            seen = 1;
    }
    assert_true(seen);
    rmset(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(get_create_find_and_stat),
        PX_TEST(semop_all_or_none_and_errors),
        PX_TEST(blocked_across_fork_and_zero_wait),
        PX_TEST(semtimedop_times_out_not_early),
        PX_TEST(signal_without_sa_restart_is_eintr),
        PX_TEST(sem_undo_gives_a_killed_holders_mutex_back),
        PX_TEST(rmid_wakes_waiters_with_eidrm),
        PX_TEST(permissions_after_dropping_root),
        PX_TEST(sem_stat_any_lists_the_set),
    };
    return PX_MAIN(tests);
}
