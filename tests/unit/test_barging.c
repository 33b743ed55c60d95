/*
 * Barging order (the default) and FIFO order, driven through the core's
 * boundary step by step: a post raises the value and wakes a waiter (a
 * hint: CORE_RETRY); whoever asks first takes the permit; a woken waiter
 * that lost sleeps again in its old place; no interleaving leaves a free
 * permit beside a sleeping waiter (no lost wake-up).
 */
#include "core_fixture.h"

enum { UID = 1000 };

#define world(state, oflag) fx_world(fx_core(state), (oflag), UID)
#define assert_wake fx_assert_wake

static void post_raises_value_and_wakes_the_first_waiter(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 1);   /* the permit is free, not handed over */
    assert_int_equal(i.nwaiters, 2); /* a is still queued until it asks again */
    assert_int_equal(i.nwoken, 1);
    assert_int_equal(i.flags & CORE_SEMF_FIFO, 0);
    /* a asks again and takes it */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_OK);
    i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 0);
    assert_int_equal(i.nwaiters, 1);
    assert_int_equal(i.nwoken, 0);
    assert_int_equal(i.retries, 1);
}

static void running_thread_barges_and_the_woken_waiter_keeps_its_place(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    /* x is running: it takes the free permit before a is scheduled */
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 1, CORE_WAIT_TRY, 0), CORE_OK);
    /* a lost: it sleeps again, still ahead of b */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_QUEUED);
    assert_int_equal(fx_info(w.c, w.hp).nwoken, 0);
    assert_status(fx_post(w.c, w.x, w.hx, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 11, CORE_RETRY); /* its new request number */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 12, 0, 0), CORE_OK);
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.b, 1, 20, CORE_RETRY);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 21, 0, 0), CORE_OK);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 0);
    assert_int_equal(i.nwaiters, 0);
    assert_int_equal(i.posts, 3);
    assert_int_equal(i.waits, 3);
}

static void post_while_a_woken_waiter_is_on_its_way_wakes_the_next(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.b, 1, 20, CORE_RETRY); /* two permits, two woken */
    /* a third post with everyone woken wakes nobody */
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_int_equal(wk.valid, 0);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 21, 0, 0), CORE_OK);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_OK);
    assert_int_equal(fx_info(w.c, w.hp).value, 1);
}

static void woken_waiter_that_barged_less_is_only_woken_once(void **state)
{
    /* value 1 and a already woken for it: a post that a barger undid and
     * redid does not wake b needlessly */
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 1, CORE_WAIT_TRY, 0), CORE_OK);
    assert_status(fx_post(w.c, w.x, w.hx, &wk), CORE_OK);
    assert_int_equal(wk.valid, 0); /* a is still on its way for this one */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_OK);
}

static void cancel_of_a_woken_waiter_passes_its_wake_on(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 3, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    /* a times out (or a signal comes) before it asks again */
    uint32_t notes = 0;
    assert_status(fx_cancel(w.c, w.a, 1, &notes), CORE_OK);
    assert_int_equal(notes, 1);
    struct core_wake n[4];
    assert_int_equal(fx_notes(w.c, n, 4), 1);
    assert_wake(&n[0], w.b, 3, 20, CORE_RETRY);
    assert_status(fx_wait(w.c, w.b, w.hb, 3, 21, 0, 0), CORE_OK);
    assert_int_equal(fx_notes(w.c, n, 4), 0);
}

static void woken_waiter_giving_up_takes_a_free_permit_or_leaves(void **state)
{
    struct fx_world w = world(state, 0);
    struct core_wake wk;
    /* with the permit still free: the last try takes it */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, CORE_WAIT_TRY, 0), CORE_OK);
    assert_int_equal(fx_info(w.c, w.hp).nwaiters, 0);
    /* with the permit barged away: it leaves the queue, EAGAIN */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 12, 0, 0), CORE_QUEUED);
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 12, CORE_RETRY);
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 1, CORE_WAIT_TRY, 0), CORE_OK);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 13, CORE_WAIT_TRY, 0), CORE_E_AGAIN);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.nwaiters, 0);
    assert_int_equal(i.nwoken, 0);
    assert_int_equal(i.value, 0);
}

static void death_of_a_woken_waiter_passes_its_wake_on(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    uint32_t notes = 0;
    assert_status(fx_close_session(w.c, w.a, &notes), CORE_OK); /* kill -9 */
    assert_int_equal(notes, 1);
    struct core_wake n[4];
    assert_int_equal(fx_notes(w.c, n, 4), 1);
    assert_wake(&n[0], w.b, 1, 20, CORE_RETRY);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 21, 0, 0), CORE_OK);
}

