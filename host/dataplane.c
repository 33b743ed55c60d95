/*
 * The data plane: worker threads (the paper's TCSs) that find requests in
 * client channels and hand each to serve.c (take it, run it through the
 * core, reply); here is when and where they look, and when they sleep.
 *
 * Binding: thread-process — each client channel is served by one worker.
 * A worker polls its hot channels while there is work and for spin_ns after
 * the last request; a channel with no news for COLD_NS turns cold (its
 * daemon_sleeping flag is set and its client rings the eventfd doorbell),
 * and an idle worker turns all of them cold and sleeps in epoll.  With both
 * sides busy a request therefore costs no system call on either side, and
 * polling costs follow the busy clients, not all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dataplane.h"
#include "serve.h"
#include "log.h"
#include "proc.h"
#include "util.h"

/* Cheap check without the core lock.  last_seq and cancel_seen belong to
 * the one worker of the channel under process binding; under semaphore
 * binding every worker reads them and serve_take() claims by compare-and-swap. */
static int slot_has_news(const struct client *c, uint32_t k)
{
    const struct esem_slot *s = &c->chan->slot[k];
    return atomic_load_explicit((_Atomic uint32_t *)&s->req_seq, memory_order_acquire) !=
               atomic_load_explicit((_Atomic uint32_t *)&c->ss[k].last_seq,
                                    memory_order_relaxed) ||
           atomic_load_explicit((_Atomic uint32_t *)&s->cancel_seq, memory_order_acquire) !=
               atomic_load_explicit((_Atomic uint32_t *)&c->ss[k].cancel_seen,
                                    memory_order_relaxed);
}

/* Semaphore binding: which worker serves slot k's news.  Calls that name
 * a semaphore go to the worker of its table index (the handle's low half
 * is index + 1); calls by name (open, unlink) and create go to worker 0,
 * and so does anything malformed.  A cancel goes to the worker of the
 * semaphore its wait is queued on.  The slot is the client's to rewrite,
 * so this is only a hint for spreading the work: serve_take() claims each
 * request exactly once, and whoever claims it serves it correctly. */
static int slot_owner(const struct client *c, uint32_t k)
{
    const volatile struct esem_slot *s = &c->chan->slot[k];
    const struct slot_state *ss = &c->ss[k];
    uint64_t h;
    if (s->req_seq != atomic_load_explicit((_Atomic uint32_t *)&ss->last_seq,
                                           memory_order_relaxed)) {
        uint32_t op = s->op;
        if (op == 0 || op >= ESEM_OP_MAX_ || op == ESEM_OP_OPEN || op == ESEM_OP_UNLINK ||
            op == ESEM_OP_CREATE)
            return 0;
        h = s->handle;
    } else {
        h = atomic_load_explicit((_Atomic uint64_t *)&ss->wait_handle, memory_order_relaxed);
    }
    return (int)(((uint32_t)h - 1u) % (uint32_t)esemd.nworkers);
}

static void worker_poke(struct worker *w);

/* c->last_news: written by whichever worker serves c (semaphore binding) */
static uint64_t news_get(const struct client *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)&c->last_news, memory_order_relaxed);
}

static void news_set(struct client *c, uint64_t t)
{
    atomic_store_explicit((_Atomic uint64_t *)&c->last_news, t, memory_order_relaxed);
}

/* Under semaphore binding a worker with nothing to do sleeps; whoever sees
 * news for it wakes it.  Dekker pair with the sleeper, which sets
 * `sleeping` and then scans once more. */
static void wake_owner(int o)
{
    struct worker *w = &esemd.workers[o];
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
        worker_poke(w);
}

/* Serve news in a client's active slots; returns how many slots had news
 * (under semaphore binding, including news left for another worker).  The
 * active mask is the client's to write, so any bit pattern is accepted: at
 * worst a hostile client makes us look at all of its slots. */
