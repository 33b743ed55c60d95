/*
 * Client connections: the table, accept, the hello (identity, core
 * session, the private channel), and the end of a session (hang-up or
 * process death).  The main thread runs all of it; admin connections are
 * handed to admin.c after their hello.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "clients.h"
#include "dataplane.h"
#include "serve.h"
#include "life.h"
#include "log.h"
#include "proc.h"
#include "util.h"

static int ep_fd = -1;
static int accept_paused, paused_fd = -1;
static struct client **clients;
static uint32_t nclients_cap;
static uint32_t client_gen;

static void accept_resume(void);

void clients_init(int epfd)
{
    ep_fd = epfd;
}

/* Put c in a free place of the table (grown if full): its id, a new
 * generation.  0, or -1 out of memory. */
static int table_put(struct client *c)
{
    uint32_t id = 0;
    while (id < nclients_cap && clients[id])
        id++;
    if (id == nclients_cap) {
        uint32_t cap = nclients_cap ? nclients_cap * 2 : 64;
        struct client **n = realloc(clients, cap * sizeof *n);
        if (!n)
            return -1;
        memset(n + nclients_cap, 0, (cap - nclients_cap) * sizeof *n);
        clients = n;
        nclients_cap = cap;
    }
    c->id = id;
    c->gen = ++client_gen & 0xffffffu;
    clients[id] = c;
    atomic_fetch_add(&esemd.nclients, 1);
    return 0;
}

