/*
 * libFuzzer target: esemd's input from clients — the hello on its socket,
 * the admin protocol, and the per-client channel as the workers parse it.
 *
 * The daemon's own modules (host/, all but main) run in this process: the
 * core, the life page, a worker thread, the clients' table and the admin
 * threads, as esemd's start-up steps set them up, on a listening socket of
 * its own.  Each input is a program of connections; each connection sends
 * a hello (raw input bytes, or a well-formed one whose fields come from the
 * input: client or admin, inheritance claims, key ids), and then, if the
 * daemon accepted it, either writes input bytes into its channel slots
 * (the request half: op, flags, handle, value, name...) and rings the
 * doorbell, or sends admin messages (any type, any name).  The main loop's
 * part (accepting, the hello, hang-ups) is pumped here as esemd's serve()
 * does.  After each input every connection is closed and the daemon must
 * get back to nothing: no client, no core session, no waiter queued
 * (abort() otherwise).  A finding is a crash or sanitizer report, a hang
 * (SIGALRM), or a daemon that does not get back to nothing.
 *
 * Without libFuzzer, replay.c drives it over the checked-in corpus
 * (tests/fuzz/corpus/daemon) and a fixed set of generated inputs.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "daemon.h"
#include "dataplane.h"
#include "fuzz_input.h"
#include "life.h"
#include "log.h"
#include "util.h"

struct daemon_state esemd;

static int ep_fd = -1, listen_fd = -1;
static struct sockaddr_un addr;
/* how far the inputs got, printed at exit (so a run shows it reached the
 * channel and the admin protocol, not only refused hellos) */
static unsigned long n_conn, n_client, n_admin, n_requests, n_replies, n_admin_msgs;

static void report(void)
{
    fprintf(stderr,
            "fuzz_daemon: %lu connections: %lu client and %lu admin sessions; %lu channel "
            "requests (%lu answered at once), %lu admin messages\n",
            n_conn, n_client, n_admin, n_requests, n_replies, n_admin_msgs);
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_daemon: %s (errno %d)\n", what, errno);
    abort();
}

static void remove_socket(void)
{
    unlink(addr.sun_path);
    char *sl = strrchr(addr.sun_path, '/');
    if (sl) {
        *sl = 0;
        rmdir(addr.sun_path);
    }
}

/* esemd's start-up, the steps that matter here (host/esemd.c): a small
 * core, the life page, one worker bound per process, the clients' table. */
static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_IGN); /* an admin SHUTDOWN signals "the daemon": us */
    FILE *devnull = fopen("/dev/null", "we");
    if (!devnull || sodium_init() < 0)
        die("set-up");
    log_to(devnull);
    struct core_config cfg = {.max_sems = 256, .max_sessions = 64, .max_opens = 512,
                              .max_waiters = 256, .max_long_names = 16, .max_acls = 256,
                              .max_keys = 4, .max_keyed = 16, .max_sets = 32,
                              .max_set_sems = 256, .max_undos = 64, .max_sysv_ops = 64};
    cfg.exempt_uid = (uint32_t)geteuid();
    randombytes_buf(&cfg.entropy, sizeof cfg.entropy);
    uint64_t asz = core_arena_size(&cfg);
    void *arena = aligned_alloc(4096, (asz + 4095) & ~4095ull);
    if (!arena || !(esemd.core = core_init(arena, asz, &cfg)))
        die("core_init");
    pthread_mutex_init(&esemd.core_mu, NULL);
    esemd.max_sessions = cfg.max_sessions;
    esemd.by_session = calloc(cfg.max_sessions, sizeof *esemd.by_session);
    esemd.spin_ns = 50000;
    esemd.ncpu = 1;
    esemd.exempt_uid = cfg.exempt_uid;
    esemd.start_ns = esem_util_now_ns(CLOCK_MONOTONIC);
    esemd.allow_takeover = 1; /* a TAKEOVER hello gets through its gate */
    ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!esemd.by_session || ep_fd < 0 || life_start(cfg.max_sems) < 0 || dp_start(1) < 0)
        die("start");
    esemd.wake = life_wake(&esemd.nwake);
    char dir[] = "/tmp/esem-fuzz-daemon-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/s", dir);
    listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listen_fd, 64) < 0)
        die("listen");
    atexit(remove_socket);
    atexit(report);
    clients_init(ep_fd);
}

