/*
 * esem-bench — micro-benchmark of esem (libesem + esemd) against glibc's
 * <semaphore.h>, both measured on this machine in the same run.
 *
 * Each single call is timed with clock_gettime(CLOCK_MONOTONIC) around it;
 * the samples are sorted and the median and the 99th percentile reported.
 * The clock's own cost (one back-to-back pair) is printed too: it is part
 * of every per-call figure, which matters for glibc's ~10 ns fast paths.
 *
 * The paper's numbers (i7-9700k, SGX) are printed beside ours as a
 * reference only; they were not measured here.
 *
 * Exit status: 0 success, 1 a measurement failed, 2 usage error or no
 * esemd reachable.
 */
#include "bench.h"

/* ---- the daemon ---- */

static void print_daemon_log(void)
{
    FILE *f = fopen(run.logpath, "r");
    if (!f)
        return;
    char line[512];
    fprintf(stderr, "---- %s ----\n", run.logpath);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static void trim(char *s);

/* The daemon's "start:" log line (socket, workers, sizes), for the record. */
static void read_start_line(char *out, size_t len)
{
    FILE *f = fopen(run.logpath, "r");
    out[0] = 0;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "start:");
        if (p) {
            snprintf(out, len, "%s", p);
            trim(out);
            break;
        }
    }
    fclose(f);
}

/* Start `path -f -s <tmpdir>/esemd.sock [--binding=B] [--workers=N]` for
 * column col and wait until it serves. */
