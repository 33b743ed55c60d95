/*
 * Signals: a handler installed without SA_RESTART ends esem_wait and the
 * timed waits with EINTR, every time (also when the signal comes at the
 * moment a periodic wake-up would have: alarm(1)); one with SA_RESTART lets
 * them go on (POSIX's rule for interruptible calls; glibc's sem_wait does
 * the same, its timed waits end with EINTR: tests/posix/DEVIATIONS.md);
 * no waiter is left behind and no permit lost or duplicated, also when a
 * grant races the signal; esem_post works from a handler, including one that
 * interrupted an esem call of its thread.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "esem.h"

static volatile sig_atomic_t handled;
static void count_handler(int sig)
{
    (void)sig;
    handled++;
}

static void install(void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
}

static void restore(void)
{
    signal(SIGUSR1, SIG_DFL);
}

static int value_of(esem_t *s)
{
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    return v;
}

/* ---- a helper thread that signals the main thread once it is queued ---- */

struct kicker {
    const char *name; /* semaphore the main thread waits on */
    pid_t pid;
    pthread_t target;
    int queued; /* out: the waiter was seen before the signal */
};

static void *kick_when_queued(void *arg)
{
    struct kicker *k = arg;
    k->queued = hx_wait_waiter(k->name, k->pid, 1, 10000);
    pthread_kill(k->target, SIGUSR1);
    return NULL;
}

static void wait_is_interrupted(int flags)
{
    char name[64];
    hx_name(name, sizeof name, flags ? "eintr-restart" : "eintr");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    install(count_handler, flags);
    handled = 0;
    struct kicker k = {.name = name, .pid = getpid(), .target = pthread_self()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, kick_when_queued, &k), 0);
    errno = 0;
    int rc = esem_wait(s);
    int err = errno;
    assert_int_equal(pthread_join(th, NULL), 0);
    restore();
    assert_true(k.queued);
    assert_int_equal(handled, 1);
    assert_int_equal(rc, -1);
    assert_int_equal(err, EINTR);

    /* No waiter left: the next post raises the value, nobody takes it. */
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.nwaiters, 0);
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_wait(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void wait_interrupted_without_sa_restart_is_eintr(void **state)
{
    (void)state;
    wait_is_interrupted(0);
}

struct late_post {
    struct kicker k;
    esem_t *s;
};

static void *kick_then_post(void *arg)
{
    struct late_post *lp = arg;
    kick_when_queued(&lp->k);
    for (int i = 0; i < 5000 && !handled; i++)
        hx_sleep_ms(1);
    hx_sleep_ms(50); /* the restarted wait is asleep again */
    esem_post(lp->s);
    return NULL;
}

static void wait_with_sa_restart_handler_goes_on(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "restart");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    install(count_handler, SA_RESTART);
    handled = 0;
    struct late_post lp = {.k = {.name = name, .pid = getpid(), .target = pthread_self()}, .s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, kick_then_post, &lp), 0);
    int rc = esem_wait(s);
    assert_int_equal(pthread_join(th, NULL), 0);
    restore();
    assert_true(lp.k.queued);
    assert_int_equal(handled, 1);
    assert_int_equal(rc, 0); /* restarted, then granted the post */
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

static void timed_waits_interrupted_are_eintr(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "eintr-timed");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    install(count_handler, 0);
    for (int clk = 0; clk < 2; clk++) {
        struct kicker k = {.name = name, .pid = getpid(), .target = pthread_self()};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, kick_when_queued, &k), 0);
        clockid_t c = clk ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec dl = hx_deadline(c, 30000);
        errno = 0;
        int rc = clk ? esem_clockwait(s, c, &dl) : esem_timedwait(s, &dl);
        int err = errno;
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(k.queued);
        assert_int_equal(rc, -1);
        assert_int_equal(err, EINTR);
        assert_true(hx_wait_nwaiters(name, 0, 10000));
    }
    restore();
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(value_of(s), 1);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* POSIX: after an SA_RESTART handler an interruptible call "shall restart";
 * the timed waits do, and keep their deadline. */
