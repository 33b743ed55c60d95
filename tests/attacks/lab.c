/*
 * esem-attacklab: the orchestrator (the rows, their table, JSON, exit
 * status), small helpers, the named-semaphore backends and the dispatcher
 * of the roles.  The processes are lab_proc.c, the private esemd
 * lab_daemon.c, each row a row_NAME.c.  See lab.h.
 *
 *   esem-attacklab [--json] [--only NAME] [--list] [--keep] [--verbose]
 *
 * Exit status: 0 if every row passed (glibc showed the weakness, or behaved
 * the same where the row says so, AND esem defeated the attack); 1 if any row
 * failed; 77 (meson: skipped) if none failed but some step could not run
 * (the other-uid attacker needs root).
 */
#include "lab.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "esem.h"
#include "launch.h"

struct lab lab;

static const struct attack attacks[] = {
    {"view-consistency", "TM-host",
     "producer/consumer (paper Fig. 1): an unrelated process releases the consumer before the "
     "producer published",
     1, 0, view_glibc, view_esem},
    {"other-uid", "TM-host",
     "another uid opens, posts, waits on, unlinks a 0600 semaphore; writes one it may open", 1, 1,
     uid_glibc, uid_esem},
    {"pid-reuse", "TM-host",
     "a process that got a dead client's PID uses the dead client's semaphores", 1, 0, pid_glibc,
     pid_esem},
    {"daemon-memory", "TM-host",
     "a same-uid peer reads/writes the memory holding the semaphores (/proc/PID/mem, ptrace, "
     "process_vm_*)",
     1, 0, mem_glibc, mem_esem},
    {"shim-handle-swap", "TM-host",
     "a writer of a shared segment scribbles on / swaps the sem_t's of a shim'd victim", 1, 0,
     swap_glibc, swap_esem},
    {"shim-tag-forgery", "TM-host",
     "a writer of a shared segment recovers the shim's tag key and points a sem_t at a semaphore "
     "the victim holds outside the segment",
     0, 0, forge_glibc, forge_esem},
    {"kill-games", "TM-host",
     "kill -9 of a process blocked in wait or holding a permit: no permit created or lost", 0, 0,
     kill_glibc, kill_esem},
    {"strict-same-uid", "TM-host",
     "unauthorised open/post/wait/unlink by another process of the same uid (and root) under a "
     "strict policy; grants to one process, revoke takes effect at once",
     1, 1, strict_glibc, strict_esem},
    {"tm-sgx", "TM-SGX (simulated)",
     "SIMULATED privileged attacker (no SGX here): forged grant, replay, reorder, drop, duplicate, "
     "altered request through the channel memory and the host's message path",
     1, 1, sgx_glibc, sgx_esem},
    /* the security review's findings (issue #15) */
    {"borrowed-credentials", "TM-host",
     "another uid connects, hands its channel to a helper and execs a setuid-root program: the "
     "helper opens and unlinks root's 0600 semaphore as root (review finding 1)",
     0, 1, creds_glibc, creds_esem},
    {"late-hello", "TM-host",
     "another uid connects, hands the socket on and exits; a root process gets the pid; the "
     "hello then binds the session to it (finding 2)",
     0, 1, late_glibc, late_esem},
    {"boundary-double-fetch", "TM-SGX (simulated)",
     "SIMULATED hostile host: flips a direct post's session field under the core, between a PID "
     "session and a key session (finding 3)",
     1, 1, race_glibc, race_esem},
    {"sequence-wrap", "TM-SGX (simulated)",
     "SIMULATED hostile host: replays a recorded request after 2^31 requests on its slot; offers "
     "an old reply's MAC for another request (finding 4)",
     1, 1, seqwrap_glibc, seqwrap_esem},
    {"revoke-queued", "TM-host",
     "the owner revokes another uid's right while that uid's wait is queued, then posts "
     "(finding 5)",
     1, 1, revoke_glibc, revoke_esem},
    {"exec-reclaim", "TM-host",
     "a child that exec'd claims its parent's session (and strict ownership) by its id or a "
     "guess (finding 6)",
     0, 0, reclaim_glibc, reclaim_esem},
    {"shim-private-fallback", "TM-host",
     "ESEM_PRIVATE=glibc: a writer of a shared segment puts a glibc sem_t over a process-shared "
     "esem one (finding 8)",
     1, 0, privfb_glibc, privfb_esem},
    {"life-page-forgery", "TM-host",
     "a client writes the daemon's life page (mapping, write, mprotect) to tell every other "
     "client that esemd died, and wakes every wake word after it",
     0, 0, life_glibc, life_esem},
    /* restart without loss (issue #11) */
    {"state-takeover", "TM-host",
     "a process of the daemon's uid, another uid and root ask esemd for its whole state, as a "
     "restarting esemd does (TAKEOVER hello)",
     1, 0, takeover_glibc, takeover_esem},
    /* System V (issue #12) */
    {"sysv-accept-mutex", "TM-host",
     "Apache's Mutex sysvsem: an unrelated same-uid process releases the held accept mutex with "
     "semctl(SETVAL) and removes the set with IPC_RMID; another uid tries the same",
     1, 0, sysv_glibc, sysv_esem},
    /* the File Vault (issue #13) */
    {"vault-tree-race", "TM-host",
     "File Vault: while a worker holds the tree mutex mid-insertion, a same-uid process posts "
     "it; a second put changes the tree at the same time (fsck)",
     1, 0, vault_race_glibc, vault_race_esem},
    {"vault-service-blocking", "TM-host",
     "File Vault: a same-uid process drains, then inflates, the admission semaphore of the "
     "protected part during esem-vault bench",
     1, 0, vault_block_glibc, vault_block_esem},
};
#define NATTACKS (sizeof attacks / sizeof attacks[0])

