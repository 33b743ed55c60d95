/*
 * Integration test harness: a private esemd per test group, esemctl and log
 * helpers, and process helpers.
 *
 * Rules the tests follow:
 *   - every blocking step is bounded (alarm() per test and per child, or an
 *     explicit timeout), so a bug fails a test instead of hanging it;
 *   - assertions are about behaviour, never about speed; timeouts are only
 *     there to turn "never happens" into a failure;
 *   - code running in a forked child never uses cmocka's assert_* (that would
 *     run the parent's test machinery in the child): it uses HX_CHECK, which
 *     prints the failed condition and _exit(1)s.
 */
#ifndef ESEM_ITEST_HARNESS_H
#define ESEM_ITEST_HARNESS_H

/* First include of every test program: pipe2, memfd seals, strsignal... */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HX_PATH 256

struct hx_daemon {
    pid_t pid;
    char dir[HX_PATH];  /* mkdtemp directory holding the files below */
    char sock[HX_PATH]; /* control socket */
    char log[HX_PATH];  /* the daemon's log (--log) */
    char err[HX_PATH];  /* the daemon's stderr: sanitizer reports land here */
    int exited, status; /* reaped already, and its wait status */
};

/* The test group's daemon (started by hx_group_setup). */
extern struct hx_daemon hx;

/* Start esemd ($ESEMD) on a fresh private directory and wait (bounded) until
 * it serves an admin hello.  Returns 0 or -1 (message on stderr).  The
 * daemon gets SIGTERM if the calling thread dies. */
int hx_daemon_start(struct hx_daemon *d);
/* The same with more arguments for esemd (NULL-terminated, or NULL). */
int hx_daemon_start_args(struct hx_daemon *d, const char *const *extra);
/* Extra esemd arguments hx_group_setup passes (set before HX_RUN_GROUP). */
extern const char *const *hx_daemon_extra_args;
/* SIGTERM, wait (bounded; SIGKILL after the bound).  Returns 0 if the daemon
 * exited with status 0, wrote nothing to stderr and logged no "internal:"
 * line; else prints why and returns -1.  Removes its directory. */
int hx_daemon_stop(struct hx_daemon *d);
/* Remove the daemon's directory (for a daemon reaped by other means). */
void hx_daemon_remove_files(const struct hx_daemon *d);
/* Is the daemon process still running (not exited, not a zombie)? */
int hx_daemon_alive(const struct hx_daemon *d);

/* cmocka group fixtures: start/stop hx and point ESEM_SOCKET at it. */
int hx_group_setup(void **state);
int hx_group_teardown(void **state);
/* Run a group with those fixtures.  cmocka 1.1 ignores a failed group
 * teardown in its result, so the harness adds it (a daemon that crashed or
 * reported sanitizer errors fails the program). */
int hx_result(int cmocka_result);
/* $HX_FILTER (a cmocka test name pattern) selects tests; $HX_KEEP_LOGS keeps
 * the daemon's directory after a clean stop. */
void hx_filter(void);
#define HX_RUN_GROUP(tests)                                                              \
    (hx_filter(), hx_result(cmocka_run_group_tests(tests, hx_group_setup, hx_group_teardown)))

/* cmocka per-test fixtures: arm a 60 s alarm (the test's name, passed as
 * its initial state, is printed if it fires); check the daemon survived. */
int hx_test_setup(void **state);
int hx_test_teardown(void **state);
#define HX_TEST(f) cmocka_unit_test_prestate_setup_teardown(f, hx_test_setup, hx_test_teardown, (void *)#f)

/* Let processes of other uids reach hx's socket (the default runtime
 * directory is private to the daemon's uid). */
void hx_open_to_all_users(void);

/* ---- the daemon log ---- */

/* Current size of hx's log: later searches look only past this point. */
size_t hx_log_mark(void);
/* Number of lines after mark that contain needle. */
int hx_log_count(size_t mark, const char *needle);
/* Poll (bounded) until a line after mark contains needle; 1 if found. */
int hx_log_wait(size_t mark, const char *needle, int timeout_ms);

