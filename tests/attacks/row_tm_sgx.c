/*
 * Attack tm-sgx: a SIMULATED privileged attacker (TM-SGX).  This machine has
 * no SGX: nothing here runs in an enclave, and nothing here claims enclave
 * protection.  Under TM-SGX the kernel, esemd and all memory outside the
 * enclave are hostile; the lab, running as root, plays that attacker.
 *
 * Part (a), channel memory, real esemd and real clients.  esemd runs with
 * --keyring.  A victim (uid 64000) creates a semaphore and blocks a thread in
 * esem_wait.  The attacker (root) finds the victim's channel mapping in
 * /proc/PID/maps ("memfd:esem-channel"), reads and writes it through
 * /proc/PID/mem and maps it through /proc/PID/map_files (for FUTEX_WAKE):
 *   - forged grant: rep_seq = the pending request, status 0, cstatus 0, a
 *     garbage rmac, futex woken;
 *   - duplicate: a post request delivered twice (req_seq moved away and
 *     back: the daemon hands the same bytes to the core again);
 *   - replay: an old post request (its fields and MAC, saved earlier) put
 *     back with its old number, and with a newer number;
 *   - altered: esemd stopped (SIGSTOP), a fresh post request's handle
 *     flipped by one bit in the channel, esemd continued.
 *   Key session (ESEM_KEY_FILE, strict semaphore owned by the key): every
 *   one refused — the waiter stays blocked until a real post, EBADMSG in
 *   `esemctl audit --json`, value == posts - waits.  PID session: the same
 *   attacks, recorded honestly: the forged grant releases the waiter, a
 *   replayed or duplicated post creates a permit.
 *   glibc: root writes the value word of /dev/shm/sem.NAME and wakes the
 *   waiter.
 *
 * Part (b), the host's message path, simulated (row_tm_sgx_host_path.c): a process that links the
 * trusted core itself (enclave/esem_core.h, in malloc'd memory) plays a
 * compromised host between a simulated client (MACs computed with
 * enclave/core_auth.h exactly like libesem) and the core: forged posts (no
 * MAC, bad MAC, direct CORE_ECALL_SEM_POST), replay, reorder, duplicate,
 * drop, a grant for a waiter the core never granted, lies about identity,
 * forged inheritance.  After each: value + grants held by the host ==
 * genuine posts - completed waits, and no waiter accepted a grant without
 * the core's MAC.  Then a PID session, where the attacker posts and grants
 * at will (recorded, expected).
 */
#include "lab.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <dirent.h>

#include <sodium.h>

#include "core_auth.h"
#include "esem.h"
#include "esem_core.h"
#include "proto.h"

static pthread_mutex_t say_mu = PTHREAD_MUTEX_INITIALIZER;
#define SAY(...)                                                                                   \
    do {                                                                                           \
        pthread_mutex_lock(&say_mu);                                                               \
        say(__VA_ARGS__);                                                                          \
        pthread_mutex_unlock(&say_mu);                                                             \
    } while (0)

/* ------------------------------------------------------------------ */
/* part (a): the victim                                                 */

struct vstate {
    int glibc;
    void *s;
};
static struct vstate victim_sem;

static void *waiter_thread(void *arg)
{
    (void)arg;
    int r = victim_sem.glibc ? sem_wait(victim_sem.s) : esem_wait(victim_sem.s);
    SAY("woke %s", r == 0 ? "0" : errname(errno));
    return NULL;
}

static void *poster_thread(void *arg)
{
    (void)arg;
    int r = esem_post(victim_sem.s);
    SAY("bgposted %s", r == 0 ? "0" : errname(errno));
    return NULL;
}

