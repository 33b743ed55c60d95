/*
 * fork() and exec(): a child keeps the parent's open semaphores through its
 * own session, also after changing uid, outlives its parent, passes them on
 * to its own children, and drops them when it execs.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "esem.h"

struct pair {
    esem_t *to_child, *to_parent; /* parent posts to_child, child posts to_parent */
    char name[64];                /* the name of to_child when it is named */
    pid_t parent;                 /* the test process */
};

static void open_pair(struct pair *p, const char *tag)
{
    char back[80];
    hx_name(p->name, sizeof p->name, tag);
    p->parent = getpid();
    snprintf(back, sizeof back, "%s-back", p->name);
    p->to_child = esem_open(p->name, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(p->to_child);
    p->to_parent = esem_open(back, O_CREAT | O_EXCL, 0600, 0);
    assert_non_null(p->to_parent);
}

static void close_pair(struct pair *p)
{
    char back[80];
    snprintf(back, sizeof back, "%s-back", p->name);
    assert_int_equal(esem_close(p->to_child), 0);
    assert_int_equal(esem_close(p->to_parent), 0);
    assert_int_equal(esem_unlink(p->name), 0);
    assert_int_equal(esem_unlink(back), 0);
}

static int timed_wait_s(esem_t *s, int seconds)
{
    struct timespec dl = hx_deadline(CLOCK_REALTIME, seconds * 1000L);
    return esem_timedwait(s, &dl);
}

/* Child side of a ping-pong: ready, take a grant from the parent, answer. */
static int child_ping_pong(void *arg)
{
    struct pair *p = arg;
    HX_CHECK(esem_post(p->to_parent) == 0);
    HX_CHECK(esem_wait(p->to_child) == 0);
    if (p->name[0]) {
        /* and the other way round: our post is what ends the parent's wait */
        char back[80];
        snprintf(back, sizeof back, "%s-back", p->name);
        HX_CHECK(hx_wait_waiter(back, p->parent, 1, 10000));
    }
    HX_CHECK(esem_post(p->to_parent) == 0);
    int v = -1;
    HX_CHECK(esem_getvalue(p->to_child, &v) == 0 && v == 0);
    return 0;
}

static void parent_ping_pong(struct pair *p, pid_t child)
{
    assert_int_equal(timed_wait_s(p->to_parent, 30), 0); /* child is up */
    assert_true(hx_wait_waiter(p->name, child, 1, 10000));
    assert_int_equal(esem_post(p->to_child), 0);
    assert_int_equal(timed_wait_s(p->to_parent, 30), 0);
}

static void child_uses_parents_named_semaphores(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "named");
    pid_t c = hx_fork(child_ping_pong, &p);
    assert_true(c > 0);
    parent_ping_pong(&p, c);
    hx_assert_child_ok(c, 30000);
    /* The child's exit took nothing from the parent. */
    struct hx_show sh;
    assert_int_equal(hx_show(p.name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 1);
    assert_int_equal(esem_post(p.to_child), 0);
    assert_int_equal(esem_trywait(p.to_child), 0);
    close_pair(&p);
}

static void child_uses_parents_anonymous_semaphores(void **state)
{
    (void)state;
    esem_t *down = esem_create(0), *up = esem_create(0);
    assert_non_null(down);
    assert_non_null(up);
    struct pair p = {.to_child = down, .to_parent = up};
    pid_t c = hx_fork(child_ping_pong, &p);
    assert_true(c > 0);
    assert_int_equal(timed_wait_s(up, 30), 0);
    assert_int_equal(esem_post(down), 0);
    assert_int_equal(timed_wait_s(up, 30), 0);
    hx_assert_child_ok(c, 30000);
    assert_int_equal(esem_destroy(down), 0);
    assert_int_equal(esem_destroy(up), 0);
}

struct holder_arg {
    struct pair *p;
    struct hx_gate done;
};

static int child_holds_until_told(void *arg)
{
    struct holder_arg *h = arg;
    HX_CHECK(esem_post(h->p->to_parent) == 0);
    HX_CHECK(hx_gate_wait(&h->done, 30000) == 0);
    return 0;
}

static void child_shows_as_a_second_holder(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "holder");
    esem_t *again = esem_open(p.name, 0, 0, 0); /* two opens in the parent */
    assert_ptr_equal(again, p.to_child);
    struct holder_arg h = {.p = &p};
    hx_gate_init(&h.done);
    pid_t c = hx_fork(child_holds_until_told, &h);
    assert_true(c > 0);
    assert_int_equal(timed_wait_s(p.to_parent, 30), 0);

    struct hx_show sh;
    assert_int_equal(hx_show(p.name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 2);
    assert_int_equal(hx_holder_opens(&sh, c), 2); /* one reference per parent open */

    assert_int_equal(hx_gate_post(&h.done), 0);
    hx_assert_child_ok(c, 30000);
    assert_true(hx_wait_holder(p.name, c, 0, 10000));
    hx_gate_close(&h.done);
    assert_int_equal(esem_close(again), 0);
    close_pair(&p);
}

#define NOBODY 65534

static int child_setuid_then_use(void *arg)
{
    struct pair *p = arg;
    /* Like Apache's workers: drop privileges first thing after fork. */
    HX_CHECK(hx_become(NOBODY, NOBODY) == 0);
    struct pair q = *p;
    q.name[0] = 0; /* esemctl cannot reach the root-only socket as this uid */
    return child_ping_pong(&q);
}

static void setuid_child_keeps_inherited_semaphores(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "setuid");
    pid_t c = hx_fork(child_setuid_then_use, &p);
    assert_true(c > 0);
    parent_ping_pong(&p, c);
    hx_assert_child_ok(c, 30000);
    close_pair(&p);
}

