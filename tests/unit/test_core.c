/*
 * Unit tests of the trusted core (enclave/core.c), driven through its
 * boundary only: core_arena_size, core_init, core_ecall, core_strerror.
 * No daemon, no threads; every test gets a fresh core in its own arena.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core_auth.h"
#include "esem_core.h"

/* ---- fixture ---- */

struct fixture {
    void *arena;
    struct core *c;
};

static const struct core_config default_cfg = {
    .max_sems = 16,
    .max_sessions = 8,
    .max_opens = 32,
    .max_waiters = 16,
    .max_long_names = 2,
    .max_acls = 16,
    .max_keys = 4,
    .max_keyed = 4,
    /* FIFO hand-off: these tests pin down that order (test_barging.c
     * covers the default, barging order) */
    .flags = CORE_CFG_FIFO,
};

static struct core *make_core(const struct core_config *cfg, void **arena)
{
    uint64_t n = core_arena_size(cfg);
    *arena = NULL;
    if (n == 0)
        return NULL;
    *arena = aligned_alloc(64, n); /* n is a multiple of 64 */
    if (!*arena)
        return NULL;
    memset(*arena, 0xa5, n); /* core_init must not rely on a zeroed arena */
    return core_init(*arena, n, cfg);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    f->c = make_core(&default_cfg, &f->arena);
    return f->c ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->arena);
    free(f);
    return 0;
}

static struct core *core_of(void **state) { return ((struct fixture *)*state)->c; }

/* Replace the fixture's core with one sized by cfg. */
static struct core *reinit(void **state, const struct core_config *cfg)
{
    struct fixture *f = *state;
    free(f->arena);
    f->c = make_core(cfg, &f->arena);
    assert_non_null(f->c);
    return f->c;
}

#define assert_status(expr, want)                                                  \
    do {                                                                           \
        int32_t got_ = (expr), want_ = (want);                                     \
        if (got_ != want_)                                                         \
            fail_msg("%s: got %d (%s), want %d (%s)", #expr, (int)got_,            \
                     core_strerror(got_), (int)want_, core_strerror(want_));       \
    } while (0)

#define CALL(c, call, args) core_ecall((c), (call), &(args), sizeof(args))

#define SLOT_OF(id) ((uint32_t)(id))        /* index + 1 */
#define GEN_OF(id) ((uint32_t)((id) >> 32))
#define MKID(gen, idx1) ((uint64_t)(gen) << 32 | (uint32_t)(idx1))

enum { UID_A = 1000, GID_A = 100, UID_B = 2000, GID_B = 200, UID_C = 3000, GID_C = 300 };

/* ---- session helpers ---- */

/* groups, if given, holds CORE_NGROUPS_MAX entries; all are passed, only
 * the first ngroups count. */
static int32_t session_open_groups(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                   uint32_t ngroups, const uint32_t *groups, core_id_t *out)
{
    struct core_session_open_args a;
    memset(&a, 0, sizeof a);
    a.pid = pid;
    a.uid = uid;
    a.gid = gid;
    a.ngroups = ngroups;
    if (groups)
        memcpy(a.groups, groups, sizeof a.groups);
    a.start_time = 1000u + pid;
    int32_t r = CALL(c, CORE_ECALL_SESSION_OPEN, a);
    if (out)
        *out = a.session;
    return r;
}

static core_id_t open_session(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid)
{
    core_id_t s = 0;
    assert_status(session_open_groups(c, pid, uid, gid, 0, NULL, &s), CORE_OK);
    assert_true(s != 0);
    return s;
}

static int32_t close_session(struct core *c, core_id_t s)
{
    struct core_session_close_args a = {.session = s};
    return CALL(c, CORE_ECALL_SESSION_CLOSE, a);
}

static int32_t inherit(struct core *c, core_id_t child, core_id_t parent, uint32_t *nopens)
{
    struct core_session_inherit_args a = {.child = child, .parent = parent};
    int32_t r = CALL(c, CORE_ECALL_SESSION_INHERIT, a);
    if (nopens)
        *nopens = a.nopens;
    return r;
}

static int32_t session_info(struct core *c, core_id_t s, struct core_session_info_args *out)
{
    struct core_session_info_args a = {.session = s};
    int32_t r = CALL(c, CORE_ECALL_SESSION_INFO, a);
    if (out)
        *out = a;
    return r;
}

/* ---- semaphore helpers ---- */

static int32_t sem_open_raw(struct core *c, core_id_t s, const char *name, uint32_t len,
                            uint32_t oflag, uint32_t mode, uint32_t value, core_id_t *h,
                            uint32_t *created)
{
    struct core_sem_open_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.oflag = oflag;
    a.mode = mode;
    a.value = value;
    a.name_len = len;
    memcpy(a.name, name, len < sizeof a.name ? len : sizeof a.name);
    int32_t r = CALL(c, CORE_ECALL_SEM_OPEN, a);
    if (h)
        *h = a.handle;
    if (created)
        *created = a.created;
    return r;
}

static int32_t open_sem(struct core *c, core_id_t s, const char *name, uint32_t oflag,
                        uint32_t mode, uint32_t value, core_id_t *h)
{
    return sem_open_raw(c, s, name, (uint32_t)strlen(name), oflag, mode, value, h, NULL);
}

static core_id_t create_named(struct core *c, core_id_t s, const char *name, uint32_t mode,
                              uint32_t value)
{
    core_id_t h = 0;
    uint32_t created = 0;
    assert_status(sem_open_raw(c, s, name, (uint32_t)strlen(name), CORE_O_CREAT | CORE_O_EXCL,
                               mode, value, &h, &created),
                  CORE_OK);
    assert_int_equal(created, 1);
    assert_true(h != 0);
    return h;
}

static core_id_t reopen(struct core *c, core_id_t s, const char *name)
{
    core_id_t h = 0;
    assert_status(open_sem(c, s, name, 0, 0, 0, &h), CORE_OK);
    return h;
}

static int32_t create_anon_r(struct core *c, core_id_t s, uint32_t value, core_id_t *h)
{
    struct core_sem_create_args a = {.session = s, .value = value};
    int32_t r = CALL(c, CORE_ECALL_SEM_CREATE, a);
    if (h)
        *h = a.handle;
    return r;
}

static core_id_t create_anon(struct core *c, core_id_t s, uint32_t value)
{
    core_id_t h = 0;
    assert_status(create_anon_r(c, s, value, &h), CORE_OK);
    assert_true(h != 0);
    return h;
}

static int32_t handle_call(struct core *c, uint32_t call, core_id_t s, core_id_t h,
                           uint32_t *value)
{
    struct core_sem_handle_args a = {.session = s, .handle = h};
    int32_t r = CALL(c, call, a);
    if (value)
        *value = a.value;
    return r;
}

static int32_t close_sem(struct core *c, core_id_t s, core_id_t h)
{
    return handle_call(c, CORE_ECALL_SEM_CLOSE, s, h, NULL);
}

static int32_t destroy(struct core *c, core_id_t s, core_id_t h)
{
    return handle_call(c, CORE_ECALL_SEM_DESTROY, s, h, NULL);
}

static int32_t getvalue(struct core *c, core_id_t s, core_id_t h, uint32_t *v)
{
    return handle_call(c, CORE_ECALL_SEM_GETVALUE, s, h, v);
}

static uint32_t value_of(struct core *c, core_id_t s, core_id_t h)
{
    uint32_t v = 0;
    assert_status(getvalue(c, s, h, &v), CORE_OK);
    return v;
}

static int32_t unlink_raw(struct core *c, core_id_t s, const char *name, uint32_t len)
{
    struct core_sem_unlink_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.name_len = len;
    memcpy(a.name, name, len < sizeof a.name ? len : sizeof a.name);
    return CALL(c, CORE_ECALL_SEM_UNLINK, a);
}

static int32_t unlink_name(struct core *c, core_id_t s, const char *name)
{
    return unlink_raw(c, s, name, (uint32_t)strlen(name));
}

static int32_t post(struct core *c, core_id_t s, core_id_t h, struct core_wake *wake)
{
    struct core_sem_post_args a;
    memset(&a, 0x5a, sizeof a); /* the core must clear the wake record itself */
    a.session = s;
    a.handle = h;
    int32_t r = CALL(c, CORE_ECALL_SEM_POST, a);
    if (wake)
        *wake = a.wake;
    return r;
}

/* Post that must not wake anybody. */
static void post_no_wake(struct core *c, core_id_t s, core_id_t h)
{
    struct core_wake w;
    assert_status(post(c, s, h, &w), CORE_OK);
    assert_int_equal(w.valid, 0);
}

/* Post that must hand the permit to (session, slot). */
static void post_wakes(struct core *c, core_id_t s, core_id_t h, core_id_t want_sess,
                       uint32_t want_slot)
{
    struct core_wake w;
    assert_status(post(c, s, h, &w), CORE_OK);
    assert_int_equal(w.valid, 1);
    assert_true(w.session == want_sess);
    assert_int_equal(w.slot, want_slot);
}

