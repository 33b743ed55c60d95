/*
 * The File Vault's two attacks (paper §Application; docs/VAULT.md), TM-host:
 * the attacker is a local process of the vault's own uid that never took
 * part in the vault — it reaches the vault's semaphores by name, as anyone
 * of that uid can reach /dev/shm/sem.NAME.
 *
 * vault-tree-race: a worker holds the tree mutex in the middle of an
 *   insertion (the vault's debug hook VAULT_DEBUG_HOLD stops it there, so
 *   the interleaving is the same every run); the attacker posts the mutex;
 *   a second client's put then changes the tree at the same time.
 *     legacy (glibc): the second put completes while the first still holds
 *       the mutex; both chose the same free node, the first overwrites the
 *       second: fsck finds a file lost (an unreferenced blob) and the
 *       counters wrong;
 *     esem (esemd --policy=strict, esem run -- esem-vault serve): the
 *       attacker's sem_open is refused (EACCES, audited); the second put
 *       waits for the mutex; fsck is clean and both files are there.
 * vault-service-blocking: the admission semaphore (N permits for the N
 *   slots of the protected part) made to lie, during esem-vault bench:
 *     drained (the attacker takes every permit and keeps them): legacy —
 *       every worker blocks, throughput falls to nothing;
 *     inflated (50 extra permits): legacy — more workers enter than there
 *       are slots, requests fail (EBUSY);
 *     esem: the attacker cannot open the semaphore; throughput and errors
 *       stay as before.
 */
#include "lab.h"

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* vault-exec ARGS...: run esem-vault ($ESEM_VAULT) with ARGS as this role's
 * uid (and with the shim, if asked) */
int role_vault_exec(int argc, char **argv)
{
    const char *bin = getenv("ESEM_VAULT");
    if (!bin) {
        say("error ESEM_VAULT not set");
        return 2;
    }
    argv[0] = (char *)"esem-vault";
    execv(bin, argv);
    say("error exec %s: %s", bin, errname(errno));
    return 127;
}

/* vault-attacker MODE NAME: post | drain | inflate on the semaphore NAME */
int role_vault_attacker(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1], *name = argv[2];
    sem_t *s = sem_open(name, 0);
    if (s == SEM_FAILED) {
        int e = errno;
        say("refused sem_open(%s): %s", name, errname(e));
        if (e == EACCES)
            say("AUDIT %d open", (int)getpid());
        say("DONE");
        char cmd[32];
        hear(cmd, sizeof cmd, 120000);
        return 0;
    }
    int n = 0;
    if (strcmp(mode, "post") == 0 || strcmp(mode, "inflate") == 0) {
        int k = strcmp(mode, "post") == 0 ? 1 : 50;
        for (int i = 0; i < k; i++)
            n += sem_post(s) == 0;
        say("did %s: %d post(s) on %s", mode, n, name);
    } else {
        while (sem_trywait(s) == 0 && n < 100000)
            n++;
        say("did drain: took %d permit(s) of %s and keeps them", n, name);
    }
    say("DONE");
    char cmd[32];
    hear(cmd, sizeof cmd, 120000);
    if (strcmp(mode, "drain") == 0)
        for (int i = 0; i < n; i++)
            sem_post(s); /* give them back */
    sem_close(s);
    return 0;
}

/* ---- the orchestrator's side ---- */

struct vsetup {
    char dir[128], vdir[160], pwf[192], file[192];
    char port[16], admit[64], tree[64];
    struct proc srv;
    int up;
};

