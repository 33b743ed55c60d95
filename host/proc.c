/* Credentials of a client process, read from /proc/PID/status. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* Parse "12 34 56 78" (Uid:/Gid: lines): the fourth number, the fs id
 * that file access checks use. */
static int fourth_id(const char *p, uint32_t *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char *end;
        v = strtoul(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    *out = (uint32_t)v;
    return 0;
}

/* A process's file-system credentials, groups and umask, as the kernel
 * would use them to create a file now.
 *
 * There is no cache: every call reads /proc/PID/status, so an open is
 * checked against the caller's current fs uid/gid and groups, and a new
 * semaphore gets the umask the caller has at the moment esemd takes the
 * request (a umask() that returned before sem_open was called is always
 * seen), as open(2) would.  What is saved is the cost around the read:
 *  - *fdp keeps /proc/PID/status open for the session from its first
 *    open (lseek + read, no path walk); the descriptor names the process's
 *    struct pid, so once it has died a read fails (ESRCH) instead of
 *    showing a process that reused the pid.  The caller checks the pidfd
 *    after every read: a process alive then was alive when the descriptor
 *    was opened by its pid, so the descriptor is that process's;
 *  - the four lines we need are found by their first bytes, not with a
 *    sscanf per line per field (docs/PERFORMANCE.md has what that saved).
 * With fdp NULL the file is opened and closed here. */
int proc_creds_read(int *fdp, pid_t pid, struct proc_creds *pc)
{
    char path[64], buf[4096];
    int fd = fdp ? *fdp : -1;
    if (fd < 0) {
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (fdp)
            *fdp = fd;
    }
    ssize_t n = -1;
    if (lseek(fd, 0, SEEK_SET) == 0)
        n = read(fd, buf, sizeof buf - 1);
    if (!fdp)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    memset(pc, 0, sizeof *pc);
    pc->umask = 022;
    int have = 0;
    const char *end = buf + n;
    for (char *line = buf; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl)
            *nl = 0;
        if (line[0] == 'U' && strncmp(line, "Uid:", 4) == 0) {
            if (fourth_id(line + 4, &pc->uid) == 0)
                have |= 1;
        } else if (line[0] == 'G' && strncmp(line, "Gid:", 4) == 0) {
            if (fourth_id(line + 4, &pc->gid) == 0)
                have |= 2;
        } else if (line[0] == 'U' && strncmp(line, "Umask:", 6) == 0) {
            pc->umask = (uint32_t)strtoul(line + 6, NULL, 8) & 0777u;
        } else if (line[0] == 'G' && strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *e;
            while (pc->ngroups < CORE_NGROUPS_MAX) {
                unsigned long g = strtoul(p, &e, 10);
                if (e == p || (*e != ' ' && *e != '\t' && *e))
                    break;
                pc->groups[pc->ngroups++] = (uint32_t)g;
                p = e;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return have == 3 ? 0 : -1;
}