static int32_t wait_raw(struct core *c, core_id_t s, core_id_t h, uint32_t slot,
                        uint32_t flags, int32_t prio)
{
    struct core_sem_wait_args a = {
        .session = s, .handle = h, .slot = slot, .flags = flags, .prio = prio};
    return CALL(c, CORE_ECALL_SEM_WAIT, a);
}

static int32_t wait_on(struct core *c, core_id_t s, core_id_t h, uint32_t slot, int32_t prio)
{
    return wait_raw(c, s, h, slot, 0, prio);
}

static int32_t trywait(struct core *c, core_id_t s, core_id_t h)
{
    return wait_raw(c, s, h, 0, CORE_WAIT_TRY, 0);
}

static int32_t cancel(struct core *c, core_id_t s, uint32_t slot)
{
    struct core_sem_cancel_args a = {.session = s, .slot = slot};
    return CALL(c, CORE_ECALL_SEM_CANCEL, a);
}

static struct core_stats stats(struct core *c)
{
    struct core_stats_args a;
    memset(&a, 0xff, sizeof a);
    assert_status(CALL(c, CORE_ECALL_STATS, a), CORE_OK);
    return a.stats;
}

static void assert_nothing_in_use(struct core *c)
{
    struct core_stats st = stats(c);
    assert_int_equal(st.sems_in_use, 0);
    assert_int_equal(st.sessions_in_use, 0);
    assert_int_equal(st.opens_in_use, 0);
    assert_int_equal(st.waiters_in_use, 0);
}

