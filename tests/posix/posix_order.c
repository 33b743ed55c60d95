/*
 * Wake-up order.  POSIX (sem_post): "If the Process Scheduling option is
 * supported, the thread to be unblocked shall be chosen in a manner
 * appropriate to the scheduling policies and parameters in effect for the
 * blocked threads.  In the case of the schedulers SCHED_FIFO and SCHED_RR,
 * the highest priority waiting thread shall be unblocked, and if there is
 * more than one highest priority thread blocked waiting for the semaphore,
 * then the highest priority thread that has been waiting the longest shall
 * be unblocked."
 *
 * Needs root (SCHED_FIFO); skipped if sched_setscheduler fails.  Everything
 * runs on one CPU (sched_setaffinity) with the main thread at a priority
 * above every waiter, so a waiter runs only when the main thread sleeps:
 * each waiter is surely queued before the next is created, and after each
 * post exactly one waiter runs and records itself before the next post.
 *
 * glibc gives no guarantee of its own here: sem_post wakes one futex waiter,
 * and the kernel's futex queue is a priority list (RT tasks by priority,
 * FIFO among equals); with one CPU and one post at a time the woken waiter
 * is the one that takes the permit.  So glibc passes on Linux.
 */
#include "px.h"

#include <sched.h>

#define MAIN_PRIO 60
#define MAXW 10

struct order {
    sem_t s;
    atomic_int next;
    int seq[MAXW];
    atomic_int errors;
};

struct wctx {
    struct order *o;
    int id;
};

static void *order_waiter(void *p)
{
    struct wctx *w = p;
    struct timespec d = px_deadline(CLOCK_MONOTONIC, 30000);
    if (sem_clockwait(&w->o->s, CLOCK_MONOTONIC, &d) != 0) {
        atomic_fetch_add(&w->o->errors, 1);
        return NULL;
    }
    w->o->seq[atomic_fetch_add(&w->o->next, 1)] = w->id;
    return NULL;
}

/* The scheduling state to go back to (also from the teardown, if a test
 * failed while real-time). */
static struct {
    int active;
    int policy;
    struct sched_param param;
    cpu_set_t cpus;
} saved;

static void back_to_normal(void)
{
    if (!saved.active)
        return;
    sched_setscheduler(0, saved.policy, &saved.param);
    sched_setaffinity(0, sizeof saved.cpus, &saved.cpus);
    saved.active = 0;
}

/* Pin to one CPU and become SCHED_FIFO at MAIN_PRIO; 0 if not possible. */
static int go_realtime(void)
{
    if (!px_is_root())
        return 0;
    if (sched_getaffinity(0, sizeof saved.cpus, &saved.cpus) != 0)
        return 0;
    saved.policy = sched_getscheduler(0);
    if (saved.policy < 0 || sched_getparam(0, &saved.param) != 0)
        return 0;
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved.cpus))
        cpu++;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        return 0;
    saved.active = 1;
    struct sched_param sp = {.sched_priority = MAIN_PRIO};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
        sched_setaffinity(0, sizeof saved.cpus, &saved.cpus);
        saved.active = 0;
        return 0;
    }
    return 1;
}

static int order_teardown(void **state)
{
    back_to_normal();
    return px_test_teardown(state);
}

/* Waiters with priorities prio[0..n-1] queue in that order; n posts, one at
 * a time, must release them in the order `expect`. */
struct pctx {
    struct order *o;
    int id, prio;
};

static int order_child(void *p)
{
    struct pctx *c = p;
    struct sched_param sp = {.sched_priority = c->prio};
    PX_CHILD_CHECK(sched_setscheduler(0, SCHED_FIFO, &sp) == 0);
    struct wctx w = {c->o, c->id};
    order_waiter(&w);
    return 0;
}

