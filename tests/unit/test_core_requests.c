/*
 * Unit tests of the trusted core: requests as the daemon sends them (CORE_ECALL_REQUEST): checks, MACs of key sessions, sequence numbers.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- requests ---- */

static void key_session_requests_round_trip(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 10);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h = 0;
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, "rt");
    q.flags = CORE_O_CREAT | CORE_O_EXCL;
    q.mode = 0600;
    q.value = 2;
    struct core_request_args a;
    assert_status(kreq(c, &k, q, &a), CORE_OK); /* kreq checks every reply MAC */
    h = a.handle;
    assert_int_equal(a.created, 1);
    assert_true(h != 0);
    assert_status(kreq(c, &k, q, &a), CORE_E_EXIST);
    assert_true(a.handle == 0);
    uint32_t v = 0;
    assert_status(khandle(c, &k, CORE_ECALL_SEM_GETVALUE, h, &v), CORE_OK);
    assert_int_equal(v, 2);
    assert_status(kwait(c, &k, h, 0, CORE_WAIT_TRY, NULL), CORE_OK);
    assert_status(kpost(c, &k, h, NULL), CORE_OK);
    assert_status(kpost(c, &k, h, NULL), CORE_OK);
    assert_status(khandle(c, &k, CORE_ECALL_SEM_GETVALUE, h, &v), CORE_OK);
    assert_int_equal(v, 3);
    core_id_t an = 0;
    struct core_req cq = mkreq(CORE_ECALL_SEM_CREATE, 0);
    cq.value = 5;
    assert_status(kreq(c, &k, cq, &a), CORE_OK);
    an = a.handle;
    assert_int_equal(info_of(c, an).value, 5);
    assert_status(khandle(c, &k, CORE_ECALL_SEM_DESTROY, an, NULL), CORE_OK);
    assert_status(khandle(c, &k, CORE_ECALL_SEM_CLOSE, h, NULL), CORE_OK);
    struct core_req uq = mkreq(CORE_ECALL_SEM_UNLINK, 0);
    req_name(&uq, "rt");
    assert_status(kreq(c, &k, uq, NULL), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void request_with_forged_mac_is_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES], other[CORE_KEY_BYTES];
    make_key(key, 11);
    make_key(other, 12);
    key_add(c, key);
    key_add(c, other);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    struct ksess k2 = open_key_session(c, 2, UID_A, GID_A, key);  /* same key */
    struct ksess ko = open_key_session(c, 3, UID_A, GID_A, other); /* other key */
    struct core_req q = mkreq(CORE_ECALL_SEM_CREATE, 0);
    q.seq = 1;
    struct core_request_args a;
    /* no MAC */
    assert_status(send_req(c, k.id, NULL, &q, 0, &a), CORE_E_AUTH);
    /* another session's key, even with the same long-term key */
    assert_status(send_req(c, k.id, k2.ks, &q, 0, &a), CORE_E_AUTH);
    assert_status(send_req(c, k.id, ko.ks, &q, 0, &a), CORE_E_AUTH);
    /* the long-term key itself is not the session key */
    assert_status(send_req(c, k.id, key, &q, 0, &a), CORE_E_AUTH);
    assert_int_equal(stats(c).sems_in_use, 0);
    assert_int_equal(stats(c).refused[-CORE_E_AUTH], 4);
    /* none of that used up sequence number 1 */
    assert_status(send_req(c, k.id, k.ks, &q, 0, &a), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 1);
}

/* Any byte of the header or of the name, changed after signing: refused,
 * and the genuine request still goes through afterwards. */
