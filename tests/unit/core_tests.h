/*
 * The fixture and helpers of the core's unit tests that test_core_*.c
 * share (one program per topic): a fresh core per test in its own arena
 * (FIFO hand-off, which these tests pin down; test_barging.c covers the
 * default barging order), sessions, semaphores, access lists and keys,
 * each driven through the core's boundary only (core_arena_size,
 * core_init, core_ecall, core_strerror).  No daemon, no threads.
 */
#ifndef ESEM_CORE_TESTS_H
#define ESEM_CORE_TESTS_H

#include "core_fixture.h"

/* Not every program uses every helper below; the warning stays on for the
 * programs' own functions, so a test left out of a main() fails the build. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- fixture (struct fixture, fx_make, assert_status, CALL: core_fixture.h) ---- */

static const struct core_config default_cfg = {
    .max_sems = 16,
    .max_sessions = 8,
    .max_opens = 32,
    .max_waiters = 16,
    .max_long_names = 2,
    .max_acls = 16,
    .max_keys = 4,
    .max_keyed = 4,
    /* FIFO hand-off: these tests pin down that order (test_barging.c
     * covers the default, barging order) */
    .flags = CORE_CFG_FIFO,
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    f->c = fx_make(&default_cfg, &f->arena);
    return f->c ? 0 : -1;
}

static struct core *core_of(void **state) { return ((struct fixture *)*state)->c; }

/* Replace the fixture's core with one sized by cfg. */
static struct core *reinit(void **state, const struct core_config *cfg)
{
    struct fixture *f = *state;
    free(f->arena);
    f->c = fx_make(cfg, &f->arena);
    assert_non_null(f->c);
    return f->c;
}


#define SLOT_OF(id) ((uint32_t)(id))        /* index + 1 */
#define GEN_OF(id) ((uint32_t)((id) >> 32))
#define MKID(gen, idx1) ((uint64_t)(gen) << 32 | (uint32_t)(idx1))

enum { UID_A = 1000, GID_A = 100, UID_B = 2000, GID_B = 200, UID_C = 3000, GID_C = 300 };

/* ---- session helpers ---- */

/* groups, if given, holds CORE_NGROUPS_MAX entries; all are passed, only
 * the first ngroups count. */
static int32_t session_open_groups(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                   uint32_t ngroups, const uint32_t *groups, core_id_t *out)
{
    struct core_session_open_args a;
    memset(&a, 0, sizeof a);
    a.pid = pid;
    a.uid = uid;
    a.gid = gid;
    a.ngroups = ngroups;
    if (groups)
        memcpy(a.groups, groups, sizeof a.groups);
    a.start_time = 1000u + pid;
    int32_t r = CALL(c, CORE_ECALL_SESSION_OPEN, a);
    if (out)
        *out = a.session;
    return r;
}

static core_id_t open_session(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid)
{
    core_id_t s = 0;
    assert_status(session_open_groups(c, pid, uid, gid, 0, NULL, &s), CORE_OK);
    assert_true(s != 0);
    return s;
}

static int32_t close_session(struct core *c, core_id_t s)
{
    struct core_session_close_args a = {.session = s};
    return CALL(c, CORE_ECALL_SESSION_CLOSE, a);
}

static int32_t inherit(struct core *c, core_id_t child, core_id_t parent, uint32_t *nopens)
{
    struct core_session_inherit_args a = {.child = child, .parent = parent};
    int32_t r = CALL(c, CORE_ECALL_SESSION_INHERIT, a);
    if (nopens)
        *nopens = a.nopens;
    return r;
}

static int32_t session_info(struct core *c, core_id_t s, struct core_session_info_args *out)
{
    struct core_session_info_args a = {.session = s};
    int32_t r = CALL(c, CORE_ECALL_SESSION_INFO, a);
    if (out)
        *out = a;
    return r;
}

/* ---- semaphore helpers ---- */

