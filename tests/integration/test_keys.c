/*
 * Key sessions against a real esemd started with --keyring: a client with
 * ESEM_KEY_FILE (or esem_set_key) uses every call, its fork children
 * inherit the key session; an unknown key is EKEYREJECTED, a bad key file
 * ENOKEY, esem_set_key after connecting EISCONN; a strict semaphore created
 * in a key session belongs to the key (any process holding it, of any uid,
 * and nobody else) and an ESEM_P_KEY grant lets a second key in; a grant
 * forged into the channel of a waiting key client is ignored, where a PID
 * session's waiter is released by it (the documented weakness).
 */
#include "harness.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "esem.h"
#include "proto.h"

#define UID_A 65534

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})

static char kdir[64];                                    /* keys live here */
static char keyring[96], k1[96], k1_a[96], k2[96], k3[96], kbad[96];
static unsigned char key1[32], key2[32];
static char env_k1[128], env_k1_a[128], env_k2[128], env_k3[128], env_bad[128], env_none[128];

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
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

static int run(const char *env1, const char *const *steps)
{
    const char *env[] = {env1, NULL};
    return hx_helper_run(env1 ? env : NULL, steps);
}

#define run_ok(what, env1, ...) hx_assert_ok_status(run(env1, STEPS(__VA_ARGS__)), what)

static char *key_hex(uint64_t id)
{
    return fmt("%016" PRIx64, id);
}

/* ---- the keyring ---- */

static int write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    fchmod(fd, mode);
    return close(fd) == 0 && ok ? 0 : -1;
}

static void hexline(char *out, const unsigned char k[32])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", k[i]);
}

static int make_keys(void)
{
    snprintf(kdir, sizeof kdir, "/tmp/esem-itest-keys-XXXXXX");
    if (!mkdtemp(kdir))
        return -1;
    chmod(kdir, 0711); /* other uids reach their own key files by name */
    snprintf(keyring, sizeof keyring, "%s/keyring", kdir);
    snprintf(k1, sizeof k1, "%s/k1", kdir);
    snprintf(k1_a, sizeof k1_a, "%s/k1-uid-a", kdir);
    snprintf(k2, sizeof k2, "%s/k2", kdir);
    snprintf(k3, sizeof k3, "%s/k3", kdir);
    snprintf(kbad, sizeof kbad, "%s/bad", kdir);
    unsigned char key3[32];
    if (getrandom(key1, 32, 0) != 32 || getrandom(key2, 32, 0) != 32 ||
        getrandom(key3, 32, 0) != 32)
        return -1;
    if (hx_write_key(k1, key1) < 0 || hx_write_key(k1_a, key1) < 0 || hx_write_key(k2, key2) < 0 ||
        hx_write_key(k3, key3) < 0 || write_file(kbad, "not a key at all\n", 0600) < 0)
        return -1;
    if (geteuid() == 0 && chown(k1_a, UID_A, UID_A) < 0)
        return -1;
    char h1[65], h2[65], text[256];
    hexline(h1, key1);
    hexline(h2, key2);
    snprintf(text, sizeof text, "# test keyring\n\n%s\n  %s\n", h1, h2);
    if (write_file(keyring, text, 0600) < 0)
        return -1;
    snprintf(env_k1, sizeof env_k1, "ESEM_KEY_FILE=%s", k1);
    snprintf(env_k1_a, sizeof env_k1_a, "ESEM_KEY_FILE=%s", k1_a);
    snprintf(env_k2, sizeof env_k2, "ESEM_KEY_FILE=%s", k2);
    snprintf(env_k3, sizeof env_k3, "ESEM_KEY_FILE=%s", k3);
    snprintf(env_bad, sizeof env_bad, "ESEM_KEY_FILE=%s", kbad);
    snprintf(env_none, sizeof env_none, "ESEM_KEY_FILE=%s/no-such-file", kdir);
    return 0;
}

static void remove_keys(void)
{
    const char *files[] = {keyring, k1, k1_a, k2, k3, kbad};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(kdir);
}

