/*
 * esemctl — look at and manage the semaphores esemd holds (like ipcs/ipcrm).
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "esem.h"
#include "proto.h"
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
               "  stats         daemon and core counters\n"
               "  audit         the last refused requests (up to 1024), oldest first\n"
               "  stop          ask esemd to shut down\n"
               "The socket is --socket, else " ESEM_SYSTEM_SOCKET " with --system, else\n"
               "$ESEM_SOCKET, else " ESEM_SYSTEM_SOCKET " if $ESEM_SYSTEM is 1, else the\n"
               "per-user default.\n");
}

static int admin_connect(void)
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
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_ADMIN};
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    if (send(s, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        recv(s, &rep, sizeof rep, 0) != (ssize_t)sizeof rep || rep.err) {
        fprintf(stderr, "esemctl: esemd refused the connection%s%s\n", rep.err ? ": " : "",
                rep.err ? strerror(rep.err) : "");
        close(s);
        return -1;
    }
    return s;
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

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
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
    if (i->flags & CORE_SEMF_NAMED)
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
           "\"blocks\":%llu,\"cancels\":%llu",
           (i->flags & CORE_SEMF_NAMED) ? "named" : "anonymous",
           (i->flags & CORE_SEMF_UNLINKED) ? "true" : "false", i->value, i->nwaiters,
           i->open_count, i->uid, i->gid, i->mode, (unsigned long long)i->posts,
           (unsigned long long)i->waits, (unsigned long long)i->blocks,
           (unsigned long long)i->cancels);
}

static int cmd_ls(void)
{
    int s = admin_connect();
    if (s < 0 || request(s, ESEM_ADM_LIST, NULL) < 0)
        return 1;
    struct esem_admin_msg m;
    int n = 0;
    if (json)
        printf("[");
    else
        printf("%-32s %10s %8s %6s %-10s %5s\n", "NAME/ID", "VALUE", "WAITERS", "OPENS", "OWNER",
               "MODE");
    while (next_msg(s, &m) == 0 && m.type == ESEM_ADM_SEM) {
        if (json) {
            printf(n ? "," : "");
            print_sem_json(&m.sem);
            printf("}");
        } else {
            char lb[ESEM_NAME_BUF + 16], ob[64];
            label(&m.sem, lb, sizeof lb);
            printf("%-32s %10u %8u %6u %-10s %04o\n", lb, m.sem.value, m.sem.nwaiters,
                   m.sem.open_count, owner(m.sem.uid, ob, sizeof ob), m.sem.mode);
        }
        n++;
    }
    if (json)
        printf("]\n");
    else if (!n)
        printf("(no semaphores)\n");
    close(s);
    return m.type == ESEM_ADM_END ? 0 : 1;
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
                       "cancelled  %llu\n",
                       lb, (unsigned long long)m.sem.handle,
                       (m.sem.flags & CORE_SEMF_NAMED) ? "named" : "anonymous", m.sem.value,
                       m.sem.nwaiters, m.sem.open_count, owner(m.sem.uid, ob, sizeof ob),
                       m.sem.uid, m.sem.gid, m.sem.mode, (unsigned long long)m.sem.posts,
                       (unsigned long long)m.sem.waits, (unsigned long long)m.sem.blocks,
                       (unsigned long long)m.sem.cancels);
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
                                    "again", "nospc", "busy", "nowaiter", "badcall", "perm"};

static int cmd_stats(void)
{
    int s = admin_connect();
    struct esem_admin_msg m;
    if (s < 0 || request(s, ESEM_ADM_STATS, NULL) < 0 || next_msg(s, &m) < 0 ||
        m.type != ESEM_ADM_STATSREC)
        return 1;
    close(s);
    const struct core_stats *st = &m.stats;
    if (json) {
        printf("{\"uptime_ms\":%llu,\"clients\":%u,\"workers\":%u,\"semaphores\":%u,"
               "\"max_semaphores\":%u,\"sessions\":%u,\"opens\":%u,\"waiters\":%u,"
               "\"arena_bytes\":%llu,\"bytes_per_semaphore\":%u,\"ops_ok\":%llu,\"errors\":{",
               (unsigned long long)m.uptime_ms, m.nclients, m.nworkers, st->sems_in_use,
               st->max_sems, st->sessions_in_use, st->opens_in_use, st->waiters_in_use,
               (unsigned long long)st->arena_bytes, st->sem_bytes,
               (unsigned long long)st->ops_ok);
        for (int i = 1; i <= -CORE_E_MIN; i++)
            printf("%s\"%s\":%llu", i > 1 ? "," : "", names[i],
                   (unsigned long long)st->refused[i]);
        printf("}}\n");
        return 0;
    }
    printf("uptime            %llu.%03llu s\nclients           %u\nworkers           %u\n"
           "semaphores        %u of %u\nsessions          %u\nopen records      %u\n"
           "queued waiters    %u\ncore arena        %llu bytes (%u per semaphore object)\n"
           "operations ok     %llu\n",
           (unsigned long long)m.uptime_ms / 1000, (unsigned long long)m.uptime_ms % 1000,
           m.nclients, m.nworkers, st->sems_in_use, st->max_sems, st->sessions_in_use,
           st->opens_in_use, st->waiters_in_use, (unsigned long long)st->arena_bytes,
           st->sem_bytes, (unsigned long long)st->ops_ok);
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"socket", required_argument, 0, 's'},
                                          {"system", no_argument, 0, 'Y'},
                                          {"json", no_argument, 0, 'j'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
        switch (o) {
        case 's': sock_opt = optarg; break;
        case 'Y': sock_opt = ESEM_SYSTEM_SOCKET; break; /* the system-wide esemd */
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
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
    if (strcmp(cmd, "stats") == 0 && optind == argc)
        return cmd_stats();
    if (strcmp(cmd, "stop") == 0 && optind == argc)
        return cmd_stop();
    if (strcmp(cmd, "audit") == 0 && optind == argc)
        return cmd_audit();
    usage(stderr);
    return 2;
}