static const struct role roles[] = {
    {"view-victim", role_view_victim}, {"view-attacker", role_view_attacker},
    {"uid-victim", role_uid_victim},   {"uid-attacker", role_uid_attacker},
    {"pid-victim", role_pid_victim},   {"pid-attacker", role_pid_attacker},
    {"mem-victim", role_mem_victim},   {"mem-attacker", role_mem_attacker},
    {"seg-victim", role_seg_victim},   {"seg-attacker", role_seg_attacker},
    {"kill-part", role_kill_part},
    {"strict-victim", role_strict_victim}, {"strict-attacker", role_strict_attacker},
    {"sgx-victim", role_sgx_victim},       {"sgx-attacker", role_sgx_attacker},
    {"sgx-sim", role_sgx_sim},
    {"creds", role_creds},             {"late-hello", role_late_hello},
    {"sleeper", role_sleeper},         {"race", role_race},
    {"seqwrap", role_seqwrap},         {"revoke-owner", role_revoke_owner},
    {"revoke-waiter", role_revoke_waiter}, {"reclaim", role_reclaim},
    {"reclaim-child", role_reclaim_child}, {"privfb-victim", role_privfb_victim},
    {"sysv-victim", role_sysv_victim}, {"sysv-attacker", role_sysv_attacker},
    {"vault-exec", role_vault_exec},   {"vault-attacker", role_vault_attacker},
    {"takeover-thief", role_takeover_thief},
};

/* ---- small helpers ---- */

void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

