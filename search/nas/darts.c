// darts: the DARTS search (Liu et al., ICLR 2019; train_search.py and architect.py): the
// architecture gradient of first and second order (unrolled weight step, finite-difference
// Hessian-vector product, eq. 6-8), the search step, and the search driver with per-epoch
// genotype derivation recorded in the ledger.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darts_internal.h"

struct darts_search {
    gh_engine *e;
    nas_net net;             // the supernet, every op (not owned)
    gh_step_def wstep;       // the weight step: SGD with momentum, weight decay, clipping
    darts_step_opts o;
    size_t nw, na, nb;
    float *w_save, *v, *dalpha, *gplus, *b_save;   // backend memory that outlives steps
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
                             .grad_clip = o->grad_clip};
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
    }
    if (!s->b_save || (o->order == 2 && (!s->w_save || !s->v || !s->dalpha || !s->gplus))) {
        size_t nw = s->nw;
        free(s);
        return gh_fail(GH_ENOMEM, "darts search: saved-weight buffers (%zu weights): %s", nw,
                       gh_error_get());
    }
    *out = s;
    return GH_OK;
}

void darts_search_free(darts_search *s) { free(s); }  // buffers belong to the engine

// One forward and backward of the supernet on a batch; grads ADD into the groups.
static int pass(darts_search *s, const gh_batch *b) {
    gh_engine *e = s->e;
    gh_step_begin(e);
    gh_tensor *logits;
    gh_tensor *l = nas_net_loss(&s->net, e, b, gh_labels(e, b->shape[0], b->y), &logits);
    return gh_backward(e, l);
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
        if ((st = zero_grads(e)) || (st = pass(s, val)))
            return st;
        return s->nb ? gh_vec_copy(e, s->nb, s->b_save, B) : GH_OK;
    }
    double xi = lr;
    // w' = w - xi * (momentum * buf + grad_w L_train(w, a) + wd * w)  (_compute_unrolled_model)
    if ((st = gh_vec_copy(e, s->nw, W, s->w_save)) || (st = zero_grads(e)) ||
        (st = pass(s, train)))
        return st;
    if ((st = gh_vec_scale(e, s->nw, (float)(1.0 - xi * s->o.wd), W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)-xi, GW, W)))
        return st;
    const float *mom = gh_group_momentum(e, GH_GROUP_WEIGHTS);
    if (mom && (st = gh_vec_axpy(e, s->nw, (float)(-xi * s->o.momentum), mom, W))) return st;
    // dalpha = grad_a L_val(w', a), v = grad_w' L_val(w', a)  (eq. 7, first term)
    if ((st = zero_grads(e)) || (st = pass(s, val)) ||
        (st = gh_vec_copy(e, s->na, GA, s->dalpha)) || (st = gh_vec_copy(e, s->nw, GW, s->v)))
        return st;
    // eq. 8: finite-difference Hessian-vector product at w with eps = 0.01 / ||v||
    double vnorm = gh_vec_norm(e, s->nw, s->v);
    if (!(vnorm > 0.0) || !isfinite(vnorm))
        return gh_fail(GH_ENAN, "darts second order: ||grad_w' L_val|| = %g", vnorm);
    double eps = (s->o.fd_r > 0 ? s->o.fd_r : 0.01) / vnorm;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)eps, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, train)) ||
        (st = gh_vec_copy(e, s->na, GA, s->gplus)))
        return st;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)-eps, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, train)))
        return st;
    // GA = dalpha - xi * (g+ - g-) / (2 eps), with GA holding g- now. The difference g- - g+
    // is taken first (nearby values: exact or nearly so), then scaled: scaling each term by
    // xi/(2 eps) first would round two large products and cancel them.
    double c = xi / (2.0 * eps);
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->na, -1.0f, s->gplus, GA)) ||
        (st = gh_vec_scale(e, s->na, (float)c, GA)) ||
        (st = gh_vec_axpy(e, s->na, 1.0f, s->dalpha, GA)))
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

