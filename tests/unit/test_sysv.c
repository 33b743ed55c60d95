/*
 * System V sets in the trusted core: semget/semop/semctl rules (atomicity,
 * queue order, SEM_UNDO at session end, EIDRM, limits, permissions), each
 * driven through CORE_ECALL_REQUEST as the daemon does.
 */
#include "core_fixture.h"

static struct core_config sv_cfg(uint32_t flags)
{
    struct core_config cfg = fx_cfg(flags);
    cfg.max_sets = 8;
    cfg.max_set_sems = 64;
    cfg.max_undos = 16;
    cfg.max_sysv_ops = 8;
    return cfg;
}

static int sv_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    struct core_config cfg = sv_cfg(0);
    f->c = fx_make(&cfg, &f->arena);
    *state = f;
    return f->c ? 0 : -1;
}

static uint64_t seqno = 1;

/* One request; *a holds the outputs. */
static int32_t sv_req(struct core *c, core_id_t s, struct core_request_args *a)
{
    a->session = s;
    a->req.seq = seqno++;
    a->now = 1700000000u;
    return CALL(c, CORE_ECALL_REQUEST, *a);
}

static int32_t sv_get(struct core *c, core_id_t s, int32_t key, uint32_t nsems, uint32_t flg,
                      uint32_t eflags, uint32_t *semid)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.req.call = CORE_ECALL_SYSV_GET;
    a.req.value = (uint32_t)key;
    a.req.flags = flg;
    a.req.mode = nsems;
    a.req.prio = (int32_t)eflags;
    int32_t r = sv_req(c, s, &a);
    if (semid)
        *semid = a.value;
    return r;
}

static int32_t sv_op(struct core *c, core_id_t s, uint32_t slot, uint32_t semid,
                     const struct core_sembuf *ops, uint32_t n)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.req.call = CORE_ECALL_SYSV_OP;
    a.req.slot = slot;
    a.req.handle = semid;
    a.req.value = n;
    a.req.name_len = n * (uint32_t)sizeof *ops;
    if (a.req.name_len <= CORE_NAME_MAX)
        memcpy(a.req.name, ops, a.req.name_len);
    return sv_req(c, s, &a);
}

static int32_t op1(struct core *c, core_id_t s, uint32_t slot, uint32_t semid, uint16_t num,
                   int16_t op, int16_t flg)
{
    struct core_sembuf o = {num, op, flg};
    return sv_op(c, s, slot, semid, &o, 1);
}

static int32_t sv_ctl(struct core *c, core_id_t s, uint32_t semid, uint32_t cmd, uint32_t num,
                      uint32_t arg, const void *data, uint32_t len, struct core_request_args *out)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.req.call = CORE_ECALL_SYSV_CTL;
    a.req.handle = semid;
    a.req.flags = cmd;
    a.req.value = num;
    a.req.mode = arg;
    a.req.name_len = len;
    if (len)
        memcpy(a.req.name, data, len);
    int32_t r = sv_req(c, s, &a);
    if (out)
        *out = a;
    return r;
}

static int32_t val(struct core *c, core_id_t s, uint32_t semid, uint32_t num)
{
    struct core_request_args a;
    assert_status(sv_ctl(c, s, semid, CORE_GETVAL, num, 0, NULL, 0, &a), CORE_OK);
    return (int32_t)a.value;
}

static void setval(struct core *c, core_id_t s, uint32_t semid, uint32_t num, uint32_t v)
{
    assert_status(sv_ctl(c, s, semid, CORE_SETVAL, num, v, NULL, 0, NULL), CORE_OK);
}

static struct core_stats stats(struct core *c)
{
    struct core_stats_args a;
    assert_status(CALL(c, CORE_ECALL_STATS, a), CORE_OK);
    return a.stats;
}

