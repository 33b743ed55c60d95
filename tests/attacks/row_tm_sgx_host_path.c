/*
 * Row tm-sgx, part (b): the host's message path, SIMULATED (no SGX here).
 * A process that links the trusted core itself plays a compromised host
 * between a simulated client (MACs computed with enclave/core_auth.h
 * exactly like libesem) and the core: forged posts, replay, reorder,
 * duplicate, drop, grants the core never made, lies about identity,
 * forged inheritance.  Part (a), the orchestration and the glibc side are
 * row_tm_sgx.c, whose header says what the row shows.
 */
#include "lab.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <dirent.h>

#include <sodium.h>

#include "core_auth.h"
#include "esem.h"
#include "esem_core.h"
#include "proto.h"

/* ------------------------------------------------------------------ */
/* part (b): the host's message path, simulated around a linked core    */

struct simc {
    core_id_t sess;
    int keyed;
    uint8_t ks[CORE_KEY_BYTES];
    uint64_t seq[8];
};

static struct core *simcore;

static void sim_req(struct simc *c, uint32_t op, uint32_t slot, core_id_t handle,
                    const char *name, uint32_t oflag, uint32_t value,
                    struct core_request_args *a)
{
    memset(a, 0, sizeof *a);
    uint64_t seq = ++c->seq[slot];
    uint32_t nl = name ? (uint32_t)strlen(name) : 0;
    esem_req_canon(op, oflag, value, 0600, nl, 0, handle, name, slot, seq, &a->req);
    a->session = c->sess;
    if (c->keyed)
        core_auth_req_mac(c->ks, &a->req, a->mac);
}

/* The client's check of a reply to its request q (what libesem's
 * reply_authentic does). */
static int sim_accept(const struct simc *c, const struct core_req *q, int32_t status,
                      uint32_t value, core_id_t handle, const uint8_t mac[CORE_MAC_BYTES])
{
    if (!c->keyed)
        return 1;
    struct core_reply r;
    memset(&r, 0, sizeof r);
    r.session = c->sess;
    r.slot = q->slot;
    r.seq = q->seq;
    r.call = q->call;
    r.req_handle = q->handle;
    r.status = status;
    r.value = value;
    r.handle = handle;
    uint8_t want[CORE_MAC_BYTES];
    core_auth_rep_mac(c->ks, &r, want);
    return core_auth_equal(want, mac);
}

static int32_t deliver(struct core_request_args *a)
{
    return core_ecall(simcore, CORE_ECALL_REQUEST, a, sizeof *a);
}

static int sim_info(core_id_t h, struct core_sem_info *out)
{
    struct core_sem_info_args a;
    memset(&a, 0, sizeof a);
    for (;;) {
        if (core_ecall(simcore, CORE_ECALL_SEM_INFO, &a, sizeof a) < 0 || !a.found)
            return -1;
        if (a.info.handle == h) {
            *out = a.info;
            return 0;
        }
        a.cursor = a.next;
    }
}

/* The model: what the genuine client did. */
static struct {
    long posts;     /* posts the client made whose OK reply it accepted */
    long waits;     /* waits it completed (trywait OK or grant accepted) */
    long held;      /* grants the core made that the host holds, undelivered */
    long fake_ok;   /* replies the client accepted that the core did not make */
} M;

static int invariant(core_id_t h, const char *after, int keyed)
{
    struct core_sem_info i;
    if (sim_info(h, &i) < 0) {
        say("ERR sim: no semaphore info after %s", after);
        return 0;
    }
    int ok = (long)i.value + M.held == M.posts - M.waits && (long)i.posts == M.posts &&
             M.fake_ok == 0;
    if (keyed)
        say("%s sim key session, after %s: value %u + %ld grant(s) held == %ld genuine posts - "
            "%ld completed waits; core posts %llu; %ld reply accepted without the core's MAC",
            ok ? "OK" : "FAIL", after, i.value, M.held, M.posts, M.waits,
            (unsigned long long)i.posts, M.fake_ok);
    return ok;
}

