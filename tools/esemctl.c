/*
 * esemctl — look at and manage the semaphores esemd holds (like ipcs/ipcrm).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "esem.h"
#include "proto.h"
#include "acl_keys.h"
#include "json.h"
#include "restart.h"
#include "util.h"

static int json;
static const char *sock_opt;

static void usage(FILE *f)
{
    fprintf(f, "usage: esemctl [--socket PATH | --system] [--json] COMMAND\n"
               "commands:\n"
               "  ls            list semaphores: name or id, value, waiters, opens, owner, mode\n"
               "  show NAME     one semaphore, with the pids holding it open and waiting\n"
               "                (NAME is /name, or #id from ls for an anonymous one)\n"
               "  rm NAME...    unlink named semaphores (as esem_unlink)\n"
               "  ipcs          System V sets (like ipcs -s): key, semid, owner, perms, nsems\n"
               "  ipcs SEMID    one set's semaphores (like ipcs -s -i): value, ncount,\n"
               "                zcount, pid (read as this process: it needs read permission)\n"
               "  ipcrm SEMID...\n"
               "                remove System V sets (as semctl IPC_RMID, as this process)\n"
               "  ping          is esemd there? its socket, pid and uid (any user may ask)\n"
               "  stats [--format=text|json|prometheus]\n"
               "                daemon and core counters (prometheus: the text format\n"
               "                node_exporter's textfile collector reads)\n"
               "  top [--interval=S] [--count=N] [--limit=K]\n"
               "                a live view of the busiest semaphores: value, waiters,\n"
               "                operations a second (every S seconds, N times; 0: until ^C)\n"
               "  audit         the last refused requests (up to 1024), oldest first\n"
               "  stop          ask esemd to shut down\n"
               "  restart [--esemd PATH] [-- ESEMD-OPTIONS]\n"
               "                start a new esemd that takes the running one's state over\n"
               "                (semaphores, sets, waiters, sessions, connections): clients\n"
               "                notice a pause only.  esemd must run with --allow-takeover\n"
               "                (per-user) or be the system daemon (then as root)\n"
               "  grant NAME PRINCIPAL RIGHTS\n"
               "                give rights on a semaphore (as its owner: esem_grant)\n"
               "  revoke NAME PRINCIPAL RIGHTS\n"
               "                take rights away, also from handles already open (esem_revoke)\n"
               "                PRINCIPAL: uid:N|uid:USER, gid:N|gid:GROUP, pid:N,\n"
               "                           key:HEX16 (a key id), keyfile:PATH\n"
               "                RIGHTS:    comma list of open,wait,post,unlink, or all\n"
               "  keygen FILE   write a new random key to FILE (created, mode 0600);\n"
               "                print its key id\n"
               "  keyid FILE    print the key id of a key file\n"
               "The socket is --socket, else " ESEM_SYSTEM_SOCKET " with --system, else\n"
               "$ESEM_SOCKET, else " ESEM_SYSTEM_SOCKET " if $ESEM_SYSTEM is 1, else the\n"
               "per-user default.\n"
               "grant and revoke act as this process (and its key, with ESEM_KEY_FILE set).\n");
}

static int connect_kind(uint32_t kind, char *path_out, size_t path_len);

static int admin_connect(void)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    return connect_kind(ESEM_HELLO_ADMIN, path, sizeof path);
}

static pid_t daemon_pid; /* as the last hello's reply said */

/* Connect and say hello as kind (an admin, or a plain client for ping). */
static int connect_kind(uint32_t kind, char *path_out, size_t path_len)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (sock_opt) {
        if (strlen(sock_opt) >= sizeof path) {
            fprintf(stderr, "esemctl: socket path too long\n");
            return -1;
        }
        strcpy(path, sock_opt);
    } else if (esem_util_client_socket(path, sizeof path) < 0) {
        fprintf(stderr, "esemctl: socket path too long\n");
        return -1;
    }
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "esemctl: cannot reach esemd at %s: %s (start it with: %s)\n", path,
                strerror(errno),
                strcmp(path, ESEM_SYSTEM_SOCKET) == 0 ? "esemd --system, as root" : "esemd");
        if (s >= 0)
            close(s);
        return -1;
    }
    snprintf(path_out, path_len, "%s", path);
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = kind};
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    if (send(s, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        recv(s, &rep, sizeof rep, 0) != (ssize_t)sizeof rep || rep.err) {
        fprintf(stderr, "esemctl: esemd refused the connection%s%s\n", rep.err ? ": " : "",
                rep.err ? strerror(rep.err) : "");
        close(s);
        return -1;
    }
    daemon_pid = rep.daemon_pid;
    return s;
}