static void request_altered_in_transit_is_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 13);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, "altered");
    q.flags = CORE_O_CREAT;
    q.mode = 0600;
    q.value = 1;
    q.slot = 3;
    q.seq = 7;
    uint8_t mac[CORE_MAC_BYTES];
    core_auth_req_mac(k.ks, &q, mac);
    uint64_t refused = stats(c).refused[-CORE_E_AUTH];
    for (uint32_t i = 0; i < CORE_REQ_HDR + q.name_len; i++) {
        if (i == offsetof(struct core_req, name_len))
            i += 4; /* name_len is covered below (it changes what is hashed) */
        struct core_request_args a;
        memset(&a, 0, sizeof a);
        a.session = k.id;
        a.req = q;
        ((unsigned char *)&a.req)[i] ^= 0x01;
        memcpy(a.mac, mac, sizeof mac);
        int32_t r = CALL(c, CORE_ECALL_REQUEST, a);
        if (r != CORE_E_AUTH)
            fail_msg("byte %u flipped: got %d, want CORE_E_AUTH", i, (int)r);
        assert_memory_equal(a.rmac, zero_mac, CORE_MAC_BYTES);
    }
    /* name_len shortened or lengthened */
    const uint32_t lens[] = {q.name_len - 1, q.name_len + 1, 1};
    for (size_t j = 0; j < 3; j++) {
        struct core_request_args a;
        memset(&a, 0, sizeof a);
        a.session = k.id;
        a.req = q;
        a.req.name_len = lens[j];
        memcpy(a.mac, mac, sizeof mac);
        assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_E_AUTH);
    }
    /* a flipped MAC byte */
    for (uint32_t i = 0; i < CORE_MAC_BYTES; i++) {
        struct core_request_args a;
        memset(&a, 0, sizeof a);
        a.session = k.id;
        a.req = q;
        memcpy(a.mac, mac, sizeof mac);
        a.mac[i] ^= 0x80;
        assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_E_AUTH);
    }
    assert_int_equal(stats(c).refused[-CORE_E_AUTH] - refused, CORE_REQ_HDR - 4 + 7 + 3 + 16);
    assert_int_equal(stats(c).sems_in_use, 0);
    /* bytes past name_len and the host's own fields are not covered */
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = k.id;
    a.req = q;
    a.req.name[q.name_len] = 'Z';
    a.req.name[CORE_NAME_MAX] = 'Z';
    memcpy(a.mac, mac, sizeof mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_OK);
    assert_true(rep_mac_ok(k.ks, k.id, 3, 7, ASKED(q.call, q.handle), CORE_OK, 0, a.handle,
                           a.rmac));
    assert_int_equal(info_of(c, a.handle).name_len, 7);
    assert_memory_equal(info_of(c, a.handle).name, "altered", 7);
}

static void request_replay_and_reorder_are_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 14);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &k, "rp", CORE_O_CREAT, 0600, 0, &h), CORE_OK);
    struct core_req q = mkreq(CORE_ECALL_SEM_POST, h);
    q.slot = 2;
    q.seq = 10;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    /* the very same request again: a replay */
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    /* older numbers on that slot: reordered or replayed */
    /* 64-bit numbers compared as numbers: no wrap-around makes an old
     * number look new (finding 4 of the security review) */
    const uint64_t older[] = {9, 1, 0};
    for (size_t i = 0; i < sizeof older / sizeof older[0]; i++) {
        q.seq = older[i];
        assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    }
    assert_int_equal(info_of(c, h).value, 1);
    /* gaps are fine: newer is all that is asked */
    q.seq = 1000;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    q.seq = 999;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    /* the window is half the number space, and wraps */
    q.seq = 1000 + 0x7fffffffu;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    q.seq += 0x7fffffffu; /* wrapped past zero, still newer */
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    assert_int_equal(info_of(c, h).value, 4);
    /* a request whose operation fails still uses up its number */
    struct core_req bad = mkreq(CORE_ECALL_SEM_POST, h + (1ull << 32));
    bad.slot = 5;
    bad.seq = 3;
    assert_status(send_req(c, k.id, k.ks, &bad, 0, NULL), CORE_E_HANDLE);
    bad.handle = h;
    assert_status(send_req(c, k.id, k.ks, &bad, 0, NULL), CORE_E_AUTH);
    assert_int_equal(info_of(c, h).value, 4);
}