/* Find the SEM_INFO record of handle h; 0 if no live semaphore has it. */
static int sem_info_of(struct core *c, core_id_t h, struct core_sem_info *out)
{
    uint32_t cursor = 0;
    for (;;) {
        struct core_sem_info_args a = {.cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            return 0;
        if (a.info.handle == h) {
            if (out)
                *out = a.info;
            return 1;
        }
        assert_true(a.next > cursor);
        cursor = a.next;
    }
}

static struct core_sem_info info_of(struct core *c, core_id_t h)
{
    struct core_sem_info i;
    assert_true(sem_info_of(c, h, &i));
    return i;
}

/* Walk SEM_HOLDERS or SEM_WAITERS of h into out[max]; returns the count. */
static uint32_t members(struct core *c, uint32_t call, core_id_t h,
                        struct core_sem_member_args *out, uint32_t max)
{
    uint32_t n = 0, cursor = 0;
    for (;;) {
        struct core_sem_member_args a = {.handle = h, .cursor = cursor};
        assert_status(CALL(c, call, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(n < max);
        if (out)
            out[n] = a;
        n++;
        /* The core ends a list with next = 0xffffffff (see
         * member_walk_ends_with_found_zero for feeding that back). */
        if (a.next == UINT32_MAX)
            break;
        cursor = a.next;
    }
    return n;
}

static const struct core_sem_member_args *
find_member(const struct core_sem_member_args *m, uint32_t n, core_id_t session)
{
    for (uint32_t i = 0; i < n; i++)
        if (m[i].session == session)
            return &m[i];
    return NULL;
}

/* A name of len bytes: 'x' repeated, the last byte set to tail. */
static void long_name(char *buf, uint32_t len, char tail)
{
    memset(buf, 'x', len);
    buf[len - 1] = tail;
}

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

static const uint64_t call_size[CORE_ECALL_MAX_] = {
    [CORE_ECALL_SESSION_OPEN] = sizeof(struct core_session_open_args),
    [CORE_ECALL_SESSION_INHERIT] = sizeof(struct core_session_inherit_args),
    [CORE_ECALL_SESSION_CLOSE] = sizeof(struct core_session_close_args),
    [CORE_ECALL_SEM_OPEN] = sizeof(struct core_sem_open_args),
    [CORE_ECALL_SEM_CREATE] = sizeof(struct core_sem_create_args),
    [CORE_ECALL_SEM_CLOSE] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_DESTROY] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_UNLINK] = sizeof(struct core_sem_unlink_args),
    [CORE_ECALL_SEM_POST] = sizeof(struct core_sem_post_args),
    [CORE_ECALL_SEM_WAIT] = sizeof(struct core_sem_wait_args),
    [CORE_ECALL_SEM_CANCEL] = sizeof(struct core_sem_cancel_args),
    [CORE_ECALL_SEM_GETVALUE] = sizeof(struct core_sem_handle_args),
    [CORE_ECALL_SEM_INFO] = sizeof(struct core_sem_info_args),
    [CORE_ECALL_SEM_HOLDERS] = sizeof(struct core_sem_member_args),
    [CORE_ECALL_SEM_WAITERS] = sizeof(struct core_sem_member_args),
    [CORE_ECALL_STATS] = sizeof(struct core_stats_args),
    [CORE_ECALL_SESSION_INFO] = sizeof(struct core_session_info_args),
    [CORE_ECALL_SESSION_SETCRED] = sizeof(struct core_session_setcred_args),
    [CORE_ECALL_KEY_ADD] = sizeof(struct core_key_add_args),
    [CORE_ECALL_REQUEST] = sizeof(struct core_request_args),
    [CORE_ECALL_SEM_GRANT] = sizeof(struct core_sem_grant_args),
    [CORE_ECALL_SEM_REVOKE] = sizeof(struct core_sem_grant_args),
    [CORE_ECALL_SEM_ACL] = sizeof(struct core_sem_acl_args),
    [CORE_ECALL_NOTES] = sizeof(struct core_notes_args),
    [CORE_ECALL_KEY_REMOVE] = sizeof(struct core_key_remove_args),
};

union any_args {
    struct core_notes_args notes;
    struct core_key_remove_args key_remove;
    struct core_session_open_args session_open;
    struct core_session_inherit_args session_inherit;
    struct core_session_close_args session_close;
    struct core_sem_open_args sem_open;
    struct core_sem_create_args sem_create;
    struct core_sem_handle_args sem_handle;
    struct core_sem_unlink_args sem_unlink;
    struct core_sem_post_args sem_post;
    struct core_sem_wait_args sem_wait;
    struct core_sem_cancel_args sem_cancel;
    struct core_sem_info_args sem_info;
    struct core_sem_member_args sem_member;
    struct core_stats_args stats;
    struct core_session_info_args session_info;
    struct core_session_setcred_args session_setcred;
    struct core_key_add_args key_add;
    struct core_request_args request;
    struct core_sem_grant_args sem_grant;
    struct core_sem_acl_args sem_acl;
    unsigned char bytes[512];
};

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

static int32_t setcred(struct core *c, core_id_t s, uint32_t uid, uint32_t gid, uint32_t ngroups)
{
    struct core_session_setcred_args a = {.session = s, .uid = uid, .gid = gid,
                                          .ngroups = ngroups};
    return CALL(c, CORE_ECALL_SESSION_SETCRED, a);
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

/* ---- access control ---- */

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

/* ---- access lists, strict policy and key sessions: helpers ---- */

static struct core_principal who_uid(uint32_t uid)
{
    struct core_principal p = {.kind = CORE_P_UID, .id = uid};
    return p;
}

static struct core_principal who_gid(uint32_t gid)
{
    struct core_principal p = {.kind = CORE_P_GID, .id = gid};
    return p;
}

/* One process: pid and the start time session_open_groups gives it. */
static struct core_principal who_proc(uint32_t pid)
{
    struct core_principal p = {.kind = CORE_P_PROC, .id = pid, .ext = 1000u + pid};
    return p;
}

static struct core_principal who_key(uint64_t key_id)
{
    struct core_principal p = {.kind = CORE_P_KEY, .ext = key_id};
    return p;
}

static int32_t acl_call(struct core *c, uint32_t call, core_id_t s, core_id_t h,
                        struct core_principal who, uint32_t rights)
{
    struct core_sem_grant_args a = {.session = s, .handle = h, .who = who, .rights = rights};
    return CALL(c, call, a);
}

static int32_t grant(struct core *c, core_id_t s, core_id_t h, struct core_principal who,
                     uint32_t rights)
{
    return acl_call(c, CORE_ECALL_SEM_GRANT, s, h, who, rights);
}

static int32_t revoke(struct core *c, core_id_t s, core_id_t h, struct core_principal who,
                      uint32_t rights)
{
    return acl_call(c, CORE_ECALL_SEM_REVOKE, s, h, who, rights);
}

/* Walk SEM_ACL of h into out[max]; returns the number of entries. */
static uint32_t acl_walk(struct core *c, core_id_t h, struct core_sem_acl_args *out, uint32_t max)
{
    uint32_t n = 0, cursor = 0;
    for (;;) {
        struct core_sem_acl_args a;
        memset(&a, 0xee, sizeof a);
        a.handle = h;
        a.cursor = cursor;
        assert_status(CALL(c, CORE_ECALL_SEM_ACL, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(n < max);
        if (out)
            out[n] = a;
        n++;
        if (a.next == UINT32_MAX)
            break;
        cursor = a.next;
    }
    return n;
}

static const struct core_sem_acl_args *acl_find(const struct core_sem_acl_args *e, uint32_t n,
                                                struct core_principal who)
{
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(&e[i].who, &who, sizeof who) == 0)
            return &e[i];
    return NULL;
}

static void make_key(uint8_t key[CORE_KEY_BYTES], uint8_t seed)
{
    for (uint32_t i = 0; i < CORE_KEY_BYTES; i++)
        key[i] = (uint8_t)(seed * 37u + i * 11u + 1u);
}

static int32_t key_add_r(struct core *c, const uint8_t key[CORE_KEY_BYTES], uint64_t *id)
{
    static const uint8_t zeros[CORE_KEY_BYTES];
    struct core_key_add_args a;
    memset(&a, 0, sizeof a);
    memcpy(a.key, key, CORE_KEY_BYTES);
    a.key_id = 0x5a5a5a5a5a5a5a5aull;
    int32_t r = CALL(c, CORE_ECALL_KEY_ADD, a);
    assert_memory_equal(a.key, zeros, CORE_KEY_BYTES); /* wiped, whatever the outcome */
    if (id)
        *id = a.key_id;
    return r;
}

static uint64_t key_add(struct core *c, const uint8_t key[CORE_KEY_BYTES])
{
    uint64_t id = 0;
    assert_status(key_add_r(c, key, &id), CORE_OK);
    assert_true(id == core_auth_key_id(key));
    assert_true(id != 0);
    return id;
}

/* The client's view of a key session. */
struct ksess {
    core_id_t id;
    uint64_t key_id;
    uint8_t ks[CORE_KEY_BYTES];
    uint32_t seq; /* last sequence number sent (one counter serves every slot) */
};

static void make_nonce(uint8_t nonce[CORE_NONCE_BYTES], uint32_t seed)
{
    for (uint32_t i = 0; i < CORE_NONCE_BYTES; i++)
        nonce[i] = (uint8_t)(seed * 13u + i * 5u + 3u);
}

static int32_t key_session_open_raw(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                    uint64_t key_id, const uint8_t nonce[CORE_NONCE_BYTES],
                                    struct core_session_open_args *out)
{
    struct core_session_open_args a;
    memset(&a, 0, sizeof a);
    a.pid = pid;
    a.uid = uid;
    a.gid = gid;
    a.start_time = 1000u + pid;
    a.key_id = key_id;
    if (nonce)
        memcpy(a.nonce, nonce, CORE_NONCE_BYTES);
    memset(a.proof, 0xee, sizeof a.proof);
    int32_t r = CALL(c, CORE_ECALL_SESSION_OPEN, a);
    if (out)
        *out = a;
    return r;
}

/* Open a key session as a client would: a fresh nonce, the core's proof
 * checked, the session key derived on the client's side. */
static struct ksess open_key_session(struct core *c, uint32_t pid, uint32_t uid, uint32_t gid,
                                     const uint8_t key[CORE_KEY_BYTES])
{
    uint8_t nonce[CORE_NONCE_BYTES], proof[CORE_MAC_BYTES];
    make_nonce(nonce, pid);
    struct core_session_open_args a;
    assert_status(key_session_open_raw(c, pid, uid, gid, core_auth_key_id(key), nonce, &a),
                  CORE_OK);
    struct ksess k;
    memset(&k, 0, sizeof k);
    k.id = a.session;
    k.key_id = core_auth_key_id(key);
    core_auth_session_key(key, k.id, nonce, a.core_nonce, k.ks);
    core_auth_proof(k.ks, k.id, nonce, a.core_nonce, proof);
    assert_true(core_auth_equal(proof, a.proof));
    return k;
}

static struct core_req mkreq(uint32_t call, core_id_t h)
{
    struct core_req q;
    memset(&q, 0, sizeof q);
    q.call = call;
    q.handle = h;
    return q;
}

static void req_name(struct core_req *q, const char *name)
{
    q->name_len = (uint32_t)strlen(name);
    memcpy(q->name, name, q->name_len);
}

/* What a reply answers: the call and the handle the request named. */
struct asked {
    uint32_t call;
    core_id_t handle;
};
#define ASKED(call_, h_) ((struct asked){.call = (call_), .handle = (h_)})
#define WAITED(h_) ASKED(CORE_ECALL_SEM_WAIT, (h_))

static void rep_mac(const uint8_t ks[CORE_KEY_BYTES], core_id_t session, uint32_t slot,
                    uint64_t seq, struct asked q, int32_t status, uint32_t value,
                    core_id_t handle, uint8_t mac[CORE_MAC_BYTES])
{
    struct core_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.session = session;
    rep.slot = slot;
    rep.seq = seq;
    rep.call = q.call;
    rep.req_handle = q.handle;
    rep.status = status;
    rep.value = value;
    rep.handle = handle;
    core_auth_rep_mac(ks, &rep, mac);
}

static int rep_mac_ok(const uint8_t ks[CORE_KEY_BYTES], core_id_t session, uint32_t slot,
                      uint64_t seq, struct asked q, int32_t status, uint32_t value,
                      core_id_t handle, const uint8_t mac[CORE_MAC_BYTES])
{
    uint8_t want[CORE_MAC_BYTES];
    rep_mac(ks, session, slot, seq, q, status, value, handle, want);
    return core_auth_equal(want, mac);
}

static const uint8_t zero_mac[CORE_MAC_BYTES];

/* Send one request as the host would pass it on.  With ks (a key session)
 * sign it as the client would and check the reply's MAC as the client
 * would; without, check that no MAC came back. */
static int32_t send_req(struct core *c, core_id_t session, const uint8_t *ks,
                        const struct core_req *q, uint32_t umask, struct core_request_args *out)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = session;
    a.req = *q;
    a.umask = umask;
    /* out fields the core must set itself */
    memset(&a.wake, 0x5a, sizeof a.wake);
    memset(a.rmac, 0x5a, sizeof a.rmac);
    a.handle = UINT64_MAX;
    a.value = a.created = 0x5a5a5a5au;
    if (ks)
        core_auth_req_mac(ks, q, a.mac);
    int32_t r = CALL(c, CORE_ECALL_REQUEST, a);
    if (ks && r != CORE_QUEUED && r != CORE_E_AUTH && r != CORE_E_SESSION &&
        r != CORE_E_NAMETOOLONG)
        assert_true(rep_mac_ok(ks, session, q->slot, q->seq, ASKED(q->call, q->handle), r, a.value,
                               a.handle, a.rmac));
    else
        assert_memory_equal(a.rmac, zero_mac, CORE_MAC_BYTES);
    assert_true(a.wake.valid == 0 || a.wake.valid == 1);
    if (!a.wake.valid)
        assert_true(a.wake.session == 0 && a.wake.slot == 0 && a.wake.seq == 0);
    if (out)
        *out = a;
    return r;
}

/* A key session's request with the next sequence number. */
static int32_t kreq(struct core *c, struct ksess *k, struct core_req q,
                    struct core_request_args *out)
{
    q.seq = ++k->seq;
    return send_req(c, k->id, k->ks, &q, 0, out);
}

static int32_t kopen(struct core *c, struct ksess *k, const char *name, uint32_t oflag,
                     uint32_t mode, uint32_t value, core_id_t *h)
{
    struct core_req q = mkreq(CORE_ECALL_SEM_OPEN, 0);
    req_name(&q, name);
    q.flags = oflag;
    q.mode = mode;
    q.value = value;
    struct core_request_args a;
    int32_t r = kreq(c, k, q, &a);
    if (h)
        *h = a.handle;
    return r;
}

static int32_t khandle(struct core *c, struct ksess *k, uint32_t call, core_id_t h,
                       uint32_t *value)
{
    struct core_request_args a;
    int32_t r = kreq(c, k, mkreq(call, h), &a);
    if (value)
        *value = a.value;
    return r;
}

static int32_t kpost(struct core *c, struct ksess *k, core_id_t h, struct core_wake *wake)
{
    struct core_request_args a;
    int32_t r = kreq(c, k, mkreq(CORE_ECALL_SEM_POST, h), &a);
    if (wake)
        *wake = a.wake;
    return r;
}

/* Wait on slot; *seq gets the request's sequence number. */
static int32_t kwait(struct core *c, struct ksess *k, core_id_t h, uint32_t slot, uint32_t flags,
                     uint32_t *seq)
{
    struct core_req q = mkreq(CORE_ECALL_SEM_WAIT, h);
    q.slot = slot;
    q.flags = flags;
    struct core_request_args a;
    int32_t r = kreq(c, k, q, &a);
    if (seq)
        *seq = a.req.seq;
    return r;
}

static int32_t kacl(struct core *c, struct ksess *k, uint32_t call, core_id_t h,
                    struct core_principal who, uint32_t rights)
{
    struct core_req q = mkreq(call, h);
    q.who = who;
    q.flags = rights;
    return kreq(c, k, q, NULL);
}

/* A PID session's request: no MAC. */
static int32_t preq(struct core *c, core_id_t s, struct core_req q, uint32_t umask,
                    struct core_request_args *out)
{
    return send_req(c, s, NULL, &q, umask, out);
}

static struct core_config acl_cfg(uint32_t max_acls, uint32_t max_keys, uint32_t max_keyed,
                                  uint32_t flags)
{
    struct core_config cfg = default_cfg;
    cfg.max_acls = max_acls;
    cfg.max_keys = max_keys;
    cfg.max_keyed = max_keyed;
    cfg.flags = flags;
    return cfg;
}

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
        acl_cfg(0, 0, 0, 0x4),            acl_cfg(0, 0, 0, CORE_CFG_STRICT | 0x80000000u),
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
    gr.flags = CORE_R_OPEN;
    assert_status(preq(c, p, gr, 0, &a), CORE_OK);
    gr.call = CORE_ECALL_SEM_REVOKE;
    gr.flags = CORE_R_POST;
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

/* ---- randomized calls ---- */

#define FUZZ_SESS 8
#define FUZZ_IDS 64
#define FUZZ_KEYS 4  /* cfg.max_keys */
#define FUZZ_KEYED 3 /* cfg.max_keyed: fewer than sessions, so the table fills */
#define FUZZ_SLOTS 4 /* slots the fuzzer mostly uses */

/* Expectations beyond an exact status. */
#define FUZZ_ANY 100      /* whatever, as long as it is a status */
#define FUZZ_NOT_AUTH 101 /* anything but CORE_E_AUTH */

/* The client side of one live session. */
struct fuzz_sess {
    uint64_t key_id; /* 0: a PID session */
    uint8_t ks[CORE_KEY_BYTES];
    uint64_t seq[CORE_MAX_SLOTS];  /* last sequence number the core accepted */
    uint64_t qseq[CORE_MAX_SLOTS]; /* seq of the wait queued on the slot */
    core_id_t qhandle[CORE_MAX_SLOTS]; /* ... and the semaphore it waits on */
};

struct fuzz_key {
    uint8_t key[CORE_KEY_BYTES];
    uint64_t id;
};

struct fuzz {
    struct core *c;
    uint64_t rng;
    core_id_t live[FUZZ_SESS]; /* exactly the live sessions */
    struct fuzz_sess sess[FUZZ_SESS]; /* sess[i] is live[i]'s */
    uint32_t nlive;
    core_id_t dead[FUZZ_IDS]; /* closed sessions, for stale ids */
    core_id_t handles[FUZZ_IDS];
    uint32_t ndead, nhandles;
    char long1[CORE_INLINE_NAME], long2[CORE_NAME_MAX];
    uint8_t fixed_keys[3][CORE_KEY_BYTES];
    struct fuzz_key keys[FUZZ_KEYS]; /* exactly the keys the core holds */
    uint32_t nkeys;
    uint8_t pending_key[CORE_KEY_BYTES]; /* KEY_ADD's input: the core wipes it */
    int keyed_request;                   /* the current call is a key session's REQUEST */
    uint64_t keyed_ok, auth_refused, acl_ok, wakes_checked;
};

static uint64_t rnd(struct fuzz *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static uint32_t below(struct fuzz *f, uint32_t n) { return (uint32_t)(rnd(f) % n); }

static void ring_add(core_id_t *ring, uint32_t *n, core_id_t id, struct fuzz *f)
{
    if (*n < FUZZ_IDS)
        ring[(*n)++] = id;
    else
        ring[below(f, FUZZ_IDS)] = id;
}

static core_id_t pick_from(struct fuzz *f, const core_id_t *ids, uint32_t n)
{
    if (n == 0 || below(f, 16) == 0)
        return below(f, 2) ? rnd(f) : 0;
    core_id_t id = ids[below(f, n)];
    switch (below(f, 16)) {
    case 0: return id + (1ull << 32); /* next generation */
    case 1: return id + 1;            /* neighbouring slot */
    default: return id;
    }
}

/* Half the time a semaphore that is live right now, else an id seen before. */
static core_id_t pick_handle(struct fuzz *f)
{
    if (below(f, 2)) {
        struct core_sem_info_args a = {.cursor = below(f, 8)};
        if (CALL(f->c, CORE_ECALL_SEM_INFO, a) == CORE_OK && a.found)
            return a.info.handle;
    }
    return pick_from(f, f->handles, f->nhandles);
}

static core_id_t pick_session(struct fuzz *f)
{
    if (f->ndead && below(f, 10) == 0)
        return pick_from(f, f->dead, f->ndead);
    return pick_from(f, f->live, f->nlive);
}

/* A (session, handle) pair; half the time a session that holds the handle. */
static void pick_pair(struct fuzz *f, core_id_t *session, core_id_t *handle)
{
    *handle = pick_handle(f);
    *session = pick_session(f);
    if (below(f, 2)) {
        struct core_sem_member_args a = {.handle = *handle};
        for (uint32_t hops = below(f, 3);; hops--) {
            if (CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) != CORE_OK || !a.found)
                break;
            *session = a.session;
            if (hops == 0 || a.next == UINT32_MAX)
                break;
            a.cursor = a.next;
        }
    }
}

static void pick_name(struct fuzz *f, char *name, uint32_t *len)
{
    static const char *const small[] = {"a", "b", "c", "d", ".", "..", "x/y", "e\0"};
    uint32_t k = below(f, 12);
    if (k < 8) {
        *len = k == 7 ? 2 : (uint32_t)strlen(small[k]);
        memcpy(name, small[k], *len);
    } else if (k < 10) {
        *len = sizeof f->long1 - (k & 1); /* 64 or 63 bytes */
        memcpy(name, f->long1, *len);
    } else if (k == 10) {
        *len = sizeof f->long2;
        memcpy(name, f->long2, *len);
    } else {
        *len = below(f, 2) ? (uint32_t)rnd(f) : below(f, CORE_NAME_MAX + 3);
    }
}

/* Fuzz sessions use pids 1..16, each with start time 1000 + pid. */
static void pick_principal(struct fuzz *f, struct core_principal *p)
{
    switch (below(f, 10)) {
    /* never uid 0, gid 0 or pid 999: the final clean-up's root session must
     * keep what the policy alone gives it */
    case 0: *p = who_uid(UID_A + below(f, 2) * 1000); break;
    case 1: *p = who_gid(GID_A + below(f, 2) * 100); break;
    case 2:
    case 3: *p = who_proc(1 + below(f, 16)); break;
    case 4:
        *p = who_key(f->nkeys && below(f, 4) ? f->keys[below(f, f->nkeys)].id : rnd(f));
        break;
    case 5: p->kind = below(f, 6); break; /* junk id/ext, maybe a bad kind */
    default: break;                       /* keep the random bytes */
    }
}

/* The core's principal_ok(), as the header describes it. */
static int principal_ok_model(const struct core_principal *p)
{
    switch (p->kind) {
    case CORE_P_UID:
    case CORE_P_GID: return p->ext == 0;
    case CORE_P_PROC: return p->id != 0;
    case CORE_P_KEY: return p->id == 0 && p->ext != 0;
    default: return 0;
    }
}

static struct fuzz_sess *sess_of(struct fuzz *f, core_id_t id)
{
    for (uint32_t i = 0; i < f->nlive; i++)
        if (f->live[i] == id)
            return &f->sess[i];
    return NULL;
}

static const struct fuzz_key *key_of(const struct fuzz *f, uint64_t id)
{
    for (uint32_t i = 0; i < f->nkeys; i++)
        if (f->keys[i].id == id)
            return &f->keys[i];
    return NULL;
}

static uint32_t nkeyed(const struct fuzz *f)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->nlive; i++)
        n += f->sess[i].key_id != 0;
    return n;
}

