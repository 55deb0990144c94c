// flow2: FLOW2, the randomized direct search of CFO (Wu, Wang, Huang, AAAI 2021), one local
// thread, following flaml/tune/searcher/flow2.py: from the incumbent try x + u*step for a
// random unit vector u, then x - u*step; move on improvement; after 2^min(9,d) proposals
// without one shrink the step by sqrt(oldK/K); stuck once the step is below its lower bound
// (the resolution of the int hps). With a resource (sample size), the incumbent's resource
// grows by the factor once the trials around it have cost factor x its own cost.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

#define FLOW2_STEPSIZE 0.1           // initial step as a fraction of sqrt(d)
#define FLOW2_STEP_LOWER_BOUND 1e-4  // when no int hp sets a coarser resolution
#define FLOW2_PENDING HPO_MAX_PENDING   // proposals awaiting a result (sequential use: 1)

typedef struct {
    int64_t id;
    int used;
    double cfg[HPO_MAX_DIM];
    double resource;
    double step;                     // the step when proposed (restored on improvement)
    int has_proposer;
    double proposer[HPO_MAX_DIM];    // the incumbent (normalised) that proposed it
    double proposer_resource;
} flow2_pending;

struct flow2 {
    hpo_space space;
    int n_tun;                       // tunable dims: non-constant hps
    int tun[HPO_MAX_DIM];
    int unordered[HPO_MAX_DIM];      // categorical: moving out of the cell picks another choice
    gh_rng rng;

    double best_config[HPO_MAX_DIM];
    double best_resource;
    double incumbent[HPO_MAX_DIM];   // normalised
    double incumbent_resource;
    int has_best;
    double best_obj, cost_incumbent; // cost_incumbent 0: unknown

    double step, step_ub, step_lb_static;
    int dir;                         // 2^min(9, d): proposals before the step shrinks
    int direction_tried;
    double direction[HPO_MAX_DIM];
    int num_complete4incumbent, num_allowed4incumbent, num_proposedby_incumbent;
    double cost_complete4incumbent;
    int64_t K, oldK, iter_best_config, trial_count_proposed, trial_count_complete;
    int init_phase, same;

    double resource, min_resource, max_resource, factor;   // resource 0: none
    flow2_pending pending[FLOW2_PENDING];
    int pending_next;
};

static double round_resource(const flow2 *f, double r) {
    return r * f->factor > f->max_resource ? f->max_resource : r;   // FLOW2._round
}

int flow2_create(flow2 **out, const hpo_space *space, const double *start, double start_fidelity,
                 double best_loss, double cost, const flow2_options *o) {
    flow2 *f = calloc(1, sizeof *f);
    if (!f) return gh_fail(GH_ENOMEM, "flow2: %zu bytes", sizeof *f);
    f->space = *space;
    int d = space->d;
    gh_rng_seed(&f->rng, o->seed, GH_STREAM_SEARCH + 200);
    f->step_lb_static = INFINITY;
    for (int i = 0; i < d; i++) {
        const hp_domain *h = &space->hps[i];
        int constant = h->kind == HP_CAT ? h->n_choices < 2 : h->hi == h->lo;
        if (constant) continue;
        f->unordered[f->n_tun] = h->kind == HP_CAT;
        f->tun[f->n_tun++] = i;
        // uniform ints: one unit of the range (FLAML's 1 / (upper - lower), upper exclusive)
        if (h->kind == HP_INT && !h->log)
            f->step_lb_static = fmin(f->step_lb_static, 1.0 / (h->hi + 1 - h->lo));
    }
    memcpy(f->best_config, start, (size_t)d * sizeof *start);
    f->best_resource = start_fidelity;
    // normalise the start: an unordered categorical sits mid-range (space.py normalize)
    hpo_space_to_unit(space, start, f->incumbent);
    for (int k = 0; k < f->n_tun; k++)
        if (f->unordered[k]) f->incumbent[f->tun[k]] = 0.5;
    f->has_best = isfinite(best_loss);
    f->best_obj = best_loss;
    f->cost_incumbent = cost > 0 ? cost : 0;

    f->min_resource = o->min_resource;
    f->max_resource = o->max_resource > 0 ? o->max_resource : 1.0;
    f->factor = o->resource_factor > 1 ? o->resource_factor : 4.0;
    if (f->min_resource > 0 && f->min_resource < f->max_resource)
        f->resource = round_resource(f, f->min_resource);
    else
        f->resource = 0;
    f->incumbent_resource = f->resource;

    int dim = f->n_tun;
    f->dir = 1 << (dim < 9 ? dim : 9);
    f->num_allowed4incumbent = 2 * dim;
    f->step_ub = sqrt((double)dim);
    f->step = FLOW2_STEPSIZE * f->step_ub;
    double lb = 0;
    {
        // the lower bound at the start point (it depends on the config for log ints)
        double s = f->step_lb_static;
        for (int k = 0; k < dim; k++) {
            const hp_domain *h = &space->hps[f->tun[k]];
            if (h->kind == HP_INT && h->log)
                s = fmin(s, log(1.0 + 1.0 / f->best_config[f->tun[k]]) / log(h->hi / h->lo));
        }
        lb = isinf(s) ? FLOW2_STEP_LOWER_BOUND : s * f->step_ub;
    }
    if (lb > f->step) f->step = lb * 2;
    f->step = fmin(f->step, f->step_ub);
    f->iter_best_config = 1;
    f->trial_count_proposed = f->trial_count_complete = 1;
    f->init_phase = 1;
    *out = f;
    return GH_OK;
}

