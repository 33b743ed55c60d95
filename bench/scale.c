/*
 * esem-bench: scale, the latency of a post/wait pair with many semaphores
 * and with many client processes in the daemon, and the daemon's memory.
 */
#include "bench.h"


static const size_t SC_SEMS_FULL[SC_NS] = {1, 1000, 100000};
static const size_t SC_CLIENTS_FULL[SC_NC] = {1, 100, 1000};
static const size_t SC_SEMS_SMOKE[SC_NS] = {1, 10, 100}; /* --smoke */
static const size_t SC_CLIENTS_SMOKE[SC_NC] = {1, 2, 4};
static const size_t *SC_SEMS = SC_SEMS_FULL, *SC_CLIENTS = SC_CLIENTS_FULL;

void scale_smoke(void)
{
    SC_SEMS = SC_SEMS_SMOKE;
    SC_CLIENTS = SC_CLIENTS_SMOKE;
}

struct sc_row SC[MAX_COLS][SC_ROWS];

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

void bench_scale(int col)
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
                child_init(parent);
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

