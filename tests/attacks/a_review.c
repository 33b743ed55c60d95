/*
 * The rows of the security review's findings (issue #15): each attack as
 * the reviewer ran it, against esem (it must fail) and, where glibc or the
 * kernel has the same surface, against them.
 *
 *   borrowed-credentials (1, TM-host, other uid): connect as nobody, hand
 *       the channel to a helper, exec a setuid-root program; the helper
 *       opens and unlinks root's 0600 semaphore as if it were root.
 *   late-hello (2, TM-host, other uid): connect as nobody, hand the socket
 *       to a helper, exit; a root process gets the pid; the helper says
 *       hello and would be bound to that root process.
 *   boundary-double-fetch (3, TM-SGX simulated): a host thread flips the
 *       session field of a direct post between a PID session and a key
 *       session while the core runs.
 *   sequence-wrap (4, TM-SGX simulated): a recorded request replayed once
 *       its slot's numbers moved 2^31 on; an old reply's MAC offered as the
 *       answer to another request of the same number.
 *   revoke-queued (5, TM-host): a wait queued before a revoke is granted
 *       by the next post.
 *   exec-reclaim (6, TM-host): an exec'd child claims its parent's session.
 *   shim-private-fallback (8, TM-host): with ESEM_PRIVATE=glibc a writer of
 *       a shared segment turns an esem sem_t into a glibc one.
 * Finding 7 (a same-uid program posing as the per-user esemd) is a stated
 * limit, not a row: docs/ATTACKS.md.
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

/* ---- helpers ---- */

static int sock_only(const char *path)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    return s;
}

