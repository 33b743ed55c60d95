/*
 * Unit tests of the trusted core: randomized ecalls: never a crash, statistics always consistent (barging, strict, FIFO).
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- randomized calls ---- */

#define FUZZ_SESS 8
#define FUZZ_IDS 64
#define FUZZ_KEYS 4  /* cfg.max_keys */
#define FUZZ_KEYED 3 /* cfg.max_keyed: fewer than sessions, so the table fills */
#define FUZZ_SLOTS 4 /* slots the fuzzer mostly uses */

/* Expectations beyond an exact status. */
#define FUZZ_ANY 100      /* whatever, as long as it is a status */
#define FUZZ_NOT_AUTH 101 /* anything but CORE_E_AUTH */

/* The client side of one live session. */
struct fuzz_sess {
    uint64_t key_id; /* 0: a PID session */
    uint8_t ks[CORE_KEY_BYTES];
    uint64_t seq[CORE_MAX_SLOTS];  /* last sequence number the core accepted */
    uint64_t qseq[CORE_MAX_SLOTS]; /* seq of the wait queued on the slot */
    core_id_t qhandle[CORE_MAX_SLOTS]; /* ... and the semaphore it waits on */
};

struct fuzz_key {
    uint8_t key[CORE_KEY_BYTES];
    uint64_t id;
};

struct fuzz {
    struct core *c;
    uint64_t rng;
    core_id_t live[FUZZ_SESS]; /* exactly the live sessions */
    struct fuzz_sess sess[FUZZ_SESS]; /* sess[i] is live[i]'s */
    uint32_t nlive;
    core_id_t dead[FUZZ_IDS]; /* closed sessions, for stale ids */
    core_id_t handles[FUZZ_IDS];
    uint32_t ndead, nhandles;
    char long1[CORE_INLINE_NAME], long2[CORE_NAME_MAX];
    uint8_t fixed_keys[3][CORE_KEY_BYTES];
    struct fuzz_key keys[FUZZ_KEYS]; /* exactly the keys the core holds */
    uint32_t nkeys;
    uint8_t pending_key[CORE_KEY_BYTES]; /* KEY_ADD's input: the core wipes it */
    int keyed_request;                   /* the current call is a key session's REQUEST */
    uint64_t keyed_ok, auth_refused, acl_ok, wakes_checked;
};

static uint64_t rnd(struct fuzz *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static uint32_t below(struct fuzz *f, uint32_t n) { return (uint32_t)(rnd(f) % n); }

static void ring_add(core_id_t *ring, uint32_t *n, core_id_t id, struct fuzz *f)
{
    if (*n < FUZZ_IDS)
        ring[(*n)++] = id;
    else
        ring[below(f, FUZZ_IDS)] = id;
}

static core_id_t pick_from(struct fuzz *f, const core_id_t *ids, uint32_t n)
{
    if (n == 0 || below(f, 16) == 0)
        return below(f, 2) ? rnd(f) : 0;
    core_id_t id = ids[below(f, n)];
    switch (below(f, 16)) {
    case 0: return id + (1ull << 32); /* next generation */
    case 1: return id + 1;            /* neighbouring slot */
    default: return id;
    }
}

/* Half the time a semaphore that is live right now, else an id seen before. */
static core_id_t pick_handle(struct fuzz *f)
{
    if (below(f, 2)) {
        struct core_sem_info_args a = {.cursor = below(f, 8)};
        if (CALL(f->c, CORE_ECALL_SEM_INFO, a) == CORE_OK && a.found)
            return a.info.handle;
    }
    return pick_from(f, f->handles, f->nhandles);
}

static core_id_t pick_session(struct fuzz *f)
{
    if (f->ndead && below(f, 10) == 0)
        return pick_from(f, f->dead, f->ndead);
    return pick_from(f, f->live, f->nlive);
}

/* A (session, handle) pair; half the time a session that holds the handle. */
static void pick_pair(struct fuzz *f, core_id_t *session, core_id_t *handle)
{
    *handle = pick_handle(f);
    *session = pick_session(f);
    if (below(f, 2)) {
        struct core_sem_member_args a = {.handle = *handle};
        for (uint32_t hops = below(f, 3);; hops--) {
            if (CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) != CORE_OK || !a.found)
                break;
            *session = a.session;
            if (hops == 0 || a.next == UINT32_MAX)
                break;
            a.cursor = a.next;
        }
    }
}

static void pick_name(struct fuzz *f, char *name, uint32_t *len)
{
    static const char *const small[] = {"a", "b", "c", "d", ".", "..", "x/y", "e\0"};
    uint32_t k = below(f, 12);
    if (k < 8) {
        *len = k == 7 ? 2 : (uint32_t)strlen(small[k]);
        memcpy(name, small[k], *len);
    } else if (k < 10) {
        *len = sizeof f->long1 - (k & 1); /* 64 or 63 bytes */
        memcpy(name, f->long1, *len);
    } else if (k == 10) {
        *len = sizeof f->long2;
        memcpy(name, f->long2, *len);
    } else {
        *len = below(f, 2) ? (uint32_t)rnd(f) : below(f, CORE_NAME_MAX + 3);
    }
}

