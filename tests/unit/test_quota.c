/*
 * Per-user limits in the core (core_config uid_objects, uid_waiters): one
 * uid cannot take more than its share; root and the exempt uid (the
 * daemon's user) have no limit; what is given back can be taken again.
 */
#include "core_fixture.h"

static int q_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    struct core_config cfg = fx_cfg(0);
    cfg.uid_objects = 2;
    cfg.uid_waiters = 1;
    cfg.exempt_uid = 500;
    cfg.max_sets = 4;
    cfg.max_set_sems = 16;
    cfg.max_undos = 4;
    cfg.max_sysv_ops = 4;
    f->c = fx_make(&cfg, &f->arena);
    *state = f;
    return f->c ? 0 : -1;
}

static int32_t open_new(struct core *c, core_id_t s, const char *name, core_id_t *h)
{
    struct core_sem_open_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.oflag = CORE_O_CREAT | CORE_O_EXCL;
    a.mode = 0600;
    a.name_len = (uint32_t)strlen(name);
    memcpy(a.name, name, a.name_len);
    int32_t r = CALL(c, CORE_ECALL_SEM_OPEN, a);
    if (h)
        *h = a.handle;
    return r;
}

static int32_t anon(struct core *c, core_id_t s, core_id_t *h)
{
    struct core_sem_create_args a = {.session = s};
    int32_t r = CALL(c, CORE_ECALL_SEM_CREATE, a);
    if (h)
        *h = a.handle;
    return r;
}

static int32_t set_new(struct core *c, core_id_t s)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.req.call = CORE_ECALL_SYSV_GET;
    a.req.seq = 1;
    a.req.flags = 0600;
    a.req.mode = 1;
    return CALL(c, CORE_ECALL_REQUEST, a);
}

static void objects_per_uid(void **state)
{
    struct core *c = fx_core(state);
    core_id_t u = fx_session(c, 10, 1000), u2 = fx_session(c, 11, 1000),
              other = fx_session(c, 12, 2000), root = fx_session(c, 13, 0),
              daemon = fx_session(c, 14, 500);
    core_id_t h1, h2;
    assert_status(open_new(c, u, "a", &h1), CORE_OK);
    assert_status(anon(c, u2, &h2), CORE_OK); /* another process, the same uid */
    assert_status(open_new(c, u, "b", NULL), CORE_E_QUOTA);
    assert_status(anon(c, u, NULL), CORE_E_QUOTA);
    assert_status(set_new(c, u), CORE_E_QUOTA);
    /* others are not affected */
    assert_status(open_new(c, other, "c", NULL), CORE_OK);
    for (int i = 0; i < 5; i++) {
        char n[8] = {'r', (char)('0' + i), 0};
        assert_status(open_new(c, root, n, NULL), CORE_OK);
    }
    assert_status(open_new(c, daemon, "d1", NULL), CORE_OK);
    assert_status(open_new(c, daemon, "d2", NULL), CORE_OK);
    assert_status(open_new(c, daemon, "d3", NULL), CORE_OK);
    /* a named semaphore counts until it is gone: unlink + last close */
    struct core_sem_unlink_args ul = {.session = u, .name_len = 1};
    ul.name[0] = 'a';
    assert_status(CALL(c, CORE_ECALL_SEM_UNLINK, ul), CORE_OK);
    assert_status(open_new(c, u, "b", NULL), CORE_E_QUOTA);
    struct core_sem_handle_args cl = {.session = u, .handle = h1};
    assert_status(CALL(c, CORE_ECALL_SEM_CLOSE, cl), CORE_OK);
    assert_status(set_new(c, u), CORE_OK); /* a set counts as an object too */
    assert_status(open_new(c, u, "b", NULL), CORE_E_QUOTA);
    struct core_stats_args st;
    assert_status(CALL(c, CORE_ECALL_STATS, st), CORE_OK);
    assert_true(st.stats.refused[-CORE_E_QUOTA] >= 5);
}

static void waiters_per_uid(void **state)
{
    struct core *c = fx_core(state);
    core_id_t u = fx_session(c, 10, 1000), v = fx_session(c, 11, 1000),
              root = fx_session(c, 13, 0);
    core_id_t h;
    assert_status(anon(c, u, &h), CORE_OK);
    struct core_session_inherit_args in = {.child = v, .parent = u};
    assert_status(CALL(c, CORE_ECALL_SESSION_INHERIT, in), CORE_OK);
    assert_status(fx_wait(c, u, h, 0, 1, 0, 0), CORE_QUEUED);
    assert_status(fx_wait(c, v, h, 0, 1, 0, 0), CORE_E_QUOTA); /* the uid's one wait */
    assert_status(fx_wait(c, v, h, 0, 1, CORE_WAIT_TRY, 0), CORE_E_AGAIN); /* a try is no wait */
    struct core_session_inherit_args in2 = {.child = root, .parent = u};
    assert_status(CALL(c, CORE_ECALL_SESSION_INHERIT, in2), CORE_OK);
    assert_status(fx_wait(c, root, h, 0, 1, 0, 0), CORE_QUEUED); /* root: no limit */
    assert_status(fx_cancel(c, u, 0, NULL), CORE_OK);
    assert_status(fx_wait(c, v, h, 0, 2, 0, 0), CORE_QUEUED); /* given back, taken again */
    assert_status(fx_close_session(c, v, NULL), CORE_OK);
    assert_status(fx_wait(c, u, h, 1, 3, 0, 0), CORE_QUEUED); /* a death gives it back */
}

static void sessions_keep_a_reserve_for_root(void **state)
{
    struct core *c = fx_core(state);
    /* fx_cfg: 8 sessions, a reserve of 8/16 = 0: reinit with more */
    struct fixture *f = *state;
    free(f->arena);
    struct core_config cfg = fx_cfg(0);
    cfg.max_sessions = 32; /* reserve 2 */
    cfg.exempt_uid = 500;
    cfg.uid_objects = 100; /* per-user limits on: a daemon for many users */
    f->c = c = fx_make(&cfg, &f->arena);
    assert_non_null(c);
    struct core_session_open_args a;
    int n = 0;
    for (;; n++) {
        memset(&a, 0, sizeof a);
        a.pid = 100 + (uint32_t)n;
        a.uid = a.gid = 1000 + (uint32_t)(n % 3); /* several users */
        if (CALL(c, CORE_ECALL_SESSION_OPEN, a) != CORE_OK)
            break;
    }
    assert_int_equal(n, 30);
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, a), CORE_E_QUOTA);
    fx_session(c, 200, 0);   /* root gets in */
    fx_session(c, 201, 500); /* the daemon's user too */
    memset(&a, 0, sizeof a);
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, a), CORE_E_NOSPC); /* now full */
}

static void no_limits_no_table(void **state)
{
    struct core *c = fx_reinit(state, 0); /* fx_cfg: no per-user limits */
    core_id_t u = fx_session(c, 10, 1000);
    for (int i = 0; i < 8; i++) {
        char n[8] = {'n', (char)('0' + i), 0};
        assert_status(open_new(c, u, n, NULL), CORE_OK);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, q_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(objects_per_uid),
        T(waiters_per_uid),
        T(sessions_keep_a_reserve_for_root),
        T(no_limits_no_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
