/* Restart without loss: one esemd hands its state to the next (handover.c). */
#ifndef ESEMD_HANDOVER_H
#define ESEMD_HANDOVER_H

#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"

/* What the running daemon gives (its side). */
struct handover_give_args {
    int listen_fd, activated; /* the listening socket; 1 if systemd's */
    int arena_fd;             /* the core's arena ... */
    void *arena;              /* ... as mapped here */
    uint64_t arena_size;
    int nworkers;             /* to serve on if the takeover fails */
    int arena_secret;         /* the arena is memfd_secret memory */
};

/* The running daemon, asked by t (a TAKEOVER hello it may grant): stop the
 * workers, send everything, and exit once the new daemon serves.  Returns
 * only if the takeover failed (the new daemon refused or died first):
 * then the core is laid out again and the workers serve on. */
void handover_give(struct client *t, const struct handover_give_args *g);

struct ho_conn;

/* What the new daemon received (its side). */
struct handover_in {
    int sock;             /* to the old daemon */
    int old_pidfd;        /* ... and the process, to see it exit */
    pid_t old_pid;
    int arena_fd, old_life_fd, listen_fd, activated, arena_secret;
    uint64_t arena_size;
    void *arena;
    uint32_t nconns, nfds;
    const struct ho_conn *conns; /* the host's state of every connection */
    size_t conns_len;
    int *fds;                    /* their descriptors, in order */
    uint64_t reposted, consumed;
    uint32_t nqueued;
};

/* The new daemon, before its core: connect to the running daemon at path,
 * ask for its state and receive it; the arena mapped here (in->arena).
 * 0, or -1 with the reason logged (nothing was changed then). */
int handover_take(const char *path, struct handover_in *in);
/* ... once its life page, workers and main loop's epoll exist: tell the old
 * daemon we serve (it exits), then take in every connection. */
int handover_finish(struct handover_in *in);

#endif