static int scan_client(struct worker *me, struct client *c, struct wakeq *q)
{
    int n = 0;
    if (atomic_load_explicit(&c->dropped, memory_order_relaxed))
        return 0;
    int by_sem = esemd.binding == ESEM_BIND_SEMAPHORE && esemd.nworkers > 1;
    for (uint32_t w = 0; w < ESEM_NSLOTS / 64; w++) {
        uint64_t bits = atomic_load_explicit((_Atomic uint64_t *)&c->chan->hdr.active[w],
                                             memory_order_seq_cst);
        while (bits) {
            uint32_t k = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (!slot_has_news(c, k))
                continue;
            n++;
            if (by_sem) {
                int o = slot_owner(c, k);
                if (o != me->index) {
                    wake_owner(o);
                    continue;
                }
            }
            struct refusal ref;
            struct taken t;
            if (!serve_take(c, k, &t))
                continue;
            pthread_mutex_lock(&esemd.core_mu);
            serve_slot(c, k, &t, q, &ref);
            pthread_mutex_unlock(&esemd.core_mu);
            /* A grant to a sleeping waiter is woken now, not after the
             * rest of the pass: the hand-off is what someone waits for. */
            wakeq_flush(q);
            if (by_sem) {
                news_set(c, esem_util_now_ns(CLOCK_MONOTONIC));
                atomic_fetch_add_explicit(&esemd.served, 1, memory_order_relaxed);
            }
            if (ref.st)
                esemd_refusal(c, serve_op_name(ref.op), ref.st);
        }
    }
    return n;
}

/* Hot and cold channels.  A worker polls only its hot channels; a channel
 * with no news for COLD_NS turns cold: the worker sets its daemon_sleeping
 * flag and from then on the client rings the doorbell (eventfd) with its
 * next request.  So the polling cost follows the busy clients, not all of
 * them (1000 idle clients would otherwise cost every request a scan of
 * 1000 channels). */
#define COLD_NS 2000000ull       /* 2 ms without news */
#define DOORBELL_POLL_NS 50000ull /* how often a busy worker looks at doorbells */

/* Move c between the cold set and the worker's hot list (w->hot, which
 * the polling loop walks).  w->mu held. */
static void set_cold(struct worker *w, struct client *c, uint32_t v)
{
    if (v && !c->cold) {
        struct client *last = w->hot[--w->nhot];
        w->hot[c->hot_idx] = last;
        last->hot_idx = c->hot_idx;
    } else if (!v && c->cold) {
        c->hot_idx = w->nhot;
        w->hot[w->nhot++] = c;
    }
    c->cold = v;
    atomic_store_explicit((_Atomic uint32_t *)&c->chan->hdr.daemon_sleeping, v,
                          memory_order_seq_cst);
}

/* Turn c cold.  Dekker pair with the client (store req_seq, load
 * daemon_sleeping): after our store we look once more, so a request that
 * raced the flag is served now.  w->mu held. */
static int cool(struct worker *w, struct client *c, struct wakeq *q)
{
    set_cold(w, c, 1);
    int n = scan_client(w, c, q);
    if (n) {
        set_cold(w, c, 0);
        news_set(c, esem_util_now_ns(CLOCK_MONOTONIC));
    }
    return n;
}

/* Take the doorbells that rang: their channels turn hot.  w->mu held.
 * An event whose eventfd no longer belongs to one of our clients (detached
 * meanwhile) is dropped without touching the descriptor. */
static void take_doorbells(struct worker *w, const struct epoll_event *ev, int ne, uint64_t now)
{
    for (int i = 0; i < ne; i++) {
        int fd = (int)ev[i].data.u64;
        if (fd == w->cmd_efd) {
            uint64_t v;
            if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
                esemd_log("worker %d: command read: %s", w->index, strerror(errno));
            continue;
        }
        for (uint32_t j = 0; j < w->nclients; j++) {
            struct client *c = w->clients[j];
            if (c->efd != fd)
                continue;
            uint64_t v;
            if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
                esemd_log("worker %d: doorbell read: %s", w->index, strerror(errno));
            set_cold(w, c, 0);
            news_set(c, now);
            break;
        }
    }
}

