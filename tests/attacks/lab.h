/*
 * esem-attacklab — attacks run against glibc's semaphores and against esem.
 *
 * One program plays every part.  The orchestrator (the process started by
 * the user or by meson) starts a private esemd, then for each attack starts
 * the victims and the attackers as separate processes: it forks, drops to
 * the attacker's or victim's uid, and re-executes itself with
 * "--role NAME ARGS..." (so an attacker shares no memory, descriptor or
 * library state with its victim), optionally with the preload shim in
 * LD_PRELOAD.  Roles talk to the orchestrator in lines on stdin/stdout.
 *
 * Identities (TM-host: the kernel is trusted, the attacker is another local
 * process without privileges):
 *   WHO_LAB    the victims, esemd and the "same uid" attackers.  When the
 *              lab runs as root this is an unprivileged uid (ESEM_LAB_UID,
 *              default 64000): a root attacker holds CAP_SYS_PTRACE and is
 *              outside the threat model.  Otherwise it is the caller's uid.
 *   WHO_OTHER  the "another uid" attacker: 65534 (nobody).  Needs root to
 *              set up; without root those steps are skipped.
 */
#ifndef ESEM_ATTACKLAB_H
#define ESEM_ATTACKLAB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LAB_OTHER_UID 65534u
#define LAB_MAXSTEPS 192
#define LAB_LINE 1024

/* WHO_ROOT: the lab's own uid, no drop (as root: a root attacker, which the
 * strict policy and the simulated TM-SGX attacker need; never a TM-host
 * attacker). */
enum who { WHO_LAB = 1, WHO_OTHER = 2, WHO_ROOT = 3 };

/* ---- results ---- */

/* One side (glibc or esem) of one attack.  Every check must hold for the
 * side to pass: on the glibc side a check is "the weakness showed" (or, for
 * a row that is not a glibc weakness, "glibc behaves the same"); on the esem
 * side a check is "the attack failed". */
struct side {
    const char *backend; /* "glibc" / "esem" */
    int is_esem;
    int nchecks, nfailed, nerrors, nskipped;
    char summary[1536];               /* the table cell */
    char *steps[LAB_MAXSTEPS];        /* details, "ok: ...", "FAIL: ...", "note: ..." */
    int nsteps;
};

