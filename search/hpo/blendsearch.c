// blendsearch: BlendSearch (Wang, Wu, Huang, Amizadeh, ICLR 2021; flaml/tune/searcher/
// blendsearch.py with search_thread.py): a global searcher (TPE here, Optuna's TPE in FLAML)
// proposes start points; a result better than the median of the local threads starts a new
// FLOW2 thread there. Each round the thread with the highest priority (estimated cost for
// improvement x speed - best loss) proposes; global proposals outside the admissible box of
// the local threads (+/- one step) are replaced by a backup thread or a CFO restart point.
// Threads that converge or that another thread can reach are dropped.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

#define BS_STEPSIZE 0.1
#define BS_MAX_THREADS 64
#define BS_PENDING HPO_MAX_PENDING

typedef struct {
    flow2 *ls;                  // NULL: the global thread (index 0)
    int alive;
    double cost_best, cost_last, cost_total, cost_best1, cost_best2;
    double obj_best1, obj_best2;
    double speed, eci, priority;
    int running, has_result;
} bs_thread;

typedef struct {
    int64_t id;
    int used;
    int thread;                 // proposer; -1 for none
    int serial;                 // the proposer's serial, so a recycled slot is not mistaken
} bs_pending;

typedef struct {
    hpo_searcher base;
    int ready;
    tpe_model *gs;
    bs_thread th[BS_MAX_THREADS];
    int serial[BS_MAX_THREADS];
    int init_used, reset_times, use_rs_next;
    int cost_related[HPO_MAX_DIM];
    double ls_lb[HPO_MAX_DIM], ls_ub[HPO_MAX_DIM];   // _ls_bound_min / _ls_bound_max
    double gs_lb[HPO_MAX_DIM], gs_ub[HPO_MAX_DIM];   // _gs_admissible_min / _max
    double metric_target, eps;
    flow2_options fo;
    uint64_t ls_seed;
    bs_pending pending[BS_PENDING];
    int pending_next;
} blend;

static void thread_init(bs_thread *t, flow2 *ls) {
    memset(t, 0, sizeof *t);
    t->ls = ls;
    t->alive = 1;
    double c = ls ? flow2_cost_incumbent(ls) : 0;   // SearchThread.__init__
    t->cost_best = t->cost_last = t->cost_total = t->cost_best1 = c;
    t->obj_best1 = t->obj_best2 = ls ? flow2_best_loss(ls) : INFINITY;
    t->eci = t->cost_best;
}

static int bs_setup(blend *b) {
    hpo_searcher *s = &b->base;
    int st = tpe_model_create(&b->gs, &s->space, s->opt.seed - 10, s->opt.tpe_startup);
    if (st) return st;
    hpo_space_cost_related(&s->space, b->cost_related);
    double low[HPO_MAX_DIM];
    hpo_space_low_cost_cfg(&s->space, low);
    hpo_space_to_unit(&s->space, low, b->ls_lb);
    memcpy(b->ls_ub, b->ls_lb, sizeof b->ls_lb);
    memcpy(b->gs_lb, b->ls_lb, sizeof b->ls_lb);
    memcpy(b->gs_ub, b->ls_lb, sizeof b->ls_lb);
    thread_init(&b->th[0], NULL);
    b->metric_target = INFINITY;
    // SEARCH_THREAD_EPS, or budget/1000 with a time budget (BlendSearch._set_eps)
    b->eps = s->opt.cost_budget > 0 ? fmax(fmin(s->opt.cost_budget / 1000.0, 1.0), 1e-9) : 1.0;
    b->fo.min_resource = s->opt.min_fidelity;
    b->fo.max_resource = 1.0;
    b->fo.resource_factor = s->opt.fidelity_factor > 1 ? s->opt.fidelity_factor : 4.0;
    b->ls_seed = s->opt.seed + 20;
    b->ready = 1;
    return GH_OK;
}

static double min_fid(const blend *b) {
    return b->base.opt.min_fidelity < 1 ? b->base.opt.min_fidelity : 1.0;
}

static bs_pending *pending_at(blend *b, int64_t id) {
    for (int i = 0; i < BS_PENDING; i++)
        if (b->pending[i].used && b->pending[i].id == id) return &b->pending[i];
    return NULL;
}

