/*
 * esem-bench: the report, as tables (the paper's beside ours) and as JSON.
 */
#include "bench.h"

const struct rowdef ROWS[R_N] = {
    [R_OPEN] = {"open", "open (O_CREAT|O_EXCL)"},
    [R_CLOSE] = {"close", "close"},
    [R_POST] = {"post", "post (no waiter)"},
    [R_WAIT] = {"wait", "wait (permit ready)"},
    [R_UNLINK] = {"unlink", "unlink"},
    [R_TRYWAIT] = {"trywait", "trywait (succeeds)"},
    [R_HANDOFF] = {"handoff", "hand-off, cross-process"},
    [R_SYSV] = {"sysv_pingpong", "SysV ping-pong, per hand-off"},
    [R_HANDOFF_BUSY] = {"handoff_busy", "hand-off, 4x CPUs busy"},
};

/* The paper's Table (slides, "Micro Evaluation", and Table 2 of the
 * article; /work/shared/reference/esem-slides.txt), in its order, in µs.
 * `lockless` rows are its thread-semaphore binding: they take our esem
 * figures from a binding=semaphore column, the others from any other esem
 * column.  glibc has no binding: its one measurement is shown in both. */
struct paperrow {
    const char *key, *label;
    int op;       /* R_* we measured for it */
    int lockless; /* 1: the paper's "lockless" (thread-semaphore binding) row */
    double esem, legacy;
};

static const struct paperrow PAPER[] = {
    {"open", "Open", R_OPEN, 0, 17.02, 9.87},
    {"close", "Close", R_CLOSE, 0, 12.45, 10.73},
    {"post", "Post", R_POST, 0, 7.02, 5.3},
    {"wait", "Wait", R_WAIT, 0, 7.39, 6.2},
    {"post_lockless", "Post-lockless", R_POST, 1, 6.78, 0.014},
    {"wait_lockless", "Wait-lockless", R_WAIT, 1, 6.23, 0.012},
    {"unlink", "Unlink", R_UNLINK, 0, 10.05, 9.03},
};
#define N_PAPER (sizeof PAPER / sizeof PAPER[0])

/* Does column c's esem figure belong in paper row r? */
static int paper_cell(const struct paperrow *r, int c)
{
    if (COLS[c].im != &IMPLS[I_ESEM])
        return 1;
    int sem = COLS[c].binding && strcmp(COLS[c].binding, "semaphore") == 0;
    if (r->op != R_POST && r->op != R_WAIT)
        return 1;
    return r->lockless == sem;
}

/* ---- output ---- */

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static int is_esem(int c) { return COLS[c].im == &IMPLS[I_ESEM]; }
static int glibc_col(void) { return NCOLS - 1; }

static const char RULE[] = "----------------------------------------------------------------------"
                           "----------------------------------------------------------------------";

void print_header(const struct plan *p)
{
    printf("esem-bench: esem (libesem + esemd) vs glibc sem_*, same machine, same run\n\n");
    printf("machine : %ld CPU(s), %s; %s; clocksource %s; %s\n", M_NPROC, M_CPU, M_KERNEL,
           M_CLOCKSRC, M_LIBC);
    if (p->spawn) {
        printf("daemon  : one spawned per binding mode, one after the other:\n"
               "          %s -f -s <tmpdir>/esemd.sock --binding=MODE", p->spawn);
        if (run.workers)
            printf(" --workers=%u", run.workers);
        printf("\n");
        for (int c = 0; c < NCOLS; c++)
            if (is_esem(c))
                printf("          %-17s %s\n", COLS[c].binding,
                       COLS[c].daemon_start[0] ? COLS[c].daemon_start : "(no start line logged)");
    } else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        printf("daemon  : already running at %s (%s); its binding mode is not known here\n", path,
               how);
    }
    printf("columns :");
    for (int c = 0; c < NCOLS; c++)
        printf(" %s%s", COLS[c].label, c + 1 < NCOLS ? "," : "");
    printf(" (each measured by a process of its own)\n");
}

