/*
 * Attack 1, view-consistency (the paper's Fig. 1).
 *
 * A producer and a consumer share a buffer guarded by a semaphore of value
 * 0: the consumer must not read the buffer before the producer published
 * it and posted.  An attacker process unrelated to both (exec'd on its own,
 * not forked from them) tries to release the consumer early.
 *
 *   named:   the semaphore is a named one (sem_open / esem_open, 0600).
 *   pshared: the semaphore is a sem_t in a shared segment (a file in
 *            /dev/shm, 0600) next to the data; under esem the victim runs
 *            with the preload shim, so its sem_init'ed sem_t holds a handle.
 *
 * glibc: the attacker writes the value word (of /dev/shm/sem.NAME, or of the
 * sem_t in the segment) and wakes the futex: the consumer reads unpublished
 * data.  esem: the attacker tries what it has — there is no /dev/shm file,
 * a byte copy of the producer's esem_t and random esem_t's through the API,
 * the real handle and random ones through its own raw channel, claiming
 * other sessions' inheritance, the glibc write on the shim's sem_t; as
 * another uid, opening.  It does NOT open the semaphore by name as the same
 * uid and post: POSIX mode rules allow that (0600, same uid), and esem does
 * not claim to stop it.
 */
#include "lab.h"

#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"
#include "proto.h"

#define UNPUBLISHED "UNPUBLISHED"
#define SEG_SIZE 4096
#define DATA_OFF 64

/* ---- the victim: producer + consumer ---- */

/* view-victim MODE BACKEND NAME SEGPATH */
int role_view_victim(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    int pshared = strcmp(argv[1], "pshared") == 0;
    const struct nsem_ops *ops = nsem_backend(argv[2]);
    const char *name = argv[3], *segpath = argv[4];
    int fd = open(segpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, SEG_SIZE) < 0) {
        say("error segment %s: %s", segpath, strerror(errno));
        return 1;
    }
    char *seg = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (seg == MAP_FAILED) {
        say("error mmap: %s", strerror(errno));
        return 1;
    }
    char *data = seg + DATA_OFF;
    strcpy(data, UNPUBLISHED);
    void *s;
    if (pshared) {
        if (sem_init((sem_t *)seg, 1, 0) < 0) {
            say("error sem_init: %s", errname(errno));
            return 1;
        }
        s = seg;
    } else {
        s = ops->open(name, O_CREAT | O_EXCL, 0600, 0);
        if (!s) {
            say("error open %s: %s", name, errname(errno));
            return 1;
        }
    }
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        void *cs = s;
        if (!pshared) {
            /* the consumer opens the name itself */
            cs = ops->open(name, 0, 0, 0);
            if (!cs) {
                say("consumer err open:%s", errname(errno));
                _exit(1);
            }
        }
        struct timespec dl = deadline_in(30000);
        int rc = pshared ? sem_timedwait((sem_t *)cs, &dl) : ops->timedwait(cs, &dl);
        int e = errno;
        if (rc == 0) {
            char copy[64];
            snprintf(copy, sizeof copy, "%s", (const char *)data);
            say("consumer got %s", copy);
        } else {
            say("consumer err %s", errname(e));
        }
        _exit(0);
    }
    say("ready producer=%d consumer=%d sem=%p", (int)getpid(), (int)c, s);
    char cmd[256];
    while (hear(cmd, sizeof cmd, 60000) == 0) {
        if (strcmp(cmd, "publish") == 0) {
            snprintf(data, 64, "PUBLISHED-%d", (int)getpid());
            int rc = pshared ? sem_post((sem_t *)s) : ops->post(s);
            say("posted %s", rc == 0 ? "0" : errname(errno));
        } else if (strcmp(cmd, "kill-consumer") == 0) {
            kill(c, SIGKILL);
            say("killed");
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    long t0 = now_ms();
    while (waitpid(c, NULL, WNOHANG) == 0) {
        if (now_ms() - t0 > 5000) {
            kill(c, SIGKILL);
            waitpid(c, NULL, 0);
            break;
        }
        sleep_ms(5);
    }
    if (!pshared) {
        ops->close(s);
        ops->unlink(name);
    }
    unlink(segpath);
    say("done");
    return 0;
}

/* ---- the attacker ---- */

static int shm_has(const char *stem)
{
    DIR *d = opendir("/dev/shm");
    int found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, stem) && strncmp(e->d_name, "sem.", 4) == 0)
            found = 1;
    if (d)
        closedir(d);
    return found;
}

