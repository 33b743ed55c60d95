/* A simulated host for the lab's TM-SGX rows (sim_host.c). */
#ifndef ESEM_LAB_SIM_HOST_H
#define ESEM_LAB_SIM_HOST_H

#include <stdint.h>

#include "esem_core.h"

struct keysess {
    core_id_t id;
    uint8_t ks[CORE_KEY_BYTES];
};

/* A small core in memory of its own (free *arena after). */
struct core *sim_core(void **arena);
/* Provision a key of bytes `fill` and open a key session with it. */
int sim_key_session(struct core *c, uint8_t fill, struct keysess *k);
/* Send a request in k's name, MACed with its session key. */
int32_t sim_req(struct core *c, const struct keysess *k, struct core_request_args *a);
/* Open (create) a 2-letter name in k's name on `slot`: the handle or 0. */
core_id_t sim_open(struct core *c, const struct keysess *k, const char *name, uint32_t flags,
                   uint32_t slot);

#endif
