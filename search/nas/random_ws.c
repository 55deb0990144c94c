// random_ws: random search with weight sharing (Li & Talwalkar, UAI 2019), the baseline DARTS
// is measured against on the same supernet and data: every training step of the shared weights
// takes one uniformly sampled path; then random_archs sampled genotypes are scored with the
// shared weights on the validation half and the best is returned. With a seconds budget
// ([search] budget) the shared weights train epoch after epoch while the next epoch and the
// scoring are expected to fit in it (search_epochs is then only the first guess of the cosine
// schedule's length), so that the baseline gets DARTS's measured cost, not its epochs.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nas_internal.h"

// What the search needs to continue from a checkpoint besides the engine's state (the shared
// weights, BN statistics, the SGD momentum): the trainer's position and the proposer (its RNG,
// which draws both the training paths and the scored genotypes, its signatures and best).
typedef struct {
    int stage;               // 0: training the shared weights; 1: scoring genotypes
    gh_train_pos pos;
    nas_proposer *proposer;
} random_ws_state;

// random_ws_state in a checkpoint: blob "random_ws/state" (stage and position) and the proposer's
// blobs under "random_ws/proposer" (its RNG, counters, signatures and best: the next trial id
// and the best genotype so far).
#define WS_STATE_MAGIC "GHRWSST1"
#define WS_STATE_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t stage;
    nas_pos_blob pos;
} ws_state_blob;
_Static_assert(sizeof(ws_state_blob) == 48, "ws_state_blob has padding");

typedef struct {
    const nas_run *r;
    nas_feed train;
    nas_net net;             // the supernet restricted to `path`
    genotype path;           // this step's sampled path
    gh_step_def sd;
    int steps;               // per epoch
    random_ws_state state;
    gh_train_plan plan;      // plan.epochs: the budget's projection of the epochs, when one
    // the seconds budget (c->budget_s > 0), on the search's measured wall clock (nas_run_cost)
    double epoch_t;          // the clock at the end of the last epoch (or the training's start)
    double epoch_s;          // the last epoch's seconds: the next one's expected cost
    double score_s;          // the scoring's estimated seconds
    int budget_stop;         // the budget ended the training
} ws_plan;

// A forward pass of an image costs about a third of a training step's forward and backward; the
// estimate takes 0.4 for the scoring's set-up and last batches (measured on the demo preset,
// Fashion-MNIST, 5 cells C=4, 24 genotypes on 384 images: the scoring took 0.29-0.40 of an
// epoch's seconds per image scored over trained).
#define WS_SCORE_FRACTION 0.4

// Seconds to score random_archs genotypes on the validation images, from an epoch's seconds.
static double ws_score_estimate(const ws_plan *k) {
    const nas_run *r = k->r;
    long nval = r->wval.n;
    if (r->c->search_val_limit > 0 && r->c->search_val_limit < nval) nval = r->c->search_val_limit;
    return k->epoch_s * WS_SCORE_FRACTION * (double)r->c->random.archs * (double)nval /
           (double)(r->wtrain.n > 0 ? r->wtrain.n : 1);
}

// After an epoch under a budget: another epoch only if it and the scoring are expected to end
// within the budget (the last epoch's seconds as the next one's: the machine's present speed,
// not the first epoch's warm-up); plan.epochs becomes the projected count, which the cosine
// schedule spans.
static int ws_budget_epoch(ws_plan *k, int epoch) {
    double now = nas_run_cost(k->r).wall_s, budget = k->r->c->budget_s;
    k->epoch_s = now - k->epoch_t;
    k->epoch_t = now;
    k->score_s = ws_score_estimate(k);
    double left = budget - now - k->score_s;
    int more = k->epoch_s > 0 ? (int)fmin(left / k->epoch_s, 1e6) : 0;
    if (more < 1) {
        k->plan.epochs = epoch + 1;
        k->budget_stop = 1;
        printf("random-ws: budget of %g s: %.1f s used after %d epochs, scoring estimated "
               "%.1f s, an epoch %.1f s: scoring now\n", budget, now, epoch + 1, k->score_s,
               k->epoch_s);
        return GH_TRAIN_STOP;
    }
    k->plan.epochs = epoch + 1 + more;
    return GH_OK;
}

static int ws_batch(void *ctx, int epoch, int step, gh_batch *b) {
    return nas_feed_train(&((ws_plan *)ctx)->train, epoch, step, b);
}

static double ws_lr(void *ctx, int epoch, int step) {
    (void)step;
    const ws_plan *k = ctx;
    const nas_config *c = k->r->c;
    return nas_cosine_lr(c->search_lr, c->search_lr_min, epoch, k->plan.epochs);
}

static int ws_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    ws_plan *k = ctx;
    int st = nas_sample(k->state.proposer, &k->path);
    return st ? st : gh_train_step(e, &k->sd, b, lr);
}

static int ws_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    (void)e;
    ws_plan *k = ctx;
    const nas_run *r = k->r;
    ledger_epoch ep = {.phase = "search", .trial_id = -1, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = NAN,
                       .val_acc = NAN, .lr = p->lr, .cost = nas_run_cost(r)};
    int st = r->l ? ledger_append_epoch(r->l, &ep) : GH_OK;
    return !st && r->c->budget_s > 0 ? ws_budget_epoch(k, p->epoch) : st;
}

