/*
 * Row sequence-wrap (security review finding 4, TM-SGX simulated): a
 * recorded request replayed once its slot's numbers moved 2^31 on; an old
 * reply's MAC offered as the answer to another request of the same number.
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

/* seqwrap: 64-bit request numbers; replies bound to their request. */
int role_seqwrap(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    void *arena;
    struct core *c = sim_core(&arena);
    struct keysess k;
    if (!c || sim_key_session(c, 0x52, &k) < 0) {
        say("ERR sim core");
        say("DONE");
        return 1;
    }
    core_id_t h = sim_open(c, &k, "sw", 0, 1);
    if (!h) {
        say("ERR open");
        say("DONE");
        return 1;
    }
    /* a genuine post, recorded by the host */
    struct core_request_args post;
    memset(&post, 0, sizeof post);
    post.req.call = CORE_ECALL_SEM_POST;
    post.req.handle = h;
    post.req.slot = 0;
    post.req.seq = 7;
    int32_t r0 = sim_req(c, &k, &post);
    struct core_request_args saved = post;
    /* 2^31 + 1 requests later on that slot (one genuine request stands for
     * them: only "newer" counts) */
    struct core_request_args later = post;
    later.req.seq = 7 + (1ull << 31) + 1;
    int32_t r1 = sim_req(c, &k, &later);
    int32_t r2 = core_ecall(c, CORE_ECALL_REQUEST, &saved, sizeof saved);
    /* what a 32-bit modular comparison (the old core) would have said */
    int old_accepts = (int32_t)((uint32_t)saved.req.seq - (uint32_t)later.req.seq) > 0;
    /* an old OK reply (a GETVALUE) offered as the grant of a WAIT with the
     * same slot and number */
    struct core_request_args gv;
    memset(&gv, 0, sizeof gv);
    gv.req.call = CORE_ECALL_SEM_GETVALUE;
    gv.req.handle = h;
    gv.req.slot = 2;
    gv.req.seq = 5;
    int32_t r3 = sim_req(c, &k, &gv);
    struct core_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.session = k.id;
    rep.slot = 2;
    rep.seq = 5;
    rep.call = CORE_ECALL_SEM_WAIT;
    rep.req_handle = h;
    rep.status = CORE_OK;
    uint8_t want[CORE_MAC_BYTES];
    core_auth_rep_mac(k.ks, &rep, want);
    int passes = core_auth_equal(want, gv.rmac);
    say("%s SIMULATED host: a recorded post (number 7) replayed after its slot reached 7 + "
        "2^31 + 1: %s (a 32-bit comparison would have %s it); the posts before: %s, %s",
        r2 == CORE_E_AUTH && r0 == CORE_OK && r1 == CORE_OK ? "OK" : "FAIL", core_strerror(r2),
        old_accepts ? "ACCEPTED" : "refused", core_strerror(r0), core_strerror(r1));
    say("%s SIMULATED host: the MAC of an OK reply to a GETVALUE (slot 2, number 5, %s) "
        "offered as the grant of a WAIT with the same slot and number: %s",
        r3 == CORE_OK && !passes ? "OK" : "FAIL", core_strerror(r3),
        passes ? "ACCEPTED" : "rejected by the client's check (the MAC binds call and handle)");
    free(arena);
    say("DONE");
    return 0;
}

void seqwrap_glibc(struct side *s)
{
    sgx_glibc(s);
}

void seqwrap_esem(struct side *s)
{
    char *const args[] = {NULL};
    s_summary(s, "SIMULATED hostile host (core linked, no SGX): a recorded request replayed "
                 "after 2^31 more on its slot refused (64-bit numbers; a 32-bit comparison "
                 "accepts it); an old reply's MAC does not pass for another request (it binds "
                 "call and handle)");
    lab_relay_role(s, WHO_LAB, 0, "seqwrap", args, 20000);
}
