/*
 * Adaptive order (CORE_CFG_ADAPTIVE) and barging's starvation bound
 * (cfg.handoff_ns), driven through the core's boundary step by step with
 * the host's clock given to each post and wait: a post grants its permit
 * outright to the sleeping waiter next in line, except in a barging spell,
 * which begins when the poster of such a grant queues again at once (a
 * thread looping post, wait) and lasts HAND_SPELL_NS (100 ms).
 */
#include "core_fixture.h"

enum { UID = 1000 };
#define US 1000ull
#define MS 1000000ull

static struct fx_world adaptive(void **state, uint64_t handoff_ns)
{
    struct fixture *f = *state;
    free(f->arena);
    struct core_config cfg = fx_cfg(CORE_CFG_ADAPTIVE);
    cfg.handoff_ns = handoff_ns;
    f->c = fx_make(&cfg, &f->arena);
    assert_non_null(f->c);
    return fx_world(f->c, 0, UID);
}

/* a and b queue at t; p's post at post_at grants a outright */
static void queue_two_and_grant(const struct fx_world *w, uint64_t t, uint64_t post_at)
{
    assert_status(fx_wait_at(w->c, w->a, w->ha, 1, 10, t), CORE_QUEUED);
    assert_status(fx_wait_at(w->c, w->b, w->hb, 1, 20, t), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post_at(w->c, w->p, w->hp, post_at, &wk), CORE_OK);
    fx_assert_wake(&wk, w->a, 1, 10, CORE_OK);
}

static void post_grants_a_sleeper_outright(void **state)
{
    struct fx_world w = adaptive(state, 0);
    uint64_t t = 10 * MS;
    assert_status(fx_wait_at(w.c, w.a, w.ha, 1, 10, t), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.b, w.hb, 1, 20, t + US), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post_at(w.c, w.p, w.hp, t + 50 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.a, 1, 10, CORE_OK); /* a grant, not "ask again" */
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 0); /* nothing for a barger to take */
    assert_int_equal(i.nwaiters, 1);
    assert_int_equal(i.nwoken, 0);
    assert_int_equal(i.handoffs, 1);
    assert_int_equal(i.retries, 0);
    /* a running thread that asks now queues behind b */
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 1, t + 60 * US), CORE_QUEUED);
    assert_status(fx_post_at(w.c, w.a, w.ha, t + 500 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 20, CORE_OK);
    assert_status(fx_post_at(w.c, w.b, w.hb, t + 900 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.x, 1, 1, CORE_OK);
    i = fx_info(w.c, w.hp);
    assert_int_equal(i.posts, 3);
    assert_int_equal(i.waits, 3);
    assert_int_equal(i.nwaiters, 0);
}

static void a_poster_looping_back_starts_a_barging_spell(void **state)
{
    struct fx_world w = adaptive(state, 0);
    uint64_t t = 10 * MS;
    queue_two_and_grant(&w, t, t + 100 * US);
    struct core_wake wk;
    /* p waits again 2 us after its post: the convoy FIFO order makes */
    assert_status(fx_wait_at(w.c, w.p, w.hp, 1, 30, t + 102 * US), CORE_QUEUED);
    /* from now on, for 100 ms, a post only wakes (barging) */
    assert_status(fx_post_at(w.c, w.a, w.ha, t + 200 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 20, CORE_RETRY);
    assert_int_equal(fx_info(w.c, w.hp).value, 1);
    /* a running thread barges in ahead of the woken b */
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 1, t + 201 * US), CORE_OK);
    assert_status(fx_wait_at(w.c, w.b, w.hb, 1, 21, t + 210 * US), CORE_QUEUED);
    /* after the spell: a grant again, to the first in line (b kept its place) */
    uint64_t later = t + 102 * US + 100 * MS;
    assert_status(fx_post_at(w.c, w.x, w.hx, later, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 21, CORE_OK);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.handoffs, 2);
    assert_int_equal(i.value, 0);
    assert_int_equal(i.nwaiters, 1); /* p */
}

static void a_slow_return_is_no_convoy(void **state)
{
    /* Apache's accept mutex: the poster serves a request before it waits
     * again, and another process's wait is no sign of a convoy either */
    struct fx_world w = adaptive(state, 0);
    uint64_t t = 10 * MS;
    queue_two_and_grant(&w, t, t + 100 * US);
    struct core_wake wk;
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 1, t + 101 * US), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.p, w.hp, 1, 30, t + 150 * US), CORE_QUEUED);
    assert_status(fx_post_at(w.c, w.a, w.ha, t + 160 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 20, CORE_OK);
}

static void threads_of_one_process_barge(void **state)
{
    /* a thread of p waits; another thread of p posts: a wake, as glibc's */
    struct fx_world w = adaptive(state, 0);
    uint64_t t = 10 * MS;
    assert_status(fx_wait_at(w.c, w.p, w.hp, 1, 10, t), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.a, w.ha, 1, 20, t), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post_at(w.c, w.p, w.hp, t + 100 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.p, 1, 10, CORE_RETRY);
    assert_int_equal(fx_info(w.c, w.hp).value, 1);
    assert_int_equal(fx_info(w.c, w.hp).handoffs, 0);
}

