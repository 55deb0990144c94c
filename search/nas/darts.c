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
    darts_supernet *net;
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
    s->net = net;
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

// One forward (and backward) of the supernet on a batch; grads ADD into the groups.
static int pass(darts_search *s, const float *x, const int *y, int batch, double *loss,
                int *correct, int backward) {
    gh_engine *e = s->e;
    gh_step_begin(e);
    int shape[4];
    darts_supernet_input_shape(s->net, batch, shape);
    gh_tensor *in = gh_input(e, 4, shape, x);
    const int *lab = gh_labels(e, batch, y);
    int hits = 0;
    gh_tensor *l = gh_xent(e, darts_supernet_forward(s->net, in), lab, 0.0f, &hits);
    if (loss) *loss = l ? gh_scalar(e, l) : NAN;
    if (correct) *correct = hits;
    if (backward) return gh_backward(e, l);
    return gh_engine_status(e);
}

static int zero_grads(gh_engine *e) {
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    return st ? st : gh_group_zero_grad(e, GH_GROUP_ARCH);
}

int darts_arch_grad(darts_search *s, const float *xt, const int *yt, const float *xv,
                    const int *yv, int batch, double lr, darts_step_stats *stats) {
    gh_engine *e = s->e;
    float *W = gh_group_data(e, GH_GROUP_WEIGHTS), *GW = gh_group_grad(e, GH_GROUP_WEIGHTS);
    float *GA = gh_group_grad(e, GH_GROUP_ARCH), *B = gh_group_data(e, GH_GROUP_BUFFERS);
    int st;
    // the architecture step's extra forwards leave BN running statistics as they were
    if (s->nb && (st = gh_vec_copy(e, s->nb, B, s->b_save))) return st;
    if (s->o.order == 1) {
        // first order: grad_a L_val(w, a) (architect._backward_step)
        if ((st = zero_grads(e)) || (st = pass(s, xv, yv, batch, &stats->val_loss, NULL, 1)))
            return st;
        return s->nb ? gh_vec_copy(e, s->nb, s->b_save, B) : GH_OK;
    }
    double xi = lr;
    // w' = w - xi * (momentum * buf + grad_w L_train(w, a) + wd * w)  (_compute_unrolled_model)
    if ((st = gh_vec_copy(e, s->nw, W, s->w_save)) || (st = zero_grads(e)) ||
        (st = pass(s, xt, yt, batch, NULL, NULL, 1)))
        return st;
    if ((st = gh_vec_scale(e, s->nw, (float)(1.0 - xi * s->o.wd), W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)-xi, GW, W)))
        return st;
    const float *mom = gh_group_momentum(e, GH_GROUP_WEIGHTS);
    if (mom && (st = gh_vec_axpy(e, s->nw, (float)(-xi * s->o.momentum), mom, W))) return st;
    // dalpha = grad_a L_val(w', a), v = grad_w' L_val(w', a)  (eq. 7, first term)
    if ((st = zero_grads(e)) || (st = pass(s, xv, yv, batch, &stats->val_loss, NULL, 1)) ||
        (st = gh_vec_copy(e, s->na, GA, s->dalpha)) || (st = gh_vec_copy(e, s->nw, GW, s->v)))
        return st;
    // eq. 8: finite-difference Hessian-vector product at w with eps = 0.01 / ||v||
    double vnorm = gh_vec_norm(e, s->nw, s->v);
    if (!(vnorm > 0.0) || !isfinite(vnorm))
        return gh_fail(GH_ENAN, "darts second order: ||grad_w' L_val|| = %g", vnorm);
    double eps = (s->o.fd_r > 0 ? s->o.fd_r : 0.01) / vnorm;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)eps, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, xt, yt, batch, NULL, NULL, 1)) ||
        (st = gh_vec_copy(e, s->na, GA, s->gplus)))
        return st;
    if ((st = gh_vec_copy(e, s->nw, s->w_save, W)) ||
        (st = gh_vec_axpy(e, s->nw, (float)-eps, s->v, W)) || (st = zero_grads(e)) ||
        (st = pass(s, xt, yt, batch, NULL, NULL, 1)))
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

