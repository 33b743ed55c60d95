/*
 * esem trusted core: semaphore objects, sessions, open records and waiter
 * queues, all inside one arena.  Freestanding: no system calls, no libc
 * beyond the mem* functions the compiler may emit, no allocation.
 *
 * Tables are fixed arrays with free lists; every cross-reference is an index,
 * checked for range before use, so a corrupted or hostile id can only ever
 * select a slot the core then validates (generation + in-use flag).
 */
#include "core_auth.h"

#include "core_int.h"



/* ---- entry points ---- */

static int32_t do_session_open(struct core *c, struct core_session_open_args *a)
{
    struct core_session_open_args in;
    copy(&in, a, sizeof in);
    if (in.ngroups > CORE_NGROUPS_MAX)
        return CORE_E_INVAL;
    if (c->session_free == NIL)
        return CORE_E_NOSPC;
    /* With per-user limits (a daemon for many users), the last few
     * sessions are kept for root and the daemon's own user, so the
     * administrator can always connect and look (issue #11). */
    uint32_t reserve = c->cfg.max_sessions / 16 < 8 ? c->cfg.max_sessions / 16 : 8;
    if (c->acct_buckets && in.uid != 0 && in.uid != c->cfg.exempt_uid &&
        c->sessions_in_use + reserve >= c->cfg.max_sessions)
        return CORE_E_QUOTA;
    const struct keyrec *key = 0;
    if (in.key_id) {
        for (uint32_t k = 0; k < c->cfg.max_keys && !key; k++)
            if (c->keys[k].id == in.key_id)
                key = &c->keys[k];
        if (!key)
            return CORE_E_AUTH;
        /* Fail closed: a nonce the host could predict would let it replay
         * an old hello's session key. */
        if (!c->rng_ok)
            return CORE_E_NORAND;
        if (c->keyed_free == NIL)
            return CORE_E_NOSPC;
    }
    uint32_t i = c->session_free;
    struct session *s = &c->sessions[i];
    c->session_free = s->next_free;
    uint32_t gen = s->gen;
    zero(s, sizeof *s);
    s->gen = gen;
    s->live = 1;
    s->pid = in.pid;
    s->uid = in.uid;
    s->gid = in.gid;
    s->ngroups = in.ngroups;
    copy(s->groups, in.groups, sizeof s->groups);
    s->start_time = in.start_time;
    s->as_pid = in.pid;
    s->as_start = in.start_time;
    s->open_head = s->waiter_head = NIL;
    s->undo_head = NIL;
    s->next_free = NIL;
    s->kidx = NIL;
    c->sessions_in_use++;
    a->session = mkid(i, gen);
    a->core_nonce = 0;
    zero(a->proof, sizeof a->proof);
    if (key) {
        /* The session key binds the key, this session and the client's
         * fresh nonce; the proof shows the client it talks to the core. */
        uint32_t ki = c->keyed_free;
        struct keyed *k = &c->keyed[ki];
        c->keyed_free = k->next_free;
        zero(k, sizeof *k);
        k->next_free = NIL;
        c->keyed_in_use++;
        s->kidx = ki;
        s->key_id = in.key_id;
        a->core_nonce = ++c->next_nonce;
        core_auth_session_key(key->key, a->session, in.nonce, a->core_nonce, k->ks);
        core_auth_proof(k->ks, a->session, in.nonce, a->core_nonce, a->proof);
    }
    return CORE_OK;
}

static int32_t do_session_setcred(struct core *c, struct core_session_setcred_args *a)
{
    struct core_session_setcred_args in;
    copy(&in, a, sizeof in);
    uint32_t si;
    struct session *s = session_get(c, in.session, &si);
    if (!s)
        return CORE_E_SESSION;
    if (in.ngroups > CORE_NGROUPS_MAX)
        return CORE_E_INVAL;
    s->uid = in.uid;
    s->gid = in.gid;
    s->ngroups = in.ngroups;
    copy(s->groups, in.groups, sizeof s->groups);
    return CORE_OK;
}

