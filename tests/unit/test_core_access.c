/*
 * Unit tests of the trusted core: access lists and POSIX base rights, the strict policy, keys and key sessions, new configuration fields.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* ---- new configuration fields and ABI ---- */

static void arena_size_checks_new_config_limits(void **state)
{
    (void)state;
    struct core_config cfg = acl_cfg(0, 0, 0, 0);
    uint64_t none = core_arena_size(&cfg);
    assert_true(none > 0); /* no access lists, no keys: still a usable core */
    cfg = acl_cfg(1u << 24, 4096, 1u << 20, CORE_CFG_STRICT);
    assert_true(core_arena_size(&cfg) > none);
    const struct core_config bad[] = {
        acl_cfg((1u << 24) + 1, 0, 0, 0), acl_cfg(UINT32_MAX, 0, 0, 0),
        acl_cfg(0, 4097, 0, 0),           acl_cfg(0, UINT32_MAX, 0, 0),
        acl_cfg(0, 0, (1u << 20) + 1, 0), acl_cfg(0, 0, UINT32_MAX, 0),
        acl_cfg(0, 0, 0, 0x8),            acl_cfg(0, 0, 0, CORE_CFG_STRICT | 0x80000000u),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(core_arena_size(&bad[i]), 0);
        void *mem = aligned_alloc(64, none * 2);
        assert_non_null(mem);
        assert_null(core_init(mem, none * 2, &bad[i]));
        free(mem);
    }
    /* each key session costs its sequence table */
    struct core_config one = acl_cfg(0, 0, 1, 0), two = acl_cfg(0, 0, 2, 0);
    assert_true(core_arena_size(&two) - core_arena_size(&one) >= CORE_MAX_SLOTS * 4 - 64);
}

static void stats_report_new_counters(void **state)
{
    struct core *c = core_of(state);
    struct core_stats st = stats(c);
    assert_int_equal(st.max_acls, default_cfg.max_acls);
    assert_int_equal(st.acls_in_use, 0);
    assert_int_equal(st.keys_in_use, 0);
    assert_int_equal(st.keyed_in_use, 0);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 1);
    key_add(c, key);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "st", 0600, 0);
    assert_status(grant(c, s, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    struct ksess k = open_key_session(c, 2, UID_A, GID_A, key);
    st = stats(c);
    assert_int_equal(st.acls_in_use, 1);
    assert_int_equal(st.keys_in_use, 1);
    assert_int_equal(st.keyed_in_use, 1);
    assert_int_equal(st.sessions_in_use, 2);
    assert_status(close_session(c, k.id), CORE_OK);
    assert_int_equal(stats(c).keyed_in_use, 0);
}

/* What the MACs cover must be what the header says the layout is. */
static void request_layout_matches_mac_coverage(void **state)
{
    (void)state;
    assert_int_equal(offsetof(struct core_req, name), CORE_REQ_HDR);
    assert_int_equal(offsetof(struct core_req, who) + sizeof(struct core_principal),
                     CORE_REQ_HDR);
    assert_int_equal(sizeof(struct core_reply), 48);
    assert_int_equal(sizeof(struct core_principal), 16);
    assert_int_equal(sizeof(struct core_request_args) % 8, 0);
    /* every session-acting struct starts with its session */
    assert_int_equal(offsetof(struct core_sem_grant_args, session), 0);
    assert_int_equal(offsetof(struct core_request_args, session), 0);
}

/* ---- POSIX base rights and access lists ---- */

static void posix_base_rights_follow_mode_bits(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t root = open_session(c, 3, 0, 0);
    core_id_t h = create_named(c, a, "base", 0606, 0);
    core_id_t hb = reopen(c, b, "base");
    post_no_wake(c, b, hb);                          /* mode bits give post */
    assert_status(trywait(c, b, hb), CORE_OK);       /* ... and wait */
    assert_status(unlink_name(c, b, "base"), CORE_E_ACCES); /* not the owner */
    reopen(c, root, "base");
    assert_status(unlink_name(c, root, "base"), CORE_OK); /* root may */
    (void)h;
    /* the owner uid may unlink even with no mode bits for itself */
    core_id_t z = create_named(c, a, "zero", 0, 0);
    assert_status(unlink_name(c, a, "zero"), CORE_OK);
    (void)z;
}

static void grant_lets_other_uid_open_only_what_is_granted(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "g", 0600, 1);
    core_id_t x;
    assert_status(open_sem(c, b, "g", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN | CORE_R_WAIT), CORE_OK);
    core_id_t hb = reopen(c, b, "g");
    assert_true(hb == h);
    assert_status(trywait(c, b, hb), CORE_OK);
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES);
    assert_int_equal(value_of(c, a, h), 0); /* the refused post changed nothing */
    assert_status(unlink_name(c, b, "g"), CORE_E_ACCES);
    /* a third uid is still out */
    core_id_t other = open_session(c, 3, UID_C, GID_C);
    assert_status(open_sem(c, other, "g", 0, 0, 0, &x), CORE_E_ACCES);
}

static void grant_to_gid_covers_supplementary_groups(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    uint32_t groups[CORE_NGROUPS_MAX] = {GID_C, 777};
    core_id_t b = 0, d = 0;
    assert_status(session_open_groups(c, 2, UID_B, GID_B, 2, groups, &b), CORE_OK);
    assert_status(session_open_groups(c, 3, UID_B, GID_B, 0, groups, &d), CORE_OK);
    core_id_t h = create_named(c, a, "gg", 0600, 0);
    assert_status(grant(c, a, h, who_gid(777), CORE_R_ALL), CORE_OK);
    core_id_t hb = reopen(c, b, "gg");
    post_no_wake(c, b, hb);
    core_id_t x;
    /* same groups array, but ngroups = 0: 777 does not count */
    assert_status(open_sem(c, d, "gg", 0, 0, 0, &x), CORE_E_ACCES);
    /* the primary gid counts too */
    assert_status(grant(c, a, h, who_gid(GID_B), CORE_R_OPEN), CORE_OK);
    reopen(c, d, "gg");
}

