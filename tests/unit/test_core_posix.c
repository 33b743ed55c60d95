/*
 * Unit tests of the trusted core: the POSIX operations: named open, handles, post/wait/trywait, cancel, unlink, anonymous semaphores, close.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- named open ---- */

static void sem_open_creates_then_opens_existing(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "a", 0600, 3);
    assert_int_equal(value_of(c, s1, h), 3);

    core_id_t h2 = 0;
    uint32_t created = 7;
    /* O_CREAT on an existing name opens it; the value argument is ignored */
    assert_status(sem_open_raw(c, s2, "a", 1, CORE_O_CREAT, 0600, 9, &h2, &created), CORE_OK);
    assert_int_equal(created, 0);
    assert_true(h2 == h);
    assert_status(sem_open_raw(c, s2, "a", 1, 0, 0, 0, &h2, &created), CORE_OK);
    assert_int_equal(created, 0);
    assert_true(h2 == h);
    assert_int_equal(value_of(c, s2, h), 3);
    assert_int_equal(info_of(c, h).open_count, 3);
}

static void sem_open_excl_on_existing_is_exist(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    create_named(c, s, "e", 0600, 0);
    assert_status(open_sem(c, s, "e", CORE_O_CREAT | CORE_O_EXCL, 0600, 0, NULL), CORE_E_EXIST);
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 1);
    assert_int_equal(st.opens_in_use, 1);
}

