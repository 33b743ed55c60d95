/*
 * Row boundary-double-fetch (security review finding 3, TM-SGX
 * simulated): a host thread flips the session field of a direct post
 * between a PID session and a key session while the core runs.  The core
 * copies its arguments once, at the boundary.
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

struct flip {
    volatile core_id_t *field;
    core_id_t a, b;
    atomic_int stop;
};

static void *flipper(void *p)
{
    struct flip *f = p;
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        *f->field = f->a;
        *f->field = f->b;
    }
    return NULL;
}

/* race: the host flips the session of a direct post under the core. */
int role_race(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    void *arena;
    struct core *c = sim_core(&arena);
    struct keysess k;
    if (!c || sim_key_session(c, 0x51, &k) < 0) {
        say("ERR sim core");
        say("DONE");
        return 1;
    }
    core_id_t h = sim_open(c, &k, "kk", CORE_O_STRICT, 0);
    if (!h) {
        say("ERR strict open");
        say("DONE");
        return 1;
    }
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 9;
    so.uid = 1000;
    core_ecall(c, CORE_ECALL_SESSION_OPEN, &so, sizeof so);
    static struct core_sem_post_args args;
    args.session = so.session;
    args.handle = h;
    struct flip f = {.field = &args.session, .a = so.session, .b = k.id};
    pthread_t t;
    pthread_create(&t, NULL, flipper, &f);
    long accepted = 0, n = 1000000;
    for (long i = 0; i < n; i++)
        accepted += core_ecall(c, CORE_ECALL_SEM_POST, &args, sizeof args) == CORE_OK;
    atomic_store(&f.stop, 1);
    pthread_join(t, NULL);
    struct core_sem_info_args ia;
    memset(&ia, 0, sizeof ia);
    for (;;) {
        core_ecall(c, CORE_ECALL_SEM_INFO, &ia, sizeof ia);
        if (!ia.found || ia.info.handle == h)
            break;
        ia.cursor = ia.next;
    }
    say("%s SIMULATED host: %ld direct posts while another thread flipped their session "
        "field between a PID session and the key session owning the strict semaphore: %ld "
        "accepted, value %u (the core copies its arguments once)",
        accepted == 0 && ia.info.value == 0 ? "OK" : "FAIL", n, accepted, ia.info.value);
    free(arena);
    say("DONE");
    return 0;
}

void race_glibc(struct side *s)
{
    sgx_glibc(s);
}

void race_esem(struct side *s)
{
    char *const args[] = {NULL};
    s_summary(s, "SIMULATED hostile host (core linked, no SGX): 1,000,000 direct posts while a "
                 "thread flips their session field between a PID session and a key session: "
                 "none accepted in the key session's name (one copy of the arguments, taken at "
                 "the boundary)");
    lab_relay_role(s, WHO_LAB, 0, "race", args, 60000);
}
