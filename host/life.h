/* esemd's life page (life.c): clients sleep on it to learn of its death. */
#ifndef ESEMD_LIFE_H
#define ESEMD_LIFE_H

#include <stdint.h>

struct esem_wake;

/* Create the page, with nwake wake words after it (one per semaphore
 * table index), and put its word on the calling thread's robust list;
 * call from the thread that lives as long as the daemon (main).  0 or -1. */
int life_start(uint32_t nwake);
/* The wake words (writable here), *n of them. */
struct esem_wake *life_wake(uint32_t *n);
/* The memfd every client gets at hello (map it read-only). */
int life_fd(void);
/* A clean stop: mark the word dead and wake every sleeper. */
void life_end(void);

#endif
