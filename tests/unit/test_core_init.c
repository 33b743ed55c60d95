/*
 * Unit tests of the trusted core: the arena, core_init and the ecall boundary.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- core_arena_size / core_init ---- */

static const size_t cfg_fields[] = {
    offsetof(struct core_config, max_sems),     offsetof(struct core_config, max_sessions),
    offsetof(struct core_config, max_opens),    offsetof(struct core_config, max_waiters),
    offsetof(struct core_config, max_long_names),
};

static void set_field(struct core_config *cfg, size_t off, uint32_t v)
{
    memcpy((char *)cfg + off, &v, sizeof v);
}

static void arena_size_rejects_null_config(void **state)
{
    (void)state;
    assert_int_equal(core_arena_size(NULL), 0);
}

static void arena_size_rejects_zero_sizes(void **state)
{
    (void)state;
    /* every table but the long-name pool must be non-empty */
    for (size_t i = 0; i < 4; i++) {
        struct core_config cfg = default_cfg;
        set_field(&cfg, cfg_fields[i], 0);
        assert_int_equal(core_arena_size(&cfg), 0);
    }
    struct core_config all_zero;
    memset(&all_zero, 0, sizeof all_zero);
    assert_int_equal(core_arena_size(&all_zero), 0);
}

static void arena_size_rejects_sizes_above_2_24(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cfg_fields / sizeof cfg_fields[0]; i++) {
        struct core_config cfg = default_cfg;
        set_field(&cfg, cfg_fields[i], (1u << 24) + 1);
        assert_int_equal(core_arena_size(&cfg), 0);
        set_field(&cfg, cfg_fields[i], UINT32_MAX);
        assert_int_equal(core_arena_size(&cfg), 0);
    }
}

static void arena_size_accepts_limits(void **state)
{
    (void)state;
    struct core_config cfg = default_cfg;
    cfg.max_long_names = 0;
    uint64_t small = core_arena_size(&cfg);
    assert_true(small > 0);
    assert_int_equal(small % 64, 0);
    for (size_t i = 0; i < sizeof cfg_fields / sizeof cfg_fields[0]; i++)
        set_field(&cfg, cfg_fields[i], 1u << 24);
    uint64_t big = core_arena_size(&cfg);
    assert_true(big > small);
    assert_int_equal(big % 64, 0);
}

static void init_rejects_unaligned_arena(void **state)
{
    (void)state;
    uint64_t n = core_arena_size(&default_cfg);
    unsigned char *mem = aligned_alloc(64, n + 64);
    assert_non_null(mem);
    static const unsigned offs[] = {1, 4, 8, 16, 32, 63};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        assert_null(core_init(mem + offs[i], n, &default_cfg));
    assert_non_null(core_init(mem + 64, n, &default_cfg));
    free(mem);
}

static void init_rejects_too_small_arena(void **state)
{
    (void)state;
    uint64_t n = core_arena_size(&default_cfg);
    void *mem = aligned_alloc(64, n);
    assert_non_null(mem);
    assert_null(core_init(mem, 0, &default_cfg));
    assert_null(core_init(mem, 64, &default_cfg));
    assert_null(core_init(mem, n - 1, &default_cfg));
    /* an arena sized for a smaller config is too small for a bigger one */
    struct core_config bigger = default_cfg;
    bigger.max_sems *= 2;
    assert_null(core_init(mem, n, &bigger));
    assert_non_null(core_init(mem, n, &default_cfg));
    free(mem);
}

static void init_rejects_null_arena_and_bad_config(void **state)
{
    (void)state;
    uint64_t n = core_arena_size(&default_cfg);
    void *mem = aligned_alloc(64, n);
    assert_non_null(mem);
    struct core_config bad = default_cfg;
    bad.max_waiters = 0;
    assert_null(core_init(NULL, n, &default_cfg));
    assert_null(core_init(mem, n, NULL));
    assert_null(core_init(mem, n, &bad));
    free(mem);
}

/* ---- core_ecall dispatch ---- */


static void ecall_rejects_unknown_call(void **state)
{
    struct core *c = core_of(state);
    union any_args u;
    memset(&u, 0, sizeof u);
    static const uint32_t calls[] = {CORE_ECALL_MAX_, CORE_ECALL_MAX_ + 1, 1000,
                                     0x7fffffffu, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        assert_status(core_ecall(c, calls[i], &u, sizeof(struct core_stats_args)),
                      CORE_E_BADCALL);
        assert_status(core_ecall(c, calls[i], &u, 8), CORE_E_BADCALL);
    }
}