void flow2_free(flow2 *f) { free(f); }

// FLOW2.step_lower_bound: the finest step that still changes an int hp at the best config.
static double step_lower_bound(const flow2 *f) {
    double s = f->step_lb_static;
    for (int k = 0; k < f->n_tun; k++) {
        const hp_domain *h = &f->space.hps[f->tun[k]];
        if (h->kind == HP_INT && h->log)
            s = fmin(s, log(1.0 + 1.0 / f->best_config[f->tun[k]]) / log(h->hi / h->lo));
    }
    return isinf(s) ? FLOW2_STEP_LOWER_BOUND : s * f->step_ub;
}

static void rand_unit_sphere(flow2 *f, double *v) {
    double norm = 0;
    do {
        norm = 0;
        for (int k = 0; k < f->n_tun; k++) {
            v[k] = gh_rng_normal(&f->rng);
            norm += v[k] * v[k];
        }
    } while (norm == 0);
    norm = sqrt(norm);
    for (int k = 0; k < f->n_tun; k++) v[k] /= norm;
}

// space.py denormalize with the best config as reference: an unordered categorical keeps the
// best choice inside the incumbent's cell and takes a random other choice outside it.
static void denormalize(flow2 *f, const double *move, double *cfg) {
    hpo_space_from_unit(&f->space, move, cfg);
    for (int k = 0; k < f->n_tun; k++) {
        if (!f->unordered[k]) continue;
        int j = f->tun[k], n = f->space.hps[j].n_choices;
        int cell = (int)fmin(n - 1, floor(move[j] * n));
        int ref = (int)fmin(n - 1, floor(f->incumbent[j] * n));
        int best = (int)f->best_config[j];
        if (cell == ref) {
            cfg[j] = best;
        } else {
            int c = (int)gh_rng_below(&f->rng, (uint64_t)(n - 1));
            cfg[j] = c >= best ? c + 1 : c;
        }
    }
}

static int same_config(const flow2 *f, const double *cfg, double resource) {
    if (resource != f->best_resource && f->resource) return 0;
    for (int i = 0; i < f->space.d; i++)
        if (cfg[i] != f->best_config[i]) return 0;
    return 1;
}

// The next free slot (trials in flight may finish out of order), else the oldest one.
static flow2_pending *pending_new(flow2 *f, int64_t id) {
    int k = f->pending_next;
    for (int i = 0; i < FLOW2_PENDING && f->pending[k].used; i++) k = (k + 1) % FLOW2_PENDING;
    if (f->pending[k].used) k = f->pending_next;
    flow2_pending *p = &f->pending[k];
    f->pending_next = (k + 1) % FLOW2_PENDING;
    memset(p, 0, sizeof *p);
    p->id = id;
    p->used = 1;
    return p;
}

static flow2_pending *pending_find(flow2 *f, int64_t id) {
    for (int i = 0; i < FLOW2_PENDING; i++)
        if (f->pending[i].used && f->pending[i].id == id) return &f->pending[i];
    return NULL;
}

