/*
 * Talking to esemd below libesem, as an attacker who read common/proto.h
 * would: a raw client (its own connection, hello and channel, requests with
 * any handle it likes), the admin protocol esemctl speaks, and the layout of
 * glibc's sem_t for the glibc side of the attacks.
 */
#include "lab.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>

#include "proto.h"

static int unix_connect(const char *path)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(s);
        return -e;
    }
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
}

/* ---- raw client ---- */

int rawc_connect(struct rawc *c, const char *sock, uint64_t inherit)
{
    memset(c, 0, sizeof *c);
    c->sock = c->efd = c->life_fd = -1;
    int s = unix_connect(sock);
    if (s < 0)
        return s;
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    h.magic = ESEM_PROTO_MAGIC;
    h.version = ESEM_PROTO_VERSION;
    h.kind = ESEM_HELLO_CLIENT;
    h.inherit_session = inherit;
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h) {
        close(s);
        return -EPROTO;
    }
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    int fds[3] = {-1, -1, -1}; /* channel, doorbell, life page */
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(3 * sizeof(int)))
        memcpy(fds, CMSG_DATA(cm), sizeof fds);
    if (n != (ssize_t)sizeof rep || rep.err || fds[0] < 0) {
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        close(s);
        if (n != (ssize_t)sizeof rep)
            return -ECONNRESET;
        return rep.err ? rep.err : -EPROTO;
    }
    void *m = mmap(NULL, rep.chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    if (m == MAP_FAILED) {
        close(fds[1]);
        if (fds[2] >= 0)
            close(fds[2]);
        close(s);
        return -EIO;
    }
    c->sock = s;
    c->efd = fds[1];
    c->life_fd = fds[2];
    c->chan = m;
    c->chan_size = rep.chan_size;
    c->session = rep.session;
    return 0;
}

void rawc_close(struct rawc *c)
{
    if (c->chan)
        munmap(c->chan, c->chan_size);
    if (c->sock >= 0)
        close(c->sock);
    if (c->efd >= 0)
        close(c->efd);
    if (c->life_fd >= 0)
        close(c->life_fd);
    c->chan = NULL;
    c->sock = c->efd = c->life_fd = -1;
}

static void ring(struct rawc *c)
{
    uint64_t one = 1;
    ssize_t r = write(c->efd, &one, sizeof one);
    (void)r;
}

static int await_reply(struct esem_slot *sl, uint32_t seq, int timeout_ms)
{
    long t0 = now_ms();
    while (__atomic_load_n(&sl->rep_seq, __ATOMIC_ACQUIRE) != seq) {
        if (now_ms() - t0 > timeout_ms)
            return -ETIMEDOUT;
        struct timespec t = {0, 100000};
        nanosleep(&t, NULL);
    }
    return 0;
}

int rawc_op(struct rawc *c, uint32_t op, uint64_t handle, const char *name, uint32_t oflag,
            uint32_t mode, uint32_t value, uint64_t *rhandle, uint32_t *rvalue, int timeout_ms)
{
    if (!c->chan)
        return -ENOTCONN;
    struct esem_slot *sl = &c->chan->slot[0];
    __atomic_fetch_or(&c->chan->hdr.active[0], 1ull, __ATOMIC_SEQ_CST);
    uint32_t seq = ++c->seq;
    if (seq == 0)
        seq = ++c->seq;
    sl->op = op;
    sl->oflag = oflag;
    sl->handle = handle;
    sl->value = value;
    sl->mode = mode;
    sl->prio = 0;
    sl->name_len = 0;
    if (name) {
        size_t n = strlen(name);
        if (n > ESEM_NAME_BUF)
            n = ESEM_NAME_BUF;
        memcpy(sl->name, name, n);
        sl->name_len = (uint32_t)n;
    }
    __atomic_store_n(&sl->req_seq, seq, __ATOMIC_SEQ_CST);
    ring(c);
    if (await_reply(sl, seq, timeout_ms) < 0) {
        /* a wait the core queued: take it back */
        __atomic_store_n(&sl->cancel_seq, seq, __ATOMIC_SEQ_CST);
        ring(c);
        await_reply(sl, seq, 2000);
        return -ETIMEDOUT;
    }
    int32_t st = sl->status;
    if (rhandle)
        *rhandle = sl->rhandle;
    if (rvalue)
        *rvalue = sl->rvalue;
    return st;
}

/* ---- admin ---- */