struct timespec deadline_in(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

const char *errname(int e)
{
    if (e == 0)
        return "0";
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

int lab_can_other_uid(void)
{
    return lab.root;
}

const char *lab_name(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "/esemlab-%lu-%s", lab.tag, what);
    return buf;
}

int become(enum who who)
{
    if (who == WHO_ROOT)
        return lab.root ? 0 : -1;
    if (!lab.root)
        return who == WHO_LAB ? 0 : -1;
    uid_t uid = who == WHO_LAB ? lab.lab_uid : LAB_OTHER_UID;
    gid_t gid = who == WHO_LAB ? lab.lab_gid : LAB_OTHER_UID;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return -1;
    if (getuid() != uid || geteuid() != uid || setuid(0) == 0)
        return -1;
    return 0;
}

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static char hear_buf[4096];
static size_t hear_len;

int hear(char *line, size_t len, int timeout_ms)
{
    long t0 = now_ms();
    for (;;) {
        char *nl = memchr(hear_buf, '\n', hear_len);
        if (nl) {
            size_t n = (size_t)(nl - hear_buf);
            snprintf(line, len, "%.*s", (int)n, hear_buf);
            memmove(hear_buf, nl + 1, hear_len - n - 1);
            hear_len -= n + 1;
            return 0;
        }
        long left = timeout_ms - (now_ms() - t0);
        if (left <= 0 || hear_len == sizeof hear_buf)
            return -1;
        struct pollfd pf = {.fd = 0, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t k = read(0, hear_buf + hear_len, sizeof hear_buf - hear_len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        hear_len += (size_t)k;
    }
}

/* ---- results ---- */

static void add_step(struct side *s, const char *kind, const char *fmt, va_list ap)
{
    char msg[LAB_LINE];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (lab.verbose)
        fprintf(stderr, "  [%s] %s: %s\n", s->backend, kind, msg);
    if (s->nsteps >= LAB_MAXSTEPS)
        return;
    size_t n = strlen(kind) + strlen(msg) + 3;
    char *t = malloc(n);
    if (!t)
        return;
    snprintf(t, n, "%s: %s", kind, msg);
    s->steps[s->nsteps++] = t;
}

void s_check(struct side *s, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->nchecks++;
    if (!ok)
        s->nfailed++;
    add_step(s, ok ? "ok" : "FAIL", fmt, ap);
    va_end(ap);
}

void s_note(struct side *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_step(s, "note", fmt, ap);
    va_end(ap);
}

void s_error(struct side *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->nerrors++;
    add_step(s, "ERROR", fmt, ap);
    va_end(ap);
}

void s_skip(struct side *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->nskipped++;
    add_step(s, "skipped", fmt, ap);
    va_end(ap);
}

void s_summary(struct side *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->summary, sizeof s->summary, fmt, ap);
    va_end(ap);
}

static const char *side_result(const struct side *s, int glibc_weak)
{
    if (s->nerrors)
        return "ERROR";
    if (s->nchecks == 0)
        return s->nskipped ? "SKIPPED" : "ERROR";
    if (s->nfailed)
        return s->is_esem ? "ATTACK WORKED" : glibc_weak ? "WEAKNESS NOT SHOWN" : "DIFFERENT";
    return s->is_esem ? "attack failed" : glibc_weak ? "weakness shown" : "same";
}

/* PASS, FAIL or SKIP */
static const char *verdict(const struct side *g, const struct side *e)
{
    if (g->nerrors || e->nerrors || g->nfailed || e->nfailed)
        return "FAIL";
    if (g->nskipped || e->nskipped)
        return "SKIP";
    if (g->nchecks == 0 || e->nchecks == 0)
        return "FAIL";
    return "PASS";
}

/* ---- named-semaphore backends ---- */

static void *g_open(const char *name, int oflag, unsigned mode, unsigned value)
{
    sem_t *s = (oflag & O_CREAT) ? sem_open(name, oflag, (mode_t)mode, value) : sem_open(name, oflag);
    return s == SEM_FAILED ? NULL : s;
}
static int g_close(void *s) { return sem_close(s); }
static int g_unlink(const char *n) { return sem_unlink(n); }
static int g_post(void *s) { return sem_post(s); }
static int g_wait(void *s) { return sem_wait(s); }
static int g_timedwait(void *s, const struct timespec *t) { return sem_timedwait(s, t); }
static int g_trywait(void *s) { return sem_trywait(s); }
static int g_getvalue(void *s, int *v) { return sem_getvalue(s, v); }

static void *e_open(const char *name, int oflag, unsigned mode, unsigned value)
{
    esem_t *s = esem_open(name, oflag, (mode_t)mode, value);
    return s;
}
static int e_close(void *s) { return esem_close(s); }
static int e_unlink(const char *n) { return esem_unlink(n); }
static int e_post(void *s) { return esem_post(s); }
static int e_wait(void *s) { return esem_wait(s); }
static int e_timedwait(void *s, const struct timespec *t) { return esem_timedwait(s, t); }
static int e_trywait(void *s) { return esem_trywait(s); }
static int e_getvalue(void *s, int *v) { return esem_getvalue(s, v); }

static const struct nsem_ops glibc_ops = {"glibc", g_open, g_close, g_unlink, g_post,
                                          g_wait, g_timedwait, g_trywait, g_getvalue};
static const struct nsem_ops esem_ops = {"esem", e_open, e_close, e_unlink, e_post,
                                         e_wait, e_timedwait, e_trywait, e_getvalue};

const struct nsem_ops *nsem_backend(const char *name)
{
    return strcmp(name, "esem") == 0 ? &esem_ops : &glibc_ops;
}

/* ---- output ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, f);
}

/* A cell: the result, then the summary — or, when something failed, the
 * first failed step (a canned summary would not describe it). */
static void md_side(FILE *f, const struct side *s, int glibc_weak)
{
    fprintf(f, "**%s**: ", side_result(s, glibc_weak));
    const char *first = NULL;
    int nbad = 0;
    for (int j = 0; j < s->nsteps; j++)
        if (strncmp(s->steps[j], "FAIL: ", 6) == 0 || strncmp(s->steps[j], "ERROR: ", 7) == 0) {
            if (!first)
                first = s->steps[j];
            nbad++;
        }
    if (first) {
        md_cell(f, first);
        if (nbad > 1)
            fprintf(f, " (and %d more)", nbad - 1);
    } else {
        md_cell(f, s->summary);
    }
}

struct rowres {
    const struct attack *a;
    struct side g, e;
};

static void print_table(FILE *f, struct rowres *r, int n)
{
    fprintf(f, "| attack | threat model | glibc outcome | esem outcome | verdict |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "| %s | %s | ", r[i].a->name, r[i].a->tm);
        md_side(f, &r[i].g, r[i].a->glibc_weak);
        fprintf(f, " | ");
        md_side(f, &r[i].e, 0);
        fprintf(f, " | %s |\n", verdict(&r[i].g, &r[i].e));
    }
}

static void print_details(FILE *f, struct rowres *r, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "\n== %s (%s): %s\n", r[i].a->name, r[i].a->tm, r[i].a->title);
        const struct side *sides[2] = {&r[i].g, &r[i].e};
        for (int k = 0; k < 2; k++) {
            fprintf(f, "  -- %s: %s\n", sides[k]->backend,
                    side_result(sides[k], k == 0 ? r[i].a->glibc_weak : 0));
            for (int j = 0; j < sides[k]->nsteps; j++)
                fprintf(f, "     %s\n", sides[k]->steps[j]);
        }
    }
}

