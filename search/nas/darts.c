// darts: the DARTS method (Liu et al., ICLR 2019; train_search.py and architect.py): the
// architecture gradient of first and second order (unrolled weight step, finite-difference
// Hessian-vector product, eq. 6-8), the search step (that gradient, Adam on alpha, then the
// trainer's weight step), and the search as a trainer plan with a genotype derived and recorded
// after every epoch.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

struct darts_search {
    gh_engine *e;
    nas_net net;             // the supernet, every op (not owned)
    gh_step_def wstep;       // the weight step: SGD with momentum, weight decay, clipping
    darts_step_opts o;
    size_t nw, na, nb;
    float *w_save, *v, *dalpha, *gplus, *b_save;   // backend memory that outlives steps
    double *sc;              // device scalars: [0] ||v||, [1] eps (no read to the host)
    uint64_t npass;          // pass1 calls since create: the key of its region
};

int darts_search_create(darts_search **out, gh_engine *e, darts_supernet *net,
                        const darts_step_opts *o) {
    if (o->order != 1 && o->order != 2)
        return gh_fail(GH_EINVAL, "darts: order must be 1 or 2, got %d", o->order);
    darts_search *s = calloc(1, sizeof *s);
    if (!s) return gh_fail(GH_ENOMEM, "darts search: no memory");
    s->e = e;
    s->net = (nas_net){.super = net};
    s->wstep = (gh_step_def){.loss = nas_net_loss, .model = &s->net, .group = GH_GROUP_WEIGHTS,
                             .opt = GH_OPT_SGD, .momentum = o->momentum, .wd = o->wd,
                             .grad_clip = o->grad_clip, .reduce = o->reduce,
                             .reduce_ctx = o->reduce_ctx, .ready = o->ready,
                             .micro = o->micro, .fixed_graph = 1};
    s->o = *o;
    s->nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    s->na = gh_group_numel(e, GH_GROUP_ARCH);
    s->nb = gh_group_numel(e, GH_GROUP_BUFFERS);
    s->b_save = gh_buffer(e, s->nb ? s->nb : 1);
    if (o->order == 2) {
        s->w_save = gh_buffer(e, s->nw);
        s->v = gh_buffer(e, s->nw);
        s->dalpha = gh_buffer(e, s->na);
        s->gplus = gh_buffer(e, s->na);
        s->sc = gh_buffer_f64(e, 2);
    }
    if (!s->b_save ||
        (o->order == 2 && (!s->w_save || !s->v || !s->dalpha || !s->gplus || !s->sc))) {
        size_t nw = s->nw;
        free(s);
        return gh_fail(GH_ENOMEM, "darts search: saved-weight buffers (%zu weights): %s", nw,
                       gh_error_get());
    }
    *out = s;
    return GH_OK;
}

void darts_search_free(darts_search *s) { free(s); }  // buffers belong to the engine

// One forward and backward of the supernet on a batch; grads ADD into the groups. With
// micro-batches, one pass per part and the sum divided by their number (called on zeroed grads).
// After the labels' upload, each pass is a capturable region (engine.h: the same launches every
// step, so that with graphs on it is captured once and replayed), keyed by its place in the
// architecture gradient: pass1's calls since create modulo their number per darts_arch_grad
// (second order: 4 passes, first order 1, each in `micro` parts). A desynchronised count (an
// arch gradient cut short by an error) only changes signatures, which the engine checks.
typedef struct {
    darts_search *s;
    const gh_batch *b;
    const int *labels;
} pass_args;

static int pass_run(void *ctx, gh_engine *e) {
    const pass_args *a = ctx;
    gh_tensor *logits;
    int st = gh_forward_plan(e, nas_net_loss, &a->s->net, a->b, a->labels);
    gh_tensor *l = st ? NULL : nas_net_loss(&a->s->net, e, a->b, a->labels, &logits);
    return st ? st : gh_backward(e, l);
}