static int32_t do_session_inherit(struct core *c, struct core_session_inherit_args *a)
{
    uint32_t ci, pi;
    core_id_t child = a->child, parent = a->parent;
    struct session *cs = session_get(c, child, &ci);
    struct session *ps = session_get(c, parent, &pi);
    if (!cs || !ps)
        return CORE_E_SESSION;
    if (ci == pi || cs->nopens != 0)
        return CORE_E_PERM;
    /* A key session's opens go only to a child that proved the same key. */
    if (ps->key_id && cs->key_id != ps->key_id)
        return CORE_E_PERM;
    /* Count first so that a full table fails the whole call, not half of it. */
    uint32_t need = 0;
    for (uint32_t o = ps->open_head; o != NIL; o = c->opens[o].sess_next) {
        if (c->sems[c->opens[o].sem].open_count > 0xffffffffu - c->opens[o].count)
            return CORE_E_NOSPC;
        need++;
    }
    if (need > c->cfg.max_opens - c->opens_in_use)
        return CORE_E_NOSPC;
    /* The child acts as the process its parent acts as (strict owners and
     * process grants follow the fork tree). */
    cs->as_pid = ps->as_pid;
    cs->as_start = ps->as_start;
    uint32_t n = 0;
    for (uint32_t o = ps->open_head; o != NIL; o = c->opens[o].sess_next) {
        /* POSIX: the child refers to the same semaphores the parent had open,
         * each with one reference per open in the parent. */
        if (open_add(c, ci, c->opens[o].sem, c->opens[o].count, c->opens[o].base) == CORE_OK)
            n++;
    }
    a->nopens = n;
    return CORE_OK;
}

static int32_t do_session_close(struct core *c, struct core_session_close_args *a)
{
    uint32_t si;
    struct session *s = session_get(c, a->session, &si);
    if (!s)
        return CORE_E_SESSION;
    uint32_t nw = 0, no = 0;
    s->closing = 1;
    while (s->waiter_head != NIL) {
        uint32_t w = s->waiter_head;
        uint32_t sem = c->waiters[w].sem;
        c->sems[sem].cancels++;
        waiter_unlink(c, w);
        /* a woken waiter that died passes its wake on */
        rebalance(c, sem, 0);
        nw++;
    }
    /* SEM_UNDO: what the process did is undone (and waiters it frees go) */
    sysv_session_end(c, si);
    while (s->open_head != NIL) {
        uint32_t o = s->open_head;
        uint32_t sem = c->opens[o].sem;
        open_remove(c, o);
        sem_maybe_free(c, sem);
        no++;
    }
    if (s->kidx != NIL) {
        struct keyed *k = &c->keyed[s->kidx];
        zero(k, sizeof *k);
        k->next_free = c->keyed_free;
        c->keyed_free = s->kidx;
        c->keyed_in_use--;
    }
    uint32_t gen = s->gen + 1;
    zero(s, sizeof *s);
    s->gen = gen ? gen : 1;
    s->kidx = NIL;
    s->next_free = c->session_free;
    c->session_free = si;
    c->sessions_in_use--;
    a->waiters_removed = nw;
    a->opens_closed = no;
    a->notes = c->nnotes;
    return CORE_OK;
}

static int32_t do_sem_open(struct core *c, struct core_sem_open_args *a)
{
    uint32_t ssi;
    struct core_sem_open_args in;
    copy(&in, a, sizeof in);
    struct session *ss = session_get(c, in.session, &ssi);
    if (!ss)
        return CORE_E_SESSION;
    if (in.oflag & ~(CORE_O_CREAT | CORE_O_EXCL | CORE_O_STRICT | CORE_O_FIFO))
        return CORE_E_INVAL;
    int32_t r = name_check(in.name, in.name_len);
    if (r)
        return r;
    uint32_t si = name_lookup(c, in.name, in.name_len);
    uint32_t created = 0; /* kept here: the argument struct is never read back */
    uint32_t base = CORE_R_ALL; /* the creator's */
    a->created = 0;
    if (si != NIL) {
        if ((in.oflag & (CORE_O_CREAT | CORE_O_EXCL)) == (CORE_O_CREAT | CORE_O_EXCL))
            return CORE_E_EXIST;
        base = base_rights(ss, &c->sems[si]);
        if (!(apply_acl(c, ss, &c->sems[si], base) & CORE_R_OPEN))
            return CORE_E_ACCES;
    } else {
        if (!(in.oflag & CORE_O_CREAT))
            return CORE_E_NOENT;
        if (in.value > CORE_SEM_VALUE_MAX)
            return CORE_E_INVAL;
        if (in.mode & ~07777u)
            return CORE_E_INVAL;
        uint32_t ln = NIL;
        if (in.name_len >= CORE_INLINE_NAME) {
            if (c->longname_free == NIL)
                return CORE_E_NOSPC;
            ln = c->longname_free;
        }
        if (c->open_free == NIL)
            return CORE_E_NOSPC;
        uint32_t acct;
        r = acct_take(c, ss->uid, ACCT_OBJECT, &acct);
        if (r)
            return r;
        r = sem_alloc(c, &si);
        if (r) {
            acct_give(c, acct, ACCT_OBJECT);
            return r;
        }
        struct sem *s = &c->sems[si];
        s->acct = acct;
        if (ln != NIL) {
            c->longname_free = c->longnames[ln].next_free;
            s->long_name = ln;
            copy(c->longnames[ln].s, in.name, in.name_len);
            c->longnames[ln].s[in.name_len] = 0;
        } else {
            copy(s->name, in.name, in.name_len);
        }
        s->name_len = in.name_len;
        s->flags = CORE_SEMF_NAMED;
        s->value = in.value;
        s->mode = in.mode & 0777u;
        s->uid = ss->uid;
        s->gid = ss->gid;
        set_owner(c, ss, s, in.oflag);
        uint32_t b = hash_bytes(in.name, in.name_len) & (c->name_buckets - 1);
        s->hash_next = c->name_hash[b];
        c->name_hash[b] = si;
        created = 1;
    }
    r = open_add(c, ssi, si, 1, base);
    if (r) {
        if (created)
            sem_free(c, si);
        return r;
    }
    a->created = created;
    a->handle = mkid(si, c->sems[si].gen);
    return CORE_OK;
}

