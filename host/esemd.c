/*
 * esemd — the host daemon (untrusted runtime) around the trusted core.
 *
 * This file is main only, a list of named steps, each a function below:
 * parse_options, size_core, choose_socket, detach, open_log, start_core
 * (hardened arena, keys), listen_and_drop (--system), start_serving (the
 * workers, ready, the seccomp filter), serve until a signal, shut_down.
 * What each step uses lives in its own module (docs/DESIGN.md, "Where
 * things live"):
 *   log.c      log lines and the audit ring      proc.c     /proc credentials
 *   listen.c   runtime directory and socket      keyring.c  --keyring
 *   clients.c  accept, hello, session end        admin.c    esemctl's protocol
 *   dataplane.c the workers                      serve.c    one request
 *   life.c     the life page and wake words      notify.c   systemd
 *   harden.c   process hardening, seccomp        system.c   --system
 *   handover.c restart without loss (--takeover)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "daemon.h"
#include "dataplane.h"
#include "notify.h"
#include "handover.h"
#include "harden.h"
#include "keyring.h"
#include "life.h"
#include "listen.h"
#include "log.h"
#include "system.h"
#include "util.h"

struct daemon_state esemd;

/* What the command line asked for. */
struct options {
    const char *path, *logpath, *keyring, *run_user, *run_group;
    int foreground, nworkers, use_seccomp;
    int takeover; /* --takeover: the running daemon's state, not a new core */
    uint64_t spin_us;
    struct core_config cfg; /* max_sems, max_sessions, flags; the rest is sized */
    long user_lim[4];       /* --user-sems/-waits/-clients/-pending; -1: default */
};

/* What the start-up steps hand on to each other. */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int listen_fd = -1, sig_fd = -1, ep_fd = -1;
static int activated = -1;  /* the socket systemd passed, or -1 */
static int ready_fd = -1;   /* detached: tells the starter we serve */
static struct sys_conf sysc; /* --system: its user, group and socket group */
static uint64_t arena_size;
static int arena_fd = -1;
static void *arena_base;
static struct handover_in ho; /* --takeover: what the running daemon gave */
static const char *arena_kind = "none";
static int shutting_down;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: esemd [options]\n"
            "  -s, --socket PATH    control socket (default: $XDG_RUNTIME_DIR/esem/esemd.sock,\n"
            "                       else /tmp/esem-$UID/esemd.sock)\n"
            "  -f, --foreground     stay in the foreground, log to stderr\n"
            "  -l, --log FILE       log file (default when detached: next to the socket)\n"
            "  -w, --workers N      worker threads (default: max(1, cores/2))\n"
            "      --max-sems N     semaphore table size (default 131072)\n"
            "      --max-clients N  client process table size (default 4096)\n"
            "      --spin-us N      how long an idle worker spins before sleeping (default 50)\n"
            "      --user-sems N    semaphores and System V sets one uid may hold\n"
            "      --user-waits N   waits one uid's processes may have queued\n"
            "      --user-clients N connections (client processes) one uid may have\n"
            "      --user-pending N connections without a hello one uid may have\n"
            "                       (per-user limits; root and the daemon's user have none;\n"
            "                       with --system the defaults are max-sems/16,\n"
            "                       max-sems/32, max-clients/8 and 16; else none, 0 = none)\n"
            "      --keyring FILE   provision the keys in FILE (64 hex digits a line, mode 0600)\n"
            "                       to the core, for key sessions (ESEM_KEY_FILE, esem_set_key)\n"
            "      --policy P       posix (default) or strict: the policy of new semaphores\n"
            "      --order O        adaptive (default: a post hands its permit to a sleeping\n"
            "                       waiter, but the semaphore barges for 100 ms once a\n"
            "                       poster loops straight back to wait), barging (a post\n"
            "                       wakes a waiter, the first to ask takes the permit) or\n"
            "                       fifo (a post hands it to the first waiter, always):\n"
            "                       the order of new semaphores\n"
            "      --handoff-us N   barging and adaptive order: a waiter queued N us or more\n"
            "                       is granted the next post outright (default 0: never)\n"
            "      --binding process|semaphore\n"
            "                       a worker per client process (default) or per semaphore\n"
            "      --no-seccomp     do not install the system-call allow-list\n"
            "      --takeover       take over the state of the esemd running at the socket\n"
            "                       (restart without loss: semaphores, sets, waiters, sessions\n"
            "                       and connections kept; esemctl restart starts this)\n"
            "      --allow-takeover let this user's --takeover have our state (per-user\n"
            "                       daemon; the system daemon hands it to root only)\n"
            "      --system         system-wide daemon (as root; drops to --user):\n"
            "                       socket " ESEM_SYSTEM_SOCKET " for all local users\n"
            "      --user NAME      the system daemon's user (default " ESEM_SYSTEM_USER ")\n"
            "      --group GROUP    only members of GROUP may connect (socket 0660)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n");
}

