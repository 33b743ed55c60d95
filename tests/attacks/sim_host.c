/*
 * A simulated host for the TM-SGX rows of the security review
 * (boundary-double-fetch, sequence-wrap): the core linked into the lab's
 * process, a key session opened by hand, MACed requests built as a
 * client would.  No SGX: the host here is the attacker, simulated.
 */
#include "lab.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "core_auth.h"
#include "esem.h"
#include "esem_core.h"
#include "proto.h"
#include "sim_host.h"

struct core *sim_core(void **arena)
{
    struct core_config cfg = {.max_sems = 16, .max_sessions = 8, .max_opens = 32,
                              .max_waiters = 16, .max_long_names = 2, .max_acls = 16,
                              .max_keys = 4, .max_keyed = 4};
    uint64_t sz = core_arena_size(&cfg);
    *arena = aligned_alloc(64, (sz + 63) & ~(uint64_t)63);
    return *arena ? core_init(*arena, sz, &cfg) : NULL;
}

int sim_key_session(struct core *c, uint8_t fill, struct keysess *k)
{
    struct core_key_add_args ka;
    memset(ka.key, fill, sizeof ka.key);
    uint8_t key[CORE_KEY_BYTES];
    memcpy(key, ka.key, sizeof key);
    if (core_ecall(c, CORE_ECALL_KEY_ADD, &ka, sizeof ka) != CORE_OK)
        return -1;
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 100 + fill;
    so.uid = 1000;
    so.start_time = 7;
    so.key_id = ka.key_id;
    if (core_ecall(c, CORE_ECALL_SESSION_OPEN, &so, sizeof so) != CORE_OK)
        return -1;
    k->id = so.session;
    core_auth_session_key(key, so.session, so.nonce, so.core_nonce, k->ks);
    return 0;
}

int32_t sim_req(struct core *c, const struct keysess *k, struct core_request_args *a)
{
    a->session = k->id;
    core_auth_req_mac(k->ks, &a->req, a->mac);
    return core_ecall(c, CORE_ECALL_REQUEST, a, sizeof *a);
}

/* The key session opens (creates) a 2-letter name through a MACed request
 * on `slot`; the handle, or 0 if the core refused. */
core_id_t sim_open(struct core *c, const struct keysess *k, const char *name,
                          uint32_t flags, uint32_t slot)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.req.call = CORE_ECALL_SEM_OPEN;
    a.req.flags = CORE_O_CREAT | flags;
    a.req.mode = 0600;
    a.req.slot = slot;
    a.req.seq = 1;
    a.req.name_len = 2;
    memcpy(a.req.name, name, 2);
    return sim_req(c, k, &a) == CORE_OK ? a.handle : 0;
}
