/*
 * The harness's helper processes: this test program run again with
 * posix_spawn as "PROGRAM --hx-helper STEP..." (harness.h says the steps),
 * so that esemd sees an unrelated process; and key files for them.
 */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"

extern char **environ;

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int hx_read_key(const char *path, unsigned char key[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[80];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int hx_write_key(const char *path, const unsigned char key[32])
{
    char line[66];
    for (int i = 0; i < 32; i++)
        snprintf(line + 2 * i, 3, "%02x", key[i]);
    line[64] = '\n';
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, line, 65) == 65;
    return close(fd) == 0 && ok ? 0 : -1;
}

static const struct {
    const char *name;
    int err;
} hx_errnos[] = {{"0", 0},           {"EACCES", EACCES},   {"EPERM", EPERM},
                 {"EBADMSG", EBADMSG}, {"EKEYREJECTED", EKEYREJECTED},
                 {"ENOKEY", ENOKEY},   {"EISCONN", EISCONN}, {"ENOENT", ENOENT},
                 {"ETIMEDOUT", ETIMEDOUT}, {"EAGAIN", EAGAIN}, {"EINVAL", EINVAL},
                 {"EEXIST", EEXIST},   {"ESRCH", ESRCH},     {"EIO", EIO}};

static int errno_by_name(const char *s)
{
    for (size_t i = 0; i < sizeof hx_errnos / sizeof hx_errnos[0]; i++)
        if (strcmp(s, hx_errnos[i].name) == 0)
            return hx_errnos[i].err;
    return -1;
}

static unsigned rights_by_name(const char *s)
{
    unsigned r = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 4 && strncmp(s, "open", 4) == 0)
            r |= ESEM_R_OPEN;
        else if (n == 4 && strncmp(s, "wait", 4) == 0)
            r |= ESEM_R_WAIT;
        else if (n == 4 && strncmp(s, "post", 4) == 0)
            r |= ESEM_R_POST;
        else if (n == 6 && strncmp(s, "unlink", 6) == 0)
            r |= ESEM_R_UNLINK;
        else if (n == 3 && strncmp(s, "all", 3) == 0)
            r |= ESEM_R_ALL;
        else
            return 0;
        s += n + (s[n] == ',');
    }
    return r;
}

static int parse_who(const char *s, struct esem_principal *p, unsigned *rights)
{
    char kind[8];
    char id[32], rs[64];
    memset(p, 0, sizeof *p);
    if (sscanf(s, "%7[^/]/%31[^/]/%63s", kind, id, rs) != 3)
        return -1;
    if (strcmp(kind, "uid") == 0)
        p->kind = ESEM_P_UID;
    else if (strcmp(kind, "gid") == 0)
        p->kind = ESEM_P_GID;
    else if (strcmp(kind, "pid") == 0)
        p->kind = ESEM_P_PROC;
    else if (strcmp(kind, "key") == 0)
        p->kind = ESEM_P_KEY;
    else
        return -1;
    if (p->kind == ESEM_P_KEY)
        p->key_id = strtoull(id, NULL, 16);
    else
        p->id = (uint32_t)strtoul(id, NULL, 10);
    *rights = rights_by_name(rs);
    return *rights ? 0 : -1;
}