static void death_wakes_no_waiter_of_the_dying_session(void **state)
{
    /* a session with two woken waits dies: neither wake goes to its own
     * other thread, both permits stay for the living */
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.a, w.ha, 2, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.a, w.ha, 3, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 0), CORE_QUEUED);
    assert_status(fx_post(w.c, w.p, w.hp, NULL), CORE_OK);
    assert_status(fx_post(w.c, w.p, w.hp, NULL), CORE_OK);
    assert_int_equal(fx_info(w.c, w.hp).nwoken, 2);
    assert_status(fx_close_session(w.c, w.a, NULL), CORE_OK);
    struct core_wake n[8];
    uint32_t k = fx_notes(w.c, n, 8);
    assert_int_equal(k, 1);
    assert_wake(&n[0], w.b, 1, 20, CORE_RETRY);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 2);
    assert_int_equal(i.nwaiters, 1);
    assert_int_equal(i.nwoken, 1);
}

static void highest_priority_is_woken_first(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 1), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.b, w.hb, 1, 20, 0, 7), CORE_QUEUED);
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 30, 0, 7), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.b, 1, 20, CORE_RETRY); /* prio 7, came first */
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.x, 1, 30, CORE_RETRY);
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
}

static void unlink_while_a_waiter_is_woken_keeps_the_object(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_post(w.c, w.p, w.hp, NULL), CORE_OK);
    struct core_sem_unlink_args u = {.session = w.p, .name_len = 1};
    u.name[0] = 'm';
    assert_status(CALL(w.c, CORE_ECALL_SEM_UNLINK, u), CORE_OK);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_OK);
    assert_int_equal(fx_info(w.c, w.hp).flags & CORE_SEMF_UNLINKED, CORE_SEMF_UNLINKED);
}

static void a_slot_with_a_sleeping_wait_cannot_wait_again(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    /* not woken: a second wait on the slot is no retry */
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 11, 0, 0), CORE_E_BUSY);
    assert_int_equal(fx_info(w.c, w.hp).nwaiters, 1);
}

/* Finding 5 of the security review: a revoke reaches waits already queued. */
static void revoke_dequeues_a_queued_waiter_with_eacces(void **state)
{
    struct core *c = fx_core(state);
    core_id_t owner = fx_session(c, 1, UID);
    core_id_t other = fx_session(c, 2, 2000);
    core_id_t h = fx_open(c, owner, "r", CORE_O_CREAT, 0666, 0);
    core_id_t ho = fx_open(c, other, "r", 0, 0, 0);
    assert_status(fx_wait(c, other, ho, 4, 44, 0, 0), CORE_QUEUED);
    uint32_t notes = 0;
    assert_status(fx_grant(c, owner, h, CORE_P_UID, 2000, CORE_R_WAIT, 1, &notes), CORE_OK);
    assert_int_equal(notes, 1);
    struct core_wake n[4];
    assert_int_equal(fx_notes(c, n, 4), 1);
    assert_wake(&n[0], other, 4, 44, CORE_E_ACCES);
    /* the post that follows wakes nobody and the permit stays */
    struct core_wake wk;
    assert_status(fx_post(c, owner, h, &wk), CORE_OK);
    assert_int_equal(wk.valid, 0);
    assert_int_equal(fx_info(c, h).value, 1);
    assert_status(fx_wait(c, other, ho, 4, 45, 0, 0), CORE_E_ACCES);
}