static int pass1(darts_search *s, const gh_batch *b) {
    gh_engine *e = s->e;
    gh_step_begin(e);
    // the supernet's graph is the same every pass and nothing reads it after the reverse
    // pass: activations go back to the arena by plan in the forward and as backward goes
    int was = gh_set_release(e, 2);
    pass_args a = {s, b, gh_labels(e, b->shape[0], b->y)};
    int per = (s->o.order == 2 ? 4 : 1) * (s->o.micro > 1 ? s->o.micro : 1);
    int st = gh_region_run(e, "darts_pass", (int)(s->npass++ % (uint64_t)per), pass_run, &a);
    gh_set_release(e, was);
    return st;
}

static int pass_all(darts_search *s, const gh_batch *b) {
    int m = s->o.micro, st = GH_OK;
    if (m <= 1) return pass1(s, b);
    for (int i = 0; i < m && !st; i++) {
        gh_batch part = gh_batch_part(b, i, m);
        st = pass1(s, &part);
    }
    gh_engine *e = s->e;
    if (!st) st = gh_vec_scale(e, s->nw, 1.0f / (float)m, gh_group_grad(e, GH_GROUP_WEIGHTS));
    if (!st) st = gh_vec_scale(e, s->na, 1.0f / (float)m, gh_group_grad(e, GH_GROUP_ARCH));
    return st;
}

// A pass whose weight gradient nobody reads (the first-order architecture pass, the
// Hessian-vector product's two): the reverse pass skips dW (as PyTorch's
// autograd.grad(loss, arch_parameters()) does); the alphas' gradient is the same bit for bit
// and the weight gradient is left zeroed (the weight step zeroes it before its own pass).
static int pass(darts_search *s, const gh_batch *b, int weights) {
    int was = gh_set_group_grad(s->e, GH_GROUP_WEIGHTS, weights);
    int st = pass_all(s, b);
    gh_set_group_grad(s->e, GH_GROUP_WEIGHTS, was);
    return st;
}

// The data-parallel average of a group's gradient (nothing in one process).
static int reduce(darts_search *s, int group) {
    return s->o.reduce ? s->o.reduce(s->o.reduce_ctx, s->e, group) : GH_OK;
}

static int zero_grads(gh_engine *e) {
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    return st ? st : gh_group_zero_grad(e, GH_GROUP_ARCH);
}