/* ---- esemctl ---- */

/* Run "$ESEMCTL --socket <hx.sock> --json ARGS..." (NULL-terminated) without
 * fork handlers (posix_spawn), bounded.  Returns its stdout (malloc'd,
 * caller frees) and its exit status in *status (-1 on timeout). */
char *hx_ctl(int *status, ...);

struct hx_member {
    unsigned pid, n; /* holders: opens; waiters: slot */
};

struct hx_show {
    int found;
    char id[32]; /* "#<hex handle>" */
    unsigned value, nwaiters, opens, uid, gid, mode;
    int nholders, nwait;
    struct hx_member holders[64], waiters[64];
};

/* Ids ("#<hex>") of the anonymous semaphores esemctl ls lists; count. */
int hx_anon_ids(char (*ids)[32], int max);
/* The id of an anonymous semaphore created after `before` was taken
 * (before: n ids from hx_anon_ids), into id.  0, or -1 if none or several. */
int hx_new_anon_id(char (*before)[32], int n, char *id, size_t len);

/* esemctl show NAME --json, parsed.  Returns 0, or -1 if not found. */
int hx_show(const char *name, struct hx_show *out);
/* Opens held by pid (0 if none) / 1 if pid has a queued waiter. */
unsigned hx_holder_opens(const struct hx_show *s, pid_t pid);
int hx_is_waiter(const struct hx_show *s, pid_t pid);
/* Poll show (bounded) until pid's presence among the holders / waiters is
 * `present`.  Returns 1 when it is, 0 at the bound. */
int hx_wait_holder(const char *name, pid_t pid, int present, int timeout_ms);
int hx_wait_waiter(const char *name, pid_t pid, int present, int timeout_ms);
/* Poll until `name` has exactly n queued waiters (any pid). */
int hx_wait_nwaiters(const char *name, unsigned n, int timeout_ms);

/* ---- processes ---- */

/* fork(); the child arms alarm(60), runs fn(arg) and _exits with its result. */
pid_t hx_fork(int (*fn)(void *), void *arg);
/* Wait for pid (bounded; SIGKILL at the bound).  Returns the wait status, or
 * -1 if it had to be killed. */
int hx_reap(pid_t pid, int timeout_ms);
/* Human-readable wait status, for messages. */
const char *hx_status_str(int status);
/* cmocka: the child exits with status 0 within timeout_ms. */
#define hx_assert_child_ok(pid, timeout_ms)                                             \
    do {                                                                               \
        int st_ = hx_reap((pid), (timeout_ms));                                        \
        if (st_ == -1 || !WIFEXITED(st_) || WEXITSTATUS(st_) != 0)                     \
            fail_msg("child %d: %s", (int)(pid), hx_status_str(st_));                  \
    } while (0)

/* Child-side check: print and _exit(1). */
#define HX_CHECK(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            int e_ = errno;                                                            \
            fprintf(stderr, "%s:%d: [child %d] check failed: %s (errno %d: %s)\n",      \
                    __FILE__, __LINE__, (int)getpid(), #cond, e_, strerror(e_));       \
            _exit(1);                                                                  \
        }                                                                              \
    } while (0)

/* A one-way, one-shot-or-more signal between processes: a pipe. */
struct hx_gate {
    int fd[2];
};
void hx_gate_init(struct hx_gate *g);
void hx_gate_close(struct hx_gate *g);
/* Post one token.  Returns 0 or -1. */
int hx_gate_post(struct hx_gate *g);
/* Take one token, waiting at most timeout_ms.  Returns 0 or -1. */
int hx_gate_wait(struct hx_gate *g, int timeout_ms);

/* MAP_SHARED anonymous memory, zeroed, shared with children forked later. */
void *hx_shared(size_t size);
void hx_shared_free(void *p, size_t size);

/* Drop to uid/gid (no supplementary groups).  0 or -1. */
int hx_become(uid_t uid, gid_t gid);

/* ---- time ---- */

