// darts_train: training a genotype's evaluation network from scratch with DARTS's protocol
// (train.py: SGD, cosine schedule, auxiliary loss, drop-path ramped linearly, cutout) through
// the engine's trainer, over several seeds aggregated as mean and standard deviation, recorded
// in the ledger.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darts_internal.h"

// The training of one network as a trainer plan: drop-path ramped per epoch as the epoch's
// batches are drawn, the cosine schedule, and an evaluation with a ledger row after every epoch.
typedef struct {
    const darts_train_opts *o;
    nas_net *net;
    nas_feed train;
    const gh_images *eval;
    images_aug norm;
    struct ledger *l;
    cost_meter *meter;
    darts_train_result *r;
} evalnet_plan;

static int evalnet_batch(void *ctx, int epoch, int step, gh_batch *b) {
    evalnet_plan *k = ctx;
    k->net->drop_path = k->o->drop_path * epoch / k->o->epochs;  // train.py: ramped from 0
    return nas_feed_train(&k->train, epoch, step, b);
}

static double evalnet_lr(void *ctx, int epoch, int step) {
    (void)step;
    const darts_train_opts *o = ((evalnet_plan *)ctx)->o;
    return darts_cosine_lr(o->lr, o->lr_min, epoch, o->epochs);
}

static int evalnet_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p) {
    evalnet_plan *k = ctx;
    const darts_train_opts *o = k->o;
    darts_train_result *r = k->r;
    r->train_loss = p->loss;
    r->train_acc = p->acc;
    int st = nas_evaluate(e, nas_net_eval_loss, k->net, k->eval, &k->norm, 0, o->batch,
                          &r->eval_loss, &r->eval_acc);
    if (st) return st;
    printf("%s epoch %d/%d: lr %.5f drop_path %.3f train_acc %.2f%% eval_acc %.2f%%\n",
           o->phase, p->epoch + 1, o->epochs, p->lr, k->net->drop_path, 100 * r->train_acc,
           100 * r->eval_acc);
    fflush(stdout);
    if (!k->l) return GH_OK;
    ledger_epoch ep = {.phase = o->phase, .trial_id = o->trial_id, .epoch = p->epoch,
                       .train_loss = r->train_loss, .train_acc = r->train_acc,
                       .val_loss = r->eval_loss, .val_acc = r->eval_acc, .lr = p->lr,
                       .cost = cost_meter_read(k->meter)};
    return ledger_append_epoch(k->l, &ep);
}

int darts_train_evalnet(gh_engine *e, nas_net *net, const gh_images *train,
                        const gh_images *eval, const images_aug *aug, const darts_train_opts *o,
                        struct ledger *l, cost_meter *meter, darts_train_result *r) {
    evalnet_plan k = {.o = o, .net = net, .eval = eval, .norm = *aug, .l = l, .meter = meter,
                      .r = r};
    k.norm.crop_pad = k.norm.flip = k.norm.cutout = 0;
    *r = (darts_train_result){.train_loss = NAN, .train_acc = NAN, .eval_loss = NAN,
                              .eval_acc = NAN};
    net->aux_weight = o->aux_weight;
    int st = nas_feed_init(&k.train, train, aug, o->batch, o->seed);
    if (st) return st;
    gh_train_plan plan = {.phase = o->phase, .epochs = o->epochs,
                          .steps = nas_feed_steps(&k.train, train->n),
                          .report_every = o->report_every, .batch = evalnet_batch,
                          .lr = evalnet_lr, .epoch_end = evalnet_epoch_end, .ctx = &k};
    gh_step_def sd = {.loss = nas_net_loss, .model = net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = o->momentum, .wd = o->wd,
                      .grad_clip = o->grad_clip};
    plan.step_def = &sd;
    st = gh_train_run(e, &plan, NULL, NULL);
    // no epochs (final_epochs 0): the untrained network is measured, not reported as 0
    if (!st && o->epochs == 0)
        st = nas_evaluate(e, nas_net_eval_loss, net, eval, &k.norm, 0, o->batch, &r->eval_loss,
                          &r->eval_acc);
    nas_feed_free(&k.train);
    return st;
}