/* Send a client hello on an open socket; the errno the daemon answered. */
static int hello_on(int s, uint64_t inherit)
{
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    h.magic = ESEM_PROTO_MAGIC;
    h.version = ESEM_PROTO_VERSION;
    h.kind = ESEM_HELLO_CLIENT;
    h.inherit_session = inherit;
    /* esemd may have refused the connection already (at accept, when the
     * connecting process was gone by then) and closed it: the send fails,
     * but its reply is still there to read */
    int sent = send(s, &h, sizeof h, MSG_NOSIGNAL) == (ssize_t)sizeof h;
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    struct timeval tv = {10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                close(((int *)CMSG_DATA(cm))[i]);
    if (n != (ssize_t)sizeof rep)
        return sent ? -ECONNRESET : -EPIPE;
    return rep.err;
}

static uint32_t fs_uid_of(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return UINT32_MAX;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return UINT32_MAX;
    buf[n] = 0;
    char *u = strstr(buf, "\nUid:");
    unsigned a, b, c, d;
    if (!u || sscanf(u + 5, "%u %u %u %u", &a, &b, &c, &d) != 4)
        return UINT32_MAX;
    return d;
}

/* ---- roles (argv[1] says which part) ---- */

/* review creds SOCK NAME SUIDPROG: connect as ourselves, fork a helper that
 * keeps the connection, exec the setuid program; the helper acts once the
 * exec'd process runs with fs uid 0. */
static int creds_role(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    struct rawc c;
    int r = rawc_connect(&c, argv[2], 0);
    if (r != 0) {
        say("ERR connect: %s", errname(r < 0 ? -r : r));
        say("DONE");
        return 1;
    }
    pid_t me = getpid();
    pid_t h = fork();
    if (h < 0)
        return 1;
    if (h > 0) {
        /* the one that connected becomes a setuid-root program */
        char *const args[] = {argv[4], "4", NULL};
        execv(argv[4], args);
        _exit(127);
    }
    long t0 = now_ms();
    while (fs_uid_of(me) != 0 && now_ms() - t0 < 5000)
        sleep_ms(5);
    uint32_t fsu = fs_uid_of(me);
    say("NOTE uid %u connected (pid %d), handed its channel to helper %d, then exec'd %s: fs "
        "uid now %u",
        (unsigned)getuid(), (int)me, (int)getpid(), argv[4], fsu);
    if (fsu != 0) {
        say("ERR the setuid program did not run as root (fs uid %u)", fsu);
        say("DONE");
        return 1;
    }
    uint64_t rh = 0;
    int o = rawc_op(&c, ESEM_OP_OPEN, 0, argv[3], 0, 0, 0, &rh, NULL, 3000);
    int p = o == 0 ? rawc_op(&c, ESEM_OP_POST, rh, NULL, 0, 0, 0, NULL, NULL, 3000) : -1;
    int u = rawc_op(&c, ESEM_OP_UNLINK, 0, argv[3], 0, 0, 0, NULL, NULL, 3000);
    /* EINVAL: esemd saw the exec (its /proc/PID/exe changed) and ended
     * the session; EACCES: the credentials rose above those it connected
     * with (an exec of the same file) */
    int refused = (o == EACCES || o == EINVAL) && (u == EACCES || u == EINVAL);
    say("%s the helper's open of root's 0600 %s through the borrowed channel: %s; post: %s; "
        "unlink: %s",
        refused ? "OK" : "FAIL", argv[3], o == 0 ? "OPENED" : errname(o),
        o == 0 ? (p == 0 ? "POSTED" : errname(p)) : "-", u == 0 ? "UNLINKED" : errname(u));
    if (refused)
        say("AUDIT %d open", (int)me);
    rawc_close(&c);
    say("DONE");
    return 0;
}

/* review late-hello SOCK: connect, hand the socket to a helper, exit; the
 * helper says hello when told ("go"). */
static int late_hello_role(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int s = sock_only(argv[2]);
    if (s < 0) {
        say("ERR connect: %s", errname(errno));
        return 1;
    }
    pid_t me = getpid();
    pid_t h = fork();
    if (h < 0)
        return 1;
    if (h > 0) {
        say("connected pid=%d", (int)me);
        _exit(0); /* the connector is gone; its pid is free */
    }
    char line[64];
    if (hear(line, sizeof line, 60000) < 0 || strcmp(line, "go") != 0) {
        say("ERR no go");
        say("DONE");
        return 1;
    }
    int err = hello_on(s, 0);
    /* ESRCH: the process that connected is gone (seen at the hello, or
     * already at accept, when it exited before esemd accepted).  On a slow
     * machine the pid reuse may take longer than esemd's hello timeout
     * (5 s): the connection is then closed before the hello — a refusal
     * too, noted as such. */
    int closed = err == ETIMEDOUT || err == -EPIPE || err == -ECONNRESET;
    if (closed)
        say("NOTE the setup took longer than esemd's 5 s hello timeout: the connection was "
            "closed before the hello (%s)",
            err < 0 ? errname(-err) : errname(err));
    say("%s a hello sent after the connecting process %d exited and its pid was reused by a "
        "root process: %s",
        err == ESRCH || closed ? "OK" : "FAIL", (int)me,
        err == 0 ? "ACCEPTED (a session bound to the root process)"
        : closed ? "refused (connection closed: no hello in time)"
                 : errname(err < 0 ? -err : err));
    say("DONE");
    return 0;
}

/* review sleeper: a process that holds a pid until its stdin closes. */
static int sleeper_role(void)
{
    say("asleep pid=%d uid=%u", (int)getpid(), (unsigned)getuid());
    char line[16];
    while (hear(line, sizeof line, 60000) == 0)
        ;
    return 0;
}

static struct core *sim_core(void **arena)
{
    struct core_config cfg = {.max_sems = 16, .max_sessions = 8, .max_opens = 32,
                              .max_waiters = 16, .max_long_names = 2, .max_acls = 16,
                              .max_keys = 4, .max_keyed = 4};
    uint64_t sz = core_arena_size(&cfg);
    *arena = aligned_alloc(64, (sz + 63) & ~(uint64_t)63);
    return *arena ? core_init(*arena, sz, &cfg) : NULL;
}

struct keysess {
    core_id_t id;
    uint8_t ks[CORE_KEY_BYTES];
};

static int sim_key_session(struct core *c, uint8_t fill, struct keysess *k)
{
    struct core_key_add_args ka;
    memset(ka.key, fill, sizeof ka.key);
    uint8_t key[CORE_KEY_BYTES];
    memcpy(key, ka.key, sizeof key);
    if (core_ecall(c, CORE_ECALL_KEY_ADD, &ka, sizeof ka) != CORE_OK)
        return -1;
    struct core_session_open_args so;
    memset(&so, 0, sizeof so);
    so.pid = 100 + fill;
    so.uid = 1000;
    so.start_time = 7;
    so.key_id = ka.key_id;
    if (core_ecall(c, CORE_ECALL_SESSION_OPEN, &so, sizeof so) != CORE_OK)
        return -1;
    k->id = so.session;
    core_auth_session_key(key, so.session, so.nonce, so.core_nonce, k->ks);
    return 0;
}

static int32_t sim_req(struct core *c, const struct keysess *k, struct core_request_args *a)
{
    a->session = k->id;
    core_auth_req_mac(k->ks, &a->req, a->mac);
    return core_ecall(c, CORE_ECALL_REQUEST, a, sizeof *a);
}

/* The key session opens (creates) a 2-letter name through a MACed request
 * on `slot`; the handle, or 0 if the core refused. */
static core_id_t sim_open(struct core *c, const struct keysess *k, const char *name,
                          uint32_t flags, uint32_t slot)
{
    struct core_request_args a;
    memset(&a, 0, sizeof a);
    a.req.call = CORE_ECALL_SEM_OPEN;
    a.req.flags = CORE_O_CREAT | flags;
    a.req.mode = 0600;
    a.req.slot = slot;
    a.req.seq = 1;
    a.req.name_len = 2;
    memcpy(a.req.name, name, 2);
    return sim_req(c, k, &a) == CORE_OK ? a.handle : 0;
}

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

/* review race: the host flips the session of a direct post under the core. */
static int race_role(void)
{
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

/* review seqwrap: 64-bit request numbers; replies bound to their request. */
static int seqwrap_role(void)
{
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

/* review owner BACKEND NAME: creates NAME 0666 value 0; on "revoke" takes
 * away the other uid's right to wait (esem) or chmods the file 0600
 * (glibc: the nearest thing), then posts. */
static int owner_role(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[2]);
    umask(0);
    void *s = ops->open(argv[3], O_CREAT | O_EXCL, 0666, 0);
    if (!s) {
        say("ERR create: %s", errname(errno));
        return 1;
    }
    if (strcmp(argv[2], "glibc") == 0) {
        char p[300];
        snprintf(p, sizeof p, "/dev/shm/sem.%s", argv[3] + 1);
        chmod(p, 0666); /* the umask */
    }
    say("ready");
    char line[64];
    if (hear(line, sizeof line, 30000) == 0 && strcmp(line, "revoke") == 0) {
        int r;
        if (strcmp(argv[2], "esem") == 0) {
            struct esem_principal who = {.kind = ESEM_P_UID, .id = LAB_OTHER_UID};
            r = esem_revoke((esem_t *)s, &who, ESEM_R_WAIT);
        } else {
            char p[300];
            snprintf(p, sizeof p, "/dev/shm/sem.%s", argv[3] + 1);
            r = chmod(p, 0600);
        }
        int e = errno;
        int pr = ops->post(s);
        say("revoked %s posted %s", r == 0 ? "0" : errname(e), pr == 0 ? "0" : errname(errno));
    }
    if (hear(line, sizeof line, 30000) == 0) {
        int v = -1;
        ops->getvalue(s, &v);
        say("value %d", v);
    }
    ops->close(s);
    ops->unlink(argv[3]);
    return 0;
}

/* review waiter BACKEND NAME: opens NAME and waits (10 s). */
static int waiter_role(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const struct nsem_ops *ops = nsem_backend(argv[2]);
    void *s = ops->open(argv[3], 0, 0, 0);
    if (!s) {
        say("got open-%s", errname(errno));
        return 1;
    }
    say("waiting pid=%d", (int)getpid());
    struct timespec dl = deadline_in(10000);
    int r = ops->timedwait(s, &dl);
    say("got %s", r == 0 ? "0" : errname(errno));
    ops->close(s);
    return 0;
}

/* review reclaim SOCK SELF: hold a strict semaphore, fork a child that
 * execs SELF as "reclaim-child SOCK SESSION", which claims our session. */
static int reclaim_role(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    struct rawc c;
    int r = rawc_connect(&c, argv[2], 0);
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
        char *const args[] = {argv[3], "--role", "review", "reclaim-child", argv[2], sess, NULL};
        execv(argv[3], args);
        _exit(127);
    }
    int st = 0;
    waitpid(k, &st, 0);
    rawc_op(&c, ESEM_OP_UNLINK, 0, name, 0, 0, 0, NULL, NULL, 3000);
    rawc_close(&c);
    say("DONE");
    return 0;
}

static int reclaim_child_role(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    uint64_t parent = strtoull(argv[3], NULL, 10);
    struct rawc c;
    /* the exact session id, and guesses around it (generation and index) */
    int exact = rawc_connect(&c, argv[2], parent);
    if (exact == 0)
        rawc_close(&c);
    int won = exact == 0;
    for (int i = 1; i < 64 && !won; i++) {
        uint64_t guess = parent + ((uint64_t)(i % 8) << 32) + (uint64_t)(i / 8);
        if (rawc_connect(&c, argv[2], guess) == 0) {
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

/* review segv BACKEND PATH: a victim under the shim with ESEM_PRIVATE=glibc
 * (esem) or on glibc: a process-shared sem_t at offset 0 of the file PATH,
 * mapped shared; on "try", five trywaits. */
static int segv_role(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int fd = open(argv[3], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0)
        return 1;
    sem_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED || sem_init(s, 1, 0) != 0) {
        say("ERR sem_init: %s", errname(errno));
        return 1;
    }
    say("ready");
    char line[32];
    if (hear(line, sizeof line, 30000) == 0) {
        int ok = 0, last = 0;
        for (int i = 0; i < 5; i++) {
            if (sem_trywait(s) == 0)
                ok++;
            else
                last = errno;
        }
        say("took %d last %s", ok, ok == 5 ? "-" : errname(last));
    }
    return 0;
}

int role_review(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *part = argv[1];
    if (strcmp(part, "creds") == 0)
        return creds_role(argc, argv);
    if (strcmp(part, "late-hello") == 0)
        return late_hello_role(argc, argv);
    if (strcmp(part, "sleeper") == 0)
        return sleeper_role();
    if (strcmp(part, "race") == 0)
        return race_role();
    if (strcmp(part, "seqwrap") == 0)
        return seqwrap_role();
    if (strcmp(part, "owner") == 0)
        return owner_role(argc, argv);
    if (strcmp(part, "waiter") == 0)
        return waiter_role(argc, argv);
    if (strcmp(part, "reclaim") == 0)
        return reclaim_role(argc, argv);
    if (strcmp(part, "reclaim-child") == 0)
        return reclaim_child_role(argc, argv);
    if (strcmp(part, "segv") == 0)
        return segv_role(argc, argv);
    return 2;
}

/* ---- the orchestrator's side ---- */

static void relay_role(struct side *s, enum who who, int shim, char *const *args, int ms)
{
    struct proc p;
    size_t mark = log_mark();
    if (proc_startv(&p, who, shim, "review", args) < 0) {
        s_error(s, "cannot start the %s role", args[0]);
        return;
    }
    relay(&p, s, mark, ms);
    proc_end(&p);
}

/* A setuid-root copy of /bin/sleep in a directory others may enter. */
static int suid_sleep(char *path, size_t len, char *dir, size_t dlen)
{
    snprintf(dir, dlen, "/tmp/esemlab-suid-XXXXXX");
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
        return -1;
    snprintf(path, len, "%s/sleep", dir);
    int in = open("/bin/sleep", O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    if (in >= 0)
        close(in);
    if (out < 0)
        return -1;
    close(out);
    return chmod(path, 04755);
}

void creds_glibc(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid)");
        return;
    }
    char name[128];
    lab_name(name, sizeof name, "creds-glibc");
    sem_t *g = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (g == SEM_FAILED) {
        s_error(s, "root's glibc semaphore: %s", errname(errno));
        return;
    }
    struct proc p;
    char line[LAB_LINE];
    int refused = 0;
    if (proc_start(&p, WHO_OTHER, 0, "review", "waiter", "glibc", name, NULL) == 0) {
        refused = proc_expect(&p, "got open-", line, sizeof line, 5000) == 0;
        proc_end(&p);
    }
    s_summary(s, "nobody's sem_open of root's 0600 semaphore: %s (the kernel checks each call's "
                 "own caller; there is no channel to borrow)",
              refused ? line + 4 : "OPENED");
    s_check(s, refused,
            "same: the kernel checks every sem_open against the calling process itself, so "
            "there is no channel to borrow: nobody's open of root's 0600 /dev/shm/sem.NAME: %s",
            refused ? line + 4 : "OPENED");
    sem_close(g);
    sem_unlink(name);
}

void creds_esem(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid, a setuid program)");
        return;
    }
    char name[128], prog[300], dir[256];
    lab_name(name, sizeof name, "creds");
    if (suid_sleep(prog, sizeof prog, dir, sizeof dir) < 0) {
        s_error(s, "cannot make a setuid program in /tmp: %s", errname(errno));
        return;
    }
    /* root's semaphore, made through a raw connection (the orchestrator
     * keeps no libesem state that its fork()s would carry) */
    struct rawc rc;
    int made = rawc_connect(&rc, lab.sock, 0);
    if (made == 0)
        made = rawc_op(&rc, ESEM_OP_OPEN, 0, name + 1, CORE_O_CREAT | CORE_O_EXCL, 0600, 0, NULL,
                       NULL, 3000);
    if (made != 0) {
        s_error(s, "root's semaphore: %s", errname(made < 0 ? -made : made));
    } else {
        char *const args[] = {"creds", (char *)lab.sock, name + 1, prog, NULL};
        relay_role(s, WHO_OTHER, 0, args, 20000);
        s_summary(s, "the helper's open and unlink of root's 0600 semaphore through nobody's "
                     "channel, after nobody exec'd a setuid-root program: refused (EINVAL: the "
                     "exec ended the session; credentials may only drop below those of the "
                     "connect), audited; the semaphore untouched");
        struct sem_info_lite i;
        int there = admin_find_name(lab.sock, name, &i) == 0;
        s_check(s, there && i.value == 0 && i.posts == 0,
                "root's semaphore is still there, untouched (value %u, %llu posts)",
                there ? i.value : 0, there ? (unsigned long long)i.posts : 0ull);
        rawc_op(&rc, ESEM_OP_UNLINK, 0, name + 1, 0, 0, 0, NULL, NULL, 3000);
    }
    rawc_close(&rc);
    unlink(prog);
    rmdir(dir);
}