static void request_slots_have_independent_sequences(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 15);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    struct ksess k2 = open_key_session(c, 2, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &k, "sl", CORE_O_CREAT, 0666, 0, &h), CORE_OK); /* slot 0, seq 1 */
    struct core_req q = mkreq(CORE_ECALL_SEM_POST, h);
    q.slot = 1;
    q.seq = 50;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    q.slot = 2;
    q.seq = 5; /* lower than slot 1's, fine on its own slot */
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    q.slot = CORE_MAX_SLOTS - 1;
    q.seq = 1;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_OK);
    q.slot = 1;
    q.seq = 49;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    q.slot = 0;
    q.seq = 1; /* slot 0 already used 1 */
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    /* another session's slots are its own, even with the same key */
    core_id_t h2;
    assert_status(kopen(c, &k2, "sl", 0, 0, 0, &h2), CORE_OK);
    q.handle = h2;
    q.slot = 1;
    q.seq = 2;
    assert_status(send_req(c, k2.id, k2.ks, &q, 0, NULL), CORE_OK);
    assert_int_equal(info_of(c, h).value, 4);
}

static void request_slot_out_of_range_is_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 16);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    const uint32_t slots[] = {CORE_MAX_SLOTS, CORE_MAX_SLOTS + 1, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        struct core_req q = mkreq(CORE_ECALL_SEM_CREATE, 0);
        q.slot = slots[i];
        q.seq = 1;
        assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_AUTH);
    }
    assert_int_equal(stats(c).sems_in_use, 0);
    /* a PID session's slot is not limited by the key-session table */
    core_id_t p = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_anon(c, p, 0);
    struct core_req w = mkreq(CORE_ECALL_SEM_WAIT, h);
    w.slot = UINT32_MAX;
    assert_status(preq(c, p, w, 0, NULL), CORE_QUEUED);
}

/* Every status but CORE_QUEUED comes back with a MAC that binds it. */
static void request_reply_mac_binds_status_value_handle(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 17);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_B, GID_B, key);
    core_id_t a = open_session(c, 2, UID_A, GID_A);
    create_named(c, a, "priv", 0600, 0);
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, "priv");
    struct core_request_args r;
    assert_status(kreq(c, &k, q, &r), CORE_E_ACCES);
    req_name(&q, "none");
    assert_status(kreq(c, &k, q, &r), CORE_E_NOENT);
    q.flags = 0x80;
    assert_status(kreq(c, &k, q, &r), CORE_E_INVAL);
    struct core_req bc = mkreq(CORE_ECALL_SEM_CANCEL, 0); /* not a request call */
    assert_status(kreq(c, &k, bc, &r), CORE_E_BADCALL);
    bc.call = CORE_ECALL_STATS;
    assert_status(kreq(c, &k, bc, &r), CORE_E_BADCALL);
    bc.call = 0;
    assert_status(kreq(c, &k, bc, &r), CORE_E_BADCALL);
    assert_status(khandle(c, &k, CORE_ECALL_SEM_POST, 12345, NULL), CORE_E_HANDLE);
    /* a successful GETVALUE: the MAC binds value and handle */
    core_id_t h = 0;
    assert_status(kopen(c, &k, "mine", CORE_O_CREAT, 0600, 6, &h), CORE_OK);
    struct core_req g = mkreq(CORE_ECALL_SEM_GETVALUE, h);
    g.slot = 9;
    assert_status(kreq(c, &k, g, &r), CORE_OK);
    assert_int_equal(r.value, 6);
    assert_true(rep_mac_ok(k.ks, k.id, 9, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 6, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 9, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 7, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 9, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_E_AGAIN, 6, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 8, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 6, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 9, r.req.seq + 1, ASKED(r.req.call, r.req.handle), CORE_OK, 6, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id + 1, 9, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 6, 0, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 9, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 6, h, r.rmac));
    /* an OPEN's MAC binds the handle */
    req_name(&q, "mine");
    q.flags = 0;
    assert_status(kreq(c, &k, q, &r), CORE_OK);
    assert_true(r.handle == h);
    assert_false(rep_mac_ok(k.ks, k.id, 0, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 0, h + 1, r.rmac));
    assert_false(rep_mac_ok(k.ks, k.id, 0, r.req.seq, ASKED(r.req.call, r.req.handle), CORE_OK, 0, 0, r.rmac));
}

