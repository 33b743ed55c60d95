/* esemd's log and audit trail (log.c). */
#ifndef ESEMD_LOG_H
#define ESEMD_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "daemon.h"

/* Where lines go: a file (detached daemon), else stderr. */
void log_to(FILE *f);
/* One timestamped line. */
void esemd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2), nonnull(1)));
/* A line caused by a client (session start and end): rate-limited with
 * the refusal lines, so that no local user can flood the log. */
void esemd_log_limited(const char *fmt, ...) __attribute__((format(printf, 1, 2), nonnull(1)));
/* A refused request of c (NULL: before any client is known): a record in
 * the audit ring (every one) and a rate-limited log line. */
void esemd_refusal(const struct client *c, const char *what, int32_t core_status);
/* The same for a refusal outside the core: what was refused, why, and the
 * errno the caller got. */
void esemd_refusal_errno(const struct client *c, const char *what, const char *why, int err);
/* Called by the main loop at least once a second while audit_pending():
 * reports how many lines a finished burst left out. */
int audit_pending(void);
void audit_tick(void);
void audit_flush(void);

/* The audit ring, for `esemctl audit`: the last AUDIT_RING refusals. */
#define AUDIT_RING 1024u
struct audit_rec {
    uint64_t when_ms;
    int32_t pid;
    int32_t status; /* the core's status, 0 for a refusal outside the core */
    int32_t err;    /* the errno the caller got */
    uint32_t uid;
    char what[48];
};
/* Records ever written; record i (i < audit_count()) is still there if
 * audit_get(i, out) returns 0. */
uint64_t audit_count(void);
int audit_get(uint64_t i, struct audit_rec *out);

#endif