void late_glibc(struct side *s)
{
    s_summary(s, "no connection to take over: the kernel checks each call's caller");
    s_check(s, 1,
            "same: glibc has no connection whose identity could be taken later; every "
            "sem_open is checked against its caller by the kernel (nothing to attack)");
}

void late_esem(struct side *s)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid, a root victim at the pid)");
        return;
    }
    struct proc a, v;
    char line[LAB_LINE];
    size_t mark = log_mark();
    if (proc_start(&a, WHO_OTHER, 0, "review", "late-hello", (char *)lab.sock, NULL) < 0 ||
        proc_expect(&a, "connected pid=", line, sizeof line, 5000) < 0) {
        s_error(s, "the attacker did not connect");
        proc_end(&a);
        return;
    }
    pid_t gone = (pid_t)atoi(line + 14);
    proc_reap(&a, 5000);
    char *const args[] = {"sleeper", NULL};
    char method[160];
    if (proc_start_at_pid(&v, gone, WHO_ROOT, "review", args, method, sizeof method) < 0) {
        s_error(s, "no root process with pid %d: %s", (int)gone, method);
        proc_end(&a);
        return;
    }
    proc_expect(&v, "asleep", line, sizeof line, 5000);
    s_note(s, "nobody's connector %d exited; a root process now has its pid (%s): %s",
           (int)gone, method, line);
    proc_cmd(&a, "go");
    s_summary(s, "the hello of a connection whose connecting process exited (its pid now a root "
                 "process's): refused ESRCH — the session is bound to the process that "
                 "connected (SO_PEERPIDFD), never to one found at hello time");
    relay(&a, s, mark, 20000);
    proc_end(&a);
    proc_end(&v);
}

