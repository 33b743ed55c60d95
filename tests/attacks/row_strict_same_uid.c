/*
 * Attack strict-same-uid (TM-host): "unauthorised open/post/wait/unlink by
 * another uid, and by the same uid under a strict policy".
 *
 * A victim (uid 64000) creates a semaphore of value 1, mode 0600.  An
 * unrelated process of the SAME uid (exec'd on its own, not forked from the
 * victim) goes after it.
 *
 *   glibc: the same-uid process sem_open()s /dev/shm/sem.NAME, posts and
 *          unlinks it: mode bits are all there is, and they let the same
 *          uid do everything (the weakness).
 *   esem:  two variants — the lab's esemd with esem_open(O_CREAT |
 *          ESEM_O_STRICT), and a second esemd started with --policy=strict
 *          where a plain O_CREAT gives a strict semaphore.  Each time:
 *            1. no rights: open, open(O_CREAT) and unlink EACCES, the
 *               victim's handle (assumed leaked) through a raw client
 *               EINVAL (never opened); root (a second attacker) gets
 *               EACCES too; every refusal audited;
 *            2. owner grants OPEN to the attacker's process (ESEM_P_PROC):
 *               it opens; post, trywait, timedwait EACCES, unlink EACCES,
 *               esem_grant/esem_revoke to itself EPERM;
 *            3. owner grants POST too: post works (one counted permit);
 *               wait and unlink still EACCES;
 *            4. owner revokes POST: the next post through the handle it
 *               already holds EACCES.
 *          Afterwards the core's counters: value 2 == 1 + the one granted
 *          post, no wait, still linked, only the victim holds it.
 */
#include "lab.h"

#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "esem.h"
#include "proto.h"

