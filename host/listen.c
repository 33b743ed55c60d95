/* esemd's runtime directory and listening socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "util.h"

static int lock_fd = -1; /* held for the daemon's life */

int listen_private_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        esemd_log("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* The directory guards the socket: it must be ours, a real directory
     * and closed to others, or another user could swap the socket. */
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 0077)) {
        esemd_log("refusing runtime directory %s: not a private directory owned by uid %u", dir,
                  (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int listen_open(const char *path, int system_mode, int group_only)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        /* Only the default location's directory is created and vetted; an
         * explicit --socket lives wherever its caller arranged. */
        char def[PATH_MAX];
        if (!system_mode && esem_util_default_socket(def, sizeof def) == 0 &&
            strcmp(def, path) == 0 && listen_private_dir(dir) < 0)
            return -1;
    }
    char lockp[PATH_MAX + 8];
    snprintf(lockp, sizeof lockp, "%s.lock", path);
    lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0) {
        esemd_log("cannot create lock file %s: %s", lockp, strerror(errno));
        return -1;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        esemd_log("another esemd serves %s (lock %s is held)", path, lockp);
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        esemd_log("socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path); /* stale: we hold the lock, so nobody serves it */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* Per-user: 0700, the daemon's uid only.  System-wide: 0666, or 0660
     * for the --group; the core checks each request against its caller. */
    mode_t old = umask(!system_mode ? 0077 : group_only ? 0117 : 0111);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r < 0 || listen(fd, 128) < 0) {
        esemd_log("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

