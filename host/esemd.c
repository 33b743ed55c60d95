/*
 * esemd — the host daemon (untrusted runtime) around the trusted core.
 *
 * The main thread owns the control socket: it authenticates each connection
 * with SO_PEERCRED, binds the session to the process (pidfd + start time),
 * creates the client's private channel (a sealed memfd passed only to that
 * client), answers esemctl, and notices client death (pidfd readable or
 * socket hang-up).  Worker threads (dataplane.c) serve the channels.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "esemd.h"
#include "life.h"
#include "util.h"

struct daemon_state D;

static FILE *logf_;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int listen_fd = -1, sig_fd = -1, ep_fd = -1, lock_fd = -1;
static struct client **clients;
static uint32_t nclients_cap;
static uint32_t nclients_live;
static int shutting_down;
static int sys_on;             /* --system */
static struct sys_conf sysc;   /* its user, group and socket group */

/* epoll data: event type, the client's generation (so a late event of a
 * freed client never reaches a newcomer that reuses its id), its id. */
enum { EV_LISTEN = 1, EV_SIGNAL, EV_SOCK, EV_PIDFD };
#define EV(type, gen, id)                                                                          \
    (((uint64_t)(type) << 56) | (((uint64_t)(gen) & 0xffffffu) << 32) | (uint32_t)(id))
static uint32_t client_gen;

void esemd_log(const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&log_mu);
    FILE *f = logf_ ? logf_ : stderr;
    fprintf(f, "%s.%03ldZ esemd[%d]: ", ts, now.tv_nsec / 1000000, (int)getpid());
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&log_mu);
    va_end(ap);
}

/* Audit lines for refused requests are rate-limited to 50 a second, so that
 * a client spraying garbage cannot fill the disk; the core's counters still
 * count every one, and a line says how many were left out. */
static _Atomic uint64_t audit_window, audit_in_window, audit_suppressed;

void esemd_refusal_flush(void)
{
    uint64_t s = atomic_exchange(&audit_suppressed, 0);
    if (s)
        esemd_log("audit: %llu more refusal lines suppressed (rate limit)", (unsigned long long)s);
}

static int audit_pending(void)
{
    return atomic_load(&audit_suppressed) != 0;
}

/* Called by the main loop: report what a finished burst left suppressed. */
static void audit_tick(void)
{
    uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC) / 1000000000ull;
    if (audit_pending() && atomic_load(&audit_window) != now)
        esemd_refusal_flush();
}

/* The last refusals, for `esemctl audit` — every one, also those whose
 * log line the rate limit suppressed. */
#define AUDIT_RING 1024u
struct audit_rec {
    uint64_t when_ms;
    int32_t pid;
    int32_t status; /* the core's status, 0 for a refusal outside the core */
    int32_t err;    /* the errno the caller got */
    uint32_t uid;
    char what[48];
};
static struct audit_rec audit_ring[AUDIT_RING];
static uint64_t audit_next; /* records ever written */
static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;

static void audit_record(const struct client *c, const char *what, int32_t st, int err)
{
    pthread_mutex_lock(&audit_mu);
    struct audit_rec *r = &audit_ring[audit_next++ % AUDIT_RING];
    r->when_ms = esem_util_now_ns(CLOCK_REALTIME) / 1000000ull;
    r->pid = c ? (int32_t)c->pid : -1;
    r->uid = c ? (uint32_t)c->uid : 0u;
    r->status = st;
    r->err = err;
    snprintf(r->what, sizeof r->what, "%s", what);
    pthread_mutex_unlock(&audit_mu);
}

void esemd_refusal(const struct client *c, const char *what, int32_t st)
{
    audit_record(c, what, st, esem_status_errno(st));
    uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC) / 1000000000ull;
    uint64_t ws = atomic_load(&audit_window);
    if (ws != now && atomic_compare_exchange_strong(&audit_window, &ws, now)) {
        esemd_refusal_flush();
        atomic_store(&audit_in_window, 0);
    }
    if (atomic_fetch_add(&audit_in_window, 1) >= 50) {
        atomic_fetch_add(&audit_suppressed, 1);
        return;
    }
    esemd_log("audit: refused %s pid=%d uid=%u: %s (%s)", what, c ? (int)c->pid : -1,
              c ? (unsigned)c->uid : 0u, core_strerror(st), strerror(esem_status_errno(st)));
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: esemd [options]\n"
            "  -s, --socket PATH    control socket (default: $XDG_RUNTIME_DIR/esem/esemd.sock,\n"
            "                       else /tmp/esem-$UID/esemd.sock)\n"
            "  -f, --foreground     stay in the foreground, log to stderr\n"
            "  -l, --log FILE       log file (default when detached: next to the socket)\n"
            "  -w, --workers N      worker threads (default: max(1, cores/2))\n"
            "      --max-sems N     semaphore table size (default 131072)\n"
            "      --max-clients N  client process table size (default 4096)\n"
            "      --spin-us N      how long an idle worker spins before sleeping (default 50)\n"
            "      --keyring FILE   provision the keys in FILE (64 hex digits a line, mode 0600)\n"
            "                       to the core, for key sessions (ESEM_KEY_FILE, esem_set_key)\n"
            "      --policy P       posix (default) or strict: the policy of new semaphores\n"
            "      --binding process|semaphore\n"
            "                       a worker per client process (default) or per semaphore\n"
            "      --no-seccomp     do not install the system-call allow-list\n"
            "      --system         system-wide daemon (as root; drops to --user):\n"
            "                       socket " ESEM_SYSTEM_SOCKET " for all local users\n"
            "      --user NAME      the system daemon's user (default " ESEM_SYSTEM_USER ")\n"
            "      --group GROUP    only members of GROUP may connect (socket 0660)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n");
}