static int32_t do_sem_create(struct core *c, struct core_sem_create_args *a)
{
    /* An anonymous semaphore follows the daemon's default policy. */
    uint32_t ssi, si;
    struct session *ss = session_get(c, a->session, &ssi);
    if (!ss)
        return CORE_E_SESSION;
    uint32_t value = a->value, flags = a->flags;
    if (value > CORE_SEM_VALUE_MAX || (flags & ~CORE_O_FIFO))
        return CORE_E_INVAL;
    if (c->open_free == NIL)
        return CORE_E_NOSPC;
    uint32_t acct;
    int32_t r = acct_take(c, ss->uid, ACCT_OBJECT, &acct);
    if (r)
        return r;
    r = sem_alloc(c, &si);
    if (r) {
        acct_give(c, acct, ACCT_OBJECT);
        return r;
    }
    struct sem *s = &c->sems[si];
    s->acct = acct;
    s->flags = CORE_SEMF_ANON;
    s->value = value;
    s->mode = 0600;
    s->uid = ss->uid;
    s->gid = ss->gid;
    set_owner(c, ss, s, flags);
    r = open_add(c, ssi, si, 1, CORE_R_ALL);
    if (r) {
        sem_free(c, si);
        return r;
    }
    a->handle = mkid(si, s->gen);
    return CORE_OK;
}


static int32_t session_waits_on(const struct core *c, uint32_t ssi, uint32_t si)
{
    for (uint32_t w = c->sessions[ssi].waiter_head; w != NIL; w = c->waiters[w].s_next)
        if (c->waiters[w].sem == si)
            return 1;
    return 0;
}

static int32_t do_sem_close(struct core *c, struct core_sem_handle_args *a)
{
    uint32_t ssi, si, oi;
    int32_t r = resolve(c, a->session, a->handle, &ssi, &si, &oi);
    if (r)
        return r;
    /* A thread of this process still waits on it: closing the last
     * reference would strand that waiter, so refuse. */
    if (c->opens[oi].count == 1 && session_waits_on(c, ssi, si))
        return CORE_E_BUSY;
    if (--c->opens[oi].count == 0) {
        c->opens[oi].count = 1; /* open_remove subtracts the record's count */
        open_remove(c, oi);
    } else {
        c->sems[si].open_count--;
    }
    sem_maybe_free(c, si);
    return CORE_OK;
}

static int32_t do_sem_destroy(struct core *c, struct core_sem_handle_args *a)
{
    uint32_t ssi, si, oi;
    int32_t r = resolve(c, a->session, a->handle, &ssi, &si, &oi);
    if (r)
        return r;
    if (!(c->opens[oi].rights & CORE_R_UNLINK))
        return CORE_E_ACCES;
    struct sem *s = &c->sems[si];
    if (!(s->flags & CORE_SEMF_ANON))
        return CORE_E_INVAL;
    if (s->nwaiters)
        return CORE_E_BUSY;
    /* sem_destroy ends the object for every process sharing it. */
    while (s->open_head != NIL)
        open_remove(c, s->open_head);
    sem_free(c, si);
    return CORE_OK;
}

