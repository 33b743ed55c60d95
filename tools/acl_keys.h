/* esemctl grant, revoke, keygen and keyid (acl_keys.c): exit statuses. */
#ifndef ESEMCTL_ACL_KEYS_H
#define ESEMCTL_ACL_KEYS_H

/* grant (revoke 0) or revoke rights on name to who; sock_opt: the daemon's
 * socket if given (--socket, --system), else NULL */
int cmd_acl(int revoke, const char *name, const char *who, const char *rights,
            const char *sock_opt);
/* a new key file at path, its id printed (json: as JSON) */
int cmd_keygen(const char *path, int json);
/* the id of the key in path */
int cmd_keyid(const char *path, int json);

#endif