/* Absolute time on clk, ms from now. */
struct timespec hx_deadline(clockid_t clk, long ms);
/* a >= b */
int hx_ts_ge(const struct timespec *a, const struct timespec *b);
void hx_sleep_ms(long ms);

/* ---- names ---- */

/* "/itest-<tag>-<pid>" into buf. */
const char *hx_name(char *buf, size_t len, const char *tag);

/* ---- helper processes: this test program run again ---- */

/* A helper is this very program started with posix_spawn (which runs no
 * fork handlers) as "PROGRAM --hx-helper STEP...": a fresh process image,
 * so esemd sees an unrelated process — no fork child that inherits a
 * session, acts as its parent, or shares its key.  Steps, run in order,
 * each optionally suffixed "=ERRNO" (an errno name, or 0: the default)
 * for the result it must have:
 *   uid:N             drop to uid N, gid N (no other groups)
 *   setkey:PATH       esem_set_key with the key in PATH (read first)
 *   open:NAME         esem_open(NAME, 0); the handle becomes current
 *   create:NAME       esem_open(NAME, O_CREAT, 0666, 0)
 *   screate:NAME      esem_open(NAME, O_CREAT|O_EXCL|ESEM_O_STRICT, 0666, 0)
 *   anon              esem_create(0)
 *   post wait trywait close getvalue:N
 *   timedwait         esem_timedwait, 100 ms from now
 *   unlink:NAME
 *   grant:KIND/ID/RIGHTS, revoke:...   KIND uid|gid|pid|key (ID hex for
 *                     key), RIGHTS open,wait,post,unlink or all
 *   forkpost          fork(); the child posts the current handle and exits
 *                     (the fork child's session inherits this one's)
 *   sync              tell the test it got here (hx_helper_ready) and wait
 *                     for hx_helper_go
 *   sleep:MS
 * It exits 0 if every step had its expected result, else 1 (message on
 * stderr). */
struct hx_proc {
    pid_t pid;
    int ready_fd, go_fd;
};
/* env: NULL-terminated "NAME=VALUE" entries put over this environment (or
 * NULL); steps: NULL-terminated.  0, or -1. */
int hx_helper_start(struct hx_proc *p, const char *const *env, const char *const *steps);
int hx_helper_ready(struct hx_proc *p, int timeout_ms);
int hx_helper_go(struct hx_proc *p);
/* Reap it (bounded): its wait status, -1 if it had to be killed. */
int hx_helper_end(struct hx_proc *p, int timeout_ms);
/* start and end: the wait status (-1: could not start or killed). */
int hx_helper_run(const char *const *env, const char *const *steps);
/* start and end, with its standard output and error (malloc'd, caller
 * frees; either pointer may be NULL): the wait status.  A step "exec"
 * followed by PATH ARG... makes the helper exec that program (after the
 * steps before it, e.g. uid:N). */
int hx_helper_capture(const char *const *env, const char *const *steps, char **out, char **err);
/* Every program that uses helpers calls this first in main(). */
void hx_helper_dispatch(int argc, char **argv);
/* cmocka: a helper's wait status is exit 0. */
#define hx_assert_ok_status(st, what)                                                   \
    do {                                                                               \
        int st2_ = (st);                                                               \
        if (st2_ == -1 || !WIFEXITED(st2_) || WEXITSTATUS(st2_) != 0)                  \
            fail_msg("%s: %s", (what), hx_status_str(st2_));                           \
    } while (0)
/* Skip the calling test (with a message) unless running as root. */
#define HX_NEED_ROOT()                                                                  \
    do {                                                                               \
        if (geteuid() != 0) {                                                          \
            print_message("[ SKIPPED  ] %s: needs root (other uids)\n", __func__);     \
            skip();                                                                    \
        }                                                                              \
    } while (0)
/* Write a 256-bit key file (64 hex digits) from 32 bytes; mode 0600. */
int hx_write_key(const char *path, const unsigned char key[32]);
/* Read one (first word, 64 hex digits).  0 or -1. */
int hx_read_key(const char *path, unsigned char key[32]);

#endif
