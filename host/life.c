/*
 * The life page: how clients learn that esemd died without waking up now
 * and then to look (see struct esem_life in proto.h).
 *
 * One page of a memfd, mapped read-write here and read-only by every
 * client (sealed: F_SEAL_FUTURE_WRITE, so a client cannot map it writable),
 * followed by the wake words (struct esem_wake in proto.h).  Its word holds the main thread's id with FUTEX_WAITERS set and
 * sits on that thread's robust futex list, so at the daemon's death —
 * SIGKILL included — the kernel marks it FUTEX_OWNER_DIED and wakes one
 * sleeper, which wakes the rest.  The robust list head replaces the one
 * glibc registered for the main thread; esemd uses no robust pthread mutex
 * on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "life.h"
#include "proto.h"
#include "util.h"

static int life_memfd = -1;
static struct esem_life *life;
static size_t life_len;
static uint32_t life_nwake;
static struct robust_list entry;
static struct robust_list_head head;

int life_start(uint32_t nwake)
{
    _Static_assert(sizeof(struct esem_life) <= ESEM_WAKE_OFF, "life page layout");
    life_len = ESEM_WAKE_OFF + (size_t)nwake * sizeof(struct esem_wake);
    life_nwake = nwake;
    life_memfd = memfd_create("esem-life", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (life_memfd < 0 || ftruncate(life_memfd, (off_t)life_len) < 0)
        return -1;
    /* pages are allocated as the words are first written */
    life = mmap(NULL, life_len, PROT_READ | PROT_WRITE, MAP_SHARED, life_memfd, 0);
    if (life == MAP_FAILED)
        return -1;
    /* Every client gets this descriptor: from here on nobody can map the
     * page writable or write(2) it (our mapping made above keeps working),
     * so no client can tell the others that the daemon died. */
    if (fcntl(life_memfd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
        return -1;
    atomic_store((_Atomic uint32_t *)&life->word,
                 (uint32_t)syscall(SYS_gettid) | FUTEX_WAITERS);
    head.list.next = &entry;
    entry.next = &head.list;
    head.futex_offset = (long)((char *)&life->word - (char *)&entry);
    head.list_op_pending = NULL;
    return syscall(SYS_set_robust_list, &head, sizeof head) == 0 ? 0 : -1;
}

struct esem_wake *life_wake(uint32_t *n)
{
    *n = life_nwake;
    return (struct esem_wake *)((char *)life + ESEM_WAKE_OFF);
}

int life_fd(void)
{
    return life_memfd;
}

void life_moved(void)
{
    atomic_store((_Atomic uint32_t *)&life->word, ESEM_LIFE_MOVED);
    esem_util_futex_wake(&life->word, INT_MAX);
}

int life_inherit_wake(int old_fd)
{
    struct stat st;
    if (fstat(old_fd, &st) < 0 || (uint64_t)st.st_size != life_len)
        return -1; /* another --max-sems: the table indices would not match */
    const char *old = mmap(NULL, life_len, PROT_READ, MAP_SHARED, old_fd, 0);
    if (old == MAP_FAILED)
        return -1;
    const struct esem_wake *ow = (const struct esem_wake *)(old + ESEM_WAKE_OFF);
    struct esem_wake *nw = (struct esem_wake *)((char *)life + ESEM_WAKE_OFF);
    for (uint32_t i = 0; i < life_nwake; i++)
        if (ow[i].sleepers) /* (pages stay unallocated where nobody slept) */
            atomic_store((_Atomic uint32_t *)&nw[i].sleepers,
                         atomic_load((_Atomic const uint32_t *)&ow[i].sleepers));
    munmap((void *)old, life_len);
    return 0;
}

void life_end(void)
{
    if (!life || life == MAP_FAILED)
        return;
    /* a clean stop tells the clients at once, as a death would */
    atomic_store((_Atomic uint32_t *)&life->word, FUTEX_OWNER_DIED | FUTEX_WAITERS);
    esem_util_futex_wake(&life->word, INT_MAX);
}