static int32_t do_sem_unlink(struct core *c, struct core_sem_unlink_args *a)
{
    uint32_t ssi;
    struct core_sem_unlink_args in;
    copy(&in, a, sizeof in);
    struct session *ss = session_get(c, in.session, &ssi);
    if (!ss)
        return CORE_E_SESSION;
    int32_t r = name_check(in.name, in.name_len);
    if (r)
        return r;
    uint32_t si = name_lookup(c, in.name, in.name_len);
    if (si == NIL)
        return CORE_E_NOENT;
    struct sem *s = &c->sems[si];
    /* /dev/shm is sticky: by default only the owner (or root) may remove
     * the name; the access list can give that right to others. */
    if (!(rights_of(c, ss, s) & CORE_R_UNLINK))
        return CORE_E_ACCES;
    name_unhash(c, si);
    s->flags |= CORE_SEMF_UNLINKED;
    sem_maybe_free(c, si);
    return CORE_OK;
}

static int32_t do_sem_getvalue(struct core *c, struct core_sem_handle_args *a)
{
    uint32_t ssi, si;
    int32_t r = resolve(c, a->session, a->handle, &ssi, &si, 0);
    if (r)
        return r;
    a->value = c->sems[si].value;
    return CORE_OK;
}

static int principal_ok(const struct core_principal *p)
{
    switch (p->kind) {
    case CORE_P_UID:
    case CORE_P_GID: return p->ext == 0;
    case CORE_P_PROC: return p->id != 0;
    case CORE_P_KEY: return p->id == 0 && p->ext != 0;
    default: return 0;
    }
}

/* Grant (revoke == 0) or revoke rights for a principal; owner only.  Called
 * through do_sem_grant and do_sem_revoke. */
static int32_t sem_grant_or_revoke(struct core *c, struct core_sem_grant_args *a, int revoke)
{
    struct core_sem_grant_args in;
    copy(&in, a, sizeof in);
    a->notes = 0;
    uint32_t ssi, si;
    int32_t r = resolve_any(c, in.session, in.handle, &ssi, &si, 0);
    if (r)
        return r;
    if (!principal_ok(&in.who) || !in.rights || (in.rights & ~CORE_R_ALL))
        return CORE_E_INVAL;
    struct sem *s = &c->sems[si];
    if (!is_owner(&c->sessions[ssi], s))
        return CORE_E_PERM;
    uint32_t e = s->acl_head;
    while (e != NIL && !same(&c->acls[e].who, &in.who, sizeof in.who))
        e = c->acls[e].next;
    if (e == NIL) {
        /* a cap per semaphore, so one owner cannot take the whole table */
        if (c->acl_free == NIL || s->nacl >= CORE_ACL_PER_SEM)
            return CORE_E_NOSPC;
        e = c->acl_free;
        c->acl_free = c->acls[e].next;
        c->acls_in_use++;
        zero(&c->acls[e], sizeof c->acls[e]);
        c->acls[e].who = in.who;
        c->acls[e].next = s->acl_head;
        s->acl_head = e;
        s->nacl++;
    }
    if (revoke) {
        c->acls[e].deny |= in.rights;
        c->acls[e].allow &= ~in.rights;
    } else {
        c->acls[e].allow |= in.rights;
        c->acls[e].deny &= ~in.rights;
    }
    refresh_rights(c, si);
    if (revoke && s->set != NIL) {
        sysv_revoked(c, si);
    } else if (revoke) {
        /* "A revoke stops handles already open at once": that includes
         * their waits already queued, which leave with EACCES. */
        for (uint32_t w = s->wait_head, next; w != NIL; w = next) {
            next = c->waiters[w].q_next;
            uint32_t o = open_find(c, c->waiters[w].sess, si);
            if (o == NIL || !(c->opens[o].rights & CORE_R_WAIT)) {
                note_push(c, w, CORE_E_ACCES);
                s->cancels++;
                waiter_unlink(c, w);
            }
        }
        rebalance(c, si, 0);
    }
    a->notes = c->nnotes;
    return CORE_OK;
}

static int32_t do_sem_grant(struct core *c, struct core_sem_grant_args *a)
{
    return sem_grant_or_revoke(c, a, 0);
}

static int32_t do_sem_revoke(struct core *c, struct core_sem_grant_args *a)
{
    return sem_grant_or_revoke(c, a, 1);
}

/* Provision a key (in SGX: unsealed or received over an attested channel;
 * here the host hands it in at start-up).  The argument's copy is wiped. */
