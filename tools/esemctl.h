/* esemctl's parts: what esemctl.c shares with acl_keys.c. */
#ifndef ESEMCTL_H
#define ESEMCTL_H

#include <stddef.h>

extern int json;             /* --json */
extern const char *sock_opt; /* --socket or --system, else NULL */
/* s (n bytes) as a JSON string, quoted and escaped, on stdout */
void json_str(const char *s, size_t n);

/* acl_keys.c: the commands; their exit status */
int cmd_acl(int revoke, const char *name, const char *who, const char *rights);
int cmd_keygen(const char *path);
int cmd_keyid(const char *path);

#endif