// ---- the search driver ---------------------------------------------------------------------------
static int record_epoch(const darts_config *c, const darts_data *d, struct ledger *l,
                        darts_supernet *net, int epoch, const genotype *g, const ledger_epoch *ep,
                        cost_totals cost) {
    char text[2048], name[64];
    double params, madds;
    darts_genotype_info(c, d, g, text, sizeof text, &params, &madds);
    int edges = darts_supernet_edges(net);
    float *a = malloc(sizeof(float) * (size_t)edges * DARTS_NUM_PRIMITIVES);
    if (!a) return gh_fail(GH_ENOMEM, "record: no memory");
    int st = GH_OK;
    for (int r = 0; r < 2 && !st; r++) {
        st = darts_supernet_read_alphas(net, r, a);
        snprintf(name, sizeof name, "alphas_%s_epoch_%03d", r ? "reduce" : "normal", epoch);
        if (!st) st = ledger_put_matrix(l, name, edges, DARTS_NUM_PRIMITIVES, a);
    }
    free(a);
    if (st) return st;
    ledger_trial t = {.id = epoch, .arch = text, .learner = "", .fidelity = epoch + 1,
                      .train_acc = ep->train_acc, .val_acc = ep->val_acc, .test_acc = NAN,
                      .train_loss = ep->train_loss, .val_loss = ep->val_loss, .test_loss = NAN,
                      .madds = madds, .params = params, .cost = cost, .status = "ok"};
    snprintf(name, sizeof name, "genotype_epoch_%03d", epoch);
    if ((st = ledger_put_text(l, name, text)) || (st = ledger_append_trial(l, &t))) return st;
    return ledger_append_epoch(l, ep);
}

// The search as a trainer plan: the training batch from the trainer, the architecture batch
// from a walk over the validation half, and after every epoch the derived genotype, the
// supernet's validation accuracy and the records.
typedef struct {
    const darts_config *c;
    const darts_data *d;
    struct ledger *l;
    cost_meter *meter;
    darts_supernet *net;
    nas_net eval_net;        // the supernet as the evaluation sees it
    darts_search *s;
    nas_feed train, val;
    const gh_images *wval;
    int epoch;               // of the batch being stepped
    int vpos, *vorder, *vidx;  // the validation walk: position in the seeded order
    genotype *best;
} darts_plan;

static int darts_batch(void *ctx, int epoch, int step, gh_batch *b) {
    darts_plan *k = ctx;
    k->epoch = epoch;
    return nas_feed_train(&k->train, epoch, step, b);
}

static double darts_lr(void *ctx, int epoch, int step) {
    (void)step;
    const darts_config *c = ((darts_plan *)ctx)->c;
    return darts_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
}

static int darts_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    (void)e;
    darts_plan *k = ctx;
    int bs = b->shape[0];
    // the architecture batch: the next `bs` images of a shuffled walk over the validation half
    // (train_search.py draws a fresh random batch every step)
    for (int i = 0; i < bs; i++) {
        if (k->vpos == k->wval->n) k->vpos = 0;
        k->vidx[i] = k->vorder[k->vpos++];
    }
    gh_batch v;
    nas_feed_batch(&k->val, k->vidx, bs, 1, k->c->seed ^ 0x5bd1e995u, k->epoch, &v);
    return darts_search_step(k->s, b, &v, lr);
}

static int darts_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    darts_plan *k = ctx;
    const darts_config *c = k->c;
    genotype g;
    double vloss = NAN, vacc = NAN;
    int st = darts_supernet_genotype(k->net, &g);
    if (!st)
        st = nas_evaluate(e, nas_net_eval_loss, &k->eval_net, k->wval, &k->d->norm,
                          c->search_val_limit, c->search_batch, &vloss, &vacc);
    if (st) return st;
    *k->best = g;
    char text[2048];
    genotype_print(&g, text, sizeof text);
    printf("search epoch %d/%d: lr %.5f train_acc %.2f%% valid_acc %.2f%% genotype = %s\n",
           p->epoch + 1, c->search_epochs, p->lr, 100.0 * p->acc, 100.0 * vacc, text);
    fflush(stdout);
    if (!k->l) return GH_OK;
    ledger_epoch ep = {.phase = "search", .trial_id = p->epoch, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = vloss,
                       .val_acc = vacc, .lr = p->lr, .cost = cost_meter_read(k->meter)};
    return record_epoch(c, k->d, k->l, k->net, p->epoch, &g, &ep, ep.cost);
}