/* Two principals of the same level that disagree: deny wins. */
static void deny_wins_within_a_level(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    uint32_t groups[CORE_NGROUPS_MAX] = {GID_C};
    core_id_t b = 0;
    assert_status(session_open_groups(c, 2, UID_B, GID_B, 1, groups, &b), CORE_OK);
    core_id_t h = create_named(c, a, "lv", 0600, 0);
    assert_status(grant(c, a, h, who_gid(GID_B), CORE_R_OPEN | CORE_R_POST), CORE_OK);
    assert_status(revoke(c, a, h, who_gid(GID_C), CORE_R_POST), CORE_OK);
    core_id_t hb = reopen(c, b, "lv");
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES);
    /* the order of the entries does not matter */
    core_id_t h2 = create_named(c, a, "lv2", 0600, 0);
    assert_status(revoke(c, a, h2, who_gid(GID_C), CORE_R_POST), CORE_OK);
    assert_status(grant(c, a, h2, who_gid(GID_B), CORE_R_OPEN | CORE_R_POST), CORE_OK);
    core_id_t hb2 = reopen(c, b, "lv2");
    assert_status(post(c, b, hb2, NULL), CORE_E_ACCES);
}

/* gid < uid < key < process: the more specific principal decides. */
static void more_specific_level_overrides(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 2);
    uint64_t kid = key_add(c, key);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    struct ksess k = open_key_session(c, 3, UID_B, GID_B, key);
    core_id_t h = create_named(c, a, "sp", 0600, 0);
    /* gid denies, uid allows: allowed */
    assert_status(revoke(c, a, h, who_gid(GID_B), CORE_R_ALL), CORE_OK);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN | CORE_R_POST), CORE_OK);
    core_id_t hb = reopen(c, b, "sp");
    post_no_wake(c, b, hb);
    /* uid denies post, key allows it: only the key session may post */
    assert_status(revoke(c, a, h, who_uid(UID_B), CORE_R_POST), CORE_OK);
    assert_status(grant(c, a, h, who_key(kid), CORE_R_POST), CORE_OK);
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES);
    core_id_t hk;
    assert_status(kopen(c, &k, "sp", 0, 0, 0, &hk), CORE_OK);
    assert_status(kpost(c, &k, hk, NULL), CORE_OK);
    /* key denies, process allows: the process wins */
    assert_status(revoke(c, a, h, who_key(kid), CORE_R_POST), CORE_OK);
    assert_status(kpost(c, &k, hk, NULL), CORE_E_ACCES);
    assert_status(grant(c, a, h, who_proc(3), CORE_R_POST), CORE_OK);
    assert_status(kpost(c, &k, hk, NULL), CORE_OK);
    /* and the other way round: gid allows, uid denies */
    core_id_t h2 = create_named(c, a, "sp2", 0606, 0);
    assert_status(grant(c, a, h2, who_gid(GID_B), CORE_R_WAIT), CORE_OK);
    assert_status(revoke(c, a, h2, who_uid(UID_B), CORE_R_WAIT), CORE_OK);
    core_id_t hb2 = reopen(c, b, "sp2");
    assert_status(trywait(c, b, hb2), CORE_E_ACCES);
    assert_int_equal(value_of(c, a, h), 3);
}

static void revoked_post_fails_holders_next_post_at_once(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "rv", 0666, 0);
    core_id_t hb = reopen(c, b, "rv");
    post_no_wake(c, b, hb);
    assert_status(revoke(c, a, h, who_uid(UID_B), CORE_R_POST), CORE_OK);
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES); /* no reopen needed */
    assert_status(trywait(c, b, hb), CORE_OK);         /* wait is untouched */
    post_no_wake(c, a, h);                             /* others are untouched */
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_POST), CORE_OK);
    post_no_wake(c, b, hb);
    assert_int_equal(value_of(c, a, h), 2);
}

static void revoked_wait_refuses_wait_and_trywait(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "rw", 0666, 2);
    core_id_t hb = reopen(c, b, "rw");
    assert_status(revoke(c, a, h, who_proc(2), CORE_R_WAIT), CORE_OK);
    assert_status(trywait(c, b, hb), CORE_E_ACCES);
    assert_status(wait_on(c, b, hb, 1, 0), CORE_E_ACCES);
    assert_int_equal(value_of(c, a, h), 2);
    assert_int_equal(info_of(c, h).nwaiters, 0);
    post_no_wake(c, b, hb); /* post is untouched */
}

static void revoked_open_keeps_held_record_but_refuses_new_opens(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "ro", 0666, 0);
    core_id_t hb = reopen(c, b, "ro");
    assert_status(revoke(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    core_id_t x;
    assert_status(open_sem(c, b, "ro", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(open_sem(c, b, "ro", CORE_O_CREAT, 0666, 0, &x), CORE_E_ACCES);
    post_no_wake(c, b, hb);
    assert_status(close_sem(c, b, hb), CORE_OK);
    assert_status(open_sem(c, b, "ro", 0, 0, 0, &x), CORE_E_ACCES);
}

static void unlink_right_can_be_granted_and_revoked(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "ul", 0600, 0);
    assert_status(unlink_name(c, b, "ul"), CORE_E_ACCES);
    /* unlink needs no open right and no open record */
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_UNLINK), CORE_OK);
    assert_status(unlink_name(c, b, "ul"), CORE_OK);
    assert_status(unlink_name(c, a, "ul"), CORE_E_NOENT);
    /* the owner uid can take its own unlink right away */
    core_id_t h2 = create_named(c, a, "ul2", 0600, 0);
    assert_status(revoke(c, a, h2, who_uid(UID_A), CORE_R_UNLINK), CORE_OK);
    assert_status(unlink_name(c, a, "ul2"), CORE_E_ACCES);
    core_id_t root = open_session(c, 3, 0, 0);
    assert_status(unlink_name(c, root, "ul2"), CORE_OK); /* root is not uid A */
}