#define HELPER_FAIL(...)                                                                \
    do {                                                                               \
        fprintf(stderr, "helper %d: step '%s': ", (int)getpid(), step);                \
        fprintf(stderr, __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                           \
        _exit(1);                                                                      \
    } while (0)

static void helper_main(int argc, char **argv)
{
    alarm(60);
    esem_t *cur = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "exec") == 0 && i + 1 < argc) {
            /* the rest is a program to run, as whoever the steps made us */
            fflush(stdout);
            fflush(stderr);
            execv(argv[i + 1], argv + i + 1);
            fprintf(stderr, "helper: exec %s: %s\n", argv[i + 1], strerror(errno));
            _exit(127);
        }
        char step[512];
        snprintf(step, sizeof step, "%s", argv[i]);
        int want = 0;
        char *eq = strrchr(step, '=');
        if (eq) {
            *eq = 0;
            want = errno_by_name(eq + 1);
            if (want < 0)
                HELPER_FAIL("unknown errno name %s", eq + 1);
        }
        char *arg = strchr(step, ':');
        if (arg)
            *arg++ = 0;
        int r = 0;
        errno = 0;
        if (strcmp(step, "uid") == 0) {
            uid_t u = (uid_t)strtoul(arg, NULL, 10);
            r = hx_become(u, u);
        } else if (strcmp(step, "setkey") == 0) {
            unsigned char key[32];
            if (hx_read_key(arg, key) < 0)
                HELPER_FAIL("cannot read key %s", arg);
            r = esem_set_key(key);
        } else if (strcmp(step, "open") == 0 || strcmp(step, "create") == 0 ||
                   strcmp(step, "screate") == 0 || strcmp(step, "anon") == 0) {
            esem_t *s = step[0] == 'a'   ? esem_create(0)
                        : step[0] == 'o' ? esem_open(arg, 0, 0, 0)
                        : step[0] == 'c' ? esem_open(arg, O_CREAT, 0666, 0)
                                         : esem_open(arg, O_CREAT | O_EXCL | ESEM_O_STRICT, 0666, 0);
            r = s ? 0 : -1;
            if (s)
                cur = s;
        } else if (strcmp(step, "post") == 0) {
            r = esem_post(cur);
        } else if (strcmp(step, "wait") == 0) {
            r = esem_wait(cur);
        } else if (strcmp(step, "trywait") == 0) {
            r = esem_trywait(cur);
        } else if (strcmp(step, "timedwait") == 0) {
            struct timespec dl = hx_deadline(CLOCK_REALTIME, 100);
            r = esem_timedwait(cur, &dl);
            if (r < 0 && errno == ETIMEDOUT) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                if (!hx_ts_ge(&now, &dl))
                    HELPER_FAIL("timed out early");
            }
        } else if (strcmp(step, "close") == 0) {
            r = esem_close(cur);
        } else if (strcmp(step, "getvalue") == 0) {
            int v = -1;
            r = esem_getvalue(cur, &v);
            if (r == 0 && v != atoi(arg))
                HELPER_FAIL("value %d, want %s", v, arg);
        } else if (strcmp(step, "unlink") == 0) {
            r = esem_unlink(arg);
        } else if (strcmp(step, "grant") == 0 || strcmp(step, "revoke") == 0) {
            struct esem_principal p;
            unsigned rights;
            if (!arg || parse_who(arg, &p, &rights) < 0)
                HELPER_FAIL("bad principal");
            r = step[0] == 'g' ? esem_grant(cur, &p, rights) : esem_revoke(cur, &p, rights);
        } else if (strcmp(step, "forkpost") == 0) {
            fflush(stderr);
            pid_t c = fork();
            if (c == 0)
                _exit(esem_post(cur) == 0 ? 0 : 100 + (errno & 0x7f));
            int st = hx_reap(c, 30000);
            if (st == -1 || !WIFEXITED(st))
                HELPER_FAIL("fork child: %s", hx_status_str(st));
            r = WEXITSTATUS(st) ? -1 : 0;
            errno = WEXITSTATUS(st) ? WEXITSTATUS(st) - 100 : 0;
        } else if (strcmp(step, "sync") == 0) {
            char b = 1;
            if (write(3, &b, 1) != 1 || read(4, &b, 1) != 1)
                HELPER_FAIL("sync pipe broken");
        } else if (strcmp(step, "sleep") == 0) {
            hx_sleep_ms(atol(arg));
        } else {
            HELPER_FAIL("unknown step");
        }
        int got = r == 0 ? 0 : errno;
        if (got != want)
            HELPER_FAIL("got %s (%d), want %s", got ? strerror(got) : "success", got,
                        want ? strerror(want) : "success");
    }
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

void hx_helper_dispatch(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--hx-helper") == 0)
        helper_main(argc - 2, argv + 2);
}

