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
/* Restart without loss.  The old daemon, its state handed over: the word
 * says moved (no thread id in it, so our exit marks nothing dead) and
 * every sleeper wakes to read its new page (struct esem_relife). */
void life_moved(void);
/* The new daemon: the sleepers counts of the previous daemon's wake words
 * (its life memfd, mapped read-only here), so the counts stay balanced. */
int life_inherit_wake(int old_fd);

#endif
