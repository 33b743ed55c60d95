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
#include <inttypes.h>
#include <limits.h>
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

#define DEFAULT_ITERS 50000u
#define MAX_ITERS 10000000u
#define MAX_NAMES 2000u
#define MAX_WAKE 2000u
#define WAKE_SLEEP_NS 80000L /* parent sleeps this long before each post */
#define WAIT_TIMEOUT_S 10    /* parent gives the wake-up child this long */
#define DAEMON_START_S 10    /* --spawn-daemon: wait this long for the socket */

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

/* ---- result rows ---- */

enum { R_POST, R_WAIT, R_TRYWAIT, R_OPEN, R_CLOSE, R_UNLINK, R_WAKE, R_N };

struct rowdef {
    const char *key, *label;
    double paper_esem, paper_legacy;       /* µs; < 0: the paper has none */
    double paper_lf_esem, paper_lf_legacy; /* the paper's "lockless" variant */
};

static const struct rowdef ROWS[R_N] = {
    [R_POST] = {"post", "post (no waiter)", 7.02, 5.3, 6.78, 0.014},
    [R_WAIT] = {"wait", "wait (permit ready)", 7.39, 6.2, 6.23, 0.012},
    [R_TRYWAIT] = {"trywait", "trywait (succeeds)", -1, -1, -1, -1},
    [R_OPEN] = {"open", "open (O_CREAT|O_EXCL)", 17.02, 9.87, -1, -1},
    [R_CLOSE] = {"close", "close", 12.45, 10.73, -1, -1},
    [R_UNLINK] = {"unlink", "unlink", 10.05, 9.03, -1, -1},
    [R_WAKE] = {"wakeup", "wake-up, cross-process", -1, -1, -1, -1},
};

struct summary {
    size_t n;
    uint64_t min, med, p99, max;
    double mean;
};

static struct summary RES[R_N][I_N];
static struct summary TIMER;
static double BATCHED_PAIR[I_N];

/* ---- global state for clean-up ---- */

static struct {
    pid_t pid;
    pid_t daemon_pid;
    pid_t child;
    char tmpdir[64];
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char logpath[128];
    char lockpath[128]; /* esemd leaves <socket>.lock behind */
    const char *daemon_path;
    int daemon_failed;
    const struct impl *names_impl; /* names [0, names_live) may exist */
    size_t names_live;
    int progress;
} G;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void name_of(char *buf, size_t len, char tag, size_t i)
{
    snprintf(buf, len, "/esem-bench-%d-%c%zu", (int)G.pid, tag, i);
}

static void stop_daemon(void)
{
    if (G.daemon_pid <= 0)
        return;
    pid_t p = G.daemon_pid;
    G.daemon_pid = 0;
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
        G.daemon_failed = 1;
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
               !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
        G.daemon_failed = 1;
    }
    unlink(G.sock);
    if (G.daemon_failed) {
        fprintf(stderr, "esem-bench: the spawned esemd did not exit cleanly; its log: %s\n",
                G.logpath);
        return;
    }
    unlink(G.logpath);
    unlink(G.lockpath);
    rmdir(G.tmpdir);
}

static void cleanup(void)
{
    if (G.child > 0) {
        kill(G.child, SIGKILL);
        waitpid(G.child, NULL, 0);
        G.child = 0;
    }
    if (G.names_impl) {
        char nm[64];
        for (size_t i = 0; i < G.names_live; i++) {
            name_of(nm, sizeof nm, G.names_impl->tag, i);
            (void)G.names_impl->unlink(nm);
        }
        G.names_impl = NULL;
        G.names_live = 0;
    }
    stop_daemon();
}

__attribute__((format(printf, 1, 2))) static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (G.progress)
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
    if (G.progress)
        fputc('\n', stderr);
    fputs("esem-bench: interrupted; cleaning up\n", stderr);
    cleanup();
    exit(130);
}

