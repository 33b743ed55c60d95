/*
 * Named semaphores: sem_open, sem_close, sem_unlink.
 *
 * The first tests follow Apache's APR (Mutex posixsem): sem_open with
 * O_CREAT|O_EXCL, sem_unlink at once, then fork() children that keep using
 * the sem_t * they inherited, some after setuid().  The rest walk through
 * the POSIX pages of sem_open, sem_close and sem_unlink.
 */
#include "px.h"

/* ---- APR pattern: create, unlink at once, fork, use ---- */

#define APR_CHILDREN 4
#define APR_ITER 300

struct apr_shared {
    volatile int inside;
    volatile int overlap;
    volatile long count;
};

struct apr_arg {
    sem_t *s;
    struct apr_shared *sh;
};

/* The semaphore as a mutex: a lost exclusion shows as overlap or a lost
 * increment of count. */
static int apr_loop(sem_t *s, struct apr_shared *sh)
{
    for (int i = 0; i < APR_ITER; i++) {
        struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
        if (sem_timedwait(s, &d) != 0)
            return 1;
        if (sh->inside)
            sh->overlap++;
        sh->inside = 1;
        long c = sh->count;
        if ((i & 7) == 0)
            sched_yield();
        sh->count = c + 1;
        sh->inside = 0;
        if (sem_post(s) != 0)
            return 2;
    }
    return 0;
}

static int apr_child(void *p)
{
    struct apr_arg *a = p;
    return apr_loop(a->s, a->sh);
}

static void test_apr_create_unlink_fork(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "apr");
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(s, SEM_FAILED);
    assert_int_equal(sem_unlink(name), 0);
    /* the name is gone at once; the semaphore lives on */
    errno = 0;
    assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
    assert_int_equal(errno, ENOENT);

    struct apr_shared *sh = px_shared(sizeof *sh);
    assert_non_null(sh);
    struct apr_arg a = {s, sh};
    pid_t kids[APR_CHILDREN];
    for (int i = 0; i < APR_CHILDREN; i++) {
        kids[i] = px_fork(apr_child, &a);
        assert_true(kids[i] > 0);
    }
    int mine = apr_loop(s, sh);
    int ok = 1;
    for (int i = 0; i < APR_CHILDREN; i++)
        ok &= px_reap_ok(kids[i], 60000);
    assert_int_equal(mine, 0);
    assert_true(ok);
    assert_int_equal(sh->overlap, 0);
    assert_int_equal(sh->count, (long)(APR_CHILDREN + 1) * APR_ITER);
    assert_int_equal(px_getvalue(s), 1);
    assert_int_equal(sem_close(s), 0);
    munmap(sh, sizeof *sh);
}

/* A child that drops root before its first semaphore call (Apache's
 * children setuid to the server user first thing) still uses the
 * semaphore its parent opened. */
static int setuid_user_child(void *p)
{
    sem_t *s = p;
    PX_CHILD_CHECK(px_become(PX_UID_A, PX_UID_A) == 0);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    PX_CHILD_CHECK(sem_timedwait(s, &d) == 0);
    PX_CHILD_CHECK(px_getvalue(s) == 0);
    PX_CHILD_CHECK(sem_trywait(s) == -1 && errno == EAGAIN);
    PX_CHILD_CHECK(sem_post(s) == 0);
    PX_CHILD_CHECK(sem_post(s) == 0);
    PX_CHILD_CHECK(px_getvalue(s) == 2);
    PX_CHILD_CHECK(sem_close(s) == 0);
    return 0;
}