/* The main thread's part of esemd's serve(): accept, hellos, hang-ups. */
static void pump(void)
{
    clients_accept(listen_fd);
    for (int round = 0; round < 8; round++) {
        struct epoll_event evs[16];
        int n = epoll_wait(ep_fd, evs, 16, 0);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            clients_event(evs[i].data.u64, evs[i].events);
        /* a takeover the gate let through: no second daemon here to hand
         * the state to, so it ends as a failed one does */
        struct client *t = clients_takeover_asked();
        if (t)
            clients_takeover_failed(t);
    }
}

static int connect_daemon(void)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    pump(); /* accept it */
    return s;
}

/* The hello's answer and its descriptors, pumping until it comes. */
static int read_reply(int s, struct esem_hello_reply *rep, int fds[3])
{
    for (int tries = 0; tries < 200; tries++) {
        pump();
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, tries < 10 ? 0 : 5) <= 0)
            continue;
        char cbuf[CMSG_SPACE(3 * sizeof(int))];
        struct iovec iov = {rep, sizeof *rep};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
        if (n != (ssize_t)sizeof *rep)
            return -1; /* refused: the daemon closed it */
        int nfd = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                memcpy(fds, CMSG_DATA(c), (size_t)(nfd < 3 ? nfd : 3) * sizeof(int));
            }
        return nfd;
    }
    return -1;
}

/* Scribble on the channel as a client may, ring, and give the worker a
 * moment; replies are read only to pace the next request. */
