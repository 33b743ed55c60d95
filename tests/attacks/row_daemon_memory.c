/*
 * Attack 4, daemon-memory: a peer of the same uid (no privileges) goes for
 * the memory that holds the semaphores.
 *
 * glibc: the semaphores are in the clients' own memory; a same-uid peer can
 * open /proc/PID/mem, ptrace, process_vm_readv/writev and pidfd_getfd the
 * holder (with Yama absent or ptrace_scope 0), and sets the value of a
 * sem_t in the holder's private memory: permits with no sem_post.
 *
 * esem: the semaphores are in esemd's memory.  esemd runs as the same uid
 * (the lab starts it as WHO_LAB) but is not dumpable (PR_SET_DUMPABLE 0), so
 * every one of these is refused by the kernel.  A root attacker
 * (CAP_SYS_PTRACE) is outside TM-host and not tested.
 */
#include "lab.h"

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* mem-victim: a glibc semaphore (pshared 0) in the process's own heap */
int role_mem_victim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sem_t *s = malloc(sizeof *s);
    if (!s || sem_init(s, 0, 0) < 0) {
        say("error %s", errname(errno));
        return 1;
    }
    say("ready pid=%d sem=%p", (int)getpid(), (void *)s);
    char cmd[64];
    while (hear(cmd, sizeof cmd, 60000) == 0) {
        if (strcmp(cmd, "value") == 0) {
            int v = -1;
            sem_getvalue(s, &v);
            say("value %d", v);
        } else if (strcmp(cmd, "drain") == 0) {
            int n = 0;
            while (n < 1000 && sem_trywait(s) == 0)
                n++;
            say("drained %d", n);
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    return 0;
}

static unsigned status_uid(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    unsigned uid = ~0u;
    while (f && fgets(buf, sizeof buf, f))
        if (sscanf(buf, "Uid: %*u %u", &uid) == 1)
            break;
    if (f)
        fclose(f);
    return uid;
}

/* One attempt: `worked` is whether the access succeeded.  Against glibc's
 * holder success is the weakness (OK); against esemd it is the attack
 * working (FAIL). */
static void report(int daemon, int worked, int err, const char *what)
{
    if (daemon)
        say("%s %s on esemd: %s", worked ? "FAIL" : "OK", what, worked ? "SUCCEEDED" : errname(err));
    else
        say("%s %s on the glibc holder: %s", worked ? "OK" : "FAIL", what,
            worked ? "succeeded" : errname(err));
}

/* mem-attacker PID ADDR glibc|esemd [SOCKET] */
int role_mem_attacker(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    pid_t pid = (pid_t)atoi(argv[1]);
    uintptr_t addr = (uintptr_t)strtoull(argv[2], NULL, 0);
    int daemon = strcmp(argv[3], "esemd") == 0;
    unsigned tu = status_uid(pid);
    if (tu != (unsigned)getuid()) {
        say("ERR target %d runs as uid %u, the attacker as %u: not a same-uid test", (int)pid, tu,
            (unsigned)getuid());
        say("DONE");
        return 0;
    }
    say("NOTE attacker uid %u = target %d's uid; Yama ptrace_scope: %s", (unsigned)getuid(),
        (int)pid, access("/proc/sys/kernel/yama/ptrace_scope", F_OK) == 0 ? "present" : "absent");

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    report(daemon, fd >= 0, errno, "open /proc/PID/mem read-write");
    if (fd >= 0) {
        uint64_t d = 0;
        ssize_t n = pread(fd, &d, sizeof d, (off_t)addr);
        if (!daemon && n == (ssize_t)sizeof d) {
            say("NOTE read the sem_t through /proc/PID/mem: value %u", (uint32_t)d);
            uint64_t nd = (d & ~0xffffffffull) | 3u;
            n = pwrite(fd, &nd, sizeof nd, (off_t)addr);
            report(daemon, n == (ssize_t)sizeof nd, errno, "write value 3 into the sem_t via /proc/PID/mem");
        }
        close(fd);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    report(daemon, fd >= 0, errno, "open /proc/PID/mem read-only");
    if (fd >= 0)
        close(fd);

    uint64_t word = 0;
    struct iovec local = {&word, sizeof word}, remote = {(void *)addr, sizeof word};
    ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    report(daemon, r == (ssize_t)sizeof word, errno, "process_vm_readv");
    word = (word & ~0xffffffffull) | 7u;
    r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    report(daemon, r == (ssize_t)sizeof word,
           errno, daemon ? "process_vm_writev" : "process_vm_writev of value 7 into the sem_t");

    long pr = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
    int e = errno;
    if (pr == 0) {
        int st;
        waitpid(pid, &st, __WALL);
        errno = 0;
        long peek = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, NULL);
        if (!daemon)
            say("NOTE PTRACE_PEEKDATA of the sem_t word: %#lx", (unsigned long)peek);
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
    }
    report(daemon, pr == 0, e, "ptrace(PTRACE_ATTACH)");
    pr = ptrace(PTRACE_SEIZE, pid, NULL, NULL);
    e = errno;
    if (pr == 0)
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
    report(daemon, pr == 0, e, "ptrace(PTRACE_SEIZE)");

#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) {
        say("NOTE pidfd_open: %s", errname(errno));
    } else {
        int got = -1;
        e = 0;
        for (int t = 0; t < 16 && got < 0; t++) {
            got = (int)syscall(SYS_pidfd_getfd, pfd, t, 0);
            if (got < 0 && errno != EBADF)
                e = errno;
        }
        report(daemon, got >= 0, e ? e : EBADF, "pidfd_getfd (steal a descriptor: sockets, channels)");
        if (got >= 0)
            close(got);
        close(pfd);
    }
#endif
    if (daemon && argc > 4) {
        int ok = admin_ping(argv[4]) == 0;
        say("%s esemd still answers its clients after the attempts", ok ? "OK" : "FAIL");
    }
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    char l[256];
    int readable = f && fgets(l, sizeof l, f) != NULL;
    e = errno;
    if (f)
        fclose(f);
    if (daemon)
        say("%s read /proc/PID/maps of esemd (where its memory is): %s", readable ? "FAIL" : "OK",
            readable ? "SUCCEEDED" : errname(e));
    say("DONE");
    return 0;
}