static void get_creates_finds_and_refuses(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000);
    uint32_t p1, p2, k1, k2;
    assert_status(sv_get(c, a, 0, 2, 0600, 0, &p1), CORE_OK);
    assert_status(sv_get(c, a, 0, 2, 0600, 0, &p2), CORE_OK);
    assert_true(p1 != p2); /* IPC_PRIVATE: always a new set */
    assert_status(sv_get(c, a, 42, 3, CORE_IPC_CREAT | 0600, 0, &k1), CORE_OK);
    assert_status(sv_get(c, a, 42, 0, 0, 0, &k2), CORE_OK);
    assert_int_equal(k1, k2);
    assert_status(sv_get(c, a, 42, 3, CORE_IPC_CREAT | CORE_IPC_EXCL | 0600, 0, NULL),
                  CORE_E_EXIST);
    assert_status(sv_get(c, a, 43, 1, 0600, 0, NULL), CORE_E_NOENT);
    assert_status(sv_get(c, a, 42, 4, 0, 0, NULL), CORE_E_INVAL); /* more than it has */
    assert_status(sv_get(c, a, 44, 0, CORE_IPC_CREAT | 0600, 0, NULL), CORE_E_INVAL);
    assert_status(sv_get(c, a, 44, CORE_SEMMSL + 1, CORE_IPC_CREAT | 0600, 0, NULL),
                  CORE_E_INVAL);
    assert_status(sv_get(c, a, 44, 1, CORE_IPC_CREAT | 0x100000, 0, NULL), CORE_E_INVAL);
    assert_int_equal(val(c, a, k1, 2), 0);
    assert_int_equal(stats(c).sets_in_use, 3);
}

static void semop_is_all_or_none_in_array_order(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 2, 0600, 0, &id), CORE_OK);
    setval(c, a, id, 0, 1);
    struct core_sembuf two[2] = {{0, -1, 0}, {1, -1, CORE_IPC_NOWAIT}};
    assert_status(sv_op(c, a, 0, id, two, 2), CORE_E_AGAIN);
    assert_int_equal(val(c, a, id, 0), 1); /* the first one was backed out */
    /* the same semaphore twice: applied in order (1 + 1 - 2 = 0) */
    struct core_sembuf rep[2] = {{0, 1, 0}, {0, -2, 0}};
    assert_status(sv_op(c, a, 0, id, rep, 2), CORE_OK);
    assert_int_equal(val(c, a, id, 0), 0);
    /* but order matters: -2 first would block */
    setval(c, a, id, 0, 1);
    struct core_sembuf rev[2] = {{0, -2, CORE_IPC_NOWAIT}, {0, 1, 0}};
    assert_status(sv_op(c, a, 0, id, rev, 2), CORE_E_AGAIN);
    assert_int_equal(val(c, a, id, 0), 1);
}

static void semop_limits_and_bad_input(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 2, 0600, 0, &id), CORE_OK);
    struct core_sembuf many[CORE_SEMOPM + 1];
    memset(many, 0, sizeof many);
    assert_status(sv_op(c, a, 0, id, many, 0), CORE_E_INVAL);
    assert_status(sv_op(c, a, 0, id, many, CORE_SEMOPM + 1), CORE_E_2BIG);
    assert_status(op1(c, a, 0, id, 2, 1, 0), CORE_E_FBIG);
    assert_status(op1(c, a, 0, id + 1, 0, 1, 0), CORE_E_INVAL);
    assert_status(op1(c, a, 0, 0x7fffffff, 0, 1, 0), CORE_E_INVAL);
    assert_status(op1(c, a, 0, id & ~CORE_SEMID_BIT, 0, 1, 0), CORE_E_INVAL);
    setval(c, a, id, 0, CORE_SEMVMX);
    assert_status(op1(c, a, 0, id, 0, 1, 0), CORE_E_RANGE);
    assert_status(sv_ctl(c, a, id, CORE_SETVAL, 0, CORE_SEMVMX + 1, NULL, 0, NULL),
                  CORE_E_RANGE);
    assert_status(sv_ctl(c, a, id, CORE_SETVAL, 0, (uint32_t)-1, NULL, 0, NULL), CORE_E_RANGE);
    assert_status(sv_ctl(c, a, id, CORE_SETVAL, 2, 1, NULL, 0, NULL), CORE_E_INVAL);
    assert_status(sv_ctl(c, a, id, 99, 0, 0, NULL, 0, NULL), CORE_E_INVAL);
    /* a name_len that does not match nsops */
    struct core_request_args q;
    memset(&q, 0, sizeof q);
    q.req.call = CORE_ECALL_SYSV_OP;
    q.req.handle = id;
    q.req.value = 2;
    q.req.name_len = 6;
    assert_status(sv_req(c, a, &q), CORE_E_INVAL);
    /* POSIX calls refuse a set's handle */
    assert_status(sv_ctl(c, a, id, CORE_IPC_STAT, 0, 0, NULL, 0, &q), CORE_OK);
    assert_status(fx_post(c, a, q.handle, NULL), CORE_E_HANDLE);
    assert_status(fx_wait(c, a, q.handle, 0, 1, CORE_WAIT_TRY, 0), CORE_E_HANDLE);
}

