/*
 * esemd --system: one daemon for every local user, started by root, which
 * keeps root only for what needs it (the runtime directory under /run, the
 * socket's group, the locked core arena) and then gives it up for good.
 *
 * Nothing here trusts the daemon user's own directory while root: files in
 * it (lock, log, socket) are created with the daemon user's effective ids,
 * so a planted symbolic link or hard link cannot turn a root open into a
 * write elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"
#include "proc.h"
#include "system.h"
#include "util.h"

int sys_resolve(const char *user, const char *group, struct sys_conf *sc)
{
    memset(sc, 0, sizeof *sc);
    if (geteuid() != 0 || getuid() != 0) {
        fprintf(stderr,
                "esemd: --system must be started as root (uid %u, euid %u); it drops to its "
                "user itself\n",
                (unsigned)getuid(), (unsigned)geteuid());
        return 2;
    }
    if (!user)
        user = ESEM_SYSTEM_USER;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        if (errno)
            fprintf(stderr, "esemd: cannot look up user %s: %s\n", user, strerror(errno));
        else
            fprintf(stderr,
                    "esemd: no user %s; create it first, for example with:\n"
                    "    useradd --system --no-create-home --shell /usr/sbin/nologin %s\n",
                    user, user);
        return 1;
    }
    if (pw->pw_uid == 0 || pw->pw_gid == 0) {
        /* Dropping to root (or root's group) would drop nothing. */
        fprintf(stderr, "esemd: refusing to run as user %s (uid %u, gid %u): it must not be "
                        "root or in group root\n",
                user, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
        return 1;
    }
    snprintf(sc->user, sizeof sc->user, "%s", user);
    sc->uid = pw->pw_uid;
    sc->gid = pw->pw_gid;
    sc->sock_gid = pw->pw_gid;
    if (group) {
        errno = 0;
        struct group *gr = getgrnam(group);
        if (!gr) {
            fprintf(stderr, "esemd: no group %s%s%s\n", group, errno ? ": " : "",
                    errno ? strerror(errno) : "");
            return 1;
        }
        if (gr->gr_gid == 0) {
            fprintf(stderr, "esemd: refusing --group %s: gid 0\n", group);
            return 1;
        }
        sc->sock_gid = gr->gr_gid;
        sc->group_only = 1;
        snprintf(sc->group, sizeof sc->group, "%s", group);
    }
    return 0;
}

/* The runtime directory: created by root, handed to the daemon user, mode
 * 0755 (clients must reach the socket; the socket's own mode says who may
 * connect).  Its parent must be root's and closed to others (or sticky, as
 * /tmp), so nobody else can swap the directory between our checks. */
