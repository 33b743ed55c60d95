/*
 * libFuzzer target: the trusted core through its one door, core_ecall.
 *
 * The input is a program: each step reads an operation and its operands
 * from the bytes (so libFuzzer's mutations are decisions, and coverage
 * guides them) — sessions, POSIX semaphores, waits, cancels, grants, System
 * V sets and semops, requests built the way the daemon builds them from a
 * client's channel slot (esem_req_canon, common/proto.h), and raw ecalls
 * with argument bytes straight from the input.  After every step the core's
 * own views must hold together (abort() otherwise, which libFuzzer reports):
 * statuses in range; no table past its size; per semaphore, the waiters the
 * core lists equal its count, at most `value` permits and never more woken
 * than waiting; barging order's promise (at least min(value, waiters)
 * woken); and the waiters of all semaphores add up to the core's total.
 *
 * Built with -Dfuzz=true (clang, -fsanitize=fuzzer,address,undefined) it is
 * a libFuzzer program; without, replay.c drives it over the checked-in
 * corpus (tests/fuzz/corpus/core) and a fixed set of generated inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esem_core.h"
#include "fuzz_input.h"
#include "proto.h"


#define NS 4 /* sessions */
#define NH 8 /* handles */
#define NX 4 /* System V ids */

struct st {
    struct core *c;
    core_id_t sess[NS], h[NH];
    uint32_t semid[NX];
    uint64_t seq;
};

static void check(int ok)
{
    if (!ok)
        abort();
}

static void status_ok(int32_t r)
{
    check(r >= CORE_E_MIN && r <= CORE_RETRY);
}

static core_id_t pick_s(struct st *s, struct in *in) { return s->sess[u8(in) % NS]; }
static core_id_t pick_h(struct st *s, struct in *in)
{
    uint8_t b = u8(in);
    return b == 0xff ? (core_id_t)u32(in) << 32 | u32(in) : s->h[b % NH]; /* now and then a forged one */
}

static int32_t ecall(struct st *s, uint32_t call, void *a, uint64_t n)
{
    int32_t r = core_ecall(s->c, call, a, n);
    status_ok(r);
    return r;
}

/* a request, as the daemon builds it from a channel slot */
static int32_t request(struct st *s, core_id_t session, uint32_t op, uint32_t oflag, uint32_t value,
                       uint32_t mode, const char *name, uint32_t name_len, int32_t prio,
                       uint64_t handle, uint32_t slot, struct core_request_args *a)
{
    memset(a, 0, sizeof *a);
    if (esem_req_canon(op, oflag, value, mode, name_len, prio, handle, name, slot, ++s->seq,
                       &a->req) < 0)
        return CORE_E_BADCALL;
    a->session = session;
    a->umask = 022;
    a->now = 1700000000u;
    a->now_ns = s->seq * 7919; /* ~8 us a request: spells begin and end */
    int32_t r = ecall(s, CORE_ECALL_REQUEST, a, sizeof *a);
    check(a->out_len <= CORE_SYSV_DATA);
    return r;
}

static void invariants(struct st *s, int full)
{
    struct core_stats_args st;
    check(core_ecall(s->c, CORE_ECALL_STATS, &st, sizeof st) == CORE_OK);
    const struct core_stats *t = &st.stats;
    check(t->sems_in_use <= t->max_sems && t->sessions_in_use <= t->max_sessions &&
          t->opens_in_use <= t->max_opens && t->waiters_in_use <= t->max_waiters &&
          t->acls_in_use <= t->max_acls && t->sets_in_use <= t->max_sets &&
          t->set_sems_in_use <= t->max_set_sems && t->undos_in_use <= t->max_undos);
    if (!full)
        return;
    uint32_t waiters = 0, sems = 0;
    for (uint32_t cur = 0;;) {
        struct core_sem_info_args a = {.cursor = cur};
        check(core_ecall(s->c, CORE_ECALL_SEM_INFO, &a, sizeof a) == CORE_OK);
        if (!a.found)
            break;
        cur = a.next;
        sems++;
        const struct core_sem_info *i = &a.info;
        check(i->value <= CORE_SEM_VALUE_MAX && i->nwoken <= i->nwaiters);
        if (!(i->flags & (CORE_SEMF_FIFO | CORE_SEMF_SYSV)))
            check(i->nwoken >= (i->value < i->nwaiters ? i->value : i->nwaiters));
        uint32_t n = 0;
        struct core_sem_member_args m = {.handle = i->handle, .cursor = 0};
        while (core_ecall(s->c, CORE_ECALL_SEM_WAITERS, &m, sizeof m) == CORE_OK && m.found &&
               n <= t->max_waiters) {
            n++;
            if (m.next == 0xffffffffu)
                break;
            m.cursor = m.next;
        }
        check(n == i->nwaiters);
        waiters += n;
    }
    check(sems == t->sems_in_use && waiters == t->waiters_in_use);
}

static const char *const names[] = {"a", "b", "long-name-long-name-long-name-long-name-long-name-long-name-xx", "c/d", ".."};