static int search_epochs(const darts_config *c, const darts_data *d, struct ledger *l,
                         gh_engine *e, darts_supernet *net, darts_search *s,
                         const gh_images *wtrain, const gh_images *wval, cost_meter *meter,
                         genotype *best) {
    darts_plan k = {.c = c, .d = d, .l = l, .meter = meter, .net = net,
                    .eval_net = {.super = net}, .s = s, .wval = wval, .best = best};
    images_aug aug = d->norm;
    aug.crop_pad = c->search_crop_pad;
    aug.flip = c->search_flip;
    aug.cutout = c->search_cutout;
    int st = nas_feed_init(&k.train, wtrain, &aug, c->search_batch, c->seed);
    if (!st) st = nas_feed_init(&k.val, wval, &aug, c->search_batch, c->seed);
    k.vidx = malloc(sizeof(int) * (size_t)c->search_batch);
    k.vorder = malloc(sizeof(int) * (size_t)(wval->n > 0 ? wval->n : 1));
    if (!st && (!k.vidx || !k.vorder)) st = gh_fail(GH_ENOMEM, "search: no memory");
    if (!st) {
        nas_epoch_order(k.vorder, wval->n, c->seed + 7919, 0);  // the walk's order, drawn once
        gh_train_plan plan = {.phase = "search", .epochs = c->search_epochs,
                              .steps = nas_feed_steps(&k.train, wtrain->n),
                              .report_every = c->report_every, .batch = darts_batch,
                              .lr = darts_lr, .step = darts_step, .epoch_end = darts_epoch_end,
                              .ctx = &k};
        st = gh_train_run(e, &plan, NULL, NULL);
    }
    free(k.vidx);
    free(k.vorder);
    nas_feed_free(&k.train);
    nas_feed_free(&k.val);
    return st;
}

static int darts_run(const darts_config *c, const darts_data *d, struct ledger *l,
                     genotype *best) {
    gh_images sample = {0}, wtrain = {0}, wval = {0};
    const gh_images *src = &d->train;
    int st = GH_OK;
    if (c->search_limit > 0 && c->search_limit < d->train.n) {
        if ((st = images_sample(&sample, &d->train, c->search_limit, c->seed))) return st;
        src = &sample;
    }
    if ((st = images_split(src, c->train_portion, &wtrain, &wval))) goto out;
    printf("search: %d images train the weights, %d the architecture (train_portion %g)\n",
           wtrain.n, wval.n, c->train_portion);
    darts_net_config nc = darts_net_for(d, c->search_layers, c->search_channels, 0);
    size_t arena;
    if ((st = nas_arena_bytes(c, &nc, NULL, c->search_batch, &arena))) goto out;
    gh_engine *e = NULL;
    darts_supernet *net = NULL;
    darts_search *s = NULL;
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    if ((st = darts_engine_open(&e, c, arena, c->seed)) ||
        (st = darts_supernet_build(&net, e, &nc)) || (st = gh_params_alloc(e)))
        goto done;
    darts_net_count cnt;
    darts_count_net(&nc, NULL, &cnt);
    printf("supernet: %d cells, C=%d, %.0f weights (%.3f M), %.0f alphas, %.1f M multiply-adds "
           "per image, arena %.0f MiB\n",
           nc.layers, nc.c, cnt.params, cnt.params / 1e6, cnt.arch, cnt.madds / 1e6,
           arena / 1048576.0);
    darts_step_opts so = {.order = c->order, .momentum = c->search_momentum, .wd = c->search_wd,
                          .grad_clip = c->search_grad_clip, .arch_lr = c->arch_lr,
                          .arch_beta1 = c->arch_beta1, .arch_beta2 = c->arch_beta2,
                          .arch_wd = c->arch_wd};
    if ((st = darts_search_create(&s, e, net, &so))) goto done;
    cost_meter_start(meter);
    st = search_epochs(c, d, l, e, net, s, &wtrain, &wval, meter, best);
    cost_meter_note_peak_mem(meter, (double)gh_engine_arena_peak(e));
    if (l && !st) {
        cost_totals ct = cost_meter_read(meter);
        char text[2048];
        genotype_print(best, text, sizeof text);
        if (!(st = ledger_add_phase_cost(l, "search", &ct))) st = ledger_put_text(l, "genotype", text);
    }
done:
    darts_search_free(s);
    darts_supernet_free(net);
    gh_engine_destroy(e);
    cost_meter_destroy(meter);
out:
    images_free(&sample);
    images_free(&wtrain);
    images_free(&wval);
    return st;
}

int darts_search_run(const darts_config *c, const darts_data *d, struct ledger *l,
                     genotype *best) {
    if (!strcmp(c->method, "darts")) return darts_run(c, d, l, best);
    if (!strcmp(c->method, "random-ws")) return random_ws_run(c, d, l, best);
    if (!strcmp(c->method, "random")) return random_sampling_run(c, d, l, best);
    return gh_fail(GH_EINVAL, "search method '%s': expected darts, random-ws or random", c->method);
}