static int run_vault(enum who who, int shim, const char *stdin_line, long timeout_ms,
                     char *out, size_t olen, ...)
{
    char *args[32];
    int n = 0;
    va_list ap;
    va_start(ap, olen);
    char *a;
    while (n < 31 && (a = va_arg(ap, char *)) != NULL)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    struct proc p;
    if (proc_startv(&p, who, shim, "vault-exec", args) < 0)
        return -1;
    if (stdin_line)
        proc_cmd(&p, "%s", stdin_line);
    if (out) {
        out[0] = 0;
        char line[LAB_LINE];
        size_t used = 0;
        while (proc_line(&p, line, sizeof line, (int)timeout_ms) == 0 && used + 2 < olen)
            used += (size_t)snprintf(out + used, olen - used, "%s\n", line);
    }
    int st = proc_reap(&p, (int)timeout_ms);
    proc_end(&p);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int free_port(void)
{
    static int next = 0;
    if (!next)
        next = 20000 + (int)(lab.tag % 20000);
    return next++;
}

/* A vault of its own (dir, user alice), its server as WHO_LAB, on glibc
 * (esem = 0) or under the shim against lab.sock.  0 or -1. */
static int vault_up(struct vsetup *v, struct side *s, int esem, const char *hold,
                    const char *slots)
{
    memset(v, 0, sizeof *v);
    snprintf(v->dir, sizeof v->dir, "/tmp/esemlab-vault-XXXXXX");
    if (!mkdtemp(v->dir)) {
        s_error(s, "mkdtemp: %s", errname(errno));
        return -1;
    }
    chmod(v->dir, 0700);
    if (lab.root && chown(v->dir, lab.lab_uid, lab.lab_gid) < 0) {
        s_error(s, "chown: %s", errname(errno));
        return -1;
    }
    snprintf(v->vdir, sizeof v->vdir, "%s/vault", v->dir);
    snprintf(v->pwf, sizeof v->pwf, "%s/password", v->dir);
    snprintf(v->file, sizeof v->file, "%s/file", v->dir);
    snprintf(v->port, sizeof v->port, "%d", free_port());
    snprintf(v->admit, sizeof v->admit, "/esem-vault-%s-admit", v->port);
    snprintf(v->tree, sizeof v->tree, "/esem-vault-%s-tree", v->port);
    FILE *f = fopen(v->pwf, "w");
    FILE *g = fopen(v->file, "w");
    if (!f || !g) {
        s_error(s, "cannot write in %s", v->dir);
        if (f)
            fclose(f);
        if (g)
            fclose(g);
        return -1;
    }
    fprintf(f, "alice-lab-password\n");
    fprintf(g, "the contents of a vault file\n");
    fclose(f);
    fclose(g);
    if (lab.root && (chown(v->pwf, lab.lab_uid, lab.lab_gid) < 0 ||
                     chown(v->file, lab.lab_uid, lab.lab_gid) < 0)) {
        s_error(s, "chown: %s", errname(errno));
        return -1;
    }
    char out[LAB_LINE];
    if (run_vault(WHO_LAB, 0, "alice-lab-password", 20000, out, sizeof out, "useradd", "--dir",
                  v->vdir, "alice", NULL) != 0) {
        s_error(s, "useradd failed: %s", out);
        return -1;
    }
    if (hold)
        setenv("VAULT_DEBUG_HOLD", hold, 1);
    char *args[] = {"serve", "--dir", v->vdir, "--port", v->port, "--workers", "8", "--slots",
                    (char *)slots, NULL};
    int r = proc_startv(&v->srv, WHO_LAB, esem, "vault-exec", args);
    unsetenv("VAULT_DEBUG_HOLD");
    char line[LAB_LINE];
    if (r < 0 || proc_expect(&v->srv, "esem-vault: serving", line, sizeof line, 15000) < 0) {
        s_error(s, "the vault server did not start");
        proc_kill(&v->srv);
        proc_end(&v->srv);
        return -1;
    }
    v->up = 1;
    s_note(s, "%s", line);
    return 0;
}

static void vault_down(struct vsetup *v)
{
    if (v->up) {
        kill(v->srv.pid, SIGTERM);
        proc_reap(&v->srv, 10000);
        proc_end(&v->srv);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", v->dir);
    if (v->dir[0] && system(cmd) != 0)
        fprintf(stderr, "lab: could not remove %s\n", v->dir);
}

static int start_put(struct proc *p, struct vsetup *v, const char *remote)
{
    char *args[] = {"put", "--port", v->port, "--user", "alice", "--dir", v->vdir,
                    "--password-file", v->pwf, v->file, (char *)remote, NULL};
    return proc_startv(p, WHO_LAB, 0, "vault-exec", args);
}

/* exit status of p if it exits within ms, else -1 (still running) */
static int exited_within(struct proc *p, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->reaped = 1;
            p->status = st;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        }
        sleep_ms(10);
    }
    return -1;
}