static void destroy_of_anonymous_needs_unlink_right(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_anon(c, a, 0);
    assert_status(revoke(c, a, h, who_uid(UID_A), CORE_R_UNLINK), CORE_OK);
    assert_status(destroy(c, a, h), CORE_E_ACCES);
    post_no_wake(c, a, h); /* the rest still works */
    assert_status(grant(c, a, h, who_proc(1), CORE_R_UNLINK), CORE_OK);
    assert_status(destroy(c, a, h), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 0);
    assert_int_equal(stats(c).sems_in_use, 0);
}

static void grant_by_non_owner_is_perm(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t a2 = open_session(c, 3, UID_A, GID_B);
    core_id_t root = open_session(c, 4, 0, 0);
    core_id_t h = create_named(c, a, "own", 0666, 0);
    core_id_t hb = reopen(c, b, "own");
    assert_status(grant(c, b, hb, who_uid(UID_C), CORE_R_OPEN), CORE_E_PERM);
    assert_status(revoke(c, b, hb, who_uid(UID_A), CORE_R_POST), CORE_E_PERM);
    assert_int_equal(stats(c).acls_in_use, 0);
    /* POSIX owner: the same uid (another process) or root */
    core_id_t ha2 = reopen(c, a2, "own");
    assert_status(grant(c, a2, ha2, who_uid(UID_C), CORE_R_OPEN), CORE_OK);
    core_id_t hr = reopen(c, root, "own");
    assert_status(revoke(c, root, hr, who_uid(UID_B), CORE_R_POST), CORE_OK);
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES);
    /* after setcred to another uid the process is no longer the owner */
    assert_status(setcred(c, a2, UID_B, GID_B, 0), CORE_OK);
    assert_status(grant(c, a2, ha2, who_uid(UID_C), CORE_R_POST), CORE_E_PERM);
    (void)h;
}

static void grant_checks_session_handle_and_open_record(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t a2 = open_session(c, 2, UID_A, GID_A);
    core_id_t h = create_named(c, a, "chk", 0600, 0);
    const uint32_t calls[] = {CORE_ECALL_SEM_GRANT, CORE_ECALL_SEM_REVOKE};
    for (size_t i = 0; i < 2; i++) {
        assert_status(acl_call(c, calls[i], 0, h, who_uid(UID_B), CORE_R_OPEN), CORE_E_SESSION);
        assert_status(acl_call(c, calls[i], a + (1ull << 32), h, who_uid(UID_B), CORE_R_OPEN),
                      CORE_E_SESSION);
        assert_status(acl_call(c, calls[i], a, 0, who_uid(UID_B), CORE_R_OPEN), CORE_E_HANDLE);
        assert_status(acl_call(c, calls[i], a, h + (1ull << 32), who_uid(UID_B), CORE_R_OPEN),
                      CORE_E_HANDLE);
        /* the owner uid, but this session holds no open of it */
        assert_status(acl_call(c, calls[i], a2, h, who_uid(UID_B), CORE_R_OPEN),
                      CORE_E_NOTOPEN);
    }
    assert_int_equal(stats(c).acls_in_use, 0);
    assert_int_equal(info_of(c, h).nacl, 0);
}

static void grant_rejects_bad_rights(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "br", 0600, 0);
    const uint32_t bad[] = {0, CORE_R_ALL + 1, 0x10, CORE_R_OPEN | 0x10, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_status(grant(c, a, h, who_uid(UID_B), bad[i]), CORE_E_INVAL);
        assert_status(revoke(c, a, h, who_uid(UID_B), bad[i]), CORE_E_INVAL);
    }
    assert_int_equal(stats(c).acls_in_use, 0);
    for (uint32_t r = 1; r <= CORE_R_ALL; r++)
        assert_status(grant(c, a, h, who_uid(UID_B), r), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 1);
}