static void queued_semop_is_completed_by_the_change(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 7, 1, CORE_IPC_CREAT | 0600, 0, &id), CORE_OK);
    assert_status(op1(c, b, 3, id, 0, -1, 0), CORE_QUEUED);
    struct core_request_args q;
    assert_status(sv_ctl(c, a, id, CORE_GETNCNT, 0, 0, NULL, 0, &q), CORE_OK);
    assert_int_equal(q.value, 1);
    assert_status(op1(c, a, 0, id, 0, 1, 0), CORE_OK);
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].session, b);
    assert_int_equal(w[0].slot, 3);
    assert_int_equal(w[0].status, CORE_OK); /* done for it: a grant */
    assert_int_equal(val(c, a, id, 0), 0);
    assert_status(sv_ctl(c, a, id, CORE_GETPID, 0, 0, NULL, 0, &q), CORE_OK);
    assert_int_equal(q.value, 11); /* the waiter's operation was the last */
    assert_int_equal(stats(c).waiters_in_use, 0);
}

static void a_try_never_queues(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 1, 0600, 0, &id), CORE_OK);
    struct core_request_args q;
    memset(&q, 0, sizeof q);
    struct core_sembuf o = {0, -1, 0};
    q.req.call = CORE_ECALL_SYSV_OP;
    q.req.handle = id;
    q.req.value = 1;
    q.req.flags = CORE_WAIT_TRY;
    q.req.name_len = sizeof o;
    memcpy(q.req.name, &o, sizeof o);
    assert_status(sv_req(c, a, &q), CORE_E_AGAIN);
    assert_int_equal(stats(c).waiters_in_use, 0);
    setval(c, a, id, 0, 1);
    assert_status(sv_req(c, a, &q), CORE_OK); /* and takes what is there */
    assert_int_equal(val(c, a, id, 0), 0);
    q.req.flags = 0x80;
    assert_status(sv_req(c, a, &q), CORE_E_INVAL);
}

static void zero_waiters_and_order(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000),
              d = fx_session(c, 12, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 1, 0600, 0, &id), CORE_OK);
    setval(c, a, id, 0, 1);
    assert_status(op1(c, b, 0, id, 0, 0, 0), CORE_QUEUED); /* wait for zero */
    struct core_request_args q;
    assert_status(sv_ctl(c, a, id, CORE_GETZCNT, 0, 0, NULL, 0, &q), CORE_OK);
    assert_int_equal(q.value, 1);
    assert_status(op1(c, a, 0, id, 0, -1, 0), CORE_OK);
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].session, b);
    /* a complex operation that cannot go does not hold up a simple one
     * queued after it; among equals, arrival order */
    assert_status(op1(c, b, 0, id, 0, -2, 0), CORE_QUEUED);
    assert_status(op1(c, d, 0, id, 0, -1, 0), CORE_QUEUED);
    assert_status(op1(c, a, 1, id, 0, -1, 0), CORE_QUEUED);
    assert_status(op1(c, a, 0, id, 0, 1, 0), CORE_OK);
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].session, d);
    assert_status(op1(c, a, 0, id, 0, 1, 0), CORE_OK);
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].session, a);
    assert_status(op1(c, a, 0, id, 0, 2, 0), CORE_OK);
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].session, b);
    assert_int_equal(val(c, a, id, 0), 0);
}