static void woken_waiters_are_not_granted_twice(void **state)
{
    /* in a spell two posts woke a and b (value 2); the spell over, a third
     * post grants x, queued since, and leaves a's and b's permits alone */
    struct fx_world w = adaptive(state, 0);
    uint64_t t = 10 * MS;
    queue_two_and_grant(&w, t, t + 10 * US);
    struct core_wake wk;
    assert_status(fx_wait_at(w.c, w.p, w.hp, 1, 30, t + 11 * US), CORE_QUEUED); /* spell */
    assert_status(fx_post_at(w.c, w.a, w.ha, t + 20 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 20, CORE_RETRY);
    assert_status(fx_post_at(w.c, w.x, w.hx, t + 21 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.p, 1, 30, CORE_RETRY);
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 1, t + 22 * US), CORE_OK);
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 2, t + 23 * US), CORE_OK);
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 3, t + 24 * US), CORE_QUEUED);
    /* b and p lost to x and sleep again, ahead of x */
    assert_status(fx_wait_at(w.c, w.b, w.hb, 1, 21, t + 25 * US), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.p, w.hp, 1, 31, t + 26 * US), CORE_QUEUED);
    uint64_t later = t + 200 * MS;
    assert_status(fx_post_at(w.c, w.a, w.ha, later, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 21, CORE_OK);
    struct core_sem_info i = fx_info(w.c, w.hp);
    assert_int_equal(i.value, 0);
    assert_int_equal(i.nwaiters, 2); /* p, x */
    assert_int_equal(i.nwoken, 0);
    assert_int_equal(i.posts - i.waits, 0);
}

static void revoked_sleeper_is_not_granted(void **state)
{
    struct fx_world w = adaptive(state, 0);
    core_id_t other = fx_session(w.c, 5, 2000);
    core_id_t h = fx_open(w.c, w.p, "r2", CORE_O_CREAT, 0666, 0);
    core_id_t h2 = fx_open(w.c, other, "r2", 0, 0, 0);
    assert_status(fx_wait_at(w.c, other, h2, 4, 44, 10 * MS), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.a, fx_open(w.c, w.a, "r2", 0, 0, 0), 1, 7, 10 * MS),
                  CORE_QUEUED);
    assert_status(fx_grant(w.c, w.p, h, CORE_P_UID, 2000, CORE_R_WAIT, 1, NULL), CORE_OK);
    struct core_wake n[4];
    assert_int_equal(fx_notes(w.c, n, 4), 1);
    fx_assert_wake(&n[0], other, 4, 44, CORE_E_ACCES);
    struct core_wake wk;
    assert_status(fx_post_at(w.c, w.p, h, 11 * MS, &wk), CORE_OK);
    fx_assert_wake(&wk, w.a, 1, 7, CORE_OK); /* the revoked one is skipped */
    assert_int_equal(fx_info(w.c, h).value, 0);
}

static void barging_starvation_bound(void **state)
{
    /* plain barging order with handoff_ns = 1 ms: a post wakes (RETRY)
     * until the waiter next in line has waited 1 ms, then grants it */
    struct fixture *f = *state;
    free(f->arena);
    struct core_config cfg = fx_cfg(0);
    cfg.handoff_ns = MS;
    f->c = fx_make(&cfg, &f->arena);
    struct fx_world w = fx_world(f->c, 0, UID);
    uint64_t t = 10 * MS;
    assert_status(fx_wait_at(w.c, w.a, w.ha, 1, 10, t), CORE_QUEUED);
    assert_status(fx_wait_at(w.c, w.b, w.hb, 1, 20, t + 500 * US), CORE_QUEUED);
    struct core_wake wk;
    assert_status(fx_post_at(w.c, w.p, w.hp, t + 400 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.a, 1, 10, CORE_RETRY);
    /* x barges; a loses and sleeps again, keeping its place and its age */
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 1, t + 401 * US), CORE_OK);
    assert_status(fx_wait_at(w.c, w.a, w.ha, 1, 11, t + 410 * US), CORE_QUEUED);
    assert_status(fx_post_at(w.c, w.x, w.hx, t + MS, &wk), CORE_OK);
    fx_assert_wake(&wk, w.a, 1, 11, CORE_OK); /* 1 ms since it first queued */
    /* b has waited 0.6 ms: woken, not granted */
    assert_status(fx_post_at(w.c, w.p, w.hp, t + 1100 * US, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 20, CORE_RETRY);
    /* a clock that runs backwards (the host's word) grants nothing early */
    assert_status(fx_wait_at(w.c, w.x, w.hx, 1, 2, t + 1200 * US), CORE_OK);
    assert_status(fx_wait_at(w.c, w.b, w.hb, 1, 21, t + 1200 * US), CORE_QUEUED);
    assert_status(fx_post_at(w.c, w.x, w.hx, t, &wk), CORE_OK);
    fx_assert_wake(&wk, w.b, 1, 21, CORE_RETRY);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(post_grants_a_sleeper_outright),
        T(a_poster_looping_back_starts_a_barging_spell),
        T(a_slow_return_is_no_convoy),
        T(threads_of_one_process_barge),
        T(woken_waiters_are_not_granted_twice),
        T(revoked_sleeper_is_not_granted),
        T(barging_starvation_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