static void revoke_in_fifo_order_never_grants_the_revoked(void **state)
{
    struct core *c = fx_reinit(state, CORE_CFG_FIFO);
    core_id_t owner = fx_session(c, 1, UID);
    core_id_t other = fx_session(c, 2, 2000);
    core_id_t h = fx_open(c, owner, "r", CORE_O_CREAT, 0666, 0);
    core_id_t ho = fx_open(c, other, "r", 0, 0, 0);
    assert_status(fx_wait(c, other, ho, 4, 44, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(c, owner, h, 1, 7, 0, 0), CORE_QUEUED);
    assert_status(fx_grant(c, owner, h, CORE_P_UID, 2000, CORE_R_WAIT, 1, NULL), CORE_OK);
    struct core_wake n[4];
    assert_int_equal(fx_notes(c, n, 4), 1);
    assert_wake(&n[0], other, 4, 44, CORE_E_ACCES);
    struct core_wake wk;
    assert_status(fx_post(c, owner, h, &wk), CORE_OK);
    assert_wake(&wk, owner, 1, 7, CORE_OK); /* the grant skips nobody now */
    assert_int_equal(fx_info(c, h).value, 0);
}

static void woken_waiter_revoked_before_it_asks_again_gets_eacces(void **state)
{
    struct core *c = fx_core(state);
    core_id_t owner = fx_session(c, 1, UID);
    core_id_t other = fx_session(c, 2, 2000);
    core_id_t third = fx_session(c, 3, 3000);
    core_id_t h = fx_open(c, owner, "r", CORE_O_CREAT, 0666, 0);
    core_id_t ho = fx_open(c, other, "r", 0, 0, 0);
    core_id_t ht = fx_open(c, third, "r", 0, 0, 0);
    assert_status(fx_wait(c, other, ho, 4, 44, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(c, third, ht, 1, 9, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(c, owner, h, &wk), CORE_OK);
    assert_wake(&wk, other, 4, 44, CORE_RETRY);
    /* revoked while on its way: it leaves at once, and its wake passes on */
    assert_status(fx_grant(c, owner, h, CORE_P_UID, 2000, CORE_R_WAIT, 1, NULL), CORE_OK);
    struct core_wake n[4];
    assert_int_equal(fx_notes(c, n, 4), 2);
    assert_wake(&n[0], other, 4, 44, CORE_E_ACCES);
    assert_wake(&n[1], third, 1, 9, CORE_RETRY);
    assert_status(fx_wait(c, third, ht, 1, 10, 0, 0), CORE_OK);
}

static void fifo_flag_per_semaphore_hands_off(void **state)
{
    struct fx_world w = world(state, CORE_O_FIFO);
    assert_int_equal(fx_info(w.c, w.hp).flags & CORE_SEMF_FIFO, CORE_SEMF_FIFO);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(w.c, w.p, w.hp, &wk), CORE_OK);
    assert_wake(&wk, w.a, 1, 10, CORE_OK); /* a grant, not a hint */
    /* the value never rose: nobody can barge */
    assert_int_equal(fx_info(w.c, w.hp).value, 0);
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 1, CORE_WAIT_TRY, 0), CORE_E_AGAIN);
    /* a semaphore without the flag in the same core barges */
    core_id_t h2 = fx_open(w.c, w.p, "n", CORE_O_CREAT, 0600, 0);
    assert_int_equal(fx_info(w.c, h2).flags & CORE_SEMF_FIFO, 0);
}

static void anonymous_semaphore_takes_the_fifo_flag_too(void **state)
{
    struct core *c = fx_core(state);
    core_id_t s = fx_session(c, 1, UID);
    struct core_sem_create_args a = {.session = s, .value = 0, .flags = CORE_O_FIFO};
    assert_status(CALL(c, CORE_ECALL_SEM_CREATE, a), CORE_OK);
    assert_int_equal(fx_info(c, a.handle).flags & CORE_SEMF_FIFO, CORE_SEMF_FIFO);
    struct core_sem_create_args b = {.session = s, .value = 0, .flags = CORE_O_STRICT};
    assert_status(CALL(c, CORE_ECALL_SEM_CREATE, b), CORE_E_INVAL);
}

static void key_session_wake_carries_a_retry_mac(void **state)
{
    struct core *c = fx_core(state);
    uint8_t key[CORE_KEY_BYTES];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    struct core_key_add_args ka;
    memcpy(ka.key, key, sizeof key);
    assert_status(CALL(c, CORE_ECALL_KEY_ADD, ka), CORE_OK);
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 9;
    so.uid = UID;
    so.start_time = 9;
    so.key_id = ka.key_id;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, so), CORE_OK);
    uint8_t ks[CORE_KEY_BYTES];
    core_auth_session_key(key, so.session, so.nonce, so.core_nonce, ks);
    /* a key session queues through a MACed request */
    core_id_t p = fx_session(c, 1, UID);
    core_id_t hp = fx_open(c, p, "k", CORE_O_CREAT, 0666, 0);
    struct core_request_args r;
    memset(&r, 0, sizeof r);
    r.session = so.session;
    r.req.call = CORE_ECALL_SEM_OPEN;
    r.req.slot = 2;
    r.req.seq = 1;
    r.req.name_len = 1;
    r.req.name[0] = 'k';
    core_auth_req_mac(ks, &r.req, r.mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, r), CORE_OK);
    core_id_t hk = r.handle;
    memset(&r.req, 0, sizeof r.req);
    r.req.call = CORE_ECALL_SEM_WAIT;
    r.req.slot = 2;
    r.req.seq = 5000000000ull; /* past 2^32: 64-bit numbers */
    r.req.handle = hk;
    core_auth_req_mac(ks, &r.req, r.mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, r), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post(c, p, hp, &wk), CORE_OK);
    assert_wake(&wk, so.session, 2, 5000000000ull, CORE_RETRY);
    struct core_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.session = so.session;
    rep.slot = 2;
    rep.seq = 5000000000ull;
    rep.call = CORE_ECALL_SEM_WAIT;
    rep.req_handle = hk;
    rep.status = CORE_RETRY;
    uint8_t want[CORE_MAC_BYTES];
    core_auth_rep_mac(ks, &rep, want);
    assert_memory_equal(wk.mac, want, CORE_MAC_BYTES);
    /* the same MAC does not pass for a grant, or for another semaphore */
    rep.status = CORE_OK;
    core_auth_rep_mac(ks, &rep, want);
    assert_memory_not_equal(wk.mac, want, CORE_MAC_BYTES);
    rep.status = CORE_RETRY;
    rep.req_handle = hp + 1;
    core_auth_rep_mac(ks, &rep, want);
    assert_memory_not_equal(wk.mac, want, CORE_MAC_BYTES);
}