/* esemctl ping: is a daemon there, and which?  A plain client hello (any
 * user may make one, also to esemd --system, where admin requests are for
 * root and the daemon's user); prints the socket and the daemon's pid and
 * uid as the kernel reports them (SO_PEERCRED), which is what a client
 * trusts: a PID session cannot tell a genuine esemd from another program
 * of that uid on the socket (docs/ATTACKS.md), a key session can.  After
 * a restart without loss the kernel still names the process that made the
 * socket; the daemon's own pid comes from its reply. */
static int cmd_ping(void)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int s = connect_kind(ESEM_HELLO_CLIENT, path, sizeof path);
    if (s < 0)
        return 1;
    struct ucred cr;
    socklen_t l = sizeof cr;
    int r = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l);
    close(s);
    if (r < 0) {
        fprintf(stderr, "esemctl: ping: %s\n", strerror(errno));
        return 1;
    }
    pid_t pid = daemon_pid > 0 ? daemon_pid : cr.pid;
    if (json)
        printf("{\"socket\":\"%s\",\"pid\":%d,\"uid\":%u,\"socket_pid\":%d}\n", path,
               (int)pid, (unsigned)cr.uid, (int)cr.pid);
    else if (pid != cr.pid)
        printf("esemd at %s: pid %d, uid %u (restarted without loss; the socket was made by "
               "pid %d)\n", path, (int)pid, (unsigned)cr.uid, (int)cr.pid);
    else
        printf("esemd at %s: pid %d, uid %u\n", path, (int)pid, (unsigned)cr.uid);
    return 0;
}

static int request(int s, uint32_t type, const char *name)
{
    struct esem_admin_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    if (name) {
        while (*name == '/')
            name++;
        size_t n = strlen(name);
        if (n >= ESEM_NAME_BUF) {
            fprintf(stderr, "esemctl: name too long\n");
            return -1;
        }
        memcpy(m.name, name, n);
        m.name_len = (uint32_t)n;
    }
    return send(s, &m, sizeof m, 0) == (ssize_t)sizeof m ? 0 : -1;
}

static int next_msg(int s, struct esem_admin_msg *m)
{
    ssize_t n = recv(s, m, sizeof *m, 0);
    if (n != (ssize_t)sizeof *m) {
        fprintf(stderr, "esemctl: connection to esemd lost\n");
        return -1;
    }
    return 0;
}

static const char *owner(uint32_t uid, char *buf, size_t len)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "%u", uid);
    return buf;
}

static void label(const struct core_sem_info *i, char *buf, size_t len)
{
    if (i->flags & CORE_SEMF_SYSV)
        snprintf(buf, len, "sysv:%u[%u]", i->semid, i->nsems);
    else if (i->flags & CORE_SEMF_NAMED)
        snprintf(buf, len, "/%.*s%s", (int)i->name_len, i->name,
                 (i->flags & CORE_SEMF_UNLINKED) ? " (unlinked)" : "");
    else
        snprintf(buf, len, "#%llx", (unsigned long long)i->handle);
}

static void print_sem_json(const struct core_sem_info *i)
{
    printf("{\"id\":\"#%llx\",\"name\":", (unsigned long long)i->handle);
    if (i->flags & CORE_SEMF_NAMED) {
        char nb[ESEM_NAME_BUF + 1];
        nb[0] = '/';
        memcpy(nb + 1, i->name, i->name_len);
        json_str(nb, i->name_len + 1);
    } else {
        printf("null");
    }
    printf(",\"kind\":\"%s\",\"unlinked\":%s,\"value\":%u,\"waiters\":%u,\"opens\":%u,"
           "\"uid\":%u,\"gid\":%u,\"mode\":\"%04o\",\"posts\":%llu,\"waits\":%llu,"
           "\"blocks\":%llu,\"cancels\":%llu,\"retries\":%llu,\"handoffs\":%llu",
           (i->flags & CORE_SEMF_SYSV)    ? "sysv"
           : (i->flags & CORE_SEMF_NAMED) ? "named"
                                          : "anonymous",
           (i->flags & CORE_SEMF_UNLINKED) ? "true" : "false", i->value, i->nwaiters,
           i->open_count, i->uid, i->gid, i->mode, (unsigned long long)i->posts,
           (unsigned long long)i->waits, (unsigned long long)i->blocks,
           (unsigned long long)i->cancels, (unsigned long long)i->retries,
           (unsigned long long)i->handoffs);
    printf(",\"policy\":\"%s\",\"owner_key\":", (i->flags & CORE_SEMF_STRICT) ? "strict" : "posix");
    if (i->owner_key)
        printf("\"%016llx\"", (unsigned long long)i->owner_key);
    else
        printf("null");
    printf(",\"owner_pid\":%u,\"acl_entries\":%u", i->owner_pid, i->nacl);
    if (i->flags & CORE_SEMF_SYSV)
        printf(",\"semid\":%u,\"key\":\"0x%08x\",\"nsems\":%u", i->semid, (unsigned)i->key,
               i->nsems);
}

