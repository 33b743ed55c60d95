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

struct client;
/* Restart without loss (handover.c).  The connection of a new esemd that
 * asked for the state and may have it, once (else NULL). */
struct client *clients_takeover_asked(void);
/* ... the takeover failed: close that connection. */
void clients_takeover_failed(struct client *c);
/* The table, for handing it over: its size and the connection at i (or NULL). */
uint32_t clients_cap(void);
struct client *clients_at(uint32_t i);
/* A connection handed over by the previous daemon joins the table and the
 * main loop (its session in by_session); 0, or -1 out of memory. */
int clients_adopt(struct client *c);

#endif