static void print_cells(int r, const struct paperrow *pr)
{
    for (int c = 0; c < NCOLS; c++) {
        const struct summary *s = &RES[r][c];
        if (pr && !paper_cell(pr, c))
            printf("  %9s %9s", "-", "-");
        else
            printf("  %9.3f %9.3f", us(s->med), us(s->p99));
    }
}

void print_latency(const struct plan *p)
{
    int w = 26 + 20 * NCOLS;
    printf("\nthe paper's table, measured here: median and p99 per call, us\n");
    printf("samples : post/wait/trywait %zu each (+%zu warm-up); open/close/unlink %zu names "
           "(+%zu warm-up);\n          hand-off %zu rounds (+%zu warm-up), with 4x CPUs busy %zu\n",
           p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm, p->wake_busy);
    printf("timer   : clock_gettime(CLOCK_MONOTONIC) back-to-back: median %.3f us, p99 %.3f us "
           "(included in every per-call figure)\n\n",
           us(TIMER.med), us(TIMER.p99));
    printf("%-24s", "");
    for (int c = 0; c < NCOLS; c++)
        printf("  %-19s", COLS[c].label);
    printf(" | the paper's, NOT measured here\n%-24s", "us per call");
    for (int c = 0; c < NCOLS; c++)
        printf("  %9s %9s", "median", "p99");
    printf(" | %8s %8s\n%.*s\n", "ESem", "legacy", w + 20, RULE);
    for (size_t i = 0; i < N_PAPER; i++) {
        const struct paperrow *pr = &PAPER[i];
        char lab[40];
        snprintf(lab, sizeof lab, "%s%s", pr->label,
                 pr->op == R_OPEN ? " (O_CREAT|O_EXCL)" : "");
        printf("%-24s", lab);
        print_cells(pr->op, pr);
        printf(" | %8g %8g\n", pr->esem, pr->legacy);
    }
    printf("%.*s\n", w + 20, "-- not in the paper's table ---------------------------------------"
                             "-----------------------------------------------------------------");
    const int extra[] = {R_TRYWAIT, R_HANDOFF, R_HANDOFF_BUSY, R_SYSV};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        printf("%-24s", ROWS[extra[i]].label);
        print_cells(extra[i], NULL);
        printf(" | %8s %8s\n", "-", "-");
    }
    printf("\nesem / glibc, medians:");
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        printf("\n  %-16s", COLS[c].label);
        for (int r = 0; r < R_N; r++) {
            const struct summary *g = &RES[r][glibc_col()];
            if (g->med)
                printf(" %s %.1fx", ROWS[r].key, (double)RES[r][c].med / (double)g->med);
        }
    }
    printf("\npost+wait pair, mean over a %zu-iteration loop without per-call timers:", p->iters);
    for (int c = 0; c < NCOLS; c++)
        printf(" %s %.3f us%s", COLS[c].label, BATCHED_PAIR[c] / 1000.0, c + 1 < NCOLS ? "," : "");
    printf("\n\n"
           "rows    : Post/Wait are the paper's thread-process binding (a spin lock on each\n"
           "          semaphore): our esem figures from binding=process (or a daemon of unknown\n"
           "          binding). Post-lockless/Wait-lockless are its thread-semaphore binding (no\n"
           "          lock on the semaphore): our binding=semaphore. glibc has no binding: its\n"
           "          one measurement, the uncontended user-space path, is in both rows.\n"
           "hand-off: the waiter's return from wait minus the poster's clock just before post,\n"
           "          another process blocked in wait (the poster sleeps %ld us first); glibc:\n"
           "          pshared sem_t in MAP_SHARED memory; esem: esem_create before fork.\n"
           "          4x CPUs busy: the same (a quarter of the rounds) with %d pure spinning\n"
           "          processes per CPU beside it (target: p99 <= 50 ms).\n"
           "SysV    : LMBench lat_sem's shape: two processes, one set of two semaphores, each\n"
           "          round one two-operation semop a side (take mine, give yours): a round's\n"
           "          time / 2; the glibc column is the kernel's semop, esem's esem_semop.\n"
           "paper   : ESem and legacy are quoted from the ESem paper (AsiaCCS 2024; i7-9700k,\n"
           "          SGX enclave) for reference only; not measured on this machine.\n",
           WAKE_SLEEP_NS / 1000, BUSY_PER_CPU);
}

