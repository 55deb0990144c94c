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
// Training the shared weights as a trainer plan whose step samples a path first.
typedef struct {
    const darts_config *c;
    struct ledger *l;
    cost_meter *meter;
    nas_feed train;
    nas_net net;             // the supernet restricted to `path`
    genotype path;           // this step's sampled path
    gh_step_def sd;
    gh_rng *rng;
} ws_plan;

static int ws_batch(void *ctx, int epoch, int step, gh_batch *b) {
    return nas_feed_train(&((ws_plan *)ctx)->train, epoch, step, b);
}

static double ws_lr(void *ctx, int epoch, int step) {
    (void)step;
    const darts_config *c = ((ws_plan *)ctx)->c;
    return darts_cosine_lr(c->search_lr, c->search_lr_min, epoch, c->search_epochs);
}

static int ws_step(void *ctx, gh_engine *e, const gh_batch *b, double lr) {
    ws_plan *k = ctx;
    darts_random_genotype(k->rng, 4, 4, &k->path);  // the supernet's steps and multiplier
    return gh_train_step(e, &k->sd, b, lr);
}

static int ws_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    (void)e;
    ws_plan *k = ctx;
    if (!k->l) return GH_OK;
    ledger_epoch ep = {.phase = "search", .trial_id = -1, .epoch = p->epoch,
                       .train_loss = p->loss, .train_acc = p->acc, .val_loss = NAN,
                       .val_acc = NAN, .lr = p->lr, .cost = cost_meter_read(k->meter)};
    return ledger_append_epoch(k->l, &ep);
}

static int ws_train(const darts_config *c, const darts_data *d, gh_engine *e, darts_supernet *net,
                    const gh_images *wtrain, struct ledger *l, cost_meter *meter, gh_rng *rng) {
    ws_plan k = {.c = c, .l = l, .meter = meter, .rng = rng};
    k.net = (nas_net){.super = net, .path = &k.path};
    k.sd = (gh_step_def){.loss = nas_net_loss, .model = &k.net, .group = GH_GROUP_WEIGHTS,
                         .opt = GH_OPT_SGD, .momentum = c->search_momentum, .wd = c->search_wd,
                         .grad_clip = c->search_grad_clip};
    images_aug aug = d->norm;
    aug.crop_pad = c->search_crop_pad;
    aug.flip = c->search_flip;
    aug.cutout = c->search_cutout;
    int st = nas_feed_init(&k.train, wtrain, &aug, c->search_batch, c->seed);
    if (st) return st;
    gh_train_plan plan = {.phase = "random-ws", .epochs = c->search_epochs,
                          .steps = nas_feed_steps(&k.train, wtrain->n),
                          .report_every = c->report_every, .batch = ws_batch,
                          .lr = ws_lr, .step = ws_step, .epoch_end = ws_epoch_end, .ctx = &k};
    st = gh_train_run(e, &plan, NULL, NULL);
    nas_feed_free(&k.train);
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
    darts_net_config nc = darts_net_for(d, c->search_layers, c->search_channels, 0);
    size_t arena = 0;
    gh_engine *e = NULL;
    nas_net net = {0};
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    gh_rng rng;
    gh_rng_seed(&rng, c->seed, GH_STREAM_SEARCH);
    if ((st = nas_arena_bytes(c, &nc, NULL, c->search_batch, &arena)) ||
        (st = darts_engine_open(&e, c, arena, c->seed)) || (st = nas_net_build(&net, e, &nc, NULL)))
        goto done;
    cost_meter_start(meter);
    if ((st = ws_train(c, d, e, net.super, &wtrain, l, meter, &rng))) goto done;
    // score sampled genotypes with the shared weights on the validation half
    double best_acc = -1;
    int n_eval = c->search_val_limit > 0 ? c->search_val_limit : wval.n;
    for (int i = 0; i < c->random_archs && !st; i++) {
        genotype g;
        darts_random_genotype(&rng, nc.steps, nc.multiplier, &g);
        nas_net path = {.super = net.super, .path = &g};
        double vloss, vacc;
        if ((st = nas_evaluate(e, nas_net_eval_loss, &path, &wval, &d->norm, n_eval,
                               c->search_batch, &vloss, &vacc)))
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
    nas_net_free(&net);
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
        nas_net net = {0};
        cost_meter *meter = cost_meter_create(darts_gpus(c));
        size_t arena = 0;
        darts_train_result r = {0};
        if (!(st = nas_arena_bytes(c, &nc, &g, c->search_batch, &arena)) &&
            !(st = darts_engine_open(&e, c, arena, c->seed + (uint64_t)i)) &&
            !(st = nas_net_build(&net, e, &nc, &g))) {
            darts_train_opts o = {.epochs = c->random_epochs, .batch = c->search_batch,
                                  .lr = c->search_lr, .lr_min = 0.0, .momentum = c->search_momentum,
                                  .wd = c->search_wd, .grad_clip = c->search_grad_clip,
                                  .report_every = c->report_every, .seed = c->seed + (uint64_t)i,
                                  .phase = "selection", .trial_id = i};
            cost_meter_start(meter);
            st = darts_train_evalnet(e, &net, &wtrain, &wval, &aug, &o, l, meter, &r);
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
        nas_net_free(&net);
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
