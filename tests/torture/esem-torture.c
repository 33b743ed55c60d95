/*
 * esem-torture: N worker processes x M threads hammer a named, an unnamed
 * and two System V semaphores with a random mix of operations, while the
 * orchestrator kills a random worker with SIGKILL every K ms (and, with
 * --stop, freezes one with SIGSTOP for a while), then checks that every
 * permit is accounted for.
 *
 *   esem-torture [--procs N] [--threads M] [--seconds S] [--kill-ms K] [--stop]
 *                [--esemctl PATH] [--restart-ms R]
 *
 * --restart-ms R: every R ms the daemon is restarted without loss
 * (`ESEMCTL restart`: a new esemd takes the running one's state over; it
 * must run with --allow-takeover), while the workers keep going.
 *
 * Accounting: each thread marks the operation it is about to make in shared
 * memory, counts it once it succeeded, then clears the mark.  A worker
 * killed with a mark set leaves one operation uncertain (done or not: no
 * one can know, as with glibc).  At the end, per semaphore:
 *     value == initial + posts - waits, give or take the uncertain ones
 * (a post: +1 or 0; a wait: -1 or 0) — exact when nothing was uncertain.
 * A grant the daemon made to a waiter that died before taking it is posted
 * again by the daemon (esemctl stats: "grants re-posted"), so it is not
 * lost.  The SEM_UNDO set is a mutex taken with SEM_UNDO: whoever is killed
 * holding it gives it back, so it must end at 1 and never have two holders.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esem.h"

enum { S_NAMED, S_UNNAMED, S_SYSV0, S_SYSV1, NSEM };
static const char *const sem_label[NSEM] = {"named", "unnamed", "sysv[0]", "sysv[1]"};
#define INIT 4
#define MAXP 64
#define MAXT 16

struct shared {
    _Atomic uint64_t posts[NSEM], waits[NSEM];
    _Atomic uint32_t inflight[MAXP][MAXT]; /* 0 none, else 1 + sem * 2 + (1: wait) */
    _Atomic int32_t holder;                /* the SEM_UNDO mutex: who is inside */
    _Atomic uint64_t overlaps, mutex_rounds, errors;
    _Atomic uint64_t longest_post_ns; /* a post waits for nobody: with restarts,
                                       * the pause a client saw */
};

static struct shared *sh;
static esem_t *named, *unnamed;
static int set, mset; /* System V: two counting semaphores; a SEM_UNDO mutex */
static int threads = 4;
static volatile sig_atomic_t stop;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static struct timespec in_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

/* One operation on semaphore s: post (kind 0) or a wait (1); 0 if done. */
static int op(int s, int kind, uint64_t *r)
{
    if (s == S_NAMED || s == S_UNNAMED) {
        esem_t *e = s == S_NAMED ? named : unnamed;
        if (!kind)
            return esem_post(e);
        if (rnd(r) & 1)
            return esem_trywait(e);
        struct timespec d = in_ms(1 + (long)(rnd(r) % 5));
        return esem_timedwait(e, &d);
    }
    struct sembuf b = {(unsigned short)(s - S_SYSV0), (short)(kind ? -1 : 1), 0};
    if (!kind)
        return esem_semop(set, &b, 1);
    if (rnd(r) & 1) {
        b.sem_flg = IPC_NOWAIT;
        return esem_semop(set, &b, 1);
    }
    struct timespec rel = {0, (long)(1 + rnd(r) % 5) * 1000000L};
    return esem_semtimedop(set, &b, 1, &rel);
}

struct targ {
    int proc, thread;
};

