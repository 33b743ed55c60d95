/*
 * Attacks 5 and 6: a process that can write a shared segment holding a
 * victim's sem_t's (PostgreSQL keeps its semaphores in one).  The victim
 * runs unmodified sem_* code; under esem it runs with the preload shim,
 * whose sem_init writes into the 32-byte sem_t only a magic, a keyed tag
 * and a handle (preload/shim.c, docs/SHIM.md).
 *
 * shim-handle-swap:
 *   glibc: the writer adds to the value word: permits out of thin air.
 *   esem:  (a) random bytes, in five patterns (all random; magic + random
 *          tag/handle; the real tag with a random handle; another sem_t's
 *          handle with a random tag; a flipped tag bit): every post, trywait
 *          and getvalue of the victim fails with EINVAL — fail closed, no
 *          permit; the attacker's own valid (shim) sem_t copied in: EINVAL;
 *          the glibc write: EINVAL.
 *          (b) B's bytes copied over A: the victim's sem_post(A) goes to B.
 *          A swap among semaphores the victim holds is possible and is
 *          documented, not claimed; no permit is created (the core's post
 *          and wait counters match the victim's own calls).
 *
 * shim-tag-forgery:
 *   The tag is the low 32 bits of an invertible 64-bit mix of
 *   (handle XOR key) (lib/client.c, esemi_tag).  From the (tag, handle)
 *   pairs of three sem_t's in the segment the attacker recovers the key by
 *   trying the 2^32 missing high halves, finds the handle of a semaphore the
 *   victim holds outside the segment (a private named one: esemctl ls lists
 *   every handle to any client) and writes a sem_t with a valid tag for it:
 *   the victim's sem_post on the segment's sem_t then posts its private
 *   semaphore.  glibc's sem_t refers to nothing outside itself: the same
 *   writer cannot reach the private semaphore there (same/not a glibc
 *   weakness).  esem must refuse.
 */
#include "lab.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"

#define SEG_SIZE 4096
#define NSEM 3 /* A, B, C at 0, 32, 64 */

static int sem_index(const char *x)
{
    return x[0] >= 'A' && x[0] < 'A' + NSEM ? x[0] - 'A' : -1;
}

/* ---- the victim ---- */

static const char *rc_str(int rc, int e)
{
    return rc == 0 ? "0" : errname(e);
}

/* seg-victim SEGPATH [PRIVNAME] */
int role_seg_victim(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *seg = argv[1];
    const char *priv = argc > 2 ? argv[2] : NULL;
    int fd = open(seg, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, SEG_SIZE) < 0) {
        say("error %s: %s", seg, errname(errno));
        return 1;
    }
    char *m = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 1;
    sem_t *s[NSEM + 1];
    for (int i = 0; i < NSEM; i++) {
        s[i] = (sem_t *)(m + 32 * i);
        if (sem_init(s[i], 1, 0) < 0) {
            say("error sem_init: %s", errname(errno));
            return 1;
        }
    }
    s[NSEM] = NULL;
    if (priv) {
        s[NSEM] = sem_open(priv, O_CREAT | O_EXCL, 0600, 0);
        if (s[NSEM] == SEM_FAILED) {
            say("error sem_open %s: %s", priv, errname(errno));
            return 1;
        }
    }
    say("ready pid=%d", (int)getpid());
    char cmd[128], what[8];
    while (hear(cmd, sizeof cmd, 120000) == 0) {
        char verb[32];
        if (sscanf(cmd, "%31s %7s", verb, what) < 1)
            continue;
        int k = strcmp(what, "P") == 0 ? NSEM : sem_index(what);
        if (strcmp(verb, "end") == 0)
            break;
        if (k < 0 || !s[k]) {
            say("r EBADARG");
            continue;
        }
        if (strcmp(verb, "post") == 0) {
            int rc = sem_post(s[k]);
            say("r %s", rc_str(rc, errno));
        } else if (strcmp(verb, "trywait") == 0) {
            int rc = sem_trywait(s[k]);
            say("r %s", rc_str(rc, errno));
        } else if (strcmp(verb, "getvalue") == 0) {
            int v = -1;
            int rc = sem_getvalue(s[k], &v);
            if (rc == 0)
                say("v %d", v);
            else
                say("v %s", errname(errno));
        } else if (strcmp(verb, "probe") == 0) {
            int r1 = sem_post(s[k]);
            int e1 = errno;
            int r2 = sem_trywait(s[k]);
            int e2 = errno;
            int v;
            int r3 = sem_getvalue(s[k], &v);
            int e3 = errno;
            say("probe %s %s %s", rc_str(r1, e1), rc_str(r2, e2), rc_str(r3, e3));
        }
    }
    if (priv) {
        sem_close(s[NSEM]);
        sem_unlink(priv);
    }
    unlink(seg);
    say("done");
    return 0;
}

