/*
 * Attack 2, other-uid: a process of another uid (65534) goes after a
 * victim's semaphores.
 *
 *   /…-600: created 0600 by the victim.  glibc refuses the other uid too (the
 *           file's mode, /dev/shm's sticky bit): that part is the same on
 *           both.  esem: open EACCES, unlink EACCES, and the victim's handle
 *           (assume it leaked) used from the attacker's own session EINVAL —
 *           each with an audit line; the value is untouched.
 *   /…-666: created 0666 by a program with umask 0, so the other uid may
 *           open it (POSIX, both).  glibc: the other uid writes the value
 *           word of the file: 1000 permits with no sem_post, nothing counts
 *           or attributes them.  esem: the only way in is esem_post, one
 *           counted permit per call from an identified session (value ==
 *           posts - waits; esemctl show lists the poster as a holder).
 */
#include "lab.h"

#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "esem.h"
#include "proto.h"

/* uid-victim BACKEND NAME600 NAME666 */
int role_uid_victim(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[1]);
    umask(0);
    void *a = ops->open(argv[2], O_CREAT | O_EXCL, 0600, 0);
    void *b = ops->open(argv[3], O_CREAT | O_EXCL, 0666, 0);
    if (!a || !b) {
        say("error open: %s", errname(errno));
        return 1;
    }
    say("ready");
    char cmd[128];
    while (hear(cmd, sizeof cmd, 60000) == 0) {
        if (strcmp(cmd, "values") == 0) {
            int va = -1, vb = -1;
            ops->getvalue(a, &va);
            ops->getvalue(b, &vb);
            say("values %d %d", va, vb);
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    ops->close(a);
    ops->close(b);
    ops->unlink(argv[2]);
    ops->unlink(argv[3]);
    say("done");
    return 0;
}

static void raw_with_leaked(uint64_t h, const char *name)
{
    struct rawc rc;
    int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), 0);
    if (r != 0) {
        say("ERR raw connect as uid %u: %s", (unsigned)getuid(), errname(r < 0 ? -r : r));
        return;
    }
    static const struct {
        uint32_t op;
        const char *w;
    } ops[] = {{ESEM_OP_POST, "post"},     {ESEM_OP_TRYWAIT, "trywait"}, {ESEM_OP_WAIT, "wait"},
               {ESEM_OP_GETVALUE, "getvalue"}, {ESEM_OP_CLOSE, "close"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int st = rawc_op(&rc, ops[i].op, h, NULL, 0, 0, 0, NULL, NULL, 500);
        if (st == EINVAL) {
            say("OK %s on %s through the leaked handle %#llx (attacker's own session): EINVAL",
                ops[i].w, name, (unsigned long long)h);
            say("AUDIT %d %s", (int)getpid(), ops[i].w);
        } else {
            say("FAIL %s on %s through the leaked handle %#llx: %s", ops[i].w, name,
                (unsigned long long)h,
                st == 0 ? "ACCEPTED" : st == -ETIMEDOUT ? "queued (accepted)" : errname(st < 0 ? -st : st));
        }
    }
    rawc_close(&rc);
}

/* uid-attacker BACKEND NAME600 NAME666 HANDLE600 */
int role_uid_attacker(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    int esem = strcmp(argv[1], "esem") == 0;
    const char *n600 = argv[2], *n666 = argv[3];
    uint64_t h600 = strtoull(argv[4], NULL, 0);
    unsigned me = (unsigned)getuid();
    if (!esem) {
        sem_t *s = sem_open(n600, 0);
        if (s != SEM_FAILED) {
            say("FAIL uid %u opened the 0600 %s", me, n600);
            sem_close(s);
        } else {
            say("%s sem_open(%s) as uid %u: %s (glibc refuses too: the file's mode)",
                errno == EACCES ? "OK" : "FAIL", n600, me, errname(errno));
        }
        int r = sem_unlink(n600);
        say("%s sem_unlink(%s) as uid %u: %s (glibc refuses too: /dev/shm is sticky)",
            r < 0 && errno == EACCES ? "OK" : "FAIL", n600, me, r == 0 ? "removed" : errname(errno));
        char path[512];
        snprintf(path, sizeof path, "/dev/shm/sem.%s", n666 + 1);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        char *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (fd >= 0)
            close(fd);
        if (m == MAP_FAILED) {
            say("FAIL cannot map %s as uid %u: %s", path, me, errname(errno));
        } else {
            glibc_sem_forge_post(m, 1000);
            say("OK uid %u wrote 1000 permits into the value word of %s: no sem_post, nothing "
                "counted or attributed",
                me, path);
            munmap(m, 4096);
        }
        say("DONE");
        return 0;
    }
    esem_t *s = esem_open(n600, 0, 0, 0);
    if (s) {
        say("FAIL uid %u opened the 0600 %s", me, n600);
        esem_close(s);
    } else {
        say("%s esem_open(%s) as uid %u: %s", errno == EACCES ? "OK" : "FAIL", n600, me,
            errname(errno));
    }
    s = esem_open(n600, O_CREAT, 0666, 5);
    if (s) {
        say("FAIL uid %u opened the 0600 %s with O_CREAT", me, n600);
        esem_close(s);
    } else {
        say("%s esem_open(%s, O_CREAT, 0666, 5) as uid %u: %s", errno == EACCES ? "OK" : "FAIL",
            n600, me, errname(errno));
    }
    say("AUDIT %d open", (int)getpid());
    int r = esem_unlink(n600);
    say("%s esem_unlink(%s) as uid %u (not the owner): %s", r < 0 && errno == EACCES ? "OK" : "FAIL",
        n600, me, r == 0 ? "removed" : errname(errno));
    if (r < 0 && errno == EACCES)
        say("AUDIT %d unlink", (int)getpid());
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/sem.%s", n600 + 1);
    say("%s no /dev/shm file for %s to write (%s)", access(path, F_OK) < 0 ? "OK" : "FAIL", n600,
        path);
    raw_with_leaked(h600, n600);
    /* the 0666 one: POSIX lets this uid open it; permits only by counted posts */
    s = esem_open(n666, 0, 0, 0);
    if (!s) {
        say("NOTE esem_open(%s) (0666) as uid %u: %s", n666, me, errname(errno));
    } else {
        int posted = 0;
        for (int i = 0; i < 3; i++)
            posted += esem_post(s) == 0;
        say("NOTE uid %u opened the 0666 %s (POSIX mode rules) and made %d esem_post calls: the "
            "only way to add a permit",
            me, n666, posted);
        esem_close(s);
    }
    say("DONE");
    return 0;
}