/* ---- runtime directory and socket ---- */

static int make_private_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        esemd_log("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* The directory guards the socket: it must be ours, a real directory
     * and closed to others, or another user could swap the socket. */
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 0077)) {
        esemd_log("refusing runtime directory %s: not a private directory owned by uid %u", dir,
                  (unsigned)geteuid());
        return -1;
    }
    return 0;
}

static int open_socket(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        /* Only the default location's directory is created and vetted; an
         * explicit --socket lives wherever its caller arranged. */
        char def[PATH_MAX];
        if (!sys_on && esem_util_default_socket(def, sizeof def) == 0 &&
            strcmp(def, path) == 0 && make_private_dir(dir) < 0)
            return -1;
    }
    char lockp[PATH_MAX + 8];
    snprintf(lockp, sizeof lockp, "%s.lock", path);
    lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0) {
        esemd_log("cannot create lock file %s: %s", lockp, strerror(errno));
        return -1;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        esemd_log("another esemd serves %s (lock %s is held)", path, lockp);
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        esemd_log("socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path); /* stale: we hold the lock, so nobody serves it */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* Per-user: 0700, the daemon's uid only.  System-wide: 0666, or 0660
     * for the --group; the core checks each request against its caller. */
    mode_t old = umask(!sys_on ? 0077 : sysc.group_only ? 0117 : 0111);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r < 0 || listen(fd, 128) < 0) {
        esemd_log("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- clients ---- */

static void admin_start(struct client *c);

static struct client *client_new(int sock)
{
    uint32_t id = 0;
    while (id < nclients_cap && clients[id])
        id++;
    if (id == nclients_cap) {
        uint32_t cap = nclients_cap ? nclients_cap * 2 : 64;
        struct client **n = realloc(clients, cap * sizeof *n);
        if (!n)
            return NULL;
        memset(n + nclients_cap, 0, (cap - nclients_cap) * sizeof *n);
        clients = n;
        nclients_cap = cap;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    c->gen = ++client_gen & 0xffffffu;
    c->sock = sock;
    c->pidfd = c->efd = c->status_fd = -1;
    clients[id] = c;
    nclients_live++;
    return c;
}

/* End the core session: its waiters leave the queues, its opens close, and
 * from here on no worker can deliver a grant into its channel. */
static void session_close(struct client *c, const char *why)
{
    if (!c->session)
        return;
    uint32_t nw, no, nr;
    dp_session_end(c, &nw, &no, &nr);
    c->session = 0;
    if (c->kind == ESEM_HELLO_CLIENT)
        esemd_log("session end pid=%d uid=%u (%s): %u waiters removed, %u opens closed%s",
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
    clients[c->id] = NULL;
    nclients_live--;
    free(c);
}

/* Parse "12 34 56 78" (Uid:/Gid: lines): the fourth number, the fs id
 * that file access checks use. */
static int fourth_id(const char *p, uint32_t *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char *end;
        v = strtoul(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    *out = (uint32_t)v;
    return 0;
}

/* A process's file-system credentials, groups and umask, as the kernel
 * would use them to create a file now.
 *
 * There is no cache: every call reads /proc/PID/status, so an open is
 * checked against the caller's current fs uid/gid and groups, and a new
 * semaphore gets the umask the caller has at the moment esemd takes the
 * request (a umask() that returned before sem_open was called is always
 * seen), as open(2) would.  What is saved is the cost around the read:
 *  - *fdp keeps /proc/PID/status open for the session from its first
 *    open (lseek + read, no path walk); the descriptor names the process's
 *    struct pid, so once it has died a read fails (ESRCH) instead of
 *    showing a process that reused the pid.  The caller checks the pidfd
 *    after every read: a process alive then was alive when the descriptor
 *    was opened by its pid, so the descriptor is that process's;
 *  - the four lines we need are found by their first bytes, not with a
 *    sscanf per line per field (that alone was ~20 us of a ~40 us open).
 * With fdp NULL the file is opened and closed here. */
int esemd_proc_creds_at(int *fdp, pid_t pid, struct proc_creds *pc)
{
    char path[64], buf[4096];
    int fd = fdp ? *fdp : -1;
    if (fd < 0) {
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (fdp)
            *fdp = fd;
    }
    ssize_t n = -1;
    if (lseek(fd, 0, SEEK_SET) == 0)
        n = read(fd, buf, sizeof buf - 1);
    if (!fdp)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    memset(pc, 0, sizeof *pc);
    pc->umask = 022;
    int have = 0;
    const char *end = buf + n;
    for (char *line = buf; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl)
            *nl = 0;
        if (line[0] == 'U' && strncmp(line, "Uid:", 4) == 0) {
            if (fourth_id(line + 4, &pc->uid) == 0)
                have |= 1;
        } else if (line[0] == 'G' && strncmp(line, "Gid:", 4) == 0) {
            if (fourth_id(line + 4, &pc->gid) == 0)
                have |= 2;
        } else if (line[0] == 'U' && strncmp(line, "Umask:", 6) == 0) {
            pc->umask = (uint32_t)strtoul(line + 6, NULL, 8) & 0777u;
        } else if (line[0] == 'G' && strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *e;
            while (pc->ngroups < CORE_NGROUPS_MAX) {
                unsigned long g = strtoul(p, &e, 10);
                if (e == p || (*e != ' ' && *e != '\t' && *e))
                    break;
                pc->groups[pc->ngroups++] = (uint32_t)g;
                p = e;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return have == 3 ? 0 : -1;
}

int esemd_proc_creds(pid_t pid, struct proc_creds *pc)
{
    return esemd_proc_creds_at(NULL, pid, pc);
}

static int send_reply(int sock, const struct esem_hello_reply *rep, const int *fds, int nfds)
{
    struct iovec iov = {.iov_base = (void *)rep, .iov_len = sizeof *rep};
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 3)
        return -1;
    if (nfds) {
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof *rep ? 0 : -1;
}

static void hello_fail(struct client *c, int err, const char *why)
{
    struct esem_hello_reply rep = {.err = err};
    esemd_log("audit: refused connection pid=%d uid=%u: %s", (int)c->pid, (unsigned)c->uid, why);
    char what[48];
    snprintf(what, sizeof what, "connection (%s)", why);
    audit_record(c, what, 0, err);
    send_reply(c->sock, &rep, NULL, 0);
    client_free(c, "refused");
}

/* Is `c` really a child of the process behind session `parent`?  The parent
 * must still be alive (its pidfd) and be the same process (start time), so a
 * process that was handed a dead client's PID passes on nothing. */
static int may_inherit(const struct client *c, core_id_t parent, pid_t ppid)
{
    uint32_t idx = (uint32_t)parent - 1;
    if (idx >= D.max_sessions)
        return 0;
    struct client *p = D.by_session[idx];
    if (!p || p->session != parent || p->kind != ESEM_HELLO_CLIENT)
        return 0;
    /* A child that already changed its identity must not pick up its
     * parent's semaphores late; libesem's children connect inside fork(). */
    if (c->uid != p->uid || c->gid != p->gid)
        return 0;
    uint64_t pst;
    if (p->pid != ppid || esem_util_proc_stat(ppid, &pst, NULL) < 0 || pst != p->start_time)
        return 0;
    return esem_util_pidfd_alive(p->pidfd);
}

static void handle_hello(struct client *c)
{
    struct esem_hello h;
    /* MSG_TRUNC: the real length, so an oversized hello is refused, not cut */
    ssize_t n = recv(c->sock, &h, sizeof h, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno == EAGAIN)
        return;
    struct ucred cr;
    socklen_t crl = sizeof cr;
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0) {
        hello_fail(c, EIO, "no peer credentials");
        return;
    }
    c->pid = cr.pid;
    c->uid = cr.uid;
    c->gid = cr.gid;
    if (n != (ssize_t)sizeof h || h.magic != ESEM_PROTO_MAGIC) {
        hello_fail(c, EPROTO, "malformed hello");
        return;
    }
    if (h.version != ESEM_PROTO_VERSION) {
        hello_fail(c, EPROTO, "protocol version mismatch");
        return;
    }
    if (h.kind != ESEM_HELLO_CLIENT && h.kind != ESEM_HELLO_ADMIN) {
        hello_fail(c, EPROTO, "unknown connection kind");
        return;
    }
    /* Bind the session to this very process: pidfd first, then read its
     * start time, then check the pidfd still names a live process, so the
     * /proc data cannot belong to a successor that reused the PID. */
    c->pidfd = esem_util_pidfd_open(c->pid);
    pid_t ppid = 0;
    if (c->pidfd < 0 || esem_util_proc_stat(c->pid, &c->start_time, &ppid) < 0 ||
        !esem_util_pidfd_alive(c->pidfd)) {
        hello_fail(c, ESRCH, "peer process vanished");
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
    if (esemd_proc_creds(c->pid, &pc) == 0) {
        so.ngroups = pc.ngroups;
        memcpy(so.groups, pc.groups, sizeof so.groups);
        c->creds = pc;
    }
    c->creds.uid = c->uid; /* the connection's own credentials */
    c->creds.gid = c->gid;
    so.start_time = c->start_time;
    if (h.kind == ESEM_HELLO_CLIENT && h.key_id) {
        so.key_id = h.key_id;
        memcpy(so.nonce, h.nonce, sizeof so.nonce);
    }
    struct esem_hello_reply rep = {0};
    pthread_mutex_lock(&D.core_mu);
    int32_t st = core_ecall(D.core, CORE_ECALL_SESSION_OPEN, &so, sizeof so);
    if (st == CORE_OK) {
        c->session = so.session;
        c->key_id = so.key_id;
        c->kind = (int)h.kind;
        D.by_session[(uint32_t)so.session - 1] = c;
        if (h.inherit_session && h.kind == ESEM_HELLO_CLIENT) {
            if (!may_inherit(c, h.inherit_session, ppid)) {
                st = CORE_E_PERM;
            } else {
                struct core_session_inherit_args ia = {.child = c->session,
                                                       .parent = h.inherit_session};
                st = core_ecall(D.core, CORE_ECALL_SESSION_INHERIT, &ia, sizeof ia);
                rep.inherited = ia.nopens;
            }
        }
    }
    pthread_mutex_unlock(&D.core_mu);
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
    memcpy(rep.proof, so.proof, sizeof rep.proof);
    rep.core_nonce = so.core_nonce;
    /* An admin connection sees every semaphore, every user's included: on
     * the system-wide daemon, only root and the daemon's user get one. */
    if (h.kind == ESEM_HELLO_ADMIN && sys_on && c->uid != 0 && c->uid != geteuid()) {
        hello_fail(c, EACCES, "admin connection from a user other than root and the daemon's");
        return;
    }
    if (h.kind == ESEM_HELLO_ADMIN) {
        if (send_reply(c->sock, &rep, NULL, 0) < 0)
            client_free(c, "hello reply failed");
        else
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
    dp_attach(c);
    int r = send_reply(c->sock, &rep, fds, 3);
    close(memfd);
    if (r < 0) {
        client_free(c, "hello reply failed");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_PIDFD, c->gen, c->id)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->pidfd, &ev);
    char keyinfo[40] = "";
    if (so.key_id)
        snprintf(keyinfo, sizeof keyinfo, " key=%016llx", (unsigned long long)so.key_id);
    esemd_log("session start pid=%d uid=%u gid=%u%s%s", (int)c->pid, (unsigned)c->uid,
              (unsigned)c->gid, keyinfo,
              h.inherit_session ? " (inherits its parent's opens)" : "");
}

/* ---- admin ---- */

static int admin_send(struct client *c, struct esem_admin_msg *m)
{
    return send(c->sock, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

static void admin_members(struct client *c, core_id_t h, uint32_t call, uint32_t type)
{
    struct core_sem_member_args a = {.handle = h, .cursor = 0};
    for (int guard = 0; guard < 1000000; guard++) {
        pthread_mutex_lock(&D.core_mu);
        int32_t st = core_ecall(D.core, call, &a, sizeof a);
        pthread_mutex_unlock(&D.core_mu);
        if (st != CORE_OK || !a.found)
            return;
        struct esem_admin_msg m;
        memset(&m, 0, sizeof m);
        m.type = type;
        m.pid = a.pid;
        m.count = a.count;
        m.prio = a.prio;
        if (admin_send(c, &m) < 0 || a.next == 0xffffffffu)
            return;
        a.cursor = a.next;
    }
}

static void admin_acl(struct client *c, core_id_t h)
{
    struct core_sem_acl_args a = {.handle = h, .cursor = 0};
    for (int guard = 0; guard < 1000000; guard++) {
        pthread_mutex_lock(&D.core_mu);
        int32_t st = core_ecall(D.core, CORE_ECALL_SEM_ACL, &a, sizeof a);
        pthread_mutex_unlock(&D.core_mu);
        if (st != CORE_OK || !a.found)
            return;
        struct esem_admin_msg m;
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_ACL;
        m.who = a.who;
        m.allow = a.allow;
        m.deny = a.deny;
        if (admin_send(c, &m) < 0 || a.next == 0xffffffffu)
            return;
        a.cursor = a.next;
    }
}

/* Who may see a semaphore in `esemctl ls|show`: its owning uid, root, and
 * the daemon's own user (a system daemon's users do not see each other's). */
static int admin_may_see(const struct client *c, const struct core_sem_info *si)
{
    return c->uid == 0 || c->uid == geteuid() || c->uid == si->uid;
}

/* Serve one admin request; -1 ends the connection. */
static int admin_request(struct client *c)
{
    struct esem_admin_msg req, m;
    ssize_t n = recv(c->sock, &req, sizeof req, MSG_TRUNC);
    if (n != (ssize_t)sizeof req) {
        if (n > 0)
            esemd_refusal(c, "admin (malformed)", CORE_E_BADCALL);
        return -1;
    }
    memset(&m, 0, sizeof m);
    switch (req.type) {
    case ESEM_ADM_LIST:
    case ESEM_ADM_SHOW: {
        uint32_t nl = req.name_len < ESEM_NAME_BUF ? req.name_len : 0;
        struct core_sem_info_args a;
        memset(&a, 0, sizeof a);
        int shown = 0;
        for (;;) {
            pthread_mutex_lock(&D.core_mu);
            core_ecall(D.core, CORE_ECALL_SEM_INFO, &a, sizeof a);
            pthread_mutex_unlock(&D.core_mu);
            if (!a.found)
                break;
            a.cursor = a.next;
            if (!admin_may_see(c, &a.info))
                continue;
            if (req.type == ESEM_ADM_SHOW) {
                /* match by name, or by id ("#<handle>") for anonymous ones */
                char idbuf[32];
                snprintf(idbuf, sizeof idbuf, "#%llx", (unsigned long long)a.info.handle);
                int byname = (a.info.flags & CORE_SEMF_NAMED) && a.info.name_len == nl &&
                             !(a.info.flags & CORE_SEMF_UNLINKED) &&
                             memcmp(a.info.name, req.name, nl) == 0;
                int byid = nl == strlen(idbuf) && memcmp(idbuf, req.name, nl) == 0;
                if (!byname && !byid)
                    continue;
            }
            memset(&m, 0, sizeof m);
            m.type = ESEM_ADM_SEM;
            m.sem = a.info;
            if (admin_send(c, &m) < 0)
                return -1;
            shown++;
            if (req.type == ESEM_ADM_SHOW) {
                admin_members(c, a.info.handle, CORE_ECALL_SEM_HOLDERS, ESEM_ADM_HOLDER);
                admin_members(c, a.info.handle, CORE_ECALL_SEM_WAITERS, ESEM_ADM_WAITER);
                admin_acl(c, a.info.handle);
                break;
            }
        }
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_END;
        m.err = (req.type == ESEM_ADM_SHOW && !shown) ? ENOENT : 0;
        return admin_send(c, &m);
    }
    case ESEM_ADM_STATS: {
        struct core_stats_args a;
        pthread_mutex_lock(&D.core_mu);
        core_ecall(D.core, CORE_ECALL_STATS, &a, sizeof a);
        pthread_mutex_unlock(&D.core_mu);
        m.type = ESEM_ADM_STATSREC;
        m.stats = a.stats;
        m.uptime_ms = (esem_util_now_ns(CLOCK_MONOTONIC) - D.start_ns) / 1000000ull;
        m.nclients = nclients_live;
        m.nworkers = (uint32_t)D.nworkers;
        return admin_send(c, &m);
    }
    case ESEM_ADM_AUDIT: {
        pthread_mutex_lock(&audit_mu);
        uint64_t end = audit_next, start = end > AUDIT_RING ? end - AUDIT_RING : 0;
        struct audit_rec copy[64];
        pthread_mutex_unlock(&audit_mu);
        /* copy out in batches so the lock is never held across a send */
        for (uint64_t i = start; i < end;) {
            uint64_t batch = end - i < 64 ? end - i : 64;
            pthread_mutex_lock(&audit_mu);
            if (audit_next - i > AUDIT_RING) { /* overwritten meanwhile: skip ahead */
                pthread_mutex_unlock(&audit_mu);
                i = audit_next - AUDIT_RING;
                continue;
            }
            for (uint64_t j = 0; j < batch; j++)
                copy[j] = audit_ring[(i + j) % AUDIT_RING];
            pthread_mutex_unlock(&audit_mu);
            for (uint64_t j = 0; j < batch; j++) {
                memset(&m, 0, sizeof m);
                m.type = ESEM_ADM_AUDITREC;
                m.pid = (uint32_t)copy[j].pid;
                m.count = copy[j].uid;
                m.prio = copy[j].err;
                m.err = copy[j].status;
                m.uptime_ms = copy[j].when_ms;
                m.name_len = (uint32_t)strlen(copy[j].what);
                memcpy(m.name, copy[j].what, m.name_len);
                if (admin_send(c, &m) < 0)
                    return -1;
            }
            i += batch;
        }
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_END;
        return admin_send(c, &m);
    }
    case ESEM_ADM_SHUTDOWN:
        m.type = ESEM_ADM_END;
        if (c->uid != geteuid() && c->uid != 0) {
            m.err = EPERM;
            esemd_refusal(c, "shutdown", CORE_E_PERM);
        } else {
            esemd_log("shutdown requested by pid=%d uid=%u", (int)c->pid, (unsigned)c->uid);
            /* the main loop stops through its signalfd, as for SIGTERM */
            kill(getpid(), SIGTERM);
        }
        return admin_send(c, &m);
    default:
        m.type = ESEM_ADM_END;
        m.err = EINVAL;
        esemd_refusal(c, "admin (unknown request)", CORE_E_BADCALL);
        return admin_send(c, &m);
    }
}

/* An admin connection gets its own thread, so a long listing or a stuck
 * esemctl never stalls the main loop (hellos, death detection).  The send
 * timeout bounds how long a reader that stopped reading can hold it. */
static void *admin_main(void *arg)
{
    struct client *c = arg;
    while (admin_request(c) == 0)
        ;
    session_close(c, "admin done");
    close(c->sock);
    free(c);
    return NULL;
}

static void admin_start(struct client *c)
{
    epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->sock, NULL);
    clients[c->id] = NULL;
    nclients_live--;
    int fl = fcntl(c->sock, F_GETFL);
    fcntl(c->sock, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {5, 0};
    setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){60, 0}, sizeof tv);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &at, admin_main, c) != 0) {
        session_close(c, "no admin thread");
        close(c->sock);
        free(c);
    }
    pthread_attr_destroy(&at);
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
    if (n > 0) {
        esemd_refusal(c, "control message after hello", CORE_E_BADCALL);
        return;
    }
    if (n < 0 && errno == EAGAIN && !(events & (EPOLLHUP | EPOLLERR)))
        return;
    client_free(c, "hang-up");
}

static void accept_all(void)
{
    for (;;) {
        int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (s < 0) {
            if (errno != EAGAIN && errno != EINTR)
                esemd_log("accept: %s", strerror(errno));
            return;
        }
        struct client *c = client_new(s);
        if (!c) {
            close(s);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV(EV_SOCK, c->gen, c->id)};
        epoll_ctl(ep_fd, EPOLL_CTL_ADD, s, &ev);
    }
}

/* ---- start-up ---- */

/* Provision the keys of a keyring file to the core: one key per line, 64
 * hex digits (esemctl keygen writes them); blank lines and #-comments are
 * skipped.  The file must be the daemon user's and private to it.  (Under
 * SGX the core would get its keys sealed or over an attested channel; here
 * the host hands them in once, at start, and wipes its copies.) */
static int load_keyring(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        esemd_log("keyring %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        esemd_log("keyring %s: must be a regular file of uid %u with mode 0600 or stricter",
                  path, (unsigned)geteuid());
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return -1;
    }
    char line[256];
    int n = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n")] = 0;
        if (*p == 0 || *p == '#')
            continue;
        struct core_key_add_args ka;
        size_t len = 0;
        if (strlen(p) != 2 * CORE_KEY_BYTES ||
            sodium_hex2bin(ka.key, sizeof ka.key, p, strlen(p), NULL, &len, NULL) != 0 ||
            len != CORE_KEY_BYTES) {
            esemd_log("keyring %s:%d: not a key (64 hex digits)", path, lineno);
            bad = 1;
            break;
        }
        int32_t r = core_ecall(D.core, CORE_ECALL_KEY_ADD, &ka, sizeof ka);
        sodium_memzero(&ka, sizeof ka);
        if (r != CORE_OK) {
            esemd_log("keyring %s:%d: %s", path, lineno, core_strerror(r));
            bad = 1;
            break;
        }
        n++;
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    if (bad)
        return -1;
    esemd_log("keyring %s: %d key(s) provisioned to the core", path, n);
    return 0;
}

static uint32_t parse_u32(const char *s, const char *opt)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == 0 || *end || v == 0 || v > (1ul << 24)) {
        fprintf(stderr, "esemd: bad value for %s: %s\n", opt, s);
        exit(2);
    }
    return (uint32_t)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, 0, 's'}, {"foreground", no_argument, 0, 'f'},
        {"log", required_argument, 0, 'l'},    {"workers", required_argument, 0, 'w'},
        {"max-sems", required_argument, 0, 'S'}, {"max-clients", required_argument, 0, 'C'},
        {"spin-us", required_argument, 0, 'P'}, {"no-seccomp", no_argument, 0, 'N'},
        {"binding", required_argument, 0, 'B'}, {"system", no_argument, 0, 'Y'},
        {"user", required_argument, 0, 'U'},  {"group", required_argument, 0, 'G'},
        {"keyring", required_argument, 0, 'K'}, {"policy", required_argument, 0, 'O'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    const char *path = NULL, *logpath = NULL;
    int foreground = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nworkers = ncpu >= 4 ? (int)(ncpu / 2) : 1;
    struct core_config cfg = {.max_sems = 131072, .max_sessions = 4096};
    uint64_t spin_us = 50;
    int use_seccomp = 1;
    int system_mode = 0;          /* --system: /run/esem, a dedicated user */
    const char *run_user = NULL;  /* --user: who the system daemon runs as */
    const char *keyring = NULL;   /* --keyring: keys provisioned to the core */
    const char *run_group = NULL; /* --group: who may connect to it */
    int o;
    while ((o = getopt_long(argc, argv, "s:fl:w:hV", opts, NULL)) != -1) {
        switch (o) {
        case 's': path = optarg; break;
        case 'f': foreground = 1; break;
        case 'l': logpath = optarg; break;
        case 'w': nworkers = (int)parse_u32(optarg, "--workers"); break;
        case 'S': cfg.max_sems = parse_u32(optarg, "--max-sems"); break;
        case 'C': cfg.max_sessions = parse_u32(optarg, "--max-clients"); break;
        case 'P': spin_us = strtoull(optarg, NULL, 10); break;
        case 'N': use_seccomp = 0; break;
        case 'B':
            if (strcmp(optarg, "process") == 0)
                D.binding = ESEM_BIND_PROCESS;
            else if (strcmp(optarg, "semaphore") == 0)
                D.binding = ESEM_BIND_SEMAPHORE;
            else {
                fprintf(stderr, "esemd: --binding is process or semaphore, not %s\n", optarg);
                return 2;
            }
            break;
        case 'Y': system_mode = 1; break;
        case 'K': keyring = optarg; break;
        case 'O':
            if (strcmp(optarg, "strict") == 0)
                cfg.flags |= CORE_CFG_STRICT;
            else if (strcmp(optarg, "posix") != 0) {
                fprintf(stderr, "esemd: --policy is posix or strict, not %s\n", optarg);
                return 2;
            }
            break;
        case 'U': run_user = optarg; break;
        case 'G': run_group = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("esemd " ESEM_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if ((run_user || run_group) && !system_mode) {
        fprintf(stderr, "esemd: --user and --group need --system\n");
        return 2;
    }
    if (system_mode) {
        int rc = sys_resolve(run_user, run_group, &sysc);
        if (rc)
            return rc;
        sys_on = 1;
        /* The log and lock file are the daemon's alone; the socket sets its
         * own mode. */
        umask(0077);
    }
    if (nworkers > 64)
        nworkers = 64;
    cfg.max_opens = cfg.max_sems <= (1u << 23) ? cfg.max_sems * 2 : 1u << 24;
    cfg.max_waiters = cfg.max_sems / 2 > 1024 ? cfg.max_sems / 2 : 1024;
    cfg.max_long_names = cfg.max_sems / 16 > 64 ? cfg.max_sems / 16 : 64;
    cfg.max_acls = cfg.max_sems;
    cfg.max_keys = 256;
    cfg.max_keyed = cfg.max_sessions < 1024 ? cfg.max_sessions : 1024;

    char defpath[sizeof sock_path];
    if (!path && sys_on) {
        path = ESEM_SYSTEM_SOCKET;
    } else if (!path) {
        if (esem_util_default_socket(defpath, sizeof defpath) < 0) {
            fprintf(stderr, "esemd: default socket path too long\n");
            return 1;
        }
        path = defpath;
    }
    if (strlen(path) >= sizeof sock_path) {
        fprintf(stderr, "esemd: socket path too long (%zu bytes, at most %zu): %s\n", strlen(path),
                sizeof sock_path - 1, path);
        return 2;
    }
    snprintf(sock_path, sizeof sock_path, "%s", path);
    /* The default directory must exist before the log beside the socket.
     * System-wide, the socket's directory is always the runtime directory:
     * created by root, handed to the daemon user, vetted. */
    char defdir[sizeof sock_path];
    if (sys_on) {
        snprintf(defdir, sizeof defdir, "%s", sock_path);
        char *sl = strrchr(defdir, '/');
        if (defdir[0] != '/' || sl == defdir) {
            fprintf(stderr, "esemd: --system needs an absolute socket path below a directory: %s\n",
                    sock_path);
            return 2;
        }
        *sl = 0;
        if (sys_runtime_dir(defdir, &sysc) < 0)
            return 1;
    } else if (esem_util_default_socket(defdir, sizeof defdir) == 0 &&
               strcmp(defdir, sock_path) == 0) {
        *strrchr(defdir, '/') = 0;
        if (make_private_dir(defdir) < 0)
            return 1;
    }

    /* Detach before creating threads; the parent waits until we listen so
     * that "esemd && client" works. */
    int ready[2] = {-1, -1};
    if (!foreground) {
        if (pipe2(ready, O_CLOEXEC) < 0)
            return 1;
        pid_t p = fork();
        if (p < 0)
            return 1;
        if (p > 0) {
            char ok = 0;
            close(ready[1]);
            if (read(ready[0], &ok, 1) != 1 || ok != 1) {
                fprintf(stderr, "esemd: failed to start (see the log)\n");
                return 1;
            }
            return 0;
        }
        close(ready[0]);
        setsid();
        /* A daemon keeps none of its starter's descriptors (a pipe held open
         * here would keep "esemd | tail" or a CI job waiting forever). */
        if (ready[1] != 3) {
            dup2(ready[1], 3);
            close(ready[1]);
            ready[1] = 3;
        }
        close_range(4, ~0u, 0);
        if (!logpath) {
            /* esemd.sock -> esemd.log, beside the socket */
            static char lp[PATH_MAX];
            snprintf(lp, sizeof lp, "%s", sock_path);
            char *dot = strrchr(lp, '.');
            if (dot && strcmp(dot, ".sock") == 0)
                *dot = 0;
            strncat(lp, ".log", sizeof lp - strlen(lp) - 1);
            logpath = lp;
        }
    }
    if (logpath) {
        /* System-wide, root opens nothing for writing on the daemon's
         * behalf: the log is opened as the daemon user (a link planted in
         * its directory leads nowhere it could not write anyway). */
        if (sys_on && sys_as_user(&sysc, 1, sysc.gid) < 0) {
            fprintf(stderr, "esemd: cannot switch to %s: %s\n", sysc.user, strerror(errno));
            return 1;
        }
        logf_ = fopen(logpath, "ae");
        int err = errno;
        if (sys_on && sys_as_user(&sysc, 0, 0) < 0)
            return 1;
        if (!logf_) {
            fprintf(stderr, "esemd: cannot open log %s: %s%s\n", logpath, strerror(err),
                    sys_on ? " (opened as the daemon user)" : "");
            return 1;
        }
    }
    harden_process();
    if (sodium_init() < 0) {
        esemd_log("libsodium failed to start");
        return 1;
    }
    randombytes_buf(&cfg.entropy, sizeof cfg.entropy);
    signal(SIGPIPE, SIG_IGN);

    uint64_t asz = core_arena_size(&cfg);
    const char *arena_kind = "none";
    void *arena = asz ? harden_arena(asz, &arena_kind) : NULL;
    if (!arena || !(D.core = core_init(arena, asz, &cfg))) {
        esemd_log("cannot set up the core (%llu bytes)", (unsigned long long)asz);
        return 1;
    }
    pthread_mutex_init(&D.core_mu, NULL);
    if (keyring && load_keyring(keyring) < 0)
        return 1;
    D.max_sessions = cfg.max_sessions;
    D.by_session = calloc(cfg.max_sessions, sizeof *D.by_session);
    D.spin_ns = spin_us * 1000ull;
    {
        /* the CPUs we may run on: what the spin policy compares the
         * runnable count with (a cpuset or taskset may give us fewer) */
        cpu_set_t cs;
        D.ncpu = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : (int)ncpu;
        if (D.ncpu < 1)
            D.ncpu = 1;
    }
    D.start_ns = esem_util_now_ns(CLOCK_MONOTONIC);

    if (sys_on) {
        sys_memlock(asz);
        /* Lock file and socket are made by the daemon user (the socket in
         * the --group if any), in its directory. */
        if (sys_as_user(&sysc, 1, sysc.sock_gid) < 0) {
            esemd_log("cannot switch to %s: %s", sysc.user, strerror(errno));
            return 1;
        }
    }
    listen_fd = open_socket(sock_path);
    if (sys_on && sys_as_user(&sysc, 0, 0) < 0) {
        esemd_log("cannot switch back to root: %s", strerror(errno));
        return 1;
    }
    if (listen_fd < 0)
        return 1;
    /* Root was needed up to here only; workers and seccomp come after. */
    if (sys_on) {
        if (sys_drop(&sysc) < 0 || sys_probe_peers() < 0)
            return 1;
        if (sysc.group_only)
            esemd_log("system-wide: socket mode 0660, group %s (gid %u): only its members "
                      "(and root) may connect",
                      sysc.group, (unsigned)sysc.sock_gid);
        else
            esemd_log("system-wide: socket mode 0666: every local user may connect; each "
                      "request is checked against its caller");
    }
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ss, NULL); /* workers inherit the mask */
    sig_fd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!D.by_session || sig_fd < 0 || ep_fd < 0 || life_start() < 0 || dp_start(nworkers) < 0) {
        esemd_log("start-up failed: %s", strerror(errno));
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_LISTEN, 0, 0)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.u64 = EV(EV_SIGNAL, 0, 0);
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, sig_fd, &ev);

    struct core_stats_args sa;
    core_ecall(D.core, CORE_ECALL_STATS, &sa, sizeof sa);
    esemd_log("start: socket %s, %d worker(s) bound per %s, %u semaphores max, %u clients max, "
              "core arena %llu bytes (%s), %u bytes per semaphore object",
              sock_path, nworkers, D.binding == ESEM_BIND_SEMAPHORE ? "semaphore" : "process",
              cfg.max_sems, cfg.max_sessions, (unsigned long long)asz,
              arena_kind, sa.stats.sem_bytes);
#ifdef ESEM_SANITIZED
    /* LeakSanitizer stops the world with ptrace at exit: no filter here. */
    use_seccomp = 0;
    esemd_log("seccomp filter off: sanitizer build");
#endif
    if (!foreground) {
        /* Let go of the starter's stdio now: dup2 is not on the seccomp
         * allow-list, and a daemon that kept them would hold a pipe such as
         * "./run demo | tail" open forever.  From here on only the log. */
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0) {
            esemd_log("cannot redirect standard I/O to /dev/null: %s", strerror(errno));
            return 1;
        }
        close(nul);
    }
    if (use_seccomp && harden_seccomp() < 0) {
        esemd_log("cannot install the seccomp filter: %s", strerror(errno));
        return 1;
    }
    if (use_seccomp)
        esemd_log("seccomp allow-list installed");
    if (!foreground) {
        char ok = 1;
        if (write(ready[1], &ok, 1) != 1)
            return 1;
        close(ready[1]);
    }

    while (!shutting_down) {
        struct epoll_event evs[64];
        /* wake within a second while suppressed audit lines await their count */
        int n = epoll_wait(ep_fd, evs, 64, audit_pending() ? 1000 : -1);
        audit_tick();
        if (n < 0 && errno != EINTR) {
            esemd_log("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint32_t type = (uint32_t)(evs[i].data.u64 >> 56);
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32) & 0xffffffu;
            uint32_t id = (uint32_t)evs[i].data.u64;
            if (type == EV_LISTEN) {
                accept_all();
            } else if (type == EV_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                    esemd_log("signal %d from pid %d: shutting down", (int)si.ssi_signo,
                              (int)si.ssi_pid);
                    shutting_down = 1;
                }
            } else if (id < nclients_cap && clients[id] && clients[id]->gen == gen) {
                if (type == EV_SOCK)
                    on_sock(clients[id], evs[i].events);
                else if (type == EV_PIDFD)
                    client_free(clients[id], "process exited");
            }
        }
    }

    life_end();
    for (uint32_t i = 0; i < nclients_cap; i++)
        if (clients[i])
            client_free(clients[i], "daemon stopping");
    dp_stop();
    esemd_refusal_flush();
    unlink(sock_path);
    esemd_log("stop");
    return 0;
}