/* ---- tests ---- */

static void bad_keyring_refuses_to_start(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/ring-bad", kdir);
    char h1[65], text[160];
    hexline(h1, key1);
    struct {
        const char *text;
        mode_t mode;
    } cases[] = {
        {NULL, 0644},                  /* readable by others */
        {"0123456789abcdef\n", 0600},  /* too short */
        {NULL, 0600},                  /* one good key, then garbage */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i == 2)
            snprintf(text, sizeof text, "%s\nzz%.62s\n", h1, h1);
        else
            snprintf(text, sizeof text, "%s\n", cases[i].text ? cases[i].text : h1);
        assert_int_equal(write_file(path, text, cases[i].mode), 0);
        const char *const args[] = {"--keyring", path, NULL};
        struct hx_daemon d;
        fprintf(stderr, "(expected: a start-up failure follows)\n");
        if (hx_daemon_start_args(&d, args) == 0) {
            hx_daemon_stop(&d);
            fail_msg("esemd started with keyring case %zu", i);
        }
        assert_true(d.exited);
        assert_false(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
        hx_daemon_remove_files(&d);
    }
    snprintf(text, sizeof text, "%s/missing", kdir);
    const char *const args[] = {"--keyring", text, NULL};
    struct hx_daemon d;
    assert_int_equal(hx_daemon_start_args(&d, args), -1);
    hx_daemon_remove_files(&d);
    unlink(path);
}

static void key_file_client_uses_every_call_and_fork_inherits(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "kfull");
    size_t mark = hx_log_mark();
    struct hx_proc h;
    const char *env[] = {env_k1, NULL};
    assert_int_equal(hx_helper_start(&h, env,
                                     STEPS(fmt("create:%s", name), "post", "wait", "trywait=EAGAIN",
                                           "timedwait=ETIMEDOUT", "post", "timedwait",
                                           "forkpost", "wait", "getvalue:0", "sync", "wait",
                                           "getvalue:0", "close", fmt("unlink:%s", name))),
                     0);
    assert_int_equal(hx_helper_ready(&h, 20000), 0);
    char want[128];
    snprintf(want, sizeof want, "session start pid=%d uid=%u gid=%u key=%s", (int)h.pid,
             (unsigned)getuid(), (unsigned)getgid(), key_hex(esem_key_id(key1)));
    assert_true(hx_log_wait(mark, want, 5000));
    /* the fork child's session: the same key, the parent's opens */
    snprintf(want, sizeof want, "key=%s (inherits its parent's opens)",
             key_hex(esem_key_id(key1)));
    assert_true(hx_log_wait(mark, want, 5000));
    /* release its next (blocking) wait from another process with the key */
    assert_int_equal(hx_helper_go(&h), 0);
    assert_true(hx_wait_waiter(name, h.pid, 1, 10000));
    run_ok("poster with the same key", env_k1, fmt("open:%s", name), "post", "close");
    hx_assert_ok_status(hx_helper_end(&h, 30000), "key client");
}

static void unknown_key_is_ekeyrejected_and_audited(void **state)
{
    (void)state;
    struct hx_proc h;
    const char *env[] = {env_k3, NULL};
    assert_int_equal(hx_helper_start(&h, env, STEPS("anon=EKEYREJECTED",
                                                    "open:/itest-k3=EKEYREJECTED")),
                     0);
    pid_t p = h.pid;
    hx_assert_ok_status(hx_helper_end(&h, 30000), "unknown key");
    int st;
    char *out = hx_ctl(&st, "audit", (char *)NULL);
    assert_non_null(out);
    char want[64];
    snprintf(want, sizeof want, "\"pid\":%d,", (int)p);
    const char *rec = strstr(out, want);
    if (!rec || !strstr(rec, "\"errno\":\"EKEYREJECTED\"") ||
        !strstr(rec, "\"refused\":\"connection (unknown key)\""))
        fail_msg("no audit record of the unknown key of pid %d: %s", (int)p, out);
    free(out);
}

