/*
 * esemd hardening against its peers (TM-host): no core dumps, not
 * dumpable/ptraceable, the core's arena in memfd_secret memory (removed from
 * the kernel's direct map) or at least locked in RAM, and a seccomp
 * allow-list once start-up is over.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"
#include "util.h"

void harden_process(void)
{
    /* Same-uid peers may not ptrace us, read /proc/PID/mem or
     * process_vm_readv the semaphore state, and no core file holds it. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
}

/* Map an arena descriptor shared, out of core dumps, locked if we may
 * (memfd_secret memory is locked by the kernel). */
static void *arena_map(int fd, uint64_t size, const char **kind, int secret)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, size, MADV_DONTDUMP);
    if (!secret && mlock(p, size) < 0) {
        esemd_log("mlock of the %llu-byte arena failed (%s; RLIMIT_MEMLOCK?): it may be swapped",
                  (unsigned long long)size, strerror(errno));
        if (kind)
            *kind = "memfd, NOT locked";
    }
    return p;
}

void *harden_arena(uint64_t size, const char **kind, int *fd)
{
#ifdef SYS_memfd_secret
    *fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
    if (*fd >= 0) {
        void *p = MAP_FAILED;
        if (ftruncate(*fd, (off_t)size) == 0)
            p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
        if (p != MAP_FAILED) {
            *kind = "memfd_secret (not in the kernel's direct map, locked)";
            return p;
        }
        esemd_log("memfd_secret arena of %llu bytes failed (%s); falling back to a locked memfd",
                  (unsigned long long)size, strerror(errno));
        close(*fd);
    } else {
        esemd_log("memfd_secret unavailable (%s); falling back to a locked memfd",
                  strerror(errno));
    }
#endif
    *fd = memfd_create("esem-arena", MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, (off_t)size) < 0)
        return NULL;
    *kind = "memfd, locked";
    return arena_map(*fd, size, kind, 0);
}

void *harden_arena_map(int fd, uint64_t size, int secret)
{
    return arena_map(fd, size, NULL, secret);
}

/* What esemd does after start-up, and nothing more.  Anything else fails
 * with EPERM; the calls an exploit wants first kill the process. */
int harden_seccomp(void)
{
    static const int allow[] = {
        SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),
        SCMP_SYS(openat), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
        SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(flock), SCMP_SYS(unlink),
        SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
        SCMP_SYS(epoll_create1), /* workers started again after a failed takeover */
        SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
        SCMP_SYS(sendmsg), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
        SCMP_SYS(memfd_create), SCMP_SYS(ftruncate), SCMP_SYS(eventfd2),
        SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
        SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(mlock), SCMP_SYS(munlock),
        SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(nanosleep),
        SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
        SCMP_SYS(getrandom), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
        SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
        SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
        SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
        SCMP_SYS(sigaltstack), SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(prlimit64),
        SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal), SCMP_SYS(sched_getaffinity),
        SCMP_SYS(readlinkat), SCMP_SYS(getdents64), SCMP_SYS(uname), SCMP_SYS(poll),
        SCMP_SYS(ppoll),
    };
    static const int kill[] = {
        SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev), SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(bind),
        SCMP_SYS(listen), SCMP_SYS(mount), SCMP_SYS(init_module), SCMP_SYS(finit_module),
        SCMP_SYS(bpf), SCMP_SYS(open_by_handle_at), SCMP_SYS(setuid), SCMP_SYS(setgid),
        SCMP_SYS(kexec_load), SCMP_SYS(unshare), SCMP_SYS(setns),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx)
        return -1;
    int r = 0;
    for (size_t i = 0; i < sizeof allow / sizeof allow[0] && r == 0; i++)
        if (allow[i] >= 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
    for (size_t i = 0; i < sizeof kill / sizeof kill[0] && r == 0; i++)
        if (kill[i] >= 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, kill[i], 0);
    /* prctl only to read state: a peer-visible change (dumpable) is not
     * allowed back on. */
    if (r == 0) { /* ioctl only for PIDFD_GET_INFO */
        const struct scmp_arg_cmp info = {.arg = 1, .op = SCMP_CMP_EQ,
                                          .datum_a = esem_util_pidfd_get_info_cmd(), .datum_b = 0};
        r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &info);
    }
    if (r == 0) {
        const struct scmp_arg_cmp only_get = {.arg = 0, .op = SCMP_CMP_EQ,
                                               .datum_a = PR_GET_DUMPABLE, .datum_b = 0};
        r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, &only_get);
    }
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}
