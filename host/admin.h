/* esemctl's protocol on an admin connection (admin.c). */
#ifndef ESEMD_ADMIN_H
#define ESEMD_ADMIN_H

#include "daemon.h"

/* Serve an admin connection that said hello, on a thread of its own (a
 * long listing or a stuck esemctl never stalls the main loop).  Takes c:
 * the caller has already taken it off its tables; c and its descriptors
 * are freed when the connection ends. */
void admin_start(struct client *c);
/* Restart without loss: end every admin connection (their core sessions
 * are not handed over; esemctl connects again), waiting up to timeout_ms
 * for their threads to close them. */
void admin_end_all(int timeout_ms);

#endif