static void spawn_daemon(const char *path, int col)
{
    if (access(path, X_OK) < 0) {
        fprintf(stderr, "esem-bench: --spawn-daemon %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char bind[48], workers[32];
    const char *extra[3] = {NULL, NULL, NULL};
    int n = 0;
    if (COLS[col].binding) {
        snprintf(bind, sizeof bind, "--binding=%s", COLS[col].binding);
        extra[n++] = bind;
    }
    if (run.workers) {
        snprintf(workers, sizeof workers, "--workers=%u", run.workers);
        extra[n++] = workers;
    }
    /* its own process group: a ^C at the terminal reaches only esem-bench,
     * which then stops the daemon itself after cleaning up */
    struct esem_launch how = {.esemd = path, .dir_prefix = "/tmp/esem-bench", .extra = extra,
                              .own_group = 1};
    struct esem_launched l;
    int r = esem_launch(&how, &l);
    if (r < 0) {
        fprintf(stderr, "esem-bench: starting %s: %s\n", path, strerror(-r));
        exit(2);
    }
    snprintf(run.tmpdir, sizeof run.tmpdir, "%s", l.dir);
    snprintf(run.sock, sizeof run.sock, "%s", l.sock);
    snprintf(run.logpath, sizeof run.logpath, "%s", l.out); /* its stderr is its log */
    run.daemon_path = path;
    pid_t p = l.pid;
    run.daemon_pid = p;
    if (setenv("ESEM_SOCKET", run.sock, 1) < 0)
        die("setenv: %s", strerror(errno));

    uint64_t deadline = now_ns() + DAEMON_START_S * 1000000000ull;
    for (;;) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            run.daemon_pid = 0;
            fprintf(stderr, "esem-bench: the spawned esemd (%s) exited at start-up\n", path);
            print_daemon_log();
            exit(2);
        }
        struct stat sb;
        if (stat(run.sock, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            esem_t *probe = esem_create(0);
            if (probe) {
                if (esem_destroy(probe))
                    die("esem_destroy (probe): %s", strerror(errno));
                read_start_line(COLS[col].daemon_start, sizeof COLS[col].daemon_start);
                return;
            }
            if (errno != ECONNREFUSED)
                die("connecting to the spawned esemd: %s", strerror(errno));
        }
        if (now_ns() > deadline) {
            fprintf(stderr, "esem-bench: the spawned esemd did not accept connections on %s "
                            "within %d s\n", run.sock, DAEMON_START_S);
            print_daemon_log();
            run.daemon_failed = 1;
            cleanup();
            exit(2);
        }
        check_stop();
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

static void require_daemon(void)
{
    esem_t *probe = esem_create(0);
    if (probe) {
        if (esem_destroy(probe))
            die("esem_destroy (probe): %s", strerror(errno));
        return;
    }
    int e = errno;
    char path[256];
    const char *how;
    socket_path_for_message(path, sizeof path, &how);
    fprintf(stderr,
            "esem-bench: no esemd reachable at %s (%s): %s\n"
            "  Either let esem-bench start its own daemon for the run:\n"
            "      esem-bench --spawn-daemon /path/to/esemd      (e.g. ./build/host/esemd)\n"
            "  or start one yourself and point the client at it:\n"
            "      esemd -s /tmp/esemd.sock && ESEM_SOCKET=/tmp/esemd.sock esem-bench\n"
            "  (plain `esemd` listens on the default socket, which esem-bench also finds.)\n",
            path, how, strerror(e));
    exit(2);
}


/* ---- machine description ---- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

static void machine_info(void)
{
    M_NPROC = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(M_LIBC, sizeof M_LIBC, "glibc %s", gnu_get_libc_version());
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0 ||
                strncmp(line, "cpu model", 9) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    snprintf(M_CPU, sizeof M_CPU, "%s", c);
                    trim(M_CPU);
                    break;
                }
            }
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(M_KERNEL, sizeof M_KERNEL, "%s %s %s", u.sysname, u.release, u.machine);
    f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f) {
        if (fgets(M_CLOCKSRC, sizeof M_CLOCKSRC, f))
            trim(M_CLOCKSRC);
        fclose(f);
    }
}


/* ---- one column per child process ---- */

static void measure_column(int col, const struct plan *p)
{
    char what[96];
    if (p->sel & SEL_LATENCY) {
        snprintf(what, sizeof what, "%s post/wait", COLS[col].label);
        progress(what);
        bench_post_wait(col, p->iters, p->warm);
        snprintf(what, sizeof what, "%s trywait", COLS[col].label);
        progress(what);
        bench_trywait(col, p->iters, p->warm);
        snprintf(what, sizeof what, "%s open/close/unlink", COLS[col].label);
        progress(what);
        bench_names(col, p->names, p->names_warm);
        snprintf(what, sizeof what, "%s cross-process hand-off", COLS[col].label);
        progress(what);
        bench_wakeup(col, R_HANDOFF, p->wake, p->wake_warm);
        snprintf(what, sizeof what, "%s hand-off, 4x CPUs busy", COLS[col].label);
        progress(what);
        bench_wakeup_busy(col, p->wake_busy, p->wake_busy_warm);
        snprintf(what, sizeof what, "%s System V ping-pong", COLS[col].label);
        progress(what);
        bench_sysv(col, p->iters, p->warm);
    }
    if (p->sel & SEL_THROUGHPUT)
        bench_throughput(col);
    if ((p->sel & SEL_SCALE) && COLS[col].im == &IMPLS[I_ESEM]) {
        bench_scale(col);
        bench_idle(col);
    }
}

/* libesem connects once per process and stays with that daemon (a daemon
 * that goes away is EIO for good), so each column runs in a child of its
 * own: it starts its own daemon (--spawn-daemon), measures, stops it. */
static void run_column(int col, const struct plan *p)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t k = fork();
    if (k < 0)
        die("fork: %s", strerror(errno));
    if (k == 0) {
        run.in_child = 1;
        close(fd[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (COLS[col].im == &IMPLS[I_ESEM]) {
            if (p->spawn)
                spawn_daemon(p->spawn, col);
            else
                require_daemon();
        }
        measure_column(col, p);
        check_stop();
        cleanup();
        if (run.daemon_failed)
            exit(1);
        static struct colres cr;
        for (int r = 0; r < R_N; r++)
            cr.res[r] = RES[r][col];
        cr.batched = BATCHED_PAIR[col];
        for (size_t i = 0; i < TP_N; i++)
            cr.rate[i] = TP[i].rate[col];
        memcpy(cr.sc, SC[col], sizeof cr.sc);
        cr.idle = IDLE[col];
        memcpy(cr.sock, run.sock, sizeof cr.sock);
        memcpy(cr.daemon_start, COLS[col].daemon_start, sizeof cr.daemon_start);
        const char *b = (const char *)&cr;
        size_t left = sizeof cr;
        while (left) {
            ssize_t w = write(fd[1], b, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(1);
            b += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    run.colkid = k;
    close(fd[1]);
    static struct colres cr;
    char *b = (char *)&cr;
    size_t got = 0;
    while (got < sizeof cr) {
        ssize_t n = read(fd[0], b + got, sizeof cr - got);
        if (n < 0 && errno == EINTR) {
            check_stop();
            continue;
        }
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd[0]);
    int st;
    while (waitpid(k, &st, 0) < 0 && errno == EINTR)
        check_stop();
    run.colkid = 0;
    check_stop();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != sizeof cr) {
        /* the child said why on stderr */
        cleanup();
        exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st)
             : WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL ? 130 : 1);
    }
    for (int r = 0; r < R_N; r++)
        RES[r][col] = cr.res[r];
    BATCHED_PAIR[col] = cr.batched;
    for (size_t i = 0; i < TP_N; i++)
        TP[i].rate[col] = cr.rate[i];
    memcpy(SC[col], cr.sc, sizeof cr.sc);
    IDLE[col] = cr.idle;
    if (COLS[col].im == &IMPLS[I_ESEM]) {
        memcpy(run.sock, cr.sock, sizeof run.sock);
        memcpy(COLS[col].daemon_start, cr.daemon_start, sizeof cr.daemon_start);
    }
}


static void usage(FILE *f)
{
    fprintf(f,
            "usage: esem-bench [--all | --latency --throughput --scale] [--spawn-daemon PATH\n"
            "                  [--binding LIST] [--workers N]] [--iters N] [--duration S]\n"
            "                  [--sems LIST] [--smoke] [--json | --json-file PATH]\n"
            "\n"
            "Measures esem_* (through esemd) against glibc's sem_* on this machine, esem once\n"
            "per binding mode of the daemon (--spawn-daemon), glibc once.\n"
            "Tables (none named: --latency --throughput):\n"
            "  --latency            the paper's table (Open, Close, Post, Wait, Post-lockless,\n"
            "                       Wait-lockless, Unlink) measured: median and p99 per call,\n"
            "                       the paper's figures beside them; trywait; cross-process\n"
            "                       hand-off to a blocked waiter (about 5 s per column)\n"
            "  --throughput         wait+post pairs/s, N processes x 1 thread and 1 process x\n"
            "                       M threads, N or M = 1..64, on K semaphores used as mutexes\n"
            "                       (about 8 s per column and K with the default --duration)\n"
            "  --scale              esem post+wait latency and the daemon's memory with 1,\n"
            "                       1000, 100000 semaphores and 1, 100, 1000 client processes;\n"
            "                       the idle daemon's CPU over 10 s with a waiter blocked\n"
            "                       (35-45 s per binding mode)\n"
            "  --all                all three (about 3 minutes on a 2-vCPU VM)\n"
            "Options:\n"
            "  --spawn-daemon PATH  for each binding mode start `PATH -f -s <tmpdir>/esemd.sock\n"
            "                       --binding=MODE` for its column and stop it after; otherwise\n"
            "                       the running esemd that libesem finds is measured (one esem\n"
            "                       column, binding unknown, daemon memory n/a)\n"
            "  --binding LIST       with --spawn-daemon: modes to measure, comma-separated,\n"
            "                       from process,semaphore (default: both)\n"
            "  --workers N          with --spawn-daemon: pass --workers=N to esemd\n"
            "  --iters N            samples per post/wait/trywait (default %u); open/close/\n"
            "                       unlink use min(N, %u) names and the hand-off min(N, %u)\n"
            "                       rounds\n"
            "  --duration S         seconds counted per throughput run (default %.1f; from\n"
            "                       %.2f to %.0f), after a warm-up of S/5\n"
            "  --sems LIST          K values for --throughput, comma-separated, each 1 to %u\n"
            "                       (default 1,4)\n"
            "  --smoke              tiny sizes, to check the tool and its output, not to\n"
            "                       measure: --iters 200, --duration %.2f, N or M = 1, 2, 4,\n"
            "                       scale 1/10/100 semaphores and 1/2/4 clients\n"
            "  --json               print the figures as JSON instead of tables (times in ns)\n"
            "  --json-file PATH     print the tables and write the JSON to PATH\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 success, 1 a measurement failed, 2 usage error or no esemd.\n",
            DEFAULT_ITERS, MAX_NAMES, MAX_WAKE, DEFAULT_DURATION, MIN_DURATION, MAX_DURATION,
            TP_MAX_K, SMOKE_DURATION);
}

/* "a,b,c" -> values in [lo, hi]; returns how many, or -1 */
static int parse_list(const char *arg, unsigned *out, int max, unsigned lo, unsigned hi)
{
    int n = 0;
    const char *p = arg;
    for (;;) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v < lo || v > hi || n == max)
            return -1;
        out[n++] = (unsigned)v;
        if (*end == 0)
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

static void add_column(const struct impl *im, const char *binding)
{
    struct column *c = &COLS[NCOLS++];
    c->im = im;
    c->binding = binding;
    if (binding) {
        snprintf(c->key, sizeof c->key, "%s_%s", im->name, binding);
        snprintf(c->label, sizeof c->label, "%s/%s", im->name, binding);
    } else {
        snprintf(c->key, sizeof c->key, "%s", im->name);
        snprintf(c->label, sizeof c->label, "%s", im->name);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"iters", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"json-file", required_argument, 0, 'J'},
                                         {"spawn-daemon", required_argument, 0, 'd'},
                                         {"binding", required_argument, 0, 'b'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"latency", no_argument, 0, 'L'},
                                         {"throughput", no_argument, 0, 'T'},
                                         {"scale", no_argument, 0, 'S'},
                                         {"all", no_argument, 0, 'A'},
                                         {"duration", required_argument, 0, 'D'},
                                         {"sems", required_argument, 0, 'K'},
                                         {"smoke", no_argument, 0, 'Z'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    size_t iters = DEFAULT_ITERS;
    int json = 0, sel = 0, smoke = 0, iters_set = 0, duration_set = 0;
    int want_binding[N_BINDINGS] = {0}, binding_set = 0;
    const char *spawn = NULL, *json_file = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'n': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *optarg == 0 || *end || optarg[0] == '-' || v == 0 || v > MAX_ITERS) {
                fprintf(stderr, "esem-bench: --iters wants a number from 1 to %u\n", MAX_ITERS);
                return 2;
            }
            iters = (size_t)v;
            iters_set = 1;
            break;
        }
        case 'D': {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || *optarg == 0 || *end || !(v >= MIN_DURATION && v <= MAX_DURATION)) {
                fprintf(stderr, "esem-bench: --duration wants seconds from %.2f to %.0f\n",
                        MIN_DURATION, MAX_DURATION);
                return 2;
            }
            TP_DURATION = v;
            duration_set = 1;
            break;
        }
        case 'K': {
            int n = parse_list(optarg, TP_KS, TP_MAX_NK, 1, TP_MAX_K);
            if (n < 0) {
                fprintf(stderr, "esem-bench: --sems wants up to %d comma-separated numbers "
                                "from 1 to %d\n", TP_MAX_NK, TP_MAX_K);
                return 2;
            }
            TP_NK = (size_t)n;
            break;
        }
        case 'b': {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *save = NULL;
            memset(want_binding, 0, sizeof want_binding);
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t i = 0;
                while (i < N_BINDINGS && strcmp(t, BINDINGS[i]) != 0)
                    i++;
                if (i == N_BINDINGS) {
                    fprintf(stderr, "esem-bench: --binding wants process, semaphore or "
                                    "process,semaphore, not %s\n", optarg);
                    return 2;
                }
                want_binding[i] = 1;
            }
            binding_set = 1;
            break;
        }
        case 'w': {
            unsigned v;
            if (parse_list(optarg, &v, 1, 1, 64) != 1) {
                fprintf(stderr, "esem-bench: --workers wants a number from 1 to 64\n");
                return 2;
            }
            run.workers = v;
            break;
        }
        case 'L': sel |= SEL_LATENCY; break;
        case 'T': sel |= SEL_THROUGHPUT; break;
        case 'S': sel |= SEL_SCALE; break;
        case 'A': sel |= SEL_ALL; break;
        case 'Z': smoke = 1; break;
        case 'j': json = 1; break;
        case 'J': json_file = optarg; break;
        case 'd': spawn = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("esem-bench " ESEM_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!spawn && (binding_set || run.workers)) {
        fprintf(stderr, "esem-bench: --binding and --workers choose how the daemon is "
                        "started: they need --spawn-daemon\n");
        return 2;
    }
    if (json && json_file) {
        fprintf(stderr, "esem-bench: --json prints JSON instead of the tables, --json-file "
                        "beside them: one or the other\n");
        return 2;
    }
    if (spawn && access(spawn, X_OK) < 0) {
        fprintf(stderr, "esem-bench: --spawn-daemon %s: %s\n", spawn, strerror(errno));
        return 2;
    }
    if (smoke) {
        if (!iters_set)
            iters = 200;
        if (!duration_set)
            TP_DURATION = SMOKE_DURATION;
        TP_NT = TP_NT_SMOKE;
        scale_smoke();
        idle_smoke();
    }

    /* the command line and the time, for the record in the JSON */
    char cmdline[1024] = "", started[32];
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(cmdline);
        snprintf(cmdline + n, sizeof cmdline - n, "%s%s", i ? " " : "", argv[i]);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (spawn) {
        for (size_t i = 0; i < N_BINDINGS; i++)
            if (!binding_set || want_binding[i])
                add_column(&IMPLS[I_ESEM], BINDINGS[i]);
    } else {
        add_column(&IMPLS[I_ESEM], NULL);
    }
    add_column(&IMPLS[I_GLIBC], NULL); /* always the last column */

    run.pid = getpid();
    run.progress = isatty(STDERR_FILENO);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Precise sleeps before each hand-off round. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    struct plan p = {.iters = iters, .sel = sel ? sel : SEL_DEFAULT, .spawn = spawn};
    p.warm = iters / 10 < 100 ? 100 : iters / 10 > 10000 ? 10000 : iters / 10;
    p.names = iters < MAX_NAMES ? iters : MAX_NAMES;
    p.names_warm = p.names / 10 < 10 ? 10 : p.names / 10;
    p.wake = iters < MAX_WAKE ? iters : MAX_WAKE;
    p.wake_warm = p.wake / 20 < 10 ? 10 : p.wake / 20;
    p.wake_busy = p.wake / 4 > 0 ? p.wake / 4 : 1; /* each round may wait for a time slice */
    p.wake_busy_warm = p.wake_warm / 4 > 0 ? p.wake_warm / 4 : 1;

    machine_info();
    if (p.sel & SEL_LATENCY) {
        progress("the clock");
        bench_timer(iters);
    }
    tp_plan();
    for (int c = 0; c < NCOLS; c++)
        run_column(c, &p);
    if (run.progress) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    check_stop();
    cleanup();

    if (json) {
        J = stdout;
        print_json(&p, cmdline, started);
    } else {
        print_header(&p);
        if (p.sel & SEL_LATENCY)
            print_latency(&p);
        if (p.sel & SEL_THROUGHPUT)
            print_throughput();
        if (p.sel & SEL_SCALE)
            print_scale();
        if (json_file) {
            J = fopen(json_file, "w");
            if (!J) {
                fprintf(stderr, "esem-bench: %s: %s\n", json_file, strerror(errno));
                return 1;
            }
            print_json(&p, cmdline, started);
            if (fclose(J) != 0) {
                fprintf(stderr, "esem-bench: %s: %s\n", json_file, strerror(errno));
                return 1;
            }
            printf("\nJSON written to %s\n", json_file);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

