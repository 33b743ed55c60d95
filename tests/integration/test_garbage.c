/*
 * A hostile client (TM-host): raw bytes on the control socket, forged
 * hellos, and a legitimate session whose channel memory it then scribbles
 * on.  The daemon must refuse (and audit) what is malformed or not allowed,
 * answer what it can with a POSIX errno, keep serving everybody else, and
 * never crash: the group teardown asserts it still exits with status 0.
 */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "esem.h"
#include "proto.h"

#define NO_REPLY INT32_MIN

/* ---- random bytes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill_random(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)rnd();
}

/* ---- the control socket, raw ---- */

static int raw_connect_to(const char *path)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(s);
        s = -1;
    }
    return s;
}

static int raw_connect(void)
{
    return raw_connect_to(hx.sock);
}

/* A hello reply (and its fds) within 5 s: 0, or -1 if the daemon hung up or
 * said nothing. */
static int read_reply(int s, struct esem_hello_reply *rep, int fds[2])
{
    fds[0] = fds[1] = -1;
    struct pollfd p = {.fd = s, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return -1;
    struct iovec iov = {.iov_base = rep, .iov_len = sizeof *rep};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    if (n != (ssize_t)sizeof *rep)
        return -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cm), (nfd > 2 ? 2 : nfd) * sizeof(int));
        }
    return 0;
}

/* Send msg as the first message of a fresh connection; the errno of the
 * daemon's reply (0 = accepted), or -1 if none came. */
static int hello_err(const void *msg, size_t len)
{
    int s = raw_connect();
    assert_true(s >= 0);
    struct esem_hello_reply rep;
    int fds[2], err = -1;
    if (send(s, msg, len, MSG_NOSIGNAL) == (ssize_t)len && read_reply(s, &rep, fds) == 0)
        err = rep.err;
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    close(s);
    return err;
}

static struct esem_hello good_hello(uint32_t kind)
{
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = kind};
    return h;
}

/* ---- a raw client session ---- */

struct raw {
    int sock, memfd, efd;
    struct esem_chan *chan;
    struct esem_hello_reply rep;
    uint32_t seq[ESEM_NSLOTS];
};