struct priv_arg {
    char priv[64], fresh[64];
};

static int child_setuid_then_open_by_name(void *arg)
{
    struct priv_arg *a = arg;
    HX_CHECK(hx_become(NOBODY, NOBODY) == 0);
    errno = 0;
    esem_t *s = esem_open(a->priv, 0, 0, 0);
    HX_CHECK(s == NULL && errno == EACCES);
    errno = 0;
    HX_CHECK(esem_unlink(a->priv) == -1 && errno == EACCES);
    /* What it creates now is owned by its new uid. */
    esem_t *f = esem_open(a->fresh, O_CREAT | O_EXCL, 0600, 0);
    HX_CHECK(f != NULL);
    HX_CHECK(esem_close(f) == 0);
    return 0;
}

/* The inherited session must not carry the parent's privileges to new,
 * name-based requests: after setuid the child is checked as its new uid,
 * exactly as sem_open on /dev/shm would check it. */
static void setuid_child_is_checked_as_its_new_uid(void **state)
{
    (void)state;
    struct priv_arg a;
    hx_name(a.priv, sizeof a.priv, "priv");
    hx_name(a.fresh, sizeof a.fresh, "fresh");
    esem_t *priv = esem_open(a.priv, O_CREAT | O_EXCL, 0600, 1);
    assert_non_null(priv);
    assert_int_equal(esem_close(priv), 0);
    /* Hold something open so that the child connects (as root) at fork. */
    struct pair p;
    open_pair(&p, "privhold");

    pid_t c = hx_fork(child_setuid_then_open_by_name, &a);
    assert_true(c > 0);
    int st = hx_reap(c, 30000);

    struct hx_show sh;
    int priv_left = hx_show(a.priv, &sh) == 0;
    int fresh_made = hx_show(a.fresh, &sh) == 0;
    unsigned fresh_uid = sh.uid;
    if (priv_left)
        assert_int_equal(esem_unlink(a.priv), 0);
    if (fresh_made)
        assert_int_equal(esem_unlink(a.fresh), 0);
    close_pair(&p);

    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child after setuid(%d): %s", NOBODY, hx_status_str(st));
    assert_true(priv_left);
    assert_true(fresh_made);
    assert_int_equal(fresh_uid, NOBODY);
}

static int child_waits_on_gate_then_works(void *arg)
{
    struct holder_arg *h = arg;
    HX_CHECK(hx_gate_wait(&h->done, 30000) == 0);
    HX_CHECK(esem_post(h->p->to_child) == 0);
    HX_CHECK(esem_post(h->p->to_child) == 0);
    HX_CHECK(esem_wait(h->p->to_child) == 0);
    int v = -1;
    HX_CHECK(esem_getvalue(h->p->to_child, &v) == 0 && v == 1);
    HX_CHECK(esem_close(h->p->to_child) == 0);
    return 0;
}

static void parent_may_close_while_child_uses(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "pclose");
    struct holder_arg h = {.p = &p};
    hx_gate_init(&h.done);
    pid_t c = hx_fork(child_waits_on_gate_then_works, &h);
    assert_true(c > 0);
    assert_true(hx_wait_holder(p.name, c, 1, 10000));
    assert_int_equal(esem_close(p.to_child), 0);
    struct hx_show sh;
    assert_int_equal(hx_show(p.name, &sh), 0);
    assert_int_equal(hx_holder_opens(&sh, getpid()), 0);
    assert_int_equal(hx_gate_post(&h.done), 0);
    hx_assert_child_ok(c, 30000);
    hx_gate_close(&h.done);

    p.to_child = esem_open(p.name, 0, 0, 0);
    assert_non_null(p.to_child);
    int v = -1;
    assert_int_equal(esem_getvalue(p.to_child, &v), 0);
    assert_int_equal(v, 1);
    close_pair(&p);
}

