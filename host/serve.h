/* One request, from a channel slot to the core and back (serve.c). */
#ifndef ESEMD_SERVE_H
#define ESEMD_SERVE_H

#include <stdint.h>

#include "daemon.h"
#include "proc.h"

/* FUTEX_WAKEs collected under the locks and issued after them: a sleeping
 * waiter is never woken into a lock its waker still holds. */
struct wakeq {
    uint32_t *addr[64];
    int n;
    int woke; /* a wake-up was issued since the worker last yielded */
};

/* Issue the collected wake-ups (after the locks). */
void wakeq_flush(struct wakeq *q);

/* A request as the slot held it when it was taken (a private copy). */
struct req {
    uint32_t op, oflag, value, mode, name_len;
    int32_t prio;
    uint64_t handle;
    uint8_t mac[CORE_MAC_BYTES];
    char name[ESEM_NAME_BUF];
};

/* A request the core refused in a way worth an audit line. */
struct refusal {
    int32_t st;
    uint32_t op;
};

/* A request taken out of its slot, before the core lock is taken. */
struct taken {
    uint32_t seq, cseq;
    uint64_t seq64; /* seq with the client's high bits */
    int fresh;      /* a new request (else: maybe a cancel) */
    int setcred;    /* the caller's identity was read again: tell the core */
    int32_t cred_st; /* OPEN/UNLINK: 0, or why the caller's identity is refused */
    const char *cred_why; /* ... in words, for the audit line */
    struct req r;
    struct proc_creds pc;
};

/* Phase one, without the core lock: claim slot k's news (a new request or
 * a cancel) and copy it out.  Returns 0 if there was none to claim. */
int serve_take(struct client *c, uint32_t k, struct taken *t);
/* Phase two, core_mu held: run what serve_take found and reply. */
void serve_slot(struct client *c, uint32_t k, struct taken *t, struct wakeq *q,
                struct refusal *ref);
const char *serve_op_name(uint32_t op);
/* End c's core session: re-post grants it never took, then close it.
 * Fills the counts for the log. */
void serve_session_end(struct client *c, uint32_t *waiters_removed, uint32_t *opens_closed,
                       uint32_t *reposted);

#endif