/* A pipe whose ends are above the descriptors the helper gets (3, 4). */
static int high_pipe(int fd[2])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fd[i] = fcntl(p[i], F_DUPFD_CLOEXEC, 10);
        close(p[i]);
    }
    return fd[0] >= 0 && fd[1] >= 0 ? 0 : -1;
}

static int helper_spawn(struct hx_proc *p, const char *const *env, const char *const *steps,
                        int outfd, int errfd);

int hx_helper_start(struct hx_proc *p, const char *const *env, const char *const *steps)
{
    return helper_spawn(p, env, steps, -1, -1);
}

static char *read_all(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return NULL;
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (b && n < (size_t)st.st_size) {
        ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (b)
        b[n] = 0;
    return b;
}

/* An unnamed temporary file on a descriptor above 3 and 4 (which the
 * helper's sync pipes take). */
static int tmp_high(void)
{
    int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

int hx_helper_capture(const char *const *env, const char *const *steps, char **out, char **err)
{
    int of = tmp_high(), ef = tmp_high();
    struct hx_proc p;
    int st = -1;
    if (of >= 0 && ef >= 0 && helper_spawn(&p, env, steps, of, ef) == 0)
        st = hx_helper_end(&p, 30000);
    if (out)
        *out = of >= 0 ? read_all(of) : NULL;
    if (err)
        *err = ef >= 0 ? read_all(ef) : NULL;
    if (of >= 0)
        close(of);
    if (ef >= 0)
        close(ef);
    return st;
}

static int helper_spawn(struct hx_proc *p, const char *const *env, const char *const *steps,
                        int outfd, int errfd)
{
    p->pid = -1;
    p->ready_fd = p->go_fd = -1;
    int rp[2], gp[2];
    if (high_pipe(rp) < 0 || high_pipe(gp) < 0)
        return -1;
    /* environment: ours, with env's entries replacing those of their name */
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (env && env[k])
        k++;
    char **envp = calloc(n + k + 1, sizeof *envp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < k && !replaced; j++) {
            size_t l = strcspn(env[j], "=") + 1;
            replaced = strncmp(environ[i], env[j], l) == 0;
        }
        if (!replaced)
            envp[m++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        envp[m++] = (char *)env[j];
    envp[m] = NULL;
    const char *argv[64] = {"esem-itest-helper", "--hx-helper"};
    int argc = 2;
    for (int i = 0; steps && steps[i] && argc < 63; i++)
        argv[argc++] = steps[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, rp[1], 3);
    posix_spawn_file_actions_adddup2(&fa, gp[0], 4);
    if (outfd >= 0)
        posix_spawn_file_actions_adddup2(&fa, outfd, 1);
    if (errfd >= 0)
        posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    fflush(stdout);
    fflush(stderr);
    pid_t pid;
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(rp[1]);
    close(gp[0]);
    if (r != 0) {
        close(rp[0]);
        close(gp[1]);
        return -1;
    }
    p->pid = pid;
    p->ready_fd = rp[0];
    p->go_fd = gp[1];
    return 0;
}

int hx_helper_ready(struct hx_proc *p, int timeout_ms)
{
    struct hx_gate g = {{p->ready_fd, -1}};
    return hx_gate_wait(&g, timeout_ms);
}

int hx_helper_go(struct hx_proc *p)
{
    struct hx_gate g = {{-1, p->go_fd}};
    return hx_gate_post(&g);
}

int hx_helper_end(struct hx_proc *p, int timeout_ms)
{
    if (p->go_fd >= 0)
        close(p->go_fd);
    if (p->ready_fd >= 0)
        close(p->ready_fd);
    p->go_fd = p->ready_fd = -1;
    return p->pid > 0 ? hx_reap(p->pid, timeout_ms) : -1;
}

int hx_helper_run(const char *const *env, const char *const *steps)
{
    struct hx_proc p;
    if (hx_helper_start(&p, env, steps) < 0)
        return -1;
    return hx_helper_end(&p, 30000);
}