static void progress(const char *what)
{
    if (!G.progress)
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

static void bench_post_wait(int ii, size_t n, size_t warm)
{
    const struct impl *im = &IMPLS[ii];
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
    BATCHED_PAIR[ii] = (double)(now_ns() - t0) / (double)n;
    if (im->destroy(s))
        die("%s: destroy: %s", im->name, strerror(errno));
    RES[R_POST][ii] = summarize(vp, n);
    RES[R_WAIT][ii] = summarize(vw, n);
    free(vp);
    free(vw);
}

static void bench_trywait(int ii, size_t n, size_t warm)
{
    const struct impl *im = &IMPLS[ii];
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
    RES[R_TRYWAIT][ii] = summarize(v, n);
    free(v);
}

static void bench_names(int ii, size_t n, size_t warm)
{
    const struct impl *im = &IMPLS[ii];
    uint64_t *vo = xcalloc(n, sizeof *vo), *vc = xcalloc(n, sizeof *vc),
             *vu = xcalloc(n, sizeof *vu);
    void **h = xcalloc(n, sizeof *h);
    char nm[64];
    G.names_impl = im;
    G.names_live = n + warm;
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
    G.names_impl = NULL;
    G.names_live = 0;
    RES[R_OPEN][ii] = summarize(vo, n);
    RES[R_CLOSE][ii] = summarize(vc, n);
    RES[R_UNLINK][ii] = summarize(vu, n);
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
        if (e == ETIMEDOUT && G.child > 0 && waitpid(G.child, &st, WNOHANG) == G.child) {
            G.child = 0;
            die("%s wake-up: the child exited early (status %d%s)", im->name,
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                WIFEXITED(st) ? "" : ", by signal");
        }
        die("%s wake-up: waiting for the child: %s", im->name, strerror(e));
    }
}