/* ---- the tag key recovery ---- */

/* lib/client.c: esemi_tag(h) = (uint32_t)mix64(h ^ key).  (Not
 * instrumented: the search runs it 2^32 times in a sanitizer build too.) */
#define LAB_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))
LAB_NO_SANITIZE static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t inv_mul(uint64_t a)
{
    uint64_t x = a; /* Newton: a is odd */
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

struct search {
    uint64_t h[NSEM];
    uint32_t t[NSEM];
    uint64_t inv1, inv2;
    uint64_t from, to;
    _Atomic int *found;
    _Atomic uint64_t *key;
};

/* mix64 is a bijection; only its low 32 bits are known.  For each possible
 * high half, undo mix64 to get h0 ^ key, and check the key against the
 * other pairs. */
LAB_NO_SANITIZE static void *search_range(void *arg)
{
    struct search *s = arg;
    for (uint64_t u = s->from; u < s->to; u++) {
        if ((u & 0xfffff) == 0 && atomic_load_explicit(s->found, memory_order_relaxed))
            return NULL;
        uint64_t y = u << 32 | s->t[0];
        y ^= (y >> 31) ^ (y >> 62);
        y *= s->inv2;
        y ^= (y >> 27) ^ (y >> 54);
        y *= s->inv1;
        y ^= (y >> 30) ^ (y >> 60);
        uint64_t k = y ^ s->h[0];
        if ((uint32_t)mix64(s->h[1] ^ k) == s->t[1] && (uint32_t)mix64(s->h[2] ^ k) == s->t[2]) {
            atomic_store(s->key, k);
            atomic_store(s->found, 1);
            return NULL;
        }
    }
    return NULL;
}

static int recover_key(const struct handle_bytes *hb, uint64_t *key)
{
    _Atomic int found = 0;
    _Atomic uint64_t k = 0;
    enum { NT = 4 };
    struct search part[NT];
    pthread_t th[NT];
    uint64_t span = (1ull << 32) / NT;
    for (int i = 0; i < NT; i++) {
        for (int j = 0; j < NSEM; j++) {
            part[i].h[j] = hb[j].handle;
            part[i].t[j] = hb[j].tag;
        }
        part[i].inv1 = inv_mul(0xbf58476d1ce4e5b9ull);
        part[i].inv2 = inv_mul(0x94d049bb133111ebull);
        part[i].from = span * (uint64_t)i;
        part[i].to = i == NT - 1 ? 1ull << 32 : span * (uint64_t)(i + 1);
        part[i].found = &found;
        part[i].key = &k;
    }
    int started[NT];
    for (int i = 0; i < NT; i++) {
        started[i] = pthread_create(&th[i], NULL, search_range, &part[i]) == 0;
        if (!started[i])
            search_range(&part[i]);
    }
    for (int i = 0; i < NT; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    *key = atomic_load(&k);
    return atomic_load(&found) ? 0 : -1;
}

/* ---- the attacker: writes the segment on command ---- */

/* seg-attacker SEGPATH */
int role_seg_attacker(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_RDWR | O_CLOEXEC);
    char *m = fd >= 0 ? mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (m == MAP_FAILED) {
        say("error map %s: %s", argv[1], errname(errno));
        return 1;
    }
    uint8_t saved[NSEM][32];
    sem_t own; /* the attacker's own semaphore, for "own" */
    int have_own = sem_init(&own, 1, 0) == 0;
    say("ready");
    char cmd[256];
    while (hear(cmd, sizeof cmd, 120000) == 0) {
        char verb[32], x[8] = "", y[200] = "";
        int n = sscanf(cmd, "%31s %7s %199s", verb, x, y);
        int k = n >= 2 ? sem_index(x) : -1;
        uint8_t *p = k >= 0 ? (uint8_t *)m + 32 * k : NULL;
        if (strcmp(verb, "end") == 0)
            break;
        if (strcmp(verb, "save") == 0) {
            char out[512] = "saved";
            for (int i = 0; i < NSEM; i++) {
                memcpy(saved[i], m + 32 * i, 32);
                struct handle_bytes hb;
                memcpy(&hb, saved[i], sizeof hb);
                size_t l = strlen(out);
                snprintf(out + l, sizeof out - l, " %c=%#x:%#x:%#llx", 'A' + i, hb.magic, hb.tag,
                         (unsigned long long)hb.handle);
            }
            say("%s", out);
        } else if (!p) {
            say("error bad command %s", cmd);
        } else if (strcmp(verb, "restore") == 0) {
            memcpy(p, saved[k], 32);
            say("ok");
        } else if (strcmp(verb, "copy") == 0) {
            int d = sem_index(y);
            if (d < 0) {
                say("error");
                continue;
            }
            memcpy(m + 32 * d, p, 32); /* copy X over Y */
            say("ok");
        } else if (strcmp(verb, "own") == 0) {
            if (!have_own) {
                say("error sem_init of the attacker's own: %s", errname(errno));
                continue;
            }
            memcpy(p, &own, 32);
            say("ok");
        } else if (strcmp(verb, "glibc-add") == 0) {
            glibc_sem_forge_post(p, (uint32_t)atoi(y));
            say("ok");
        } else if (strcmp(verb, "rand") == 0) {
            int i = atoi(y);
            struct handle_bytes hb, orig, other;
            memcpy(&orig, saved[k], sizeof orig);
            memcpy(&other, saved[(k + 1) % NSEM], sizeof other);
            uint8_t r[32];
            if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
                say("error getrandom");
                continue;
            }
            memcpy(&hb, r, sizeof hb);
            switch (i % 5) {
            case 0: break;                                             /* all random */
            case 1: hb.magic = orig.magic; break;                      /* magic, random tag+handle */
            case 2: hb.magic = orig.magic; hb.tag = orig.tag; break;   /* real tag, random handle */
            case 3: hb.magic = orig.magic; hb.handle = other.handle; break; /* other's handle */
            default: hb = orig; hb.tag ^= 1u << (i % 32); break;       /* one tag bit flipped */
            }
            memcpy(r, &hb, sizeof hb);
            memcpy(p, r, 32);
            say("ok");
        } else if (strcmp(verb, "forge") == 0) {
            /* forge X NAME: point X at the victim's semaphore NAME */
            struct handle_bytes hb[NSEM];
            for (int i = 0; i < NSEM; i++)
                memcpy(&hb[i], saved[i], sizeof hb[i]);
            if (hb[0].magic != LAB_SHIM_MAGIC) {
                const char *pre = getenv("LD_PRELOAD");
                if (pre && strstr(pre, "esem-preload"))
                    say("noforge the segment's sem_t's are not laid out as magic %#x + 32-bit "
                        "tag + handle, the layout this attack targets",
                        LAB_SHIM_MAGIC);
                else
                    say("noforge glibc's sem_t's hold their value, no handle: nothing in the "
                        "segment refers to a semaphore outside it");
                continue;
            }
            long t0 = now_ms();
            uint64_t key;
            if (recover_key(hb, &key) < 0) {
                say("noforge no key reproduces the three tags (%ld ms): the tag is not the "
                    "32-bit mix this attack inverts",
                    now_ms() - t0);
                continue;
            }
            long ms = now_ms() - t0;
            struct sem_info_lite info;
            if (admin_find_name(getenv("ESEM_SOCKET"), y, &info) < 0) {
                say("noforge %s not listed by esemd", y);
                continue;
            }
            struct handle_bytes f = {LAB_SHIM_MAGIC, (uint32_t)mix64(info.handle ^ key), info.handle};
            memset(p, 0, 32);
            memcpy(p, &f, sizeof f);
            say("forged key=%#llx in %ld ms; %s has handle %#llx (esemctl ls); wrote tag %#x",
                (unsigned long long)key, ms, y, (unsigned long long)info.handle, f.tag);
        } else {
            say("error unknown %s", verb);
        }
    }
    say("done");
    return 0;
}