static int32_t sem_open_raw(struct core *c, core_id_t s, const char *name, uint32_t len,
                            uint32_t oflag, uint32_t mode, uint32_t value, core_id_t *h,
                            uint32_t *created)
{
    struct core_sem_open_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.oflag = oflag;
    a.mode = mode;
    a.value = value;
    a.name_len = len;
    memcpy(a.name, name, len < sizeof a.name ? len : sizeof a.name);
    int32_t r = CALL(c, CORE_ECALL_SEM_OPEN, a);
    if (h)
        *h = a.handle;
    if (created)
        *created = a.created;
    return r;
}

static int32_t open_sem(struct core *c, core_id_t s, const char *name, uint32_t oflag,
                        uint32_t mode, uint32_t value, core_id_t *h)
{
    return sem_open_raw(c, s, name, (uint32_t)strlen(name), oflag, mode, value, h, NULL);
}

static core_id_t create_named(struct core *c, core_id_t s, const char *name, uint32_t mode,
                              uint32_t value)
{
    core_id_t h = 0;
    uint32_t created = 0;
    assert_status(sem_open_raw(c, s, name, (uint32_t)strlen(name), CORE_O_CREAT | CORE_O_EXCL,
                               mode, value, &h, &created),
                  CORE_OK);
    assert_int_equal(created, 1);
    assert_true(h != 0);
    return h;
}

static core_id_t reopen(struct core *c, core_id_t s, const char *name)
{
    core_id_t h = 0;
    assert_status(open_sem(c, s, name, 0, 0, 0, &h), CORE_OK);
    return h;
}

static int32_t create_anon_r(struct core *c, core_id_t s, uint32_t value, core_id_t *h)
{
    struct core_sem_create_args a = {.session = s, .value = value};
    int32_t r = CALL(c, CORE_ECALL_SEM_CREATE, a);
    if (h)
        *h = a.handle;
    return r;
}

static core_id_t create_anon(struct core *c, core_id_t s, uint32_t value)
{
    core_id_t h = 0;
    assert_status(create_anon_r(c, s, value, &h), CORE_OK);
    assert_true(h != 0);
    return h;
}

static int32_t handle_call(struct core *c, uint32_t call, core_id_t s, core_id_t h,
                           uint32_t *value)
{
    struct core_sem_handle_args a = {.session = s, .handle = h};
    int32_t r = CALL(c, call, a);
    if (value)
        *value = a.value;
    return r;
}

static int32_t close_sem(struct core *c, core_id_t s, core_id_t h)
{
    return handle_call(c, CORE_ECALL_SEM_CLOSE, s, h, NULL);
}

static int32_t destroy(struct core *c, core_id_t s, core_id_t h)
{
    return handle_call(c, CORE_ECALL_SEM_DESTROY, s, h, NULL);
}

static int32_t getvalue(struct core *c, core_id_t s, core_id_t h, uint32_t *v)
{
    return handle_call(c, CORE_ECALL_SEM_GETVALUE, s, h, v);
}

static uint32_t value_of(struct core *c, core_id_t s, core_id_t h)
{
    uint32_t v = 0;
    assert_status(getvalue(c, s, h, &v), CORE_OK);
    return v;
}

static int32_t unlink_raw(struct core *c, core_id_t s, const char *name, uint32_t len)
{
    struct core_sem_unlink_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.name_len = len;
    memcpy(a.name, name, len < sizeof a.name ? len : sizeof a.name);
    return CALL(c, CORE_ECALL_SEM_UNLINK, a);
}

static int32_t unlink_name(struct core *c, core_id_t s, const char *name)
{
    return unlink_raw(c, s, name, (uint32_t)strlen(name));
}

static int32_t post(struct core *c, core_id_t s, core_id_t h, struct core_wake *wake)
{
    struct core_sem_post_args a;
    memset(&a, 0x5a, sizeof a); /* the core must clear the wake record itself */
    a.session = s;
    a.handle = h;
    int32_t r = CALL(c, CORE_ECALL_SEM_POST, a);
    if (wake)
        *wake = a.wake;
    return r;
}

/* Post that must not wake anybody. */
static void post_no_wake(struct core *c, core_id_t s, core_id_t h)
{
    struct core_wake w;
    assert_status(post(c, s, h, &w), CORE_OK);
    assert_int_equal(w.valid, 0);
}