static void sem_open_missing_without_creat_is_noent(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(open_sem(c, s, "missing", 0, 0600, 0, NULL), CORE_E_NOENT);
    assert_status(open_sem(c, s, "missing", CORE_O_EXCL, 0600, 0, NULL), CORE_E_NOENT);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void sem_open_value_above_max_is_inval(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(open_sem(c, s, "v", CORE_O_CREAT, 0600, CORE_SEM_VALUE_MAX + 1, NULL),
                  CORE_E_INVAL);
    assert_status(open_sem(c, s, "v", CORE_O_CREAT, 0600, UINT32_MAX, NULL), CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
    core_id_t h = create_named(c, s, "v", 0600, CORE_SEM_VALUE_MAX);
    assert_int_equal(value_of(c, s, h), CORE_SEM_VALUE_MAX);
}

static void sem_open_rejects_unknown_oflag_bits(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    /* 0x4 is CORE_O_STRICT, 0x8 CORE_O_FIFO; the first bit the core does
     * not know is 0x10 */
    assert_status(open_sem(c, s, "o", CORE_O_CREAT | 0x10u, 0600, 0, NULL), CORE_E_INVAL);
    assert_status(open_sem(c, s, "o", CORE_O_CREAT | CORE_O_STRICT | 0x10u, 0600, 0, NULL),
                  CORE_E_INVAL);
    assert_status(open_sem(c, s, "o", 0x80000000u, 0600, 0, NULL), CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void sem_open_rejects_mode_above_07777(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(open_sem(c, s, "m", CORE_O_CREAT, 010000, 0, NULL), CORE_E_INVAL);
    assert_status(open_sem(c, s, "m", CORE_O_CREAT, UINT32_MAX, 0, NULL), CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
    /* special bits are accepted and dropped */
    core_id_t h = create_named(c, s, "m", 07777, 0);
    assert_int_equal(info_of(c, h).mode, 0777);
}

static void sem_open_rejects_empty_name(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(sem_open_raw(c, s, "", 0, CORE_O_CREAT, 0600, 0, NULL, NULL), CORE_E_INVAL);
}

static void sem_open_rejects_slash_in_name(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    static const char *const bad[] = {"/", "/a", "a/", "a/b", "//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_status(open_sem(c, s, bad[i], CORE_O_CREAT, 0600, 0, NULL), CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void sem_open_rejects_nul_in_name(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(sem_open_raw(c, s, "\0", 1, CORE_O_CREAT, 0600, 0, NULL, NULL), CORE_E_INVAL);
    assert_status(sem_open_raw(c, s, "a\0b", 3, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_INVAL);
    assert_status(sem_open_raw(c, s, "ab\0", 3, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void sem_open_rejects_dot_and_dotdot(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(open_sem(c, s, ".", CORE_O_CREAT, 0600, 0, NULL), CORE_E_INVAL);
    assert_status(open_sem(c, s, "..", CORE_O_CREAT, 0600, 0, NULL), CORE_E_INVAL);
    /* only exactly "." and ".." are special */
    create_named(c, s, "...", 0600, 0);
    create_named(c, s, ".a", 0600, 0);
    create_named(c, s, "a.", 0600, 0);
    assert_int_equal(stats(c).sems_in_use, 3);
}

static void sem_open_name_of_252_is_nametoolong(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    char name[CORE_NAME_MAX + 1];
    long_name(name, sizeof name, 'z');
    assert_status(sem_open_raw(c, s, name, CORE_NAME_MAX + 1, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NAMETOOLONG);
    /* lengths beyond the name buffer must be refused without reading past it */
    assert_status(sem_open_raw(c, s, name, CORE_NAME_MAX + 2, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NAMETOOLONG);
    assert_status(sem_open_raw(c, s, name, UINT32_MAX, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NAMETOOLONG);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void sem_open_name_of_251_works(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    char n1[CORE_NAME_MAX], n2[CORE_NAME_MAX];
    long_name(n1, CORE_NAME_MAX, '1');
    long_name(n2, CORE_NAME_MAX, '2');
    core_id_t h1, h2, again;
    assert_status(sem_open_raw(c, s, n1, CORE_NAME_MAX, CORE_O_CREAT, 0600, 1, &h1, NULL),
                  CORE_OK);
    assert_status(sem_open_raw(c, s, n2, CORE_NAME_MAX, CORE_O_CREAT, 0600, 2, &h2, NULL),
                  CORE_OK);
    assert_true(h1 != h2);
    assert_status(sem_open_raw(c, s, n1, CORE_NAME_MAX, 0, 0, 0, &again, NULL), CORE_OK);
    assert_true(again == h1);
    struct core_sem_info i = info_of(c, h1);
    assert_int_equal(i.name_len, CORE_NAME_MAX);
    assert_memory_equal(i.name, n1, CORE_NAME_MAX);
    assert_int_equal(value_of(c, s, h2), 2);
}

static void sem_open_inline_boundary_names_work(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    /* 63 bytes is the longest inline name, 64 the shortest pooled one */
    char n63[CORE_INLINE_NAME - 1], n64[CORE_INLINE_NAME];
    long_name(n63, sizeof n63, 'x');
    long_name(n64, sizeof n64, 'y');
    core_id_t h63, h64, again;
    assert_status(sem_open_raw(c, s, n63, sizeof n63, CORE_O_CREAT, 0600, 63, &h63, NULL),
                  CORE_OK);
    assert_status(sem_open_raw(c, s, n64, sizeof n64, CORE_O_CREAT, 0600, 64, &h64, NULL),
                  CORE_OK);
    assert_true(h63 != h64);
    assert_status(sem_open_raw(c, s, n63, sizeof n63, 0, 0, 0, &again, NULL), CORE_OK);
    assert_true(again == h63);
    assert_status(sem_open_raw(c, s, n64, sizeof n64, 0, 0, 0, &again, NULL), CORE_OK);
    assert_true(again == h64);
    assert_int_equal(value_of(c, s, h63), 63);
    assert_int_equal(value_of(c, s, h64), 64);
    struct core_sem_info i = info_of(c, h64);
    assert_int_equal(i.name_len, sizeof n64);
    assert_memory_equal(i.name, n64, sizeof n64);
    i = info_of(c, h63);
    assert_int_equal(i.name_len, sizeof n63);
    assert_memory_equal(i.name, n63, sizeof n63);
}

static void sem_open_64_byte_name_needs_long_pool(void **state)
{
    struct core_config cfg = default_cfg;
    cfg.max_long_names = 0;
    struct core *c = reinit(state, &cfg);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    char n[CORE_NAME_MAX];
    long_name(n, sizeof n, 'q');
    assert_status(sem_open_raw(c, s, n, CORE_INLINE_NAME - 1, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_OK);
    assert_status(sem_open_raw(c, s, n, CORE_INLINE_NAME, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NOSPC);
    assert_status(sem_open_raw(c, s, n, CORE_NAME_MAX, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NOSPC);
    assert_int_equal(stats(c).sems_in_use, 1);
}

static void long_name_pool_full_is_nospc(void **state)
{
    struct core *c = core_of(state); /* the default pool holds 2 long names */
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    char n1[100], n2[100], n3[100];
    long_name(n1, sizeof n1, '1');
    long_name(n2, sizeof n2, '2');
    long_name(n3, sizeof n3, '3');
    core_id_t h1;
    assert_status(sem_open_raw(c, s, n1, sizeof n1, CORE_O_CREAT, 0600, 0, &h1, NULL), CORE_OK);
    assert_status(sem_open_raw(c, s, n2, sizeof n2, CORE_O_CREAT, 0600, 0, NULL, NULL), CORE_OK);
    assert_status(sem_open_raw(c, s, n3, sizeof n3, CORE_O_CREAT, 0600, 0, NULL, NULL),
                  CORE_E_NOSPC);
    assert_int_equal(stats(c).sems_in_use, 2);
    create_named(c, s, "short", 0600, 0); /* inline names are unaffected */

    /* freeing a pooled semaphore returns its name slot */
    assert_status(unlink_raw(c, s, n1, sizeof n1), CORE_OK);
    assert_status(close_sem(c, s, h1), CORE_OK);
    assert_status(sem_open_raw(c, s, n3, sizeof n3, CORE_O_CREAT, 0600, 0, NULL, NULL), CORE_OK);
}

/* ---- handles ---- */

static void handle_forged_is_refused(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 1);
    const core_id_t forged[] = {
        0,
        UINT64_MAX,
        MKID(GEN_OF(h), 0),
        MKID(GEN_OF(h), default_cfg.max_sems + 1),
        MKID(GEN_OF(h), UINT32_MAX),
        MKID(GEN_OF(h) + 1, SLOT_OF(h)),
        MKID(0, SLOT_OF(h)),
        MKID(GEN_OF(h), SLOT_OF(h) + 1), /* a free slot */
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        core_id_t f = forged[i];
        assert_status(getvalue(c, s, f, NULL), CORE_E_HANDLE);
        assert_status(post(c, s, f, NULL), CORE_E_HANDLE);
        assert_status(wait_on(c, s, f, 0, 0), CORE_E_HANDLE);
        assert_status(trywait(c, s, f), CORE_E_HANDLE);
        assert_status(close_sem(c, s, f), CORE_E_HANDLE);
        assert_status(destroy(c, s, f), CORE_E_HANDLE);
    }
    assert_int_equal(value_of(c, s, h), 1);
}

static void handle_stale_after_free_and_slot_reuse(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t old = create_anon(c, s, 5);
    assert_status(destroy(c, s, old), CORE_OK);
    core_id_t cur = create_anon(c, s, 7);
    assert_int_equal(SLOT_OF(old), SLOT_OF(cur));
    assert_true(old != cur);
    assert_status(getvalue(c, s, old, NULL), CORE_E_HANDLE);
    assert_status(post(c, s, old, NULL), CORE_E_HANDLE);
    assert_status(close_sem(c, s, old), CORE_E_HANDLE);
    assert_int_equal(value_of(c, s, cur), 7);
}

static void handle_not_opened_by_session_is_notopen(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t named = create_named(c, s1, "x", 0666, 1);
    core_id_t anon = create_anon(c, s1, 1);
    const core_id_t hs[] = {named, anon};
    for (size_t i = 0; i < 2; i++) {
        assert_status(getvalue(c, s2, hs[i], NULL), CORE_E_NOTOPEN);
        assert_status(post(c, s2, hs[i], NULL), CORE_E_NOTOPEN);
        assert_status(wait_on(c, s2, hs[i], 0, 0), CORE_E_NOTOPEN);
        assert_status(trywait(c, s2, hs[i]), CORE_E_NOTOPEN);
        assert_status(close_sem(c, s2, hs[i]), CORE_E_NOTOPEN);
        assert_status(destroy(c, s2, hs[i]), CORE_E_NOTOPEN);
        assert_int_equal(value_of(c, s1, hs[i]), 1);
    }
}

static void sem_close_twice_is_notopen(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "d", 0600, 0);
    assert_status(close_sem(c, s, h), CORE_OK);
    assert_status(close_sem(c, s, h), CORE_E_NOTOPEN);
}

/* ---- post / wait / trywait ---- */

static void post_raises_value_and_trywait_takes(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    for (int i = 0; i < 3; i++)
        post_no_wake(c, s, h);
    assert_int_equal(value_of(c, s, h), 3);
    for (int i = 0; i < 3; i++)
        assert_status(trywait(c, s, h), CORE_OK);
    assert_int_equal(value_of(c, s, h), 0);
}

static void trywait_on_zero_is_again(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(trywait(c, s, h), CORE_E_AGAIN);
    assert_int_equal(value_of(c, s, h), 0);
    assert_int_equal(stats(c).waiters_in_use, 0);
}

static void post_at_value_max_is_overflow(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, CORE_SEM_VALUE_MAX);
    assert_status(post(c, s, h, NULL), CORE_E_OVERFLOW);
    assert_int_equal(value_of(c, s, h), CORE_SEM_VALUE_MAX);
    assert_status(trywait(c, s, h), CORE_OK);
    post_no_wake(c, s, h);
    assert_status(post(c, s, h, NULL), CORE_E_OVERFLOW);
}

static void wait_with_permit_does_not_queue(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 1);
    assert_status(wait_on(c, s, h, 1, 0), CORE_OK);
    assert_int_equal(value_of(c, s, h), 0);
    assert_int_equal(stats(c).waiters_in_use, 0);
}

static void wait_without_permit_is_queued(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED);
    assert_int_equal(info_of(c, h).nwaiters, 1);
    assert_int_equal(stats(c).waiters_in_use, 1);
    assert_int_equal(value_of(c, s, h), 0);
}

static void wait_twice_on_same_slot_is_busy(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "w", 0600, 0);
    core_id_t other = create_anon(c, s1, 0);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    assert_true(reopen(c, s2, "w") == h);

    assert_status(wait_on(c, s1, h, 4, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, h, 4, 0), CORE_E_BUSY);
    assert_status(wait_on(c, s1, other, 4, 0), CORE_E_BUSY); /* a slot is one thread */
    assert_status(wait_on(c, s1, h, 5, 0), CORE_QUEUED);
    assert_status(wait_on(c, s2, h, 4, 0), CORE_QUEUED); /* slots are per session */
    assert_int_equal(info_of(c, h).nwaiters, 3);
}

static void post_hands_permit_to_waiter(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "h", 0600, 0);
    assert_true(reopen(c, s2, "h") == h);
    assert_status(wait_on(c, s1, h, 7, 0), CORE_QUEUED);
    post_wakes(c, s2, h, s1, 7);
    /* the permit went to the waiter, not into the value */
    assert_int_equal(value_of(c, s1, h), 0);
    assert_status(trywait(c, s2, h), CORE_E_AGAIN);
    struct core_session_info_args i;
    assert_status(session_info(c, s1, &i), CORE_OK);
    assert_int_equal(i.nwaiters, 0);
    /* the slot is free again */
    assert_status(wait_on(c, s1, h, 7, 0), CORE_QUEUED);
}

static void post_without_waiter_clears_wake(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    struct core_wake w;
    assert_status(post(c, s, h, &w), CORE_OK);
    assert_int_equal(w.valid, 0);
    assert_true(w.session == 0);
    assert_int_equal(w.slot, 0);
    /* a refused post also leaves no wake behind */
    assert_status(post(c, s, 0, &w), CORE_E_HANDLE);
    assert_int_equal(w.valid, 0);
}

static void waiters_released_in_arrival_order(void **state)
{
    struct core *c = core_of(state);
    core_id_t s[3];
    for (uint32_t i = 0; i < 3; i++)
        s[i] = open_session(c, i + 1, UID_A, GID_A);
    core_id_t h = create_named(c, s[0], "fifo", 0600, 0);
    reopen(c, s[1], "fifo");
    reopen(c, s[2], "fifo");
    const struct { int sess; uint32_t slot; } order[] = {
        {0, 1}, {1, 1}, {0, 2}, {2, 5}, {1, 2}, {2, 0},
    };
    const size_t n = sizeof order / sizeof order[0];
    for (size_t i = 0; i < n; i++)
        assert_status(wait_on(c, s[order[i].sess], h, order[i].slot, 0), CORE_QUEUED);
    for (size_t i = 0; i < n; i++)
        post_wakes(c, s[2], h, s[order[i].sess], order[i].slot);
    post_no_wake(c, s[2], h);
    assert_int_equal(value_of(c, s[0], h), 1);
}

static void waiters_released_by_priority_then_arrival(void **state)
{
    struct core *c = core_of(state);
    core_id_t s[3];
    for (uint32_t i = 0; i < 3; i++)
        s[i] = open_session(c, i + 1, UID_A, GID_A);
    core_id_t h = create_named(c, s[0], "prio", 0600, 0);
    reopen(c, s[1], "prio");
    reopen(c, s[2], "prio");
    const struct { int sess; uint32_t slot; int32_t prio; } arrive[] = {
        {0, 1, 0}, {1, 1, 5}, {2, 1, 5}, {0, 2, -3}, {1, 2, 10},
        {2, 2, 0}, {0, 3, INT32_MIN}, {1, 3, INT32_MAX}, {2, 3, 5},
    };
    /* indices into arrive[], in the order posts must release them */
    const int release[] = {7, 4, 1, 2, 8, 0, 5, 3, 6};
    const size_t n = sizeof arrive / sizeof arrive[0];
    for (size_t i = 0; i < n; i++)
        assert_status(wait_on(c, s[arrive[i].sess], h, arrive[i].slot, arrive[i].prio),
                      CORE_QUEUED);

    struct core_sem_member_args m[16];
    assert_int_equal(members(c, CORE_ECALL_SEM_WAITERS, h, m, 16), n);
    for (size_t i = 0; i < n; i++) {
        assert_true(m[i].session == s[arrive[release[i]].sess]);
        assert_int_equal(m[i].count, arrive[release[i]].slot);
        assert_int_equal(m[i].prio, arrive[release[i]].prio);
    }
    for (size_t i = 0; i < n; i++)
        post_wakes(c, s[0], h, s[arrive[release[i]].sess], arrive[release[i]].slot);
    post_no_wake(c, s[0], h);
}

static void wait_rejects_unknown_flags(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 1);
    assert_status(wait_raw(c, s, h, 0, 0x2, 0), CORE_E_INVAL);
    assert_status(wait_raw(c, s, h, 0, UINT32_MAX, 0), CORE_E_INVAL);
    assert_int_equal(value_of(c, s, h), 1);
}

static void waiter_table_full_is_nospc(void **state)
{
    struct core_config cfg = default_cfg;
    cfg.max_waiters = 2;
    struct core *c = reinit(state, &cfg);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s, h, 2, 0), CORE_QUEUED);
    assert_status(wait_on(c, s, h, 3, 0), CORE_E_NOSPC);
    assert_status(cancel(c, s, 1), CORE_OK);
    assert_status(wait_on(c, s, h, 3, 0), CORE_QUEUED);
    post_wakes(c, s, h, s, 2);
    post_wakes(c, s, h, s, 3);
}

/* ---- cancel ---- */

static void cancel_queued_waiter_then_post_raises_value(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(wait_on(c, s, h, 3, 0), CORE_QUEUED);
    assert_status(cancel(c, s, 3), CORE_OK);
    assert_int_equal(info_of(c, h).nwaiters, 0);
    post_no_wake(c, s, h);
    assert_int_equal(value_of(c, s, h), 1);
    assert_int_equal(info_of(c, h).cancels, 1);
}

static void cancel_after_grant_is_nowaiter_and_keeps_one_permit(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "race", 0600, 0);
    reopen(c, s2, "race");
    assert_status(wait_on(c, s1, h, 3, 0), CORE_QUEUED);
    post_wakes(c, s2, h, s1, 3);
    /* the timeout fired after the grant: the caller owns the permit */
    assert_status(cancel(c, s1, 3), CORE_E_NOWAITER);
    assert_int_equal(value_of(c, s1, h), 0);
    assert_status(trywait(c, s2, h), CORE_E_AGAIN);
}

static void cancel_without_wait_is_nowaiter(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(cancel(c, s, 0), CORE_E_NOWAITER);
    assert_status(cancel(c, s, UINT32_MAX), CORE_E_NOWAITER);
}

static void cancel_only_touches_own_session(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "own", 0600, 0);
    reopen(c, s2, "own");
    assert_status(wait_on(c, s1, h, 3, 0), CORE_QUEUED);
    assert_status(cancel(c, s2, 3), CORE_E_NOWAITER);
    post_wakes(c, s2, h, s1, 3);
}

/* ---- unlink ---- */

static void unlink_while_open_frees_the_name_at_once(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t old = create_named(c, s, "n", 0600, 5);
    assert_status(unlink_name(c, s, "n"), CORE_OK);
    assert_status(open_sem(c, s, "n", 0, 0, 0, NULL), CORE_E_NOENT);
    core_id_t cur = create_named(c, s, "n", 0600, 1);
    assert_true(cur != old);
    post_no_wake(c, s, old);
    assert_int_equal(value_of(c, s, old), 6);
    assert_int_equal(value_of(c, s, cur), 1);
    struct core_sem_info i = info_of(c, old);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED | CORE_SEMF_UNLINKED);
    assert_int_equal(info_of(c, cur).flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED);
}

static void unlinked_sem_freed_at_last_close(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "u", 0600, 2);
    reopen(c, s2, "u");
    reopen(c, s2, "u");
    assert_status(unlink_name(c, s1, "u"), CORE_OK);
    assert_status(close_sem(c, s1, h), CORE_OK);
    assert_status(close_sem(c, s2, h), CORE_OK);
    assert_int_equal(value_of(c, s2, h), 2); /* s2 still holds one reference */
    assert_status(close_sem(c, s2, h), CORE_OK);
    assert_false(sem_info_of(c, h, NULL));
    assert_status(getvalue(c, s2, h, NULL), CORE_E_HANDLE);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void unlink_without_opens_frees_at_once(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "z", 0600, 0);
    assert_status(close_sem(c, s, h), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 1);
    assert_status(unlink_name(c, s, "z"), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void unlink_by_other_uid_is_acces(void **state)
{
    struct core *c = core_of(state);
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    core_id_t other = open_session(c, 2, UID_B, GID_A);
    core_id_t root = open_session(c, 3, 0, 0);
    create_named(c, owner, "k", 0666, 0);
    reopen(c, other, "k"); /* being allowed to open is not enough */
    assert_status(unlink_name(c, other, "k"), CORE_E_ACCES);
    reopen(c, owner, "k");
    assert_status(unlink_name(c, root, "k"), CORE_OK);
    assert_status(open_sem(c, owner, "k", 0, 0, 0, NULL), CORE_E_NOENT);
}

static void unlink_missing_is_noent(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(unlink_name(c, s, "nope"), CORE_E_NOENT);
    create_named(c, s, "once", 0600, 0);
    assert_status(unlink_name(c, s, "once"), CORE_OK);
    assert_status(unlink_name(c, s, "once"), CORE_E_NOENT);
}

static void unlink_rejects_bad_names(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    char big[CORE_NAME_MAX + 1];
    long_name(big, sizeof big, 'b');
    assert_status(unlink_raw(c, s, "", 0), CORE_E_INVAL);
    assert_status(unlink_name(c, s, "."), CORE_E_INVAL);
    assert_status(unlink_name(c, s, ".."), CORE_E_INVAL);
    assert_status(unlink_name(c, s, "a/b"), CORE_E_INVAL);
    assert_status(unlink_raw(c, s, "a\0", 2), CORE_E_INVAL);
    assert_status(unlink_raw(c, s, big, sizeof big), CORE_E_NAMETOOLONG);
    assert_status(unlink_raw(c, s, big, UINT32_MAX), CORE_E_NAMETOOLONG);
}

static void named_sem_persists_without_opens(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "keep", 0600, 0);
    post_no_wake(c, s1, h);
    post_no_wake(c, s1, h);
    assert_status(close_session(c, s1), CORE_OK);
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 1);
    assert_int_equal(st.opens_in_use, 0);
    assert_int_equal(info_of(c, h).open_count, 0);

    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    assert_true(reopen(c, s2, "keep") == h);
    assert_int_equal(value_of(c, s2, h), 2);
}

/* ---- anonymous semaphores ---- */

static void sem_create_makes_anonymous(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 4);
    assert_int_equal(value_of(c, s, h), 4);
    struct core_sem_info i = info_of(c, h);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_ANON);
    assert_int_equal(i.name_len, 0);
    assert_int_equal(i.uid, UID_A);
    assert_int_equal(i.gid, GID_A);
    assert_int_equal(i.open_count, 1);
    /* anonymous semaphores have no name to find */
    assert_status(unlink_raw(c, s, "x", 1), CORE_E_NOENT);
}

static void sem_create_value_above_max_is_inval(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(create_anon_r(c, s, CORE_SEM_VALUE_MAX + 1, NULL), CORE_E_INVAL);
    assert_status(create_anon_r(c, s, UINT32_MAX, NULL), CORE_E_INVAL);
    assert_int_equal(stats(c).sems_in_use, 0);
    core_id_t h = create_anon(c, s, CORE_SEM_VALUE_MAX);
    assert_int_equal(value_of(c, s, h), CORE_SEM_VALUE_MAX);
}

static void sem_table_full_is_nospc(void **state)
{
    struct core_config cfg = default_cfg;
    cfg.max_sems = 2;
    struct core *c = reinit(state, &cfg);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    create_named(c, s, "one", 0600, 0);
    assert_status(create_anon_r(c, s, 0, NULL), CORE_E_NOSPC);
    assert_status(open_sem(c, s, "two", CORE_O_CREAT, 0600, 0, NULL), CORE_E_NOSPC);
    assert_status(destroy(c, s, h), CORE_OK);
    create_named(c, s, "two", 0600, 0);
}

static void open_table_full_is_nospc(void **state)
{
    struct core_config cfg = default_cfg;
    cfg.max_opens = 2;
    struct core *c = reinit(state, &cfg);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    create_named(c, s1, "a", 0600, 0);
    create_anon(c, s1, 0);
    assert_status(create_anon_r(c, s1, 0, NULL), CORE_E_NOSPC);
    assert_status(open_sem(c, s1, "b", CORE_O_CREAT, 0600, 0, NULL), CORE_E_NOSPC);
    assert_status(open_sem(c, s2, "a", 0, 0, 0, NULL), CORE_E_NOSPC);
    /* an existing record still counts further opens */
    reopen(c, s1, "a");
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 2);
    assert_int_equal(st.opens_in_use, 2);
}