static void ecall_rejects_call_zero(void **state)
{
    struct core *c = core_of(state);
    union any_args u;
    memset(&u, 0, sizeof u);
    assert_status(core_ecall(c, 0, &u, 0), CORE_E_BADCALL);
    assert_status(core_ecall(c, 0, &u, 8), CORE_E_BADCALL);
    assert_status(core_ecall(c, 0, &u, sizeof u), CORE_E_BADCALL);
}

static void ecall_rejects_null_args(void **state)
{
    struct core *c = core_of(state);
    for (uint32_t call = 1; call < CORE_ECALL_MAX_; call++)
        assert_status(core_ecall(c, call, NULL, call_size[call]), CORE_E_BADCALL);
}

static void ecall_rejects_wrong_args_size(void **state)
{
    struct core *c = core_of(state);
    union any_args u;
    memset(&u, 0, sizeof u);
    for (uint32_t call = 1; call < CORE_ECALL_MAX_; call++) {
        const uint64_t n = call_size[call];
        if (call >= CORE_ECALL_SYSV_GET && call <= CORE_ECALL_SYSV_CTL) {
            /* request-only calls: no direct form, whatever the size */
            assert_int_equal(n, 0);
            assert_status(core_ecall(c, call, &u, 0), CORE_E_BADCALL);
            assert_status(core_ecall(c, call, &u, sizeof(struct core_request_args)),
                          CORE_E_BADCALL);
            continue;
        }
        assert_true(n > 0 && n <= sizeof u);
        assert_status(core_ecall(c, call, &u, 0), CORE_E_BADCALL);
        assert_status(core_ecall(c, call, &u, n - 1), CORE_E_BADCALL);
        assert_status(core_ecall(c, call, &u, n + 1), CORE_E_BADCALL);
        assert_status(core_ecall(c, call, &u, n + 8), CORE_E_BADCALL);
        assert_status(core_ecall(c, call, &u, UINT64_MAX), CORE_E_BADCALL);
    }
    assert_nothing_in_use(c);
}

static void ecall_rejects_null_or_uninitialised_core(void **state)
{
    (void)state;
    struct core_stats_args a;
    assert_status(core_ecall(NULL, CORE_ECALL_STATS, &a, sizeof a), CORE_E_BADCALL);
    uint64_t n = core_arena_size(&default_cfg);
    void *mem = aligned_alloc(64, n);
    assert_non_null(mem);
    memset(mem, 0, n);
    assert_status(core_ecall(mem, CORE_ECALL_STATS, &a, sizeof a), CORE_E_BADCALL);
    free(mem);
}

static void ecall_counts_ok_and_refused(void **state)
{
    struct core *c = core_of(state);
    struct core_stats before = stats(c);
    assert_status(core_ecall(c, 0, NULL, 0), CORE_E_BADCALL);
    assert_status(close_session(c, 0), CORE_E_SESSION);
    assert_status(close_session(c, 0), CORE_E_SESSION);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    (void)s;
    struct core_stats after = stats(c);
    assert_int_equal(after.refused[-CORE_E_BADCALL], before.refused[-CORE_E_BADCALL] + 1);
    assert_int_equal(after.refused[-CORE_E_SESSION], before.refused[-CORE_E_SESSION] + 2);
    /* the STATS call that produced `before` counts as ok too */
    assert_int_equal(after.ops_ok, before.ops_ok + 2);
    assert_true(after.arena_bytes == core_arena_size(&default_cfg));
    assert_true(after.sem_bytes > 0 && after.sem_bytes <= 256);
    assert_int_equal(after.max_sems, default_cfg.max_sems);
    assert_int_equal(after.max_sessions, default_cfg.max_sessions);
    assert_int_equal(after.max_opens, default_cfg.max_opens);
    assert_int_equal(after.max_waiters, default_cfg.max_waiters);
}

