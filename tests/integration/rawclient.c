/*
 * A raw client of esemd for the hostile-client tests (test_garbage.c,
 * test_channel.c): the control socket by hand, a session whose channel the
 * test writes itself, and the checks that everybody else still works.
 */
#include "rawclient.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "esem.h"

/* ---- random bytes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

void rnd_seed(uint64_t x)
{
    rng ^= x;
}

uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

void fill_random(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)rnd();
}

/* ---- the control socket, raw ---- */

int raw_connect_to(const char *path)
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

int raw_connect(void)
{
    return raw_connect_to(hx.sock);
}

/* A hello reply (and its fds) within 5 s: 0, or -1 if the daemon hung up or
 * said nothing. */
int read_reply(int s, struct esem_hello_reply *rep, int fds[2])
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
int hello_err(const void *msg, size_t len)
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

struct esem_hello good_hello(uint32_t kind)
{
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = kind};
    return h;
}

/* ---- a raw client session ---- */



/* 0, a positive errno from the daemon, or -1 (no answer). */
int raw_open_at(struct raw *r, const char *path, uint64_t inherit)
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

int raw_open(struct raw *r, uint64_t inherit)
{
    return raw_open_at(r, hx.sock, inherit);
}

void raw_close(struct raw *r)
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

void raw_ring(struct raw *r, uint32_t k)
{
    __atomic_fetch_or(&r->chan->hdr.active[k / 64], 1ull << (k % 64), __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (write(r->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        fail_msg("doorbell: %s", strerror(errno));
}



uint32_t raw_submit(struct raw *r, uint32_t k, const struct rq *q)
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
int32_t raw_await(struct raw *r, uint32_t k, uint32_t seq, int timeout_ms)
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

int32_t raw_call(struct raw *r, uint32_t k, const struct rq *q)
{
    return raw_await(r, k, raw_submit(r, k, q), 5000);
}

void raw_cancel(struct raw *r, uint32_t k, uint32_t seq)
{
    __atomic_store_n(&r->chan->slot[k].cancel_seq, seq, __ATOMIC_SEQ_CST);
    raw_ring(r, k);
}

uint64_t handle_of(const char *name)
{
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_true(sh.id[0] == '#');
    return strtoull(sh.id + 1, NULL, 16);
}

/* ---- the rest of the world still works ---- */

void client_still_works(void)
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
void fresh_audit_second(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    hx_sleep_ms(1000 - now.tv_nsec / 1000000 + 20);
}