/* "policy" line of show: who owns a strict semaphore. */
static void print_policy(const struct core_sem_info *i)
{
    if (!(i->flags & CORE_SEMF_STRICT))
        printf("policy     posix\n");
    else if (i->owner_key)
        printf("policy     strict (owner: key %016llx)\n", (unsigned long long)i->owner_key);
    else
        printf("policy     strict (owner: process %u and its fork children)\n", i->owner_pid);
    printf("acl        %u entr%s\n", i->nacl, i->nacl == 1 ? "y" : "ies");
}

/* Every object esemd holds: head() once connected (a refused connection
 * prints only its error), then one row() call each (n: rows printed so
 * far, which row() raises when it prints); 0, or 1 if the listing broke
 * off. */
static int list_objects(void (*head)(void), int (*row)(const struct core_sem_info *i, int n),
                        int *n)
{
    int s = admin_connect();
    if (s < 0 || request(s, ESEM_ADM_LIST, NULL) < 0)
        return 1;
    head();
    struct esem_admin_msg m;
    while (next_msg(s, &m) == 0 && m.type == ESEM_ADM_SEM)
        *n += row(&m.sem, *n);
    close(s);
    return m.type == ESEM_ADM_END ? 0 : 1;
}

static int ls_row(const struct core_sem_info *i, int n)
{
    if (json) {
        printf(n ? "," : "");
        print_sem_json(i);
        printf("}");
    } else {
        char lb[ESEM_NAME_BUF + 16], ob[64];
        label(i, lb, sizeof lb);
        printf("%-32s %10u %8u %6u %-10s %04o\n", lb, i->value, i->nwaiters, i->open_count,
               owner(i->uid, ob, sizeof ob), i->mode);
    }
    return 1;
}

static void ls_head(void)
{
    if (json)
        printf("[");
    else
        printf("%-32s %10s %8s %6s %-10s %5s\n", "NAME/ID", "VALUE", "WAITERS", "OPENS", "OWNER",
               "MODE");
}

static int cmd_ls(void)
{
    int n = 0;
    int rc = list_objects(ls_head, ls_row, &n);
    if (rc == 0 && json)
        printf("]\n");
    else if (rc == 0 && !n)
        printf("(no semaphores)\n");
    return rc;
}

static int cmd_show(const char *name)
{
    int s = admin_connect();
    if (s < 0 || request(s, ESEM_ADM_SHOW, name) < 0)
        return 1;
    struct esem_admin_msg m;
    int nh = 0, nw = 0, found = 0;
    while (next_msg(s, &m) == 0 && m.type != ESEM_ADM_END) {
        if (m.type == ESEM_ADM_SEM) {
            found = 1;
            if (json) {
                print_sem_json(&m.sem);
                printf(",\"holders\":[");
            } else {
                char lb[ESEM_NAME_BUF + 16], ob[64];
                label(&m.sem, lb, sizeof lb);
                printf("semaphore  %s\nid         #%llx\nkind       %s\nvalue      %u\n"
                       "waiters    %u\nopens      %u\nowner      %s (uid %u, gid %u)\n"
                       "mode       %04o\nposts      %llu\nwaits      %llu\nblocked    %llu\n"
                       "cancelled  %llu\nretried    %llu (woken waiters that asked again)\n"
                       "handed    %llu (posts granted outright to a long waiter)\n",
                       lb, (unsigned long long)m.sem.handle,
                       (m.sem.flags & CORE_SEMF_NAMED) ? "named" : "anonymous", m.sem.value,
                       m.sem.nwaiters, m.sem.open_count, owner(m.sem.uid, ob, sizeof ob),
                       m.sem.uid, m.sem.gid, m.sem.mode, (unsigned long long)m.sem.posts,
                       (unsigned long long)m.sem.waits, (unsigned long long)m.sem.blocks,
                       (unsigned long long)m.sem.cancels, (unsigned long long)m.sem.retries,
                       (unsigned long long)m.sem.handoffs);
                print_policy(&m.sem);
            }
        } else if (m.type == ESEM_ADM_HOLDER) {
            if (json)
                printf("%s{\"pid\":%u,\"opens\":%u}", nh ? "," : "", m.pid, m.count);
            else
                printf("%s pid %u (%u open%s)\n", nh ? "          " : "held by   ", m.pid,
                       m.count, m.count == 1 ? "" : "s");
            nh++;
        } else if (m.type == ESEM_ADM_WAITER) {
            if (json)
                printf("%s%s{\"pid\":%u,\"slot\":%u,\"prio\":%d}", nw ? "" : "],\"waiters\":[",
                       nw ? "," : "", m.pid, m.count, m.prio);
            else
                printf("%s pid %u (slot %u, prio %d)\n", nw ? "          " : "waiting   ", m.pid,
                       m.count, m.prio);
            nw++;
        }
    }
    close(s);
    if (m.type != ESEM_ADM_END)
        return 1;
    if (!found) {
        fprintf(stderr, "esemctl: %s: no such semaphore\n", name);
        return 1;
    }
    if (json)
        printf("%s]}\n", nw ? "" : "],\"waiters\":[");
    else if (!nw)
        printf("waiting    (none)\n");
    return 0;
}

