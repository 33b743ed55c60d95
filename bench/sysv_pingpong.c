/*
 * The System V ping-pong of esem-bench, shaped like LMBench's lat_sem: two
 * processes and one set of two semaphores; each side's round is one
 * two-operation semop — take its own semaphore, give the other's — so every
 * round is two cross-process hand-offs.  The same code runs on the kernel's
 * semop and on esem's (esem_semop), in the same run.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esem.h"
#include "sysv_pingpong.h"

static uint64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int s_get(int esem)
{
    return esem ? esem_semget(IPC_PRIVATE, 2, IPC_CREAT | 0600)
                : semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
}

static int s_op(int esem, int id, struct sembuf *b)
{
    int r;
    do
        r = esem ? esem_semop(id, b, 2) : semop(id, b, 2);
    while (r < 0 && errno == EINTR);
    return r;
}

static int s_rm(int esem, int id)
{
    return esem ? esem_semctl(id, 0, IPC_RMID) : semctl(id, 0, IPC_RMID);
}

int sysv_pingpong(int esem, size_t rounds, uint64_t *ns)
{
    int id = s_get(esem);
    if (id < 0)
        return -errno;
    /* semaphore 0 is the parent's turn, 1 the child's; the parent starts */
    if (esem ? esem_semctl(id, 0, SETVAL, 1) < 0 : semctl(id, 0, SETVAL, 1) < 0) {
        int e = errno;
        s_rm(esem, id);
        return -e;
    }
    pid_t parent = getpid();
    pid_t c = fork();
    if (c < 0) {
        int e = errno;
        s_rm(esem, id);
        return -e;
    }
    if (c == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(3);
        struct sembuf mine[2] = {{1, -1, 0}, {0, 1, 0}}; /* take 1, give 0 */
        for (size_t i = 0; i < rounds; i++)
            if (s_op(esem, id, mine) < 0)
                _exit(4);
        _exit(0);
    }
    struct sembuf mine[2] = {{0, -1, 0}, {1, 1, 0}}; /* take 0, give 1 */
    int err = 0;
    uint64_t t0 = now();
    for (size_t i = 0; i < rounds && !err; i++) {
        if (s_op(esem, id, mine) < 0)
            err = -errno;
        uint64_t t1 = now();
        ns[i] = (t1 - t0) / 2; /* this round: our hand-off and the child's */
        t0 = t1;
    }
    /* the child's last give: take it, so it is not left blocked */
    struct sembuf last[1] = {{0, -1, 0}};
    if (!err && (esem ? esem_semop(id, last, 1) : semop(id, last, 1)) < 0)
        err = -errno;
    int st = 0;
    if (err)
        kill(c, SIGKILL);
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    if (!err && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        err = -ECHILD;
    s_rm(esem, id);
    return err;
}