/* sgx-sim MODE(key|pid) */
int role_sgx_sim(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0)
        return 2;
    int keyed = strcmp(argv[1], "key") == 0;
    struct core_config cfg = {.max_sems = 16, .max_sessions = 8, .max_opens = 32,
                              .max_waiters = 16, .max_long_names = 4, .max_acls = 16,
                              .max_keys = 4, .max_keyed = 4};
    uint64_t sz = core_arena_size(&cfg);
    sz = (sz + 63) & ~(uint64_t)63;
    void *arena = sz ? aligned_alloc(64, sz) : NULL;
    simcore = arena ? core_init(arena, sz, &cfg) : NULL;
    if (!simcore) {
        say("ERR sim: core_init failed (arena %llu bytes)", (unsigned long long)sz);
        say("DONE");
        return 0;
    }
    memset(&M, 0, sizeof M);
    uint8_t key[CORE_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    struct core_key_add_args ka;
    memcpy(ka.key, key, sizeof key);
    int32_t r = core_ecall(simcore, CORE_ECALL_KEY_ADD, &ka, sizeof ka);
    /* the client's session, set up as esemd would (host-supplied identity) */
    struct simc c = {.keyed = keyed};
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 4242;
    so.uid = 64000;
    so.gid = 64000;
    so.start_time = 777;
    if (keyed) {
        so.key_id = core_auth_key_id(key);
        randombytes_buf(so.nonce, sizeof so.nonce);
    }
    uint8_t nonce[CORE_NONCE_BYTES];
    memcpy(nonce, so.nonce, sizeof nonce);
    r = r == CORE_OK ? core_ecall(simcore, CORE_ECALL_SESSION_OPEN, &so, sizeof so) : r;
    if (r != CORE_OK) {
        say("ERR sim: key add / session open: %s", core_strerror(r));
        say("DONE");
        free(arena);
        return 0;
    }
    c.sess = so.session;
    if (keyed) {
        core_auth_session_key(key, c.sess, nonce, so.core_nonce, c.ks);
        uint8_t proof[CORE_MAC_BYTES];
        core_auth_proof(c.ks, c.sess, nonce, so.core_nonce, proof);
        say("%s sim: the client checked the core's proof of its key",
            core_auth_equal(proof, so.proof) ? "OK" : "FAIL");
    }
    const char *tag = keyed ? "key session" : "PID session";
    struct core_request_args a, saved, b1, b2;
    /* open (slot 0): a strict semaphore for the key session */
    sim_req(&c, ESEM_OP_OPEN, 0, 0, "simsem", CORE_O_CREAT | (keyed ? CORE_O_STRICT : 0), 0,
            &a);
    r = deliver(&a);
    core_id_t h = a.handle;
    if (r != CORE_OK || !sim_accept(&c, &a.req, r, a.value, a.handle, a.rmac)) {
        say("ERR sim: open: %s", core_strerror(r));
        say("DONE");
        free(arena);
        return 0;
    }
    int allok = 1;
    /* a genuine post, saved by the host for later */
    sim_req(&c, ESEM_OP_POST, 0, h, NULL, 0, 0, &a);
    saved = a;
    r = deliver(&a);
    if (r == CORE_OK && sim_accept(&c, &a.req, r, 0, 0, a.rmac))
        M.posts++;
    allok &= invariant(h, "a genuine post", keyed);

    long created = 0;
    /* 1. forged posts */
    struct core_request_args f = saved;
    f.req.seq = c.seq[0] + 1;
    memset(f.mac, 0, sizeof f.mac);
    int32_t r1 = deliver(&f);
    f = saved;
    f.req.seq = c.seq[0] + 1;
    randombytes_buf(f.mac, sizeof f.mac);
    int32_t r2 = deliver(&f);
    struct core_sem_post_args dp = {.session = c.sess, .handle = h};
    int32_t r3 = core_ecall(simcore, CORE_ECALL_SEM_POST, &dp, sizeof dp);
    if (keyed) {
        say("%s sim %s: forged post with no MAC: %s; with a random MAC: %s; direct "
            "CORE_ECALL_SEM_POST in the client's name: %s",
            r1 == CORE_E_AUTH && r2 == CORE_E_AUTH && r3 == CORE_E_AUTH ? "OK" : "FAIL", tag,
            core_strerror(r1), core_strerror(r2), core_strerror(r3));
        allok &= invariant(h, "forged posts", keyed);
    } else {
        created += (r1 == CORE_OK) + (r2 == CORE_OK) + (r3 == CORE_OK);
    }
    /* 2. replay the saved post; 3. duplicate a fresh one */
    int32_t r4 = deliver(&saved);
    sim_req(&c, ESEM_OP_POST, 0, h, NULL, 0, 0, &a);
    b1 = a;
    r = deliver(&a);
    if (r == CORE_OK && sim_accept(&c, &a.req, r, 0, 0, a.rmac))
        M.posts++;
    int32_t r5 = deliver(&b1);
    if (keyed) {
        say("%s sim %s: the saved post replayed: %s; a fresh post delivered twice: first %s, "
            "second %s",
            r4 == CORE_E_AUTH && r == CORE_OK && r5 == CORE_E_AUTH ? "OK" : "FAIL", tag,
            core_strerror(r4), core_strerror(r), core_strerror(r5));
        allok &= invariant(h, "replay and duplicate", keyed);
    } else {
        created += (r4 == CORE_OK) + (r5 == CORE_OK);
    }
    /* 4. reorder two posts of slot 1: the later one goes first */
    sim_req(&c, ESEM_OP_POST, 1, h, NULL, 0, 0, &b1);
    sim_req(&c, ESEM_OP_POST, 1, h, NULL, 0, 0, &b2);
    int32_t q2 = deliver(&b2);
    if (q2 == CORE_OK && sim_accept(&c, &b2.req, q2, 0, 0, b2.rmac))
        M.posts++;
    int32_t q1 = deliver(&b1);
    if (q1 == CORE_OK && sim_accept(&c, &b1.req, q1, 0, 0, b1.rmac))
        M.posts++;
    if (keyed) {
        say("%s sim %s: two posts on slot 1 delivered in reverse order: the newer %s, the older "
            "%s (the client never gets an OK for it: no permit it believes in is lost)",
            q2 == CORE_OK && q1 == CORE_E_AUTH ? "OK" : "FAIL", tag, core_strerror(q2),
            core_strerror(q1));
        allok &= invariant(h, "reorder", keyed);
    }
    /* 5. drop: a post on slot 2 never reaches the core; the next one works */
    sim_req(&c, ESEM_OP_POST, 2, h, NULL, 0, 0, &a); /* dropped */
    sim_req(&c, ESEM_OP_POST, 2, h, NULL, 0, 0, &a);
    r = deliver(&a);
    if (r == CORE_OK && sim_accept(&c, &a.req, r, 0, 0, a.rmac))
        M.posts++;
    if (keyed) {
        say("%s sim %s: a dropped post, then the client's next request on the slot (seq %u): "
            "%s (a sequence only has to be newer)",
            r == CORE_OK ? "OK" : "FAIL", tag, (unsigned)a.req.seq, core_strerror(r));
        allok &= invariant(h, "a dropped request", keyed);
    }
    /* drain the value with genuine trywaits (slot 0) so that a wait queues */
    for (int i = 0; i < 64; i++) {
        sim_req(&c, ESEM_OP_TRYWAIT, 0, h, NULL, 0, 0, &a);
        r = deliver(&a);
        if (r == CORE_OK && sim_accept(&c, &a.req, r, 0, 0, a.rmac))
            M.waits++;
        if (r != CORE_OK)
            break;
    }
    if (keyed)
        allok &= invariant(h, "draining trywaits", keyed);
    /* 6. a wait on slot 3 queues; the host fabricates its grant */
    sim_req(&c, ESEM_OP_WAIT, 3, h, NULL, 0, 0, &a);
    struct core_request_args wreq = a;
    r = deliver(&a);
    uint64_t wseq = wreq.req.seq;
    int waiting = r == CORE_QUEUED;
    uint8_t junk[CORE_MAC_BYTES], zero[CORE_MAC_BYTES] = {0};
    randombytes_buf(junk, sizeof junk);
    /* a fake core_wake: garbage MAC, no MAC, the MAC of another reply */
    int acc_junk = sim_accept(&c, &wreq.req, CORE_OK, 0, 0, junk);
    int acc_zero = sim_accept(&c, &wreq.req, CORE_OK, 0, 0, zero);
    int acc_other = sim_accept(&c, &wreq.req, CORE_OK, 0, 0, saved.rmac);
    /* direct ecalls in its name: a wait the host queues, a grant to itself */
    struct core_sem_wait_args dw = {.session = c.sess, .handle = h, .slot = 5, .seq = 1};
    int32_t r6 = core_ecall(simcore, CORE_ECALL_SEM_WAIT, &dw, sizeof dw);
    if (keyed) {
        say("%s sim %s: a wait queued (%s); grants the host made up for it — garbage MAC, no "
            "MAC, the MAC of an earlier reply — accepted by the client: %d, %d, %d; a direct "
            "CORE_ECALL_SEM_WAIT in its name: %s",
            waiting && !acc_junk && !acc_zero && !acc_other && r6 == CORE_E_AUTH ? "OK" : "FAIL",
            tag, core_strerror(r), acc_junk, acc_zero, acc_other, core_strerror(r6));
        M.fake_ok += acc_junk + acc_zero + acc_other;
        allok &= invariant(h, "fake grants", keyed);
    } else {
        created += acc_junk + acc_zero + acc_other > 0;
        say("OK sim %s (expected weakness): a grant the host made up for a queued wait (%s) is "
            "accepted by the client: nothing to check it against (no MAC)",
            tag, core_strerror(r));
    }
    /* 7. lies about identity: a host-made PID session claiming uid 0, then the
     * victim's own pid and start time, and forged inheritance */
    struct core_session_open_args ho;
    memset(&ho, 0, sizeof ho);
    ho.pid = 4242;
    ho.uid = 0;
    ho.start_time = 777;
    int32_t r7 = core_ecall(simcore, CORE_ECALL_SESSION_OPEN, &ho, sizeof ho);
    struct core_sem_open_args oo;
    memset(&oo, 0, sizeof oo);
    oo.session = ho.session;
    memcpy(oo.name, "simsem", 6);
    oo.name_len = 6;
    int32_t r8 = r7 == CORE_OK ? core_ecall(simcore, CORE_ECALL_SEM_OPEN, &oo, sizeof oo) : r7;
    struct core_session_inherit_args ih = {.child = ho.session, .parent = c.sess};
    int32_t r9 = r7 == CORE_OK ? core_ecall(simcore, CORE_ECALL_SESSION_INHERIT, &ih, sizeof ih) : r7;
    int32_t r10 = CORE_E_INVAL;
    if (r8 == CORE_OK || r9 == CORE_OK) {
        struct core_sem_post_args hp = {.session = ho.session, .handle = r8 == CORE_OK ? oo.handle : h};
        r10 = core_ecall(simcore, CORE_ECALL_SEM_POST, &hp, sizeof hp);
        created += r10 == CORE_OK;
        if (r10 == CORE_OK && hp.wake.valid && hp.wake.status == CORE_OK)
            M.held++; /* FIFO order: the host holds that grant */
    }
    if (keyed) {
        say("%s sim %s: a host-made PID session with uid 0 and the client's pid and start time "
            "(%s): opening the key-owned strict semaphore %s, inheriting the key session's opens "
            "%s",
            r8 == CORE_E_ACCES && r9 == CORE_E_PERM && r10 != CORE_OK ? "OK" : "FAIL", tag,
            core_strerror(r7), core_strerror(r8), core_strerror(r9));
        /* 8. the client's hello replayed: a new session with the same key
         * and nonce gets another id, so another session key */
        struct core_session_open_args ro = so;
        ro.session = 0;
        int32_t r11 = core_ecall(simcore, CORE_ECALL_SESSION_OPEN, &ro, sizeof ro);
        struct core_request_args x = saved;
        x.session = ro.session;
        int32_t r12 = r11 == CORE_OK ? deliver(&x) : r11;
        say("%s sim %s: the client's hello replayed (same key id and nonce): new session %#llx "
            "(%s); the client's saved post delivered in it: %s",
            r11 == CORE_OK && ro.session != c.sess && r12 == CORE_E_AUTH ? "OK" : "FAIL", tag,
            (unsigned long long)ro.session, core_strerror(r11), core_strerror(r12));
        allok &= invariant(h, "identity lies and a replayed hello", keyed);
    } else {
        say("OK sim %s (expected weakness): the host opened a session claiming the client's pid "
            "and start time (%s): open %s, post %s",
            tag, core_strerror(r7), core_strerror(r8), core_strerror(r10));
    }
    /* 9. a genuine post grants the queued waiter; the host delivers it */
    sim_req(&c, ESEM_OP_POST, 0, h, NULL, 0, 0, &a);
    r = deliver(&a);
    if (r == CORE_OK && sim_accept(&c, &a.req, r, 0, 0, a.rmac))
        M.posts++;
    int granted = 0;
    if (a.wake.valid && a.wake.session == c.sess && a.wake.slot == 3) {
        /* barging order: the wake is a MACed hint (CORE_RETRY); the
         * client checks it, asks again on the slot and takes the permit */
        int hint = sim_accept(&c, &wreq.req, CORE_RETRY, 0, 0, a.wake.mac) &&
                   a.wake.seq == wseq && a.wake.status == CORE_RETRY;
        struct core_request_args again;
        sim_req(&c, ESEM_OP_WAIT, 3, h, NULL, 0, 0, &again);
        int32_t ra = deliver(&again);
        granted = hint && ra == CORE_OK && sim_accept(&c, &again.req, ra, 0, 0, again.rmac);
        if (granted)
            M.waits++;
    } else if (a.wake.valid) {
        M.held++;
    }
    if (keyed) {
        say("%s sim %s: the client's genuine post: %s; the core's wake for the waiter (slot 3, "
            "request %llu) carries its MAC, the client accepts it and its wait then takes the "
            "permit: %s",
            r == CORE_OK && granted ? "OK" : "FAIL", tag, core_strerror(r),
            (unsigned long long)wseq, granted ? "yes" : "NO");
        allok &= invariant(h, "the genuine grant", keyed);
        say("%s sim %s: every safety property held (no permit created or lost, no grant "
            "accepted without the core's MAC)",
            allok ? "OK" : "FAIL", tag);
    } else {
        /* more for the PID session: the host posts and replays at will */
        for (int i = 0; i < 5; i++) {
            struct core_sem_post_args p = {.session = c.sess, .handle = h};
            created += core_ecall(simcore, CORE_ECALL_SEM_POST, &p, sizeof p) == CORE_OK;
        }
        struct core_sem_info i;
        int have = sim_info(h, &i) == 0;
        if (!have)
            memset(&i, 0, sizeof i);
        say("%s sim %s (expected weakness): the compromised host created %ld permits the client "
            "never posted (forged, replayed, duplicated, direct ecalls) and released a waiter "
            "with a made-up grant: core posts %llu for %ld genuine posts",
            have && created > 0 && (long)i.posts > M.posts ? "OK" : "FAIL", tag, created,
            (unsigned long long)i.posts, M.posts);
    }
    sodium_memzero(key, sizeof key);
    free(arena);
    say("DONE");
    return 0;
}
