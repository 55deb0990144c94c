// random_nas: the baselines DARTS is measured against on the same search space and data:
// random sampling of genotypes trained briefly (the paper's section 3.3 baseline) and random
// search with weight sharing (Li & Talwalkar, UAI 2019): one sampled path of the supernet per
// step, then sampled genotypes scored with the shared weights.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darts_internal.h"

void darts_random_genotype(gh_rng *r, int steps, int multiplier, genotype *g) {
    geno_cell *cells[2] = {&g->normal, &g->reduce};
    memset(g, 0, sizeof *g);
    for (int c = 0; c < 2; c++) {
        geno_cell *gc = cells[c];
        gc->steps = steps;
        for (int i = 0; i < steps; i++) {
            int a = (int)gh_rng_below(r, (uint64_t)(2 + i));
            int b = (int)gh_rng_below(r, (uint64_t)(1 + i));
            if (b >= a) b++;   // two distinct inputs
            gc->edge[2 * i].input = a;
            gc->edge[2 * i + 1].input = b;
            for (int t = 0; t < 2; t++)  // ops 1..7: every primitive except none
                gc->edge[2 * i + t].op = 1 + (int)gh_rng_below(r, DARTS_NUM_PRIMITIVES - 1);
        }
        gc->nconcat = multiplier;
        for (int i = 0; i < multiplier; i++) gc->concat[i] = 2 + steps - multiplier + i;
    }
}

// ---- random search with weight sharing --------------------------------------------------------
typedef struct {
    darts_supernet *net;
    const genotype *g;
} path_ctx;

static gh_tensor *path_fwd(void *ctx, gh_engine *e, gh_tensor *x) {
    (void)e;
    path_ctx *p = ctx;
    return darts_supernet_forward_path(p->net, x, p->g);
}

typedef struct {
    darts_net_config nc;
} probe_ctx;

// the full supernet bounds every single path's activations
static int supernet_probe(gh_engine *e, void *ctx, int batch) {
    probe_ctx *p = ctx;
    darts_supernet *net;
    int st = darts_supernet_build(&net, e, &p->nc);
    if (st) return st;
    if (!(st = gh_params_alloc(e))) {
        size_t per = (size_t)p->nc.in_c * p->nc.in_h * p->nc.in_w;
        float *x = calloc(per * (size_t)batch, sizeof(float));
        int *y = calloc((size_t)batch, sizeof(int));
        int shape[4] = {batch, p->nc.in_c, p->nc.in_h, p->nc.in_w};
        gh_step_begin(e);
        st = x && y ? gh_backward(e, gh_xent(e, darts_supernet_forward(net, gh_input(e, 4, shape, x)),
                                             gh_labels(e, batch, y), 0.0f, NULL))
                    : gh_fail(GH_ENOMEM, "probe: no memory");
        free(x);
        free(y);
    }
    darts_supernet_free(net);
    return st;
}