static uint32_t parse_u32(const char *s, const char *opt)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == 0 || *end || v == 0 || v > (1ul << 24)) {
        fprintf(stderr, "esemd: bad value for %s: %s\n", opt, s);
        exit(2);
    }
    return (uint32_t)v;
}

/* systemd's STATUS= line: the live counts, when they changed */
static void status_tick(void)
{
    static uint32_t last_clients = ~0u, last_sems = ~0u;
    struct core_stats_args sa;
    pthread_mutex_lock(&esemd.core_mu);
    core_ecall(esemd.core, CORE_ECALL_STATS, &sa, sizeof sa);
    pthread_mutex_unlock(&esemd.core_mu);
    uint32_t nc = atomic_load(&esemd.nclients);
    if (nc == last_clients && sa.stats.sems_in_use == last_sems)
        return;
    last_clients = nc;
    last_sems = sa.stats.sems_in_use;
    char st[160];
    snprintf(st, sizeof st, "%u clients, %u semaphores and sets, %u waiters queued", nc,
             sa.stats.sems_in_use, sa.stats.waiters_in_use);
    notify_status(st);
}

/* Step 1.  Returns 0, or the exit status (--help and --version exit). */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"socket", required_argument, 0, 's'}, {"foreground", no_argument, 0, 'f'},
        {"log", required_argument, 0, 'l'},    {"workers", required_argument, 0, 'w'},
        {"max-sems", required_argument, 0, 'S'}, {"max-clients", required_argument, 0, 'C'},
        {"spin-us", required_argument, 0, 'P'}, {"no-seccomp", no_argument, 0, 'N'},
        {"binding", required_argument, 0, 'B'}, {"system", no_argument, 0, 'Y'},
        {"user", required_argument, 0, 'U'},  {"group", required_argument, 0, 'G'},
        {"keyring", required_argument, 0, 'K'}, {"policy", required_argument, 0, 'O'},
        {"order", required_argument, 0, 'R'}, {"handoff-us", required_argument, 0, 1007},
        {"takeover", no_argument, 0, 1005}, {"allow-takeover", no_argument, 0, 1006},
        {"user-sems", required_argument, 0, 1001}, {"user-waits", required_argument, 0, 1002},
        {"user-clients", required_argument, 0, 1003},
        {"user-pending", required_argument, 0, 1004},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct options){.nworkers = ncpu >= 4 ? (int)(ncpu / 2) : 1,
                          .use_seccomp = 1,
                          .spin_us = 50,
                          .cfg = {.max_sems = 131072, .max_sessions = 4096,
                                  .flags = CORE_CFG_ADAPTIVE},
                          .user_lim = {-1, -1, -1, -1}};
    int c;
    while ((c = getopt_long(argc, argv, "s:fl:w:hV", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->path = optarg; break;
        case 'f': o->foreground = 1; break;
        case 'l': o->logpath = optarg; break;
        case 'w': o->nworkers = (int)parse_u32(optarg, "--workers"); break;
        case 'S': o->cfg.max_sems = parse_u32(optarg, "--max-sems"); break;
        case 'C': o->cfg.max_sessions = parse_u32(optarg, "--max-clients"); break;
        case 'P': o->spin_us = strtoull(optarg, NULL, 10); break;
        case 1007: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg == 0 || *end || v > 60000000ull) {
                fprintf(stderr, "esemd: bad value for --handoff-us: %s (0 to 60000000)\n", optarg);
                return 2;
            }
            o->cfg.handoff_ns = v * 1000ull;
            break;
        }
        case 'N': o->use_seccomp = 0; break;
        case 'B':
            if (strcmp(optarg, "process") == 0)
                esemd.binding = ESEM_BIND_PROCESS;
            else if (strcmp(optarg, "semaphore") == 0)
                esemd.binding = ESEM_BIND_SEMAPHORE;
            else {
                fprintf(stderr, "esemd: --binding is process or semaphore, not %s\n", optarg);
                return 2;
            }
            break;
        case 'Y': esemd.system_mode = 1; break;
        case 'K': o->keyring = optarg; break;
        case 'O':
            if (strcmp(optarg, "strict") == 0)
                o->cfg.flags |= CORE_CFG_STRICT;
            else if (strcmp(optarg, "posix") != 0) {
                fprintf(stderr, "esemd: --policy is posix or strict, not %s\n", optarg);
                return 2;
            }
            break;
        case 'R':
            o->cfg.flags &= ~(CORE_CFG_FIFO | CORE_CFG_ADAPTIVE);
            if (strcmp(optarg, "fifo") == 0)
                o->cfg.flags |= CORE_CFG_FIFO;
            else if (strcmp(optarg, "adaptive") == 0)
                o->cfg.flags |= CORE_CFG_ADAPTIVE;
            else if (strcmp(optarg, "barging") != 0) {
                fprintf(stderr, "esemd: --order is barging, adaptive or fifo, not %s\n", optarg);
                return 2;
            }
            break;
        case 1001:
        case 1002:
        case 1003:
        case 1004: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v > (1ul << 24)) {
                fprintf(stderr, "esemd: bad value for a per-user limit: %s\n", optarg);
                return 2;
            }
            o->user_lim[c - 1001] = (long)v;
            break;
        }
        case 1005: o->takeover = 1; break;
        case 1006: esemd.allow_takeover = 1; break;
        case 'U': o->run_user = optarg; break;
        case 'G': o->run_group = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': puts("esemd " ESEM_VERSION); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if ((o->run_user || o->run_group) && !esemd.system_mode) {
        fprintf(stderr, "esemd: --user and --group need --system\n");
        return 2;
    }
    if (esemd.system_mode) {
        int rc = sys_resolve(o->run_user, o->run_group, &sysc);
        if (rc)
            return rc;
        /* The log and lock file are the daemon's alone; the socket sets its
         * own mode. */
        umask(0077);
    }
    if (o->nworkers > 64)
        o->nworkers = 64;
    return 0;
}