static void tree_race(struct side *s, int esem)
{
    struct vsetup v;
    if (vault_up(&v, s, esem, "race-a", "2") < 0) {
        vault_down(&v);
        return;
    }
    char held[256], rel[256];
    snprintf(held, sizeof held, "%s/debug/held", v.vdir);
    snprintf(rel, sizeof rel, "%s/debug/release", v.vdir);
    struct proc a, b, at;
    int a_ok = start_put(&a, &v, "/race-a") == 0;
    int waited = 0;
    while (a_ok && access(held, F_OK) < 0 && waited++ < 1000)
        sleep_ms(10);
    if (!a_ok || access(held, F_OK) < 0) {
        s_error(s, "the first put never reached the insertion (debug hook)");
        if (a_ok) {
            proc_kill(&a);
            proc_end(&a);
        }
        vault_down(&v);
        return;
    }
    s_note(s, "worker holds the tree mutex mid-insertion of /race-a (debug hook)");
    size_t mark = log_mark();
    char line[LAB_LINE];
    if (proc_start(&at, WHO_LAB, esem, "vault-attacker", "post", v.tree, NULL) == 0) {
        if (proc_line(&at, line, sizeof line, 10000) == 0)
            s_note(s, "attacker (same uid, unrelated): %s", line);
        if (esem)
            relay(&at, s, mark, 10000);
        else
            s_check(s, strncmp(line, "did post: 1", 11) == 0,
                    "the attacker posted the held tree mutex through its name");
    } else {
        s_error(s, "cannot start the attacker");
    }
    int b_ok = start_put(&b, &v, "/race-b") == 0;
    int b_early = b_ok ? exited_within(&b, 1500) : -2;
    if (esem)
        s_check(s, b_early < 0, "the second put waits for the mutex while the first holds it "
                                "(%s)",
                b_early < 0 ? "still waiting after 1.5 s" : "it completed");
    else
        s_check(s, b_early == 0, "the second put completed while the first held the mutex "
                                 "(exit %d)",
                b_early);
    FILE *f = fopen(rel, "w");
    if (f)
        fclose(f);
    int ra = proc_reap(&a, 20000), rb = b.reaped ? b.status : proc_reap(&b, 20000);
    proc_end(&a);
    proc_end(&b);
    proc_cmd(&at, "end");
    proc_end(&at);
    s_note(s, "puts: /race-a %s, /race-b %s",
           ra >= 0 && WIFEXITED(ra) && WEXITSTATUS(ra) == 0 ? "ok" : "failed",
           rb >= 0 && WIFEXITED(rb) && WEXITSTATUS(rb) == 0 ? "ok" : "failed");
    char ls[LAB_LINE] = "";
    run_vault(WHO_LAB, 0, NULL, 20000, ls, sizeof ls, "ls", "--port", v.port, "--user", "alice",
              "--dir", v.vdir, "--password-file", v.pwf, NULL);
    kill(v.srv.pid, SIGTERM);
    proc_reap(&v.srv, 10000);
    proc_end(&v.srv);
    v.up = 0;
    char out[4 * LAB_LINE];
    int fsck = run_vault(WHO_LAB, 0, NULL, 30000, out, sizeof out, "fsck", "--dir", v.vdir, NULL);
    char first[200];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(out, "\n"), out);
    int both = strstr(ls, "race-a") && strstr(ls, "race-b");
    if (esem) {
        s_check(s, fsck == 0, "fsck: %s", first);
        s_check(s, both, "both files are in the tree");
        s_summary(s, "the attacker's sem_open of the tree mutex refused (EACCES, audited); the "
                     "second put waited for the first; fsck clean, both files there");
    } else {
        s_check(s, fsck == 1, "fsck finds the tree broken: %s", first);
        s_note(s, "files listed after the race: %s", both ? "both" : "not both");
        s_summary(s, "the attacker posted the held tree mutex; a second put changed the tree "
                     "at the same time; fsck: %s",
                  first);
    }
    vault_down(&v);
}

void vault_race_glibc(struct side *s) { tree_race(s, 0); }

/* ---- service blocking ---- */