/* Post that must hand the permit to (session, slot). */
static void post_wakes(struct core *c, core_id_t s, core_id_t h, core_id_t want_sess,
                       uint32_t want_slot)
{
    struct core_wake w;
    assert_status(post(c, s, h, &w), CORE_OK);
    assert_int_equal(w.valid, 1);
    assert_true(w.session == want_sess);
    assert_int_equal(w.slot, want_slot);
}

static int32_t wait_raw(struct core *c, core_id_t s, core_id_t h, uint32_t slot,
                        uint32_t flags, int32_t prio)
{
    struct core_sem_wait_args a = {
        .session = s, .handle = h, .slot = slot, .flags = flags, .prio = prio};
    return CALL(c, CORE_ECALL_SEM_WAIT, a);
}

static int32_t wait_on(struct core *c, core_id_t s, core_id_t h, uint32_t slot, int32_t prio)
{
    return wait_raw(c, s, h, slot, 0, prio);
}

static int32_t trywait(struct core *c, core_id_t s, core_id_t h)
{
    return wait_raw(c, s, h, 0, CORE_WAIT_TRY, 0);
}

static int32_t cancel(struct core *c, core_id_t s, uint32_t slot)
{
    struct core_sem_cancel_args a = {.session = s, .slot = slot};
    return CALL(c, CORE_ECALL_SEM_CANCEL, a);
}

static struct core_stats stats(struct core *c)
{
    struct core_stats_args a;
    memset(&a, 0xff, sizeof a);
    assert_status(CALL(c, CORE_ECALL_STATS, a), CORE_OK);
    return a.stats;
}

static void assert_nothing_in_use(struct core *c)
{
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 0);
    assert_int_equal(st.sessions_in_use, 0);
    assert_int_equal(st.opens_in_use, 0);
    assert_int_equal(st.waiters_in_use, 0);
}