static int admin_connect(const char *sock)
{
    int s = unix_connect(sock);
    if (s < 0)
        return -1;
    struct esem_hello h;
    memset(&h, 0, sizeof h);
    h.magic = ESEM_PROTO_MAGIC;
    h.version = ESEM_PROTO_VERSION;
    h.kind = ESEM_HELLO_ADMIN;
    struct esem_hello_reply rep;
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h ||
        recv(s, &rep, sizeof rep, 0) != (ssize_t)sizeof rep || rep.err) {
        close(s);
        return -1;
    }
    return s;
}

int admin_ping(const char *sock)
{
    int s = admin_connect(sock);
    if (s < 0)
        return -1;
    struct esem_admin_msg m;
    memset(&m, 0, sizeof m);
    m.type = ESEM_ADM_STATS;
    int ok = send(s, &m, sizeof m, MSG_NOSIGNAL) == (ssize_t)sizeof m &&
             recv(s, &m, sizeof m, 0) == (ssize_t)sizeof m && m.type == ESEM_ADM_STATSREC;
    close(s);
    return ok ? 0 : -1;
}

static void lite(const struct core_sem_info *i, struct sem_info_lite *o)
{
    memset(o, 0, sizeof *o);
    o->handle = i->handle;
    o->value = i->value;
    o->nwaiters = i->nwaiters;
    o->opens = i->open_count;
    o->uid = i->uid;
    o->mode = i->mode;
    o->flags = i->flags;
    o->posts = i->posts;
    o->waits = i->waits;
    uint32_t n = i->name_len < sizeof o->name - 2 ? i->name_len : (uint32_t)sizeof o->name - 2;
    if (i->flags & CORE_SEMF_NAMED)
        snprintf(o->name, sizeof o->name, "/%.*s", (int)n, i->name);
}

/* esemctl show NAME (or #id) */
static int admin_show(const char *sock, const char *key, struct sem_info_lite *out)
{
    int s = admin_connect(sock);
    if (s < 0)
        return -1;
    struct esem_admin_msg m;
    memset(&m, 0, sizeof m);
    m.type = ESEM_ADM_SHOW;
    while (*key == '/')
        key++;
    size_t n = strlen(key);
    if (n >= ESEM_NAME_BUF) {
        close(s);
        return -1;
    }
    memcpy(m.name, key, n);
    m.name_len = (uint32_t)n;
    int found = 0;
    if (send(s, &m, sizeof m, MSG_NOSIGNAL) == (ssize_t)sizeof m) {
        for (int guard = 0; guard < 10000; guard++) {
            if (recv(s, &m, sizeof m, 0) != (ssize_t)sizeof m)
                break;
            if (m.type == ESEM_ADM_SEM) {
                lite(&m.sem, out);
                found = 1;
            }
            if (m.type == ESEM_ADM_END)
                break;
        }
    }
    close(s);
    return found ? 0 : -1;
}

int admin_find_name(const char *sock, const char *name, struct sem_info_lite *out)
{
    return admin_show(sock, name, out);
}

int admin_find_handle(const char *sock, uint64_t handle, struct sem_info_lite *out)
{
    char key[32];
    snprintf(key, sizeof key, "#%llx", (unsigned long long)handle);
    return admin_show(sock, key, out);
}

int admin_wait_waiters(const char *sock, const char *name, uint64_t handle, uint32_t n,
                       int timeout_ms)
{
    long t0 = now_ms();
    do {
        struct sem_info_lite i;
        int r = name ? admin_find_name(sock, name, &i) : admin_find_handle(sock, handle, &i);
        if (r == 0 && i.nwaiters == n)
            return 0;
        sleep_ms(5);
    } while (now_ms() - t0 < timeout_ms);
    return -1;
}

/* ---- glibc's sem_t ---- */

uint32_t glibc_sem_value(const void *sem)
{
    return (uint32_t)__atomic_load_n((const uint64_t *)sem, __ATOMIC_SEQ_CST);
}

uint32_t glibc_sem_nwaiters(const void *sem)
{
    return (uint32_t)(__atomic_load_n((const uint64_t *)sem, __ATOMIC_SEQ_CST) >> 32);
}

void glibc_sem_forge_post(void *sem, uint32_t n)
{
    __atomic_fetch_add((uint64_t *)sem, (uint64_t)n, __ATOMIC_SEQ_CST);
    /* shared futex: the word of a named or pshared semaphore */
    syscall(SYS_futex, (uint32_t *)sem, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int glibc_file_sem(const char *path, off_t off, uint32_t *value, uint32_t *nwaiters)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint64_t d;
    ssize_t n = pread(fd, &d, sizeof d, off);
    close(fd);
    if (n != (ssize_t)sizeof d)
        return -1;
    if (value)
        *value = (uint32_t)d;
    if (nwaiters)
        *nwaiters = (uint32_t)(d >> 32);
    return 0;
}
