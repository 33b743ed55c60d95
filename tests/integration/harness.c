#include "harness.h"
#include "launch.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

extern char **environ;

struct hx_daemon hx;

static const char *volatile current_test = "(setup)";
static pid_t daemon_owner; /* the process that started hx */

/* ---- time ---- */

struct timespec hx_deadline(clockid_t clk, long ms)
{
    struct timespec t;
    clock_gettime(clk, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int hx_ts_ge(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

void hx_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

const char *hx_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/itest-%s-%d", tag, (int)getpid());
    return buf;
}

/* ---- processes ---- */

static void on_alarm(int sig)
{
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof msg, "harness: TIMEOUT (alarm) in %s, pid %d\n",
                     current_test, (int)getpid());
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        n = 0;
    /* A test may have stopped the daemon (SIGSTOP): wake it so that the
     * SIGTERM it gets when we die can end it. */
    if (getpid() == daemon_owner && hx.pid > 0)
        kill(hx.pid, SIGCONT);
    _exit(124);
}

pid_t hx_fork(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == 0) {
        alarm(60);
        int rc = fn(arg);
        _exit(rc);
    }
    return p;
}

int hx_reap(pid_t pid, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (elapsed_ms(&t0) > timeout_ms) {
            fprintf(stderr, "harness: pid %d did not exit within %d ms: killing it\n",
                    (int)pid, timeout_ms);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        hx_sleep_ms(1);
    }
}

const char *hx_status_str(int st)
{
    static char buf[64];
    if (st == -1)
        snprintf(buf, sizeof buf, "did not exit in time (killed)");
    else if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "wait status %#x", st);
    return buf;
}

void hx_gate_init(struct hx_gate *g)
{
    if (pipe2(g->fd, O_CLOEXEC) < 0)
        g->fd[0] = g->fd[1] = -1;
}

void hx_gate_close(struct hx_gate *g)
{
    for (int i = 0; i < 2; i++)
        if (g->fd[i] >= 0)
            close(g->fd[i]);
    g->fd[0] = g->fd[1] = -1;
}