/* Fuzz sessions use pids 1..16, each with start time 1000 + pid. */
static void pick_principal(struct fuzz *f, struct core_principal *p)
{
    switch (below(f, 10)) {
    /* never uid 0, gid 0 or pid 999: the final clean-up's root session must
     * keep what the policy alone gives it */
    case 0: *p = who_uid(UID_A + below(f, 2) * 1000); break;
    case 1: *p = who_gid(GID_A + below(f, 2) * 100); break;
    case 2:
    case 3: *p = who_proc(1 + below(f, 16)); break;
    case 4:
        *p = who_key(f->nkeys && below(f, 4) ? f->keys[below(f, f->nkeys)].id : rnd(f));
        break;
    case 5: p->kind = below(f, 6); break; /* junk id/ext, maybe a bad kind */
    default: break;                       /* keep the random bytes */
    }
}

/* The core's principal_ok(), as the header describes it. */
static int principal_ok_model(const struct core_principal *p)
{
    switch (p->kind) {
    case CORE_P_UID:
    case CORE_P_GID: return p->ext == 0;
    case CORE_P_PROC: return p->id != 0;
    case CORE_P_KEY: return p->id == 0 && p->ext != 0;
    default: return 0;
    }
}

static struct fuzz_sess *sess_of(struct fuzz *f, core_id_t id)
{
    for (uint32_t i = 0; i < f->nlive; i++)
        if (f->live[i] == id)
            return &f->sess[i];
    return NULL;
}

static const struct fuzz_key *key_of(const struct fuzz *f, uint64_t id)
{
    for (uint32_t i = 0; i < f->nkeys; i++)
        if (f->keys[i].id == id)
            return &f->keys[i];
    return NULL;
}

static uint32_t nkeyed(const struct fuzz *f)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->nlive; i++)
        n += f->sess[i].key_id != 0;
    return n;
}

/* A (session, handle) pair where the session mostly holds the handle open;
 * with want_keyed, mostly a key session. */
static void pick_holder_pair(struct fuzz *f, core_id_t *session, core_id_t *handle,
                             int want_keyed)
{
    if (want_keyed && below(f, 4)) {
        /* a key session and, mostly, one of the semaphores it holds */
        core_id_t ks[FUZZ_SESS], held[16];
        uint32_t nk = 0, nh = 0;
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->sess[i].key_id)
                ks[nk++] = f->live[i];
        if (nk) {
            *session = ks[below(f, nk)];
            for (uint32_t cur = 0; nh < 16;) {
                struct core_sem_info_args si = {.cursor = cur};
                if (CALL(f->c, CORE_ECALL_SEM_INFO, si) != CORE_OK || !si.found)
                    break;
                cur = si.next;
                struct core_sem_member_args a = {.handle = si.info.handle};
                while (CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) == CORE_OK && a.found) {
                    if (a.session == *session) {
                        held[nh++] = si.info.handle;
                        break;
                    }
                    if (a.next == UINT32_MAX)
                        break;
                    a.cursor = a.next;
                }
            }
            *handle = nh && below(f, 8) ? held[below(f, nh)] : pick_handle(f);
            return;
        }
    }
    *handle = pick_handle(f);
    core_id_t cand[FUZZ_SESS];
    uint32_t n = 0;
    struct core_sem_member_args a = {.handle = *handle};
    while (n < FUZZ_SESS && CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) == CORE_OK && a.found) {
        const struct fuzz_sess *fs = sess_of(f, a.session);
        if (!want_keyed || (fs && fs->key_id))
            cand[n++] = a.session;
        if (a.next == UINT32_MAX)
            break;
        a.cursor = a.next;
    }
    if (n && below(f, 8)) {
        *session = cand[below(f, n)];
        return;
    }
    if (want_keyed && below(f, 4)) {
        n = 0;
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->sess[i].key_id)
                cand[n++] = f->live[i];
        if (n) {
            *session = cand[below(f, n)];
            return;
        }
    }
    *session = pick_session(f);
}

