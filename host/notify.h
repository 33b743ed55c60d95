/* esemd and systemd (notify.c): socket activation and readiness. */
#ifndef ESEMD_NOTIFY_H
#define ESEMD_NOTIFY_H

/* The listening socket systemd passed (LISTEN_FDS: exactly one AF_UNIX
 * SOCK_SEQPACKET socket, listening), or -1 when not socket-activated;
 * -2 if what was passed is unusable (logged). */
int notify_listen_fd(void);
/* Before the seccomp filter: note $NOTIFY_SOCKET and open the datagram
 * socket later messages go out on (no socket() is allowed after it). */
void notify_open(void);
/* READY=1 (with a STATUS= line), STATUS=..., STOPPING=1; nothing without
 * $NOTIFY_SOCKET. */
void notify_ready(const char *status);
void notify_status(const char *status);
void notify_stopping(void);

#endif
