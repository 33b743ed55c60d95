/*
 * Restart without loss (docs/DESIGN.md, "Restart without loss"): the
 * running esemd hands its state to a new esemd, and the clients notice
 * nothing but a pause.
 *
 * Every object a client shares with the daemon is a descriptor, so the
 * state travels over the new daemon's connection (SCM_RIGHTS): the core's
 * arena, the life page, the listening socket, a memfd with the host's view
 * of every connection (struct ho_conn), then each connection's socket,
 * pidfd, doorbell and channel in batches.  The new daemon lays the core out
 * again at its own address (core_resume) and says it is ready; only then
 * does anybody serve again:
 *
 *   old: workers stop, core lock taken ... send ... wait for ready or death
 *   new: receive, core_resume, life page, workers ... ready ->
 *   old: its life page says moved (sleepers wake), exit
 *   new: the old one gone, every connection joins the table and the
 *        workers; a request written meanwhile is seen (its doorbell rung);
 *        a client that saw the moved page asks for ours on its socket
 *        (struct esem_relife, answered once per client in clients.c)
 *
 * Until "ready" the new daemon has served nothing, so if it refuses or
 * dies first the old one lays the core out again (it may have been laid
 * out at the new daemon's address) and serves on: nothing is lost either
 * way.  Admin connections (esemctl) are not handed over; they end with the
 * old daemon.  Under SGX this is where sealed state would travel; here the
 * arena is handed over as it is, and only a process that may have it gets
 * it (clients.c, takeover_hello).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "clients.h"
#include "dataplane.h"
#include "handover.h"
#include "harden.h"
#include "life.h"
#include "log.h"
#include "util.h"

#define HO_MAGIC 0x766f6468u /* "hdov" */
#define HO_VERSION 1u
#define HO_BATCH_FDS 240 /* descriptors a message (the kernel takes 253) */
#define HO_READY_MS 60000 /* the new daemon gets this long to say ready */

/* The first message; SCM_RIGHTS: arena, life page, listening socket, state. */
struct ho_header {
    uint32_t magic, version;
    uint32_t conn_size; /* sizeof(struct ho_conn) of the sender's build */
    uint32_t nconns, nfds;
    int32_t activated; /* the listening socket is systemd's */
    uint64_t arena_size;
    uint64_t reposted, consumed;
    uint32_t nqueued;
    uint32_t secret; /* the arena is memfd_secret memory (locked by itself) */
    uint32_t allow_takeover; /* --allow-takeover: the next restart may come too */
    uint32_t pad_;
};

/* One connection as the host sees it, without pointers or descriptors.
 * Its descriptors follow in the batches: socket and pidfd, and for a
 * client (kind ESEM_HELLO_CLIENT) doorbell and channel memfd too; a
 * connection still before its hello (kind 0) has its hello read by the new
 * daemon. */
struct ho_conn {
    int32_t kind, pid;
    uint32_t uid, gid;
    uint64_t start_time, exe_dev, exe_ino, accepted_ns, last_news;
    uint64_t session, key_id, chan_size;
    struct proc_creds hello_creds, creds;
    uint8_t tokens[ESEM_TOKENS_KEPT][ESEM_TOKEN_BYTES];
    uint32_t ntokens, next_token, bad_requests, dropped;
    struct slot_state ss[ESEM_NSLOTS];
};

/* A batch of descriptors; the new daemon's ready (status 0, SCM_RIGHTS:
 * its life page) or refusal (an errno). */
struct ho_msg {
    uint32_t magic;
    int32_t n_or_status;
};

static void ring(int efd)
{
    uint64_t one = 1;
    ssize_t r = write(efd, &one, sizeof one);
    (void)r; /* a doorbell already rung stays rung */
}

static int conn_nfds(int kind)
{
    return kind == ESEM_HELLO_CLIENT ? 4 : 2;
}

/* One message with up to HO_BATCH_FDS descriptors, on a socket that may
 * be non-blocking. */
static int send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    if (nfds > HO_BATCH_FDS)
        return -1;
    for (;;) {
        ssize_t n = esem_util_send_fds(sock, buf, len, fds, nfds);
        if (n == (ssize_t)len)
            return 0;
        if (n >= 0 || (errno != EAGAIN && errno != EINTR))
            return -1;
        struct pollfd p = {.fd = sock, .events = POLLOUT};
        if (poll(&p, 1, 10000) <= 0)
            return -1;
    }
}

