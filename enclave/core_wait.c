/*
 * esem trusted core: the wait queue's orders -- barging, adaptive and FIFO
 * -- as a post, a wait, a woken waiter's retry and a cancel see them
 * (docs/DESIGN.md, "Waiting").  Freestanding like core.c.
 */
#include "core_int.h"

/* Barging order keeps one promise: while permits are free and waiters
 * queued, at least min(value, waiters) of them are woken (told to ask
 * again), so no free permit sits next to a sleeping waiter.  Called after
 * anything that raises the value or removes a woken waiter.  The first
 * wake goes to *direct if given (a post's one wake), the rest to notes.
 * Queue order is priority, then arrival, so the waiter woken is the
 * highest-priority one that waited longest. */
/* The first waiter from w on in queue order that sleeps: not woken, its
 * session not closing.  NIL if none. */
static uint32_t next_sleeper(const struct core *c, uint32_t w)
{
    while (w != NIL && (c->waiters[w].woken || c->sessions[c->waiters[w].sess].closing))
        w = c->waiters[w].q_next;
    return w;
}

void rebalance(struct core *c, uint32_t si, struct core_wake *direct)
{
    struct sem *s = &c->sems[si];
    if (s->flags & CORE_SEMF_FIFO)
        return;
    uint32_t w = s->wait_head;
    while (s->nwoken < s->value && s->nwoken < s->nwaiters && w != NIL) {
        w = next_sleeper(c, w);
        if (w == NIL)
            break;
        c->waiters[w].woken = 1;
        s->nwoken++;
        if (direct && !direct->valid)
            wake_fill(c, w, CORE_RETRY, direct);
        else
            note_push(c, w, CORE_RETRY);
    }
}

/* When a post in barging order grants its permit outright to the waiter
 * next in line (the one it would wake: highest priority, then longest
 * queued, not already woken), as FIFO order does, instead of waking it to
 * ask again:
 *  - cfg.handoff_ns: that waiter has waited so long (barging's starvation
 *    bound; 0: none);
 *  - CORE_CFG_ADAPTIVE: when the waiter is another process's, except in
 *    a barging spell.  Waking a sleeper to ask again costs it a round
 *    trip and leaves the permit free meanwhile for any running thread,
 *    after which the woken waiter must sleep again (Apache's accept
 *    mutex, docs/PERFORMANCE.md).  But when
 *    the poster of such a grant must itself queue within HAND_QUICK_NS --
 *    a thread looping post, wait: the convoy FIFO order makes -- the
 *    semaphore barges for HAND_SPELL_NS.
 * now comes from the host: a wrong clock changes only who is served
 * first, never how many permits there are.  1: granted (wk). */
#define HAND_QUICK_NS 20000ull
#define HAND_SPELL_NS 100000000ull

static int handoff_due(struct core *c, uint32_t si, uint32_t ssi, uint64_t now,
                       struct core_wake *wk)
{
    struct sem *s = &c->sems[si];
    int adaptive = (c->cfg.flags & CORE_CFG_ADAPTIVE) != 0;
    if ((!c->cfg.handoff_ns && !adaptive) || s->nwaiters <= s->nwoken)
        return 0;
    uint32_t w = next_sleeper(c, s->wait_head);
    if (w == NIL)
        return 0;
    int long_wait = c->cfg.handoff_ns && now >= c->waiters[w].since &&
                    now - c->waiters[w].since >= c->cfg.handoff_ns;
    /* among the threads of one process, barging as glibc (its threads'
     * post-wait loops are the convoy, and a preempted poster may come back
     * later than HAND_QUICK_NS: 1 x 16 threads lost 40 % with grants) */
    if (!long_wait && !(adaptive && now >= s->barge_until && c->waiters[w].sess != ssi))
        return 0;
    uint32_t o = open_find(c, c->waiters[w].sess, si);
    if (o == NIL || !(c->opens[o].rights & CORE_R_WAIT))
        return 0; /* revoked: its own retry takes it out (EACCES) */
    wake_fill(c, w, CORE_OK, wk);
    waiter_unlink(c, w);
    s->handoffs++;
    s->handoff_at = now;
    s->handoff_sess = ssi;
    return 1;
}

int32_t do_sem_post(struct core *c, struct core_sem_post_args *a)
{
    uint32_t ssi, si, oi;
    zero(&a->wake, sizeof a->wake); /* the host reads no stale record */
    a->notes = 0;
    int32_t r = resolve(c, a->session, a->handle, &ssi, &si, &oi);
    if (r)
        return r;
    if (!(c->opens[oi].rights & CORE_R_POST))
        return CORE_E_ACCES;
    struct sem *s = &c->sems[si];
    if (s->flags & CORE_SEMF_FIFO) {
        /* FIFO order: hand the permit straight to the first waiter that may
         * still wait (one whose right was revoked leaves with EACCES): the
         * value never rises, so no later wait can take a permit a waiter
         * was due. */
        while (s->wait_head != NIL) {
            uint32_t w = s->wait_head;
            struct waiter *wt = &c->waiters[w];
            uint32_t o = open_find(c, wt->sess, si);
            if (o != NIL && (c->opens[o].rights & CORE_R_WAIT)) {
                wake_fill(c, w, CORE_OK, &a->wake);
                waiter_unlink(c, w);
                s->posts++;
                s->waits++;
                a->notes = c->nnotes;
                return CORE_OK;
            }
            note_push(c, w, CORE_E_ACCES);
            s->cancels++;
            waiter_unlink(c, w);
        }
        a->notes = c->nnotes;
    }
    if (s->value >= CORE_SEM_VALUE_MAX)
        return CORE_E_OVERFLOW;
    if (handoff_due(c, si, ssi, a->now_ns, &a->wake)) {
        s->posts++;
        s->waits++;
        a->notes = c->nnotes;
        return CORE_OK;
    }
    /* Barging order (the default): the permit is free for whoever asks
     * first; a sleeping waiter is only told to ask again. */
    s->value++;
    s->posts++;
    if (s->nwaiters)
        rebalance(c, si, &a->wake);
    a->notes = c->nnotes;
    return CORE_OK;
}