struct gc_arg {
    struct pair *p;
    _Atomic pid_t *grandchild;
};

static int grandchild_ping_pong(void *arg)
{
    struct gc_arg *g = arg;
    return child_ping_pong(g->p);
}

static int child_forks_grandchild(void *arg)
{
    struct gc_arg *g = arg;
    pid_t gc = hx_fork(grandchild_ping_pong, g);
    HX_CHECK(gc > 0);
    atomic_store(g->grandchild, gc);
    int st = hx_reap(gc, 40000);
    HX_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

static void grandchild_inherits_too(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "gchild");
    _Atomic pid_t *gcpid = hx_shared(sizeof *gcpid);
    assert_non_null(gcpid);
    struct gc_arg g = {.p = &p, .grandchild = gcpid};
    pid_t c = hx_fork(child_forks_grandchild, &g);
    assert_true(c > 0);
    assert_int_equal(timed_wait_s(p.to_parent, 30), 0);
    pid_t gc = 0;
    for (int i = 0; i < 10000 && !(gc = atomic_load(gcpid)); i++)
        hx_sleep_ms(1);
    assert_true(gc > 0);
    struct hx_show sh;
    assert_int_equal(hx_show(p.name, &sh), 0);
    assert_true(hx_holder_opens(&sh, gc) > 0);
    assert_true(hx_wait_waiter(p.name, gc, 1, 10000));
    assert_int_equal(esem_post(p.to_child), 0);
    assert_int_equal(timed_wait_s(p.to_parent, 30), 0);
    hx_assert_child_ok(c, 60000);
    hx_shared_free((void *)gcpid, sizeof *gcpid);
    close_pair(&p);
}

struct orphan_arg {
    struct pair *p;
    _Atomic pid_t *orphan;
    struct hx_gate go;
};

static int orphan_works_after_parent_exit(void *arg)
{
    struct orphan_arg *o = arg;
    HX_CHECK(hx_gate_wait(&o->go, 30000) == 0);
    HX_CHECK(esem_post(o->p->to_parent) == 0);
    HX_CHECK(esem_wait(o->p->to_child) == 0);
    HX_CHECK(esem_post(o->p->to_parent) == 0);
    return 0;
}

/* 0 once s has a permit to take, -1 if pid exits first (bounded). */
static int wait_post_or_exit(esem_t *s, pid_t pid)
{
    for (int i = 0; i < 30000; i++) {
        if (esem_trywait(s) == 0)
            return 0;
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return esem_trywait(s) == 0 ? 0 : -1;
        hx_sleep_ms(1);
    }
    return -1;
}

static int child_forks_and_exits(void *arg)
{
    struct orphan_arg *o = arg;
    pid_t b = hx_fork(orphan_works_after_parent_exit, o);
    HX_CHECK(b > 0);
    atomic_store(o->orphan, b);
    return 0; /* exit at once: b lives on */

}

static void child_outlives_its_parent(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "orphan");
    _Atomic pid_t *bpid = hx_shared(sizeof *bpid);
    assert_non_null(bpid);
    struct orphan_arg o = {.p = &p, .orphan = bpid};
    hx_gate_init(&o.go);
    /* Become the orphan's new parent, so that it can be reaped here. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t a = hx_fork(child_forks_and_exits, &o);
    assert_true(a > 0);
    hx_assert_child_ok(a, 30000);
    pid_t b = atomic_load(bpid);
    assert_true(b > 0);
    /* a's session is over before b does anything. */
    assert_true(hx_wait_holder(p.name, a, 0, 10000));

    assert_int_equal(hx_gate_post(&o.go), 0);
    if (wait_post_or_exit(p.to_parent, b) != 0)
        fail_msg("the orphan could not use the inherited semaphore: %s",
                 hx_status_str(hx_reap(b, 5000)));
    struct hx_show sh;
    assert_int_equal(hx_show(p.name, &sh), 0);
    assert_true(hx_holder_opens(&sh, b) > 0);
    assert_true(hx_wait_waiter(p.name, b, 1, 10000));
    assert_int_equal(esem_post(p.to_child), 0);
    assert_int_equal(timed_wait_s(p.to_parent, 30), 0);
    hx_assert_child_ok(b, 30000);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    hx_gate_close(&o.go);
    hx_shared_free((void *)bpid, sizeof *bpid);
    close_pair(&p);
}