int hx_gate_post(struct hx_gate *g)
{
    char c = 1;
    ssize_t n;
    do
        n = write(g->fd[1], &c, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

int hx_gate_wait(struct hx_gate *g, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = timeout_ms - elapsed_ms(&t0);
        if (left < 0)
            return -1;
        struct pollfd p = {.fd = g->fd[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        char c;
        ssize_t n = read(g->fd[0], &c, 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

void *hx_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void hx_shared_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

int hx_become(uid_t uid, gid_t gid)
{
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return -1;
    return getuid() == uid && geteuid() == uid ? 0 : -1;
}

/* ---- the daemon ---- */

static char *ctl_va(const char *sock, int *status, va_list ap);

static char *ctl_at(const char *sock, int *status, ...)
{
    va_list ap;
    va_start(ap, status);
    char *r = ctl_va(sock, status, ap);
    va_end(ap);
    return r;
}

static char *slurp(const char *path, size_t from, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf && lseek(fd, (off_t)from, SEEK_SET) == (off_t)from) {
        for (;;) {
            if (n + 1 >= cap) {
                char *nb = realloc(buf, cap * 2);
                if (!nb)
                    break;
                buf = nb;
                cap *= 2;
            }
            ssize_t r = read(fd, buf + n, cap - n - 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            n += (size_t)r;
        }
    }
    close(fd);
    if (buf)
        buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static void dump_file(const char *what, const char *path)
{
    char *s = slurp(path, 0, NULL);
    if (s && *s)
        fprintf(stderr, "---- %s (%s) ----\n%s---- end ----\n", what, path, s);
    free(s);
}

int hx_daemon_alive(const struct hx_daemon *d)
{
    struct hx_daemon *m = (struct hx_daemon *)d;
    if (m->pid <= 0 || m->exited)
        return 0;
    int st;
    pid_t r = waitpid(m->pid, &st, WNOHANG);
    if (r == m->pid) {
        m->exited = 1;
        m->status = st;
        return 0;
    }
    return 1;
}

const char *const *hx_daemon_extra_args;

int hx_daemon_start(struct hx_daemon *d)
{
    return hx_daemon_start_args(d, NULL);
}

/* Serving means: an admin hello is answered (esemctl stats). */
static int serving(const struct esem_launched *l, void *arg)
{
    (void)arg;
    int st;
    char *out = ctl_at(l->sock, &st, "stats", (char *)NULL);
    int up = out && st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    free(out);
    return up;
}

int hx_daemon_start_args(struct hx_daemon *d, const char *const *extra)
{
    memset(d, 0, sizeof *d);
    const char *bin = getenv("ESEMD");
    if (!bin || !*bin) {
        fprintf(stderr, "harness: $ESEMD (path to esemd) is not set\n");
        return -1;
    }
    struct esem_launch how = {.esemd = bin, .dir_prefix = "/tmp/esem-itest", .extra = extra,
                              .with_log = 1};
    struct esem_launched l;
    int r = esem_launch(&how, &l);
    if (r < 0) {
        fprintf(stderr, "harness: starting esemd (%s): %s\n", bin, strerror(-r));
        return -1;
    }
    d->pid = l.pid;
    snprintf(d->dir, sizeof d->dir, "%s", l.dir);
    snprintf(d->sock, sizeof d->sock, "%s", l.sock);
    snprintf(d->log, sizeof d->log, "%s", l.log);
    snprintf(d->err, sizeof d->err, "%s", l.out);
    r = esem_launch_wait(&l, serving, NULL, 20000, &d->status);
    if (r == 0)
        return 0;
    if (r == -ECHILD) {
        d->exited = 1;
        fprintf(stderr, "harness: esemd (%s) exited at start-up: %s\n", bin,
                hx_status_str(d->status));
        dump_file("esemd stderr", d->err);
        dump_file("esemd log", d->log);
        return -1;
    }
    fprintf(stderr, "harness: esemd did not start serving %s in time\n", d->sock);
    kill(d->pid, SIGKILL);
    hx_reap(d->pid, 5000);
    d->exited = 1;
    return -1;
}

void hx_daemon_remove_files(const struct hx_daemon *d)
{
    esem_launch_remove(d->dir);
}

int hx_daemon_stop(struct hx_daemon *d)
{
    if (d->pid <= 0)
        return -1;
    int ok = 1;
    if (hx_daemon_alive(d)) {
        kill(d->pid, SIGTERM);
        d->status = hx_reap(d->pid, 20000);
        d->exited = 1;
    } else {
        fprintf(stderr, "harness: esemd was no longer running at stop\n");
        ok = 0;
    }
    if (d->status == -1 || !WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
        fprintf(stderr, "harness: esemd ended with %s (want exit status 0)\n",
                hx_status_str(d->status));
        ok = 0;
    }
    struct stat st;
    if (stat(d->err, &st) == 0 && st.st_size > 0) {
        fprintf(stderr, "harness: esemd wrote to stderr (sanitizer report?)\n");
        ok = 0;
    }
    char *log = slurp(d->log, 0, NULL);
    if (log && strstr(log, "internal:")) {
        fprintf(stderr, "harness: esemd logged an internal error\n");
        ok = 0;
    }
    free(log);
    if (!ok || getenv("HX_KEEP_LOGS")) {
        if (!ok) {
            dump_file("esemd stderr", d->err);
            dump_file("esemd log", d->log);
        }
        fprintf(stderr, "harness: kept %s for inspection\n", d->dir);
    } else {
        hx_daemon_remove_files(d);
    }
    d->pid = 0;
    return ok ? 0 : -1;
}

int hx_group_setup(void **state)
{
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(60);
    daemon_owner = getpid();
    if (hx_daemon_start_args(&hx, hx_daemon_extra_args) < 0)
        return -1;
    alarm(0);
    setenv("ESEM_SOCKET", hx.sock, 1);
    return 0;
}

static int teardown_failed;

int hx_group_teardown(void **state)
{
    (void)state;
    current_test = "(teardown)";
    alarm(60);
    int r = hx_daemon_stop(&hx);
    alarm(0);
    if (r < 0) {
        teardown_failed = 1;
        fprintf(stderr, "harness: FAILED: the daemon did not stop cleanly (see above)\n");
    }
    return r;
}

void hx_filter(void)
{
    const char *f = getenv("HX_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

int hx_result(int cmocka_result)
{
    return cmocka_result || teardown_failed ? 1 : 0;
}

int hx_test_setup(void **state)
{
    current_test = *state ? (const char *)*state : "?";
    alarm(60);
    return 0;
}

int hx_test_teardown(void **state)
{
    (void)state;
    alarm(0);
    if (!hx_daemon_alive(&hx)) {
        fprintf(stderr, "harness: esemd died during %s: %s\n", current_test,
                hx_status_str(hx.status));
        dump_file("esemd stderr", hx.err);
        return -1;
    }
    current_test = "(between tests)";
    return 0;
}

void hx_open_to_all_users(void)
{
    chmod(hx.dir, 0711);
    chmod(hx.sock, 0666);
}

/* ---- log ---- */

size_t hx_log_mark(void)
{
    struct stat st;
    return stat(hx.log, &st) == 0 ? (size_t)st.st_size : 0;
}

int hx_log_count(size_t mark, const char *needle)
{
    char *s = slurp(hx.log, mark, NULL);
    int n = 0;
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (strstr(line, needle))
            n++;
        if (!nl)
            break;
        line = nl + 1;
    }
    free(s);
    return n;
}

int hx_log_wait(size_t mark, const char *needle, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (hx_log_count(mark, needle) > 0)
            return 1;
        hx_sleep_ms(5);
    } while (elapsed_ms(&t0) < timeout_ms);
    return hx_log_count(mark, needle) > 0;
}

/* ---- esemctl ---- */

static char *ctl_va(const char *sock, int *status, va_list ap)
{
    const char *bin = getenv("ESEMCTL");
    *status = -1;
    if (!bin || !*bin) {
        fprintf(stderr, "harness: $ESEMCTL (path to esemctl) is not set\n");
        return NULL;
    }
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)bin;
    argv[argc++] = (char *)"--socket";
    argv[argc++] = (char *)sock;
    argv[argc++] = (char *)"--json";
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 15)
        argv[argc++] = (char *)a;
    argv[argc] = NULL;

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return NULL;
    /* posix_spawn runs no fork handlers: the tool does not become a
     * transient libesem client inheriting this process's semaphores. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (r != 0) {
        close(pfd[0]);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (out) {
        long left = 10000 - elapsed_ms(&t0);
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (left <= 0 || (poll(&p, 1, (int)left) <= 0 && errno != EINTR))
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(out, cap * 2);
            if (!nb)
                break;
            out = nb;
            cap *= 2;
        }
        ssize_t k = read(pfd[0], out + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(pfd[0]);
    if (out)
        out[n] = 0;
    *status = hx_reap(pid, 10000);
    return out;
}

char *hx_ctl(int *status, ...)
{
    va_list ap;
    va_start(ap, status);
    char *r = ctl_va(hx.sock, status, ap);
    va_end(ap);
    return r;
}

static int jnum(const char *s, const char *key, unsigned *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    for (const char *p = strstr(s, pat); p; p = strstr(p + 1, pat)) {
        const char *v = p + strlen(pat);
        if (*v >= '0' && *v <= '9') {
            *out = (unsigned)strtoul(v, NULL, 10);
            return 0;
        }
    }
    return -1;
}

static int members(const char *s, const char *key, const char *second, struct hx_member *m,
                   int max)
{
    const char *p = strstr(s, key);
    if (!p)
        return 0;
    p += strlen(key);
    const char *end = strchr(p, ']');
    int n = 0;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "{\"pid\":%%u,\"%s\":%%u", second);
    while (n < max && (p = strchr(p, '{')) && (!end || p < end)) {
        if (sscanf(p, fmt, &m[n].pid, &m[n].n) == 2)
            n++;
        p++;
    }
    return n;
}

int hx_anon_ids(char (*ids)[32], int max)
{
    int st, n = 0;
    char *out = hx_ctl(&st, "ls", (char *)NULL);
    if (!out)
        return -1;
    /* ls --json: an array of flat objects, each starting with "id". */
    for (const char *p = strstr(out, "{\"id\":\""); p && n < max;
         p = strstr(p + 1, "{\"id\":\"")) {
        const char *end = strchr(p, '}');
        const char *anon = strstr(p, "\"name\":null");
        if (anon && (!end || anon < end) && sscanf(p + 7, "%31[^\"]", ids[n]) == 1)
            n++;
    }
    free(out);
    return n;
}

int hx_new_anon_id(char (*before)[32], int n, char *id, size_t len)
{
    char now[256][32];
    int m = hx_anon_ids(now, 256), found = 0;
    for (int i = 0; i < m; i++) {
        int old = 0;
        for (int j = 0; j < n && !old; j++)
            old = strcmp(now[i], before[j]) == 0;
        if (!old) {
            snprintf(id, len, "%s", now[i]);
            found++;
        }
    }
    return found == 1 ? 0 : -1;
}

int hx_show(const char *name, struct hx_show *o)
{
    memset(o, 0, sizeof *o);
    int st;
    char *out = hx_ctl(&st, "show", name, (char *)NULL);
    if (!out || st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || out[0] != '{') {
        free(out);
        return -1;
    }
    o->found = 1;
    const char *id = strstr(out, "\"id\":\"");
    if (id)
        sscanf(id + 6, "%31[^\"]", o->id);
    jnum(out, "value", &o->value);
    jnum(out, "waiters", &o->nwaiters);
    jnum(out, "opens", &o->opens);
    jnum(out, "uid", &o->uid);
    jnum(out, "gid", &o->gid);
    const char *mode = strstr(out, "\"mode\":\"");
    if (mode)
        o->mode = (unsigned)strtoul(mode + 8, NULL, 8);
    o->nholders = members(out, "\"holders\":[", "opens", o->holders, 64);
    o->nwait = members(out, "\"waiters\":[", "slot", o->waiters, 64);
    free(out);
    return 0;
}

unsigned hx_holder_opens(const struct hx_show *s, pid_t pid)
{
    for (int i = 0; i < s->nholders; i++)
        if (s->holders[i].pid == (unsigned)pid)
            return s->holders[i].n;
    return 0;
}

int hx_is_waiter(const struct hx_show *s, pid_t pid)
{
    for (int i = 0; i < s->nwait; i++)
        if (s->waiters[i].pid == (unsigned)pid)
            return 1;
    return 0;
}

int hx_wait_holder(const char *name, pid_t pid, int present, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct hx_show s;
    do {
        if (hx_show(name, &s) == 0 && (hx_holder_opens(&s, pid) > 0) == !!present)
            return 1;
        hx_sleep_ms(5);
    } while (elapsed_ms(&t0) < timeout_ms);
    return 0;
}

int hx_wait_waiter(const char *name, pid_t pid, int present, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct hx_show s;
    do {
        if (hx_show(name, &s) == 0 && hx_is_waiter(&s, pid) == !!present)
            return 1;
        hx_sleep_ms(5);
    } while (elapsed_ms(&t0) < timeout_ms);
    return 0;
}

int hx_wait_nwaiters(const char *name, unsigned n, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct hx_show s;
    do {
        if (hx_show(name, &s) == 0 && s.nwaiters == n)
            return 1;
        hx_sleep_ms(5);
    } while (elapsed_ms(&t0) < timeout_ms);
    return 0;
}