static void fuzz_fill_request(struct fuzz *f, struct core_request_args *a)
{
    static const uint32_t calls[] = {
        CORE_ECALL_SEM_OPEN,   CORE_ECALL_SEM_CREATE, CORE_ECALL_SEM_CLOSE,
        CORE_ECALL_SEM_DESTROY, CORE_ECALL_SEM_UNLINK, CORE_ECALL_SEM_POST,
        CORE_ECALL_SEM_WAIT,   CORE_ECALL_SEM_GETVALUE, CORE_ECALL_SEM_GRANT,
        CORE_ECALL_SEM_REVOKE,
    };
    static const uint32_t modes[] = {0600, 0660, 0666, 0, 0644, 0606};
    struct core_req *q = &a->req;
    pick_holder_pair(f, &a->session, &q->handle, below(f, 2));
    q->call = below(f, 16) ? calls[below(f, 10)] : (uint32_t)rnd(f);
    q->slot = below(f, 16) ? below(f, FUZZ_SLOTS)
                           : below(f, 2) ? CORE_MAX_SLOTS - 1 : (uint32_t)rnd(f);
    switch (q->call) {
    case CORE_ECALL_SEM_OPEN: q->flags = below(f, 8) ? below(f, 8) : (uint32_t)rnd(f); break;
    case CORE_ECALL_SEM_WAIT: q->flags = below(f, 8) ? below(f, 2) : (uint32_t)rnd(f); break;
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        q->rights = below(f, 8) ? 1 + below(f, CORE_R_ALL) : (uint32_t)rnd(f);
        break;
    default: break;
    }
    q->value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
    q->mode = below(f, 8) ? modes[below(f, 6)] : (uint32_t)rnd(f);
    q->prio = (int32_t)below(f, 5) - 2;
    pick_name(f, q->name, &q->name_len);
    pick_principal(f, &q->who);
    a->umask = below(f, 2) ? 022 : below(f, 2) ? 0 : (uint32_t)rnd(f);
    struct fuzz_sess *fs = sess_of(f, a->session);
    if (!fs || !fs->key_id)
        return; /* a PID session: seq and mac stay random */
    if (q->slot < CORE_MAX_SLOTS) {
        uint64_t last = fs->seq[q->slot], back = below(f, 3);
        q->seq = below(f, 8) ? last + 1 + below(f, 3) : last >= back ? last - back : 0;
    }
    if (below(f, 8))
        core_auth_req_mac(fs->ks, q, a->mac);
    if (below(f, 16) == 0) { /* altered on the way */
        uint32_t len = q->name_len <= CORE_NAME_MAX ? q->name_len : 0;
        ((unsigned char *)q)[below(f, CORE_REQ_HDR + len)] ^= (uint8_t)(1u << below(f, 8));
    }
}

static void fuzz_fill(struct fuzz *f, uint32_t call, union any_args *u, uint64_t size)
{
    for (uint64_t i = 0; i < size; i++)
        u->bytes[i] = (unsigned char)rnd(f);
    if (below(f, 8) == 0)
        return; /* pure garbage */
    static const uint32_t modes[] = {0600, 0660, 0666, 0, 0644, 0606};
    switch (call) {
    case CORE_ECALL_SESSION_OPEN:
        u->session_open.pid = 1 + below(f, 16);
        u->session_open.start_time = 1000u + u->session_open.pid;
        u->session_open.uid = below(f, 4) == 0 ? 0 : UID_A + below(f, 2) * 1000;
        u->session_open.gid = GID_A + below(f, 2) * 100;
        u->session_open.ngroups = below(f, CORE_NGROUPS_MAX + 3);
        /* mostly PID sessions; a random key id would only ever be refused */
        if (f->nkeys && below(f, 4) == 0)
            u->session_open.key_id = f->keys[below(f, f->nkeys)].id;
        else if (below(f, 16))
            u->session_open.key_id = 0;
        break;
    case CORE_ECALL_SESSION_INHERIT:
        u->session_inherit.child = pick_session(f);
        u->session_inherit.parent = pick_session(f);
        break;
    case CORE_ECALL_SESSION_CLOSE:
        u->session_close.session = pick_session(f);
        break;
    case CORE_ECALL_SESSION_SETCRED:
        u->session_setcred.session = pick_session(f);
        u->session_setcred.uid = below(f, 4) == 0 ? 0 : UID_A + below(f, 2) * 1000;
        u->session_setcred.gid = GID_A + below(f, 2) * 100;
        u->session_setcred.ngroups = below(f, CORE_NGROUPS_MAX + 3);
        break;
    case CORE_ECALL_SEM_OPEN:
        u->sem_open.session = pick_session(f);
        u->sem_open.oflag = below(f, 8) ? below(f, 8) : (uint32_t)rnd(f);
        u->sem_open.mode = below(f, 8) ? modes[below(f, 6)] : (uint32_t)rnd(f);
        u->sem_open.value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
        pick_name(f, u->sem_open.name, &u->sem_open.name_len);
        break;
    case CORE_ECALL_SEM_CREATE:
        u->sem_create.session = pick_session(f);
        u->sem_create.value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_CLOSE:
    case CORE_ECALL_SEM_DESTROY:
    case CORE_ECALL_SEM_GETVALUE:
        pick_pair(f, &u->sem_handle.session, &u->sem_handle.handle);
        break;
    case CORE_ECALL_SEM_UNLINK:
        u->sem_unlink.session = pick_session(f);
        pick_name(f, u->sem_unlink.name, &u->sem_unlink.name_len);
        break;
    case CORE_ECALL_SEM_POST:
        pick_pair(f, &u->sem_post.session, &u->sem_post.handle);
        break;
    case CORE_ECALL_SEM_WAIT:
        pick_pair(f, &u->sem_wait.session, &u->sem_wait.handle);
        u->sem_wait.slot = below(f, FUZZ_SLOTS);
        u->sem_wait.flags = below(f, 8) ? below(f, 2) : (uint32_t)rnd(f);
        u->sem_wait.prio = (int32_t)below(f, 5) - 2;
        break;
    case CORE_ECALL_SEM_CANCEL:
        u->sem_cancel.session = pick_session(f);
        u->sem_cancel.slot = below(f, FUZZ_SLOTS);
        break;
    case CORE_ECALL_SEM_INFO:
        u->sem_info.cursor = below(f, 4) ? below(f, 40) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_HOLDERS:
    case CORE_ECALL_SEM_WAITERS:
        u->sem_member.handle = pick_handle(f);
        u->sem_member.cursor = below(f, 4) ? below(f, 40) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SESSION_INFO:
        u->session_info.session = pick_session(f);
        break;
    case CORE_ECALL_KEY_ADD:
        if (below(f, 4))
            memcpy(u->key_add.key, f->fixed_keys[below(f, 3)], CORE_KEY_BYTES);
        break;
    case CORE_ECALL_REQUEST:
        fuzz_fill_request(f, &u->request);
        break;
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        pick_holder_pair(f, &u->sem_grant.session, &u->sem_grant.handle, 0);
        pick_principal(f, &u->sem_grant.who);
        u->sem_grant.rights = below(f, 8) ? 1 + below(f, CORE_R_ALL) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_ACL:
        u->sem_acl.handle = pick_handle(f);
        u->sem_acl.cursor = below(f, 4) ? below(f, 12) : (uint32_t)rnd(f);
        break;
    default:
        break;
    }
}

