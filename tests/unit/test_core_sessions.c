/*
 * Unit tests of the trusted core: sessions: open, credentials, inheritance across fork, close, and the admin iteration.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- sessions ---- */

static void session_open_info_close(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 42, UID_A, GID_A);
    struct core_session_info_args i;
    assert_status(session_info(c, s, &i), CORE_OK);
    assert_int_equal(i.pid, 42);
    assert_int_equal(i.uid, UID_A);
    assert_int_equal(i.gid, GID_A);
    assert_int_equal(i.nopens, 0);
    assert_int_equal(i.nwaiters, 0);
    assert_int_equal(i.start_time, 1042);
    assert_int_equal(stats(c).sessions_in_use, 1);

    struct core_session_close_args a = {.session = s};
    assert_status(CALL(c, CORE_ECALL_SESSION_CLOSE, a), CORE_OK);
    assert_int_equal(a.waiters_removed, 0);
    assert_int_equal(a.opens_closed, 0);
    assert_status(session_info(c, s, NULL), CORE_E_SESSION);
    assert_nothing_in_use(c);
}

static void session_info_counts_opens_and_waiters(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h1 = create_anon(c, s, 0);
    create_named(c, s, "n", 0600, 0);
    assert_status(wait_on(c, s, h1, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s, h1, 2, 0), CORE_QUEUED);
    struct core_session_info_args i;
    assert_status(session_info(c, s, &i), CORE_OK);
    assert_int_equal(i.nopens, 2);
    assert_int_equal(i.nwaiters, 2);
}

static void session_close_twice_is_refused(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(close_session(c, s), CORE_OK);
    assert_status(close_session(c, s), CORE_E_SESSION);
    assert_int_equal(stats(c).sessions_in_use, 0);
}

static void session_stale_id_refused_after_slot_reuse(void **state)
{
    struct core *c = core_of(state);
    core_id_t old = open_session(c, 1, UID_A, GID_A);
    assert_status(close_session(c, old), CORE_OK);
    core_id_t cur = open_session(c, 2, UID_A, GID_A);
    assert_int_equal(SLOT_OF(old), SLOT_OF(cur)); /* same slot, so only the generation differs */
    assert_true(old != cur);

    assert_status(session_info(c, old, NULL), CORE_E_SESSION);
    assert_status(create_anon_r(c, old, 0, NULL), CORE_E_SESSION);
    assert_status(close_session(c, old), CORE_E_SESSION);
    assert_status(session_info(c, cur, NULL), CORE_OK);
}

static void session_forged_ids_are_refused(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "f", 0666, 1);
    const core_id_t forged[] = {
        0,
        UINT64_MAX,
        MKID(GEN_OF(s), 0),                          /* index -1 */
        MKID(GEN_OF(s), default_cfg.max_sessions + 1), /* one past the table */
        MKID(GEN_OF(s), UINT32_MAX),
        MKID(GEN_OF(s) + 1, SLOT_OF(s)),  /* wrong generation */
        MKID(0, SLOT_OF(s)),
        MKID(GEN_OF(s) | 0x80000000u, SLOT_OF(s)),
        MKID(GEN_OF(s), SLOT_OF(s) + 1),  /* a slot never opened */
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        core_id_t f = forged[i];
        assert_status(session_info(c, f, NULL), CORE_E_SESSION);
        assert_status(create_anon_r(c, f, 0, NULL), CORE_E_SESSION);
        assert_status(open_sem(c, f, "f", 0, 0, 0, NULL), CORE_E_SESSION);
        assert_status(unlink_name(c, f, "f"), CORE_E_SESSION);
        assert_status(getvalue(c, f, h, NULL), CORE_E_SESSION);
        assert_status(post(c, f, h, NULL), CORE_E_SESSION);
        assert_status(wait_on(c, f, h, 0, 0), CORE_E_SESSION);
        assert_status(close_sem(c, f, h), CORE_E_SESSION);
        assert_status(cancel(c, f, 0), CORE_E_SESSION);
        assert_status(inherit(c, f, s, NULL), CORE_E_SESSION);
        assert_status(inherit(c, s, f, NULL), CORE_E_SESSION);
        assert_status(close_session(c, f), CORE_E_SESSION);
    }
    assert_int_equal(value_of(c, s, h), 1);
    struct core_stats st = stats(c);
    assert_int_equal(st.sessions_in_use, 1);
    assert_int_equal(st.opens_in_use, 1);
}

