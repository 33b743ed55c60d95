/*
 * The trusted core's records (core.c's entry points and core_sysv.c's both
 * use them): ids, open records, semaphore objects and their names, the
 * access rules (policy, owner, access list), per-user accounts, waiters and
 * the replies owed to them.  No entry point here; no call into core.c or
 * core_sysv.c, so the three files form no circle.
 */
#include "core_auth.h"
#include "core_int.h"

/* ---- ids ---- */

struct session *session_get(struct core *c, core_id_t id, uint32_t *idx)
{
    uint32_t i = id_index(id);
    *idx = 0;
    if (i >= c->cfg.max_sessions)
        return 0;
    struct session *s = &c->sessions[i];
    if (!s->live || s->gen != id_gen(id))
        return 0;
    *idx = i;
    return s;
}

struct sem *sem_get(struct core *c, core_id_t h, uint32_t *idx)
{
    uint32_t i = id_index(h);
    *idx = 0;
    if (i >= c->cfg.max_sems)
        return 0;
    struct sem *s = &c->sems[i];
    if (s->state != SEM_LIVE || s->gen != id_gen(h))
        return 0;
    *idx = i;
    return s;
}

/* Resolve (session, handle) and check the session holds the semaphore open:
 * every operation is checked against the caller, not just the handle. */
int32_t resolve_any(struct core *c, core_id_t session, core_id_t handle, uint32_t *ssi,
                    uint32_t *si, uint32_t *oi)
{
    if (!session_get(c, session, ssi))
        return CORE_E_SESSION;
    if (!sem_get(c, handle, si))
        return CORE_E_HANDLE;
    uint32_t o = open_find(c, *ssi, *si);
    if (o == NIL)
        return CORE_E_NOTOPEN;
    if (oi)
        *oi = o;
    return CORE_OK;
}

/* The same for a POSIX operation: a System V set is no sem_t. */
int32_t resolve(struct core *c, core_id_t session, core_id_t handle, uint32_t *ssi,
                uint32_t *si, uint32_t *oi)
{
    int32_t r = resolve_any(c, session, handle, ssi, si, oi);
    if (!r && (c->sems[*si].flags & CORE_SEMF_SYSV))
        return CORE_E_HANDLE;
    return r;
}

const char *sem_name(const struct core *c, const struct sem *s)
{
    return s->long_name == NIL ? s->name : c->longnames[s->long_name].s;
}

/* ---- open records: (session, sem) -> count ---- */

static uint32_t open_bucket(const struct core *c, uint32_t sess, uint32_t sem)
{
    return hash_pair(sess, sem) & (c->open_buckets - 1);
}

uint32_t open_find(const struct core *c, uint32_t sess, uint32_t sem)
{
    for (uint32_t o = c->open_hash[open_bucket(c, sess, sem)]; o != NIL;
         o = c->opens[o].hash_next)
        if (c->opens[o].sess == sess && c->opens[o].sem == sem)
            return o;
    return NIL;
}

/* Add n references of sem to session, holding the policy rights base (a
 * second open adds to what the first one gave). */
