/*
 * System V semaphore sets in the trusted core (semget, semop, semctl).
 *
 * A set is a semaphore object (struct sem, CORE_SEMF_SYSV) — so it has the
 * same handle, policy, owner, access list, audit counters and admin view
 * as a POSIX semaphore — plus its own part here (struct semset): key, id,
 * creator, times and its semaphores (cells).  The rules are Linux's
 * (ipc/sem.c), re-stated from its manual pages:
 *   - a semop applies all its operations or none, in array order;
 *   - one that cannot proceed queues (or fails EAGAIN with IPC_NOWAIT on the
 *     operation that blocks); after every change the queue is tried again,
 *     wait-for-zero operations first, then the others in arrival order, and
 *     a queued semop that now succeeds is completed by the core itself (its
 *     reply is a grant, as the kernel performs a sleeper's operations for
 *     it), so a blocked complex operation never holds up a later simple one;
 *   - SEM_UNDO adjustments belong to the session (the process) and are
 *     applied, clamped to 0..SEMVMX, when it ends, kill -9 included; a child
 *     does not inherit them; SETVAL and SETALL clear them;
 *   - permission is checked at every call against the set's current mode,
 *     as ipcperms() does, then the access list applies.
 */
#include "core_int.h"

#define SET_BITS 15u
#define SET_MASK ((1u << SET_BITS) - 1u)
#define SEQ_WRAP 0x8000u /* id = 1 << 30 | seq << 15 | index: positive, and
                          * bit 30 tells a program's esem ids from most kernel ids */

static uint64_t al64(uint64_t n) { return (n + 63u) & ~(uint64_t)63u; }

/* ---- arena ---- */

uint64_t sysv_plan(const struct core_config *cfg, uint64_t off, uint64_t offs[5],
                   uint32_t *key_buckets)
{
    uint32_t kb = 16;
    while (kb < cfg->max_sets)
        kb <<= 1;
    *key_buckets = kb;
    offs[0] = off;
    off = al64(off + (uint64_t)cfg->max_sets * sizeof(struct semset));
    offs[1] = off;
    off = al64(off + (uint64_t)cfg->max_set_sems * sizeof(struct cell));
    offs[2] = off;
    off = al64(off + (uint64_t)cfg->max_undos * sizeof(struct undo));
    offs[3] = off;
    off = al64(off + (uint64_t)cfg->max_sysv_ops * sizeof(struct opblk));
    offs[4] = off;
    return al64(off + (uint64_t)kb * sizeof(uint32_t));
}

void sysv_place(struct core *c, unsigned char *base, const uint64_t offs[5], uint32_t key_buckets)
{
    c->sets = (struct semset *)(base + offs[0]);
    c->cells = (struct cell *)(base + offs[1]);
    c->undos = (struct undo *)(base + offs[2]);
    c->opblks = (struct opblk *)(base + offs[3]);
    c->key_hash = (uint32_t *)(base + offs[4]);
    c->key_buckets = key_buckets;
}

void sysv_init(struct core *c)
{
    const struct core_config *cfg = &c->cfg;
    for (uint32_t i = 0; i < cfg->max_sets; i++) {
        c->sets[i].sem = NIL;
        c->sets[i].hash_next = i + 1 < cfg->max_sets ? i + 1 : NIL;
    }
    c->set_free = cfg->max_sets ? 0 : NIL;
    c->cell_free = NIL;
    if (cfg->max_set_sems) {
        c->cells[0].val = (int32_t)cfg->max_set_sems; /* one free extent */
        c->cells[0].pid = NIL;
        c->cell_free = 0;
    }
    for (uint32_t i = 0; i < cfg->max_undos; i++)
        c->undos[i].next = i + 1 < cfg->max_undos ? i + 1 : NIL;
    c->undo_free = cfg->max_undos ? 0 : NIL;
    for (uint32_t i = 0; i < cfg->max_sysv_ops; i++)
        c->opblks[i].next = i + 1 < cfg->max_sysv_ops ? i + 1 : NIL;
    c->opblk_free = cfg->max_sysv_ops ? 0 : NIL;
    for (uint32_t i = 0; i < c->key_buckets; i++)
        c->key_hash[i] = NIL;
}

/* ---- cells: first fit over free extents kept in address order ---- */