/* ---- the idle spin policy ----
 *
 * After its last request a worker keeps polling for a while, so that a busy
 * client's next request needs no doorbell (a system call) and no wake-up of
 * the worker (waking a thread on an idle vCPU is slow on a VM: the profile
 * of the cross-process hand-off in docs/DESIGN.md showed it as one of its
 * two big costs).  How long:
 *
 *  - spin_ns (--spin-us) after any request;
 *  - longer, up to ARM_MAX_NS, while a wait is queued in the core (someone
 *    will want the post that ends it, and the post should find the worker
 *    awake): twice the recent idle gaps that a request ended (a decaying
 *    maximum), so a daemon whose waiters sleep for seconds does not spin;
 *  - the longer spin only while a CPU is free: /proc/loadavg's count of
 *    runnable threads (this worker included) at most the CPUs we may use,
 *    or, where that count is high because other CPUs are busy (esemd given
 *    a CPU of its own with CPUAffinity= or taskset while the machine is
 *    full), the worker itself gets a CPU at once whenever it wants one:
 *    the run_delay of its /proc/thread-self/schedstat, per time it was
 *    switched in, at most OWN_CPU_WAIT_NS (a decaying maximum; a worker
 *    that shares its CPU with busy threads waits a scheduler slice, ms).
 *    Read at most every LOAD_SAMPLE_NS and only once we have been idle a
 *    while (right after a reply the client we answered still runs and
 *    would count), and no sched_yield of ours took longer than
 *    YIELD_SLOW_NS (then someone else was waiting for our CPU, whatever
 *    the sample said).  A spinning worker on an oversubscribed machine
 *    takes the CPU from the very threads it waits for (2 vCPUs: poster,
 *    waiter and worker), so there it yields from the first poll and sleeps
 *    after BUSY_SPIN_NS -- unless spinning has been paying: while
 *    most recent idle spells ended with a request inside the spin
 *    (w->hits, a saturating score: +1 per hit, -4 per spell that ended in
 *    sleep), it keeps the spin_ns spin, as a client streaming requests
 *    would otherwise pay a doorbell and a wake-up for each one.
 *
 * Spinning is a pure spin for ESEM_PURE_SPIN_NS (none when no CPU is
 * free), then sched_yield between polls, so a thread that shares our CPU
 * runs at once.  The sample is taken
 * at most every LOAD_SAMPLE_NS (an lseek+read of a descriptor kept open),
 * so it costs nothing measurable. */
#define ARM_MAX_NS 500000ull     /* longest spin while a wait is queued */
#define LOAD_SAMPLE_NS 1000000ull /* how often /proc/loadavg is read */
#define YIELD_SLOW_NS 50000ull    /* a yield this long: another thread ran */
#define OWN_CPU_WAIT_NS 100000ull /* a CPU of our own: switched in this fast */

