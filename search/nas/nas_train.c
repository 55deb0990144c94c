// nas_train: training a genotype's evaluation network from scratch with DARTS's protocol
// (train.py: SGD, cosine schedule, auxiliary loss, drop-path ramped linearly, cutout) through
// the engine's trainer, and the final training over several seeds aggregated as mean and
// standard deviation, recorded in the ledger.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

// The training of one network as a trainer plan: drop-path set per epoch as the epoch's
// batches are drawn, the cosine schedule, and an evaluation with a ledger row after every epoch.
typedef struct {
    const nas_train_opts *o;
    nas_net *net;
    void *model;             // net, or the ENAS macro model (o->macro)
    gh_loss_fn loss, eval_loss;
    nas_feed train;
    const gh_images *eval;
    images_aug norm;
    struct ledger *l;
    cost_meter *meter;
    cost_totals cost0;       // of the sessions before this one (a resumed training)
    int report_every, steps;
    nas_train_result *r;
    dp_reducer *dp;          // data parallel: the gradient all-reduce (NULL: one process)
    int average_bn;          // data parallel, per-rank batch norm: train_average_bn
} train_plan;

static int train_batch(void *ctx, int epoch, int step, gh_batch *b) {
    train_plan *k = ctx;
    if (!k->o->macro)   // train.py: ramped from 0
        k->net->drop_path = k->o->drop_path * epoch / k->o->epochs;
    return nas_feed_train(&k->train, epoch, step, b);
}

static double train_lr(void *ctx, int epoch, int step) {
    (void)step;
    const nas_train_opts *o = ((train_plan *)ctx)->o;
    return nas_cosine_restart_lr(o->lr, o->lr_min, epoch, o->epochs, o->lr_t0, o->lr_tmul);
}

// Data parallel with per-rank batch norm: each rank's running statistics follow its own shard,
// and the evaluation and rank 0's checkpoint read them, so they are averaged over the ranks
// (dp_average_buffers, its time in comm_s) before the evaluation. Once an epoch gives what an
// average after every step (ENAS, whose rewards read them mid-epoch) gives: a step maps each
// rank's statistic r to (1 - m) r + m s_rank (m the momentum, s the shard's batch statistic),
// affine with the same coefficients on every rank, so the mean over the ranks commutes with it
// (up to fp32 rounding), and training-mode batch norm never reads them. With sync_bn every
// rank already holds the same statistics.
static int train_average_bn(train_plan *k, gh_engine *e) {
    return k->average_bn ? dp_average_buffers(k->dp, e) : GH_OK;
}

static int train_epoch_end(void *ctx, gh_engine *e, const gh_train_progress *p0) {
    train_plan *k = ctx;
    const nas_train_opts *o = k->o;
    nas_train_result *r = k->r;
    gh_train_progress all = *p0, *p = &all;   // data parallel: the means over every rank
    int st = nas_dp_progress(k->dp, &all);
    if (!st) st = train_average_bn(k, e);   // before comm_s is read: this epoch's
    double comm = nas_dp_comm(k->dp);
    if (!st) st = nas_dp_rank_costs(k->dp, k->meter, k->l, o->phase, o->trial_id, p->epoch);
    if (st) return st;
    r->train_loss = p->loss;
    r->train_acc = p->acc;
    st = nas_eval_images(e, k->eval_loss, k->model, k->eval, &k->norm, 0, o->batch,
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
                       .cost = cost_add(k->cost0, cost_meter_read(k->meter))};
    return ledger_append_epoch_comm(k->l, &ep, comm);
}

static int train_checkpoint(void *ctx, gh_engine *e, const gh_train_pos *pos) {
    train_plan *k = ctx;
    // data parallel: at epochs' ends only (nas_ckpt_skip_dp says why)
    if (nas_ckpt_skip_dp(pos, k->steps, k->dp != NULL)) return GH_OK;
    nas_train_result sofar = *k->r;
    sofar.cost = cost_add(k->cost0, cost_meter_read(k->meter));
    return k->o->ckpt->save(k->o->ckpt->ctx, e, pos, (int64_t)pos->epoch * k->steps + pos->step,
                            &sofar);
}