int sys_runtime_dir(const char *dir, const struct sys_conf *sc)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash || slash[1] == 0) {
        esemd_log("refusing runtime directory %s: not an absolute path with a parent", dir);
        errno = EINVAL;
        return -1;
    }
    if (slash == parent)
        slash[1] = 0;
    else
        *slash = 0;
    struct stat pst;
    if (lstat(parent, &pst) < 0) {
        esemd_log("cannot check %s: %s", parent, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(pst.st_mode) || pst.st_uid != 0 ||
        ((pst.st_mode & 022) && !(pst.st_mode & S_ISVTX))) {
        esemd_log("refusing runtime directory %s: its parent %s must be a directory owned by "
                  "root and not writable by others (or sticky) (%s)",
                  dir, parent, strerror(EPERM));
        errno = EPERM;
        return -1;
    }
    int created = mkdir(dir, 0700) == 0;
    if (!created && errno != EEXIST) {
        esemd_log("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        esemd_log("refusing runtime directory %s: %s (a symbolic link?)", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* A directory we just made is root's 0700: nobody else has seen it. */
    if (created && (fchown(fd, sc->uid, sc->gid) < 0 || fstat(fd, &st) < 0)) {
        esemd_log("cannot hand %s to %s: %s", dir, sc->user, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_uid != sc->uid || (st.st_mode & 022)) {
        esemd_log("refusing runtime directory %s: owned by uid %u mode %04o, not by %s (uid %u) "
                  "and closed to writes by others (%s); remove it or fix its owner",
                  dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), sc->user,
                  (unsigned)sc->uid, strerror(EPERM));
        close(fd);
        errno = EPERM;
        return -1;
    }
    if ((st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0) {
        esemd_log("cannot set mode 0755 on %s: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Switch the effective ids (fs ids follow) to the daemon user and `gid`;
 * the saved set-user-ID stays 0 until sys_drop().  0 or -1. */
int sys_become_user(const struct sys_conf *sc, gid_t gid)
{
    return setresgid((gid_t)-1, gid, (gid_t)-1) < 0 || setresuid((uid_t)-1, sc->uid, (uid_t)-1) < 0
               ? -1
               : 0;
}

/* Back to root (effective ids).  0 or -1. */
int sys_become_root(void)
{
    return setresuid((uid_t)-1, 0, (uid_t)-1) < 0 || setresgid((gid_t)-1, 0, (gid_t)-1) < 0 ? -1 : 0;
}

/* The core arena was locked while root (CAP_IPC_LOCK ignores the limit)
 * and stays locked after the drop: RLIMIT_MEMLOCK is checked when memory is
 * locked, not later, and esemd locks nothing after start-up.  The limit is
 * still raised to cover it where root may (CAP_SYS_RESOURCE), so the
 * accounting of the unprivileged process is consistent; where it may not,
 * a log line says so. */
void sys_memlock(uint64_t locked)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
        return;
    rlim_t need = (rlim_t)locked;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    struct rlimit want = {need, rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? rl.rlim_max
                                                                                     : need};
    if (setrlimit(RLIMIT_MEMLOCK, &want) == 0) {
        esemd_log("RLIMIT_MEMLOCK raised from %llu to %llu bytes (the locked core arena)",
                  (unsigned long long)rl.rlim_cur, (unsigned long long)need);
        return;
    }
    esemd_log("RLIMIT_MEMLOCK stays %llu bytes, below the %llu-byte arena (%s raising it, no "
              "CAP_SYS_RESOURCE?): the arena, locked while root, stays locked; nothing more "
              "is locked after the drop",
              (unsigned long long)rl.rlim_cur, (unsigned long long)need, strerror(errno));
}

static int caps_clear(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    return (int)syscall(SYS_capset, &h, d);
}

static int caps_none(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return 0;
    for (int i = 0; i < 2; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return 0;
    return 1;
}

/* Give up root for good, then prove it: no way back to uid or gid 0, no
 * capability (the bounding set emptied too), no_new_privs. */
int sys_drop(const struct sys_conf *sc)
{
    if (sys_become_root() < 0) { /* from a known state: all root */
        esemd_log("privilege drop: cannot return to root first: %s", strerror(errno));
        return -1;
    }
    /* While CAP_SETPCAP is ours: nothing can ever be gained back, even by
     * a program executed later (seccomp forbids execve anyway). */
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
            break;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (setgroups(0, NULL) < 0 || setresgid(sc->gid, sc->gid, sc->gid) < 0 ||
        setresuid(sc->uid, sc->uid, sc->uid) < 0) {
        esemd_log("privilege drop to %s (uid %u gid %u) failed: %s", sc->user, (unsigned)sc->uid,
                  (unsigned)sc->gid, strerror(errno));
        return -1;
    }
    caps_clear(); /* setresuid cleared effective and permitted; inheritable too */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        esemd_log("privilege drop: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    /* A change of ids resets the dumpable flag to fs.suid_dumpable. */
    harden_process();
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != sc->uid ||
        e != sc->uid || s != sc->uid || rg != sc->gid || eg != sc->gid || sg != sc->gid ||
        getgroups(0, NULL) != 0) {
        esemd_log("privilege drop: ids are not those of %s after the drop", sc->user);
        return -1;
    }
    if (setuid(0) == 0 || setgid(0) == 0 || errno != EPERM) {
        esemd_log("privilege drop: root could be regained (setuid/setgid 0 did not fail with "
                  "EPERM)");
        return -1;
    }
    if (!caps_none() || prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != 0 ||
        prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        esemd_log("privilege drop: capabilities or no_new_privs not as required");
        return -1;
    }
    esemd_log("privileges dropped: uid %u (%s) gid %u, no supplementary groups, no "
              "capabilities, no_new_privs; setuid(0) now fails (EPERM)",
              (unsigned)sc->uid, sc->user, (unsigned)sc->gid);
    return 0;
}

/* What esemd does with each client, tried once as the unprivileged user on
 * a process of another uid (init, pid 1): a failure here would refuse every
 * other user's clients, so it stops the start rather than surprise. */
int sys_probe_peers(void)
{
    uint64_t st;
    pid_t pp;
    struct proc_creds pc;
    int pfd = esem_util_pidfd_open(1);
    if (pfd < 0) {
        esemd_log("cannot open a pidfd for pid 1 as uid %u: %s; clients of other users would be "
                  "refused",
                  (unsigned)geteuid(), strerror(-pfd));
        return -1;
    }
    int e = -esem_util_proc_stat(1, &st, &pp);
    if (e == 0 && proc_creds_read(NULL, 1, &pc) < 0)
        e = errno;
    if (e) {
        close(pfd);
        esemd_log("cannot read /proc/1/stat and /proc/1/status as uid %u: %s (is /proc mounted "
                  "with hidepid=?); clients of other users would be refused",
                  (unsigned)geteuid(), strerror(e));
        return -1;
    }
    uint32_t fu, fg;
    int r = esem_util_pidfd_fscreds(pfd, &fu, &fg);
    close(pfd);
    if (r < 0)
        esemd_log("PIDFD_GET_INFO unavailable as uid %u (%s): unlink reads the caller's uid from "
                  "/proc/PID/status instead",
                  (unsigned)geteuid(), strerror(-r));
    return 0;
}