static int ws_train(const darts_config *c, const darts_data *d, gh_engine *e, darts_supernet *net,
                    const gh_images *wtrain, struct ledger *l, cost_meter *meter, gh_rng *rng) {
    int batch = c->search_batch, steps = (wtrain->n + batch - 1) / batch, st = GH_OK;
    images_aug aug = d->norm;
    aug.crop_pad = c->search_crop_pad;
    aug.flip = c->search_flip;
    aug.cutout = c->search_cutout;
    darts_batch b;
    if ((st = darts_batch_alloc(&b, batch, wtrain))) return st;
    double t0 = gh_wall_seconds();
    for (int epoch = 0; epoch < c->search_epochs && !st; epoch++) {
        double lr = darts_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
        int *order = darts_epoch_order(wtrain->n, c->seed, epoch);
        double sum = 0;
        long hits = 0, seen = 0;
        for (int step = 0; order && step < steps && !st; step++) {
            int bs = wtrain->n - step * batch < batch ? wtrain->n - step * batch : batch;
            images_batch(wtrain, order + step * batch, bs, &aug, 1, c->seed, (uint64_t)epoch, b.x,
                         b.y);
            genotype g;
            darts_random_genotype(rng, 4, 4, &g);  // the supernet's steps and multiplier
            gh_step_begin(e);
            int shape[4] = {bs, wtrain->c, wtrain->h, wtrain->w}, h = 0;
            gh_tensor *x = gh_input(e, 4, shape, b.x);
            gh_tensor *loss = gh_xent(e, darts_supernet_forward_path(net, x, &g),
                                      gh_labels(e, bs, b.y), 0.0f, &h);
            double lv = loss ? gh_scalar(e, loss) : NAN;
            if (!(st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS)) && !(st = gh_backward(e, loss)) &&
                !(st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, (float)c->search_grad_clip, NULL)))
                st = gh_sgd_step(e, GH_GROUP_WEIGHTS, (float)lr, (float)c->search_momentum,
                                 (float)c->search_wd);
            sum += lv * bs;
            hits += h;
            seen += bs;
            if (!st && (step % c->report_every == 0 || step == steps - 1))
                darts_progress("random-ws", epoch, c->search_epochs, step + 1, steps, sum / seen,
                               (double)hits / seen, t0,
                               (epoch + (step + 1.0) / steps) / c->search_epochs);
        }
        if (!order) st = gh_fail(GH_ENOMEM, "random-ws: no memory");
        free(order);
        if (!st && l && seen) {
            ledger_epoch ep = {.phase = "search", .trial_id = -1, .epoch = epoch,
                               .train_loss = sum / seen, .train_acc = (double)hits / seen,
                               .val_loss = NAN, .val_acc = NAN, .lr = lr,
                               .cost = cost_meter_read(meter)};
            st = ledger_append_epoch(l, &ep);
        }
    }
    darts_batch_free(&b);
    return st;
}

int random_ws_run(const darts_config *c, const darts_data *d, struct ledger *l, genotype *best) {
    gh_images sample = {0}, wtrain = {0}, wval = {0};
    const gh_images *src = &d->train;
    int st = GH_OK;
    if (c->search_limit > 0 && c->search_limit < d->train.n) {
        if ((st = images_sample(&sample, &d->train, c->search_limit, c->seed))) return st;
        src = &sample;
    }
    if ((st = images_split(src, c->train_portion, &wtrain, &wval))) {
        images_free(&sample);
        return st;
    }
    probe_ctx pc = {darts_net_for(d, c->search_layers, c->search_channels, 0)};
    size_t arena = 0;
    gh_engine *e = NULL;
    darts_supernet *net = NULL;
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    gh_rng rng;
    gh_rng_seed(&rng, c->seed, GH_STREAM_SEARCH);
    if ((st = darts_arena_bytes(c, supernet_probe, &pc, c->search_batch, &arena)) ||
        (st = darts_engine_open(&e, c, arena, c->seed)) ||
        (st = darts_supernet_build(&net, e, &pc.nc)) || (st = gh_params_alloc(e)))
        goto done;
    cost_meter_start(meter);
    if ((st = ws_train(c, d, e, net, &wtrain, l, meter, &rng))) goto done;
    // score sampled genotypes with the shared weights on the validation half
    double best_acc = -1;
    int n_eval = c->search_val_limit > 0 ? c->search_val_limit : wval.n;
    for (int i = 0; i < c->random_archs && !st; i++) {
        genotype g;
        darts_random_genotype(&rng, pc.nc.steps, pc.nc.multiplier, &g);
        path_ctx p = {net, &g};
        double vloss, vacc;
        if ((st = darts_evaluate(e, path_fwd, &p, &wval, &d->norm, n_eval, c->search_batch,
                                 &vloss, &vacc)))
            break;
        char text[2048];
        double params, madds;
        darts_genotype_info(c, d, &g, text, sizeof text, &params, &madds);
        printf("random-ws arch %d/%d: shared-weight valid_acc %.2f%%\n", i + 1, c->random_archs,
               100 * vacc);
        if (vacc > best_acc) {
            best_acc = vacc;
            *best = g;
        }
        if (l) {
            ledger_trial t = {.id = i, .arch = text, .learner = "", .fidelity = c->search_epochs,
                              .train_acc = NAN, .val_acc = vacc, .test_acc = NAN,
                              .train_loss = NAN, .val_loss = vloss, .test_loss = NAN,
                              .madds = madds, .params = params, .cost = cost_meter_read(meter),
                              .status = "ok"};
            st = ledger_append_trial(l, &t);
        }
    }
    if (!st && l) {
        cost_totals ct = cost_meter_read(meter);
        char text[2048];
        genotype_print(best, text, sizeof text);
        if (!(st = ledger_add_phase_cost(l, "search", &ct))) st = ledger_put_text(l, "genotype", text);
    }
done:
    darts_supernet_free(net);
    gh_engine_destroy(e);
    cost_meter_destroy(meter);
    images_free(&sample);
    images_free(&wtrain);
    images_free(&wval);
    return st;
}