static void queued_key_wait_grant_carries_seq_and_mac(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 18);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t p = open_session(c, 2, UID_A, GID_A);
    core_id_t h;
    assert_status(kopen(c, &k, "qw", CORE_O_CREAT, 0600, 0, &h), CORE_OK);
    core_id_t hp = reopen(c, p, "qw");
    k.seq = 41;
    uint32_t seq = 0;
    struct core_req q = mkreq(CORE_ECALL_SEM_WAIT, h);
    q.slot = 7;
    q.prio = 3;
    struct core_request_args a;
    assert_status(kreq(c, &k, q, &a), CORE_QUEUED); /* send_req checks: no MAC */
    seq = a.req.seq;
    assert_int_equal(seq, 42);
    struct core_wake w;
    assert_status(post(c, p, hp, &w), CORE_OK);
    assert_int_equal(w.valid, 1);
    assert_true(w.session == k.id);
    assert_int_equal(w.slot, 7);
    assert_int_equal(w.seq, 42);
    assert_true(rep_mac_ok(k.ks, k.id, 7, 42, WAITED(h), CORE_OK, 0, 0, w.mac));
    assert_false(rep_mac_ok(k.ks, k.id, 7, 41, WAITED(h), CORE_OK, 0, 0, w.mac));
    assert_false(rep_mac_ok(k.ks, k.id, 7, 42, WAITED(h), CORE_CANCELLED, 0, 0, w.mac));
    /* a key session's own post wakes a key waiter too, both MACed */
    assert_status(kwait(c, &k, h, 8, 0, &seq), CORE_QUEUED);
    struct core_wake w2;
    assert_status(kpost(c, &k, h, &w2), CORE_OK);
    assert_int_equal(w2.valid, 1);
    assert_int_equal(w2.slot, 8);
    assert_int_equal(w2.seq, seq);
    assert_true(rep_mac_ok(k.ks, k.id, 8, seq, WAITED(h), CORE_OK, 0, 0, w2.mac));
    /* a PID waiter's wake carries its seq but no MAC */
    struct core_sem_wait_args pw = {.session = p, .handle = hp, .slot = 4, .seq = 77};
    assert_status(CALL(c, CORE_ECALL_SEM_WAIT, pw), CORE_QUEUED);
    assert_status(kpost(c, &k, h, &w2), CORE_OK);
    assert_int_equal(w2.valid, 1);
    assert_true(w2.session == p);
    assert_int_equal(w2.seq, 77);
    assert_memory_equal(w2.mac, zero_mac, CORE_MAC_BYTES);
}

