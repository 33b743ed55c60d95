/*
 * The attack lab's private esemd: started through common/launch.c (the
 * lab's user, its own directory), stopped, and its log read for the audit
 * lines a refusal must leave.  See lab.h.
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

/* ---- esemd ---- */

static char *slurp(const char *path, size_t from);

static int file_has(const char *path, const char *needle)
{
    char *t = slurp(path, 0);
    int r = t && strstr(t, needle) != NULL;
    free(t);
    return r;
}

int daemon_alive(struct daemon *d)
{
    if (d->pid <= 0 || d->exited)
        return 0;
    int st;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
        d->exited = 1;
        d->status = st;
        return 0;
    }
    return 1;
}

int daemon_start(struct daemon *d, int as_lab)
{
    return daemon_start_args(d, as_lab, NULL);
}

/* In the daemon's child, as root: the directory goes to the lab user (when
 * dropping), 0711 (other uids reach the socket by its full path and list
 * nothing), then the drop itself. */
static int daemon_child(const struct esem_launched *l, void *arg)
{
    int drop = *(const int *)arg;
    if (drop && chown(l->dir, lab.lab_uid, lab.lab_gid) < 0)
        return -1;
    if (chmod(l->dir, 0711) < 0)
        return -1;
    return drop && become(WHO_LAB) < 0 ? -1 : 0;
}

/* Serving: a process of the daemon's uid gets an admin answer (a root
 * orchestrator cannot ask a daemon of another uid: see docs/ATTACKS.md,
 * esemd refuses it; then its start line in the log). */
static int daemon_serving(const struct esem_launched *l, void *arg)
{
    int drop = *(const int *)arg;
    return drop ? file_has(l->log, "start: socket") : admin_ping(l->sock) == 0;
}

int daemon_start_args(struct daemon *d, int as_lab, const char *const *extra)
{
    memset(d, 0, sizeof *d);
    int drop = as_lab && lab.root;
    struct esem_launch how = {.esemd = lab.esemd, .dir_prefix = "/tmp/esemlab", .extra = extra,
                              .with_log = 1, .in_child = daemon_child, .arg = &drop};
    struct esem_launched l;
    int r = esem_launch(&how, &l);
    if (r < 0) {
        fprintf(stderr, "attacklab: starting esemd: %s\n", strerror(-r));
        return -1;
    }
    d->pid = l.pid;
    snprintf(d->dir, sizeof d->dir, "%s", l.dir);
    snprintf(d->sock, sizeof d->sock, "%s", l.sock);
    snprintf(d->log, sizeof d->log, "%s", l.log);
    r = esem_launch_wait(&l, daemon_serving, &drop, 20000, &d->status);
    if (r == -ECHILD) {
        d->exited = 1;
        fprintf(stderr, "attacklab: esemd (%s) exited at start-up (status %#x)\n", lab.esemd,
                d->status);
        return -1;
    }
    if (r < 0) {
        fprintf(stderr, "attacklab: esemd did not serve %s within 20 s\n", d->sock);
        return -1;
    }
    /* A daemon shared by several uids (the other-uid attacks need one): the
     * socket is open to all, as in the integration tests; the core's own
     * checks are what is under test. */
    if (lab.root && !drop)
        chmod(d->sock, 0666);
    return 0;
}

static char *slurp(const char *path, size_t from)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    if (fseek(f, (long)from, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n + 4096 > cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb)
                break;
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n - 1, f);
        if (k == 0)
            break;
        n += k;
    }
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

int daemon_stop(struct daemon *d)
{
    int ok = 1;
    if (daemon_alive(d)) {
        kill(d->pid, SIGTERM);
        long t0 = now_ms();
        while (daemon_alive(d) && now_ms() - t0 < 20000)
            sleep_ms(5);
        if (daemon_alive(d)) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &d->status, 0);
            d->exited = 1;
            fprintf(stderr, "attacklab: esemd %d did not stop on SIGTERM\n", (int)d->pid);
            ok = 0;
        }
    } else {
        fprintf(stderr, "attacklab: esemd %d was no longer running at the end\n", (int)d->pid);
        ok = 0;
    }
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
        fprintf(stderr, "attacklab: esemd %d ended with wait status %#x\n", (int)d->pid, d->status);
        ok = 0;
    }
    char *log = slurp(d->log, 0);
    if (log && strstr(log, "internal:")) {
        fprintf(stderr, "attacklab: esemd logged an internal error\n");
        ok = 0;
    }
    free(log);
    char errp[400];
    snprintf(errp, sizeof errp, "%s/esemd.stderr", d->dir);
    struct stat st;
    if (stat(errp, &st) == 0 && st.st_size > 0) {
        fprintf(stderr, "attacklab: esemd wrote to stderr\n");
        ok = 0;
    }
    return ok ? 0 : -1;
}

void daemon_remove_files(const struct daemon *d)
{
    esem_launch_remove(d->dir);
}

size_t log_mark(void)
{
    struct stat st;
    return stat(lab.log, &st) == 0 ? (size_t)st.st_size : 0;
}

int log_count(size_t mark, const char *needle)
{
    char *s = slurp(lab.log, mark);
    int n = 0;
    for (char *q = s; q && (q = strstr(q, needle)) != NULL; q += strlen(needle))
        n++;
    free(s);
    return n;
}

int log_wait(size_t mark, const char *needle, int timeout_ms)
{
    long t0 = now_ms();
    do {
        if (log_count(mark, needle) > 0)
            return 1;
        sleep_ms(10);
    } while (now_ms() - t0 < timeout_ms);
    return 0;
}

void audit_window(void)
{
    /* esemd allows 50 audit lines per CLOCK_MONOTONIC second. */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    sleep_ms(1000 - t.tv_nsec / 1000000L + 5);
}
