/*
 * Attack 3, pid-reuse: a client holding semaphores dies; an attacker process
 * gets the same PID (as root through /proc/sys/kernel/ns_last_pid, else by
 * forking until the PID counter comes around — what an unprivileged
 * attacker does) and uses the dead client's semaphores.
 *
 * glibc: there is no identity at all.  Whoever can reach the memory posts:
 * the process with the dead holder's PID (any process would do) opens the
 * named semaphore and posts, and posts the sem_t in the holder's segment.
 *
 * esem: the process with the dead client's PID, and a child of it (whose
 * parent PID is the dead client's PID, as an inheriting child's would be),
 * claim inheritance of the dead client's session with a raw hello
 * (inherit_session set; the session guessed from the daemon's session-slot
 * reuse plus the first few ids); the daemon checks the parent is the same
 * live process (pidfd + start time) and refuses with EPERM.  They use the
 * dead client's handles through their own sessions (EINVAL) and through the
 * API with a byte copy of its esem_t (EINVAL).  It does NOT stop a same-uid
 * process from opening the named semaphore by name afresh (POSIX mode rules).
 */
#include "lab.h"

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"
#include "proto.h"

/* pid-victim BACKEND NAME SEGPATH */
int role_pid_victim(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int esem = strcmp(argv[1], "esem") == 0;
    const char *name = argv[2], *seg = argv[3];
    if (!esem) {
        sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
        int fd = open(seg, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (s == SEM_FAILED || fd < 0 || ftruncate(fd, 4096) < 0) {
            say("error %s", errname(errno));
            return 1;
        }
        sem_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED || sem_init(m, 1, 0) < 0) {
            say("error %s", errname(errno));
            return 1;
        }
        say("ready pid=%d", (int)getpid());
    } else {
        esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
        esem_t *a = esem_create(0);
        if (!s || !a) {
            say("error %s", errname(errno));
            return 1;
        }
        const struct handle_bytes *hs = (const void *)s, *ha = (const void *)a;
        say("ready pid=%d named=%#llx:%#x anon=%#llx:%#x", (int)getpid(),
            (unsigned long long)hs->handle, hs->tag, (unsigned long long)ha->handle, ha->tag);
    }
    char cmd[64];
    while (hear(cmd, sizeof cmd, 60000) == 0)
        ;
    return 0;
}

static int claim(uint64_t sess, int *nref, int *nbad, uint64_t named)
{
    struct rawc rc;
    int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), sess);
    (*nref)++;
    if (r == 0) {
        (*nbad)++;
        int st = rawc_op(&rc, ESEM_OP_POST, named, NULL, 0, 0, 0, NULL, NULL, 500);
        say("FAIL pid %d (ppid %d) inherited session %#llx; a post of the dead client's named "
            "semaphore through it: %s",
            (int)getpid(), (int)getppid(), (unsigned long long)sess, st == 0 ? "ACCEPTED" : errname(st > 0 ? st : -st));
        rawc_close(&rc);
    } else if (r != EPERM) {
        (*nbad)++;
        say("FAIL claiming session %#llx: %s (want EPERM)", (unsigned long long)sess,
            errname(r < 0 ? -r : r));
    }
    return r;
}

/* The sessions worth claiming: the slot this attacker's own session got
 * (esemd reuses the most recently freed slot, with the next generation)
 * with every earlier generation, and the first few ids. */
static int candidates(uint64_t *out, int max)
{
    int n = 0;
    struct rawc rc;
    if (rawc_connect(&rc, getenv("ESEM_SOCKET"), 0) == 0) {
        uint64_t idx = rc.session & 0xffffffffull, gen = rc.session >> 32;
        say("NOTE own session %#llx: the dead client's was most likely slot %llu, an earlier "
            "generation",
            (unsigned long long)rc.session, (unsigned long long)idx);
        for (uint64_t g = gen > 4 ? gen - 4 : 1; g < gen && n < max; g++)
            out[n++] = g << 32 | idx;
        rawc_close(&rc);
    }
    for (uint64_t idx = 1; idx <= 4; idx++)
        for (uint64_t g = 1; g <= 2 && n < max; g++) {
            int dup = 0;
            for (int k = 0; k < n; k++)
                dup |= out[k] == (g << 32 | idx);
            if (!dup)
                out[n++] = g << 32 | idx;
        }
    return n;
}