static void undo_is_applied_when_the_session_ends(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 2, 0600, 0, &id), CORE_OK);
    setval(c, a, id, 0, 1);
    assert_status(op1(c, b, 0, id, 0, -1, CORE_SEM_UNDO), CORE_OK); /* holds the mutex */
    assert_status(op1(c, b, 0, id, 1, 3, CORE_SEM_UNDO), CORE_OK);
    assert_status(op1(c, a, 0, id, 0, -1, 0), CORE_QUEUED);         /* a waits for it */
    assert_status(op1(c, a, 1, id, 1, -3, 0), CORE_OK);              /* sem 1 back to 0 */
    assert_int_equal(stats(c).undos_in_use, 2);
    assert_status(fx_close_session(c, b, NULL), CORE_OK); /* b killed */
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1); /* the mutex came back: a got it */
    assert_int_equal(w[0].session, a);
    assert_int_equal(w[0].status, CORE_OK);
    assert_int_equal(val(c, a, id, 0), 0);
    assert_int_equal(val(c, a, id, 1), 0); /* 0 - 3 clamped to 0 */
    assert_int_equal(stats(c).undos_in_use, 0);
}

/* A core handed to a new daemon (core_resume, at another address): sets,
 * their values, queued semops and undo records come along. */
static void resume_keeps_sets_queued_semops_and_undo(void **state)
{
    struct fixture *f = *state;
    struct core *c = f->c;
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 4242, 2, CORE_IPC_CREAT | 0600, 0, &id), CORE_OK);
    setval(c, a, id, 0, 1);
    assert_status(op1(c, b, 0, id, 0, -1, CORE_SEM_UNDO), CORE_OK); /* b holds it */
    assert_status(op1(c, a, 0, id, 0, -1, 0), CORE_QUEUED);         /* a waits */
    struct core_config cfg = sv_cfg(0);
    uint64_t n = core_arena_size(&cfg);
    void *copy = aligned_alloc(64, n);
    assert_non_null(copy);
    memcpy(copy, f->arena, n);
    memset(f->arena, 0x5a, n);
    free(f->arena);
    f->arena = copy;
    f->c = c = core_resume(copy, n, NULL);
    assert_non_null(c);
    uint32_t again;
    assert_status(sv_get(c, b, 4242, 0, 0, 0, &again), CORE_OK); /* the key finds it */
    assert_int_equal(again, id);
    assert_int_equal(stats(c).undos_in_use, 1);
    assert_status(fx_close_session(c, b, NULL), CORE_OK); /* b killed: its undo runs */
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1); /* ... and a gets the mutex */
    assert_int_equal(w[0].session, a);
    assert_int_equal(w[0].status, CORE_OK);
    assert_int_equal(val(c, a, id, 0), 0);
    assert_int_equal(stats(c).undos_in_use, 0);
}

static void setval_clears_undo_and_child_does_not_inherit_it(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 1, 0600, 0, &id), CORE_OK);
    setval(c, a, id, 0, 2);
    assert_status(op1(c, b, 0, id, 0, -1, CORE_SEM_UNDO), CORE_OK);
    core_id_t kid = fx_session(c, 12, 1000);
    struct core_session_inherit_args in = {.child = kid, .parent = b};
    assert_status(CALL(c, CORE_ECALL_SESSION_INHERIT, in), CORE_OK);
    assert_status(fx_close_session(c, kid, NULL), CORE_OK);
    assert_int_equal(val(c, a, id, 0), 1); /* the child undid nothing */
    setval(c, a, id, 0, 5);
    assert_status(fx_close_session(c, b, NULL), CORE_OK);
    assert_int_equal(val(c, a, id, 0), 5); /* SETVAL cleared b's +1 */
    /* undo past SEMAEM is ERANGE */
    core_id_t d = fx_session(c, 13, 1000);
    setval(c, a, id, 0, CORE_SEMVMX);
    assert_status(op1(c, d, 0, id, 0, -CORE_SEMVMX, CORE_SEM_UNDO), CORE_OK);
    assert_status(op1(c, d, 0, id, 0, 1, 0), CORE_OK);
    assert_status(op1(c, d, 0, id, 0, -1, CORE_SEM_UNDO), CORE_E_RANGE);
    assert_int_equal(val(c, a, id, 0), 1);
}

