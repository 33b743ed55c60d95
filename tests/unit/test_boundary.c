/*
 * The ecall boundary: the core reads its argument struct once.
 *
 * Finding 3 of the security review (TM-SGX): the arguments live in host
 * memory, which a hostile host can rewrite while the core runs.  When the
 * core checked `session` (is it a key session?) and then read it again in
 * the handler, a host thread flipping it between a PID session and a key
 * session got direct posts accepted in the key session's name.  Here a
 * real second thread flips the field as fast as it can while the first
 * posts directly; with one copy taken at the boundary no post may land.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "core_fixture.h"

struct flipper {
    struct core_sem_post_args *args;
    core_id_t a, b;
    atomic_int stop;
    atomic_ulong flips;
};

static void *flip(void *p)
{
    struct flipper *f = p;
    volatile core_id_t *field = &f->args->session;
    unsigned long n = 0;
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        *field = f->a;
        *field = f->b;
        n++;
    }
    atomic_store(&f->flips, n);
    return NULL;
}

static void racing_session_field_never_posts_for_a_key_session(void **state)
{
    struct core *c = fx_core(state);
    uint8_t key[CORE_KEY_BYTES];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0x40 + i);
    struct core_key_add_args ka;
    memcpy(ka.key, key, sizeof key);
    assert_status(CALL(c, CORE_ECALL_KEY_ADD, ka), CORE_OK);
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 5;
    so.uid = 1000;
    so.start_time = 5;
    so.key_id = ka.key_id;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, so), CORE_OK);
    uint8_t ks[CORE_KEY_BYTES];
    core_auth_session_key(key, so.session, so.nonce, so.core_nonce, ks);
    /* the key session creates a strict semaphore it alone owns */
    struct core_request_args r;
    memset(&r, 0, sizeof r);
    r.session = so.session;
    r.req.call = CORE_ECALL_SEM_OPEN;
    r.req.flags = CORE_O_CREAT | CORE_O_STRICT;
    r.req.mode = 0600;
    r.req.slot = 0;
    r.req.seq = 1;
    r.req.name_len = 3;
    memcpy(r.req.name, "kso", 3);
    core_auth_req_mac(ks, &r.req, r.mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, r), CORE_OK);
    core_id_t h = r.handle;
    /* a PID session of the same uid: the host's own */
    core_id_t pid_sess = fx_session(c, 6, 1000);

    static struct core_sem_post_args args; /* host memory the flipper writes */
    memset(&args, 0, sizeof args);
    args.session = pid_sess;
    args.handle = h;
    struct flipper f = {.args = &args, .a = pid_sess, .b = so.session};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flip, &f), 0);
    uint64_t accepted = 0, auth = 0, other = 0;
    for (int i = 0; i < 400000; i++) {
        int32_t st = core_ecall(c, CORE_ECALL_SEM_POST, &args, sizeof args);
        if (st == CORE_OK)
            accepted++;
        else if (st == CORE_E_AUTH)
            auth++;
        else
            other++;
    }
    atomic_store(&f.stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "# %llu direct posts: %llu accepted, %llu CORE_E_AUTH, %llu other; "
                    "%lu flips\n",
            400000ull, (unsigned long long)accepted, (unsigned long long)auth,
            (unsigned long long)other, atomic_load(&f.flips));
    assert_int_equal(accepted, 0);
    assert_int_equal(fx_info(c, h).value, 0);
    assert_int_equal(fx_info(c, h).posts, 0);
}

/* Outputs land in the caller's struct only at the end, and inputs the
 * handler changes in its copy are not read back from outside: a request
 * whose name_len the host enlarges after the call started still copies
 * only what it named. */
static void request_outputs_are_written_back_inputs_left_alone(void **state)
{
    struct core *c = fx_core(state);
    core_id_t s = fx_session(c, 1, 1000);
    core_id_t h = fx_open(c, s, "out", CORE_O_CREAT, 0600, 3);
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.req.call = CORE_ECALL_SEM_GETVALUE;
    a.req.handle = h;
    a.req.slot = 1;
    a.req.seq = 7;
    a.value = 0xdeadbeef;
    a.handle = 0xfeed;
    assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_OK);
    assert_int_equal(a.value, 3);
    assert_int_equal(a.handle, 0);
    assert_int_equal(a.notes, 0);
    assert_int_equal(a.wake.valid, 0);
    assert_int_equal(a.req.seq, 7); /* inputs as they were */
    assert_true(a.req.handle == h);
}

/* The key removal ecall: new sessions with the key are refused. */
static void removed_key_opens_no_new_session(void **state)
{
    struct core *c = fx_core(state);
    struct core_key_add_args ka;
    memset(ka.key, 0x33, sizeof ka.key);
    assert_status(CALL(c, CORE_ECALL_KEY_ADD, ka), CORE_OK);
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 2;
    so.key_id = ka.key_id;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, so), CORE_OK);
    struct core_key_remove_args kr = {.key_id = ka.key_id};
    assert_status(CALL(c, CORE_ECALL_KEY_REMOVE, kr), CORE_OK);
    assert_status(CALL(c, CORE_ECALL_KEY_REMOVE, kr), CORE_E_NOENT);
    kr.key_id = 0;
    assert_status(CALL(c, CORE_ECALL_KEY_REMOVE, kr), CORE_E_INVAL);
    memset(&so, 0, sizeof so);
    so.pid = 3;
    so.key_id = ka.key_id;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, so), CORE_E_AUTH);
    struct core_stats_args st;
    assert_status(CALL(c, CORE_ECALL_STATS, st), CORE_OK);
    assert_int_equal(st.stats.keys_in_use, 0);
    assert_int_equal(st.stats.keyed_in_use, 1); /* the open one goes on */
}

/* Finding 12: one owner cannot fill the whole access-list table. */
static void access_list_entries_are_capped_per_semaphore(void **state)
{
    struct fixture *fx = *state;
    free(fx->arena);
    struct core_config cfg = fx_cfg(0);
    cfg.max_acls = 2 * CORE_ACL_PER_SEM;
    fx->c = fx_make(&cfg, &fx->arena);
    struct core *c = fx->c;
    core_id_t s = fx_session(c, 1, 1000);
    core_id_t h = fx_open(c, s, "acl", CORE_O_CREAT, 0600, 0);
    core_id_t h2 = fx_open(c, s, "acl2", CORE_O_CREAT, 0600, 0);
    for (uint32_t u = 0; u < CORE_ACL_PER_SEM; u++)
        assert_status(fx_grant(c, s, h, CORE_P_UID, 5000 + u, CORE_R_OPEN, 0, NULL), CORE_OK);
    assert_status(fx_grant(c, s, h, CORE_P_UID, 9999, CORE_R_OPEN, 0, NULL), CORE_E_NOSPC);
    /* changing an entry it has is still fine, and others have room */
    assert_status(fx_grant(c, s, h, CORE_P_UID, 5000, CORE_R_POST, 0, NULL), CORE_OK);
    assert_status(fx_grant(c, s, h2, CORE_P_UID, 9999, CORE_R_OPEN, 0, NULL), CORE_OK);
    assert_int_equal(fx_info(c, h).nacl, CORE_ACL_PER_SEM);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(racing_session_field_never_posts_for_a_key_session),
        T(request_outputs_are_written_back_inputs_left_alone),
        T(removed_key_opens_no_new_session),
        T(access_list_entries_are_capped_per_semaphore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
