/*
 * The core's arena: its layout from the configuration, a new core laid out
 * in it (core_init), and a core taken over from the daemon that ran it
 * (core_resume: esemd's restart without loss).  Freestanding, as core.c.
 */
#include "core_int.h"

static uint64_t align64(uint64_t n) { return (n + 63u) & ~(uint64_t)63u; }

/* ---- randomness ---- */

/* 64 bits from RDRAND into *out; 0 where the CPU has none (CPUID says so)
 * or it kept failing.  The caller fails closed: without randomness of its
 * own the core cannot make nonces a hostile host could not predict. */
static int core_rdrand(uint64_t *out)
{
#if defined(__x86_64__)
    uint32_t a = 1, b = 0, cx = 0, d = 0;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(cx), "=d"(d));
    if (!(cx & (1u << 30)))
        return 0;
    for (int i = 0; i < 16; i++) {
        unsigned long long v;
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        if (ok) {
            *out = v;
            return 1;
        }
    }
#endif
    (void)out;
    return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n && p < 0x80000000u)
        p <<= 1;
    return p;
}

static int cfg_ok(const struct core_config *cfg)
{
    /* Indices must fit below NIL and sizes must not overflow 64-bit sums. */
    const uint32_t lim = 1u << 24;
    return cfg && cfg->max_sems && cfg->max_sessions && cfg->max_opens &&
           cfg->max_waiters && cfg->max_sems <= lim && cfg->max_sessions <= lim &&
           cfg->max_opens <= lim && cfg->max_waiters <= lim &&
           cfg->max_long_names <= lim && cfg->max_acls <= lim && cfg->max_keys <= 4096 &&
           cfg->max_keyed <= (1u << 20) && !(cfg->flags & ~(CORE_CFG_STRICT | CORE_CFG_FIFO | CORE_CFG_ADAPTIVE)) &&
           cfg->max_sets <= CORE_SEMMNI && cfg->max_sets <= cfg->max_sems &&
           cfg->max_set_sems <= lim && cfg->max_undos <= lim && cfg->max_sysv_ops <= lim;
}

struct layout {
    uint64_t sems, sessions, opens, waiters, longnames, acls, keys, keyed, notes, name_hash,
        open_hash, acct, sysv[5], end;
    uint32_t name_buckets, open_buckets, key_buckets, acct_buckets;
};

static void plan(const struct core_config *cfg, struct layout *l)
{
    uint64_t off = align64(sizeof(struct core));
    l->name_buckets = pow2_at_least(cfg->max_sems);
    l->open_buckets = pow2_at_least(cfg->max_opens);
    l->sems = off;
    off = align64(off + (uint64_t)cfg->max_sems * sizeof(struct sem));
    l->sessions = off;
    off = align64(off + (uint64_t)cfg->max_sessions * sizeof(struct session));
    l->opens = off;
    off = align64(off + (uint64_t)cfg->max_opens * sizeof(struct openrec));
    l->waiters = off;
    off = align64(off + (uint64_t)cfg->max_waiters * sizeof(struct waiter));
    l->longnames = off;
    off = align64(off + (uint64_t)cfg->max_long_names * sizeof(struct longname));
    l->acls = off;
    off = align64(off + (uint64_t)cfg->max_acls * sizeof(struct acl));
    l->keys = off;
    off = align64(off + (uint64_t)cfg->max_keys * sizeof(struct keyrec));
    l->keyed = off;
    off = align64(off + (uint64_t)cfg->max_keyed * sizeof(struct keyed));
    l->notes = off;
    off = align64(off + (uint64_t)cfg->max_waiters * sizeof(struct core_wake));
    l->name_hash = off;
    off = align64(off + (uint64_t)l->name_buckets * sizeof(uint32_t));
    l->open_hash = off;
    off = align64(off + (uint64_t)l->open_buckets * sizeof(uint32_t));
    /* per-user accounts: room for twice as many uids as sessions */
    l->acct_buckets = cfg->uid_objects || cfg->uid_waiters ? pow2_at_least(2 * cfg->max_sessions) : 0;
    l->acct = off;
    off = align64(off + (uint64_t)l->acct_buckets * sizeof(struct uacct));
    l->end = sysv_plan(cfg, off, l->sysv, &l->key_buckets);
}

uint64_t core_arena_size(const struct core_config *cfg)
{
    struct layout l;
    if (!cfg_ok(cfg))
        return 0;
    plan(cfg, &l);
    return l.end;
}

/* The tables' addresses in this mapping of the arena (set by init and
 * again by resume: the arena holds indices, the core struct pointers). */