/* Step 2: every table of the core from --max-sems and --max-clients, the
 * per-user limits, and the descriptors that many clients need. */
static void size_core(struct options *o)
{
    struct core_config *cfg = &o->cfg;
    int sys_on = esemd.system_mode;
    cfg->max_opens = cfg->max_sems <= (1u << 23) ? cfg->max_sems * 2 : 1u << 24;
    cfg->max_waiters = cfg->max_sems / 2 > 1024 ? cfg->max_sems / 2 : 1024;
    cfg->max_long_names = cfg->max_sems / 16 > 64 ? cfg->max_sems / 16 : 64;
    cfg->max_acls = cfg->max_sems;
    cfg->max_keys = 256;
    cfg->max_keyed = cfg->max_sessions < 1024 ? cfg->max_sessions : 1024;
    /* System V: a quarter of the objects may be sets (the kernel's SEMMNI
     * is 32000), eight semaphores each on average, two undo records each */
    cfg->max_sets = cfg->max_sems / 4 < CORE_SEMMNI ? cfg->max_sems / 4 : CORE_SEMMNI;
    if (!cfg->max_sets)
        cfg->max_sets = 1;
    cfg->max_set_sems = cfg->max_sets * 8;
    cfg->max_undos = cfg->max_sets * 2;
    cfg->max_sysv_ops = cfg->max_waiters / 4 > 256 ? cfg->max_waiters / 4 : 256;
    /* Per-user limits: one user of the system daemon must not take what
     * every other user needs (issue #11); a per-user daemon serves one. */
    const long *lim = o->user_lim;
    cfg->uid_objects = (uint32_t)(lim[0] >= 0 ? lim[0] : sys_on ? cfg->max_sems / 16 : 0);
    cfg->uid_waiters = (uint32_t)(lim[1] >= 0 ? lim[1] : sys_on ? cfg->max_waiters / 16 : 0);
    cfg->exempt_uid = sys_on ? (uint32_t)sysc.uid : (uint32_t)geteuid();
    esemd.user_clients = (uint32_t)(lim[2] >= 0 ? lim[2] : sys_on ? cfg->max_sessions / 8 : 0);
    esemd.user_pending = (uint32_t)(lim[3] >= 0 ? lim[3] : sys_on ? 16 : 0);
    esemd.exempt_uid = cfg->exempt_uid;
    /* Descriptors: a client costs its socket, pidfd, doorbell and /proc
     * status descriptor; raise the soft limit to what --max-clients needs
     * (up to the hard limit), so the table, not EMFILE, is the bound. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        rlim_t want = (rlim_t)cfg->max_sessions * 4 + 64;
        if (want > nofile.rlim_max)
            want = nofile.rlim_max;
        if (want > nofile.rlim_cur) {
            nofile.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &nofile);
        }
    }
}

/* Step 3: the socket's path (or systemd's socket) and its directory. */
static int choose_socket(struct options *o)
{
    int sys_on = esemd.system_mode;
    char defpath[sizeof sock_path];
    const char *path = o->path;
    if (!path && sys_on) {
        path = ESEM_SYSTEM_SOCKET;
    } else if (!path) {
        if (esem_util_default_socket(defpath, sizeof defpath) < 0) {
            fprintf(stderr, "esemd: default socket path too long\n");
            return 1;
        }
        path = defpath;
    }
    if (strlen(path) >= sizeof sock_path) {
        fprintf(stderr, "esemd: socket path too long (%zu bytes, at most %zu): %s\n", strlen(path),
                sizeof sock_path - 1, path);
        return 2;
    }
    snprintf(sock_path, sizeof sock_path, "%s", path);
    /* Socket-activated (systemd's esemd.socket, systemd-socket-activate):
     * the socket is systemd's, and the daemon stays in the foreground, the
     * process systemd started (Type=notify). */
    activated = notify_listen_fd();
    if (activated == -2)
        return 1;
    if (activated >= 0)
        o->foreground = 1;
    /* The default directory must exist before the log beside the socket.
     * System-wide, the socket's directory is always the runtime directory:
     * created by root, handed to the daemon user, vetted. */
    char defdir[sizeof sock_path];
    if (sys_on) {
        snprintf(defdir, sizeof defdir, "%s", sock_path);
        char *sl = strrchr(defdir, '/');
        if (defdir[0] != '/' || sl == defdir) {
            fprintf(stderr, "esemd: --system needs an absolute socket path below a directory: %s\n",
                    sock_path);
            return 2;
        }
        *sl = 0;
        /* socket-activated, the directory and the socket are systemd's
         * (esemd.socket); the log goes to the journal */
        if (activated < 0 && sys_runtime_dir(defdir, &sysc) < 0)
            return 1;
    } else if (esem_util_default_socket(defdir, sizeof defdir) == 0 &&
               strcmp(defdir, sock_path) == 0) {
        *strrchr(defdir, '/') = 0;
        if (listen_private_dir(defdir) < 0)
            return 1;
    }
    return 0;
}

/* Step 4: detach (unless --foreground) before creating threads.  The
 * starter waits until we listen, so that "esemd && client" works, and
 * exits here. */
static int detach(struct options *o)
{
    if (o->foreground)
        return 0;
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return 1;
    pid_t p = fork();
    if (p < 0)
        return 1;
    if (p > 0) {
        char ok = 0;
        close(ready[1]);
        if (read(ready[0], &ok, 1) != 1 || ok != 1) {
            fprintf(stderr, "esemd: failed to start (see the log)\n");
            exit(1);
        }
        exit(0);
    }
    close(ready[0]);
    setsid();
    /* A daemon keeps none of its starter's descriptors (a pipe held open
     * here would keep "esemd | tail" or a CI job waiting forever). */
    if (ready[1] != 3) {
        dup2(ready[1], 3);
        close(ready[1]);
        ready[1] = 3;
    }
    close_range(4, ~0u, 0);
    ready_fd = ready[1];
    if (!o->logpath) {
        /* esemd.sock -> esemd.log, beside the socket */
        static char lp[PATH_MAX];
        snprintf(lp, sizeof lp, "%s", sock_path);
        char *dot = strrchr(lp, '.');
        if (dot && strcmp(dot, ".sock") == 0)
            *dot = 0;
        strncat(lp, ".log", sizeof lp - strlen(lp) - 1);
        o->logpath = lp;
    }
    return 0;
}

/* Step 5: the log file, if any (else stderr). */
static int open_log(const struct options *o)
{
    if (!o->logpath)
        return 0;
    int sys_on = esemd.system_mode;
    /* System-wide, root opens nothing for writing on the daemon's behalf:
     * the log is opened as the daemon user (a link planted in its
     * directory leads nowhere it could not write anyway). */
    if (sys_on && sys_become_user(&sysc, sysc.gid) < 0) {
        fprintf(stderr, "esemd: cannot switch to %s: %s\n", sysc.user, strerror(errno));
        return 1;
    }
    FILE *logf = fopen(o->logpath, "ae");
    int err = errno;
    if (sys_on && sys_become_root() < 0)
        return 1;
    if (!logf) {
        fprintf(stderr, "esemd: cannot open log %s: %s%s\n", o->logpath, strerror(err),
                sys_on ? " (opened as the daemon user)" : "");
        return 1;
    }
    log_to(logf);
    return 0;
}

/* Step 6: harden the process, then the core in its hardened arena, with
 * the keys of --keyring. */
static int start_core(struct options *o)
{
    harden_process();
    if (sodium_init() < 0) {
        esemd_log("libsodium failed to start");
        return 1;
    }
    randombytes_buf(&o->cfg.entropy, sizeof o->cfg.entropy);
    signal(SIGPIPE, SIG_IGN);
    if (o->takeover) {
        /* the running daemon's core, at our address; its configuration
         * (tables, policy, order, keys) is the core's, the rest ours */
        struct core_config cfg;
        if (handover_take(sock_path, &ho) < 0)
            return 1;
        if (!(esemd.core = core_resume(ho.arena, ho.arena_size, &cfg))) {
            esemd_log("takeover: the running daemon's core is not one this build can resume");
            return 1;
        }
        arena_fd = ho.arena_fd;
        arena_base = ho.arena;
        arena_size = ho.arena_size;
        arena_kind = ho.arena_secret ? "memfd_secret, handed over" : "memfd, handed over";
        o->cfg = cfg;
        size_core(o);
        if (o->keyring)
            esemd_log("takeover: --keyring ignored (the keys came with the core)");
    } else {
        arena_size = core_arena_size(&o->cfg);
        arena_base = arena_size ? harden_arena(arena_size, &arena_kind, &arena_fd) : NULL;
        if (!arena_base || !(esemd.core = core_init(arena_base, arena_size, &o->cfg))) {
            esemd_log("cannot set up the core (%llu bytes)", (unsigned long long)arena_size);
            return 1;
        }
    }
    pthread_mutex_init(&esemd.core_mu, NULL);
    if (o->keyring && !o->takeover && keyring_load(o->keyring) < 0)
        return 1;
    esemd.max_sessions = o->cfg.max_sessions;
    esemd.by_session = calloc(o->cfg.max_sessions, sizeof *esemd.by_session);
    esemd.spin_ns = o->spin_us * 1000ull;
    esemd.handoff = o->cfg.handoff_ns != 0 || (o->cfg.flags & CORE_CFG_ADAPTIVE);
    /* the CPUs we may run on: what the spin policy compares the runnable
     * count with (a cpuset or taskset may give us fewer) */
    cpu_set_t cs;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    esemd.ncpu = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : (int)ncpu;
    if (esemd.ncpu < 1)
        esemd.ncpu = 1;
    esemd.start_ns = esem_util_now_ns(CLOCK_MONOTONIC);
    return 0;
}

/* Step 7: listen (as the daemon user under --system), then, under
 * --system, drop root for good: workers and seccomp come after. */
static int listen_and_drop(const struct options *o)
{
    int sys_on = esemd.system_mode;
    if (sys_on) {
        sys_memlock(arena_size);
        /* Lock file and socket are made by the daemon user (the socket in
         * the --group if any), in its directory. */
        if (sys_become_user(&sysc, sysc.sock_gid) < 0) {
            esemd_log("cannot switch to %s: %s", sysc.user, strerror(errno));
            return 1;
        }
    }
    if (o->takeover) {
        listen_fd = ho.listen_fd; /* bound and listening: nobody was refused */
        if (ho.activated)
            activated = listen_fd; /* still systemd's: not ours to unlink */
    } else {
        listen_fd = activated >= 0 ? activated : listen_open(sock_path, sys_on, sysc.group_only);
    }
    if (sys_on && sys_become_root() < 0) {
        esemd_log("cannot switch back to root: %s", strerror(errno));
        return 1;
    }
    if (listen_fd < 0)
        return 1;
    if (!sys_on)
        return 0;
    if (sys_drop(&sysc) < 0 || sys_probe_peers() < 0)
        return 1;
    if (sysc.group_only)
        esemd_log("system-wide: socket mode 0660, group %s (gid %u): only its members "
                  "(and root) may connect",
                  sysc.group, (unsigned)sysc.sock_gid);
    else
        esemd_log("system-wide: socket mode 0666: every local user may connect; each "
                  "request is checked against its caller");
    return 0;
}

/* Step 8: signals, the event loop's epoll, the life page, the workers;
 * then ready (systemd, the starter) and the seccomp filter. */
static int start_serving(const struct options *o)
{
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ss, NULL); /* workers inherit the mask */
    sig_fd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!esemd.by_session || sig_fd < 0 || ep_fd < 0 || life_start(o->cfg.max_sems) < 0 ||
        dp_start(o->nworkers) < 0) {
        esemd_log("start-up failed: %s", strerror(errno));
        return 1;
    }
    esemd.wake = life_wake(&esemd.nwake);
    clients_init(ep_fd);
    /* --takeover: the old daemon exits, its connections join us */
    if (o->takeover && handover_finish(&ho) < 0)
        return 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_LISTEN, 0, 0)};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.u64 = EV(EV_SIGNAL, 0, 0);
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, sig_fd, &ev);

    struct core_stats_args sa;
    core_ecall(esemd.core, CORE_ECALL_STATS, &sa, sizeof sa);
    char order[80];
    const char *oname = (o->cfg.flags & CORE_CFG_FIFO)       ? "fifo"
                        : (o->cfg.flags & CORE_CFG_ADAPTIVE) ? "adaptive"
                                                             : "barging";
    if (o->cfg.handoff_ns && !(o->cfg.flags & CORE_CFG_FIFO))
        snprintf(order, sizeof order, "%s order (a waiter queued %llu us gets the next post)",
                 oname, (unsigned long long)(o->cfg.handoff_ns / 1000));
    else
        snprintf(order, sizeof order, "%s order", oname);
    esemd_log("start: socket %s, %d worker(s) bound per %s, %s, %u semaphores max, %u "
              "clients max, core arena %llu bytes (%s), %u bytes per semaphore object",
              sock_path, o->nworkers,
              esemd.binding == ESEM_BIND_SEMAPHORE ? "semaphore" : "process", order,
              o->cfg.max_sems,
              o->cfg.max_sessions, (unsigned long long)arena_size, arena_kind,
              sa.stats.sem_bytes);
    int use_seccomp = o->use_seccomp;
