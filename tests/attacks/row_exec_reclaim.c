/*
 * Row exec-reclaim (security review finding 6, TM-host): an exec'd child
 * claims its parent's session by its id or a guess; inheritance needs the
 * one-time token the parent registered before fork(), which exec wipes.
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

/* reclaim SOCK SELF: hold a strict semaphore, fork a child that
 * execs SELF as "reclaim-child SOCK SESSION", which claims our session. */
int role_reclaim(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    struct rawc c;
    int r = rawc_connect(&c, argv[1], 0);
    char name[64];
    snprintf(name, sizeof name, "esemlab-reclaim-%d", (int)getpid());
    uint64_t h = 0;
    if (r == 0)
        r = rawc_op(&c, ESEM_OP_OPEN, 0, name, CORE_O_CREAT | CORE_O_STRICT, 0600, 0, &h, NULL,
                    3000);
    if (r != 0) {
        say("ERR parent: %s", errname(r < 0 ? -r : r));
        say("DONE");
        return 1;
    }
    char sess[32];
    snprintf(sess, sizeof sess, "%llu", (unsigned long long)c.session);
    say("NOTE parent %d holds the strict semaphore /%s (session %#llx); its child execs", (int)getpid(),
        name, (unsigned long long)c.session);
    pid_t k = fork();
    if (k == 0) {
        char *const args[] = {argv[2], "--role", "reclaim-child", argv[1], sess, NULL};
        execv(argv[2], args);
        _exit(127);
    }
    int st = 0;
    waitpid(k, &st, 0);
    rawc_op(&c, ESEM_OP_UNLINK, 0, name, 0, 0, 0, NULL, NULL, 3000);
    rawc_close(&c);
    say("DONE");
    return 0;
}

int role_reclaim_child(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint64_t parent = strtoull(argv[2], NULL, 10);
    struct rawc c;
    /* the exact session id, and guesses around it (generation and index) */
    int exact = rawc_connect(&c, argv[1], parent);
    if (exact == 0)
        rawc_close(&c);
    int won = exact == 0;
    for (int i = 1; i < 64 && !won; i++) {
        uint64_t guess = parent + ((uint64_t)(i % 8) << 32) + (uint64_t)(i / 8);
        if (rawc_connect(&c, argv[1], guess) == 0) {
            won = 1;
            rawc_close(&c);
        }
    }
    say("%s the exec'd child (ppid %d, same uid) claimed its parent's session by its exact id: "
        "%s; by 63 guesses around it: %s",
        !won && exact == EPERM ? "OK" : "FAIL", (int)getppid(),
        exact == 0 ? "INHERITED" : errname(exact), won ? "ONE INHERITED" : "all refused");
    return 0;
}

void reclaim_glibc(struct side *s)
{
    s_summary(s, "exec drops the parent's sem_t mappings: no session to claim");
    s_check(s, 1,
            "same: exec drops glibc's mappings of the parent's sem_t; there is no session to "
            "claim (nothing to attack)");
}

void reclaim_esem(struct side *s)
{
    char *const args[] = {(char *)lab.sock, lab.self, NULL};
    s_summary(s, "an exec'd child (same uid, its parent alive) claiming its parent's session by "
                 "its exact id and 63 guesses: EPERM every time — inheritance needs the one-time "
                 "token the parent registered before fork(), which exec wipes");
    lab_relay_role(s, WHO_LAB, 0, "reclaim", args, 30000);
}