struct bres {
    double ops;
    long errors;
};

static struct bres bench(struct vsetup *v, const char *secs)
{
    struct bres r = {-1, -1};
    char out[LAB_LINE];
    run_vault(WHO_LAB, 0, NULL, 30000, out, sizeof out, "bench", "--port", v->port, "--user",
              "alice", "--dir", v->vdir, "--password-file", v->pwf, "--clients", "8", "--seconds",
              secs, NULL);
    const char *p = strstr(out, "errors ");
    const char *q = strstr(out, "ops/s ");
    if (p && q) {
        r.errors = atol(p + 7);
        r.ops = atof(q + 6);
    }
    return r;
}

static void service_blocking(struct side *s, int esem)
{
    struct vsetup v;
    /* one slot: a single place inside the protected part, as small as an
     * enclave with one TCS — two workers inside at once is an overflow */
    if (vault_up(&v, s, esem, NULL, "1") < 0) {
        vault_down(&v);
        return;
    }
    struct bres before = bench(&v, "2");
    s_note(s, "before: %.1f ops/s, %ld errors", before.ops, before.errors);
    struct bres during[2];
    const char *modes[2] = {"drain", "inflate"};
    for (int m = 0; m < 2; m++) {
        struct proc at;
        size_t mark = log_mark();
        char line[LAB_LINE] = "";
        if (proc_start(&at, WHO_LAB, esem, "vault-attacker", modes[m], v.admit, NULL) < 0) {
            s_error(s, "cannot start the attacker");
            during[m] = (struct bres){-1, -1};
            continue;
        }
        if (proc_line(&at, line, sizeof line, 10000) == 0)
            s_note(s, "attacker: %s", line);
        if (esem)
            relay(&at, s, mark, 10000);
        else
            proc_expect(&at, "DONE", line, sizeof line, 10000);
        during[m] = bench(&v, "2");
        s_note(s, "during %s: %.1f ops/s, %ld errors", modes[m], during[m].ops,
               during[m].errors);
        proc_cmd(&at, "end");
        proc_reap(&at, 10000);
        proc_end(&at);
    }
    if (before.ops <= 0) {
        s_error(s, "the bench before the attack did not run");
    } else if (esem) {
        s_check(s, during[0].ops >= 0.5 * before.ops && during[0].errors == 0,
                "drain attempt: %.1f ops/s (before %.1f), %ld errors", during[0].ops, before.ops,
                during[0].errors);
        s_check(s, during[1].ops >= 0.5 * before.ops && during[1].errors == 0,
                "inflate attempt: %.1f ops/s, %ld errors", during[1].ops, during[1].errors);
        s_summary(s, "the attacker's sem_open of the admission semaphore refused (EACCES, "
                     "audited): %.0f ops/s before, %.0f and %.0f during the drain and inflate "
                     "attempts, no error",
                  before.ops, during[0].ops, during[1].ops);
    } else {
        s_check(s, during[0].ops < 0.1 * before.ops,
                "drained: throughput fell from %.1f to %.1f ops/s", before.ops, during[0].ops);
        s_check(s, during[1].errors > 0,
                "inflated: %ld requests failed (more workers inside than slots)",
                during[1].errors);
        s_summary(s, "drained admission semaphore: %.0f -> %.0f ops/s (workers blocked); "
                     "inflated: %ld failed requests (the protected part overflowed)",
                  before.ops, during[0].ops, during[1].errors);
    }
    vault_down(&v);
}

void vault_block_glibc(struct side *s) { service_blocking(s, 0); }

/* The esem side: a second esemd with --policy=strict (every semaphore the
 * vault creates is then its own: no same-uid process may open it), the
 * vault under the shim against it. */
static void race_on(struct side *s, void *arg)
{
    (void)arg;
    tree_race(s, 1);
}

static void block_on(struct side *s, void *arg)
{
    (void)arg;
    service_blocking(s, 1);
}

static const char *const strict_policy[] = {"--policy=strict", NULL};

void vault_race_esem(struct side *s) { lab_with_daemon(s, strict_policy, race_on, NULL); }
void vault_block_esem(struct side *s) { lab_with_daemon(s, strict_policy, block_on, NULL); }