static void grant_rejects_bad_principals(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "bp", 0600, 0);
    const struct core_principal bad[] = {
        {.kind = 0, .id = UID_B},
        {.kind = 5, .id = UID_B},
        {.kind = UINT32_MAX, .id = 1, .ext = 1},
        {.kind = CORE_P_UID, .id = UID_B, .ext = 1},
        {.kind = CORE_P_GID, .id = GID_B, .ext = 1ull << 63},
        {.kind = CORE_P_PROC, .id = 0, .ext = 1000},
        {.kind = CORE_P_KEY, .id = 1, .ext = 42},
        {.kind = CORE_P_KEY, .id = 0, .ext = 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_status(grant(c, a, h, bad[i], CORE_R_OPEN), CORE_E_INVAL);
        assert_status(revoke(c, a, h, bad[i], CORE_R_OPEN), CORE_E_INVAL);
    }
    assert_int_equal(stats(c).acls_in_use, 0);
    const struct core_principal good[] = {
        who_uid(0), who_gid(0), who_proc(1), who_key(42),
        {.kind = CORE_P_PROC, .id = 7, .ext = 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_status(grant(c, a, h, good[i], CORE_R_OPEN), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, sizeof good / sizeof good[0]);
}

/* Grant = allow |= r, deny &= ~r; revoke = deny |= r, allow &= ~r; one
 * entry per principal. */
static void grant_and_revoke_edit_one_entry_per_principal(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "ed", 0600, 0);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN | CORE_R_POST), CORE_OK);
    assert_status(revoke(c, a, h, who_uid(UID_B), CORE_R_POST | CORE_R_WAIT), CORE_OK);
    assert_status(grant(c, a, h, who_uid(UID_C), CORE_R_WAIT), CORE_OK);
    struct core_sem_acl_args e[4];
    assert_int_equal(acl_walk(c, h, e, 4), 2);
    const struct core_sem_acl_args *b = acl_find(e, 2, who_uid(UID_B));
    const struct core_sem_acl_args *d = acl_find(e, 2, who_uid(UID_C));
    assert_non_null(b);
    assert_non_null(d);
    assert_int_equal(b->allow, CORE_R_OPEN);
    assert_int_equal(b->deny, CORE_R_POST | CORE_R_WAIT);
    assert_int_equal(d->allow, CORE_R_WAIT);
    assert_int_equal(d->deny, 0);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_ALL), CORE_OK);
    assert_int_equal(acl_walk(c, h, e, 4), 2);
    b = acl_find(e, 2, who_uid(UID_B));
    assert_non_null(b);
    assert_int_equal(b->allow, CORE_R_ALL);
    assert_int_equal(b->deny, 0);
    /* same id, other kind: a separate entry */
    assert_status(grant(c, a, h, who_gid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_int_equal(acl_walk(c, h, e, 4), 3);
    assert_int_equal(stats(c).acls_in_use, 3);
    assert_int_equal(info_of(c, h).nacl, 3);
}

static void acl_table_full_is_nospc(void **state)
{
    struct core_config cfg = acl_cfg(2, 0, 0, 0);
    struct core *c = reinit(state, &cfg);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "f1", 0600, 0);
    core_id_t h2 = create_named(c, a, "f2", 0600, 0);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(revoke(c, a, h2, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(grant(c, a, h, who_uid(UID_C), CORE_R_OPEN), CORE_E_NOSPC);
    assert_status(revoke(c, a, h2, who_gid(GID_C), CORE_R_OPEN), CORE_E_NOSPC);
    assert_int_equal(info_of(c, h).nacl, 1);
    /* an existing entry can still be edited */
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_POST), CORE_OK);
    assert_status(grant(c, a, h2, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 2);
    /* freeing a semaphore gives its entries back */
    assert_status(unlink_name(c, a, "f2"), CORE_OK);
    assert_status(close_sem(c, a, h2), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 1);
    assert_status(grant(c, a, h, who_uid(UID_C), CORE_R_OPEN), CORE_OK);

    /* no access-list table at all */
    cfg = acl_cfg(0, 0, 0, 0);
    c = reinit(state, &cfg);
    a = open_session(c, 1, UID_A, GID_A);
    h = create_anon(c, a, 0);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_E_NOSPC);
    assert_status(revoke(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_E_NOSPC);
    struct core_sem_acl_args e = {.handle = h, .cursor = 1};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, e), CORE_E_INVAL);
}

static void acl_entries_freed_with_the_semaphore(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_A, GID_A);
    core_id_t named = create_named(c, a, "fr", 0600, 0);
    core_id_t anon1 = create_anon(c, a, 0);
    core_id_t anon2 = create_anon(c, b, 0);
    for (uint32_t i = 0; i < 3; i++) {
        assert_status(grant(c, a, named, who_uid(UID_C + i), CORE_R_OPEN), CORE_OK);
        assert_status(revoke(c, a, anon1, who_gid(GID_C + i), CORE_R_POST), CORE_OK);
        assert_status(grant(c, b, anon2, who_proc(100 + i), CORE_R_WAIT), CORE_OK);
    }
    assert_int_equal(stats(c).acls_in_use, 9);
    assert_status(destroy(c, a, anon1), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 6);
    assert_status(close_session(c, b), CORE_OK); /* last holder of anon2 */
    assert_int_equal(stats(c).acls_in_use, 3);
    /* a linked name keeps its list without opens */
    assert_status(close_sem(c, a, named), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 3);
    assert_status(unlink_name(c, a, "fr"), CORE_OK);
    assert_int_equal(stats(c).acls_in_use, 0);
    /* a new semaphore in the same slot starts with an empty list */
    core_id_t again = create_named(c, a, "fr", 0600, 0);
    assert_int_equal(info_of(c, again).nacl, 0);
    assert_int_equal(acl_walk(c, again, NULL, 1), 0);
    core_id_t x;
    core_id_t cs = open_session(c, 3, UID_C, GID_C);
    assert_status(open_sem(c, cs, "fr", 0, 0, 0, &x), CORE_E_ACCES);
}

static void sem_acl_walk_ends_with_found_zero(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "wk", 0600, 0);
    assert_int_equal(acl_walk(c, h, NULL, 1), 0);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(revoke(c, a, h, who_gid(GID_B), CORE_R_POST), CORE_OK);
    assert_status(grant(c, a, h, who_proc(9), CORE_R_WAIT), CORE_OK);
    struct core_sem_acl_args e[3];
    assert_int_equal(acl_walk(c, h, e, 3), 3);
    assert_non_null(acl_find(e, 3, who_uid(UID_B)));
    assert_non_null(acl_find(e, 3, who_gid(GID_B)));
    assert_non_null(acl_find(e, 3, who_proc(9)));
    assert_int_equal(e[2].next, UINT32_MAX);
    /* feeding the end marker back finds nothing */
    struct core_sem_acl_args end = {.handle = h, .cursor = UINT32_MAX};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, end), CORE_OK);
    assert_int_equal(end.found, 0);
}