static void test_apr_child_setuid_before_first_use(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    char name[64];
    px_name(name, sizeof name, "aprsu");
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(s, SEM_FAILED);
    assert_int_equal(sem_unlink(name), 0);
    pid_t c = px_fork(setuid_user_child, s);
    assert_true(c > 0);
    assert_true(px_reap_ok(c, 30000));
    /* the child's permits are the parent's */
    assert_int_equal(px_getvalue(s), 2);
    assert_int_equal(sem_trywait(s), 0);
    assert_int_equal(sem_trywait(s), 0);
    assert_int_equal(sem_trywait(s), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(sem_close(s), 0);
}

/* The parent may sem_close while its children still use the semaphore. */
#define PINGPONG 200

struct pp_arg {
    sem_t *a, *b;
    struct px_gate *go;
    int role;
};

static int pp_child(void *p)
{
    struct pp_arg *x = p;
    PX_CHILD_CHECK(px_gate_wait(x->go, PX_LONG_MS) == 0);
    for (int i = 0; i < PINGPONG; i++) {
        struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
        if (x->role == 0) {
            PX_CHILD_CHECK(sem_timedwait(x->a, &d) == 0);
            PX_CHILD_CHECK(sem_post(x->b) == 0);
        } else {
            PX_CHILD_CHECK(sem_post(x->a) == 0);
            PX_CHILD_CHECK(sem_timedwait(x->b, &d) == 0);
        }
    }
    PX_CHILD_CHECK(px_getvalue(x->a) == 0);
    PX_CHILD_CHECK(sem_close(x->a) == 0);
    PX_CHILD_CHECK(sem_close(x->b) == 0);
    return 0;
}

static void test_apr_parent_closes_while_children_use(void **state)
{
    (void)state;
    char na[64], nb[64];
    px_name(na, sizeof na, "ppa");
    px_name(nb, sizeof nb, "ppb");
    sem_t *a = sem_open(na, O_CREAT | O_EXCL, 0644, 0);
    sem_t *b = sem_open(nb, O_CREAT | O_EXCL, 0644, 0);
    assert_ptr_not_equal(a, SEM_FAILED);
    assert_ptr_not_equal(b, SEM_FAILED);
    assert_int_equal(sem_unlink(na), 0);
    assert_int_equal(sem_unlink(nb), 0);
    struct px_gate go;
    assert_int_equal(px_gate_init(&go), 0);
    struct pp_arg x0 = {a, b, &go, 0}, x1 = {a, b, &go, 1};
    pid_t c0 = px_fork(pp_child, &x0);
    pid_t c1 = px_fork(pp_child, &x1);
    assert_true(c0 > 0 && c1 > 0);
    /* the parent lets go of both before the children start */
    assert_int_equal(sem_close(a), 0);
    assert_int_equal(sem_close(b), 0);
    assert_int_equal(px_gate_post(&go), 0);
    assert_int_equal(px_gate_post(&go), 0);
    int ok0 = px_reap_ok(c0, 60000), ok1 = px_reap_ok(c1, 60000);
    px_gate_close(&go);
    assert_true(ok0);
    assert_true(ok1);
}

/* ---- sem_open of one name, several times in a process ---- */

static void test_open_twice_same_address(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "twice");
    sem_t *p1 = sem_open(name, O_CREAT | O_EXCL, 0644, 2);
    assert_ptr_not_equal(p1, SEM_FAILED);
    sem_t *p2 = sem_open(name, 0);
    assert_ptr_equal(p2, p1);
    /* O_CREAT on an existing semaphore opens it; mode and value are ignored */
    sem_t *p3 = sem_open(name, O_CREAT, 0600, 7);
    assert_ptr_equal(p3, p1);
    assert_int_equal(px_getvalue(p1), 2);
    /* one sem_close per sem_open: after two of three it still works */
    assert_int_equal(sem_close(p1), 0);
    assert_int_equal(sem_post(p2), 0);
    assert_int_equal(sem_close(p2), 0);
    assert_int_equal(px_getvalue(p3), 3);
    assert_int_equal(sem_trywait(p3), 0);
    assert_int_equal(sem_close(p3), 0);
    /* still linked: the state persists with nobody holding it open */
    sem_t *p4 = sem_open(name, 0);
    assert_ptr_not_equal(p4, SEM_FAILED);
    assert_int_equal(px_getvalue(p4), 2);
    assert_int_equal(sem_close(p4), 0);
    assert_int_equal(sem_unlink(name), 0);
}