// The next free slot (trials in flight may finish out of order), else the oldest one.
static void pending_add(blend *b, int64_t id, int thread) {
    int k = b->pending_next;
    for (int i = 0; i < BS_PENDING && b->pending[k].used; i++) k = (k + 1) % BS_PENDING;
    if (b->pending[k].used) k = b->pending_next;
    bs_pending *p = &b->pending[k];
    b->pending_next = (k + 1) % BS_PENDING;
    *p = (bs_pending){id, 1, thread, b->serial[thread]};
}

static void region_update(blend *b, const double *cfg, double *lb, double *ub) {
    double u[HPO_MAX_DIM];
    hpo_space_to_unit(&b->base.space, cfg, u);
    for (int i = 0; i < b->base.space.d; i++) {
        if (!b->cost_related[i]) continue;
        if (u[i] > ub[i]) ub[i] = u[i];
        else if (u[i] < lb[i]) lb[i] = u[i];
    }
}

static void region_expand(blend *b) {
    for (int i = 0; i < b->base.space.d; i++) {
        if (!b->cost_related[i]) continue;
        b->ls_ub[i] += BS_STEPSIZE;
        b->ls_lb[i] -= BS_STEPSIZE;
    }
}

// BlendSearch._valid: a global proposal within one step of the admissible box
static int valid(const blend *b, const double *cfg) {
    double u[HPO_MAX_DIM];
    hpo_space_to_unit(&b->base.space, cfg, u);
    for (int i = 0; i < b->base.space.d; i++)
        if (b->cost_related[i] &&
            (u[i] + BS_STEPSIZE < b->gs_lb[i] || u[i] > b->gs_ub[i] + BS_STEPSIZE))
            return 0;
    return 1;
}

static void kill_thread(blend *b, int i) {
    flow2_free(b->th[i].ls);
    memset(&b->th[i], 0, sizeof b->th[i]);
    b->serial[i]++;
}

// SearchThread.update_eci / update_priority, BlendSearch._select_thread
static void select_thread(blend *b, int *top, int *backup) {
    hpo_searcher *s = &b->base;
    double min_eci = INFINITY;
    if (s->opt.cost_budget > 0) min_eci = fmax(s->opt.cost_budget - s->cost_used, 0.0);
    double max_speed = 0;
    for (int i = 0; i < BS_MAX_THREADS; i++)
        if (b->th[i].alive && b->th[i].speed > max_speed) max_speed = b->th[i].speed;
    for (int i = 0; i < BS_MAX_THREADS; i++) {
        bs_thread *t = &b->th[i];
        if (!t->alive) continue;
        if (!t->speed) t->speed = max_speed;
        t->eci = fmax(t->cost_total - t->cost_best1, t->cost_best1 - t->cost_best2);
        if (t->obj_best1 > b->metric_target && t->speed > 0)
            t->eci = fmax(t->eci, 2 * (t->obj_best1 - b->metric_target) / t->speed);
        if (t->eci < min_eci) min_eci = t->eci;
    }
    for (int i = 0; i < BS_MAX_THREADS; i++) {
        bs_thread *t = &b->th[i];
        if (!t->alive) continue;
        double gain = t->speed ? min_eci * t->speed : 0;   // 0 * inf stays 0
        t->priority = gain - t->obj_best1;
    }
    *top = *backup = 0;
    double p1 = b->th[0].priority, p2 = p1;
    for (int i = 1; i < BS_MAX_THREADS; i++) {
        bs_thread *t = &b->th[i];
        if (!t->alive || !flow2_can_suggest(t->ls)) continue;
        if (t->priority > p1) {
            p1 = t->priority;
            *top = i;
        }
        if (t->priority > p2 || *backup == 0) {
            p2 = t->priority;
            *backup = i;
        }
    }
}

static void restart_point(blend *b, double *cfg) {
    flow2_restart_config(&b->base.space, b->cost_related, b->ls_lb, b->ls_ub, b->reset_times > 0,
                         &b->base.rng, cfg);
    b->reset_times++;
}