/* The core's statuses by -status (esem_core.h), as esemctl prints them. */
static const char *const names[] = {"ok", "invalid", "bad-session", "bad-handle", "not-open",
                                    "noent", "exist", "access", "nametoolong", "overflow",
                                    "again", "nospc", "busy", "nowaiter", "badcall", "perm", "auth",
                                    "norand", "range", "2big", "fbig", "idrm", "quota"};
_Static_assert(sizeof names / sizeof names[0] == -CORE_E_MIN + 1, "one name per core status");

/* The Prometheus text format (node_exporter's textfile collector). */
static void stats_prometheus(const struct esem_admin_msg *m)
{
    const struct core_stats *st = &m->stats;
    static const struct {
        const char *name, *help;
        int counter;
    } g[] = {
        {"esem_uptime_seconds", "seconds since esemd started", 0},
        {"esem_clients", "client processes connected", 0},
        {"esem_workers", "worker threads", 0},
        {"esem_semaphores", "semaphores and System V sets held", 0},
        {"esem_semaphores_max", "size of the semaphore table", 0},
        {"esem_sessions", "sessions open in the core", 0},
        {"esem_open_records", "(session, semaphore) open records", 0},
        {"esem_waiters", "waits queued", 0},
        {"esem_sysv_sets", "System V sets", 0},
        {"esem_sysv_semaphores", "semaphores in System V sets", 0},
        {"esem_sysv_undo_records", "SEM_UNDO records", 0},
        {"esem_arena_bytes", "bytes of the core's arena", 0},
        {"esem_operations_total", "operations the core carried out", 1},
        {"esem_grants_reposted_total", "grants whose waiter died before taking them, posted again", 1},
        {"esem_grants_consumed_total", "such grants of key sessions, consumed", 1},
    };
    const double v[] = {(double)m->uptime_ms / 1000.0, m->nclients, m->nworkers,
                        st->sems_in_use, st->max_sems, st->sessions_in_use, st->opens_in_use,
                        st->waiters_in_use, st->sets_in_use, st->set_sems_in_use,
                        st->undos_in_use, (double)st->arena_bytes, (double)st->ops_ok,
                        (double)m->reposted, (double)m->consumed};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        printf("# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", g[i].name, g[i].help, g[i].name,
               g[i].counter ? "counter" : "gauge", g[i].name, v[i]);
    printf("# HELP esem_refusals_total requests the core refused, by status\n"
           "# TYPE esem_refusals_total counter\n");
    for (int i = 1; i <= -CORE_E_MIN; i++)
        printf("esem_refusals_total{status=\"%s\"} %llu\n", names[i],
               (unsigned long long)st->refused[i]);
}

