/*
 * esem-bench: throughput, N processes x M threads doing wait/post pairs on
 * K semaphores (N x M = 1..64, split both ways), pairs per second.
 */
#include "bench.h"


struct tp_shm {
    int ready;    /* threads that are about to block on the start pipe */
    int stop;     /* set by the parent: finish the current pair and exit */
    int err;      /* first errno a thread hit, else 0 */
    int err_what; /* 1 wait, 2 post, 3 pthread_create */
    struct {
        _Alignas(64) uint64_t pairs;
    } slot[TP_MAX_THREADS];
};

static const unsigned TP_TOTALS[] = {1, 2, 4, 8, 16, 32, 64};
_Static_assert(sizeof TP_TOTALS / sizeof TP_TOTALS[0] == TP_NT_FULL, "TP_NT_FULL");
size_t TP_NT = TP_NT_FULL;
unsigned TP_KS[TP_MAX_NK] = {1, 4};
size_t TP_NK = 2;
struct tp_row TP[TP_ROWS];
size_t TP_N;
double TP_DURATION = DEFAULT_DURATION;

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
    for (unsigned p = 0; p < nproc; p++) {
        pid_t c = fork_kid();
        if (c == 0) {
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

void tp_plan(void)
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

void bench_throughput(int col)
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

int tp_is_target(const struct tp_row *r)
{
    return r->procs == 8 && r->threads == 1 && r->sems == 1;
}