/* Relative frequency of each call: semaphore traffic over session churn. */
static const uint32_t call_weight[CORE_ECALL_MAX_] = {
    [CORE_ECALL_SESSION_OPEN] = 2, [CORE_ECALL_SESSION_INHERIT] = 2,
    [CORE_ECALL_SESSION_CLOSE] = 1, [CORE_ECALL_SEM_OPEN] = 5,
    [CORE_ECALL_SEM_CREATE] = 2,   [CORE_ECALL_SEM_CLOSE] = 3,
    [CORE_ECALL_SEM_DESTROY] = 1,  [CORE_ECALL_SEM_UNLINK] = 2,
    [CORE_ECALL_SEM_POST] = 6,     [CORE_ECALL_SEM_WAIT] = 8,
    [CORE_ECALL_SEM_CANCEL] = 3,   [CORE_ECALL_SEM_GETVALUE] = 1,
    [CORE_ECALL_SEM_INFO] = 1,     [CORE_ECALL_SEM_HOLDERS] = 1,
    [CORE_ECALL_SEM_WAITERS] = 1,  [CORE_ECALL_STATS] = 1,
    [CORE_ECALL_SESSION_INFO] = 1, [CORE_ECALL_SESSION_SETCRED] = 1,
    [CORE_ECALL_KEY_ADD] = 1,      [CORE_ECALL_REQUEST] = 12,
    [CORE_ECALL_SEM_GRANT] = 3,    [CORE_ECALL_SEM_REVOKE] = 2,
    [CORE_ECALL_SEM_ACL] = 1,
};

static uint32_t pick_call(struct fuzz *f)
{
    if (below(f, 32) == 0)
        return below(f, 2) ? (uint32_t)rnd(f) : 0;
    uint32_t total = 0;
    for (uint32_t i = 0; i < CORE_ECALL_MAX_; i++)
        total += call_weight[i];
    uint32_t x = below(f, total);
    for (uint32_t i = 1;; i++) {
        if (x < call_weight[i])
            return i;
        x -= call_weight[i];
    }
}

static int is_live(const struct fuzz *f, core_id_t s)
{
    for (uint32_t i = 0; i < f->nlive; i++)
        if (f->live[i] == s)
            return 1;
    return 0;
}

/* Calls that act for the session their struct starts with. */
static int acts_for_session(uint32_t call)
{
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
    case CORE_ECALL_SEM_REVOKE: return 1;
    default: return 0;
    }
}

/* What the core must answer, as far as the fuzzer's model knows it:
 * an exact status, FUZZ_NOT_AUTH or FUZZ_ANY.  Computed before the call. */
