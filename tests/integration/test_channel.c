/*
 * A hostile client (TM-host) with a legitimate session that scribbles on its
 * own channel memory: bad requests get POSIX errnos, forged handles and
 * cancel games change no permit, a scribbler is dropped and hurts nobody
 * else, a dying client is not confused with a newcomer, and the daemon
 * stops cleanly with connections open.  The control socket's side is
 * test_garbage.c.
 */
#include "rawclient.h"

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
    rnd_seed((uint64_t)getpid() << 17);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(channel_is_sealed_against_resizing),
        HX_TEST(bad_requests_get_posix_errnos),
        HX_TEST(forged_handles_of_other_sessions_are_refused),
        HX_TEST(cancel_games_keep_permits_exact),
        HX_TEST(scribbled_channel_hurts_nobody_else),
        HX_TEST(a_scribbler_is_dropped),
        HX_TEST(concurrent_scribblers_do_not_disturb_a_client),
        HX_TEST(dying_client_is_not_confused_with_a_newcomer),
        HX_TEST(daemon_stops_cleanly_with_connections_open),
    };
    return HX_RUN_GROUP(tests);
}