int darts_arch_grad(darts_search *s, const gh_batch *train, const gh_batch *val, double lr) {
    gh_engine *e = s->e;
    float *W = gh_group_data(e, GH_GROUP_WEIGHTS), *GW = gh_group_grad(e, GH_GROUP_WEIGHTS);
    float *GA = gh_group_grad(e, GH_GROUP_ARCH), *B = gh_group_data(e, GH_GROUP_BUFFERS);
    int st;
    // the architecture step's extra forwards leave BN running statistics as they were
    if (s->nb && (st = gh_vec_copy(e, s->nb, B, s->b_save))) return st;
    if (s->o.order == 1) {
        // first order: grad_a L_val(w, a) (architect._backward_step)
        if ((st = zero_grads(e)) || (st = pass(s, val, 0)) || (st = reduce(s, GH_GROUP_ARCH)))
            return st;
        return s->nb ? gh_vec_copy(e, s->nb, s->b_save, B) : GH_OK;
    }
    double xi = lr;
    // Data parallel, which gradients are averaged over the ranks and why (R ranks, L = mean of
    // the ranks' losses L_r, each on its shard):
    //   grad_w L_train(w)      -> reduced: w' = w - xi (grad_w L_train + ...) must be the
    //                             global unrolled weights, the same on every rank;
    //   v = grad_w' L_val(w')  -> reduced: the HVP direction and eps = 0.01/||v|| must be the
    //                             global ones, the same on every rank;
    //   grad_a L_val(w'), grad_a L_train(w+), grad_a L_train(w-) -> not one by one: the
    //                             architecture gradient of eq. 7-8,
    //        g_a = grad_a L_val(w') - xi [grad_a L_train(w+) - grad_a L_train(w-)] / (2 eps),
    //     is linear in the three once w', w± and eps are common, so mean_r(g_a,r) is the
    //     global g_a and one all-reduce of the arch group replaces three.
    //   The weight step's own grad_w L_train(w) is reduced by the trainer (gh_train_step).
    // w' = w - xi * (momentum * buf + grad_w L_train(w, a) + wd * w)  (_compute_unrolled_model)
    if ((st = gh_vec_copy(e, s->nw, W, s->w_save)) || (st = zero_grads(e)) ||
        (st = pass(s, train, 1)) || (st = reduce(s, GH_GROUP_WEIGHTS)))
        return st;
    if ((st = gh_vec_scale(e, s->nw, (float)(1.0 - xi * s->o.wd), W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)-xi, GW, W)))
        return st;
    const float *mom = gh_group_momentum(e, GH_GROUP_WEIGHTS);
    if (mom && (st = gh_vec_axpy(e, s->nw, (float)(-xi * s->o.momentum), mom, W))) return st;
    // dalpha = grad_a L_val(w', a), v = grad_w' L_val(w', a)  (eq. 7, first term)
    if ((st = zero_grads(e)) || (st = pass(s, val, 1)) || (st = reduce(s, GH_GROUP_WEIGHTS)) ||
        (st = gh_vec_copy(e, s->na, GA, s->dalpha)) || (st = gh_vec_copy(e, s->nw, GW, s->v)))
        return st;
    // eq. 8: finite-difference Hessian-vector product at w with eps = 0.01 / ||v||, the norm
    // and eps kept on the device (a zero or non-finite norm is reported by the next checked
    // read as GH_ENAN)
    double *vnorm = &s->sc[0], *eps = &s->sc[1];
    if ((st = gh_vec_norm_dev(e, s->nw, s->v, vnorm)) ||
        (st = gh_dev_scalar(e, s->o.fd_r > 0 ? s->o.fd_r : 0.01, vnorm, -1, eps)))
        return st;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy_dev(e, s->nw, 1.0, eps, 1, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, train, 0)) ||
        (st = gh_vec_copy(e, s->na, GA, s->gplus)))
        return st;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy_dev(e, s->nw, -1.0, eps, 1, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, train, 0)))
        return st;
    // GA = dalpha - xi * (g+ - g-) / (2 eps), with GA holding g- now. The difference g- - g+
    // is taken first (nearby values: exact or nearly so), then scaled by (xi/2) / eps: scaling
    // each term by xi/(2 eps) first would round two large products and cancel them.
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->na, -1.0f, s->gplus, GA)) ||
        (st = gh_vec_scale_dev(e, s->na, xi / 2.0, eps, -1, GA)) ||
        (st = gh_vec_axpy(e, s->na, 1.0f, s->dalpha, GA)) || (st = reduce(s, GH_GROUP_ARCH)))
        return st;
    return s->nb ? gh_vec_copy(e, s->nb, s->b_save, B) : GH_OK;
}

int darts_search_step(darts_search *s, const gh_batch *train, const gh_batch *val, double lr) {
    // architect.step: the architecture first, Adam on alpha (no clipping in the reference)
    int st = darts_arch_grad(s, train, val, lr);
    if (!st)
        st = gh_adam_step(s->e, GH_GROUP_ARCH, (float)s->o.arch_lr, (float)s->o.arch_beta1,
                          (float)s->o.arch_beta2, 1e-8f, (float)s->o.arch_wd);
    // then the weights on the training batch
    return st ? st : gh_train_step(s->e, &s->wstep, train, lr);
}

// ---- the method: the search as a trainer plan ----------------------------------------------------
// What the search needs to continue from a checkpoint besides the engine's state (weights,
// alphas, BN statistics, both optimizers' moments): the trainer's position and the position of
// the validation walk. The batches themselves are functions of (seed, epoch, step).
typedef struct {
    gh_train_pos pos;        // the next step and the epoch's sums so far
    int vpos;                // the validation walk: next index into the seeded order
} darts_state;

