/*
 * The attack lab's processes: every role runs in a process of its own
 * ("esem-attacklab --role ROLE ARGS", as the lab, another uid or root,
 * under the shim or not, at a chosen pid), talked to one line at a time
 * over its stdin and stdout; relay() turns its OK/FAIL/NOTE/AUDIT lines
 * into the row's steps.  See lab.h.
 */
#include "lab.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "esem.h"
#include "launch.h"

extern char **environ;

/* ---- processes ---- */

static char **child_env(int shim)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "ESEM_SOCKET=", 12) == 0 ||
            strncmp(environ[i], "LD_PRELOAD=", 11) == 0)
            continue;
        env[k++] = environ[i];
    }
    static char sockvar[400], prevar[4200];
    snprintf(sockvar, sizeof sockvar, "ESEM_SOCKET=%s", lab.sock);
    env[k++] = sockvar;
    if (shim) {
        snprintf(prevar, sizeof prevar, "LD_PRELOAD=%s", lab.preload);
        env[k++] = prevar;
    }
    env[k] = NULL;
    return env;
}

/* fork + exec "self --role ROLE ARGS".  With want != 0 the child goes on
 * only if it got that pid (else it exits at once, status 99). */
static pid_t spawn(enum who who, int shim, const char *role, char *const *args, pid_t want,
                   int in[2], int out[2])
{
    size_t na = 0;
    while (args && args[na])
        na++;
    char **argv = calloc(na + 4, sizeof *argv);
    char **env = child_env(shim);
    if (!argv || !env) {
        free(argv);
        free(env);
        return -1;
    }
    argv[0] = lab.self;
    argv[1] = (char *)"--role";
    argv[2] = (char *)role;
    for (size_t i = 0; i < na; i++)
        argv[3 + i] = args[i];
    argv[3 + na] = NULL;
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (want && getpid() != want)
            _exit(99);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(126);
        if (become(who) < 0) {
            fprintf(stderr, "attacklab: cannot become uid %u\n",
                    who == WHO_LAB ? (unsigned)lab.lab_uid : LAB_OTHER_UID);
            _exit(126);
        }
        /* after the uid change, which clears it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(lab.self, argv, env);
        fprintf(stderr, "attacklab: exec %s: %s\n", lab.self, strerror(errno));
        _exit(127);
    }
    free(argv);
    free(env);
    return pid;
}

static void proc_init(struct proc *p)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->to = p->from = -1;
}

static int proc_finish_start(struct proc *p, pid_t pid, int in[2], int out[2])
{
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    p->pid = pid;
    p->to = in[1];
    p->from = out[0];
    return 0;
}

int proc_startv(struct proc *p, enum who who, int shim, const char *role, char *const *args)
{
    proc_init(p);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t pid = spawn(who, shim, role, args, 0, in, out);
    return proc_finish_start(p, pid, in, out);
}

int proc_start(struct proc *p, enum who who, int shim, const char *role, ...)
{
    char *args[32];
    int n = 0;
    va_list ap;
    va_start(ap, role);
    char *a;
    while (n < 31 && (a = va_arg(ap, char *)) != NULL)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return proc_startv(p, who, shim, role, args);
}

/* A process with a chosen pid.  As root: /proc/sys/kernel/ns_last_pid (what
 * CRIU does), retried if another fork took the pid first.  Otherwise: fork
 * and exit until the pid counter comes around (what an unprivileged attacker
 * does; bounded in time). */
int proc_start_at_pid(struct proc *p, pid_t want, enum who who, const char *role,
                      char *const *args, char *method, size_t mlen)
{
    proc_init(p);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    const char *force_cycle = getenv("ESEM_LAB_PID_CYCLE");
    if (lab.root && !(force_cycle && *force_cycle == '1')) {
        for (int attempt = 0; attempt < 200; attempt++) {
            int fd = open("/proc/sys/kernel/ns_last_pid", O_RDWR | O_CLOEXEC);
            if (fd < 0)
                break;
            flock(fd, LOCK_EX);
            char b[32];
            int n = snprintf(b, sizeof b, "%d", (int)want - 1);
            ssize_t w = write(fd, b, (size_t)n);
            pid_t pid = w == n ? spawn(who, 0, role, args, want, in, out) : -1;
            flock(fd, LOCK_UN);
            close(fd);
            if (pid == want) {
                snprintf(method, mlen, "ns_last_pid (root), attempt %d", attempt + 1);
                return proc_finish_start(p, pid, in, out);
            }
            if (pid > 0)
                waitpid(pid, NULL, 0);
            if (w != n)
                break;
        }
    }
    long t0 = now_ms();
    unsigned long forks = 0;
    while (now_ms() - t0 < 45000) {
        pid_t pid = spawn(who, 0, role, args, want, in, out);
        if (pid < 0) {
            sleep_ms(1);
            continue;
        }
        forks++;
        if (pid == want) {
            snprintf(method, mlen, "pid cycling: %lu forks, %ld ms", forks, now_ms() - t0);
            return proc_finish_start(p, pid, in, out);
        }
        waitpid(pid, NULL, 0);
    }
    snprintf(method, mlen, "could not get pid %d within 45 s (%lu forks)", (int)want, forks);
    proc_finish_start(p, -1, in, out);
    return -1;
}

int proc_cmd(struct proc *p, const char *fmt, ...)
{
    char buf[LAB_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || p->to < 0)
        return -1;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    const char *q = buf;
    while (n > 0) {
        ssize_t w = write(p->to, q, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        q += w;
        n -= (int)w;
    }
    return 0;
}

int proc_line(struct proc *p, char *line, size_t len, int timeout_ms)
{
    long t0 = now_ms();
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->blen);
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            snprintf(line, len, "%.*s", (int)n, p->buf);
            memmove(p->buf, nl + 1, p->blen - n - 1);
            p->blen -= n + 1;
            if (lab.verbose > 1)
                fprintf(stderr, "    <%d> %s\n", (int)p->pid, line);
            return 0;
        }
        long left = timeout_ms - (now_ms() - t0);
        if (left <= 0 || p->from < 0 || p->blen == sizeof p->buf)
            return -1;
        struct pollfd pf = {.fd = p->from, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t k = read(p->from, p->buf + p->blen, sizeof p->buf - p->blen);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p->blen += (size_t)k;
    }
}

