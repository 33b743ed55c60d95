/*
 * Attack 7, kill-games: the attacker (same uid, so it may signal) kill -9s
 * a process blocked in a wait, and one that holds a permit.  What must hold
 * for the others: the dead waiter takes no permit with it (the next post
 * goes to the surviving waiter), and a dead holder creates none (the value
 * stays).  glibc behaves the same here (its dead waiter only leaves a stale
 * waiter count behind): this row is not a glibc weakness, the glibc side
 * checks the same outcome.
 */
#include "lab.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

/* kill-part BACKEND CMD ARGS... */
int role_kill_part(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[1]);
    const char *cmd = argv[2];
    if (strcmp(cmd, "kill") == 0 && argc >= 5) {
        pid_t pid = (pid_t)atoi(argv[3]);
        int sig = atoi(argv[4]);
        int r = kill(pid, sig);
        say("%s the attacker (uid %u) sent signal %d to %d: %s", r == 0 ? "NOTE" : "ERR",
            (unsigned)getuid(), sig, (int)pid, r == 0 ? "delivered" : errname(errno));
        say("DONE");
        return 0;
    }
    if (argc < 4)
        return 2;
    const char *name = argv[3];
    if (strcmp(cmd, "unlink") == 0) {
        int r = ops->unlink(name);
        say("done %s", r == 0 ? "0" : errname(errno));
        return 0;
    }
    if (strcmp(cmd, "create") == 0) {
        void *s = ops->open(name, O_CREAT | O_EXCL, 0600, 0);
        if (s)
            ops->close(s);
        say("done %s", s ? "0" : errname(errno));
        return 0;
    }
    void *s = ops->open(name, 0, 0, 0);
    if (!s) {
        say("error open %s: %s", name, errname(errno));
        return 1;
    }
    char line[64];
    if (strcmp(cmd, "waiter") == 0) {
        say("waiting pid=%d", (int)getpid());
        struct timespec dl = deadline_in(20000);
        int rc = ops->timedwait(s, &dl);
        say("got %s", rc == 0 ? "0" : errname(errno));
    } else if (strcmp(cmd, "holder") == 0) {
        int rc = ops->trywait(s);
        say("holding %s pid=%d", rc == 0 ? "0" : errname(errno), (int)getpid());
        while (hear(line, sizeof line, 60000) == 0)
            ;
    } else if (strcmp(cmd, "post") == 0 && argc >= 5) {
        int n = atoi(argv[4]), ok = 0;
        for (int i = 0; i < n; i++)
            ok += ops->post(s) == 0;
        say("posted %d", ok);
    } else if (strcmp(cmd, "check") == 0) {
        int v = -1;
        ops->getvalue(s, &v);
        int rc = ops->trywait(s);
        say("check value=%d trywait=%s", v, rc == 0 ? "0" : errname(errno));
    }
    ops->close(s);
    return 0;
}

int kill_part(const char *backend, const char *cmd, const char *name, const char *arg,
              const char *expect, char *out, size_t outlen)
{
    struct proc p;
    char line[LAB_LINE] = "";
    int r = arg ? proc_start(&p, WHO_LAB, 0, "kill-part", backend, cmd, name, arg, NULL)
                : proc_start(&p, WHO_LAB, 0, "kill-part", backend, cmd, name, NULL);
    if (r < 0)
        return -1;
    r = proc_expect(&p, expect, line, sizeof line, 10000);
    if (out)
        snprintf(out, outlen, "%s", line);
    proc_end(&p);
    return r;
}

int kill_part_waiter(struct side *s, const char *backend, const char *name, struct proc *w)
{
    char line[LAB_LINE];
    if (kill_part(backend, "create", name, NULL, "done 0", NULL, 0) < 0) {
        s_error(s, "cannot create %s", name);
        return -1;
    }
    if (proc_start(w, WHO_LAB, 0, "kill-part", backend, "waiter", name, NULL) < 0 ||
        proc_expect(w, "waiting", line, sizeof line, 10000) < 0) {
        s_error(s, "the waiter did not start");
        proc_end(w);
        kill_part(backend, "unlink", name, NULL, "done", NULL, 0);
        return -1;
    }
    sleep_ms(200); /* asleep in its wait */
    return 0;
}

static int nwaiters(int esem, const char *name, uint32_t *n)
{
    if (esem) {
        struct sem_info_lite i;
        if (admin_find_name(lab.sock, name, &i) < 0)
            return -1;
        *n = i.nwaiters;
        return 0;
    }
    char p[512];
    snprintf(p, sizeof p, "/dev/shm/sem.%s", name + 1);
    return glibc_file_sem(p, 0, NULL, n);
}