static uint32_t cells_alloc(struct core *c, uint32_t n)
{
    uint32_t *pp = &c->cell_free;
    while (*pp != NIL) {
        uint32_t e = *pp;
        uint32_t len = (uint32_t)c->cells[e].val, next = c->cells[e].pid;
        if (len >= n) {
            if (len == n) {
                *pp = next;
            } else {
                c->cells[e + n].val = (int32_t)(len - n);
                c->cells[e + n].pid = next;
                *pp = e + n;
            }
            zero(&c->cells[e], (uint64_t)n * sizeof(struct cell));
            c->cells_in_use += n;
            return e;
        }
        pp = &c->cells[e].pid;
    }
    return NIL;
}

static void cells_free(struct core *c, uint32_t start, uint32_t n)
{
    uint32_t prev = NIL, e = c->cell_free;
    while (e != NIL && e < start) {
        prev = e;
        e = c->cells[e].pid;
    }
    c->cells[start].val = (int32_t)n;
    c->cells[start].pid = e;
    if (e != NIL && start + n == e) { /* merge with the next extent */
        c->cells[start].val += c->cells[e].val;
        c->cells[start].pid = c->cells[e].pid;
    }
    if (prev == NIL) {
        c->cell_free = start;
    } else {
        c->cells[prev].pid = start;
        if (prev + (uint32_t)c->cells[prev].val == start) { /* and the previous */
            c->cells[prev].val += c->cells[start].val;
            c->cells[prev].pid = c->cells[start].pid;
        }
    }
    c->cells_in_use -= n;
}

/* ---- sets: ids and keys ---- */

static uint32_t semid_of(const struct core *c, uint32_t xi)
{
    return CORE_SEMID_BIT | c->sets[xi].seq << SET_BITS | xi;
}

static struct semset *set_by_id(struct core *c, uint64_t id, uint32_t *xi)
{
    if (id > 0x7fffffffu || !(id & CORE_SEMID_BIT))
        return 0;
    uint32_t i = (uint32_t)id & SET_MASK;
    if (i >= c->cfg.max_sets || c->sets[i].sem == NIL ||
        c->sets[i].seq != (((uint32_t)id & ~CORE_SEMID_BIT) >> SET_BITS))
        return 0;
    *xi = i;
    return &c->sets[i];
}

static uint32_t key_bucket(const struct core *c, int32_t key)
{
    return ((uint32_t)key * 2654435761u >> 7) & (c->key_buckets - 1);
}

static uint32_t key_lookup(const struct core *c, int32_t key)
{
    for (uint32_t i = c->key_hash[key_bucket(c, key)]; i != NIL; i = c->sets[i].hash_next)
        if (c->sets[i].key == key)
            return i;
    return NIL;
}

static void key_unhash(struct core *c, uint32_t xi)
{
    uint32_t *pp = &c->key_hash[key_bucket(c, c->sets[xi].key)];
    while (*pp != NIL && *pp != xi)
        pp = &c->sets[*pp].hash_next;
    if (*pp == xi)
        *pp = c->sets[xi].hash_next;
}

/* ---- permission ---- */

/* What ipcperms() gives (owner class for the owner or the creator, group
 * class for either group; root everything), as esem rights; strict: the
 * owner everything, nobody else anything.  Then the access list. */
static uint32_t set_rights(const struct core *c, const struct session *ss, const struct sem *s)
{
    const struct semset *x = &c->sets[s->set];
    uint32_t r = 0;
    if (s->flags & CORE_SEMF_STRICT) {
        r = is_owner(ss, s) ? CORE_R_ALL : 0;
    } else {
        uint32_t m = s->mode;
        int own = ss->uid == s->uid || ss->uid == x->cuid;
        if (own)
            m >>= 6;
        else if (in_group(ss, s->gid) || in_group(ss, x->cgid))
            m >>= 3;
        if (ss->uid == 0)
            m = 7;
        if (m & 4)
            r |= CORE_R_OPEN;
        if (m & 2)
            r |= CORE_R_WAIT | CORE_R_POST;
        if (own || ss->uid == 0)
            r |= CORE_R_UNLINK;
    }
    return apply_acl(c, ss, s, r);
}

/* The rights a semop needs: decrement = wait, increment = post; only
 * zero-waits = read (Linux: alter for any non-zero operation, else read). */
static uint32_t ops_need(const struct core_sembuf *ops, uint32_t n)
{
    uint32_t need = 0;
    for (uint32_t i = 0; i < n; i++)
        need |= ops[i].op < 0 ? CORE_R_WAIT : ops[i].op > 0 ? CORE_R_POST : 0;
    return need ? need : CORE_R_OPEN;
}