static int cmd_stats(const char *format)
{
    if (format && strcmp(format, "prometheus") && strcmp(format, "text") &&
        strcmp(format, "json")) {
        fprintf(stderr, "esemctl stats: --format is text, json or prometheus\n");
        return 2;
    }
    int s = admin_connect();
    struct esem_admin_msg m;
    if (s < 0 || request(s, ESEM_ADM_STATS, NULL) < 0 || next_msg(s, &m) < 0 ||
        m.type != ESEM_ADM_STATSREC)
        return 1;
    close(s);
    const struct core_stats *st = &m.stats;
    if (format && strcmp(format, "prometheus") == 0) {
        stats_prometheus(&m);
        return 0;
    }
    if (json || (format && strcmp(format, "json") == 0)) {
        printf("{\"uptime_ms\":%llu,\"clients\":%u,\"workers\":%u,\"semaphores\":%u,"
               "\"max_semaphores\":%u,\"sessions\":%u,\"opens\":%u,\"waiters\":%u,"
               "\"arena_bytes\":%llu,\"bytes_per_semaphore\":%u,\"ops_ok\":%llu,"
               "\"grants_reposted\":%llu,\"grants_consumed\":%llu,\"errors\":{",
               (unsigned long long)m.uptime_ms, m.nclients, m.nworkers, st->sems_in_use,
               st->max_sems, st->sessions_in_use, st->opens_in_use, st->waiters_in_use,
               (unsigned long long)st->arena_bytes, st->sem_bytes,
               (unsigned long long)st->ops_ok, (unsigned long long)m.reposted,
               (unsigned long long)m.consumed);
        for (int i = 1; i <= -CORE_E_MIN; i++)
            printf("%s\"%s\":%llu", i > 1 ? "," : "", names[i],
                   (unsigned long long)st->refused[i]);
        printf("}}\n");
        return 0;
    }
    printf("uptime            %llu.%03llu s\nclients           %u\nworkers           %u\n"
           "semaphores        %u of %u\nsessions          %u\nopen records      %u\n"
           "queued waiters    %u\ncore arena        %llu bytes (%u per semaphore object)\n"
           "operations ok     %llu\ngrants re-posted  %llu (their waiter died first; key "
           "sessions' consumed: %llu)\n",
           (unsigned long long)m.uptime_ms / 1000, (unsigned long long)m.uptime_ms % 1000,
           m.nclients, m.nworkers, st->sems_in_use, st->max_sems, st->sessions_in_use,
           st->opens_in_use, st->waiters_in_use, (unsigned long long)st->arena_bytes,
           st->sem_bytes, (unsigned long long)st->ops_ok, (unsigned long long)m.reposted,
           (unsigned long long)m.consumed);
    for (int i = 1; i <= -CORE_E_MIN; i++)
        if (st->refused[i])
            printf("error %-12s%llu\n", names[i], (unsigned long long)st->refused[i]);
    return 0;
}

static int cmd_audit(void)
{
    int s = admin_connect();
    if (s < 0 || request(s, ESEM_ADM_AUDIT, NULL) < 0)
        return 1;
    struct esem_admin_msg m;
    int n = 0;
    if (json)
        printf("[");
    else
        printf("%-24s %8s %6s %-14s %-13s %s\n", "TIME (UTC)", "PID", "UID", "ERRNO", "CORE",
               "REFUSED");
    while (next_msg(s, &m) == 0 && m.type == ESEM_ADM_AUDITREC) {
        char ts[32], when[40];
        time_t sec = (time_t)(m.uptime_ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when, sizeof when, "%s.%03uZ", ts, (unsigned)(m.uptime_ms % 1000));
        const char *errname = strerrorname_np(m.prio);
        const char *core = m.err < 0 && m.err >= CORE_E_MIN ? names[-m.err] : "-";
        if (json) {
            printf("%s{\"time\":\"%s\",\"pid\":%d,\"uid\":%u,\"errno\":\"%s\","
                   "\"core\":",
                   n ? "," : "", when, (int)m.pid, m.count, errname ? errname : "?");
            json_str(core, strlen(core));
            printf(",\"refused\":");
            json_str(m.name, m.name_len < ESEM_NAME_BUF ? m.name_len : 0);
            printf("}");
        } else {
            printf("%-24s %8d %6u %-14s %-13.13s %.*s\n", when, (int)m.pid, m.count,
                   errname ? errname : "?", core, (int)(m.name_len < ESEM_NAME_BUF ? m.name_len : 0),
                   m.name);
        }
        n++;
    }
    if (json)
        printf("]\n");
    else if (!n)
        printf("(no refusals)\n");
    close(s);
    return m.type == ESEM_ADM_END ? 0 : 1;
}

static int cmd_stop(void)
{
    int s = admin_connect();
    struct esem_admin_msg m;
    if (s < 0 || request(s, ESEM_ADM_SHUTDOWN, NULL) < 0 || next_msg(s, &m) < 0)
        return 1;
    close(s);
    if (m.err) {
        fprintf(stderr, "esemctl: stop refused: %s\n", strerror(m.err));
        return 1;
    }
    return 0;
}

