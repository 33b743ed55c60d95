/*
 * Access lists and the strict policy against a real esemd: grants and
 * revokes to uid, gid, process and key; other uids refused then let in;
 * a revoke hitting handles already open; EPERM for a non-owner; strict
 * semaphores (the daemon's default with --policy=strict, or ESEM_O_STRICT)
 * refusing the same uid but letting the creator's fork children in; the
 * unlink right; esemctl grant/revoke and esemctl audit end to end.
 *
 * "Unrelated" processes are helpers (harness.h): this program started
 * again with posix_spawn, so esemd sees no fork child of the test process.
 */
#include "harness.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esem.h"

#define UID_A 65534
#define UID_B 65533

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define run_ok(what, ...) hx_assert_ok_status(hx_helper_run(NULL, STEPS(__VA_ARGS__)), what)

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Small formatted strings for helper steps; a ring, so several can be live
 * in one call. */
static char *fmt(const char *f, ...)
{
    static char ring[16][320];
    static int next;
    char *b = ring[next++ % 16];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof ring[0], f, ap);
    va_end(ap);
    return b;
}

static struct esem_principal P(int kind, uint32_t id)
{
    struct esem_principal p = {.kind = kind, .id = id};
    return p;
}

static esem_t *create(const char *name, int extra, mode_t mode, unsigned value)
{
    mode_t old = umask(0);
    esem_t *s = esem_open(name, O_CREAT | O_EXCL | extra, mode, value);
    umask(old);
    return s;
}

static void drop(esem_t *s, const char *name)
{
    assert_int_equal(esem_close(s), 0);
    if (name)
        assert_int_equal(esem_unlink(name), 0);
}

/* ---- POSIX policy: uid, gid, process, key ---- */

static void other_uid_refused_then_allowed_after_grant_uid(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-uid");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    char *open_n = fmt("open:%s", name);

    run_ok("uid A before grant", "uid:65534", fmt("open:%s=EACCES", name));
    struct esem_principal a = P(ESEM_P_UID, UID_A);
    assert_int_equal(esem_grant(s, &a, ESEM_R_OPEN | ESEM_R_POST), 0);
    run_ok("uid A after grant", "uid:65534", open_n, "post", "trywait=EACCES", "close");
    int v = -1;
    assert_int_equal(esem_getvalue(s, &v), 0);
    assert_int_equal(v, 1); /* its post counted */
    /* the grant named uid A only */
    run_ok("uid B", "uid:65533", fmt("open:%s=EACCES", name));
    /* a revoke is an explicit deny, taking what the grant gave */
    assert_int_equal(esem_revoke(s, &a, ESEM_R_OPEN), 0);
    run_ok("uid A after revoke", "uid:65534", fmt("open:%s=EACCES", name));
    drop(s, name);
}

static void revoke_takes_effect_on_an_open_handle_at_once(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-rev");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    struct esem_principal a = P(ESEM_P_UID, UID_A);
    assert_int_equal(esem_grant(s, &a, ESEM_R_ALL), 0);
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL,
                                     STEPS("uid:65534", fmt("open:%s", name), "post", "trywait",
                                           "sync", "post=EACCES", "trywait=EACCES", "sync",
                                           "post", "trywait", "close")),
                     0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    size_t mark = hx_log_mark();
    /* the helper holds the semaphore open: the revoke must reach that handle */
    assert_int_equal(esem_revoke(s, &a, ESEM_R_POST | ESEM_R_WAIT), 0);
    assert_int_equal(hx_helper_go(&h), 0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    char want[96];
    snprintf(want, sizeof want, "audit: refused post pid=%d uid=%d", (int)h.pid, UID_A);
    assert_true(hx_log_wait(mark, want, 5000));
    /* and a grant gives the rights back to the open handle as well */
    assert_int_equal(esem_grant(s, &a, ESEM_R_POST | ESEM_R_WAIT), 0);
    assert_int_equal(hx_helper_go(&h), 0);
    hx_assert_ok_status(hx_helper_end(&h, 30000), "helper");
    drop(s, name);
}