static int32_t fuzz_expect(struct fuzz *f, uint32_t call, const union any_args *u)
{
    f->keyed_request = 0;
    if (acts_for_session(call)) {
        core_id_t sid;
        memcpy(&sid, u, sizeof sid);
        const struct fuzz_sess *fs = sess_of(f, sid);
        return fs && fs->key_id ? CORE_E_AUTH : FUZZ_NOT_AUTH;
    }
    switch (call) {
    case CORE_ECALL_SESSION_OPEN: {
        const struct core_session_open_args *a = &u->session_open;
        if (a->ngroups > CORE_NGROUPS_MAX)
            return CORE_E_INVAL;
        if (f->nlive == FUZZ_SESS)
            return CORE_E_NOSPC;
        if (a->key_id && !key_of(f, a->key_id))
            return CORE_E_AUTH;
        if (a->key_id && nkeyed(f) == FUZZ_KEYED)
            return CORE_E_NOSPC;
        return CORE_OK;
    }
    case CORE_ECALL_SESSION_INHERIT: {
        const struct fuzz_sess *cs = sess_of(f, u->session_inherit.child);
        const struct fuzz_sess *ps = sess_of(f, u->session_inherit.parent);
        if (!cs || !ps)
            return CORE_E_SESSION;
        if (cs == ps || (ps->key_id && cs->key_id != ps->key_id))
            return CORE_E_PERM;
        return FUZZ_NOT_AUTH;
    }
    case CORE_ECALL_KEY_ADD: {
        memcpy(f->pending_key, u->key_add.key, CORE_KEY_BYTES);
        uint64_t id = core_auth_key_id(f->pending_key);
        if (key_of(f, id))
            return CORE_OK;
        return f->nkeys == FUZZ_KEYS ? CORE_E_NOSPC : CORE_OK;
    }
    case CORE_ECALL_REQUEST: {
        const struct core_request_args *a = &u->request;
        const struct core_req *q = &a->req;
        const struct fuzz_sess *fs = sess_of(f, a->session);
        if (!fs)
            return CORE_E_SESSION;
        if (q->name_len > CORE_NAME_MAX)
            return CORE_E_NAMETOOLONG;
        if (!fs->key_id)
            return FUZZ_NOT_AUTH;
        if (q->slot >= CORE_MAX_SLOTS)
            return CORE_E_AUTH;
        uint8_t mac[CORE_MAC_BYTES];
        core_auth_req_mac(fs->ks, q, mac);
        if (memcmp(mac, a->mac, sizeof mac) != 0)
            return CORE_E_AUTH;
        if (q->seq <= fs->seq[q->slot])
            return CORE_E_AUTH;
        f->keyed_request = 1;
        return FUZZ_NOT_AUTH;
    }
    case CORE_ECALL_SEM_CANCEL:
    case CORE_ECALL_SESSION_CLOSE:
    case CORE_ECALL_SESSION_INFO:
    case CORE_ECALL_SESSION_SETCRED:
    case CORE_ECALL_SEM_INFO:
    case CORE_ECALL_SEM_HOLDERS:
    case CORE_ECALL_SEM_WAITERS:
    case CORE_ECALL_SEM_ACL:
    case CORE_ECALL_STATS: return FUZZ_NOT_AUTH;
    default: return FUZZ_ANY;
    }
}

/* A grant handed to the host for delivery: to a live session, and for a
 * key session with the MAC its client will check. */
static void fuzz_check_wake(struct fuzz *f, const struct core_wake *w)
{
    if (!w->valid)
        return;
    struct fuzz_sess *fs = sess_of(f, w->session);
    assert_non_null(fs);
    if (w->slot < CORE_MAX_SLOTS)
        assert_int_equal(w->seq, fs->qseq[w->slot]);
    if (fs->key_id) {
        assert_true(rep_mac_ok(fs->ks, w->session, w->slot, w->seq, WAITED(w->handle), w->status,
                               0, 0, w->mac));
        f->wakes_checked++;
    } else {
        assert_memory_equal(w->mac, zero_mac, CORE_MAC_BYTES);
    }
}