static int child_execs_sleep(void *arg)
{
    struct holder_arg *h = arg;
    HX_CHECK(hx_gate_wait(&h->done, 30000) == 0);
    execl("/bin/sleep", "sleep", "30", (char *)NULL);
    HX_CHECK(!"execl /bin/sleep");
    return 1;
}

static void exec_drops_the_references(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "exec");
    struct holder_arg h = {.p = &p};
    hx_gate_init(&h.done);
    pid_t c = hx_fork(child_execs_sleep, &h);
    assert_true(c > 0);
    assert_true(hx_wait_holder(p.name, c, 1, 10000));
    assert_int_equal(hx_gate_post(&h.done), 0);
    int gone = hx_wait_holder(p.name, c, 0, 10000);
    /* Still running (as sleep): the references went with exec, not exit. */
    int st;
    int alive = waitpid(c, &st, WNOHANG) == 0;
    kill(c, SIGKILL);
    hx_reap(c, 10000);
    hx_gate_close(&h.done);
    assert_true(gone);
    assert_true(alive);
    assert_int_equal(esem_post(p.to_child), 0);
    assert_int_equal(esem_trywait(p.to_child), 0);
    close_pair(&p);
}

struct destroyed_arg {
    esem_t *anon;
    struct hx_gate destroyed;
};

static int child_uses_after_destroy(void *arg)
{
    struct destroyed_arg *d = arg;
    HX_CHECK(esem_post(d->anon) == 0);
    HX_CHECK(hx_gate_wait(&d->destroyed, 30000) == 0);
    errno = 0;
    HX_CHECK(esem_post(d->anon) == -1 && errno == EINVAL);
    errno = 0;
    HX_CHECK(esem_trywait(d->anon) == -1 && errno == EINVAL);
    return 0;
}

/* esem_destroy ends an anonymous semaphore for every process sharing it. */
static void destroy_in_parent_ends_it_for_the_child(void **state)
{
    (void)state;
    struct destroyed_arg d = {.anon = esem_create(0)};
    assert_non_null(d.anon);
    hx_gate_init(&d.destroyed);
    pid_t c = hx_fork(child_uses_after_destroy, &d);
    assert_true(c > 0);
    assert_int_equal(timed_wait_s(d.anon, 30), 0);
    assert_int_equal(esem_destroy(d.anon), 0);
    assert_int_equal(hx_gate_post(&d.destroyed), 0);
    hx_assert_child_ok(c, 30000);
    hx_gate_close(&d.destroyed);
}

/* ---- fork while other threads use the library ---- */

struct busy_arg {
    esem_t *sem;
    atomic_int stop;
    long ops;
    int err;
};

static void *busy_thread(void *arg)
{
    struct busy_arg *b = arg;
    while (!atomic_load(&b->stop)) {
        if (esem_post(b->sem) != 0 || esem_wait(b->sem) != 0) {
            b->err = errno;
            break;
        }
        b->ops++;
    }
    return NULL;
}

static int child_quick_use(void *arg)
{
    struct pair *p = arg;
    HX_CHECK(esem_post(p->to_child) == 0);
    HX_CHECK(esem_wait(p->to_child) == 0);
    HX_CHECK(esem_post(p->to_parent) == 0);
    return 0;
}

static void fork_while_threads_are_busy(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p, "busy");
    esem_t *own = esem_create(0);
    assert_non_null(own);
    struct busy_arg b = {.sem = own};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, busy_thread, &b), 0);
    pid_t kids[20];
    for (int i = 0; i < 20; i++) {
        kids[i] = hx_fork(child_quick_use, &p);
        assert_true(kids[i] > 0);
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(timed_wait_s(p.to_parent, 30), 0);
    for (int i = 0; i < 20; i++)
        hx_assert_child_ok(kids[i], 30000);
    atomic_store(&b.stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(b.err, 0);
    int v = -1;
    assert_int_equal(esem_getvalue(p.to_child, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(esem_destroy(own), 0);
    close_pair(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(child_uses_parents_named_semaphores),
        HX_TEST(child_uses_parents_anonymous_semaphores),
        HX_TEST(child_shows_as_a_second_holder),
        HX_TEST(setuid_child_keeps_inherited_semaphores),
        HX_TEST(setuid_child_is_checked_as_its_new_uid),
        HX_TEST(parent_may_close_while_child_uses),
        HX_TEST(grandchild_inherits_too),
        HX_TEST(child_outlives_its_parent),
        HX_TEST(exec_drops_the_references),
        HX_TEST(destroy_in_parent_ends_it_for_the_child),
        HX_TEST(fork_while_threads_are_busy),
    };
    return HX_RUN_GROUP(tests);
}