static void print_json(FILE *f, struct rowres *r, int n, int status)
{
    struct utsname u;
    uname(&u);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\"date\":");
    json_str(f, date);
    fprintf(f, ",\"machine\":");
    json_str(f, u.nodename);
    fprintf(f, ",\"kernel\":");
    char k[600];
    snprintf(k, sizeof k, "%s %s %s", u.sysname, u.release, u.machine);
    json_str(f, k);
    fprintf(f, ",\"run_as_uid\":%u,\"lab_uid\":%u,\"other_uid\":%u,\"rows\":[", (unsigned)getuid(),
            (unsigned)lab.lab_uid, LAB_OTHER_UID);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"attack\":", i ? "," : "");
        json_str(f, r[i].a->name);
        fprintf(f, ",\"threat_model\":");
        json_str(f, r[i].a->tm);
        fprintf(f, ",\"title\":");
        json_str(f, r[i].a->title);
        fprintf(f, ",\"glibc_weakness_expected\":%s", r[i].a->glibc_weak ? "true" : "false");
        const struct side *sides[2] = {&r[i].g, &r[i].e};
        for (int k2 = 0; k2 < 2; k2++) {
            fprintf(f, ",\"%s\":{\"result\":", sides[k2]->backend);
            json_str(f, side_result(sides[k2], k2 == 0 ? r[i].a->glibc_weak : 0));
            fprintf(f, ",\"outcome\":");
            json_str(f, sides[k2]->summary);
            fprintf(f, ",\"steps\":[");
            for (int j = 0; j < sides[k2]->nsteps; j++) {
                fprintf(f, "%s", j ? "," : "");
                json_str(f, sides[k2]->steps[j]);
            }
            fprintf(f, "]}");
        }
        fprintf(f, ",\"verdict\":");
        json_str(f, verdict(&r[i].g, &r[i].e));
        fprintf(f, "}");
    }
    fprintf(f, "],\"exit_status\":%d}\n", status);
}

/* ---- set-up ---- */

/* A sanitizer runtime must be loaded before any instrumented library: when
 * this program carries one, it goes first in LD_PRELOAD, ahead of the shim. */
