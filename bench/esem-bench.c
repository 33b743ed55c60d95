/*
 * esem-bench — micro-benchmark of esem (libesem + esemd) against glibc's
 * <semaphore.h>, both measured on this machine in the same run.
 *
 * Each single call is timed with clock_gettime(CLOCK_MONOTONIC) around it;
 * the samples are sorted and the median and the 99th percentile reported.
 * The clock's own cost (one back-to-back pair) is printed too: it is part
 * of every per-call figure, which matters for glibc's ~10 ns fast paths.
 *
 * The paper's numbers (i7-9700k, SGX) are printed beside ours as a
 * reference only; they were not measured here.
 *
 * Exit status: 0 success, 1 a measurement failed, 2 usage error or no
 * esemd reachable.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esem.h"
#include "launch.h"
#include "sysv_pingpong.h"

#define DEFAULT_ITERS 50000u
#define MAX_ITERS 10000000u
#define MAX_NAMES 2000u
#define MAX_WAKE 2000u
#define WAKE_SLEEP_NS 80000L /* parent sleeps this long before each post */
#define WAIT_TIMEOUT_S 10    /* parent gives the wake-up child this long */
#define DAEMON_START_S 10    /* --spawn-daemon: wait this long for the socket */
#define MAX_KIDS 1000        /* forked children alive at once (--scale clients) */

/* ---- the two implementations behind one table of operations ---- */

struct impl {
    const char *name;
    char tag; /* in semaphore names, so the two never share one */
    void *(*create)(unsigned int value); /* process-shared, inherited by fork */
    int (*destroy)(void *s);
    void *(*open_excl)(const char *name, unsigned int value);
    int (*close)(void *s);
    int (*unlink)(const char *name);
    int (*post)(void *s);
    int (*wait)(void *s);
    int (*trywait)(void *s);
    int (*wait_until)(void *s, const struct timespec *abs_monotonic);
};

static void *e_create(unsigned int v) { return esem_create(v); }
static int e_destroy(void *s) { return esem_destroy(s); }
static void *e_open_excl(const char *n, unsigned int v)
{
    return esem_open(n, O_CREAT | O_EXCL, 0600, v);
}
static int e_close(void *s) { return esem_close(s); }
static int e_unlink(const char *n) { return esem_unlink(n); }
static int e_post(void *s) { return esem_post(s); }
static int e_wait(void *s) { return esem_wait(s); }
static int e_trywait(void *s) { return esem_trywait(s); }
static int e_wait_until(void *s, const struct timespec *t)
{
    return esem_clockwait(s, CLOCK_MONOTONIC, t);
}

/* glibc: an unnamed sem_t with pshared=1 in MAP_SHARED anonymous memory. */
static void *g_create(unsigned int v)
{
    sem_t *s = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (s == MAP_FAILED)
        return NULL;
    if (sem_init(s, 1, v) < 0) {
        int e = errno;
        munmap(s, sizeof(sem_t));
        errno = e;
        return NULL;
    }
    return s;
}
static int g_destroy(void *s)
{
    int r = sem_destroy(s);
    munmap(s, sizeof(sem_t));
    return r;
}
static void *g_open_excl(const char *n, unsigned int v)
{
    sem_t *s = sem_open(n, O_CREAT | O_EXCL, 0600, v);
    return s == SEM_FAILED ? NULL : s;
}
static int g_close(void *s) { return sem_close(s); }
static int g_unlink(const char *n) { return sem_unlink(n); }
static int g_post(void *s) { return sem_post(s); }
static int g_wait(void *s) { return sem_wait(s); }
static int g_trywait(void *s) { return sem_trywait(s); }
static int g_wait_until(void *s, const struct timespec *t)
{
    return sem_clockwait(s, CLOCK_MONOTONIC, t);
}

enum { I_ESEM, I_GLIBC, I_N };
static const struct impl IMPLS[I_N] = {
    {"esem", 'e', e_create, e_destroy, e_open_excl, e_close, e_unlink, e_post, e_wait,
     e_trywait, e_wait_until},
    {"glibc", 'g', g_create, g_destroy, g_open_excl, g_close, g_unlink, g_post, g_wait,
     g_trywait, g_wait_until},
};

/* ---- columns: esem once per binding mode of the daemon, then glibc ---- */

/* esemd --binding: the paper's two TCS binding modes.  "process" is its
 * thread-process binding (a spin lock on the semaphore), "semaphore" its
 * thread-semaphore binding ("lockless": no lock on the semaphore). */
static const char *const BINDINGS[] = {"process", "semaphore"};
#define N_BINDINGS (sizeof BINDINGS / sizeof BINDINGS[0])
#define MAX_COLS (N_BINDINGS + 1)

struct column {
    const struct impl *im;
    const char *binding;   /* esem: the mode we asked a spawned daemon for; NULL: not ours */
    char key[24];          /* JSON key: esem_process, esem_semaphore, esem, glibc */
    char label[24];        /* in table headings */
    char daemon_start[512]; /* esem, spawned: the daemon's "start:" log line */
};

static struct column COLS[MAX_COLS];
static int NCOLS;

/* ---- result rows ---- */

enum { R_OPEN, R_CLOSE, R_POST, R_WAIT, R_UNLINK, R_TRYWAIT, R_HANDOFF, R_SYSV, R_HANDOFF_BUSY, R_N };

struct rowdef {
    const char *key, *label;
};

static const struct rowdef ROWS[R_N] = {
    [R_OPEN] = {"open", "open (O_CREAT|O_EXCL)"},
    [R_CLOSE] = {"close", "close"},
    [R_POST] = {"post", "post (no waiter)"},
    [R_WAIT] = {"wait", "wait (permit ready)"},
    [R_UNLINK] = {"unlink", "unlink"},
    [R_TRYWAIT] = {"trywait", "trywait (succeeds)"},
    [R_HANDOFF] = {"handoff", "hand-off, cross-process"},
    [R_SYSV] = {"sysv_pingpong", "SysV ping-pong, per hand-off"},
    [R_HANDOFF_BUSY] = {"handoff_busy", "hand-off, 4x CPUs busy"},
};

/* The paper's Table (slides, "Micro Evaluation", and Table 2 of the
 * article; /work/shared/reference/esem-slides.txt), in its order, in µs.
 * `lockless` rows are its thread-semaphore binding: they take our esem
 * figures from a binding=semaphore column, the others from any other esem
 * column.  glibc has no binding: its one measurement is shown in both. */
struct paperrow {
    const char *key, *label;
    int op;       /* R_* we measured for it */
    int lockless; /* 1: the paper's "lockless" (thread-semaphore binding) row */
    double esem, legacy;
};

static const struct paperrow PAPER[] = {
    {"open", "Open", R_OPEN, 0, 17.02, 9.87},
    {"close", "Close", R_CLOSE, 0, 12.45, 10.73},
    {"post", "Post", R_POST, 0, 7.02, 5.3},
    {"wait", "Wait", R_WAIT, 0, 7.39, 6.2},
    {"post_lockless", "Post-lockless", R_POST, 1, 6.78, 0.014},
    {"wait_lockless", "Wait-lockless", R_WAIT, 1, 6.23, 0.012},
    {"unlink", "Unlink", R_UNLINK, 0, 10.05, 9.03},
};
#define N_PAPER (sizeof PAPER / sizeof PAPER[0])

/* Does column c's esem figure belong in paper row r? */
static int paper_cell(const struct paperrow *r, int c)
{
    if (COLS[c].im != &IMPLS[I_ESEM])
        return 1;
    int sem = COLS[c].binding && strcmp(COLS[c].binding, "semaphore") == 0;
    if (r->op != R_POST && r->op != R_WAIT)
        return 1;
    return r->lockless == sem;
}

struct summary {
    size_t n;
    uint64_t min, med, p99, max;
    double mean;
};

static struct summary RES[R_N][MAX_COLS];
static struct summary TIMER;
static double BATCHED_PAIR[MAX_COLS];

/* ---- global state for clean-up ---- */

static struct {
    pid_t pid;
    pid_t daemon_pid;
    pid_t child;
    pid_t kids[MAX_KIDS]; /* --throughput / --scale children */
    size_t nkids;
    char tmpdir[64];
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char logpath[128];
    char lockpath[128]; /* esemd leaves <socket>.lock behind */
    const char *daemon_path;
    unsigned workers; /* --workers for a spawned daemon; 0: its default */
    int daemon_failed;
    const struct impl *names_impl; /* names [0, names_live) may exist */
    size_t names_live;
    int progress;
    pid_t colkid; /* parent: the child measuring one column */
    int in_child; /* this is such a child */
} run;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void name_of(char *buf, size_t len, char tag, size_t i)
{
    snprintf(buf, len, "/esem-bench-%d-%c%zu", (int)run.pid, tag, i);
}