/* A (session, handle) pair where the session mostly holds the handle open;
 * with want_keyed, mostly a key session. */
static void pick_holder_pair(struct fuzz *f, core_id_t *session, core_id_t *handle,
                             int want_keyed)
{
    if (want_keyed && below(f, 4)) {
        /* a key session and, mostly, one of the semaphores it holds */
        core_id_t ks[FUZZ_SESS], held[16];
        uint32_t nk = 0, nh = 0;
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->sess[i].key_id)
                ks[nk++] = f->live[i];
        if (nk) {
            *session = ks[below(f, nk)];
            for (uint32_t cur = 0; nh < 16;) {
                struct core_sem_info_args si = {.cursor = cur};
                if (CALL(f->c, CORE_ECALL_SEM_INFO, si) != CORE_OK || !si.found)
                    break;
                cur = si.next;
                struct core_sem_member_args a = {.handle = si.info.handle};
                while (CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) == CORE_OK && a.found) {
                    if (a.session == *session) {
                        held[nh++] = si.info.handle;
                        break;
                    }
                    if (a.next == UINT32_MAX)
                        break;
                    a.cursor = a.next;
                }
            }
            *handle = nh && below(f, 8) ? held[below(f, nh)] : pick_handle(f);
            return;
        }
    }
    *handle = pick_handle(f);
    core_id_t cand[FUZZ_SESS];
    uint32_t n = 0;
    struct core_sem_member_args a = {.handle = *handle};
    while (n < FUZZ_SESS && CALL(f->c, CORE_ECALL_SEM_HOLDERS, a) == CORE_OK && a.found) {
        const struct fuzz_sess *fs = sess_of(f, a.session);
        if (!want_keyed || (fs && fs->key_id))
            cand[n++] = a.session;
        if (a.next == UINT32_MAX)
            break;
        a.cursor = a.next;
    }
    if (n && below(f, 8)) {
        *session = cand[below(f, n)];
        return;
    }
    if (want_keyed && below(f, 4)) {
        n = 0;
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->sess[i].key_id)
                cand[n++] = f->live[i];
        if (n) {
            *session = cand[below(f, n)];
            return;
        }
    }
    *session = pick_session(f);
}