/* pid-attacker BACKEND NAME SEGPATH WANTPID [NAMED_H NAMED_TAG ANON_H ANON_TAG] */
int role_pid_attacker(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    int esem = strcmp(argv[1], "esem") == 0;
    const char *name = argv[2], *seg = argv[3];
    pid_t want = (pid_t)atoi(argv[4]);
    say("%s running with pid %d (the dead client's: %d), uid %u",
        getpid() == want ? "NOTE" : "ERR", (int)getpid(), (int)want, (unsigned)getuid());
    if (!esem) {
        sem_t *s = sem_open(name, 0);
        if (s == SEM_FAILED) {
            say("FAIL sem_open(%s): %s", name, errname(errno));
        } else {
            int r = sem_post(s);
            say("%s sem_post on the dead holder's %s from another process (it has the dead "
                "holder's pid; any process of the uid would do): %s",
                r == 0 ? "OK" : "FAIL", name, r == 0 ? "posted" : errname(errno));
            sem_close(s);
        }
        int fd = open(seg, O_RDWR | O_CLOEXEC);
        sem_t *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (fd >= 0)
            close(fd);
        if (m == MAP_FAILED) {
            say("FAIL map %s: %s", seg, errname(errno));
        } else {
            int r = sem_post(m);
            say("%s sem_post on the sem_t in the dead holder's segment: %s", r == 0 ? "OK" : "FAIL",
                r == 0 ? "posted" : errname(errno));
        }
        say("DONE");
        return 0;
    }
    if (argc < 9)
        return 2;
    struct handle_bytes named = {0x6553454du, (uint32_t)strtoul(argv[6], NULL, 0),
                                 strtoull(argv[5], NULL, 0)};
    struct handle_bytes anon = {0x6553454du, (uint32_t)strtoul(argv[8], NULL, 0),
                                strtoull(argv[7], NULL, 0)};
    uint64_t cand[12];
    int nc = candidates(cand, 12);

    /* a child of the process that has the dead client's pid: its ppid is
     * what esemd compares against the parent session's pid */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int nref = 0, nbad = 0;
        for (int i = 0; i < nc; i++)
            claim(cand[i], &nref, &nbad, named.handle);
        say("%s child %d of pid %d (its ppid = the dead client's pid) claimed %d sessions' "
            "inheritance: %d not refused with EPERM",
            nbad ? "FAIL" : "OK", (int)getpid(), (int)getppid(), nref, nbad);
        say("AUDIT %d inherit", (int)getpid());
        say("AUDIT %d connection", (int)getpid());
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    int nref = 0, nbad = 0;
    for (int i = 0; i < nc && i < 2; i++)
        claim(cand[i], &nref, &nbad, named.handle);
    say("%s pid %d itself claimed %d sessions' inheritance: %d not refused with EPERM",
        nbad ? "FAIL" : "OK", (int)getpid(), nref, nbad);
    say("AUDIT %d inherit", (int)getpid());

    struct rawc rc;
    int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), 0);
    if (r != 0) {
        say("ERR raw connect: %s", errname(r < 0 ? -r : r));
    } else {
        const struct handle_bytes *hb[2] = {&named, &anon};
        const char *what[2] = {"named", "anonymous"};
        for (int k = 0; k < 2; k++) {
            static const struct {
                uint32_t op;
                const char *w;
            } ops[] = {{ESEM_OP_POST, "post"}, {ESEM_OP_TRYWAIT, "trywait"},
                       {ESEM_OP_GETVALUE, "getvalue"}};
            for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
                int s2 = rawc_op(&rc, ops[i].op, hb[k]->handle, NULL, 0, 0, 0, NULL, NULL, 500);
                if (s2 == EINVAL) {
                    say("OK raw %s with the dead client's %s handle %#llx from the pid-reuser's "
                        "own session: EINVAL",
                        ops[i].w, what[k], (unsigned long long)hb[k]->handle);
                    say("AUDIT %d %s", (int)getpid(), ops[i].w);
                } else {
                    say("FAIL raw %s with the dead client's %s handle: %s", ops[i].w, what[k],
                        s2 == 0 ? "ACCEPTED" : errname(s2 > 0 ? s2 : -s2));
                }
            }
            struct {
                struct handle_bytes h;
                uint8_t rest[32];
            } fake;
            memset(&fake, 0, sizeof fake);
            fake.h = *hb[k];
            int p = esem_post((esem_t *)&fake);
            say("%s esem_post on a byte copy of the dead client's %s esem_t: %s",
                p < 0 && errno == EINVAL ? "OK" : "FAIL", what[k], p == 0 ? "ACCEPTED" : errname(errno));
        }
        rawc_close(&rc);
    }
    say("DONE");
    return 0;
}