/* ---- undo records ---- */

static int undo_live(const struct core *c, const struct undo *u)
{
    const struct semset *x = &c->sets[u->set];
    return x->sem != NIL && x->seq == u->seq && u->num < x->nsems;
}

/* The session's record for (set, num): found, or made (reusing one of its
 * records whose set is gone) when `make`; NIL if none / no room. */
static uint32_t undo_get(struct core *c, uint32_t ssi, uint32_t xi, uint32_t num, int make)
{
    struct session *ss = &c->sessions[ssi];
    const struct semset *x = &c->sets[xi];
    uint32_t stale = NIL;
    for (uint32_t u = ss->undo_head; u != NIL; u = c->undos[u].next) {
        struct undo *r = &c->undos[u];
        if (r->set == xi && r->seq == x->seq && r->num == num) {
            if (r->epoch != c->cells[x->cells + num].epoch) { /* SETVAL/SETALL cleared it */
                r->epoch = c->cells[x->cells + num].epoch;
                r->adj = 0;
            }
            return u;
        }
        if (stale == NIL && !undo_live(c, r))
            stale = u;
    }
    if (!make)
        return NIL;
    uint32_t u = stale;
    if (u == NIL) {
        if (c->undo_free == NIL)
            return NIL;
        u = c->undo_free;
        c->undo_free = c->undos[u].next;
        c->undos[u].next = ss->undo_head;
        ss->undo_head = u;
        c->undos_in_use++;
    }
    struct undo *r = &c->undos[u];
    r->sess = ssi;
    r->set = xi;
    r->seq = x->seq;
    r->num = num;
    r->epoch = c->cells[x->cells + num].epoch;
    r->adj = 0;
    return u;
}

/* Records for every SEM_UNDO operation, made before anything changes, so
 * that neither the semop nor its completion later can fail half-way. */
static int32_t undo_reserve(struct core *c, uint32_t ssi, uint32_t xi,
                            const struct core_sembuf *ops, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if ((ops[i].flg & CORE_SEM_UNDO) && ops[i].op &&
            undo_get(c, ssi, xi, ops[i].num, 1) == NIL)
            return CORE_E_NOSPC;
    return CORE_OK;
}

/* ---- the operations ---- */

/* Try ops on set xi for session ssi: all applied (0), none because one
 * would block (1; *blk = that semaphore, | 0x10000 for a zero-wait), or
 * none because of an error (CORE_E_AGAIN: the blocking operation had
 * IPC_NOWAIT; CORE_E_RANGE).  On success sempid, undo and otime follow. */
static int32_t try_ops(struct core *c, uint32_t xi, uint32_t ssi, const struct core_sembuf *ops,
                       uint32_t n, uint64_t now, uint32_t *blk)
{
    struct semset *x = &c->sets[xi];
    struct cell *cl = &c->cells[x->cells];
    int32_t old[CORE_SEMOPM];
    int32_t r = 0;
    uint32_t i;
    for (i = 0; i < n; i++) {
        const struct core_sembuf *o = &ops[i];
        int32_t v = cl[o->num].val;
        old[i] = v;
        if (o->op == 0) {
            if (v != 0) {
                r = (o->flg & CORE_IPC_NOWAIT) ? CORE_E_AGAIN : 1;
                *blk = o->num | 0x10000u;
                break;
            }
            continue;
        }
        int32_t nv = v + o->op;
        if (nv < 0) {
            r = (o->flg & CORE_IPC_NOWAIT) ? CORE_E_AGAIN : 1;
            *blk = o->num;
            break;
        }
        if (nv > CORE_SEMVMX) {
            r = CORE_E_RANGE;
            break;
        }
        if (o->flg & CORE_SEM_UNDO) {
            /* the adjustment after this operation, counting earlier ones
             * of the same semop on the same semaphore */
            uint32_t u = undo_get(c, ssi, xi, o->num, 0);
            int32_t adj = u == NIL ? 0 : c->undos[u].adj;
            for (uint32_t j = 0; j <= i; j++)
                if (ops[j].num == o->num && (ops[j].flg & CORE_SEM_UNDO))
                    adj -= ops[j].op;
            if (adj < -CORE_SEMAEM - 1 || adj > CORE_SEMAEM) {
                r = CORE_E_RANGE;
                break;
            }
        }
        cl[o->num].val = nv;
    }
    if (r) {
        while (i-- > 0) /* back out, last first */
            cl[ops[i].num].val = old[i];
        return r;
    }
    uint32_t pid = c->sessions[ssi].pid;
    for (i = 0; i < n; i++) {
        cl[ops[i].num].pid = pid;
        if ((ops[i].flg & CORE_SEM_UNDO) && ops[i].op) {
            uint32_t u = undo_get(c, ssi, xi, ops[i].num, 1); /* reserved */
            if (u != NIL)
                c->undos[u].adj -= ops[i].op;
        }
    }
    x->otime = now;
    return 0;
}