void race_glibc(struct side *s)
{
    sgx_glibc(s);
}

void race_esem(struct side *s)
{
    char *const args[] = {"race", NULL};
    s_summary(s, "SIMULATED hostile host (core linked, no SGX): 1,000,000 direct posts while a "
                 "thread flips their session field between a PID session and a key session: "
                 "none accepted in the key session's name (one copy of the arguments, taken at "
                 "the boundary)");
    relay_role(s, WHO_LAB, 0, args, 60000);
}

void seqwrap_glibc(struct side *s)
{
    sgx_glibc(s);
}

void seqwrap_esem(struct side *s)
{
    char *const args[] = {"seqwrap", NULL};
    s_summary(s, "SIMULATED hostile host (core linked, no SGX): a recorded request replayed "
                 "after 2^31 more on its slot refused (64-bit numbers; a 32-bit comparison "
                 "accepts it); an old reply's MAC does not pass for another request (it binds "
                 "call and handle)");
    relay_role(s, WHO_LAB, 0, args, 20000);
}

static void revoke_run(struct side *s, const char *backend)
{
    if (!lab_can_other_uid()) {
        s_skip(s, "needs root (the other uid)");
        return;
    }
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, strcmp(backend, "esem") == 0 ? "revoke" : "revoke-glibc");
    struct proc o, w;
    if (proc_start(&o, WHO_LAB, 0, "review", "owner", backend, name, NULL) < 0 ||
        proc_expect(&o, "ready", line, sizeof line, 5000) < 0) {
        s_error(s, "owner did not start");
        proc_end(&o);
        return;
    }
    if (proc_start(&w, WHO_OTHER, 0, "review", "waiter", backend, name, NULL) < 0 ||
        proc_expect(&w, "waiting", line, sizeof line, 5000) < 0) {
        s_error(s, "waiter did not start: %s", line);
        proc_end(&o);
        proc_end(&w);
        return;
    }
    if (strcmp(backend, "esem") == 0)
        admin_wait_waiters(lab.sock, name, 0, 1, 5000);
    else
        sleep_ms(200);
    proc_cmd(&o, "revoke");
    proc_expect(&o, "revoked", line, sizeof line, 5000);
    s_note(s, "the owner took the waiting uid's right away and posted: %s", line);
    int got = proc_expect(&w, "got", line, sizeof line, 5000) == 0;
    char wl[LAB_LINE];
    snprintf(wl, sizeof wl, "%s", got ? line : "no return");
    proc_cmd(&o, "value");
    proc_expect(&o, "value", line, sizeof line, 5000);
    if (strcmp(backend, "esem") == 0)
        s_summary(s, "the other uid's wait, queued before the owner revoked its right to wait: "
                     "%s at the revoke; the owner's post stays for others (%s)",
                  wl + 4, line);
    else
        s_summary(s, "no revoke reaches an open handle: after chmod 0600 the next post released "
                     "the other uid's waiter (%s)",
                  wl);
    if (strcmp(backend, "esem") == 0)
        s_check(s, strcmp(wl, "got EACCES") == 0 && strcmp(line, "value 1") == 0,
                "the wait queued before the revoke: \"%s\" at once; the post stays (%s)", wl, line);
    else
        s_check(s, strcmp(wl, "got 0") == 0,
                "nothing reaches a wait already open: after chmod 0600 of the file the next "
                "post released the other uid's waiter: \"%s\" (%s)",
                wl, line);
    proc_end(&w);
    proc_end(&o);
}