void print_throughput(void)
{
    printf("\nthroughput: wait+post pairs per second, all threads together\n"
           "  each thread loops wait(sem[i]); post(sem[i]) with i = global thread index %% K;\n"
           "  the K semaphores start at 1 (mutexes) and are made before fork (esem_create; glibc\n"
           "  pshared sem_t in MAP_SHARED memory); counted over %.2f s after a %.2f s warm-up\n",
           TP_DURATION, TP_DURATION / 5 > 0.02 ? TP_DURATION / 5 : 0.02);
    int w = 19 + 17 * NCOLS;
    for (int c = 0; c < NCOLS; c++)
        if (is_esem(c))
            w += 17;
    unsigned lastk = 0;
    for (size_t i = 0; i < TP_N; i++) {
        const struct tp_row *r = &TP[i];
        if (i == 0 || r->sems != lastk) {
            lastk = r->sems;
            printf("\nK = %u\n%5s x %-7s  ", r->sems, "procs", "threads");
            for (int c = 0; c < NCOLS; c++)
                printf("  %15s", COLS[c].label);
            for (int c = 0; c < NCOLS; c++)
                if (is_esem(c))
                    printf("  %9s/glibc", COLS[c].binding ? COLS[c].binding : "esem");
            printf("\n%.*s\n", w, RULE);
        } else if (r->procs == 1 && r->threads == 2) {
            printf("\n"); /* the 1-process x M-threads series starts */
        }
        printf("%5u x %-7u  ", r->procs, r->threads);
        double g = r->rate[glibc_col()];
        for (int c = 0; c < NCOLS; c++)
            printf("  %15.0f", r->rate[c]);
        for (int c = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            if (g > 0)
                printf("  %13.1f %%", 100.0 * r->rate[c] / g);
            else
                printf("  %15s", "-");
        }
        if (tp_is_target(r)) {
            printf("  <- target >= 50 %%:");
            for (int c = 0; c < NCOLS; c++)
                if (is_esem(c))
                    printf(" %s", g > 0 && r->rate[c] >= 0.5 * g ? "met" : "NOT met");
        }
        putchar('\n');
    }
}

static void sc_label(char *buf, size_t len, const struct sc_row *r)
{
    if (r->got == r->want)
        snprintf(buf, len, "%zu", r->got);
    else
        snprintf(buf, len, "%zu (of %zu: %s)", r->got, r->want, strerror(r->err));
}