static void cancel_of_key_wait_returns_seq_and_cancelled_mac(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 19);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &k, "cw", CORE_O_CREAT, 0600, 0, &h), CORE_OK);
    uint32_t seq = 0;
    assert_status(kwait(c, &k, h, 5, 0, &seq), CORE_QUEUED);
    struct core_sem_cancel_args ca;
    memset(&ca, 0x77, sizeof ca);
    ca.session = k.id;
    ca.slot = 5;
    assert_status(CALL(c, CORE_ECALL_SEM_CANCEL, ca), CORE_OK);
    assert_int_equal(ca.seq, seq);
    assert_true(rep_mac_ok(k.ks, k.id, 5, seq, WAITED(h), CORE_CANCELLED, 0, 0, ca.mac));
    assert_false(rep_mac_ok(k.ks, k.id, 5, seq, WAITED(h), CORE_OK, 0, 0, ca.mac));
    assert_int_equal(info_of(c, h).nwaiters, 0);
    /* nothing left to cancel: no seq, no MAC */
    memset(&ca, 0x77, sizeof ca);
    ca.session = k.id;
    ca.slot = 5;
    assert_status(CALL(c, CORE_ECALL_SEM_CANCEL, ca), CORE_E_NOWAITER);
    assert_int_equal(ca.seq, 0);
    assert_memory_equal(ca.mac, zero_mac, CORE_MAC_BYTES);
    /* a PID session's cancel gives the seq and no MAC */
    core_id_t p = open_session(c, 2, UID_A, GID_A);
    core_id_t hp = create_anon(c, p, 0);
    struct core_sem_wait_args pw = {.session = p, .handle = hp, .slot = 1, .seq = 31};
    assert_status(CALL(c, CORE_ECALL_SEM_WAIT, pw), CORE_QUEUED);
    memset(&ca, 0x77, sizeof ca);
    ca.session = p;
    ca.slot = 1;
    assert_status(CALL(c, CORE_ECALL_SEM_CANCEL, ca), CORE_OK);
    assert_int_equal(ca.seq, 31);
    assert_memory_equal(ca.mac, zero_mac, CORE_MAC_BYTES);
}

/* The host cannot act in a key session's name by calling the core directly. */
static void direct_calls_naming_a_key_session_are_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 20);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h = 0, an = 0;
    assert_status(kopen(c, &k, "dc", CORE_O_CREAT, 0666, 1, &h), CORE_OK);
    struct core_request_args ra;
    assert_status(kreq(c, &k, mkreq(CORE_ECALL_SEM_CREATE, 0), &ra), CORE_OK);
    an = ra.handle;
    uint64_t before = stats(c).refused[-CORE_E_AUTH];
    core_id_t x;
    assert_status(open_sem(c, k.id, "dc", 0, 0, 0, &x), CORE_E_AUTH);
    assert_status(open_sem(c, k.id, "new", CORE_O_CREAT, 0666, 0, &x), CORE_E_AUTH);
    assert_status(create_anon_r(c, k.id, 0, &x), CORE_E_AUTH);
    assert_status(close_sem(c, k.id, h), CORE_E_AUTH);
    assert_status(destroy(c, k.id, an), CORE_E_AUTH);
    assert_status(unlink_name(c, k.id, "dc"), CORE_E_AUTH);
    assert_status(post(c, k.id, h, NULL), CORE_E_AUTH);
    assert_status(wait_on(c, k.id, h, 1, 0), CORE_E_AUTH);
    assert_status(trywait(c, k.id, h), CORE_E_AUTH);
    struct core_sem_handle_args gv = {.session = k.id, .handle = h, .value = 99};
    assert_status(CALL(c, CORE_ECALL_SEM_GETVALUE, gv), CORE_E_AUTH);
    assert_int_equal(gv.value, 99); /* nothing leaked */
    assert_status(grant(c, k.id, h, who_uid(UID_B), CORE_R_OPEN), CORE_E_AUTH);
    assert_status(revoke(c, k.id, h, who_uid(UID_B), CORE_R_OPEN), CORE_E_AUTH);
    assert_int_equal(stats(c).refused[-CORE_E_AUTH] - before, 12);
    /* nothing happened */
    struct core_sem_info i = info_of(c, h);
    assert_int_equal(i.value, 1);
    assert_int_equal(i.open_count, 1);
    assert_int_equal(i.nacl, 0);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED);
    assert_true(sem_info_of(c, an, NULL));
    assert_int_equal(stats(c).sems_in_use, 2);
    /* admin and session-management calls still work */
    struct core_session_info_args si;
    assert_status(session_info(c, k.id, &si), CORE_OK);
    assert_int_equal(si.nopens, 2);
    /* and the client's own requests are fine */
    uint32_t got = 0;
    assert_status(khandle(c, &k, CORE_ECALL_SEM_GETVALUE, h, &got), CORE_OK);
    assert_int_equal(got, 1);
}