static void stop_daemon(void)
{
    if (run.daemon_pid <= 0)
        return;
    pid_t p = run.daemon_pid;
    run.daemon_pid = 0;
    kill(p, SIGTERM);
    int st = 0, done = 0;
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(p, &st, WNOHANG);
        if (r == p || (r < 0 && errno == ECHILD)) {
            done = 1;
            break;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    if (!done) {
        fprintf(stderr, "esem-bench: esemd (pid %d) ignored SIGTERM for 3 s; killing it\n",
                (int)p);
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
        run.daemon_failed = 1;
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
               !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
        run.daemon_failed = 1;
    }
    unlink(run.sock);
    if (run.daemon_failed) {
        fprintf(stderr, "esem-bench: the spawned esemd did not exit cleanly; its log: %s\n",
                run.logpath);
        return;
    }
    unlink(run.logpath);
    unlink(run.lockpath);
    rmdir(run.tmpdir);
}

static void stop_colkid(void)
{
    if (run.colkid <= 0)
        return;
    /* It cleans up after itself (its children, names, daemon) on SIGTERM. */
    kill(run.colkid, SIGTERM);
    int st;
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(run.colkid, &st, WNOHANG);
        if (r == run.colkid || (r < 0 && errno != EINTR)) {
            run.colkid = 0;
            return;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    kill(run.colkid, SIGKILL); /* its daemon gets SIGTERM as parent-death signal */
    waitpid(run.colkid, &st, 0);
    run.colkid = 0;
}

static void cleanup(void)
{
    stop_colkid();
    if (run.child > 0) {
        kill(run.child, SIGKILL);
        waitpid(run.child, NULL, 0);
        run.child = 0;
    }
    for (size_t i = 0; i < run.nkids; i++)
        if (run.kids[i] > 0)
            kill(run.kids[i], SIGKILL);
    for (size_t i = 0; i < run.nkids; i++)
        if (run.kids[i] > 0) {
            while (waitpid(run.kids[i], NULL, 0) < 0 && errno == EINTR)
                ;
            run.kids[i] = 0;
        }
    run.nkids = 0;
    if (run.names_impl) {
        char nm[64];
        for (size_t i = 0; i < run.names_live; i++) {
            name_of(nm, sizeof nm, run.names_impl->tag, i);
            (void)run.names_impl->unlink(nm);
        }
        run.names_impl = NULL;
        run.names_live = 0;
    }
    stop_daemon();
}

__attribute__((format(printf, 1, 2))) static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (run.progress)
        fputc('\n', stderr);
    fputs("esem-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();
    exit(1);
}

static void check_stop(void)
{
    if (!g_stop)
        return;
    /* The parent says it once, after its column child has cleaned up. */
    if (run.progress && !run.in_child)
        fputc('\n', stderr);
    if (!run.in_child)
        fputs("esem-bench: interrupted; cleaning up\n", stderr);
    cleanup();
    exit(130);
}

static void progress(const char *what)
{
    if (!run.progress)
        return;
    fprintf(stderr, "\r\033[Kmeasuring %s ...", what);
    fflush(stderr);
}

/* ---- timing ---- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of sorted v[0..n) */
static uint64_t pct(const uint64_t *v, size_t n, unsigned int p)
{
    size_t k = (n * p + 99) / 100;
    if (k == 0)
        k = 1;
    return v[k - 1];
}

static struct summary summarize(uint64_t *v, size_t n)
{
    struct summary s = {0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.med = pct(v, n, 50);
    s.p99 = pct(v, n, 99);
    s.mean = sum / (double)n;
    return s;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, sz);
    return p;
}

/* ---- the measurements ---- */

static void bench_timer(size_t n)
{
    uint64_t *v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        uint64_t t1 = now_ns();
        v[i] = t1 - t0;
    }
    TIMER = summarize(v, n);
    free(v);
}

static void bench_post_wait(int col, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    uint64_t *vp = xcalloc(n, sizeof *vp), *vw = xcalloc(n, sizeof *vw);
    void *s = im->create(0);
    if (!s)
        die("%s: create: %s", im->name, strerror(errno));
    for (size_t i = 0; i < warm; i++)
        if (im->post(s) || im->wait(s))
            die("%s: post/wait (warm-up): %s", im->name, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if ((i & 1023) == 0)
            check_stop();
        uint64_t t0 = now_ns();
        int r1 = im->post(s);
        uint64_t t1 = now_ns();
        int r2 = im->wait(s);
        uint64_t t2 = now_ns();
        if (r1 || r2)
            die("%s: %s: %s", im->name, r1 ? "post" : "wait", strerror(errno));
        vp[i] = t1 - t0;
        vw[i] = t2 - t1;
    }
    /* Mean of a post+wait pair over a plain loop, without per-call timers. */
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        if (im->post(s) || im->wait(s))
            die("%s: post/wait (batched): %s", im->name, strerror(errno));
    BATCHED_PAIR[col] = (double)(now_ns() - t0) / (double)n;
    if (im->destroy(s))
        die("%s: destroy: %s", im->name, strerror(errno));
    RES[R_POST][col] = summarize(vp, n);
    RES[R_WAIT][col] = summarize(vw, n);
    free(vp);
    free(vw);
}

static void bench_trywait(int col, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    uint64_t *v = xcalloc(n, sizeof *v);
    void *s = im->create(0);
    if (!s)
        die("%s: create: %s", im->name, strerror(errno));
    for (size_t i = 0; i < warm; i++)
        if (im->post(s) || im->trywait(s))
            die("%s: post/trywait (warm-up): %s", im->name, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if ((i & 1023) == 0)
            check_stop();
        if (im->post(s))
            die("%s: post: %s", im->name, strerror(errno));
        uint64_t t0 = now_ns();
        int r = im->trywait(s);
        uint64_t t1 = now_ns();
        if (r)
            die("%s: trywait with a permit available: %s", im->name, strerror(errno));
        v[i] = t1 - t0;
    }
    if (im->destroy(s))
        die("%s: destroy: %s", im->name, strerror(errno));
    RES[R_TRYWAIT][col] = summarize(v, n);
    free(v);
}

static void bench_names(int col, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    uint64_t *vo = xcalloc(n, sizeof *vo), *vc = xcalloc(n, sizeof *vc),
             *vu = xcalloc(n, sizeof *vu);
    void **h = xcalloc(n, sizeof *h);
    char nm[64];
    run.names_impl = im;
    run.names_live = n + warm;
    /* warm-up on names [n, n+warm) */
    for (size_t i = n; i < n + warm; i++) {
        name_of(nm, sizeof nm, im->tag, i);
        void *s = im->open_excl(nm, 0);
        if (!s)
            die("%s: open %s (warm-up): %s", im->name, nm, strerror(errno));
        if (im->close(s) || im->unlink(nm))
            die("%s: close/unlink %s (warm-up): %s", im->name, nm, strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
        if ((i & 63) == 0)
            check_stop();
        name_of(nm, sizeof nm, im->tag, i);
        uint64_t t0 = now_ns();
        h[i] = im->open_excl(nm, 0);
        uint64_t t1 = now_ns();
        if (!h[i])
            die("%s: open %s: %s", im->name, nm, strerror(errno));
        vo[i] = t1 - t0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((i & 63) == 0)
            check_stop();
        uint64_t t0 = now_ns();
        int r = im->close(h[i]);
        uint64_t t1 = now_ns();
        if (r)
            die("%s: close: %s", im->name, strerror(errno));
        vc[i] = t1 - t0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((i & 63) == 0)
            check_stop();
        name_of(nm, sizeof nm, im->tag, i);
        uint64_t t0 = now_ns();
        int r = im->unlink(nm);
        uint64_t t1 = now_ns();
        if (r)
            die("%s: unlink %s: %s", im->name, nm, strerror(errno));
        vu[i] = t1 - t0;
    }
    run.names_impl = NULL;
    run.names_live = 0;
    RES[R_OPEN][col] = summarize(vo, n);
    RES[R_CLOSE][col] = summarize(vc, n);
    RES[R_UNLINK][col] = summarize(vu, n);
    free(vo);
    free(vc);
    free(vu);
    free(h);
}

/* Parent side: wait for the child's "ready" post on b, with a deadline. */
static void wake_wait_ready(const struct impl *im, void *b)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += WAIT_TIMEOUT_S;
    for (;;) {
        if (im->wait_until(b, &dl) == 0)
            return;
        int e = errno;
        if (e == EINTR) {
            check_stop();
            continue;
        }
        int st;
        if (e == ETIMEDOUT && run.child > 0 && waitpid(run.child, &st, WNOHANG) == run.child) {
            run.child = 0;
            die("%s wake-up: the child exited early (status %d%s)", im->name,
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                WIFEXITED(st) ? "" : ", by signal");
        }
        die("%s wake-up: waiting for the child: %s", im->name, strerror(e));
    }
}

static void bench_wakeup(int col, int row, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    size_t total = n + warm;
    uint64_t *t_parent = xcalloc(total, sizeof *t_parent);
    uint64_t *v = xcalloc(n, sizeof *v);
    size_t bytes = total * sizeof(uint64_t);
    uint64_t *t_child = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                             -1, 0);
    if (t_child == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    void *a = im->create(0), *b = im->create(0);
    if (!a || !b)
        die("%s: create: %s", im->name, strerror(errno));
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t c = fork();
    if (c < 0)
        die("fork: %s", strerror(errno));
    if (c == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(3);
        if (im->post(b))
            _exit(4);
        for (size_t i = 0; i < total; i++) {
            if (im->wait(a))
                _exit(5);
            t_child[i] = now_ns();
            if (im->post(b))
                _exit(6);
        }
        _exit(0);
    }
    run.child = c;
    for (size_t i = 0; i < total; i++) {
        wake_wait_ready(im, b);
        /* Give the child time to block in wait (and esemd's workers time
         * to stop spinning): we measure a real sleeping hand-off. */
        struct timespec ts = {0, WAKE_SLEEP_NS};
        nanosleep(&ts, NULL);
        check_stop();
        t_parent[i] = now_ns();
        if (im->post(a))
            die("%s: post: %s", im->name, strerror(errno));
    }
    wake_wait_ready(im, b);
    int st;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        check_stop();
    run.child = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s wake-up: the child failed (status %d)", im->name, st);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = t_parent[warm + i], t1 = t_child[warm + i];
        v[i] = t1 > t0 ? t1 - t0 : 0;
    }
    if (im->destroy(a) || im->destroy(b))
        die("%s: destroy: %s", im->name, strerror(errno));
    RES[row][col] = summarize(v, n);
    munmap(t_child, bytes);
    free(t_parent);
    free(v);
}