static uint32_t waiter_ops(const struct core *c, uint32_t w, struct core_sembuf *out)
{
    const struct waiter *wt = &c->waiters[w];
    uint32_t n = 0;
    for (uint32_t b = wt->ops; b != NIL && n < wt->nops; b = c->opblks[b].next)
        for (uint32_t k = 0; k < 8 && n < wt->nops; k++)
            out[n++] = c->opblks[b].op[k];
    return n;
}

static int all_zero(const struct core_sembuf *ops, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].op)
            return 0;
    return 1;
}

/* One pass over the queue, zero-waits (alter == 0) or the others.  Returns
 * 1 if a semop that changed values completed (the caller starts over). */
static int queue_pass(struct core *c, uint32_t xi, int alter, uint64_t now)
{
    struct sem *s = &c->sems[c->sets[xi].sem];
    struct core_sembuf ops[CORE_SEMOPM];
    for (uint32_t w = s->wait_head, next; w != NIL; w = next) {
        next = c->waiters[w].q_next;
        uint32_t n = waiter_ops(c, w, ops);
        if (all_zero(ops, n) == alter)
            continue;
        uint32_t blk = 0;
        int32_t r = try_ops(c, xi, c->waiters[w].sess, ops, n, now, &blk);
        if (r == 1) {
            c->waiters[w].blk_num = (uint16_t)blk;
            c->waiters[w].blk_zero = blk >> 16 ? 1 : 0;
            continue;
        }
        /* done: its reply is the final status (a grant, or why not) */
        note_push(c, w, r == 0 ? CORE_OK : r);
        s->waits++;
        waiter_unlink(c, w);
        if (r == 0 && alter)
            return 1;
    }
    return 0;
}

/* After any change: complete every queued semop that can now proceed. */
static void update_queue(struct core *c, uint32_t xi, uint64_t now)
{
    for (uint32_t guard = 0; guard < c->cfg.max_waiters + 1; guard++) {
        queue_pass(c, xi, 0, now);
        if (!queue_pass(c, xi, 1, now))
            return;
    }
}

/* Queue a semop that must wait, with its operations. */
static int32_t queue_op(struct core *c, uint32_t ssi, uint32_t xi, const struct core_req *q,
                        const struct core_sembuf *ops, uint32_t n, uint32_t blk)
{
    uint32_t nb = (n + 7) / 8, have = 0;
    for (uint32_t b = c->opblk_free; b != NIL && have < nb; b = c->opblks[b].next)
        have++;
    if (have < nb)
        return CORE_E_NOSPC;
    uint32_t w;
    int32_t r = waiter_add(c, ssi, c->sets[xi].sem, q->slot, q->seq, 0, &w);
    if (r)
        return r;
    struct waiter *wt = &c->waiters[w];
    wt->call = CORE_ECALL_SYSV_OP;
    wt->req_handle = q->handle;
    wt->nops = (uint16_t)n;
    wt->blk_num = (uint16_t)blk;
    wt->blk_zero = blk >> 16 ? 1 : 0;
    uint32_t *tail = &wt->ops;
    for (uint32_t i = 0; i < n; i += 8) {
        uint32_t b = c->opblk_free;
        c->opblk_free = c->opblks[b].next;
        c->opblks_in_use++;
        zero(&c->opblks[b], sizeof c->opblks[b]);
        for (uint32_t k = 0; k < 8 && i + k < n; k++)
            c->opblks[b].op[k] = ops[i + k];
        c->opblks[b].next = NIL;
        *tail = b;
        tail = &c->opblks[b].next;
    }
    c->sems[c->sets[xi].sem].blocks++;
    return CORE_QUEUED;
}