static struct client *client_new(int sock)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sock = sock;
    c->pidfd = c->efd = c->status_fd = c->chan_fd = -1;
    if (table_put(c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* End the core session: its waiters leave the queues, its opens close, and
 * from here on no worker can deliver a grant into its channel. */
static void session_close(struct client *c, const char *why)
{
    if (!c->session)
        return;
    uint32_t nw, no, nr;
    serve_session_end(c, &nw, &no, &nr);
    c->session = 0;
    if (c->kind == ESEM_HELLO_CLIENT)
        esemd_log_limited("session end pid=%d uid=%u (%s): %u waiters removed, %u opens closed%s",
                  (int)c->pid, (unsigned)c->uid, why, nw, no,
                  nr ? ", grants it never took posted again" : "");
}

static void client_free(struct client *c, const char *why)
{
    dp_detach(c);
    session_close(c, why);
    if (c->chan)
        munmap(c->chan, c->chan_size);
    if (c->sock >= 0)
        close(c->sock);
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->efd >= 0)
        close(c->efd);
    if (c->status_fd >= 0)
        close(c->status_fd);
    if (c->chan_fd >= 0)
        close(c->chan_fd);
    clients[c->id] = NULL;
    atomic_fetch_sub(&esemd.nclients, 1);
    free(c);
    accept_resume();
}

static int send_reply(int sock, const struct esem_hello_reply *rep, const int *fds, int nfds)
{
    return esem_util_send_fds(sock, rep, sizeof *rep, fds, nfds) == (ssize_t)sizeof *rep ? 0 : -1;
}

static void hello_fail(struct client *c, int err, const char *why)
{
    struct esem_hello_reply rep = {.err = err};
    esemd_refusal_errno(c, "connection", why, err); /* audited, rate-limited */
    send_reply(c->sock, &rep, NULL, 0);
    client_free(c, "refused");
}

/* Is `c` really a child of the process behind session `parent`?  The parent
 * must still be alive (its pidfd) and be the same process (start time), so a
 * process that was handed a dead client's PID passes on nothing. */
static int may_inherit(const struct client *c, core_id_t parent, pid_t ppid,
                       const uint8_t token[ESEM_TOKEN_BYTES])
{
    uint32_t idx = (uint32_t)parent - 1;
    if (idx >= esemd.max_sessions)
        return 0;
    struct client *p = esemd.by_session[idx];
    if (!p || p->session != parent || p->kind != ESEM_HELLO_CLIENT)
        return 0;
    /* A child that already changed its identity must not pick up its
     * parent's semaphores late; libesem's children connect inside fork(). */
    if (c->uid != p->uid || c->gid != p->gid)
        return 0;
    uint64_t pst;
    if (p->pid != ppid || esem_util_proc_stat(ppid, &pst, NULL) < 0 || pst != p->start_time)
        return 0;
    if (!esem_util_pidfd_alive(p->pidfd))
        return 0;
    /* Finding 6 of the security review: the parent's session id alone can
     * be guessed (an exec'd child found it in 193 tries).  The child must
     * show a token its parent registered just before fork() and nobody has
     * used: one use each, so an exec'd child (its memory gone) gets
     * nothing. */
    if (sodium_is_zero(token, ESEM_TOKEN_BYTES))
        return 0; /* (a used or unset token reads as zeros) */
    for (uint32_t i = 0; i < p->ntokens; i++) {
        if (sodium_memcmp(p->tokens[i], token, ESEM_TOKEN_BYTES) == 0) {
            sodium_memzero(p->tokens[i], ESEM_TOKEN_BYTES);
            return 1;
        }
    }
    return 0;
}

/* Per-user connection limits, counted over the table (root and the
 * daemon's user exempt): at accept, connections that have not said hello
 * (--user-pending: they may never say it); at hello, all of the uid's
 * connections (--user-clients), so the client reads the refusal (EUSERS)
 * in the hello's reply instead of finding the socket closed. */
static const char *over_user_limit(const struct client *c, int at_hello)
{
    if (c->uid == 0 || c->uid == esemd.exempt_uid)
        return NULL;
    uint32_t all = 0, pending = 0;
    for (uint32_t i = 0; i < nclients_cap; i++) {
        const struct client *o = clients[i];
        if (!o || o == c || o->uid != c->uid)
            continue;
        all++;
        pending += !o->kind;
    }
    if (!at_hello && esemd.user_pending && pending >= esemd.user_pending)
        return "per-user limit of connections without a hello (--user-pending)";
    if (at_hello && esemd.user_clients && all >= esemd.user_clients)
        return "per-user limit of connections (--user-clients)";
    return NULL;
}

/* A new esemd asks for our state (restart without loss).  Whoever gets it
 * can forge every permit: on the system daemon only root, on a per-user
 * daemon only if it runs with --allow-takeover, and then only its own user
 * (or root).  The main loop hands it to handover_give(). */
static struct client *takeover_asked;

static void takeover_hello(struct client *c)
{
    int ok = esemd.system_mode ? c->uid == 0
                               : esemd.allow_takeover && (c->uid == 0 || c->uid == geteuid());
    if (!ok) {
        hello_fail(c, EPERM,
                   esemd.system_mode ? "takeover asked by a user other than root"
                   : esemd.allow_takeover ? "takeover asked by another user"
                                          : "takeover asked, but esemd runs without --allow-takeover");
        return;
    }
    if (takeover_asked) {
        hello_fail(c, EBUSY, "a takeover is already under way");
        return;
    }
    struct esem_hello_reply rep = {.daemon_pid = getpid()};
    if (send_reply(c->sock, &rep, NULL, 0) < 0) {
        client_free(c, "hello reply failed");
        return;
    }
    c->kind = ESEM_HELLO_TAKEOVER;
    epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->sock, NULL); /* handover.c reads it */
    takeover_asked = c;
}

struct client *clients_takeover_asked(void)
{
    struct client *c = takeover_asked;
    takeover_asked = NULL;
    return c;
}

void clients_takeover_failed(struct client *c)
{
    client_free(c, "takeover failed");
}

uint32_t clients_cap(void)
{
    return nclients_cap;
}

struct client *clients_at(uint32_t i)
{
    return i < nclients_cap ? clients[i] : NULL;
}

int clients_adopt(struct client *c)
{
    if (table_put(c) < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV(EV_SOCK, c->gen, c->id)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->sock, &ev);
    if (c->kind == ESEM_HELLO_CLIENT) {
        esemd.by_session[(uint32_t)c->session - 1] = c;
        ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = EV(EV_PIDFD, c->gen, c->id)};
        epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->pidfd, &ev);
    }
    return 0;
}