#ifdef ESEM_SANITIZED
    /* LeakSanitizer stops the world with ptrace at exit: no filter here. */
    use_seccomp = 0;
    esemd_log("seccomp filter off: sanitizer build");
#endif
    if (!o->foreground) {
        /* Let go of the starter's stdio now: dup2 is not on the seccomp
         * allow-list, and a daemon that kept them would hold a pipe such as
         * "./run demo | tail" open forever.  From here on only the log. */
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0) {
            esemd_log("cannot redirect standard I/O to /dev/null: %s", strerror(errno));
            return 1;
        }
        close(nul);
    }
    /* systemd: ready (the core is set up, the workers run, the socket
     * listens); later messages go out on a socket opened now */
    notify_open();
    char st[sizeof sock_path + 48];
    snprintf(st, sizeof st, "serving %s%s", sock_path, activated >= 0 ? " (socket-activated)" : "");
    notify_ready(st);
    if (use_seccomp && harden_seccomp() < 0) {
        esemd_log("cannot install the seccomp filter: %s", strerror(errno));
        return 1;
    }
    if (use_seccomp)
        esemd_log("seccomp allow-list installed");
    if (ready_fd >= 0) {
        char ok = 1;
        if (write(ready_fd, &ok, 1) != 1)
            return 1;
        close(ready_fd);
        ready_fd = -1;
    }
    return 0;
}