/* One message into buf (exactly len bytes) and its descriptors (at most
 * max; *nfds set).  Waits up to timeout_ms.  0, or -1. */
static int recv_with_fds(int sock, void *buf, size_t len, int *fds, int max, int *nfds,
                         int timeout_ms)
{
    union {
        char buf[CMSG_SPACE(HO_BATCH_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    *nfds = 0;
    struct pollfd p = {.fd = sock, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    for (struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[HO_BATCH_FDS];
        memcpy(got, CMSG_DATA(cm), (size_t)k * sizeof(int));
        for (int i = 0; i < k; i++) {
            if (*nfds < max)
                fds[(*nfds)++] = got[i];
            else
                close(got[i]); /* more than announced: not ours to keep */
        }
    }
    if (n != (ssize_t)len || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return -1;
    }
    return 0;
}

/* ---- the running daemon ---- */

static void conn_out(const struct client *c, struct ho_conn *o)
{
    memset(o, 0, sizeof *o);
    o->kind = c->kind;
    o->pid = c->pid;
    o->uid = c->uid;
    o->gid = c->gid;
    o->start_time = c->start_time;
    o->exe_dev = c->exe_dev;
    o->exe_ino = c->exe_ino;
    o->accepted_ns = c->accepted_ns;
    o->last_news = c->last_news;
    o->session = c->session;
    o->key_id = c->key_id;
    o->chan_size = c->chan_size;
    o->hello_creds = c->hello_creds;
    o->creds = c->creds;
    memcpy(o->tokens, c->tokens, sizeof o->tokens);
    o->ntokens = c->ntokens;
    o->next_token = c->next_token;
    o->bad_requests = c->bad_requests;
    o->dropped = (uint32_t)atomic_load(&c->dropped);
    memcpy(o->ss, c->ss, sizeof o->ss);
}

/* Is c handed over?  Clients and connections before their hello; not the
 * asking daemon itself (admin connections are not in the table). */
static int handed(const struct client *c, const struct client *t)
{
    return c && c != t && (c->kind == ESEM_HELLO_CLIENT || c->kind == 0) &&
           (c->kind == 0 || c->chan_fd >= 0);
}

/* Everything to t.  0, or -1 (nothing was taken over). */
static int give_all(struct client *t, const struct handover_give_args *g)
{
    uint32_t n = 0, nfds = 0;
    for (uint32_t i = 0; i < clients_cap(); i++) {
        struct client *c = clients_at(i);
        if (handed(c, t)) {
            n++;
            nfds += (uint32_t)conn_nfds(c->kind);
        }
    }
    struct ho_conn *conns = calloc(n ? n : 1, sizeof *conns);
    int *fds = malloc((nfds ? nfds : 1) * sizeof *fds);
    int state = memfd_create("esem-handover", MFD_CLOEXEC);
    int rc = -1;
    if (!conns || !fds || state < 0)
        goto out;
    uint32_t k = 0, f = 0;
    for (uint32_t i = 0; i < clients_cap(); i++) {
        struct client *c = clients_at(i);
        if (!handed(c, t))
            continue;
        conn_out(c, &conns[k++]);
        fds[f++] = c->sock;
        fds[f++] = c->pidfd;
        if (c->kind == ESEM_HELLO_CLIENT) {
            fds[f++] = c->efd;
            fds[f++] = c->chan_fd;
        }
    }
    size_t len = (size_t)n * sizeof *conns;
    if (len && write(state, conns, len) != (ssize_t)len)
        goto out;
    struct ho_header h = {.magic = HO_MAGIC,
                          .version = HO_VERSION,
                          .conn_size = sizeof(struct ho_conn),
                          .nconns = n,
                          .nfds = nfds,
                          .activated = g->activated,
                          .arena_size = g->arena_size,
                          .reposted = atomic_load(&esemd.reposted),
                          .consumed = atomic_load(&esemd.consumed),
                          .nqueued = atomic_load(&esemd.nqueued),
                          .secret = g->arena_secret,
                          .allow_takeover = (uint32_t)esemd.allow_takeover};
    int first[4] = {g->arena_fd, life_fd(), g->listen_fd, state};
    if (send_with_fds(t->sock, &h, sizeof h, first, 4) < 0)
        goto out;
    for (uint32_t at = 0; at < nfds; at += HO_BATCH_FDS) {
        int m = nfds - at < HO_BATCH_FDS ? (int)(nfds - at) : HO_BATCH_FDS;
        struct ho_msg b = {.magic = HO_MAGIC, .n_or_status = m};
        if (send_with_fds(t->sock, &b, sizeof b, fds + at, m) < 0)
            goto out;
    }
    rc = 0;
out:
    if (state >= 0)
        close(state);
    free(conns);
    free(fds);
    return rc;
}

/* The new daemon gave up or went quiet: it must be gone before we serve
 * again, never beside us.  Up to grace_ms to exit by itself, then killed. */
static void ensure_gone(struct client *t, int grace_ms)
{
    struct pollfd p = {.fd = t->pidfd, .events = POLLIN};
    if (poll(&p, 1, grace_ms) > 0)
        return;
    esemd_log("takeover: pid %d did not exit: killing it", (int)t->pid);
    syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

/* The new daemon's answer: 0 if it is ready, else -1 once it refused or
 * died (never while it may still use the state). */
static int await_ready(struct client *t)
{
    uint64_t until = esem_util_now_ns(CLOCK_MONOTONIC) + HO_READY_MS * 1000000ull;
    for (;;) {
        struct pollfd p[2] = {{.fd = t->sock, .events = POLLIN}, {.fd = t->pidfd, .events = POLLIN}};
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        if (now >= until) {
            /* It took the state and hangs: it must not wake up later and
             * serve beside us. */
            esemd_log("takeover: pid %d not ready after %d s", (int)t->pid, HO_READY_MS / 1000);
            ensure_gone(t, 0);
            return -1;
        }
        int r = poll(p, 2, (int)((until - now) / 1000000ull) + 1);
        if (r < 0 && errno != EINTR) {
            ensure_gone(t, 0);
            return -1;
        }
        if (r > 0 && (p[0].revents & POLLIN)) {
            struct ho_msg m;
            int nfd = 0;
            memset(&m, 0, sizeof m);
            if (recv_with_fds(t->sock, &m, sizeof m, NULL, 0, &nfd, 0) == 0 &&
                m.magic == HO_MAGIC && m.n_or_status == 0)
                return 0;
            /* refused (an errno) or hung up: wait until it is gone */
            esemd_log("takeover: pid %d gave up (%s)", (int)t->pid,
                      m.magic == HO_MAGIC ? strerror(m.n_or_status) : "hang-up");
            ensure_gone(t, 10000);
            return -1;
        }
        if (r > 0 && (p[1].revents & POLLIN))
            return -1; /* it died */
    }
}

void handover_give(struct client *t, const struct handover_give_args *g)
{
    esemd_log("takeover asked by pid %d (uid %u): handing the state over", (int)t->pid,
              (unsigned)t->uid);
    admin_end_all(2000);
    dp_stop();
    /* For good if it works: from here on the core is the new daemon's.
     * Admin threads block on it until we exit. */
    pthread_mutex_lock(&esemd.core_mu);
    if (give_all(t, g) == 0 && await_ready(t) == 0) {
        /* Sleepers wake and ask the new daemon for its life page (each
         * client once, on its socket: clients.c).  Nothing is sent to them
         * from here, so no client can hold the hand-over up. */
        life_moved();
        esemd_log("handed over to pid %d; exiting", (int)t->pid);
        audit_flush();
        _exit(0);
    }
    /* Nothing was taken over.  The new daemon may hold part of the state
     * (the sending failed half-way): it sees the end of our connection and
     * must be gone before we serve again.  Then the core again at our
     * address, and serve on. */
    shutdown(t->sock, SHUT_RDWR);
    ensure_gone(t, 10000);
    esemd.core = core_resume(g->arena, g->arena_size, NULL);
    pthread_mutex_unlock(&esemd.core_mu);
    if (!esemd.core || dp_start(g->nworkers) < 0) {
        esemd_log("takeover failed and the core cannot be served again: exiting");
        life_end();
        _exit(1);
    }
    for (uint32_t i = 0; i < clients_cap(); i++) {
        struct client *c = clients_at(i);
        if (c && c != t && c->kind == ESEM_HELLO_CLIENT) {
            dp_attach(c);
            ring(c->efd); /* a request written meanwhile */
        }
    }
    esemd_log("takeover by pid %d failed: serving on", (int)t->pid);
    clients_takeover_failed(t);
}

/* ---- the new daemon ---- */

static void conn_in(const struct ho_conn *o, struct client *c)
{
    c->kind = o->kind;
    c->pid = o->pid;
    c->uid = o->uid;
    c->gid = o->gid;
    c->start_time = o->start_time;
    c->exe_dev = o->exe_dev;
    c->exe_ino = o->exe_ino;
    c->accepted_ns = o->accepted_ns;
    c->last_news = o->last_news;
    c->session = o->session;
    c->key_id = o->key_id;
    c->chan_size = o->chan_size;
    c->hello_creds = o->hello_creds;
    c->creds = o->creds;
    memcpy(c->tokens, o->tokens, sizeof c->tokens);
    c->ntokens = o->ntokens < ESEM_TOKENS_KEPT ? o->ntokens : ESEM_TOKENS_KEPT;
    c->next_token = o->next_token;
    c->bad_requests = o->bad_requests;
    atomic_store(&c->dropped, (int)o->dropped);
    memcpy(c->ss, o->ss, sizeof c->ss);
}

static int connect_to(const char *path, struct handover_in *in)
{
    in->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (in->sock < 0 || connect(in->sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
        esemd_log("takeover: no esemd at %s (%s)", path, strerror(errno));
        return -1;
    }
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_TAKEOVER};
    struct esem_hello_reply rep;
    int nfd;
    if (send(in->sock, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h ||
        recv_with_fds(in->sock, &rep, sizeof rep, NULL, 0, &nfd, 10000) < 0) {
        esemd_log("takeover: the esemd at %s did not answer", path);
        return -1;
    }
    if (rep.err) {
        esemd_log("takeover: the esemd at %s refused: %s", path, strerror(rep.err));
        return -1;
    }
    /* the daemon itself (SO_PEERCRED names whoever made the socket, which
     * after a first restart is long gone) */
    in->old_pid = rep.daemon_pid;
    in->old_pidfd = esem_util_pidfd_open(rep.daemon_pid);
    return 0;
}

int handover_take(const char *path, struct handover_in *in)
{
    memset(in, 0, sizeof *in);
    in->sock = in->old_pidfd = in->arena_fd = in->old_life_fd = in->listen_fd = -1;
    if (connect_to(path, in) < 0)
        return -1;
    struct ho_header h;
    int first[4], n = 0;
    if (recv_with_fds(in->sock, &h, sizeof h, first, 4, &n, 30000) < 0 || n != 4) {
        esemd_log("takeover: the state did not come");
        return -1;
    }
    in->arena_fd = first[0];
    in->old_life_fd = first[1];
    in->listen_fd = first[2];
    int state = first[3];
    if (h.magic != HO_MAGIC || h.version != HO_VERSION || h.conn_size != sizeof(struct ho_conn)) {
        esemd_log("takeover: the running esemd is of another build (hand-over format %u, "
                  "%u-byte records; ours %u, %zu): restart it the usual way",
                  h.version, h.conn_size, HO_VERSION, sizeof(struct ho_conn));
        close(state);
        return -1;
    }
    in->activated = h.activated;
    in->arena_size = h.arena_size;
    in->nconns = h.nconns;
    in->nfds = h.nfds;
    in->reposted = h.reposted;
    in->consumed = h.consumed;
    in->nqueued = h.nqueued;
    /* every client's descriptors: raise our limit to what they need */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)h.nfds * 2 + 256) {
        nofile.rlim_cur = (rlim_t)h.nfds * 2 + 256 < nofile.rlim_max ? (rlim_t)h.nfds * 2 + 256
                                                                     : nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    in->conns_len = (size_t)h.nconns * sizeof(struct ho_conn);
    if (in->conns_len) {
        void *m = mmap(NULL, in->conns_len, PROT_READ, MAP_SHARED, state, 0);
        in->conns = m == MAP_FAILED ? NULL : m;
    }
    close(state);
    in->fds = malloc((h.nfds ? h.nfds : 1) * sizeof *in->fds);
    if ((in->conns_len && !in->conns) || !in->fds)
        return -1;
    for (uint32_t got = 0; got < h.nfds;) {
        struct ho_msg b;
        int k = 0;
        if (recv_with_fds(in->sock, &b, sizeof b, in->fds + got, (int)(h.nfds - got), &k, 30000) <
                0 ||
            b.magic != HO_MAGIC || k != b.n_or_status || k <= 0) {
            esemd_log("takeover: a batch of descriptors went missing (%u of %u)", got, h.nfds);
            return -1;
        }
        got += (uint32_t)k;
    }
    in->arena_secret = (int)h.secret;
    if (h.allow_takeover)
        esemd.allow_takeover = 1; /* what the user chose holds across restarts */
    in->arena = harden_arena_map(in->arena_fd, in->arena_size, in->arena_secret);
    if (!in->arena) {
        esemd_log("takeover: cannot map the %llu-byte arena: %s",
                  (unsigned long long)in->arena_size, strerror(errno));
        return -1;
    }
    return 0;
}

int handover_finish(struct handover_in *in)
{
    if (life_inherit_wake(in->old_life_fd) < 0)
        esemd_log("takeover: the old wake words could not be read (their counts start at 0)");
    struct ho_msg ready = {.magic = HO_MAGIC, .n_or_status = 0};
    if (send_with_fds(in->sock, &ready, sizeof ready, NULL, 0) < 0) {
        esemd_log("takeover: cannot tell the old daemon we are ready: %s", strerror(errno));
        return -1;
    }
    /* From here on the state is ours.  The old daemon marks its life page
     * moved and exits; wait for that, so that nobody serves beside us. */
    struct pollfd p = {.fd = in->old_pidfd, .events = POLLIN};
    if (in->old_pidfd < 0 || poll(&p, 1, 10000) <= 0)
        esemd_log("takeover: pid %d has not exited yet", (int)in->old_pid);
    atomic_store(&esemd.reposted, in->reposted);
    atomic_store(&esemd.consumed, in->consumed);
    atomic_store(&esemd.nqueued, in->nqueued);
    uint32_t f = 0, nclients = 0, npending = 0, lost = 0;
    for (uint32_t i = 0; i < in->nconns; i++) {
        const struct ho_conn *o = &in->conns[i];
        int nf = conn_nfds(o->kind);
        if (f + (uint32_t)nf > in->nfds)
            break;
        struct client *c = calloc(1, sizeof *c);
        if (c) {
            c->sock = in->fds[f];
            c->pidfd = in->fds[f + 1];
            c->efd = c->chan_fd = c->status_fd = -1;
            conn_in(o, c);
        }
        if (c && o->kind == ESEM_HELLO_CLIENT) {
            c->efd = in->fds[f + 2];
            c->chan_fd = in->fds[f + 3];
            void *m = o->chan_size == sizeof(struct esem_chan) &&
                              (uint32_t)o->session - 1 < esemd.max_sessions
                          ? mmap(NULL, o->chan_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                 c->chan_fd, 0)
                          : MAP_FAILED;
            c->chan = m == MAP_FAILED ? NULL : m;
        }
        f += (uint32_t)nf;
        if (!c || (o->kind == ESEM_HELLO_CLIENT && !c->chan) || clients_adopt(c) < 0) {
            /* out of memory: its descriptors close, which ends it for the
             * client (EIO), as a daemon death would */
            for (int k = 0; k < nf; k++)
                close(in->fds[f - (uint32_t)nf + (uint32_t)k]);
            free(c);
            lost++;
            continue;
        }
        if (o->kind == ESEM_HELLO_CLIENT)
            nclients++;
        else
            npending++;
    }
    /* Every session is in by_session before any worker serves: a post
     * served now may wake a waiter of any of them. */
    for (uint32_t i = 0; i < clients_cap(); i++) {
        struct client *c = clients_at(i);
        if (c && c->kind == ESEM_HELLO_CLIENT) {
            dp_attach(c);
            ring(c->efd); /* a request written during the hand-over rang nobody */
        }
    }
    esemd_log("took over from pid %d: %u clients, %u connections before their hello%s",
              (int)in->old_pid, nclients, npending, lost ? "; some could not be kept" : "");
    if (in->conns)
        munmap((void *)in->conns, in->conns_len);
    free(in->fds);
    close(in->old_life_fd);
    close(in->sock);
    if (in->old_pidfd >= 0)
        close(in->old_pidfd);
    return 0;
}