void print_scale(void)
{
    printf("\nscale: esem post+wait pair (uncontended; one clock pair around each), %u pairs "
           "(+%u warm-up),\n  while the daemon holds many idle semaphores, then serves many "
           "idle client processes\n  (each holds one semaphore of its own); daemon memory = "
           "VmRSS of the spawned esemd\n",
           SC_PAIRS, SC_WARM);
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        const struct sc_row *sc = SC[c];
        printf("\n%-34s %10s %10s  %8s  %12s\n", COLS[c].label, "median us", "p99 us",
               "vs base", "daemon RSS");
        printf("%.*s\n", 80, RULE);
        double base = (double)sc[0].lat.med;
        for (size_t i = 0; i < SC_ROWS; i++) {
            const struct sc_row *r = &sc[i];
            char lab[96], rss[32], ratio[32];
            sc_label(lab, sizeof lab, r);
            if (r->rss_kb >= 0)
                snprintf(rss, sizeof rss, "%ld kB", r->rss_kb);
            else
                snprintf(rss, sizeof rss, "n/a");
            double q = base > 0 ? (double)r->lat.med / base : 0;
            snprintf(ratio, sizeof ratio, "%.2fx", q);
            printf("%-12s %-21s %10.3f %10.3f  %8s  %12s%s\n",
                   r->clients ? "clients" : "semaphores", lab, us(r->lat.med), us(r->lat.p99),
                   ratio, rss, q > 1.5 ? "  <- over the 1.5x target" : "");
        }
    }
    printf("\nbase = the first row (1 semaphore, 1 client); target: every row within 1.5x of "
           "it.\nclients include esem-bench itself; semaphores include the measured one.\n");
    unsigned secs = 0;
    for (int c = 0; c < NCOLS; c++)
        if (is_esem(c) && IDLE[c].seconds)
            secs = IDLE[c].seconds;
    printf("\nidle daemon: the spawned esemd's CPU (utime+stime) over %u s while one process "
           "is\n  blocked for good in esem_wait and nothing else runs (target: none)\n",
           secs);
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        const struct idle_res *r = &IDLE[c];
        if (r->ticks < 0)
            printf("  %-32s n/a (a daemon esem-bench did not spawn)\n", COLS[c].label);
        else
            printf("  %-32s %ld ticks (%.0f ms of CPU)%s\n", COLS[c].label, r->ticks,
                   r->hz > 0 ? 1000.0 * (double)r->ticks / (double)r->hz : 0.0,
                   r->ticks ? "  <- target: none" : "");
    }
}

/* ---- JSON ---- */

FILE *J;

static void json_str(const char *s)
{
    fputc('"', J);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(J, "\\%c", c);
        else if (c < 0x20)
            fprintf(J, "\\u%04x", c);
        else
            fputc(c, J);
    }
    fputc('"', J);
}

static void json_summary(const struct summary *s)
{
    fprintf(J, "{\"n\": %zu, \"median_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
               ", \"min_ns\": %" PRIu64 ", \"max_ns\": %" PRIu64 ", \"mean_ns\": %.1f}",
            s->n, s->med, s->p99, s->min, s->max, s->mean);
}

static void json_num_or_null(double v, int ok, const char *fmt)
{
    if (ok)
        fprintf(J, fmt, v);
    else
        fputs("null", J);
}

static void json_latency(const struct plan *p)
{
    int g = glibc_col();
    fprintf(J, ",\n  \"latency\": {\n    \"samples\": {\"iters\": %zu, \"warmup\": %zu, "
               "\"names\": %zu, \"names_warmup\": %zu, \"handoff_rounds\": %zu, "
               "\"handoff_warmup\": %zu, \"handoff_sleep_ns\": %ld, \"handoff_busy_rounds\": %zu, "
               "\"busy_per_cpu\": %d},\n    \"timer_overhead\": ",
            p->iters, p->warm, p->names, p->names_warm, p->wake, p->wake_warm, WAKE_SLEEP_NS,
            p->wake_busy, BUSY_PER_CPU);
    json_summary(&TIMER);
    fprintf(J, ",\n    \"ops\": {");
    for (int r = 0; r < R_N; r++) {
        fprintf(J, "%s\n      \"%s\": {", r ? "," : "", ROWS[r].key);
        for (int c = 0; c < NCOLS; c++) {
            fprintf(J, "\"%s\": ", COLS[c].key);
            json_summary(&RES[r][c]);
            fprintf(J, ",\n        ");
        }
        fprintf(J, "\"ratio_median\": {");
        for (int c = 0, n = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            fprintf(J, "%s\"%s\": ", n++ ? ", " : "", COLS[c].key);
            json_num_or_null(RES[r][g].med ? (double)RES[r][c].med / (double)RES[r][g].med : 0,
                             RES[r][g].med != 0, "%.3f");
        }
        fprintf(J, "}}");
    }
    fprintf(J, "\n    },\n    \"batched_post_wait_pair_mean_ns\": {");
    for (int c = 0; c < NCOLS; c++)
        fprintf(J, "%s\"%s\": %.1f", c ? ", " : "", COLS[c].key, BATCHED_PAIR[c]);
    fprintf(J, "},\n    \"paper_table\": {\"source\": \"ESem: To Harden Process Synchronization "
               "for Servers (AsiaCCS 2024), Micro Evaluation table (slides; Table 2 of the "
               "article); i7-9700k, SGX\", \"note\": \"paper_esem and paper_legacy are quoted "
               "from the paper, not measured here; measured_* are this run's medians and p99 "
               "of the column each paper row maps to (lockless rows: binding=semaphore)\", "
               "\"unit\": \"us\", \"rows\": [");
    for (size_t i = 0; i < N_PAPER; i++) {
        const struct paperrow *pr = &PAPER[i];
        fprintf(J, "%s\n      {\"row\": \"%s\", \"key\": \"%s\", \"op\": \"%s\", \"lockless\": %s, "
                   "\"paper_esem\": %g, \"paper_legacy\": %g, \"measured_median_us\": {",
                i ? "," : "", pr->label, pr->key, ROWS[pr->op].key,
                pr->lockless ? "true" : "false", pr->esem, pr->legacy);
        int n = 0;
        for (int c = 0; c < NCOLS; c++)
            if (paper_cell(pr, c))
                fprintf(J, "%s\"%s\": %.3f", n++ ? ", " : "", COLS[c].key,
                        us(RES[pr->op][c].med));
        fprintf(J, "}, \"measured_p99_us\": {");
        n = 0;
        for (int c = 0; c < NCOLS; c++)
            if (paper_cell(pr, c))
                fprintf(J, "%s\"%s\": %.3f", n++ ? ", " : "", COLS[c].key,
                        us(RES[pr->op][c].p99));
        fprintf(J, "}}");
    }
    fprintf(J, "\n    ]}\n  }");
}

