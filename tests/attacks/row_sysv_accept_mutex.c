/*
 * Attack sysv-accept-mutex (TM-host): Apache's `Mutex sysvsem`.  A server
 * holds a System V set of one semaphore as its accept mutex (taken with
 * SEM_UNDO, as APR does).  An unrelated process of the SAME uid, which
 * never opened the set (its id leaked, or it walked the ids), goes after it:
 *   1. semctl(SETVAL, 1) while the mutex is held: a second worker then gets
 *      in — two workers in the critical section;
 *   2. semctl(IPC_RMID): the server's set is gone, its next semop fails.
 * Another uid (nobody) is refused by the mode bits on both sides.
 *
 *   kernel: both work (the Apache manual warns about it): ipc_perm bits are
 *           all there is, and they let the same uid do everything.
 *   esem:   two variants of the victim (the sets live in esemd's core; the
 *           attacker is an unmodified program under the shim):
 *             strict  esem_semget(..., 0600 | ESEM_O_STRICT);
 *             acl     a POSIX-policy set whose owner revoked every right from
 *                     its own uid and granted all to its own process;
 *           SETVAL and a post are refused EACCES, IPC_RMID EPERM, each
 *           audited; the second worker still finds the mutex taken; the set
 *           is intact; the kernel's table never saw it.
 */
#include "lab.h"

#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>

#include "esem.h"

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* the victim's calls: the kernel's or esem's */
static int use_esem;

static int v_semop(int id, short op, short flg)
{
    struct sembuf b = {0, op, flg};
    return use_esem ? esem_semop(id, &b, 1) : semop(id, &b, 1);
}

static int v_getval(int id)
{
    return use_esem ? esem_semctl(id, 0, GETVAL) : semctl(id, 0, GETVAL);
}

/* sysv-victim BACKEND(kernel|esem) VARIANT(plain|strict|acl) */
int role_sysv_victim(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    use_esem = strcmp(argv[1], "esem") == 0;
    const char *variant = argv[2];
    int id;
    if (use_esem) {
        id = esem_semget(IPC_PRIVATE, 1,
                         IPC_CREAT | 0600 | (strcmp(variant, "strict") == 0 ? ESEM_O_STRICT : 0));
        if (id >= 0 && strcmp(variant, "acl") == 0) {
            struct esem_principal u = {.kind = ESEM_P_UID, .id = (uint32_t)getuid()};
            struct esem_principal me = {.kind = ESEM_P_PROC, .id = (uint32_t)getpid()};
            if (esem_semgrant(id, &me, ESEM_R_ALL) < 0 || esem_semrevoke(id, &u, ESEM_R_ALL) < 0) {
                say("error acl: %s", errname(errno));
                return 1;
            }
        }
    } else {
        id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    }
    if (id < 0) {
        say("error semget: %s", errname(errno));
        return 1;
    }
    int r = use_esem ? esem_semctl(id, 0, SETVAL, 1) : semctl(id, 0, SETVAL, 1);
    if (r < 0 || v_semop(id, -1, SEM_UNDO) < 0) { /* the server takes its mutex */
        say("error take: %s", errname(errno));
        return 1;
    }
    say("ready %d", id);
    char cmd[128];
    while (hear(cmd, sizeof cmd, 80000) == 0) {
        if (strcmp(cmd, "second") == 0) {
            /* another worker (a fork child, as Apache's) tries the mutex */
            pid_t p = fork();
            if (p == 0) {
                errno = 0;
                int s = v_semop(id, -1, IPC_NOWAIT | SEM_UNDO);
                _exit(s == 0 ? 0 : errno == EAGAIN ? 1 : 2);
            }
            int st = 0;
            waitpid(p, &st, 0);
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
            say("second %s", code == 0 ? "entered" : code == 1 ? "EAGAIN" : "error");
        } else if (strcmp(cmd, "alive") == 0) {
            errno = 0;
            int v = v_getval(id);
            say("alive %s %d", v >= 0 ? "yes" : errname(errno), v);
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    if (use_esem)
        esem_semctl(id, 0, IPC_RMID);
    else
        semctl(id, 0, IPC_RMID);
    say("done");
    return 0;
}

/* sysv-attacker ID EXPECT(allowed|refused|denied): a plain program (the
 * shim carries it to esem for an esem id); refused = by esem (audited),
 * denied = by the kernel (no audit to look for) */
int role_sysv_attacker(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int id = atoi(argv[1]);
    int refused = strcmp(argv[2], "allowed") != 0;
    int audited = strcmp(argv[2], "refused") == 0;
    static const struct {
        const char *what, *audit;
        int want;
    } steps[] = {{"semctl(SETVAL, 1) on the held mutex", "semctl", EACCES},
                 {"semop(+1) on it", "semop", EACCES},
                 {"semctl(IPC_RMID)", "semctl", EPERM}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        errno = 0;
        struct sembuf b = {0, 1, IPC_NOWAIT};
        int r = i == 0 ? semctl(id, 0, SETVAL, 1)
                : i == 1 ? semop(id, &b, 1)
                         : semctl(id, 0, IPC_RMID);
        int e = errno;
        if (!refused)
            say("%s %s by an unrelated uid-%u process (pid %d): %s", r == 0 ? "OK" : "FAIL",
                steps[i].what, (unsigned)getuid(), (int)getpid(),
                r == 0 ? "accepted" : errname(e));
        else if (r < 0 && e == steps[i].want) {
            say("OK %s by an unrelated uid-%u process (pid %d): %s", steps[i].what,
                (unsigned)getuid(), (int)getpid(), errname(e));
            if (audited)
                say("AUDIT %d %s", (int)getpid(), steps[i].audit);
        } else {
            say("FAIL %s by an unrelated uid-%u process: %s (want %s)", steps[i].what,
                (unsigned)getuid(), r == 0 ? "ACCEPTED" : errname(e), errname(steps[i].want));
        }
        if (!refused && i == 0) {
            /* the orchestrator looks at the damage before the removal */
            say("DONE");
            char cmd[32];
            if (hear(cmd, sizeof cmd, 20000) < 0)
                return 1;
        }
    }
    say("DONE");
    return 0;
}

/* The other uid (nobody): refused by the mode bits on both sides. */
static void other_uid(struct side *s, int id, int esem)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "another uid: needs root");
        return;
    }
    struct proc a;
    char ids[32];
    snprintf(ids, sizeof ids, "%d", id);
    if (proc_start(&a, WHO_OTHER, esem, "sysv-attacker", ids, esem ? "refused" : "denied",
                   NULL) < 0) {
        s_error(s, "cannot start the other-uid attacker");
        return;
    }
    relay(&a, s, log_mark(), 20000);
    proc_end(&a);
}