/* Remove a set: every waiter gets EIDRM, every record goes. */
static void set_remove(struct core *c, uint32_t xi)
{
    struct semset *x = &c->sets[xi];
    uint32_t si = x->sem;
    struct sem *s = &c->sems[si];
    while (s->wait_head != NIL) {
        uint32_t w = s->wait_head;
        note_push(c, w, CORE_E_IDRM);
        s->cancels++;
        waiter_unlink(c, w);
    }
    while (s->open_head != NIL)
        open_remove(c, s->open_head);
    if (x->key)
        key_unhash(c, xi);
    cells_free(c, x->cells, x->nsems);
    sem_free(c, si);
    uint32_t seq = (x->seq + 1) % SEQ_WRAP; /* a stale id is refused */
    zero(x, sizeof *x);
    x->seq = seq;
    x->sem = NIL;
    x->hash_next = c->set_free;
    c->set_free = xi;
    c->sets_in_use--;
}

/* The session may use the set: keep an open record (for grant/revoke and
 * the admin view; rights are checked at every call, not taken from it). */
static int32_t note_user(struct core *c, uint32_t ssi, uint32_t si, uint32_t rights)
{
    if (open_find(c, ssi, si) != NIL)
        return CORE_OK;
    return open_add(c, ssi, si, 1, rights);
}

static int32_t do_get(struct core *c, uint32_t ssi, const struct core_request_args *a,
                      uint32_t *value, core_id_t *handle)
{
    const struct core_req *q = &a->req;
    const struct session *ss = &c->sessions[ssi];
    int32_t key = (int32_t)q->value;
    uint32_t flg = q->flags, nsems = q->mode, eflags = (uint32_t)q->prio;
    if ((flg & ~(CORE_IPC_CREAT | CORE_IPC_EXCL | 0777u)) ||
        (eflags & ~(CORE_O_STRICT | CORE_O_FIFO)))
        return CORE_E_INVAL;
    if (nsems > CORE_SEMMSL)
        return CORE_E_INVAL;
    uint32_t xi = key ? key_lookup(c, key) : NIL;
    if (xi != NIL) {
        if ((flg & (CORE_IPC_CREAT | CORE_IPC_EXCL)) == (CORE_IPC_CREAT | CORE_IPC_EXCL))
            return CORE_E_EXIST;
        uint32_t si = c->sets[xi].sem;
        uint32_t rights = set_rights(c, ss, &c->sems[si]);
        uint32_t m = (flg >> 6 | flg >> 3 | flg) & 7u, want = 0;
        if (m & 4)
            want |= CORE_R_OPEN;
        if (m & 2)
            want |= CORE_R_WAIT | CORE_R_POST;
        if ((want & ~rights) || !rights)
            return CORE_E_ACCES;
        if (nsems > c->sets[xi].nsems)
            return CORE_E_INVAL;
        int32_t r = note_user(c, ssi, si, rights);
        if (r)
            return r;
        *value = semid_of(c, xi);
        *handle = mkid(si, c->sems[si].gen);
        return CORE_OK;
    }
    if (key && !(flg & CORE_IPC_CREAT))
        return CORE_E_NOENT;
    if (nsems == 0)
        return CORE_E_INVAL;
    if (c->set_free == NIL)
        return CORE_E_NOSPC;
    uint32_t acct;
    int32_t r = acct_take(c, ss->uid, ACCT_OBJECT, &acct);
    if (r)
        return r;
    uint32_t cells = cells_alloc(c, nsems);
    if (cells == NIL) {
        acct_give(c, acct, ACCT_OBJECT);
        return CORE_E_NOSPC;
    }
    uint32_t si;
    if (sem_alloc(c, &si)) {
        cells_free(c, cells, nsems);
        acct_give(c, acct, ACCT_OBJECT);
        return CORE_E_NOSPC;
    }
    c->sems[si].acct = acct;
    xi = c->set_free;
    struct semset *x = &c->sets[xi];
    c->set_free = x->hash_next;
    c->sets_in_use++;
    struct sem *s = &c->sems[si];
    s->flags = CORE_SEMF_SYSV;
    s->uid = ss->uid;
    s->gid = ss->gid;
    s->mode = flg & 0777u;
    s->set = xi;
    set_owner(c, ss, s, eflags & CORE_O_STRICT);
    s->flags &= (uint8_t)~CORE_SEMF_FIFO; /* Linux's order is its own */
    x->sem = si;
    x->key = key;
    x->nsems = nsems;
    x->cells = cells;
    x->cuid = ss->uid;
    x->cgid = ss->gid;
    x->otime = 0;
    x->ctime = a->now;
    x->hash_next = NIL;
    if (key) {
        uint32_t b = key_bucket(c, key);
        x->hash_next = c->key_hash[b];
        c->key_hash[b] = xi;
    }
    if (open_add(c, ssi, si, 1, CORE_R_ALL)) {
        set_remove(c, xi);
        return CORE_E_NOSPC;
    }
    *value = semid_of(c, xi);
    *handle = mkid(si, s->gen);
    return CORE_OK;
}