static void channel_program(struct in *in, const struct esem_hello_reply *rep, int fds[3])
{
    if (rep->chan_size != sizeof(struct esem_chan))
        die("channel size");
    struct esem_chan *ch = mmap(NULL, sizeof *ch, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    if (ch == MAP_FAILED)
        die("mmap channel");
    for (int n = u8(in) % 16; n > 0 && in->n; n--) {
        uint32_t k = u8(in) % 8; /* a few slots: repeats meet earlier state */
        struct esem_slot *s = &ch->slot[k];
        uint8_t what = u8(in);
        if (what & 1) { /* a request with its fields from the input */
            s->op = u8(in) % (ESEM_OP_MAX_ + 2);
            s->oflag = u8(in) & 1 ? u8(in) : u32(in);
            s->handle = u8(in) & 1 ? ch->slot[u8(in) % 8].rhandle : (uint64_t)u32(in) << 32 | u32(in);
            s->value = u8(in) & 1 ? u8(in) : u32(in);
            s->mode = u8(in) & 1 ? 0600 : u32(in);
            s->prio = (int32_t)(u8(in) % 5) - 2;
            s->name_len = u8(in) & 1 ? u8(in) % 12 : u32(in);
            bytes(in, s->name, 12 + u8(in) % 32);
            s->ack_seq = u8(in) & 1 ? s->rep_seq : u32(in);
        } else { /* raw bytes over the request half */
            bytes(in, s, 64);
        }
        if (u8(in) & 1)
            s->cancel_seq++;
        s->req_seq++;
        ch->hdr.active[0] |= 1ull << k;
        if (u8(in) & 3) {
            uint64_t one = 1;
            if (write(fds[1], &one, sizeof one) < 0)
                die("doorbell");
        }
        /* a request that blocks gets no reply: at most 2 ms for one */
        uint64_t until = esem_util_now_ns(CLOCK_MONOTONIC) + 2000000;
        while (s->rep_seq != s->req_seq && esem_util_now_ns(CLOCK_MONOTONIC) < until)
            sched_yield();
        n_requests++;
        n_replies += s->rep_seq == s->req_seq;
    }
    munmap(ch, sizeof *ch);
}

/* Admin messages with their fields from the input; the answers are read
 * until the daemon's END (or nothing comes for a while). */
static void admin_program(struct in *in, int s)
{
    for (int n = u8(in) % 4; n > 0 && in->n; n--) {
        struct esem_admin_msg m;
        memset(&m, 0, sizeof m);
        uint8_t t = u8(in);
        m.type = t < 200 ? 1u + t % 6u : u32(in);
        if (m.type == ESEM_ADM_SHUTDOWN)
            m.type = ESEM_ADM_STATS; /* esemd would stop: nothing to fuzz after it */
        m.name_len = u8(in) & 1 ? u8(in) % 16 : u32(in);
        bytes(in, m.name, 16);
        size_t len = u8(in) & 7 ? sizeof m : u8(in);
        if (send(s, &m, len, MSG_NOSIGNAL) < 0)
            return;
        n_admin_msgs++;
        for (;;) {
            struct pollfd p = {.fd = s, .events = POLLIN};
            if (poll(&p, 1, 200) <= 0)
                return;
            struct esem_admin_msg r;
            ssize_t got = recv(s, &r, sizeof r, 0);
            if (got <= 0)
                return;
            if (got == (ssize_t)sizeof r && (r.type == ESEM_ADM_END || r.type == ESEM_ADM_STATSREC))
                break;
        }
    }
}

static void connection(struct in *in)
{
    int s = connect_daemon();
    n_conn++;
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    uint8_t form = u8(in);
    size_t len = sizeof h;
    if (form % 8 == 0) { /* raw bytes, any length */
        len = u8(in) % (sizeof h + 8);
        uint8_t raw[sizeof h + 8];
        bytes(in, raw, len);
        (void)send(s, raw, len, MSG_NOSIGNAL);
    } else {
        h.magic = form % 8 == 1 ? u32(in) : ESEM_PROTO_MAGIC;
        h.version = form % 8 == 2 ? u32(in) : ESEM_PROTO_VERSION;
        uint8_t k = u8(in) % 16;
        h.kind = form % 8 == 3 ? u32(in)
                 : k == 15    ? ESEM_HELLO_TAKEOVER
                 : k % 4      ? ESEM_HELLO_CLIENT
                              : ESEM_HELLO_ADMIN;
        if (u8(in) % 4 == 0) { /* an inheritance claim */
            h.inherit_session = u8(in) & 1 ? (uint64_t)u8(in) % 4 + 1 : (uint64_t)u32(in) << 32 | u32(in);
            bytes(in, h.inherit_token, sizeof h.inherit_token);
        }
        if (u8(in) % 4 == 0) { /* a key session's id (no key is provisioned) */
            h.key_id = u32(in);
            bytes(in, h.nonce, sizeof h.nonce);
        }
        (void)send(s, &h, len, MSG_NOSIGNAL);
    }
    struct esem_hello_reply rep;
    int fds[3] = {-1, -1, -1};
    int nfd = read_reply(s, &rep, fds);
    if (nfd >= 0 && rep.err == 0) {
        if (nfd == 3) {
            n_client++;
            channel_program(in, &rep, fds);
        } else {
            n_admin++;
            admin_program(in, s);
        }
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    close(s);
    pump(); /* the hang-up ends its session */
}

/* Everything closed: the daemon must get back to nothing (admin threads
 * end their sessions on their own, so wait a little for them). */
static void check_idle(void)
{
    struct core_stats_args a;
    for (int tries = 0; tries < 500; tries++) {
        pump();
        clients_tick();
        pthread_mutex_lock(&esemd.core_mu);
        core_ecall(esemd.core, CORE_ECALL_STATS, &a, sizeof a);
        pthread_mutex_unlock(&esemd.core_mu);
        if (!atomic_load(&esemd.nclients) && !a.stats.sessions_in_use &&
            !a.stats.waiters_in_use && !atomic_load(&esemd.nqueued))
            return;
        usleep(1000);
    }
    fprintf(stderr, "fuzz_daemon: not back to nothing: %u clients, %u sessions, %u waiters, %u queued\n",
            atomic_load(&esemd.nclients), a.stats.sessions_in_use, a.stats.waiters_in_use,
            atomic_load(&esemd.nqueued));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a hang is a finding too (SIGALRM's default action ends the run) */
    alarm(20);
    struct in in = {data, size};
    for (int n = 0; in.n && n < 6; n++)
        connection(&in);
    check_idle();
    alarm(0);
    return 0;
}