int proc_expect(struct proc *p, const char *prefix, char *line, size_t len, int timeout_ms)
{
    long t0 = now_ms();
    size_t pl = strlen(prefix);
    for (;;) {
        long left = timeout_ms - (now_ms() - t0);
        if (left <= 0)
            return -1;
        if (proc_line(p, line, len, (int)left) < 0)
            return -1;
        if (strncmp(line, prefix, pl) == 0)
            return 0;
    }
}

int proc_reap(struct proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    if (p->reaped)
        return p->status;
    long t0 = now_ms();
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->reaped = 1;
            p->status = st;
            return st;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() - t0 > timeout_ms) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
                ;
            p->reaped = 1;
            p->status = st;
            return -1;
        }
        sleep_ms(2);
    }
}

void proc_kill(struct proc *p)
{
    if (p->pid > 0 && !p->reaped)
        kill(p->pid, SIGKILL);
}

void proc_end(struct proc *p)
{
    if (p->to >= 0)
        close(p->to);
    p->to = -1;
    if (p->pid > 0 && !p->reaped && proc_reap(p, 3000) < 0)
        proc_reap(p, 1000);
    if (p->from >= 0)
        close(p->from);
    p->from = -1;
}

int relay(struct proc *p, struct side *s, size_t mark, int timeout_ms)
{
    char line[LAB_LINE];
    char audits[32][96];
    int naudit = 0, done = 0;
    long t0 = now_ms();
    while (!done) {
        long left = timeout_ms - (now_ms() - t0);
        if (left <= 0 || proc_line(p, line, sizeof line, (int)left) < 0)
            break;
        if (strncmp(line, "OK ", 3) == 0)
            s_check(s, 1, "%s", line + 3);
        else if (strncmp(line, "FAIL ", 5) == 0)
            s_check(s, 0, "%s", line + 5);
        else if (strncmp(line, "NOTE ", 5) == 0)
            s_note(s, "%s", line + 5);
        else if (strncmp(line, "ERR ", 4) == 0)
            s_error(s, "%s", line + 4);
        else if (strncmp(line, "SKIP ", 5) == 0)
            s_skip(s, "%s", line + 5);
        else if (strncmp(line, "AUDIT ", 6) == 0) {
            int apid;
            char what[64];
            if (sscanf(line + 6, "%d %63s", &apid, what) == 2 && naudit < 32)
                snprintf(audits[naudit++], sizeof audits[0], "audit: refused %s pid=%d ", what,
                         apid);
        } else if (strcmp(line, "DONE") == 0)
            done = 1;
    }
    if (!done) {
        s_error(s, "attacker pid %d did not finish within %d ms", (int)p->pid, timeout_ms);
        return -1;
    }
    for (int i = 0; i < naudit; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= strcmp(audits[i], audits[j]) == 0;
        if (dup)
            continue;
        char what[96];
        snprintf(what, sizeof what, "%.*s", (int)strlen(audits[i]) - 1, audits[i]);
        s_check(s, log_wait(mark, audits[i], 2000), "esemd logged \"%s\"", what);
    }
    return 0;
}

void lab_relay_role(struct side *s, enum who who, int shim, const char *role, char *const *args,
                    int timeout_ms)
{
    struct proc p;
    size_t mark = log_mark();
    if (proc_startv(&p, who, shim, role, args) < 0) {
        s_error(s, "cannot start the %s role", role);
        return;
    }
    relay(&p, s, mark, timeout_ms);
    proc_end(&p);
}