static void grant_to_gid_and_levels_uid_over_gid(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-gid");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    struct esem_principal g = P(ESEM_P_GID, UID_A), u = P(ESEM_P_UID, UID_A);
    char *open_n = fmt("open:%s", name), *open_no = fmt("open:%s=EACCES", name);
    run_ok("gid before grant", "uid:65534", open_no);
    assert_int_equal(esem_grant(s, &g, ESEM_R_OPEN | ESEM_R_WAIT | ESEM_R_POST), 0);
    run_ok("gid member", "uid:65534", open_n, "post", "wait", "close");
    run_ok("not a member", "uid:65533", open_no);
    /* a deny for the gid is beaten by an allow for the uid (more specific) */
    assert_int_equal(esem_revoke(s, &g, ESEM_R_OPEN), 0);
    run_ok("gid revoked", "uid:65534", open_no);
    assert_int_equal(esem_grant(s, &u, ESEM_R_OPEN), 0);
    run_ok("uid allow over gid deny", "uid:65534", open_n, "post", "close");
    /* and a deny for the uid beats an allow for the gid */
    assert_int_equal(esem_grant(s, &g, ESEM_R_OPEN), 0);
    assert_int_equal(esem_revoke(s, &u, ESEM_R_OPEN), 0);
    run_ok("uid deny over gid allow", "uid:65534", open_no);
    drop(s, name);
}

static void grant_to_one_process_only(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-pid");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL,
                                     STEPS("uid:65534", fmt("open:%s=EACCES", name), "sync",
                                           fmt("open:%s", name), "post", "sync", "post=EACCES",
                                           "close")),
                     0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    struct esem_principal p = P(ESEM_P_PROC, (uint32_t)h.pid);
    assert_int_equal(esem_grant(s, &p, ESEM_R_OPEN | ESEM_R_POST), 0);
    /* another process of the same uid is not that process */
    run_ok("same uid, other process", "uid:65534", fmt("open:%s=EACCES", name));
    assert_int_equal(hx_helper_go(&h), 0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    assert_int_equal(esem_revoke(s, &p, ESEM_R_POST), 0);
    assert_int_equal(hx_helper_go(&h), 0);
    hx_assert_ok_status(hx_helper_end(&h, 30000), "helper");
    /* the process has exited: naming it now is ESRCH */
    errno = 0;
    assert_int_equal(esem_grant(s, &p, ESEM_R_OPEN), -1);
    assert_int_equal(errno, ESRCH);
    drop(s, name);
}

static void grant_to_key_and_bad_arguments(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "acl-key");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    struct esem_principal k = {.kind = ESEM_P_KEY, .key_id = 0x0123456789abcdefull};
    assert_int_equal(esem_grant(s, &k, ESEM_R_OPEN | ESEM_R_WAIT), 0);
    assert_int_equal(esem_revoke(s, &k, ESEM_R_WAIT), 0);
    /* a PID session holds no key: the key entry changes nothing for it */
    assert_int_equal(esem_post(s), 0);
    assert_int_equal(esem_wait(s), 0);
    struct esem_principal bad[] = {
        {.kind = ESEM_P_KEY, .key_id = 0},       /* key id 0 is nobody's */
        {.kind = 0, .id = 1},                    /* no such kind */
        {.kind = 9, .id = 1},
        {.kind = ESEM_P_UID, .id = 1, .key_id = 5}, /* stray key id */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_int_equal(esem_grant(s, &bad[i], ESEM_R_OPEN), -1);
        assert_int_equal(errno, EINVAL);
    }
    struct esem_principal u = P(ESEM_P_UID, UID_A);
    errno = 0;
    assert_int_equal(esem_grant(s, &u, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(esem_revoke(s, &u, 0x10), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(esem_grant(s, NULL, ESEM_R_OPEN), -1);
    assert_int_equal(errno, EINVAL);
    drop(s, name);
}

static void non_owner_grant_is_eperm_and_audited(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-eperm");
    esem_t *s = create(name, 0, 0666, 0); /* anyone may open, only root owns */
    assert_non_null(s);
    size_t mark = hx_log_mark();
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL,
                                     STEPS("uid:65534", fmt("open:%s", name),
                                           "grant:uid/65534/unlink=EPERM",
                                           "revoke:uid/0/post=EPERM", "post", "close")),
                     0);
    pid_t hp = h.pid;
    hx_assert_ok_status(hx_helper_end(&h, 30000), "helper");
    char want[96];
    snprintf(want, sizeof want, "audit: refused grant pid=%d uid=%d", (int)hp, UID_A);
    assert_true(hx_log_wait(mark, want, 5000));
    snprintf(want, sizeof want, "audit: refused revoke pid=%d uid=%d", (int)hp, UID_A);
    assert_true(hx_log_wait(mark, want, 5000));
    /* nothing changed: root still has post (its revoke was refused) */
    assert_int_equal(esem_post(s), 0);
    drop(s, name);
}