// darts_state in a checkpoint (blob "darts/state"), with the order it was searched at.
#define DARTS_STATE_MAGIC "GHDARTS1"
#define DARTS_STATE_VERSION 1u
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t order;
    nas_pos_blob pos;
    int32_t vpos, pad;
} darts_state_blob;
_Static_assert(sizeof(darts_state_blob) == 56, "darts_state_blob has padding");

// The plan's context: the run, the supernet and its search step, the batches, the state.
typedef struct {
    const nas_run *r;
    gh_engine *e;
    nas_net net;             // the supernet, every op
    darts_search *s;
    nas_feed train, val;
    int steps;               // per epoch
    int epoch;               // of the batch being stepped
    int *vorder, *vidx;      // the validation walk's order; this step's indices
    darts_state state;
    genotype *best;
    dp_reducer *dp;          // data parallel (NULL: one process)
} darts_plan;

static int record_epoch(const nas_run *r, darts_supernet *net, const genotype *g,
                        const ledger_epoch *ep, double comm) {
    nas_eval_result res = {.train_loss = ep->train_loss, .train_acc = ep->train_acc,
                           .val_loss = ep->val_loss, .val_acc = ep->val_acc,
                           .fidelity = ep->epoch + 1, .cost = ep->cost};
    char text[2048], name[64];
    genotype_print(g, text, sizeof text);
    int edges = darts_supernet_edges(net);
    float *a = malloc(sizeof(float) * (size_t)edges * DARTS_NUM_PRIMITIVES);
    if (!a) return gh_fail(GH_ENOMEM, "record: no memory");
    int st = GH_OK;
    for (int k = 0; k < 2 && !st; k++) {
        st = darts_supernet_read_alphas(net, k, a);
        snprintf(name, sizeof name, "alphas_%s_epoch_%03d", k ? "reduce" : "normal", ep->epoch);
        if (!st) st = ledger_put_matrix(r->l, name, edges, DARTS_NUM_PRIMITIVES, a);
    }
    free(a);
    if (st) return st;
    snprintf(name, sizeof name, "genotype_epoch_%03d", ep->epoch);
    if ((st = ledger_put_text(r->l, name, text)) ||
        (st = nas_record_trial(r, ep->epoch, g, &res, "ok")))
        return st;
    return ledger_append_epoch_comm(r->l, ep, comm);
}

static int darts_batch(void *ctx, int epoch, int step, gh_batch *b) {
    darts_plan *k = ctx;
    k->epoch = epoch;
    return nas_feed_train(&k->train, epoch, step, b);
}

static double darts_lr(void *ctx, int epoch, int step) {
    (void)step;
    const nas_config *c = ((darts_plan *)ctx)->r->c;
    return nas_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
}

static int darts_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    (void)e;
    darts_plan *k = ctx;
    int bs = k->train.last_n, n = k->r->wval.n;
    // the architecture batch: the next `bs` images of a shuffled walk over the validation half
    // (train_search.py draws a fresh random batch every step); bs is the global batch, of
    // which this rank takes its part as it does of the training batch
    for (int i = 0; i < bs; i++) {
        if (k->state.vpos == n) k->state.vpos = 0;
        k->vidx[i] = k->vorder[k->state.vpos++];
    }
    int r0 = (int)((long)bs * k->train.shard / k->train.shards);
    int r1 = (int)((long)bs * (k->train.shard + 1) / k->train.shards);
    gh_batch v;
    nas_feed_batch(&k->val, k->vidx + r0, r1 - r0, 1, k->r->c->seed ^ 0x5bd1e995u, k->epoch, &v);
    return darts_search_step(k->s, b, &v, lr);
}