static void session_open_rejects_too_many_groups(void **state)
{
    struct core *c = core_of(state);
    uint32_t groups[CORE_NGROUPS_MAX];
    for (uint32_t i = 0; i < CORE_NGROUPS_MAX; i++)
        groups[i] = 500 + i;
    core_id_t s;
    assert_status(session_open_groups(c, 1, UID_A, GID_A, CORE_NGROUPS_MAX + 1, groups, &s),
                  CORE_E_INVAL);
    assert_status(session_open_groups(c, 1, UID_A, GID_A, UINT32_MAX, groups, &s),
                  CORE_E_INVAL);
    assert_int_equal(stats(c).sessions_in_use, 0);
    assert_status(session_open_groups(c, 1, UID_A, GID_A, CORE_NGROUPS_MAX, groups, &s),
                  CORE_OK);
}


/* After setuid, opens and unlinks are checked as the new uid, while what
 * the session holds stays usable (as open files do). */
static void setcred_changes_later_checks_not_held_opens(void **state)
{
    struct core *c = core_of(state);
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, owner, "held", 0600, 0);
    core_id_t s = open_session(c, 2, UID_A, GID_A);
    core_id_t h2 = reopen(c, s, "held");
    assert_status(setcred(c, s, UID_B, GID_B, 0), CORE_OK);
    core_id_t x;
    assert_status(open_sem(c, s, "held", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(unlink_name(c, s, "held"), CORE_E_ACCES);
    assert_status(post(c, s, h2, NULL), CORE_OK); /* still held */
    struct core_session_info_args i;
    assert_status(session_info(c, s, &i), CORE_OK);
    assert_int_equal(i.uid, UID_B);
    /* a semaphore created now belongs to the new identity */
    core_id_t mine = create_named(c, s, "mine", 0600, 0);
    assert_status(open_sem(c, owner, "mine", 0, 0, 0, &x), CORE_E_ACCES);
    (void)mine;
    (void)h;
}

static void setcred_rejects_bad_input(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(setcred(c, s, UID_B, GID_B, CORE_NGROUPS_MAX + 1), CORE_E_INVAL);
    assert_status(setcred(c, 0, UID_B, GID_B, 0), CORE_E_SESSION);
    assert_status(setcred(c, s + (1ull << 32), UID_B, GID_B, 0), CORE_E_SESSION);
    struct core_session_info_args i;
    assert_status(session_info(c, s, &i), CORE_OK);
    assert_int_equal(i.uid, UID_A); /* a refused call changed nothing */
}

static void session_table_full_is_nospc(void **state)
{
    struct core *c = core_of(state);
    core_id_t s[8];
    for (uint32_t i = 0; i < default_cfg.max_sessions; i++)
        s[i] = open_session(c, i + 1, UID_A, GID_A);
    core_id_t extra;
    assert_status(session_open_groups(c, 99, UID_A, GID_A, 0, NULL, &extra), CORE_E_NOSPC);
    assert_status(close_session(c, s[3]), CORE_OK);
    assert_status(session_open_groups(c, 99, UID_A, GID_A, 0, NULL, &extra), CORE_OK);
    assert_int_equal(stats(c).sessions_in_use, default_cfg.max_sessions);
}

/* ---- inherit ---- */

static void inherit_copies_opens_with_counts(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 10, UID_A, GID_A);
    core_id_t a = create_named(c, parent, "a", 0600, 0);
    reopen(c, parent, "a");
    core_id_t b = create_named(c, parent, "b", 0600, 0);
    core_id_t anon = create_anon(c, parent, 0);
    core_id_t child = open_session(c, 11, UID_A, GID_A);
    uint32_t n = 0;
    assert_status(inherit(c, child, parent, &n), CORE_OK);
    assert_int_equal(n, 3);

    struct core_session_info_args i;
    assert_status(session_info(c, child, &i), CORE_OK);
    assert_int_equal(i.nopens, 3);
    struct core_sem_member_args m[4];
    assert_int_equal(members(c, CORE_ECALL_SEM_HOLDERS, a, m, 4), 2);
    const struct core_sem_member_args *pm = find_member(m, 2, parent);
    const struct core_sem_member_args *cm = find_member(m, 2, child);
    assert_non_null(pm);
    assert_non_null(cm);
    assert_int_equal(pm->count, 2);
    assert_int_equal(pm->pid, 10);
    assert_int_equal(cm->count, 2);
    assert_int_equal(cm->pid, 11);
    assert_int_equal(info_of(c, a).open_count, 4);
    assert_int_equal(info_of(c, b).open_count, 2);
    assert_int_equal(info_of(c, anon).open_count, 2);

    post_no_wake(c, child, anon);
    assert_int_equal(value_of(c, parent, anon), 1);
    assert_status(close_sem(c, child, a), CORE_OK);
    assert_status(close_sem(c, child, a), CORE_OK);
    assert_status(close_sem(c, child, a), CORE_E_NOTOPEN);
}

