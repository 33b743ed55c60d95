/*
 * esemctl restart: start a new esemd that takes over the running one's
 * state (esemd --takeover; host/handover.c) and wait until it serves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restart.h"

int restart_run(const char *esemd, const char *sock, int system_wide, int argc, char **argv)
{
    /* esemd --takeover --socket SOCK [--system] [what the caller added] */
    char **av = calloc((size_t)argc + 6, sizeof *av);
    if (!av)
        return -1;
    int n = 0;
    av[n++] = (char *)esemd;
    av[n++] = "--takeover";
    av[n++] = "--socket";
    av[n++] = (char *)sock;
    if (system_wide)
        av[n++] = "--system";
    for (int i = 0; i < argc; i++)
        av[n++] = argv[i];
    av[n] = NULL;
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        free(av);
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