static void pid_session_requests_need_no_mac(void **state)
{
    struct core *c = core_of(state);
    core_id_t p = open_session(c, 1, UID_A, GID_A);
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, "pr");
    q.flags = CORE_O_CREAT;
    q.mode = 0600;
    q.value = 1;
    q.seq = 5;
    struct core_request_args a;
    assert_status(preq(c, p, q, 0, &a), CORE_OK); /* preq checks: rmac all zero */
    core_id_t h = a.handle;
    assert_int_equal(a.created, 1);
    /* sequence numbers are not checked for PID sessions */
    assert_status(preq(c, p, q, 0, &a), CORE_OK);
    assert_int_equal(a.created, 0);
    assert_true(a.handle == h);
    struct core_req w = mkreq(CORE_ECALL_SEM_WAIT, h);
    assert_status(preq(c, p, w, 0, &a), CORE_OK);
    w.slot = 3;
    w.seq = 5;
    assert_status(preq(c, p, w, 0, &a), CORE_QUEUED);
    struct core_req ps = mkreq(CORE_ECALL_SEM_POST, h);
    assert_status(preq(c, p, ps, 0, &a), CORE_OK);
    assert_int_equal(a.wake.valid, 1);
    assert_true(a.wake.session == p);
    assert_int_equal(a.wake.slot, 3);
    assert_int_equal(a.wake.seq, 5);
    assert_status(preq(c, p, ps, 0, &a), CORE_OK);
    struct core_req g = mkreq(CORE_ECALL_SEM_GETVALUE, h);
    assert_status(preq(c, p, g, 0, &a), CORE_OK);
    assert_int_equal(a.value, 1);
    struct core_req gr = mkreq(CORE_ECALL_SEM_GRANT, h);
    gr.who = who_uid(UID_B);
    gr.rights = CORE_R_OPEN;
    assert_status(preq(c, p, gr, 0, &a), CORE_OK);
    gr.call = CORE_ECALL_SEM_REVOKE;
    gr.rights = CORE_R_POST;
    assert_status(preq(c, p, gr, 0, &a), CORE_OK);
    assert_int_equal(info_of(c, h).nacl, 1);
    /* bad sessions and names are checked before anything else */
    assert_status(preq(c, 0, g, 0, &a), CORE_E_SESSION);
    struct core_req ln = mkreq(CORE_ECALL_SEM_OPEN, 0);
    ln.name_len = CORE_NAME_MAX + 1;
    assert_status(preq(c, p, ln, 0, &a), CORE_E_NAMETOOLONG);
    ln.name_len = UINT32_MAX;
    assert_status(preq(c, p, ln, 0, &a), CORE_E_NAMETOOLONG);
    struct core_req bc = mkreq(CORE_ECALL_SESSION_CLOSE, 0);
    assert_status(preq(c, p, bc, 0, &a), CORE_E_BADCALL);
}

static void request_umask_applies_to_created_mode(void **state)
{
    struct core *c = core_of(state);
    core_id_t p = open_session(c, 1, UID_A, GID_A);
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, "um");
    q.flags = CORE_O_CREAT;
    q.mode = 0666;
    struct core_request_args a;
    assert_status(preq(c, p, q, 022, &a), CORE_OK);
    assert_int_equal(info_of(c, a.handle).mode, 0644);
    core_id_t h = a.handle;
    /* an existing semaphore's mode is not touched */
    assert_status(preq(c, p, q, 0777, &a), CORE_OK);
    assert_int_equal(info_of(c, h).mode, 0644);
    /* the umask clears bits, it never sets any, and junk above 07777 in it is ignored */
    req_name(&q, "um2");
    q.mode = 0600;
    assert_status(preq(c, p, q, 0xffff0000u | 0077, &a), CORE_OK);
    assert_int_equal(info_of(c, a.handle).mode, 0600);
    /* for a key session too */
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 21);
    key_add(c, key);
    struct ksess k = open_key_session(c, 2, UID_A, GID_A, key);
    req_name(&q, "um3");
    q.mode = 0666;
    q.seq = 1;
    assert_status(send_req(c, k.id, k.ks, &q, 027, &a), CORE_OK);
    assert_int_equal(info_of(c, a.handle).mode, 0640);
    core_id_t other = open_session(c, 3, UID_B, GID_A);
    core_id_t x;
    assert_status(open_sem(c, other, "um3", 0, 0, 0, &x), CORE_E_ACCES); /* group: r only */
}

