/*
 * esem-bench: the two implementations behind one table of operations, the
 * timing of single calls, and the latency rows (open/close/unlink, post,
 * wait, trywait, the cross-process hand-off, idle and with the CPUs busy,
 * the System V ping-pong).
 */
#include "bench.h"

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

const struct impl IMPLS[I_N] = {
    {"esem", 'e', e_create, e_destroy, e_open_excl, e_close, e_unlink, e_post, e_wait,
     e_trywait, e_wait_until},
    {"glibc", 'g', g_create, g_destroy, g_open_excl, g_close, g_unlink, g_post, g_wait,
     g_trywait, g_wait_until},
};


/* ---- timing ---- */

/* ---- the measurements ---- */

void bench_timer(size_t n)
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

void bench_post_wait(int col, size_t n, size_t warm)
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

void bench_trywait(int col, size_t n, size_t warm)
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

void bench_names(int col, size_t n, size_t warm)
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

void bench_wakeup(int col, int row, size_t n, size_t warm)
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
    pid_t c = fork_kid();
    if (c == 0) {
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
void bench_wakeup_busy(int col, size_t n, size_t warm)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    size_t nb = (size_t)(BUSY_PER_CPU * ncpu);
    pid_t *busy = xcalloc(nb, sizeof *busy);
    for (size_t i = 0; i < nb; i++) {
        busy[i] = fork_kid();
        if (busy[i] == 0)
            for (volatile uint64_t x = 0;; x++)
                ;
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
void bench_sysv(int col, size_t n, size_t warm)
{
    const struct impl *im = COLS[col].im;
    uint64_t *v = xcalloc(n + warm, sizeof *v);
    int r = sysv_pingpong(im == &IMPLS[I_ESEM], n + warm, v);
    if (r < 0)
        die("%s: System V ping-pong: %s", im->name, strerror(-r));
    RES[R_SYSV][col] = summarize(v + warm, n);
    free(v);
}