int32_t open_add(struct core *c, uint32_t sess, uint32_t sem, uint32_t n,
                        uint32_t base)
{
    /* The per-semaphore total must not wrap, or an unlink would free an
     * object that is still held and its slot could be handed to another. */
    if (c->sems[sem].open_count > 0xffffffffu - n)
        return CORE_E_NOSPC;
    uint32_t o = open_find(c, sess, sem);
    if (o != NIL) {
        if (c->opens[o].count > 0xffffffffu - n)
            return CORE_E_NOSPC;
        c->opens[o].count += n;
        c->opens[o].base |= base;
        c->opens[o].rights = apply_acl(c, &c->sessions[sess], &c->sems[sem], c->opens[o].base);
        c->sems[sem].open_count += n;
        return CORE_OK;
    }
    if (c->open_free == NIL)
        return CORE_E_NOSPC;
    o = c->open_free;
    struct openrec *r = &c->opens[o];
    c->open_free = r->hash_next;
    r->sess = sess;
    r->sem = sem;
    r->count = n;
    r->base = base;
    r->rights = apply_acl(c, &c->sessions[sess], &c->sems[sem], base);
    uint32_t b = open_bucket(c, sess, sem);
    r->hash_next = c->open_hash[b];
    c->open_hash[b] = o;
    struct session *ss = &c->sessions[sess];
    r->sess_prev = NIL;
    r->sess_next = ss->open_head;
    if (ss->open_head != NIL)
        c->opens[ss->open_head].sess_prev = o;
    ss->open_head = o;
    ss->nopens++;
    struct sem *sm = &c->sems[sem];
    r->sem_prev = NIL;
    r->sem_next = sm->open_head;
    if (sm->open_head != NIL)
        c->opens[sm->open_head].sem_prev = o;
    sm->open_head = o;
    sm->open_count += n;
    c->opens_in_use++;
    return CORE_OK;
}

void open_remove(struct core *c, uint32_t o)
{
    struct openrec *r = &c->opens[o];
    uint32_t b = open_bucket(c, r->sess, r->sem);
    uint32_t *pp = &c->open_hash[b];
    while (*pp != o)
        pp = &c->opens[*pp].hash_next;
    *pp = r->hash_next;
    struct session *ss = &c->sessions[r->sess];
    if (r->sess_prev != NIL)
        c->opens[r->sess_prev].sess_next = r->sess_next;
    else
        ss->open_head = r->sess_next;
    if (r->sess_next != NIL)
        c->opens[r->sess_next].sess_prev = r->sess_prev;
    ss->nopens--;
    struct sem *sm = &c->sems[r->sem];
    if (r->sem_prev != NIL)
        c->opens[r->sem_prev].sem_next = r->sem_next;
    else
        sm->open_head = r->sem_next;
    if (r->sem_next != NIL)
        c->opens[r->sem_next].sem_prev = r->sem_prev;
    sm->open_count -= r->count;
    r->count = 0;
    r->hash_next = c->open_free;
    c->open_free = o;
    c->opens_in_use--;
}

/* ---- semaphores ---- */

void name_unhash(struct core *c, uint32_t si)
{
    struct sem *s = &c->sems[si];
    uint32_t b = hash_bytes(sem_name(c, s), s->name_len) & (c->name_buckets - 1);
    uint32_t *pp = &c->name_hash[b];
    while (*pp != NIL && *pp != si)
        pp = &c->sems[*pp].hash_next;
    if (*pp == si)
        *pp = s->hash_next;
    s->hash_next = NIL;
}

void sem_free(struct core *c, uint32_t si)
{
    struct sem *s = &c->sems[si];
    if ((s->flags & CORE_SEMF_NAMED) && !(s->flags & CORE_SEMF_UNLINKED))
        name_unhash(c, si);
    if (s->long_name != NIL) {
        c->longnames[s->long_name].next_free = c->longname_free;
        c->longname_free = s->long_name;
    }
    while (s->acl_head != NIL) {
        uint32_t e = s->acl_head;
        s->acl_head = c->acls[e].next;
        c->acls[e].next = c->acl_free;
        c->acl_free = e;
        c->acls_in_use--;
    }
    s->nacl = 0;
    acct_give(c, s->acct, ACCT_OBJECT);
    uint32_t gen = s->gen + 1;
    zero(s, sizeof *s);
    s->gen = gen ? gen : 1; /* a stale handle never matches again */
    s->state = SEM_FREE;
    s->hash_next = c->sem_free;
    c->sem_free = si;
    c->sems_in_use--;
}

/* Free an object nobody can reach any more: unlinked (or anonymous) and
 * closed by everyone.  A named, linked semaphore persists with no opens,
 * like the file glibc keeps in /dev/shm. */