static void run(struct side *s, int esem)
{
    char name[128], seg[256];
    lab_name(name, sizeof name, "pid");
    snprintf(seg, sizeof seg, "/dev/shm%s-seg", name);
    struct proc v, a;
    char line[LAB_LINE];
    const char *backend = esem ? "esem" : "glibc";
    if (esem)
        audit_window();
    if (proc_start(&v, WHO_LAB, 0, "pid-victim", backend, name, seg, NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        unlink(seg);
        return;
    }
    int vpid = 0;
    char hn[40] = "0", tn[20] = "0", ha[40] = "0", ta[20] = "0";
    if (esem)
        sscanf(line, "ready pid=%d named=%39[^:]:%19s anon=%39[^:]:%19s", &vpid, hn, tn, ha, ta);
    else
        sscanf(line, "ready pid=%d", &vpid);
    s_note(s, "client %d holds %s and %s; killed with SIGKILL", vpid, name,
           esem ? "an anonymous semaphore" : "a sem_t in its segment");
    size_t mark = log_mark();
    proc_kill(&v);
    proc_reap(&v, 5000);
    proc_end(&v);
    char wants[16];
    snprintf(wants, sizeof wants, "%d", vpid);
    char *args[10] = {(char *)backend, name, seg, wants, hn, tn, ha, ta, NULL};
    char method[160];
    if (proc_start_at_pid(&a, vpid, WHO_LAB, "pid-attacker", args, method, sizeof method) < 0) {
        s_error(s, "no process with pid %d: %s", vpid, method);
        unlink(seg);
        return;
    }
    char ended[64];
    snprintf(ended, sizeof ended, "session end pid=%d ", vpid);
    s_note(s, "attacker got pid %d by %s%s", vpid, method,
           !esem ? ""
           : log_count(mark, ended) > 0 ? "; esemd had already ended the dead client's session"
                                        : "; esemd had not yet logged the dead client's session end");
    relay(&a, s, mark, 30000);
    proc_end(&a);
    if (!esem) {
        char p[512];
        snprintf(p, sizeof p, "/dev/shm/sem.%s", name + 1);
        uint32_t vn = 0, vs = 0;
        glibc_file_sem(p, 0, &vn, NULL);
        glibc_file_sem(seg, 0, &vs, NULL);
        s_check(s, vn == 1 && vs == 1, "values after the dead holder's successor posted: named %u, "
                                       "segment %u",
                vn, vs);
        unlink(p);
        s_summary(s, "no identity: a process that is not the holder (here with its pid) posted the "
                     "dead holder's named semaphore and its sem_t (values now %u and %u)",
                  vn, vs);
    } else {
        struct sem_info_lite i;
        int f = admin_find_name(lab.sock, name, &i) == 0;
        s_check(s, f && i.value == 0 && i.posts == 0 && i.opens == 0,
                "%s after the attack: value %u, %llu posts, %u opens (nobody inherited it)", name,
                f ? i.value : 0, f ? (unsigned long long)i.posts : 0ull, f ? i.opens : 0);
        struct sem_info_lite j;
        uint64_t hanon = strtoull(ha, NULL, 0);
        s_note(s, "the dead client's anonymous semaphore %#llx: %s", (unsigned long long)hanon,
               admin_find_handle(lab.sock, hanon, &j) == 0 ? "still exists" : "gone with its last open");
        /* remove the name (the victim is dead): a helper of the owner's uid */
        struct proc u;
        if (proc_start(&u, WHO_LAB, 0, "kill-part", "esem", "unlink", name, NULL) == 0) {
            proc_expect(&u, "done", line, sizeof line, 5000);
            proc_end(&u);
        }
        s_summary(s, "inheritance claims by the pid-reuser and its child (ppid = dead pid): EPERM "
                     "+ audit; the dead client's handles from their own sessions: EINVAL + audit; "
                     "byte copies of its esem_t: EINVAL; semaphore untouched");
    }
    unlink(seg);
}

void pid_glibc(struct side *s)
{
    run(s, 0);
}

void pid_esem(struct side *s)
{
    run(s, 1);
}