static void rmid_gives_waiters_eidrm_and_the_id_goes_stale(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id, id2;
    assert_status(sv_get(c, a, 5, 1, CORE_IPC_CREAT | 0600, 0, &id), CORE_OK);
    assert_status(op1(c, b, 0, id, 0, -1, 0), CORE_QUEUED);
    assert_status(op1(c, b, 1, id, 0, 0, 0), CORE_OK); /* zero already */
    assert_status(sv_ctl(c, a, id, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_OK);
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1);
    assert_int_equal(w[0].status, CORE_E_IDRM);
    assert_status(op1(c, a, 0, id, 0, 1, 0), CORE_E_INVAL);
    assert_status(sv_get(c, a, 5, 1, 0600, 0, NULL), CORE_E_NOENT);
    assert_status(sv_get(c, a, 5, 1, CORE_IPC_CREAT | 0600, 0, &id2), CORE_OK);
    assert_true(id2 != id); /* same slot, another id */
    assert_int_equal(stats(c).sets_in_use, 1);
    assert_int_equal(stats(c).opblks_in_use, 0);
}

static void permissions_follow_the_mode_and_ipc_set(void **state)
{
    struct core *c = fx_core(state);
    core_id_t own = fx_session(c, 10, 1000), oth = fx_session(c, 11, 2000),
              root = fx_session(c, 12, 0);
    uint32_t id;
    assert_status(sv_get(c, own, 9, 1, CORE_IPC_CREAT | 0600, 0, &id), CORE_OK);
    assert_status(sv_get(c, oth, 9, 1, 0600, 0, NULL), CORE_E_ACCES);
    assert_status(sv_get(c, oth, 9, 1, 0, 0, NULL), CORE_E_ACCES); /* no right at all */
    assert_status(sv_ctl(c, oth, id, CORE_GETVAL, 0, 0, NULL, 0, NULL), CORE_E_ACCES);
    assert_status(op1(c, oth, 0, id, 0, 1, 0), CORE_E_ACCES);
    assert_status(sv_ctl(c, oth, id, CORE_SETVAL, 0, 3, NULL, 0, NULL), CORE_E_ACCES);
    assert_status(sv_ctl(c, oth, id, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_E_PERM);
    struct core_sysv_set set = {.uid = 1000, .gid = 1000, .mode = 0604};
    assert_status(sv_ctl(c, oth, id, CORE_IPC_SET, 0, 0, &set, sizeof set, NULL), CORE_E_PERM);
    assert_status(sv_ctl(c, own, id, CORE_IPC_SET, 0, 0, &set, sizeof set, NULL), CORE_OK);
    /* read for others now, not alter */
    assert_status(sv_ctl(c, oth, id, CORE_GETVAL, 0, 0, NULL, 0, NULL), CORE_OK);
    assert_status(op1(c, oth, 0, id, 0, 0, 0), CORE_OK);
    assert_status(op1(c, oth, 0, id, 0, 1, 0), CORE_E_ACCES);
    struct core_request_args q;
    assert_status(sv_ctl(c, oth, id, CORE_IPC_STAT, 0, 0, NULL, 0, &q), CORE_OK);
    struct core_sysv_ds ds;
    assert_int_equal(q.out_len, sizeof ds);
    memcpy(&ds, q.out, sizeof ds);
    assert_int_equal(ds.key, 9);
    assert_int_equal(ds.mode, 0604);
    assert_int_equal(ds.cuid, 1000);
    assert_int_equal(ds.nsems, 1);
    assert_int_equal(ds.ctime, 1700000000u);
    /* the owner hands the set to uid 2000 (Apache does this with its User) */
    set.uid = 2000;
    set.mode = 0600;
    assert_status(sv_ctl(c, own, id, CORE_IPC_SET, 0, 0, &set, sizeof set, NULL), CORE_OK);
    assert_status(op1(c, oth, 0, id, 0, 1, 0), CORE_OK);
    assert_status(op1(c, own, 0, id, 0, 1, 0), CORE_OK); /* the creator keeps it */
    assert_status(sv_ctl(c, root, id, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_OK);
}

static void strict_set_refuses_the_same_uid(void **state)
{
    struct core *c = fx_core(state);
    core_id_t own = fx_session(c, 10, 1000), peer = fx_session(c, 11, 1000),
              root = fx_session(c, 12, 0);
    uint32_t id;
    assert_status(sv_get(c, own, 0, 1, 0600, CORE_O_STRICT, &id), CORE_OK);
    assert_status(sv_ctl(c, peer, id, CORE_SETVAL, 0, 1, NULL, 0, NULL), CORE_E_ACCES);
    assert_status(op1(c, peer, 0, id, 0, 1, 0), CORE_E_ACCES);
    assert_status(sv_ctl(c, peer, id, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_E_PERM);
    assert_status(sv_ctl(c, root, id, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_E_PERM);
    /* a child of the owner acts as the owner */
    core_id_t kid = fx_session(c, 13, 1000);
    struct core_session_inherit_args in = {.child = kid, .parent = own};
    assert_status(CALL(c, CORE_ECALL_SESSION_INHERIT, in), CORE_OK);
    assert_status(op1(c, kid, 0, id, 0, 1, CORE_SEM_UNDO), CORE_OK);
    /* the owner grants post (not wait) to the peer's uid, then revokes */
    struct core_request_args q;
    assert_status(sv_ctl(c, own, id, CORE_IPC_STAT, 0, 0, NULL, 0, &q), CORE_OK);
    assert_status(fx_grant(c, own, q.handle, CORE_P_UID, 1000, CORE_R_POST, 0, NULL), CORE_OK);
    assert_status(op1(c, peer, 0, id, 0, 1, 0), CORE_OK);
    assert_status(op1(c, peer, 0, id, 0, -1, 0), CORE_E_ACCES);
    assert_status(fx_grant(c, own, q.handle, CORE_P_UID, 1000, CORE_R_WAIT | CORE_R_POST, 0,
                           NULL), CORE_OK);
    setval(c, own, id, 0, 0);
    assert_status(op1(c, peer, 0, id, 0, -1, 0), CORE_QUEUED);
    uint32_t notes = 0;
    assert_status(fx_grant(c, own, q.handle, CORE_P_UID, 1000, CORE_R_WAIT, 1, &notes), CORE_OK);
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1); /* its queued wait left */
    assert_int_equal(w[0].status, CORE_E_ACCES);
    assert_int_equal(w[0].session, peer);
}

static void getall_setall_and_info(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 3, 0600, 0, &id), CORE_OK);
    assert_status(op1(c, b, 0, id, 2, -2, 0), CORE_QUEUED);
    uint16_t v[3] = {1, 2, 3};
    struct core_request_args q;
    assert_status(sv_ctl(c, a, id, CORE_SETALL, 0, 0, v, sizeof v, &q), CORE_OK);
    struct core_wake w[4];
    assert_int_equal(fx_notes(c, w, 4), 1); /* SETALL let the waiter through */
    assert_status(sv_ctl(c, a, id, CORE_GETALL, 0, 0, NULL, 0, &q), CORE_OK);
    assert_int_equal(q.value, 3);
    assert_int_equal(q.out_len, 6);
    uint16_t got[3];
    memcpy(got, q.out, sizeof got);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 1);
    uint16_t bad[2] = {1, CORE_SEMVMX + 1};
    assert_status(sv_ctl(c, a, id, CORE_SETALL, 0, 0, bad, sizeof bad, NULL), CORE_E_RANGE);
    assert_status(sv_ctl(c, a, id, CORE_SETALL, 2, 0, v, sizeof v, NULL), CORE_E_INVAL);
    assert_status(sv_ctl(c, a, 0, CORE_IPC_INFO, 0, 0, NULL, 0, &q), CORE_OK);
    struct core_sysv_limits l;
    memcpy(&l, q.out, sizeof l);
    assert_int_equal(l.semopm, CORE_SEMOPM);
    assert_int_equal(l.semvmx, CORE_SEMVMX);
    assert_int_equal(l.semmni, 8);
    assert_status(sv_ctl(c, a, 0, CORE_SEM_INFO, 0, 0, NULL, 0, &q), CORE_OK);
    memcpy(&l, q.out, sizeof l);
    assert_int_equal(l.semusz, 1);
    assert_int_equal(l.semaem, 3);
    /* SEM_STAT by index returns the id */
    assert_status(sv_ctl(c, a, q.value, CORE_SEM_STAT, 0, 0, NULL, 0, &q), CORE_OK);
    assert_int_equal(q.value, id);
    /* the admin view knows it is a set */
    struct core_sem_info in = fx_info(c, q.handle);
    assert_true(in.flags & CORE_SEMF_SYSV);
    assert_int_equal(in.semid, id);
    assert_int_equal(in.nsems, 3);
}