static void handle_hello(struct client *c)
{
    struct esem_hello h;
    /* MSG_TRUNC: the real length, so an oversized hello is refused, not cut */
    ssize_t n = recv(c->sock, &h, sizeof h, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n != (ssize_t)sizeof h || h.magic != ESEM_PROTO_MAGIC) {
        hello_fail(c, EPROTO, "malformed hello");
        return;
    }
    if (h.version != ESEM_PROTO_VERSION) {
        hello_fail(c, EPROTO, "protocol version mismatch");
        return;
    }
    if (h.kind != ESEM_HELLO_CLIENT && h.kind != ESEM_HELLO_ADMIN &&
        h.kind != ESEM_HELLO_TAKEOVER) {
        hello_fail(c, EPROTO, "unknown connection kind");
        return;
    }
    /* The process that connected (bind_peer) must still be alive: a hello
     * sent by whoever it handed the socket to after exiting is refused,
     * whatever process now has its pid. */
    pid_t ppid = 0;
    uint64_t st_now = 0;
    if (!esem_util_pidfd_alive(c->pidfd) ||
        esem_util_proc_stat(c->pid, &st_now, &ppid) < 0 || st_now != c->start_time ||
        !esem_util_pidfd_alive(c->pidfd)) {
        hello_fail(c, ESRCH, "the connecting process is gone");
        return;
    }
    {
        char exe[48];
        struct stat es;
        snprintf(exe, sizeof exe, "/proc/%d/exe", (int)c->pid);
        if (stat(exe, &es) == 0) {
            c->exe_dev = (uint64_t)es.st_dev;
            c->exe_ino = (uint64_t)es.st_ino;
        }
    }
    if (h.kind == ESEM_HELLO_TAKEOVER) {
        takeover_hello(c);
        return;
    }
    /* An admin connection sees every semaphore, every user's included: on
     * the system-wide daemon, only root and the daemon's user get one —
     * checked before anything is set up for it. */
    if (h.kind == ESEM_HELLO_ADMIN && esemd.system_mode && c->uid != 0 && c->uid != geteuid()) {
        hello_fail(c, EACCES, "admin connection from a user other than root and the daemon's");
        return;
    }
    const char *lim = over_user_limit(c, 1);
    if (lim) {
        hello_fail(c, EUSERS, lim); /* audited, rate-limited */
        return;
    }
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = (uint32_t)c->pid;
    so.uid = c->uid;
    so.gid = c->gid;
    struct proc_creds pc;
    /* (the kept descriptor is opened by the first open(), so processes
     * that never open by name cost no extra descriptor) */
    if (proc_creds_read(NULL, c->pid, &pc) == 0) {
        so.ngroups = pc.ngroups;
        memcpy(so.groups, pc.groups, sizeof so.groups);
        c->creds = pc;
    }
    c->creds.uid = c->uid; /* the connection's own credentials */
    c->creds.gid = c->gid;
    c->hello_creds = c->creds; /* the ceiling of every later read */
    so.start_time = c->start_time;
    if (h.kind == ESEM_HELLO_CLIENT && h.key_id) {
        so.key_id = h.key_id;
        memcpy(so.nonce, h.nonce, sizeof so.nonce);
    }
    struct esem_hello_reply rep = {0};
    pthread_mutex_lock(&esemd.core_mu);
    int32_t st = core_ecall(esemd.core, CORE_ECALL_SESSION_OPEN, &so, sizeof so);
    if (st == CORE_OK) {
        c->session = so.session;
        c->key_id = so.key_id;
        c->kind = (int)h.kind;
        esemd.by_session[(uint32_t)so.session - 1] = c;
        if (h.inherit_session && h.kind == ESEM_HELLO_CLIENT) {
            if (!may_inherit(c, h.inherit_session, ppid, h.inherit_token)) {
                st = CORE_E_PERM;
            } else {
                struct core_session_inherit_args ia = {.child = c->session,
                                                       .parent = h.inherit_session};
                st = core_ecall(esemd.core, CORE_ECALL_SESSION_INHERIT, &ia, sizeof ia);
                rep.inherited = ia.nopens;
            }
        }
    }
    pthread_mutex_unlock(&esemd.core_mu);
    if (st != CORE_OK) {
        if (st == CORE_E_PERM)
            esemd_refusal(c, "inherit", st);
        if (st == CORE_E_AUTH) {
            /* a key the core was never given (hello_fail audits it) */
            hello_fail(c, EKEYREJECTED, "unknown key");
            return;
        }
        hello_fail(c, esem_status_errno(st), core_strerror(st));
        return;
    }
    rep.session = c->session;
    rep.daemon_pid = getpid();
    memcpy(rep.proof, so.proof, sizeof rep.proof);
    rep.core_nonce = so.core_nonce;
    if (h.kind == ESEM_HELLO_ADMIN) {
        if (send_reply(c->sock, &rep, NULL, 0) < 0) {
            client_free(c, "hello reply failed");
            return;
        }
        /* hand it over: off our table and out of the main loop's epoll */
        epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->sock, NULL);
        clients[c->id] = NULL;
        atomic_fetch_sub(&esemd.nclients, 1);
        admin_start(c);
        return;
    }
    /* The channel: anonymous memory shared with this client alone.  Sealed
     * against resizing so the client cannot shrink it under the daemon and
     * turn our next access into SIGBUS. */
    int memfd = memfd_create("esem-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    c->chan_size = sizeof(struct esem_chan);
    if (memfd < 0 || ftruncate(memfd, (off_t)c->chan_size) < 0 ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        if (memfd >= 0)
            close(memfd);
        hello_fail(c, ENOMEM, "cannot create channel");
        return;
    }
    c->chan = mmap(NULL, c->chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->chan == MAP_FAILED || c->efd < 0) {
        c->chan = NULL;
        close(memfd);
        hello_fail(c, ENOMEM, "cannot map channel");
        return;
    }
    c->chan->hdr.magic = ESEM_PROTO_MAGIC;
    c->chan->hdr.nslots = ESEM_NSLOTS;
    rep.nslots = ESEM_NSLOTS;
    rep.chan_size = c->chan_size;
    int fds[3] = {memfd, c->efd, life_fd()};
    c->chan_fd = memfd; /* kept: a restart without loss hands it on */
    c->relife_sent = 1;
    dp_attach(c);
    int r = send_reply(c->sock, &rep, fds, 3);
    if (r < 0) {
        client_free(c, "hello reply failed");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_PIDFD, c->gen, c->id)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->pidfd, &ev);
    char keyinfo[40] = "";
    if (so.key_id)
        snprintf(keyinfo, sizeof keyinfo, " key=%016llx", (unsigned long long)so.key_id);
    esemd_log_limited("session start pid=%d uid=%u gid=%u%s%s", (int)c->pid, (unsigned)c->uid,
              (unsigned)c->gid, keyinfo,
              h.inherit_session ? " (inherits its parent's opens)" : "");
}