static int bs_ask(hpo_searcher *s, hpo_trial *t) {
    blend *b = (blend *)s;
    if (!b->ready) {
        int st = bs_setup(b);
        if (st) return st;
    }
    if (!b->init_used) {   // points_to_evaluate: the init_value point, run by thread 0
        hpo_space_init_cfg(&s->space, t->cfg);
        t->fidelity = min_fid(b);
        b->init_used = 1;
        b->th[0].running++;
        pending_add(b, t->id, 0);
        return GH_OK;
    }
    if (b->use_rs_next) {   // the global proposal repeated a known one: random instead
        b->use_rs_next = 0;
        hpo_space_random_cfg(&s->space, &s->rng, t->cfg);
        t->fidelity = min_fid(b);
        b->th[0].running++;
        pending_add(b, t->id, 0);
        return GH_OK;
    }
    int choice, backup;
    select_thread(b, &choice, &backup);
    if (choice) {
        bs_thread *th = &b->th[choice];
        double fid = 1.0;
        if (!flow2_suggest(th->ls, t->id, t->cfg, &fid)) {
            if (flow2_converged(th->ls)) {
                region_expand(b);
                kill_thread(b, choice);
            }
            return HPO_RETRY;
        }
        t->fidelity = fid;
        th->running++;
        pending_add(b, t->id, choice);
        region_update(b, t->cfg, b->ls_lb, b->ls_ub);
        memcpy(b->gs_lb, b->ls_lb, sizeof b->ls_lb);
        memcpy(b->gs_ub, b->ls_ub, sizeof b->ls_ub);
        return GH_OK;
    }
    // global: GS proposals run at the smallest resource (FLAML sets best_resource, which its
    // code never moves off min_resource)
    int st = tpe_model_propose(b->gs, t->cfg);
    if (st) return st;
    t->fidelity = min_fid(b);
    if (valid(b, t->cfg)) {
        b->th[0].running++;
        pending_add(b, t->id, 0);
        region_update(b, t->cfg, b->gs_lb, b->gs_ub);   // relaxed for this proposal
        return GH_OK;
    }
    if (backup == 0) {   // no local thread to fall back on: a CFO restart point
        restart_point(b, t->cfg);
        b->th[0].running++;
        pending_add(b, t->id, 0);
        return GH_OK;
    }
    bs_thread *th = &b->th[backup];
    double fid = 1.0;
    if (!flow2_suggest(th->ls, t->id, t->cfg, &fid)) return HPO_RETRY;
    t->fidelity = fid;
    th->running++;
    pending_add(b, t->id, backup);
    region_update(b, t->cfg, b->ls_lb, b->ls_ub);
    memcpy(b->gs_lb, b->ls_lb, sizeof b->ls_lb);
    memcpy(b->gs_ub, b->ls_ub, sizeof b->ls_ub);
    return GH_OK;
}

// SearchThread.on_trial_complete: the thread's best two results and its speed of improvement
static int thread_result(blend *b, int i, const hpo_trial *t, double loss, double cost) {
    bs_thread *th = &b->th[i];
    if (th->ls) {
        flow2_complete(th->ls, t->id, loss, cost);
    } else {
        int st = tpe_model_observe(b->gs, t->cfg, loss);
        if (st) return st;
    }
    if (isfinite(loss)) {
        th->cost_last = cost;
        th->cost_total += cost;
        if (!th->has_result || loss < th->obj_best1) {
            th->cost_best2 = th->cost_best1;
            th->cost_best1 = th->cost_total;
            th->obj_best2 = isinf(th->obj_best1) ? loss : th->obj_best1;
            th->obj_best1 = loss;
            th->cost_best = th->cost_last;
            th->has_result = 1;
        }
        int running = th->running > 0 ? th->running : 1;
        th->speed = th->obj_best2 > th->obj_best1
                        ? (th->obj_best2 - th->obj_best1) / running /
                              fmax(th->cost_total - th->cost_best2, b->eps)
                        : 0;
    }
    if (th->running > 0) th->running--;
    return GH_OK;
}