static void fuzz_fill_request(struct fuzz *f, struct core_request_args *a)
{
    static const uint32_t calls[] = {
        CORE_ECALL_SEM_OPEN,   CORE_ECALL_SEM_CREATE, CORE_ECALL_SEM_CLOSE,
        CORE_ECALL_SEM_DESTROY, CORE_ECALL_SEM_UNLINK, CORE_ECALL_SEM_POST,
        CORE_ECALL_SEM_WAIT,   CORE_ECALL_SEM_GETVALUE, CORE_ECALL_SEM_GRANT,
        CORE_ECALL_SEM_REVOKE,
    };
    static const uint32_t modes[] = {0600, 0660, 0666, 0, 0644, 0606};
    struct core_req *q = &a->req;
    pick_holder_pair(f, &a->session, &q->handle, below(f, 2));
    q->call = below(f, 16) ? calls[below(f, 10)] : (uint32_t)rnd(f);
    q->slot = below(f, 16) ? below(f, FUZZ_SLOTS)
                           : below(f, 2) ? CORE_MAX_SLOTS - 1 : (uint32_t)rnd(f);
    switch (q->call) {
    case CORE_ECALL_SEM_OPEN: q->flags = below(f, 8) ? below(f, 8) : (uint32_t)rnd(f); break;
    case CORE_ECALL_SEM_WAIT: q->flags = below(f, 8) ? below(f, 2) : (uint32_t)rnd(f); break;
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        q->flags = below(f, 8) ? 1 + below(f, CORE_R_ALL) : (uint32_t)rnd(f);
        break;
    default: break;
    }
    q->value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
    q->mode = below(f, 8) ? modes[below(f, 6)] : (uint32_t)rnd(f);
    q->prio = (int32_t)below(f, 5) - 2;
    pick_name(f, q->name, &q->name_len);
    pick_principal(f, &q->who);
    a->umask = below(f, 2) ? 022 : below(f, 2) ? 0 : (uint32_t)rnd(f);
    struct fuzz_sess *fs = sess_of(f, a->session);
    if (!fs || !fs->key_id)
        return; /* a PID session: seq and mac stay random */
    if (q->slot < CORE_MAX_SLOTS) {
        uint64_t last = fs->seq[q->slot], back = below(f, 3);
        q->seq = below(f, 8) ? last + 1 + below(f, 3) : last >= back ? last - back : 0;
    }
    if (below(f, 8))
        core_auth_req_mac(fs->ks, q, a->mac);
    if (below(f, 16) == 0) { /* altered on the way */
        uint32_t len = q->name_len <= CORE_NAME_MAX ? q->name_len : 0;
        ((unsigned char *)q)[below(f, CORE_REQ_HDR + len)] ^= (uint8_t)(1u << below(f, 8));
    }
}

static void fuzz_fill(struct fuzz *f, uint32_t call, union any_args *u, uint64_t size)
{
    for (uint64_t i = 0; i < size; i++)
        u->bytes[i] = (unsigned char)rnd(f);
    if (below(f, 8) == 0)
        return; /* pure garbage */
    static const uint32_t modes[] = {0600, 0660, 0666, 0, 0644, 0606};
    switch (call) {
    case CORE_ECALL_SESSION_OPEN:
        u->session_open.pid = 1 + below(f, 16);
        u->session_open.start_time = 1000u + u->session_open.pid;
        u->session_open.uid = below(f, 4) == 0 ? 0 : UID_A + below(f, 2) * 1000;
        u->session_open.gid = GID_A + below(f, 2) * 100;
        u->session_open.ngroups = below(f, CORE_NGROUPS_MAX + 3);
        /* mostly PID sessions; a random key id would only ever be refused */
        if (f->nkeys && below(f, 4) == 0)
            u->session_open.key_id = f->keys[below(f, f->nkeys)].id;
        else if (below(f, 16))
            u->session_open.key_id = 0;
        break;
    case CORE_ECALL_SESSION_INHERIT:
        u->session_inherit.child = pick_session(f);
        u->session_inherit.parent = pick_session(f);
        break;
    case CORE_ECALL_SESSION_CLOSE:
        u->session_close.session = pick_session(f);
        break;
    case CORE_ECALL_SESSION_SETCRED:
        u->session_setcred.session = pick_session(f);
        u->session_setcred.uid = below(f, 4) == 0 ? 0 : UID_A + below(f, 2) * 1000;
        u->session_setcred.gid = GID_A + below(f, 2) * 100;
        u->session_setcred.ngroups = below(f, CORE_NGROUPS_MAX + 3);
        break;
    case CORE_ECALL_SEM_OPEN:
        u->sem_open.session = pick_session(f);
        u->sem_open.oflag = below(f, 8) ? below(f, 8) : (uint32_t)rnd(f);
        u->sem_open.mode = below(f, 8) ? modes[below(f, 6)] : (uint32_t)rnd(f);
        u->sem_open.value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
        pick_name(f, u->sem_open.name, &u->sem_open.name_len);
        break;
    case CORE_ECALL_SEM_CREATE:
        u->sem_create.session = pick_session(f);
        u->sem_create.value = below(f, 8) ? below(f, 3) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_CLOSE:
    case CORE_ECALL_SEM_DESTROY:
    case CORE_ECALL_SEM_GETVALUE:
        pick_pair(f, &u->sem_handle.session, &u->sem_handle.handle);
        break;
    case CORE_ECALL_SEM_UNLINK:
        u->sem_unlink.session = pick_session(f);
        pick_name(f, u->sem_unlink.name, &u->sem_unlink.name_len);
        break;
    case CORE_ECALL_SEM_POST:
        pick_pair(f, &u->sem_post.session, &u->sem_post.handle);
        break;
    case CORE_ECALL_SEM_WAIT:
        pick_pair(f, &u->sem_wait.session, &u->sem_wait.handle);
        u->sem_wait.slot = below(f, FUZZ_SLOTS);
        u->sem_wait.flags = below(f, 8) ? below(f, 2) : (uint32_t)rnd(f);
        u->sem_wait.prio = (int32_t)below(f, 5) - 2;
        break;
    case CORE_ECALL_SEM_CANCEL:
        u->sem_cancel.session = pick_session(f);
        u->sem_cancel.slot = below(f, FUZZ_SLOTS);
        break;
    case CORE_ECALL_SEM_INFO:
        u->sem_info.cursor = below(f, 4) ? below(f, 40) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_HOLDERS:
    case CORE_ECALL_SEM_WAITERS:
        u->sem_member.handle = pick_handle(f);
        u->sem_member.cursor = below(f, 4) ? below(f, 40) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SESSION_INFO:
        u->session_info.session = pick_session(f);
        break;
    case CORE_ECALL_KEY_ADD:
        if (below(f, 4))
            memcpy(u->key_add.key, f->fixed_keys[below(f, 3)], CORE_KEY_BYTES);
        break;
    case CORE_ECALL_REQUEST:
        fuzz_fill_request(f, &u->request);
        break;
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        pick_holder_pair(f, &u->sem_grant.session, &u->sem_grant.handle, 0);
        pick_principal(f, &u->sem_grant.who);
        u->sem_grant.rights = below(f, 8) ? 1 + below(f, CORE_R_ALL) : (uint32_t)rnd(f);
        break;
    case CORE_ECALL_SEM_ACL:
        u->sem_acl.handle = pick_handle(f);
        u->sem_acl.cursor = below(f, 4) ? below(f, 12) : (uint32_t)rnd(f);
        break;
    default:
        break;
    }
}