static void timed_waits_with_sa_restart_go_on(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "timed-restart");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    install(count_handler, SA_RESTART);
    for (int clk = 0; clk < 2; clk++) {
        handled = 0;
        struct late_post lp = {.k = {.name = name, .pid = getpid(), .target = pthread_self()},
                               .s = s};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, kick_then_post, &lp), 0);
        clockid_t c = clk ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec dl = hx_deadline(c, 30000);
        int rc = clk ? esem_clockwait(s, c, &dl) : esem_timedwait(s, &dl);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(lp.k.queued);
        assert_int_equal(handled, 1);
        assert_int_equal(rc, 0); /* restarted, then took the post */
    }
    restore();
    assert_int_equal(value_of(s), 0);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- a one-second timer: the signal that used to be lost ----
 *
 * The wait used to sleep in one-second pieces (to look at the daemon now
 * and then); alarm(1) then fired as a piece ended, its handler ran outside
 * the sleep, and the wait went on (returned 0 or hung: 4 runs in 5).  Here
 * 50 threads at once each arm a one-second timer aimed at themselves
 * (alarm(1) for one thread) and wait; for each kind of wait every one of
 * the 50 must end with EINTR after its handler ran.  One miss fails. */
static _Thread_local volatile sig_atomic_t t_alarms;
static void on_alarm(int sig)
{
    (void)sig;
    t_alarms++;
}

enum { ALARM_THREADS = 50 };

struct alarmed {
    esem_t *s;
    int kind; /* 0 esem_wait, 1 esem_timedwait, 2 esem_clockwait */
    int rc, err, alarms;
};

static void *alarmed_wait(void *arg)
{
    struct alarmed *a = arg;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGALRM;
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) < 0) {
        a->rc = -2;
        return NULL;
    }
    struct itimerspec one = {.it_value = {1, 0}};
    timer_settime(t, 0, &one, NULL);
    struct timespec dl = hx_deadline(a->kind == 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME, 10000);
    errno = 0;
    a->rc = a->kind == 0   ? esem_wait(a->s)
            : a->kind == 1 ? esem_timedwait(a->s, &dl)
                           : esem_clockwait(a->s, CLOCK_MONOTONIC, &dl);
    a->err = errno;
    a->alarms = t_alarms;
    timer_delete(t);
    return NULL;
}

static void one_second_timer_always_ends_the_wait(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "alarm");
    esem_t *named = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    esem_t *anon = esem_create(0);
    assert_non_null(named);
    assert_non_null(anon);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    static struct alarmed a[ALARM_THREADS];
    pthread_t th[ALARM_THREADS];
    int misses = 0;
    for (int kind = 0; kind < 4; kind++) {
        for (int i = 0; i < ALARM_THREADS; i++) {
            a[i] = (struct alarmed){.s = kind == 3 ? anon : named, .kind = kind % 3};
            assert_int_equal(pthread_create(&th[i], NULL, alarmed_wait, &a[i]), 0);
        }
        for (int i = 0; i < ALARM_THREADS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            if (a[i].rc != -1 || a[i].err != EINTR || a[i].alarms != 1) {
                fprintf(stderr, "# kind %d thread %d: rc %d errno %d handler ran %d times\n",
                        kind, i, a[i].rc, a[i].err, a[i].alarms);
                misses++;
                if (a[i].rc == 0)
                    esem_post(a[i].s); /* give back what it took */
            }
        }
    }
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(misses, 0);
    assert_int_equal(value_of(named), 0);
    assert_int_equal(value_of(anon), 0);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    assert_int_equal(sh.nwaiters, 0);
    assert_int_equal(esem_close(named), 0);
    assert_int_equal(esem_unlink(name), 0);
    assert_int_equal(esem_destroy(anon), 0);
}

