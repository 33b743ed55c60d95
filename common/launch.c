/* One launcher of a private esemd: see launch.h. */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int esem_launch(const struct esem_launch *how, struct esem_launched *d)
{
    memset(d, 0, sizeof *d);
    if (!how->esemd || !*how->esemd)
        return -EINVAL;
    if ((size_t)snprintf(d->dir, sizeof d->dir, "%s-XXXXXX", how->dir_prefix) >= sizeof d->dir)
        return -ENAMETOOLONG;
    if (!mkdtemp(d->dir))
        return -errno;
    snprintf(d->sock, sizeof d->sock, "%s/esemd.sock", d->dir);
    snprintf(d->log, sizeof d->log, "%s/esemd.log", d->dir);
    snprintf(d->out, sizeof d->out, "%s/esemd.stderr", d->dir);
    const char *argv[40] = {"esemd", "-f", "-s", d->sock};
    int argc = 4;
    if (how->with_log) {
        argv[argc++] = "--log";
        argv[argc++] = d->log;
    }
    for (int i = 0; how->extra && how->extra[i]; i++) {
        if (argc >= 39)
            return -E2BIG;
        argv[argc++] = how->extra[i];
    }
    argv[argc] = NULL;
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0)
        return -errno;
    if (p == 0) {
        if (how->own_group)
            setpgid(0, 0);
        int fd = open(d->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        if (how->in_child && how->in_child(d, how->arg) != 0)
            _exit(126);
        /* Never outlive the launcher (a test killed by its alarm takes its
         * daemon along).  After in_child: a change of credentials clears it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(how->esemd, (char *const *)argv);
        dprintf(2, "esem_launch: exec %s: %s\n", how->esemd, strerror(errno));
        _exit(127);
    }
    d->pid = p;
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

int esem_launch_wait(const struct esem_launched *d, int (*ready)(const struct esem_launched *, void *),
                     void *arg, int timeout_ms, int *status)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            if (status)
                *status = st;
            return -ECHILD;
        }
        if (access(d->sock, F_OK) == 0 && (!ready || ready(d, arg) == 1))
            return 0;
        if (ms_since(&t0) >= timeout_ms)
            return -ETIMEDOUT;
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

void esem_launch_remove(const char *dir)
{
    static const char *const files[] = {"esemd.sock", "esemd.sock.lock", "esemd.log",
                                        "esemd.stderr"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[256];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, files[i]) < sizeof p)
            unlink(p);
    }
    rmdir(dir);
}