int darts_search_step(darts_search *s, const float *xt, const int *yt, const float *xv,
                      const int *yv, int batch, double lr, darts_step_stats *stats) {
    gh_engine *e = s->e;
    int st;
    memset(stats, 0, sizeof *stats);
    // architect.step: the architecture first, Adam on alpha (no clipping in the reference)
    if ((st = darts_arch_grad(s, xt, yt, xv, yv, batch, lr, stats)) ||
        (st = gh_adam_step(e, GH_GROUP_ARCH, (float)s->o.arch_lr, (float)s->o.arch_beta1,
                           (float)s->o.arch_beta2, 1e-8f, (float)s->o.arch_wd)))
        return st;
    // then the weights on the training batch: SGD with momentum, weight decay, clipped grads
    if ((st = zero_grads(e)) ||
        (st = pass(s, xt, yt, batch, &stats->train_loss, &stats->train_correct, 1)) ||
        (st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, (float)s->o.grad_clip,
                                &stats->weight_grad_norm)))
        return st;
    return gh_sgd_step(e, GH_GROUP_WEIGHTS, (float)lr, (float)s->o.momentum, (float)s->o.wd);
}

int darts_evaluate(gh_engine *e, darts_forward_fn fwd, void *net, const gh_images *im,
                   const images_aug *norm, int n, int batch, double *loss, double *acc) {
    if (n <= 0 || n > im->n) n = im->n;
    darts_batch b;
    int st = darts_batch_alloc(&b, batch, im);
    if (st) return st;
    int *idx = malloc(sizeof(int) * (size_t)batch);
    if (!idx) {
        darts_batch_free(&b);
        return gh_fail(GH_ENOMEM, "evaluate: no memory");
    }
    gh_set_training(e, 0);
    gh_set_grad_enabled(e, 0);
    double sum_loss = 0;
    long hits = 0;
    for (int i0 = 0; i0 < n && !st; i0 += batch) {
        int bs = n - i0 < batch ? n - i0 : batch;
        for (int i = 0; i < bs; i++) idx[i] = i0 + i;
        images_batch(im, idx, bs, norm, 0, 0, 0, b.x, b.y);
        gh_step_begin(e);
        int shape[4] = {bs, im->c, im->h, im->w}, c = 0;
        gh_tensor *in = gh_input(e, 4, shape, b.x);
        const int *lab = gh_labels(e, bs, b.y);
        gh_tensor *l = gh_xent(e, fwd(net, e, in), lab, 0.0f, &c);
        st = gh_engine_status(e);
        if (!st) {
            sum_loss += (double)gh_scalar(e, l) * bs;
            hits += c;
        }
    }
    gh_set_training(e, 1);
    gh_set_grad_enabled(e, 1);
    free(idx);
    darts_batch_free(&b);
    if (st) return st;
    *loss = sum_loss / n;
    *acc = (double)hits / n;
    return GH_OK;
}

// ---- the search driver ---------------------------------------------------------------------------
static gh_tensor *supernet_fwd(void *net, gh_engine *e, gh_tensor *x) {
    (void)e;
    return darts_supernet_forward(net, x);
}

typedef struct {
    darts_net_config nc;
} probe_ctx;

static int supernet_probe(gh_engine *e, void *ctx, int batch) {
    probe_ctx *p = ctx;
    darts_supernet *net;
    int st = darts_supernet_build(&net, e, &p->nc);
    if (st) return st;
    if ((st = gh_params_alloc(e))) goto done;
    gh_step_begin(e);
    int shape[4] = {batch, p->nc.in_c, p->nc.in_h, p->nc.in_w};
    float *x = calloc((size_t)batch * p->nc.in_c * p->nc.in_h * p->nc.in_w, sizeof(float));
    int *y = calloc((size_t)batch, sizeof(int));
    if (!x || !y) {
        st = gh_fail(GH_ENOMEM, "probe: no memory");
    } else {
        gh_tensor *l = gh_xent(e, darts_supernet_forward(net, gh_input(e, 4, shape, x)),
                               gh_labels(e, batch, y), 0.0f, NULL);
        st = gh_backward(e, l);
    }
    free(x);
    free(y);
done:
    darts_supernet_free(net);
    return st;
}

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

