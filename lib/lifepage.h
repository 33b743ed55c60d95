/* libesem internals: the daemon's life page and the wake words after it,
 * as a client sees them (lifepage.c; struct esem_life and esem_wake in
 * proto.h).  A restart without loss replaces the page; these follow it. */
#ifndef ESEM_LIFEPAGE_H
#define ESEM_LIFEPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "proto.h"

/* Map a life page memfd read-only (*len: its size), or MAP_FAILED. */
ESEMI struct esem_life *esemi_life_map(int fd, size_t *len);
/* At connect: the page of the hello's reply (the one a fork child
 * inherited from its parent is unmapped). */
ESEMI void esemi_life_set(struct esem_life *life, size_t len);
/* The page now. */
ESEMI struct esem_life *esemi_life_page(void);
/* The wake words of the semaphore handle names (NULL: none). */
ESEMI struct esem_wake *esemi_wake_of(uint64_t handle);
/* The page says the daemon handed its state on (ESEM_LIFE_MOVED): ask for
 * the new daemon's page on sock and use it.  0 when the page is not a
 * moved one (or another thread is taking the new one: look again),
 * -EINTR if a signal's handler ran meanwhile, -EIO if no page comes. */
ESEMI int esemi_life_follow(int sock);

#endif