static void build_preload(const char *shim)
{
    lab.preload[0] = 0;
    FILE *m = fopen("/proc/self/maps", "re");
    char line[4600];
    while (m && fgets(line, sizeof line, m)) {
        char *p = strchr(line, '/');
        if (!p)
            continue;
        p[strcspn(p, "\n")] = 0;
        const char *base = strrchr(p, '/') + 1;
        if ((strncmp(base, "libasan.so", 10) == 0 || strncmp(base, "libtsan.so", 10) == 0) &&
            !strstr(lab.preload, p)) {
            size_t n = strlen(lab.preload);
            snprintf(lab.preload + n, sizeof lab.preload - n, "%s ", p);
        }
    }
    if (m)
        fclose(m);
    size_t n = strlen(lab.preload);
    snprintf(lab.preload + n, sizeof lab.preload - n, "%s", shim);
}

/* The parts run as other uids: they must be able to run this program, the
 * daemon and the shim (a build tree in a private home directory would not
 * let them). */
static int preflight(const char *shim)
{
    for (int w = WHO_LAB; w <= WHO_OTHER; w++) {
        if (w == WHO_OTHER && !lab.root)
            break;
        fflush(stderr);
        pid_t p = fork();
        if (p == 0) {
            if (become((enum who)w) < 0)
                _exit(3);
            const char *bad = access(lab.self, X_OK) < 0 ? lab.self
                              : access(lab.esemd, X_OK) < 0 ? lab.esemd
                              : access(shim, R_OK) < 0   ? shim
                                                         : NULL;
            if (bad) {
                fprintf(stderr, "esem-attacklab: uid %u cannot use %s (%s): the lab runs its "
                                "parts as uid %u and %u: the build tree must be readable and "
                                "searchable by them\n",
                        (unsigned)getuid(), bad, strerror(errno), (unsigned)lab.lab_uid,
                        LAB_OTHER_UID);
                _exit(1);
            }
            _exit(0);
        }
        int st = 0;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
                fprintf(stderr, "esem-attacklab: cannot switch to uid %u\n",
                        w == WHO_LAB ? (unsigned)lab.lab_uid : LAB_OTHER_UID);
            return -1;
        }
    }
    return 0;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: esem-attacklab [--json] [--only NAME] [--list] [--keep] [--verbose]\n"
               "environment: ESEMD (esemd binary), ESEM_PRELOAD (libesem-preload.so),\n"
               "             ESEM_LAB_UID (unprivileged uid for victims and esemd when run as "
               "root; default 64000)\n");
    return 2;
}

