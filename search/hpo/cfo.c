// cfo: CFO (Wu, Wang, Huang, AAAI 2021; FLAML's class CFO in blendsearch.py): one FLOW2
// thread started from the low-cost initial point; when it converges the admissible box of
// the cost-related hps grows by a step and the search restarts from the low-cost point with
// Gaussian noise of the explored width. Cost-frugal: it starts cheap and only moves to
// expensive configs as far as they pay for themselves.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

#define CFO_STEPSIZE 0.1        // FLOW2.STEPSIZE: how far the admissible box grows
#define CFO_PENDING HPO_MAX_PENDING

typedef struct {
    int64_t id;
    int used;
    int from_thread;            // 0: an init/restart point (FLAML's thread 0)
    int generation;             // which thread proposed it
} cfo_pending;

typedef struct {
    hpo_searcher base;
    int ready;
    flow2 *thread;
    int generation;
    int init_used, n_init, reset_times;
    int cost_related[HPO_MAX_DIM];
    double lb[HPO_MAX_DIM], ub[HPO_MAX_DIM];   // _ls_bound_min / _ls_bound_max (normalised)
    flow2_options fo;
    uint64_t thread_seed;
    cfo_pending pending[CFO_PENDING];
    int pending_next;
} cfo;

static void cfo_setup(cfo *c) {
    hpo_searcher *s = &c->base;
    hpo_space_cost_related(&s->space, c->cost_related);
    double low[HPO_MAX_DIM];
    hpo_space_low_cost_cfg(&s->space, low);
    hpo_space_to_unit(&s->space, low, c->lb);
    memcpy(c->ub, c->lb, sizeof c->lb);
    c->fo.min_resource = s->opt.min_fidelity;
    c->fo.max_resource = 1.0;
    c->fo.resource_factor = s->opt.fidelity_factor > 1 ? s->opt.fidelity_factor : 4.0;
    c->thread_seed = s->opt.seed + 20;   // FLAML's FLOW2 seed default 20, +1 per thread
    c->ready = 1;
}

static cfo_pending *pending_at(cfo *c, int64_t id) {
    for (int i = 0; i < CFO_PENDING; i++)
        if (c->pending[i].used && c->pending[i].id == id) return &c->pending[i];
    return NULL;
}

// The next free slot (trials in flight may finish out of order), else the oldest one.
static void pending_add(cfo *c, int64_t id, int from_thread) {
    int k = c->pending_next;
    for (int i = 0; i < CFO_PENDING && c->pending[k].used; i++) k = (k + 1) % CFO_PENDING;
    if (c->pending[k].used) k = c->pending_next;
    cfo_pending *p = &c->pending[k];
    c->pending_next = (k + 1) % CFO_PENDING;
    *p = (cfo_pending){id, 1, from_thread, c->generation};
}

// _update_admissible_region: the box of the cost-related hps covers every local proposal
static void widen(cfo *c, const double *cfg) {
    double u[HPO_MAX_DIM];
    hpo_space_to_unit(&c->base.space, cfg, u);
    for (int i = 0; i < c->base.space.d; i++) {
        if (!c->cost_related[i]) continue;
        if (u[i] > c->ub[i]) c->ub[i] = u[i];
        else if (u[i] < c->lb[i]) c->lb[i] = u[i];
    }
}

// _expand_admissible_region after a thread converged
static void expand(cfo *c) {
    for (int i = 0; i < c->base.space.d; i++) {
        if (!c->cost_related[i]) continue;
        c->ub[i] += CFO_STEPSIZE;
        c->lb[i] -= CFO_STEPSIZE;
    }
}

static void drop_thread(cfo *c) {
    flow2_free(c->thread);
    c->thread = NULL;
    c->generation++;
}

static int cfo_ask(hpo_searcher *s, hpo_trial *t) {
    cfo *c = (cfo *)s;
    if (!c->ready) cfo_setup(c);
    if (!c->thread) c->init_used = 0;   // CFO.suggest: no local thread, so restart
    if (!c->init_used) {
        if (c->n_init == 0) {
            hpo_space_init_cfg(&s->space, t->cfg);   // points_to_evaluate: the init_value point
        } else {
            flow2_restart_config(&s->space, c->cost_related, c->lb, c->ub, c->reset_times > 0,
                                 &s->rng, t->cfg);
            c->reset_times++;
        }
        c->n_init++;
        t->fidelity = s->opt.min_fidelity < 1 ? s->opt.min_fidelity : 1.0;
        c->init_used = 1;
        pending_add(c, t->id, 0);
        return GH_OK;
    }
    double fid = 1.0;
    if (!flow2_suggest(c->thread, t->id, t->cfg, &fid)) {
        if (flow2_converged(c->thread)) {
            expand(c);
            drop_thread(c);
        }
        return HPO_RETRY;
    }
    t->fidelity = fid;
    widen(c, t->cfg);
    pending_add(c, t->id, 1);
    return GH_OK;
}

static void after_thread_result(cfo *c) {
    if (c->thread && flow2_converged(c->thread)) {   // _clean: a converged thread is deleted
        expand(c);
        drop_thread(c);
    }
}

static int cfo_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    cfo *c = (cfo *)s;
    cfo_pending *p = pending_at(c, t->id);
    if (!p) return GH_OK;
    p->used = 0;
    if (p->from_thread) {
        if (c->thread && p->generation == c->generation) {
            flow2_complete(c->thread, t->id, loss, cost);
            after_thread_result(c);
        }
        return GH_OK;
    }
    // a start point: with no thread running, it seeds one (CFO._create_condition)
    if (!c->thread && isfinite(loss)) {
        c->fo.seed = c->thread_seed++;
        int st = flow2_create(&c->thread, &s->space, t->cfg, t->fidelity, loss, cost, &c->fo);
        if (st) return st;
        widen(c, t->cfg);
    }
    return GH_OK;
}

static int cfo_seen(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    cfo *c = (cfo *)s;
    cfo_pending *p = pending_at(c, t->id);
    if (!p) return GH_OK;
    p->used = 0;
    if (!p->from_thread) {
        c->init_used = 0;   // a start point tried before: draw another
        return GH_OK;
    }
    if (c->thread && p->generation == c->generation) {
        flow2_complete(c->thread, t->id, loss, cost);   // FLAML passes the cached result on
        after_thread_result(c);
    }
    return GH_OK;
}

static void cfo_destroy(hpo_searcher *s) {
    flow2_free(((cfo *)s)->thread);
    free(s);
}

static const hpo_vtable cfo_vt = {"cfo", cfo_ask, cfo_tell, cfo_seen, cfo_destroy};

int hpo_cfo_create(hpo_searcher **out) {
    cfo *c = calloc(1, sizeof *c);
    if (!c) return gh_fail(GH_ENOMEM, "cfo: %zu bytes", sizeof *c);
    c->base.vt = &cfo_vt;
    *out = &c->base;
    return GH_OK;
}
