/*
 * A small fixture for the core's unit-test programs (one per topic): a
 * fresh core per test, and the few calls test_barging.c, test_boundary.c,
 * test_sysv.c and test_quota.c drive, each through core_ecall only;
 * core_tests.h adds the larger set of helpers of test_core_*.c.
 */
#ifndef ESEM_CORE_FIXTURE_H
#define ESEM_CORE_FIXTURE_H

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

struct fixture {
    void *arena;
    struct core *c;
};

static inline struct core *fx_make(const struct core_config *cfg, void **arena)
{
    uint64_t n = core_arena_size(cfg);
    *arena = n ? aligned_alloc(64, n) : NULL;
    if (!*arena)
        return NULL;
    memset(*arena, 0xa5, n);
    return core_init(*arena, n, cfg);
}

static inline struct core_config fx_cfg(uint32_t flags)
{
    struct core_config cfg = {.max_sems = 16, .max_sessions = 8, .max_opens = 32,
                              .max_waiters = 16, .max_long_names = 2, .max_acls = 16,
                              .max_keys = 4, .max_keyed = 4, .flags = flags};
    return cfg;
}

/* setup: a core in barging order (the default) */
static inline int fx_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    struct core_config cfg = fx_cfg(0);
    f->c = fx_make(&cfg, &f->arena);
    *state = f;
    return f->c ? 0 : -1;
}

static inline int fx_teardown(void **state)
{
    struct fixture *f = *state;
    free(f->arena);
    free(f);
    return 0;
}

static inline struct core *fx_core(void **state) { return ((struct fixture *)*state)->c; }