static int32_t do_key_add(struct core *c, struct core_key_add_args *a)
{
    struct core_key_add_args in;
    copy(&in, a, sizeof in);
    zero(a->key, sizeof a->key);
    uint64_t id = core_auth_key_id(in.key);
    a->key_id = id;
    uint32_t freek = NIL;
    for (uint32_t k = 0; k < c->cfg.max_keys; k++) {
        if (c->keys[k].id == id) {
            zero(&in, sizeof in);
            return CORE_OK; /* already there */
        }
        if (!c->keys[k].id && freek == NIL)
            freek = k;
    }
    if (freek == NIL) {
        zero(&in, sizeof in);
        return CORE_E_NOSPC;
    }
    copy(c->keys[freek].key, in.key, CORE_KEY_BYTES);
    c->keys[freek].id = id;
    c->keys_in_use++;
    zero(&in, sizeof in);
    return CORE_OK;
}

/* One client request.  For a key session: the MAC over the request as the
 * client sent it, then a sequence number newer than the slot's last, and
 * only then the operation; the reply gets the core's MAC.  A PID session's
 * request runs as the same operation called directly would. */
static int32_t do_request(struct core *c, struct core_request_args *a)
{
    /* a is the core's own copy (core_ecall took it, the header, name_len
     * bytes of the name, the MAC and the umask): read freely. */
    const core_id_t session = a->session;
    const uint32_t umask = a->umask;
    a->created = a->value = a->notes = a->out_len = 0;
    a->handle = 0;
    zero(&a->wake, sizeof a->wake);
    zero(a->rmac, sizeof a->rmac);
    uint32_t ssi;
    struct session *ss = session_get(c, session, &ssi);
    if (!ss)
        return CORE_E_SESSION;
    const struct core_req *q = &a->req;
    if (q->name_len > CORE_NAME_MAX)
        return CORE_E_NAMETOOLONG;
    struct keyed *k = keyed_of(c, ss);
    if (k) {
        if (q->slot >= CORE_MAX_SLOTS)
            return CORE_E_AUTH;
        uint8_t mac[CORE_MAC_BYTES];
        core_auth_req_mac(k->ks, q, mac);
        /* Forged or altered: refused, and it changes nothing — not even
         * the slot's sequence, so a forger cannot burn the numbers the
         * client will use.  No MAC on this refusal: the client of an
         * altered request learns nothing (the host could as well have
         * dropped it; TM-SGX does not protect liveness). */
        if (!core_auth_equal(mac, a->mac))
            return CORE_E_AUTH;
        /* replayed, duplicated or reordered within the slot */
        if (q->seq <= k->last_seq[q->slot])
            return CORE_E_AUTH;
        k->last_seq[q->slot] = q->seq;
    }
    int32_t r;
    uint32_t value = 0;
    core_id_t handle = 0;
    switch (q->call) {
    case CORE_ECALL_SEM_OPEN: {
        struct core_sem_open_args o;
        zero(&o, sizeof o);
        o.session = session;
        o.oflag = q->flags;
        o.mode = q->mode & ~umask;
        o.value = q->value;
        o.name_len = q->name_len;
        copy(o.name, q->name, q->name_len);
        r = do_sem_open(c, &o);
        handle = o.handle;
        a->created = o.created;
        break;
    }
    case CORE_ECALL_SEM_CREATE: {
        struct core_sem_create_args o = {.session = session, .value = q->value,
                                         .flags = q->flags};
        r = do_sem_create(c, &o);
        handle = o.handle;
        break;
    }
    case CORE_ECALL_SEM_CLOSE:
    case CORE_ECALL_SEM_DESTROY:
    case CORE_ECALL_SEM_GETVALUE: {
        struct core_sem_handle_args o = {.session = session, .handle = q->handle};
        r = q->call == CORE_ECALL_SEM_CLOSE     ? do_sem_close(c, &o)
            : q->call == CORE_ECALL_SEM_DESTROY ? do_sem_destroy(c, &o)
                                                : do_sem_getvalue(c, &o);
        value = o.value;
        break;
    }
    case CORE_ECALL_SEM_UNLINK: {
        struct core_sem_unlink_args o;
        zero(&o, sizeof o);
        o.session = session;
        o.name_len = q->name_len;
        copy(o.name, q->name, q->name_len);
        r = do_sem_unlink(c, &o);
        break;
    }
    case CORE_ECALL_SEM_POST: {
        struct core_sem_post_args o = {.session = session, .handle = q->handle,
                                       .now_ns = a->now_ns};
        r = do_sem_post(c, &o);
        if (o.wake.valid)
            a->wake = o.wake;
        a->notes = o.notes;
        break;
    }
    case CORE_ECALL_SEM_WAIT: {
        struct core_sem_wait_args o = {.session = session, .handle = q->handle,
                                       .slot = q->slot, .flags = q->flags, .prio = q->prio,
                                       .seq = q->seq, .now_ns = a->now_ns};
        r = do_sem_wait(c, &o);
        a->notes = o.notes;
        break;
    }
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE: {
        struct core_sem_grant_args o = {.session = session, .handle = q->handle,
                                        .who = q->who, .rights = q->rights};
        r = q->call == CORE_ECALL_SEM_REVOKE ? do_sem_revoke(c, &o) : do_sem_grant(c, &o);
        a->notes = o.notes;
        break;
    }
    case CORE_ECALL_SYSV_GET:
    case CORE_ECALL_SYSV_OP:
    case CORE_ECALL_SYSV_CTL: r = sysv_request(c, ssi, a, &value, &handle); break;
    default: r = CORE_E_BADCALL; break;
    }
    a->value = value;
    a->handle = handle;
    if (k && r != CORE_QUEUED)
        reply_mac(c, session, q->slot, q->seq, q->call, q->handle, r, value, handle, a->out,
                  a->out_len, a->rmac);
    return r;
}