/* The same hand-off with 4 busy processes per CPU beside it (pure
 * spinners at the default nice level): with 4x more runnable threads than
 * CPUs, how long until a blocked waiter runs after a post. */
#define BUSY_PER_CPU 4
static void bench_wakeup_busy(int col, size_t n, size_t warm)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    size_t nb = (size_t)(BUSY_PER_CPU * ncpu);
    pid_t *busy = xcalloc(nb, sizeof *busy);
    pid_t parent = getpid();
    for (size_t i = 0; i < nb; i++) {
        busy[i] = fork();
        if (busy[i] < 0)
            die("fork: %s", strerror(errno));
        if (busy[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            for (volatile uint64_t x = 0;; x++)
                ;
        }
    }
    bench_wakeup(col, R_HANDOFF_BUSY, n, warm);
    for (size_t i = 0; i < nb; i++)
        kill(busy[i], SIGKILL);
    for (size_t i = 0; i < nb; i++)
        while (waitpid(busy[i], NULL, 0) < 0 && errno == EINTR)
            ;
    free(busy);
}

/* System V: LMBench lat_sem's shape (bench/sysv_pingpong.c); the glibc
 * column is the kernel's semop. */
static void bench_sysv(int col, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    uint64_t *v = xcalloc(n + warm, sizeof *v);
    int r = sysv_pingpong(im == &IMPLS[I_ESEM], n + warm, v);
    if (r < 0)
        die("%s: System V ping-pong: %s", im->name, strerror(-r));
    RES[R_SYSV][col] = summarize(v + warm, n);
    free(v);
}

/* ---- throughput: N processes x M threads doing wait/post pairs on K semaphores ---- */

#define TP_MAX_THREADS 64 /* N x M at most */
#define TP_MAX_K 64       /* K at most */
#define TP_MAX_NK 8       /* values of K in one run */
#define TP_READY_S 10 /* children get this long to start all their threads */
#define TP_EXIT_S 10  /* ... and this long to exit once told to stop */
#define DEFAULT_DURATION 0.5
#define MIN_DURATION 0.05
#define MAX_DURATION 60.0
#define SMOKE_DURATION 0.05
/* N x M = 1 .. 64, split two ways: N processes x 1 thread, and 1 process x
 * M threads (1 x 1 is both).  --smoke keeps the first three. */
static const unsigned TP_TOTALS[] = {1, 2, 4, 8, 16, 32, 64};
#define TP_NT_FULL (sizeof TP_TOTALS / sizeof TP_TOTALS[0])
#define TP_NT_SMOKE 3u
static size_t TP_NT = TP_NT_FULL;
static unsigned TP_KS[TP_MAX_NK] = {1, 4};
static size_t TP_NK = 2;
#define TP_ROWS (TP_MAX_NK * (2 * TP_NT_FULL - 1))

struct tp_shm {
    int ready;    /* threads that are about to block on the start pipe */
    int stop;     /* set by the parent: finish the current pair and exit */
    int err;      /* first errno a thread hit, else 0 */
    int err_what; /* 1 wait, 2 post, 3 pthread_create */
    struct {
        _Alignas(64) uint64_t pairs;
    } slot[TP_MAX_THREADS];
};

struct tp_row {
    unsigned procs, threads, sems;
    double rate[MAX_COLS]; /* pairs per second */
};

static struct tp_row TP[TP_ROWS];
static size_t TP_N;
static double TP_DURATION = DEFAULT_DURATION;

/* the forked child's view */
static struct {
    const struct impl *im;
    void **sems;
    unsigned k;
    struct tp_shm *shm;
    int gofd;
} TPC;