static inline struct core *fx_reinit(void **state, uint32_t flags)
{
    struct fixture *f = *state;
    free(f->arena);
    struct core_config cfg = fx_cfg(flags);
    f->c = fx_make(&cfg, &f->arena);
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

static inline core_id_t fx_session(struct core *c, uint32_t pid, uint32_t uid)
{
    struct core_session_open_args a;
    memset(&a, 0, sizeof a);
    a.pid = pid;
    a.uid = uid;
    a.gid = uid;
    a.start_time = 1000u + pid;
    assert_status(CALL(c, CORE_ECALL_SESSION_OPEN, a), CORE_OK);
    return a.session;
}

static inline core_id_t fx_open(struct core *c, core_id_t s, const char *name, uint32_t oflag,
                                uint32_t mode, uint32_t value)
{
    struct core_sem_open_args a;
    memset(&a, 0, sizeof a);
    a.session = s;
    a.oflag = oflag;
    a.mode = mode;
    a.value = value;
    a.name_len = (uint32_t)strlen(name);
    memcpy(a.name, name, a.name_len);
    assert_status(CALL(c, CORE_ECALL_SEM_OPEN, a), CORE_OK);
    return a.handle;
}

/* post; the wake it made (if any) in *w */
static inline int32_t fx_post(struct core *c, core_id_t s, core_id_t h, struct core_wake *w)
{
    struct core_sem_post_args a = {.session = s, .handle = h};
    int32_t r = CALL(c, CORE_ECALL_SEM_POST, a);
    if (w)
        *w = a.wake;
    return r;
}

static inline int32_t fx_wait(struct core *c, core_id_t s, core_id_t h, uint32_t slot,
                              uint64_t seq, uint32_t flags, int32_t prio)
{
    struct core_sem_wait_args a = {.session = s, .handle = h, .slot = slot, .flags = flags,
                                   .prio = prio, .seq = seq};
    return CALL(c, CORE_ECALL_SEM_WAIT, a);
}

/* The same at the host's clock now (ns): the hand-off rules read it. */
static inline int32_t fx_post_at(struct core *c, core_id_t s, core_id_t h, uint64_t now,
                                 struct core_wake *w)
{
    struct core_sem_post_args a = {.session = s, .handle = h, .now_ns = now};
    int32_t r = CALL(c, CORE_ECALL_SEM_POST, a);
    if (w)
        *w = a.wake;
    return r;
}

static inline int32_t fx_wait_at(struct core *c, core_id_t s, core_id_t h, uint32_t slot,
                                 uint64_t seq, uint64_t now)
{
    struct core_sem_wait_args a = {.session = s, .handle = h, .slot = slot, .seq = seq,
                                   .now_ns = now};
    return CALL(c, CORE_ECALL_SEM_WAIT, a);
}

/* A poster p, two waiters a and b and a running thread x that barges, each
 * a session of its own with semaphore "m" open (created with oflag). */
struct fx_world {
    struct core *c;
    core_id_t p, a, b, x;
    core_id_t hp, ha, hb, hx;
};

static inline struct fx_world fx_world(struct core *c, uint32_t oflag, uint32_t uid)
{
    struct fx_world w;
    w.c = c;
    w.p = fx_session(w.c, 1, uid);
    w.a = fx_session(w.c, 2, uid);
    w.b = fx_session(w.c, 3, uid);
    w.x = fx_session(w.c, 4, uid);
    w.hp = fx_open(w.c, w.p, "m", CORE_O_CREAT | oflag, 0600, 0);
    w.ha = fx_open(w.c, w.a, "m", 0, 0, 0);
    w.hb = fx_open(w.c, w.b, "m", 0, 0, 0);
    w.hx = fx_open(w.c, w.x, "m", 0, 0, 0);
    return w;
}

static inline void fx_assert_wake(const struct core_wake *wk, core_id_t session, uint32_t slot,
                                  uint64_t seq, int32_t status)
{
    assert_int_equal(wk->valid, 1);
    assert_true(wk->session == session);
    assert_int_equal(wk->slot, slot);
    assert_int_equal(wk->seq, seq);
    assert_int_equal(wk->status, status);
}

static inline int32_t fx_cancel(struct core *c, core_id_t s, uint32_t slot, uint32_t *notes)
{
    struct core_sem_cancel_args a = {.session = s, .slot = slot};
    int32_t r = CALL(c, CORE_ECALL_SEM_CANCEL, a);
    if (notes)
        *notes = a.notes;
    return r;
}

/* take every pending note into out[] (at most max); returns how many */
static inline uint32_t fx_notes(struct core *c, struct core_wake *out, uint32_t max)
{
    uint32_t n = 0;
    for (;;) {
        struct core_notes_args a;
        memset(&a, 0x5a, sizeof a);
        assert_status(CALL(c, CORE_ECALL_NOTES, a), CORE_OK);
        assert_true(a.n <= 8);
        for (uint32_t i = 0; i < a.n && n < max; i++)
            out[n++] = a.note[i];
        if (a.n < 8)
            return n;
    }
}

static inline struct core_sem_info fx_info(struct core *c, core_id_t h)
{
    for (uint32_t cur = 0;;) {
        struct core_sem_info_args a = {.cursor = cur};
        assert_status(CALL(c, CORE_ECALL_SEM_INFO, a), CORE_OK);
        assert_true(a.found);
        if (a.info.handle == h)
            return a.info;
        cur = a.next;
    }
}

static inline int32_t fx_close_session(struct core *c, core_id_t s, uint32_t *notes)
{
    struct core_session_close_args a = {.session = s};
    int32_t r = CALL(c, CORE_ECALL_SESSION_CLOSE, a);
    if (notes)
        *notes = a.notes;
    return r;
}

static inline int32_t fx_grant(struct core *c, core_id_t s, core_id_t h, uint32_t kind,
                               uint32_t id, uint32_t rights, int revoke, uint32_t *notes)
{
    struct core_sem_grant_args a = {.session = s, .handle = h, .rights = rights};
    a.who.kind = kind;
    a.who.id = id;
    int32_t r = core_ecall(c, revoke ? CORE_ECALL_SEM_REVOKE : CORE_ECALL_SEM_GRANT, &a, sizeof a);
    if (notes)
        *notes = a.notes;
    return r;
}

#endif
