/*
 * The core's views for administration (esemctl ls, show, stats, the access
 * list of a semaphore): read-only walks of the tables, a cursor at a time.
 * Freestanding, as core.c.
 */
#include "core_int.h"

static void fill_info(const struct core *c, uint32_t si, struct core_sem_info *o)
{
    const struct sem *s = &c->sems[si];
    zero(o, sizeof *o);
    o->handle = mkid(si, s->gen);
    o->value = s->value;
    o->nwaiters = s->nwaiters;
    o->open_count = s->open_count;
    o->uid = s->uid;
    o->gid = s->gid;
    o->mode = s->mode;
    o->flags = s->flags;
    o->name_len = s->name_len;
    copy(o->name, sem_name(c, s), s->name_len);
    o->posts = s->posts;
    o->waits = s->waits;
    o->blocks = s->blocks;
    o->cancels = s->cancels;
    o->owner_key = s->owner_key;
    o->owner_pid = (s->flags & CORE_SEMF_STRICT) && !s->owner_key ? s->owner_pid : 0;
    o->nacl = s->nacl;
    o->nwoken = s->nwoken;
    o->retries = s->retries;
    o->handoffs = s->handoffs;
    if (s->set != NIL)
        sysv_fill_info(c, si, o);
}

int32_t do_sem_info(struct core *c, struct core_sem_info_args *a)
{
    uint32_t i = a->cursor;
    a->found = 0;
    for (; i < c->cfg.max_sems; i++) {
        if (c->sems[i].state == SEM_LIVE) {
            fill_info(c, i, &a->info);
            a->found = 1;
            a->next = i + 1;
            return CORE_OK;
        }
    }
    a->next = c->cfg.max_sems;
    return CORE_OK;
}

/* Cursor = 1 + index of the next record to report; 0 = start of the list.
 * Called through do_sem_holders and do_sem_waiters. */
static int32_t sem_members(struct core *c, struct core_sem_member_args *a, int waiters)
{
    uint32_t si;
    core_id_t h = a->handle;
    uint32_t cur = a->cursor;
    if (!sem_get(c, h, &si))
        return CORE_E_HANDLE;
    a->found = 0;
    uint32_t lim = waiters ? c->cfg.max_waiters : c->cfg.max_opens;
    uint32_t i;
    if (cur == 0)
        i = waiters ? c->sems[si].wait_head : c->sems[si].open_head;
    else if (cur == 0xffffffffu)
        return CORE_OK; /* the end marker a previous call returned */
    else if (cur - 1 < lim)
        i = cur - 1;
    else
        return CORE_E_INVAL;
    if (i == NIL)
        return CORE_OK;
    /* The cursor came from outside: it must name a record of this sem. */
    if (waiters) {
        struct waiter *w = &c->waiters[i];
        if (!w->live || w->sem != si)
            return CORE_E_INVAL;
        a->session = mkid(w->sess, c->sessions[w->sess].gen);
        a->pid = c->sessions[w->sess].pid;
        a->count = w->slot;
        a->prio = w->prio;
        a->woken = w->woken;
        a->next = w->q_next == NIL ? 0xffffffffu : w->q_next + 1;
    } else {
        struct openrec *o = &c->opens[i];
        if (o->sem != si || o->count == 0)
            return CORE_E_INVAL;
        a->session = mkid(o->sess, c->sessions[o->sess].gen);
        a->pid = c->sessions[o->sess].pid;
        a->count = o->count;
        a->prio = 0;
        a->woken = 0;
        a->next = o->sem_next == NIL ? 0xffffffffu : o->sem_next + 1;
    }
    a->found = 1;
    return CORE_OK;
}

int32_t do_sem_holders(struct core *c, struct core_sem_member_args *a)
{
    return sem_members(c, a, 0);
}

int32_t do_sem_waiters(struct core *c, struct core_sem_member_args *a)
{
    return sem_members(c, a, 1);
}

int32_t do_session_info(struct core *c, struct core_session_info_args *a)
{
    uint32_t si;
    struct session *s = session_get(c, a->session, &si);
    if (!s)
        return CORE_E_SESSION;
    a->pid = s->pid;
    a->uid = s->uid;
    a->gid = s->gid;
    a->nopens = s->nopens;
    a->nwaiters = s->nwaiters;
    a->start_time = s->start_time;
    a->key_id = s->key_id;
    return CORE_OK;
}

int32_t do_stats(struct core *c, struct core_stats_args *a)
{
    struct core_stats *st = &a->stats;
    zero(st, sizeof *st);
    st->sems_in_use = c->sems_in_use;
    st->sessions_in_use = c->sessions_in_use;
    st->opens_in_use = c->opens_in_use;
    st->waiters_in_use = c->waiters_in_use;
    st->max_sems = c->cfg.max_sems;
    st->max_sessions = c->cfg.max_sessions;
    st->max_opens = c->cfg.max_opens;
    st->max_waiters = c->cfg.max_waiters;
    st->acls_in_use = c->acls_in_use;
    st->keys_in_use = c->keys_in_use;
    st->keyed_in_use = c->keyed_in_use;
    st->max_acls = c->cfg.max_acls;
    st->ops_ok = c->ops_ok;
    copy(st->refused, c->refused, sizeof st->refused);
    st->arena_bytes = c->arena_bytes;
    st->sem_bytes = (uint32_t)sizeof(struct sem);
    st->sets_in_use = c->sets_in_use;
    st->max_sets = c->cfg.max_sets;
    st->set_sems_in_use = c->cells_in_use;
    st->max_set_sems = c->cfg.max_set_sems;
    st->undos_in_use = c->undos_in_use;
    st->max_undos = c->cfg.max_undos;
    st->opblks_in_use = c->opblks_in_use;
    return CORE_OK;
}

/* Cursor = 1 + index of the next entry; 0 = start. */
int32_t do_sem_acl(struct core *c, struct core_sem_acl_args *a)
{
    uint32_t si;
    core_id_t h = a->handle;
    uint32_t cur = a->cursor;
    if (!sem_get(c, h, &si))
        return CORE_E_HANDLE;
    a->found = 0;
    uint32_t e;
    if (cur == 0)
        e = c->sems[si].acl_head;
    else if (cur == 0xffffffffu)
        return CORE_OK;
    else if (cur - 1 < c->cfg.max_acls)
        e = cur - 1;
    else
        return CORE_E_INVAL;
    if (e == NIL)
        return CORE_OK;
    /* The cursor came from outside: it must name an entry of this sem. */
    uint32_t x = c->sems[si].acl_head;
    while (x != NIL && x != e)
        x = c->acls[x].next;
    if (x == NIL)
        return CORE_E_INVAL;
    a->who = c->acls[e].who;
    a->allow = c->acls[e].allow;
    a->deny = c->acls[e].deny;
    a->next = c->acls[e].next == NIL ? 0xffffffffu : c->acls[e].next + 1;
    a->found = 1;
    return CORE_OK;
}