static void notes_come_out_oldest_first_eight_at_a_time(void **state)
{
    struct core *c = fx_core(state);
    core_id_t owner = fx_session(c, 1, UID);
    core_id_t other = fx_session(c, 2, 2000);
    core_id_t h = fx_open(c, owner, "r", CORE_O_CREAT, 0666, 0);
    core_id_t ho = fx_open(c, other, "r", 0, 0, 0);
    for (uint32_t k = 0; k < 12; k++)
        assert_status(fx_wait(c, other, ho, k, 100 + k, 0, 0), CORE_QUEUED);
    uint32_t notes = 0;
    assert_status(fx_grant(c, owner, h, CORE_P_UID, 2000, CORE_R_WAIT, 1, &notes), CORE_OK);
    assert_int_equal(notes, 12);
    struct core_notes_args a;
    assert_status(CALL(c, CORE_ECALL_NOTES, a), CORE_OK);
    assert_int_equal(a.n, 8);
    for (uint32_t k = 0; k < 8; k++)
        assert_int_equal(a.note[k].seq, 100 + k);
    assert_status(CALL(c, CORE_ECALL_NOTES, a), CORE_OK);
    assert_int_equal(a.n, 4);
    assert_int_equal(a.note[0].seq, 108);
    assert_status(CALL(c, CORE_ECALL_NOTES, a), CORE_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(fx_info(c, h).nwaiters, 0);
}

/* A wake that is never delivered (a host that drops it, TM-SGX) costs the
 * waiter its wake-up, never a permit: the value stays for the next one. */
static void an_undelivered_wake_loses_no_permit(void **state)
{
    struct fx_world w = world(state, 0);
    assert_status(fx_wait(w.c, w.a, w.ha, 1, 10, 0, 0), CORE_QUEUED);
    assert_status(fx_post(w.c, w.p, w.hp, NULL), CORE_OK); /* wake dropped */
    assert_status(fx_wait(w.c, w.x, w.hx, 1, 1, CORE_WAIT_TRY, 0), CORE_OK);
    assert_status(fx_post(w.c, w.x, w.hx, NULL), CORE_OK);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 1);
    assert_int_equal(i.posts - i.waits, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(post_raises_value_and_wakes_the_first_waiter),
        T(running_thread_barges_and_the_woken_waiter_keeps_its_place),
        T(post_while_a_woken_waiter_is_on_its_way_wakes_the_next),
        T(woken_waiter_that_barged_less_is_only_woken_once),
        T(cancel_of_a_woken_waiter_passes_its_wake_on),
        T(woken_waiter_giving_up_takes_a_free_permit_or_leaves),
        T(death_of_a_woken_waiter_passes_its_wake_on),
        T(death_wakes_no_waiter_of_the_dying_session),
        T(highest_priority_is_woken_first),
        T(unlink_while_a_waiter_is_woken_keeps_the_object),
        T(a_slot_with_a_sleeping_wait_cannot_wait_again),
        T(revoke_dequeues_a_queued_waiter_with_eacces),
        T(revoke_in_fifo_order_never_grants_the_revoked),
        T(woken_waiter_revoked_before_it_asks_again_gets_eacces),
        T(fifo_flag_per_semaphore_hands_off),
        T(anonymous_semaphore_takes_the_fifo_flag_too),
        T(key_session_wake_carries_a_retry_mac),
        T(notes_come_out_oldest_first_eight_at_a_time),
        T(an_undelivered_wake_loses_no_permit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