static int darts_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p0) {
    darts_plan *k = ctx;
    const nas_config *c = k->r->c;
    genotype g;
    double vloss = NAN, vacc = NAN;
    gh_train_progress all = *p0, *p = &all;   // data parallel: the means over every rank
    int st = nas_dp_progress(k->dp, &all);
    // per-rank batch norm: the running statistics the validation reads (and the checkpoint
    // after this hook saves), averaged over the ranks before comm_s is read; once an epoch is
    // every step's average (nas_train.c's train_average_bn says why)
    if (!st && k->dp && !c->sync_bn) st = dp_average_buffers(k->dp, e);
    double comm = nas_dp_comm(k->dp);
    if (!st) st = nas_dp_rank_costs(k->dp, k->r->meter, k->r->l, "search", -1, p->epoch);
    if (!st) st = darts_supernet_genotype(k->net.super, &g);
    if (!st)
        st = nas_eval_images(e, nas_net_eval_loss, &k->net, &k->r->wval, &k->r->d->norm,
                             c->search_val_limit, c->search_batch, &vloss, &vacc);
    if (st) return st;
    *k->best = g;
    char text[2048];
    genotype_print(&g, text, sizeof text);
    printf("search epoch %d/%d: lr %.5f train_acc %.2f%% valid_acc %.2f%% genotype = %s\n",
           p->epoch + 1, c->search_epochs, p->lr, 100.0 * p->acc, 100.0 * vacc, text);
    fflush(stdout);
    if (!k->r->l) return GH_OK;
    ledger_epoch ep = {.phase = "search", .trial_id = p->epoch, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = vloss,
                       .val_acc = vacc, .lr = p->lr, .cost = nas_run_cost(k->r)};
    return record_epoch(k->r, k->net.super, &g, &ep, comm);
}

// A checkpoint at pos: the engine (weights, alphas, BN statistics, both optimizers' moments)
// and darts_state. The second-order step's buffers (w_save, v, ...) are scratch within a step.
static int darts_checkpoint(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    darts_plan *k = ctx;
    const nas_run *r = k->r;
    k->state.pos = *pos;
    // data parallel: at epochs' ends only (nas_ckpt_skip_dp says why)
    if (nas_ckpt_skip_dp(pos, k->steps, k->dp != NULL)) return GH_OK;
    cost_totals cost = nas_run_cost(r);
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(r->ck, r->l, NAS_DO_SEARCH, (int64_t)pos->epoch * k->steps + pos->step,
                            &cost, &w);
    if (st || !w) return st;
    darts_state_blob b = {.version = DARTS_STATE_VERSION, .order = r->c->darts.order,
                          .pos = nas_pos_pack(pos), .vpos = k->state.vpos};
    memcpy(b.magic, DARTS_STATE_MAGIC, sizeof b.magic);
    st = gh_engine_state_save(e, ledger_ckpt_put_cb, w);
    if (!st) st = ledger_ckpt_put(w, "darts/state", &b, sizeof b);
    nas_ckpt_point at = {.phase = NAS_DO_SEARCH, .training = 1, .pos = *pos};
    return nas_ckpt_end(r->ck, w, st, &at);
}

// Continues from checkpoint `from`: the engine state and darts_state.
static int darts_resume(darts_plan *k, ledger_ckpt_reader *from) {
    darts_state_blob b;
    int st = gh_engine_state_load(k->e, ledger_ckpt_get_cb, from);
    if (!st) st = ledger_ckpt_get(from, "darts/state", &b, sizeof b);
    if (!st) st = nas_blob_check(from, "darts/state", b.magic, b.version, DARTS_STATE_MAGIC,
                                 DARTS_STATE_VERSION);
    if (st) return st;
    if (b.order != k->r->c->darts.order || b.vpos < 0 || b.vpos > k->r->wval.n)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob 'darts/state' (order %d, validation "
                       "walk at %d) does not fit this search (order %d, %d images)",
                       ledger_ckpt_run_id(from), b.order, b.vpos, k->r->c->darts.order,
                       k->r->wval.n);
    k->state.pos = nas_pos_unpack(&b.pos);
    nas_pos_resume_dp(&k->state.pos, k->dp != NULL);
    k->state.vpos = b.vpos;
    return GH_OK;
}

