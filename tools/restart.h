/* esemctl restart (restart.c): a new esemd takes over the running one. */
#ifndef ESEMCTL_RESTART_H
#define ESEMCTL_RESTART_H

#include <sys/types.h>

/* Run `esemd --takeover OPTIONS --socket sock [--system] argv...`, where
 * OPTIONS are the running daemon's (pid old; its /proc/PID/cmdline, less
 * --foreground), and wait for its starter: the exit status (0: the new
 * daemon serves), or -1. */
int restart_run(const char *esemd, pid_t old, const char *sock, int system_wide, int argc,
                char **argv);
/* Which esemd to start: opt, else $ESEMD, else the installed one, else
 * "esemd" on $PATH. */
const char *restart_esemd(const char *opt);

#endif
