/*
 * esem-bench: the idle daemon -- the CPU the spawned esemd uses while the
 * only thing connected is one process blocked for good in esem_wait
 * (issue #10's target: none), from its utime + stime in /proc/PID/stat.
 */
#include "bench.h"

struct idle_res IDLE[MAX_COLS];
static unsigned idle_s = IDLE_S, settle_ms = 1000;

void idle_smoke(void)
{
    idle_s = 1;
    settle_ms = 200;
}

/* utime + stime of the spawned daemon, in clock ticks; -1 unknown */
static long daemon_ticks(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)run.daemon_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long ut, st;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

static void sleep_checked(unsigned ms)
{
    for (unsigned i = 0; i < ms / 10; i++) {
        check_stop();
        sleep_ns(10000000);
    }
}

void bench_idle(int col)
{
    struct idle_res *r = &IDLE[col];
    r->seconds = idle_s;
    r->ticks = -1;
    r->hz = sysconf(_SC_CLK_TCK);
    if (run.daemon_pid <= 0)
        return; /* a daemon we did not start: others may use it */
    progress("idle daemon, a waiter blocked");
    esem_t *s = esem_create(0);
    if (!s)
        die("esem: create (idle): %s", strerror(errno));
    pid_t k = fork_kid();
    if (k == 0)
        _exit(esem_wait(s) ? 1 : 0);
    run.kids[run.nkids++] = k;
    sleep_checked(settle_ms); /* the waiter queues, the worker's spin ends */
    long t0 = daemon_ticks();
    sleep_checked(idle_s * 1000);
    long t1 = daemon_ticks();
    if (t0 >= 0 && t1 >= t0)
        r->ticks = t1 - t0;
    if (esem_post(s))
        die("esem: post (idle): %s", strerror(errno));
    int st;
    while (waitpid(k, &st, 0) < 0 && errno == EINTR)
        ;
    run.nkids--;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("esem: the idle waiter did not end cleanly");
    if (esem_destroy(s))
        die("esem: destroy (idle): %s", strerror(errno));
}