/* ---- a grant racing a signal, from another process ---- */

struct race {
    _Atomic int ready; /* round the waiter is in */
    _Atomic pid_t tid; /* the waiting thread */
    _Atomic int posts; /* posts made by the racer */
};

enum { RACE_ROUNDS = 2000 };

struct racer_arg {
    struct race *r;
    esem_t *sem;
};

static int racer(void *arg)
{
    struct racer_arg *a = arg;
    pid_t tgid = getppid();
    unsigned seed = 12345;
    for (int round = 1; round <= RACE_ROUNDS; round++) {
        while (atomic_load(&a->r->ready) < round)
            ;
        /* Vary the gap between the two events so that the signal lands in
         * every phase of the wait: before it is queued, while it sleeps,
         * just before or after the grant. */
        seed = seed * 1103515245u + 12345u;
        long gap_ns = (seed >> 20) % 4 == 0 ? 0 : (long)((seed >> 8) % 120) * 1000L;
        int sig_first = (seed >> 4) & 1;
        if (sig_first)
            HX_CHECK(syscall(SYS_tgkill, tgid, atomic_load(&a->r->tid), SIGUSR1) == 0);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &now);
        while ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < gap_ns);
        HX_CHECK(esem_post(a->sem) == 0);
        atomic_fetch_add(&a->r->posts, 1);
        if (!sig_first)
            HX_CHECK(syscall(SYS_tgkill, tgid, atomic_load(&a->r->tid), SIGUSR1) == 0);
    }
    return 0;
}

static void grant_racing_a_signal_loses_no_permit(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "race");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    struct race *r = hx_shared(sizeof *r);
    assert_non_null(r);
    atomic_store(&r->tid, (pid_t)syscall(SYS_gettid));
    install(count_handler, 0);
    struct racer_arg a = {.r = r, .sem = s};
    pid_t c = hx_fork(racer, &a);
    assert_true(c > 0);

    int granted = 0, interrupted = 0;
    for (int round = 1; round <= RACE_ROUNDS; round++) {
        atomic_store(&r->ready, round);
        errno = 0;
        int rc = esem_wait(s);
        if (rc == 0)
            granted++;
        else if (errno == EINTR)
            interrupted++;
        else
            fail_msg("round %d: esem_wait: %s", round, strerror(errno));
    }
    hx_assert_child_ok(c, 30000);
    restore();
    assert_int_equal(atomic_load(&r->posts), RACE_ROUNDS);
    /* Every post either ended a wait with 0 or is still in the value. */
    assert_true(hx_wait_nwaiters(name, 0, 10000));
    int v = value_of(s);
    print_message("race: %d granted, %d interrupted, value %d\n", granted, interrupted, v);
    assert_int_equal(granted + v, RACE_ROUNDS);
    hx_shared_free(r, sizeof *r);
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- esem_post from a handler ---- */

static esem_t *handler_sem;
static volatile sig_atomic_t handler_posts, handler_failures;

static void posting_handler(int sig)
{
    (void)sig;
    int saved = errno;
    errno = 4242;
    if (esem_post(handler_sem) == 0) {
        handler_posts++;
        if (errno != 4242) /* a successful post leaves errno alone */
            handler_failures++;
    } else {
        handler_failures++;
    }
    errno = saved;
}

static void post_from_a_handler_works(void **state)
{
    (void)state;
    handler_sem = esem_create(0);
    assert_non_null(handler_sem);
    handler_posts = handler_failures = 0;
    install(posting_handler, SA_RESTART);
    for (int i = 0; i < 10; i++)
        raise(SIGUSR1);
    restore();
    assert_int_equal(handler_failures, 0);
    assert_int_equal(handler_posts, 10);
    assert_int_equal(value_of(handler_sem), 10);
    assert_int_equal(esem_destroy(handler_sem), 0);
}