void uid_glibc(struct side *s)
{
    char n600[128], n666[128];
    lab_name(n600, sizeof n600, "uid-600");
    lab_name(n666, sizeof n666, "uid-666");
    struct proc v, a;
    char line[LAB_LINE];
    if (proc_start(&v, WHO_LAB, 0, "uid-victim", "glibc", n600, n666, NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    if (proc_start(&a, WHO_OTHER, 0, "uid-attacker", "glibc", n600, n666, "0", NULL) == 0) {
        relay(&a, s, log_mark(), 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    int v600 = -1, v666 = -1;
    proc_cmd(&v, "values");
    if (proc_expect(&v, "values", line, sizeof line, 5000) == 0)
        sscanf(line, "values %d %d", &v600, &v666);
    s_check(s, v600 == 0, "the 0600 semaphore kept its value (%d): same as esem", v600);
    s_check(s, v666 == 1000, "the victim's sem_getvalue of the 0666 semaphore: %d, with no "
                             "sem_post by anyone",
            v666);
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    s_summary(s, "0600: other uid refused open/unlink (same as esem). 0666: other uid set the "
                 "value to %d by writing the file, no sem_post (nothing to count or audit)",
              v666);
}

void uid_esem(struct side *s)
{
    char n600[128], n666[128];
    lab_name(n600, sizeof n600, "uid-600");
    lab_name(n666, sizeof n666, "uid-666");
    struct proc v, a;
    char line[LAB_LINE];
    if (proc_start(&v, WHO_LAB, 0, "uid-victim", "esem", n600, n666, NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    struct sem_info_lite i600, i666;
    if (admin_find_name(lab.sock, n600, &i600) < 0 || admin_find_name(lab.sock, n666, &i666) < 0) {
        s_error(s, "esemctl show did not find the victim's semaphores");
        proc_cmd(&v, "end");
        proc_end(&v);
        return;
    }
    s_note(s, "victim uid %u holds %s (mode %04o, handle %#llx) and %s (mode %04o)",
           (unsigned)lab.lab_uid, n600, i600.mode, (unsigned long long)i600.handle, n666, i666.mode);
    char hs[32];
    snprintf(hs, sizeof hs, "%#llx", (unsigned long long)i600.handle);
    audit_window();
    size_t mark = log_mark();
    int posted = 0;
    if (proc_start(&a, WHO_OTHER, 0, "uid-attacker", "esem", n600, n666, hs, NULL) == 0) {
        relay(&a, s, mark, 20000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    /* the attacker's note says how many esem_post calls it made */
    for (int k = 0; k < s->nsteps; k++) {
        const char *m = strstr(s->steps[k], " and made ");
        if (m)
            sscanf(m, " and made %d", &posted);
    }
    int v600 = -1, v666 = -1;
    proc_cmd(&v, "values");
    if (proc_expect(&v, "values", line, sizeof line, 5000) == 0)
        sscanf(line, "values %d %d", &v600, &v666);
    struct sem_info_lite j600, j666;
    int f600 = admin_find_name(lab.sock, n600, &j600) == 0;
    int f666 = admin_find_name(lab.sock, n666, &j666) == 0;
    s_check(s, v600 == 0 && f600 && j600.posts == 0 && j600.opens == 1,
            "%s is untouched: value %d, still linked, %llu posts, %u open(s) (the victim's)", n600,
            v600, f600 ? (unsigned long long)j600.posts : 0ull, f600 ? j600.opens : 0);
    s_check(s, f666 && (int)j666.posts == posted && v666 == posted &&
                   (uint64_t)v666 == j666.posts - j666.waits,
            "%s: value %d == %llu counted esem_post calls (the other uid's %d) - %llu waits: no "
            "permit without a post",
            n666, v666, f666 ? (unsigned long long)j666.posts : 0ull, posted,
            f666 ? (unsigned long long)j666.waits : 0ull);
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    s_summary(s, "0600: open EACCES, unlink EACCES, leaked handle post/trywait/wait/getvalue/close "
                 "EINVAL, all audited; value untouched. 0666: the other uid may open (POSIX) but "
                 "adds permits only by counted esem_post (%d posts, value %d)",
              posted, v666);
}
