// nas_eval: the evaluators a proposal is scored by: trained from scratch (the genotype's own
// network at the search size, a few epochs on the weight half; random sampling, NASNet-style
// RL, regularized evolution) and evaluated with shared supernet weights (a path of a trained
// supernet; random-ws, ENAS), both on the run's validation half.
#include <math.h>
#include <stdlib.h>

#include "nas_internal.h"

int nas_evaluator_run(nas_evaluator *ev, const genotype *g, int64_t trial_id,
                      nas_eval_result *r) {
    *r = (nas_eval_result){.val_loss = NAN, .val_acc = NAN, .train_loss = NAN,
                           .train_acc = NAN, .fidelity = NAN};
    return ev->evaluate(ev, g, trial_id, r);
}

void nas_evaluator_destroy(nas_evaluator *ev) {
    if (ev) ev->destroy(ev);
}

// ---- from scratch ----------------------------------------------------------------------------
typedef struct {
    nas_evaluator base;
    const nas_run *r;
    int epochs;
} scratch_eval;

int nas_train_child(const nas_run *r, const genotype *g, int64_t id, uint64_t seed, int epochs,
                    struct ledger *l, nas_eval_result *res) {
    const nas_config *c = r->c;
    // the search's weight optimiser; the schedule anneals to 0 over the short training
    nas_train_opts o = {.nc = r->nc, .epochs = epochs, .batch = c->search_batch,
                        .lr = c->search_lr, .lr_min = 0.0, .momentum = c->search_momentum,
                        .wd = c->search_wd, .grad_clip = c->search_grad_clip, .aug = r->aug,
                        .seed = seed, .phase = "selection", .trial_id = id};
    nas_train_result t;
    int st = nas_train_genotype(c, g, &r->wtrain, &r->wval, &o, l, &t);
    *res = (nas_eval_result){.val_loss = t.eval_loss, .val_acc = t.eval_acc,
                             .train_loss = t.train_loss, .train_acc = t.train_acc,
                             .fidelity = epochs, .cost = t.cost};
    return st;
}

static int scratch_evaluate(nas_evaluator *ev, const genotype *g, int64_t id,
                            nas_eval_result *res) {
    scratch_eval *s = (scratch_eval *)ev;
    return nas_train_child(s->r, g, id, s->r->c->seed + (uint64_t)id, s->epochs, s->r->l, res);
}

static void scratch_destroy(nas_evaluator *ev) { free(ev); }

int nas_eval_scratch_create(nas_evaluator **out, const nas_run *r, int epochs) {
    if (epochs < 0) return gh_fail(GH_EINVAL, "scratch evaluator: %d epochs", epochs);
    scratch_eval *s = calloc(1, sizeof *s);
    if (!s) return gh_fail(GH_ENOMEM, "scratch evaluator: no memory");
    s->base = (nas_evaluator){.name = "scratch", .evaluate = scratch_evaluate,
                              .destroy = scratch_destroy};
    s->r = r;
    s->epochs = epochs;
    *out = &s->base;
    return GH_OK;
}

// ---- with shared weights ---------------------------------------------------------------------
typedef struct {
    nas_evaluator base;
    const nas_run *r;
    gh_engine *e;
    darts_supernet *net;
    double fidelity;
    cost_meter *meter;
} shared_eval;

static int shared_evaluate(nas_evaluator *ev, const genotype *g, int64_t id,
                           nas_eval_result *res) {
    (void)id;
    shared_eval *s = (shared_eval *)ev;
    const nas_config *c = s->r->c;
    cost_meter_start(s->meter);
    nas_net path = {.super = s->net, .path = g};
    int st = nas_eval_images(s->e, nas_net_eval_loss, &path, &s->r->wval, &s->r->d->norm,
                             c->search_val_limit, c->search_batch, &res->val_loss,
                             &res->val_acc);
    res->fidelity = s->fidelity;
    res->cost = cost_meter_read(s->meter);
    return st;
}

static void shared_destroy(nas_evaluator *ev) {
    cost_meter_destroy(((shared_eval *)ev)->meter);
    free(ev);
}

int nas_eval_shared_create(nas_evaluator **out, const nas_run *r, gh_engine *e,
                           darts_supernet *net, double fidelity) {
    shared_eval *s = calloc(1, sizeof *s);
    if (!s) return gh_fail(GH_ENOMEM, "shared-weight evaluator: no memory");
    s->base = (nas_evaluator){.name = "shared", .evaluate = shared_evaluate,
                              .destroy = shared_destroy};
    s->r = r;
    s->e = e;
    s->net = net;
    s->fidelity = fidelity;
    s->meter = cost_meter_create(nas_gpus(r->c));
    *out = &s->base;
    return GH_OK;
}
