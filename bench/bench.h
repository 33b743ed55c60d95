/*
 * esem-bench's parts (docs/PERFORMANCE.md, esem-bench(1)):
 *   esem-bench.c  main: options, columns (a child per column), the daemon,
 *                 the machine
 *   run.c         the shared state, clean-up, dying, a child's set-up, timing
 *   latency.c     the two implementations, timing, the latency rows
 *   throughput.c  N processes x M threads on K semaphores
 *   scale.c       latency with many semaphores and many clients
 *   report.c      the tables and the JSON
 *   sysv_pingpong.c  the System V ping-pong (LMBench lat_sem's shape)
 */
#ifndef ESEM_BENCH_H
#define ESEM_BENCH_H

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


/* ---- the two implementations behind one table of operations (latency.c) ---- */

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

enum { I_ESEM, I_GLIBC, I_N };
extern const struct impl IMPLS[I_N];

/* ---- columns: esem once per binding mode of the daemon, then glibc ---- */

/* esemd --binding: the paper's two TCS binding modes.  "process" is its
 * thread-process binding (a spin lock on the semaphore), "semaphore" its
 * thread-semaphore binding ("lockless": no lock on the semaphore). */
#define N_BINDINGS 2u /* BINDINGS (run.c) */
extern const char *const BINDINGS[N_BINDINGS]; /* run.c */
#define MAX_COLS (N_BINDINGS + 1)

struct column {
    const struct impl *im;
    const char *binding;   /* esem: the mode we asked a spawned daemon for; NULL: not ours */
    char key[24];          /* JSON key: esem_process, esem_semaphore, esem, glibc */
    char label[24];        /* in table headings */
    char daemon_start[512]; /* esem, spawned: the daemon's "start:" log line */
};

extern struct column COLS[MAX_COLS];
extern int NCOLS;

/* ---- result rows ---- */

enum { R_OPEN, R_CLOSE, R_POST, R_WAIT, R_UNLINK, R_TRYWAIT, R_HANDOFF, R_SYSV, R_HANDOFF_BUSY, R_N };

struct rowdef {
    const char *key, *label;
};

extern const struct rowdef ROWS[R_N]; /* report.c */

struct summary {
    size_t n;
    uint64_t min, med, p99, max;
    double mean;
};

extern struct summary RES[R_N][MAX_COLS];
extern struct summary TIMER;
extern double BATCHED_PAIR[MAX_COLS];

/* ---- global state for clean-up (run.c) ---- */

struct bench_run {
    pid_t pid;
    pid_t daemon_pid;
    pid_t child;
    pid_t kids[MAX_KIDS]; /* --throughput / --scale children */
    size_t nkids;
    char tmpdir[64];
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char logpath[128];
    const char *daemon_path;
    unsigned workers; /* --workers for a spawned daemon; 0: its default */
    int daemon_failed;
    const struct impl *names_impl; /* names [0, names_live) may exist */
    size_t names_live;
    int progress;
    pid_t colkid; /* parent: the child measuring one column */
    int in_child; /* this is such a child */
};
extern struct bench_run run;
extern volatile sig_atomic_t g_stop;

/* ---- throughput (throughput.c) ---- */

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
#define TP_NT_FULL 7u /* values in TP_TOTALS (throughput.c) */
#define TP_NT_SMOKE 3u
#define TP_ROWS (TP_MAX_NK * (2 * TP_NT_FULL - 1))

struct tp_row {
    unsigned procs, threads, sems;
    double rate[MAX_COLS]; /* pairs per second */
};
extern struct tp_row TP[TP_ROWS];
extern size_t TP_N, TP_NT, TP_NK;
extern unsigned TP_KS[TP_MAX_NK];
extern double TP_DURATION;

/* ---- scale (scale.c) ---- */

#define SC_PAIRS 20000u
#define SC_WARM 2000u
#define SC_WARM_NS 200000000ull /* and at least 0.2 s */
#define SC_READY_S 30 /* the client children get this long to connect */
#define SC_NS 3u /* steps of each dimension */
#define SC_NC 3u
#define SC_ROWS (SC_NS + SC_NC)
struct sc_row {
    int clients;      /* 0: the row varies the number of semaphores */
    size_t want, got; /* semaphores or client processes (ourselves included) */
    struct summary lat;
    long rss_kb; /* the daemon's VmRSS, -1 unknown */
    int err;     /* errno that stopped us short of `want`, else 0 */
};
extern struct sc_row SC[MAX_COLS][SC_ROWS]; /* esem columns only */

/* ---- the idle daemon (idle.c): part of --scale ---- */

#define IDLE_S 10u /* seconds measured, after 1 s to settle (--smoke: 1, 0.2) */
struct idle_res {
    unsigned seconds;
    long ticks; /* utime + stime of the spawned esemd; -1: not measured */
    long hz;    /* sysconf(_SC_CLK_TCK) */
};
extern struct idle_res IDLE[MAX_COLS];
void bench_idle(int col);
void idle_smoke(void);

/* ---- columns (esem-bench.c) ---- */

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
    struct idle_res idle;
    char sock[sizeof run.sock];
    char daemon_start[sizeof COLS[0].daemon_start];
};


/* ---- the machine (run.c; filled in by esem-bench.c) ---- */

extern char M_CPU[256], M_KERNEL[256], M_CLOCKSRC[64], M_LIBC[64];
extern long M_NPROC;

static inline uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* the hand-off with the CPUs busy: this many spinning threads a CPU */
#define BUSY_PER_CPU 4

/* ---- functions shared by the parts ---- */

/* run.c */
__attribute__((format(printf, 1, 2))) _Noreturn void die(const char *fmt, ...);
void cleanup(void);         /* what the run left: children, daemon, names */
void on_signal(int sig);    /* SIGINT/SIGTERM/SIGHUP: g_stop */
void check_stop(void);      /* a signal came: clean up and exit */
void progress(const char *what);
void name_of(char *buf, size_t len, char tag, size_t i);
void socket_path_for_message(char *buf, size_t len, const char **how);
/* A measuring child just forked: default signals, dies with its parent. */
void child_init(pid_t parent);
pid_t fork_kid(void); /* flush, fork (or die), child_init in the child: 0 there */
struct summary summarize(uint64_t *v, size_t n); /* sorts v */
void *xcalloc(size_t n, size_t sz);              /* or die */
void sleep_ns(uint64_t ns);
/* latency.c */
void bench_timer(size_t n);
void bench_post_wait(int col, size_t n, size_t warm);
void bench_trywait(int col, size_t n, size_t warm);
void bench_names(int col, size_t n, size_t warm);
void bench_wakeup(int col, int row, size_t n, size_t warm);
void bench_wakeup_busy(int col, size_t n, size_t warm);
void bench_sysv(int col, size_t n, size_t warm);
/* throughput.c */
void tp_plan(void);
void bench_throughput(int col);
int tp_is_target(const struct tp_row *r);
/* scale.c */
void scale_smoke(void); /* --smoke: fewer semaphores and clients */
void bench_scale(int col);
/* report.c */
extern FILE *J; /* the JSON output */
void print_header(const struct plan *p);
void print_latency(const struct plan *p);
void print_throughput(void);
void print_scale(void);
void print_json(const struct plan *p, const char *cmdline, const char *started);

#endif