static void bad_key_file_is_enokey(void **state)
{
    (void)state;
    run_ok("missing key file", env_none, "anon=ENOKEY", "open:/itest-nokey=ENOKEY");
    run_ok("garbage key file", env_bad, "anon=ENOKEY", "unlink:/itest-nokey=ENOKEY");
    /* set but empty: no key session (not an error) */
    run_ok("empty ESEM_KEY_FILE", "ESEM_KEY_FILE=", "anon", "post", "wait");
}

static void set_key_after_connect_is_eisconn(void **state)
{
    (void)state;
    run_ok("set_key after connecting", NULL, "anon", fmt("setkey:%s=EISCONN", k1), "post");
    /* before: a key session (the log says so) */
    size_t mark = hx_log_mark();
    struct hx_proc h;
    assert_int_equal(hx_helper_start(&h, NULL, STEPS(fmt("setkey:%s", k1), "anon", "post", "wait",
                                                     fmt("setkey:%s=EISCONN", k2))),
                     0);
    char want[128];
    snprintf(want, sizeof want, "session start pid=%d uid=%u gid=%u key=%s", (int)h.pid,
             (unsigned)getuid(), (unsigned)getgid(), key_hex(esem_key_id(key1)));
    hx_assert_ok_status(hx_helper_end(&h, 30000), "set_key first");
    assert_true(hx_log_wait(mark, want, 5000));
}

static void key_owned_strict_sem_is_the_keys_alone(void **state)
{
    (void)state;
    int root = geteuid() == 0;
    if (root)
        hx_open_to_all_users();
    char name[64];
    hx_name(name, sizeof name, "kstrict");
    char *open_n = fmt("open:%s", name), *open_no = fmt("open:%s=EACCES", name);
    /* created in a key session, strict: its owner is the key */
    run_ok("creator (k1)", env_k1, fmt("screate:%s", name), "post", "close");
    /* the creator is gone: another process with k1 — of another uid when
     * we can — is the owner too */
    if (root)
        run_ok("k1, other uid", env_k1_a, "uid:65534", open_n, "wait", "post",
               "grant:uid/65534/wait", "close");
    else
        print_message("(not root: the other-uid part is skipped)\n");
    run_ok("k1 via esem_set_key", NULL, fmt("setkey:%s", k1), open_n, "wait", "post", "close");
    /* nobody else: no key (same uid, root), another key */
    run_ok("no key", NULL, open_no, fmt("unlink:%s=EACCES", name));
    run_ok("k2", env_k2, open_no);
    errno = 0;
    assert_null(esem_open(name, 0, 0, 0)); /* this (root) PID session */
    assert_int_equal(errno, EACCES);
    /* An ESEM_P_KEY grant lets the second key in, for what it names. */
    run_ok("k1 grants k2", env_k1, open_n, fmt("grant:key/%s/open,post", key_hex(esem_key_id(key2))),
           "close");
    run_ok("k2 after grant", env_k2, open_n, "post", "wait=EACCES", "close");
    /* esemctl with ESEM_KEY_FILE acts with the key: keyfile: principal */
    char *err = NULL;
    const char *ctl = getenv("ESEMCTL");
    int st = hx_helper_capture((const char *const[]){env_k1, NULL},
                               STEPS("exec", ctl, "--socket", hx.sock, "grant", name,
                                     fmt("keyfile:%s", k2), "wait"),
                               NULL, &err);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("esemctl grant keyfile: %s: %s", hx_status_str(st), err ? err : "");
    free(err);
    run_ok("k2 after esemctl grant", env_k2, open_n, "wait", "wait", "close");
    /* without the key, esemctl cannot even open it */
    st = hx_helper_capture(NULL, STEPS("exec", ctl, "--socket", hx.sock, "revoke", name,
                                       fmt("key:%s", key_hex(esem_key_id(key2))), "all"),
                           NULL, &err);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1 || !err ||
        !strstr(err, "Permission denied"))
        fail_msg("esemctl revoke without the key: %s: %s", hx_status_str(st), err ? err : "");
    free(err);
    /* k2 may open but is not the owner */
    run_ok("k2 is no owner", env_k2, open_n, "grant:uid/0/all=EPERM", "close");
    st = hx_helper_capture((const char *const[]){env_k1, NULL},
                           STEPS("exec", ctl, "--socket", hx.sock, "revoke", name,
                                 fmt("key:%s", key_hex(esem_key_id(key2))), "all"),
                           NULL, &err);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("esemctl revoke with the key: %s: %s", hx_status_str(st), err ? err : "");
    free(err);
    run_ok("k2 after revoke", env_k2, open_no);
    run_ok("unlink by the key", env_k1, fmt("unlink:%s", name));
}

