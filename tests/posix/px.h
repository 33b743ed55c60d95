/*
 * POSIX semaphore conformance suite: shared helpers (header only).
 *
 * The programs of this suite use nothing but POSIX (<semaphore.h>,
 * <pthread.h>, ...) and cmocka: each is built once and run twice, on glibc
 * and under libesem-preload.so (run-shim.sh), with the same expectations.
 *
 * Rules every test follows:
 *   - every blocking step is bounded: a per-test alarm() in the parent, an
 *     alarm() in every forked child, explicit timeouts for joins and
 *     reaping, so that a bug fails a test instead of hanging the suite;
 *   - code in a forked child never uses cmocka's assert_* (that would run
 *     the parent's test machinery in the child): it uses PX_CHILD_CHECK,
 *     which prints the failed condition and _exit()s with status 100;
 *   - assertions are about behaviour, never about speed: sleeps only make
 *     "the waiter is surely blocked by now" likely, never required for a
 *     test to pass on a correct implementation (except where noted);
 *   - semaphore names are "/px-<tag>-<pid of the test program>", so
 *     run-shim.sh can tell the files this program would leave in /dev/shm.
 */
#ifndef PX_H
#define PX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* For functions whose frames a thread cancellation unwinds: glibc unwinds
 * C cleanup frames with an internal longjmp that AddressSanitizer does not
 * see, so the redzones of such frames' locals stay poisoned and a later
 * call on the same stack is reported as a stack-buffer-overflow (a false
 * positive).  Frames without instrumented locals leave nothing behind. */
#if defined(__SANITIZE_ADDRESS__)
#define PX_CANCEL_FRAME __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PX_CANCEL_FRAME __attribute__((no_sanitize_address))
#endif
#endif
#ifndef PX_CANCEL_FRAME
#define PX_CANCEL_FRAME
#endif

/* Bounds.  Generous: they only turn "never happens" into a failure. */
#define PX_TEST_ALARM_S 60   /* per test, in the test program */
#define PX_CHILD_ALARM_S 60  /* per forked child */
#define PX_LONG_MS 10000     /* "surely happens by then" */
#define PX_SETTLE_MS 100     /* "the waiter is surely blocked by now" */

/* uids for the tests that need other users (root only) */
#define PX_UID_A 65534 /* nobody */
#define PX_UID_B 65533

/* ---- time ---- */

static inline void px_sleep_ns(long ns)
{
    struct timespec t = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

static inline void px_sleep_ms(long ms) { px_sleep_ns(ms * 1000000L); }

static inline struct timespec px_ts_add_ms(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    } else if (t.tv_nsec < 0) {
        t.tv_sec--;
        t.tv_nsec += 1000000000L;
    }
    return t;
}

/* now + ms on clock clk (ms may be negative: a deadline in the past) */
static inline struct timespec px_deadline(clockid_t clk, long ms)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return px_ts_add_ms(t, ms);
}

static inline int px_ts_ge(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

static inline long px_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* ---- names ---- */

static pid_t px_main_pid; /* set by PX_MAIN */

static inline const char *px_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/px-%s-%d", tag, (int)px_main_pid);
    return buf;
}

/* ---- shared memory ---- */

static inline void *px_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static inline int px_getvalue(sem_t *s)
{
    int v = -12345;
    if (sem_getvalue(s, &v) != 0)
        return -12345;
    return v;
}

/* ---- forked children ---- */

__attribute__((noreturn, unused)) static void px_child_fail(const char *file, int line,
                                                            const char *what, int err)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s:%d: child %d: check failed: %s (errno %d: %s)\n", file,
                     line, (int)getpid(), what, err, strerror(err));
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(101);
    _exit(100);
}

#define PX_CHILD_CHECK(c)                                                                          \
    do {                                                                                           \
        if (!(c))                                                                                  \
            px_child_fail(__FILE__, __LINE__, #c, errno);                                          \
    } while (0)

/* Fork; the child runs fn(arg) under an alarm and _exit()s with its result. */
static inline pid_t px_fork(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == 0) {
        alarm(PX_CHILD_ALARM_S);
        _exit(fn(arg));
    }
    return p;
}

/* Reap pid within timeout_ms.  Returns its wait status, or -1 if it did not
 * exit in time (it is then killed and reaped). */
static inline int px_reap(pid_t pid, long timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -2;
        if (px_ms_since(&t0) > timeout_ms) {
            fprintf(stderr, "px: pid %d did not exit within %ld ms: killing it\n", (int)pid,
                    timeout_ms);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        px_sleep_ms(1);
    }
}