static void step(struct st *s, struct in *in)
{
    uint8_t op = u8(in) % 18;
    struct core_request_args q;
    switch (op) {
    case 0: { /* a session */
        struct core_session_open_args a;
        memset(&a, 0, sizeof a);
        static const uint32_t uids[] = {0, 1000, 1001};
        a.uid = a.gid = uids[u8(in) % 3];
        a.pid = 100 + u8(in);
        a.start_time = u8(in);
        if (ecall(s, CORE_ECALL_SESSION_OPEN, &a, sizeof a) == CORE_OK)
            s->sess[u8(in) % NS] = a.session;
        break;
    }
    case 1: {
        struct core_session_close_args a = {.session = pick_s(s, in)};
        ecall(s, CORE_ECALL_SESSION_CLOSE, &a, sizeof a);
        break;
    }
    case 2: { /* open/create a named semaphore (a request: the channel's path) */
        const char *n = names[u8(in) % 5];
        if (request(s, pick_s(s, in), ESEM_OP_OPEN, u8(in) & 0xf, u8(in), 0600 | (u8(in) & 0177),
                    n, (uint32_t)strlen(n), 0, 0, 0, &q) == CORE_OK)
            s->h[u8(in) % NH] = q.handle;
        break;
    }
    case 3:
        if (request(s, pick_s(s, in), ESEM_OP_CREATE, u8(in) & CORE_O_FIFO, u8(in), 0, NULL, 0, 0,
                    0, 0, &q) == CORE_OK)
            s->h[u8(in) % NH] = q.handle;
        break;
    case 4: { /* post, then take whatever it owes */
        core_id_t ss = pick_s(s, in);
        request(s, ss, ESEM_OP_POST, 0, 0, 0, NULL, 0, 0, pick_h(s, in), 0, &q);
        break;
    }
    case 5: { /* a wait, a try, or a woken waiter's retry */
        static const uint32_t ops[] = {ESEM_OP_WAIT, ESEM_OP_TRYWAIT, ESEM_OP_GETVALUE,
                                       ESEM_OP_CLOSE, ESEM_OP_DESTROY};
        uint32_t o = ops[u8(in) % 5];
        request(s, pick_s(s, in), o, 0, 0, 0, NULL, 0, (int8_t)u8(in), pick_h(s, in), u8(in) % 4,
                &q);
        break;
    }
    case 6: {
        struct core_sem_cancel_args a = {.session = pick_s(s, in), .slot = u8(in) % 4};
        ecall(s, CORE_ECALL_SEM_CANCEL, &a, sizeof a);
        break;
    }
    case 7: {
        const char *n = names[u8(in) % 5];
        request(s, pick_s(s, in), ESEM_OP_UNLINK, 0, 0, 0, n, (uint32_t)strlen(n), 0, 0, 0, &q);
        break;
    }
    case 8: { /* grant / revoke */
        struct esem_grant_req g = {.who = {.kind = u8(in) % 6, .id = u8(in) % 3 ? 1000 : u32(in),
                                           .ext = u8(in) % 4 ? 0 : u32(in)},
                                   .rights = u8(in) & 0x1f};
        request(s, pick_s(s, in), u8(in) & 1 ? ESEM_OP_GRANT : ESEM_OP_REVOKE, 0, 0, 0,
                (const char *)&g, sizeof g, 0, pick_h(s, in), 0, &q);
        break;
    }
    case 9: { /* semget */
        static const int32_t keys[] = {0, 42, 43};
        if (request(s, pick_s(s, in), ESEM_OP_SEMGET, (u8(in) & 3) << 9 | 0600 | (u8(in) & 066),
                    (uint32_t)keys[u8(in) % 3], u8(in) % 6, NULL, 0, (u8(in) & 1) * CORE_O_STRICT,
                    0, 0, &q) == CORE_OK)
            s->semid[u8(in) % NX] = q.value;
        break;
    }
    case 10: { /* semop: up to 5 operations */
        struct core_sembuf ops[5];
        uint32_t n = u8(in) % 6;
        for (uint32_t i = 0; i < n; i++) {
            ops[i].num = u8(in) % 6;
            ops[i].op = (int16_t)((int8_t)u8(in) % 4);
            ops[i].flg = (int16_t)((u8(in) & 3) << 11); /* IPC_NOWAIT, SEM_UNDO */
        }
        uint32_t id = u8(in) == 0xff ? u32(in) : s->semid[u8(in) % NX];
        request(s, pick_s(s, in), ESEM_OP_SEMOP, u8(in) & CORE_WAIT_TRY, n, 0, (const char *)ops,
                n * (uint32_t)sizeof ops[0], 0, id, u8(in) % 4, &q);
        break;
    }
    case 11: { /* semctl */
        static const uint32_t cmds[] = {CORE_IPC_RMID, CORE_IPC_SET, CORE_IPC_STAT, CORE_IPC_INFO,
                                        CORE_GETPID, CORE_GETVAL, CORE_GETALL, CORE_GETNCNT,
                                        CORE_GETZCNT, CORE_SETVAL, CORE_SETALL, CORE_SEM_STAT,
                                        CORE_SEM_INFO, CORE_SEM_STAT_ANY, 77};
        uint8_t data[16];
        uint32_t dl = u8(in) % 17;
        bytes(in, data, dl);
        uint32_t id = u8(in) == 0xff ? u32(in) : s->semid[u8(in) % NX];
        request(s, pick_s(s, in), ESEM_OP_SEMCTL, cmds[u8(in) % 15], u8(in) % 8,
                (uint32_t)(int8_t)u8(in), (const char *)data, dl, 0, id, 0, &q);
        break;
    }
    case 12: { /* take the replies owed */
        struct core_notes_args a;
        ecall(s, CORE_ECALL_NOTES, &a, sizeof a);
        check(a.n <= 8);
        break;
    }
    case 13: {
        struct core_session_inherit_args a = {.child = pick_s(s, in), .parent = pick_s(s, in)};
        ecall(s, CORE_ECALL_SESSION_INHERIT, &a, sizeof a);
        break;
    }
    case 14: { /* a raw ecall: any call, argument bytes from the input, any size */
        static unsigned char buf[1024] __attribute__((aligned(16)));
        uint32_t call = u8(in) % (CORE_ECALL_MAX_ + 2);
        uint32_t size = u8(in) ? sizeof(struct core_request_args) : u32(in) % 1024;
        if (call == CORE_ECALL_KEY_ADD || call == CORE_ECALL_SESSION_OPEN)
            call = CORE_ECALL_STATS; /* keep the tables for the rest */
        bytes(in, buf, size < sizeof buf ? size : sizeof buf);
        ecall(s, call, buf, size);
        break;
    }
    case 15: { /* a request with every field from the input (a scribbled slot) */
        memset(&q, 0, sizeof q);
        bytes(in, &q.req, CORE_REQ_HDR);
        q.req.name_len %= CORE_NAME_MAX + 8;
        bytes(in, q.req.name, q.req.name_len < sizeof q.req.name ? q.req.name_len : 0);
        q.session = pick_s(s, in);
        q.now = 1;
        ecall(s, CORE_ECALL_REQUEST, &q, sizeof q);
        break;
    }
    case 16: { /* the admin views */
        struct core_sem_member_args m = {.handle = pick_h(s, in), .cursor = u32(in) % 40};
        ecall(s, u8(in) & 1 ? CORE_ECALL_SEM_HOLDERS : CORE_ECALL_SEM_WAITERS, &m, sizeof m);
        struct core_sem_acl_args a = {.handle = pick_h(s, in), .cursor = u8(in)};
        ecall(s, CORE_ECALL_SEM_ACL, &a, sizeof a);
        break;
    }
    default: { /* setcred: the process changed its uid */
        struct core_session_setcred_args a = {.session = pick_s(s, in), .uid = u8(in) % 2 ? 1000 : 0,
                                              .ngroups = u8(in) % 3};
        ecall(s, CORE_ECALL_SESSION_SETCRED, &a, sizeof a);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *arena;
    static uint64_t asz;
    struct in in = {data, size};
    struct core_config cfg = {.max_sems = 8, .max_sessions = NS + 2, .max_opens = 16,
                              .max_waiters = 8, .max_long_names = 2, .max_acls = 6,
                              .max_keys = 2, .max_keyed = 2, .max_sets = 4, .max_set_sems = 16,
                              .max_undos = 8, .max_sysv_ops = 4};
    uint8_t mode = u8(&in);
    if (mode & 1)
        cfg.flags |= CORE_CFG_FIFO;
    if (mode & 2)
        cfg.flags |= CORE_CFG_STRICT;
    if (mode & 4) {
        cfg.uid_objects = 3;
        cfg.uid_waiters = 2;
        cfg.exempt_uid = 1001;
    }
    if (mode & 8) /* adaptive order (esemd's default) */
        cfg.flags |= CORE_CFG_ADAPTIVE;
    if (mode & 16) /* barging's starvation bound */
        cfg.handoff_ns = 1000;
    uint64_t need = core_arena_size(&cfg);
    if (need > asz) {
        free(arena);
        arena = aligned_alloc(64, (size_t)((need + 63) & ~63ull));
        asz = need;
    }
    struct st s;
    memset(&s, 0, sizeof s);
    s.c = core_init(arena, asz, &cfg);
    check(s.c != NULL);
    for (int i = 0; i < 2; i++) { /* two sessions to start with */
        struct core_session_open_args a;
        memset(&a, 0, sizeof a);
        a.pid = 10 + (uint32_t)i;
        a.uid = a.gid = 1000;
        check(core_ecall(s.c, CORE_ECALL_SESSION_OPEN, &a, sizeof a) == CORE_OK);
        s.sess[i] = a.session;
    }
    /* the table sizes after every step; the full walk of every semaphore
     * and its waiters every 4th step and at the end */
    int n = 0;
    for (; in.n && n < 256; n++) {
        step(&s, &in);
        invariants(&s, (n & 3) == 3);
    }
    invariants(&s, 1);
    return 0;
}