static void on_sock(struct client *c, uint32_t events)
{
    if (!c->kind) {
        handle_hello(c);
        return;
    }
    /* A client sends nothing after hello; anything else is garbage, and a
     * hang-up means the process closed us, exec'd or died. */
    char junk[256];
    ssize_t n = recv(c->sock, junk, sizeof junk, MSG_DONTWAIT);
    if (n == (ssize_t)sizeof(struct esem_relife) && c->kind == ESEM_HELLO_CLIENT &&
        !c->relife_sent) {
        /* after a restart without loss: our life page, once */
        struct esem_relife q;
        memcpy(&q, junk, sizeof q);
        if (q.magic == ESEM_RELIFE_MAGIC && q.pid == 0) {
            struct esem_relife a = {.magic = ESEM_RELIFE_MAGIC, .pid = getpid()};
            int lf = life_fd();
            c->relife_sent = 1;
            if (esem_util_send_fds(c->sock, &a, sizeof a, &lf, 1) != (ssize_t)sizeof a)
                esemd_log_limited("life page for pid %d not sent: %s", (int)c->pid,
                                  strerror(errno));
            return;
        }
    }
    if (n > 0) {
        esemd_refusal(c, "control message after hello", CORE_E_BADCALL);
        return;
    }
    if (n < 0 && errno == EAGAIN && !(events & (EPOLLHUP | EPOLLERR)))
        return;
    client_free(c, "hang-up");
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers predate it */
#endif

/* Finding 2 of the security review: identify the process that connected,
 * not whichever process holds the socket when the hello comes (it may have
 * been handed to a helper, and the connector's pid reused by a victim).
 * SO_PEERPIDFD gives a pidfd of the connecting process itself; where the
 * kernel lacks it, the pid from SO_PEERCRED is pinned by a pidfd at once,
 * before anything else.  The start time is read now and the pidfd checked
 * after, so it is the connector's.  The hello must then come while that
 * process is alive, within HELLO_TIMEOUT_MS. */
static int bind_peer(struct client *c)
{
    struct ucred cr;
    socklen_t crl = sizeof cr;
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0)
        return -1;
    c->pid = cr.pid;
    c->uid = cr.uid;
    c->gid = cr.gid;
    int fd = -1;
    socklen_t fl = sizeof fd;
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &fl) < 0 || fd < 0)
        fd = esem_util_pidfd_open(c->pid);
    c->pidfd = fd;
    if (fd < 0 || esem_util_proc_stat(c->pid, &c->start_time, NULL) < 0 ||
        !esem_util_pidfd_alive(fd))
        return -1;
    return 0;
}