static void strerror_covers_every_status(void **state)
{
    (void)state;
    const char *seen[-CORE_E_MIN + 4];
    int n = 0;
    for (int32_t st = CORE_E_MIN; st <= CORE_RETRY; st++) {
        const char *m = core_strerror(st);
        assert_non_null(m);
        assert_true(m[0] != '\0');
        assert_string_not_equal(m, "unknown status");
        for (int i = 0; i < n; i++)
            assert_string_not_equal(m, seen[i]);
        seen[n++] = m;
    }
    static const int32_t unknown[] = {CORE_RETRY + 1, CORE_E_MIN - 1, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_string_equal(core_strerror(unknown[i]), "unknown status");
}

/* ---- core_resume: the state of a core handed to a new daemon ---- */

/* The arena moved to another address (another process's mapping): a copy,
 * and the old one poisoned so no pointer into it can be followed unseen. */
static struct core *moved(struct fixture *f, void **copy, uint64_t *n)
{
    *n = core_arena_size(&default_cfg);
    *copy = aligned_alloc(64, *n);
    assert_non_null(*copy);
    memcpy(*copy, f->arena, *n);
    memset(f->arena, 0x5a, *n);
    return core_resume(*copy, *n, NULL);
}

static void resume_keeps_values_sessions_and_queued_waiters(void **state)
{
    struct fixture *f = *state;
    struct core *c = f->c;
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    core_id_t h = fx_open(c, a, "resumed", CORE_O_CREAT, 0600, 0);
    core_id_t hb = fx_open(c, b, "resumed", 0, 0, 0);
    core_id_t h2 = fx_open(c, a, "counter", CORE_O_CREAT, 0600, 3);
    assert_status(fx_wait(c, b, hb, 5, 77, 0, 0), CORE_QUEUED); /* b sleeps */
    void *copy;
    uint64_t n;
    struct core *r = moved(f, &copy, &n);
    assert_non_null(r);
    assert_ptr_equal(r, copy);
    /* the queued wait is still there: a post now wakes b, slot 5, seq 77 */
    struct core_wake w;
    assert_status(fx_post(r, a, h, &w), CORE_OK);
    assert_int_equal(w.session, b);
    assert_int_equal(w.slot, 5);
    assert_int_equal(w.seq, 77);
    assert_int_equal(fx_info(r, h2).value, 3);
    /* names, opens and sessions are found again (hash chains are indices) */
    assert_int_equal(fx_open(r, a, "counter", 0, 0, 0), h2);
    core_id_t c2 = fx_session(r, 12, 1000);
    assert_int_not_equal(c2, 0);
    assert_status(fx_close_session(r, a, NULL), CORE_OK);
    struct core_stats_args sa;
    assert_status(CALL(r, CORE_ECALL_STATS, sa), CORE_OK);
    assert_int_equal(sa.stats.sessions_in_use, 2);
    free(f->arena);
    f->arena = copy; /* the teardown frees it */
    f->c = r;
}

static void resume_refuses_what_is_not_a_core_of_this_layout(void **state)
{
    struct fixture *f = *state;
    struct core_config cfg = default_cfg, got;
    uint64_t n = core_arena_size(&cfg);
    assert_null(core_resume(NULL, n, NULL));
    assert_null(core_resume((char *)f->arena + 8, n - 64, NULL)); /* unaligned */
    assert_null(core_resume(f->arena, n - 64, NULL));              /* cut short */
    assert_null(core_resume(f->arena, 16, NULL));
    assert_non_null(core_resume(f->arena, n, &got));
    assert_int_equal(got.max_sems, cfg.max_sems);
    assert_int_equal(got.max_sessions, cfg.max_sessions);
    uint32_t *word = f->arena;
    word[1] ^= 0x100; /* another layout version */
    assert_null(core_resume(f->arena, n, NULL));
    word[1] ^= 0x100;
    word[0] ^= 1; /* not a core at all */
    assert_null(core_resume(f->arena, n, NULL));
    word[0] ^= 1;
    assert_non_null(core_resume(f->arena, n, NULL));
    void *zeros = aligned_alloc(64, n);
    assert_non_null(zeros);
    memset(zeros, 0, n);
    assert_null(core_resume(zeros, n, NULL));
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(arena_size_rejects_null_config),
        T(arena_size_rejects_zero_sizes),
        T(arena_size_rejects_sizes_above_2_24),
        T(arena_size_accepts_limits),
        T(init_rejects_unaligned_arena),
        T(init_rejects_too_small_arena),
        T(init_rejects_null_arena_and_bad_config),
        T(ecall_rejects_unknown_call),
        T(ecall_rejects_call_zero),
        T(ecall_rejects_null_args),
        T(ecall_rejects_wrong_args_size),
        T(ecall_rejects_null_or_uninitialised_core),
        T(ecall_counts_ok_and_refused),
        T(strerror_covers_every_status),
        T(resume_keeps_values_sessions_and_queued_waiters),
        T(resume_refuses_what_is_not_a_core_of_this_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