static int run_role(int argc, char **argv)
{
    /* argv[0] = role name */
    alarm(90);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, argv[0]) == 0) {
            int rc = roles[i].fn(argc, argv);
            fflush(stdout);
            fflush(stderr);
            _exit(rc);
        }
    fprintf(stderr, "attacklab: unknown role %s\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("esem-attacklab " ESEM_VERSION);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "--role") == 0) {
        lab.root = 0;
        return run_role(argc - 2, argv + 2);
    }
    int json = 0, keep = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            lab.verbose++;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < NATTACKS; k++)
                printf("%-18s %s  %s\n", attacks[k].name, attacks[k].tm, attacks[k].title);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else
            return usage(stderr);
    }
    if (only) {
        int found = 0;
        for (size_t k = 0; k < NATTACKS; k++)
            found |= strcmp(attacks[k].name, only) == 0;
        if (!found) {
            fprintf(stderr, "esem-attacklab: no attack named %s (--list)\n", only);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    lab.root = geteuid() == 0;
    lab.tag = (unsigned long)getpid();
    if (lab.root) {
        const char *u = getenv("ESEM_LAB_UID");
        lab.lab_uid = u && *u ? (uid_t)strtoul(u, NULL, 10) : 64000;
        lab.lab_gid = lab.lab_uid;
        if (lab.lab_uid == 0 || lab.lab_uid == LAB_OTHER_UID) {
            fprintf(stderr, "esem-attacklab: ESEM_LAB_UID must be neither 0 nor %u\n",
                    LAB_OTHER_UID);
            return 2;
        }
    } else {
        lab.lab_uid = getuid();
        lab.lab_gid = getgid();
    }
    lab.esemd = getenv("ESEMD");
    const char *shim = getenv("ESEM_PRELOAD");
    if (!lab.esemd || !*lab.esemd || !shim || !*shim) {
        fprintf(stderr, "esem-attacklab: set ESEMD and ESEM_PRELOAD (meson test sets them)\n");
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", lab.self, sizeof lab.self - 1);
    if (n <= 0) {
        perror("esem-attacklab: /proc/self/exe");
        return 2;
    }
    lab.self[n] = 0;
    build_preload(shim);
    if (access(shim, R_OK) < 0 || access(lab.esemd, X_OK) < 0) {
        fprintf(stderr, "esem-attacklab: ESEMD=%s or ESEM_PRELOAD=%s not usable\n", lab.esemd, shim);
        return 2;
    }
    if (preflight(shim) < 0)
        return 1;
    if (daemon_start(&lab.d, 0) < 0) {
        if (lab.d.pid > 0)
            daemon_stop(&lab.d);
        return 1;
    }
    lab.sock = lab.d.sock;
    lab.log = lab.d.log;

    struct rowres *res = calloc(NATTACKS, sizeof *res);
    int nres = 0;
    for (size_t k = 0; k < NATTACKS && res; k++) {
        const struct attack *a = &attacks[k];
        if (only && strcmp(a->name, only) != 0)
            continue;
        struct rowres *r = &res[nres++];
        r->a = a;
        r->g.backend = "glibc";
        r->e.backend = "esem";
        r->e.is_esem = 1;
        if (!json)
            fprintf(stderr, "attacklab: %s ...\n", a->name);
        if (a->needs_root && !lab.root) {
            s_skip(&r->g, "needs root (the other-uid attacker is uid %u)", LAB_OTHER_UID);
            s_skip(&r->e, "needs root (the other-uid attacker is uid %u)", LAB_OTHER_UID);
            s_summary(&r->g, "skipped: needs root");
            s_summary(&r->e, "skipped: needs root");
            continue;
        }
        a->run_glibc(&r->g);
        a->run_esem(&r->e);
        if (!daemon_alive(&lab.d))
            s_error(&r->e, "esemd is no longer running after this attack");
        else if (admin_ping(lab.sock) < 0)
            s_error(&r->e, "esemd no longer answers after this attack");
    }
    int any_fail = 0, any_skip = 0;
    for (int i = 0; i < nres; i++) {
        const char *v = verdict(&res[i].g, &res[i].e);
        any_fail |= strcmp(v, "FAIL") == 0;
        any_skip |= strcmp(v, "SKIP") == 0;
    }
    int dstop = daemon_stop(&lab.d);
    if (dstop < 0) {
        fprintf(stderr, "attacklab: esemd did not stop cleanly; kept %s\n", lab.d.dir);
        any_fail = 1;
    }
    int status = any_fail ? 1 : any_skip ? 77 : 0;
    if (json) {
        print_json(stdout, res, nres, status);
    } else {
        print_table(stdout, res, nres);
        print_details(stdout, res, nres);
        printf("\nexit status %d (%s)\n", status,
               status == 0 ? "every attack: glibc as expected, esem defended"
               : status == 77 ? "some steps skipped (run as root for the other-uid attacker)"
                              : "FAILED");
    }
    if (dstop == 0 && !keep && !any_fail)
        daemon_remove_files(&lab.d);
    else
        fprintf(stderr, "attacklab: daemon directory kept: %s\n", lab.d.dir);
    return status;
}

/* Run fn against a second esemd started with extra options (the lab's
 * esemd is lab.sock again afterwards); an error in s if it cannot start or
 * does not stop cleanly. */
void lab_with_daemon(struct side *s, const char *const *extra,
                     void (*fn)(struct side *s, void *arg), void *arg)
{
    struct daemon sd;
    if (daemon_start_args(&sd, 0, extra) < 0) {
        s_error(s, "cannot start esemd %s", extra && extra[0] ? extra[0] : "");
        if (sd.pid > 0)
            daemon_stop(&sd);
        return;
    }
    const char *osock = lab.sock, *olog = lab.log;
    lab.sock = sd.sock;
    lab.log = sd.log;
    fn(s, arg);
    lab.sock = osock;
    lab.log = olog;
    if (daemon_stop(&sd) == 0)
        daemon_remove_files(&sd);
    else
        s_error(s, "the second esemd did not stop cleanly (kept %s)", sd.dir);
}
