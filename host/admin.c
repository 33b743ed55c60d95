/*
 * esemctl's protocol: list and show semaphores (only those the caller may
 * see), stats, the audit ring, shutdown.  Each admin connection has a
 * thread; the send timeout bounds how long a reader that stopped reading
 * can hold it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "dataplane.h"
#include "serve.h"
#include "log.h"
#include "util.h"

static int admin_send(struct client *c, struct esem_admin_msg *m)
{
    return send(c->sock, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

static void admin_members(struct client *c, core_id_t h, uint32_t call, uint32_t type)
{
    struct core_sem_member_args a = {.handle = h, .cursor = 0};
    for (int guard = 0; guard < 1000000; guard++) {
        pthread_mutex_lock(&esemd.core_mu);
        int32_t st = core_ecall(esemd.core, call, &a, sizeof a);
        pthread_mutex_unlock(&esemd.core_mu);
        if (st != CORE_OK || !a.found)
            return;
        struct esem_admin_msg m;
        memset(&m, 0, sizeof m);
        m.type = type;
        m.pid = a.pid;
        m.count = a.count;
        m.prio = a.prio;
        if (admin_send(c, &m) < 0 || a.next == 0xffffffffu)
            return;
        a.cursor = a.next;
    }
}

static void admin_acl(struct client *c, core_id_t h)
{
    struct core_sem_acl_args a = {.handle = h, .cursor = 0};
    for (int guard = 0; guard < 1000000; guard++) {
        pthread_mutex_lock(&esemd.core_mu);
        int32_t st = core_ecall(esemd.core, CORE_ECALL_SEM_ACL, &a, sizeof a);
        pthread_mutex_unlock(&esemd.core_mu);
        if (st != CORE_OK || !a.found)
            return;
        struct esem_admin_msg m;
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_ACL;
        m.who = a.who;
        m.allow = a.allow;
        m.deny = a.deny;
        if (admin_send(c, &m) < 0 || a.next == 0xffffffffu)
            return;
        a.cursor = a.next;
    }
}

/* Who may see a semaphore in `esemctl ls|show`: its owning uid, root, and
 * the daemon's own user (a system daemon's users do not see each other's). */
static int admin_may_see(const struct client *c, const struct core_sem_info *si)
{
    return c->uid == 0 || c->uid == geteuid() || c->uid == si->uid;
}

/* Serve one admin request; -1 ends the connection. */
static int admin_request(struct client *c)
{
    struct esem_admin_msg req, m;
    ssize_t n = recv(c->sock, &req, sizeof req, MSG_TRUNC);
    if (n != (ssize_t)sizeof req) {
        if (n > 0)
            esemd_refusal(c, "admin (malformed)", CORE_E_BADCALL);
        return -1;
    }
    memset(&m, 0, sizeof m);
    switch (req.type) {
    case ESEM_ADM_LIST:
    case ESEM_ADM_SHOW: {
        uint32_t nl = req.name_len < ESEM_NAME_BUF ? req.name_len : 0;
        struct core_sem_info_args a;
        memset(&a, 0, sizeof a);
        int shown = 0;
        for (;;) {
            pthread_mutex_lock(&esemd.core_mu);
            core_ecall(esemd.core, CORE_ECALL_SEM_INFO, &a, sizeof a);
            pthread_mutex_unlock(&esemd.core_mu);
            if (!a.found)
                break;
            a.cursor = a.next;
            if (!admin_may_see(c, &a.info))
                continue;
            if (req.type == ESEM_ADM_SHOW) {
                /* match by name, or by id ("#<handle>") for anonymous ones */
                char idbuf[32];
                snprintf(idbuf, sizeof idbuf, "#%llx", (unsigned long long)a.info.handle);
                int byname = (a.info.flags & CORE_SEMF_NAMED) && a.info.name_len == nl &&
                             !(a.info.flags & CORE_SEMF_UNLINKED) &&
                             memcmp(a.info.name, req.name, nl) == 0;
                int byid = nl == strlen(idbuf) && memcmp(idbuf, req.name, nl) == 0;
                if (!byname && !byid)
                    continue;
            }
            memset(&m, 0, sizeof m);
            m.type = ESEM_ADM_SEM;
            m.sem = a.info;
            if (admin_send(c, &m) < 0)
                return -1;
            shown++;
            if (req.type == ESEM_ADM_SHOW) {
                admin_members(c, a.info.handle, CORE_ECALL_SEM_HOLDERS, ESEM_ADM_HOLDER);
                admin_members(c, a.info.handle, CORE_ECALL_SEM_WAITERS, ESEM_ADM_WAITER);
                admin_acl(c, a.info.handle);
                break;
            }
        }
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_END;
        m.err = (req.type == ESEM_ADM_SHOW && !shown) ? ENOENT : 0;
        return admin_send(c, &m);
    }
    case ESEM_ADM_STATS: {
        struct core_stats_args a;
        pthread_mutex_lock(&esemd.core_mu);
        core_ecall(esemd.core, CORE_ECALL_STATS, &a, sizeof a);
        pthread_mutex_unlock(&esemd.core_mu);
        m.type = ESEM_ADM_STATSREC;
        m.stats = a.stats;
        m.uptime_ms = (esem_util_now_ns(CLOCK_MONOTONIC) - esemd.start_ns) / 1000000ull;
        m.reposted = atomic_load(&esemd.reposted);
        m.consumed = atomic_load(&esemd.consumed);
        m.nclients = atomic_load(&esemd.nclients);
        m.nworkers = (uint32_t)esemd.nworkers;
        return admin_send(c, &m);
    }
    case ESEM_ADM_AUDIT: {
        /* oldest first; a record overwritten while we send is skipped */
        uint64_t end = audit_count(), i = end > AUDIT_RING ? end - AUDIT_RING : 0;
        for (; i < end; i++) {
            struct audit_rec r;
            if (audit_get(i, &r) < 0)
                continue;
            memset(&m, 0, sizeof m);
            m.type = ESEM_ADM_AUDITREC;
            m.pid = (uint32_t)r.pid;
            m.count = r.uid;
            m.prio = r.err;
            m.err = r.status;
            m.uptime_ms = r.when_ms;
            m.name_len = (uint32_t)strlen(r.what);
            memcpy(m.name, r.what, m.name_len);
            if (admin_send(c, &m) < 0)
                return -1;
        }
        memset(&m, 0, sizeof m);
        m.type = ESEM_ADM_END;
        return admin_send(c, &m);
    }
    case ESEM_ADM_SHUTDOWN:
        m.type = ESEM_ADM_END;
        if (c->uid != geteuid() && c->uid != 0) {
            m.err = EPERM;
            esemd_refusal(c, "shutdown", CORE_E_PERM);
        } else {
            esemd_log("shutdown requested by pid=%d uid=%u", (int)c->pid, (unsigned)c->uid);
            /* the main loop stops through its signalfd, as for SIGTERM */
            kill(getpid(), SIGTERM);
        }
        return admin_send(c, &m);
    default:
        m.type = ESEM_ADM_END;
        m.err = EINVAL;
        esemd_refusal(c, "admin (unknown request)", CORE_E_BADCALL);
        return admin_send(c, &m);
    }
}