/* With sample == 0 the last verdict (optimistic before the first). */
static int loadavg_free(struct worker *w)
{
    if (w->load_fd < 0)
        w->load_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    char buf[128];
    ssize_t n = -1;
    if (w->load_fd >= 0 && lseek(w->load_fd, 0, SEEK_SET) == 0)
        n = read(w->load_fd, buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long running = 0;
    /* "0.66 1.44 1.91 2/345 12345": runnable now / threads */
    return sscanf(buf, "%*s %*s %*s %lu/", &running) == 1 &&
           running <= (unsigned long)esemd.ncpu;
}

/* Does this worker get a CPU as soon as it wants one?  Only this thread
 * reads its own schedstat ("run_ns run_delay_ns timeslices"). */
static int own_cpu_free(struct worker *w)
{
    if (w->sched_fd == -1)
        w->sched_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (w->sched_fd < 0) {
        w->sched_fd = -2; /* not on this kernel: do not try again */
        return 0;
    }
    char buf[96];
    ssize_t n = -1;
    if (lseek(w->sched_fd, 0, SEEK_SET) == 0)
        n = read(w->sched_fd, buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long run, delay, runs;
    if (sscanf(buf, "%llu %llu %llu", &run, &delay, &runs) != 3)
        return 0;
    uint64_t est = w->cpu_wait_est - w->cpu_wait_est / 4;
    if (w->sched_runs && runs > w->sched_runs && delay >= w->sched_delay) {
        uint64_t per = (delay - w->sched_delay) / (runs - w->sched_runs);
        if (per > est)
            est = per;
    } else if (!w->sched_runs) {
        est = 10 * OWN_CPU_WAIT_NS; /* no history yet: not free until it decays */
    }
    w->cpu_wait_est = est;
    w->sched_delay = delay;
    w->sched_runs = runs;
    return est <= OWN_CPU_WAIT_NS;
}

static int cpu_free(struct worker *w, uint64_t now, int sample)
{
    if (!sample || (w->load_at && now - w->load_at < LOAD_SAMPLE_NS))
        return w->load_free;
    w->load_at = now;
    /* both, every sample: the schedstat estimate must see every window */
    int own = own_cpu_free(w);
    w->load_free = loadavg_free(w) || own;
    return w->load_free;
}

#define BUSY_SPIN_NS 10000ull /* oversubscribed: yield-spin this long, then sleep */
#define HITS_MAX 32
#define HITS_SPIN 16 /* score from which an oversubscribed worker spins spin_ns */

static void note_sleep(struct worker *w)
{
    w->hits = w->hits > 4 ? w->hits - 4 : 0;
}

static void note_gap(struct worker *w, uint64_t gap)
{
    if (gap <= esemd.spin_ns && w->hits < HITS_MAX)
        w->hits++;
    if (gap > 4 * ARM_MAX_NS)
        gap = 4 * ARM_MAX_NS;
    uint64_t decayed = w->gap_est - w->gap_est / 8;
    w->gap_est = gap > decayed ? gap : decayed;
}

/* How long to poll without a request before sleeping. */
static uint64_t spin_budget(struct worker *w, uint64_t now, int sample)
{
    if (!cpu_free(w, now, sample))
        return w->hits >= HITS_SPIN || esemd.spin_ns < BUSY_SPIN_NS ? esemd.spin_ns : BUSY_SPIN_NS;
    uint64_t b = esemd.spin_ns;
    if (atomic_load_explicit(&esemd.nqueued, memory_order_relaxed) && w->gap_est &&
        w->gap_est <= ARM_MAX_NS) {
        uint64_t a = 2 * w->gap_est + esemd.spin_ns;
        if (a > ARM_MAX_NS)
            a = ARM_MAX_NS;
        if (a > b)
            b = a;
    }
    return b;
}

/* How long to spin without yielding: with no CPU free, not at all -- the
 * thread we wait for may be queued behind us on this very CPU (a profile
 * showed client and worker sharing one CPU, the worker spinning out its
 * pure spin, then sleeping, and every request paying a doorbell). */
static uint64_t pure_spin(struct worker *w)
{
    return w->load_free ? ESEM_PURE_SPIN_NS : 0;
}

/* sched_yield, and learn from how long it took (see cpu_free). */
static void yield_timed(struct worker *w)
{
    uint64_t t0 = esem_util_now_ns(CLOCK_MONOTONIC);
    sched_yield();
    uint64_t t1 = esem_util_now_ns(CLOCK_MONOTONIC);
    if (t1 - t0 > YIELD_SLOW_NS) {
        w->load_free = 0;
        w->load_at = t1;
    }
}

static int stopping(struct worker *w)
{
    return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
}

/* Semaphore binding: every worker scans worker 0's hot channels.  They are
 * scanned from a copy of the list taken under its lock, each pinned so
 * dp_detach waits until the scan is over: a worker must not hold the list
 * lock for a whole pass (with the core calls in it), or the others starve
 * on it while worker 0 loops. */
struct snap {
    struct client **c;
    uint32_t n, cap;
};

static int scan_hot(struct worker *me, struct snap *sn, struct wakeq *q, uint64_t now)
{
    struct worker *h = &esemd.workers[0];
    pthread_mutex_lock(&h->mu);
    if (sn->cap < h->nhot) {
        uint32_t cap = h->nhot * 2;
        struct client **nc = realloc(sn->c, cap * sizeof *nc);
        if (nc) {
            sn->c = nc;
            sn->cap = cap;
        }
    }
    sn->n = h->nhot < sn->cap ? h->nhot : sn->cap;
    for (uint32_t i = 0; i < sn->n; i++) {
        sn->c[i] = h->hot[i];
        atomic_fetch_add_explicit(&sn->c[i]->pins, 1, memory_order_acquire);
    }
    pthread_mutex_unlock(&h->mu);
    int n = 0;
    for (uint32_t i = 0; i < sn->n; i++) {
        struct client *c = sn->c[i];
        int k = scan_client(me, c, q);
        if (k) {
            n += k;
            news_set(c, now);
        }
        atomic_fetch_sub_explicit(&c->pins, 1, memory_order_release);
    }
    return n;
}


/* A worker's idle spell: when it began, how long it may spin, polls since. */
struct idle {
    uint64_t since, budget;
    unsigned spins;
};

/* The spin policy both worker loops share: after a pass at time now that
 * found n requests, 1 = poll again, 0 = the spell is over: sleep. */
static int keep_polling(struct worker *w, struct idle *id, uint64_t now, int n)
{
    if (n) {
        if (id->since)
            note_gap(w, now - id->since);
        id->since = 0;
        id->spins = 0;
        return 1;
    }
    if (!id->since) {
        id->since = now;
        id->budget = spin_budget(w, now, 0);
    }
    if (++id->spins & 15) {
        esem_util_cpu_relax();
        return 1;
    }
    if (now - id->since < id->budget) {
        if (now - id->since >= pure_spin(w)) {
            /* re-check now and then: the machine may have filled up */
            id->budget = spin_budget(w, now, (id->spins & 1023) == 0);
            yield_timed(w);
        }
        return 1;
    }
    /* Before sleeping, one fresh look (at most every LOAD_SAMPLE_NS): now
     * that we have been idle, the sample is not biased by the client we
     * just answered. */
    id->budget = spin_budget(w, now, 1);
    return now - id->since < id->budget;
}

/* The channel worker: process binding, every worker; semaphore binding,
 * worker 0, which keeps all channels hot or cold and answers their
 * doorbells (the other workers poll its hot list, see helper_main). */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct wakeq q = {.n = 0};
    struct epoll_event ev[64];
    uint64_t last_bells = 0, served = 0;
    struct idle idle = {0, 0, 0};
    int by_sem = esemd.binding == ESEM_BIND_SEMAPHORE && esemd.nworkers > 1;
    struct snap sn = {NULL, 0, 0};
    for (;;) {
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        int n = by_sem ? scan_hot(w, &sn, &q, now) : 0;
        pthread_mutex_lock(&w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        for (uint32_t i = 0; i < w->nhot;) {
            struct client *c = w->hot[i];
            int k = by_sem ? 0 : scan_client(w, c, &q);
            if (k) {
                n += k;
                news_set(c, now);
            } else if (now - news_get(c) > COLD_NS && now > news_get(c)) {
                n += cool(w, c, &q);
                if (c->cold)
                    continue; /* the list's last entry moved into place i */
            }
            i++;
        }
        /* A busy worker still answers cold clients' doorbells promptly. */
        if (now - last_bells > DOORBELL_POLL_NS) {
            last_bells = now;
            int ne = epoll_wait(w->epfd, ev, 64, 0);
            if (ne > 0) {
                take_doorbells(w, ev, ne, now);
                n += ne;
            }
        }
        pthread_mutex_unlock(&w->mu);
        /* Semaphore binding: the channels are busy while another worker
         * serves them, even if we had nothing to do ourselves. */
        uint64_t sv = atomic_load_explicit(&esemd.served, memory_order_relaxed);
        if (sv != served) {
            served = sv;
            n++;
        }
        wakeq_flush(&q);
        if (q.woke) {
            /* We just woke a waiter.  With no CPU free the scheduler put
             * it on a busy one, maybe ours: let it run now rather than
             * after our next poll. */
            q.woke = 0;
            sched_yield();
        }
        if (keep_polling(w, &idle, now, n))
            continue;
        /* Idle: every channel turns cold, then sleep until a doorbell. */
        pthread_mutex_lock(&w->mu);
        int busy = w->stop;
        for (uint32_t i = 0; i < w->nhot;) {
            struct client *c = w->hot[i];
            busy += cool(w, c, &q);
            if (c->cold)
                continue;
            i++;
        }
        pthread_mutex_unlock(&w->mu);
        wakeq_flush(&q);
        q.woke = 0;
        if (!busy) {
            note_sleep(w);
            int ne = epoll_wait(w->epfd, ev, 64, -1);
            if (ne > 0) {
                pthread_mutex_lock(&w->mu);
                take_doorbells(w, ev, ne, esem_util_now_ns(CLOCK_MONOTONIC));
                pthread_mutex_unlock(&w->mu);
            }
            /* idle.since stays: the gap this doorbell ends is counted
             * when its request is served */
            idle.budget = 0;
            continue;
        }
        idle.since = 0;
    }
    if (w->load_fd >= 0)
        close(w->load_fd);
    if (w->sched_fd >= 0)
        close(w->sched_fd);
    free(sn.c);
    return NULL;
}

/* Semaphore binding, workers 1..N-1: poll worker 0's hot channels and serve
 * the requests on their own semaphores (slot_owner).  Worker 0 turns
 * channels hot and cold; it never sleeps while one is hot, and wakes a
 * sleeping worker that has news (wake_owner), so no request is missed:
 * news on a hot channel is seen by worker 0 at least, and news on a cold
 * one rings worker 0's doorbell. */
static void *helper_main(void *arg)
{
    struct worker *w = arg;
    struct wakeq q = {.n = 0};
    struct snap sn = {NULL, 0, 0};
    struct idle idle = {0, 0, 0};
    while (!stopping(w)) {
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        int n = scan_hot(w, &sn, &q, now);
        if (q.woke) {
            q.woke = 0;
            sched_yield();
        }
        if (keep_polling(w, &idle, now, n))
            continue;
        /* Sleep.  Dekker pair with wake_owner(): set the flag, then look
         * once more, so news that came meanwhile is served now. */
        atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        n += scan_hot(w, &sn, &q, now);
        q.woke = 0;
        if (!n && !stopping(w)) {
            note_sleep(w);
            struct epoll_event ev[4];
            int ne = epoll_wait(w->epfd, ev, 4, -1);
            for (int i = 0; i < ne; i++) {
                uint64_t v;
                if (read(w->cmd_efd, &v, sizeof v) < 0 && errno != EAGAIN)
                    esemd_log("worker %d: command read: %s", w->index, strerror(errno));
            }
        }
        atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
        idle.budget = 0;
        if (n)
            idle.since = 0;
    }
    if (w->load_fd >= 0)
        close(w->load_fd);
    if (w->sched_fd >= 0)
        close(w->sched_fd);
    free(sn.c);
    return NULL;
}

static void worker_poke(struct worker *w)
{
    uint64_t one = 1;
    if (write(w->cmd_efd, &one, sizeof one) < 0 && errno != EAGAIN)
        esemd_log("worker %d: poke: %s", w->index, strerror(errno));
}

int dp_start(int nworkers)
{
    esemd.nworkers = nworkers;
    esemd.workers = calloc((size_t)nworkers, sizeof *esemd.workers);
    if (!esemd.workers)
        return -1;
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        w->index = i;
        w->load_fd = -1;
        w->sched_fd = -1;
        w->load_free = 1; /* until the first sample says otherwise */
        w->hits = HITS_SPIN;
        pthread_mutex_init(&w->mu, NULL);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->cmd_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->epfd < 0 || w->cmd_efd < 0)
            return -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)w->cmd_efd};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->cmd_efd, &ev) < 0)
            return -1;
        int helper = esemd.binding == ESEM_BIND_SEMAPHORE && i > 0;
        if (pthread_create(&w->thread, NULL, helper ? helper_main : worker_main, w) != 0)
            return -1;
    }
    return 0;
}