/* Relative frequency of each call: semaphore traffic over session churn. */
static const uint32_t call_weight[CORE_ECALL_MAX_] = {
    [CORE_ECALL_SESSION_OPEN] = 2, [CORE_ECALL_SESSION_INHERIT] = 2,
    [CORE_ECALL_SESSION_CLOSE] = 1, [CORE_ECALL_SEM_OPEN] = 5,
    [CORE_ECALL_SEM_CREATE] = 2,   [CORE_ECALL_SEM_CLOSE] = 3,
    [CORE_ECALL_SEM_DESTROY] = 1,  [CORE_ECALL_SEM_UNLINK] = 2,
    [CORE_ECALL_SEM_POST] = 6,     [CORE_ECALL_SEM_WAIT] = 8,
    [CORE_ECALL_SEM_CANCEL] = 3,   [CORE_ECALL_SEM_GETVALUE] = 1,
    [CORE_ECALL_SEM_INFO] = 1,     [CORE_ECALL_SEM_HOLDERS] = 1,
    [CORE_ECALL_SEM_WAITERS] = 1,  [CORE_ECALL_STATS] = 1,
    [CORE_ECALL_SESSION_INFO] = 1, [CORE_ECALL_SESSION_SETCRED] = 1,
    [CORE_ECALL_KEY_ADD] = 1,      [CORE_ECALL_REQUEST] = 12,
    [CORE_ECALL_SEM_GRANT] = 3,    [CORE_ECALL_SEM_REVOKE] = 2,
    [CORE_ECALL_SEM_ACL] = 1,
};

static uint32_t pick_call(struct fuzz *f)
{
    if (below(f, 32) == 0)
        return below(f, 2) ? (uint32_t)rnd(f) : 0;
    uint32_t total = 0;
    for (uint32_t i = 0; i < CORE_ECALL_MAX_; i++)
        total += call_weight[i];
    uint32_t x = below(f, total);
    for (uint32_t i = 1;; i++) {
        if (x < call_weight[i])
            return i;
        x -= call_weight[i];
    }
}

static int is_live(const struct fuzz *f, core_id_t s)
{
    for (uint32_t i = 0; i < f->nlive; i++)
        if (f->live[i] == s)
            return 1;
    return 0;
}

/* Calls that act for the session their struct starts with. */
static int acts_for_session(uint32_t call)
{
    switch (call) {
    case CORE_ECALL_SEM_OPEN:
    case CORE_ECALL_SEM_CREATE:
    case CORE_ECALL_SEM_CLOSE:
    case CORE_ECALL_SEM_DESTROY:
    case CORE_ECALL_SEM_UNLINK:
    case CORE_ECALL_SEM_POST:
    case CORE_ECALL_SEM_WAIT:
    case CORE_ECALL_SEM_GETVALUE:
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE: return 1;
    default: return 0;
    }
}

/* What the core must answer, as far as the fuzzer's model knows it:
 * an exact status, FUZZ_NOT_AUTH or FUZZ_ANY.  Computed before the call. */
static int32_t fuzz_expect(struct fuzz *f, uint32_t call, const union any_args *u)
{
    f->keyed_request = 0;
    if (acts_for_session(call)) {
        core_id_t sid;
        memcpy(&sid, u, sizeof sid);
        const struct fuzz_sess *fs = sess_of(f, sid);
        return fs && fs->key_id ? CORE_E_AUTH : FUZZ_NOT_AUTH;
    }
    switch (call) {
    case CORE_ECALL_SESSION_OPEN: {
        const struct core_session_open_args *a = &u->session_open;
        if (a->ngroups > CORE_NGROUPS_MAX)
            return CORE_E_INVAL;
        if (f->nlive == FUZZ_SESS)
            return CORE_E_NOSPC;
        if (a->key_id && !key_of(f, a->key_id))
            return CORE_E_AUTH;
        if (a->key_id && nkeyed(f) == FUZZ_KEYED)
            return CORE_E_NOSPC;
        return CORE_OK;
    }
    case CORE_ECALL_SESSION_INHERIT: {
        const struct fuzz_sess *cs = sess_of(f, u->session_inherit.child);
        const struct fuzz_sess *ps = sess_of(f, u->session_inherit.parent);
        if (!cs || !ps)
            return CORE_E_SESSION;
        if (cs == ps || (ps->key_id && cs->key_id != ps->key_id))
            return CORE_E_PERM;
        return FUZZ_NOT_AUTH;
    }
    case CORE_ECALL_KEY_ADD: {
        memcpy(f->pending_key, u->key_add.key, CORE_KEY_BYTES);
        uint64_t id = core_auth_key_id(f->pending_key);
        if (key_of(f, id))
            return CORE_OK;
        return f->nkeys == FUZZ_KEYS ? CORE_E_NOSPC : CORE_OK;
    }
    case CORE_ECALL_REQUEST: {
        const struct core_request_args *a = &u->request;
        const struct core_req *q = &a->req;
        const struct fuzz_sess *fs = sess_of(f, a->session);
        if (!fs)
            return CORE_E_SESSION;
        if (q->name_len > CORE_NAME_MAX)
            return CORE_E_NAMETOOLONG;
        if (!fs->key_id)
            return FUZZ_NOT_AUTH;
        if (q->slot >= CORE_MAX_SLOTS)
            return CORE_E_AUTH;
        uint8_t mac[CORE_MAC_BYTES];
        core_auth_req_mac(fs->ks, q, mac);
        if (memcmp(mac, a->mac, sizeof mac) != 0)
            return CORE_E_AUTH;
        if (q->seq <= fs->seq[q->slot])
            return CORE_E_AUTH;
        f->keyed_request = 1;
        return FUZZ_NOT_AUTH;
    }
    case CORE_ECALL_SEM_CANCEL:
    case CORE_ECALL_SESSION_CLOSE:
    case CORE_ECALL_SESSION_INFO:
    case CORE_ECALL_SESSION_SETCRED:
    case CORE_ECALL_SEM_INFO:
    case CORE_ECALL_SEM_HOLDERS:
    case CORE_ECALL_SEM_WAITERS:
    case CORE_ECALL_SEM_ACL:
    case CORE_ECALL_STATS: return FUZZ_NOT_AUTH;
    default: return FUZZ_ANY;
    }
}

/* A grant handed to the host for delivery: to a live session, and for a
 * key session with the MAC its client will check. */
static void fuzz_check_wake(struct fuzz *f, const struct core_wake *w)
{
    if (!w->valid)
        return;
    struct fuzz_sess *fs = sess_of(f, w->session);
    assert_non_null(fs);
    if (w->slot < CORE_MAX_SLOTS)
        assert_int_equal(w->seq, fs->qseq[w->slot]);
    if (fs->key_id) {
        assert_true(rep_mac_ok(fs->ks, w->session, w->slot, w->seq, WAITED(w->handle), w->status,
                               0, 0, w->mac));
        f->wakes_checked++;
    } else {
        assert_memory_equal(w->mac, zero_mac, CORE_MAC_BYTES);
    }
}

