/*
 * Row borrowed-credentials (security review finding 1, TM-host, another
 * uid): connect as nobody, hand the channel to a helper, exec a
 * setuid-root program; the helper opens and unlinks root's 0600 semaphore
 * as if it were root.  esem must refuse (the exec ends the session;
 * credentials may only drop below those of the connect).
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

static uint32_t fs_uid_of(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return UINT32_MAX;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return UINT32_MAX;
    buf[n] = 0;
    char *u = strstr(buf, "\nUid:");
    unsigned a, b, c, d;
    if (!u || sscanf(u + 5, "%u %u %u %u", &a, &b, &c, &d) != 4)
        return UINT32_MAX;
    return d;
}

/* creds SOCK NAME SUIDPROG: connect as ourselves, fork a helper that
 * keeps the connection, exec the setuid program; the helper acts once the
 * exec'd process runs with fs uid 0. */
int role_creds(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    struct rawc c;
    int r = rawc_connect(&c, argv[1], 0);
    if (r != 0) {
        say("ERR connect: %s", errname(r < 0 ? -r : r));
        say("DONE");
        return 1;
    }
    pid_t me = getpid();
    pid_t h = fork();
    if (h < 0)
        return 1;
    if (h > 0) {
        /* the one that connected becomes a setuid-root program */
        char *const args[] = {argv[3], "4", NULL};
        execv(argv[3], args);
        _exit(127);
    }
    long t0 = now_ms();
    while (fs_uid_of(me) != 0 && now_ms() - t0 < 5000)
        sleep_ms(5);
    uint32_t fsu = fs_uid_of(me);
    say("NOTE uid %u connected (pid %d), handed its channel to helper %d, then exec'd %s: fs "
        "uid now %u",
        (unsigned)getuid(), (int)me, (int)getpid(), argv[3], fsu);
    if (fsu != 0) {
        say("ERR the setuid program did not run as root (fs uid %u)", fsu);
        say("DONE");
        return 1;
    }
    uint64_t rh = 0;
    int o = rawc_op(&c, ESEM_OP_OPEN, 0, argv[2], 0, 0, 0, &rh, NULL, 3000);
    int p = o == 0 ? rawc_op(&c, ESEM_OP_POST, rh, NULL, 0, 0, 0, NULL, NULL, 3000) : -1;
    int u = rawc_op(&c, ESEM_OP_UNLINK, 0, argv[2], 0, 0, 0, NULL, NULL, 3000);
    /* EINVAL: esemd saw the exec (its /proc/PID/exe changed) and ended
     * the session; EACCES: the credentials rose above those it connected
     * with (an exec of the same file) */
    int refused = (o == EACCES || o == EINVAL) && (u == EACCES || u == EINVAL);
    say("%s the helper's open of root's 0600 %s through the borrowed channel: %s; post: %s; "
        "unlink: %s",
        refused ? "OK" : "FAIL", argv[2], o == 0 ? "OPENED" : errname(o),
        o == 0 ? (p == 0 ? "POSTED" : errname(p)) : "-", u == 0 ? "UNLINKED" : errname(u));
    if (refused)
        say("AUDIT %d open", (int)me);
    rawc_close(&c);
    say("DONE");
    return 0;
}

/* A setuid-root copy of /bin/sleep in a directory others may enter. */
static int suid_sleep(char *path, size_t len, char *dir, size_t dlen)
{
    snprintf(dir, dlen, "/tmp/esemlab-suid-XXXXXX");
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
        return -1;
    snprintf(path, len, "%s/sleep", dir);
    int in = open("/bin/sleep", O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    if (in >= 0)
        close(in);
    if (out < 0)
        return -1;
    close(out);
    return chmod(path, 04755);
}

void creds_glibc(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid)");
        return;
    }
    char name[128];
    lab_name(name, sizeof name, "creds-glibc");
    sem_t *g = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (g == SEM_FAILED) {
        s_error(s, "root's glibc semaphore: %s", errname(errno));
        return;
    }
    struct proc p;
    char line[LAB_LINE];
    int refused = 0;
    if (proc_start(&p, WHO_OTHER, 0, "revoke-waiter", "glibc", name, NULL) == 0) {
        refused = proc_expect(&p, "got open-", line, sizeof line, 5000) == 0;
        proc_end(&p);
    }
    s_summary(s, "nobody's sem_open of root's 0600 semaphore: %s (the kernel checks each call's "
                 "own caller; there is no channel to borrow)",
              refused ? line + 4 : "OPENED");
    s_check(s, refused,
            "same: the kernel checks every sem_open against the calling process itself, so "
            "there is no channel to borrow: nobody's open of root's 0600 /dev/shm/sem.NAME: %s",
            refused ? line + 4 : "OPENED");
    sem_close(g);
    sem_unlink(name);
}

void creds_esem(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid, a setuid program)");
        return;
    }
    char name[128], prog[300], dir[256];
    lab_name(name, sizeof name, "creds");
    if (suid_sleep(prog, sizeof prog, dir, sizeof dir) < 0) {
        s_error(s, "cannot make a setuid program in /tmp: %s", errname(errno));
        return;
    }
    /* root's semaphore, made through a raw connection (the orchestrator
     * keeps no libesem state that its fork()s would carry) */
    struct rawc rc;
    int made = rawc_connect(&rc, lab.sock, 0);
    if (made == 0)
        made = rawc_op(&rc, ESEM_OP_OPEN, 0, name + 1, CORE_O_CREAT | CORE_O_EXCL, 0600, 0, NULL,
                       NULL, 3000);
    if (made != 0) {
        s_error(s, "root's semaphore: %s", errname(made < 0 ? -made : made));
    } else {
        char *const args[] = {(char *)lab.sock, name + 1, prog, NULL};
        lab_relay_role(s, WHO_OTHER, 0, "creds", args, 20000);
        s_summary(s, "the helper's open and unlink of root's 0600 semaphore through nobody's "
                     "channel, after nobody exec'd a setuid-root program: refused (EINVAL: the "
                     "exec ended the session; credentials may only drop below those of the "
                     "connect), audited; the semaphore untouched");
        struct sem_info_lite i;
        int there = admin_find_name(lab.sock, name, &i) == 0;
        s_check(s, there && i.value == 0 && i.posts == 0,
                "root's semaphore is still there, untouched (value %u, %llu posts)",
                there ? i.value : 0, there ? (unsigned long long)i.posts : 0ull);
        rawc_op(&rc, ESEM_OP_UNLINK, 0, name + 1, 0, 0, 0, NULL, NULL, 3000);
    }
    rawc_close(&rc);
    unlink(prog);
    rmdir(dir);
}