static int32_t do_op(struct core *c, uint32_t ssi, const struct core_request_args *a,
                     core_id_t *handle)
{
    const struct core_req *q = &a->req;
    uint32_t n = q->value;
    if (n == 0 || (q->flags & ~CORE_WAIT_TRY))
        return CORE_E_INVAL;
    if (n > CORE_SEMOPM)
        return CORE_E_2BIG;
    if (q->name_len != n * sizeof(struct core_sembuf))
        return CORE_E_INVAL;
    uint32_t xi;
    struct semset *x = set_by_id(c, q->handle, &xi);
    if (!x)
        return CORE_E_INVAL; /* no such set: ids are no secret (see do_ctl) */
    struct core_sembuf ops[CORE_SEMOPM];
    copy(ops, q->name, q->name_len);
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].num >= x->nsems)
            return CORE_E_FBIG;
    struct sem *s = &c->sems[x->sem];
    *handle = mkid(x->sem, s->gen);
    uint32_t rights = set_rights(c, &c->sessions[ssi], s);
    uint32_t need = ops_need(ops, n);
    if ((rights & need) != need)
        return CORE_E_ACCES;
    /* one outstanding wait per slot (a slot is one thread's) */
    if (waiter_of_slot(c, ssi, q->slot) != NIL)
        return CORE_E_BUSY;
    int32_t r = note_user(c, ssi, x->sem, rights);
    if (!r)
        r = undo_reserve(c, ssi, xi, ops, n);
    if (r)
        return r;
    uint32_t blk = 0;
    r = try_ops(c, xi, ssi, ops, n, a->now, &blk);
    if (r == 1 && (q->flags & CORE_WAIT_TRY))
        return CORE_E_AGAIN; /* the client's first, spinning try */
    if (r == 1)
        return queue_op(c, ssi, xi, q, ops, n, blk);
    if (r)
        return r;
    s->waits++;
    if (!all_zero(ops, n))
        update_queue(c, xi, a->now);
    return CORE_OK;
}

static void fill_ds(const struct core *c, uint32_t xi, struct core_sysv_ds *d)
{
    const struct semset *x = &c->sets[xi];
    const struct sem *s = &c->sems[x->sem];
    zero(d, sizeof *d);
    d->key = x->key;
    d->uid = s->uid;
    d->gid = s->gid;
    d->cuid = x->cuid;
    d->cgid = x->cgid;
    d->mode = s->mode;
    d->seq = x->seq;
    d->nsems = x->nsems;
    d->otime = x->otime;
    d->ctime = x->ctime;
}

static uint32_t count_waiting(const struct core *c, uint32_t si, uint32_t num, int zero_wait)
{
    uint32_t n = 0;
    for (uint32_t w = c->sems[si].wait_head; w != NIL; w = c->waiters[w].q_next)
        if (c->waiters[w].blk_num == num && c->waiters[w].blk_zero == (zero_wait ? 1 : 0))
            n++;
    return n;
}

/* IPC_INFO, SEM_INFO: the limits (SEM_INFO: with the usage). */
static int32_t ctl_info(struct core *c, uint32_t cmd, struct core_request_args *a,
                        uint32_t *value)
{
    struct core_sysv_limits l;
    zero(&l, sizeof l);
    l.semmap = (int32_t)c->cfg.max_set_sems;
    l.semmni = (int32_t)c->cfg.max_sets;
    l.semmns = (int32_t)c->cfg.max_set_sems;
    l.semmnu = (int32_t)c->cfg.max_undos;
    l.semmsl = (int32_t)CORE_SEMMSL;
    l.semopm = (int32_t)CORE_SEMOPM;
    l.semume = (int32_t)CORE_SEMOPM;
    l.semusz = cmd == CORE_SEM_INFO ? (int32_t)c->sets_in_use : (int32_t)sizeof(struct undo);
    l.semvmx = CORE_SEMVMX;
    l.semaem = cmd == CORE_SEM_INFO ? (int32_t)c->cells_in_use : CORE_SEMAEM;
    uint32_t top = 0;
    for (uint32_t i = 0; i < c->cfg.max_sets; i++)
        if (c->sets[i].sem != NIL)
            top = i;
    copy(a->out, &l, sizeof l);
    a->out_len = sizeof l;
    *value = top;
    return CORE_OK;
}

