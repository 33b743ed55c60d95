/* Credentials of a client process from /proc (proc.c). */
#ifndef ESEMD_PROC_H
#define ESEMD_PROC_H

#include <sys/types.h>

#include "daemon.h"

/* A process's file-system uid and gid, groups and umask, as the kernel
 * would use them to create a file now.  *fdp keeps /proc/PID/status open
 * between calls (opened here if -1; NULL: opened and closed).  0 or -1.
 * The caller checks the process's pidfd afterwards: the data is that
 * process's only if it was still alive then. */
int proc_creds_read(int *fdp, pid_t pid, struct proc_creds *pc);

#endif