static void sem_acl_rejects_forged_cursors_and_handles(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t x = create_named(c, a, "ax", 0600, 0);
    core_id_t y = create_named(c, a, "ay", 0600, 0);
    assert_status(grant(c, a, x, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(grant(c, a, x, who_uid(UID_C), CORE_R_OPEN), CORE_OK);
    assert_status(grant(c, a, y, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    struct core_sem_acl_args first = {.handle = x};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, first), CORE_OK);
    assert_int_equal(first.found, 1);
    assert_true(first.next != UINT32_MAX);
    /* x's cursor is not one of y's */
    struct core_sem_acl_args b = {.handle = y, .cursor = first.next};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, b), CORE_E_INVAL);
    const uint32_t junk[] = {default_cfg.max_acls + 1, 0x7fffffffu, UINT32_MAX - 1};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        struct core_sem_acl_args d = {.handle = x, .cursor = junk[i]};
        assert_status(CALL(c, CORE_ECALL_SEM_ACL, d), CORE_E_INVAL);
    }
    /* an in-range index on the free list */
    struct core_sem_acl_args f = {.handle = x, .cursor = default_cfg.max_acls};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, f), CORE_E_INVAL);
    /* bad handles */
    const core_id_t bad[] = {0, UINT64_MAX, x + (1ull << 32), MKID(1, default_cfg.max_sems + 1)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct core_sem_acl_args d = {.handle = bad[i]};
        assert_status(CALL(c, CORE_ECALL_SEM_ACL, d), CORE_E_HANDLE);
    }
    /* a genuine cursor goes stale with its semaphore */
    assert_status(unlink_name(c, a, "ax"), CORE_OK);
    assert_status(close_sem(c, a, x), CORE_OK);
    struct core_sem_acl_args st = {.handle = x, .cursor = first.next};
    assert_status(CALL(c, CORE_ECALL_SEM_ACL, st), CORE_E_HANDLE);
    assert_int_equal(acl_walk(c, y, NULL, 2), 1);
}

/* ---- strict policy ---- */

static void strict_sem_refuses_same_uid_other_process_and_root(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t a2 = open_session(c, 2, UID_A, GID_A);
    core_id_t root = open_session(c, 3, 0, 0);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "st", CORE_O_CREAT | CORE_O_STRICT, 0666, 1, &h), CORE_OK);
    struct core_sem_info i = info_of(c, h);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED | CORE_SEMF_STRICT);
    assert_int_equal(i.owner_pid, 1);
    assert_true(i.owner_key == 0);
    core_id_t x;
    assert_status(open_sem(c, a2, "st", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(open_sem(c, root, "st", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(unlink_name(c, a2, "st"), CORE_E_ACCES);
    assert_status(unlink_name(c, root, "st"), CORE_E_ACCES);
    /* the owner process has everything, mode bits notwithstanding */
    core_id_t h0 = 0;
    assert_status(open_sem(c, a, "st0", CORE_O_CREAT | CORE_O_STRICT, 0, 1, &h0), CORE_OK);
    assert_status(trywait(c, a, h0), CORE_OK);
    post_no_wake(c, a, h0);
    reopen(c, a, "st0");
    assert_status(unlink_name(c, a, "st0"), CORE_OK);
    assert_status(unlink_name(c, a, "st"), CORE_OK);
}

static void strict_owner_grants_to_a_process(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "sg", CORE_O_CREAT | CORE_O_STRICT, 0600, 1, &h), CORE_OK);
    assert_status(grant(c, a, h, who_proc(2), CORE_R_OPEN | CORE_R_WAIT), CORE_OK);
    core_id_t hb = reopen(c, b, "sg");
    assert_status(trywait(c, b, hb), CORE_OK);
    assert_status(post(c, b, hb, NULL), CORE_E_ACCES);
    assert_status(unlink_name(c, b, "sg"), CORE_E_ACCES);
    /* a grantee is not an owner */
    assert_status(grant(c, b, hb, who_proc(2), CORE_R_POST), CORE_E_PERM);
    /* a uid grant works on a strict semaphore too */
    assert_status(grant(c, a, h, who_uid(UID_C), CORE_R_OPEN), CORE_OK);
    core_id_t cs = open_session(c, 3, UID_C, GID_C);
    reopen(c, cs, "sg");
}

static void strict_owner_cannot_lock_itself_out(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "lk", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    assert_status(revoke(c, a, h, who_proc(1), CORE_R_ALL), CORE_OK);
    assert_status(revoke(c, a, h, who_uid(UID_A), CORE_R_ALL), CORE_OK);
    assert_status(revoke(c, a, h, who_gid(GID_A), CORE_R_ALL), CORE_OK);
    post_no_wake(c, a, h);
    assert_status(trywait(c, a, h), CORE_OK);
    reopen(c, a, "lk");
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(unlink_name(c, a, "lk"), CORE_OK);
}

static void strict_fork_child_acts_as_the_owner(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "fk", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    core_id_t child = open_session(c, 50, UID_A, GID_A);
    assert_status(inherit(c, child, a, NULL), CORE_OK);
    post_no_wake(c, child, h);
    assert_status(grant(c, child, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    /* the child's fresh opens count as the owner's, after the parent left */
    assert_status(close_session(c, a), CORE_OK);
    reopen(c, child, "fk");
    /* a grandchild too */
    core_id_t grand = open_session(c, 51, UID_A, GID_A);
    assert_status(inherit(c, grand, child, NULL), CORE_OK);
    assert_status(revoke(c, grand, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    /* a stranger of the same uid that was granted access is no owner */
    assert_status(grant(c, grand, h, who_proc(60), CORE_R_OPEN), CORE_OK);
    core_id_t other = open_session(c, 60, UID_A, GID_A);
    core_id_t ho = reopen(c, other, "fk");
    assert_status(grant(c, other, ho, who_proc(60), CORE_R_POST), CORE_E_PERM);
    assert_status(post(c, other, ho, NULL), CORE_E_ACCES);
    /* a process grant to a child's own pid works as well */
    assert_status(grant(c, grand, h, who_proc(60), CORE_R_POST), CORE_OK);
    post_no_wake(c, other, ho);
}

static void strict_root_has_no_bypass(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t root = open_session(c, 2, 0, 0);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "rt", CORE_O_CREAT | CORE_O_STRICT, 0666, 0, &h), CORE_OK);
    assert_status(grant(c, a, h, who_uid(0), CORE_R_OPEN), CORE_OK);
    core_id_t hr = reopen(c, root, "rt");
    assert_status(post(c, root, hr, NULL), CORE_E_ACCES);
    assert_status(grant(c, root, hr, who_uid(0), CORE_R_POST), CORE_E_PERM);
    assert_status(revoke(c, root, hr, who_proc(1), CORE_R_POST), CORE_E_PERM);
    assert_status(unlink_name(c, root, "rt"), CORE_E_ACCES);
    /* a root-created strict semaphore does not admit another root process */
    core_id_t root2 = open_session(c, 3, 0, 0);
    core_id_t hr2 = 0;
    assert_status(open_sem(c, root, "rt2", CORE_O_CREAT | CORE_O_STRICT, 0666, 0, &hr2),
                  CORE_OK);
    core_id_t x;
    assert_status(open_sem(c, root2, "rt2", 0, 0, 0, &x), CORE_E_ACCES);
}

/* A process principal names one process: a later one reusing the pid, or a
 * grant with the wrong start time, does not match. */
static void strict_proc_grant_needs_the_start_time(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "pt", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    struct core_principal wrong = who_proc(2);
    wrong.ext += 1;
    assert_status(grant(c, a, h, wrong, CORE_R_ALL), CORE_OK);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t x;
    assert_status(open_sem(c, b, "pt", 0, 0, 0, &x), CORE_E_ACCES);
    assert_status(grant(c, a, h, who_proc(2), CORE_R_OPEN), CORE_OK);
    reopen(c, b, "pt");
    /* the same pid with another start time (pid reuse) */
    struct core_session_open_args o;
    memset(&o, 0, sizeof o);
    o.pid = 2;
    o.uid = UID_B;
    o.gid = GID_B;
    o.start_time = 99999;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, o), CORE_OK);
    assert_status(open_sem(c, o.session, "pt", 0, 0, 0, &x), CORE_E_ACCES);
    /* and the owner itself, reborn under its pid, is not the owner */
    assert_status(close_session(c, a), CORE_OK);
    o.pid = 1;
    o.uid = UID_A;
    o.gid = GID_A;
    o.start_time = 5;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, o), CORE_OK);
    assert_status(open_sem(c, o.session, "pt", 0, 0, 0, &x), CORE_E_ACCES);
}

