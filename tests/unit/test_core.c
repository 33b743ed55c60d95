/*
 * Unit tests of the trusted core (enclave/core.c), driven through its
 * boundary only: core_arena_size, core_init, core_ecall, core_strerror.
 * No daemon, no threads; every test gets a fresh core in its own arena.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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
};

union any_args {
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
        assert_true(n > 0 && n < sizeof u);
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
    const char *seen[-CORE_E_MIN + 2];
    int n = 0;
    for (int32_t st = CORE_E_MIN; st <= CORE_QUEUED; st++) {
        const char *m = core_strerror(st);
        assert_non_null(m);
        assert_true(m[0] != '\0');
        assert_string_not_equal(m, "unknown status");
        for (int i = 0; i < n; i++)
            assert_string_not_equal(m, seen[i]);
        seen[n++] = m;
    }
    static const int32_t unknown[] = {2, CORE_E_MIN - 1, INT32_MIN, INT32_MAX};
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
    assert_status(open_sem(c, s, "o", CORE_O_CREAT | 0x4u, 0600, 0, NULL), CORE_E_INVAL);
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
    assert_int_equal(i.flags, CORE_SEMF_NAMED | CORE_SEMF_UNLINKED);
    assert_int_equal(info_of(c, cur).flags, CORE_SEMF_NAMED);
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
    assert_int_equal(i.flags, CORE_SEMF_ANON);
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
    assert_int_equal(i.flags, CORE_SEMF_NAMED);
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

/* ---- randomized calls ---- */

#define FUZZ_SESS 8
#define FUZZ_IDS 64