static void destroy_with_waiters_is_busy(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED);
    assert_status(destroy(c, s, h), CORE_E_BUSY);
    assert_int_equal(value_of(c, s, h), 0);
    assert_status(cancel(c, s, 1), CORE_OK);
    assert_status(destroy(c, s, h), CORE_OK);
}

static void destroy_named_is_inval(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "nd", 0600, 1);
    assert_status(destroy(c, s, h), CORE_E_INVAL);
    assert_int_equal(value_of(c, s, h), 1);
}

static void destroy_makes_every_sessions_handle_stale(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s1, 3);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    assert_status(inherit(c, s2, s1, NULL), CORE_OK);
    assert_int_equal(value_of(c, s2, h), 3);
    assert_status(destroy(c, s1, h), CORE_OK);
    assert_status(getvalue(c, s1, h, NULL), CORE_E_HANDLE);
    assert_status(getvalue(c, s2, h, NULL), CORE_E_HANDLE);
    assert_status(close_sem(c, s2, h), CORE_E_HANDLE);
    struct core_session_info_args i;
    assert_status(session_info(c, s2, &i), CORE_OK);
    assert_int_equal(i.nopens, 0);
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 0);
    assert_int_equal(st.opens_in_use, 0);
}

static void anonymous_freed_at_last_close(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(close_sem(c, s, h), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 0);
    assert_status(getvalue(c, s, h, NULL), CORE_E_HANDLE);
}