static void unlink_right_via_grant(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "acl-unl");
    esem_t *s = create(name, 0, 0666, 0);
    assert_non_null(s);
    /* /dev/shm is sticky: open, yes; unlink, only the owner... */
    run_ok("unlink refused", "uid:65534", fmt("open:%s", name), "close",
           fmt("unlink:%s=EACCES", name));
    struct esem_principal a = P(ESEM_P_UID, UID_A);
    assert_int_equal(esem_grant(s, &a, ESEM_R_UNLINK), 0);
    /* ...or whom the owner grants it */
    run_ok("unlink granted", "uid:65534", fmt("unlink:%s", name));
    errno = 0;
    assert_null(esem_open(name, 0, 0, 0));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(esem_close(s), 0);
}

/* ---- strict policy ---- */

struct strict_arg {
    const char *name;
    esem_t *s;
};

/* A fork child of the creator, holding its handles: it acts as the creator. */
static int child_of_creator(void *p)
{
    struct strict_arg *a = p;
    HX_CHECK(esem_post(a->s) == 0);
    HX_CHECK(esem_wait(a->s) == 0);
    esem_t *again = esem_open(a->name, 0, 0, 0);
    HX_CHECK(again == a->s);
    HX_CHECK(esem_close(again) == 0);
    /* an owner's right: it may grant (here: open and post to its uid) */
    struct esem_principal u = {.kind = ESEM_P_UID, .id = (uint32_t)getuid()};
    HX_CHECK(esem_grant(a->s, &u, ESEM_R_OPEN | ESEM_R_POST) == 0);
    return 0;
}

/* A fork child made while the parent held nothing still acts as its
 * parent: its first call connects as the parent's child. */
static int child_acts_as_parent_later(void *p)
{
    struct strict_arg *a = p;
    esem_t *s = esem_open(a->name, 0, 0, 0);
    HX_CHECK(s != NULL);
    HX_CHECK(esem_close(s) == 0);
    return 0;
}

static void strict_refuses_same_uid_unrelated_process(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "strict");
    esem_t *s = create(name, ESEM_O_STRICT, 0666, 0);
    assert_non_null(s);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    int st;
    char *out = hx_ctl(&st, "show", name, (char *)NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "\"policy\":\"strict\""));
    free(out);

    size_t mark = hx_log_mark();
    /* Same uid (root, even), mode 0666, yet no right: not the creator. */
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL,
                                     STEPS(fmt("open:%s=EACCES", name),
                                           fmt("create:%s=EACCES", name),
                                           fmt("unlink:%s=EACCES", name), "sync",
                                           fmt("open:%s", name), "post", "wait=EACCES",
                                           "grant:uid/0/wait=EPERM", "close")),
                     0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    char want[96];
    snprintf(want, sizeof want, "audit: refused open pid=%d", (int)h.pid);
    assert_true(hx_log_wait(mark, want, 5000));
    /* the owner lets that one process in */
    struct esem_principal p = P(ESEM_P_PROC, (uint32_t)h.pid);
    assert_int_equal(esem_grant(s, &p, ESEM_R_OPEN | ESEM_R_POST), 0);
    assert_int_equal(hx_helper_go(&h), 0);
    hx_assert_ok_status(hx_helper_end(&h, 30000), "helper");
    assert_int_equal(esem_trywait(s), 0); /* the helper's post */

    /* A fork child made while the creator held nothing still acts as it. */
    assert_int_equal(esem_close(s), 0);
    struct strict_arg a = {.name = name};
    pid_t c = hx_fork(child_acts_as_parent_later, &a);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);
    /* the creator itself is still the owner */
    s = esem_open(name, 0, 0, 0);
    assert_non_null(s);
    drop(s, name);
}

static void strict_fork_child_of_creator_acts_as_creator(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "strict-fork");
    esem_t *s = create(name, ESEM_O_STRICT, 0600, 0);
    assert_non_null(s);
    struct strict_arg a = {.name = name, .s = s};
    pid_t c = hx_fork(child_of_creator, &a);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);
    /* the child's grant (uid: open, post) now lets an unrelated same-uid
     * process in, for those rights only */
    run_ok("after the child's grant", fmt("open:%s", name), "post", "trywait=EACCES",
           fmt("unlink:%s=EACCES", name), "close");
    assert_int_equal(esem_trywait(s), 0);
    drop(s, name);
}