static void tp_fail(int what, int e)
{
    int zero = 0;
    if (__atomic_compare_exchange_n(&TPC.shm->err, &zero, e ? e : EIO, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
        __atomic_store_n(&TPC.shm->err_what, what, __ATOMIC_SEQ_CST);
    __atomic_store_n(&TPC.shm->stop, 1, __ATOMIC_SEQ_CST);
}

static void *tp_thread(void *arg)
{
    unsigned g = (unsigned)(uintptr_t)arg;
    const struct impl *im = TPC.im;
    void *s = TPC.sems[g % TPC.k];
    struct tp_shm *shm = TPC.shm;
    __atomic_add_fetch(&shm->ready, 1, __ATOMIC_SEQ_CST);
    char c;
    while (read(TPC.gofd, &c, 1) < 0 && errno == EINTR)
        ;
    uint64_t n = 0;
    while (!__atomic_load_n(&shm->stop, __ATOMIC_RELAXED)) {
        if (im->wait(s)) {
            tp_fail(1, errno);
            break;
        }
        if (im->post(s)) {
            tp_fail(2, errno);
            break;
        }
        __atomic_store_n(&shm->slot[g].pairs, ++n, __ATOMIC_RELAXED);
    }
    return NULL;
}

static _Noreturn void tp_child(unsigned first, unsigned m)
{
    pthread_t th[TP_MAX_THREADS];
    unsigned started = 0;
    for (unsigned t = 1; t < m; t++) {
        int e = pthread_create(&th[t], NULL, tp_thread, (void *)(uintptr_t)(first + t));
        if (e) {
            tp_fail(3, e);
            /* the parent still waits for `ready`: count the missing ones */
            __atomic_add_fetch(&TPC.shm->ready, (int)(m - t), __ATOMIC_SEQ_CST);
            break;
        }
        started = t;
    }
    tp_thread((void *)(uintptr_t)first);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    _exit(__atomic_load_n(&TPC.shm->err, __ATOMIC_SEQ_CST) ? 1 : 0);
}

static uint64_t tp_sum(const struct tp_shm *shm, unsigned n)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += __atomic_load_n(&shm->slot[i].pairs, __ATOMIC_RELAXED);
    return s;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        check_stop();
}

static double tp_run(int col, unsigned nproc, unsigned m, unsigned k)
{
    const struct impl *im = COLS[col].im;
    unsigned total = nproc * m;
    struct tp_shm *shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    void *sems[TP_MAX_K];
    for (unsigned i = 0; i < k; i++)
        if (!(sems[i] = im->create(1)))
            die("%s: create: %s", im->name, strerror(errno));
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    TPC.im = im;
    TPC.sems = sems;
    TPC.k = k;
    TPC.shm = shm;
    TPC.gofd = go[0];
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    for (unsigned p = 0; p < nproc; p++) {
        pid_t c = fork();
        if (c < 0)
            die("fork: %s", strerror(errno));
        if (c == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(3);
            close(go[1]);
            tp_child(p * m, m);
        }
        run.kids[run.nkids++] = c;
    }
    close(go[0]);
    uint64_t deadline = now_ns() + TP_READY_S * 1000000000ull;
    while (__atomic_load_n(&shm->ready, __ATOMIC_SEQ_CST) < (int)total) {
        if (now_ns() > deadline)
            die("%s throughput: only %d of %u threads started within %d s", im->name,
                __atomic_load_n(&shm->ready, __ATOMIC_SEQ_CST), total, TP_READY_S);
        check_stop();
        sleep_ns(1000000);
    }
    close(go[1]); /* EOF: every thread starts */
    uint64_t dur = (uint64_t)(TP_DURATION * 1e9);
    sleep_ns(dur / 5 > 20000000u ? dur / 5 : 20000000u); /* warm-up: first calls, slots */
    uint64_t c0 = tp_sum(shm, total), t0 = now_ns();
    sleep_ns(dur);
    uint64_t c1 = tp_sum(shm, total), t1 = now_ns();
    __atomic_store_n(&shm->stop, 1, __ATOMIC_SEQ_CST);
    deadline = now_ns() + TP_EXIT_S * 1000000000ull;
    int bad = 0;
    for (size_t i = 0; i < run.nkids; i++) {
        int st;
        pid_t r;
        while ((r = waitpid(run.kids[i], &st, WNOHANG)) == 0 && now_ns() < deadline)
            sleep_ns(1000000);
        if (r == 0)
            die("%s throughput (%u x %u, K=%u): the children did not stop within %d s",
                im->name, nproc, m, k, TP_EXIT_S);
        if (r == run.kids[i] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            bad = st ? st : 1;
        run.kids[i] = 0;
    }
    run.nkids = 0;
    if (shm->err)
        die("%s throughput (%u x %u, K=%u): %s: %s", im->name, nproc, m, k,
            shm->err_what == 1 ? "wait" : shm->err_what == 2 ? "post" : "pthread_create",
            strerror(shm->err));
    if (bad)
        die("%s throughput (%u x %u, K=%u): a child failed (status %d)", im->name, nproc, m, k,
            bad);
    for (unsigned i = 0; i < k; i++)
        if (im->destroy(sems[i]))
            die("%s: destroy: %s", im->name, strerror(errno));
    munmap(shm, sizeof *shm);
    return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
}

static void tp_plan(void)
{
    TP_N = 0;
    for (size_t b = 0; b < TP_NK; b++)
        for (int split = 0; split < 2; split++) /* 0: processes, 1: threads */
            for (size_t a = split; a < TP_NT; a++) {
                struct tp_row *r = &TP[TP_N++];
                r->procs = split ? 1 : TP_TOTALS[a];
                r->threads = split ? TP_TOTALS[a] : 1;
                r->sems = TP_KS[b];
            }
}

static void bench_throughput(int col)
{
    for (size_t i = 0; i < TP_N; i++) {
        struct tp_row *r = &TP[i];
        char what[96];
        snprintf(what, sizeof what, "%s throughput, %u proc x %u thr, K=%u", COLS[col].label,
                 r->procs, r->threads, r->sems);
        progress(what);
        r->rate[col] = tp_run(col, r->procs, r->threads, r->sems);
    }
}

static int tp_is_target(const struct tp_row *r)
{
    return r->procs == 8 && r->threads == 1 && r->sems == 1;
}

/* ---- scale: latency with many semaphores / many clients in the daemon ---- */

#define SC_PAIRS 20000u
#define SC_WARM 2000u
#define SC_WARM_NS 200000000ull /* and at least 0.2 s */
#define SC_READY_S 30 /* the client children get this long to connect */
#define SC_NS 3u /* steps of each dimension */
#define SC_NC 3u
#define SC_ROWS (SC_NS + SC_NC)
static const size_t SC_SEMS_FULL[SC_NS] = {1, 1000, 100000};
static const size_t SC_CLIENTS_FULL[SC_NC] = {1, 100, 1000};
static const size_t SC_SEMS_SMOKE[SC_NS] = {1, 10, 100}; /* --smoke */
static const size_t SC_CLIENTS_SMOKE[SC_NC] = {1, 2, 4};
static const size_t *SC_SEMS = SC_SEMS_FULL, *SC_CLIENTS = SC_CLIENTS_FULL;

struct sc_row {
    int clients;      /* 0: the row varies the number of semaphores */
    size_t want, got; /* semaphores or client processes (ourselves included) */
    struct summary lat;
    long rss_kb; /* the daemon's VmRSS, -1 unknown */
    int err;     /* errno that stopped us short of `want`, else 0 */
};

static struct sc_row SC[MAX_COLS][SC_ROWS]; /* esem columns only */

static long daemon_rss_kb(void)
{
    if (run.daemon_pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)run.daemon_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void sc_measure(struct sc_row *r, esem_t *s, uint64_t *v)
{
    /* at least SC_WARM pairs and SC_WARM_NS: esemd's workers settle first */
    uint64_t until = now_ns() + SC_WARM_NS;
    for (size_t i = 0; i < SC_WARM || now_ns() < until; i++)
        if (esem_post(s) || esem_wait(s))
            die("esem: post/wait (scale warm-up): %s", strerror(errno));
    for (size_t i = 0; i < SC_PAIRS; i++) {
        if ((i & 1023) == 0)
            check_stop();
        uint64_t t0 = now_ns();
        int r1 = esem_post(s), r2 = esem_wait(s);
        uint64_t t1 = now_ns();
        if (r1 || r2)
            die("esem: %s (scale): %s", r1 ? "post" : "wait", strerror(errno));
        v[i] = t1 - t0;
    }
    r->lat = summarize(v, SC_PAIRS);
    r->rss_kb = daemon_rss_kb();
}

struct sc_kids_shm {
    int ok, fail, err;
};

static void bench_scale(int col)
{
    struct sc_row *SCc = SC[col];
    uint64_t *v = xcalloc(SC_PAIRS, sizeof *v);
    esem_t *s = esem_create(0);
    if (!s)
        die("esem: create: %s", strerror(errno));
    size_t row = 0;

    /* 1. semaphores: the measured one plus (n - 1) more, all idle */
    size_t cap = SC_SEMS[SC_NS - 1];
    esem_t **extra = xcalloc(cap, sizeof *extra);
    size_t have = 0;
    int err = 0;
    for (size_t a = 0; a < SC_NS; a++) {
        struct sc_row *r = &SCc[row++];
        char what[96];
        snprintf(what, sizeof what, "scale: creating %zu semaphores", SC_SEMS[a]);
        progress(what);
        while (!err && have + 1 < SC_SEMS[a]) {
            if ((have & 1023) == 0)
                check_stop();
            if (!(extra[have] = esem_create(0)))
                err = errno;
            else
                have++;
        }
        r->want = SC_SEMS[a];
        r->got = have + 1;
        r->err = have + 1 < SC_SEMS[a] ? err : 0;
        snprintf(what, sizeof what, "scale: latency with %zu semaphores", r->got);
        progress(what);
        sc_measure(r, s, v);
    }
    progress("scale: destroying the semaphores");
    for (size_t i = 0; i < have; i++) {
        if ((i & 1023) == 0)
            check_stop();
        if (esem_destroy(extra[i]))
            die("esem: destroy: %s", strerror(errno));
    }
    free(extra);

    /* 2. clients: children that each hold one semaphore and sleep on a pipe */
    struct sc_kids_shm *ks = mmap(NULL, sizeof *ks, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ks == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    int rel[2];
    if (pipe2(rel, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t parent = getpid();
    int fork_err = 0;
    for (size_t a = 0; a < SC_NC; a++) {
        struct sc_row *r = &SCc[row++];
        char what[96];
        snprintf(what, sizeof what, "scale: starting %zu client processes", SC_CLIENTS[a]);
        progress(what);
        fflush(stdout);
        fflush(stderr);
        size_t want_kids = SC_CLIENTS[a] - 1;
        while (!fork_err && run.nkids < want_kids && run.nkids < MAX_KIDS) {
            pid_t c = fork();
            if (c < 0) {
                fork_err = errno;
                break;
            }
            if (c == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                    _exit(3);
                close(rel[1]);
                esem_t *mine = esem_create(0);
                if (!mine) {
                    int zero = 0, e = errno ? errno : EIO;
                    __atomic_compare_exchange_n(&ks->err, &zero, e, 0, __ATOMIC_SEQ_CST,
                                                __ATOMIC_SEQ_CST);
                    __atomic_add_fetch(&ks->fail, 1, __ATOMIC_SEQ_CST);
                    _exit(1);
                }
                __atomic_add_fetch(&ks->ok, 1, __ATOMIC_SEQ_CST);
                char ch;
                while (read(rel[0], &ch, 1) < 0 && errno == EINTR)
                    ;
                _exit(esem_destroy(mine) ? 1 : 0);
            }
            run.kids[run.nkids++] = c;
        }
        uint64_t deadline = now_ns() + SC_READY_S * 1000000000ull;
        while (__atomic_load_n(&ks->ok, __ATOMIC_SEQ_CST) +
                       __atomic_load_n(&ks->fail, __ATOMIC_SEQ_CST) <
                   (int)run.nkids &&
               now_ns() < deadline) {
            check_stop();
            sleep_ns(1000000);
        }
        r->clients = 1;
        r->want = SC_CLIENTS[a];
        r->got = 1 + (size_t)__atomic_load_n(&ks->ok, __ATOMIC_SEQ_CST);
        r->err = r->got < r->want
                     ? (fork_err ? fork_err : ks->err ? ks->err : ETIMEDOUT)
                     : 0;
        snprintf(what, sizeof what, "scale: latency with %zu client processes", r->got);
        progress(what);
        sc_measure(r, s, v);
    }
    progress("scale: stopping the client processes");
    close(rel[1]); /* EOF: each child destroys its semaphore and exits */
    close(rel[0]);
    int bad = 0;
    uint64_t deadline = now_ns() + SC_READY_S * 1000000000ull;
    for (size_t i = 0; i < run.nkids; i++) {
        int st;
        pid_t w;
        while ((w = waitpid(run.kids[i], &st, WNOHANG)) == 0 && now_ns() < deadline)
            sleep_ns(1000000);
        if (w == 0) {
            kill(run.kids[i], SIGKILL);
            waitpid(run.kids[i], &st, 0);
            bad = 1;
        } else if (w == run.kids[i] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            bad = 1;
        run.kids[i] = 0;
    }
    run.nkids = 0;
    if (bad && !ks->fail)
        fprintf(stderr, "%sesem-bench: some scale client processes did not exit cleanly\n",
                run.progress ? "\n" : "");
    munmap(ks, sizeof *ks);
    if (esem_destroy(s))
        die("esem: destroy: %s", strerror(errno));
    free(v);
}

/* ---- the daemon ---- */

static void socket_path_for_message(char *buf, size_t len, const char **how)
{
    const char *env = getenv("ESEM_SOCKET");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && env[0]) {
        snprintf(buf, len, "%s", env);
        *how = "from ESEM_SOCKET";
    } else if (xdg && xdg[0] == '/') {
        snprintf(buf, len, "%s/esem/esemd.sock", xdg);
        *how = "default";
    } else {
        snprintf(buf, len, "/tmp/esem-%u/esemd.sock", (unsigned)getuid());
        *how = "default";
    }
}

static void print_daemon_log(void)
{
    FILE *f = fopen(run.logpath, "r");
    if (!f)
        return;
    char line[512];
    fprintf(stderr, "---- %s ----\n", run.logpath);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static void trim(char *s);

/* The daemon's "start:" log line (socket, workers, sizes), for the record. */
static void read_start_line(char *out, size_t len)
{
    FILE *f = fopen(run.logpath, "r");
    out[0] = 0;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "start:");
        if (p) {
            snprintf(out, len, "%s", p);
            trim(out);
            break;
        }
    }
    fclose(f);
}

/* Start `path -f -s <tmpdir>/esemd.sock [--binding=B] [--workers=N]` for
 * column col and wait until it serves. */
static void spawn_daemon(const char *path, int col)
{
    if (access(path, X_OK) < 0) {
        fprintf(stderr, "esem-bench: --spawn-daemon %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char bind[48], workers[32];
    const char *extra[3] = {NULL, NULL, NULL};
    int n = 0;
    if (COLS[col].binding) {
        snprintf(bind, sizeof bind, "--binding=%s", COLS[col].binding);
        extra[n++] = bind;
    }
    if (run.workers) {
        snprintf(workers, sizeof workers, "--workers=%u", run.workers);
        extra[n++] = workers;
    }
    /* its own process group: a ^C at the terminal reaches only esem-bench,
     * which then stops the daemon itself after cleaning up */
    struct esem_launch how = {.esemd = path, .dir_prefix = "/tmp/esem-bench", .extra = extra,
                              .own_group = 1};
    struct esem_launched l;
    int r = esem_launch(&how, &l);
    if (r < 0) {
        fprintf(stderr, "esem-bench: starting %s: %s\n", path, strerror(-r));
        exit(2);
    }
    snprintf(run.tmpdir, sizeof run.tmpdir, "%s", l.dir);
    snprintf(run.sock, sizeof run.sock, "%s", l.sock);
    snprintf(run.logpath, sizeof run.logpath, "%s", l.out); /* its stderr is its log */
    snprintf(run.lockpath, sizeof run.lockpath, "%s/esemd.sock.lock", run.tmpdir);
    run.daemon_path = path;
    pid_t p = l.pid;
    run.daemon_pid = p;
    if (setenv("ESEM_SOCKET", run.sock, 1) < 0)
        die("setenv: %s", strerror(errno));

    uint64_t deadline = now_ns() + DAEMON_START_S * 1000000000ull;
    for (;;) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            run.daemon_pid = 0;
            fprintf(stderr, "esem-bench: the spawned esemd (%s) exited at start-up\n", path);
            print_daemon_log();
            exit(2);
        }
        struct stat sb;
        if (stat(run.sock, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            esem_t *probe = esem_create(0);
            if (probe) {
                if (esem_destroy(probe))
                    die("esem_destroy (probe): %s", strerror(errno));
                read_start_line(COLS[col].daemon_start, sizeof COLS[col].daemon_start);
                return;
            }
            if (errno != ECONNREFUSED)
                die("connecting to the spawned esemd: %s", strerror(errno));
        }
        if (now_ns() > deadline) {
            fprintf(stderr, "esem-bench: the spawned esemd did not accept connections on %s "
                            "within %d s\n", run.sock, DAEMON_START_S);
            print_daemon_log();
            run.daemon_failed = 1;
            cleanup();
            exit(2);
        }
        check_stop();
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

static void require_daemon(void)
{
    esem_t *probe = esem_create(0);
    if (probe) {
        if (esem_destroy(probe))
            die("esem_destroy (probe): %s", strerror(errno));
        return;
    }
    int e = errno;
    char path[256];
    const char *how;
    socket_path_for_message(path, sizeof path, &how);
    fprintf(stderr,
            "esem-bench: no esemd reachable at %s (%s): %s\n"
            "  Either let esem-bench start its own daemon for the run:\n"
            "      esem-bench --spawn-daemon /path/to/esemd      (e.g. ./build/host/esemd)\n"
            "  or start one yourself and point the client at it:\n"
            "      esemd -s /tmp/esemd.sock && ESEM_SOCKET=/tmp/esemd.sock esem-bench\n"
            "  (plain `esemd` listens on the default socket, which esem-bench also finds.)\n",
            path, how, strerror(e));
    exit(2);
}

/* ---- machine description ---- */

static char M_CPU[256] = "unknown", M_KERNEL[256] = "unknown", M_CLOCKSRC[64] = "unknown";
static char M_LIBC[64];
static long M_NPROC;

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

static void machine_info(void)
{
    M_NPROC = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(M_LIBC, sizeof M_LIBC, "glibc %s", gnu_get_libc_version());
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0 ||
                strncmp(line, "cpu model", 9) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    snprintf(M_CPU, sizeof M_CPU, "%s", c);
                    trim(M_CPU);
                    break;
                }
            }
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(M_KERNEL, sizeof M_KERNEL, "%s %s %s", u.sysname, u.release, u.machine);
    f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f) {
        if (fgets(M_CLOCKSRC, sizeof M_CLOCKSRC, f))
            trim(M_CLOCKSRC);
        fclose(f);
    }
}

/* ---- one column per child process ---- */

enum { SEL_LATENCY = 1, SEL_THROUGHPUT = 2, SEL_SCALE = 4 };
#define SEL_DEFAULT (SEL_LATENCY | SEL_THROUGHPUT)
#define SEL_ALL (SEL_LATENCY | SEL_THROUGHPUT | SEL_SCALE)

struct plan {
    size_t iters, warm, names, names_warm, wake, wake_warm, wake_busy, wake_busy_warm;
    int sel;           /* SEL_* */
    const char *spawn; /* --spawn-daemon PATH, or NULL */
};

/* What a column's child hands back through a pipe. */
struct colres {
    struct summary res[R_N];
    double batched;
    double rate[TP_ROWS];
    struct sc_row sc[SC_ROWS];
    char sock[sizeof run.sock];
    char daemon_start[sizeof COLS[0].daemon_start];
};

static void measure_column(int col, const struct plan *p)
{
    char what[96];
    if (p->sel & SEL_LATENCY) {
        snprintf(what, sizeof what, "%s post/wait", COLS[col].label);
        progress(what);
        bench_post_wait(col, p->iters, p->warm);
        snprintf(what, sizeof what, "%s trywait", COLS[col].label);
        progress(what);
        bench_trywait(col, p->iters, p->warm);
        snprintf(what, sizeof what, "%s open/close/unlink", COLS[col].label);
        progress(what);
        bench_names(col, p->names, p->names_warm);
        snprintf(what, sizeof what, "%s cross-process hand-off", COLS[col].label);
        progress(what);
        bench_wakeup(col, R_HANDOFF, p->wake, p->wake_warm);
        snprintf(what, sizeof what, "%s hand-off, 4x CPUs busy", COLS[col].label);
        progress(what);
        bench_wakeup_busy(col, p->wake_busy, p->wake_busy_warm);
        snprintf(what, sizeof what, "%s System V ping-pong", COLS[col].label);
        progress(what);
        bench_sysv(col, p->iters, p->warm);
    }
    if (p->sel & SEL_THROUGHPUT)
        bench_throughput(col);
    if ((p->sel & SEL_SCALE) && COLS[col].im == &IMPLS[I_ESEM])
        bench_scale(col);
}

/* libesem connects once per process and stays with that daemon (a daemon
 * that goes away is EIO for good), so each column runs in a child of its
 * own: it starts its own daemon (--spawn-daemon), measures, stops it. */
static void run_column(int col, const struct plan *p)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t k = fork();
    if (k < 0)
        die("fork: %s", strerror(errno));
    if (k == 0) {
        run.in_child = 1;
        close(fd[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (COLS[col].im == &IMPLS[I_ESEM]) {
            if (p->spawn)
                spawn_daemon(p->spawn, col);
            else
                require_daemon();
        }
        measure_column(col, p);
        check_stop();
        cleanup();
        if (run.daemon_failed)
            exit(1);
        static struct colres cr;
        for (int r = 0; r < R_N; r++)
            cr.res[r] = RES[r][col];
        cr.batched = BATCHED_PAIR[col];
        for (size_t i = 0; i < TP_N; i++)
            cr.rate[i] = TP[i].rate[col];
        memcpy(cr.sc, SC[col], sizeof cr.sc);
        memcpy(cr.sock, run.sock, sizeof cr.sock);
        memcpy(cr.daemon_start, COLS[col].daemon_start, sizeof cr.daemon_start);
        const char *b = (const char *)&cr;
        size_t left = sizeof cr;
        while (left) {
            ssize_t w = write(fd[1], b, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(1);
            b += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    run.colkid = k;
    close(fd[1]);
    static struct colres cr;
    char *b = (char *)&cr;
    size_t got = 0;
    while (got < sizeof cr) {
        ssize_t n = read(fd[0], b + got, sizeof cr - got);
        if (n < 0 && errno == EINTR) {
            check_stop();
            continue;
        }
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd[0]);
    int st;
    while (waitpid(k, &st, 0) < 0 && errno == EINTR)
        check_stop();
    run.colkid = 0;
    check_stop();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != sizeof cr) {
        /* the child said why on stderr */
        cleanup();
        exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st)
             : WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL ? 130 : 1);
    }
    for (int r = 0; r < R_N; r++)
        RES[r][col] = cr.res[r];
    BATCHED_PAIR[col] = cr.batched;
    for (size_t i = 0; i < TP_N; i++)
        TP[i].rate[col] = cr.rate[i];
    memcpy(SC[col], cr.sc, sizeof cr.sc);
    if (COLS[col].im == &IMPLS[I_ESEM]) {
        memcpy(run.sock, cr.sock, sizeof run.sock);
        memcpy(COLS[col].daemon_start, cr.daemon_start, sizeof cr.daemon_start);
    }
}

/* ---- output ---- */

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static int is_esem(int c) { return COLS[c].im == &IMPLS[I_ESEM]; }
static int glibc_col(void) { return NCOLS - 1; }

static const char RULE[] = "----------------------------------------------------------------------"
                           "----------------------------------------------------------------------";

static void print_header(const struct plan *p)
{
    printf("esem-bench: esem (libesem + esemd) vs glibc sem_*, same machine, same run\n\n");
    printf("machine : %ld CPU(s), %s; %s; clocksource %s; %s\n", M_NPROC, M_CPU, M_KERNEL,
           M_CLOCKSRC, M_LIBC);
    if (p->spawn) {
        printf("daemon  : one spawned per binding mode, one after the other:\n"
               "          %s -f -s <tmpdir>/esemd.sock --binding=MODE", p->spawn);
        if (run.workers)
            printf(" --workers=%u", run.workers);
        printf("\n");
        for (int c = 0; c < NCOLS; c++)
            if (is_esem(c))
                printf("          %-17s %s\n", COLS[c].binding,
                       COLS[c].daemon_start[0] ? COLS[c].daemon_start : "(no start line logged)");
    } else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        printf("daemon  : already running at %s (%s); its binding mode is not known here\n", path,
               how);
    }
    printf("columns :");
    for (int c = 0; c < NCOLS; c++)
        printf(" %s%s", COLS[c].label, c + 1 < NCOLS ? "," : "");
    printf(" (each measured by a process of its own)\n");
}

static void print_cells(int r, const struct paperrow *pr)
{
    for (int c = 0; c < NCOLS; c++) {
        const struct summary *s = &RES[r][c];
        if (pr && !paper_cell(pr, c))
            printf("  %9s %9s", "-", "-");
        else
            printf("  %9.3f %9.3f", us(s->med), us(s->p99));
    }
}

static void print_latency(const struct plan *p)
{
    int w = 26 + 20 * NCOLS;
    printf("\nthe paper's table, measured here: median and p99 per call, us\n");
    printf("samples : post/wait/trywait %zu each (+%zu warm-up); open/close/unlink %zu names "
           "(+%zu warm-up);\n          hand-off %zu rounds (+%zu warm-up), with 4x CPUs busy %zu\n",
           p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm, p->wake_busy);
    printf("timer   : clock_gettime(CLOCK_MONOTONIC) back-to-back: median %.3f us, p99 %.3f us "
           "(included in every per-call figure)\n\n",
           us(TIMER.med), us(TIMER.p99));
    printf("%-24s", "");
    for (int c = 0; c < NCOLS; c++)
        printf("  %-19s", COLS[c].label);
    printf(" | the paper's, NOT measured here\n%-24s", "us per call");
    for (int c = 0; c < NCOLS; c++)
        printf("  %9s %9s", "median", "p99");
    printf(" | %8s %8s\n%.*s\n", "ESem", "legacy", w + 20, RULE);
    for (size_t i = 0; i < N_PAPER; i++) {
        const struct paperrow *pr = &PAPER[i];
        char lab[40];
        snprintf(lab, sizeof lab, "%s%s", pr->label,
                 pr->op == R_OPEN ? " (O_CREAT|O_EXCL)" : "");
        printf("%-24s", lab);
        print_cells(pr->op, pr);
        printf(" | %8g %8g\n", pr->esem, pr->legacy);
    }
    printf("%.*s\n", w + 20, "-- not in the paper's table ---------------------------------------"
                             "-----------------------------------------------------------------");
    const int extra[] = {R_TRYWAIT, R_HANDOFF, R_HANDOFF_BUSY, R_SYSV};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        printf("%-24s", ROWS[extra[i]].label);
        print_cells(extra[i], NULL);
        printf(" | %8s %8s\n", "-", "-");
    }
    printf("\nesem / glibc, medians:");
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        printf("\n  %-16s", COLS[c].label);
        for (int r = 0; r < R_N; r++) {
            const struct summary *g = &RES[r][glibc_col()];
            if (g->med)
                printf(" %s %.1fx", ROWS[r].key, (double)RES[r][c].med / (double)g->med);
        }
    }
    printf("\npost+wait pair, mean over a %zu-iteration loop without per-call timers:", p->iters);
    for (int c = 0; c < NCOLS; c++)
        printf(" %s %.3f us%s", COLS[c].label, BATCHED_PAIR[c] / 1000.0, c + 1 < NCOLS ? "," : "");
    printf("\n\n"
           "rows    : Post/Wait are the paper's thread-process binding (a spin lock on each\n"
           "          semaphore): our esem figures from binding=process (or a daemon of unknown\n"
           "          binding). Post-lockless/Wait-lockless are its thread-semaphore binding (no\n"
           "          lock on the semaphore): our binding=semaphore. glibc has no binding: its\n"
           "          one measurement, the uncontended user-space path, is in both rows.\n"
           "hand-off: the waiter's return from wait minus the poster's clock just before post,\n"
           "          another process blocked in wait (the poster sleeps %ld us first); glibc:\n"
           "          pshared sem_t in MAP_SHARED memory; esem: esem_create before fork.\n"
           "          4x CPUs busy: the same (a quarter of the rounds) with %d pure spinning\n"
           "          processes per CPU beside it (target: p99 <= 50 ms).\n"
           "SysV    : LMBench lat_sem's shape: two processes, one set of two semaphores, each\n"
           "          round one two-operation semop a side (take mine, give yours): a round's\n"
           "          time / 2; the glibc column is the kernel's semop, esem's esem_semop.\n"
           "paper   : ESem and legacy are quoted from the ESem paper (AsiaCCS 2024; i7-9700k,\n"
           "          SGX enclave) for reference only; not measured on this machine.\n",
           WAKE_SLEEP_NS / 1000, BUSY_PER_CPU);
}

static void print_throughput(void)
{
    printf("\nthroughput: wait+post pairs per second, all threads together\n"
           "  each thread loops wait(sem[i]); post(sem[i]) with i = global thread index %% K;\n"
           "  the K semaphores start at 1 (mutexes) and are made before fork (esem_create; glibc\n"
           "  pshared sem_t in MAP_SHARED memory); counted over %.2f s after a %.2f s warm-up\n",
           TP_DURATION, TP_DURATION / 5 > 0.02 ? TP_DURATION / 5 : 0.02);
    int w = 19 + 17 * NCOLS;
    for (int c = 0; c < NCOLS; c++)
        if (is_esem(c))
            w += 17;
    unsigned lastk = 0;
    for (size_t i = 0; i < TP_N; i++) {
        const struct tp_row *r = &TP[i];
        if (i == 0 || r->sems != lastk) {
            lastk = r->sems;
            printf("\nK = %u\n%5s x %-7s  ", r->sems, "procs", "threads");
            for (int c = 0; c < NCOLS; c++)
                printf("  %15s", COLS[c].label);
            for (int c = 0; c < NCOLS; c++)
                if (is_esem(c))
                    printf("  %9s/glibc", COLS[c].binding ? COLS[c].binding : "esem");
            printf("\n%.*s\n", w, RULE);
        } else if (r->procs == 1 && r->threads == 2) {
            printf("\n"); /* the 1-process x M-threads series starts */
        }
        printf("%5u x %-7u  ", r->procs, r->threads);
        double g = r->rate[glibc_col()];
        for (int c = 0; c < NCOLS; c++)
            printf("  %15.0f", r->rate[c]);
        for (int c = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            if (g > 0)
                printf("  %13.1f %%", 100.0 * r->rate[c] / g);
            else
                printf("  %15s", "-");
        }
        if (tp_is_target(r)) {
            printf("  <- target >= 50 %%:");
            for (int c = 0; c < NCOLS; c++)
                if (is_esem(c))
                    printf(" %s", g > 0 && r->rate[c] >= 0.5 * g ? "met" : "NOT met");
        }
        putchar('\n');
    }
}

static void sc_label(char *buf, size_t len, const struct sc_row *r)
{
    if (r->got == r->want)
        snprintf(buf, len, "%zu", r->got);
    else
        snprintf(buf, len, "%zu (of %zu: %s)", r->got, r->want, strerror(r->err));
}

static void print_scale(void)
{
    printf("\nscale: esem post+wait pair (uncontended; one clock pair around each), %u pairs "
           "(+%u warm-up),\n  while the daemon holds many idle semaphores, then serves many "
           "idle client processes\n  (each holds one semaphore of its own); daemon memory = "
           "VmRSS of the spawned esemd\n",
           SC_PAIRS, SC_WARM);
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        const struct sc_row *sc = SC[c];
        printf("\n%-34s %10s %10s  %8s  %12s\n", COLS[c].label, "median us", "p99 us",
               "vs base", "daemon RSS");
        printf("%.*s\n", 80, RULE);
        double base = (double)sc[0].lat.med;
        for (size_t i = 0; i < SC_ROWS; i++) {
            const struct sc_row *r = &sc[i];
            char lab[96], rss[32], ratio[32];
            sc_label(lab, sizeof lab, r);
            if (r->rss_kb >= 0)
                snprintf(rss, sizeof rss, "%ld kB", r->rss_kb);
            else
                snprintf(rss, sizeof rss, "n/a");
            double q = base > 0 ? (double)r->lat.med / base : 0;
            snprintf(ratio, sizeof ratio, "%.2fx", q);
            printf("%-12s %-21s %10.3f %10.3f  %8s  %12s%s\n",
                   r->clients ? "clients" : "semaphores", lab, us(r->lat.med), us(r->lat.p99),
                   ratio, rss, q > 1.5 ? "  <- over the 1.5x target" : "");
        }
    }
    printf("\nbase = the first row (1 semaphore, 1 client); target: every row within 1.5x of "
           "it.\nclients include esem-bench itself; semaphores include the measured one.\n");
}

/* ---- JSON ---- */

static FILE *J;

static void json_str(const char *s)
{
    fputc('"', J);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(J, "\\%c", c);
        else if (c < 0x20)
            fprintf(J, "\\u%04x", c);
        else
            fputc(c, J);
    }
    fputc('"', J);
}

static void json_summary(const struct summary *s)
{
    fprintf(J, "{\"n\": %zu, \"median_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
               ", \"min_ns\": %" PRIu64 ", \"max_ns\": %" PRIu64 ", \"mean_ns\": %.1f}",
            s->n, s->med, s->p99, s->min, s->max, s->mean);
}

static void json_num_or_null(double v, int ok, const char *fmt)
{
    if (ok)
        fprintf(J, fmt, v);
    else
        fputs("null", J);
}

static void json_latency(const struct plan *p)
{
    int g = glibc_col();
    fprintf(J, ",\n  \"latency\": {\n    \"samples\": {\"iters\": %zu, \"warmup\": %zu, "
               "\"names\": %zu, \"names_warmup\": %zu, \"handoff_rounds\": %zu, "
               "\"handoff_warmup\": %zu, \"handoff_sleep_ns\": %ld, \"handoff_busy_rounds\": %zu, "
               "\"busy_per_cpu\": %d},\n    \"timer_overhead\": ",
            p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm, WAKE_SLEEP_NS,
            p->wake_busy, BUSY_PER_CPU);
    json_summary(&TIMER);
    fprintf(J, ",\n    \"ops\": {");
    for (int r = 0; r < R_N; r++) {
        fprintf(J, "%s\n      \"%s\": {", r ? "," : "", ROWS[r].key);
        for (int c = 0; c < NCOLS; c++) {
            fprintf(J, "\"%s\": ", COLS[c].key);
            json_summary(&RES[r][c]);
            fprintf(J, ",\n        ");
        }
        fprintf(J, "\"ratio_median\": {");
        for (int c = 0, n = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            fprintf(J, "%s\"%s\": ", n++ ? ", " : "", COLS[c].key);
            json_num_or_null(RES[r][g].med ? (double)RES[r][c].med / (double)RES[r][g].med : 0,
                             RES[r][g].med != 0, "%.3f");
        }
        fprintf(J, "}}");
    }
    fprintf(J, "\n    },\n    \"batched_post_wait_pair_mean_ns\": {");
    for (int c = 0; c < NCOLS; c++)
        fprintf(J, "%s\"%s\": %.1f", c ? ", " : "", COLS[c].key, BATCHED_PAIR[c]);
    fprintf(J, "},\n    \"paper_table\": {\"source\": \"ESem: To Harden Process Synchronization "
               "for Servers (AsiaCCS 2024), Micro Evaluation table (slides; Table 2 of the "
               "article); i7-9700k, SGX\", \"note\": \"paper_esem and paper_legacy are quoted "
               "from the paper, not measured here; measured_* are this run's medians and p99 "
               "of the column each paper row maps to (lockless rows: binding=semaphore)\", "
               "\"unit\": \"us\", \"rows\": [");
    for (size_t i = 0; i < N_PAPER; i++) {
        const struct paperrow *pr = &PAPER[i];
        fprintf(J, "%s\n      {\"row\": \"%s\", \"key\": \"%s\", \"op\": \"%s\", \"lockless\": %s, "
                   "\"paper_esem\": %g, \"paper_legacy\": %g, \"measured_median_us\": {",
                i ? "," : "", pr->label, pr->key, ROWS[pr->op].key,
                pr->lockless ? "true" : "false", pr->esem, pr->legacy);
        int n = 0;
        for (int c = 0; c < NCOLS; c++)
            if (paper_cell(pr, c))
                fprintf(J, "%s\"%s\": %.3f", n++ ? ", " : "", COLS[c].key,
                        us(RES[pr->op][c].med));
        fprintf(J, "}, \"measured_p99_us\": {");
        n = 0;
        for (int c = 0; c < NCOLS; c++)
            if (paper_cell(pr, c))
                fprintf(J, "%s\"%s\": %.3f", n++ ? ", " : "", COLS[c].key,
                        us(RES[pr->op][c].p99));
        fprintf(J, "}}");
    }
    fprintf(J, "\n    ]}\n  }");
}

static void json_throughput(void)
{
    int g = glibc_col();
    fprintf(J, ",\n  \"throughput\": {\"duration_s\": %.3f, \"unit\": \"pairs_per_s\", \"sems\": [",
            TP_DURATION);
    for (size_t i = 0; i < TP_NK; i++)
        fprintf(J, "%s%u", i ? ", " : "", TP_KS[i]);
    fprintf(J, "], \"rows\": [");
    for (size_t i = 0; i < TP_N; i++) {
        const struct tp_row *r = &TP[i];
        fprintf(J, "%s\n    {\"procs\": %u, \"threads_per_proc\": %u, \"total\": %u, \"sems\": %u, "
                   "\"pairs_per_s\": {",
                i ? "," : "", r->procs, r->threads, r->procs * r->threads, r->sems);
        for (int c = 0; c < NCOLS; c++)
            fprintf(J, "%s\"%s\": %.0f", c ? ", " : "", COLS[c].key, r->rate[c]);
        fprintf(J, "}, \"ratio_to_glibc\": {");
        for (int c = 0, n = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            fprintf(J, "%s\"%s\": ", n++ ? ", " : "", COLS[c].key);
            json_num_or_null(r->rate[g] > 0 ? r->rate[c] / r->rate[g] : 0, r->rate[g] > 0,
                             "%.5f");
        }
        fprintf(J, "}, \"target\": %s}", tp_is_target(r) ? "true" : "false");
    }
    fprintf(J, "\n  ]}");
}

static void json_scale(void)
{
    fprintf(J, ",\n  \"scale\": {\"pairs\": %u, \"warmup\": %u, \"runs\": [", SC_PAIRS, SC_WARM);
    for (int c = 0, n = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        const struct sc_row *sc = SC[c];
        fprintf(J, "%s\n    {\"column\": \"%s\", \"rows\": [", n++ ? "," : "", COLS[c].key);
        double base = (double)sc[0].lat.med;
        for (size_t i = 0; i < SC_ROWS; i++) {
            const struct sc_row *r = &sc[i];
            fprintf(J, "%s\n      {\"dimension\": \"%s\", \"wanted\": %zu, \"got\": %zu, "
                       "\"error\": ",
                    i ? "," : "", r->clients ? "clients" : "semaphores", r->want, r->got);
            if (r->got < r->want)
                json_str(strerror(r->err));
            else
                fputs("null", J);
            fprintf(J, ", \"pair\": ");
            json_summary(&r->lat);
            fprintf(J, ", \"ratio_to_base\": ");
            json_num_or_null(base > 0 ? (double)r->lat.med / base : 0, base > 0, "%.3f");
            fprintf(J, ", \"daemon_rss_kb\": ");
            json_num_or_null((double)r->rss_kb, r->rss_kb >= 0, "%.0f");
            fputc('}', J);
        }
        fprintf(J, "\n    ]}");
    }
    fprintf(J, "\n  ]}");
}

static void print_json(const struct plan *p, const char *cmdline, const char *started)
{
    fprintf(J, "{\n  \"command\": ");
    json_str(cmdline);
    fprintf(J, ",\n  \"started_utc\": ");
    json_str(started);
    fprintf(J, ",\n  \"tables\": [%s%s%s]", (p->sel & SEL_LATENCY) ? "\"latency\"" : "",
            (p->sel & SEL_THROUGHPUT) ? ((p->sel & SEL_LATENCY) ? ", \"throughput\"" : "\"throughput\"") : "",
            (p->sel & SEL_SCALE) ? ((p->sel & (SEL_LATENCY | SEL_THROUGHPUT)) ? ", \"scale\"" : "\"scale\"") : "");
    fprintf(J, ",\n  \"machine\": {\"nproc\": %ld, \"cpu\": ", M_NPROC);
    json_str(M_CPU);
    fprintf(J, ", \"kernel\": ");
    json_str(M_KERNEL);
    fprintf(J, ", \"clocksource\": ");
    json_str(M_CLOCKSRC);
    fprintf(J, ", \"libc\": ");
    json_str(M_LIBC);
    fprintf(J, "},\n  \"daemon\": {\"spawned\": %s", p->spawn ? "true" : "false");
    if (p->spawn) {
        fprintf(J, ", \"path\": ");
        json_str(p->spawn);
        fprintf(J, ", \"workers\": ");
        json_num_or_null(run.workers, run.workers != 0, "%.0f");
    } else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        fprintf(J, ", \"socket\": ");
        json_str(path);
    }
    fprintf(J, "},\n  \"columns\": [");
    for (int c = 0; c < NCOLS; c++) {
        fprintf(J, "%s\n    {\"key\": \"%s\", \"impl\": \"%s\", \"binding\": ", c ? "," : "",
                COLS[c].key, COLS[c].im->name);
        if (COLS[c].binding)
            json_str(COLS[c].binding);
        else
            fputs("null", J);
        if (is_esem(c) && p->spawn) {
            fprintf(J, ", \"daemon_start\": ");
            json_str(COLS[c].daemon_start);
        }
        fputc('}', J);
    }
    fprintf(J, "\n  ]");
    if (p->sel & SEL_LATENCY)
        json_latency(p);
    if (p->sel & SEL_THROUGHPUT)
        json_throughput();
    if (p->sel & SEL_SCALE)
        json_scale();
    fprintf(J, "\n}\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: esem-bench [--all | --latency --throughput --scale] [--spawn-daemon PATH\n"
            "                  [--binding LIST] [--workers N]] [--iters N] [--duration S]\n"
            "                  [--sems LIST] [--smoke] [--json | --json-file PATH]\n"
            "\n"
            "Measures esem_* (through esemd) against glibc's sem_* on this machine, esem once\n"
            "per binding mode of the daemon (--spawn-daemon), glibc once.\n"
            "Tables (none named: --latency --throughput):\n"
            "  --latency            the paper's table (Open, Close, Post, Wait, Post-lockless,\n"
            "                       Wait-lockless, Unlink) measured: median and p99 per call,\n"
            "                       the paper's figures beside them; trywait; cross-process\n"
            "                       hand-off to a blocked waiter (about 5 s per column)\n"
            "  --throughput         wait+post pairs/s, N processes x 1 thread and 1 process x\n"
            "                       M threads, N or M = 1..64, on K semaphores used as mutexes\n"
            "                       (about 8 s per column and K with the default --duration)\n"
            "  --scale              esem post+wait latency and the daemon's memory with 1,\n"
            "                       1000, 100000 semaphores and 1, 100, 1000 client processes\n"
            "                       (25-35 s per binding mode)\n"
            "  --all                all three (about 2.5 minutes on a 2-vCPU VM)\n"
            "Options:\n"
            "  --spawn-daemon PATH  for each binding mode start `PATH -f -s <tmpdir>/esemd.sock\n"
            "                       --binding=MODE` for its column and stop it after; otherwise\n"
            "                       the running esemd that libesem finds is measured (one esem\n"
            "                       column, binding unknown, daemon memory n/a)\n"
            "  --binding LIST       with --spawn-daemon: modes to measure, comma-separated,\n"
            "                       from process,semaphore (default: both)\n"
            "  --workers N          with --spawn-daemon: pass --workers=N to esemd\n"
            "  --iters N            samples per post/wait/trywait (default %u); open/close/\n"
            "                       unlink use min(N, %u) names and the hand-off min(N, %u)\n"
            "                       rounds\n"
            "  --duration S         seconds counted per throughput run (default %.1f; from\n"
            "                       %.2f to %.0f), after a warm-up of S/5\n"
            "  --sems LIST          K values for --throughput, comma-separated, each 1 to %u\n"
            "                       (default 1,4)\n"
            "  --smoke              tiny sizes, to check the tool and its output, not to\n"
            "                       measure: --iters 200, --duration %.2f, N or M = 1, 2, 4,\n"
            "                       scale 1/10/100 semaphores and 1/2/4 clients\n"
            "  --json               print the figures as JSON instead of tables (times in ns)\n"
            "  --json-file PATH     print the tables and write the JSON to PATH\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 success, 1 a measurement failed, 2 usage error or no esemd.\n",
            DEFAULT_ITERS, MAX_NAMES, MAX_WAKE, DEFAULT_DURATION, MIN_DURATION, MAX_DURATION,
            TP_MAX_K, SMOKE_DURATION);
}

