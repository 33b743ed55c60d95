/*
 * life-page-forgery (TM-host, any local user who may connect): every client
 * gets the daemon's life page (struct esem_life), the word through which
 * the kernel tells all clients that esemd died.  An attacker connects with
 * a raw hello and tries to write that page — a writable mapping, write(2),
 * mprotect of a read-only mapping — to mark the daemon dead, which would end
 * every other client's calls with EIO (a waiter blocked in sem_wait first).
 *
 * The same memfd holds the wake words (struct esem_wake), on which a poster
 * wakes a semaphore's sleepers as a hint.  The attacker also wakes every
 * word of the page, again and again: that must release nobody.
 *
 * esem: the memfd is sealed (F_SEAL_FUTURE_WRITE) once esemd has mapped it:
 * all three writes are refused; the forged wakes release nobody (a waiter
 * only returns with the core's answer in its own slot); the waiter's
 * semaphore shows one sleeper in the page while it waits and none after;
 * the waiter is still waiting after all that and takes the next post.
 *
 * glibc has no daemon and no such page: the row checks the same outcome
 * (a blocked waiter takes the post) on glibc, it is not a glibc weakness.
 */
#include "lab.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "proto.h"

/* A waiter (kill-part's role) on a fresh semaphore of the backend; the
 * attack runs while it waits; then one post, and the waiter must take it. */
static void waiter_takes_post(struct side *s, const char *be,
                              void (*attack)(struct side *, const char *name))
{
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, "life");
    struct proc w;
    if (kill_part_waiter(s, be, name, &w) < 0)
        return;
    if (attack)
        attack(s, name);
    int early = proc_line(&w, line, sizeof line, 300) == 0;
    s_check(s, !early, "the waiter is still waiting after the attack (%s)",
            early ? line : "no answer before the post");
    kill_part(be, "post", name, "1", "posted", NULL, 0);
    int r = early ? 0 : proc_expect(&w, "got", line, sizeof line, 10000);
    s_check(s, r == 0 && strcmp(line, "got 0") == 0,
            "a waiter blocked meanwhile took the post (%s)", r == 0 ? line : "no answer");
    proc_end(&w);
    if (attack)
        attack(s, NULL); /* after: the page shows no sleeper */
    kill_part(be, "unlink", name, NULL, "done", NULL, 0);
}

/* The waiter's semaphore's wake word in the attacker's read-only map. */
static const struct esem_wake *wake_of(const void *page, size_t len, const char *name)
{
    struct sem_info_lite i;
    if (admin_find_name(lab.sock, name, &i) < 0)
        return NULL;
    uint64_t idx = (i.handle & 0xffffffffu) - 1;
    size_t n = len > ESEM_WAKE_OFF ? (len - ESEM_WAKE_OFF) / sizeof(struct esem_wake) : 0;
    return idx < n ? (const struct esem_wake *)((const char *)page + ESEM_WAKE_OFF) + idx : NULL;
}

/* Wake every word of the page, rounds times. */
static void wake_all(void *page, size_t len, int rounds)
{
    size_t n = len > ESEM_WAKE_OFF ? (len - ESEM_WAKE_OFF) / sizeof(struct esem_wake) : 0;
    struct esem_wake *w = (struct esem_wake *)((char *)page + ESEM_WAKE_OFF);
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++)
            syscall(SYS_futex, &w[i].word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* name: the waiter's semaphore, while it waits; NULL: after its wait. */
static void forge(struct side *s, const char *name)
{
    struct rawc c;
    int r = rawc_connect(&c, lab.sock, 0);
    if (r != 0 || c.life_fd < 0) {
        s_error(s, "raw hello failed: %s", errname(r < 0 ? -r : r));
        return;
    }
    struct stat st;
    size_t all = fstat(c.life_fd, &st) == 0 ? (size_t)st.st_size : 0;
    static char waited[128];
    if (!name) {
        void *ro = all ? mmap(NULL, all, PROT_READ, MAP_SHARED, c.life_fd, 0) : MAP_FAILED;
        const struct esem_wake *wk = ro != MAP_FAILED ? wake_of(ro, all, waited) : NULL;
        s_check(s, wk && wk->sleepers == 0, "after the post the page shows no sleeper (%u)",
                wk ? wk->sleepers : 99u);
        if (ro != MAP_FAILED)
            munmap(ro, all);
        rawc_close(&c);
        return;
    }
    snprintf(waited, sizeof waited, "%s", name);
    size_t len = sizeof(struct esem_life);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c.life_fd, 0);
    int e1 = m == MAP_FAILED ? errno : 0;
    if (m != MAP_FAILED) {
        /* what the kernel writes at the daemon's death, and its wake-up */
        ((struct esem_life *)m)->word = ESEM_LIFE_DEAD | FUTEX_WAITERS;
        syscall(SYS_futex, m, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        munmap(m, len);
    }
    s_check(s, e1 != 0, "a writable shared mapping of the life page refused (%s)",
            e1 ? errname(e1) : "mapped, and marked the daemon dead");
    uint32_t dead = ESEM_LIFE_DEAD | FUTEX_WAITERS;
    ssize_t n = pwrite(c.life_fd, &dead, sizeof dead, 0);
    int e2 = n < 0 ? errno : 0;
    s_check(s, n < 0, "write(2) to the life page refused (%s)", e2 ? errname(e2) : "written");
    void *ro = mmap(NULL, len, PROT_READ, MAP_SHARED, c.life_fd, 0);
    int e3 = 0;
    if (ro != MAP_FAILED) {
        e3 = mprotect(ro, len, PROT_READ | PROT_WRITE) < 0 ? errno : 0;
        munmap(ro, len);
    }
    s_check(s, ro != MAP_FAILED && e3 != 0,
            "a read-only mapping cannot be made writable with mprotect (%s)",
            ro == MAP_FAILED ? "no read-only mapping" : e3 ? errname(e3) : "made writable");
    /* the wake words: the waiter's shows it; forged wakes of all of them */
    void *page = all > ESEM_WAKE_OFF ? mmap(NULL, all, PROT_READ, MAP_SHARED, c.life_fd, 0)
                                     : MAP_FAILED;
    if (page == MAP_FAILED) {
        s_error(s, "no wake words after the life page (%zu bytes)", all);
    } else {
        const struct esem_wake *wk = wake_of(page, all, name);
        s_check(s, wk && wk->sleepers == 1, "the waiter's semaphore shows 1 sleeper (%u)",
                wk ? wk->sleepers : 99u);
        wake_all(page, all, 3);
        s_note(s, "woke all %zu wake words 3 times",
               (all - ESEM_WAKE_OFF) / sizeof(struct esem_wake));
        munmap(page, all);
    }
    rawc_close(&c);
}

void life_glibc(struct side *s)
{
    s_summary(s, "no daemon, no life page: a waiter blocked in sem_wait takes the post");
    waiter_takes_post(s, "glibc", NULL);
}

void life_esem(struct side *s)
{
    s_summary(s, "a raw client's writable mapping, write(2) and mprotect of the life page are "
                 "refused (sealed F_SEAL_FUTURE_WRITE); its forged wakes of every wake word "
                 "release nobody; the waiter, still waiting, takes the post (no EIO)");
    waiter_takes_post(s, "esem", forge);
}