static void esemctl_keygen_and_keyid(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/generated", kdir);
    unlink(path);
    const char *ctl = getenv("ESEMCTL");
    char *out = NULL, *err = NULL;
    int st = hx_helper_capture(NULL, STEPS("exec", ctl, "keygen", path), &out, &err);
    hx_assert_ok_status(st, "keygen");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, 65);
    unsigned char key[32];
    assert_int_equal(hx_read_key(path, key), 0);
    char want[24];
    snprintf(want, sizeof want, "%s\n", key_hex(esem_key_id(key)));
    assert_string_equal(out, want);
    free(out);
    free(err);
    /* never overwrites */
    st = hx_helper_capture(NULL, STEPS("exec", ctl, "keygen", path), &out, &err);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_non_null(strstr(err, "File exists"));
    free(out);
    free(err);
    st = hx_helper_capture(NULL, STEPS("exec", ctl, "keyid", path), &out, &err);
    hx_assert_ok_status(st, "keyid");
    assert_string_equal(out, want);
    free(out);
    free(err);
    st = hx_helper_capture(NULL, STEPS("exec", ctl, "keyid", k1), &out, &err);
    hx_assert_ok_status(st, "keyid k1");
    snprintf(want, sizeof want, "%s\n", key_hex(esem_key_id(key1)));
    assert_string_equal(out, want);
    free(out);
    free(err);
    st = hx_helper_capture(NULL, STEPS("exec", ctl, "keyid", kbad), &out, &err);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_non_null(strstr(err, "not a key file"));
    free(out);
    free(err);
    unlink(path);
}

/* ---- a grant forged into the channel ---- */

struct waiter {
    esem_t *s;
    _Atomic int done;
    int rc;
};

static void *wait_thread(void *p)
{
    struct waiter *w = p;
    w->rc = esem_wait(w->s);
    atomic_store(&w->done, 1);
    return NULL;
}

/* This process's channel, from /proc/self/maps. */
static struct esem_chan *own_channel(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return NULL;
    char line[512];
    unsigned long lo = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "memfd:esem-channel") && sscanf(line, "%lx-", &lo) == 1)
            break;
        else
            lo = 0;
    fclose(f);
    return (struct esem_chan *)lo;
}

/* Write what a hostile writer of the channel would: "granted" (status 0,
 * core status OK, no valid MAC) on the slot of the queued wait, and wake
 * the waiter.  Returns the slot, or -1. */