void mem_glibc(struct side *s)
{
    struct proc v, a;
    char line[LAB_LINE];
    if (proc_start(&v, WHO_LAB, 0, "mem-victim", NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    int vpid = 0;
    char addr[64] = "0";
    sscanf(line, "ready pid=%d sem=%63s", &vpid, addr);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", vpid);
    if (proc_start(&a, WHO_LAB, 0, "mem-attacker", ps, addr, "glibc", NULL) == 0) {
        relay(&a, s, log_mark(), 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    int value = -1, drained = -1;
    proc_cmd(&v, "value");
    if (proc_expect(&v, "value", line, sizeof line, 5000) == 0)
        sscanf(line, "value %d", &value);
    proc_cmd(&v, "drain");
    if (proc_expect(&v, "drained", line, sizeof line, 5000) == 0)
        sscanf(line, "drained %d", &drained);
    s_check(s, value == 7 && drained == 7,
            "the holder's sem_getvalue: %d; sem_trywait succeeded %d times; it never called "
            "sem_post",
            value, drained);
    proc_cmd(&v, "end");
    proc_end(&v);
    s_summary(s, "a same-uid peer read and wrote the holder's memory (/proc/PID/mem, "
                 "process_vm_writev, ptrace, pidfd_getfd): value set to %d, %d permits taken with "
                 "no sem_post",
              value, drained);
}

void mem_esem(struct side *s)
{
    /* The daemon must run as the attacker's uid.  As root the lab's main
     * esemd runs as root (shared by every uid), so a per-user esemd of
     * WHO_LAB is started for this attack — the default deployment. */
    struct daemon own, *d = &lab.d;
    if (lab.root) {
        if (daemon_start(&own, 1) < 0) {
            s_error(s, "cannot start a per-user esemd as uid %u", (unsigned)lab.lab_uid);
            return;
        }
        d = &own;
    }
    struct proc a;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", (int)d->pid);
    s_note(s, "esemd pid %d (%s) runs as uid %u, like the attacker", (int)d->pid,
           d == &lab.d ? "the lab's" : "a per-user daemon", (unsigned)lab.lab_uid);
    if (proc_start(&a, WHO_LAB, 0, "mem-attacker", ps, "0x10000", "esemd", d->sock, NULL) == 0) {
        relay(&a, s, log_mark(), 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    s_check(s, daemon_alive(d), "esemd is still running");
    if (d == &own) {
        if (daemon_stop(&own) == 0)
            daemon_remove_files(&own);
        else
            s_error(s, "the per-user esemd did not stop cleanly (kept %s)", own.dir);
    }
    s_summary(s, "esemd (same uid, not dumpable): /proc/PID/mem EACCES, process_vm_readv/writev "
                 "EPERM, PTRACE_ATTACH/SEIZE EPERM, pidfd_getfd EPERM, /proc/PID/maps refused");
}