/* Step 9: the main thread's loop: new connections, hellos, hang-ups and
 * deaths, housekeeping, until a signal. */
static void serve(void)
{
    int ticking = 0;
    uint64_t last_tick = 0;
    while (!shutting_down) {
        struct epoll_event evs[64];
        /* wake within a second while there is housekeeping: suppressed
         * audit lines awaiting their count, hellos awaiting their timeout */
        int n = epoll_wait(ep_fd, evs, 64, audit_pending() || ticking ? 500 : -1);
        audit_tick();
        uint64_t now = esem_util_now_ns(CLOCK_MONOTONIC);
        if (now - last_tick >= 250000000ull || n == 0) {
            ticking = clients_tick();
            last_tick = now;
            status_tick();
        }
        if (n < 0 && errno != EINTR) {
            esemd_log("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint32_t type = (uint32_t)(evs[i].data.u64 >> 56);
            if (type == EV_LISTEN) {
                clients_accept(listen_fd);
                ticking = 1; /* a hello is due */
            } else if (type == EV_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                    esemd_log("signal %d from pid %d: shutting down", (int)si.ssi_signo,
                              (int)si.ssi_pid);
                    shutting_down = 1;
                }
            } else {
                clients_event(evs[i].data.u64, evs[i].events);
            }
        }
        struct client *t = clients_takeover_asked();
        if (t) {
            /* returns only if the takeover failed: we serve on */
            struct handover_give_args g = {.listen_fd = listen_fd,
                                           .activated = activated >= 0,
                                           .arena_fd = arena_fd,
                                           .arena = arena_base,
                                           .arena_size = arena_size,
                                           .nworkers = esemd.nworkers,
                                           .arena_secret = strncmp(arena_kind, "memfd_secret", 12) == 0};
            handover_give(t, &g);
        }
    }
}

/* Step 10. */
static void shut_down(void)
{
    notify_stopping();
    life_end();
    clients_free_all();
    dp_stop();
    audit_flush();
    if (activated < 0)
        unlink(sock_path); /* an activated socket is systemd's */
    esemd_log("stop");
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    size_core(&o);
    if ((rc = choose_socket(&o)) || (rc = detach(&o)) || (rc = open_log(&o)) ||
        (rc = start_core(&o)) || (rc = listen_and_drop(&o)) || (rc = start_serving(&o)))
        return rc;
    serve();
    shut_down();
    return 0;
}