void sem_maybe_free(struct core *c, uint32_t si)
{
    struct sem *s = &c->sems[si];
    if (s->open_count == 0 && s->nwaiters == 0 &&
        (s->flags & (CORE_SEMF_UNLINKED | CORE_SEMF_ANON)))
        sem_free(c, si);
}

int32_t sem_alloc(struct core *c, uint32_t *out)
{
    if (c->sem_free == NIL)
        return CORE_E_NOSPC;
    uint32_t si = c->sem_free;
    struct sem *s = &c->sems[si];
    c->sem_free = s->hash_next;
    uint32_t gen = s->gen;
    zero(s, sizeof *s);
    s->gen = gen;
    s->state = SEM_LIVE;
    s->wait_head = s->wait_tail = s->open_head = NIL;
    s->hash_next = NIL;
    s->long_name = NIL;
    s->acl_head = NIL;
    s->set = NIL;
    s->acct = NIL;
    c->sems_in_use++;
    *out = si;
    return CORE_OK;
}

/* POSIX name checks after the client stripped leading slashes: non-empty,
 * no further '/', no NUL, not "." or "..". */
int32_t name_check(const char *n, uint32_t len)
{
    if (len > CORE_NAME_MAX)
        return CORE_E_NAMETOOLONG;
    if (len == 0)
        return CORE_E_INVAL;
    for (uint32_t i = 0; i < len; i++)
        if (n[i] == '/' || n[i] == '\0')
            return CORE_E_INVAL;
    if ((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.'))
        return CORE_E_INVAL;
    return CORE_OK;
}

uint32_t name_lookup(const struct core *c, const char *n, uint32_t len)
{
    uint32_t b = hash_bytes(n, len) & (c->name_buckets - 1);
    for (uint32_t si = c->name_hash[b]; si != NIL; si = c->sems[si].hash_next) {
        const struct sem *s = &c->sems[si];
        if (s->name_len == len && same(sem_name(c, s), n, len))
            return si;
    }
    return NIL;
}

int in_group(const struct session *ss, uint32_t gid)
{
    if (ss->gid == gid)
        return 1;
    for (uint32_t i = 0; i < ss->ngroups && i < CORE_NGROUPS_MAX; i++)
        if (ss->groups[i] == gid)
            return 1;
    return 0;
}

/* Read+write permission in the POSIX sense (glibc opens the file O_RDWR):
 * the owner class applies if the uid matches, else the group class if any of
 * the caller's groups matches, else other.  uid 0 bypasses, as with files. */
static int may_open(const struct session *ss, const struct sem *s)
{
    if (ss->uid == 0)
        return 1;
    if (ss->uid == s->uid)
        return (s->mode & 0600u) == 0600u;
    if (in_group(ss, s->gid))
        return (s->mode & 0060u) == 0060u;
    return (s->mode & 0006u) == 0006u;
}

/* How specifically an access-list principal names this session:
 * 0 not at all, then gid < uid < key < process. */
static int principal_level(const struct session *ss, const struct core_principal *p)
{
    switch (p->kind) {
    case CORE_P_GID: return in_group(ss, p->id) ? 1 : 0;
    case CORE_P_UID: return ss->uid == p->id ? 2 : 0;
    case CORE_P_KEY: return ss->key_id && ss->key_id == p->ext ? 3 : 0;
    case CORE_P_PROC:
        return (ss->pid == p->id && ss->start_time == p->ext) ||
                       (ss->as_pid == p->id && ss->as_start == p->ext)
                   ? 4
                   : 0;
    default: return 0;
    }
}

/* The owner may grant and revoke.  POSIX policy: the creating uid (and
 * root, as for files).  Strict policy: the creating key, or without a key
 * the creating process and the children it forked (they act as it) —
 * never merely the same uid, never root. */
int is_owner(const struct session *ss, const struct sem *s)
{
    if (!(s->flags & CORE_SEMF_STRICT))
        return ss->uid == 0 || ss->uid == s->uid;
    if (s->owner_key)
        return ss->key_id == s->owner_key;
    return ss->as_pid == s->owner_pid && ss->as_start == s->owner_start;
}

/* What the policy gives a session: POSIX — the mode bits (open, wait,
 * post) and unlink for the owning uid and root, as /dev/shm's sticky bit
 * would; strict — everything for the owner, nothing for anyone else. */
uint32_t base_rights(const struct session *ss, const struct sem *s)
{
    if (s->flags & CORE_SEMF_STRICT)
        return is_owner(ss, s) ? CORE_R_ALL : 0;
    uint32_t r = may_open(ss, s) ? CORE_R_OPEN | CORE_R_WAIT | CORE_R_POST : 0;
    if (ss->uid == 0 || ss->uid == s->uid)
        r |= CORE_R_UNLINK;
    return r;
}

/* Apply the access list to rights r, from the least to the most specific
 * principal (gid < uid < key < process): at each level allow adds and deny
 * removes (deny wins within a level).  A strict owner cannot lock itself
 * out. */
uint32_t apply_acl(const struct core *c, const struct session *ss, const struct sem *s,
                   uint32_t r)
{
    if ((s->flags & CORE_SEMF_STRICT) && is_owner(ss, s))
        return CORE_R_ALL;
    if (s->acl_head == NIL)
        return r;
    for (int level = 1; level <= 4; level++) {
        uint32_t allow = 0, deny = 0;
        for (uint32_t e = s->acl_head; e != NIL; e = c->acls[e].next) {
            if (principal_level(ss, &c->acls[e].who) == level) {
                allow |= c->acls[e].allow;
                deny |= c->acls[e].deny;
            }
        }
        r = (r | allow) & ~deny;
    }
    return r;
}

/* Rights of a session on a semaphore it asks for now (open, unlink). */
uint32_t rights_of(const struct core *c, const struct session *ss, const struct sem *s)
{
    return apply_acl(c, ss, s, base_rights(ss, s));
}

/* Re-apply the access list to every open record of a semaphore (after
 * grant/revoke): a revoked right stops working at once, not at the next
 * open; what the policy gave at open time stays, as an fd's mode does. */
void refresh_rights(struct core *c, uint32_t si)
{
    const struct sem *s = &c->sems[si];
    for (uint32_t o = s->open_head; o != NIL; o = c->opens[o].sem_next)
        c->opens[o].rights = apply_acl(c, &c->sessions[c->opens[o].sess], s, c->opens[o].base);
}

struct keyed *keyed_of(struct core *c, const struct session *ss)
{
    return ss->kidx == NIL ? 0 : &c->keyed[ss->kidx];
}

/* The MAC of a reply to request (session, slot, seq), a `call` on
 * req_handle; zero for a PID session. */
void reply_mac(struct core *c, core_id_t session, uint32_t slot, uint64_t seq,
                      uint32_t call, core_id_t req_handle, int32_t status, uint32_t value,
                      core_id_t handle, const uint8_t *data, uint32_t len,
                      uint8_t mac[CORE_MAC_BYTES])
{
    uint32_t si;
    struct session *ss = session_get(c, session, &si);
    struct keyed *k = ss ? keyed_of(c, ss) : 0;
    if (!k) {
        zero(mac, CORE_MAC_BYTES);
        return;
    }
    struct core_reply rep;
    zero(&rep, sizeof rep);
    rep.session = session;
    rep.slot = slot;
    rep.seq = seq;
    rep.call = call;
    rep.req_handle = req_handle;
    rep.status = status;
    rep.value = value;
    rep.handle = handle;
    if (len)
        core_auth_rep_mac_data(k->ks, &rep, data, len, mac);
    else
        core_auth_rep_mac(k->ks, &rep, mac);
}

/* ---- per-user limits ---- */

static uint32_t acct_find(struct core *c, uint32_t uid, int make)
{
    uint32_t mask = c->acct_buckets - 1, tomb = NIL;
    for (uint32_t i = 0, b = hash_pair(uid, 0x75696421u) & mask; i <= mask; i++, b = (b + 1) & mask) {
        struct uacct *a = &c->acct[b];
        if (a->used == 1 && a->uid == uid)
            return b;
        if (a->used == 2 && tomb == NIL)
            tomb = b;
        if (a->used == 0) {
            if (tomb == NIL)
                tomb = b;
            break;
        }
    }
    if (!make || tomb == NIL)
        return NIL;
    c->acct[tomb] = (struct uacct){.uid = uid, .used = 1};
    return tomb;
}

int32_t acct_take(struct core *c, uint32_t uid, int kind, uint32_t *acct)
{
    *acct = NIL;
    if (!c->acct_buckets || uid == 0 || uid == c->cfg.exempt_uid)
        return CORE_OK;
    uint32_t lim = kind == ACCT_OBJECT ? c->cfg.uid_objects : c->cfg.uid_waiters;
    if (!lim)
        return CORE_OK;
    uint32_t b = acct_find(c, uid, 1);
    if (b == NIL)
        return CORE_E_QUOTA; /* more users than the table holds */
    uint32_t *n = kind == ACCT_OBJECT ? &c->acct[b].objects : &c->acct[b].waiters;
    if (*n >= lim) {
        if (!c->acct[b].objects && !c->acct[b].waiters)
            c->acct[b].used = 2;
        return CORE_E_QUOTA;
    }
    (*n)++;
    *acct = b;
    return CORE_OK;
}

void acct_give(struct core *c, uint32_t acct, int kind)
{
    if (acct == NIL || acct >= c->acct_buckets)
        return;
    struct uacct *a = &c->acct[acct];
    uint32_t *n = kind == ACCT_OBJECT ? &a->objects : &a->waiters;
    if (*n)
        (*n)--;
    if (!a->objects && !a->waiters)
        a->used = 2; /* a tombstone: lookups go past it, a new uid may take it */
}

/* ---- waiters ---- */

void waiter_unlink(struct core *c, uint32_t w)
{
    struct waiter *wt = &c->waiters[w];
    struct sem *s = &c->sems[wt->sem];
    if (wt->ops != NIL)
        sysv_waiter_free(c, w);
    acct_give(c, wt->acct, ACCT_WAITER);
    wt->acct = NIL;
    if (wt->woken)
        s->nwoken--;
    wt->woken = 0;
    if (wt->q_prev != NIL)
        c->waiters[wt->q_prev].q_next = wt->q_next;
    else
        s->wait_head = wt->q_next;
    if (wt->q_next != NIL)
        c->waiters[wt->q_next].q_prev = wt->q_prev;
    else
        s->wait_tail = wt->q_prev;
    s->nwaiters--;
    struct session *ss = &c->sessions[wt->sess];
    if (wt->s_prev != NIL)
        c->waiters[wt->s_prev].s_next = wt->s_next;
    else
        ss->waiter_head = wt->s_next;
    if (wt->s_next != NIL)
        c->waiters[wt->s_next].s_prev = wt->s_prev;
    ss->nwaiters--;
    wt->live = 0;
    wt->q_next = c->waiter_free;
    c->waiter_free = w;
    c->waiters_in_use--;
}

int32_t waiter_add(struct core *c, uint32_t ssi, uint32_t si, uint32_t slot, uint64_t seq,
                   int32_t prio, uint32_t *out)
{
    if (c->waiter_free == NIL)
        return CORE_E_NOSPC;
    uint32_t acct;
    int32_t r = acct_take(c, c->sessions[ssi].uid, ACCT_WAITER, &acct);
    if (r)
        return r;
    struct sem *s = &c->sems[si];
    uint32_t w = c->waiter_free;
    struct waiter *wt = &c->waiters[w];
    c->waiter_free = wt->q_next;
    c->waiters_in_use++;
    zero(wt, sizeof *wt);
    wt->live = 1;
    wt->sess = ssi;
    wt->sem = si;
    wt->slot = slot;
    wt->seq = seq;
    wt->prio = prio;
    wt->call = CORE_ECALL_SEM_WAIT;
    wt->req_handle = mkid(si, s->gen);
    wt->ops = NIL;
    wt->acct = acct;
    /* Insert after the last waiter of equal or higher priority. */
    uint32_t after = s->wait_tail;
    while (after != NIL && c->waiters[after].prio < prio)
        after = c->waiters[after].q_prev;
    wt->q_prev = after;
    wt->q_next = after == NIL ? s->wait_head : c->waiters[after].q_next;
    if (after == NIL)
        s->wait_head = w;
    else
        c->waiters[after].q_next = w;
    if (wt->q_next == NIL)
        s->wait_tail = w;
    else
        c->waiters[wt->q_next].q_prev = w;
    s->nwaiters++;
    struct session *ss = &c->sessions[ssi];
    wt->s_prev = NIL;
    wt->s_next = ss->waiter_head;
    if (ss->waiter_head != NIL)
        c->waiters[ss->waiter_head].s_prev = w;
    ss->waiter_head = w;
    ss->nwaiters++;
    *out = w;
    return CORE_OK;
}

uint32_t waiter_of_slot(const struct core *c, uint32_t sess, uint32_t slot)
{
    for (uint32_t w = c->sessions[sess].waiter_head; w != NIL; w = c->waiters[w].s_next)
        if (c->waiters[w].slot == slot)
            return w;
    return NIL;
}

/* The reply a queued waiter is owed (see struct core_wake). */
void wake_fill(struct core *c, uint32_t w, int32_t status, struct core_wake *out)
{
    const struct waiter *wt = &c->waiters[w];
    zero(out, sizeof *out);
    out->session = mkid(wt->sess, c->sessions[wt->sess].gen);
    out->handle = mkid(wt->sem, c->sems[wt->sem].gen);
    out->slot = wt->slot;
    out->seq = wt->seq;
    out->status = status;
    out->valid = 1;
    reply_mac(c, out->session, out->slot, out->seq, wt->call, wt->req_handle, status, 0, 0,
              0, 0, out->mac);
}

/* Queue a reply for CORE_ECALL_NOTES.  Each call adds at most one per
 * waiter it touches and the host takes them after every call, so the
 * list (one entry per waiter) cannot overflow; if a hostile host never
 * takes them, the oldest stay and the rest are counted as dropped — a
 * wake-up lost, never a permit. */
void note_push(struct core *c, uint32_t w, int32_t status)
{
    if (c->nnotes >= c->cfg.max_waiters) {
        c->notes_dropped++;
        return;
    }
    wake_fill(c, w, status, &c->notes[c->nnotes++]);
}

/* A new semaphore's policy and owner. */
void set_owner(const struct core *c, const struct session *ss, struct sem *s,
                      uint32_t oflag)
{
    if ((oflag & CORE_O_FIFO) || (c->cfg.flags & CORE_CFG_FIFO))
        s->flags |= CORE_SEMF_FIFO;
    if (!(oflag & CORE_O_STRICT) && !(c->cfg.flags & CORE_CFG_STRICT))
        return;
    s->flags |= CORE_SEMF_STRICT;
    s->owner_key = ss->key_id;
    s->owner_pid = ss->as_pid;
    s->owner_start = ss->as_start;
}

/* A System V waiter's operations go back to their pool. */
void sysv_waiter_free(struct core *c, uint32_t w)
{
    struct waiter *wt = &c->waiters[w];
    while (wt->ops != NIL) {
        uint32_t b = wt->ops;
        wt->ops = c->opblks[b].next;
        c->opblks[b].next = c->opblk_free;
        c->opblk_free = b;
        c->opblks_in_use--;
    }
}