static void inherit_into_session_with_opens_is_perm(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    create_named(c, parent, "a", 0600, 0);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    create_anon(c, child, 0);
    assert_status(inherit(c, child, parent, NULL), CORE_E_PERM);
    struct core_session_info_args i;
    assert_status(session_info(c, child, &i), CORE_OK);
    assert_int_equal(i.nopens, 1);
}

static void inherit_twice_is_perm(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    create_named(c, parent, "a", 0600, 0);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    assert_status(inherit(c, child, parent, NULL), CORE_OK);
    assert_status(inherit(c, child, parent, NULL), CORE_E_PERM);
}

static void inherit_from_self_is_perm(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    assert_status(inherit(c, s, s, NULL), CORE_E_PERM);
}

static void inherit_from_closed_parent_is_session(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    create_named(c, parent, "a", 0600, 0);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    assert_status(close_session(c, parent), CORE_OK);
    assert_status(inherit(c, child, parent, NULL), CORE_E_SESSION);
    assert_int_equal(stats(c).opens_in_use, 0);
}

static void inherit_into_closed_child_is_session(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    create_named(c, parent, "a", 0600, 0);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    assert_status(close_session(c, child), CORE_OK);
    assert_status(inherit(c, child, parent, NULL), CORE_E_SESSION);
    assert_int_equal(stats(c).opens_in_use, 1);
}

static void inherit_without_room_fails_whole_call(void **state)
{
    struct core_config cfg = default_cfg;
    cfg.max_opens = 4;
    struct core *c = reinit(state, &cfg);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    create_named(c, parent, "a", 0600, 0);
    create_named(c, parent, "b", 0600, 0);
    create_anon(c, parent, 0);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    uint32_t n = 99;
    assert_status(inherit(c, child, parent, &n), CORE_E_NOSPC);
    struct core_session_info_args i;
    assert_status(session_info(c, child, &i), CORE_OK);
    assert_int_equal(i.nopens, 0);
    assert_int_equal(stats(c).opens_in_use, 3);
}

static void inherited_reference_outlives_parent(void **state)
{
    struct core *c = core_of(state);
    core_id_t parent = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, parent, "t", 0600, 4);
    assert_status(unlink_name(c, parent, "t"), CORE_OK);
    core_id_t child = open_session(c, 2, UID_A, GID_A);
    assert_status(inherit(c, child, parent, NULL), CORE_OK);
    assert_status(close_session(c, parent), CORE_OK);
    assert_int_equal(value_of(c, child, h), 4);
    assert_status(close_sem(c, child, h), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 0);
}

/*
 * References must never wrap.  65536 sessions holding the same semaphore
 * 65536 times each are 2^32 references; inherit copies a whole count in one
 * call, so this costs ~200k ecalls, well within what a client can do.
 */