/* Record what a call created or ended, and check what it returned. */
static void fuzz_note(struct fuzz *f, uint32_t call, const union any_args *u, int32_t r)
{
    if (call == CORE_ECALL_REQUEST) {
        const struct core_request_args *a = &u->request;
        struct fuzz_sess *fs = sess_of(f, a->session);
        if (f->keyed_request) {
            fs->seq[a->req.slot] = a->req.seq;
            f->keyed_ok++;
            if (r == CORE_QUEUED)
                assert_memory_equal(a->rmac, zero_mac, CORE_MAC_BYTES);
            else
                assert_true(rep_mac_ok(fs->ks, a->session, a->req.slot, a->req.seq,
                                       ASKED(a->req.call, a->req.handle), r, a->value,
                                       a->handle, a->rmac));
        } else {
            assert_memory_equal(a->rmac, zero_mac, CORE_MAC_BYTES);
        }
        if (r == CORE_QUEUED) {
            assert_int_equal(a->req.call, CORE_ECALL_SEM_WAIT);
            if (a->req.slot < CORE_MAX_SLOTS) {
                fs->qseq[a->req.slot] = a->req.seq;
                fs->qhandle[a->req.slot] = a->req.handle;
            }
        }
        if (r == CORE_OK &&
            (a->req.call == CORE_ECALL_SEM_OPEN || a->req.call == CORE_ECALL_SEM_CREATE))
            ring_add(f->handles, &f->nhandles, a->handle, f);
        fuzz_check_wake(f, &a->wake);
        return;
    }
    if (r < 0)
        return;
    switch (call) {
    case CORE_ECALL_SESSION_OPEN: {
        const struct core_session_open_args *a = &u->session_open;
        assert_false(is_live(f, a->session));
        assert_true(f->nlive < FUZZ_SESS);
        struct fuzz_sess *fs = &f->sess[f->nlive];
        memset(fs, 0, sizeof *fs);
        fs->key_id = a->key_id;
        if (a->key_id) {
            const struct fuzz_key *k = key_of(f, a->key_id);
            uint8_t proof[CORE_MAC_BYTES];
            assert_non_null(k);
            core_auth_session_key(k->key, a->session, a->nonce, a->core_nonce, fs->ks);
            core_auth_proof(fs->ks, a->session, a->nonce, a->core_nonce, proof);
            assert_true(core_auth_equal(proof, a->proof));
        } else {
            assert_memory_equal(a->proof, zero_mac, CORE_MAC_BYTES);
        }
        f->live[f->nlive++] = a->session;
        break;
    }
    case CORE_ECALL_SESSION_CLOSE:
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->live[i] == u->session_close.session) {
                f->nlive--;
                f->live[i] = f->live[f->nlive];
                f->sess[i] = f->sess[f->nlive];
                ring_add(f->dead, &f->ndead, u->session_close.session, f);
                return;
            }
        fail_msg("closed a session the test never saw opened");
        break;
    case CORE_ECALL_SEM_OPEN:
        ring_add(f->handles, &f->nhandles, u->sem_open.handle, f);
        break;
    case CORE_ECALL_SEM_CREATE:
        ring_add(f->handles, &f->nhandles, u->sem_create.handle, f);
        break;
    case CORE_ECALL_SEM_WAIT:
        if (r == CORE_QUEUED && u->sem_wait.slot < CORE_MAX_SLOTS) {
            sess_of(f, u->sem_wait.session)->qseq[u->sem_wait.slot] = u->sem_wait.seq;
            sess_of(f, u->sem_wait.session)->qhandle[u->sem_wait.slot] = u->sem_wait.handle;
        }
        break;
    case CORE_ECALL_SEM_POST:
        fuzz_check_wake(f, &u->sem_post.wake);
        break;
    case CORE_ECALL_SEM_CANCEL: {
        const struct core_sem_cancel_args *a = &u->sem_cancel;
        struct fuzz_sess *fs = sess_of(f, a->session);
        assert_non_null(fs);
        if (a->slot < CORE_MAX_SLOTS)
            assert_int_equal(a->seq, fs->qseq[a->slot]);
        if (fs->key_id)
            assert_true(
                rep_mac_ok(fs->ks, a->session, a->slot, a->seq, WAITED(fs->qhandle[a->slot]),
                           CORE_CANCELLED, 0, 0, a->mac));
        else
            assert_memory_equal(a->mac, zero_mac, CORE_MAC_BYTES);
        break;
    }
    case CORE_ECALL_KEY_ADD: {
        uint64_t id = core_auth_key_id(f->pending_key);
        assert_true(u->key_add.key_id == id);
        if (!key_of(f, id)) {
            assert_true(f->nkeys < FUZZ_KEYS);
            memcpy(f->keys[f->nkeys].key, f->pending_key, CORE_KEY_BYTES);
            f->keys[f->nkeys++].id = id;
        }
        break;
    }
    case CORE_ECALL_SEM_GRANT:
    case CORE_ECALL_SEM_REVOKE:
        assert_true(principal_ok_model(&u->sem_grant.who));
        assert_true(u->sem_grant.rights && !(u->sem_grant.rights & ~CORE_R_ALL));
        f->acl_ok++;
        break;
    default:
        break;
    }
}

/* Cross-check the core's counters against what its admin calls report. */
static void check_consistency(struct fuzz *f)
{
    struct core *c = f->c;
    struct core_stats st = stats(c);
    assert_true(st.sems_in_use <= st.max_sems);
    assert_true(st.sessions_in_use <= st.max_sessions);
    assert_true(st.opens_in_use <= st.max_opens);
    assert_true(st.waiters_in_use <= st.max_waiters);
    assert_true(st.acls_in_use <= st.max_acls);
    assert_int_equal(st.sessions_in_use, f->nlive);
    assert_int_equal(st.keys_in_use, f->nkeys);
    assert_int_equal(st.keyed_in_use, nkeyed(f));
    assert_true(st.keyed_in_use <= FUZZ_KEYED);

    uint64_t nopens = 0, nwaiters = 0;
    for (uint32_t i = 0; i < f->nlive; i++) {
        struct core_session_info_args si;
        assert_status(session_info(c, f->live[i], &si), CORE_OK);
        assert_true(si.key_id == f->sess[i].key_id);
        nopens += si.nopens;
        nwaiters += si.nwaiters;
    }
    assert_int_equal(nopens, st.opens_in_use);
    assert_int_equal(nwaiters, st.waiters_in_use);

    struct core_sem_member_args m[64];
    struct core_sem_acl_args e[64];
    uint32_t cursor = 0, live = 0;
    uint64_t records = 0, queued = 0, acls = 0;
    for (;;) {
        struct core_sem_info_args a = {.cursor = cursor};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_true(a.next > cursor);
        cursor = a.next;
        live++;
        const struct core_sem_info *i = &a.info;
        assert_true(i->value <= CORE_SEM_VALUE_MAX);
        /* FIFO: a permit never sits beside a waiter.  Barging: a free
         * permit and a waiter meet only while enough waiters are woken. */
        if (i->flags & CORE_SEMF_FIFO)
            assert_true(i->value == 0 || i->nwaiters == 0);
        else
            assert_true(i->nwoken >= (i->value < i->nwaiters ? i->value : i->nwaiters));
        assert_true(i->nwoken <= i->nwaiters);
        assert_true(!(i->flags & CORE_SEMF_NAMED) != !(i->flags & CORE_SEMF_ANON));
        assert_true(!(i->flags & CORE_SEMF_UNLINKED) || (i->flags & CORE_SEMF_NAMED));
        assert_true(!(i->flags & ~(CORE_SEMF_NAMED | CORE_SEMF_UNLINKED | CORE_SEMF_ANON |
                                   CORE_SEMF_STRICT | CORE_SEMF_FIFO)));
        /* only a linked named semaphore may outlive its last open */
        if ((i->flags & ~(CORE_SEMF_STRICT | CORE_SEMF_FIFO)) != CORE_SEMF_NAMED)
            assert_true(i->open_count > 0);
        assert_true(i->name_len <= CORE_NAME_MAX);
        /* owners: only strict semaphores have one, and a key owner is a known key */
        if (!(i->flags & CORE_SEMF_STRICT))
            assert_true(i->owner_key == 0 && i->owner_pid == 0);
        else if (i->owner_key)
            assert_non_null(key_of(f, i->owner_key));
        assert_true(i->owner_key == 0 || i->owner_pid == 0);

        uint32_t n = members(c, CORE_ECALL_SEM_HOLDERS, i->handle, m, 64);
        uint64_t refs = 0;
        for (uint32_t k = 0; k < n; k++) {
            assert_true(m[k].count > 0);
            assert_true(is_live(f, m[k].session));
            refs += m[k].count;
        }
        assert_int_equal(refs, i->open_count);
        records += n;

        n = members(c, CORE_ECALL_SEM_WAITERS, i->handle, m, 64);
        assert_int_equal(n, i->nwaiters);
        for (uint32_t k = 0; k < n; k++) {
            assert_true(is_live(f, m[k].session));
            if (k > 0)
                assert_true(m[k - 1].prio >= m[k].prio);
        }
        queued += n;

        /* access list: as many entries as info says, each well formed,
         * distinct, with allow and deny disjoint and not both empty */
        n = acl_walk(c, i->handle, e, 64);
        assert_int_equal(n, i->nacl);
        for (uint32_t k = 0; k < n; k++) {
            assert_true(principal_ok_model(&e[k].who));
            assert_int_equal(e[k].allow & e[k].deny, 0);
            assert_true((e[k].allow | e[k].deny) != 0);
            assert_int_equal((e[k].allow | e[k].deny) & ~CORE_R_ALL, 0);
            for (uint32_t j = 0; j < k; j++)
                assert_true(memcmp(&e[j].who, &e[k].who, sizeof e[k].who) != 0);
        }
        acls += n;
    }
    assert_int_equal(live, st.sems_in_use);
    assert_int_equal(records, st.opens_in_use);
    assert_int_equal(queued, st.waiters_in_use);
    assert_int_equal(acls, st.acls_in_use);
}

/* Unlink one leftover named semaphore as whoever may: root for a POSIX
 * one, the owner key or the owner process for a strict one. */
static void fuzz_unlink_leftover(struct fuzz *f, const struct core_sem_info *i)
{
    struct core *c = f->c;
    if (!(i->flags & CORE_SEMF_STRICT)) {
        core_id_t root = open_session(c, 999, 0, 0);
        assert_status(unlink_raw(c, root, i->name, i->name_len), CORE_OK);
        assert_status(close_session(c, root), CORE_OK);
        return;
    }
    if (i->owner_key) {
        const struct fuzz_key *k = key_of(f, i->owner_key);
        assert_non_null(k);
        struct ksess ks = open_key_session(c, 999, UID_C, GID_C, k->key);
        struct core_req q = mkreq(CORE_ECALL_SEM_UNLINK, 0);
        q.name_len = i->name_len;
        memcpy(q.name, i->name, i->name_len);
        assert_status(kreq(c, &ks, q, NULL), CORE_OK);
        assert_status(close_session(c, ks.id), CORE_OK);
        return;
    }
    /* root has no bypass; the owner process (same pid and start time) may */
    core_id_t root = open_session(c, 999, 0, 0);
    assert_status(unlink_raw(c, root, i->name, i->name_len), CORE_E_ACCES);
    assert_status(close_session(c, root), CORE_OK);
    core_id_t owner = open_session(c, i->owner_pid, UID_C, GID_C);
    assert_status(unlink_raw(c, owner, i->name, i->name_len), CORE_OK);
    assert_status(close_session(c, owner), CORE_OK);
}