/* The live admin connections, so that a restart without loss can end
 * them (their core sessions are not handed over). */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static struct client **live;
static uint32_t nlive, live_cap;

static int live_add(struct client *c)
{
    pthread_mutex_lock(&live_mu);
    if (nlive == live_cap) {
        uint32_t cap = live_cap ? live_cap * 2 : 16;
        struct client **n = realloc(live, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&live_mu);
            return -1;
        }
        live = n;
        live_cap = cap;
    }
    live[nlive++] = c;
    pthread_mutex_unlock(&live_mu);
    return 0;
}

static void live_remove(struct client *c)
{
    pthread_mutex_lock(&live_mu);
    for (uint32_t i = 0; i < nlive; i++)
        if (live[i] == c) {
            live[i] = live[--nlive];
            break;
        }
    pthread_cond_broadcast(&live_cv);
    pthread_mutex_unlock(&live_mu);
}

void admin_end_all(int timeout_ms)
{
    pthread_mutex_lock(&live_mu);
    for (uint32_t i = 0; i < nlive; i++)
        shutdown(live[i]->sock, SHUT_RDWR); /* its thread reads EOF and ends */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (nlive && pthread_cond_timedwait(&live_cv, &live_mu, &until) == 0)
        ;
    pthread_mutex_unlock(&live_mu);
}

/* An admin connection gets its own thread, so a long listing or a stuck
 * esemctl never stalls the main loop (hellos, death detection).  The send
 * timeout bounds how long a reader that stopped reading can hold it. */
static void admin_end(struct client *c)
{
    if (c->session) {
        uint32_t nw, no, nr;
        serve_session_end(c, &nw, &no, &nr);
    }
    close(c->sock);
    if (c->pidfd >= 0)
        close(c->pidfd);
    live_remove(c); /* (its session is over: admin_end_all may go on) */
    free(c);
}

static void *admin_main(void *arg)
{
    struct client *c = arg;
    while (admin_request(c) == 0)
        ;
    admin_end(c);
    return NULL;
}

void admin_start(struct client *c)
{
    int fl = fcntl(c->sock, F_GETFL);
    fcntl(c->sock, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {5, 0};
    setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){60, 0}, sizeof tv);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (live_add(c) < 0 || pthread_create(&t, &at, admin_main, c) != 0)
        admin_end(c);
    pthread_attr_destroy(&at);
}