static void place(struct core *c, unsigned char *base, const struct layout *l)
{
    c->sems = (struct sem *)(base + l->sems);
    c->sessions = (struct session *)(base + l->sessions);
    c->opens = (struct openrec *)(base + l->opens);
    c->waiters = (struct waiter *)(base + l->waiters);
    c->longnames = (struct longname *)(base + l->longnames);
    c->acls = (struct acl *)(base + l->acls);
    c->keys = (struct keyrec *)(base + l->keys);
    c->keyed = (struct keyed *)(base + l->keyed);
    c->notes = (struct core_wake *)(base + l->notes);
    c->name_hash = (uint32_t *)(base + l->name_hash);
    c->open_hash = (uint32_t *)(base + l->open_hash);
    c->acct = (struct uacct *)(base + l->acct);
    sysv_place(c, base, l->sysv, l->key_buckets);
}

struct core *core_init(void *arena, uint64_t size, const struct core_config *cfg)
{
    struct layout l;
    if (!arena || ((uintptr_t)arena & 63u) || !cfg_ok(cfg))
        return 0;
    plan(cfg, &l);
    if (size < l.end)
        return 0;
    unsigned char *base = arena;
    zero(base, l.end);
    struct core *c = (struct core *)base;
    c->magic = CORE_MAGIC;
    c->layout = CORE_LAYOUT_VERSION;
    c->cfg = *cfg;
    c->name_buckets = l.name_buckets;
    c->open_buckets = l.open_buckets;
    place(c, base, &l);
    c->arena_bytes = l.end;
    /* The boot nonce: the core's own randomness where the CPU has it (an
     * enclave can trust RDRAND, not the host), mixed with the host's. */
    uint64_t own = 0;
    c->rng_ok = (uint32_t)core_rdrand(&own);
    c->next_nonce = cfg->entropy ^ own;

    for (uint32_t i = 0; i < cfg->max_sems; i++) {
        c->sems[i].hash_next = i + 1 < cfg->max_sems ? i + 1 : NIL;
        c->sems[i].gen = 1;
    }
    for (uint32_t i = 0; i < cfg->max_sessions; i++) {
        c->sessions[i].next_free = i + 1 < cfg->max_sessions ? i + 1 : NIL;
        c->sessions[i].gen = 1;
        c->sessions[i].kidx = NIL;
    }
    for (uint32_t i = 0; i < cfg->max_opens; i++)
        c->opens[i].hash_next = i + 1 < cfg->max_opens ? i + 1 : NIL;
    for (uint32_t i = 0; i < cfg->max_waiters; i++)
        c->waiters[i].q_next = i + 1 < cfg->max_waiters ? i + 1 : NIL;
    for (uint32_t i = 0; i < cfg->max_long_names; i++)
        c->longnames[i].next_free = i + 1 < cfg->max_long_names ? i + 1 : NIL;
    for (uint32_t i = 0; i < cfg->max_acls; i++)
        c->acls[i].next = i + 1 < cfg->max_acls ? i + 1 : NIL;
    for (uint32_t i = 0; i < cfg->max_keyed; i++)
        c->keyed[i].next_free = i + 1 < cfg->max_keyed ? i + 1 : NIL;
    c->acl_free = cfg->max_acls ? 0 : NIL;
    c->keyed_free = cfg->max_keyed ? 0 : NIL;
    for (uint32_t i = 0; i < l.name_buckets; i++)
        c->name_hash[i] = NIL;
    for (uint32_t i = 0; i < l.open_buckets; i++)
        c->open_hash[i] = NIL;
    c->sem_free = 0;
    c->session_free = 0;
    c->open_free = 0;
    c->waiter_free = 0;
    c->longname_free = cfg->max_long_names ? 0 : NIL;
    c->acct_buckets = l.acct_buckets;
    sysv_init(c);
    return c;
}

struct core *core_resume(void *arena, uint64_t size, struct core_config *cfg_out)
{
    struct layout l;
    if (!arena || ((uintptr_t)arena & 63u) || size < sizeof(struct core))
        return 0;
    struct core *c = arena;
    /* The arena comes from the daemon that ran it: its tables are indices,
     * checked on every use, but its shape must be this build's. */
    if (c->magic != CORE_MAGIC || c->layout != CORE_LAYOUT_VERSION || !cfg_ok(&c->cfg))
        return 0;
    plan(&c->cfg, &l);
    if (size < l.end || c->arena_bytes != l.end || c->name_buckets != l.name_buckets ||
        c->open_buckets != l.open_buckets || c->acct_buckets != l.acct_buckets ||
        c->key_buckets != l.key_buckets)
        return 0;
    place(c, arena, &l);
    if (cfg_out)
        *cfg_out = c->cfg;
    return c;
}