static void cancel_and_death_free_everything(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000), b = fx_session(c, 11, 1000);
    uint32_t id;
    assert_status(sv_get(c, a, 0, 1, 0600, 0, &id), CORE_OK);
    struct core_sembuf ops[9];
    for (int i = 0; i < 9; i++)
        ops[i] = (struct core_sembuf){0, -1, 0};
    assert_status(sv_op(c, b, 4, id, ops, 9), CORE_QUEUED); /* two op blocks */
    assert_int_equal(stats(c).opblks_in_use, 2);
    assert_status(op1(c, b, 4, id, 0, -1, 0), CORE_E_BUSY); /* one wait per slot */
    assert_status(fx_cancel(c, b, 4, NULL), CORE_OK);
    assert_int_equal(stats(c).opblks_in_use, 0);
    assert_status(sv_op(c, b, 4, id, ops, 9), CORE_QUEUED);
    assert_status(op1(c, b, 5, id, 0, -1, CORE_SEM_UNDO), CORE_QUEUED);
    assert_status(fx_close_session(c, b, NULL), CORE_OK);
    struct core_stats st = stats(c);
    assert_int_equal(st.opblks_in_use, 0);
    assert_int_equal(st.waiters_in_use, 0);
    assert_int_equal(st.undos_in_use, 0);
    /* a full op pool: the semop that would queue is refused, nothing lost */
    core_id_t d = fx_session(c, 12, 1000);
    for (uint32_t s = 0; s < 4; s++)
        assert_status(sv_op(c, d, s, id, ops, 9), CORE_QUEUED);
    assert_status(op1(c, d, 9, id, 0, -1, 0), CORE_E_NOSPC);
    assert_status(op1(c, a, 0, id, 0, 9, 0), CORE_OK);
    struct core_wake w[8];
    assert_int_equal(fx_notes(c, w, 8), 1);
    assert_int_equal(val(c, a, id, 0), 0);
}