// Trains g once with seed; fills the trial record's numbers.
static int final_one(const darts_config *c, const darts_data *d, struct ledger *l,
                     const genotype *g, uint64_t seed, int64_t trial_id, double *test_acc) {
    gh_images train = {0}, test = {0};
    const gh_images *tr = &d->train, *te = &d->test;
    int st = GH_OK;
    if (c->final_limit > 0 && c->final_limit < d->train.n) {
        if ((st = images_sample(&train, &d->train, c->final_limit, seed))) return st;
        tr = &train;
    }
    if (c->test_limit > 0 && c->test_limit < d->test.n) {
        int *idx = malloc(sizeof(int) * (size_t)c->test_limit);
        if (!idx) st = gh_fail(GH_ENOMEM, "final: no memory");
        for (int i = 0; idx && i < c->test_limit; i++) idx[i] = i;
        if (!st) st = images_subset(&test, &d->test, idx, c->test_limit);
        free(idx);
        te = &test;
    }
    darts_net_config nc = darts_net_for(d, c->final_layers, c->final_channels, c->auxiliary);
    size_t arena = 0;
    gh_engine *e = NULL;
    nas_net net = {0};
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    if (st || (st = nas_arena_bytes(c, &nc, g, c->final_batch, &arena)) ||
        (st = darts_engine_open(&e, c, arena, seed)) || (st = nas_net_build(&net, e, &nc, g)))
        goto done;
    darts_net_count cnt;
    darts_count_net(&nc, g, &cnt);
    printf("final seed %llu: %d cells, C=%d, %.0f params (%.3f M; auxiliary head %.0f more), "
           "%.1f M multiply-adds, %d training and %d test images\n",
           (unsigned long long)seed, nc.layers, nc.c, cnt.params, cnt.params / 1e6,
           cnt.params_aux, cnt.madds / 1e6, tr->n, te->n);
    images_aug aug = d->norm;
    aug.crop_pad = c->final_crop_pad;
    aug.flip = c->final_flip;
    aug.cutout = c->final_cutout;
    darts_train_opts o = {.epochs = c->final_epochs, .batch = c->final_batch, .lr = c->final_lr,
                          .lr_min = c->final_lr_min, .momentum = c->final_momentum,
                          .wd = c->final_wd, .grad_clip = c->final_grad_clip,
                          .drop_path = c->drop_path, .aux_weight = c->aux_weight,
                          .report_every = c->report_every, .seed = seed, .phase = "final",
                          .trial_id = trial_id};
    darts_train_result r;
    cost_meter_start(meter);
    st = darts_train_evalnet(e, &net, tr, te, &aug, &o, l, meter, &r);
    cost_meter_note_peak_mem(meter, (double)gh_engine_arena_peak(e));
    cost_totals ct = cost_meter_read(meter);
    *test_acc = st ? NAN : r.eval_acc;
    if (l) {
        char text[2048];
        genotype_print(g, text, sizeof text);
        ledger_trial t = {.id = trial_id, .arch = text, .learner = "", .fidelity = c->final_epochs,
                          .train_acc = st ? NAN : r.train_acc, .val_acc = NAN,
                          .test_acc = *test_acc, .train_loss = st ? NAN : r.train_loss,
                          .val_loss = NAN, .test_loss = st ? NAN : r.eval_loss,
                          .madds = cnt.madds, .params = cnt.params, .cost = ct,
                          .status = st == GH_ENAN ? "nan" : st ? "failed" : "ok"};
        int st2 = ledger_append_trial(l, &t);
        if (!st2) st2 = ledger_add_phase_cost(l, "final", &ct);
        if (!st) st = st2;
    }
    if (!st)
        printf("final seed %llu: test_acc %.2f%% (%.2f%% error), %.1f s wall, %.1f s CPU\n",
               (unsigned long long)seed, 100 * r.eval_acc, 100 * (1 - r.eval_acc), ct.wall_s,
               ct.cpu_s);
done:
    nas_net_free(&net);
    gh_engine_destroy(e);
    cost_meter_destroy(meter);
    images_free(&train);
    images_free(&test);
    return st;
}

int darts_final_run(const darts_config *c, const darts_data *d, struct ledger *l,
                    const genotype *g, double *mean_acc, double *sd_acc) {
    uint64_t seeds[64];
    int ns = 0;
    if (!c->seeds[0]) {
        seeds[ns++] = c->seed;
    } else {
        const char *p = c->seeds;
        while (*p) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p || ns == 64)
                return gh_fail(GH_EINVAL, "seeds '%s': expected up to 64 comma-separated integers",
                               c->seeds);
            seeds[ns++] = v;
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
    }
    double acc[64], sum = 0;
    for (int i = 0; i < ns; i++) {
        int st = final_one(c, d, l, g, seeds[i], 10000 + i, &acc[i]);
        if (st) return st;
        sum += acc[i];
    }
    double mean = sum / ns, ss = 0;
    for (int i = 0; i < ns; i++) ss += (acc[i] - mean) * (acc[i] - mean);
    double sd = ns > 1 ? sqrt(ss / (ns - 1)) : 0.0;   // sample sd across seeds, as the paper
    *mean_acc = mean;
    *sd_acc = sd;
    char text[256];
    snprintf(text, sizeof text, "test accuracy %.4f +- %.4f (error %.2f +- %.2f %%) over %d seed(s)",
             mean, sd, 100 * (1 - mean), 100 * sd, ns);
    printf("final: %s\n", text);
    return l ? ledger_put_text(l, "final_summary", text) : GH_OK;
}
