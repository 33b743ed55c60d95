/*
 * Starting a private esemd for a test, the attack lab or a benchmark: one
 * launcher for all of them (tests/integration/harness.c, tests/attacks/
 * lab.c, bench/esem-bench.c).  The daemon gets a fresh directory under
 * /tmp, listens on DIR/esemd.sock in the foreground, writes its stdout and
 * stderr to DIR/esemd.stderr, and dies with the process that launched it.
 */
#ifndef ESEM_LAUNCH_H
#define ESEM_LAUNCH_H

#include <sys/types.h>

struct esem_launched {
    pid_t pid;
    char dir[64];
    char sock[96], log[96], out[96]; /* out: its stdout and stderr */
};

struct esem_launch {
    const char *esemd;         /* the binary */
    const char *dir_prefix;    /* the directory: mkdtemp(dir_prefix "-XXXXXX") */
    const char *const *extra;  /* more esemd options, NULL-terminated (or NULL) */
    int with_log;              /* also --log DIR/esemd.log */
    int own_group;             /* its own process group (a ^C reaches only us) */
    /* run in the child just before exec, after its output is redirected
     * (e.g. give the directory away, drop privileges): non-zero makes the
     * child exit 126 */
    int (*in_child)(const struct esem_launched *d, void *arg);
    void *arg;
};

/* Make the directory and start the daemon; it is not serving yet (see
 * esem_launch_wait).  0 or -errno. */
int esem_launch(const struct esem_launch *how, struct esem_launched *d);

/* Poll every 5 ms until ready(d, arg) returns 1: 0.  If the daemon exits
 * first: -ECHILD, its wait status in *status.  After timeout_ms:
 * -ETIMEDOUT (the daemon is left running).  ready may be NULL: serving
 * means the socket exists. */
int esem_launch_wait(const struct esem_launched *d, int (*ready)(const struct esem_launched *, void *),
                     void *arg, int timeout_ms, int *status);

/* Remove what a launch leaves in its directory (the socket, its lock,
 * the log, the daemon's stdout and stderr) and the directory itself, once
 * the daemon has exited.  A file the daemon never made is no error. */
void esem_launch_remove(const char *dir);

#endif
