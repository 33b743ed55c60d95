/*
 * esemd's shared state: the types every host module works on and the one
 * daemon-wide instance.  A header of types only: the modules that act on
 * them (log, proc, dataplane, clients, admin, ...) each have their own.
 */
#ifndef ESEMD_DAEMON_H
#define ESEMD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "esem_core.h"
#include "proto.h"

/* Host-private view of one slot; never stored in the channel, which the
 * client can scribble on. */
struct slot_state {
    uint32_t last_seq;    /* last request number taken (low 32 bits; claimed by CAS) */
    uint32_t cancel_seen; /* last cancel_seq acted on (written under core_mu) */
    uint32_t queued;      /* a wait of this slot sits in the core's queue */
    uint32_t woken;       /* ... and a post woke it (ESEM_ST_RETRY written) */
    uint64_t queued_seq;  /* the request number that wait answers */
    uint64_t wait_handle; /* the semaphore that wait is on */
    uint32_t granted;     /* a grant was delivered, the client may not have taken it */
    uint32_t inflight;    /* requests claimed by a worker, not served yet */
    uint64_t granted_seq; /* ... for this request number */
    uint32_t sysv;        /* the queued wait is a System V semop: its completion
                           * is final (done by the core), never re-posted */
    uint32_t pad_;
};

struct worker;

struct proc_creds {
    uint32_t uid, gid, ngroups, umask;
    uint32_t groups[CORE_NGROUPS_MAX];
};

struct client {
    uint32_t id, gen;
    int kind; /* ESEM_HELLO_CLIENT / ESEM_HELLO_ADMIN, 0 before hello */
    int sock, pidfd, efd;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    uint64_t start_time;
    struct proc_creds hello_creds; /* what it had at connect: later reads may only
                                    * drop below them (a non-root uid stays) */
    uint64_t exe_dev, exe_ino;     /* /proc/PID/exe at hello: a change means exec */
    uint8_t tokens[ESEM_TOKENS_KEPT][ESEM_TOKEN_BYTES]; /* for its children (core_mu) */
    uint32_t ntokens, next_token;
    uint32_t bad_requests; /* malformed requests in a row (core_mu) */
    _Atomic int dropped;   /* dropped for them: served no more */
    uint64_t accepted_ns;          /* when the connection was accepted */
    struct proc_creds creds; /* as last read; owned by the serving worker */
    int status_fd;           /* /proc/PID/status, kept open; same owner */
    int chan_fd;             /* the channel's memfd, kept for a restart without loss */
    int relife_sent;         /* it has our life page (hello, or asked once after a restart) */
    core_id_t session;
    uint64_t key_id; /* a key session's key id, 0 for a PID session */
    struct esem_chan *chan;
    size_t chan_size;
    struct worker *w;
    uint32_t cold;      /* worker-owned: not polled, the client rings */
    uint32_t hot_idx;   /* worker-owned: place in w->hot while hot */
    uint64_t last_news; /* when it last had a request (atomic: any worker writes) */
    _Atomic uint32_t pins; /* semaphore binding: scans in progress (dp_detach waits) */
    struct slot_state ss[ESEM_NSLOTS];
};

struct worker {
    pthread_t thread;
    int index;
    int epfd;
    int cmd_efd; /* wakes the worker for list changes and stop */
    pthread_mutex_t mu; /* guards clients[] and nclients */
    struct client **clients;
    uint32_t nclients, cap;
    struct client **hot; /* the channels polled (not cold); capacity cap */
    uint32_t nhot;
    int stop;
    /* adaptive idle spin (worker-owned): running mean of the idle gaps that
     * a request ended; cpu_free(), as last sampled (when, and its answer:
     * the /proc/loadavg count or our own wait for a CPU said free) */
    uint64_t gap_est;
    uint64_t load_at;
    int load_fd, load_free;
    /* ... the worker's own wait for a CPU, from its schedstat: run_delay
     * per time it was switched in (a decaying maximum) */
    int sched_fd;
    uint64_t sched_delay, sched_runs, cpu_wait_est;
    uint32_t hits; /* recent idle spells a request ended while we spun */
    _Atomic int sleeping; /* semaphore binding: asleep, poke to wake */
};

/* The paper's two TCS binding modes (esemd --binding). */
enum esem_binding {
    ESEM_BIND_PROCESS = 0,   /* a client channel is served by one worker */
    ESEM_BIND_SEMAPHORE = 1, /* a semaphore is served by one worker */
};

struct daemon_state {
    enum esem_binding binding;
    pthread_mutex_t core_mu; /* serialises the core, by_session[], slot_state */
    struct core *core;
    struct client **by_session; /* indexed by session index */
    uint32_t max_sessions;
    uint32_t user_clients, user_pending; /* per-uid connection limits (0: none) */
    uint32_t exempt_uid;                 /* the daemon's user: no per-user limit */
    struct worker *workers;
    int nworkers;
    uint64_t spin_ns;
    int handoff; /* the core's cfg.handoff_ns is set: POST and WAIT carry the clock */
    uint64_t start_ns;
    int ncpu;                  /* CPUs we may run on (sched_getaffinity) */
    _Atomic uint32_t nqueued;  /* waits queued in the core (changed under core_mu) */
    struct esem_wake *wake;    /* the wake words after the life page (proto.h) */
    uint32_t nwake;
    _Atomic uint64_t served;   /* semaphore binding: requests served by any worker */
    _Atomic uint32_t nclients; /* live connections (esemctl stats) */
    _Atomic uint64_t reposted, consumed; /* grants of dead waiters (esemctl stats) */
    int system_mode;           /* esemd --system */
    int allow_takeover;        /* esemd --allow-takeover (per-user daemon) */
};

/* The daemon: its core, the lock that serialises it, the session table
 * and the workers.  Set up by main (esemd.c), then shared. */
extern struct daemon_state esemd;

#endif
