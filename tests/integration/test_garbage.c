/*
 * A hostile client (TM-host) on the control socket: raw bytes, forged
 * hellos, data after the hello, forged inheritance, and garbage on an admin
 * connection.  The daemon must refuse (and audit) what is malformed or not
 * allowed, keep serving everybody else, and never crash: the group
 * teardown asserts it still exits with status 0.  The channel's side is
 * test_channel.c.
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

/* ---- the control socket ---- */

static void random_bytes_are_refused(void **state)
{
    (void)state;
    size_t mark = hx_log_mark();
    static char buf[4096];
    for (int i = 0; i < 30; i++) {
        size_t n = 1 + rnd() % sizeof buf;
        fill_random(buf, n);
        assert_int_equal(hello_err(buf, n), EPROTO);
    }
    assert_true(hx_log_wait(mark, "audit: refused connection", 5000));
    client_still_works();
}

static void truncated_hello_is_refused(void **state)
{
    (void)state;
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    for (size_t n = 1; n < sizeof h; n += 5)
        assert_int_equal(hello_err(&h, n), EPROTO);
    assert_int_equal(hello_err(&h, sizeof h - 1), EPROTO);
    client_still_works();
}

static void oversized_message_is_refused(void **state)
{
    (void)state;
    static char big[64 * 1024];
    fill_random(big, sizeof big);
    assert_int_equal(hello_err(big, sizeof big), EPROTO);
    client_still_works();
}

/* A valid hello followed by junk in the same message is not a hello. */
static void hello_with_trailing_bytes_is_refused(void **state)
{
    (void)state;
    static char big[4096];
    fill_random(big, sizeof big);
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    memcpy(big, &h, sizeof h);
    assert_int_equal(hello_err(big, sizeof big), EPROTO);
    assert_int_equal(hello_err(big, sizeof h + 1), EPROTO);
    client_still_works();
}

static void bad_magic_version_or_kind_is_refused_and_audited(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    h.magic ^= 1;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    h = good_hello(ESEM_HELLO_CLIENT);
    h.version = ESEM_PROTO_VERSION + 1;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    h.version = 0;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    static const uint32_t kinds[] = {0, 4, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        h = good_hello(kinds[i]);
        assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    }
    /* a takeover (restart without loss) needs --allow-takeover */
    h = good_hello(ESEM_HELLO_TAKEOVER);
    assert_int_equal(hello_err(&h, sizeof h), EPERM);
    assert_true(hx_log_wait(mark, "audit: refused connection", 5000));
    assert_true(hx_log_wait(mark, "malformed hello", 5000));
    assert_true(hx_log_wait(mark, "protocol version mismatch", 5000));
    assert_true(hx_log_wait(mark, "unknown connection kind", 5000));
    client_still_works();
}

/* `esemctl audit` lists refusals from the daemon's ring, also those whose
 * log line the rate limit suppressed. */
static void refusals_are_listed_by_esemctl_audit(void **state)
{
    (void)state;
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    h.version = ESEM_PROTO_VERSION + 7;
    assert_int_equal(hello_err(&h, sizeof h), EPROTO);
    int st = -1;
    char *out = hx_ctl(&st, "audit", NULL);
    assert_int_equal(st, 0);
    assert_non_null(out);
    char want[96];
    snprintf(want, sizeof want, "\"pid\":%d,", (int)getpid());
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"errno\":\"EPROTO\""));
    assert_non_null(strstr(out, "protocol version mismatch"));
    free(out);
}