static int read_mem(pid_t pid, uintptr_t addr, void *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t k = pread(fd, buf, n, (off_t)addr);
    int e = errno;
    close(fd);
    return k == (ssize_t)n ? 0 : -(k < 0 ? e : EIO);
}

/* Forged esem_t's through the public API: a byte copy of the victim's and
 * random ones.  The library checks a tag keyed per process tree. */
static void api_forgeries(const struct handle_bytes *real, const char *what)
{
    struct {
        struct handle_bytes h;
        uint8_t rest[32];
    } fake;
    memset(&fake, 0, sizeof fake);
    fake.h = *real;
    int rc = esem_post((esem_t *)&fake);
    int e = errno;
    if (rc == 0)
        say("FAIL esem_post on a byte copy of %s was accepted", what);
    else
        say("%s esem_post on a byte copy of %s: %s", e == EINVAL ? "OK" : "FAIL", what,
            errname(e));
    int accepted = 0, n = 0;
    for (int i = 0; i < 32; i++) {
        if (getrandom(&fake, sizeof fake, 0) != (ssize_t)sizeof fake)
            break;
        if (i % 2)
            fake.h.magic = 0x6553454du; /* libesem's ESEM_MAGIC */
        if (i % 4 == 1)
            fake.h.handle = real->handle; /* the real handle, a guessed tag */
        n++;
        if (esem_post((esem_t *)&fake) == 0 || errno != EINVAL)
            accepted++;
    }
    say("%s %d forged esem_t's (random, or the real handle with a guessed tag) through esem_post: "
        "%d not refused with EINVAL",
        accepted ? "FAIL" : "OK", n, accepted);
}

static const char *op_word(uint32_t op)
{
    switch (op) {
    case ESEM_OP_POST: return "post";
    case ESEM_OP_WAIT: return "wait";
    case ESEM_OP_TRYWAIT: return "trywait";
    case ESEM_OP_GETVALUE: return "getvalue";
    case ESEM_OP_CLOSE: return "close";
    case ESEM_OP_DESTROY: return "destroy";
    default: return "?";
    }
}

/* The real handle and forged ones, sent through the attacker's own channel
 * (no library check in the way): the core must refuse each. */
static void raw_forgeries(uint64_t handle, const char *what)
{
    struct rawc rc;
    int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), 0);
    if (r != 0) {
        say("ERR raw connect: %s", errname(r < 0 ? -r : r));
        return;
    }
    static const uint32_t ops[] = {ESEM_OP_POST, ESEM_OP_TRYWAIT, ESEM_OP_WAIT,
                                   ESEM_OP_GETVALUE, ESEM_OP_CLOSE, ESEM_OP_DESTROY};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int st = rawc_op(&rc, ops[i], handle, NULL, 0, 0, 0, NULL, NULL, 500);
        if (st == EINVAL) {
            say("OK raw %s with %s (handle %#llx) from the attacker's own session: EINVAL",
                op_word(ops[i]), what, (unsigned long long)handle);
            say("AUDIT %d %s", (int)getpid(), op_word(ops[i]));
        } else {
            say("FAIL raw %s with %s (handle %#llx): %s", op_word(ops[i]), what,
                (unsigned long long)handle,
                st == 0 ? "ACCEPTED" : st == -ETIMEDOUT ? "queued (accepted)" : errname(st < 0 ? -st : st));
        }
    }
    int bad = 0, n = 0;
    for (int i = 0; i < 12; i++) {
        uint64_t h;
        if (i < 4)
            h = (handle & 0xffffffffull) | ((handle >> 32) + 1 + (uint64_t)i) << 32; /* other generations */
        else if (getrandom(&h, sizeof h, 0) != (ssize_t)sizeof h)
            break;
        n++;
        int st = rawc_op(&rc, ESEM_OP_POST, h, NULL, 0, 0, 0, NULL, NULL, 500);
        if (st != EINVAL)
            bad++;
    }
    say("%s %d forged handles (other generations of the slot, random) posted raw: %d not refused",
        bad ? "FAIL" : "OK", n, bad);
    rawc_close(&rc);
}

/* Claim inheritance of the sessions most likely to exist (small indexes,
 * first generations): a raw hello with inherit_session set. */
static void inherit_claims(void)
{
    int bad = 0, n = 0;
    for (uint64_t idx = 1; idx <= 4; idx++) {
        for (uint64_t gen = 1; gen <= 2; gen++) {
            struct rawc rc;
            int r = rawc_connect(&rc, getenv("ESEM_SOCKET"), gen << 32 | idx);
            n++;
            if (r == 0) {
                bad++;
                rawc_close(&rc);
            } else if (r != EPERM) {
                bad++;
            }
        }
    }
    say("%s claimed inheritance of %d guessed sessions (raw hello, inherit_session set): %d not "
        "refused with EPERM",
        bad ? "FAIL" : "OK", n, bad);
    say("AUDIT %d inherit", (int)getpid());
    say("AUDIT %d connection", (int)getpid());
}

