/*
 * esemd under systemd: socket activation (sd_listen_fds) and the notify
 * protocol (Type=notify: READY=1, STATUS=, STOPPING=1), with libsystemd.
 *
 * READY=1 goes out through sd_notify before the seccomp filter is
 * installed.  After it, socket() kills the daemon (host/harden.c), and
 * sd_notify makes a socket per message; so STATUS= and STOPPING=1 go out on
 * one datagram socket opened before the filter, to the same $NOTIFY_SOCKET
 * address (the datagram is the protocol's: "VAR=value" lines).
 * Built without libsystemd, activation is not available (LISTEN_FDS is
 * ignored, said in the log) and the notify messages go out the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef ESEM_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

static int nfd = -1;
static struct sockaddr_un naddr;
static socklen_t nlen;

int notify_listen_fd(void)
{
#ifdef ESEM_HAVE_SYSTEMD
    int n = sd_listen_fds(1);
    if (n == 0)
        return -1;
    if (n != 1) {
        esemd_log("socket activation: %d sockets passed, want exactly 1 (%s)", n,
                  n < 0 ? strerror(-n) : "too many");
        return -2;
    }
    int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
        esemd_log("socket activation: fd %d is not a listening AF_UNIX SOCK_SEQPACKET socket",
                  fd);
        return -2;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    if (getenv("LISTEN_FDS")) {
        esemd_log("socket activation: built without libsystemd, LISTEN_FDS ignored");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
    }
    return -1;
#endif
}

void notify_open(void)
{
    const char *p = getenv("NOTIFY_SOCKET");
    size_t len = p ? strlen(p) : 0;
    if (!len || len >= sizeof naddr.sun_path || (p[0] != '/' && p[0] != '@'))
        return;
    memset(&naddr, 0, sizeof naddr);
    naddr.sun_family = AF_UNIX;
    memcpy(naddr.sun_path, p, len);
    if (p[0] == '@')
        naddr.sun_path[0] = 0; /* the abstract namespace */
    nlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

static void send_raw(const char *msg)
{
    if (nfd >= 0)
        sendto(nfd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&naddr, nlen);
}

void notify_ready(const char *status)
{
    char m[320];
    snprintf(m, sizeof m, "READY=1\nSTATUS=%s\nMAINPID=%d", status, (int)getpid());
#ifdef ESEM_HAVE_SYSTEMD
    sd_notify(0, m);
#else
    send_raw(m);
#endif
}

void notify_status(const char *status)
{
    char m[256];
    snprintf(m, sizeof m, "STATUS=%s", status);
    send_raw(m);
}

void notify_stopping(void)
{
    send_raw("STOPPING=1\nSTATUS=stopping");
}
