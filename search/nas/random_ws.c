// random_ws: random search with weight sharing (Li & Talwalkar, UAI 2019), the baseline DARTS
// is measured against on the same supernet and data: every training step of the shared weights
// takes one uniformly sampled path; then random_archs sampled genotypes are scored with the
// shared weights on the validation half and the best is returned.
#include <math.h>
#include <stdio.h>

#include "nas_internal.h"

// What the search needs to continue from a checkpoint besides the engine's state (the shared
// weights, BN statistics, the SGD momentum): the trainer's position and the proposer (its RNG,
// which draws both the training paths and the scored genotypes, its signatures and best).
typedef struct {
    gh_train_pos pos;
    nas_proposer *proposer;
} random_ws_state;

typedef struct {
    const nas_run *r;
    nas_feed train;
    nas_net net;             // the supernet restricted to `path`
    genotype path;           // this step's sampled path
    gh_step_def sd;
    random_ws_state state;
} ws_plan;

static int ws_batch(void *ctx, int epoch, int step, gh_batch *b) {
    return nas_feed_train(&((ws_plan *)ctx)->train, epoch, step, b);
}

static double ws_lr(void *ctx, int epoch, int step) {
    (void)step;
    const nas_config *c = ((ws_plan *)ctx)->r->c;
    return nas_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
}

static int ws_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    ws_plan *k = ctx;
    int st = nas_sample(k->state.proposer, &k->path);
    return st ? st : gh_train_step(e, &k->sd, b, lr);
}

static int ws_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    (void)e;
    const nas_run *r = ((ws_plan *)ctx)->r;
    if (!r->l) return GH_OK;
    ledger_epoch ep = {.phase = "search", .trial_id = -1, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = NAN,
                       .val_acc = NAN, .lr = p->lr, .cost = cost_meter_read(r->meter)};
    return ledger_append_epoch(r->l, &ep);
}

// Keeps the trainer's position in the state (saving the state to disk comes with checkpoints).
static int ws_checkpoint(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    (void)e;
    ((ws_plan *)ctx)->state.pos = *pos;
    return GH_OK;
}

static int ws_train(ws_plan *k, gh_engine *e) {
    const nas_config *c = k->r->c;
    k->net.path = &k->path;
    k->sd = (gh_step_def){.loss = nas_net_loss, .model = &k->net, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .momentum = c->search_momentum, .wd = c->search_wd,
                          .grad_clip = c->search_grad_clip};
    int st = nas_feed_init(&k->train, &k->r->wtrain, &k->r->aug, c->search_batch, c->seed);
    if (st) return st;
    gh_train_plan plan = {.phase = "random-ws", .epochs = c->search_epochs,
                          .steps = nas_feed_steps(&k->train, k->r->wtrain.n),
                          .report_every = c->report_every, .batch = ws_batch, .lr = ws_lr,
                          .step = ws_step, .epoch_end = ws_epoch_end,
                          .checkpoint = ws_checkpoint, .ctx = k};
    st = gh_train_run(e, &plan, &k->state.pos, NULL);
    nas_feed_free(&k->train);
    return st;
}

// Scores random_archs proposals with the shared weights; the proposer keeps the best.
static int ws_score(ws_plan *k, gh_engine *e) {
    const nas_run *r = k->r;
    nas_evaluator *ev;
    int st = nas_eval_shared_create(&ev, r, e, k->net.super, r->c->search_epochs);
    if (st) return st;
    nas_proposal q;
    while (!st && (st = nas_ask(k->state.proposer, &q)) == GH_OK) {
        nas_eval_result res;
        st = nas_evaluator_run(ev, &q.g, q.id, &res);
        if (!st) {
            printf("random-ws arch %lld/%d: shared-weight valid_acc %.2f%%\n",
                   (long long)q.id + 1, r->c->random.archs, 100 * res.val_acc);
            st = nas_tell(k->state.proposer, &q, res.val_acc, res.cost.wall_s);
        }
        if (!st) st = nas_record_trial(r, q.id, &q.g, &res, "ok");
    }
    nas_evaluator_destroy(ev);
    return st == NAS_STOP ? GH_OK : st;
}

int random_ws_run(nas_run *r, genotype *best) {
    const nas_config *c = r->c;
    ws_plan k = {.r = r};
    gh_engine *e = NULL;
    nas_proposer_options po = {.seed = c->seed, .max_proposals = c->random.archs,
                               .steps = r->nc.steps, .multiplier = r->nc.multiplier};
    int st = nas_proposer_create(&k.state.proposer, "random", &po);
    if (!st) st = nas_run_supernet(r, &e, &k.net);
    if (!st) st = ws_train(&k, e);
    if (!st) st = ws_score(&k, e);
    if (!st && !(k.state.proposer->best_reward > -INFINITY))
        st = gh_fail(GH_EINVAL, "random-ws: no genotype was scored (random_archs %d)",
                     c->random.archs);
    if (!st) *best = k.state.proposer->best.g;
    if (e) cost_meter_note_peak_mem(r->meter, (double)gh_engine_arena_peak(e));
    nas_proposer_destroy(k.state.proposer);
    nas_net_free(&k.net);
    gh_engine_destroy(e);
    return st;
}
