/* Client connections: accept, hello, session end (clients.c). */
#ifndef ESEMD_CLIENTS_H
#define ESEMD_CLIENTS_H

#include <stdint.h>

/* epoll data of the main loop: event type, the client's generation (so a
 * late event of a freed client never reaches a newcomer that reuses its
 * id), its id. */
enum { EV_LISTEN = 1, EV_SIGNAL, EV_SOCK, EV_PIDFD };
#define EV(type, gen, id)                                                                          \
    (((uint64_t)(type) << 56) | (((uint64_t)(gen) & 0xffffffu) << 32) | (uint32_t)(id))

/* The main loop's epoll, where client sockets and pidfds are added. */
void clients_init(int epfd);
/* Accept every pending connection on listen_fd. */
void clients_accept(int listen_fd);
/* An EV_SOCK or EV_PIDFD event. */
void clients_event(uint64_t data, uint32_t events);
/* Housekeeping, at least once a second while it returns 1: connections
 * that never said hello are closed after a timeout; a paused accept. */
int clients_tick(void);
/* End every session (daemon stopping). */
void clients_free_all(void);

#endif
