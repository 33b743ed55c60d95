/* Hardening of the daemon process (harden.c). */
#ifndef ESEMD_HARDEN_H
#define ESEMD_HARDEN_H

#include <stdint.h>

void harden_process(void);
/* The core's arena, size bytes, mapped shared from a descriptor kept in
 * *fd (a restart without loss hands it to the next daemon): memfd_secret
 * where the kernel has it, else a memfd, locked.  NULL on failure. */
void *harden_arena(uint64_t size, const char **kind, int *fd);
/* The same for an arena handed over (fd), mapped here (secret: it is
 * memfd_secret memory, locked by the kernel already). */
void *harden_arena_map(int fd, uint64_t size, int secret);
int harden_seccomp(void);

#endif