static void check_order(const int *prio, const int *expect, int n, int procs)
{
    if (!go_realtime()) {
        print_message("    (SCHED_FIFO or CPU pinning not available: skipped)\n");
        skip();
    }
    struct order *o = px_shared(sizeof *o);
    assert_non_null(o);
    assert_int_equal(sem_init(&o->s, procs, 0), 0);
    /* connect to whatever serves the semaphore before the waiters start */
    assert_int_equal(sem_post(&o->s), 0);
    assert_int_equal(sem_trywait(&o->s), 0);
    struct px_thread t[MAXW];
    struct wctx w[MAXW];
    pid_t kids[MAXW];
    for (int i = 0; i < n && procs; i++) {
        struct pctx c = {o, i, prio[i]};
        kids[i] = px_fork(order_child, &c);
        assert_true(kids[i] > 0);
        px_sleep_ms(50);
    }
    for (int i = 0; i < n && !procs; i++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&a, SCHED_FIFO);
        struct sched_param sp = {.sched_priority = prio[i]};
        pthread_attr_setschedparam(&a, &sp);
        w[i].o = o;
        w[i].id = i;
        int e = px_thread_start_attr(&t[i], &a, order_waiter, &w[i]);
        pthread_attr_destroy(&a);
        assert_int_equal(e, 0);
        /* the main thread sleeps: the new waiter runs and queues */
        px_sleep_ms(50);
    }
    px_sleep_ms(PX_SETTLE_MS);
    assert_int_equal(atomic_load(&o->next), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(sem_post(&o->s), 0);
        /* the main thread sleeps: the released waiter runs and records */
        for (int k = 0; k < 2000 && atomic_load(&o->next) < i + 1; k++)
            px_sleep_ms(1);
    }
    int all = 1;
    for (int i = 0; i < n; i++)
        all &= procs ? px_reap_ok(kids[i], PX_LONG_MS) : px_thread_join(&t[i], PX_LONG_MS, NULL) == 0;
    back_to_normal();
    assert_true(all);
    assert_int_equal(atomic_load(&o->errors), 0);
    assert_int_equal(atomic_load(&o->next), n);
    char got[128] = "", want[128] = "";
    for (int i = 0; i < n; i++) {
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d(p%d)", o->seq[i],
                 prio[o->seq[i]]);
        snprintf(want + strlen(want), sizeof want - strlen(want), " %d(p%d)", expect[i],
                 prio[expect[i]]);
    }
    print_message("    released:%s\n", got);
    for (int i = 0; i < n; i++)
        if (o->seq[i] != expect[i])
            fail_msg("wake-up order:%s; expected:%s", got, want);
    assert_int_equal(px_getvalue(&o->s), 0);
    assert_int_equal(sem_destroy(&o->s), 0);
    munmap(o, sizeof *o);
}

static void test_highest_priority_first_fifo_among_equals(void **state)
{
    (void)state;
    /* waiter i has priority prio[i] and queues i-th */
    static const int prio[] = {10, 30, 20, 30, 10, 20, 30, 10};
    static const int expect[] = {1, 3, 6, 2, 5, 0, 4, 7};
    check_order(prio, expect, 8, 0);
}

static void test_fifo_among_equal_priorities(void **state)
{
    (void)state;
    static const int prio[] = {20, 20, 20, 20, 20, 20};
    static const int expect[] = {0, 1, 2, 3, 4, 5};
    check_order(prio, expect, 6, 0);
}

static void test_late_high_priority_waiter_goes_first(void **state)
{
    (void)state;
    /* the last to queue outranks all who waited longer */
    static const int prio[] = {5, 5, 5, 5, 40};
    static const int expect[] = {4, 0, 1, 2, 3};
    check_order(prio, expect, 5, 0);
}

/* The same between processes (pshared semaphore, one waiter per process). */
static void test_processes_priority_order(void **state)
{
    (void)state;
    static const int prio[] = {10, 30, 20, 30, 10, 20};
    static const int expect[] = {1, 3, 2, 5, 0, 4};
    check_order(prio, expect, 6, 1);
}

#define ORDER_TEST(f)                                                                              \
    cmocka_unit_test_prestate_setup_teardown(f, px_test_setup, order_teardown, (void *)#f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ORDER_TEST(test_highest_priority_first_fifo_among_equals),
        ORDER_TEST(test_fifo_among_equal_priorities),
        ORDER_TEST(test_late_high_priority_waiter_goes_first),
        ORDER_TEST(test_processes_priority_order),
    };
    return PX_MAIN(tests);
}
