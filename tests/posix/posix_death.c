/*
 * Process death.  A process SIGKILLed while blocked in sem_wait must not
 * take a later post with it (the value rises, or the next waiter gets it),
 * and the others keep working.  A process killed after a successful wait
 * keeps its permit for good: a semaphore has no owner, nothing is released
 * on its behalf (the value stays 0), on glibc as on esem.
 *
 * Each scenario runs on a named semaphore and on an unnamed pshared one.
 */
#include "px.h"

struct sem_pair {
    sem_t *s;
    int named;
    char name[64];
};

static void pair_open(struct sem_pair *p, int named, const char *tag, unsigned value)
{
    p->named = named;
    if (named) {
        px_name(p->name, sizeof p->name, tag);
        p->s = sem_open(p->name, O_CREAT | O_EXCL, 0600, value);
        assert_ptr_not_equal(p->s, SEM_FAILED);
        assert_int_equal(sem_unlink(p->name), 0);
    } else {
        p->s = px_shared(sizeof *p->s);
        assert_non_null(p->s);
        assert_int_equal(sem_init(p->s, 1, value), 0);
    }
}

static void pair_close(struct sem_pair *p)
{
    if (p->named) {
        assert_int_equal(sem_close(p->s), 0);
    } else {
        assert_int_equal(sem_destroy(p->s), 0);
        munmap(p->s, sizeof *p->s);
    }
}

static int block_forever(void *p)
{
    sem_t *s = p;
    sem_wait(s);
    return 1; /* it was meant to be killed while blocked */
}

static int wait_bounded(void *p)
{
    sem_t *s = p;
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    PX_CHILD_CHECK(sem_timedwait(s, &d) == 0);
    return 0;
}