/* view-attacker MODE BACKEND NAME SEGPATH PRODUCER_PID SEMADDR same|other */
int role_view_attacker(int argc, char **argv)
{
    if (argc < 8)
        return 2;
    int pshared = strcmp(argv[1], "pshared") == 0;
    int esem = strcmp(argv[2], "esem") == 0;
    const char *name = argv[3], *segpath = argv[4];
    pid_t producer = (pid_t)atoi(argv[5]);
    uintptr_t addr = (uintptr_t)strtoull(argv[6], NULL, 0);
    int other = strcmp(argv[7], "other") == 0;

    if (!esem) {
        /* glibc: write the value word of the memory that holds the sem_t */
        char path[512];
        off_t off = 0;
        if (pshared)
            snprintf(path, sizeof path, "%s", segpath);
        else
            snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            say("FAIL open %s: %s", path, errname(errno));
            say("DONE");
            return 0;
        }
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            say("ERR mmap %s: %s", path, strerror(errno));
            say("DONE");
            return 0;
        }
        glibc_sem_forge_post(m + off, 1);
        say("OK opened %s (same uid, mode 0600) and added a permit to the sem_t's value word, "
            "then woke its futex: no sem_post",
            path);
        say("DONE");
        return 0;
    }

    char stem[128];
    snprintf(stem, sizeof stem, "%s", name + 1);
    if (other) {
        /* another uid: open as POSIX mode rules decide, then forge */
        esem_t *s = esem_open(name, 0, 0, 0);
        if (s) {
            say("FAIL uid %u opened %s (mode 0600)", (unsigned)getuid(), name);
            esem_close(s);
        } else {
            say("%s esem_open(%s) as uid %u: %s", errno == EACCES ? "OK" : "FAIL", name,
                (unsigned)getuid(), errname(errno));
            say("AUDIT %d open", (int)getpid());
        }
        s = esem_open(name, O_CREAT, 0666, 5);
        if (s) {
            say("FAIL uid %u opened %s with O_CREAT", (unsigned)getuid(), name);
            esem_close(s);
        } else {
            say("%s esem_open(%s, O_CREAT, 0666, 5) as uid %u: %s", errno == EACCES ? "OK" : "FAIL",
                name, (unsigned)getuid(), errname(errno));
        }
        struct handle_bytes hb;
        int r = read_mem(producer, addr, &hb, sizeof hb);
        say("NOTE reading the producer's memory as uid %u: %s", (unsigned)getuid(),
            r == 0 ? "succeeded" : errname(-r));
        struct sem_info_lite info;
        if (admin_find_name(getenv("ESEM_SOCKET"), name, &info) == 0) {
            say("NOTE the handle is listed to any client of the daemon (esemctl ls): %#llx",
                (unsigned long long)info.handle);
            raw_forgeries(info.handle, "the producer's handle (as another uid)");
        } else {
            /* esemctl ls shows a caller its own semaphores only: the other
             * uid has to guess; a guessed handle fares no better */
            say("NOTE the handle is not listed to another uid (esemctl ls shows a caller its "
                "own semaphores only): forging guessed handles");
            for (uint64_t i = 1; i <= 4; i++)
                raw_forgeries((1ull << 32) | i, "a guessed handle (as another uid)");
        }
        say("DONE");
        return 0;
    }

    /* same uid */
    say("%s no semaphore file in /dev/shm for %s: nothing to map or write",
        shm_has(stem) ? "FAIL" : "OK", name);
    struct handle_bytes real;
    memset(&real, 0, sizeof real);
    uint64_t handle = 0;
    if (pshared) {
        int fd = open(segpath, O_RDWR | O_CLOEXEC);
        char *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (fd >= 0)
            close(fd);
        if (m == MAP_FAILED) {
            say("ERR cannot map the segment %s: %s", segpath, strerror(errno));
            say("DONE");
            return 0;
        }
        memcpy(&real, m, sizeof real);
        handle = real.handle;
        say("NOTE the segment's sem_t holds magic %#x, tag %#x, handle %#llx (no value)", real.magic,
            real.tag, (unsigned long long)real.handle);
        raw_forgeries(handle, "the handle read from the segment");
        struct handle_bytes as_esem = real;
        as_esem.magic = 0x6553454du;
        api_forgeries(&as_esem, "the segment's sem_t");
        /* the write that releases a glibc consumer */
        uint8_t saved[32];
        memcpy(saved, m, sizeof saved);
        glibc_sem_forge_post(m, 1);
        say("NOTE wrote +1 into the sem_t's first word and woke its futex (the glibc attack)");
        sleep_ms(300);
        memcpy(m, saved, sizeof saved);
        say("NOTE restored the sem_t's bytes so that the producer's post can go through (left "
            "corrupted, the post fails with EINVAL: see shim-handle-swap)");
        munmap(m, 4096);
    } else {
        int r = read_mem(producer, addr, &real, sizeof real);
        if (r == 0 && real.magic == 0x6553454du) {
            say("NOTE read the producer's esem_t through /proc/%d/mem (same uid): tag %#x, handle "
                "%#llx",
                (int)producer, real.tag, (unsigned long long)real.handle);
            handle = real.handle;
            api_forgeries(&real, "the producer's esem_t");
        } else {
            say("NOTE could not read the producer's esem_t (%s)", r ? errname(-r) : "no magic");
        }
        struct sem_info_lite info;
        if (admin_find_name(getenv("ESEM_SOCKET"), name, &info) == 0) {
            if (handle && handle != info.handle)
                say("ERR handle mismatch: memory %#llx, esemctl %#llx", (unsigned long long)handle,
                    (unsigned long long)info.handle);
            handle = info.handle;
        }
        if (!handle) {
            say("ERR no handle to forge with");
            say("DONE");
            return 0;
        }
        raw_forgeries(handle, "the producer's handle");
        inherit_claims();
        /* What POSIX allows and esem does not claim to stop: recorded only. */
        esem_t *s = esem_open(name, 0, 0, 0);
        say("NOTE esem_open(%s) by name as the same uid: %s (POSIX mode rules; not used to post: "
            "esem does not claim to stop a same-uid process that opens the semaphore)",
            name, s ? "allowed" : errname(errno));
        if (s)
            esem_close(s);
    }
    say("DONE");
    return 0;
}

