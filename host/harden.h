/* Hardening of the daemon process (harden.c). */
#ifndef ESEMD_HARDEN_H
#define ESEMD_HARDEN_H

#include <stdint.h>

void harden_process(void);
void *harden_arena(uint64_t size, const char **kind);
int harden_seccomp(void);

#endif