static int search_epochs(const darts_config *c, const darts_data *d, struct ledger *l,
                         gh_engine *e, darts_supernet *net, darts_search *s,
                         const gh_images *wtrain, const gh_images *wval, cost_meter *meter,
                         genotype *best) {
    int batch = c->search_batch, steps = (wtrain->n + batch - 1) / batch, st = GH_OK;
    images_aug aug = d->norm;
    aug.crop_pad = c->search_crop_pad;
    aug.flip = c->search_flip;
    aug.cutout = c->search_cutout;
    darts_batch bt, bv;
    if ((st = darts_batch_alloc(&bt, batch, wtrain)) || (st = darts_batch_alloc(&bv, batch, wval)))
        return st;
    double t0 = gh_wall_seconds();
    int vpos = 0, *vorder = darts_epoch_order(wval->n, c->seed + 7919, 0);
    for (int epoch = 0; epoch < c->search_epochs && !st; epoch++) {
        double lr = darts_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
        int *order = darts_epoch_order(wtrain->n, c->seed, epoch);
        if (!order || !vorder) {
            free(order);
            st = gh_fail(GH_ENOMEM, "search: no memory for the epoch order");
            break;
        }
        double sum_loss = 0;
        long hits = 0, seen = 0;
        for (int step = 0; step < steps && !st; step++) {
            int bs = wtrain->n - step * batch < batch ? wtrain->n - step * batch : batch;
            images_batch(wtrain, order + step * batch, bs, &aug, 1, c->seed, (uint64_t)epoch,
                         bt.x, bt.y);
            // the architecture batch: the next `bs` images of a shuffled walk over the
            // validation half (train_search.py draws a fresh random batch every step)
            int vidx[1024];
            for (int i = 0; i < bs; i++) {
                if (vpos == wval->n) vpos = 0;
                vidx[i] = vorder[vpos++];
            }
            images_batch(wval, vidx, bs, &aug, 1, c->seed ^ 0x5bd1e995u, (uint64_t)epoch, bv.x,
                         bv.y);
            darts_step_stats ss;
            st = darts_search_step(s, bt.x, bt.y, bv.x, bv.y, bs, lr, &ss);
            sum_loss += ss.train_loss * bs;
            hits += ss.train_correct;
            seen += bs;
            if (!st && (step % c->report_every == 0 || step == steps - 1))
                darts_progress("search", epoch, c->search_epochs, step + 1, steps,
                               sum_loss / seen, (double)hits / seen, t0,
                               (epoch + (step + 1.0) / steps) / c->search_epochs);
        }
        free(order);
        if (st) break;
        genotype g;
        double vloss = NAN, vacc = NAN;
        if ((st = darts_supernet_genotype(net, &g)) ||
            (st = darts_evaluate(e, supernet_fwd, net, wval, &d->norm, c->search_val_limit,
                                 batch, &vloss, &vacc)))
            break;
        *best = g;
        char text[2048];
        genotype_print(&g, text, sizeof text);
        printf("search epoch %d/%d: lr %.5f train_acc %.2f%% valid_acc %.2f%% genotype = %s\n",
               epoch + 1, c->search_epochs, lr, 100.0 * hits / seen, 100.0 * vacc, text);
        fflush(stdout);
        if (l) {
            ledger_epoch ep = {.phase = "search", .trial_id = epoch, .epoch = epoch,
                               .train_loss = sum_loss / seen, .train_acc = (double)hits / seen,
                               .val_loss = vloss, .val_acc = vacc, .lr = lr,
                               .cost = cost_meter_read(meter)};
            st = record_epoch(c, d, l, net, epoch, &g, &ep, ep.cost);
        }
    }
    free(vorder);
    darts_batch_free(&bt);
    darts_batch_free(&bv);
    return st;
}

static int darts_run(const darts_config *c, const darts_data *d, struct ledger *l,
                     genotype *best) {
    gh_images sample = {0}, wtrain = {0}, wval = {0};
    const gh_images *src = &d->train;
    int st = GH_OK;
    if (c->search_batch > 1024)
        return gh_fail(GH_EINVAL, "search_batch %d: at most 1024", c->search_batch);
    if (c->search_limit > 0 && c->search_limit < d->train.n) {
        if ((st = images_sample(&sample, &d->train, c->search_limit, c->seed))) return st;
        src = &sample;
    }
    if ((st = images_split(src, c->train_portion, &wtrain, &wval))) goto out;
    printf("search: %d images train the weights, %d the architecture (train_portion %g)\n",
           wtrain.n, wval.n, c->train_portion);
    probe_ctx pc = {darts_net_for(d, c->search_layers, c->search_channels, 0)};
    size_t arena;
    if ((st = darts_arena_bytes(c, supernet_probe, &pc, c->search_batch, &arena))) goto out;
    gh_engine *e = NULL;
    darts_supernet *net = NULL;
    darts_search *s = NULL;
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    if ((st = darts_engine_open(&e, c, arena, c->seed)) ||
        (st = darts_supernet_build(&net, e, &pc.nc)) || (st = gh_params_alloc(e)))
        goto done;
    darts_net_count cnt;
    darts_count_net(&pc.nc, NULL, &cnt);
    printf("supernet: %d cells, C=%d, %.0f weights (%.3f M), %.0f alphas, %.1f M multiply-adds "
           "per image, arena %.0f MiB\n",
           pc.nc.layers, pc.nc.c, cnt.params, cnt.params / 1e6, cnt.arch, cnt.madds / 1e6,
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