static struct core *mass_inherit(void **state, core_id_t *parent, core_id_t *h)
{
    /* one spare session and open record for an outsider */
    const struct core_config cfg = {
        .max_sems = 4, .max_sessions = 65537, .max_opens = 65537, .max_waiters = 4,
    };
    struct core *c = reinit(state, &cfg);
    *parent = open_session(c, 1, UID_A, GID_A);
    *h = create_named(c, *parent, "wrap", 0600, 1);
    for (uint32_t i = 1; i < 65536; i++) {
        core_id_t again;
        assert_status(open_sem(c, *parent, "wrap", 0, 0, 0, &again), CORE_OK);
    }
    for (uint32_t i = 1; i < 65536; i++) {
        core_id_t child = open_session(c, i + 1, UID_A, GID_A);
        int32_t r = inherit(c, child, *parent, NULL);
        if (r != CORE_OK && r != CORE_E_NOSPC)
            fail_msg("inherit #%u: %s", i, core_strerror(r));
    }
    return c;
}

static void inherit_cannot_wrap_open_count(void **state)
{
    core_id_t parent, h;
    struct core *c = mass_inherit(state, &parent, &h);
    uint64_t total = 0;
    uint32_t cursor = 0, records = 0;
    for (;;) {
        struct core_sem_member_args a = {.handle = h, .cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_HOLDERS, a), CORE_OK);
        if (!a.found)
            break;
        total += a.count;
        records++;
        if (a.next == UINT32_MAX)
            break;
        cursor = a.next;
    }
    assert_int_equal(records, stats(c).opens_in_use);
    uint32_t reported = info_of(c, h).open_count;
    if (total > UINT32_MAX || reported != total)
        fail_msg("holders hold %llu references, open_count says %u",
                 (unsigned long long)total, reported);
}

static void held_sem_survives_unlink_after_mass_inherit(void **state)
{
    core_id_t parent, h;
    struct core *c = mass_inherit(state, &parent, &h);
    assert_status(unlink_name(c, parent, "wrap"), CORE_OK);
    /* parent never closed it: the object must still be there */
    assert_status(getvalue(c, parent, h, NULL), CORE_OK);
}

static void mass_inherit_grants_no_access_to_reused_slot(void **state)
{
    core_id_t parent, h;
    struct core *c = mass_inherit(state, &parent, &h);
    assert_status(unlink_name(c, parent, "wrap"), CORE_OK);
    core_id_t outsider = open_session(c, 99, UID_B, GID_B);
    /* if "wrap" was wrongly freed, this reuses its slot */
    core_id_t secret = create_anon(c, outsider, 0);
    /* parent never opened the outsider's semaphore */
    assert_status(post(c, parent, secret, NULL), CORE_E_NOTOPEN);
    assert_int_equal(value_of(c, outsider, secret), 0);
}

/* ---- session close ---- */

static void session_close_removes_waiters_and_others_keep_order(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s1, 0);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t s3 = open_session(c, 3, UID_A, GID_A);
    assert_status(inherit(c, s2, s1, NULL), CORE_OK);
    assert_status(inherit(c, s3, s1, NULL), CORE_OK);
    assert_status(wait_on(c, s2, h, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, h, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s3, h, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, h, 2, 0), CORE_QUEUED);
    assert_status(wait_on(c, s2, h, 2, 0), CORE_QUEUED);

    struct core_session_close_args a = {.session = s1};
    assert_status(CALL(c, CORE_ECALL_SESSION_CLOSE, a), CORE_OK);
    assert_int_equal(a.waiters_removed, 2);
    assert_int_equal(a.opens_closed, 1);
    struct core_sem_info i = info_of(c, h);
    assert_int_equal(i.nwaiters, 3);
    assert_int_equal(i.cancels, 2);
    post_wakes(c, s3, h, s2, 1);
    post_wakes(c, s3, h, s3, 1);
    post_wakes(c, s3, h, s2, 2);
    post_no_wake(c, s3, h);
    assert_int_equal(value_of(c, s2, h), 1);
}