int flow2_suggest(flow2 *f, int64_t trial_id, double *cfg, double *fidelity) {
    int d = f->space.d;
    if (f->n_tun == 0) return 0;
    f->trial_count_proposed++;
    if (f->num_complete4incumbent > 0 && f->cost_incumbent > 0 && f->resource &&
        f->resource < f->max_resource &&
        f->cost_complete4incumbent >= f->cost_incumbent * f->factor) {
        // _increase_resource: the same incumbent at factor x the resource
        double old = f->resource;
        f->resource = round_resource(f, f->resource * f->factor);
        f->cost_incumbent *= f->resource / old;
        f->direction_tried = 0;
        flow2_pending *p = pending_new(f, trial_id);
        memcpy(p->cfg, f->best_config, (size_t)d * sizeof *cfg);
        p->resource = f->resource;
        p->step = f->step;
        memcpy(cfg, f->best_config, (size_t)d * sizeof *cfg);
        *fidelity = f->resource;
        return 1;
    }
    f->num_allowed4incumbent--;
    double move[HPO_MAX_DIM];
    memcpy(move, f->incumbent, (size_t)d * sizeof *move);
    if (f->direction_tried) {
        for (int k = 0; k < f->n_tun; k++) move[f->tun[k]] -= f->direction[k];   // the opposite
        f->direction_tried = 0;
    } else {
        rand_unit_sphere(f, f->direction);
        for (int k = 0; k < f->n_tun; k++) {
            f->direction[k] *= f->step;
            move[f->tun[k]] += f->direction[k];
        }
        f->direction_tried = 1;
    }
    for (int k = 0; k < f->n_tun; k++)   // _project: bounded keys to [0, 1]
        move[f->tun[k]] = fmax(0.0, fmin(1.0, move[f->tun[k]]));
    double resource = f->resource;
    denormalize(f, move, cfg);
    flow2_pending *p = pending_new(f, trial_id);
    memcpy(p->cfg, cfg, (size_t)d * sizeof *cfg);
    p->resource = resource;
    p->step = f->step;
    p->has_proposer = 1;
    memcpy(p->proposer, f->incumbent, (size_t)d * sizeof *cfg);
    p->proposer_resource = f->incumbent_resource;
    f->num_proposedby_incumbent++;
    if (f->init_phase) {
        // while the moves round back onto the incumbent (coarse int hps), grow the step
        if (!f->direction_tried) {
            if (f->same && same_config(f, cfg, resource)) {
                f->step += FLOW2_STEPSIZE;
                f->step = fmin(f->step, f->step_ub);
            }
        } else {
            f->same = same_config(f, cfg, resource);
        }
    }
    if (f->num_proposedby_incumbent == f->dir &&
        (!f->resource || f->resource == f->max_resource)) {
        // stuck: 2^d proposals without improvement at full resource; shrink the step
        f->num_proposedby_incumbent -= 2;
        f->init_phase = 0;
        if (f->step < step_lower_bound(f)) {
            p->used = 0;   // nothing proposed: the slot is not awaiting a result
            return 0;
        }
        f->oldK = f->K ? f->K : f->iter_best_config;
        f->K = f->trial_count_proposed + 1;
        f->step *= sqrt((double)f->oldK / (double)f->K);
    }
    *fidelity = resource ? resource : 1.0;
    if (f->init_phase) return 1;
    if (same_config(f, cfg, resource)) {
        // the move rounds onto the best config: the incumbent itself moves there
        memcpy(f->incumbent, move, (size_t)d * sizeof *move);
        f->incumbent_resource = resource;
    }
    return 1;
}

