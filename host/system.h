/* esemd --system: root at start, a dedicated user after (system.c). */
#ifndef ESEMD_SYSTEM_H
#define ESEMD_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

#define ESEM_SYSTEM_USER "esem"
struct sys_conf {
    char user[64], group[64];
    uid_t uid;        /* the daemon user */
    gid_t gid;        /* its primary group */
    gid_t sock_gid;   /* the socket's group: --group, else gid */
    int group_only;   /* --group: socket 0660, members only */
};
/* Root check and name look-ups; messages on stderr.  0, or an exit status. */
int sys_resolve(const char *user, const char *group, struct sys_conf *sc);
int sys_runtime_dir(const char *dir, const struct sys_conf *sc);
int sys_become_user(const struct sys_conf *sc, gid_t gid);
int sys_become_root(void);
void sys_memlock(uint64_t locked);
int sys_drop(const struct sys_conf *sc);
int sys_probe_peers(void);

#endif