static void anonymous_freed_when_last_holding_session_closes(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s1, 0);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    assert_status(inherit(c, s2, s1, NULL), CORE_OK);
    assert_status(close_session(c, s1), CORE_OK);
    assert_int_equal(value_of(c, s2, h), 0);
    assert_status(close_session(c, s2), CORE_OK);
    assert_false(sem_info_of(c, h, NULL));
    assert_nothing_in_use(c);
}

/* ---- close ---- */

static void close_last_reference_with_own_waiter_is_busy(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "cb", 0600, 0);
    reopen(c, s, "cb");
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED);
    assert_status(close_sem(c, s, h), CORE_OK); /* count 2 -> 1 */
    assert_status(close_sem(c, s, h), CORE_E_BUSY);
    assert_int_equal(info_of(c, h).open_count, 1);
    assert_status(cancel(c, s, 1), CORE_OK);
    assert_status(close_sem(c, s, h), CORE_OK);
}

static void close_with_other_sessions_waiter_is_ok(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "co", 0600, 0);
    reopen(c, s2, "co");
    assert_status(wait_on(c, s1, h, 1, 0), CORE_QUEUED);
    assert_status(close_sem(c, s2, h), CORE_OK);
    assert_int_equal(info_of(c, h).nwaiters, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(sem_open_creates_then_opens_existing),
        T(sem_open_excl_on_existing_is_exist),
        T(sem_open_missing_without_creat_is_noent),
        T(sem_open_value_above_max_is_inval),
        T(sem_open_rejects_unknown_oflag_bits),
        T(sem_open_rejects_mode_above_07777),
        T(sem_open_rejects_empty_name),
        T(sem_open_rejects_slash_in_name),
        T(sem_open_rejects_nul_in_name),
        T(sem_open_rejects_dot_and_dotdot),
        T(sem_open_name_of_252_is_nametoolong),
        T(sem_open_name_of_251_works),
        T(sem_open_inline_boundary_names_work),
        T(sem_open_64_byte_name_needs_long_pool),
        T(long_name_pool_full_is_nospc),
        T(handle_forged_is_refused),
        T(handle_stale_after_free_and_slot_reuse),
        T(handle_not_opened_by_session_is_notopen),
        T(sem_close_twice_is_notopen),
        T(post_raises_value_and_trywait_takes),
        T(trywait_on_zero_is_again),
        T(post_at_value_max_is_overflow),
        T(wait_with_permit_does_not_queue),
        T(wait_without_permit_is_queued),
        T(wait_twice_on_same_slot_is_busy),
        T(post_hands_permit_to_waiter),
        T(post_without_waiter_clears_wake),
        T(waiters_released_in_arrival_order),
        T(waiters_released_by_priority_then_arrival),
        T(wait_rejects_unknown_flags),
        T(waiter_table_full_is_nospc),
        T(cancel_queued_waiter_then_post_raises_value),
        T(cancel_after_grant_is_nowaiter_and_keeps_one_permit),
        T(cancel_without_wait_is_nowaiter),
        T(cancel_only_touches_own_session),
        T(unlink_while_open_frees_the_name_at_once),
        T(unlinked_sem_freed_at_last_close),
        T(unlink_without_opens_frees_at_once),
        T(unlink_by_other_uid_is_acces),
        T(unlink_missing_is_noent),
        T(unlink_rejects_bad_names),
        T(named_sem_persists_without_opens),
        T(sem_create_makes_anonymous),
        T(sem_create_value_above_max_is_inval),
        T(sem_table_full_is_nospc),
        T(open_table_full_is_nospc),
        T(destroy_with_waiters_is_busy),
        T(destroy_named_is_inval),
        T(destroy_makes_every_sessions_handle_stale),
        T(anonymous_freed_at_last_close),
        T(anonymous_freed_when_last_holding_session_closes),
        T(close_last_reference_with_own_waiter_is_busy),
        T(close_with_other_sessions_waiter_is_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