static void bench_wakeup(int ii, size_t n, size_t warm)
{
    const struct impl *im = &IMPLS[ii];
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
    G.child = c;
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
    G.child = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s wake-up: the child failed (status %d)", im->name, st);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = t_parent[warm + i], t1 = t_child[warm + i];
        v[i] = t1 > t0 ? t1 - t0 : 0;
    }
    if (im->destroy(a) || im->destroy(b))
        die("%s: destroy: %s", im->name, strerror(errno));
    RES[R_WAKE][ii] = summarize(v, n);
    munmap(t_child, bytes);
    free(t_parent);
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
    FILE *f = fopen(G.logpath, "r");
    if (!f)
        return;
    char line[512];
    fprintf(stderr, "---- %s ----\n", G.logpath);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static void spawn_daemon(const char *path)
{
    if (access(path, X_OK) < 0) {
        fprintf(stderr, "esem-bench: --spawn-daemon %s: %s\n", path, strerror(errno));
        exit(2);
    }
    snprintf(G.tmpdir, sizeof G.tmpdir, "/tmp/esem-bench-XXXXXX");
    if (!mkdtemp(G.tmpdir)) {
        fprintf(stderr, "esem-bench: mkdtemp %s: %s\n", G.tmpdir, strerror(errno));
        exit(2);
    }
    snprintf(G.sock, sizeof G.sock, "%s/esemd.sock", G.tmpdir);
    snprintf(G.logpath, sizeof G.logpath, "%s/esemd.log", G.tmpdir);
    snprintf(G.lockpath, sizeof G.lockpath, "%s/esemd.sock.lock", G.tmpdir);
    int logfd = open(G.logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0) {
        fprintf(stderr, "esem-bench: %s: %s\n", G.logpath, strerror(errno));
        rmdir(G.tmpdir);
        exit(2);
    }
    G.daemon_path = path;
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0) {
        fprintf(stderr, "esem-bench: fork: %s\n", strerror(errno));
        exit(2);
    }
    if (p == 0) {
        /* Own process group: a ^C at the terminal reaches only esem-bench,
         * which then stops the daemon itself after cleaning up. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execl(path, path, "-f", "-s", G.sock, (char *)NULL);
        dprintf(2, "esem-bench: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(logfd);
    G.daemon_pid = p;
    if (setenv("ESEM_SOCKET", G.sock, 1) < 0)
        die("setenv: %s", strerror(errno));

    uint64_t deadline = now_ns() + DAEMON_START_S * 1000000000ull;
    for (;;) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            G.daemon_pid = 0;
            fprintf(stderr, "esem-bench: the spawned esemd (%s) exited at start-up\n", path);
            print_daemon_log();
            exit(2);
        }
        struct stat sb;
        if (stat(G.sock, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            esem_t *probe = esem_create(0);
            if (probe) {
                if (esem_destroy(probe))
                    die("esem_destroy (probe): %s", strerror(errno));
                return;
            }
            if (errno != ECONNREFUSED)
                die("connecting to the spawned esemd: %s", strerror(errno));
        }
        if (now_ns() > deadline) {
            fprintf(stderr, "esem-bench: the spawned esemd did not accept connections on %s "
                            "within %d s\n", G.sock, DAEMON_START_S);
            print_daemon_log();
            G.daemon_failed = 1;
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

/* ---- output ---- */

struct plan {
    size_t iters, warm, names, names_warm, wake, wake_warm;
};

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static void paper_text(char *buf, size_t len, const struct rowdef *r)
{
    if (r->paper_esem < 0) {
        snprintf(buf, len, "-");
        return;
    }
    int n = snprintf(buf, len, "%g / %g", r->paper_esem, r->paper_legacy);
    if (r->paper_lf_esem >= 0 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "%*slockless %g / %g", 14 - n > 1 ? 14 - n : 1, "",
                 r->paper_lf_esem, r->paper_lf_legacy);
}

static void print_table(const struct plan *p)
{
    printf("esem-bench: esem (libesem + esemd) vs glibc sem_*, same machine, same run\n\n");
    printf("machine : %ld CPU(s), %s; %s; clocksource %s\n", M_NPROC, M_CPU, M_KERNEL,
           M_CLOCKSRC);
    if (G.daemon_path)
        printf("daemon  : spawned %s -f -s %s\n", G.daemon_path, G.sock);
    else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        printf("daemon  : already running at %s (%s)\n", path, how);
    }
    printf("samples : post/wait/trywait %zu each (+%zu warm-up); open/close/unlink %zu names "
           "(+%zu warm-up);\n          wake-up %zu rounds (+%zu warm-up)\n",
           p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm);
    printf("timer   : clock_gettime(CLOCK_MONOTONIC) back-to-back: median %.3f us, p99 %.3f us "
           "(included in every per-call figure)\n\n",
           us(TIMER.med), us(TIMER.p99));

    printf("%-24s %19s  %19s  %8s  | %s\n", "", "------- esem ------", "------ glibc ------",
           "esem /", "the paper's figures, NOT measured here:");
    printf("%-24s %9s %9s  %9s %9s  %8s  | %s\n", "us per call", "median", "p99", "median",
           "p99", "glibc", "ESem / legacy us (i7-9700k, SGX)");
    printf("%.*s\n", 120,
           "----------------------------------------------------------------------------------"
           "----------------------------------------------------------------------");
    for (int r = 0; r < R_N; r++) {
        const struct summary *e = &RES[r][I_ESEM], *g = &RES[r][I_GLIBC];
        char ratio[32], paper[96];
        if (g->med)
            snprintf(ratio, sizeof ratio, "%.1fx", (double)e->med / (double)g->med);
        else
            snprintf(ratio, sizeof ratio, "-");
        paper_text(paper, sizeof paper, &ROWS[r]);
        printf("%-24s %9.3f %9.3f  %9.3f %9.3f  %8s  | %s\n", ROWS[r].label, us(e->med),
               us(e->p99), us(g->med), us(g->p99), ratio, paper);
    }
    printf("\npost+wait pair, mean over a %zu-iteration loop without per-call timers: "
           "esem %.3f us, glibc %.3f us\n",
           p->iters, BATCHED_PAIR[I_ESEM] / 1000.0, BATCHED_PAIR[I_GLIBC] / 1000.0);
    printf("wake-up = child's return from wait minus the parent's clock just before post; the "
           "parent sleeps %ld us first\n          so the child is blocked (glibc: pshared sem_t "
           "in MAP_SHARED memory; esem: esem_create before fork).\n",
           WAKE_SLEEP_NS / 1000);
    printf("paper   : the right-hand column is quoted from the ESem paper (i7-9700k, SGX enclave) "
           "for reference only.\n");
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_summary(const struct summary *s)
{
    printf("{\"n\": %zu, \"median_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64 ", \"min_ns\": %" PRIu64
           ", \"max_ns\": %" PRIu64 ", \"mean_ns\": %.1f}",
           s->n, s->med, s->p99, s->min, s->max, s->mean);
}

static void print_json(const struct plan *p)
{
    printf("{\n  \"machine\": {\"nproc\": %ld, \"cpu\": ", M_NPROC);
    json_str(M_CPU);
    printf(", \"kernel\": ");
    json_str(M_KERNEL);
    printf(", \"clocksource\": ");
    json_str(M_CLOCKSRC);
    printf("},\n  \"daemon\": {\"spawned\": %s, \"socket\": ", G.daemon_path ? "true" : "false");
    if (G.daemon_path) {
        json_str(G.sock);
        printf(", \"path\": ");
        json_str(G.daemon_path);
    } else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        json_str(path);
    }
    printf("},\n  \"samples\": {\"iters\": %zu, \"warmup\": %zu, \"names\": %zu, "
           "\"names_warmup\": %zu, \"wakeup_rounds\": %zu, \"wakeup_warmup\": %zu, "
           "\"wakeup_sleep_ns\": %ld},\n",
           p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm, WAKE_SLEEP_NS);
    printf("  \"timer_overhead\": ");
    json_summary(&TIMER);
    printf(",\n  \"results\": {\n");
    for (int r = 0; r < R_N; r++) {
        const struct summary *e = &RES[r][I_ESEM], *g = &RES[r][I_GLIBC];
        printf("    \"%s\": {\"esem\": ", ROWS[r].key);
        json_summary(e);
        printf(",\n      \"glibc\": ");
        json_summary(g);
        if (g->med)
            printf(",\n      \"ratio_median\": %.2f}", (double)e->med / (double)g->med);
        else
            printf(",\n      \"ratio_median\": null}");
        printf("%s\n", r + 1 < R_N ? "," : "");
    }
    printf("  },\n  \"batched_post_wait_pair_mean_ns\": {\"esem\": %.1f, \"glibc\": %.1f},\n",
           BATCHED_PAIR[I_ESEM], BATCHED_PAIR[I_GLIBC]);
    printf("  \"paper_reference\": {\"note\": \"quoted from the ESem paper (i7-9700k, SGX); not "
           "measured here\", \"unit\": \"us\"");
    for (int r = 0; r < R_N; r++) {
        if (ROWS[r].paper_esem < 0)
            continue;
        printf(",\n    \"%s\": {\"esem\": %g, \"legacy\": %g}", ROWS[r].key, ROWS[r].paper_esem,
               ROWS[r].paper_legacy);
        if (ROWS[r].paper_lf_esem >= 0)
            printf(",\n    \"%s_lockless\": {\"esem\": %g, \"legacy\": %g}", ROWS[r].key,
                   ROWS[r].paper_lf_esem, ROWS[r].paper_lf_legacy);
    }
    printf("\n  }\n}\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: esem-bench [--iters N] [--json] [--spawn-daemon PATH]\n"
            "\n"
            "Times esem_* (through esemd) and glibc's sem_* call by call on this machine\n"
            "and prints median and p99 latency side by side: post, wait, trywait, open,\n"
            "close, unlink, and a cross-process wake-up of a blocked waiter.\n"
            "\n"
            "  --iters N            samples per post/wait/trywait (default %u; the whole run\n"
            "                       then takes well under 30 s on a 2-vCPU VM); open/close/\n"
            "                       unlink use min(N, %u) names and the wake-up min(N, %u)\n"
            "                       rounds\n"
            "  --json               print the same figures as JSON (times in ns)\n"
            "  --spawn-daemon PATH  start `PATH -f -s <tmpdir>/esemd.sock` for the run and\n"
            "                       stop it at the end; otherwise the esemd that libesem finds\n"
            "                       (ESEM_SOCKET, else the default socket) is used\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 success, 1 a measurement failed, 2 usage error or no esemd.\n",
            DEFAULT_ITERS, MAX_NAMES, MAX_WAKE);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"iters", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"spawn-daemon", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    size_t iters = DEFAULT_ITERS;
    int json = 0;
    const char *spawn = NULL;
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
            break;
        }
        case 'j': json = 1; break;
        case 'd': spawn = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    G.pid = getpid();
    G.progress = isatty(STDERR_FILENO);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Precise sleeps before each wake-up round. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    struct plan p = {.iters = iters};
    p.warm = iters / 10 < 100 ? 100 : iters / 10 > 10000 ? 10000 : iters / 10;
    p.names = iters < MAX_NAMES ? iters : MAX_NAMES;
    p.names_warm = p.names / 10 < 10 ? 10 : p.names / 10;
    p.wake = iters < MAX_WAKE ? iters : MAX_WAKE;
    p.wake_warm = p.wake / 20 < 10 ? 10 : p.wake / 20;

    machine_info();
    if (spawn)
        spawn_daemon(spawn);
    else
        require_daemon();

    progress("the clock");
    bench_timer(iters);
    for (int i = 0; i < I_N; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s post/wait", IMPLS[i].name);
        progress(what);
        bench_post_wait(i, iters, p.warm);
        snprintf(what, sizeof what, "%s trywait", IMPLS[i].name);
        progress(what);
        bench_trywait(i, iters, p.warm);
        snprintf(what, sizeof what, "%s open/close/unlink", IMPLS[i].name);
        progress(what);
        bench_names(i, p.names, p.names_warm);
        snprintf(what, sizeof what, "%s cross-process wake-up", IMPLS[i].name);
        progress(what);
        bench_wakeup(i, p.wake, p.wake_warm);
    }
    if (G.progress) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    check_stop();
    cleanup();
    if (G.daemon_failed)
        return 1;

    if (json)
        print_json(&p);
    else
        print_table(&p);
    return fflush(stdout) == 0 ? 0 : 1;
}