// ---- random sampling: each sampled genotype trained on its own ---------------------------------
int random_sampling_run(const darts_config *c, const darts_data *d, struct ledger *l,
                        genotype *best) {
    gh_images sample = {0}, wtrain = {0}, wval = {0};
    const gh_images *src = &d->train;
    int st = GH_OK;
    if (c->search_limit > 0 && c->search_limit < d->train.n) {
        if ((st = images_sample(&sample, &d->train, c->search_limit, c->seed))) return st;
        src = &sample;
    }
    if ((st = images_split(src, c->train_portion, &wtrain, &wval))) {
        images_free(&sample);
        return st;
    }
    gh_rng rng;
    gh_rng_seed(&rng, c->seed, GH_STREAM_SEARCH);
    cost_meter *total = cost_meter_create(darts_gpus(c));
    cost_meter_start(total);
    double best_acc = -1;
    darts_net_config nc = darts_net_for(d, c->search_layers, c->search_channels, 0);
    images_aug aug = d->norm;
    aug.crop_pad = c->search_crop_pad;
    aug.flip = c->search_flip;
    aug.cutout = c->search_cutout;
    for (int i = 0; i < c->random_archs && !st; i++) {
        genotype g;
        darts_random_genotype(&rng, nc.steps, nc.multiplier, &g);
        gh_engine *e = NULL;
        darts_evalnet *net = NULL;
        cost_meter *meter = cost_meter_create(darts_gpus(c));
        size_t arena = c->arena_mb > 0 ? (size_t)(c->arena_mb * 1048576.0) : (size_t)4 << 30;
        darts_train_result r = {0};
        if (!(st = darts_engine_open(&e, c, arena, c->seed + (uint64_t)i)) &&
            !(st = darts_evalnet_build(&net, e, &nc, &g)) && !(st = gh_params_alloc(e))) {
            darts_train_opts o = {.epochs = c->random_epochs, .batch = c->search_batch,
                                  .lr = c->search_lr, .lr_min = 0.0, .momentum = c->search_momentum,
                                  .wd = c->search_wd, .grad_clip = c->search_grad_clip,
                                  .report_every = c->report_every, .seed = c->seed + (uint64_t)i,
                                  .phase = "selection", .trial_id = i};
            cost_meter_start(meter);
            st = darts_train_evalnet(e, net, &wtrain, &wval, &aug, &o, l, meter, &r);
        }
        char text[2048];
        double params, madds;
        darts_genotype_info(c, d, &g, text, sizeof text, &params, &madds);
        if (!st) {
            printf("random arch %d/%d: valid_acc %.2f%% %s\n", i + 1, c->random_archs,
                   100 * r.eval_acc, text);
            if (r.eval_acc > best_acc) {
                best_acc = r.eval_acc;
                *best = g;
            }
        }
        if (l) {
            ledger_trial t = {.id = i, .arch = text, .learner = "", .fidelity = c->random_epochs,
                              .train_acc = r.train_acc, .val_acc = st ? NAN : r.eval_acc,
                              .test_acc = NAN, .train_loss = r.train_loss,
                              .val_loss = st ? NAN : r.eval_loss, .test_loss = NAN, .madds = madds,
                              .params = params, .cost = cost_meter_read(meter),
                              .status = st ? "failed" : "ok"};
            int st2 = ledger_append_trial(l, &t);
            if (!st) st = st2;
        }
        darts_evalnet_free(net);
        gh_engine_destroy(e);
        cost_meter_destroy(meter);
    }
    if (!st && l) {
        cost_totals ct = cost_meter_read(total);
        char text[2048];
        genotype_print(best, text, sizeof text);
        if (!(st = ledger_add_phase_cost(l, "search", &ct))) st = ledger_put_text(l, "genotype", text);
    }
    cost_meter_destroy(total);
    images_free(&sample);
    images_free(&wtrain);
    images_free(&wval);
    return st;
}