void revoke_glibc(struct side *s)
{
    revoke_run(s, "glibc");
}

void revoke_esem(struct side *s)
{
    revoke_run(s, "esem");
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
    char *const args[] = {"reclaim", (char *)lab.sock, lab.self, NULL};
    s_summary(s, "an exec'd child (same uid, its parent alive) claiming its parent's session by "
                 "its exact id and 63 guesses: EPERM every time — inheritance needs the one-time "
                 "token the parent registered before fork(), which exec wipes");
    relay_role(s, WHO_LAB, 0, args, 30000);
}

static void privfb_run(struct side *s, int esem)
{
    char seg[300], name[128], line[LAB_LINE];
    lab_name(name, sizeof name, esem ? "privfb-esem" : "privfb-glibc");
    snprintf(seg, sizeof seg, "/dev/shm%s", name);
    unlink(seg);
    if (esem)
        setenv("ESEM_PRIVATE", "glibc", 1);
    struct proc v;
    int r = proc_start(&v, WHO_LAB, esem, "review", "segv", esem ? "esem" : "glibc", seg, NULL);
    unsetenv("ESEM_PRIVATE");
    if (r < 0 || proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_end(&v);
        return;
    }
    /* the writer of the segment: a glibc sem_t with value 5 over the victim's */
    int fd = open(seg, O_RDWR | O_CLOEXEC);
    void *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (m != MAP_FAILED) {
        sem_t fake;
        memset(&fake, 0, sizeof fake);
        sem_init(&fake, 1, 5);
        memcpy(m, &fake, sizeof fake);
        munmap(m, 4096);
    }
    if (fd >= 0)
        close(fd);
    proc_cmd(&v, "try");
    int got = proc_expect(&v, "took", line, sizeof line, 5000) == 0;
    if (esem)
        s_summary(s, "ESEM_PRIVATE=glibc: a glibc sem_t of value 5 written over the victim's "
                     "process-shared esem sem_t: %s (only addresses the process sem_init'ed "
                     "itself with pshared=0 go to glibc)",
                  got ? line : "no answer");
    else
        s_summary(s, "the writer of the segment set the victim's sem_t to 5: %s",
                  got ? line : "no answer");
    if (esem)
        s_check(s, got && strncmp(line, "took 0 ", 7) == 0,
                "ESEM_PRIVATE=glibc: the writer put a glibc sem_t of value 5 over the victim's "
                "process-shared esem sem_t; the victim's 5 trywaits: %s",
                got ? line : "no answer");
    else
        s_check(s, got && strncmp(line, "took 5", 6) == 0,
                "the writer of the segment set the victim's sem_t to value 5: the victim's 5 "
                "trywaits: %s",
                got ? line : "no answer");
    proc_end(&v);
    unlink(seg);
}

void privfb_glibc(struct side *s)
{
    privfb_run(s, 0);
}

void privfb_esem(struct side *s)
{
    privfb_run(s, 1);
}
