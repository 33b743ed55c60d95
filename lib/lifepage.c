/*
 * The daemon's life page and the wake words after it, as a client sees
 * them (struct esem_life, esem_wake in proto.h; how the daemon keeps them:
 * host/life.c).  The page comes with the hello; after a restart without
 * loss (docs/DESIGN.md) the old page says moved and the client asks the
 * new daemon for its own.  Old pages stay mapped: another thread may still
 * be looking at one.
 */
#include "lifepage.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct {
    struct esem_life *life; /* the page, read-only ... */
    size_t len;             /* ... and after it, in the same mapping, */
    struct esem_wake *wake; /* the wake words, one per semaphore index */
    uint32_t nwake;
} cur;

/* One thread at a time asks for a new page; the page it asked for (a
 * follow cut short by a signal asked already: its answer comes). */
static _Atomic int following;
static struct esem_life *asked_for;

static uint32_t nwake_of(size_t len)
{
    return len > ESEM_WAKE_OFF ? (uint32_t)((len - ESEM_WAKE_OFF) / sizeof(struct esem_wake)) : 0;
}

struct esem_life *esemi_life_map(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(struct esem_life))
        return MAP_FAILED;
    *len = (size_t)st.st_size;
    return mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
}


struct esem_life *esemi_life_page(void)
{
    return __atomic_load_n(&cur.life, __ATOMIC_ACQUIRE);
}

void esemi_life_set(struct esem_life *life, size_t len)
{
    if (cur.life)
        munmap(cur.life, cur.len); /* a fork child's copy of its parent's */
    cur.life = life;
    cur.len = len;
    /* a fork child may have copied a parent thread in the middle of a follow */
    atomic_store(&following, 0);
    asked_for = NULL;
    cur.nwake = nwake_of(len);
    cur.wake = cur.nwake ? (struct esem_wake *)((char *)life + ESEM_WAKE_OFF) : NULL;
}

/* The daemon handed its state to a new one and exited (ESEM_LIFE_MOVED in
 * the life word; docs/DESIGN.md, "Restart without loss"): ask for the new
 * daemon's life page on our socket (struct esem_relife; the one message a
 * client sends after its hello, answered once per daemon) and use that
 * from now on.  Old pages stay mapped: another thread may still be looking
 * at one.  Returns 0 when the current page is not a moved one (or another
 * thread is taking the new one: look again), -EINTR if a signal's handler
 * ran while we waited for the answer, -EIO if it never comes (the daemons
 * are gone). */
int esemi_life_follow(int sock)
{
    struct esem_life *now = esemi_life_page();
    uint32_t w = atomic_load_explicit((_Atomic uint32_t *)&now->word, memory_order_acquire);
    if (!(w & ESEM_LIFE_MOVED) || (w & ESEM_LIFE_DEAD))
        return 0;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&following, &idle, 1)) {
        struct timespec ms = {0, 1000000};
        return syscall(SYS_nanosleep, &ms, NULL) < 0 && errno == EINTR ? -EINTR : 0;
    }
    if (asked_for != now) {
        struct esem_relife q = {.magic = ESEM_RELIFE_MAGIC, .pid = 0};
        /* raw system calls here: send() and recvmsg() are cancellation
         * points, and a thread cancelled while following would leave the
         * others waiting for it */
        if (syscall(SYS_sendto, sock, &q, sizeof q, MSG_NOSIGNAL | MSG_DONTWAIT, NULL,
                    0) != (long)sizeof q) {
            atomic_store(&following, 0);
            return -EIO;
        }
        asked_for = now;
    }
    int r = -EIO;
    for (int tries = 0; tries < 10000; tries++) { /* about 10 s */
        struct esem_relife m;
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                            .msg_controllen = sizeof u.buf};
        ssize_t n = (ssize_t)syscall(SYS_recvmsg, sock, &mh,
                                     MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n == 0)
            break; /* hung up: nobody took over after all */
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (n < 0) {
            /* raw system call: poll() would be a cancellation point */
            struct pollfd p = {.fd = sock, .events = POLLIN};
            struct timespec ms = {0, 1000000};
            if (syscall(SYS_ppoll, &p, 1, &ms, NULL, 0) < 0 && errno == EINTR) {
                r = -EINTR;
                break;
            }
            continue;
        }
        int fd = -1;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        if (fd < 0)
            continue; /* not a life page: nothing else is ever sent to us */
        size_t len = 0;
        struct esem_life *life = n == (ssize_t)sizeof m && m.magic == ESEM_RELIFE_MAGIC
                                     ? esemi_life_map(fd, &len)
                                     : MAP_FAILED;
        close(fd);
        if (life == MAP_FAILED)
            continue;
        uint32_t nwake = nwake_of(len);
        if (nwake < cur.nwake)
            __atomic_store_n(&cur.nwake, nwake, __ATOMIC_RELEASE);
        __atomic_store_n(&cur.wake,
                         nwake ? (struct esem_wake *)((char *)life + ESEM_WAKE_OFF) : NULL,
                         __ATOMIC_RELEASE);
        __atomic_store_n(&cur.nwake, nwake, __ATOMIC_RELEASE);
        cur.len = len;
        __atomic_store_n(&cur.life, life, __ATOMIC_RELEASE);
        r = 0;
        break;
    }
    atomic_store(&following, 0);
    return r;
}


struct esem_wake *esemi_wake_of(uint64_t handle)
{
    uint64_t idx = (handle & 0xffffffffu) - 1;
    struct esem_wake *w = __atomic_load_n(&cur.wake, __ATOMIC_ACQUIRE);
    return w && idx < __atomic_load_n(&cur.nwake, __ATOMIC_ACQUIRE) ? &w[idx] : NULL;
}
