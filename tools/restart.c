/*
 * esemctl restart: start a new esemd that takes over the running one's
 * state (esemd --takeover; host/handover.c) and wait until it serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restart.h"

/* The running daemon's own options, from /proc/PID/cmdline (readable by
 * anyone, also for a non-dumpable process), without the program name and
 * without those a restart must not repeat: --foreground / -f (the new
 * daemon detaches, or this command would wait for it to exit) and
 * --takeover (given again).  *argc_out of them in a malloc'd array whose
 * strings live in *buf_out; NULL if the file cannot be read. */
static char **old_options(pid_t pid, int *argc_out, char **buf_out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap) {
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = 0;
    char **av = calloc(len + 1, sizeof *av);
    int argc = 0;
    for (size_t at = 0, k = 0; av && at < len; k++) {
        char *a = buf + at;
        at += strlen(a) + 1;
        if (k == 0 || strcmp(a, "--foreground") == 0 || strcmp(a, "-f") == 0 ||
            strcmp(a, "--takeover") == 0)
            continue;
        av[argc++] = a;
    }
    if (!av) {
        free(buf);
        return NULL;
    }
    *argc_out = argc;
    *buf_out = buf;
    return av;
}

int restart_run(const char *esemd, pid_t old, const char *sock, int system_wide, int argc,
                char **argv)
{
    /* esemd --takeover [the running daemon's options] --socket SOCK
     * [--system] [what the caller added: later options win] */
    int oargc = 0;
    char *obuf = NULL;
    char **oargv = old > 0 ? old_options(old, &oargc, &obuf) : NULL;
    if (old > 0 && !oargv)
        fprintf(stderr, "esemctl: restart: cannot read pid %d's options (/proc/%d/cmdline): "
                        "the new daemon gets only those given after --\n",
                (int)old, (int)old);
    char **av = calloc((size_t)argc + (size_t)oargc + 6, sizeof *av);
    if (!av)
        return -1;
    int n = 0;
    av[n++] = (char *)esemd;
    av[n++] = "--takeover";
    for (int i = 0; i < oargc; i++)
        av[n++] = oargv[i];
    av[n++] = "--socket";
    av[n++] = (char *)sock;
    if (system_wide)
        av[n++] = "--system";
    for (int i = 0; i < argc; i++)
        av[n++] = argv[i];
    av[n] = NULL;
    free(oargv);
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        free(av);
        free(obuf);
        return -1;
    }
    if (p == 0) {
        /* it detaches as usual: its starter (this child) exits 0 once the
         * new daemon serves and the old one is gone */
        execvp(esemd, av);
        fprintf(stderr, "esemctl: restart: cannot run %s: %s\n", esemd, strerror(errno));
        _exit(127);
    }
    free(av);
    free(obuf);
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *restart_esemd(const char *opt)
{
    if (opt)
        return opt;
    const char *env = getenv("ESEMD");
    if (env && *env)
        return env;
    if (access(ESEM_ESEMD_PATH, X_OK) == 0)
        return ESEM_ESEMD_PATH;
    return "esemd"; /* on $PATH */
}