static void inherit_from_key_session_needs_the_same_key(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES], other[CORE_KEY_BYTES];
    make_key(key, 22);
    make_key(other, 23);
    key_add(c, key);
    key_add(c, other);
    struct ksess parent = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &parent, "ih", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    core_id_t pid_child = open_session(c, 2, UID_A, GID_A);
    assert_status(inherit(c, pid_child, parent.id, NULL), CORE_E_PERM);
    struct ksess wrong = open_key_session(c, 3, UID_A, GID_A, other);
    assert_status(inherit(c, wrong.id, parent.id, NULL), CORE_E_PERM);
    struct core_session_info_args si;
    assert_status(session_info(c, pid_child, &si), CORE_OK);
    assert_int_equal(si.nopens, 0);
    assert_status(session_info(c, wrong.id, &si), CORE_OK);
    assert_int_equal(si.nopens, 0);
    struct ksess child = open_key_session(c, 4, UID_A, GID_A, key);
    uint32_t n = 0;
    assert_status(inherit(c, child.id, parent.id, &n), CORE_OK);
    assert_int_equal(n, 1);
    assert_status(kpost(c, &child, h, NULL), CORE_OK);
    /* the child proved the owner key: it may grant */
    assert_status(kacl(c, &child, CORE_ECALL_SEM_GRANT, h, who_uid(UID_B), CORE_R_OPEN),
                  CORE_OK);
    assert_int_equal(info_of(c, h).open_count, 2);
}