/* ---- orchestration ---- */

struct pair {
    struct proc v, a;
    char seg[256];
    char saved[LAB_LINE];
    struct handle_bytes h[NSEM];
};

static int pair_start(struct side *s, struct pair *P, int esem, const char *priv)
{
    char line[LAB_LINE];
    char name[128];
    lab_name(name, sizeof name, esem ? "seg-esem" : "seg-glibc");
    snprintf(P->seg, sizeof P->seg, "/dev/shm%s", name);
    unlink(P->seg);
    int r = priv ? proc_start(&P->v, WHO_LAB, esem, "seg-victim", P->seg, priv, NULL)
                 : proc_start(&P->v, WHO_LAB, esem, "seg-victim", P->seg, NULL);
    if (r < 0 || proc_expect(&P->v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start (%s)", line);
        proc_kill(&P->v);
        proc_end(&P->v);
        unlink(P->seg);
        return -1;
    }
    if (proc_start(&P->a, WHO_LAB, esem, "seg-attacker", P->seg, NULL) < 0 ||
        proc_expect(&P->a, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "attacker did not start");
        proc_kill(&P->a);
        proc_end(&P->a);
        proc_cmd(&P->v, "end");
        proc_end(&P->v);
        unlink(P->seg);
        return -1;
    }
    proc_cmd(&P->a, "save");
    if (proc_expect(&P->a, "saved", P->saved, sizeof P->saved, 5000) < 0) {
        s_error(s, "attacker could not read the segment");
        return 0;
    }
    for (int i = 0; i < NSEM; i++) {
        char key[8];
        snprintf(key, sizeof key, " %c=", 'A' + i);
        const char *q = strstr(P->saved, key);
        unsigned long long hh = 0;
        unsigned mg = 0, tg = 0;
        if (q)
            sscanf(q + 3, "%x:%x:%llx", &mg, &tg, &hh);
        P->h[i].magic = mg;
        P->h[i].tag = tg;
        P->h[i].handle = hh;
    }
    return 0;
}

static void pair_end(struct pair *P)
{
    char line[LAB_LINE];
    proc_cmd(&P->a, "end");
    proc_expect(&P->a, "done", line, sizeof line, 5000);
    proc_end(&P->a);
    proc_cmd(&P->v, "end");
    proc_expect(&P->v, "done", line, sizeof line, 5000);
    proc_end(&P->v);
    unlink(P->seg);
}

/* send a command, return the answer line (static) */
static const char *ask(struct proc *p, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *ask(struct proc *p, const char *prefix, const char *fmt, ...)
{
    static char line[LAB_LINE];
    char cmd[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    line[0] = 0;
    if (proc_cmd(p, "%s", cmd) < 0 || proc_expect(p, prefix, line, sizeof line, 90000) < 0)
        snprintf(line, sizeof line, "(no answer to \"%s\")", cmd);
    return line;
}

static int ask_value(struct proc *v, const char *x)
{
    int val = -1;
    const char *l = ask(v, "v ", "getvalue %s", x);
    if (sscanf(l, "v %d", &val) != 1)
        return -1000;
    return val;
}

void swap_glibc(struct side *s)
{
    struct pair P;
    if (pair_start(s, &P, 0, NULL) < 0)
        return;
    ask(&P.a, "ok", "glibc-add A 5");
    int got = 0;
    for (int i = 0; i < 6; i++)
        got += strcmp(ask(&P.v, "r ", "trywait A"), "r 0") == 0;
    s_check(s, got == 5, "after the writer added 5 to A's value word, the victim's sem_trywait(A) "
                         "succeeded %d times; it never posted",
            got);
    ask(&P.a, "ok", "rand A 0");
    char l[LAB_LINE];
    snprintf(l, sizeof l, "%s", ask(&P.v, "probe", "probe A"));
    if (strncmp(l, "probe", 5) == 0) {
        s_note(s, "random bytes over A, then the victim's post, trywait, getvalue: %s", l);
    } else {
        int st = proc_reap(&P.v, 2000);
        s_note(s, "random bytes over A, then the victim's sem_post: the victim %s",
               st != -1 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "did not answer");
    }
    pair_end(&P);
    s_summary(s, "the segment writer added to A's value word: %d permits the victim never posted",
              got);
}

void swap_esem(struct side *s)
{
    struct pair P;
    if (pair_start(s, &P, 1, NULL) < 0)
        return;
    s_note(s, "the segment holds %s (magic:tag:handle; no value)", P.saved + 6);
    int victim_posts = 0, victim_waits = 0;
    /* (a) random bytes */
    int tries = 0, bad = 0;
    char first_bad[LAB_LINE] = "";
    for (int i = 0; i < 200; i++) {
        const char *x = i % 2 ? "B" : "A";
        ask(&P.a, "ok", "rand %s %d", x, i);
        const char *l = ask(&P.v, "probe", "probe %s", x);
        tries++;
        if (strcmp(l, "probe EINVAL EINVAL EINVAL") != 0) {
            if (!bad++)
                snprintf(first_bad, sizeof first_bad, "pattern %d on %s: %s", i % 5, x, l);
            char r1[32] = "", r2[32] = "";
            sscanf(l, "probe %31s %31s", r1, r2);
            victim_posts += strcmp(r1, "0") == 0;
            victim_waits += strcmp(r2, "0") == 0;
        }
    }
    s_check(s, bad == 0, "%d random sem_t's (5 patterns, over A and B): the victim's post, "
                         "trywait and getvalue failed with EINVAL every time%s%s",
            tries, bad ? "; not so: " : "", first_bad);
    ask(&P.a, "ok", "restore A");
    ask(&P.a, "ok", "restore B");
    ask(&P.a, "ok", "own A");
    const char *l = ask(&P.v, "probe", "probe A");
    s_check(s, strcmp(l, "probe EINVAL EINVAL EINVAL") == 0,
            "the attacker's own valid (shim) sem_t copied over A: victim gets \"%s\"", l);
    ask(&P.a, "ok", "restore A");
    ask(&P.a, "ok", "glibc-add A 1");
    l = ask(&P.v, "probe", "probe A");
    s_check(s, strcmp(l, "probe EINVAL EINVAL EINVAL") == 0,
            "the glibc attack (+1 on the first word, futex wake) on A: victim gets \"%s\"", l);
    ask(&P.a, "ok", "restore A");
    int va = ask_value(&P.v, "A"), vb = ask_value(&P.v, "B");
    s_check(s, va == 0 && vb == 0, "after the attacker restored the bytes: A = %d, B = %d (no "
                                   "permit was created)",
            va, vb);
    /* (b) a swap among the victim's own semaphores */
    ask(&P.a, "ok", "copy B A");
    char posted[LAB_LINE];
    snprintf(posted, sizeof posted, "%s", ask(&P.v, "r ", "post A"));
    if (strcmp(posted, "r 0") == 0)
        victim_posts++;
    int vb2 = ask_value(&P.v, "B");
    ask(&P.a, "ok", "restore A");
    int va2 = ask_value(&P.v, "A");
    s_note(s, "B's bytes copied over A: the victim's sem_post(A) -> \"%s\"; then B = %d, A = %d. "
              "A swap among semaphores the victim holds is possible (documented, not claimed)",
           posted, vb2, va2);
    if (strcmp(ask(&P.v, "r ", "trywait B"), "r 0") == 0)
        victim_waits++;
    /* the core's books: every permit is one of the victim's own posts */
    uint64_t posts = 0, waits = 0;
    int consistent = 1, found = 0;
    for (int i = 0; i < NSEM; i++) {
        struct sem_info_lite inf;
        if (admin_find_handle(lab.sock, P.h[i].handle, &inf) == 0) {
            found++;
            posts += inf.posts;
            waits += inf.waits;
            consistent &= inf.value == inf.posts - inf.waits && inf.value == 0;
        }
    }
    s_check(s, found == NSEM && consistent && posts == (uint64_t)victim_posts &&
                   waits == (uint64_t)victim_waits,
            "esemd's counters for A, B, C (%d of %d found): %llu posts, %llu waits, values 0 = "
            "posts - waits; the victim's own successful calls: %d posts, %d waits: no permit came "
            "from the attacker",
            found, NSEM, (unsigned long long)posts, (unsigned long long)waits, victim_posts, victim_waits);
    pair_end(&P);
    s_summary(s, "random bytes (200, 5 patterns), the attacker's own sem_t, the glibc write: "
                 "EINVAL every time, no permit; copying B over A makes the victim's post go to B "
                 "(a swap among its own semaphores: documented); counters match the victim's "
                 "own %d posts",
              victim_posts);
}

static void forge_run(struct side *s, int esem)
{
    char priv[128];
    lab_name(priv, sizeof priv, esem ? "forge-priv-e" : "forge-priv-g");
    struct pair P;
    if (pair_start(s, &P, esem, priv) < 0)
        return;
    s_note(s, "the victim holds %s (0600, sem_open'ed, not in the segment); the segment holds "
              "A, B, C",
           priv);
    const char *l = ask(&P.a, "", "forge A %s", priv);
    char forged[LAB_LINE];
    snprintf(forged, sizeof forged, "%s", l);
    s_note(s, "attacker: %s", forged);
    char post[LAB_LINE];
    snprintf(post, sizeof post, "%s", ask(&P.v, "r ", "post A"));
    int vp = ask_value(&P.v, "P");
    s_check(s, vp == 0, "the victim's sem_post on the segment's A answered \"%s\"; its private %s "
                        "now has value %d%s",
            post, priv, vp,
            vp ? ": the segment writer released a semaphore that is not in the segment" : "");
    pair_end(&P);
    if (esem)
        s_summary(s, "%s", vp ? "tag key recovered from 3 sem_t's; forged sem_t posted the "
                                "victim's private semaphore"
                              : "forged sem_t refused; the private semaphore was not reached");
    else
        s_summary(s, "glibc's sem_t refers to nothing outside itself: the segment writer cannot "
                     "reach the private semaphore (value %d)",
                  vp);
}

void forge_glibc(struct side *s)
{
    forge_run(s, 0);
}

void forge_esem(struct side *s)
{
    forge_run(s, 1);
}