static int32_t do_ctl(struct core *c, uint32_t ssi, struct core_request_args *a,
                      uint32_t *value, core_id_t *handle)
{
    const struct core_req *q = &a->req;
    const struct session *ss = &c->sessions[ssi];
    uint32_t cmd = q->flags;
    if (cmd == CORE_IPC_INFO || cmd == CORE_SEM_INFO)
        return ctl_info(c, cmd, a, value);
    uint32_t xi;
    struct semset *x;
    if (cmd == CORE_SEM_STAT || cmd == CORE_SEM_STAT_ANY) {
        /* by table index, as ipcs walks them */
        xi = (uint32_t)q->handle;
        if (q->handle >= c->cfg.max_sets || c->sets[xi].sem == NIL)
            return CORE_E_INVAL;
        x = &c->sets[xi];
    } else if (!(x = set_by_id(c, q->handle, &xi))) {
        /* EINVAL, as Linux: ids are no capability (anyone may walk them
         * with SEM_STAT_ANY), so an unknown one is an ordinary error, not
         * a forged handle to audit — permission is what is checked */
        return CORE_E_INVAL;
    }
    uint32_t si = x->sem;
    struct sem *s = &c->sems[si];
    *handle = mkid(si, s->gen);
    uint32_t rights = set_rights(c, ss, s);
    uint32_t num = q->value;
    const uint32_t alter = CORE_R_WAIT | CORE_R_POST;
    switch (cmd) {
    case CORE_SEM_STAT_ANY:
    case CORE_SEM_STAT:
    case CORE_IPC_STAT: {
        if (cmd != CORE_SEM_STAT_ANY && !(rights & CORE_R_OPEN))
            return CORE_E_ACCES;
        struct core_sysv_ds d;
        fill_ds(c, xi, &d);
        copy(a->out, &d, sizeof d);
        a->out_len = sizeof d;
        *value = cmd == CORE_IPC_STAT ? 0 : semid_of(c, xi);
        return CORE_OK;
    }
    case CORE_IPC_SET: {
        if (!(rights & CORE_R_UNLINK))
            return CORE_E_PERM;
        if (q->name_len != sizeof(struct core_sysv_set))
            return CORE_E_INVAL;
        struct core_sysv_set in;
        copy(&in, q->name, sizeof in);
        s->uid = in.uid;
        s->gid = in.gid;
        s->mode = in.mode & 0777u;
        x->ctime = a->now;
        return CORE_OK;
    }
    case CORE_IPC_RMID:
        if (!(rights & CORE_R_UNLINK))
            return CORE_E_PERM;
        set_remove(c, xi);
        return CORE_OK;
    case CORE_GETVAL:
    case CORE_GETPID:
    case CORE_GETNCNT:
    case CORE_GETZCNT:
        if (!(rights & CORE_R_OPEN))
            return CORE_E_ACCES;
        if (num >= x->nsems)
            return CORE_E_INVAL;
        *value = cmd == CORE_GETVAL   ? (uint32_t)c->cells[x->cells + num].val
                 : cmd == CORE_GETPID ? c->cells[x->cells + num].pid
                                      : count_waiting(c, si, num, cmd == CORE_GETZCNT);
        return CORE_OK;
    case CORE_SETVAL: {
        if ((rights & alter) != alter)
            return CORE_E_ACCES;
        if (num >= x->nsems)
            return CORE_E_INVAL;
        int32_t v = (int32_t)q->mode;
        if (v < 0 || v > CORE_SEMVMX)
            return CORE_E_RANGE;
        struct cell *cl = &c->cells[x->cells + num];
        cl->val = v;
        cl->pid = ss->pid;
        cl->epoch++; /* every process's undo of it is cleared */
        x->ctime = a->now;
        update_queue(c, xi, a->now);
        return CORE_OK;
    }
    case CORE_GETALL: {
        if (!(rights & CORE_R_OPEN))
            return CORE_E_ACCES;
        if (num >= x->nsems)
            return CORE_E_INVAL;
        uint32_t n = x->nsems - num < CORE_SYSV_CHUNK ? x->nsems - num : CORE_SYSV_CHUNK;
        for (uint32_t i = 0; i < n; i++) {
            uint16_t v = (uint16_t)c->cells[x->cells + num + i].val;
            copy(a->out + 2 * i, &v, 2);
        }
        a->out_len = 2 * n;
        *value = n;
        return CORE_OK;
    }
    case CORE_SETALL: {
        if ((rights & alter) != alter)
            return CORE_E_ACCES;
        uint32_t n = q->name_len / 2;
        if (q->name_len == 0) { /* a SETALL of nothing: how many to send */
            *value = x->nsems;
            return CORE_OK;
        }
        if ((q->name_len & 1) || num >= x->nsems || n > x->nsems - num)
            return CORE_E_INVAL;
        for (uint32_t i = 0; i < n; i++) {
            uint16_t v;
            copy(&v, q->name + 2 * i, 2);
            if (v > CORE_SEMVMX)
                return CORE_E_RANGE;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint16_t v;
            copy(&v, q->name + 2 * i, 2);
            struct cell *cl = &c->cells[x->cells + num + i];
            cl->val = v;
            cl->pid = ss->pid;
            cl->epoch++;
        }
        x->ctime = a->now;
        update_queue(c, xi, a->now);
        *value = n;
        return CORE_OK;
    }
    default: return CORE_E_INVAL;
    }
}