static void sets_and_cells_are_reused(void **state)
{
    struct core *c = fx_core(state);
    core_id_t a = fx_session(c, 10, 1000);
    uint32_t ids[8];
    /* 64 cells: 8 sets of 8 fill them; one more semaphore does not fit */
    for (int i = 0; i < 8; i++)
        assert_status(sv_get(c, a, 0, 8, 0600, 0, &ids[i]), CORE_OK);
    assert_status(sv_get(c, a, 0, 1, 0600, 0, NULL), CORE_E_NOSPC);
    /* free two neighbours: a set of 16 fits in the merged hole */
    assert_status(sv_ctl(c, a, ids[3], CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_OK);
    assert_status(sv_ctl(c, a, ids[4], CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_OK);
    uint32_t big;
    assert_status(sv_get(c, a, 0, 16, 0600, 0, &big), CORE_OK);
    setval(c, a, big, 15, 7);
    assert_int_equal(val(c, a, ids[5], 0), 0); /* its neighbour untouched */
    for (int round = 0; round < 200; round++) {
        uint32_t t;
        assert_status(sv_ctl(c, a, big, CORE_IPC_RMID, 0, 0, NULL, 0, NULL), CORE_OK);
        assert_status(sv_get(c, a, 0, 16, 0600, 0, &t), CORE_OK);
        big = t;
    }
    assert_int_equal(stats(c).set_sems_in_use, 64);
}

static void no_sysv_tables_means_no_sets(void **state)
{
    struct core *c = fx_reinit(state, 0); /* fx_cfg: no System V */
    core_id_t a = fx_session(c, 10, 1000);
    assert_status(sv_get(c, a, 0, 1, 0600, 0, NULL), CORE_E_NOSPC);
    assert_status(op1(c, a, 0, 0, 0, 1, 0), CORE_E_INVAL);
}

static void key_session_reply_data_is_maced(void **state)
{
    struct core *c = fx_core(state);
    uint8_t key[CORE_KEY_BYTES];
    memset(key, 7, sizeof key);
    struct core_key_add_args ka;
    memcpy(ka.key, key, sizeof key);
    assert_status(CALL(c, CORE_ECALL_KEY_ADD, ka), CORE_OK);
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 20;
    so.uid = 1000;
    so.start_time = 5;
    so.key_id = ka.key_id;
    memset(so.nonce, 3, sizeof so.nonce);
    int32_t r = CALL(c, CORE_ECALL_SESSION_OPEN, so);
    if (r == CORE_E_NORAND)
        skip();
    assert_status(r, CORE_OK);
    uint8_t ks[CORE_KEY_BYTES];
    core_auth_session_key(key, so.session, so.nonce, so.core_nonce, ks);
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.session = so.session;
    a.req.call = CORE_ECALL_SYSV_GET;
    a.req.seq = 1;
    a.req.mode = 2;
    a.req.flags = 0600;
    core_auth_req_mac(ks, &a.req, a.mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_OK);
    uint32_t id = a.value;
    memset(&a, 0, sizeof a);
    a.session = so.session;
    a.req.call = CORE_ECALL_SYSV_CTL;
    a.req.seq = 2;
    a.req.handle = id;
    a.req.flags = CORE_GETALL;
    core_auth_req_mac(ks, &a.req, a.mac);
    assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_OK);
    uint8_t want[CORE_MAC_BYTES];
    struct core_reply rep = {.session = so.session, .seq = 2, .slot = 0,
                             .call = CORE_ECALL_SYSV_CTL, .req_handle = id,
                             .status = CORE_OK, .value = a.value, .handle = a.handle};
    core_auth_rep_mac_data(ks, &rep, a.out, a.out_len, want);
    assert_memory_equal(want, a.rmac, CORE_MAC_BYTES);
    a.out[0] ^= 1; /* a host that changes a value is caught */
    core_auth_rep_mac_data(ks, &rep, a.out, a.out_len, want);
    assert_memory_not_equal(want, a.rmac, CORE_MAC_BYTES);
    /* an unMACed SysV request is refused */
    memset(&a, 0, sizeof a);
    a.session = so.session;
    a.req.call = CORE_ECALL_SYSV_OP;
    a.req.seq = 3;
    assert_status(CALL(c, CORE_ECALL_REQUEST, a), CORE_E_AUTH);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sv_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(get_creates_finds_and_refuses),
        T(semop_is_all_or_none_in_array_order),
        T(semop_limits_and_bad_input),
        T(queued_semop_is_completed_by_the_change),
        T(a_try_never_queues),
        T(zero_waiters_and_order),
        T(undo_is_applied_when_the_session_ends),
        T(setval_clears_undo_and_child_does_not_inherit_it),
        T(resume_keeps_sets_queued_semops_and_undo),
        T(rmid_gives_waiters_eidrm_and_the_id_goes_stale),
        T(permissions_follow_the_mode_and_ipc_set),
        T(strict_set_refuses_the_same_uid),
        T(getall_setall_and_info),
        T(cancel_and_death_free_everything),
        T(sets_and_cells_are_reused),
        T(no_sysv_tables_means_no_sets),
        T(key_session_reply_data_is_maced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