/* Hand the host the replies owed to queued waiters, oldest first. */
static int32_t do_notes(struct core *c, struct core_notes_args *a)
{
    uint32_t n = c->nnotes < 8 ? c->nnotes : 8;
    zero(a, sizeof *a);
    copy(a->note, c->notes, (uint64_t)n * sizeof a->note[0]);
    for (uint32_t i = n; i < c->nnotes; i++)
        c->notes[i - n] = c->notes[i];
    c->nnotes -= n;
    a->n = n;
    return CORE_OK;
}

/* Forget a key: new sessions proving it are refused (those open keep
 * their derived session keys until they end). */
static int32_t do_key_remove(struct core *c, struct core_key_remove_args *a)
{
    uint64_t id = a->key_id;
    if (!id)
        return CORE_E_INVAL;
    for (uint32_t k = 0; k < c->cfg.max_keys; k++) {
        if (c->keys[k].id == id) {
            zero(&c->keys[k], sizeof c->keys[k]);
            c->keys_in_use--;
            return CORE_OK;
        }
    }
    return CORE_E_NOENT;
}

static const uint64_t arg_size[CORE_ECALL_MAX_] = {
    [CORE_ECALL_SESSION_OPEN] = sizeof(struct core_session_open_args),
    [CORE_ECALL_SESSION_INHERIT] = sizeof(struct core_session_inherit_args),
    [CORE_ECALL_SESSION_CLOSE] = sizeof(struct core_session_close_args),
    [CORE_ECALL_SEM_OPEN] = sizeof(struct core_sem_open_args),
    [CORE_ECALL_SEM_CREATE] = sizeof(struct core_sem_create_args),
    [CORE_ECALL_SEM_CLOSE] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_DESTROY] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_UNLINK] = sizeof(struct core_sem_unlink_args),
    [CORE_ECALL_SEM_POST] = sizeof(struct core_sem_post_args),
    [CORE_ECALL_SEM_WAIT] = sizeof(struct core_sem_wait_args),
    [CORE_ECALL_SEM_CANCEL] = sizeof(struct core_sem_cancel_args),
    [CORE_ECALL_SEM_GETVALUE] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_INFO] = sizeof(struct core_sem_info_args),
    [CORE_ECALL_SEM_HOLDERS] = sizeof(struct core_sem_member_args),
    [CORE_ECALL_SEM_WAITERS] = sizeof(struct core_sem_member_args),
    [CORE_ECALL_STATS] = sizeof(struct core_stats_args),
    [CORE_ECALL_SESSION_INFO] = sizeof(struct core_session_info_args),
    [CORE_ECALL_SESSION_SETCRED] = sizeof(struct core_session_setcred_args),
    [CORE_ECALL_KEY_ADD] = sizeof(struct core_key_add_args),
    [CORE_ECALL_REQUEST] = sizeof(struct core_request_args),
    [CORE_ECALL_SEM_GRANT] = sizeof(struct core_sem_grant_args),
    [CORE_ECALL_SEM_REVOKE] = sizeof(struct core_sem_grant_args),
    [CORE_ECALL_SEM_ACL] = sizeof(struct core_sem_acl_args),
    [CORE_ECALL_NOTES] = sizeof(struct core_notes_args),
    [CORE_ECALL_KEY_REMOVE] = sizeof(struct core_key_remove_args),
};

