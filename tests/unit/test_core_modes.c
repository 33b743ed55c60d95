/*
 * Unit tests of the trusted core: who may open a named semaphore by its
 * mode bits (owner, group, other classes as POSIX files have them; root),
 * and what a refused or repeated open leaves.  Access lists: test_core_access.c.
 * Fixture and helpers: core_tests.h.
 */
#include "core_tests.h"

/* Owner uid UID_A/GID_A creates "p" with mode; returns a session of the owner. */
static core_id_t owner_creates(struct core *c, uint32_t mode)
{
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    create_named(c, owner, "p", mode, 0);
    return owner;
}

static int32_t try_open_as(struct core *c, uint32_t uid, uint32_t gid, uint32_t ngroups,
                           const uint32_t *groups)
{
    core_id_t s;
    assert_status(session_open_groups(c, 2, uid, gid, ngroups, groups, &s), CORE_OK);
    int32_t r = open_sem(c, s, "p", 0, 0, 0, NULL);
    assert_status(close_session(c, s), CORE_OK);
    return r;
}

static void sem_open_same_uid_0600_allowed(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0600);
    assert_status(try_open_as(c, UID_A, GID_B, 0, NULL), CORE_OK);
}

static void sem_open_other_uid_0600_is_acces(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0600);
    assert_status(try_open_as(c, UID_B, GID_B, 0, NULL), CORE_E_ACCES);
    assert_status(try_open_as(c, UID_B, GID_A, 0, NULL), CORE_E_ACCES);
}

static void sem_open_owner_needs_read_and_write(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0400);
    assert_status(try_open_as(c, UID_A, GID_A, 0, NULL), CORE_E_ACCES);
}

static void sem_open_owner_class_excludes_group_and_other(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0066); /* group and other may, the owner may not */
    assert_status(try_open_as(c, UID_A, GID_A, 0, NULL), CORE_E_ACCES);
}

static void sem_open_group_via_gid_0660(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0660);
    assert_status(try_open_as(c, UID_B, GID_A, 0, NULL), CORE_OK);
    assert_status(try_open_as(c, UID_B, GID_B, 0, NULL), CORE_E_ACCES);
}

static void sem_open_group_via_supplementary_groups_0660(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0660);
    const uint32_t groups[CORE_NGROUPS_MAX] = {GID_C, 555, GID_A};
    assert_status(try_open_as(c, UID_B, GID_B, 3, groups), CORE_OK);
    /* entries past ngroups are not the caller's groups */
    assert_status(try_open_as(c, UID_B, GID_B, 2, groups), CORE_E_ACCES);
}

static void sem_open_group_class_excludes_other(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0606); /* other may, the group may not */
    assert_status(try_open_as(c, UID_B, GID_A, 0, NULL), CORE_E_ACCES);
    const uint32_t groups[CORE_NGROUPS_MAX] = {GID_A};
    assert_status(try_open_as(c, UID_B, GID_B, 1, groups), CORE_E_ACCES);
    assert_status(try_open_as(c, UID_C, GID_C, 0, NULL), CORE_OK);
}

static void sem_open_group_needs_read_and_write(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0640);
    assert_status(try_open_as(c, UID_B, GID_A, 0, NULL), CORE_E_ACCES);
}

static void sem_open_other_needs_read_and_write(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0662);
    assert_status(try_open_as(c, UID_C, GID_C, 0, NULL), CORE_E_ACCES);
}

static void sem_open_other_0666(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0666);
    assert_status(try_open_as(c, UID_C, GID_C, 0, NULL), CORE_OK);
}

static void sem_open_other_0660_is_acces(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0660);
    assert_status(try_open_as(c, UID_C, GID_C, 0, NULL), CORE_E_ACCES);
}

static void sem_open_uid_0_always_allowed(void **state)
{
    struct core *c = core_of(state);
    owner_creates(c, 0000);
    assert_status(try_open_as(c, 0, GID_C, 0, NULL), CORE_OK);
}

static void sem_open_acces_leaves_no_open(void **state)
{
    struct core *c = core_of(state);
    core_id_t owner = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, owner, "p", 0600, 1);
    core_id_t other = open_session(c, 2, UID_B, GID_B);
    assert_status(open_sem(c, other, "p", CORE_O_CREAT, 0666, 0, NULL), CORE_E_ACCES);
    assert_status(getvalue(c, other, h, NULL), CORE_E_NOTOPEN);
    assert_status(post(c, other, h, NULL), CORE_E_NOTOPEN);
    assert_int_equal(info_of(c, h).open_count, 1);
}

static void sem_open_counts_references(void **state)
{
    struct core *c = core_of(state);
    core_id_t s = open_session(c, 1, UID_A, GID_A);
    core_id_t h = create_named(c, s, "r", 0600, 0);
    assert_true(reopen(c, s, "r") == h);
    assert_true(reopen(c, s, "r") == h);
    assert_int_equal(info_of(c, h).open_count, 3);
    assert_int_equal(stats(c).opens_in_use, 1); /* one record, count 3 */
    struct core_sem_member_args m[4];
    assert_int_equal(members(c, CORE_ECALL_SEM_HOLDERS, h, m, 4), 1);
    assert_int_equal(m[0].count, 3);

    assert_status(close_sem(c, s, h), CORE_OK);
    assert_status(close_sem(c, s, h), CORE_OK);
    assert_status(getvalue(c, s, h, NULL), CORE_OK);
    assert_status(close_sem(c, s, h), CORE_OK);
    assert_status(close_sem(c, s, h), CORE_E_NOTOPEN);
    assert_int_equal(stats(c).opens_in_use, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(sem_open_same_uid_0600_allowed),
        T(sem_open_other_uid_0600_is_acces),
        T(sem_open_owner_needs_read_and_write),
        T(sem_open_owner_class_excludes_group_and_other),
        T(sem_open_group_via_gid_0660),
        T(sem_open_group_via_supplementary_groups_0660),
        T(sem_open_group_class_excludes_other),
        T(sem_open_group_needs_read_and_write),
        T(sem_open_other_needs_read_and_write),
        T(sem_open_other_0666),
        T(sem_open_other_0660_is_acces),
        T(sem_open_uid_0_always_allowed),
        T(sem_open_acces_leaves_no_open),
        T(sem_open_counts_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