static void strict_unlink_can_be_granted(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = 0;
    assert_status(open_sem(c, a, "su", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h), CORE_OK);
    assert_status(grant(c, a, h, who_gid(GID_B), CORE_R_UNLINK), CORE_OK);
    core_id_t x;
    assert_status(open_sem(c, b, "su", 0, 0, 0, &x), CORE_E_ACCES); /* unlink only */
    assert_status(unlink_name(c, b, "su"), CORE_OK);
    post_no_wake(c, a, h); /* still held */
}

static void cfg_strict_makes_every_new_sem_strict(void **state)
{
    struct core_config cfg = acl_cfg(8, 0, 0, CORE_CFG_STRICT);
    struct core *c = reinit(state, &cfg);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t a2 = open_session(c, 2, UID_A, GID_A);
    core_id_t n = create_named(c, a, "df", 0666, 0);
    core_id_t an = create_anon(c, a, 0);
    assert_true(info_of(c, n).flags & CORE_SEMF_STRICT);
    assert_int_equal(info_of(c, an).flags, CORE_SEMF_ANON | CORE_SEMF_STRICT);
    assert_int_equal(info_of(c, an).owner_pid, 1);
    core_id_t x;
    assert_status(open_sem(c, a2, "df", 0, 0, 0, &x), CORE_E_ACCES);
    /* an inherited anonymous semaphore: the child acts as the owner */
    core_id_t child = open_session(c, 3, UID_B, GID_B);
    assert_status(inherit(c, child, a, NULL), CORE_OK);
    assert_status(grant(c, child, an, who_uid(UID_C), CORE_R_WAIT), CORE_OK);
    /* the strangers in a2 may not grant even on what they could see */
    assert_status(grant(c, a2, n, who_uid(UID_C), CORE_R_WAIT), CORE_E_NOTOPEN);
    assert_status(destroy(c, child, an), CORE_OK);
}

static void strict_flag_only_counts_at_creation(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t b = open_session(c, 2, UID_B, GID_B);
    core_id_t h = create_named(c, a, "pp", 0666, 0);
    core_id_t hb = 0;
    uint32_t created = 9;
    assert_status(sem_open_raw(c, b, "pp", 2, CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &hb,
                               &created),
                  CORE_OK);
    assert_int_equal(created, 0);
    assert_int_equal(info_of(c, h).flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED);
    assert_int_equal(info_of(c, h).owner_pid, 0);
    /* B did not become an owner by asking for strict */
    assert_status(grant(c, b, hb, who_uid(UID_C), CORE_R_OPEN), CORE_E_PERM);
}

