/* esemd's runtime directory and listening socket (listen.c). */
#ifndef ESEMD_LISTEN_H
#define ESEMD_LISTEN_H

/* Create dir 0700 if needed and check it is ours and private.  0 or -1. */
int listen_private_dir(const char *dir);
/* Take PATH.lock (one daemon per socket), bind and listen on PATH: 0700
 * per user; 0666 system-wide, 0660 with --group.  The fd, or -1 (logged). */
int listen_open(const char *path, int system_mode, int group_only);

#endif
