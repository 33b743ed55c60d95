/* Small helpers shared by the untrusted programs (not the core).
 *
 * Convention: a function returns 0 (or what it makes: a descriptor, a
 * count, an index) on success and -errno on failure, and leaves errno
 * alone; the predicate esem_util_pidfd_alive returns 1 or 0. */
#ifndef ESEM_UTIL_H
#define ESEM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The system-wide daemon's socket (esemd --system), in a directory only
 * root can create: /run is root's. */
#define ESEM_SYSTEM_SOCKET "/run/esem/esemd.sock"

/* Default control socket: $XDG_RUNTIME_DIR/esem/esemd.sock, else
 * /tmp/esem-$UID/esemd.sock.  For clients: $ESEM_SOCKET if set and not
 * empty, else ESEM_SYSTEM_SOCKET if $ESEM_SYSTEM is "1", else the default;
 * no fallback from one daemon to another (see esem(3)).
 * 0, or -ENAMETOOLONG. */
int esem_util_default_socket(char *buf, size_t len);
int esem_util_client_socket(char *buf, size_t len);

/* Wrappers for calls glibc 2.36 has no function for. */
/* Sleep while *w[i] == v[i] for each of the n (at most 4) words
 * (futex_waitv, Linux >= 5.16), until abs on clock (NULL: no deadline).
 * The index of the word whose wake (or change) ended the sleep, -EINTR,
 * -ETIMEDOUT, or -ENOSYS where the kernel lacks futex_waitv. */
int esem_util_futex_waitv(uint32_t *const *w, const uint32_t *v, unsigned n, clockid_t clock,
                          const struct timespec *abs);
/* 0 when woken (or *addr != val), -EINTR, -ETIMEDOUT, -EAGAIN... */
int esem_util_futex_wait(uint32_t *addr, uint32_t val, const struct timespec *rel);
/* The number of threads woken, or -errno. */
int esem_util_futex_wake(uint32_t *addr, int n);
/* A pidfd (close-on-exec is the kernel's default for pidfds), or -errno. */
int esem_util_pidfd_open(pid_t pid);
/* One sendmsg of len bytes from buf with nfds descriptors (SCM_RIGHTS, at
 * most 253), MSG_NOSIGNAL: bytes sent, or -1 with errno. */
ssize_t esem_util_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/* 1 while the process has not exited, else 0 (no permission needed). */
int esem_util_pidfd_alive(int pidfd);

/* The process's fs uid/gid through PIDFD_GET_INFO (Linux >= 6.13): no /proc
 * read.  -ENOTTY (or another -errno) where the kernel lacks it. */
int esem_util_pidfd_fscreds(int pidfd, uint32_t *fsuid, uint32_t *fsgid);
unsigned long esem_util_pidfd_get_info_cmd(void);

/* From /proc/PID/stat: start time (clock ticks since boot) and ppid
 * (either may be NULL).  0 or -errno. */
int esem_util_proc_stat(pid_t pid, uint64_t *start_time, pid_t *ppid);

/* How long either side spins without yielding the CPU while it waits for
 * the other: long enough for a busy round trip (~0.2-1 us), short enough
 * that a peer sharing our CPU is not starved. */
#define ESEM_PURE_SPIN_NS 4000ull

static inline uint64_t esem_util_now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void esem_util_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