static void handler_posting_the_awaited_semaphore_loses_nothing(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "selfpost");
    esem_t *s = esem_open(name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(s);
    handler_sem = s;
    handler_posts = handler_failures = 0;
    install(posting_handler, 0);
    for (int round = 0; round < 10; round++) {
        struct kicker k = {.name = name, .pid = getpid(), .target = pthread_self()};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, kick_when_queued, &k), 0);
        errno = 0;
        int rc = esem_wait(s);
        int err = errno;
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(k.queued);
        assert_int_equal(handler_failures, 0);
        assert_int_equal(handler_posts, round + 1);
        /* The handler's post either granted this very wait, or (EINTR)
         * is still in the value. */
        if (rc == 0) {
            assert_int_equal(value_of(s), 0);
        } else {
            assert_int_equal(err, EINTR);
            assert_int_equal(value_of(s), 1);
            assert_int_equal(esem_trywait(s), 0);
        }
    }
    restore();
    assert_int_equal(esem_close(s), 0);
    assert_int_equal(esem_unlink(name), 0);
}

struct pelter {
    pthread_t target;
    atomic_int stop;
    long sent;
};

static void *pelt(void *arg)
{
    struct pelter *p = arg;
    unsigned seed = 777;
    while (!atomic_load(&p->stop)) {
        seed = seed * 1103515245u + 12345u;
        struct timespec t = {0, (long)((seed >> 16) % 200) * 1000L};
        nanosleep(&t, NULL);
        pthread_kill(p->target, SIGUSR1);
        p->sent++;
    }
    return NULL;
}

/* Signals at random moments of every kind of call: the handler's post uses
 * the library while the interrupted call is anywhere in its request. */
static void handler_posts_at_random_moments(void **state)
{
    (void)state;
    esem_t *s = esem_create(0);
    assert_non_null(s);
    handler_sem = s;
    handler_posts = handler_failures = 0;
    install(posting_handler, 0);
    struct pelter p = {.target = pthread_self()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pelt, &p), 0);
    long taken = 0, posted = 0;
    for (int i = 0; i < 3000; i++) {
        int v;
        switch (i % 4) {
        case 0:
        case 1:
            errno = 0;
            if (esem_wait(s) == 0)
                taken++;
            else if (errno != EINTR)
                fail_msg("esem_wait: %s", strerror(errno));
            break;
        case 2:
            if (esem_trywait(s) == 0)
                taken++;
            else if (errno != EAGAIN)
                fail_msg("esem_trywait: %s", strerror(errno));
            break;
        default:
            if (esem_getvalue(s, &v) != 0)
                fail_msg("esem_getvalue: %s", strerror(errno));
            if (i % 8 == 3) {
                if (esem_post(s) != 0)
                    fail_msg("esem_post: %s", strerror(errno));
                posted++;
            }
            break;
        }
    }
    atomic_store(&p.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    restore();
    assert_int_equal(handler_failures, 0);
    int v = value_of(s);
    print_message("pelted: %ld signals, %d handler posts, %ld own posts, %ld taken, value %d\n",
                  p.sent, (int)handler_posts, posted, taken, v);
    assert_int_equal(taken + v, handler_posts + posted);
    assert_int_equal(esem_destroy(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(wait_interrupted_without_sa_restart_is_eintr),
        HX_TEST(wait_with_sa_restart_handler_goes_on),
        HX_TEST(timed_waits_interrupted_are_eintr),
        HX_TEST(timed_waits_with_sa_restart_go_on),
        HX_TEST(one_second_timer_always_ends_the_wait),
        HX_TEST(grant_racing_a_signal_loses_no_permit),
        HX_TEST(post_from_a_handler_works),
        HX_TEST(handler_posting_the_awaited_semaphore_loses_nothing),
        HX_TEST(handler_posts_at_random_moments),
    };
    return HX_RUN_GROUP(tests);
}