static int train_built(gh_engine *e, train_plan *k, const gh_images *train,
                       const gh_train_pos *start) {
    const nas_train_opts *o = k->o;
    int st = nas_feed_init(&k->train, train, &o->aug, o->batch, o->seed);
    if (st) return st;
    k->train.shard = k->dp ? pg_world()->rank : 0;   // data parallel: this rank's part of
    k->train.shards = k->dp ? pg_world()->size : 1;  // every batch
    k->steps = nas_feed_steps(&k->train, train->n);
    gh_step_def sd = {.loss = k->loss, .model = k->model, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = o->momentum, .wd = o->wd,
                      .grad_clip = o->grad_clip, .reduce = k->dp ? dp_reduce : NULL,
                      .reduce_ctx = k->dp, .ready = k->dp ? dp_grad_ready : NULL,
                      .micro = o->micro,
                      // a genotype's (or macro arc's) network is the same graph every step
                      // (drop-path and dropout are mask ops): activations given back by plan
                      .fixed_graph = 1};
    gh_train_plan plan = {.phase = o->phase, .epochs = o->epochs, .steps = k->steps,
                          .report_every = k->report_every, .batch = train_batch,
                          .lr = train_lr, .step_def = &sd, .epoch_end = train_epoch_end,
                          .ctx = k};
    if (o->ckpt) {
        plan.checkpoint = train_checkpoint;
        plan.checkpoint_every_s = o->ckpt->every_s;
    }
    st = gh_train_run(e, &plan, start, NULL);
    // no epochs (final_epochs 0): the untrained network is measured, never reported as 0
    if (!st && o->epochs == 0)
        st = nas_eval_images(e, k->eval_loss, k->model, k->eval, &k->norm, 0, o->batch,
                             &k->r->eval_loss, &k->r->eval_acc);
    nas_feed_free(&k->train);
    return st;
}

int nas_train_genotype(const nas_config *c, const genotype *g, const gh_images *train,
                       const gh_images *eval, const nas_train_opts *o, struct ledger *l,
                       nas_train_result *r) {
    *r = (nas_train_result){.train_loss = NAN, .train_acc = NAN, .eval_loss = NAN,
                            .eval_acc = NAN};
    nas_net net = {0};
    enas_macro_model mnet = {.path = o->macro};
    train_plan k = {.o = o, .net = &net, .eval = eval, .norm = o->aug, .l = l,
                    .cost0 = nas_cost_none(), .report_every = c->report_every, .r = r,
                    .model = o->macro ? (void *)&mnet : (void *)&net,
                    .loss = o->macro ? enas_macro_loss : nas_net_loss,
                    .eval_loss = o->macro ? enas_macro_loss : nas_net_eval_loss};
    k.norm.crop_pad = k.norm.flip = k.norm.cutout = 0;
    k.meter = cost_meter_create(nas_gpus(c));
    cost_meter_start(k.meter);
    size_t arena = 0;
    gh_engine *e = NULL;
    int st = nas_dp_size(c) > 1 ? dp_reducer_create(&k.dp, (size_t)c->bucket_mb << 20) : GH_OK;
    if (!st)
        st = o->macro ? enas_macro_arena_bytes(c, &o->mc, o->macro, o->batch, &arena)
                      : nas_arena_bytes(c, &o->nc, g, o->batch, &arena);
    if (!st) st = nas_engine_open(&e, c, arena, o->seed);
    if (!st && k.dp && c->sync_bn) gh_set_bn_sync(e, dp_bn_sync, k.dp);   // timed in comm_s
    k.average_bn = k.dp && !c->sync_bn;
    if (!st)
        st = o->macro ? enas_macro_model_build(&mnet, e, &o->mc, o->macro)
                      : nas_net_build(&net, e, &o->nc, g);
    // a resumed training: the engine state, the position and the results and cost so far
    gh_train_pos pos = {0};
    if (!st && o->ckpt && o->ckpt->load && !(st = o->ckpt->load(o->ckpt->ctx, e, &pos, r))) {
        k.cost0 = r->cost;
        nas_pos_resume_dp(&pos, k.dp != NULL);
    }
    if (!st) {
        net.aux_weight = o->aux_weight;
        st = train_built(e, &k, train, &pos);
        cost_meter_note_peak_mem(k.meter, (double)gh_engine_arena_peak(e));
        char name[64];
        snprintf(name, sizeof name, "cuda_graphs_%s_trial_%lld", o->phase,
                 (long long)o->trial_id);
        if (!st) st = nas_engine_graphs_report(e, c, k.l, name, o->phase);
    }
    if (!st) r->comm_s = nas_dp_finish(k.meter, k.dp);
    dp_reducer_free(k.dp);
    r->cost = cost_add(k.cost0, cost_meter_read(k.meter));
    nas_net_free(&net);
    enas_macronet_free(mnet.net);
    gh_engine_destroy(e);
    cost_meter_destroy(k.meter);
    return st;
}