static void session_close_closes_opens_and_frees_unlinked(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t u = create_named(c, s, "u", 0600, 0);
    reopen(c, s, "u");
    core_id_t k = create_named(c, s, "k", 0600, 0);
    core_id_t anon = create_anon(c, s, 0);
    assert_status(unlink_name(c, s, "u"), CORE_OK);
    assert_int_equal(stats(c).sems_in_use, 3);

    struct core_session_close_args a = {.session = s};
    assert_status(CALL(c, CORE_ECALL_SESSION_CLOSE, a), CORE_OK);
    assert_int_equal(a.opens_closed, 3);
    assert_int_equal(a.waiters_removed, 0);
    assert_false(sem_info_of(c, u, NULL));
    assert_false(sem_info_of(c, anon, NULL));
    assert_true(sem_info_of(c, k, NULL)); /* named and linked: persists */
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 1);
    assert_int_equal(st.opens_in_use, 0);
    assert_int_equal(st.sessions_in_use, 0);
}

static void stats_return_to_zero_after_everything_closed(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_B, GID_A);
    core_id_t n1 = create_named(c, s1, "n1", 0660, 0);
    char ln[200];
    long_name(ln, sizeof ln, 'L');
    core_id_t n2;
    assert_status(sem_open_raw(c, s2, ln, sizeof ln, CORE_O_CREAT, 0600, 1, &n2, NULL), CORE_OK);
    core_id_t a1 = create_anon(c, s1, 0);
    reopen(c, s2, "n1");
    assert_status(wait_on(c, s1, a1, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s2, n1, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, n1, 2, 3), CORE_QUEUED);
    post_wakes(c, s1, n1, s1, 2);
    core_id_t s3 = open_session(c, 3, UID_A, GID_A);
    assert_status(inherit(c, s3, s1, NULL), CORE_OK);
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 3);
    assert_int_equal(st.sessions_in_use, 3);
    assert_int_equal(st.opens_in_use, 6);
    assert_int_equal(st.waiters_in_use, 2);

    assert_status(unlink_name(c, s1, "n1"), CORE_OK);
    assert_status(unlink_raw(c, s2, ln, sizeof ln), CORE_OK);
    assert_status(close_session(c, s2), CORE_OK);
    assert_status(close_session(c, s1), CORE_OK);
    assert_status(close_session(c, s3), CORE_OK);
    assert_nothing_in_use(c);
    st = stats(c);
    assert_true(st.ops_ok > 0);
}

/* ---- admin iteration ---- */

static void sem_info_walks_all_live_sems(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t want[5];
    want[0] = create_named(c, s, "i0", 0600, 0);
    core_id_t gone = create_anon(c, s, 0);
    want[1] = create_anon(c, s, 0);
    want[2] = create_named(c, s, "i1", 0600, 0);
    want[3] = create_anon(c, s, 0);
    want[4] = create_named(c, s, "i2", 0600, 0);
    assert_status(destroy(c, s, gone), CORE_OK); /* leave a hole */
    int seen[5] = {0};
    uint32_t cursor = 0, n = 0;
    for (;;) {
        struct core_sem_info_args a = {.cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(a.next > cursor);
        n++;
        int match = 0;
        for (int i = 0; i < 5; i++)
            if (a.info.handle == want[i]) {
                seen[i]++;
                match = 1;
            }
        assert_true(match);
        cursor = a.next;
    }
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], 1);
}

static void sem_info_reports_fields_and_counters(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "ctr", 0640, 1);
    assert_status(trywait(c, s, h), CORE_OK);       /* waits 1 */
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED); /* blocks 1 */
    assert_status(cancel(c, s, 1), CORE_OK);       /* cancels 1 */
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED); /* blocks 2 */
    post_wakes(c, s, h, s, 1);                     /* posts 1, waits 2 */
    post_no_wake(c, s, h);                         /* posts 2 */
    assert_status(wait_on(c, s, h, 2, 0), CORE_OK); /* waits 3 */
    assert_status(wait_on(c, s, h, 2, 0), CORE_QUEUED);
    struct core_sem_info i = info_of(c, h);
    assert_int_equal(i.value, 0);
    assert_int_equal(i.nwaiters, 1);
    assert_int_equal(i.open_count, 1);
    assert_int_equal(i.uid, UID_A);
    assert_int_equal(i.gid, GID_A);
    assert_int_equal(i.mode, 0640);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED);
    assert_int_equal(i.name_len, 3);
    assert_memory_equal(i.name, "ctr", 3);
    assert_int_equal(i.posts, 2);
    assert_int_equal(i.waits, 3);
    assert_int_equal(i.blocks, 3);
    assert_int_equal(i.cancels, 1);
}