// _inferior(id1, id2): thread id2 can reach id1's incumbent and id1 is no better
static int inferior(const blend *b, int i1, int i2) {
    const bs_thread *t1 = &b->th[i1], *t2 = &b->th[i2];
    if (t1->obj_best1 < t2->obj_best2) return 0;
    if (flow2_resource(t1->ls) && flow2_resource(t1->ls) < flow2_resource(t2->ls)) return 0;
    return flow2_reach(t2->ls, t1->ls);
}

static void clean(blend *b, int id) {
    int del[BS_MAX_THREADS] = {0};
    for (int i = 1; i < BS_MAX_THREADS; i++)
        if (b->th[i].alive && i != id && inferior(b, i, id)) del[i] = 1;
    for (int i = 1; i < BS_MAX_THREADS; i++)
        if (b->th[i].alive && i != id && inferior(b, id, i)) {
            del[id] = 1;
            break;
        }
    if (flow2_converged(b->th[id].ls)) {
        del[id] = 1;
        region_expand(b);
    }
    for (int i = 1; i < BS_MAX_THREADS; i++)
        if (del[i]) kill_thread(b, i);
}

static int create_condition(const blend *b, double loss) {
    double v[BS_MAX_THREADS];
    int n = 0;
    for (int i = 1; i < BS_MAX_THREADS; i++)
        if (b->th[i].alive) v[n++] = b->th[i].obj_best1;
    if (n == 0) return 1;
    for (int i = 1; i < n; i++)   // insertion sort: the pool is small
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return loss < median;
}

// A new local thread at t; GH_OK without one when all BS_MAX_THREADS slots are alive.
static int create_thread(blend *b, const hpo_trial *t, double loss, double cost) {
    int slot = -1;
    for (int i = 1; i < BS_MAX_THREADS && slot < 0; i++)
        if (!b->th[i].alive) slot = i;
    if (slot < 0) return GH_OK;
    flow2 *ls;
    b->fo.seed = b->ls_seed++;
    int st = flow2_create(&ls, &b->base.space, t->cfg, t->fidelity, loss, cost > 0 ? cost : 1,
                          &b->fo);
    if (st) return st;
    thread_init(&b->th[slot], ls);
    region_update(b, t->cfg, b->ls_lb, b->ls_ub);
    return GH_OK;
}

static int on_complete(blend *b, const hpo_trial *t, double loss, double cost, int cached) {
    bs_pending *p = pending_at(b, t->id);
    int tid = -1;
    if (p) {
        p->used = 0;
        if (b->th[p->thread].alive && b->serial[p->thread] == p->serial) tid = p->thread;
    }
    if (tid >= 0) {
        int st = thread_result(b, tid, t, loss, cost);
        if (st) return st;
    }
    if (cached) {   // _should_skip: the thread learns the known result; nothing new is created
        if (tid > 0) clean(b, tid);
        else if (tid == 0) b->use_rs_next = 1;
        return GH_OK;
    }
    if (isfinite(loss)) {
        if (loss < b->metric_target) b->metric_target = loss;
        if (tid == 0 && create_condition(b, loss)) {
            int st = create_thread(b, t, loss, cost);
            if (st) return st;
        }
        memcpy(b->gs_lb, b->ls_lb, sizeof b->ls_lb);   // back to the local box
        memcpy(b->gs_ub, b->ls_ub, sizeof b->ls_ub);
    }
    if (tid > 0 && b->th[tid].alive) clean(b, tid);
    return GH_OK;
}

static int bs_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    return on_complete((blend *)s, t, loss, cost, 0);
}

static int bs_seen(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    return on_complete((blend *)s, t, loss, cost, 1);
}

static void bs_destroy(hpo_searcher *s) {
    blend *b = (blend *)s;
    for (int i = 1; i < BS_MAX_THREADS; i++) flow2_free(b->th[i].ls);
    tpe_model_free(b->gs);
    free(b);
}

static const hpo_vtable bs_vt = {"blendsearch", bs_ask, bs_tell, bs_seen, bs_destroy};

int hpo_blendsearch_create(hpo_searcher **out) {
    blend *b = calloc(1, sizeof *b);
    if (!b) return gh_fail(GH_ENOMEM, "blendsearch: %zu bytes", sizeof *b);
    b->base.vt = &bs_vt;
    *out = &b->base;
    return GH_OK;
}