static int forge_grant(struct esem_chan *ch)
{
    for (uint32_t k = 0; k < ESEM_NSLOTS; k++) {
        struct esem_slot *s = &ch->slot[k];
        uint32_t req = atomic_load((_Atomic uint32_t *)&s->req_seq);
        uint32_t rep = atomic_load((_Atomic uint32_t *)&s->rep_seq);
        if (s->op != ESEM_OP_WAIT || req == rep)
            continue;
        s->status = 0;
        s->cstatus = CORE_OK;
        s->rvalue = 0;
        s->rhandle = 0;
        memset(s->rmac, 0, sizeof s->rmac);
        atomic_store((_Atomic uint32_t *)&s->rep_seq, req);
        syscall(SYS_futex, &s->rep_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
        return (int)k;
    }
    return -1;
}

struct forge_arg {
    const char *name;
    int keyed;
};

static int child_forge(void *p)
{
    struct forge_arg *a = p;
    if (a->keyed)
        HX_CHECK(esem_set_key(key1) == 0);
    esem_t *s = esem_open(a->name, O_CREAT | O_EXCL, 0600, 0);
    HX_CHECK(s != NULL);
    struct esem_chan *ch = own_channel();
    HX_CHECK(ch != NULL);
    struct waiter w = {.s = s};
    pthread_t th;
    HX_CHECK(pthread_create(&th, NULL, wait_thread, &w) == 0);
    HX_CHECK(hx_wait_nwaiters(a->name, 1, 10000));
    hx_sleep_ms(50); /* let it fall asleep on the futex */
    HX_CHECK(forge_grant(ch) >= 0);
    /* give a wrongly released waiter ample time to return */
    for (int i = 0; i < 100 && !atomic_load(&w.done); i++)
        hx_sleep_ms(10);
    if (a->keyed) {
        /* Key session: the forged reply carries no core MAC: ignored. */
        HX_CHECK(!atomic_load(&w.done));
        struct hx_show sh;
        HX_CHECK(hx_show(a->name, &sh) == 0 && sh.nwaiters == 1 && sh.value == 0);
        /* a second forgery, for good measure, then the real post */
        HX_CHECK(forge_grant(ch) >= 0);
        hx_sleep_ms(100);
        HX_CHECK(!atomic_load(&w.done));
        HX_CHECK(esem_post(s) == 0);
        HX_CHECK(pthread_join(th, NULL) == 0);
        HX_CHECK(w.rc == 0);
        HX_CHECK(hx_show(a->name, &sh) == 0 && sh.nwaiters == 0 && sh.value == 0);
        HX_CHECK(esem_close(s) == 0);
    } else {
        /* PID session — the documented weakness: a writer of the channel
         * (here: another thread of the process itself) makes esem_wait
         * return 0 though the core granted nothing: it still lists the
         * waiter as queued. */
        HX_CHECK(atomic_load(&w.done));
        HX_CHECK(pthread_join(th, NULL) == 0);
        HX_CHECK(w.rc == 0);
        struct hx_show sh;
        HX_CHECK(hx_show(a->name, &sh) == 0 && sh.nwaiters == 1 && sh.value == 0);
        /* the process exits with that ghost waiter; its session ends */
    }
    HX_CHECK(esem_unlink(a->name) == 0);
    return 0;
}

static void forged_grant_ignored_by_key_session_not_by_pid_session(void **state)
{
    (void)state;
    char name[64];
    hx_name(name, sizeof name, "forge-key");
    struct forge_arg a = {.name = name, .keyed = 1};
    pid_t c = hx_fork(child_forge, &a);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);

    char name2[64];
    hx_name(name2, sizeof name2, "forge-pid");
    struct forge_arg b = {.name = name2, .keyed = 0};
    c = hx_fork(child_forge, &b);
    assert_true(c > 0);
    hx_assert_child_ok(c, 30000);
}

int main(int argc, char **argv)
{
    hx_helper_dispatch(argc, argv);
    if (make_keys() < 0) {
        fprintf(stderr, "test_keys: cannot write the test keys\n");
        remove_keys();
        return 1;
    }
    static const char *args[3] = {"--keyring", NULL, NULL};
    args[1] = keyring;
    hx_daemon_extra_args = args;
    const struct CMUnitTest tests[] = {
        HX_TEST(bad_keyring_refuses_to_start),
        HX_TEST(key_file_client_uses_every_call_and_fork_inherits),
        HX_TEST(unknown_key_is_ekeyrejected_and_audited),
        HX_TEST(bad_key_file_is_enokey),
        HX_TEST(set_key_after_connect_is_eisconn),
        HX_TEST(key_owned_strict_sem_is_the_keys_alone),
        HX_TEST(esemctl_keygen_and_keyid),
        HX_TEST(forged_grant_ignored_by_key_session_not_by_pid_session),
    };
    int r = HX_RUN_GROUP(tests);
    remove_keys();
    return r;
}