static void sem_info_reports_owner_and_nacl(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 3);
    uint64_t kid = key_add(c, key);
    core_id_t a = open_session(c, 7, UID_A, GID_A);
    struct ksess k = open_key_session(c, 8, UID_B, GID_B, key);
    core_id_t px = create_named(c, a, "ip", 0600, 0);
    core_id_t sp = 0, sk = 0;
    assert_status(open_sem(c, a, "is", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &sp), CORE_OK);
    assert_status(kopen(c, &k, "ik", CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &sk), CORE_OK);
    assert_status(grant(c, a, sp, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(grant(c, a, sp, who_gid(GID_B), CORE_R_OPEN), CORE_OK);
    struct core_sem_info i = info_of(c, px);
    assert_true(i.owner_key == 0);
    assert_int_equal(i.owner_pid, 0);
    assert_int_equal(i.nacl, 0);
    i = info_of(c, sp);
    assert_true(i.owner_key == 0);
    assert_int_equal(i.owner_pid, 7);
    assert_int_equal(i.nacl, 2);
    i = info_of(c, sk);
    assert_true(i.owner_key == kid);
    assert_int_equal(i.owner_pid, 0);
    assert_int_equal(i.uid, UID_B);
    assert_int_equal(i.flags & ~CORE_SEMF_FIFO, CORE_SEMF_NAMED | CORE_SEMF_STRICT);
}

/* ---- keys ---- */

static void key_add_returns_the_id_and_wipes_the_key(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES], copy[CORE_KEY_BYTES];
    make_key(key, 4);
    memcpy(copy, key, sizeof key);
    uint64_t id = key_add(c, key); /* key_add_r checks the wipe */
    assert_memory_equal(key, copy, sizeof key); /* the caller's own buffer is its own */
    assert_int_equal(stats(c).keys_in_use, 1);
    /* a duplicate is fine and takes no slot */
    assert_true(key_add(c, key) == id);
    assert_int_equal(stats(c).keys_in_use, 1);
    /* another key, another id */
    uint8_t other[CORE_KEY_BYTES];
    make_key(other, 5);
    assert_true(key_add(c, other) != id);
    assert_int_equal(stats(c).keys_in_use, 2);
    /* one bit of difference is another key */
    uint64_t id5 = core_auth_key_id(other);
    other[31] ^= 1;
    assert_true(key_add(c, other) != id5);
    assert_int_equal(stats(c).keys_in_use, 3);
}

static void key_table_full_is_nospc(void **state)
{
    struct core_config cfg = acl_cfg(0, 2, 1, 0);
    struct core *c = reinit(state, &cfg);
    uint8_t k1[CORE_KEY_BYTES], k2[CORE_KEY_BYTES], k3[CORE_KEY_BYTES];
    make_key(k1, 1);
    make_key(k2, 2);
    make_key(k3, 3);
    key_add(c, k1);
    key_add(c, k2);
    uint64_t id = 0;
    assert_status(key_add_r(c, k3, &id), CORE_E_NOSPC);
    assert_int_equal(stats(c).keys_in_use, 2);
    /* a key that was refused cannot open a session */
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, core_auth_key_id(k3), NULL, NULL),
                  CORE_E_AUTH);
    /* a known key is still fine when the table is full */
    assert_status(key_add_r(c, k1, &id), CORE_OK);
    assert_true(id == core_auth_key_id(k1));
    /* no key table at all */
    cfg = acl_cfg(0, 0, 1, 0);
    c = reinit(state, &cfg);
    assert_status(key_add_r(c, k1, NULL), CORE_E_NOSPC);
    assert_int_equal(stats(c).keys_in_use, 0);
}

static void session_open_with_unknown_key_is_auth(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 6);
    uint64_t kid = core_auth_key_id(key);
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, kid, NULL, NULL), CORE_E_AUTH);
    key_add(c, key);
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, kid + 1, NULL, NULL), CORE_E_AUTH);
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, UINT64_MAX, NULL, NULL),
                  CORE_E_AUTH);
    struct core_stats st = stats(c);
    assert_int_equal(st.sessions_in_use, 0);
    assert_int_equal(st.keyed_in_use, 0);
    assert_int_equal(st.refused[-CORE_E_AUTH], 3);
}

static void key_session_proof_and_info(void **state)
{
    struct core *c = core_of(state);
    uint8_t key[CORE_KEY_BYTES], other[CORE_KEY_BYTES];
    make_key(key, 7);
    make_key(other, 8);
    uint64_t kid = key_add(c, key);
    uint8_t n1[CORE_NONCE_BYTES], n2[CORE_NONCE_BYTES];
    make_nonce(n1, 1);
    make_nonce(n2, 2);
    struct core_session_open_args a1, a2;
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, kid, n1, &a1), CORE_OK);
    assert_status(key_session_open_raw(c, 2, UID_A, GID_A, kid, n2, &a2), CORE_OK);
    uint8_t ks[CORE_KEY_BYTES], proof[CORE_MAC_BYTES];
    core_auth_session_key(key, a1.session, n1, a1.core_nonce, ks);
    core_auth_proof(ks, a1.session, n1, a1.core_nonce, proof);
    assert_true(core_auth_equal(proof, a1.proof));
    /* what a client without the key would compute does not match */
    core_auth_session_key(other, a1.session, n1, a1.core_nonce, ks);
    core_auth_proof(ks, a1.session, n1, a1.core_nonce, proof);
    assert_false(core_auth_equal(proof, a1.proof));
    /* nor a proof for another session or nonce */
    assert_false(core_auth_equal(a1.proof, a2.proof));
    core_auth_session_key(key, a1.session, n2, a1.core_nonce, ks);
    core_auth_proof(ks, a1.session, n2, a1.core_nonce, proof);
    assert_false(core_auth_equal(proof, a1.proof));
    struct core_session_info_args i;
    assert_status(session_info(c, a1.session, &i), CORE_OK);
    assert_true(i.key_id == kid);
    assert_int_equal(i.pid, 1);
    /* a PID session: key 0, proof all zero */
    struct core_session_open_args p;
    assert_status(key_session_open_raw(c, 3, UID_A, GID_A, 0, n1, &p), CORE_OK);
    assert_memory_equal(p.proof, zero_mac, CORE_MAC_BYTES);
    assert_status(session_info(c, p.session, &i), CORE_OK);
    assert_true(i.key_id == 0);
    assert_int_equal(stats(c).keyed_in_use, 2);
}

