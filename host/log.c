/*
 * esemd's log and audit trail.  Lines a client can cause are rate-limited
 * — refusals to 50 a second, session start and end to 200 — so that no
 * local user can fill the disk or keep the daemon busy writing; the core's
 * counters and the audit ring still count every refusal, and a line says
 * how many were left out.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static FILE *logf_;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void log_to(FILE *f)
{
    logf_ = f;
}

__attribute__((format(printf, 1, 0), nonnull(1))) static void vlog(const char *fmt, va_list ap)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&log_mu);
    FILE *f = logf_ ? logf_ : stderr;
    /* Standard error into the journal (systemd sets JOURNAL_STREAM): a
     * priority prefix it reads (sd-daemon(3)): refusals are notices,
     * internal errors errors, the rest information. */
    static int journal = -1;
    if (journal < 0)
        journal = getenv("JOURNAL_STREAM") != NULL;
    if (journal && f == stderr)
        fprintf(f, "<%d>", strncmp(fmt, "audit:", 6) == 0      ? 5
                           : strncmp(fmt, "internal:", 9) == 0 ? 3
                                                               : 6);
    fprintf(f, "%s.%03ldZ esemd[%d]: ", ts, now.tv_nsec / 1000000, (int)getpid());
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&log_mu);
}

void esemd_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

/* A bucket of client-caused lines: `per_s` a second, then only a count. */
struct bucket {
    const char *what;
    uint64_t per_s;
    _Atomic uint64_t window, in_window, suppressed;
};
static struct bucket refusals = {.what = "refusal", .per_s = 50};
static struct bucket sessions = {.what = "session", .per_s = 200};

static void bucket_flush(struct bucket *b)
{
    uint64_t s = atomic_exchange(&b->suppressed, 0);
    if (s)
        esemd_log("audit: %llu more %s lines suppressed (rate limit: %llu a second)",
                  (unsigned long long)s, b->what, (unsigned long long)b->per_s);
}

void audit_flush(void)
{
    bucket_flush(&refusals);
    bucket_flush(&sessions);
}

int audit_pending(void)
{
    return atomic_load(&refusals.suppressed) != 0 || atomic_load(&sessions.suppressed) != 0;
}

void audit_tick(void)
{
    uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC) / 1000000000ull;
    if (atomic_load(&refusals.window) != now)
        bucket_flush(&refusals);
    if (atomic_load(&sessions.window) != now)
        bucket_flush(&sessions);
}

/* May one more line of this bucket be written now? */
static int limit_ok(struct bucket *b)
{
    uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC) / 1000000000ull;
    uint64_t ws = atomic_load(&b->window);
    if (ws != now && atomic_compare_exchange_strong(&b->window, &ws, now)) {
        bucket_flush(b);
        atomic_store(&b->in_window, 0);
    }
    if (atomic_fetch_add(&b->in_window, 1) >= b->per_s) {
        atomic_fetch_add(&b->suppressed, 1);
        return 0;
    }
    return 1;
}

void esemd_log_limited(const char *fmt, ...)
{
    if (!limit_ok(&sessions))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static struct audit_rec ring[AUDIT_RING];
static uint64_t ring_next; /* records ever written */
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;

static void audit_record(const struct client *c, const char *what, int32_t st, int err)
{
    pthread_mutex_lock(&ring_mu);
    struct audit_rec *r = &ring[ring_next++ % AUDIT_RING];
    r->when_ms = esem_util_now_ns(CLOCK_REALTIME) / 1000000ull;
    r->pid = c ? (int32_t)c->pid : -1;
    r->uid = c ? (uint32_t)c->uid : 0u;
    r->status = st;
    r->err = err;
    snprintf(r->what, sizeof r->what, "%s", what);
    pthread_mutex_unlock(&ring_mu);
}

uint64_t audit_count(void)
{
    pthread_mutex_lock(&ring_mu);
    uint64_t n = ring_next;
    pthread_mutex_unlock(&ring_mu);
    return n;
}

int audit_get(uint64_t i, struct audit_rec *out)
{
    pthread_mutex_lock(&ring_mu);
    int ok = i < ring_next && ring_next - i <= AUDIT_RING;
    if (ok)
        *out = ring[i % AUDIT_RING];
    pthread_mutex_unlock(&ring_mu);
    return ok ? 0 : -1;
}

void esemd_refusal(const struct client *c, const char *what, int32_t st)
{
    audit_record(c, what, st, esem_status_errno(st));
    if (limit_ok(&refusals))
        esemd_log("audit: refused %s pid=%d uid=%u: %s (%s)", what, c ? (int)c->pid : -1,
                  c ? (unsigned)c->uid : 0u, core_strerror(st), strerror(esem_status_errno(st)));
}

void esemd_refusal_errno(const struct client *c, const char *what, const char *why, int err)
{
    char rec[48];
    snprintf(rec, sizeof rec, "%s (%s)", what, why);
    audit_record(c, rec, 0, err);
    if (limit_ok(&refusals))
        esemd_log("audit: refused %s pid=%d uid=%u: %s (%s)", what, c ? (int)c->pid : -1,
                  c ? (unsigned)c->uid : 0u, why, strerror(err));
}