// Trains g (or the macro arc m) once with seed (checkpoints: ckpt, NULL none); records the
// trial.
static int final_one(const nas_config *c, const nas_data *d, struct ledger *l,
                     const genotype *g, const enas_macro_arc *m, uint64_t seed, int64_t trial_id,
                     const nas_train_ckpt *ckpt, double *test_acc) {
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
    nas_train_opts o = {.nc = nas_net_for(d, c->final_layers, c->final_channels, c->auxiliary),
                        .epochs = c->final_epochs, .batch = c->final_batch, .lr = c->final_lr,
                        .lr_min = c->final_lr_min, .lr_t0 = c->final_lr_t0,
                        .lr_tmul = c->final_lr_tmul, .momentum = c->final_momentum,
                        .wd = c->final_wd, .grad_clip = c->final_grad_clip,
                        .drop_path = c->drop_path, .aux_weight = c->aux_weight, .aug = d->norm,
                        .seed = seed, .phase = "final", .trial_id = trial_id, .ckpt = ckpt,
                        .micro = c->micro, .macro = m};
    o.nc.dropout = c->final_dropout;
    if (m) o.mc = enas_macro_config_for(d, m->layers, c->final_channels, 0, c->final_dropout);
    o.aug.crop_pad = c->final_crop_pad;
    o.aug.flip = c->final_flip;
    o.aug.cutout = c->final_cutout;
    darts_net_count cnt;
    if (st || (st = m ? enas_macro_count(&o.mc, m, &cnt) : darts_count_net(&o.nc, g, &cnt)))
        goto done;
    printf("final seed %llu: %d %s, C=%d, %.0f params (%.3f M; auxiliary head %.0f more), "
           "%.1f M multiply-adds, %d training and %d test images\n",
           (unsigned long long)seed, m ? o.mc.layers : o.nc.layers, m ? "macro layers" : "cells",
           m ? o.mc.c : o.nc.c, cnt.params, cnt.params / 1e6, cnt.params_aux, cnt.madds / 1e6,
           tr->n, te->n);
    nas_train_result r;
    st = nas_train_genotype(c, g, tr, te, &o, l, &r);
    *test_acc = st ? NAN : r.eval_acc;
    if (l) {
        char text[ENAS_MACRO_TEXT_MAX > 2048 ? ENAS_MACRO_TEXT_MAX : 2048];
        if (m)
            enas_macro_arch_text(m, text, sizeof text);
        else
            genotype_print(g, text, sizeof text);
        ledger_trial t = {.id = trial_id, .arch = text, .learner = "", .fidelity = c->final_epochs,
                          .train_acc = st ? NAN : r.train_acc, .val_acc = NAN,
                          .test_acc = *test_acc, .train_loss = st ? NAN : r.train_loss,
                          .val_loss = NAN, .test_loss = st ? NAN : r.eval_loss,
                          .madds = cnt.madds, .params = cnt.params, .cost = r.cost,
                          .status = st == GH_ENAN ? "nan" : st ? "failed" : "ok"};
        int st2 = ledger_append_trial(l, &t);
        if (!st2) st2 = ledger_add_phase_cost_comm(l, "final", &r.cost, st ? 0.0 : r.comm_s);
        if (!st) st = st2;
    }
    if (!st)
        printf("final seed %llu: test_acc %.2f%% (%.2f%% error), %.1f s wall, %.1f s CPU\n",
               (unsigned long long)seed, 100 * r.eval_acc, 100 * (1 - r.eval_acc), r.cost.wall_s,
               r.cost.cpu_s);
done:
    images_free(&train);
    images_free(&test);
    return st;
}

static int final_run(const nas_config *c, const nas_data *d, struct ledger *l,
                     const nas_ckpt *ck, const genotype *g, const enas_macro_arc *m,
                     double *mean_acc, double *sd_acc) {
    uint64_t seeds[NAS_MAX_SEEDS];
    int ns = 0;
    if (!c->seeds[0]) seeds[ns++] = c->seed;
    else if (nas_seeds_parse(c->seeds, seeds, NAS_MAX_SEEDS, &ns)) return GH_EINVAL;
    // checkpoints: before each seed, within its training, and after the last
    double acc[NAS_MAX_SEEDS], sum = 0;
    nas_final_ckpt fk;
    char arch[ENAS_MACRO_TEXT_MAX > 2048 ? ENAS_MACRO_TEXT_MAX : 2048];
    if (m)
        enas_macro_arch_text(m, arch, sizeof arch);
    else
        genotype_print(g, arch, sizeof arch);
    int first, st = nas_final_ckpt_open(&fk, ck, l, arch, seeds, ns, acc,
                                        60 * c->checkpoint_every_min, &first);
    for (int i = first; i < ns && !st; i++) {
        if (i > first || !fk.resume_training) st = nas_final_ckpt_mark(&fk, i);
        if (!st)
            st = final_one(c, d, l, g, m, seeds[i], 10000 + i,
                           nas_final_ckpt_hooks(&fk, i, first), &acc[i]);
    }
    if (!st && first < ns) st = nas_final_ckpt_mark(&fk, ns);
    if (st) return st;
    for (int i = 0; i < ns; i++) sum += acc[i];
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

int nas_final_run(const nas_config *c, const nas_data *d, struct ledger *l, const nas_ckpt *ck,
                  const genotype *g, double *mean_acc, double *sd_acc) {
    return final_run(c, d, l, ck, g, NULL, mean_acc, sd_acc);
}

int nas_final_run_macro(const nas_config *c, const nas_data *d, struct ledger *l,
                        const nas_ckpt *ck, const enas_macro_arc *a, double *mean_acc,
                        double *sd_acc) {
    return final_run(c, d, l, ck, NULL, a, mean_acc, sd_acc);
}