static void sem_info_cursor_past_end_finds_nothing(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    create_anon(c, s, 0);
    const uint32_t cursors[] = {default_cfg.max_sems, default_cfg.max_sems + 1, 0x7fffffffu,
                                UINT32_MAX};
    for (size_t i = 0; i < sizeof cursors / sizeof cursors[0]; i++) {
        struct core_sem_info_args a;
        memset(&a, 0xee, sizeof a);
        a.cursor = cursors[i];
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        assert_int_equal(a.found, 0);
    }
}

static void holders_lists_sessions_with_pids_and_counts(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 101, UID_A, GID_A);
    core_id_t s2 = open_session(c, 202, UID_A, GID_A);
    core_id_t s3 = open_session(c, 303, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "hl", 0600, 0);
    reopen(c, s1, "hl");
    reopen(c, s2, "hl");
    create_named(c, s3, "other", 0600, 0);
    struct core_sem_member_args m[4];
    assert_int_equal(members(c, CORE_ECALL_SEM_HOLDERS, h, m, 4), 2);
    const struct core_sem_member_args *m1 = find_member(m, 2, s1);
    const struct core_sem_member_args *m2 = find_member(m, 2, s2);
    assert_non_null(m1);
    assert_non_null(m2);
    assert_int_equal(m1->pid, 101);
    assert_int_equal(m1->count, 2);
    assert_int_equal(m2->pid, 202);
    assert_int_equal(m2->count, 1);
}

static void waiters_lists_pids_and_slots_in_queue_order(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 101, UID_A, GID_A);
    core_id_t s2 = open_session(c, 202, UID_A, GID_A);
    core_id_t h = create_named(c, s1, "wl", 0600, 0);
    reopen(c, s2, "wl");
    struct core_sem_member_args m[4];
    assert_int_equal(members(c, CORE_ECALL_SEM_WAITERS, h, m, 4), 0);
    assert_status(wait_on(c, s2, h, 8, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, h, 9, 0), CORE_QUEUED);
    assert_status(wait_on(c, s1, h, 3, 1), CORE_QUEUED);
    assert_int_equal(members(c, CORE_ECALL_SEM_WAITERS, h, m, 4), 3);
    assert_int_equal(m[0].pid, 101);
    assert_int_equal(m[0].count, 3);
    assert_int_equal(m[0].prio, 1);
    assert_int_equal(m[1].pid, 202);
    assert_int_equal(m[1].count, 8);
    assert_true(m[1].session == s2);
    assert_int_equal(m[2].pid, 101);
    assert_int_equal(m[2].count, 9);
}

/* The header's protocol: call again with cursor = next until found == 0. */
static void member_walk_ends_with_found_zero(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(wait_on(c, s, h, 1, 0), CORE_QUEUED);
    const uint32_t calls[] = {CORE_ECALL_SEM_HOLDERS, CORE_ECALL_SEM_WAITERS};
    for (size_t k = 0; k < 2; k++) {
        struct core_sem_member_args a = {.handle = h};
        assert_status(core_ecall(c, calls[k], &a, sizeof a), CORE_OK);
        assert_int_equal(a.found, 1);
        a.cursor = a.next;
        assert_status(core_ecall(c, calls[k], &a, sizeof a), CORE_OK);
        assert_int_equal(a.found, 0);
    }
}

