/*
 * Row late-hello (security review finding 2, TM-host, another uid):
 * connect as nobody, hand the socket to a helper, exit; a root process gets
 * the pid; the helper says hello and would be bound to that root process.
 * esem binds the session to the process that connected (SO_PEERPIDFD).
 */
#include "lab.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "core_auth.h"
#include "esem.h"
#include "esem_core.h"
#include "proto.h"

static int sock_only(const char *path)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    return s;
}

/* Send a client hello on an open socket; the errno the daemon answered. */
static int hello_on(int s, uint64_t inherit)
{
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    h.magic = ESEM_PROTO_MAGIC;
    h.version = ESEM_PROTO_VERSION;
    h.kind = ESEM_HELLO_CLIENT;
    h.inherit_session = inherit;
    /* esemd may have refused the connection already (at accept, when the
     * connecting process was gone by then) and closed it: the send fails,
     * but its reply is still there to read */
    int sent = send(s, &h, sizeof h, MSG_NOSIGNAL) == (ssize_t)sizeof h;
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    struct timeval tv = {10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                close(((int *)CMSG_DATA(cm))[i]);
    if (n != (ssize_t)sizeof rep)
        return sent ? -ECONNRESET : -EPIPE;
    return rep.err;
}

/* late-hello SOCK: connect, hand the socket to a helper, exit; the
 * helper says hello when told ("go"). */
int role_late_hello(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int s = sock_only(argv[1]);
    if (s < 0) {
        say("ERR connect: %s", errname(errno));
        return 1;
    }
    pid_t me = getpid();
    pid_t h = fork();
    if (h < 0)
        return 1;
    if (h > 0) {
        say("connected pid=%d", (int)me);
        _exit(0); /* the connector is gone; its pid is free */
    }
    char line[64];
    if (hear(line, sizeof line, 60000) < 0 || strcmp(line, "go") != 0) {
        say("ERR no go");
        say("DONE");
        return 1;
    }
    int err = hello_on(s, 0);
    /* ESRCH: the process that connected is gone (seen at the hello, or
     * already at accept, when it exited before esemd accepted).  On a slow
     * machine the pid reuse may take longer than esemd's hello timeout
     * (5 s): the connection is then closed before the hello — a refusal
     * too, noted as such. */
    int closed = err == ETIMEDOUT || err == -EPIPE || err == -ECONNRESET;
    if (closed)
        say("NOTE the setup took longer than esemd's 5 s hello timeout: the connection was "
            "closed before the hello (%s)",
            err < 0 ? errname(-err) : errname(err));
    say("%s a hello sent after the connecting process %d exited and its pid was reused by a "
        "root process: %s",
        err == ESRCH || closed ? "OK" : "FAIL", (int)me,
        err == 0 ? "ACCEPTED (a session bound to the root process)"
        : closed ? "refused (connection closed: no hello in time)"
                 : errname(err < 0 ? -err : err));
    say("DONE");
    return 0;
}

/* sleeper: a process that holds a pid until its stdin closes. */
int role_sleeper(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    say("asleep pid=%d uid=%u", (int)getpid(), (unsigned)getuid());
    char line[16];
    while (hear(line, sizeof line, 60000) == 0)
        ;
    return 0;
}

void late_glibc(struct side *s)
{
    s_summary(s, "no connection to take over: the kernel checks each call's caller");
    s_check(s, 1,
            "same: glibc has no connection whose identity could be taken later; every "
            "sem_open is checked against its caller by the kernel (nothing to attack)");
}

void late_esem(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid, a root victim at the pid)");
        return;
    }
    struct proc a, v;
    char line[LAB_LINE];
    size_t mark = log_mark();
    if (proc_start(&a, WHO_OTHER, 0, "late-hello", (char *)lab.sock, NULL) < 0 ||
        proc_expect(&a, "connected pid=", line, sizeof line, 5000) < 0) {
        s_error(s, "the attacker did not connect");
        proc_end(&a);
        return;
    }
    pid_t gone = (pid_t)atoi(line + 14);
    proc_reap(&a, 5000);
    char *const args[] = {NULL};
    char method[160];
    if (proc_start_at_pid(&v, gone, WHO_ROOT, "sleeper", args, method, sizeof method) < 0) {
        s_error(s, "no root process with pid %d: %s", (int)gone, method);
        proc_end(&a);
        return;
    }
    proc_expect(&v, "asleep", line, sizeof line, 5000);
    s_note(s, "nobody's connector %d exited; a root process now has its pid (%s): %s",
           (int)gone, method, line);
    proc_cmd(&a, "go");
    s_summary(s, "the hello of a connection whose connecting process exited (its pid now a root "
                 "process's): refused ESRCH — the session is bound to the process that "
                 "connected (SO_PEERPIDFD), never to one found at hello time");
    relay(&a, s, mark, 20000);
    proc_end(&a);
    proc_end(&v);
}