static void json_throughput(void)
{
    int g = glibc_col();
    fprintf(J, ",\n  \"throughput\": {\"duration_s\": %.3f, \"unit\": \"pairs_per_s\", \"sems\": [",
            TP_DURATION);
    for (size_t i = 0; i < TP_NK; i++)
        fprintf(J, "%s%u", i ? ", " : "", TP_KS[i]);
    fprintf(J, "], \"rows\": [");
    for (size_t i = 0; i < TP_N; i++) {
        const struct tp_row *r = &TP[i];
        fprintf(J, "%s\n    {\"procs\": %u, \"threads_per_proc\": %u, \"total\": %u, \"sems\": %u, "
                   "\"pairs_per_s\": {",
                i ? "," : "", r->procs, r->threads, r->procs * r->threads, r->sems);
        for (int c = 0; c < NCOLS; c++)
            fprintf(J, "%s\"%s\": %.0f", c ? ", " : "", COLS[c].key, r->rate[c]);
        fprintf(J, "}, \"ratio_to_glibc\": {");
        for (int c = 0, n = 0; c < NCOLS; c++) {
            if (!is_esem(c))
                continue;
            fprintf(J, "%s\"%s\": ", n++ ? ", " : "", COLS[c].key);
            json_num_or_null(r->rate[g] > 0 ? r->rate[c] / r->rate[g] : 0, r->rate[g] > 0,
                             "%.5f");
        }
        fprintf(J, "}, \"target\": %s}", tp_is_target(r) ? "true" : "false");
    }
    fprintf(J, "\n  ]}");
}