/* A woken waiter asks again (barging order): it takes a permit if one is
 * free; otherwise it sleeps again in its old place, or with CORE_WAIT_TRY
 * (its deadline passed, a signal came) it leaves the queue. */
static int32_t retry_woken(struct core *c, uint32_t si, uint32_t w, uint32_t rights,
                           const struct core_sem_wait_args *in)
{
    struct sem *s = &c->sems[si];
    struct waiter *wt = &c->waiters[w];
    s->retries++;
    if (!(rights & CORE_R_WAIT)) {
        /* revoked while queued: it leaves, and its wake passes on */
        s->cancels++;
        waiter_unlink(c, w);
        rebalance(c, si, 0);
        return CORE_E_ACCES;
    }
    if (s->value > 0) {
        s->value--;
        s->waits++;
        waiter_unlink(c, w);
        return CORE_OK;
    }
    if (in->flags & CORE_WAIT_TRY) {
        s->cancels++;
        waiter_unlink(c, w);
        return CORE_E_AGAIN;
    }
    wt->woken = 0;
    s->nwoken--;
    wt->seq = in->seq;
    s->blocks++;
    return CORE_QUEUED;
}

int32_t do_sem_wait(struct core *c, struct core_sem_wait_args *a)
{
    uint32_t ssi, si;
    uint32_t oi;
    struct core_sem_wait_args in;
    copy(&in, a, sizeof in);
    a->notes = 0;
    int32_t r = resolve(c, in.session, in.handle, &ssi, &si, &oi);
    if (r)
        return r;
    if (in.flags & ~CORE_WAIT_TRY)
        return CORE_E_INVAL;
    struct sem *s = &c->sems[si];
    /* One outstanding wait per slot: a slot is one thread's.  The same
     * slot asking again while its wait is queued is a woken waiter's
     * retry; anything else is refused. */
    uint32_t w = waiter_of_slot(c, ssi, in.slot);
    if (w != NIL) {
        if (!c->waiters[w].woken || c->waiters[w].sem != si)
            return CORE_E_BUSY;
        r = retry_woken(c, si, w, c->opens[oi].rights, &in);
        a->notes = c->nnotes;
        return r;
    }
    if (!(c->opens[oi].rights & CORE_R_WAIT))
        return CORE_E_ACCES;
    /* Barging order: a free permit goes to whoever asks first, also ahead
     * of woken waiters on their way back (glibc does the same); they sleep
     * again if they lose.  FIFO order never lets the value rise while
     * anyone waits, so there this takes only an uncontended permit. */
    if (s->value > 0) {
        s->value--;
        s->waits++;
        return CORE_OK;
    }
    if (in.flags & CORE_WAIT_TRY)
        return CORE_E_AGAIN;
    if (s->handoffs && ssi == s->handoff_sess && in.now_ns >= s->handoff_at &&
        in.now_ns - s->handoff_at < HAND_QUICK_NS)
        s->barge_until = in.now_ns + HAND_SPELL_NS; /* a poster looping back (handoff_due) */
    r = waiter_add(c, ssi, si, in.slot, in.seq, in.prio, &w);
    if (r)
        return r;
    c->waiters[w].since = in.now_ns;
    s->blocks++;
    return CORE_QUEUED;
}

int32_t do_sem_cancel(struct core *c, struct core_sem_cancel_args *a)
{
    uint32_t ssi;
    core_id_t session = a->session;
    uint32_t slot = a->slot;
    a->seq = 0;
    a->notes = 0;
    zero(a->mac, sizeof a->mac);
    if (!session_get(c, session, &ssi))
        return CORE_E_SESSION;
    uint32_t w = waiter_of_slot(c, ssi, slot);
    /* No waiter: a post already granted it (the grant is being delivered)
     * or there never was one.  Either way nothing is taken back. */
    if (w == NIL)
        return CORE_E_NOWAITER;
    uint32_t si = c->waiters[w].sem;
    a->seq = c->waiters[w].seq;
    reply_mac(c, session, slot, a->seq, c->waiters[w].call, c->waiters[w].req_handle,
              CORE_CANCELLED, 0, 0, 0, 0, a->mac);
    c->sems[si].cancels++;
    waiter_unlink(c, w);
    rebalance(c, si, 0); /* a woken waiter that gives up passes its wake on */
    a->notes = c->nnotes;
    sem_maybe_free(c, si);
    return CORE_OK;
}