#define HELLO_TIMEOUT_MS 5000u


void clients_accept(int listen_fd)
{
    for (;;) {
        int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (s < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: the listening socket stays readable,
                 * so returning would spin the main loop (finding of the
                 * abuse campaign).  Stop accepting until one is freed. */
                accept_paused = 1;
                epoll_ctl(ep_fd, EPOLL_CTL_DEL, listen_fd, NULL);
                paused_fd = listen_fd;
                esemd_log_limited("accept: %s: not accepting until a descriptor is free",
                                  strerror(errno));
            } else if (errno != EAGAIN && errno != EINTR) {
                esemd_log("accept: %s", strerror(errno));
            }
            return;
        }
        struct client *c = client_new(s);
        if (!c) {
            close(s);
            continue;
        }
        c->accepted_ns = esem_util_now_ns(CLOCK_MONOTONIC);
        if (bind_peer(c) < 0) {
            hello_fail(c, ESRCH, "peer process vanished before its hello");
            continue;
        }
        const char *lim = over_user_limit(c, 0);
        if (lim) {
            hello_fail(c, EUSERS, lim); /* audited, rate-limited */
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV(EV_SOCK, c->gen, c->id)};
        epoll_ctl(ep_fd, EPOLL_CTL_ADD, s, &ev);
    }
}

/* A descriptor was freed: accept again if we had stopped. */
static void accept_resume(void)
{
    if (!accept_paused)
        return;
    accept_paused = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_LISTEN, 0, 0)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, paused_fd, &ev);
}

int clients_tick(void)
{
    /* connections that never said hello hold a descriptor and memory:
     * closed after HELLO_TIMEOUT_MS (finding 3 of the abuse campaign) */
    uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
    int waiting = 0;
    for (uint32_t i = 0; i < nclients_cap; i++) {
        struct client *c = clients[i];
        if (!c || c->kind)
            continue;
        if (now - c->accepted_ns > HELLO_TIMEOUT_MS * 1000000ull)
            hello_fail(c, ETIMEDOUT, "no hello in time");
        else
            waiting = 1;
    }
    return waiting || accept_paused;
}


void clients_event(uint64_t data, uint32_t events)
{
    uint32_t type = (uint32_t)(data >> 56);
    uint32_t gen = (uint32_t)(data >> 32) & 0xffffffu;
    uint32_t id = (uint32_t)data;
    if (id >= nclients_cap || !clients[id] || clients[id]->gen != gen)
        return; /* a late event of a client already gone */
    if (type == EV_SOCK)
        on_sock(clients[id], events);
    else if (type == EV_PIDFD)
        client_free(clients[id], "process exited");
}

void clients_free_all(void)
{
    for (uint32_t i = 0; i < nclients_cap; i++)
        if (clients[i])
            client_free(clients[i], "daemon stopping");
    free(clients);
    clients = NULL;
    nclients_cap = 0;
}
