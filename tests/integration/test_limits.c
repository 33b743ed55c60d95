/*
 * A full table never turns into a broken lock.
 *
 * The abuse campaign (issue #11, item 4): one process queued waits until
 * the core's waiter table was full; sem_wait then failed with ENOSPC, and
 * the usual `while (sem_wait(m) == -1 && errno == EINTR);` walked into the
 * critical section.  Now a wait that cannot be queued blocks until it can
 * (its deadline, a signal or the daemon's death end it), with a daemon
 * whose table holds 1024 waiters (--max-sems 16) filled by a raw client.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "esem.h"
#include "proto.h"

/* ---- a raw client that fills the waiter table ---- */

struct filler {
    int sock, efd;
    struct esem_chan *chan;
};

static int filler_open(struct filler *f)
{
    memset(f, 0, sizeof *f);
    f->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(hx.sock) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, hx.sock, strlen(hx.sock) + 1);
    if (f->sock < 0 || connect(f->sock, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    h.magic = ESEM_PROTO_MAGIC;
    h.version = ESEM_PROTO_VERSION;
    h.kind = ESEM_HELLO_CLIENT;
    if (send(f->sock, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h)
        return -1;
    struct esem_hello_reply rep;
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    if (recvmsg(f->sock, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof rep || rep.err)
        return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_len != CMSG_LEN(3 * sizeof(int)))
        return -1;
    int fds[3];
    memcpy(fds, CMSG_DATA(cm), sizeof fds);
    close(fds[2]);
    f->efd = fds[1];
    f->chan = mmap(NULL, sizeof *f->chan, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    return f->chan == MAP_FAILED ? -1 : 0;
}

static void filler_submit(struct filler *f, uint32_t k, uint32_t op, uint64_t handle,
                          const char *name)
{
    struct esem_slot *s = &f->chan->slot[k];
    __atomic_fetch_or(&f->chan->hdr.active[k / 64], 1ull << (k % 64), __ATOMIC_SEQ_CST);
    s->op = op;
    s->handle = handle;
    s->name_len = name ? (uint32_t)strlen(name) : 0;
    if (name)
        memcpy(s->name, name, s->name_len);
    uint32_t seq = s->req_seq + 1;
    __atomic_store_n(&s->req_seq, seq, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (write(f->efd, &one, sizeof one) < 0) {
        /* saturated: the worker wakes anyway */
    }
}

static void filler_close(struct filler *f)
{
    munmap(f->chan, sizeof *f->chan);
    close(f->efd);
    close(f->sock);
}

struct waitres {
    esem_t *s;
    atomic_int done;
    int rc, err;
};

static void *do_wait(void *p)
{
    struct waitres *w = p;
    errno = 0;
    w->rc = esem_wait(w->s);
    w->err = errno;
    atomic_store(&w->done, 1);
    return NULL;
}

static void full_waiter_table_blocks_a_wait_instead_of_failing(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "full");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    struct filler f;
    assert_int_equal(filler_open(&f), 0);
    filler_submit(&f, 0, ESEM_OP_OPEN, 0, name + 1);
    for (int i = 0; i < 5000 && f.chan->slot[0].rep_seq != 1; i++)
        hx_sleep_ms(1);
    assert_int_equal(f.chan->slot[0].status, 0);
    uint64_t h = f.chan->slot[0].rhandle;
    /* 1024 waits: the whole table of this daemon (--max-sems 16) */
    for (uint32_t k = 0; k < ESEM_NSLOTS; k++)
        filler_submit(&f, k, ESEM_OP_WAIT, h, NULL);
    assert_true(hx_wait_nwaiters(name, ESEM_NSLOTS, 10000));

    /* a timed wait: its deadline, never ENOSPC */
    struct timespec dl = hx_deadline(CLOCK_REALTIME, 300);
    errno = 0;
    assert_int_equal(esem_timedwait(s, &dl), -1);
    assert_int_equal(errno, ETIMEDOUT);
    /* a plain wait blocks while the table is full */
    struct waitres w = {.s = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, do_wait, &w), 0);
    hx_sleep_ms(400);
    assert_int_equal(atomic_load(&w.done), 0);
    /* room again: it queues, and the next post is its */
    filler_close(&f);
    assert_true(hx_wait_nwaiters(name, 1, 10000));
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

int main(void)
{
    static const char *const small[] = {"--max-sems", "16", NULL};
    hx_daemon_extra_args = small;
    const struct CMUnitTest tests[] = {
        HX_TEST(full_waiter_table_blocks_a_wait_instead_of_failing),
    };
    return HX_RUN_GROUP(tests);
}