/* Find the SEM_INFO record of handle h; 0 if no live semaphore has it. */
static int sem_info_of(struct core *c, core_id_t h, struct core_sem_info *out)
{
    uint32_t cursor = 0;
    for (;;) {
        struct core_sem_info_args a = {.cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            return 0;
        if (a.info.handle == h) {
            if (out)
                *out = a.info;
            return 1;
        }
        assert_true(a.next > cursor);
        cursor = a.next;
    }
}

static struct core_sem_info info_of(struct core *c, core_id_t h)
{
    struct core_sem_info i;
    assert_true(sem_info_of(c, h, &i));
    return i;
}

/* Walk SEM_HOLDERS or SEM_WAITERS of h into out[max]; returns the count. */
static uint32_t members(struct core *c, uint32_t call, core_id_t h,
                        struct core_sem_member_args *out, uint32_t max)
{
    uint32_t n = 0, cursor = 0;
    for (;;) {
        struct core_sem_member_args a = {.handle = h, .cursor = cursor};
        assert_status(CALL(c, call, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(n < max);
        if (out)
            out[n] = a;
        n++;
        /* The core ends a list with next = 0xffffffff (see
         * member_walk_ends_with_found_zero for feeding that back). */
        if (a.next == UINT32_MAX)
            break;
        cursor = a.next;
    }
    return n;
}

static const struct core_sem_member_args *
find_member(const struct core_sem_member_args *m, uint32_t n, core_id_t session)
{
    for (uint32_t i = 0; i < n; i++)
        if (m[i].session == session)
            return &m[i];
    return NULL;
}

/* A name of len bytes: 'x' repeated, the last byte set to tail. */
static void long_name(char *buf, uint32_t len, char tail)
{
    memset(buf, 'x', len);
    buf[len - 1] = tail;
}


/* ---- access lists, strict policy and key sessions: helpers ---- */

static struct core_principal who_uid(uint32_t uid)
{
    struct core_principal p = {.kind = CORE_P_UID, .id = uid};
    return p;
}

static struct core_principal who_gid(uint32_t gid)
{
    struct core_principal p = {.kind = CORE_P_GID, .id = gid};
    return p;
}

/* One process: pid and the start time session_open_groups gives it. */
static struct core_principal who_proc(uint32_t pid)
{
    struct core_principal p = {.kind = CORE_P_PROC, .id = pid, .ext = 1000u + pid};
    return p;
}

static struct core_principal who_key(uint64_t key_id)
{
    struct core_principal p = {.kind = CORE_P_KEY, .ext = key_id};
    return p;
}

static int32_t acl_call(struct core *c, uint32_t call, core_id_t s, core_id_t h,
                        struct core_principal who, uint32_t rights)
{
    struct core_sem_grant_args a = {.session = s, .handle = h, .who = who, .rights = rights};
    return CALL(c, call, a);
}

static int32_t grant(struct core *c, core_id_t s, core_id_t h, struct core_principal who,
                     uint32_t rights)
{
    return acl_call(c, CORE_ECALL_SEM_GRANT, s, h, who, rights);
}

static int32_t revoke(struct core *c, core_id_t s, core_id_t h, struct core_principal who,
                      uint32_t rights)
{
    return acl_call(c, CORE_ECALL_SEM_REVOKE, s, h, who, rights);
}

/* Walk SEM_ACL of h into out[max]; returns the number of entries. */
static uint32_t acl_walk(struct core *c, core_id_t h, struct core_sem_acl_args *out, uint32_t max)
{
    uint32_t n = 0, cursor = 0;
    for (;;) {
        struct core_sem_acl_args a;
        memset(&a, 0xee, sizeof a);
        a.handle = h;
        a.cursor = cursor;
        assert_status(CALL(c, CORE_ECALL_SEM_ACL, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(n < max);
        if (out)
            out[n] = a;
        n++;
        if (a.next == UINT32_MAX)
            break;
        cursor = a.next;
    }
    return n;
}

static const struct core_sem_acl_args *acl_find(const struct core_sem_acl_args *e, uint32_t n,
                                                struct core_principal who)
{
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(&e[i].who, &who, sizeof who) == 0)
            return &e[i];
    return NULL;
}

static void make_key(uint8_t key[CORE_KEY_BYTES], uint8_t seed)
{
    for (uint32_t i = 0; i < CORE_KEY_BYTES; i++)
        key[i] = (uint8_t)(seed * 37u + i * 11u + 1u);
}

static int32_t key_add_r(struct core *c, const uint8_t key[CORE_KEY_BYTES], uint64_t *id)
{
    static const uint8_t zeros[CORE_KEY_BYTES];
    struct core_key_add_args a;
    memset(&a, 0, sizeof a);
    memcpy(a.key, key, CORE_KEY_BYTES);
    a.key_id = 0x5a5a5a5a5a5a5a5aull;
    int32_t r = CALL(c, CORE_ECALL_KEY_ADD, a);
    assert_memory_equal(a.key, zeros, CORE_KEY_BYTES); /* wiped, whatever the outcome */
    if (id)
        *id = a.key_id;
    return r;
}

static uint64_t key_add(struct core *c, const uint8_t key[CORE_KEY_BYTES])
{
    uint64_t id = 0;
    assert_status(key_add_r(c, key, &id), CORE_OK);
    assert_true(id == core_auth_key_id(key));
    assert_true(id != 0);
    return id;
}

/* The client's view of a key session. */
struct ksess {
    core_id_t id;
    uint64_t key_id;
    uint8_t ks[CORE_KEY_BYTES];
    uint32_t seq; /* last sequence number sent (one counter serves every slot) */
};

static void make_nonce(uint8_t nonce[CORE_NONCE_BYTES], uint32_t seed)
{
    for (uint32_t i = 0; i < CORE_NONCE_BYTES; i++)
        nonce[i] = (uint8_t)(seed * 13u + i * 5u + 3u);
}

static int32_t key_session_open_raw(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                    uint64_t key_id, const uint8_t nonce[CORE_NONCE_BYTES],
                                    struct core_session_open_args *out)
{
    struct core_session_open_args a;
    memset(&a, 0, sizeof a);
    a.pid = pid;
    a.uid = uid;
    a.gid = gid;
    a.start_time = 1000u + pid;
    a.key_id = key_id;
    if (nonce)
        memcpy(a.nonce, nonce, CORE_NONCE_BYTES);
    memset(a.proof, 0xee, sizeof a.proof);
    int32_t r = CALL(c, CORE_ECALL_SESSION_OPEN, a);
    if (out)
        *out = a;
    return r;
}

/* Open a key session as a client would: a fresh nonce, the core's proof
 * checked, the session key derived on the client's side. */
static struct ksess open_key_session(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                     const uint8_t key[CORE_KEY_BYTES])
{
    uint8_t nonce[CORE_NONCE_BYTES], proof[CORE_MAC_BYTES];
    make_nonce(nonce, pid);
    struct core_session_open_args a;
    assert_status(key_session_open_raw(c, pid, uid, gid, core_auth_key_id(key), nonce, &a),
                  CORE_OK);
    struct ksess k;
    memset(&k, 0, sizeof k);
    k.id = a.session;
    k.key_id = core_auth_key_id(key);
    core_auth_session_key(key, k.id, nonce, a.core_nonce, k.ks);
    core_auth_proof(k.ks, k.id, nonce, a.core_nonce, proof);
    assert_true(core_auth_equal(proof, a.proof));
    return k;
}

static struct core_req mkreq(uint32_t call, core_id_t h)
{
    struct core_req q;
    memset(&q, 0, sizeof q);
    q.call = call;
    q.handle = h;
    return q;
}

static void req_name(struct core_req *q, const char *name)
{
    q->name_len = (uint32_t)strlen(name);
    memcpy(q->name, name, q->name_len);
}

/* What a reply answers: the call and the handle the request named. */
struct asked {
    uint32_t call;
    core_id_t handle;
};
#define ASKED(call_, h_) ((struct asked){.call = (call_), .handle = (h_)})
#define WAITED(h_) ASKED(CORE_ECALL_SEM_WAIT, (h_))

static void rep_mac(const uint8_t ks[CORE_KEY_BYTES], core_id_t session, uint32_t slot,
                    uint64_t seq, struct asked q, int32_t status, uint32_t value,
                    core_id_t handle, uint8_t mac[CORE_MAC_BYTES])
{
    struct core_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.session = session;
    rep.slot = slot;
    rep.seq = seq;
    rep.call = q.call;
    rep.req_handle = q.handle;
    rep.status = status;
    rep.value = value;
    rep.handle = handle;
    core_auth_rep_mac(ks, &rep, mac);
}

static int rep_mac_ok(const uint8_t ks[CORE_KEY_BYTES], core_id_t session, uint32_t slot,
                      uint64_t seq, struct asked q, int32_t status, uint32_t value,
                      core_id_t handle, const uint8_t mac[CORE_MAC_BYTES])
{
    uint8_t want[CORE_MAC_BYTES];
    rep_mac(ks, session, slot, seq, q, status, value, handle, want);
    return core_auth_equal(want, mac);
}

static const uint8_t zero_mac[CORE_MAC_BYTES];

/* Send one request as the host would pass it on.  With ks (a key session)
 * sign it as the client would and check the reply's MAC as the client
 * would; without, check that no MAC came back. */
static int32_t send_req(struct core *c, core_id_t session, const uint8_t *ks,
                        const struct core_req *q, uint32_t umask, struct core_request_args *out)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = session;
    a.req = *q;
    a.umask = umask;
    /* out fields the core must set itself */
    memset(&a.wake, 0x5a, sizeof a.wake);
    memset(a.rmac, 0x5a, sizeof a.rmac);
    a.handle = UINT64_MAX;
    a.value = a.created = 0x5a5a5a5au;
    if (ks)
        core_auth_req_mac(ks, q, a.mac);
    int32_t r = CALL(c, CORE_ECALL_REQUEST, a);
    if (ks && r != CORE_QUEUED && r != CORE_E_AUTH && r != CORE_E_SESSION &&
        r != CORE_E_NAMETOOLONG)
        assert_true(rep_mac_ok(ks, session, q->slot, q->seq, ASKED(q->call, q->handle), r, a.value,
                               a.handle, a.rmac));
    else
        assert_memory_equal(a.rmac, zero_mac, CORE_MAC_BYTES);
    assert_true(a.wake.valid == 0 || a.wake.valid == 1);
    if (!a.wake.valid)
        assert_true(a.wake.session == 0 && a.wake.slot == 0 && a.wake.seq == 0);
    if (out)
        *out = a;
    return r;
}

/* A key session's request with the next sequence number. */
static int32_t kreq(struct core *c, struct ksess *k, struct core_req q,
                    struct core_request_args *out)
{
    q.seq = ++k->seq;
    return send_req(c, k->id, k->ks, &q, 0, out);
}

static int32_t kopen(struct core *c, struct ksess *k, const char *name, uint32_t oflag,
                     uint32_t mode, uint32_t value, core_id_t *h)
{
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, name);
    q.flags = oflag;
    q.mode = mode;
    q.value = value;
    struct core_request_args a;
    int32_t r = kreq(c, k, q, &a);
    if (h)
        *h = a.handle;
    return r;
}

static int32_t khandle(struct core *c, struct ksess *k, uint32_t call, core_id_t h,
                       uint32_t *value)
{
    struct core_request_args a;
    int32_t r = kreq(c, k, mkreq(call, h), &a);
    if (value)
        *value = a.value;
    return r;
}

static int32_t kpost(struct core *c, struct ksess *k, core_id_t h, struct core_wake *wake)
{
    struct core_request_args a;
    int32_t r = kreq(c, k, mkreq(CORE_ECALL_SEM_POST, h), &a);
    if (wake)
        *wake = a.wake;
    return r;
}

/* Wait on slot; *seq gets the request's sequence number. */
static int32_t kwait(struct core *c, struct ksess *k, core_id_t h, uint32_t slot, uint32_t flags,
                     uint32_t *seq)
{
    struct core_req q = mkreq(CORE_ECALL_SEM_WAIT, h);
    q.slot = slot;
    q.flags = flags;
    struct core_request_args a;
    int32_t r = kreq(c, k, q, &a);
    if (seq)
        *seq = a.req.seq;
    return r;
}

static int32_t kacl(struct core *c, struct ksess *k, uint32_t call, core_id_t h,
                    struct core_principal who, uint32_t rights)
{
    struct core_req q = mkreq(call, h);
    q.who = who;
    q.rights = rights;
    return kreq(c, k, q, NULL);
}

/* A PID session's request: no MAC. */
static int32_t preq(struct core *c, core_id_t s, struct core_req q, uint32_t umask,
                    struct core_request_args *out)
{
    return send_req(c, s, NULL, &q, umask, out);
}

static struct core_config acl_cfg(uint32_t max_acls, uint32_t max_keys, uint32_t max_keyed,
                                  uint32_t flags)
{
    struct core_config cfg = default_cfg;
    cfg.max_acls = max_acls;
    cfg.max_keys = max_keys;
    cfg.max_keyed = max_keyed;
    cfg.flags = flags;
    return cfg;
}

/* ---- every call and the size of its arguments ---- */

static const uint64_t call_size[CORE_ECALL_MAX_] = {
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

union any_args {
    struct core_notes_args notes;
    struct core_key_remove_args key_remove;
    struct core_session_open_args session_open;
    struct core_session_inherit_args session_inherit;
    struct core_session_close_args session_close;
    struct core_sem_open_args sem_open;
    struct core_sem_create_args sem_create;
    struct core_sem_handle_args sem_handle;
    struct core_sem_unlink_args sem_unlink;
    struct core_sem_post_args sem_post;
    struct core_sem_wait_args sem_wait;
    struct core_sem_cancel_args sem_cancel;
    struct core_sem_info_args sem_info;
    struct core_sem_member_args sem_member;
    struct core_stats_args stats;
    struct core_session_info_args session_info;
    struct core_session_setcred_args session_setcred;
    struct core_key_add_args key_add;
    struct core_request_args request;
    struct core_sem_grant_args sem_grant;
    struct core_sem_acl_args sem_acl;
    unsigned char bytes[512];
};

/* ---- a changed uid/gid (setuid) ---- */

static int32_t setcred(struct core *c, core_id_t s, uint32_t uid, uint32_t gid, uint32_t ngroups)
{
    struct core_session_setcred_args a = {.session = s, .uid = uid, .gid = gid,
                                          .ngroups = ngroups};
    return CALL(c, CORE_ECALL_SESSION_SETCRED, a);
}

#pragma GCC diagnostic pop

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

#endif