static void key_principal_admits_every_session_of_that_key(void **state)
{
    struct core *c = core_of(state);
    uint8_t ka[CORE_KEY_BYTES], kb[CORE_KEY_BYTES];
    make_key(ka, 24);
    make_key(kb, 25);
    key_add(c, ka);
    uint64_t idb = key_add(c, kb);
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    core_id_t h = 0;
    assert_status(open_sem(c, owner, "kp", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    assert_status(grant(c, owner, h, who_key(idb), CORE_R_OPEN | CORE_R_POST), CORE_OK);
    struct ksess b1 = open_key_session(c, 2, UID_B, GID_B, kb);
    struct ksess b2 = open_key_session(c, 3, UID_C, GID_C, kb);
    struct ksess a1 = open_key_session(c, 4, UID_A, GID_A, ka);
    core_id_t x;
    assert_status(kopen(c, &b1, "kp", 0, 0, 0, &x), CORE_OK);
    assert_status(kpost(c, &b1, x, NULL), CORE_OK);
    assert_status(kwait(c, &b1, x, 1, CORE_WAIT_TRY, NULL), CORE_E_ACCES);
    assert_status(kopen(c, &b2, "kp", 0, 0, 0, &x), CORE_OK);
    assert_status(kopen(c, &a1, "kp", 0, 0, 0, &x), CORE_E_ACCES); /* another key */
    /* a PID session of the same uid as a key session gets nothing from the key */
    core_id_t pb = open_session(c, 5, UID_B, GID_B);
    assert_status(open_sem(c, pb, "kp", 0, 0, 0, &x), CORE_E_ACCES);
    /* a key grant to a non-owner is not ownership */
    assert_status(kacl(c, &b1, CORE_ECALL_SEM_GRANT, h, who_key(idb), CORE_R_WAIT),
                  CORE_E_PERM);
    assert_int_equal(value_of(c, owner, h), 1);
}

static void strict_key_owner_is_the_key_not_the_process(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 26);
    uint64_t kid = key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &k, "ko", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    assert_true(info_of(c, h).owner_key == kid);
    /* the same process without the key is not the owner */
    core_id_t same_proc = open_session(c, 1, UID_A, GID_A);
    core_id_t x;
    assert_status(open_sem(c, same_proc, "ko", 0, 0, 0, &x), CORE_E_ACCES);
    /* another process with the key is */
    struct ksess k2 = open_key_session(c, 2, UID_B, GID_B, key);
    core_id_t h2;
    assert_status(kopen(c, &k2, "ko", 0, 0, 0, &h2), CORE_OK);
    assert_status(kacl(c, &k2, CORE_ECALL_SEM_GRANT, h2, who_proc(1), CORE_R_OPEN), CORE_OK);
    assert_status(open_sem(c, same_proc, "ko", 0, 0, 0, &x), CORE_OK);
    assert_status(grant(c, same_proc, x, who_proc(1), CORE_R_POST), CORE_E_PERM);
    /* and may revoke what it granted */
    assert_status(kacl(c, &k2, CORE_ECALL_SEM_REVOKE, h2, who_proc(1), CORE_R_OPEN), CORE_OK);
    assert_status(open_sem(c, same_proc, "ko", 0, 0, 0, &x), CORE_E_ACCES);
    /* the owner key survives its first session */
    assert_status(close_session(c, k.id), CORE_OK);
    struct core_request_args a;
    struct core_req uq = mkreq(CORE_ECALL_SEM_UNLINK, 0);
    req_name(&uq, "ko");
    assert_status(kreq(c, &k2, uq, &a), CORE_OK);
}

/* A key session's wait queued through a request, the session then closed:
 * the waiter goes, and a post has no stale wake to hand out. */
static void key_session_close_drops_its_waits(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 27);
    key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    core_id_t p = open_session(c, 2, UID_A, GID_A);
    core_id_t h;
    assert_status(kopen(c, &k, "kc", CORE_O_CREAT, 0600, 0, &h), CORE_OK);
    core_id_t hp = reopen(c, p, "kc");
    assert_status(kwait(c, &k, h, 1, 0, NULL), CORE_QUEUED);
    assert_status(kwait(c, &k, h, 2, 0, NULL), CORE_QUEUED);
    struct core_session_close_args ca = {.session = k.id};
    assert_status(CALL(c, CORE_ECALL_SESSION_CLOSE, ca), CORE_OK);
    assert_int_equal(ca.waiters_removed, 2);
    post_no_wake(c, p, hp);
    struct core_stats st = stats(c);
    assert_int_equal(st.keyed_in_use, 0);
    assert_int_equal(st.waiters_in_use, 0);
    /* its id is dead for requests too */
    struct core_req q = mkreq(CORE_ECALL_SEM_POST, h);
    q.seq = 100;
    assert_status(send_req(c, k.id, k.ks, &q, 0, NULL), CORE_E_SESSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(key_session_requests_round_trip),
        T(request_with_forged_mac_is_auth),
        T(request_altered_in_transit_is_auth),
        T(request_replay_and_reorder_are_auth),
        T(request_slots_have_independent_sequences),
        T(request_slot_out_of_range_is_auth),
        T(request_reply_mac_binds_status_value_handle),
        T(queued_key_wait_grant_carries_seq_and_mac),
        T(cancel_of_key_wait_returns_seq_and_cancelled_mac),
        T(direct_calls_naming_a_key_session_are_auth),
        T(pid_session_requests_need_no_mac),
        T(request_umask_applies_to_created_mode),
        T(inherit_from_key_session_needs_the_same_key),
        T(key_principal_admits_every_session_of_that_key),
        T(strict_key_owner_is_the_key_not_the_process),
        T(key_session_close_drops_its_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
