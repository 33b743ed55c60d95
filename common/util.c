#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int esem_util_default_socket(char *buf, size_t len)
{
    const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/esem/esemd.sock", xdg);
    else
        n = snprintf(buf, len, "/tmp/esem-%u/esemd.sock", (unsigned)getuid());
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int esem_util_client_socket(char *buf, size_t len)
{
    const char *env = secure_getenv("ESEM_SOCKET");
    if (env && env[0]) {
        if (strlen(env) >= len)
            return -ENAMETOOLONG;
        strcpy(buf, env);
        return 0;
    }
    /* Opt-in only: a program never drifts to the shared system daemon
     * because its user's daemon happens not to run (two processes of one
     * program would then hold different semaphores of the same name). */
    const char *sys = secure_getenv("ESEM_SYSTEM");
    if (sys && strcmp(sys, "1") == 0) {
        if (sizeof ESEM_SYSTEM_SOCKET > len)
            return -ENAMETOOLONG;
        strcpy(buf, ESEM_SYSTEM_SOCKET);
        return 0;
    }
    return esem_util_default_socket(buf, len);
}

int esem_util_futex_wait(uint32_t *addr, uint32_t val, const struct timespec *rel)
{
    /* Shared (not PRIVATE) futex: the word lives in memory mapped by two
     * processes.  A relative timeout makes the kernel report EINTR for any
     * handled signal, SA_RESTART or not, which sem_wait's contract needs. */
    long r = syscall(SYS_futex, addr, FUTEX_WAIT, val, rel, NULL, 0);
    return r == 0 ? 0 : -errno;
}

int esem_util_futex_waitv(uint32_t *const *w, const uint32_t *v, unsigned n, clockid_t clock,
                          const struct timespec *abs)
{
#ifdef SYS_futex_waitv
    /* Shared futexes: the words live in memory mapped by several processes
     * (some read-only, which a wait and a wake allow).  futex_waitv is
     * restarted by the kernel after an SA_RESTART handler and fails with
     * EINTR after any other, as POSIX asks of sem_wait. */
    struct futex_waitv fw[4];
    if (n == 0 || n > 4)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        fw[i] = (struct futex_waitv){.val = v[i], .uaddr = (uintptr_t)w[i], .flags = FUTEX_32};
    long r = syscall(SYS_futex_waitv, fw, n, 0, abs, clock);
    return r >= 0 ? (int)r : -errno;
#else
    (void)w, (void)v, (void)n, (void)clock, (void)abs;
    return -ENOSYS;
#endif
}

int esem_util_futex_wake(uint32_t *addr, int n)
{
    long r = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}

int esem_util_pidfd_open(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : fd;
}

int esem_util_pidfd_alive(int pidfd)
{
    /* A pidfd reads as ready once its process has exited (zombie included).
     * Unlike sending signal 0 this needs no permission over the process, so
     * a daemon running as a dedicated user can serve other users. */
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int r = poll(&p, 1, 0);
    return r == 0;
}

/* PIDFD_GET_INFO (Linux 6.13), spelt out: Debian 12's headers predate it.
 * Version 0 of the struct is 64 bytes; the kernel fills what it knows. */
struct esem_pidfd_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    uint32_t spare0_;
};
_Static_assert(sizeof(struct esem_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
#define ESEM_PIDFD_INFO_CREDS (1ull << 1)

unsigned long esem_util_pidfd_get_info_cmd(void)
{
    return _IOWR(0xFF, 11, struct esem_pidfd_info);
}

int esem_util_pidfd_fscreds(int pidfd, uint32_t *fsuid, uint32_t *fsgid)
{
    struct esem_pidfd_info info;
    memset(&info, 0, sizeof info);
    info.mask = ESEM_PIDFD_INFO_CREDS;
    if (ioctl(pidfd, esem_util_pidfd_get_info_cmd(), &info) < 0)
        return -errno;
    if (!(info.mask & ESEM_PIDFD_INFO_CREDS))
        return -ENOTSUP;
    *fsuid = info.fsuid;
    *fsgid = info.fsgid;
    return 0;
}

int esem_util_proc_stat(pid_t pid, uint64_t *start_time, pid_t *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = n < 0 ? errno : EIO;
    close(fd);
    if (n <= 0)
        return -e;
    buf[n] = 0;
    /* comm may hold spaces and parentheses: parse from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    p += 2; /* field 3 (state) */
    unsigned long long v = 0;
    for (int field = 3; field <= 22 && *p; field++) {
        char *end;
        v = strtoull(p, &end, 10);
        if (field == 4 && ppid)
            *ppid = (pid_t)v;
        if (field == 22)
            break;
        p = strchr(p, ' ');
        if (!p)
            return -EINVAL;
        p++;
    }
    if (start_time)
        *start_time = v;
    return 0;
}

ssize_t esem_util_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(253 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds < 0 || nfds > 253) {
        errno = EINVAL;
        return -1;
    }
    if (nfds) {
        memset(u.buf, 0, CMSG_SPACE((size_t)nfds * sizeof(int)));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL);
}