/* Reaped with exit status 0 (prints the status otherwise). */
static inline int px_reap_ok(pid_t pid, long timeout_ms)
{
    int st = px_reap(pid, timeout_ms);
    if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 1;
    if (st < 0)
        fprintf(stderr, "px: child %d: not reaped in time (%d)\n", (int)pid, st);
    else if (WIFEXITED(st))
        fprintf(stderr, "px: child %d: exit status %d\n", (int)pid, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        fprintf(stderr, "px: child %d: killed by signal %d\n", (int)pid, WTERMSIG(st));
    return 0;
}

/* Become another user for good (root only). */
static inline int px_become(uid_t uid, gid_t gid)
{
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return -1;
    return getuid() == uid && geteuid() == uid ? 0 : -1;
}

/* ---- pipes as one-shot gates (no semaphore involved) ---- */

struct px_gate {
    int fd[2];
};

static inline int px_gate_init(struct px_gate *g) { return pipe(g->fd); }

static inline void px_gate_close(struct px_gate *g)
{
    for (int i = 0; i < 2; i++)
        if (g->fd[i] >= 0)
            close(g->fd[i]);
    g->fd[0] = g->fd[1] = -1;
}

static inline int px_gate_post(struct px_gate *g)
{
    char c = 1;
    ssize_t n;
    do
        n = write(g->fd[1], &c, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

/* One byte within timeout_ms: 0, else -1. */
static inline int px_gate_wait(struct px_gate *g, long timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = timeout_ms - px_ms_since(&t0);
        if (left < 0)
            return -1;
        struct pollfd p = {.fd = g->fd[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        char c;
        ssize_t n = read(g->fd[0], &c, 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

/* ---- threads with a bounded join ---- */

struct px_thread {
    pthread_t t;
    atomic_int done;
    void *(*fn)(void *);
    void *arg;
    void *ret;
};

static inline void px_thread_mark(void *p) { atomic_store(&((struct px_thread *)p)->done, 1); }

PX_CANCEL_FRAME static inline void *px_thread_main(void *p)
{
    struct px_thread *w = p;
    pthread_cleanup_push(px_thread_mark, w);
    w->ret = w->fn(w->arg);
    pthread_cleanup_pop(1);
    return w->ret;
}

static inline int px_thread_start_attr(struct px_thread *w, const pthread_attr_t *attr,
                                       void *(*fn)(void *), void *arg)
{
    atomic_store(&w->done, 0);
    w->fn = fn;
    w->arg = arg;
    w->ret = NULL;
    return pthread_create(&w->t, attr, px_thread_main, w);
}

static inline int px_thread_start(struct px_thread *w, void *(*fn)(void *), void *arg)
{
    return px_thread_start_attr(w, NULL, fn, arg);
}

/* Has the thread finished within timeout_ms?  (It is left joinable.) */
static inline int px_thread_done_within(struct px_thread *w, long timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&w->done)) {
        if (px_ms_since(&t0) > timeout_ms)
            return 0;
        px_sleep_ms(1);
    }
    return 1;
}

/* Join within timeout_ms: 0 (ret set from pthread_join), or ETIMEDOUT and
 * the thread is left running (detached). */
static inline int px_thread_join(struct px_thread *w, long timeout_ms, void **ret)
{
    if (!px_thread_done_within(w, timeout_ms)) {
        pthread_detach(w->t);
        return ETIMEDOUT;
    }
    void *r;
    int e = pthread_join(w->t, &r);
    if (e == 0 && ret)
        *ret = r;
    return e;
}

/* ---- cmocka glue ---- */

static const char *volatile px_current = "(none)";

static inline void px_on_alarm(int sig)
{
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof msg, "px: TIMEOUT in %s (pid %d)\n", px_current, (int)getpid());
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(125);
    _exit(124);
}

static inline int px_test_setup(void **state)
{
    px_current = *state ? (const char *)*state : "(unnamed)";
    alarm(PX_TEST_ALARM_S);
    return 0;
}

static inline int px_test_teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#define PX_TEST(f) cmocka_unit_test_prestate_setup_teardown(f, px_test_setup, px_test_teardown, (void *)#f)

static inline void px_init(void)
{
    px_main_pid = getpid();
    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = px_on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

/* Run a group of PX_TEST()s. */
#define PX_MAIN(tests) (px_init(), cmocka_run_group_tests(tests, NULL, NULL))

/* root, and able to act as other users (setuid works in this environment) */
static inline int px_is_root(void) { return geteuid() == 0; }

/* Running under libesem-preload.so (run-shim.sh), not on glibc alone: for
 * the few tests where esem follows POSIX and glibc does not
 * (DEVIATIONS.md, "where esem follows POSIX"). */
static inline int px_under_esem(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "libesem-preload") != NULL;
}

/* ... and process-private semaphores (sem_init pshared=0) are on esem too
 * (ESEM_PRIVATE=esem; by default the shim keeps them in the process). */
static inline int px_private_on_esem(void)
{
    const char *p = getenv("ESEM_PRIVATE");
    return px_under_esem() && p && strcmp(p, "esem") == 0;
}

#endif