/* "a,b,c" -> values in [lo, hi]; returns how many, or -1 */
static int parse_list(const char *arg, unsigned *out, int max, unsigned lo, unsigned hi)
{
    int n = 0;
    const char *p = arg;
    for (;;) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v < lo || v > hi || n == max)
            return -1;
        out[n++] = (unsigned)v;
        if (*end == 0)
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

static void add_column(const struct impl *im, const char *binding)
{
    struct column *c = &COLS[NCOLS++];
    c->im = im;
    c->binding = binding;
    if (binding) {
        snprintf(c->key, sizeof c->key, "%s_%s", im->name, binding);
        snprintf(c->label, sizeof c->label, "%s/%s", im->name, binding);
    } else {
        snprintf(c->key, sizeof c->key, "%s", im->name);
        snprintf(c->label, sizeof c->label, "%s", im->name);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"iters", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"json-file", required_argument, 0, 'J'},
                                         {"spawn-daemon", required_argument, 0, 'd'},
                                         {"binding", required_argument, 0, 'b'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"latency", no_argument, 0, 'L'},
                                         {"throughput", no_argument, 0, 'T'},
                                         {"scale", no_argument, 0, 'S'},
                                         {"all", no_argument, 0, 'A'},
                                         {"duration", required_argument, 0, 'D'},
                                         {"sems", required_argument, 0, 'K'},
                                         {"smoke", no_argument, 0, 'Z'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    size_t iters = DEFAULT_ITERS;
    int json = 0, sel = 0, smoke = 0, iters_set = 0, duration_set = 0;
    int want_binding[N_BINDINGS] = {0}, binding_set = 0;
    const char *spawn = NULL, *json_file = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'n': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *optarg == 0 || *end || optarg[0] == '-' || v == 0 || v > MAX_ITERS) {
                fprintf(stderr, "esem-bench: --iters wants a number from 1 to %u\n", MAX_ITERS);
                return 2;
            }
            iters = (size_t)v;
            iters_set = 1;
            break;
        }
        case 'D': {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || *optarg == 0 || *end || !(v >= MIN_DURATION && v <= MAX_DURATION)) {
                fprintf(stderr, "esem-bench: --duration wants seconds from %.2f to %.0f\n",
                        MIN_DURATION, MAX_DURATION);
                return 2;
            }
            TP_DURATION = v;
            duration_set = 1;
            break;
        }
        case 'K': {
            int n = parse_list(optarg, TP_KS, TP_MAX_NK, 1, TP_MAX_K);
            if (n < 0) {
                fprintf(stderr, "esem-bench: --sems wants up to %d comma-separated numbers "
                                "from 1 to %d\n", TP_MAX_NK, TP_MAX_K);
                return 2;
            }
            TP_NK = (size_t)n;
            break;
        }
        case 'b': {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *save = NULL;
            memset(want_binding, 0, sizeof want_binding);
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t i = 0;
                while (i < N_BINDINGS && strcmp(t, BINDINGS[i]) != 0)
                    i++;
                if (i == N_BINDINGS) {
                    fprintf(stderr, "esem-bench: --binding wants process, semaphore or "
                                    "process,semaphore, not %s\n", optarg);
                    return 2;
                }
                want_binding[i] = 1;
            }
            binding_set = 1;
            break;
        }
        case 'w': {
            unsigned v;
            if (parse_list(optarg, &v, 1, 1, 64) != 1) {
                fprintf(stderr, "esem-bench: --workers wants a number from 1 to 64\n");
                return 2;
            }
            run.workers = v;
            break;
        }
        case 'L': sel |= SEL_LATENCY; break;
        case 'T': sel |= SEL_THROUGHPUT; break;
        case 'S': sel |= SEL_SCALE; break;
        case 'A': sel |= SEL_ALL; break;
        case 'Z': smoke = 1; break;
        case 'j': json = 1; break;
        case 'J': json_file = optarg; break;
        case 'd': spawn = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("esem-bench " ESEM_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!spawn && (binding_set || run.workers)) {
        fprintf(stderr, "esem-bench: --binding and --workers choose how the daemon is "
                        "started: they need --spawn-daemon\n");
        return 2;
    }
    if (json && json_file) {
        fprintf(stderr, "esem-bench: --json prints JSON instead of the tables, --json-file "
                        "beside them: one or the other\n");
        return 2;
    }
    if (spawn && access(spawn, X_OK) < 0) {
        fprintf(stderr, "esem-bench: --spawn-daemon %s: %s\n", spawn, strerror(errno));
        return 2;
    }
    if (smoke) {
        if (!iters_set)
            iters = 200;
        if (!duration_set)
            TP_DURATION = SMOKE_DURATION;
        TP_NT = TP_NT_SMOKE;
        SC_SEMS = SC_SEMS_SMOKE;
        SC_CLIENTS = SC_CLIENTS_SMOKE;
    }

    /* the command line and the time, for the record in the JSON */
    char cmdline[1024] = "", started[32];
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(cmdline);
        snprintf(cmdline + n, sizeof cmdline - n, "%s%s", i ? " " : "", argv[i]);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (spawn) {
        for (size_t i = 0; i < N_BINDINGS; i++)
            if (!binding_set || want_binding[i])
                add_column(&IMPLS[I_ESEM], BINDINGS[i]);
    } else {
        add_column(&IMPLS[I_ESEM], NULL);
    }
    add_column(&IMPLS[I_GLIBC], NULL); /* always the last column */

    run.pid = getpid();
    run.progress = isatty(STDERR_FILENO);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Precise sleeps before each hand-off round. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    struct plan p = {.iters = iters, .sel = sel ? sel : SEL_DEFAULT, .spawn = spawn};
    p.warm = iters / 10 < 100 ? 100 : iters / 10 > 10000 ? 10000 : iters / 10;
    p.names = iters < MAX_NAMES ? iters : MAX_NAMES;
    p.names_warm = p.names / 10 < 10 ? 10 : p.names / 10;
    p.wake = iters < MAX_WAKE ? iters : MAX_WAKE;
    p.wake_warm = p.wake / 20 < 10 ? 10 : p.wake / 20;
    p.wake_busy = p.wake / 4 > 0 ? p.wake / 4 : 1; /* each round may wait for a time slice */
    p.wake_busy_warm = p.wake_warm / 4 > 0 ? p.wake_warm / 4 : 1;

    machine_info();
    if (p.sel & SEL_LATENCY) {
        progress("the clock");
        bench_timer(iters);
    }
    tp_plan();
    for (int c = 0; c < NCOLS; c++)
        run_column(c, &p);
    if (run.progress) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    check_stop();
    cleanup();

    if (json) {
        J = stdout;
        print_json(&p, cmdline, started);
    } else {
        print_header(&p);
        if (p.sel & SEL_LATENCY)
            print_latency(&p);
        if (p.sel & SEL_THROUGHPUT)
            print_throughput();
        if (p.sel & SEL_SCALE)
            print_scale();
        if (json_file) {
            J = fopen(json_file, "w");
            if (!J) {
                fprintf(stderr, "esem-bench: %s: %s\n", json_file, strerror(errno));
                return 1;
            }
            print_json(&p, cmdline, started);
            if (fclose(J) != 0) {
                fprintf(stderr, "esem-bench: %s: %s\n", json_file, strerror(errno));
                return 1;
            }
            printf("\nJSON written to %s\n", json_file);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