/* Record what a call created or ended, and check what it returned. */
static void fuzz_note(struct fuzz *f, uint32_t call, const union any_args *u, int32_t r)
{
    if (call == CORE_ECALL_REQUEST) {
        const struct core_request_args *a = &u->request;
        struct fuzz_sess *fs = sess_of(f, a->session);
        if (f->keyed_request) {
            fs->seq[a->req.slot] = a->req.seq;
            f->keyed_ok++;
            if (r == CORE_QUEUED)
                assert_memory_equal(a->rmac, zero_mac, CORE_MAC_BYTES);
            else
                assert_true(rep_mac_ok(fs->ks, a->session, a->req.slot, a->req.seq,
                                       ASKED(a->req.call, a->req.handle), r, a->value,
                                       a->handle, a->rmac));
        } else {
            assert_memory_equal(a->rmac, zero_mac, CORE_MAC_BYTES);
        }
        if (r == CORE_QUEUED) {
            assert_int_equal(a->req.call, CORE_ECALL_SEM_WAIT);
            if (a->req.slot < CORE_MAX_SLOTS) {
                fs->qseq[a->req.slot] = a->req.seq;
                fs->qhandle[a->req.slot] = a->req.handle;
            }
        }
        if (r == CORE_OK &&
            (a->req.call == CORE_ECALL_SEM_OPEN || a->req.call == CORE_ECALL_SEM_CREATE))
            ring_add(f->handles, &f->nhandles, a->handle, f);
        fuzz_check_wake(f, &a->wake);
        return;
    }
    if (r < 0)
        return;
    switch (call) {
    case CORE_ECALL_SESSION_OPEN: {
        const struct core_session_open_args *a = &u->session_open;
        assert_false(is_live(f, a->session));
        assert_true(f->nlive < FUZZ_SESS);
        struct fuzz_sess *fs = &f->sess[f->nlive];
        memset(fs, 0, sizeof *fs);
        fs->key_id = a->key_id;
        if (a->key_id) {
            const struct fuzz_key *k = key_of(f, a->key_id);
            uint8_t proof[CORE_MAC_BYTES];
            assert_non_null(k);
            core_auth_session_key(k->key, a->session, a->nonce, a->core_nonce, fs->ks);
            core_auth_proof(fs->ks, a->session, a->nonce, a->core_nonce, proof);
            assert_true(core_auth_equal(proof, a->proof));
        } else {
            assert_memory_equal(a->proof, zero_mac, CORE_MAC_BYTES);
        }
        f->live[f->nlive++] = a->session;
        break;
    }
    case CORE_ECALL_SESSION_CLOSE:
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->live[i] == u->session_close.session) {
                f->nlive--;
                f->live[i] = f->live[f->nlive];
                f->sess[i] = f->sess[f->nlive];
                ring_add(f->dead, &f->ndead, u->session_close.session, f);
                return;
            }
        fail_msg("closed a session the test never saw opened");
        break;
    case CORE_ECALL_SEM_OPEN:
        ring_add(f->handles, &f->nhandles, u->sem_open.handle, f);
        break;
    case CORE_ECALL_SEM_CREATE:
        ring_add(f->handles, &f->nhandles, u->sem_create.handle, f);
        break;
    case CORE_ECALL_SEM_WAIT:
        if (r == CORE_QUEUED && u->sem_wait.slot < CORE_MAX_SLOTS) {
            sess_of(f, u->sem_wait.session)->qseq[u->sem_wait.slot] = u->sem_wait.seq;
            sess_of(f, u->sem_wait.session)->qhandle[u->sem_wait.slot] = u->sem_wait.handle;
        }
        break;
    case CORE_ECALL_SEM_POST:
        fuzz_check_wake(f, &u->sem_post.wake);
        break;
    case CORE_ECALL_SEM_CANCEL: {
        const struct core_sem_cancel_args *a = &u->sem_cancel;
        struct fuzz_sess *fs = sess_of(f, a->session);
        assert_non_null(fs);
        if (a->slot < CORE_MAX_SLOTS)
            assert_int_equal(a->seq, fs->qseq[a->slot]);
        if (fs->key_id)
            assert_true(
                rep_mac_ok(fs->ks, a->session, a->slot, a->seq, WAITED(fs->qhandle[a->slot]),
                           CORE_CANCELLED, 0, 0, a->mac));
        else
            assert_memory_equal(a->mac, zero_mac, CORE_MAC_BYTES);
        break;
    }
    case CORE_ECALL_KEY_ADD: {
        uint64_t id = core_auth_key_id(f->pending_key);
        assert_true(u->key_add.key_id == id);
        if (!key_of(f, id)) {
            assert_true(f->nkeys < FUZZ_KEYS);
            memcpy(f->keys[f->nkeys].key, f->pending_key, CORE_KEY_BYTES);
            f->keys[f->nkeys++].id = id;
        }
        break;
    }
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        assert_true(principal_ok_model(&u->sem_grant.who));
        assert_true(u->sem_grant.rights && !(u->sem_grant.rights & ~CORE_R_ALL));
        f->acl_ok++;
        break;
    default:
        break;
    }
}