/* ---- the orchestration ---- */

static void scenario(struct side *s, int esem, int pshared, int *released, int *intact)
{
    char name[128], seg[256], what[32];
    snprintf(what, sizeof what, "vc-%s", pshared ? "pshared" : "named");
    lab_name(name, sizeof name, what);
    snprintf(seg, sizeof seg, "/dev/shm%s-seg", name);
    const char *mode = pshared ? "pshared" : "named";
    const char *backend = esem && !pshared ? "esem" : "glibc";
    struct proc v;
    *released = 0;
    *intact = 0;
    if (proc_start(&v, WHO_LAB, esem && pshared, "view-victim", mode, backend, name, seg, NULL) < 0) {
        s_error(s, "%s: cannot start the victim", mode);
        return;
    }
    char line[LAB_LINE];
    int producer = 0, consumer = 0;
    char addr[64] = "0";
    if (proc_expect(&v, "ready", line, sizeof line, 10000) < 0 ||
        sscanf(line, "ready producer=%d consumer=%d sem=%63s", &producer, &consumer, addr) != 3) {
        s_error(s, "%s: victim did not start (%s)", mode, line);
        proc_kill(&v);
        proc_end(&v);
        unlink(seg);
        return;
    }
    /* the consumer is blocked before the attacker comes */
    int blocked = 0;
    if (!esem) {
        char path[512];
        if (pshared)
            snprintf(path, sizeof path, "%s", seg);
        else
            snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
        long t0 = now_ms();
        uint32_t nw = 0;
        while (now_ms() - t0 < 5000 && !(glibc_file_sem(path, 0, NULL, &nw) == 0 && nw == 1))
            sleep_ms(5);
        blocked = nw == 1;
    } else if (pshared) {
        struct handle_bytes hb;
        int fd = open(seg, O_RDONLY | O_CLOEXEC);
        blocked = fd >= 0 && pread(fd, &hb, sizeof hb, 0) == (ssize_t)sizeof hb &&
                  admin_wait_waiters(lab.sock, NULL, hb.handle, 1, 5000) == 0;
        if (fd >= 0)
            close(fd);
    } else {
        blocked = admin_wait_waiters(lab.sock, name, 0, 1, 5000) == 0;
    }
    if (!blocked)
        s_error(s, "%s: the consumer did not block in its wait", mode);
    else
        s_note(s, "%s: consumer %d blocked in %s on %s (value 0)", mode, consumer,
               esem && pshared ? "sem_timedwait (shim)" : esem ? "esem_timedwait" : "sem_timedwait",
               pshared ? "the sem_t in the segment" : name);

    char pid_s[16];
    snprintf(pid_s, sizeof pid_s, "%d", producer);
    struct proc a;
    if (esem)
        audit_window();
    size_t mark = log_mark();
    if (proc_start(&a, WHO_LAB, 0, "view-attacker", mode, esem ? "esem" : "glibc", name, seg, pid_s,
                   addr, "same", NULL) == 0) {
        relay(&a, s, mark, 30000);
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    if (esem && !pshared) {
        if (lab_can_other_uid()) {
            audit_window();
            mark = log_mark();
            if (proc_start(&a, WHO_OTHER, 0, "view-attacker", mode, "esem", name, seg, pid_s, addr,
                           "other", NULL) == 0) {
                relay(&a, s, mark, 30000);
                proc_end(&a);
            } else {
                s_error(s, "cannot start the other-uid attacker");
            }
        } else {
            s_skip(s, "other-uid attacker (needs root)");
        }
    }
    /* Did the attack release the consumer before the producer published? */
    char early[LAB_LINE] = "";
    if (proc_expect(&v, "consumer", line, sizeof line, 1000) == 0)
        snprintf(early, sizeof early, "%s", line);
    proc_cmd(&v, "publish");
    char late[LAB_LINE] = "", posted[LAB_LINE] = "";
    long t0 = now_ms();
    while (now_ms() - t0 < 10000 && (!posted[0] || (!early[0] && !late[0]))) {
        if (proc_line(&v, line, sizeof line, 500) < 0)
            continue;
        if (strncmp(line, "consumer", 8) == 0 && !early[0])
            snprintf(late, sizeof late, "%s", line);
        else if (strncmp(line, "posted", 6) == 0)
            snprintf(posted, sizeof posted, "%s", line);
    }
    if (!early[0] && !late[0]) {
        proc_cmd(&v, "kill-consumer");
        snprintf(late, sizeof late, "consumer killed: still waiting 10 s after the post");
    }
    proc_cmd(&v, "end");
    if (proc_expect(&v, "done", line, sizeof line, 10000) < 0)
        s_error(s, "%s: victim did not end", mode);
    proc_end(&v);
    unlink(seg);
    if (!esem && !pshared) {
        char p[512];
        snprintf(p, sizeof p, "/dev/shm/sem.%s", name + 1);
        unlink(p);
    }
    *released = early[0] && strstr(early, "consumer got " UNPUBLISHED) != NULL;
    *intact = !early[0] && strstr(late, "consumer got PUBLISHED-") != NULL;
    if (early[0])
        s_note(s, "%s: before the producer published: \"%s\"", mode, early);
    else
        s_note(s, "%s: nothing from the consumer before the producer published", mode);
    s_note(s, "%s: producer: \"%s\"; consumer afterwards: \"%s\"", mode, posted,
           late[0] ? late : "-");
}

void view_glibc(struct side *s)
{
    int rel_n, ok_n, rel_p, ok_p;
    scenario(s, 0, 0, &rel_n, &ok_n);
    s_check(s, rel_n, "named: the consumer was released before the producer published and read "
                      "\"" UNPUBLISHED "\"");
    scenario(s, 0, 1, &rel_p, &ok_p);
    s_check(s, rel_p, "pshared: the consumer was released before the producer published and read "
                      "\"" UNPUBLISHED "\"");
    s_summary(s, "an unrelated same-uid process wrote the value word (/dev/shm/sem.NAME; the "
                 "sem_t in the segment): the consumer read unpublished data (named: %s, pshared: %s)",
              rel_n ? "yes" : "no", rel_p ? "yes" : "no");
}

void view_esem(struct side *s)
{
    int rel_n, ok_n, rel_p, ok_p;
    scenario(s, 1, 0, &rel_n, &ok_n);
    s_check(s, !rel_n && ok_n, "named: the consumer returned only after the producer's post, with "
                               "the published data");
    scenario(s, 1, 1, &rel_p, &ok_p);
    s_check(s, !rel_p && ok_p, "pshared (shim): the consumer returned only after the producer's "
                               "post, with the published data");
    s_summary(s, "consumer never saw unpublished data (named and pshared): no /dev/shm file; "
                 "copied/forged esem_t EINVAL (library), real/forged handles on the attacker's "
                 "channel EINVAL + audit; inherit claims EPERM; other uid %s; a same-uid "
                 "esem_open by name is allowed (POSIX, not claimed)",
              s->nskipped ? "not tried (needs root)" : "EACCES + audit");
}