/* sgx-victim KIND(key|pid|glibc) NAME */
int role_sgx_victim(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *name = argv[2];
    victim_sem.glibc = strcmp(argv[1], "glibc") == 0;
    int key = strcmp(argv[1], "key") == 0;
    if (victim_sem.glibc)
        victim_sem.s = nsem_backend("glibc")->open(name, O_CREAT | O_EXCL, 0600, 0);
    else
        victim_sem.s = esem_open(name, O_CREAT | O_EXCL | (key ? ESEM_O_STRICT : 0), 0600, 0);
    if (!victim_sem.s) {
        SAY("error open: %s", errname(errno));
        return 1;
    }
    SAY("ready");
    char cmd[128];
    pthread_t t;
    while (hear(cmd, sizeof cmd, 80000) == 0) {
        if (strcmp(cmd, "post") == 0) {
            int r = victim_sem.glibc ? sem_post(victim_sem.s) : esem_post(victim_sem.s);
            SAY("posted %s", r == 0 ? "0" : errname(errno));
        } else if (strcmp(cmd, "trywait") == 0) {
            int r = victim_sem.glibc ? sem_trywait(victim_sem.s) : esem_trywait(victim_sem.s);
            SAY("trywaited %s", r == 0 ? "0" : errname(errno));
        } else if (strcmp(cmd, "value") == 0) {
            int v = -1;
            if (victim_sem.glibc)
                sem_getvalue(victim_sem.s, &v);
            else
                esem_getvalue(victim_sem.s, &v);
            SAY("value %d", v);
        } else if (strcmp(cmd, "wait") == 0) {
            if (pthread_create(&t, NULL, waiter_thread, NULL) == 0)
                pthread_detach(t);
            SAY("waiting");
        } else if (strcmp(cmd, "postbg") == 0) {
            if (pthread_create(&t, NULL, poster_thread, NULL) == 0)
                pthread_detach(t);
            SAY("posting");
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    if (victim_sem.glibc)
        sem_unlink(name);
    else
        esem_unlink(name);
    SAY("done");
    fflush(stdout);
    _exit(0); /* a thread may still be blocked (an altered request is never answered) */
}

/* ------------------------------------------------------------------ */
/* part (a): the attacker (root)                                        */

static struct {
    pid_t pid;
    int mem;              /* /proc/PID/mem */
    uintptr_t base;       /* the channel in the victim */
    struct esem_chan *map; /* the same memory mapped here (map_files) */
    int bell;             /* the victim's doorbell eventfd, taken with pidfd_getfd */
    struct esem_slot saved;
    int saved_k;
} A;

/* The daemon sleeps when idle: a client rings the doorbell eventfd it got
 * at connect.  The attacker takes a copy of the victim's (pidfd_getfd). */
static void get_bell(void)
{
    char p[64], t[128], l[128];
    snprintf(p, sizeof p, "/proc/%d/fd", (int)A.pid);
    DIR *d = opendir(p);
    if (!d)
        return;
    int pfd = (int)syscall(SYS_pidfd_open, A.pid, 0);
    struct dirent *e;
    while (pfd >= 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(t, sizeof t, "%s/%.20s", p, e->d_name);
        ssize_t n = readlink(t, l, sizeof l - 1);
        if (n <= 0)
            continue;
        l[n] = 0;
        if (strcmp(l, "anon_inode:[eventfd]") == 0) {
            A.bell = (int)syscall(SYS_pidfd_getfd, pfd, atoi(e->d_name), 0);
            break;
        }
    }
    if (pfd >= 0)
        close(pfd);
    closedir(d);
}

static void ring_bell(void)
{
    uint64_t one = 1;
    if (A.bell >= 0 && write(A.bell, &one, sizeof one) < 0)
        return;
}

static int mem_read(uintptr_t addr, void *buf, size_t n)
{
    return pread(A.mem, buf, n, (off_t)addr) == (ssize_t)n ? 0 : -1;
}

static int mem_write(uintptr_t addr, const void *buf, size_t n)
{
    return pwrite(A.mem, buf, n, (off_t)addr) == (ssize_t)n ? 0 : -1;
}

static uintptr_t slot_addr(int k)
{
    return A.base + offsetof(struct esem_chan, slot) + (size_t)k * sizeof(struct esem_slot);
}
#define SLOT_FIELD(k, f) (slot_addr(k) + offsetof(struct esem_slot, f))

static int find_channel(void)
{
    char p[64], line[512];
    snprintf(p, sizeof p, "/proc/%d/maps", (int)A.pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return -1;
    unsigned long lo = 0, hi = 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "esem-channel") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found)
        return -1;
    A.base = lo;
    snprintf(p, sizeof p, "/proc/%d/mem", (int)A.pid);
    A.mem = open(p, O_RDWR | O_CLOEXEC);
    if (A.mem < 0)
        return -1;
    snprintf(p, sizeof p, "/proc/%d/map_files/%lx-%lx", (int)A.pid, lo, hi);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        void *m = mmap(NULL, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        A.map = m == MAP_FAILED ? NULL : m;
    }
    get_bell();
    return 0;
}

/* A slot whose op is `op`: pending (req_seq != rep_seq) or answered. */
static int find_slot(uint32_t op, int pending)
{
    for (int k = 0; k < (int)ESEM_NSLOTS; k++) {
        struct esem_slot s;
        if (mem_read(slot_addr(k), &s, offsetof(struct esem_slot, name)) < 0)
            return -1;
        if (s.req_seq == 0 || s.op != op)
            continue;
        if (pending ? s.req_seq != s.rep_seq : s.req_seq == s.rep_seq)
            return k;
    }
    return -1;
}

static uint32_t rd32(uintptr_t a)
{
    uint32_t v = 0;
    mem_read(a, &v, sizeof v);
    return v;
}

static int wait_rep(int k, uint32_t seq, int ms)
{
    long t0 = now_ms();
    while (now_ms() - t0 < ms) {
        if (rd32(SLOT_FIELD(k, rep_seq)) == seq)
            return 0;
        sleep_ms(2);
    }
    return -1;
}

static void futex_wake_slot(int k)
{
    if (A.map)
        syscall(SYS_futex, &A.map->slot[k].rep_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Write a request (fields, MAC) into slot k, then req_seq = seq. */
static void put_request(int k, const struct esem_slot *r, uint32_t seq)
{
    size_t from = offsetof(struct esem_slot, op), to = offsetof(struct esem_slot, rep_seq);
    mem_write(slot_addr(k) + from, (const char *)r + from, to - from);
    mem_write(SLOT_FIELD(k, name), r->name, sizeof r->name);
    mem_write(SLOT_FIELD(k, req_seq), &seq, sizeof seq);
    ring_bell();
}

static int stop_wait(pid_t d, char want)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/task", (int)d);
    for (int tries = 0; tries < 500; tries++) {
        DIR *dir = opendir(p);
        if (!dir)
            return -1;
        int all = 1;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char sp[400], st[512];
            snprintf(sp, sizeof sp, "%s/%.200s/stat", p, e->d_name);
            FILE *f = fopen(sp, "re");
            if (!f)
                continue;
            size_t n = fread(st, 1, sizeof st - 1, f);
            fclose(f);
            st[n] = 0;
            char *q = strrchr(st, ')');
            if (q && q[1] == ' ' && (q[2] == want) != 1)
                all = 0;
        }
        closedir(dir);
        if (all)
            return 0;
        sleep_ms(2);
    }
    return -1;
}

/* sgx-attacker VICTIM_PID — commands on stdin, answers on stdout */
int role_sgx_attacker(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    A.pid = (pid_t)atoi(argv[1]);
    A.mem = -1;
    A.bell = -1;
    A.saved_k = -1;
    char cmd[256];
    while (hear(cmd, sizeof cmd, 80000) == 0) {
        char arg[200];
        unsigned u;
        if (strcmp(cmd, "find") == 0) {
            if (find_channel() < 0) {
                say("notfound %s", errname(errno));
                continue;
            }
            say("found %#lx (map_files: %s; doorbell: %s)", (unsigned long)A.base,
                A.map ? "mapped" : "no", A.bell >= 0 ? "taken with pidfd_getfd" : "no");
        } else if (strcmp(cmd, "snap") == 0) {
            /* the last answered post request of the victim: keep its bytes */
            int k = find_slot(ESEM_OP_POST, 0);
            if (k < 0 || mem_read(slot_addr(k), &A.saved, sizeof A.saved) < 0) {
                say("snapped -1 0");
                continue;
            }
            A.saved_k = k;
            say("snapped %d %u", k, A.saved.req_seq);
        } else if (strcmp(cmd, "dup") == 0 && A.saved_k >= 0) {
            /* Deliver the same post twice: move req_seq away (a stale MAC
             * under a new number) and back (the very same bytes again). */
            int k = A.saved_k;
            uint32_t n = A.saved.req_seq, away = n + 0x100;
            put_request(k, &A.saved, away);
            int r1 = wait_rep(k, away, 3000);
            put_request(k, &A.saved, n);
            int r2 = wait_rep(k, n, 3000);
            int32_t st = (int32_t)rd32(SLOT_FIELD(k, status));
            say("dupped %d %d status %d", r1, r2, st);
        } else if (sscanf(cmd, "replay %u", &u) == 1 && A.saved_k >= 0) {
            int k = A.saved_k;
            uint32_t cur = rd32(SLOT_FIELD(k, req_seq));
            put_request(k, &A.saved, u);
            int r = wait_rep(k, u, 3000);
            int32_t st = (int32_t)rd32(SLOT_FIELD(k, status));
            say("replayed %d was %u status %d", r, cur, st);
        } else if (strcmp(cmd, "forge") == 0) {
            int k = find_slot(ESEM_OP_WAIT, 1);
            if (k < 0) {
                say("forged -1 0 0");
                continue;
            }
            uint32_t seq = rd32(SLOT_FIELD(k, req_seq));
            int32_t zero = 0;
            uint8_t junk[CORE_MAC_BYTES];
            randombytes_buf(junk, sizeof junk);
            mem_write(SLOT_FIELD(k, status), &zero, sizeof zero);
            mem_write(SLOT_FIELD(k, cstatus), &zero, sizeof zero);
            mem_write(SLOT_FIELD(k, rvalue), &zero, sizeof zero);
            uint64_t z64 = 0;
            mem_write(SLOT_FIELD(k, rhandle), &z64, sizeof z64);
            mem_write(SLOT_FIELD(k, rmac), junk, sizeof junk);
            mem_write(SLOT_FIELD(k, rep_seq), &seq, sizeof seq);
            futex_wake_slot(k);
            sleep_ms(1500); /* past the client's 1-s periodic re-check too */
            uint32_t after = rd32(SLOT_FIELD(k, rep_seq));
            say("forged %d %u %u", k, seq, after);
        } else if (sscanf(cmd, "stop %u", &u) == 1) {
            int r = kill((pid_t)u, SIGSTOP);
            say("stopped %d", r == 0 ? stop_wait((pid_t)u, 'T') : -1);
        } else if (sscanf(cmd, "cont %u", &u) == 1) {
            say("continued %d", kill((pid_t)u, SIGCONT));
        } else if (strcmp(cmd, "alter") == 0) {
            /* a fresh post request the (stopped) daemon has not read yet */
            int k = -1;
            for (long t0 = now_ms(); k < 0 && now_ms() - t0 < 3000; sleep_ms(5))
                k = find_slot(ESEM_OP_POST, 1);
            if (k < 0) {
                say("altered -1 0");
                continue;
            }
            uint8_t b = 0;
            mem_read(SLOT_FIELD(k, handle), &b, 1);
            b ^= 0x01;
            mem_write(SLOT_FIELD(k, handle), &b, 1);
            say("altered %d %u", k, rd32(SLOT_FIELD(k, req_seq)));
        } else if (sscanf(cmd, "glibc %199s", arg) == 1) {
            int fd = open(arg, O_RDWR | O_CLOEXEC);
            void *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                              : MAP_FAILED;
            if (fd >= 0)
                close(fd);
            if (m == MAP_FAILED) {
                say("glibc-forged %s", errname(errno));
                continue;
            }
            glibc_sem_forge_post(m, 1);
            munmap(m, 4096);
            say("glibc-forged 0");
        } else if (strcmp(cmd, "end") == 0) {
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* part (a): the orchestrator's side                                    */

/* EBADMSG refusals of pid in `esemctl audit --json` (-1: esemctl failed). */
static int audit_ebadmsg(const char *sock, pid_t pid)
{
    const char *ctl = getenv("ESEMCTL");
    if (!ctl || !*ctl)
        return -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --socket '%s' audit --json 2>/dev/null", ctl, sock);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    if (!b) {
        pclose(f);
        return -1;
    }
    size_t k;
    while (n + 1 < cap && (k = fread(b + n, 1, cap - n - 1, f)) > 0)
        n += k;
    b[n] = 0;
    int st = pclose(f);
    if (st != 0) {
        free(b);
        return -1;
    }
    char needle[64];
    snprintf(needle, sizeof needle, "\"pid\":%d,", (int)pid);
    int cnt = 0;
    for (char *q = b; (q = strstr(q, needle)) != NULL; q++) {
        char *end = strchr(q, '}');
        char *e = strstr(q, "\"errno\":\"EBADMSG\"");
        if (end && e && e < end)
            cnt++;
    }
    free(b);
    return cnt;
}

/* Is a "woke" line there within ms? */
static int woke_within(struct proc *v, int ms, char *line, size_t len)
{
    return proc_expect(v, "woke", line, len, ms) == 0;
}

static int vcmd(struct proc *v, const char *cmd, const char *reply, char *line, size_t len)
{
    proc_cmd(v, "%s", cmd);
    return proc_expect(v, reply, line, len, 5000);
}

struct keyfiles {
    char dir[64], ring[128], client[128];
};

static int make_keys(struct keyfiles *kf)
{
    snprintf(kf->dir, sizeof kf->dir, "/tmp/esemlab-keys-XXXXXX");
    if (!mkdtemp(kf->dir) || chmod(kf->dir, 0711) < 0)
        return -1;
    snprintf(kf->ring, sizeof kf->ring, "%s/keyring", kf->dir);
    snprintf(kf->client, sizeof kf->client, "%s/client.key", kf->dir);
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    sodium_memzero(key, sizeof key);
    const char *files[2] = {kf->ring, kf->client};
    for (int i = 0; i < 2; i++) {
        int fd = open(files[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return -1;
        int ok = dprintf(fd, "%s\n", hex) == 65;
        close(fd);
        if (!ok)
            return -1;
    }
    /* the daemon's keyring: its euid's (the lab's), 0600; the client's copy:
     * the victim's uid, 0600 */
    if (lab.root && chown(kf->client, lab.lab_uid, lab.lab_gid) < 0)
        return -1;
    return 0;
}

static void remove_keys(struct keyfiles *kf)
{
    unlink(kf->ring);
    unlink(kf->client);
    rmdir(kf->dir);
}

struct chan_result {
    int released_by_forgery; /* the forged grant released the waiter */
    int replay_created;      /* replayed/duplicated posts the core counted */
    int ok;                  /* the run completed */
};

/* One victim (key or pid session) against the channel attacker. */
static void chan_attack(struct side *s, const struct daemon *d, int keyed, const char *keyfile,
                        struct chan_result *res)
{
    const char *who = keyed ? "key session" : "PID session";
    memset(res, 0, sizeof *res);
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, keyed ? "sgx-key" : "sgx-pid");
    struct proc v, a;
    if (keyed)
        setenv("ESEM_KEY_FILE", keyfile, 1);
    int vs = proc_start(&v, WHO_LAB, 0, "sgx-victim", keyed ? "key" : "pid", name, NULL);
    if (keyed)
        unsetenv("ESEM_KEY_FILE");
    if (vs < 0 || proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "%s: victim did not start (%s)", who, vs < 0 ? "spawn" : line);
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    char vp[16];
    snprintf(vp, sizeof vp, "%d", (int)v.pid);
    if (proc_start(&a, WHO_ROOT, 0, "sgx-attacker", vp, NULL) < 0) {
        s_error(s, "%s: cannot start the attacker", who);
        proc_cmd(&v, "end");
        proc_end(&v);
        return;
    }
    struct sem_info_lite inf;
    int ebad0 = audit_ebadmsg(d->sock, v.pid);
    /* history: a post (saved by the attacker), a duplicate of it, a trywait */
    if (vcmd(&v, "post", "posted", line, sizeof line) < 0 || strcmp(line, "posted 0") != 0) {
        s_error(s, "%s: the victim's own post failed: %s", who, line);
        goto out;
    }
    proc_cmd(&a, "find");
    if (proc_expect(&a, "found", line, sizeof line, 5000) < 0) {
        s_error(s, "%s: the attacker did not find the channel in /proc/%d/maps", who, (int)v.pid);
        goto out;
    }
    s_note(s, "%s: SIMULATED TM-SGX attacker (root) found the victim's channel: %s", who,
           line + 6);
    int k = -1;
    unsigned seq = 0;
    proc_cmd(&a, "snap");
    if (proc_expect(&a, "snapped", line, sizeof line, 5000) < 0 ||
        sscanf(line, "snapped %d %u", &k, &seq) != 2 || k < 0) {
        s_error(s, "%s: the attacker found no answered post request to save", who);
        goto out;
    }
    proc_cmd(&a, "dup");
    proc_expect(&a, "dupped", line, sizeof line, 10000);
    admin_find_name(d->sock, name, &inf);
    if (keyed) {
        s_check(s, inf.value == 1 && inf.posts == 1,
                "%s: a duplicated post request (slot %d, request %u, delivered again, also under "
                "a newer number): refused (%s), value %u, %llu post counted", who, k, seq,
                line + 7, inf.value, (unsigned long long)inf.posts);
    } else {
        res->replay_created += (int)inf.posts - 1;
        s_check(s, inf.posts > 1,
                "%s (expected weakness): a duplicated post request was executed again: value %u, "
                "%llu posts counted for 1 esem_post", who, inf.value,
                (unsigned long long)inf.posts);
    }
    /* take the permits back so that the waiter below blocks */
    for (unsigned i = 0; i < inf.value; i++)
        vcmd(&v, "trywait", "trywaited", line, sizeof line);
    vcmd(&v, "wait", "waiting", line, sizeof line);
    if (admin_wait_waiters(d->sock, name, 0, 1, 5000) < 0) {
        s_error(s, "%s: the victim's waiter did not block", who);
        goto out;
    }
    admin_find_name(d->sock, name, &inf);
    uint64_t posts0 = inf.posts, waits0 = inf.waits;
    /* 1. forged grant */
    proc_cmd(&a, "forge");
    int wk = -1;
    unsigned wseq = 0, after = 0;
    if (proc_expect(&a, "forged", line, sizeof line, 10000) < 0 ||
        sscanf(line, "forged %d %u %u", &wk, &wseq, &after) != 3 || wk < 0) {
        s_error(s, "%s: the attacker found no pending wait to forge a grant for", who);
        goto out;
    }
    int woke = woke_within(&v, 500, line, sizeof line);
    admin_find_name(d->sock, name, &inf);
    if (keyed) {
        s_check(s, !woke && inf.nwaiters == 1 && inf.value == 0,
                "%s: forged grant (slot %d: rep_seq = %u, status 0, cstatus 0, garbage rmac, "
                "futex woken): the waiter is still blocked 2 s later (%s; the client put rep_seq "
                "back to %u); the core still queues it, value %u",
                who, wk, wseq, woke ? "RELEASED" : "no return", after, inf.value);
    } else {
        res->released_by_forgery = woke && strcmp(line, "woke 0") == 0;
        s_check(s, res->released_by_forgery,
                "%s (expected weakness): the forged grant (slot %d, rep_seq = %u, status 0) "
                "released the waiter: \"%s\" — no post by anyone (core posts %llu -> %llu), the "
                "core still lists %u waiter(s)",
                who, wk, wseq, woke ? line : "no return", (unsigned long long)posts0,
                (unsigned long long)inf.posts, inf.nwaiters);
    }
    /* 2. replay the saved post with its old number, then with a newer one */
    proc_cmd(&a, "replay %u", seq);
    proc_expect(&a, "replayed", line, sizeof line, 10000);
    char rline[128];
    snprintf(rline, sizeof rline, "%.100s", line);
    proc_cmd(&a, "replay %u", seq + 0x7000u);
    proc_expect(&a, "replayed", line, sizeof line, 10000);
    admin_find_name(d->sock, name, &inf);
    if (keyed) {
        woke = proc_expect(&v, "woke", line, sizeof line, 300) == 0;
        s_check(s, !woke && inf.nwaiters == 1 && inf.value == 0 && inf.posts == posts0,
                "%s: the saved post (request %u, its own MAC) replayed with its old number and "
                "with a newer one (%u): both refused (%s), the waiter still blocked, value %u, "
                "posts %llu",
                who, seq, seq + 0x7000u, rline + 9, inf.value, (unsigned long long)inf.posts);
    } else {
        res->replay_created += (int)(inf.posts - posts0);
        s_check(s, inf.posts > posts0,
                "%s (expected weakness): the saved post replayed (old number, then a newer one) "
                "was executed: core posts %llu -> %llu, value %u, no esem_post by anyone",
                who, (unsigned long long)posts0, (unsigned long long)inf.posts, inf.value);
    }
    if (keyed) {
        /* 3. altered in flight: stop esemd, let the victim post, flip a bit */
        char dcmd[32];
        snprintf(dcmd, sizeof dcmd, "stop %d", (int)d->pid);
        proc_cmd(&a, "%s", dcmd);
        proc_expect(&a, "stopped", line, sizeof line, 5000);
        int stopped = strcmp(line, "stopped 0") == 0;
        vcmd(&v, "postbg", "posting", line, sizeof line);
        proc_cmd(&a, "alter");
        proc_expect(&a, "altered", line, sizeof line, 10000);
        char aline[64];
        snprintf(aline, sizeof aline, "%.40s", line + 8);
        snprintf(dcmd, sizeof dcmd, "cont %d", (int)d->pid);
        proc_cmd(&a, "%s", dcmd);
        proc_expect(&a, "continued", line, sizeof line, 5000);
        sleep_ms(300);
        woke = proc_expect(&v, "woke", line, sizeof line, 300) == 0;
        admin_find_name(d->sock, name, &inf);
        s_check(s, stopped && strncmp(aline, "-1", 2) != 0 && !woke && inf.nwaiters == 1 &&
                       inf.posts == posts0,
                "%s: a post request altered in flight (esemd stopped, one bit of its handle "
                "flipped in slot/request %s, esemd continued): refused, the waiter still "
                "blocked, posts %llu",
                who, aline, (unsigned long long)inf.posts);
        s_note(s, "%s: the victim's altered esem_post gets no reply it can accept (the refusal "
                  "carries no core MAC): that call stays blocked — a denial of service, outside "
                  "TM-SGX's claims",
               who);
        int ebad = audit_ebadmsg(d->sock, v.pid);
        s_check(s, ebad0 >= 0 && ebad - ebad0 >= 5,
                "%s: `esemctl audit --json` lists %d EBADMSG refusals for the victim's pid %d "
                "(duplicate x2, replay x2, altered x1)",
                who, ebad - ebad0, (int)v.pid);
        /* 4. the real post releases the waiter */
        /* the waiter's "woke" may come before the poster's "posted" */
        proc_cmd(&v, "post");
        woke = 0;
        int posted = 0;
        char wline[64] = "";
        for (long t0 = now_ms(); (!woke || !posted) && now_ms() - t0 < 5000;) {
            if (proc_line(&v, line, sizeof line, 200) < 0)
                continue;
            if (strncmp(line, "woke", 4) == 0) {
                woke = 1;
                snprintf(wline, sizeof wline, "%.60s", line);
            } else if (strncmp(line, "posted", 6) == 0) {
                posted = 1;
            }
        }
        snprintf(line, sizeof line, "%s", wline);
        admin_find_name(d->sock, name, &inf);
        s_check(s, woke && strcmp(line, "woke 0") == 0 && inf.value == 0 &&
                       inf.posts == posts0 + 1 && inf.waits == waits0 + 1 &&
                       inf.value == inf.posts - inf.waits,
                "%s: the victim's real esem_post released the waiter (\"%s\"); value %u == posts "
                "%llu - waits %llu: no permit created or lost",
                who, woke ? line : "no return", inf.value, (unsigned long long)inf.posts,
                (unsigned long long)inf.waits);
    }
    res->ok = 1;
out:
    proc_cmd(&a, "end");
    proc_end(&a);
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
}

/* ------------------------------------------------------------------ */

void sgx_glibc(struct side *s)
{
    if (!lab.root) {
        s_skip(s, "the simulated privileged attacker needs root");
        return;
    }
    char name[128], line[LAB_LINE], path[256];
    lab_name(name, sizeof name, "sgx-glibc");
    snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
    struct proc v, a;
    if (proc_start(&v, WHO_LAB, 0, "sgx-victim", "glibc", name, NULL) < 0 ||
        proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_kill(&v);
        proc_end(&v);
        return;
    }
    vcmd(&v, "wait", "waiting", line, sizeof line);
    uint32_t val = 0, nw = 0;
    for (long t0 = now_ms(); now_ms() - t0 < 5000; sleep_ms(5))
        if (glibc_file_sem(path, 0, &val, &nw) == 0 && nw == 1)
            break;
    char vp[16];
    snprintf(vp, sizeof vp, "%d", (int)v.pid);
    int woke = 0;
    if (proc_start(&a, WHO_ROOT, 0, "sgx-attacker", vp, NULL) == 0) {
        proc_cmd(&a, "glibc %s", path);
        proc_expect(&a, "glibc-forged", line, sizeof line, 5000);
        s_note(s, "SIMULATED privileged attacker (root) wrote +1 into the value word of %s and "
                  "woke its futex: %s",
               path, line + 13);
        woke = woke_within(&v, 3000, line, sizeof line);
        proc_cmd(&a, "end");
        proc_end(&a);
    } else {
        s_error(s, "cannot start the attacker");
    }
    s_check(s, woke && strcmp(line, "woke 0") == 0,
            "the waiter (%d waiter(s) on the futex) returned from sem_wait with no sem_post by "
            "anyone: \"%s\"",
            (int)nw, woke ? line : "no return");
    proc_cmd(&v, "end");
    proc_expect(&v, "done", line, sizeof line, 5000);
    proc_end(&v);
    s_summary(s, "SIMULATED privileged attacker: root wrote the value word of /dev/shm/sem.NAME "
                 "and woke the futex: the waiter returned with no sem_post (nothing to "
                 "authenticate a permit)");
}

static void run_sim(struct side *s, const char *mode)
{
    struct proc p;
    if (proc_start(&p, WHO_LAB, 0, "sgx-sim", mode, NULL) < 0) {
        s_error(s, "cannot start the simulated host (%s)", mode);
        return;
    }
    relay(&p, s, log_mark(), 30000);
    proc_end(&p);
}

void sgx_esem(struct side *s)
{
    if (!lab.root) {
        s_skip(s, "the simulated privileged attacker needs root");
        return;
    }
    s_note(s, "TM-SGX is SIMULATED: no SGX hardware; root plays the hostile kernel/host");
    struct keyfiles kf;
    if (make_keys(&kf) < 0) {
        s_error(s, "cannot write the keyring: %s", strerror(errno));
        remove_keys(&kf);
        return;
    }
    struct daemon kd;
    const char *extra[] = {"--keyring", kf.ring, NULL};
    struct chan_result key = {0}, pid = {0};
    if (daemon_start_args(&kd, 0, extra) < 0) {
        s_error(s, "cannot start esemd --keyring");
        if (kd.pid > 0)
            daemon_stop(&kd);
    } else {
        const char *osock = lab.sock, *olog = lab.log;
        lab.sock = kd.sock;
        lab.log = kd.log;
        chan_attack(s, &kd, 1, kf.client, &key);
        chan_attack(s, &kd, 0, NULL, &pid);
        lab.sock = osock;
        lab.log = olog;
        if (daemon_stop(&kd) < 0)
            s_error(s, "esemd --keyring did not stop cleanly (kept %s)", kd.dir);
        else if (s->nfailed)
            s_note(s, "kept esemd --keyring's directory %s", kd.dir);
        else
            daemon_remove_files(&kd);
    }
    remove_keys(&kf);
    run_sim(s, "key");
    run_sim(s, "pid");
    s_summary(s, "SIMULATED privileged attacker (no SGX). PID session (expected, the honest "
                 "outcome, not a failure): the forged grant in the channel %s the waiter; "
                 "replayed and duplicated post requests created %d permit(s) in esemd; the "
                 "simulated host posts and grants at will. KEY SESSION (what passes the row): "
                 "channel memory (real esemd, root writes /proc/PID/mem): forged grant ignored, "
                 "the waiter blocked until the real post; duplicated, replayed (old and newer "
                 "number) and altered requests refused EBADMSG, in esemctl audit; value == posts "
                 "- waits. Host message path (core linked, simulated host): forged (no/bad MAC, "
                 "direct ecall), replayed, reordered, duplicated posts CORE_E_AUTH; a dropped "
                 "request harmless; made-up grants rejected by the client's MAC check; identity "
                 "lies, forged inheritance and a replayed hello refused; no permit created or "
                 "lost",
              pid.released_by_forgery ? "released" : "did NOT release", pid.replay_created);
}