int32_t sysv_request(struct core *c, uint32_t ssi, struct core_request_args *a,
                     uint32_t *value, core_id_t *handle)
{
    if (!c->cfg.max_sets)
        return a->req.call == CORE_ECALL_SYSV_GET ? CORE_E_NOSPC : CORE_E_INVAL;
    int32_t r;
    switch (a->req.call) {
    case CORE_ECALL_SYSV_GET: r = do_get(c, ssi, a, value, handle); break;
    case CORE_ECALL_SYSV_OP: r = do_op(c, ssi, a, handle); break;
    default: r = do_ctl(c, ssi, a, value, handle); break;
    }
    a->notes = c->nnotes;
    return r;
}

/* ---- session end, revoke, admin ---- */

void sysv_session_end(struct core *c, uint32_t ssi)
{
    struct session *ss = &c->sessions[ssi];
    /* A process's adjustments of one set are applied together, then the
     * set's queue runs (as exit_sem does).  A record done is marked by
     * num = NIL (undo_live then skips it). */
    for (uint32_t u = ss->undo_head; u != NIL; u = c->undos[u].next) {
        if (!undo_live(c, &c->undos[u]))
            continue;
        uint32_t xi = c->undos[u].set, seq = c->undos[u].seq;
        struct semset *x = &c->sets[xi];
        int changed = 0;
        for (uint32_t v = u; v != NIL; v = c->undos[v].next) {
            struct undo *r = &c->undos[v];
            if (r->set != xi || r->seq != seq || r->num >= x->nsems)
                continue;
            struct cell *cl = &c->cells[x->cells + r->num];
            if (r->adj && r->epoch == cl->epoch) {
                int32_t nv = cl->val + r->adj;
                cl->val = nv < 0 ? 0 : nv > CORE_SEMVMX ? CORE_SEMVMX : nv;
                cl->pid = ss->pid;
                changed = 1;
            }
            r->num = NIL;
        }
        if (changed)
            update_queue(c, xi, x->otime);
    }
    while (ss->undo_head != NIL) {
        uint32_t u = ss->undo_head;
        ss->undo_head = c->undos[u].next;
        c->undos[u].next = c->undo_free;
        c->undo_free = u;
        c->undos_in_use--;
    }
}

void sysv_revoked(struct core *c, uint32_t si)
{
    struct sem *s = &c->sems[si];
    struct core_sembuf ops[CORE_SEMOPM];
    for (uint32_t w = s->wait_head, next; w != NIL; w = next) {
        next = c->waiters[w].q_next;
        uint32_t n = waiter_ops(c, w, ops), need = ops_need(ops, n);
        if ((set_rights(c, &c->sessions[c->waiters[w].sess], s) & need) != need) {
            note_push(c, w, CORE_E_ACCES);
            s->cancels++;
            waiter_unlink(c, w);
        }
    }
}

void sysv_fill_info(const struct core *c, uint32_t si, struct core_sem_info *o)
{
    const struct sem *s = &c->sems[si];
    o->key = c->sets[s->set].key;
    o->semid = semid_of(c, s->set);
    o->nsems = c->sets[s->set].nsems;
}