/* 0, a positive errno from the daemon, or -1 (no answer). */
static int raw_open_at(struct raw *r, const char *path, uint64_t inherit)
{
    memset(r, 0, sizeof *r);
    r->memfd = r->efd = -1;
    r->sock = raw_connect_to(path);
    if (r->sock < 0)
        return -1;
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    h.inherit_session = inherit;
    int fds[2];
    if (send(r->sock, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h ||
        read_reply(r->sock, &r->rep, fds) < 0)
        return -1;
    r->memfd = fds[0];
    r->efd = fds[1];
    if (r->rep.err)
        return r->rep.err;
    if (r->memfd < 0 || r->efd < 0 || r->rep.chan_size != sizeof(struct esem_chan))
        return -1;
    void *m = mmap(NULL, r->rep.chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
    if (m == MAP_FAILED)
        return -1;
    r->chan = m;
    return 0;
}

static int raw_open(struct raw *r, uint64_t inherit)
{
    return raw_open_at(r, hx.sock, inherit);
}

static void raw_close(struct raw *r)
{
    if (r->chan)
        munmap(r->chan, sizeof *r->chan);
    if (r->memfd >= 0)
        close(r->memfd);
    if (r->efd >= 0)
        close(r->efd);
    if (r->sock >= 0)
        close(r->sock);
    r->chan = NULL;
    r->memfd = r->efd = r->sock = -1;
}

static void raw_ring(struct raw *r, uint32_t k)
{
    __atomic_fetch_or(&r->chan->hdr.active[k / 64], 1ull << (k % 64), __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (write(r->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        fail_msg("doorbell: %s", strerror(errno));
}

struct rq {
    uint32_t op, oflag, value, mode, name_len;
    uint64_t handle;
    const char *name;
};

static uint32_t raw_submit(struct raw *r, uint32_t k, const struct rq *q)
{
    struct esem_slot *s = &r->chan->slot[k];
    s->op = q->op;
    s->oflag = q->oflag;
    s->value = q->value;
    s->mode = q->mode;
    s->handle = q->handle;
    s->prio = 0;
    s->name_len = q->name_len;
    if (q->name) /* callers pass at least min(name_len, ESEM_NAME_BUF) bytes */
        memcpy(s->name, q->name, q->name_len < ESEM_NAME_BUF ? q->name_len : ESEM_NAME_BUF);
    uint32_t seq = ++r->seq[k];
    if (seq == 0)
        seq = ++r->seq[k];
    __atomic_store_n(&s->req_seq, seq, __ATOMIC_SEQ_CST);
    raw_ring(r, k);
    return seq;
}

/* The slot's status once rep_seq == seq, or NO_REPLY within timeout_ms. */
static int32_t raw_await(struct raw *r, uint32_t k, uint32_t seq, int timeout_ms)
{
    struct esem_slot *s = &r->chan->slot[k];
    for (int i = 0; i <= timeout_ms * 10; i++) {
        if (__atomic_load_n(&s->rep_seq, __ATOMIC_ACQUIRE) == seq)
            return s->status;
        struct timespec t = {0, 100000};
        nanosleep(&t, NULL);
    }
    return NO_REPLY;
}

static int32_t raw_call(struct raw *r, uint32_t k, const struct rq *q)
{
    return raw_await(r, k, raw_submit(r, k, q), 5000);
}

static void raw_cancel(struct raw *r, uint32_t k, uint32_t seq)
{
    __atomic_store_n(&r->chan->slot[k].cancel_seq, seq, __ATOMIC_SEQ_CST);
    raw_ring(r, k);
}

static uint64_t handle_of(const char *name)
{
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_true(sh.id[0] == '#');
    return strtoull(sh.id + 1, NULL, 16);
}

/* ---- the rest of the world still works ---- */

static void client_still_works(void)
{
    assert_true(hx_daemon_alive(&hx));
    char name[64];
    hx_name(name, sizeof name, "alive");
    esem_t *s = esem_open(name, O_CREAT, 0600, 0);
    assert_non_null(s);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(esem_wait(s), 0);
    errno = 0;
    assert_int_equal(esem_trywait(s), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* The audit log is rate-limited per second: start a fresh second before
 * looking for one particular line after a burst of refusals. */
static void fresh_audit_second(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    hx_sleep_ms(1000 - now.tv_nsec / 1000000 + 20);
}

/* ---- the control socket ---- */

static void random_bytes_are_refused(void **state)
{
    (void)state;
    size_t mark = hx_log_mark();
    static char buf[4096];
    for (int i = 0; i < 30; i++) {
        size_t n = 1 + rnd() % sizeof buf;
        fill_random(buf, n);
        assert_int_equal(hello_err(buf, n), EPROTO);
    }
    assert_true(hx_log_wait(mark, "audit: refused connection", 5000));
    client_still_works();
}

static void truncated_hello_is_refused(void **state)
{
    (void)state;
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    for (size_t n = 1; n < sizeof h; n += 5)
        assert_int_equal(hello_err(&h, n), EPROTO);
    assert_int_equal(hello_err(&h, sizeof h - 1), EPROTO);
    client_still_works();
}

static void oversized_message_is_refused(void **state)
{
    (void)state;
    static char big[64 * 1024];
    fill_random(big, sizeof big);
    assert_int_equal(hello_err(big, sizeof big), EPROTO);
    client_still_works();
}

/* A valid hello followed by junk in the same message is not a hello. */
static void hello_with_trailing_bytes_is_refused(void **state)
{
    (void)state;
    static char big[4096];
    fill_random(big, sizeof big);
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    memcpy(big, &h, sizeof h);
    assert_int_equal(hello_err(big, sizeof big), EPROTO);
    assert_int_equal(hello_err(big, sizeof h + 1), EPROTO);
    client_still_works();
}

static void bad_magic_version_or_kind_is_refused_and_audited(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    h.magic ^= 1;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    h = good_hello(ESEM_HELLO_CLIENT);
    h.version = ESEM_PROTO_VERSION + 1;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    h.version = 0;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    static const uint32_t kinds[] = {0, 4, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        h = good_hello(kinds[i]);
        assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    }
    /* a takeover (restart without loss) needs --allow-takeover */
    h = good_hello(ESEM_HELLO_TAKEOVER);
    assert_int_equal(hello_err(&h, sizeof h), EPERM);
    assert_true(hx_log_wait(mark, "audit: refused connection", 5000));
    assert_true(hx_log_wait(mark, "malformed hello", 5000));
    assert_true(hx_log_wait(mark, "protocol version mismatch", 5000));
    assert_true(hx_log_wait(mark, "unknown connection kind", 5000));
    client_still_works();
}

/* `esemctl audit` lists refusals from the daemon's ring, also those whose
 * log line the rate limit suppressed. */
static void refusals_are_listed_by_esemctl_audit(void **state)
{
    (void)state;
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    h.version = ESEM_PROTO_VERSION + 7;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    int st = -1;
    char *out = hx_ctl(&st, "audit", NULL);
    assert_int_equal(st, 0);
    assert_non_null(out);
    char want[96];
    snprintf(want, sizeof want, "\"pid\":%d,", (int)getpid());
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"errno\":\"EPROTO\""));
    assert_non_null(strstr(out, "protocol version mismatch"));
    free(out);
}

static void hang_ups_mid_handshake_are_harmless(void **state)
{
    (void)state;
    /* connect and leave */
    for (int i = 0; i < 10; i++) {
        int s = raw_connect();
        assert_true(s >= 0);
        close(s);
    }
    /* hello, but gone before the reply */
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    for (int i = 0; i < 10; i++) {
        int s = raw_connect();
        assert_true(s >= 0);
        assert_int_equal(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
        close(s);
    }
    /* a connection that never says anything does not hold others up */
    int idle = raw_connect();
    assert_true(idle >= 0);
    client_still_works();
    close(idle);
    client_still_works();
}

static void data_after_hello_is_refused_and_audited(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    char junk[300];
    fill_random(junk, sizeof junk);
    assert_int_equal(send(r.sock, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    assert_int_equal(send(r.sock, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    assert_true(hx_log_wait(mark, "audit: refused control message after hello", 5000));
    /* The session itself is unaffected. */
    struct rq q = {.op = ESEM_OP_CREATE, .value = 1};
    assert_int_equal(raw_call(&r, 0, &q), 0);
    raw_close(&r);
    client_still_works();
}

static void forged_inheritance_is_refused(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r, f;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(raw_open(&f, rnd() | 1), EPERM);
        raw_close(&f);
    }
    /* A live session of this very process: it is not our parent's. */
    assert_int_equal(raw_open(&r, 0), 0);
    assert_int_equal(raw_open(&f, r.rep.session), EPERM);
    raw_close(&f);
    raw_close(&r);
    assert_true(hx_log_wait(mark, "audit: refused inherit", 5000));
    client_still_works();
}

struct claim_arg {
    uint64_t session;
    uint64_t handle; /* a root-only semaphore that session holds open */
};

static int child_claim_after_setuid(void *arg)
{
    struct claim_arg *a = arg;
    HX_CHECK(hx_become(65534, 65534) == 0);
    struct raw r;
    int err = raw_open(&r, a->session);
    if (err == 0) {
        struct rq q = {.op = ESEM_OP_POST, .handle = a->handle};
        int32_t st = raw_await(&r, 0, raw_submit(&r, 0, &q), 5000);
        fprintf(stderr, "uid 65534 inherited its root parent's session; a post on the "
                        "parent's mode-0600 semaphore then gave status %d\n", (int)st);
    }
    HX_CHECK(err == EPERM);
    return 0;
}

/* A child that changed its uid before connecting must not pick up its
 * parent's opens (the library connects a child before any setuid; only a
 * forged hello comes after one). */
static void child_of_other_uid_cannot_claim_parents_session(void **state)
{
    (void)state;
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "claim");
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq q = {.op = ESEM_OP_OPEN, .oflag = CORE_O_CREAT | CORE_O_EXCL, .mode = 0600,
                   .name = name + 1, .name_len = (uint32_t)strlen(name + 1)};
    assert_int_equal(raw_call(&r, 0, &q), 0);
    struct claim_arg a = {.session = r.rep.session, .handle = r.chan->slot[0].rhandle};
    pid_t c = hx_fork(child_claim_after_setuid, &a);
    assert_true(c > 0);
    int st = hx_reap(c, 30000);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    raw_close(&r);
    esem_unlink(name);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child: %s", hx_status_str(st));
    assert_int_equal(sh.value, 0);
}

/* The audit log is rate-limited, but what it leaves out it must still
 * account for ("N refusal lines suppressed"), also when the burst is the
 * last thing that happens for a while. */
static void suppressed_refusals_are_accounted_for(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq q = {.op = 0};
    struct rq stale = {.op = ESEM_OP_TRYWAIT, .handle = 1}; /* refused, but well-formed */
    for (int i = 0; i < 200; i++) /* (64 malformed in a row would drop the client) */
        assert_int_equal(raw_call(&r, 0, i % 50 == 49 ? &stale : &q), EINVAL);
    raw_close(&r);
    int logged = hx_log_count(mark, "audit: refused");
    assert_true(logged > 0);
    if (logged < 200)
        assert_true(hx_log_wait(mark, "refusal lines suppressed", 5000));
    client_still_works();
}

/* ---- the channel ---- */

static void channel_is_sealed_against_resizing(void **state)
{
    (void)state;
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    assert_int_equal(r.rep.nslots, ESEM_NSLOTS);
    assert_int_equal(r.chan->hdr.magic, ESEM_PROTO_MAGIC);
    struct stat st;
    assert_int_equal(fstat(r.memfd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, r.rep.chan_size);
    int seals = fcntl(r.memfd, F_GET_SEALS);
    assert_true(seals >= 0);
    assert_true(seals & F_SEAL_SHRINK);
    assert_true(seals & F_SEAL_GROW);
    for (int i = 0; i < 20; i++) {
        off_t len = (off_t)(rnd() % (4 * r.rep.chan_size));
        if (len == (off_t)r.rep.chan_size)
            continue;
        errno = 0;
        assert_int_equal(ftruncate(r.memfd, len), -1);
        assert_int_equal(errno, EPERM);
    }
    errno = 0;
    assert_int_equal(ftruncate(r.memfd, 0), -1);
    assert_int_equal(fcntl(r.memfd, F_ADD_SEALS, F_SEAL_WRITE), -1); /* F_SEAL_SEAL */
    assert_int_equal(fstat(r.memfd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, r.rep.chan_size);
    raw_close(&r);
    client_still_works();
}

static void bad_requests_get_posix_errnos(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    static const uint32_t bad_ops[] = {0, ESEM_OP_MAX_, ESEM_OP_MAX_ + 1, 0x7fffffffu,
                                       0xffffffffu};
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
        struct rq q = {.op = bad_ops[i]};
        assert_int_equal(raw_call(&r, 1, &q), EINVAL);
    }
    char longname[ESEM_NAME_BUF];
    memset(longname, 'x', sizeof longname);
    static const uint32_t long_lens[] = {ESEM_NAME_MAX + 1, ESEM_NAME_BUF, ESEM_NAME_BUF + 1,
                                         0x10000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof long_lens / sizeof long_lens[0]; i++) {
        struct rq q = {.op = ESEM_OP_OPEN, .oflag = CORE_O_CREAT, .mode = 0600,
                       .name = longname, .name_len = long_lens[i]};
        assert_int_equal(raw_call(&r, 2, &q), ENAMETOOLONG);
        q.op = ESEM_OP_UNLINK;
        assert_int_equal(raw_call(&r, 2, &q), ENAMETOOLONG);
    }
    struct rq q = {.op = ESEM_OP_OPEN, .oflag = CORE_O_CREAT, .mode = 0600};
    q.name = "";
    q.name_len = 0;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.name = "a/b";
    q.name_len = 3;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.name = "a\0b";
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.name = "..";
    q.name_len = 2;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.name = "itest-garbage-flags";
    q.name_len = (uint32_t)strlen(q.name);
    q.oflag = 0xffffffffu;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.oflag = CORE_O_CREAT;
    q.mode = 0xffffffffu;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    q.mode = 0600;
    q.value = ESEM_VALUE_MAX + 1u;
    assert_int_equal(raw_call(&r, 3, &q), EINVAL);
    struct rq cq = {.op = ESEM_OP_CREATE, .value = 0x80000000u};
    assert_int_equal(raw_call(&r, 3, &cq), EINVAL);
    /* Nothing was created by any of it. */
    assert_int_equal(hx_show("/itest-garbage-flags", &(struct hx_show){0}), -1);

    /* Random handles, every handle-taking operation. */
    static const uint32_t handle_ops[] = {ESEM_OP_CLOSE,    ESEM_OP_DESTROY, ESEM_OP_POST,
                                          ESEM_OP_WAIT,     ESEM_OP_TRYWAIT, ESEM_OP_GETVALUE};
    for (int i = 0; i < 300; i++) {
        struct rq h = {.op = handle_ops[i % 6], .handle = i < 6 ? 0 : rnd()};
        assert_int_equal(raw_call(&r, 4 + (uint32_t)i % 100, &h), EINVAL);
    }
    raw_close(&r);
    assert_true(hx_log_wait(mark, "audit: refused", 5000));
    client_still_works();
}

/* Handles are global ids, so they can be learnt (here from esemctl);
 * knowing one must not let a session use a semaphore it has not opened. */
static void forged_handles_of_other_sessions_are_refused(void **state)
{
    (void)state;
    char name[64], before[256][32], anon_id[32];
    hx_name(name, sizeof name, "victim");
    esem_t *v = esem_open(name, O_CREAT | O_EXCL, 0600, 3);
    assert_non_null(v);
    int n = hx_anon_ids(before, 256);
    esem_t *a = esem_create(2);
    assert_non_null(a);
    assert_int_equal(hx_new_anon_id(before, n, anon_id, sizeof anon_id), 0);
    uint64_t hv = handle_of(name), ha = strtoull(anon_id + 1, NULL, 16);

    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    static const uint32_t ops[] = {ESEM_OP_POST,     ESEM_OP_WAIT,  ESEM_OP_TRYWAIT,
                                   ESEM_OP_GETVALUE, ESEM_OP_CLOSE, ESEM_OP_DESTROY};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct rq q = {.op = ops[i], .handle = hv};
        assert_int_equal(raw_call(&r, 0, &q), EINVAL);
        q.handle = ha;
        assert_int_equal(raw_call(&r, 0, &q), EINVAL);
        /* a stale generation of the same index */
        q.handle = ha + (1ull << 32);
        assert_int_equal(raw_call(&r, 0, &q), EINVAL);
    }
    raw_close(&r);

    int val = -1;
    assert_int_equal(esem_getvalue(v, &val), 0);
    assert_int_equal(val, 3);
    assert_int_equal(esem_getvalue(a, &val), 0);
    assert_int_equal(val, 2);
    assert_int_equal(esem_wait(a), 0);
    assert_int_equal(esem_destroy(a), 0);
    assert_int_equal(esem_close(v), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void cancel_games_keep_permits_exact(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "cancel");
    esem_t *mine = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(mine);
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq op = {.op = ESEM_OP_OPEN, .name = name + 1, .name_len = (uint32_t)strlen(name + 1)};
    assert_int_equal(raw_call(&r, 0, &op), 0);
    uint64_t h = r.chan->slot[0].rhandle;
    struct rq wait = {.op = ESEM_OP_WAIT, .handle = h};
    struct rq getv = {.op = ESEM_OP_GETVALUE, .handle = h};

    /* Cancels of nothing change nothing. */
    for (uint32_t k = 0; k < 8; k++)
        raw_cancel(&r, k, (uint32_t)rnd());
    assert_int_equal(raw_call(&r, 1, &getv), 0);
    assert_int_equal(r.chan->slot[1].rvalue, 0);

    /* A queued wait: a wrong cancel is ignored, the right one answers. */
    uint32_t seq = raw_submit(&r, 2, &wait);
    assert_true(hx_wait_nwaiters(name, 1, 10000));
    raw_cancel(&r, 2, seq - 1);
    raw_cancel(&r, 2, seq + 1);
    /* Slots are served in index order: once a later slot is answered, the
     * daemon has looked at slot 2's cancels. */
    assert_int_equal(raw_call(&r, 100, &getv), 0);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.nwaiters, 1);
    raw_cancel(&r, 2, seq);
    assert_int_equal(raw_await(&r, 2, seq, 5000), ESEM_ST_CANCELLED);
    assert_true(hx_wait_nwaiters(name, 0, 10000));

    /* A woken wait (barging order): the post answers ESEM_ST_RETRY; a
     * cancel after that changes nothing (the answer stands), asking again
     * takes the permit, and a late cancel takes nothing back. */
    seq = raw_submit(&r, 3, &wait);
    assert_true(hx_wait_nwaiters(name, 1, 10000));
    assert_int_equal(esem_post(mine), 0);
    int32_t st = raw_await(&r, 3, seq, 5000);
    if (st == ESEM_ST_RETRY) {
        raw_cancel(&r, 3, seq);
        assert_int_equal(raw_call(&r, 100, &getv), 0);
        assert_int_equal(r.chan->slot[100].rvalue, 1);
        assert_int_equal(hx_show(name, &sh), 0);
        assert_int_equal(sh.nwaiters, 1); /* still queued, on its way back */
        seq = raw_submit(&r, 3, &wait);
        assert_int_equal(raw_await(&r, 3, seq, 5000), 0);
    } else {
        assert_int_equal(st, 0); /* esemd --order=fifo: the post granted it */
    }
    raw_cancel(&r, 3, seq);
    raw_cancel(&r, 3, seq);
    assert_int_equal(raw_call(&r, 1, &getv), 0);
    assert_int_equal(r.chan->slot[1].rvalue, 0);
    assert_int_equal(r.chan->slot[3].rep_seq, seq);
    assert_int_equal(r.chan->slot[3].status, 0);

    /* A new request on a slot whose wait is queued abandons that wait. */
    seq = raw_submit(&r, 4, &wait);
    assert_true(hx_wait_nwaiters(name, 1, 10000));
    assert_int_equal(raw_call(&r, 4, &getv), 0);
    assert_true(hx_wait_nwaiters(name, 0, 10000));
    assert_int_equal(esem_post(mine), 0);
    int v = -1;
    assert_int_equal(esem_getvalue(mine, &v), 0);
    assert_int_equal(v, 1); /* not handed to the abandoned wait */

    /* Every slot waits; hanging up removes them all. */
    assert_int_equal(esem_wait(mine), 0);
    for (uint32_t k = 0; k < ESEM_NSLOTS; k++)
        raw_submit(&r, k, &wait);
    assert_true(hx_wait_nwaiters(name, ESEM_NSLOTS, 10000));
    raw_close(&r);
    assert_true(hx_wait_nwaiters(name, 0, 10000));
    assert_int_equal(esem_post(mine), 0);
    assert_int_equal(esem_getvalue(mine, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(esem_close(mine), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void scribble(struct raw *r, int plausible, uint64_t victim)
{
    if (!plausible) {
        fill_random(r->chan, sizeof *r->chan);
        memset(r->chan->hdr.active, 0xff, sizeof r->chan->hdr.active);
        return;
    }
    static const char alphabet[] = "abc/.\0";
    for (uint32_t k = 0; k < ESEM_NSLOTS; k++) {
        struct esem_slot *s = &r->chan->slot[k];
        s->op = (uint32_t)(rnd() % (ESEM_OP_MAX_ + 2));
        s->oflag = (uint32_t)(rnd() % 5);
        s->value = (uint32_t)rnd();
        s->mode = (uint32_t)(rnd() % 01000);
        s->prio = (int32_t)rnd();
        s->handle = rnd() % 3 == 0 ? victim : rnd() % 3 == 0 ? (rnd() & 0x3ff) | 1ull << 32 : rnd();
        s->name_len = (uint32_t)(rnd() % 8 == 0 ? rnd() : rnd() % 6);
        for (int i = 0; i < 8; i++)
            s->name[i] = alphabet[rnd() % (sizeof alphabet - 1)];
        __atomic_store_n(&s->cancel_seq, (uint32_t)rnd(), __ATOMIC_SEQ_CST);
        __atomic_store_n(&s->req_seq, (uint32_t)rnd(), __ATOMIC_SEQ_CST);
    }
    memset(r->chan->hdr.active, 0xff, sizeof r->chan->hdr.active);
    r->chan->hdr.daemon_sleeping = (uint32_t)rnd();
}

static void scribbled_channel_hurts_nobody_else(void **state)
{
    (void)state;
    char name[64], before[256][32], after[256][32];
    hx_name(name, sizeof name, "scribble-victim");
    esem_t *v = esem_open(name, O_CREAT | O_EXCL, 0600, 7);
    assert_non_null(v);
    uint64_t hv = handle_of(name);
    int nbefore = hx_anon_ids(before, 256);
    fresh_audit_second();
    size_t mark = hx_log_mark();
    for (int round = 0; round < 12; round++) {
        struct raw r;
        assert_int_equal(raw_open(&r, 0), 0);
        for (int pass = 0; pass < 20; pass++) {
            scribble(&r, round % 2, hv);
            uint64_t big = 0xfffffffffffffffeull;
            if (write(r.efd, &big, sizeof big) < 0 && errno != EAGAIN)
                fail_msg("doorbell: %s", strerror(errno));
            raw_ring(&r, (uint32_t)(rnd() % ESEM_NSLOTS));
            hx_sleep_ms(1);
        }
        raw_close(&r);
        client_still_works();
    }
    int val = -1;
    assert_int_equal(esem_getvalue(v, &val), 0);
    assert_int_equal(val, 7);
    /* The scribblers' anonymous semaphores went with their sessions. */
    int nafter = -1;
    for (int i = 0; i < 200; i++) {
        nafter = hx_anon_ids(after, 256);
        if (nafter == nbefore)
            break;
        hx_sleep_ms(10);
    }
    assert_int_equal(nafter, nbefore);
    assert_true(hx_log_wait(mark, "audit: refused", 5000));
    assert_int_equal(esem_close(v), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* A client whose channel holds nothing but malformed requests is dropped:
 * its channel says so, its socket is shut down (its session ends), an
 * audit line names it — and a libesem process whose channel was scribbled
 * on gets EIO from its next call instead of hanging. */
static void a_scribbler_is_dropped(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq bad = {.op = ESEM_OP_MAX_ + 7};
    int32_t st = 0;
    for (int i = 0; i < 63; i++)
        st = raw_call(&r, 0, &bad);
    assert_int_equal(st, EINVAL); /* refused, still served */
    assert_int_equal(__atomic_load_n(&r.chan->hdr.dropped, __ATOMIC_ACQUIRE), 0);
    raw_submit(&r, 0, &bad); /* the 64th */
    int dropped = 0;
    for (int i = 0; i < 500 && !dropped; i++) {
        dropped = __atomic_load_n(&r.chan->hdr.dropped, __ATOMIC_ACQUIRE) != 0;
        hx_sleep_ms(10);
    }
    assert_true(dropped);
    char b;
    struct timeval tv = {5, 0};
    setsockopt(r.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(recv(r.sock, &b, 1, 0), 0); /* hung up */
    assert_true(hx_log_wait(mark, "dropped: 64 malformed requests", 5000));
    /* a good request after the drop is not served */
    struct rq create = {.op = ESEM_OP_CREATE, .value = 1};
    assert_int_equal(raw_call(&r, 1, &create), NO_REPLY);
    raw_close(&r);
    client_still_works();
    /* the library's side: a process that scribbles on its own channel */
    pid_t p = fork();
    if (p == 0) {
        alarm(20);
        esem_t *s = esem_create(0);
        if (!s)
            _exit(1);
        FILE *m = fopen("/proc/self/maps", "r");
        char line[512];
        struct esem_chan *ch = NULL;
        while (m && fgets(line, sizeof line, m))
            if (strstr(line, "esem-channel"))
                ch = (struct esem_chan *)(uintptr_t)strtoull(line, NULL, 16);
        if (m)
            fclose(m);
        if (!ch)
            _exit(2);
        /* its doorbell: the eventfd the library got at hello */
        int bells[8], nb = 0;
        for (int fd = 3; fd < 64 && nb < 8; fd++) {
            char lp[64], tgt[64] = "";
            snprintf(lp, sizeof lp, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(lp, tgt, sizeof tgt - 1);
            if (n > 0 && strstr(tgt, "eventfd"))
                bells[nb++] = fd;
        }
        /* every slot's request turned into garbage, over and over */
        for (int round = 0; round < 80; round++) {
            for (uint32_t k = 0; k < 4; k++) {
                ch->slot[k].op = ESEM_OP_MAX_ + 3;
                __atomic_fetch_add(&ch->slot[k].req_seq, 1, __ATOMIC_SEQ_CST);
                __atomic_fetch_or(&ch->hdr.active[0], 1ull << k, __ATOMIC_SEQ_CST);
            }
            for (int i = 0; i < nb; i++) {
                uint64_t one = 1;
                ssize_t w = write(bells[i], &one, sizeof one);
                (void)w;
            }
            hx_sleep_ms(2);
        }
        errno = 0;
        int r2 = esem_wait(s); /* would block forever; must end with EIO */
        if (!(r2 == -1 && errno == EIO))
            fprintf(stderr, "child: esem_wait: %d %s dropped=%u\n", r2, strerror(errno), ch->hdr.dropped);
        _exit(r2 == -1 && errno == EIO ? 0 : 3);
    }
    int stc = 0;
    waitpid(p, &stc, 0);
    assert_true(WIFEXITED(stc));
    assert_int_equal(WEXITSTATUS(stc), 0);
}

struct scribbler_arg {
    uint64_t victim;
    _Atomic int *stop;
};

static int scribbler(void *arg)
{
    struct scribbler_arg *a = arg;
    rng ^= (uint64_t)getpid() << 17;
    while (!atomic_load(a->stop)) {
        struct raw r;
        HX_CHECK(raw_open(&r, 0) == 0);
        for (int i = 0; i < 200 && !atomic_load(a->stop); i++) {
            scribble(&r, i % 3 != 0, a->victim);
            uint64_t one = 1;
            if (write(r.efd, &one, sizeof one) < 0 && errno != EAGAIN)
                HX_CHECK(!"doorbell");
        }
        raw_close(&r);
    }
    return 0;
}

/* Scribblers at full speed while a well-behaved client works. */
static void concurrent_scribblers_do_not_disturb_a_client(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "busy-victim");
    esem_t *v = esem_open(name, O_CREAT | O_EXCL, 0600, 1);
    assert_non_null(v);
    _Atomic int *stop = hx_shared(sizeof *stop);
    assert_non_null(stop);
    struct scribbler_arg a = {.victim = handle_of(name), .stop = stop};
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = hx_fork(scribbler, &a);
        assert_true(kids[i] > 0);
    }
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(esem_wait(v), 0);
        int val = -1;
        assert_int_equal(esem_getvalue(v, &val), 0);
        assert_int_equal(val, 0);
        assert_int_equal(esem_post(v), 0);
    }
    atomic_store(stop, 1);
    for (int i = 0; i < 2; i++)
        hx_assert_child_ok(kids[i], 30000);
    int val = -1;
    assert_int_equal(esem_getvalue(v, &val), 0);
    assert_int_equal(val, 1);
    hx_shared_free(stop, sizeof *stop);
    assert_int_equal(esem_close(v), 0);
    assert_int_equal(esem_unlink(name), 0);
    client_still_works();
}

/* ---- death detection vs. a newcomer ---- */

struct dying_arg {
    struct hx_gate up, closed; /* child -> test */
    struct hx_gate close_now, exit_now; /* test -> child */
};

static int child_hang_up_then_exit(void *arg)
{
    struct dying_arg *a = arg;
    struct raw r;
    HX_CHECK(raw_open(&r, 0) == 0);
    HX_CHECK(hx_gate_post(&a->up) == 0);
    HX_CHECK(hx_gate_wait(&a->close_now, 30000) == 0);
    close(r.sock); /* hang up, but stay alive for now */
    HX_CHECK(hx_gate_post(&a->closed) == 0);
    HX_CHECK(hx_gate_wait(&a->exit_now, 30000) == 0);
    return 0;
}

static int stopped(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && (p[2] == 'T' || p[2] == 't');
}

/* The daemon learns of a client's end twice (its socket hangs up, its pidfd
 * becomes readable).  When both arrive in one batch of events with a new
 * connection in between, the late notice must not end the newcomer that
 * took the dead client's place.  The daemon is stopped while the events
 * queue up, so that they are all delivered in one batch, in this order. */
static void dying_client_is_not_confused_with_a_newcomer(void **state)
{
    (void)state;
    struct dying_arg a;
    hx_gate_init(&a.up);
    hx_gate_init(&a.closed);
    hx_gate_init(&a.close_now);
    hx_gate_init(&a.exit_now);
    pid_t c = hx_fork(child_hang_up_then_exit, &a);
    assert_true(c > 0);
    assert_int_equal(hx_gate_wait(&a.up, 30000), 0);

    assert_int_equal(kill(hx.pid, SIGSTOP), 0);
    for (int i = 0; i < 5000 && !stopped(hx.pid); i++)
        hx_sleep_ms(1);
    int was_stopped = stopped(hx.pid);
    int newcomer = -1;
    if (was_stopped) {
        hx_gate_post(&a.close_now);           /* 1: the old client hangs up */
        hx_gate_wait(&a.closed, 30000);
        newcomer = raw_connect();             /* 2: a new connection, with its hello */
        struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
        if (newcomer >= 0 && send(newcomer, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h) {
            close(newcomer);
            newcomer = -1;
        }
        hx_gate_post(&a.exit_now);            /* 3: the old client's process ends */
    }
    int st = hx_reap(c, 30000);
    kill(hx.pid, SIGCONT);
    assert_true(was_stopped);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(newcomer >= 0);

    struct esem_hello_reply rep;
    int fds[2];
    int got = read_reply(newcomer, &rep, fds);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    close(newcomer);
    hx_gate_close(&a.up);
    hx_gate_close(&a.closed);
    hx_gate_close(&a.close_now);
    hx_gate_close(&a.exit_now);
    assert_int_equal(got, 0); /* the newcomer was answered, not dropped */
    assert_int_equal(rep.err, 0);
    client_still_works();
}

/* SIGTERM with every kind of connection open: an admin connection served
 * by its own thread, a client with a queued wait, a connection that never
 * said hello.  It must still exit 0 (and, sanitized, report nothing). */
static void daemon_stops_cleanly_with_connections_open(void **state)
{
    (void)state;
    struct hx_daemon d;
    assert_int_equal(hx_daemon_start(&d), 0);
    int admin = raw_connect_to(d.sock), bare = raw_connect_to(d.sock);
    assert_true(admin >= 0 && bare >= 0);
    struct esem_hello h = good_hello(ESEM_HELLO_ADMIN);
    struct esem_hello_reply rep;
    int fds[2];
    assert_int_equal(send(admin, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    assert_int_equal(read_reply(admin, &rep, fds), 0);
    assert_int_equal(rep.err, 0);
    struct raw r;
    assert_int_equal(raw_open_at(&r, d.sock, 0), 0);
    struct rq cq = {.op = ESEM_OP_CREATE, .value = 0};
    assert_int_equal(raw_call(&r, 0, &cq), 0);
    struct rq wq = {.op = ESEM_OP_WAIT, .handle = r.chan->slot[0].rhandle};
    uint32_t seq = raw_submit(&r, 1, &wq);
    assert_int_equal(raw_await(&r, 1, seq, 200), NO_REPLY); /* queued */
    int stopped_ok = hx_daemon_stop(&d);
    raw_close(&r);
    close(admin);
    close(bare);
    assert_int_equal(stopped_ok, 0);
}

/* ---- the admin side ---- */

static void admin_garbage_is_refused(void **state)
{
    (void)state;
    int s = raw_connect();
    assert_true(s >= 0);
    struct esem_hello h = good_hello(ESEM_HELLO_ADMIN);
    struct esem_hello_reply rep;
    int fds[2];
    assert_int_equal(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    assert_int_equal(read_reply(s, &rep, fds), 0);
    assert_int_equal(rep.err, 0);
    assert_int_equal(fds[0], -1); /* no channel for an admin */

    struct esem_admin_msg m, out;
    memset(&m, 0, sizeof m);
    m.type = 0xdead;
    assert_int_equal(send(s, &m, sizeof m, MSG_NOSIGNAL), (ssize_t)sizeof m);
    struct pollfd p = {.fd = s, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), (ssize_t)sizeof out);
    assert_int_equal(out.type, ESEM_ADM_END);
    assert_int_equal(out.err, EINVAL);

    m.type = ESEM_ADM_SHOW;
    m.name_len = 0xffffffffu;
    fill_random(m.name, sizeof m.name);
    assert_int_equal(send(s, &m, sizeof m, MSG_NOSIGNAL), (ssize_t)sizeof m);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), (ssize_t)sizeof out);
    assert_int_equal(out.type, ESEM_ADM_END);
    assert_int_equal(out.err, ENOENT);

    /* A short message ends the connection. */
    assert_int_equal(send(s, &m, 7, MSG_NOSIGNAL), 7);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), 0);
    close(s);

    int st;
    char *ls = hx_ctl(&st, "ls", (char *)NULL);
    assert_non_null(ls);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(ls);
    client_still_works();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(random_bytes_are_refused),
        HX_TEST(refusals_are_listed_by_esemctl_audit),
        HX_TEST(truncated_hello_is_refused),
        HX_TEST(oversized_message_is_refused),
        HX_TEST(hello_with_trailing_bytes_is_refused),
        HX_TEST(bad_magic_version_or_kind_is_refused_and_audited),
        HX_TEST(hang_ups_mid_handshake_are_harmless),
        HX_TEST(data_after_hello_is_refused_and_audited),
        HX_TEST(forged_inheritance_is_refused),
        HX_TEST(child_of_other_uid_cannot_claim_parents_session),
        HX_TEST(suppressed_refusals_are_accounted_for),
        HX_TEST(channel_is_sealed_against_resizing),
        HX_TEST(bad_requests_get_posix_errnos),
        HX_TEST(forged_handles_of_other_sessions_are_refused),
        HX_TEST(cancel_games_keep_permits_exact),
        HX_TEST(scribbled_channel_hurts_nobody_else),
        HX_TEST(a_scribbler_is_dropped),
        HX_TEST(concurrent_scribblers_do_not_disturb_a_client),
        HX_TEST(dying_client_is_not_confused_with_a_newcomer),
        HX_TEST(admin_garbage_is_refused),
        HX_TEST(daemon_stops_cleanly_with_connections_open),
    };
    return HX_RUN_GROUP(tests);
}