static void policy_strict_is_the_daemons_default(void **state)
{
    (void)state;
    struct hx_daemon d;
    const char *const args[] = {"--policy=strict", NULL};
    assert_int_equal(hx_daemon_start_args(&d, args), 0);
    char name[64], env_sock[HX_PATH + 16];
    hx_name(name, sizeof name, "dflt");
    snprintf(env_sock, sizeof env_sock, "ESEM_SOCKET=%s", d.sock);
    const char *const env[] = {env_sock, NULL};
    /* a plain O_CREAT, no ESEM_O_STRICT; mode 0666 (less the umask): the
     * mode bits would let the same uid in */
    struct hx_proc creator;
    assert_int_equal(hx_helper_start(&creator, env,
                                     STEPS(fmt("create:%s", name), "post", "sync", "wait",
                                           fmt("unlink:%s", name), "close")),
                     0);
    assert_int_equal(hx_helper_ready(&creator, 20000), 0);
    hx_assert_ok_status(hx_helper_run(env, STEPS(fmt("open:%s=EACCES", name),
                                                  fmt("unlink:%s=EACCES", name))),
                        "same uid on the strict daemon");
    char *out = NULL;
    int st = hx_helper_capture(env, STEPS("exec", getenv("ESEMCTL"), "--json", "show", name),
                               &out, NULL);
    hx_assert_ok_status(st, "esemctl show");
    assert_non_null(out);
    if (!strstr(out, "\"policy\":\"strict\""))
        fail_msg("show: %s", out);
    free(out);
    assert_int_equal(hx_helper_go(&creator), 0);
    hx_assert_ok_status(hx_helper_end(&creator, 30000), "creator");
    assert_int_equal(hx_daemon_stop(&d), 0);

    /* the same on this group's daemon (posix default): same uid may open */
    struct hx_proc c2;
    assert_int_equal(hx_helper_start(&c2, NULL, STEPS(fmt("create:%s", name), "sync", "close")),
                     0);
    assert_int_equal(hx_helper_ready(&c2, 20000), 0);
    run_ok("same uid on the posix daemon", fmt("open:%s", name), "close");
    assert_int_equal(hx_helper_go(&c2), 0);
    hx_assert_ok_status(hx_helper_end(&c2, 30000), "creator");
    assert_int_equal(esem_unlink(name), 0);
}

/* ---- esemctl grant / revoke / audit ---- */

static int ctl_as(const char *uid, char **out, char **err, const char *a1, const char *a2,
                  const char *a3, const char *a4)
{
    const char *steps[12];
    int n = 0;
    if (uid)
        steps[n++] = uid;
    steps[n++] = "exec";
    steps[n++] = getenv("ESEMCTL");
    steps[n++] = "--socket";
    steps[n++] = hx.sock;
    steps[n++] = a1;
    steps[n++] = a2;
    steps[n++] = a3;
    steps[n++] = a4;
    steps[n] = NULL;
    return hx_helper_capture(NULL, steps, out, err);
}