static void fuzz_run(void **state, uint32_t flags, uint64_t seed_mix)
{
    const struct core_config cfg = {
        .max_sems = 8, .max_sessions = FUZZ_SESS, .max_opens = 16, .max_waiters = 8,
        .max_long_names = 2, .max_acls = 6, .max_keys = FUZZ_KEYS, .max_keyed = FUZZ_KEYED,
        .flags = flags,
    };
    struct fuzz *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->c = reinit(state, &cfg);
    const char *seed = getenv("ESEM_FUZZ_SEED");
    f->rng = (seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull) ^ seed_mix;
    if (f->rng == 0)
        f->rng = 1;
    long_name(f->long1, sizeof f->long1, 'A');
    long_name(f->long2, sizeof f->long2, 'B');
    for (uint8_t k = 0; k < 3; k++)
        make_key(f->fixed_keys[k], (uint8_t)(100 + k));
    /* two keys provisioned up front, as esemd --keyring would */
    for (uint32_t k = 0; k < 2; k++) {
        f->keys[k].id = key_add(f->c, f->fixed_keys[k]);
        memcpy(f->keys[k].key, f->fixed_keys[k], CORE_KEY_BYTES);
    }
    f->nkeys = 2;

    uint64_t ok = 0, queued = 0, refused = 0;
    for (uint32_t iter = 0; iter < 40000; iter++) {
        union any_args u;
        uint32_t call = pick_call(f);
        int known = call > 0 && call < CORE_ECALL_MAX_;
        uint64_t size = known ? call_size[call] : below(f, sizeof u);
        fuzz_fill(f, known ? call : 0, &u, size);
        int bad_size = below(f, 32) == 0;
        if (bad_size)
            size = size + 1 + below(f, 8);
        int32_t want = known && !bad_size ? fuzz_expect(f, call, &u) : CORE_E_BADCALL;

        int32_t r = core_ecall(f->c, call, &u, size);
        if (r < CORE_E_MIN || r > CORE_QUEUED)
            fail_msg("iteration %u call %u: status %d out of range", iter, call, (int)r);
        if (want == FUZZ_NOT_AUTH) {
            if (r == CORE_E_AUTH)
                fail_msg("iteration %u call %u: CORE_E_AUTH unexpected", iter, call);
        } else if (want != FUZZ_ANY && r != want) {
            fail_msg("iteration %u call %u: got %d (%s), want %d (%s)", iter, call, (int)r,
                     core_strerror(r), (int)want, core_strerror(want));
        }
        if (r == CORE_QUEUED)
            assert_true(call == CORE_ECALL_SEM_WAIT || call == CORE_ECALL_REQUEST);
        if (call == CORE_ECALL_KEY_ADD && !bad_size) {
            static const uint8_t zeros[CORE_KEY_BYTES];
            assert_memory_equal(u.key_add.key, zeros, CORE_KEY_BYTES);
        }
        if (r == CORE_E_AUTH)
            f->auth_refused++;
        if (known && !bad_size)
            fuzz_note(f, call, &u, r);
        ok += r == CORE_OK;
        queued += r == CORE_QUEUED;
        refused += r < 0;
        if (iter % 64 == 63)
            check_consistency(f);
    }
    check_consistency(f);
    /* make sure the run exercised more than the refusal paths */
    assert_true(ok > 1000);
    /* (barging lets more waits find a permit than FIFO did, so fewer queue) */
    assert_true(queued > 5);
    assert_true(refused > 1000);
    assert_true(f->keyed_ok > 100);
    assert_true(f->auth_refused > 100);
    assert_true(f->acl_ok > 15);
    /* f->wakes_checked: key-session grants are rare here; they are checked
     * when they happen, and queued_key_wait_grant_carries_seq_and_mac covers them */

    /* Closing every session leaves only linked named semaphores; unlinking
     * those (as whoever may) leaves nothing, access lists included. */
    while (f->nlive)
        assert_status(close_session(f->c, f->live[--f->nlive]), CORE_OK);
    assert_int_equal(stats(f->c).keyed_in_use, 0);
    for (;;) {
        struct core_sem_info_args a = {.cursor = 0};
        assert_status(CALL(f->c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_int_equal(a.info.flags & ~(CORE_SEMF_STRICT | CORE_SEMF_FIFO), CORE_SEMF_NAMED);
        assert_int_equal(a.info.open_count, 0);
        assert_int_equal(a.info.nwaiters, 0);
        fuzz_unlink_leftover(f, &a.info);
    }
    assert_nothing_in_use(f->c);
    struct core_stats st = stats(f->c);
    assert_int_equal(st.acls_in_use, 0);
    assert_int_equal(st.keyed_in_use, 0);
    assert_int_equal(st.keys_in_use, f->nkeys);
    free(f);
}

static void random_ecalls_never_crash_and_keep_stats_consistent(void **state)
{
    fuzz_run(state, 0, 0);
}

/* The same with the daemon's strict default. */
static void random_ecalls_under_strict_default(void **state)
{
    fuzz_run(state, CORE_CFG_STRICT, 0x5deece66dull);
}

/* The same with FIFO hand-off (esemd --order=fifo). */
static void random_ecalls_under_fifo_order(void **state)
{
    fuzz_run(state, CORE_CFG_FIFO, 0x2545f4914f6cdd1dull);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* arena and dispatch */
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
        /* sessions */
        T(session_open_info_close),
        T(session_info_counts_opens_and_waiters),
        T(session_close_twice_is_refused),
        T(session_stale_id_refused_after_slot_reuse),
        T(session_forged_ids_are_refused),
        T(session_open_rejects_too_many_groups),
        T(session_table_full_is_nospc),
        T(setcred_changes_later_checks_not_held_opens),
        T(setcred_rejects_bad_input),
        /* named open */
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
        /* handles */
        T(handle_forged_is_refused),
        T(handle_stale_after_free_and_slot_reuse),
        T(handle_not_opened_by_session_is_notopen),
        T(sem_close_twice_is_notopen),
        /* post / wait */
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
        /* cancel */
        T(cancel_queued_waiter_then_post_raises_value),
        T(cancel_after_grant_is_nowaiter_and_keeps_one_permit),
        T(cancel_without_wait_is_nowaiter),
        T(cancel_only_touches_own_session),
        /* unlink */
        T(unlink_while_open_frees_the_name_at_once),
        T(unlinked_sem_freed_at_last_close),
        T(unlink_without_opens_frees_at_once),
        T(unlink_by_other_uid_is_acces),
        T(unlink_missing_is_noent),
        T(unlink_rejects_bad_names),
        T(named_sem_persists_without_opens),
        /* anonymous */
        T(sem_create_makes_anonymous),
        T(sem_create_value_above_max_is_inval),
        T(sem_table_full_is_nospc),
        T(open_table_full_is_nospc),
        T(destroy_with_waiters_is_busy),
        T(destroy_named_is_inval),
        T(destroy_makes_every_sessions_handle_stale),
        T(anonymous_freed_at_last_close),
        T(anonymous_freed_when_last_holding_session_closes),
        /* close */
        T(close_last_reference_with_own_waiter_is_busy),
        T(close_with_other_sessions_waiter_is_ok),
        /* inherit */
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
        /* session close */
        T(session_close_removes_waiters_and_others_keep_order),
        T(session_close_closes_opens_and_frees_unlinked),
        T(stats_return_to_zero_after_everything_closed),
        /* admin iteration */
        T(sem_info_walks_all_live_sems),
        T(sem_info_reports_fields_and_counters),
        T(sem_info_cursor_past_end_finds_nothing),
        T(holders_lists_sessions_with_pids_and_counts),
        T(waiters_lists_pids_and_slots_in_queue_order),
        T(member_walk_ends_with_found_zero),
        T(members_forged_cursor_is_inval),
        T(members_bad_handle_is_handle),
        /* access lists, strict policy, keys, requests */
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
        T(held_rights_survive_a_grant_to_somebody_else),
        T(creator_keeps_rights_after_a_grant_to_somebody_else),
        /* randomized */
        T(random_ecalls_never_crash_and_keep_stats_consistent),
        T(random_ecalls_under_strict_default),
        T(random_ecalls_under_fifo_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