static void hang_ups_mid_handshake_are_harmless(void **state)
{
    (void)state;
    /* connect and leave */
    for (int i = 0; i < 10; i++) {
        int s = raw_connect();
        assert_true(s >= 0);
        close(s);
    }
    /* hello, but gone before the reply */
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    for (int i = 0; i < 10; i++) {
        int s = raw_connect();
        assert_true(s >= 0);
        assert_int_equal(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
        close(s);
    }
    /* a connection that never says anything does not hold others up */
    int idle = raw_connect();
    assert_true(idle >= 0);
    client_still_works();
    close(idle);
    client_still_works();
}

static void data_after_hello_is_refused_and_audited(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    char junk[300];
    fill_random(junk, sizeof junk);
    assert_int_equal(send(r.sock, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
    struct esem_hello h = good_hello(ESEM_HELLO_CLIENT);
    assert_int_equal(send(r.sock, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    assert_true(hx_log_wait(mark, "audit: refused control message after hello", 5000));
    /* The session itself is unaffected. */
    struct rq q = {.op = ESEM_OP_CREATE, .value = 1};
    assert_int_equal(raw_call(&r, 0, &q), 0);
    raw_close(&r);
    client_still_works();
}

static void forged_inheritance_is_refused(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r, f;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(raw_open(&f, rnd() | 1), EPERM);
        raw_close(&f);
    }
    /* A live session of this very process: it is not our parent's. */
    assert_int_equal(raw_open(&r, 0), 0);
    assert_int_equal(raw_open(&f, r.rep.session), EPERM);
    raw_close(&f);
    raw_close(&r);
    assert_true(hx_log_wait(mark, "audit: refused inherit", 5000));
    client_still_works();
}

struct claim_arg {
    uint64_t session;
    uint64_t handle; /* a root-only semaphore that session holds open */
};

static int child_claim_after_setuid(void *arg)
{
    struct claim_arg *a = arg;
    HX_CHECK(hx_become(65534, 65534) == 0);
    struct raw r;
    int err = raw_open(&r, a->session);
    if (err == 0) {
        struct rq q = {.op = ESEM_OP_POST, .handle = a->handle};
        int32_t st = raw_await(&r, 0, raw_submit(&r, 0, &q), 5000);
        fprintf(stderr, "uid 65534 inherited its root parent's session; a post on the "
                        "parent's mode-0600 semaphore then gave status %d\n", (int)st);
    }
    HX_CHECK(err == EPERM);
    return 0;
}

/* A child that changed its uid before connecting must not pick up its
 * parent's opens (the library connects a child before any setuid; only a
 * forged hello comes after one). */
static void child_of_other_uid_cannot_claim_parents_session(void **state)
{
    (void)state;
    hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "claim");
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq q = {.op = ESEM_OP_OPEN, .oflag = CORE_O_CREAT | CORE_O_EXCL, .mode = 0600,
                   .name = name + 1, .name_len = (uint32_t)strlen(name + 1)};
    assert_int_equal(raw_call(&r, 0, &q), 0);
    struct claim_arg a = {.session = r.rep.session, .handle = r.chan->slot[0].rhandle};
    pid_t c = hx_fork(child_claim_after_setuid, &a);
    assert_true(c > 0);
    int st = hx_reap(c, 30000);
    struct hx_show sh;
    assert_int_equal(hx_show(name, &sh), 0);
    raw_close(&r);
    esem_unlink(name);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child: %s", hx_status_str(st));
    assert_int_equal(sh.value, 0);
}

/* The audit log is rate-limited, but what it leaves out it must still
 * account for ("N refusal lines suppressed"), also when the burst is the
 * last thing that happens for a while. */
static void suppressed_refusals_are_accounted_for(void **state)
{
    (void)state;
    fresh_audit_second();
    size_t mark = hx_log_mark();
    struct raw r;
    assert_int_equal(raw_open(&r, 0), 0);
    struct rq q = {.op = 0};
    struct rq stale = {.op = ESEM_OP_TRYWAIT, .handle = 1}; /* refused, but well-formed */
    for (int i = 0; i < 200; i++) /* (64 malformed in a row would drop the client) */
        assert_int_equal(raw_call(&r, 0, i % 50 == 49 ? &stale : &q), EINVAL);
    raw_close(&r);
    int logged = hx_log_count(mark, "audit: refused");
    assert_true(logged > 0);
    if (logged < 200)
        assert_true(hx_log_wait(mark, "refusal lines suppressed", 5000));
    client_still_works();
}

/* ---- the admin side ---- */

static void admin_garbage_is_refused(void **state)
{
    (void)state;
    int s = raw_connect();
    assert_true(s >= 0);
    struct esem_hello h = good_hello(ESEM_HELLO_ADMIN);
    struct esem_hello_reply rep;
    int fds[2];
    assert_int_equal(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    assert_int_equal(read_reply(s, &rep, fds), 0);
    assert_int_equal(rep.err, 0);
    assert_int_equal(fds[0], -1); /* no channel for an admin */

    struct esem_admin_msg m, out;
    memset(&m, 0, sizeof m);
    m.type = 0xdead;
    assert_int_equal(send(s, &m, sizeof m, MSG_NOSIGNAL), (ssize_t)sizeof m);
    struct pollfd p = {.fd = s, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), (ssize_t)sizeof out);
    assert_int_equal(out.type, ESEM_ADM_END);
    assert_int_equal(out.err, EINVAL);

    m.type = ESEM_ADM_SHOW;
    m.name_len = 0xffffffffu;
    fill_random(m.name, sizeof m.name);
    assert_int_equal(send(s, &m, sizeof m, MSG_NOSIGNAL), (ssize_t)sizeof m);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), (ssize_t)sizeof out);
    assert_int_equal(out.type, ESEM_ADM_END);
    assert_int_equal(out.err, ENOENT);

    /* A short message ends the connection. */
    assert_int_equal(send(s, &m, 7, MSG_NOSIGNAL), 7);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(s, &out, sizeof out, 0), 0);
    close(s);

    int st;
    char *ls = hx_ctl(&st, "ls", (char *)NULL);
    assert_non_null(ls);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(ls);
    client_still_works();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HX_TEST(random_bytes_are_refused),
        HX_TEST(refusals_are_listed_by_esemctl_audit),
        HX_TEST(truncated_hello_is_refused),
        HX_TEST(oversized_message_is_refused),
        HX_TEST(hello_with_trailing_bytes_is_refused),
        HX_TEST(bad_magic_version_or_kind_is_refused_and_audited),
        HX_TEST(hang_ups_mid_handshake_are_harmless),
        HX_TEST(data_after_hello_is_refused_and_audited),
        HX_TEST(forged_inheritance_is_refused),
        HX_TEST(child_of_other_uid_cannot_claim_parents_session),
        HX_TEST(suppressed_refusals_are_accounted_for),
        HX_TEST(admin_garbage_is_refused),
    };
    return HX_RUN_GROUP(tests);
}