/* ---- errors ---- */

static void test_open_excl_eexist(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "eexist");
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(s, SEM_FAILED);
    errno = 0;
    assert_ptr_equal(sem_open(name, O_CREAT | O_EXCL, 0644, 1), SEM_FAILED);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(px_getvalue(s), 1);
    assert_int_equal(sem_close(s), 0);
    assert_int_equal(sem_unlink(name), 0);
}

static void test_open_missing_enoent(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "enoent");
    errno = 0;
    assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
    assert_int_equal(errno, ENOENT);
    /* O_EXCL without O_CREAT is no create request */
    errno = 0;
    assert_ptr_equal(sem_open(name, O_EXCL), SEM_FAILED);
    assert_int_equal(errno, ENOENT);
}

static void long_name(char *buf, size_t len)
{
    buf[0] = '/';
    memset(buf + 1, 'n', len);
    buf[len + 1] = 0;
}

/* A component of 255 bytes (NAME_MAX) cannot carry glibc's "sem." prefix. */
static void test_open_name_255_enametoolong(void **state)
{
    (void)state;
    char name[300];
    long_name(name, 255);
    errno = 0;
    assert_ptr_equal(sem_open(name, O_CREAT, 0644, 1), SEM_FAILED);
    assert_int_equal(errno, ENAMETOOLONG);
    errno = 0;
    assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
    assert_int_equal(errno, ENAMETOOLONG);
    errno = 0;
    assert_int_equal(sem_unlink(name), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

/* DEVIATION (glibc 2.36): POSIX wants ENAMETOOLONG for a name component
 * longer than NAME_MAX; glibc's sem_open gives EINVAL for names of more
 * than NAME_MAX bytes (its __shm_get_name fails and sem_open reports every
 * such failure as EINVAL).  We expect glibc's answer. */
static void test_open_name_300_einval_glibc(void **state)
{
    (void)state;
    char name[320];
    long_name(name, 300);
    errno = 0;
    assert_ptr_equal(sem_open(name, O_CREAT, 0644, 1), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
}

/* DEVIATION (glibc 2.36): sem_unlink reports every invalid name (too long,
 * empty, "/" alone, inner slash) as ENOENT, where POSIX wants ENAMETOOLONG
 * for a too-long one.  We expect glibc's answer. */
static void test_unlink_name_300_enoent_glibc(void **state)
{
    (void)state;
    char name[320];
    long_name(name, 300);
    errno = 0;
    assert_int_equal(sem_unlink(name), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_open_value_too_big_einval(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "big");
    errno = 0;
    assert_ptr_equal(sem_open(name, O_CREAT, 0644, (unsigned)SEM_VALUE_MAX + 1u), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_ptr_equal(sem_open(name, O_CREAT | O_EXCL, 0644, UINT_MAX), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
    /* nothing was created */
    errno = 0;
    assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
    assert_int_equal(errno, ENOENT);
    /* SEM_VALUE_MAX itself is fine */
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, (unsigned)SEM_VALUE_MAX);
    assert_ptr_not_equal(s, SEM_FAILED);
    assert_int_equal(px_getvalue(s), SEM_VALUE_MAX);
    assert_int_equal(sem_close(s), 0);
    assert_int_equal(sem_unlink(name), 0);
}

/* "/" alone names nothing: glibc says EINVAL (the name is empty once the
 * leading slash is skipped), with or without O_CREAT. */
static void test_open_slash_only_einval(void **state)
{
    (void)state;
    errno = 0;
    assert_ptr_equal(sem_open("/", O_CREAT, 0644, 1), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_ptr_equal(sem_open("/", 0), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_ptr_equal(sem_open("", O_CREAT, 0644, 1), SEM_FAILED);
    assert_int_equal(errno, EINVAL);
}

/* glibc: sem_unlink("/") is ENOENT (no such semaphore), see above. */
static void test_unlink_slash_only_enoent(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(sem_unlink("/"), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_unlink_missing_enoent(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "unl-enoent");
    errno = 0;
    assert_int_equal(sem_unlink(name), -1);
    assert_int_equal(errno, ENOENT);
    /* and a second unlink of a name that existed */
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 0);
    assert_ptr_not_equal(s, SEM_FAILED);
    assert_int_equal(sem_unlink(name), 0);
    errno = 0;
    assert_int_equal(sem_unlink(name), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(sem_close(s), 0);
}

/* ---- EACCES: users other than the creator (root only) ---- */

struct acc_arg {
    const char *name;
    uid_t uid;
};

static int acc_create_child(void *p)
{
    struct acc_arg *a = p;
    PX_CHILD_CHECK(px_become(a->uid, a->uid) == 0);
    umask(022);
    sem_t *s = sem_open(a->name, O_CREAT | O_EXCL, 0600, 1);
    PX_CHILD_CHECK(s != SEM_FAILED);
    PX_CHILD_CHECK(sem_trywait(s) == 0);
    PX_CHILD_CHECK(sem_post(s) == 0);
    PX_CHILD_CHECK(sem_close(s) == 0);
    /* the creator may reopen it */
    s = sem_open(a->name, 0);
    PX_CHILD_CHECK(s != SEM_FAILED);
    PX_CHILD_CHECK(sem_close(s) == 0);
    return 0;
}

static int acc_denied_child(void *p)
{
    struct acc_arg *a = p;
    PX_CHILD_CHECK(px_become(a->uid, a->uid) == 0);
    errno = 0;
    PX_CHILD_CHECK(sem_open(a->name, 0) == SEM_FAILED);
    PX_CHILD_CHECK(errno == EACCES);
    errno = 0;
    PX_CHILD_CHECK(sem_open(a->name, O_CREAT, 0600, 1) == SEM_FAILED);
    PX_CHILD_CHECK(errno == EACCES);
    return 0;
}

static int acc_unlink_child(void *p)
{
    struct acc_arg *a = p;
    PX_CHILD_CHECK(px_become(a->uid, a->uid) == 0);
    errno = 0;
    PX_CHILD_CHECK(sem_unlink(a->name) == -1);
    PX_CHILD_CHECK(errno == EACCES);
    return 0;
}

static void test_open_other_user_eacces(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    char name[64];
    px_name(name, sizeof name, "eacces");
    struct acc_arg ca = {name, PX_UID_A}, cb = {name, PX_UID_B};
    pid_t c = px_fork(acc_create_child, &ca);
    assert_true(c > 0);
    assert_true(px_reap_ok(c, 30000));
    c = px_fork(acc_denied_child, &cb);
    assert_true(c > 0);
    int ok = px_reap_ok(c, 30000);
    /* root may remove it */
    assert_int_equal(sem_unlink(name), 0);
    assert_true(ok);
}

/* glibc turns the sticky /dev/shm's EPERM into EACCES. */
static void test_unlink_other_user_eacces(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    char name[64];
    px_name(name, sizeof name, "unl-eacces");
    struct acc_arg ca = {name, PX_UID_A}, cb = {name, PX_UID_B};
    pid_t c = px_fork(acc_create_child, &ca);
    assert_true(c > 0);
    assert_true(px_reap_ok(c, 30000));
    c = px_fork(acc_unlink_child, &cb);
    assert_true(c > 0);
    int ok = px_reap_ok(c, 30000);
    int r = sem_unlink(name); /* still there: B could not remove it */
    assert_true(ok);
    assert_int_equal(r, 0);
}

/* A child that gave up root must not keep root's rights to semaphores it
 * had not opened, even while its parent (root) holds other semaphores open
 * (the APR pattern: the child inherited those). */
static void test_setuid_child_loses_root_rights(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    char held[64], priv[64];
    px_name(held, sizeof held, "held");
    px_name(priv, sizeof priv, "rootonly");
    sem_t *h = sem_open(held, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(h, SEM_FAILED);
    assert_int_equal(sem_unlink(held), 0);
    mode_t old = umask(022);
    sem_t *r = sem_open(priv, O_CREAT | O_EXCL, 0600, 1);
    umask(old);
    assert_ptr_not_equal(r, SEM_FAILED);
    assert_int_equal(sem_close(r), 0);
    struct acc_arg a = {priv, PX_UID_A};
    pid_t c = px_fork(acc_denied_child, &a);
    assert_true(c > 0);
    int ok = px_reap_ok(c, 30000);
    c = px_fork(acc_unlink_child, &a);
    assert_true(c > 0);
    ok &= px_reap_ok(c, 30000);
    int u = sem_unlink(priv);
    assert_int_equal(sem_close(h), 0);
    assert_true(ok);
    assert_int_equal(u, 0);
}

/* ---- the name after sem_unlink ---- */

static void test_name_reusable_after_unlink(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "reuse");
    sem_t *a = sem_open(name, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(a, SEM_FAILED);
    assert_int_equal(sem_unlink(name), 0);
    sem_t *b = sem_open(name, O_CREAT | O_EXCL, 0644, 5);
    assert_ptr_not_equal(b, SEM_FAILED);
    assert_ptr_not_equal(b, a);
    /* two distinct semaphores */
    assert_int_equal(px_getvalue(a), 1);
    assert_int_equal(px_getvalue(b), 5);
    assert_int_equal(sem_post(a), 0);
    assert_int_equal(sem_trywait(b), 0);
    assert_int_equal(px_getvalue(a), 2);
    assert_int_equal(px_getvalue(b), 4);
    /* the name now means the new one */
    sem_t *c = sem_open(name, 0);
    assert_ptr_equal(c, b);
    assert_int_equal(sem_close(c), 0);
    assert_int_equal(sem_close(b), 0);
    assert_int_equal(sem_close(a), 0);
    assert_int_equal(sem_unlink(name), 0);
}

/* ---- exec drops the references ---- */

struct exec_arg {
    const char *name;
    sem_t *s;
};

static int exec_child(void *p)
{
    struct exec_arg *x = p;
    /* one more reference of the child's own, and a permit taken and given */
    sem_t *again = sem_open(x->name, 0);
    PX_CHILD_CHECK(again == x->s);
    struct timespec d = px_deadline(CLOCK_REALTIME, PX_LONG_MS);
    PX_CHILD_CHECK(sem_timedwait(again, &d) == 0);
    PX_CHILD_CHECK(sem_post(again) == 0);
    execl("/bin/true", "true", (char *)NULL);
    return 127;
}

static void test_exec_drops_references(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "exec");
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 1);
    assert_ptr_not_equal(s, SEM_FAILED);
    struct exec_arg x = {name, s};
    for (int i = 0; i < 5; i++) {
        pid_t c = px_fork(exec_child, &x);
        assert_true(c > 0);
        assert_true(px_reap_ok(c, 30000));
        /* the parent keeps working */
        assert_int_equal(px_getvalue(s), 1);
        assert_int_equal(sem_trywait(s), 0);
        assert_int_equal(sem_post(s), 0);
    }
    assert_int_equal(sem_unlink(name), 0);
    assert_int_equal(px_getvalue(s), 1);
    assert_int_equal(sem_close(s), 0);
}

/* ---- creation races and inheritance corner cases ---- */

#define RACERS 8

struct racer {
    const char *name;
    struct px_gate *go;
    int *result; /* shared: 0 created, else errno */
};

static int racer_main(void *p)
{
    struct racer *r = p;
    PX_CHILD_CHECK(px_gate_wait(r->go, PX_LONG_MS) == 0);
    sem_t *s = sem_open(r->name, O_CREAT | O_EXCL, 0644, 0);
    *r->result = s == SEM_FAILED ? errno : 0;
    if (s != SEM_FAILED)
        PX_CHILD_CHECK(sem_close(s) == 0);
    return 0;
}

/* O_CREAT|O_EXCL from several processes at once: exactly one creates it. */
static void test_excl_create_race_one_winner(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "race");
    int *res = px_shared(RACERS * sizeof *res);
    assert_non_null(res);
    struct px_gate go;
    assert_int_equal(px_gate_init(&go), 0);
    pid_t kid[RACERS];
    struct racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        res[i] = -1;
        r[i] = (struct racer){name, &go, &res[i]};
        kid[i] = px_fork(racer_main, &r[i]);
        assert_true(kid[i] > 0);
    }
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(px_gate_post(&go), 0);
    int ok = 1, winners = 0, eexist = 0;
    for (int i = 0; i < RACERS; i++)
        ok &= px_reap_ok(kid[i], 30000);
    px_gate_close(&go);
    for (int i = 0; i < RACERS; i++) {
        winners += res[i] == 0;
        eexist += res[i] == EEXIST;
    }
    int u = sem_unlink(name);
    assert_true(ok);
    assert_int_equal(winners, 1);
    assert_int_equal(eexist, RACERS - 1);
    assert_int_equal(u, 0);
    munmap(res, RACERS * sizeof *res);
}

/* A daemon's classic start: open, fork, the parent exits at once; the child
 * goes on with the semaphore it inherited. */
struct daemonize {
    sem_t *s;
};

static int grandchild(void *p)
{
    struct daemonize *d = p;
    /* wait until the middle process is surely gone */
    for (int i = 0; i < 1000 && getppid() != 1 && kill(getppid(), 0) == 0; i++)
        px_sleep_ms(1);
    PX_CHILD_CHECK(sem_post(d->s) == 0);
    PX_CHILD_CHECK(sem_close(d->s) == 0);
    return 0;
}

static int middle(void *p)
{
    PX_CHILD_CHECK(px_fork(grandchild, p) > 0);
    _exit(0); /* at once */
}

static void test_daemonize_parent_exits_at_once(void **state)
{
    (void)state;
    char name[64];
    px_name(name, sizeof name, "daemon");
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0644, 0);
    assert_ptr_not_equal(s, SEM_FAILED);
    assert_int_equal(sem_unlink(name), 0);
    struct daemonize d = {s};
    int got = 0;
    for (int i = 0; i < 10; i++) {
        pid_t m = px_fork(middle, &d);
        assert_true(m > 0);
        assert_true(px_reap_ok(m, 10000));
        struct timespec dl = px_deadline(CLOCK_REALTIME, 5000);
        got += sem_timedwait(s, &dl) == 0;
    }
    assert_int_equal(got, 10);
    assert_int_equal(px_getvalue(s), 0);
    assert_int_equal(sem_close(s), 0);
}

/* ---- the creation mode ---- */

/* The umask applies to the mode of a new semaphore: 0666 under umask 077
 * is 0600, closed to other users. */
static void test_create_mode_respects_umask(void **state)
{
    (void)state;
    if (!px_is_root())
        skip();
    char name[64];
    px_name(name, sizeof name, "umask");
    mode_t old = umask(077);
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0666, 1);
    umask(old);
    assert_ptr_not_equal(s, SEM_FAILED);
    /* the parent holds nothing open while the child runs */
    assert_int_equal(sem_close(s), 0);
    struct acc_arg a = {name, PX_UID_A};
    pid_t c = px_fork(acc_denied_child, &a);
    assert_true(c > 0);
    int ok = px_reap_ok(c, 30000);
    assert_int_equal(sem_unlink(name), 0);
    assert_true(ok);
}

/* Group class: a member of the owning group may open a 0660 semaphore (a
 * supplementary group counts), not a 0640 one (sem_open needs read and
 * write). */
struct grp_arg {
    const char *name;
    int expect_ok;
};

static int group_member_child(void *p)
{
    struct grp_arg *g = p;
    gid_t groups[1] = {PX_UID_A};
    PX_CHILD_CHECK(setgroups(1, groups) == 0);
    PX_CHILD_CHECK(setgid(PX_UID_B) == 0);
    PX_CHILD_CHECK(setuid(PX_UID_B) == 0);
    errno = 0;
    sem_t *s = sem_open(g->name, 0);
    if (g->expect_ok) {
        PX_CHILD_CHECK(s != SEM_FAILED);
        PX_CHILD_CHECK(sem_post(s) == 0);
        PX_CHILD_CHECK(sem_close(s) == 0);
    } else {
        PX_CHILD_CHECK(s == SEM_FAILED && errno == EACCES);
    }
    return 0;
}

struct grp_create {
    const char *name;
    mode_t mode;
};

static int group_create_child(void *p)
{
    struct grp_create *g = p;
    PX_CHILD_CHECK(px_become(PX_UID_A, PX_UID_A) == 0);
    umask(0);
    sem_t *s = sem_open(g->name, O_CREAT | O_EXCL, g->mode, 0);
    PX_CHILD_CHECK(s != SEM_FAILED);
    PX_CHILD_CHECK(sem_close(s) == 0);
    return 0;
}

static void group_access(mode_t mode, int expect_ok)
{
    if (!px_is_root())
        skip();
    char name[64];
    px_name(name, sizeof name, expect_ok ? "grp-rw" : "grp-r");
    struct grp_create gc = {name, mode};
    pid_t c = px_fork(group_create_child, &gc);
    assert_true(c > 0);
    assert_true(px_reap_ok(c, 30000));
    struct grp_arg ga = {name, expect_ok};
    c = px_fork(group_member_child, &ga);
    assert_true(c > 0);
    int ok = px_reap_ok(c, 30000);
    sem_t *s = sem_open(name, 0);
    int v = s == SEM_FAILED ? -1 : px_getvalue(s);
    if (s != SEM_FAILED)
        sem_close(s);
    int u = sem_unlink(name);
    assert_true(ok);
    assert_int_equal(v, expect_ok ? 1 : 0);
    assert_int_equal(u, 0);
}

static void test_open_group_member_0660(void **state)
{
    (void)state;
    group_access(0660, 1);
}

static void test_open_group_member_0640_eacces(void **state)
{
    (void)state;
    group_access(0640, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PX_TEST(test_apr_create_unlink_fork),
        PX_TEST(test_apr_child_setuid_before_first_use),
        PX_TEST(test_apr_parent_closes_while_children_use),
        PX_TEST(test_open_twice_same_address),
        PX_TEST(test_open_excl_eexist),
        PX_TEST(test_open_missing_enoent),
        PX_TEST(test_open_name_255_enametoolong),
        PX_TEST(test_open_name_300_einval_glibc),
        PX_TEST(test_unlink_name_300_enoent_glibc),
        PX_TEST(test_open_value_too_big_einval),
        PX_TEST(test_open_slash_only_einval),
        PX_TEST(test_unlink_slash_only_enoent),
        PX_TEST(test_unlink_missing_enoent),
        PX_TEST(test_open_other_user_eacces),
        PX_TEST(test_unlink_other_user_eacces),
        PX_TEST(test_setuid_child_loses_root_rights),
        PX_TEST(test_name_reusable_after_unlink),
        PX_TEST(test_exec_drops_references),
        PX_TEST(test_excl_create_race_one_winner),
        PX_TEST(test_daemonize_parent_exits_at_once),
        PX_TEST(test_create_mode_respects_umask),
        PX_TEST(test_open_group_member_0660),
        PX_TEST(test_open_group_member_0640_eacces),
    };
    return PX_MAIN(tests);
}
