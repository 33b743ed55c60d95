/* Shared by the shim's files: shim.c (sem_*) and shim_sysv.c (semget & co). */
#ifndef ESEM_SHIM_H
#define ESEM_SHIM_H

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

/* The process's mode is settled at its first call that needs the daemon:
 * r passes through; if the daemon cannot be reached and ESEM_FALLBACK=glibc
 * is set, the process goes over to glibc (and the kernel) from now on. */
SHIM_HIDDEN int shim_settle(int r);
/* 1 once the process runs on glibc's semaphores (ESEM_FALLBACK=glibc). */
SHIM_HIDDEN int shim_glibc_mode(void);

#endif