struct fuzz {
    struct core *c;
    uint64_t rng;
    core_id_t live[FUZZ_SESS]; /* exactly the live sessions */
    uint32_t nlive;
    core_id_t dead[FUZZ_IDS]; /* closed sessions, for stale ids */
    core_id_t handles[FUZZ_IDS];
    uint32_t ndead, nhandles;
    char long1[CORE_INLINE_NAME], long2[CORE_NAME_MAX];
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

static void fuzz_fill(struct fuzz *f, uint32_t call, union any_args *u, uint64_t size)
{
    for (uint64_t i = 0; i < size; i++)
        u->bytes[i] = (unsigned char)rnd(f);
    if (below(f, 8) == 0)
        return; /* pure garbage */
    static const uint32_t modes[] = {0600, 0660, 0666, 0, 0644, 0606};
    switch (call) {
    case CORE_ECALL_SESSION_OPEN:
        u->session_open.uid = below(f, 4) == 0 ? 0 : UID_A + below(f, 2) * 1000;
        u->session_open.gid = GID_A + below(f, 2) * 100;
        u->session_open.ngroups = below(f, CORE_NGROUPS_MAX + 3);
        break;
    case CORE_ECALL_SESSION_INHERIT:
        u->session_inherit.child = pick_session(f);
        u->session_inherit.parent = pick_session(f);
        break;
    case CORE_ECALL_SESSION_CLOSE:
        u->session_close.session = pick_session(f);
        break;
    case CORE_ECALL_SEM_OPEN:
        u->sem_open.session = pick_session(f);
        u->sem_open.oflag = below(f, 8) ? below(f, 4) : (uint32_t)rnd(f);
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
        u->sem_wait.slot = below(f, 4);
        u->sem_wait.flags = below(f, 8) ? below(f, 2) : (uint32_t)rnd(f);
        u->sem_wait.prio = (int32_t)below(f, 5) - 2;
        break;
    case CORE_ECALL_SEM_CANCEL:
        u->sem_cancel.session = pick_session(f);
        u->sem_cancel.slot = below(f, 4);
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
    [CORE_ECALL_SESSION_INFO] = 1,
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

/* Record what a successful call created or ended. */
static void fuzz_note(struct fuzz *f, uint32_t call, const union any_args *u)
{
    switch (call) {
    case CORE_ECALL_SESSION_OPEN:
        assert_false(is_live(f, u->session_open.session));
        assert_true(f->nlive < FUZZ_SESS);
        f->live[f->nlive++] = u->session_open.session;
        break;
    case CORE_ECALL_SESSION_CLOSE:
        for (uint32_t i = 0; i < f->nlive; i++)
            if (f->live[i] == u->session_close.session) {
                f->live[i] = f->live[--f->nlive];
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
    case CORE_ECALL_SEM_POST:
        if (u->sem_post.wake.valid)
            assert_true(is_live(f, u->sem_post.wake.session));
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
    assert_int_equal(st.sessions_in_use, f->nlive);

    uint64_t nopens = 0, nwaiters = 0;
    for (uint32_t i = 0; i < f->nlive; i++) {
        struct core_session_info_args si;
        assert_status(session_info(c, f->live[i], &si), CORE_OK);
        nopens += si.nopens;
        nwaiters += si.nwaiters;
    }
    assert_int_equal(nopens, st.opens_in_use);
    assert_int_equal(nwaiters, st.waiters_in_use);

    struct core_sem_member_args m[64];
    uint32_t cursor = 0, live = 0;
    uint64_t records = 0, queued = 0;
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
        assert_true(i->value == 0 || i->nwaiters == 0);
        assert_true(!(i->flags & CORE_SEMF_NAMED) != !(i->flags & CORE_SEMF_ANON));
        assert_true(!(i->flags & CORE_SEMF_UNLINKED) || (i->flags & CORE_SEMF_NAMED));
        /* only a linked named semaphore may outlive its last open */
        if (i->flags != CORE_SEMF_NAMED)
            assert_true(i->open_count > 0);
        assert_true(i->name_len <= CORE_NAME_MAX);

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
    }
    assert_int_equal(live, st.sems_in_use);
    assert_int_equal(records, st.opens_in_use);
    assert_int_equal(queued, st.waiters_in_use);
}

static void random_ecalls_never_crash_and_keep_stats_consistent(void **state)
{
    const struct core_config cfg = {
        .max_sems = 8, .max_sessions = FUZZ_SESS, .max_opens = 16, .max_waiters = 8,
        .max_long_names = 2,
    };
    struct fuzz f;
    memset(&f, 0, sizeof f);
    f.c = reinit(state, &cfg);
    const char *seed = getenv("ESEM_FUZZ_SEED");
    f.rng = seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull;
    if (f.rng == 0)
        f.rng = 1;
    long_name(f.long1, sizeof f.long1, 'A');
    long_name(f.long2, sizeof f.long2, 'B');

    uint64_t ok = 0, queued = 0, refused = 0;
    for (uint32_t iter = 0; iter < 20000; iter++) {
        union any_args u;
        uint32_t call = pick_call(&f);
        int known = call > 0 && call < CORE_ECALL_MAX_;
        uint64_t size = known ? call_size[call] : below(&f, sizeof u);
        fuzz_fill(&f, known ? call : 0, &u, size);
        int bad_size = below(&f, 32) == 0;
        if (bad_size)
            size = size + 1 + below(&f, 8);

        int32_t r = core_ecall(f.c, call, &u, size);
        if (r < CORE_E_MIN || r > CORE_QUEUED)
            fail_msg("iteration %u call %u: status %d out of range", iter, call, (int)r);
        if (!known || bad_size)
            assert_status(r, CORE_E_BADCALL);
        if (r == CORE_QUEUED)
            assert_int_equal(call, CORE_ECALL_SEM_WAIT);
        if (r >= 0)
            fuzz_note(&f, call, &u);
        ok += r == CORE_OK;
        queued += r == CORE_QUEUED;
        refused += r < 0;
        if (iter % 64 == 63)
            check_consistency(&f);
    }
    check_consistency(&f);
    /* make sure the run exercised more than the refusal paths */
    assert_true(ok > 1000);
    assert_true(queued > 10);
    assert_true(refused > 1000);

    /* Closing every session leaves only linked named semaphores; unlinking
     * those leaves nothing. */
    while (f.nlive)
        assert_status(close_session(f.c, f.live[--f.nlive]), CORE_OK);
    core_id_t root = open_session(f.c, 1, 0, 0);
    for (;;) {
        struct core_sem_info_args a = {.cursor = 0};
        assert_status(CALL(f.c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        if (!a.found)
            break;
        assert_int_equal(a.info.flags, CORE_SEMF_NAMED);
        assert_int_equal(a.info.open_count, 0);
        assert_int_equal(a.info.nwaiters, 0);
        assert_status(unlink_raw(f.c, root, a.info.name, a.info.name_len), CORE_OK);
    }
    assert_status(close_session(f.c, root), CORE_OK);
    assert_nothing_in_use(f.c);
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
        /* randomized */
        T(random_ecalls_never_crash_and_keep_stats_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