static void kill_and_reap(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = px_reap(pid, PX_LONG_MS);
    assert_true(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* ---- killed while blocked ---- */

/* The post right after the waiter's death (as soon as waitpid returned)
 * raises the value.  Repeated: the window, if there is one, is short. */
#define KW_ROUNDS 40

static void killed_waiter_post_raises_value(int named)
{
    struct sem_pair p;
    pair_open(&p, named, "kw", 0);
    int lost = 0;
    for (int i = 0; i < KW_ROUNDS; i++) {
        pid_t c = px_fork(block_forever, p.s);
        assert_true(c > 0);
        px_sleep_ms(30); /* queued by then, almost surely; if not, no harm */
        kill_and_reap(c);
        assert_int_equal(sem_post(p.s), 0);
        int v = px_getvalue(p.s);
        if (v == 1)
            assert_int_equal(sem_trywait(p.s), 0);
        else
            lost++;
    }
    if (lost)
        fail_msg("%d of %d posts made right after the waiter was reaped were lost", lost,
                 KW_ROUNDS);
    /* and some time later */
    px_sleep_ms(PX_SETTLE_MS);
    assert_int_equal(sem_post(p.s), 0);
    assert_int_equal(px_getvalue(p.s), 1);
    assert_int_equal(sem_trywait(p.s), 0);
    pair_close(&p);
}

static void test_killed_waiter_post_raises_value_named(void **state)
{
    (void)state;
    killed_waiter_post_raises_value(1);
}

static void test_killed_waiter_post_raises_value_unnamed(void **state)
{
    (void)state;
    killed_waiter_post_raises_value(0);
}

/* The dead waiter queued first; a live one queued after it gets the post. */
static void killed_waiter_next_waiter_gets_post(int named)
{
    struct sem_pair p;
    pair_open(&p, named, "kn", 0);
    pid_t dead = px_fork(block_forever, p.s);
    assert_true(dead > 0);
    px_sleep_ms(PX_SETTLE_MS);
    pid_t live = px_fork(wait_bounded, p.s);
    assert_true(live > 0);
    px_sleep_ms(PX_SETTLE_MS);
    kill_and_reap(dead);
    assert_int_equal(sem_post(p.s), 0);
    assert_true(px_reap_ok(live, PX_LONG_MS + 5000));
    assert_int_equal(px_getvalue(p.s), 0);
    pair_close(&p);
}

static void test_killed_waiter_next_waiter_gets_post_named(void **state)
{
    (void)state;
    killed_waiter_next_waiter_gets_post(1);
}

static void test_killed_waiter_next_waiter_gets_post_unnamed(void **state)
{
    (void)state;
    killed_waiter_next_waiter_gets_post(0);
}

/* Many waiters, some killed: each post reaches a live waiter or the value. */
static void killed_some_of_many(int named)
{
    enum { N = 6 };
    struct sem_pair p;
    pair_open(&p, named, "km", 0);
    pid_t kid[N];
    for (int i = 0; i < N; i++) {
        /* even ones will be killed, odd ones wait (bounded) for a post */
        kid[i] = px_fork(i % 2 == 0 ? block_forever : wait_bounded, p.s);
        assert_true(kid[i] > 0);
        px_sleep_ms(20);
    }
    px_sleep_ms(PX_SETTLE_MS);
    for (int i = 0; i < N; i += 2)
        kill_and_reap(kid[i]);
    for (int i = 0; i < N / 2 + 1; i++)
        assert_int_equal(sem_post(p.s), 0);
    int ok = 1;
    for (int i = 1; i < N; i += 2)
        ok &= px_reap_ok(kid[i], PX_LONG_MS + 5000);
    assert_true(ok);
    assert_int_equal(px_getvalue(p.s), 1);
    pair_close(&p);
}

static void test_killed_some_of_many_waiters_named(void **state)
{
    (void)state;
    killed_some_of_many(1);
}

static void test_killed_some_of_many_waiters_unnamed(void **state)
{
    (void)state;
    killed_some_of_many(0);
}

/* A process dies blocked on a semaphore; two others, released the moment it
 * is reaped, ping-pong through that semaphore and another: every post must
 * reach the live process (or the value), none the dead one. */
struct pp {
    sem_t *a, *b;
    struct px_gate *go;
    int role;
};

#define PP_ROUNDS 400

static int pp_main(void *p)
{
    struct pp *x = p;
    PX_CHILD_CHECK(px_gate_wait(x->go, PX_LONG_MS) == 0);
    for (int i = 0; i < PP_ROUNDS; i++) {
        struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
        if (x->role == 0) {
            PX_CHILD_CHECK(sem_timedwait(x->a, &d) == 0);
            PX_CHILD_CHECK(sem_post(x->b) == 0);
        } else {
            PX_CHILD_CHECK(sem_post(x->a) == 0);
            PX_CHILD_CHECK(sem_timedwait(x->b, &d) == 0);
        }
    }
    return 0;
}

static void others_keep_working(int named)
{
    struct sem_pair a, b;
    pair_open(&a, named, "oka", 0);
    pair_open(&b, named, "okb", 0);
    struct px_gate go;
    assert_int_equal(px_gate_init(&go), 0);
    pid_t victim = px_fork(block_forever, a.s);
    assert_true(victim > 0);
    struct pp x0 = {a.s, b.s, &go, 0}, x1 = {a.s, b.s, &go, 1};
    pid_t p0 = px_fork(pp_main, &x0);
    pid_t p1 = px_fork(pp_main, &x1);
    assert_true(p0 > 0 && p1 > 0);
    px_sleep_ms(PX_SETTLE_MS);
    kill_and_reap(victim);
    assert_int_equal(px_gate_post(&go), 0);
    assert_int_equal(px_gate_post(&go), 0);
    int ok0 = px_reap_ok(p0, 60000), ok1 = px_reap_ok(p1, 60000);
    px_gate_close(&go);
    assert_true(ok0);
    assert_true(ok1);
    assert_int_equal(px_getvalue(a.s), 0);
    assert_int_equal(px_getvalue(b.s), 0);
    pair_close(&a);
    pair_close(&b);
}

static void test_others_keep_working_named(void **state)
{
    (void)state;
    others_keep_working(1);
}

static void test_others_keep_working_unnamed(void **state)
{
    (void)state;
    others_keep_working(0);
}

/* ---- killed while holding ---- */

struct holder {
    sem_t *s;
    struct px_gate *took;
};

static int hold_forever(void *p)
{
    struct holder *h = p;
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    PX_CHILD_CHECK(sem_timedwait(h->s, &d) == 0);
    PX_CHILD_CHECK(px_gate_post(h->took) == 0);
    for (;;)
        pause();
}

static void killed_holder_releases_nothing(int named)
{
    struct sem_pair p;
    pair_open(&p, named, "kh", 1);
    struct px_gate g;
    assert_int_equal(px_gate_init(&g), 0);
    struct holder h = {p.s, &g};
    pid_t c = px_fork(hold_forever, &h);
    assert_true(c > 0);
    assert_int_equal(px_gate_wait(&g, PX_LONG_MS), 0);
    assert_int_equal(px_getvalue(p.s), 0);
    kill_and_reap(c);
    px_gate_close(&g);
    /* no owner, no release: the value stays 0, for good */
    assert_int_equal(px_getvalue(p.s), 0);
    errno = 0;
    assert_int_equal(sem_trywait(p.s), -1);
    assert_int_equal(errno, EAGAIN);
    struct timespec d = px_deadline(CLOCK_REALTIME, 300);
    errno = 0;
    assert_int_equal(sem_timedwait(p.s, &d), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(px_getvalue(p.s), 0);
    /* it still works */
    assert_int_equal(sem_post(p.s), 0);
    assert_int_equal(sem_trywait(p.s), 0);
    pair_close(&p);
}

static void test_killed_holder_releases_nothing_named(void **state)
{
    (void)state;
    killed_holder_releases_nothing(1);
}

static void test_killed_holder_releases_nothing_unnamed(void **state)
{
    (void)state;
    killed_holder_releases_nothing(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(test_killed_waiter_post_raises_value_named),
        PX_TEST(test_killed_waiter_post_raises_value_unnamed),
        PX_TEST(test_killed_waiter_next_waiter_gets_post_named),
        PX_TEST(test_killed_waiter_next_waiter_gets_post_unnamed),
        PX_TEST(test_killed_some_of_many_waiters_named),
        PX_TEST(test_killed_some_of_many_waiters_unnamed),
        PX_TEST(test_others_keep_working_named),
        PX_TEST(test_others_keep_working_unnamed),
        PX_TEST(test_killed_holder_releases_nothing_named),
        PX_TEST(test_killed_holder_releases_nothing_unnamed),
    };
    return PX_MAIN(tests);
}