/* Calls that act for a session: a key session may make them only through
 * CORE_ECALL_REQUEST, with its MAC — a host that calls them directly for it
 * is refused, so it cannot post, wait or open in a key session's name.
 * `args` is the core's own copy (core_ecall), read once. */
static int direct_for_keyed(struct core *c, uint32_t call, const void *args)
{
    /* Not listed, on purpose (each can only deny service — drop — which
     * TM-SGX does not protect against; none creates a permit or releases a
     * waiter):
     *  - SESSION_CLOSE: the host may end a key session;
     *  - SESSION_SETCRED: it may change the uid it reports for it (the
     *    POSIX mode bits are the host's business; a strict semaphore owned
     *    by a key ignores them);
     *  - SEM_CANCEL: it may withdraw a queued wait (answered with a MACed
     *    "cancelled");
     *  - SESSION_INHERIT: it copies opens only between two sessions that
     *    proved the same key (do_session_inherit checks), so a key's holder
     *    gets nothing another of its sessions did not hold;
     *  - the umask of a request is outside the MAC: it only narrows the
     *    mode bits of a new semaphore (POSIX policy; strict ignores them). */
    switch (call) {
    case CORE_ECALL_SEM_OPEN:
    case CORE_ECALL_SEM_CREATE:
    case CORE_ECALL_SEM_CLOSE:
    case CORE_ECALL_SEM_DESTROY:
    case CORE_ECALL_SEM_UNLINK:
    case CORE_ECALL_SEM_POST:
    case CORE_ECALL_SEM_WAIT:
    case CORE_ECALL_SEM_GETVALUE:
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE: break;
    default: return 0;
    }
    core_id_t sid; /* every one of these structs starts with the session */
    copy(&sid, args, sizeof sid);
    uint32_t si;
    const struct session *ss = session_get(c, sid, &si);
    return ss && ss->kidx != NIL;
}

static int32_t dispatch(struct core *c, uint32_t call, void *args)
{
    switch ((enum core_ecall)call) {
    case CORE_ECALL_SESSION_OPEN: return do_session_open(c, args);
    case CORE_ECALL_SESSION_INHERIT: return do_session_inherit(c, args);
    case CORE_ECALL_SESSION_CLOSE: return do_session_close(c, args);
    case CORE_ECALL_SEM_OPEN: return do_sem_open(c, args);
    case CORE_ECALL_SEM_CREATE: return do_sem_create(c, args);
    case CORE_ECALL_SEM_CLOSE: return do_sem_close(c, args);
    case CORE_ECALL_SEM_DESTROY: return do_sem_destroy(c, args);
    case CORE_ECALL_SEM_UNLINK: return do_sem_unlink(c, args);
    case CORE_ECALL_SEM_POST: return do_sem_post(c, args);
    case CORE_ECALL_SEM_WAIT: return do_sem_wait(c, args);
    case CORE_ECALL_SEM_CANCEL: return do_sem_cancel(c, args);
    case CORE_ECALL_SEM_GETVALUE: return do_sem_getvalue(c, args);
    case CORE_ECALL_SEM_INFO: return do_sem_info(c, args);
    case CORE_ECALL_SEM_HOLDERS: return do_sem_holders(c, args);
    case CORE_ECALL_SEM_WAITERS: return do_sem_waiters(c, args);
    case CORE_ECALL_STATS: return do_stats(c, args);
    case CORE_ECALL_SESSION_INFO: return do_session_info(c, args);
    case CORE_ECALL_SESSION_SETCRED: return do_session_setcred(c, args);
    case CORE_ECALL_KEY_ADD: return do_key_add(c, args);
    case CORE_ECALL_REQUEST: return do_request(c, args);
    case CORE_ECALL_SEM_GRANT: return do_sem_grant(c, args);
    case CORE_ECALL_SEM_REVOKE: return do_sem_revoke(c, args);
    case CORE_ECALL_SEM_ACL: return do_sem_acl(c, args);
    case CORE_ECALL_NOTES: return do_notes(c, args);
    case CORE_ECALL_KEY_REMOVE: return do_key_remove(c, args);
    default: return CORE_E_BADCALL;
    }
}

/* The largest argument struct; every call's arguments are copied into a
 * buffer of this size in core memory before anything looks at them. */