static int wait_nwaiters(int esem, const char *name, uint32_t want, int timeout_ms)
{
    long t0 = now_ms();
    uint32_t n = ~0u;
    do {
        if (nwaiters(esem, name, &n) == 0 && n == want)
            return 0;
        sleep_ms(5);
    } while (now_ms() - t0 < timeout_ms);
    return -1;
}

static void attacker_kill(struct side *s, pid_t pid)
{
    struct proc a;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", (int)pid);
    if (proc_start(&a, WHO_LAB, 0, "kill-part", "glibc", "kill", ps, "9", NULL) < 0) {
        s_error(s, "cannot start the attacker");
        return;
    }
    relay(&a, s, log_mark(), 10000);
    proc_end(&a);
}

static void run(struct side *s, int esem)
{
    const char *be = esem ? "esem" : "glibc";
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, esem ? "kill-e" : "kill-g");
    if (kill_part(be, "create", name, NULL, "done 0", NULL, 0) < 0) {
        s_error(s, "cannot create %s", name);
        return;
    }
    struct proc w1, w2, h;
    if (proc_start(&w1, WHO_LAB, 0, "kill-part", be, "waiter", name, NULL) < 0 ||
        proc_expect(&w1, "waiting", line, sizeof line, 10000) < 0 ||
        wait_nwaiters(esem, name, 1, 5000) < 0 ||
        proc_start(&w2, WHO_LAB, 0, "kill-part", be, "waiter", name, NULL) < 0 ||
        proc_expect(&w2, "waiting", line, sizeof line, 10000) < 0 ||
        wait_nwaiters(esem, name, 2, 5000) < 0) {
        s_error(s, "the two waiters did not block");
        proc_kill(&w1);
        proc_kill(&w2);
        proc_end(&w1);
        proc_end(&w2);
        kill_part(be, "unlink", name, NULL, "done", NULL, 0);
        return;
    }
    s_note(s, "waiters %d and %d blocked on %s (value 0)", (int)w1.pid, (int)w2.pid, name);
    attacker_kill(s, w1.pid);
    int st = proc_reap(&w1, 5000);
    s_note(s, "first waiter: %s", st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL
                                       ? "killed by SIGKILL in its wait"
                                       : "did not die of SIGKILL");
    proc_end(&w1);
    uint32_t nw = 0;
    if (esem) {
        int gone = wait_nwaiters(1, name, 1, 5000) == 0;
        s_check(s, gone, "esemd removed the dead waiter from the queue (1 waiter left)");
    } else {
        sleep_ms(100);
        nwaiters(0, name, &nw);
        s_note(s, "glibc's waiter count after the kill: %u (the dead waiter's stays: a hint only)",
               nw);
    }
    kill_part(be, "post", name, "1", "posted", NULL, 0);
    int got = proc_expect(&w2, "got", line, sizeof line, 5000) == 0 && strcmp(line, "got 0") == 0;
    s_check(s, got, "one post after the kill: the surviving waiter got the permit (%s)",
            got ? "got 0" : "no permit within 5 s");
    proc_end(&w2);
    /* a holder killed while it holds a permit */
    kill_part(be, "post", name, "1", "posted", NULL, 0);
    if (proc_start(&h, WHO_LAB, 0, "kill-part", be, "holder", name, NULL) < 0 ||
        proc_expect(&h, "holding", line, sizeof line, 10000) < 0 ||
        strncmp(line, "holding 0", 9) != 0) {
        s_error(s, "the holder did not take the permit (%s)", line);
        proc_kill(&h);
        proc_end(&h);
    } else {
        attacker_kill(s, h.pid);
        proc_reap(&h, 5000);
        proc_end(&h);
        char chk[LAB_LINE] = "";
        kill_part(be, "check", name, NULL, "check", chk, sizeof chk);
        s_check(s, strcmp(chk, "check value=0 trywait=EAGAIN") == 0,
                "a holder killed with its permit: the value stays 0, a trywait fails (%s): no "
                "permit created by its death",
                chk);
    }
    if (esem) {
        struct sem_info_lite i;
        int f = admin_find_name(lab.sock, name, &i) == 0;
        s_check(s, f && i.value == 0 && i.posts == 2 && i.waits == 2 && i.nwaiters == 0,
                "esemd's books: value %u, %llu posts, %llu waits granted, %u waiters", f ? i.value : 0,
                f ? (unsigned long long)i.posts : 0ull, f ? (unsigned long long)i.waits : 0ull,
                f ? i.nwaiters : 0);
    }
    kill_part(be, "unlink", name, NULL, "done", NULL, 0);
    s_summary(s, "kill -9 of a blocked waiter: the next post went to the surviving waiter; kill -9 "
                 "of a holder: no permit created (value stays 0)%s",
              esem ? "; the dead waiter left the queue" : "");
}

void kill_glibc(struct side *s)
{
    run(s, 0);
}

void kill_esem(struct side *s)
{
    run(s, 1);
}