static int darts_search_epochs(darts_plan *k) {
    const nas_run *r = k->r;
    const nas_config *c = r->c;
    int st = nas_feed_init(&k->train, &r->wtrain, &r->aug, c->search_batch, c->seed);
    if (!st) st = nas_feed_init(&k->val, &r->wval, &r->aug, c->search_batch, c->seed);
    k->train.shard = nas_dp_rank(c);   // data parallel: this rank's part of every batch
    k->train.shards = nas_dp_size(c);
    k->vidx = malloc(sizeof(int) * (size_t)c->search_batch);
    k->vorder = malloc(sizeof(int) * (size_t)(r->wval.n > 0 ? r->wval.n : 1));
    if (!st && (!k->vidx || !k->vorder)) st = gh_fail(GH_ENOMEM, "darts: no memory");
    if (!st && r->wval.n < 1) st = gh_fail(GH_EINVAL, "darts: no images score the architecture");
    if (!st) {
        nas_epoch_order(k->vorder, r->wval.n, c->seed + 7919, 0);  // the walk's order, once
        k->steps = nas_feed_steps(&k->train, r->wtrain.n);
        gh_train_plan plan = {.phase = "search", .epochs = c->search_epochs, .steps = k->steps,
                              .report_every = c->report_every,
                              .checkpoint_every_s = 60 * c->checkpoint_every_min,
                              .batch = darts_batch, .lr = darts_lr, .step = darts_step,
                              .epoch_end = darts_epoch_end, .checkpoint = darts_checkpoint,
                              .ctx = k};
        st = gh_train_run(k->e, &plan, &k->state.pos, NULL);
    }
    // the genotype of the final alphas: the last epoch's, also when a resumed search had no
    // epoch left to run
    if (!st) st = darts_supernet_genotype(k->net.super, k->best);
    free(k->vidx);
    free(k->vorder);
    nas_feed_free(&k->train);
    nas_feed_free(&k->val);
    return st;
}

int darts_run(nas_run *r, genotype *best) {
    const nas_config *c = r->c;
    darts_plan k = {.r = r, .best = best};
    dp_reducer *dp = NULL;   // data parallel: gradients averaged over the ranks
    int st = nas_dp_size(c) > 1 ? dp_reducer_create(&dp, (size_t)c->bucket_mb << 20) : GH_OK;
    k.dp = dp;
    if (!st) st = nas_run_supernet(r, &k.e, &k.net);
    // synchronized batch norm's all-reduces are communication: timed into the reducer's comm_s
    if (!st && dp && c->sync_bn) gh_set_bn_sync(k.e, dp_bn_sync, dp);
    if (st) {
        dp_reducer_free(dp);
        return st;
    }
    darts_step_opts so = {.order = c->darts.order, .momentum = c->search_momentum,
                          .wd = c->search_wd, .grad_clip = c->search_grad_clip,
                          .arch_lr = c->darts.arch_lr, .arch_beta1 = c->darts.arch_beta1,
                          .arch_beta2 = c->darts.arch_beta2, .arch_wd = c->darts.arch_wd,
                          .reduce = dp ? dp_reduce : NULL, .reduce_ctx = dp,
                          .ready = dp ? dp_grad_ready : NULL,
                          .micro = c->micro};
    if (!(st = darts_search_create(&k.s, k.e, k.net.super, &so))) {
        ledger_ckpt_reader *from = nas_ckpt_from(r->ck, NAS_DO_SEARCH);
        if (from) st = darts_resume(&k, from);
        if (!st) st = darts_search_epochs(&k);
        cost_meter_note_peak_mem(r->meter, (double)gh_engine_arena_peak(k.e));
        if (!st) st = nas_engine_graphs_report(k.e, c, r->l, "cuda_graphs_search", "search");
    }
    if (!st) r->comm_s = nas_dp_finish(r->meter, dp);
    dp_reducer_free(dp);
    darts_search_free(k.s);
    nas_net_free(&k.net);
    gh_engine_destroy(k.e);
    return st;
}