#define ARG_MAX 1024u
_Static_assert(sizeof(struct core_request_args) <= ARG_MAX &&
                   sizeof(struct core_sem_info_args) <= ARG_MAX &&
                   sizeof(struct core_notes_args) <= ARG_MAX &&
                   sizeof(struct core_sem_open_args) <= ARG_MAX &&
                   sizeof(struct core_sem_unlink_args) <= ARG_MAX &&
                   sizeof(struct core_session_open_args) <= ARG_MAX &&
                   sizeof(struct core_stats_args) <= ARG_MAX,
               "ARG_MAX covers every argument struct");

/* Copy a request's arguments in: the fixed part, then only name_len bytes
 * of the name (read from the copy, never from outside again), not the
 * whole 400-byte struct on every post and wait. */
static void request_copy_in(struct core_request_args *in, const struct core_request_args *a)
{
    copy(in, a, offsetof(struct core_request_args, req) + CORE_REQ_HDR);
    uint32_t n = in->req.name_len <= CORE_NAME_MAX ? in->req.name_len : 0;
    copy(in->req.name, a->req.name, n);
    copy(in->mac, a->mac, sizeof in->mac);
    in->umask = a->umask;
    in->now = a->now;
    in->now_ns = a->now_ns;
}

int32_t core_ecall(struct core *c, uint32_t call, void *args, uint64_t args_size)
{
    if (!c || c->magic != CORE_MAGIC)
        return CORE_E_BADCALL;
    if (call == 0 || call >= CORE_ECALL_MAX_ || !args || !arg_size[call] ||
        args_size != arg_size[call]) {
        c->refused[-CORE_E_BADCALL]++;
        return CORE_E_BADCALL;
    }
    /* The arguments live in host memory, which a hostile host (TM-SGX) can
     * rewrite while the core runs.  Everything works on one private copy,
     * taken once here (an SGX build would get the same from the EDL's [in,
     * out]); the results are copied back at the end. */
    union {
        unsigned char b[ARG_MAX];
        uint64_t align_;
    } buf;
    if (call == CORE_ECALL_REQUEST)
        request_copy_in((struct core_request_args *)buf.b, args);
    else
        copy(buf.b, args, args_size);
    int32_t r;
    if (direct_for_keyed(c, call, buf.b)) {
        c->refused[-CORE_E_AUTH]++;
        return CORE_E_AUTH;
    }
    r = dispatch(c, call, buf.b);
    if (call == CORE_ECALL_REQUEST) {
        /* the outputs; a wake record only when there is one */
        const struct core_request_args *in = (const struct core_request_args *)buf.b;
        struct core_request_args *out = args;
        const uint64_t from = offsetof(struct core_request_args, created);
        copy((unsigned char *)args + from, buf.b + from,
             offsetof(struct core_request_args, wake) - from);
        if (in->wake.valid)
            out->wake = in->wake;
        else
            zero(&out->wake, sizeof out->wake);
        copy(out->rmac, in->rmac, sizeof out->rmac);
        out->out_len = in->out_len <= CORE_SYSV_DATA ? in->out_len : 0;
        copy(out->out, in->out, out->out_len);
    } else {
        copy(args, buf.b, args_size);
    }
    if (call == CORE_ECALL_KEY_ADD)
        zero(buf.b, args_size);
    if (r >= 0)
        c->ops_ok++;
    else if (r >= CORE_E_MIN)
        c->refused[-r]++;
    return r;
}

const char *core_strerror(int32_t status)
{
    static const char *const msg[] = {
        "ok",
        "invalid argument",
        "unknown or stale session",
        "unknown, stale or forged semaphore handle",
        "semaphore not open in this session",
        "no semaphore of that name",
        "semaphore exists",
        "permission denied",
        "name too long",
        "value would exceed SEM_VALUE_MAX",
        "no permit available",
        "core table full",
        "busy",
        "no waiter to cancel",
        "bad ecall",
        "inheritance refused, or not the owner",
        "key session: bad MAC, replay, or call not made through a MAC-checked request",
        "key session refused: the core has no randomness of its own (RDRAND)",
        "value out of range (System V: past SEMVMX, or its undo past SEMAEM)",
        "too many operations in one semop",
        "semaphore number past the set's size",
        "the set was removed",
        "a per-user limit is reached",
    };
    _Static_assert(sizeof msg / sizeof msg[0] == -CORE_E_MIN + 1, "one message per status");
    if (status == CORE_QUEUED)
        return "queued";
    if (status == CORE_CANCELLED)
        return "cancelled";
    if (status == CORE_RETRY)
        return "woken: ask again";
    if (status > 0 || status < CORE_E_MIN)
        return "unknown status";
    return msg[-status];
}