// A checkpoint of the engine (shared weights, BN statistics, SGD momentum) and the state.
static int ws_save(ws_plan *k, gh_engine *e) {
    const nas_run *r = k->r;
    const random_ws_state *s = &k->state;
    cost_totals cost = nas_run_cost(r);
    // step: training steps done, then one more per scored genotype
    int64_t step = (int64_t)s->pos.epoch * k->steps + s->pos.step +
                   (s->stage ? s->proposer->n_told : 0);
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(r->ck, r->l, NAS_DO_SEARCH, step, &cost, &w);
    if (st || !w) return st;
    ws_state_blob b = {.version = WS_STATE_VERSION, .stage = s->stage,
                       .pos = nas_pos_pack(&s->pos)};
    memcpy(b.magic, WS_STATE_MAGIC, sizeof b.magic);
    st = gh_engine_state_save(e, ledger_ckpt_put_cb, w);
    if (!st) st = ledger_ckpt_put(w, "random_ws/state", &b, sizeof b);
    if (!st) st = nas_proposer_save(s->proposer, "random_ws/proposer", ledger_ckpt_put_cb, w);
    nas_ckpt_point at = {.phase = NAS_DO_SEARCH, .unit = s->stage ? s->proposer->n_told + 1 : 0,
                         .training = !s->stage, .pos = s->pos};
    return nas_ckpt_end(r->ck, w, st, &at);
}

static int ws_checkpoint(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    ws_plan *k = ctx;
    k->state.pos = *pos;
    return nas_ckpt_skip(pos, k->steps) ? GH_OK : ws_save(k, e);
}

// Continues from checkpoint `from`: the engine state, the stage and position, the proposer.
static int ws_resume(ws_plan *k, gh_engine *e, ledger_ckpt_reader *from) {
    ws_state_blob b;
    int st = gh_engine_state_load(e, ledger_ckpt_get_cb, from);
    if (!st) st = ledger_ckpt_get(from, "random_ws/state", &b, sizeof b);
    if (!st) st = nas_blob_check(from, "random_ws/state", b.magic, b.version, WS_STATE_MAGIC,
                                 WS_STATE_VERSION);
    if (!st && b.stage != 0 && b.stage != 1)
        st = gh_fail(GH_EFORMAT, "checkpoint of %s: blob 'random_ws/state' has stage %d",
                     ledger_ckpt_run_id(from), b.stage);
    if (!st) st = nas_proposer_load(k->state.proposer, "random_ws/proposer", from);
    if (st) return st;
    k->state.stage = b.stage;
    k->state.pos = nas_pos_unpack(&b.pos);
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
    k->steps = nas_feed_steps(&k->train, k->r->wtrain.n);
    k->plan = (gh_train_plan){.phase = "random-ws", .epochs = c->search_epochs,
                              .steps = k->steps, .report_every = c->report_every,
                              .checkpoint_every_s = 60 * c->checkpoint_every_min,
                              .batch = ws_batch, .lr = ws_lr, .step = ws_step,
                              .epoch_end = ws_epoch_end, .checkpoint = ws_checkpoint, .ctx = k};
    k->epoch_t = nas_run_cost(k->r).wall_s;
    // under a budget the epochs are open: epoch_end projects them, or stops the training
    if (c->budget_s > 0 && k->plan.epochs <= k->state.pos.epoch)
        k->plan.epochs = k->state.pos.epoch + 1;
    st = gh_train_run(e, &k->plan, &k->state.pos, NULL);
    nas_feed_free(&k->train);
    return st;
}

// Scores random_archs proposals with the shared weights; the proposer keeps the best. A
// checkpoint follows each scored genotype's trial row.
static int ws_score(ws_plan *k, gh_engine *e) {
    const nas_run *r = k->r;
    nas_evaluator *ev;
    int st = nas_eval_shared_create(&ev, r, e, k->net.super, k->plan.epochs);
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
        if (!st) st = ws_save(k, e);
    }
    nas_evaluator_destroy(ev);
    return st == NAS_STOP ? GH_OK : st;
}

// What the budget amounted to ("search_budget", JSON, as the proposer searches record it):
// given, used (the search's wall seconds so far, the scoring included), what stopped the
// training, the epochs trained and the genotypes scored.
static int ws_record_budget(const ws_plan *k, double score_s) {
    const nas_run *r = k->r;
    if (!r->l || !(r->c->budget_s > 0)) return GH_OK;   // else: the epochs were the budget
    char text[512];
    snprintf(text, sizeof text,
             "{\"budget_s\": %g, \"used_s\": %.3f, \"stopped_by\": \"%s\", \"epochs\": %d, "
             "\"children\": %lld, \"score_s\": %.3f, \"score_estimate_s\": %.3f}",
             r->c->budget_s, nas_run_cost(r).wall_s, k->budget_stop ? "budget" : "epochs",
             k->plan.epochs, (long long)k->state.proposer->n_told, score_s, k->score_s);
    return ledger_put_text(r->l, "search_budget", text);
}

int random_ws_run(nas_run *r, genotype *best) {
    const nas_config *c = r->c;
    ws_plan k = {.r = r, .steps = (r->wtrain.n + c->search_batch - 1) / c->search_batch,
                 .plan = {.epochs = c->search_epochs}};
    gh_engine *e = NULL;
    nas_proposer_options po = {.seed = c->seed, .max_proposals = c->random.archs,
                               .steps = r->nc.steps, .multiplier = r->nc.multiplier};
    int st = nas_proposer_create(&k.state.proposer, "random", &po);
    if (!st) st = nas_run_supernet(r, &e, &k.net);
    ledger_ckpt_reader *from = nas_ckpt_from(r->ck, NAS_DO_SEARCH);
    if (!st && from) st = ws_resume(&k, e, from);
    if (!st && k.state.stage == 0) st = ws_train(&k, e);
    k.state.stage = 1;
    double t_score = nas_run_cost(r).wall_s;
    if (!st) st = ws_score(&k, e);
    if (!st) st = ws_record_budget(&k, nas_run_cost(r).wall_s - t_score);
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