#define assert_exit(st, code, err)                                                       \
    do {                                                                                \
        if ((st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != (code))                  \
            fail_msg("esemctl: %s, want exit %d; stderr: %s", hx_status_str(st), (code), \
                     (err) ? (err) : "");                                               \
    } while (0)

static void esemctl_grant_revoke_and_audit_end_to_end(void **state)
{
    (void)state;
    HX_NEED_ROOT();
    hx_open_to_all_users();
    struct passwd *pw = getpwuid(UID_A);
    char name[64];
    hx_name(name, sizeof name, "ctl");
    esem_t *s = create(name, 0, 0600, 0);
    assert_non_null(s);
    char *err = NULL;
    int st;

    run_ok("before", "uid:65534", fmt("open:%s=EACCES", name));
    char who[64];
    snprintf(who, sizeof who, "uid:%s", pw ? pw->pw_name : "65534");
    st = ctl_as(NULL, NULL, &err, "grant", name, who, "open,post,wait");
    assert_exit(st, 0, err);
    free(err);
    run_ok("granted by esemctl", "uid:65534", fmt("open:%s", name), "post", "wait", "close");

    st = ctl_as(NULL, NULL, &err, "revoke", name, "uid:65534", "post");
    assert_exit(st, 0, err);
    free(err);
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL,
                                     STEPS("uid:65534", fmt("open:%s", name), "post=EACCES",
                                           "close")),
                     0);
    pid_t denied_pid = h.pid;
    hx_assert_ok_status(hx_helper_end(&h, 30000), "revoked by esemctl");

    /* not the owner: EPERM, exit 1, a clear message */
    st = ctl_as("uid:65534", NULL, &err, "grant", name, "uid:65534", "all");
    assert_exit(st, 1, err);
    assert_non_null(err);
    if (!strstr(err, "Operation not permitted") || !strstr(err, "owner"))
        fail_msg("stderr: %s", err);
    free(err);
    /* revoke all for the uid, by gid name and by pid */
    st = ctl_as(NULL, NULL, &err, "revoke", name, "uid:65534", "all");
    assert_exit(st, 0, err);
    free(err);
    run_ok("revoked all", "uid:65534", fmt("open:%s=EACCES", name));
    st = ctl_as(NULL, NULL, &err, "grant", name, "gid:65534", "open");
    assert_exit(st, 0, err);
    free(err);
    st = ctl_as(NULL, NULL, &err, "grant", name, fmt("pid:%d", (int)getpid()), "open");
    assert_exit(st, 0, err);
    free(err);
    st = ctl_as(NULL, NULL, &err, "grant", name, "key:00000000deadbeef", "wait");
    assert_exit(st, 0, err);
    free(err);
    /* operand errors: exit 2 */
    static const char *const bad[][2] = {{"bogus:1", "open"},   {"uid:65534", "fly"},
                                         {"uid:", "open"},      {"key:xyz", "open"},
                                         {"pid:0", "open"},     {"uid:65534", ""},
                                         {"uid:no-such-user-x", "open"},
                                         {"keyfile:/nonexistent/k", "open"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = ctl_as(NULL, NULL, &err, "grant", name, bad[i][0], bad[i][1]);
        assert_exit(st, 2, err);
        free(err);
    }
    /* no such semaphore / process: exit 1 */
    st = ctl_as(NULL, NULL, &err, "grant", "/itest-no-such-sem", "uid:1", "open");
    assert_exit(st, 1, err);
    assert_non_null(strstr(err, "No such file"));
    free(err);
    st = ctl_as(NULL, NULL, &err, "grant", name, "pid:2147483000", "open");
    assert_exit(st, 1, err);
    assert_non_null(strstr(err, "No such process"));
    free(err);

    /* esemctl audit lists the refusals: the helper's post (EACCES) and the
     * non-owner's grant (EPERM) */
    char *out = hx_ctl(&st, "audit", (char *)NULL);
    assert_non_null(out);
    char want[128];
    snprintf(want, sizeof want, "\"pid\":%d,\"uid\":%d,\"errno\":\"EACCES\",\"core\":\"access\","
             "\"refused\":\"post\"", (int)denied_pid, UID_A);
    if (!strstr(out, want))
        fail_msg("audit lacks %s", want);
    snprintf(want, sizeof want, "\"uid\":%d,\"errno\":\"EPERM\",\"core\":\"perm\","
             "\"refused\":\"grant\"", UID_A);
    if (!strstr(out, want))
        fail_msg("audit lacks %s", want);
    free(out);
    /* the text form too */
    char *txt = NULL;
    st = ctl_as(NULL, &txt, &err, "audit", NULL, NULL, NULL);
    assert_exit(st, 0, err);
    free(err);
    assert_non_null(txt);
    assert_non_null(strstr(txt, "EPERM"));
    assert_non_null(strstr(txt, "grant"));
    free(txt);
    drop(s, name);
}

int main(int argc, char **argv)
{
    hx_helper_dispatch(argc, argv);
    const struct CMUnitTest tests[] = {
        HX_TEST(other_uid_refused_then_allowed_after_grant_uid),
        HX_TEST(revoke_takes_effect_on_an_open_handle_at_once),
        HX_TEST(grant_to_gid_and_levels_uid_over_gid),
        HX_TEST(grant_to_one_process_only),
        HX_TEST(grant_to_key_and_bad_arguments),
        HX_TEST(non_owner_grant_is_eperm_and_audited),
        HX_TEST(unlink_right_via_grant),
        HX_TEST(strict_refuses_same_uid_unrelated_process),
        HX_TEST(strict_fork_child_of_creator_acts_as_creator),
        HX_TEST(policy_strict_is_the_daemons_default),
        HX_TEST(esemctl_grant_revoke_and_audit_end_to_end),
    };
    return HX_RUN_GROUP(tests);
}