/* strict-victim BACKEND NAME STRICT(0/1) */
int role_strict_victim(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int esem = strcmp(argv[1], "esem") == 0;
    const char *name = argv[2];
    int strict = atoi(argv[3]);
    void *s;
    if (esem)
        s = esem_open(name, O_CREAT | O_EXCL | (strict ? ESEM_O_STRICT : 0), 0600, 1);
    else
        s = nsem_backend("glibc")->open(name, O_CREAT | O_EXCL, 0600, 1);
    if (!s) {
        say("error open: %s", errname(errno));
        return 1;
    }
    say("ready");
    char cmd[128];
    while (hear(cmd, sizeof cmd, 80000) == 0) {
        unsigned pid, rights;
        if (esem && sscanf(cmd, "grant %u %u", &pid, &rights) == 2) {
            struct esem_principal p = {.kind = ESEM_P_PROC, .id = pid};
            int r = esem_grant(s, &p, rights);
            say("granted %s", r == 0 ? "0" : errname(errno));
        } else if (esem && sscanf(cmd, "revoke %u %u", &pid, &rights) == 2) {
            struct esem_principal p = {.kind = ESEM_P_PROC, .id = pid};
            int r = esem_revoke(s, &p, rights);
            say("revoked %s", r == 0 ? "0" : errname(errno));
        } else if (strcmp(cmd, "value") == 0) {
            int v = -1;
            if (esem)
                esem_getvalue(s, &v);
            else
                sem_getvalue(s, &v);
            say("value %d", v);
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    if (esem) {
        esem_close(s);
        esem_unlink(name);
    } else {
        sem_close(s);
        sem_unlink(name); /* may be gone already: the attacker unlinked it */
    }
    say("done");
    return 0;
}

static void expect_err(int r, int want, const char *what, const char *name, const char *audit)
{
    int e = r < 0 ? errno : 0;
    if (r < 0 && e == want) {
        say("OK %s on strict %s by uid %u pid %d: %s", what, name, (unsigned)getuid(),
            (int)getpid(), errname(e));
        if (audit)
            say("AUDIT %d %s", (int)getpid(), audit);
    } else {
        say("FAIL %s on strict %s by uid %u pid %d: %s (want %s)", what, name,
            (unsigned)getuid(), (int)getpid(), r == 0 ? "ALLOWED" : errname(e), errname(want));
    }
}

static int timedwait_ms(esem_t *s, long ms)
{
    struct timespec d = deadline_in(ms);
    return esem_timedwait(s, &d);
}

/* strict-attacker BACKEND NAME HANDLE MODE(full|deny) */
int role_strict_attacker(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    const char *name = argv[2];
    uint64_t h = strtoull(argv[3], NULL, 0);
    int full = strcmp(argv[4], "full") == 0;
    if (strcmp(argv[1], "glibc") == 0) {
        sem_t *s = sem_open(name, 0);
        if (s == SEM_FAILED) {
            say("FAIL same-uid sem_open(%s): %s", name, errname(errno));
            say("DONE");
            return 0;
        }
        say("OK an unrelated process of the same uid (pid %d) opened %s (/dev/shm/sem.%s, mode "
            "0600)",
            (int)getpid(), name, name + 1);
        say("%s it posted it: %s", sem_post(s) == 0 ? "OK" : "FAIL", errname(errno));
        int r = sem_unlink(name);
        say("%s it unlinked it: %s", r == 0 ? "OK" : "FAIL", r == 0 ? "removed" : errname(errno));
        sem_close(s);
        say("DONE");
        return 0;
    }
    /* phase 1: no rights at all */
    esem_t *s = esem_open(name, 0, 0, 0);
    expect_err(s ? 0 : -1, EACCES, "esem_open", name, "open");
    if (s)
        esem_close(s);
    s = esem_open(name, O_CREAT, 0600, 5);
    expect_err(s ? 0 : -1, EACCES, "esem_open(O_CREAT)", name, "open");
    if (s)
        esem_close(s);
    expect_err(esem_unlink(name), EACCES, "esem_unlink", name, "unlink");
    struct rawc rc;
    int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), 0);
    if (r != 0) {
        say("ERR raw connect: %s", errname(r < 0 ? -r : r));
    } else {
        static const struct {
            uint32_t op;
            const char *w;
        } ops[] = {{ESEM_OP_POST, "post"}, {ESEM_OP_TRYWAIT, "trywait"}, {ESEM_OP_WAIT, "wait"}};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            int st = rawc_op(&rc, ops[i].op, h, NULL, 0, 0, 0, NULL, NULL, 500);
            if (st == EINVAL || st == EACCES) {
                say("OK raw %s with the victim's handle %#llx (never opened): %s", ops[i].w,
                    (unsigned long long)h, errname(st));
                say("AUDIT %d %s", (int)getpid(), ops[i].w);
            } else {
                say("FAIL raw %s with the victim's handle %#llx: %s", ops[i].w,
                    (unsigned long long)h,
                    st == 0 ? "ACCEPTED" : st == -ETIMEDOUT ? "queued" : errname(st < 0 ? -st : st));
            }
        }
        rawc_close(&rc);
    }
    say("DONE");
    if (!full)
        return 0;

    char cmd[64];
    s = NULL;
    while (hear(cmd, sizeof cmd, 60000) == 0) {
        if (strcmp(cmd, "phase2") == 0) { /* the owner granted OPEN */
            s = esem_open(name, 0, 0, 0);
            if (!s) {
                say("FAIL esem_open after the owner granted OPEN to pid %d: %s", (int)getpid(),
                    errname(errno));
                say("DONE");
                continue;
            }
            say("OK esem_open after the owner granted OPEN to this process (ESEM_P_PROC)");
            expect_err(esem_post(s), EACCES, "esem_post (OPEN only)", name, "post");
            expect_err(esem_trywait(s), EACCES, "esem_trywait (OPEN only)", name, "trywait");
            expect_err(timedwait_ms(s, 200), EACCES, "esem_timedwait (OPEN only)", name, NULL);
            expect_err(esem_unlink(name), EACCES, "esem_unlink (OPEN only)", name, "unlink");
            struct esem_principal me = {.kind = ESEM_P_PROC, .id = (uint32_t)getpid()};
            struct esem_principal uid = {.kind = ESEM_P_UID, .id = (uint32_t)getuid()};
            expect_err(esem_grant(s, &me, ESEM_R_ALL), EPERM, "esem_grant(ALL) to itself", name,
                       "grant");
            expect_err(esem_grant(s, &uid, ESEM_R_ALL), EPERM, "esem_grant(ALL) to its uid",
                       name, "grant");
            expect_err(esem_revoke(s, &me, ESEM_R_OPEN), EPERM, "esem_revoke", name, "revoke");
            say("DONE");
        } else if (strcmp(cmd, "phase3") == 0 && s) { /* OPEN|POST */
            int pr = esem_post(s);
            say("%s esem_post after the owner granted POST: %s", pr == 0 ? "OK" : "FAIL",
                pr == 0 ? "posted (one counted permit)" : errname(errno));
            expect_err(esem_trywait(s), EACCES, "esem_trywait (OPEN|POST)", name, "trywait");
            expect_err(timedwait_ms(s, 200), EACCES, "esem_timedwait (OPEN|POST)", name, NULL);
            expect_err(esem_unlink(name), EACCES, "esem_unlink (OPEN|POST)", name, "unlink");
            say("DONE");
        } else if (strcmp(cmd, "phase4") == 0 && s) { /* POST revoked */
            expect_err(esem_post(s), EACCES, "esem_post through the handle already open, after "
                                             "the owner revoked POST",
                       name, "post");
            say("DONE");
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    if (s)
        esem_close(s);
    return 0;
}

void strict_glibc(struct side *s)
{
    char name[128];
    lab_name(name, sizeof name, "strict");
    struct proc v, a;
    char line[LAB_LINE];
    if (proc_start(&v, WHO_LAB, 0, "strict-victim", "glibc", name, "0", NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    if (proc_start(&a, WHO_LAB, 0, "strict-attacker", "glibc", name, "0", "full", NULL) == 0) {
        relay(&a, s, log_mark(), 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    int val = -1;
    proc_cmd(&v, "value");
    if (proc_expect(&v, "value", line, sizeof line, 5000) == 0)
        sscanf(line, "value %d", &val);
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
    int gone = access(path, F_OK) < 0;
    s_check(s, val == 2, "the victim's sem_getvalue: %d (1 + the same-uid process's post)", val);
    s_check(s, gone, "%s was removed by the same-uid process", path);
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    s_summary(s, "an unrelated same-uid process opened the 0600 semaphore, posted it (value now "
                 "%d) and unlinked it: nothing but the mode bits, and there is no stricter "
                 "policy to ask for",
              val);
}

/* One esem variant: the semaphore is strict either by ESEM_O_STRICT or by
 * the daemon's --policy=strict.  Returns 1 if every step ran. */
static int strict_variant(struct side *s, const char *tag, int flag_strict, int *value_out)
{
    char name[128], what[64];
    snprintf(what, sizeof what, "strict-%s", flag_strict ? "flag" : "policy");
    lab_name(name, sizeof name, what);
    struct proc v, a, root;
    char line[LAB_LINE];
    if (proc_start(&v, WHO_LAB, 0, "strict-victim", "esem", name, flag_strict ? "1" : "0",
                   NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "%s: victim did not start", tag);
        proc_kill(&v);
        proc_end(&v);
        return 0;
    }
    struct sem_info_lite inf;
    if (admin_find_name(lab.sock, name, &inf) < 0) {
        s_error(s, "%s: esemctl show did not find %s", tag, name);
        proc_cmd(&v, "end");
        proc_end(&v);
        return 0;
    }
    s_check(s, (inf.flags & CORE_SEMF_STRICT) != 0,
            "%s: %s is strict (flags %#x) — created by %s", tag, name, inf.flags,
            flag_strict ? "esem_open(O_CREAT|ESEM_O_STRICT)" : "a plain O_CREAT under esemd "
                                                               "--policy=strict");
    char hs[32];
    snprintf(hs, sizeof hs, "%#llx", (unsigned long long)inf.handle);
    audit_window();
    size_t mark = log_mark();
    if (proc_start(&a, WHO_LAB, 0, "strict-attacker", "esem", name, hs, "full", NULL) < 0) {
        s_error(s, "%s: cannot start the attacker", tag);
        proc_cmd(&v, "end");
        proc_end(&v);
        return 0;
    }
    s_note(s, "%s: attacker pid %d, uid %u (the victim's uid), not forked from the victim", tag,
           (int)a.pid, (unsigned)lab.lab_uid);
    relay(&a, s, mark, 20000);
    if (proc_start(&root, WHO_ROOT, 0, "strict-attacker", "esem", name, hs, "deny", NULL) == 0) {
        s_note(s, "%s: a second attacker runs as root (pid %d)", tag, (int)root.pid);
        relay(&root, s, mark, 20000);
        proc_end(&root);
    } else {
        s_error(s, "%s: cannot start the root attacker", tag);
    }
    struct {
        const char *owner, *reply, *phase, *what;
    } steps[] = {
        {"grant %d 1", "granted", "phase2", "grant OPEN"},
        {"grant %d 4", "granted", "phase3", "grant POST"},
        {"revoke %d 4", "revoked", "phase4", "revoke POST"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        proc_cmd(&v, steps[i].owner, (int)a.pid);
        int ok = proc_expect(&v, steps[i].reply, line, sizeof line, 5000) == 0;
        char want[32];
        snprintf(want, sizeof want, "%s 0", steps[i].reply);
        if (!ok || strcmp(line, want) != 0) {
            s_error(s, "%s: the owner's %s to pid %d failed: %s", tag, steps[i].what, (int)a.pid,
                    ok ? line : "no answer");
            break;
        }
        s_note(s, "%s: the owner (the creating process) did %s to pid %d (ESEM_P_PROC)", tag,
               steps[i].what, (int)a.pid);
        audit_window();
        mark = log_mark();
        proc_cmd(&a, "%s", steps[i].phase);
        relay(&a, s, mark, 20000);
    }
    proc_cmd(&a, "end");
    proc_end(&a);
    int val = -1;
    proc_cmd(&v, "value");
    if (proc_expect(&v, "value", line, sizeof line, 5000) == 0)
        sscanf(line, "value %d", &val);
    struct sem_info_lite j;
    int f = admin_find_name(lab.sock, name, &j) == 0;
    s_check(s, f && val == 2 && j.value == 2 && j.posts == 1 && j.waits == 0 && j.opens == 1,
            "%s: %s still linked, value %d (core %u) == 1 + %llu granted post, %llu waits, %u "
            "open(s) (the victim's)",
            tag, name, val, f ? j.value : 0, f ? (unsigned long long)j.posts : 0ull,
            f ? (unsigned long long)j.waits : 0ull, f ? j.opens : 0);
    *value_out = val;
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    return 1;
}

static void policy_variant(struct side *s, void *arg)
{
    strict_variant(s, "--policy=strict", 0, arg);
}

void strict_esem(struct side *s)
{
    int v1 = -1, v2 = -1;
    strict_variant(s, "O_STRICT", 1, &v1);
    /* a second esemd whose default is the strict policy */
    const char *extra[] = {"--policy=strict", NULL};
    lab_with_daemon(s, extra, policy_variant, &v2);
    s_summary(s, "both ESEM_O_STRICT and esemd --policy=strict: a same-uid process (and root) "
                 "got open/open(O_CREAT)/unlink EACCES, raw post/trywait/wait with the leaked "
                 "handle EINVAL, all audited; after grant OPEN: post/trywait/timedwait/unlink "
                 "EACCES, grant/revoke to itself EPERM; after grant POST: post ok, wait/unlink "
                 "EACCES; after revoke: next post on its open handle EACCES; value %d/%d == 1 + "
                 "the 1 granted post",
              v1, v2);
}