static void members_forged_cursor_is_inval(void **state)
{
    struct core *c = core_of(state);
    core_id_t s1 = open_session(c, 1, UID_A, GID_A);
    core_id_t s2 = open_session(c, 2, UID_A, GID_A);
    core_id_t x = create_named(c, s1, "x", 0600, 0);
    core_id_t y = create_named(c, s1, "y", 0600, 0);
    reopen(c, s2, "x");
    assert_status(wait_on(c, s1, x, 1, 0), CORE_QUEUED);
    assert_status(wait_on(c, s2, x, 1, 0), CORE_QUEUED);

    const uint32_t calls[] = {CORE_ECALL_SEM_HOLDERS, CORE_ECALL_SEM_WAITERS};
    for (size_t k = 0; k < 2; k++) {
        struct core_sem_member_args a = {.handle = x};
        assert_status(core_ecall(c, calls[k], &a, sizeof a), CORE_OK);
        assert_int_equal(a.found, 1);
        const uint32_t second = a.next; /* a genuine cursor into x's list */

        /* a cursor of x's list is not one of y's */
        struct core_sem_member_args b = {.handle = y, .cursor = second};
        assert_status(core_ecall(c, calls[k], &b, sizeof b), CORE_E_INVAL);

        const uint32_t junk[] = {default_cfg.max_opens + default_cfg.max_waiters + 1,
                                 0x7fffffffu, UINT32_MAX - 1};
        for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
            b.handle = x;
            b.cursor = junk[j];
            assert_status(core_ecall(c, calls[k], &b, sizeof b), CORE_E_INVAL);
        }
        /* an in-range index that names no record in use */
        for (uint32_t cur = 1; cur <= 16; cur++) {
            struct core_sem_member_args d = {.handle = y, .cursor = cur};
            int32_t r = core_ecall(c, calls[k], &d, sizeof d);
            assert_true(r == CORE_E_INVAL || (r == CORE_OK && d.found));
        }
    }

    /* a cursor that was genuine goes stale when its record is freed */
    struct core_sem_member_args a = {.handle = x};
    assert_status(CALL(c, CORE_ECALL_SEM_WAITERS, a), CORE_OK);
    assert_true(a.session == s1); /* s2 queued second */
    assert_status(cancel(c, s2, 1), CORE_OK);
    a.cursor = a.next;
    assert_status(CALL(c, CORE_ECALL_SEM_WAITERS, a), CORE_E_INVAL);
}

static void members_bad_handle_is_handle(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, s, 0);
    assert_status(destroy(c, s, h), CORE_OK);
    const core_id_t bad[] = {0, UINT64_MAX, h, MKID(1, default_cfg.max_sems + 1)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct core_sem_member_args a = {.handle = bad[i]};
        assert_status(CALL(c, CORE_ECALL_SEM_HOLDERS, a), CORE_E_HANDLE);
        assert_status(CALL(c, CORE_ECALL_SEM_WAITERS, a), CORE_E_HANDLE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(session_open_info_close),
        T(session_info_counts_opens_and_waiters),
        T(session_close_twice_is_refused),
        T(session_stale_id_refused_after_slot_reuse),
        T(session_forged_ids_are_refused),
        T(session_open_rejects_too_many_groups),
        T(session_table_full_is_nospc),
        T(setcred_changes_later_checks_not_held_opens),
        T(setcred_rejects_bad_input),
        T(inherit_copies_opens_with_counts),
        T(inherit_into_session_with_opens_is_perm),
        T(inherit_twice_is_perm),
        T(inherit_from_self_is_perm),
        T(inherit_from_closed_parent_is_session),
        T(inherit_into_closed_child_is_session),
        T(inherit_without_room_fails_whole_call),
        T(inherited_reference_outlives_parent),
        T(inherit_cannot_wrap_open_count),
        T(held_sem_survives_unlink_after_mass_inherit),
        T(mass_inherit_grants_no_access_to_reused_slot),
        T(session_close_removes_waiters_and_others_keep_order),
        T(session_close_closes_opens_and_frees_unlinked),
        T(stats_return_to_zero_after_everything_closed),
        T(sem_info_walks_all_live_sems),
        T(sem_info_reports_fields_and_counters),
        T(sem_info_cursor_past_end_finds_nothing),
        T(holders_lists_sessions_with_pids_and_counts),
        T(waiters_lists_pids_and_slots_in_queue_order),
        T(member_walk_ends_with_found_zero),
        T(members_forged_cursor_is_inval),
        T(members_bad_handle_is_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