void flow2_complete(flow2 *f, int64_t trial_id, double loss, double cost) {
    int d = f->space.d;
    f->trial_count_complete++;
    flow2_pending *p = pending_find(f, trial_id);
    if (!p) return;
    p->used = 0;
    if (isfinite(loss) && (!f->has_best || loss < f->best_obj)) {
        f->has_best = 1;
        f->best_obj = loss;
        memcpy(f->best_config, p->cfg, (size_t)d * sizeof *p->cfg);
        f->best_resource = p->resource;
        f->step = p->step;
        // normalise the new best; unordered categoricals keep their position (the best
        // choice now lives in the incumbent's cell)
        double u[HPO_MAX_DIM];
        hpo_space_to_unit(&f->space, f->best_config, u);
        for (int k = 0; k < f->n_tun; k++)
            if (!f->unordered[k]) f->incumbent[f->tun[k]] = u[f->tun[k]];
        for (int i = 0; i < d; i++) {
            int tunable = 0;
            for (int k = 0; k < f->n_tun; k++) tunable |= f->tun[k] == i;
            if (!tunable) f->incumbent[i] = u[i];
        }
        f->cost_incumbent = cost > 0 ? cost : 1;   // FLAML: result.get(cost_attr, 1)
        if (f->resource) f->resource = p->resource;
        f->incumbent_resource = f->resource;
        f->num_complete4incumbent = 0;
        f->cost_complete4incumbent = 0;
        f->num_proposedby_incumbent = 0;
        f->num_allowed4incumbent = 2 * f->n_tun;
        if (f->K > 0) f->step *= sqrt((double)f->K / (double)f->oldK);
        f->step = fmin(f->step, f->step_ub);
        f->iter_best_config = f->trial_count_complete;
        return;
    }
    int by_incumbent = p->has_proposer && p->proposer_resource == f->incumbent_resource &&
                       !memcmp(p->proposer, f->incumbent, (size_t)d * sizeof *p->proposer);
    if (!by_incumbent) return;
    f->num_complete4incumbent++;
    if (cost > 0) f->cost_complete4incumbent += cost;
    if (f->num_complete4incumbent >= 2 * f->n_tun && f->num_allowed4incumbent == 0)
        f->num_allowed4incumbent = 2;
    if (f->num_complete4incumbent == f->dir && (!f->resource || f->resource == f->max_resource)) {
        f->num_complete4incumbent -= 2;
        f->num_allowed4incumbent = f->num_allowed4incumbent > 2 ? f->num_allowed4incumbent : 2;
    }
}

int flow2_can_suggest(const flow2 *f) { return f->num_allowed4incumbent > 0; }

int flow2_converged(const flow2 *f) {
    if (f->n_tun == 0) return 1;
    if (f->num_complete4incumbent < f->dir - 2) return 0;
    return f->step < step_lower_bound(f);
}

int flow2_reach(const flow2 *f, const flow2 *other) {
    if (f->resource && f->best_resource > other->best_resource) return 0;   // never shrinks
    for (int k = 0; k < f->n_tun; k++)   // an unordered choice is hard to reach by chance
        if (f->unordered[k] && f->best_config[f->tun[k]] != other->best_config[f->tun[k]])
            return 0;
    double s = 0;
    for (int k = 0; k < f->n_tun; k++) {
        double dx = f->incumbent[f->tun[k]] - other->incumbent[f->tun[k]];
        s += dx * dx;
    }
    return sqrt(s) <= f->step;
}

double flow2_step(const flow2 *f) { return f->step; }
double flow2_resource(const flow2 *f) { return f->resource; }
double flow2_best_loss(const flow2 *f) { return f->has_best ? f->best_obj : INFINITY; }
double flow2_cost_incumbent(const flow2 *f) { return f->cost_incumbent; }
const double *flow2_incumbent(const flow2 *f) { return f->incumbent; }
const double *flow2_best_config(const flow2 *f) { return f->best_config; }

void flow2_restart_config(const hpo_space *s, const int *cost_related, const double *lb,
                          const double *ub, int disturb, gh_rng *rng, double *cfg) {
    double u[HPO_MAX_DIM], low[HPO_MAX_DIM];
    hpo_space_low_cost_cfg(s, low);
    hpo_space_to_unit(s, low, u);
    for (int i = 0; i < s->d; i++) {
        if (!cost_related[i]) {
            u[i] = gh_rng_uniform(rng);   // not in the partial config: sampled from its domain
            continue;
        }
        if (!disturb) continue;
        double up = ub[i], lo = lb[i];
        double std = (up - lo) > 0 ? up - lo : FLOW2_STEPSIZE;
        up = fmin(up + FLOW2_STEPSIZE, 1.0);
        lo = fmax(lo - FLOW2_STEPSIZE, 0.0);
        u[i] = fmax(lo, fmin(up, u[i] + std * gh_rng_normal(rng)));
    }
    hpo_space_from_unit(s, u, cfg);
}