/* Cross-check the core's counters against what its admin calls report. */
static void check_consistency(struct fuzz *f)
{
    struct core *c = f->c;
    struct core_stats st = stats(c);
    assert_true(st.sems_in_use <= st.max_sems);
    assert_true(st.sessions_in_use <= st.max_sessions);
    assert_true(st.opens_in_use <= st.max_opens);
    assert_true(st.waiters_in_use <= st.max_waiters);
    assert_true(st.acls_in_use <= st.max_acls);
    assert_int_equal(st.sessions_in_use, f->nlive);
    assert_int_equal(st.keys_in_use, f->nkeys);
    assert_int_equal(st.keyed_in_use, nkeyed(f));
    assert_true(st.keyed_in_use <= FUZZ_KEYED);

    uint64_t nopens = 0, nwaiters = 0;
    for (uint32_t i = 0; i < f->nlive; i++) {
        struct core_session_info_args si;
        assert_status(session_info(c, f->live[i], &si), CORE_OK);
        assert_true(si.key_id == f->sess[i].key_id);
        nopens += si.nopens;
        nwaiters += si.nwaiters;
    }
    assert_int_equal(nopens, st.opens_in_use);
    assert_int_equal(nwaiters, st.waiters_in_use);

    struct core_sem_member_args m[64];
    struct core_sem_acl_args e[64];
    uint32_t cursor = 0, live = 0;
    uint64_t records = 0, queued = 0, acls = 0;
    for (;;) {
        struct core_sem_info_args a = {.cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(a.next > cursor);
        cursor = a.next;
        live++;
        const struct core_sem_info *i = &a.info;
        assert_true(i->value <= CORE_SEM_VALUE_MAX);
        /* FIFO: a permit never sits beside a waiter.  Barging: a free
         * permit and a waiter meet only while enough waiters are woken. */
        if (i->flags & CORE_SEMF_FIFO)
            assert_true(i->value == 0 || i->nwaiters == 0);
        else
            assert_true(i->nwoken >= (i->value < i->nwaiters ? i->value : i->nwaiters));
        assert_true(i->nwoken <= i->nwaiters);
        assert_true(!(i->flags & CORE_SEMF_NAMED) != !(i->flags & CORE_SEMF_ANON));
        assert_true(!(i->flags & CORE_SEMF_UNLINKED) || (i->flags & CORE_SEMF_NAMED));
        assert_true(!(i->flags & ~(CORE_SEMF_NAMED | CORE_SEMF_UNLINKED | CORE_SEMF_ANON |
                                   CORE_SEMF_STRICT | CORE_SEMF_FIFO)));
        /* only a linked named semaphore may outlive its last open */
        if ((i->flags & ~(CORE_SEMF_STRICT | CORE_SEMF_FIFO)) != CORE_SEMF_NAMED)
            assert_true(i->open_count > 0);
        assert_true(i->name_len <= CORE_NAME_MAX);
        /* owners: only strict semaphores have one, and a key owner is a known key */
        if (!(i->flags & CORE_SEMF_STRICT))
            assert_true(i->owner_key == 0 && i->owner_pid == 0);
        else if (i->owner_key)
            assert_non_null(key_of(f, i->owner_key));
        assert_true(i->owner_key == 0 || i->owner_pid == 0);

        uint32_t n = members(c, CORE_ECALL_SEM_HOLDERS, i->handle, m, 64);
        uint64_t refs = 0;
        for (uint32_t k = 0; k < n; k++) {
            assert_true(m[k].count > 0);
            assert_true(is_live(f, m[k].session));
            refs += m[k].count;
        }
        assert_int_equal(refs, i->open_count);
        records += n;

        n = members(c, CORE_ECALL_SEM_WAITERS, i->handle, m, 64);
        assert_int_equal(n, i->nwaiters);
        for (uint32_t k = 0; k < n; k++) {
            assert_true(is_live(f, m[k].session));
            if (k > 0)
                assert_true(m[k - 1].prio >= m[k].prio);
        }
        queued += n;

        /* access list: as many entries as info says, each well formed,
         * distinct, with allow and deny disjoint and not both empty */
        n = acl_walk(c, i->handle, e, 64);
        assert_int_equal(n, i->nacl);
        for (uint32_t k = 0; k < n; k++) {
            assert_true(principal_ok_model(&e[k].who));
            assert_int_equal(e[k].allow & e[k].deny, 0);
            assert_true((e[k].allow | e[k].deny) != 0);
            assert_int_equal((e[k].allow | e[k].deny) & ~CORE_R_ALL, 0);
            for (uint32_t j = 0; j < k; j++)
                assert_true(memcmp(&e[j].who, &e[k].who, sizeof e[k].who) != 0);
        }
        acls += n;
    }
    assert_int_equal(live, st.sems_in_use);
    assert_int_equal(records, st.opens_in_use);
    assert_int_equal(queued, st.waiters_in_use);
    assert_int_equal(acls, st.acls_in_use);
}

/* Unlink one leftover named semaphore as whoever may: root for a POSIX
 * one, the owner key or the owner process for a strict one. */
static void fuzz_unlink_leftover(struct fuzz *f, const struct core_sem_info *i)
{
    struct core *c = f->c;
    if (!(i->flags & CORE_SEMF_STRICT)) {
        core_id_t root = open_session(c, 999, 0, 0);
        assert_status(unlink_raw(c, root, i->name, i->name_len), CORE_OK);
        assert_status(close_session(c, root), CORE_OK);
        return;
    }
    if (i->owner_key) {
        const struct fuzz_key *k = key_of(f, i->owner_key);
        assert_non_null(k);
        struct ksess ks = open_key_session(c, 999, UID_C, GID_C, k->key);
        struct core_req q = mkreq(CORE_ECALL_SEM_UNLINK, 0);
        q.name_len = i->name_len;
        memcpy(q.name, i->name, i->name_len);
        assert_status(kreq(c, &ks, q, NULL), CORE_OK);
        assert_status(close_session(c, ks.id), CORE_OK);
        return;
    }
    /* root has no bypass; the owner process (same pid and start time) may */
    core_id_t root = open_session(c, 999, 0, 0);
    assert_status(unlink_raw(c, root, i->name, i->name_len), CORE_E_ACCES);
    assert_status(close_session(c, root), CORE_OK);
    core_id_t owner = open_session(c, i->owner_pid, UID_C, GID_C);
    assert_status(unlink_raw(c, owner, i->name, i->name_len), CORE_OK);
    assert_status(close_session(c, owner), CORE_OK);
}

static void fuzz_run(void **state, uint32_t flags, uint64_t seed_mix)
{
    const struct core_config cfg = {
        .max_sems = 8, .max_sessions = FUZZ_SESS, .max_opens = 16, .max_waiters = 8,
        .max_long_names = 2, .max_acls = 6, .max_keys = FUZZ_KEYS, .max_keyed = FUZZ_KEYED,
        .flags = flags,
    };
    struct fuzz *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->c = reinit(state, &cfg);
    const char *seed = getenv("ESEM_FUZZ_SEED");
    f->rng = (seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull) ^ seed_mix;
    if (f->rng == 0)
        f->rng = 1;
    long_name(f->long1, sizeof f->long1, 'A');
    long_name(f->long2, sizeof f->long2, 'B');
    for (uint8_t k = 0; k < 3; k++)
        make_key(f->fixed_keys[k], (uint8_t)(100 + k));
    /* two keys provisioned up front, as esemd --keyring would */
    for (uint32_t k = 0; k < 2; k++) {
        f->keys[k].id = key_add(f->c, f->fixed_keys[k]);
        memcpy(f->keys[k].key, f->fixed_keys[k], CORE_KEY_BYTES);
    }
    f->nkeys = 2;

    uint64_t ok = 0, queued = 0, refused = 0;
    for (uint32_t iter = 0; iter < 40000; iter++) {
        union any_args u;
        uint32_t call = pick_call(f);
        int known = call > 0 && call < CORE_ECALL_MAX_;
        uint64_t size = known ? call_size[call] : below(f, sizeof u);
        fuzz_fill(f, known ? call : 0, &u, size);
        int bad_size = below(f, 32) == 0;
        if (bad_size)
            size = size + 1 + below(f, 8);
        int32_t want = known && !bad_size ? fuzz_expect(f, call, &u) : CORE_E_BADCALL;

        int32_t r = core_ecall(f->c, call, &u, size);
        if (r < CORE_E_MIN || r > CORE_QUEUED)
            fail_msg("iteration %u call %u: status %d out of range", iter, call, (int)r);
        if (want == FUZZ_NOT_AUTH) {
            if (r == CORE_E_AUTH)
                fail_msg("iteration %u call %u: CORE_E_AUTH unexpected", iter, call);
        } else if (want != FUZZ_ANY && r != want) {
            fail_msg("iteration %u call %u: got %d (%s), want %d (%s)", iter, call, (int)r,
                     core_strerror(r), (int)want, core_strerror(want));
        }
        if (r == CORE_QUEUED)
            assert_true(call == CORE_ECALL_SEM_WAIT || call == CORE_ECALL_REQUEST);
        if (call == CORE_ECALL_KEY_ADD && !bad_size) {
            static const uint8_t zeros[CORE_KEY_BYTES];
            assert_memory_equal(u.key_add.key, zeros, CORE_KEY_BYTES);
        }
        if (r == CORE_E_AUTH)
            f->auth_refused++;
        if (known && !bad_size)
            fuzz_note(f, call, &u, r);
        ok += r == CORE_OK;
        queued += r == CORE_QUEUED;
        refused += r < 0;
        if (iter % 64 == 63)
            check_consistency(f);
    }
    check_consistency(f);
    /* make sure the run exercised more than the refusal paths */
    assert_true(ok > 1000);
    /* (barging lets more waits find a permit than FIFO did, so fewer queue) */
    assert_true(queued > 5);
    assert_true(refused > 1000);
    assert_true(f->keyed_ok > 100);
    assert_true(f->auth_refused > 100);
    /* grants that passed (under the strict default only an owner's do:
     * 7 to 66 with ESEM_FUZZ_SEED 1..10, and as few under the default seed
     * when an argument struct grows and the stream shifts) */
    assert_true(f->acl_ok > ((flags & CORE_CFG_STRICT) ? 3 : 15));
    /* f->wakes_checked: key-session grants are rare here; they are checked
     * when they happen, and queued_key_wait_grant_carries_seq_and_mac covers them */

    /* Closing every session leaves only linked named semaphores; unlinking
     * those (as whoever may) leaves nothing, access lists included. */
    while (f->nlive)
        assert_status(close_session(f->c, f->live[--f->nlive]), CORE_OK);
    assert_int_equal(stats(f->c).keyed_in_use, 0);
    for (;;) {
        struct core_sem_info_args a = {.cursor = 0};
        assert_status(CALL(f->c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_int_equal(a.info.flags & ~(CORE_SEMF_STRICT | CORE_SEMF_FIFO), CORE_SEMF_NAMED);
        assert_int_equal(a.info.open_count, 0);
        assert_int_equal(a.info.nwaiters, 0);
        fuzz_unlink_leftover(f, &a.info);
    }
    assert_nothing_in_use(f->c);
    struct core_stats st = stats(f->c);
    assert_int_equal(st.acls_in_use, 0);
    assert_int_equal(st.keyed_in_use, 0);
    assert_int_equal(st.keys_in_use, f->nkeys);
    free(f);
}

static void random_ecalls_never_crash_and_keep_stats_consistent(void **state)
{
    fuzz_run(state, 0, 0);
}

/* The same with the daemon's strict default. */
static void random_ecalls_under_strict_default(void **state)
{
    fuzz_run(state, CORE_CFG_STRICT, 0x5deece66dull);
}

/* The same with FIFO hand-off (esemd --order=fifo). */
static void random_ecalls_under_fifo_order(void **state)
{
    fuzz_run(state, CORE_CFG_FIFO, 0x2545f4914f6cdd1dull);
}

/* The same in adaptive order (esemd's default) with a starvation bound:
 * the posts and waits carry random clocks. */
static void random_ecalls_under_adaptive_order(void **state)
{
    fuzz_run(state, CORE_CFG_ADAPTIVE, 0x4f1bbcdcbfa53e0bull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(random_ecalls_never_crash_and_keep_stats_consistent),
        T(random_ecalls_under_strict_default),
        T(random_ecalls_under_fifo_order),
        T(random_ecalls_under_adaptive_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