static void *worker_thread(void *arg)
{
    struct targ *a = arg;
    uint64_t r = (uint64_t)getpid() * 2654435761u + (uint64_t)a->thread * 97 + 1;
    _Atomic uint32_t *mark = &sh->inflight[a->proc][a->thread];
    while (!stop) {
        uint64_t x = rnd(&r) % 10;
        if (x == 0) { /* the SEM_UNDO mutex */
            struct sembuf take = {0, -1, SEM_UNDO}, give = {0, 1, SEM_UNDO};
            struct timespec rel = {0, 5000000};
            if (esem_semtimedop(mset, &take, 1, &rel) != 0)
                continue;
            int32_t prev = atomic_exchange(&sh->holder, (int32_t)getpid());
            if (prev != 0 && kill(prev, 0) == 0) /* a live holder: two inside */
                atomic_fetch_add(&sh->overlaps, 1);
            atomic_fetch_add(&sh->mutex_rounds, 1);
            atomic_store(&sh->holder, 0);
            if (esem_semop(mset, &give, 1) != 0)
                atomic_fetch_add(&sh->errors, 1);
            continue;
        }
        int s = (int)(rnd(&r) % NSEM), kind = x >= 4; /* 30 % posts, 60 % waits */
        atomic_store(mark, (uint32_t)(1 + s * 2 + kind));
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = op(s, kind, &r);
        if (!kind) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
                          (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
            uint64_t was = atomic_load(&sh->longest_post_ns);
            while (ns > was && !atomic_compare_exchange_weak(&sh->longest_post_ns, &was, ns))
                ;
        }
        if (rc == 0)
            atomic_fetch_add(kind ? &sh->waits[s] : &sh->posts[s], 1);
        else if (errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR && errno != ERANGE &&
                 errno != EOVERFLOW)
            atomic_fetch_add(&sh->errors, 1);
        atomic_store(mark, 0);
    }
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static pid_t spawn(int proc)
{
    pid_t p = fork();
    if (p != 0)
        return p;
    signal(SIGTERM, on_term);
    pthread_t t[MAXT];
    struct targ a[MAXT];
    for (int i = 0; i < threads; i++) {
        a[i] = (struct targ){proc, i};
        pthread_create(&t[i], NULL, worker_thread, &a[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    _exit(0);
}

int main(int argc, char **argv)
{
    int procs = 8, kill_ms = 100, stopping = 0, restart_ms = 0;
    double seconds = 20;
    const char *ctl = NULL;
    static const struct option opts[] = {{"procs", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"kill-ms", required_argument, 0, 'k'},
                                         {"stop", no_argument, 0, 'S'},
                                         {"esemctl", required_argument, 0, 'c'},
                                         {"restart-ms", required_argument, 0, 'R'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "p:t:s:k:Sc:R:V", opts, NULL)) != -1) {
        switch (o) {
        case 'p': procs = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'k': kill_ms = atoi(optarg); break;
        case 'S': stopping = 1; break;
        case 'c': ctl = optarg; break;
        case 'R': restart_ms = atoi(optarg); break;
        case 'V': puts("esem-torture " ESEM_VERSION); return 0;
        default:
            fprintf(stderr, "usage: esem-torture [--procs N] [--threads M] [--seconds S] "
                            "[--kill-ms K] [--stop] [--esemctl PATH] [--restart-ms R]\n");
            return 2;
        }
    }
    if (procs < 1 || procs > MAXP || threads < 1 || threads > MAXT || seconds <= 0 ||
        kill_ms < 0 || restart_ms < 0 || (restart_ms && !ctl)) {
        fprintf(stderr, "esem-torture: 1..%d procs, 1..%d threads, seconds > 0 (--restart-ms "
                        "needs --esemctl)\n", MAXP, MAXT);
        return 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char name[64];
    snprintf(name, sizeof name, "/esem-torture-%d", (int)getpid());
    named = esem_open(name, O_CREAT | O_EXCL, 0600, INIT);
    unnamed = esem_create(INIT);
    set = esem_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    mset = esem_semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    unsigned short init[2] = {INIT, INIT};
    if (sh == MAP_FAILED || !named || !unnamed || set < 0 || mset < 0 ||
        esem_semctl(set, 0, SETALL, init) < 0 || esem_semctl(mset, 0, SETVAL, 1) < 0) {
        fprintf(stderr, "esem-torture: set-up: %s (is esemd running? ESEM_SOCKET?)\n",
                strerror(errno));
        return 1;
    }
    pid_t pid[MAXP];
    for (int i = 0; i < procs; i++)
        pid[i] = spawn(i);
    uint64_t rs = (uint64_t)getpid() | 1, kills = 0, stops = 0, restarts = 0, restart_fails = 0;
    double last_restart = 0;
    uint64_t unc_post[NSEM] = {0}, unc_wait[NSEM] = {0};
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (el >= seconds)
            break;
        if (restart_ms && (el - last_restart) * 1000 >= restart_ms) {
            /* a new esemd takes the state over while everybody works on */
            char cmd[600];
            snprintf(cmd, sizeof cmd, "%s restart >/dev/null", ctl);
            if (system(cmd) == 0)
                restarts++;
            else
                restart_fails++;
            last_restart = el;
        }
        struct timespec nap = {0, (kill_ms ? kill_ms : 100) * 1000000L};
        nanosleep(&nap, NULL);
        if (!kill_ms)
            continue;
        int v = (int)(rnd(&rs) % (uint64_t)procs);
        if (stopping && rnd(&rs) % 4 == 0) { /* freeze one for a while instead */
            kill(pid[v], SIGSTOP);
            struct timespec f = {0, 30000000};
            nanosleep(&f, NULL);
            kill(pid[v], SIGCONT);
            stops++;
            continue;
        }
        kill(pid[v], SIGKILL);
        while (waitpid(pid[v], NULL, 0) < 0 && errno == EINTR)
            ;
        kills++;
        for (int t = 0; t < threads; t++) { /* what it may have been doing */
            uint32_t m = atomic_exchange(&sh->inflight[v][t], 0);
            if (m) {
                int s = (int)(m - 1) / 2, kind = (int)(m - 1) % 2;
                (kind ? unc_wait : unc_post)[s]++;
            }
        }
        pid[v] = spawn(v);
    }
    for (int i = 0; i < procs; i++)
        kill(pid[i], SIGTERM);
    for (int i = 0; i < procs; i++)
        while (waitpid(pid[i], NULL, 0) < 0 && errno == EINTR)
            ;
    int bad = 0;
    uint64_t total = 0;
    printf("esem-torture: %d procs x %d threads, %.0f s, %llu kill -9, %llu SIGSTOP, %llu "
           "daemon restart(s)%s\n",
           procs, threads, seconds, (unsigned long long)kills, (unsigned long long)stops,
           (unsigned long long)restarts, restart_fails ? " (SOME FAILED)" : "");
    bad |= restart_fails != 0;
    for (int s = 0; s < NSEM; s++) {
        int v = -1;
        if (s == S_NAMED)
            esem_getvalue(named, &v);
        else if (s == S_UNNAMED)
            esem_getvalue(unnamed, &v);
        else
            v = esem_semctl(set, s - S_SYSV0, GETVAL);
        uint64_t p = atomic_load(&sh->posts[s]), w = atomic_load(&sh->waits[s]);
        long long exp = INIT + (long long)p - (long long)w;
        long long lo = exp - (long long)unc_wait[s], hi = exp + (long long)unc_post[s];
        int ok = v >= lo && v <= hi;
        bad |= !ok;
        total += p + w;
        printf("  %-8s value %d, expected %lld (%llu posts, %llu waits; %llu post(s) and %llu "
               "wait(s) cut by a kill: %lld..%lld) %s\n",
               sem_label[s], v, exp, (unsigned long long)p, (unsigned long long)w,
               (unsigned long long)unc_post[s], (unsigned long long)unc_wait[s], lo, hi,
               ok ? "ok" : "WRONG");
    }
    int mv = esem_semctl(mset, 0, GETVAL);
    uint64_t ov = atomic_load(&sh->overlaps), er = atomic_load(&sh->errors);
    printf("  SEM_UNDO mutex: value %d (want 1), %llu rounds, %llu overlap(s) (want 0)\n", mv,
           (unsigned long long)atomic_load(&sh->mutex_rounds), (unsigned long long)ov);
    printf("  unexpected errors: %llu; operations counted: %llu; longest post: %.1f ms\n",
           (unsigned long long)er, (unsigned long long)total,
           (double)atomic_load(&sh->longest_post_ns) / 1e6);
    bad |= mv != 1 || ov != 0 || er != 0;
    if (ctl) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "%s stats | grep 're-posted'", ctl);
        fflush(stdout);
        if (system(cmd) != 0)
            printf("  (%s stats: no answer)\n", ctl);
    }
    esem_close(named);
    esem_unlink(name);
    esem_destroy(unnamed);
    esem_semctl(set, 0, IPC_RMID);
    esem_semctl(mset, 0, IPC_RMID);
    printf("esem-torture: %s\n", bad ? "FAILED" : "every permit accounted for");
    return bad ? 1 : 0;
}