void dp_stop(void)
{
    for (int i = 0; i < esemd.nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        pthread_mutex_lock(&w->mu);
        __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&w->mu);
        worker_poke(w);
    }
    for (int i = 0; i < esemd.nworkers; i++) {
        struct worker *w = &esemd.workers[i];
        pthread_join(w->thread, NULL);
        close(w->epfd);
        close(w->cmd_efd);
        free(w->clients);
        free(w->hot);
    }
    free(esemd.workers);
    esemd.workers = NULL;
}

void dp_attach(struct client *c)
{
    /* Fewest clients wins; ties go to the lowest index.  Semaphore
     * binding: worker 0 holds every channel, the others poll its list. */
    struct worker *w = &esemd.workers[0];
    for (int i = 1; i < esemd.nworkers && esemd.binding == ESEM_BIND_PROCESS; i++)
        if (esemd.workers[i].nclients < w->nclients)
            w = &esemd.workers[i];
    pthread_mutex_lock(&w->mu);
    if (w->nclients == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 16;
        struct client **n = realloc(w->clients, cap * sizeof *n);
        struct client **h = n ? realloc(w->hot, cap * sizeof *h) : NULL;
        if (h)
            w->hot = h;
        if (!n || !h) {
            if (n)
                w->clients = n;
            pthread_mutex_unlock(&w->mu);
            esemd_log("out of memory attaching pid %d", (int)c->pid);
            return;
        }
        w->clients = n;
        w->cap = cap;
    }
    w->clients[w->nclients++] = c;
    c->w = w;
    /* Start cold: the client's first request rings the doorbell, which
     * turns the channel hot. */
    c->cold = 1;
    c->chan->hdr.daemon_sleeping = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c->efd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->efd, &ev) < 0)
        esemd_log("epoll add for pid %d: %s", (int)c->pid, strerror(errno));
    pthread_mutex_unlock(&w->mu);
    worker_poke(w);
}

void dp_detach(struct client *c)
{
    struct worker *w = c->w;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!c->cold)
        set_cold(w, c, 1); /* off the hot list */
    for (uint32_t i = 0; i < w->nclients; i++) {
        if (w->clients[i] == c) {
            w->clients[i] = w->clients[--w->nclients];
            break;
        }
    }
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->efd, NULL);
    pthread_mutex_unlock(&w->mu);
    /* off the lists: no new scan can start; wait for those running */
    while (atomic_load_explicit(&c->pins, memory_order_acquire))
        sched_yield();
    c->w = NULL;
}