void s_check(struct side *s, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void s_note(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_error(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_skip(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_summary(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the lab's environment ---- */

struct daemon {
    pid_t pid;
    int exited, status;
    char dir[256];
    char sock[320];
    char log[320];
};

struct lab {
    int root;              /* the orchestrator runs as root */
    uid_t lab_uid;
    gid_t lab_gid;
    char self[4096];       /* this program, for re-execution */
    char preload[4096];    /* LD_PRELOAD value for shim runs */
    const char *esemd;     /* $ESEMD */
    /* The lab's esemd.  As root it runs as root, a daemon shared by every
     * uid (the other-uid attacks need one); daemon-memory starts a second,
     * per-user one as WHO_LAB.  Otherwise it runs as the caller. */
    struct daemon d;
    const char *sock;      /* d.sock */
    const char *log;       /* d.log */
    int verbose;
    unsigned long tag;     /* unique per run: names of semaphores and files */
};
extern struct lab lab;

/* Is the other-uid attacker available (we are root)? */
int lab_can_other_uid(void);

/* Semaphore and file names unique to this run: "/esemlab-<tag>-<what>". */
const char *lab_name(char *buf, size_t len, const char *what);

/* ---- processes ---- */

struct proc {
    pid_t pid;
    int to;   /* its stdin */
    int from; /* its stdout */
    char buf[8192];
    size_t blen;
    int status, reaped;
};

/* Start "self --role ROLE ARGS..." as `who`, with the shim preloaded if
 * `shim`.  The argument list ends with NULL.  0 or -1. */
int proc_start(struct proc *p, enum who who, int shim, const char *role, ...);
int proc_startv(struct proc *p, enum who who, int shim, const char *role, char *const *args);
/* Start with a given pid (see pid.c); 0 or -1; *method says how. */
int proc_start_at_pid(struct proc *p, pid_t want, enum who who, const char *role,
                      char *const *args, char *method, size_t mlen);
/* Send one line (a newline is added). */
int proc_cmd(struct proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read one line (without newline) within timeout_ms: 0, or -1 on timeout/EOF. */
int proc_line(struct proc *p, char *line, size_t len, int timeout_ms);
/* Read lines until one starts with `prefix`; 0 (line in `line`) or -1. */
int proc_expect(struct proc *p, const char *prefix, char *line, size_t len, int timeout_ms);
/* Wait for exit (bounded; SIGKILL at the bound).  Returns the wait status or -1. */
int proc_reap(struct proc *p, int timeout_ms);
void proc_kill(struct proc *p);
/* Close pipes and make sure it is gone. */
void proc_end(struct proc *p);

/* Relay an attacker's report lines into side s until "DONE" (bounded):
 *   OK text / FAIL text / NOTE text / ERR text / SKIP text
 *   AUDIT what      esemd must log "audit: refused <what> pid=<its pid> "
 * Returns 0 if DONE was seen.  The audit expectations are checked against
 * the daemon log after `mark`. */
int relay(struct proc *p, struct side *s, size_t mark, int timeout_ms);
/* Start ROLE with ARGS as `who` (under the shim if `shim`) and relay it. */
void lab_relay_role(struct side *s, enum who who, int shim, const char *role, char *const *args,
                    int timeout_ms);

/* ---- esemd ---- */

/* Start "$ESEMD -f -s DIR/esemd.sock --log DIR/esemd.log" on a fresh
 * directory, as WHO_LAB if as_lab (when root), else as the caller; wait
 * (bounded) until it answers.  0 or -1. */
int daemon_start(struct daemon *d, int as_lab);
/* The same with more esemd options (NULL-terminated list, or NULL). */
int daemon_start_args(struct daemon *d, int as_lab, const char *const *extra);
/* SIGTERM; 0 if it exited 0 and logged no internal error and nothing on stderr. */
int daemon_stop(struct daemon *d);
int daemon_alive(struct daemon *d);
void daemon_remove_files(const struct daemon *d);
size_t log_mark(void);
/* 1 if a line after mark contains needle (polls up to timeout_ms). */
int log_wait(size_t mark, const char *needle, int timeout_ms);
int log_count(size_t mark, const char *needle);
/* Run fn(s, arg) against a second esemd started with the extra options
 * (lab.sock and lab.log point at it meanwhile), then stop it. */
void lab_with_daemon(struct side *s, const char *const *extra,
                     void (*fn)(struct side *s, void *arg), void *arg);
/* Sleep into a fresh one-second window of esemd's audit rate limit. */
void audit_window(void);

/* ---- wire.c: talking to esemd below libesem ---- */

struct esem_chan;
struct rawc {
    int sock, efd;
    int life_fd; /* the daemon's life page (read-only for clients) */
    struct esem_chan *chan;
    size_t chan_size;
    uint64_t session;
    uint32_t seq;
};
/* Connect and say hello as a client; inherit = a session to claim (0: none).
 * Returns 0, or the positive errno esemd answered (or -errno locally). */
int rawc_connect(struct rawc *c, const char *sock, uint64_t inherit);
void rawc_close(struct rawc *c);
/* One request through slot 0.  Returns the reply status (0 or a positive
 * errno), -ETIMEDOUT if no reply came within timeout_ms (a queued wait; it
 * is then cancelled), or another -errno. */
int rawc_op(struct rawc *c, uint32_t op, uint64_t handle, const char *name, uint32_t oflag,
            uint32_t mode, uint32_t value, uint64_t *rhandle, uint32_t *rvalue, int timeout_ms);

struct sem_info_lite {
    uint64_t handle;
    uint32_t value, nwaiters, opens, uid, mode, flags;
    uint64_t posts, waits;
    char name[256];
};
/* Admin queries (esemctl's protocol).  0 or -1. */
int admin_find_name(const char *sock, const char *name, struct sem_info_lite *out);
int admin_find_handle(const char *sock, uint64_t handle, struct sem_info_lite *out);
int admin_ping(const char *sock);
/* Poll until the named (or, name NULL, handle) semaphore has n waiters. */
int admin_wait_waiters(const char *sock, const char *name, uint64_t handle, uint32_t n,
                       int timeout_ms);

/* The glibc sem_t as glibc 2.34+ lays it out on 64-bit Linux: a 64-bit word
 * (value in the low half, waiter count in the high half), then `private`. */
uint32_t glibc_sem_value(const void *sem);
uint32_t glibc_sem_nwaiters(const void *sem);
/* What a writer of the memory does: add n permits, wake the waiters. */
void glibc_sem_forge_post(void *sem, uint32_t n);
/* Read the glibc sem_t of a file (/dev/shm/sem.NAME or a segment) at off. */
int glibc_file_sem(const char *path, off_t off, uint32_t *value, uint32_t *nwaiters);

/* ---- small helpers ---- */

void sleep_ms(long ms);
long now_ms(void);
struct timespec deadline_in(long ms);
const char *errname(int e);
/* Drop to who (only from root; no-op for WHO_LAB when not root).  0 or -1. */
int become(enum who who);

/* Roles write their report lines with these (flushing stdout). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Read one command line from stdin (bounded).  0 or -1. */
int hear(char *line, size_t len, int timeout_ms);

/* ---- the attacks ---- */

struct attack {
    const char *name;
    const char *tm;
    const char *title;
    int glibc_weak;    /* 1: glibc must show the weakness; 0: "same" row */
    int needs_root;    /* the esem side needs the other uid (root) */
    void (*run_glibc)(struct side *s);
    void (*run_esem)(struct side *s);
};

/* Each row file (row_NAME.c, named after its row) defines its runs and its
 * roles. */
void life_glibc(struct side *s);
void life_esem(struct side *s);
void view_glibc(struct side *s);
void view_esem(struct side *s);
void uid_glibc(struct side *s);
void uid_esem(struct side *s);
void pid_glibc(struct side *s);
void pid_esem(struct side *s);
void mem_glibc(struct side *s);
void mem_esem(struct side *s);
void swap_glibc(struct side *s);
void swap_esem(struct side *s);
void forge_glibc(struct side *s);
void forge_esem(struct side *s);
void kill_glibc(struct side *s);
void kill_esem(struct side *s);
void strict_glibc(struct side *s);
void strict_esem(struct side *s);
void sgx_glibc(struct side *s);
void sgx_esem(struct side *s);
/* the security review's findings: row_borrowed_credentials.c, row_late_hello.c,
 * row_boundary_double_fetch.c, row_sequence_wrap.c, row_revoke_queued.c,
 * row_exec_reclaim.c, row_shim_private_fallback.c */
void creds_glibc(struct side *s);
void creds_esem(struct side *s);
void late_glibc(struct side *s);
void late_esem(struct side *s);
void race_glibc(struct side *s);
void race_esem(struct side *s);
void seqwrap_glibc(struct side *s);
void seqwrap_esem(struct side *s);
void revoke_glibc(struct side *s);
void revoke_esem(struct side *s);
void reclaim_glibc(struct side *s);
void reclaim_esem(struct side *s);
void privfb_glibc(struct side *s);
void privfb_esem(struct side *s);
/* row_state_takeover.c: the state a restart without loss hands over */
void takeover_glibc(struct side *s);
void takeover_esem(struct side *s);
/* row_sysv_accept_mutex.c: System V sets */
void sysv_glibc(struct side *s);
void sysv_esem(struct side *s);
/* row_vault_tree_race_service_blocking.c: the File Vault's two attacks */
void vault_race_glibc(struct side *s);
void vault_race_esem(struct side *s);
void vault_block_glibc(struct side *s);
void vault_block_esem(struct side *s);

struct role {
    const char *name;
    int (*fn)(int argc, char **argv);
};
int role_view_victim(int argc, char **argv);
int role_view_attacker(int argc, char **argv);
int role_uid_victim(int argc, char **argv);
int role_uid_attacker(int argc, char **argv);
int role_pid_victim(int argc, char **argv);
int role_pid_attacker(int argc, char **argv);
int role_takeover_thief(int argc, char **argv);
int role_mem_victim(int argc, char **argv);
int role_mem_attacker(int argc, char **argv);
int role_seg_victim(int argc, char **argv);
int role_seg_attacker(int argc, char **argv);
int role_kill_part(int argc, char **argv);
/* (row_kill_games.c) One kill-part command on backend ("glibc"/"esem") as the
 * lab user: 0 if its answer starts with expect (copied to out if given). */
int kill_part(const char *backend, const char *cmd, const char *name, const char *arg,
              const char *expect, char *out, size_t outlen);
/* A fresh semaphore name on backend (value 0) and a kill-part waiter
 * blocked on it, in *w: 0, or -1 with the error said on s (nothing left). */
int kill_part_waiter(struct side *s, const char *backend, const char *name, struct proc *w);
int role_strict_victim(int argc, char **argv);
int role_strict_attacker(int argc, char **argv);
int role_sgx_victim(int argc, char **argv);
int role_sgx_attacker(int argc, char **argv);
int role_sgx_sim(int argc, char **argv);
int role_creds(int argc, char **argv);
int role_late_hello(int argc, char **argv);
int role_sleeper(int argc, char **argv);
int role_race(int argc, char **argv);
int role_seqwrap(int argc, char **argv);
int role_revoke_owner(int argc, char **argv);
int role_revoke_waiter(int argc, char **argv);
int role_reclaim(int argc, char **argv);
int role_reclaim_child(int argc, char **argv);
int role_privfb_victim(int argc, char **argv);
int role_sysv_victim(int argc, char **argv);
int role_sysv_attacker(int argc, char **argv);
int role_vault_exec(int argc, char **argv);
int role_vault_attacker(int argc, char **argv);

/* A backend for named semaphores: glibc's sem_* or libesem's esem_*. */
struct nsem_ops {
    const char *name;
    void *(*open)(const char *name, int oflag, unsigned mode, unsigned value);
    int (*close)(void *s);
    int (*unlink)(const char *name);
    int (*post)(void *s);
    int (*wait)(void *s);
    int (*timedwait)(void *s, const struct timespec *abs);
    int (*trywait)(void *s);
    int (*getvalue)(void *s, int *v);
};
const struct nsem_ops *nsem_backend(const char *name); /* "glibc" / "esem" */

/* The shim's sem_t overlay and libesem's esem_t start with these fields
 * (lib/client.h, preload/shim.c): what an attacker who reads the memory
 * finds there. */
struct handle_bytes {
    uint32_t magic;
    uint32_t tag;
    uint64_t handle;
};
#define LAB_SHIM_MAGIC 0x53454d31u /* preload/shim.c SHIM_MAGIC */

#endif