static int kernel_lists(int id)
{
    FILE *f = fopen("/proc/sysvipc/sem", "r");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        long long k, sid;
        if (sscanf(line, "%lld %lld", &k, &sid) == 2 && sid == id)
            found = 1;
    }
    fclose(f);
    return found;
}

static int start_victim(struct proc *v, struct side *s, const char *backend, const char *variant,
                        int *id)
{
    char line[LAB_LINE];
    if (proc_start(v, WHO_LAB, 0, "sysv-victim", backend, variant, NULL) < 0 ||
        proc_expect(v, "ready", line, sizeof line, 10000) < 0 ||
        sscanf(line, "ready %d", id) != 1) {
        s_error(s, "the %s victim did not start", backend);
        proc_kill(v);
        proc_end(v);
        return -1;
    }
    return 0;
}

static void ask(struct proc *v, const char *cmd, char *line, size_t len)
{
    line[0] = 0;
    proc_cmd(v, "%s", cmd);
    proc_expect(v, cmd, line, len, 5000);
}

void sysv_glibc(struct side *s)
{
    struct proc v, a;
    char line[LAB_LINE];
    int id;
    if (start_victim(&v, s, "kernel", "plain", &id) < 0)
        return;
    char ids[32];
    snprintf(ids, sizeof ids, "%d", id);
    if (proc_start(&a, WHO_LAB, 0, "sysv-attacker", ids, "allowed", NULL) < 0) {
        s_error(s, "cannot start the attacker");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    relay(&a, s, log_mark(), 20000); /* SETVAL */
    ask(&v, "second", line, sizeof line);
    int entered = strcmp(line, "second entered") == 0;
    s_check(s, entered, "a second worker took the mutex while the first held it (%s)", line);
    other_uid(s, id, 0);
    proc_cmd(&a, "go");
    relay(&a, s, log_mark(), 20000); /* post, IPC_RMID */
    proc_end(&a);
    ask(&v, "alive", line, sizeof line);
    int gone = strncmp(line, "alive yes", 9) != 0;
    s_check(s, gone, "the server's set is gone after the same-uid IPC_RMID (%s)", line);
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    s_summary(s, "an unrelated same-uid process released the held accept mutex with SETVAL (a "
                 "second worker %s) and removed the set with IPC_RMID; another uid was refused "
                 "by the mode bits",
              entered ? "got in" : "did not get in");
}

static void sysv_variant(struct side *s, const char *variant, int *held)
{
    struct proc v, a;
    char line[LAB_LINE];
    int id;
    if (start_victim(&v, s, "esem", variant, &id) < 0)
        return;
    s_check(s, kernel_lists(id) == 0, "%s: the kernel's table does not hold set %d", variant, id);
    char ids[32];
    snprintf(ids, sizeof ids, "%d", id);
    size_t mark = log_mark();
    if (proc_start(&a, WHO_LAB, 1, "sysv-attacker", ids, "refused", NULL) == 0) {
        relay(&a, s, mark, 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    other_uid(s, id, 1);
    ask(&v, "second", line, sizeof line);
    int ok = strcmp(line, "second EAGAIN") == 0;
    s_check(s, ok, "%s: a second worker still finds the mutex taken (%s)", variant, line);
    ask(&v, "alive", line, sizeof line);
    int alive = strcmp(line, "alive yes 0") == 0;
    s_check(s, alive, "%s: the set is intact, value 0 (held) (%s)", variant, line);
    *held += ok && alive;
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
}

void sysv_esem(struct side *s)
{
    int held = 0;
    sysv_variant(s, "strict", &held);
    sysv_variant(s, "acl", &held);
    s_summary(s, "SETVAL and post refused EACCES, IPC_RMID EPERM (audited) for the same uid, in "
                 "both variants (ESEM_O_STRICT; an access list that excludes the uid): the "
                 "mutex stayed held in %d of 2; another uid refused by the mode bits; the "
                 "kernel's table never saw the sets",
              held);
}
