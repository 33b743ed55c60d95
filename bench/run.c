/*
 * esem-bench: the run's shared state and ground rules, below every part:
 * the columns and their results, the machine, what to clean up and how to
 * stop (die, a signal), a measuring child's set-up, timing helpers.
 */
#include "bench.h"
#include "launch.h"

/* esemd --binding: the paper's two TCS binding modes.  "process" is its
 * thread-process binding (a spin lock on the semaphore), "semaphore" its
 * thread-semaphore binding ("lockless": no lock on the semaphore). */
const char *const BINDINGS[N_BINDINGS] = {"process", "semaphore"};
struct column COLS[MAX_COLS];
int NCOLS;
struct summary RES[R_N][MAX_COLS];
struct summary TIMER;
double BATCHED_PAIR[MAX_COLS];

/* ---- global state for clean-up ---- */

struct bench_run run;

volatile sig_atomic_t g_stop;

void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

void name_of(char *buf, size_t len, char tag, size_t i)
{
    snprintf(buf, len, "/esem-bench-%d-%c%zu", (int)run.pid, tag, i);
}

static void stop_daemon(void)
{
    if (run.daemon_pid <= 0)
        return;
    pid_t p = run.daemon_pid;
    run.daemon_pid = 0;
    kill(p, SIGTERM);
    int st = 0, done = 0;
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(p, &st, WNOHANG);
        if (r == p || (r < 0 && errno == ECHILD)) {
            done = 1;
            break;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    if (!done) {
        fprintf(stderr, "esem-bench: esemd (pid %d) ignored SIGTERM for 3 s; killing it\n",
                (int)p);
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
        run.daemon_failed = 1;
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
               !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
        run.daemon_failed = 1;
    }
    unlink(run.sock);
    if (run.daemon_failed) {
        fprintf(stderr, "esem-bench: the spawned esemd did not exit cleanly; its log: %s\n",
                run.logpath);
        return;
    }
    esem_launch_remove(run.tmpdir);
}

static void stop_colkid(void)
{
    if (run.colkid <= 0)
        return;
    /* It cleans up after itself (its children, names, daemon) on SIGTERM. */
    kill(run.colkid, SIGTERM);
    int st;
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(run.colkid, &st, WNOHANG);
        if (r == run.colkid || (r < 0 && errno != EINTR)) {
            run.colkid = 0;
            return;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    kill(run.colkid, SIGKILL); /* its daemon gets SIGTERM as parent-death signal */
    waitpid(run.colkid, &st, 0);
    run.colkid = 0;
}

void cleanup(void)
{
    stop_colkid();
    if (run.child > 0) {
        kill(run.child, SIGKILL);
        waitpid(run.child, NULL, 0);
        run.child = 0;
    }
    for (size_t i = 0; i < run.nkids; i++)
        if (run.kids[i] > 0)
            kill(run.kids[i], SIGKILL);
    for (size_t i = 0; i < run.nkids; i++)
        if (run.kids[i] > 0) {
            while (waitpid(run.kids[i], NULL, 0) < 0 && errno == EINTR)
                ;
            run.kids[i] = 0;
        }
    run.nkids = 0;
    if (run.names_impl) {
        char nm[64];
        for (size_t i = 0; i < run.names_live; i++) {
            name_of(nm, sizeof nm, run.names_impl->tag, i);
            (void)run.names_impl->unlink(nm);
        }
        run.names_impl = NULL;
        run.names_live = 0;
    }
    stop_daemon();
}

void child_init(pid_t parent)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(3); /* the parent died before the prctl */
}

pid_t fork_kid(void)
{
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t c = fork();
    if (c < 0)
        die("fork: %s", strerror(errno));
    if (c == 0)
        child_init(parent);
    return c;
}

_Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (run.progress)
        fputc('\n', stderr);
    fputs("esem-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();
    exit(1);
}

void check_stop(void)
{
    if (!g_stop)
        return;
    /* The parent says it once, after its column child has cleaned up. */
    if (run.progress && !run.in_child)
        fputc('\n', stderr);
    if (!run.in_child)
        fputs("esem-bench: interrupted; cleaning up\n", stderr);
    cleanup();
    exit(130);
}

void progress(const char *what)
{
    if (!run.progress)
        return;
    fprintf(stderr, "\r\033[Kmeasuring %s ...", what);
    fflush(stderr);
}



void socket_path_for_message(char *buf, size_t len, const char **how)
{
    const char *env = getenv("ESEM_SOCKET");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && env[0]) {
        snprintf(buf, len, "%s", env);
        *how = "from ESEM_SOCKET";
    } else if (xdg && xdg[0] == '/') {
        snprintf(buf, len, "%s/esem/esemd.sock", xdg);
        *how = "default";
    } else {
        snprintf(buf, len, "/tmp/esem-%u/esemd.sock", (unsigned)getuid());
        *how = "default";
    }
}

char M_CPU[256] = "unknown", M_KERNEL[256] = "unknown", M_CLOCKSRC[64] = "unknown";
char M_LIBC[64];
long M_NPROC;


static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of sorted v[0..n) */
static uint64_t pct(const uint64_t *v, size_t n, unsigned int p)
{
    size_t k = (n * p + 99) / 100;
    if (k == 0)
        k = 1;
    return v[k - 1];
}

struct summary summarize(uint64_t *v, size_t n)
{
    struct summary s = {0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.med = pct(v, n, 50);
    s.p99 = pct(v, n, 99);
    s.mean = sum / (double)n;
    return s;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, sz);
    return p;
}

void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        check_stop();
}
