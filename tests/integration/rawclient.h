/* A raw client of esemd for the hostile-client tests (rawclient.c). */
#ifndef ESEM_ITEST_RAWCLIENT_H
#define ESEM_ITEST_RAWCLIENT_H

#include "harness.h"

#include <stdint.h>

#include "proto.h"

/* raw_await's answer when no reply came in time */
#define NO_REPLY INT32_MIN

/* xorshift: the random bytes of the garbage (rnd_seed: a process's own) */
void rnd_seed(uint64_t x);
uint64_t rnd(void);
void fill_random(void *p, size_t n);

/* ---- the control socket, raw ---- */

/* A connection to path (to hx's socket), no hello yet: a descriptor. */
int raw_connect_to(const char *path);
int raw_connect(void);
/* A hello reply and up to 2 of its descriptors (-1 where none came)
 * within 5 s: 0, or -1 if the daemon hung up or said nothing. */
int read_reply(int s, struct esem_hello_reply *rep, int fds[2]);
/* Send msg (len bytes) as a hello on a new connection: the errno the
 * daemon answered with (0: accepted), or -1 when nothing came. */
int hello_err(const void *msg, size_t len);
/* A well-formed hello of kind (ESEM_HELLO_*). */
struct esem_hello good_hello(uint32_t kind);

/* ---- a raw client session: the channel written by the test ---- */

struct raw {
    int sock, memfd, efd;
    struct esem_chan *chan;
    struct esem_hello_reply rep;
    uint32_t seq[ESEM_NSLOTS];
};

/* A session at path (inherit: a parent session to claim, 0: none): 0, a
 * positive errno from the daemon, or -1 (no answer). */
int raw_open_at(struct raw *r, const char *path, uint64_t inherit);
int raw_open(struct raw *r, uint64_t inherit); /* at hx's socket */
void raw_close(struct raw *r);
/* Mark slot k active and ring the doorbell. */
void raw_ring(struct raw *r, uint32_t k);

/* One request's fields, as a client writes them into its slot. */
struct rq {
    uint32_t op, oflag, value, mode, name_len;
    uint64_t handle;
    const char *name;
};

/* Write q into slot k and ring: its request number. */
uint32_t raw_submit(struct raw *r, uint32_t k, const struct rq *q);
/* The slot's status once its reply to seq came, or NO_REPLY within timeout_ms. */
int32_t raw_await(struct raw *r, uint32_t k, uint32_t seq, int timeout_ms);
/* Submit and await (a few seconds). */
int32_t raw_call(struct raw *r, uint32_t k, const struct rq *q);
/* Cancel request seq of slot k. */
void raw_cancel(struct raw *r, uint32_t k, uint32_t seq);

/* ---- around the attacks ---- */

/* A named semaphore's handle, from esemctl show. */
uint64_t handle_of(const char *name);
/* An ordinary client still creates, posts, waits and unlinks. */
void client_still_works(void);
/* The audit log is rate-limited per second: start a fresh second before
 * looking for one particular line after a burst of refusals. */
void fresh_audit_second(void);

#endif