static void keyed_table_full_is_nospc_and_close_frees(void **state)
{
    struct core_config cfg = acl_cfg(0, 1, 1, 0);
    struct core *c = reinit(state, &cfg);
    uint8_t key[CORE_KEY_BYTES];
    make_key(key, 9);
    uint64_t kid = key_add(c, key);
    struct ksess k = open_key_session(c, 1, UID_A, GID_A, key);
    assert_status(key_session_open_raw(c, 2, UID_A, GID_A, kid, NULL, NULL), CORE_E_NOSPC);
    struct core_stats st = stats(c);
    assert_int_equal(st.sessions_in_use, 1);
    assert_int_equal(st.keyed_in_use, 1);
    core_id_t p = open_session(c, 3, UID_A, GID_A); /* PID sessions are not limited */
    (void)p;
    assert_status(close_session(c, k.id), CORE_OK);
    assert_int_equal(stats(c).keyed_in_use, 0);
    /* the freed state serves a new session whose sequences start afresh */
    struct ksess k2 = open_key_session(c, 4, UID_A, GID_A, key);
    core_id_t h;
    assert_status(kopen(c, &k2, "fresh", CORE_O_CREAT, 0600, 0, &h), CORE_OK);
    assert_int_equal(k2.seq, 1);
    /* no key-session table at all */
    cfg = acl_cfg(0, 1, 0, 0);
    c = reinit(state, &cfg);
    kid = key_add(c, key);
    assert_status(key_session_open_raw(c, 1, UID_A, GID_A, kid, NULL, NULL), CORE_E_NOSPC);
    assert_int_equal(stats(c).sessions_in_use, 0);
}

/* ---- core bug: held rights after an unrelated grant ---- */

/* esem_core.h, SESSION_SETCRED: "what it has open stays open, as file
 * descriptors do" (setcred_changes_later_checks_not_held_opens).  A grant
 * that names somebody else must not take that away. */
static void held_rights_survive_a_grant_to_somebody_else(void **state)
{
    struct core *c = core_of(state);
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, owner, "held", 0600, 0);
    core_id_t s = open_session(c, 2, UID_A, GID_A);
    core_id_t hs = reopen(c, s, "held");
    assert_status(setcred(c, s, UID_B, GID_B, 0), CORE_OK);
    post_no_wake(c, s, hs); /* still held, as the header promises */
    /* the owner lets a third uid in: nothing about s changed */
    assert_status(grant(c, owner, h, who_uid(UID_C), CORE_R_OPEN), CORE_OK);
    assert_status(post(c, s, hs, NULL), CORE_OK);
    assert_status(trywait(c, s, hs), CORE_OK);
}

/* Same cause, without setcred: the creator of a 0400 semaphore holds it
 * with every right (as open(O_CREAT) gives a file's creator its descriptor
 * whatever the mode); a grant to another uid must not take them away. */
static void creator_keeps_rights_after_a_grant_to_somebody_else(void **state)
{
    struct core *c = core_of(state);
    core_id_t a = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, a, "ro", 0400, 0);
    post_no_wake(c, a, h);
    assert_status(grant(c, a, h, who_uid(UID_B), CORE_R_OPEN), CORE_OK);
    assert_status(post(c, a, h, NULL), CORE_OK);
    assert_status(trywait(c, a, h), CORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(arena_size_checks_new_config_limits),
        T(stats_report_new_counters),
        T(request_layout_matches_mac_coverage),
        T(posix_base_rights_follow_mode_bits),
        T(grant_lets_other_uid_open_only_what_is_granted),
        T(grant_to_gid_covers_supplementary_groups),
        T(deny_wins_within_a_level),
        T(more_specific_level_overrides),
        T(revoked_post_fails_holders_next_post_at_once),
        T(revoked_wait_refuses_wait_and_trywait),
        T(revoked_open_keeps_held_record_but_refuses_new_opens),
        T(unlink_right_can_be_granted_and_revoked),
        T(destroy_of_anonymous_needs_unlink_right),
        T(grant_by_non_owner_is_perm),
        T(grant_checks_session_handle_and_open_record),
        T(grant_rejects_bad_rights),
        T(grant_rejects_bad_principals),
        T(grant_and_revoke_edit_one_entry_per_principal),
        T(acl_table_full_is_nospc),
        T(acl_entries_freed_with_the_semaphore),
        T(sem_acl_walk_ends_with_found_zero),
        T(sem_acl_rejects_forged_cursors_and_handles),
        T(strict_sem_refuses_same_uid_other_process_and_root),
        T(strict_owner_grants_to_a_process),
        T(strict_owner_cannot_lock_itself_out),
        T(strict_fork_child_acts_as_the_owner),
        T(strict_root_has_no_bypass),
        T(strict_proc_grant_needs_the_start_time),
        T(strict_unlink_can_be_granted),
        T(cfg_strict_makes_every_new_sem_strict),
        T(strict_flag_only_counts_at_creation),
        T(sem_info_reports_owner_and_nacl),
        T(key_add_returns_the_id_and_wipes_the_key),
        T(key_table_full_is_nospc),
        T(session_open_with_unknown_key_is_auth),
        T(key_session_proof_and_info),
        T(keyed_table_full_is_nospc_and_close_frees),
        T(held_rights_survive_a_grant_to_somebody_else),
        T(creator_keeps_rights_after_a_grant_to_somebody_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
