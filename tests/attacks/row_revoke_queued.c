/*
 * Row revoke-queued (security review finding 5, TM-host): a wait queued
 * before a revoke must not be granted by the next post.  Its waiter role
 * is also borrowed-credentials' glibc side (another uid's sem_open).
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

/* owner BACKEND NAME: creates NAME 0666 value 0; on "revoke" takes
 * away the other uid's right to wait (esem) or chmods the file 0600
 * (glibc: the nearest thing), then posts. */
int role_revoke_owner(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[1]);
    umask(0);
    void *s = ops->open(argv[2], O_CREAT | O_EXCL, 0666, 0);
    if (!s) {
        say("ERR create: %s", errname(errno));
        return 1;
    }
    if (strcmp(argv[1], "glibc") == 0) {
        char p[300];
        snprintf(p, sizeof p, "/dev/shm/sem.%s", argv[2] + 1);
        chmod(p, 0666); /* the umask */
    }
    say("ready");
    char line[64];
    if (hear(line, sizeof line, 30000) == 0 && strcmp(line, "revoke") == 0) {
        int r;
        if (strcmp(argv[1], "esem") == 0) {
            struct esem_principal who = {.kind = ESEM_P_UID, .id = LAB_OTHER_UID};
            r = esem_revoke((esem_t *)s, &who, ESEM_R_WAIT);
        } else {
            char p[300];
            snprintf(p, sizeof p, "/dev/shm/sem.%s", argv[2] + 1);
            r = chmod(p, 0600);
        }
        int e = errno;
        int pr = ops->post(s);
        say("revoked %s posted %s", r == 0 ? "0" : errname(e), pr == 0 ? "0" : errname(errno));
    }
    if (hear(line, sizeof line, 30000) == 0) {
        int v = -1;
        ops->getvalue(s, &v);
        say("value %d", v);
    }
    ops->close(s);
    ops->unlink(argv[2]);
    return 0;
}

/* waiter BACKEND NAME: opens NAME and waits (10 s). */
int role_revoke_waiter(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[1]);
    void *s = ops->open(argv[2], 0, 0, 0);
    if (!s) {
        say("got open-%s", errname(errno));
        return 1;
    }
    say("waiting pid=%d", (int)getpid());
    struct timespec dl = deadline_in(10000);
    int r = ops->timedwait(s, &dl);
    say("got %s", r == 0 ? "0" : errname(errno));
    ops->close(s);
    return 0;
}

static void revoke_run(struct side *s, const char *backend)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid)");
        return;
    }
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, strcmp(backend, "esem") == 0 ? "revoke" : "revoke-glibc");
    struct proc o, w;
    if (proc_start(&o, WHO_LAB, 0, "revoke-owner", backend, name, NULL) < 0 ||
        proc_expect(&o, "ready", line, sizeof line, 5000) < 0) {
        s_error(s, "owner did not start");
        proc_end(&o);
        return;
    }
    if (proc_start(&w, WHO_OTHER, 0, "revoke-waiter", backend, name, NULL) < 0 ||
        proc_expect(&w, "waiting", line, sizeof line, 5000) < 0) {
        s_error(s, "waiter did not start: %s", line);
        proc_end(&o);
        proc_end(&w);
        return;
    }
    if (strcmp(backend, "esem") == 0)
        admin_wait_waiters(lab.sock, name, 0, 1, 5000);
    else
        sleep_ms(200);
    proc_cmd(&o, "revoke");
    proc_expect(&o, "revoked", line, sizeof line, 5000);
    s_note(s, "the owner took the waiting uid's right away and posted: %s", line);
    int got = proc_expect(&w, "got", line, sizeof line, 5000) == 0;
    char wl[LAB_LINE];
    snprintf(wl, sizeof wl, "%s", got ? line : "no return");
    proc_cmd(&o, "value");
    proc_expect(&o, "value", line, sizeof line, 5000);
    if (strcmp(backend, "esem") == 0)
        s_summary(s, "the other uid's wait, queued before the owner revoked its right to wait: "
                     "%s at the revoke; the owner's post stays for others (%s)",
                  wl + 4, line);
    else
        s_summary(s, "no revoke reaches an open handle: after chmod 0600 the next post released "
                     "the other uid's waiter (%s)",
                  wl);
    if (strcmp(backend, "esem") == 0)
        s_check(s, strcmp(wl, "got EACCES") == 0 && strcmp(line, "value 1") == 0,
                "the wait queued before the revoke: \"%s\" at once; the post stays (%s)", wl, line);
    else
        s_check(s, strcmp(wl, "got 0") == 0,
                "nothing reaches a wait already open: after chmod 0600 of the file the next "
                "post released the other uid's waiter: \"%s\" (%s)",
                wl, line);
    proc_end(&w);
    proc_end(&o);
}

void revoke_glibc(struct side *s)
{
    revoke_run(s, "glibc");
}

void revoke_esem(struct side *s)
{
    revoke_run(s, "esem");
}