static void json_scale(void)
{
    fprintf(J, ",\n  \"scale\": {\"pairs\": %u, \"warmup\": %u, \"runs\": [", SC_PAIRS, SC_WARM);
    for (int c = 0, n = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        const struct sc_row *sc = SC[c];
        fprintf(J, "%s\n    {\"column\": \"%s\", \"rows\": [", n++ ? "," : "", COLS[c].key);
        double base = (double)sc[0].lat.med;
        for (size_t i = 0; i < SC_ROWS; i++) {
            const struct sc_row *r = &sc[i];
            fprintf(J, "%s\n      {\"dimension\": \"%s\", \"wanted\": %zu, \"got\": %zu, "
                       "\"error\": ",
                    i ? "," : "", r->clients ? "clients" : "semaphores", r->want, r->got);
            if (r->got < r->want)
                json_str(strerror(r->err));
            else
                fputs("null", J);
            fprintf(J, ", \"pair\": ");
            json_summary(&r->lat);
            fprintf(J, ", \"ratio_to_base\": ");
            json_num_or_null(base > 0 ? (double)r->lat.med / base : 0, base > 0, "%.3f");
            fprintf(J, ", \"daemon_rss_kb\": ");
            json_num_or_null((double)r->rss_kb, r->rss_kb >= 0, "%.0f");
            fputc('}', J);
        }
        fprintf(J, "\n    ]}");
    }
    unsigned secs = 0;
    for (int c = 0; c < NCOLS; c++)
        if (is_esem(c) && IDLE[c].seconds)
            secs = IDLE[c].seconds;
    fprintf(J, "\n  ], \"idle\": {\"seconds\": %u", secs);
    for (int c = 0; c < NCOLS; c++) {
        if (!is_esem(c))
            continue;
        fprintf(J, ", \"%s\": {\"ticks\": ", COLS[c].key);
        json_num_or_null((double)IDLE[c].ticks, IDLE[c].ticks >= 0, "%.0f");
        fprintf(J, ", \"clk_tck\": %ld}", IDLE[c].hz);
    }
    fprintf(J, "}}");
}

void print_json(const struct plan *p, const char *cmdline, const char *started)
{
    fprintf(J, "{\n  \"command\": ");
    json_str(cmdline);
    fprintf(J, ",\n  \"started_utc\": ");
    json_str(started);
    fprintf(J, ",\n  \"tables\": [%s%s%s]", (p->sel & SEL_LATENCY) ? "\"latency\"" : "",
            (p->sel & SEL_THROUGHPUT) ? ((p->sel & SEL_LATENCY) ? ", \"throughput\"" : "\"throughput\"") : "",
            (p->sel & SEL_SCALE) ? ((p->sel & (SEL_LATENCY | SEL_THROUGHPUT)) ? ", \"scale\"" : "\"scale\"") : "");
    fprintf(J, ",\n  \"machine\": {\"nproc\": %ld, \"cpu\": ", M_NPROC);
    json_str(M_CPU);
    fprintf(J, ", \"kernel\": ");
    json_str(M_KERNEL);
    fprintf(J, ", \"clocksource\": ");
    json_str(M_CLOCKSRC);
    fprintf(J, ", \"libc\": ");
    json_str(M_LIBC);
    fprintf(J, "},\n  \"daemon\": {\"spawned\": %s", p->spawn ? "true" : "false");
    if (p->spawn) {
        fprintf(J, ", \"path\": ");
        json_str(p->spawn);
        fprintf(J, ", \"workers\": ");
        json_num_or_null(run.workers, run.workers != 0, "%.0f");
    } else {
        char path[256];
        const char *how;
        socket_path_for_message(path, sizeof path, &how);
        fprintf(J, ", \"socket\": ");
        json_str(path);
    }
    fprintf(J, "},\n  \"columns\": [");
    for (int c = 0; c < NCOLS; c++) {
        fprintf(J, "%s\n    {\"key\": \"%s\", \"impl\": \"%s\", \"binding\": ", c ? "," : "",
                COLS[c].key, COLS[c].im->name);
        if (COLS[c].binding)
            json_str(COLS[c].binding);
        else
            fputs("null", J);
        if (is_esem(c) && p->spawn) {
            fprintf(J, ", \"daemon_start\": ");
            json_str(COLS[c].daemon_start);
        }
        fputc('}', J);
    }
    fprintf(J, "\n  ]");
    if (p->sel & SEL_LATENCY)
        json_latency(p);
    if (p->sel & SEL_THROUGHPUT)
        json_throughput();
    if (p->sel & SEL_SCALE)
        json_scale();
    fprintf(J, "\n}\n");
}