static int cmd_rm(int argc, char **argv)
{
    int rc = 0;
    if (sock_opt)
        setenv("ESEM_SOCKET", sock_opt, 1);
    for (int i = 0; i < argc; i++) {
        if (esem_unlink(argv[i]) < 0) {
            fprintf(stderr, "esemctl: rm %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        }
    }
    return rc;
}

/* ---- top: a live view of the busiest semaphores ---- */

struct topent {
    struct core_sem_info info;
    uint64_t ops, prev; /* posts + waits + blocks now, and at the last sample */
    int seen;
};

static struct topent *top_tab;
static size_t top_n, top_cap;
static uint64_t top_waiters;

static int top_row(const struct core_sem_info *i, int n)
{
    (void)n;
    uint64_t ops = i->posts + i->waits + i->blocks;
    for (size_t k = 0; k < top_n; k++) {
        if (top_tab[k].info.handle == i->handle) {
            top_tab[k].info = *i;
            top_tab[k].ops = ops;
            top_tab[k].seen = 1;
            top_waiters += i->nwaiters;
            return 1;
        }
    }
    if (top_n == top_cap) {
        size_t cap = top_cap ? top_cap * 2 : 256;
        struct topent *t = realloc(top_tab, cap * sizeof *t);
        if (!t)
            return 0;
        top_tab = t;
        top_cap = cap;
    }
    top_tab[top_n++] = (struct topent){.info = *i, .ops = ops, .prev = ops, .seen = 1};
    top_waiters += i->nwaiters;
    return 1;
}

static void top_head(void) {}

static int top_cmp(const void *a, const void *b)
{
    const struct topent *x = a, *y = b;
    uint64_t dx = x->ops - x->prev, dy = y->ops - y->prev;
    if (dx != dy)
        return dx < dy ? 1 : -1;
    return x->info.nwaiters < y->info.nwaiters ? 1 : x->info.nwaiters > y->info.nwaiters ? -1 : 0;
}

/* esemctl top [--interval S] [--count N] [--limit K] */
static int cmd_top(int argc, char **argv)
{
    double interval = 1.0;
    long count = 0, limit = 20;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--interval=", 11) == 0)
            interval = atof(argv[i] + 11);
        else if (strncmp(argv[i], "--count=", 8) == 0)
            count = atol(argv[i] + 8);
        else if (strncmp(argv[i], "--limit=", 8) == 0)
            limit = atol(argv[i] + 8);
        else {
            fprintf(stderr, "esemctl top: [--interval=S] [--count=N] [--limit=K]\n");
            return 2;
        }
    }
    if (interval < 0.05)
        interval = 0.05;
    int tty = isatty(1);
    for (long round = 0; count == 0 || round < count; round++) {
        for (size_t k = 0; k < top_n; k++)
            top_tab[k].seen = 0;
        top_waiters = 0;
        int n = 0;
        if (list_objects(top_head, top_row, &n) != 0)
            return 1;
        size_t live = 0; /* drop what is gone */
        for (size_t k = 0; k < top_n; k++)
            if (top_tab[k].seen)
                top_tab[live++] = top_tab[k];
        top_n = live;
        qsort(top_tab, top_n, sizeof *top_tab, top_cmp);
        uint64_t total = 0;
        for (size_t k = 0; k < top_n; k++)
            total += top_tab[k].ops - top_tab[k].prev;
        if (tty)
            printf("\033[H\033[2J");
        printf("esem top: %zu semaphores and sets, %llu waiting, %.0f operations/s%s\n"
               "%-32s %10s %8s %10s %12s %12s\n",
               top_n, (unsigned long long)top_waiters, round ? (double)total / interval : 0.0,
               round ? "" : " (first sample)", "NAME/ID", "VALUE", "WAITERS", "OPS/S", "POSTS",
               "WAITS");
        for (size_t k = 0; k < top_n && (long)k < limit; k++) {
            const struct topent *t = &top_tab[k];
            char lb[ESEM_NAME_BUF + 16];
            label(&t->info, lb, sizeof lb);
            printf("%-32s %10u %8u %10.0f %12llu %12llu\n", lb, t->info.value, t->info.nwaiters,
                   round ? (double)(t->ops - t->prev) / interval : 0.0,
                   (unsigned long long)t->info.posts, (unsigned long long)t->info.waits);
        }
        fflush(stdout);
        for (size_t k = 0; k < top_n; k++)
            top_tab[k].prev = top_tab[k].ops;
        if (count == 0 || round + 1 < count) {
            struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    free(top_tab);
    return 0;
}

/* ---- System V ---- */

static int ipcs_row(const struct core_sem_info *i, int n)
{
    if (!(i->flags & CORE_SEMF_SYSV))
        return 0;
    char ob[64];
    if (json)
        printf("%s{\"key\":\"0x%08x\",\"semid\":%u,\"uid\":%u,\"mode\":\"%03o\","
               "\"nsems\":%u,\"policy\":\"%s\",\"waiters\":%u}",
               n ? "," : "", (unsigned)i->key, i->semid, i->uid, i->mode, i->nsems,
               (i->flags & CORE_SEMF_STRICT) ? "strict" : "posix", i->nwaiters);
    else
        printf("0x%08x %-10u %-10s %-10o %-10u\n", (unsigned)i->key, i->semid,
               owner(i->uid, ob, sizeof ob), i->mode, i->nsems);
    return 1;
}

static void ipcs_head(void)
{
    if (json)
        printf("[");
    else
        printf("------ esem semaphore arrays ------\n%-10s %-10s %-10s %-10s %-10s\n", "key",
               "semid", "owner", "perms", "nsems");
}

static int cmd_ipcs(void)
{
    int n = 0;
    int rc = list_objects(ipcs_head, ipcs_row, &n);
    if (rc == 0 && json)
        printf("]\n");
    return rc;
}

static int parse_semid(const char *a, int *id)
{
    char *end;
    errno = 0;
    long v = strtol(a, &end, 0);
    if (errno || *end || v < 0 || v > 0x7fffffffL) {
        fprintf(stderr, "esemctl: %s: not a semid\n", a);
        return -1;
    }
    *id = (int)v;
    return 0;
}

static int cmd_ipcs_one(const char *arg)
{
    int id;
    if (parse_semid(arg, &id) < 0)
        return 2;
    if (sock_opt)
        setenv("ESEM_SOCKET", sock_opt, 1);
    struct semid_ds ds;
    if (esem_semctl(id, 0, IPC_STAT, &ds) < 0) {
        fprintf(stderr, "esemctl: ipcs %s: %s\n", arg, strerror(errno));
        return 1;
    }
    unsigned short *v = calloc(ds.sem_nsems ? ds.sem_nsems : 1, sizeof *v);
    if (!v || esem_semctl(id, 0, GETALL, v) < 0) {
        fprintf(stderr, "esemctl: ipcs %s: %s\n", arg, strerror(v ? errno : ENOMEM));
        free(v);
        return 1;
    }
    char ob[64];
    if (json)
        printf("{\"semid\":%d,\"key\":\"0x%08x\",\"uid\":%u,\"cuid\":%u,\"mode\":\"%03o\","
               "\"otime\":%lld,\"ctime\":%lld,\"sems\":[",
               id, (unsigned)ds.sem_perm.__key, ds.sem_perm.uid, ds.sem_perm.cuid,
               ds.sem_perm.mode & 0777u, (long long)ds.sem_otime, (long long)ds.sem_ctime);
    else
        printf("semid %d key 0x%08x owner %s mode %03o nsems %lu\n%-10s %-10s %-10s %-10s %-10s\n",
               id, (unsigned)ds.sem_perm.__key, owner(ds.sem_perm.uid, ob, sizeof ob),
               ds.sem_perm.mode & 0777u, (unsigned long)ds.sem_nsems, "semnum", "value", "ncount",
               "zcount", "pid");
    for (unsigned long k = 0; k < ds.sem_nsems; k++) {
        int nc = esem_semctl(id, (int)k, GETNCNT), zc = esem_semctl(id, (int)k, GETZCNT),
            pid = esem_semctl(id, (int)k, GETPID);
        if (json)
            printf("%s{\"value\":%u,\"ncount\":%d,\"zcount\":%d,\"pid\":%d}", k ? "," : "",
                   v[k], nc, zc, pid);
        else
            printf("%-10lu %-10u %-10d %-10d %-10d\n", k, v[k], nc, zc, pid);
    }
    if (json)
        printf("]}\n");
    free(v);
    return 0;
}

static int cmd_ipcrm(int argc, char **argv)
{
    int rc = 0;
    if (sock_opt)
        setenv("ESEM_SOCKET", sock_opt, 1);
    for (int i = 0; i < argc; i++) {
        int id;
        if (parse_semid(argv[i], &id) < 0) {
            rc = 1;
            continue;
        }
        if (esem_semctl(id, 0, IPC_RMID) < 0) {
            fprintf(stderr, "esemctl: ipcrm %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        }
    }
    return rc;
}

/* esemctl restart [--esemd PATH] [-- ESEMD-OPTIONS]: a new esemd takes
 * the running one's state over (restart without loss). */
static int cmd_restart(int argc, char **argv)
{
    const char *esemd_opt = NULL;
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--esemd") == 0 && i + 1 < argc) {
            esemd_opt = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "usage: esemctl restart [--esemd PATH] [-- ESEMD-OPTIONS]\n");
            return 2;
        }
    }
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int s = connect_kind(ESEM_HELLO_CLIENT, path, sizeof path);
    if (s < 0)
        return 1;
    close(s);
    pid_t old = daemon_pid;
    const char *esemd = restart_esemd(esemd_opt);
    int rc = restart_run(esemd, old, path, strcmp(path, ESEM_SYSTEM_SOCKET) == 0, argc - i,
                         argv + i);
    if (rc != 0) {
        fprintf(stderr, "esemctl: restart: %s --takeover failed (status %d); the running esemd "
                "(pid %d) serves on unless its log says otherwise\n", esemd, rc, (int)old);
        return 1;
    }
    if ((s = connect_kind(ESEM_HELLO_CLIENT, path, sizeof path)) < 0)
        return 1;
    close(s);
    if (json)
        printf("{\"socket\":\"%s\",\"old_pid\":%d,\"pid\":%d}\n", path, (int)old,
               (int)daemon_pid);
    else
        printf("esemd at %s restarted without loss: pid %d -> %d\n", path, (int)old,
               (int)daemon_pid);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"socket", required_argument, 0, 's'},
                                          {"system", no_argument, 0, 'Y'},
                                          {"json", no_argument, 0, 'j'},
                                          {"help", no_argument, 0, 'h'},
                                          {"version", no_argument, 0, 'V'},
                                          {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "+s:jhV", opts, NULL)) != -1) {
        switch (o) {
        case 's': sock_opt = optarg; break;
        case 'Y': sock_opt = ESEM_SYSTEM_SOCKET; break; /* the system-wide esemd */
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("esemctl " ESEM_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    /* allow options after the command too: "esemctl ls --json" */
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    if (strcmp(cmd, "ls") == 0 && optind == argc)
        return cmd_ls();
    if (strcmp(cmd, "show") == 0 && optind + 1 == argc)
        return cmd_show(argv[optind]);
    if (strcmp(cmd, "rm") == 0 && optind < argc)
        return cmd_rm(argc - optind, argv + optind);
    if (strcmp(cmd, "ipcs") == 0 && optind == argc)
        return cmd_ipcs();
    if (strcmp(cmd, "ipcs") == 0 && optind + 1 == argc)
        return cmd_ipcs_one(argv[optind]);
    if (strcmp(cmd, "ipcrm") == 0 && optind < argc)
        return cmd_ipcrm(argc - optind, argv + optind);
    if (strcmp(cmd, "ping") == 0 && optind == argc)
        return cmd_ping();
    if (strcmp(cmd, "stats") == 0 && optind == argc)
        return cmd_stats(NULL);
    if (strcmp(cmd, "stats") == 0 && optind + 1 == argc &&
        strncmp(argv[optind], "--format=", 9) == 0)
        return cmd_stats(argv[optind] + 9);
    if (strcmp(cmd, "top") == 0)
        return cmd_top(argc - optind, argv + optind);
    if (strcmp(cmd, "restart") == 0)
        return cmd_restart(argc - optind, argv + optind);
    if (strcmp(cmd, "stop") == 0 && optind == argc)
        return cmd_stop();
    if (strcmp(cmd, "audit") == 0 && optind == argc)
        return cmd_audit();
    if ((strcmp(cmd, "grant") == 0 || strcmp(cmd, "revoke") == 0) && optind + 3 == argc)
        return cmd_acl(cmd[0] == 'r', argv[optind], argv[optind + 1], argv[optind + 2], sock_opt);
    if (strcmp(cmd, "keygen") == 0 && optind + 1 == argc)
        return cmd_keygen(argv[optind], json);
    if (strcmp(cmd, "keyid") == 0 && optind + 1 == argc)
        return cmd_keyid(argv[optind], json);
    usage(stderr);
    return 2;
}
