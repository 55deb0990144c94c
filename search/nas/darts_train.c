// darts_train: training a genotype's evaluation network from scratch with DARTS's protocol
// (train.py: SGD, cosine schedule, auxiliary loss, drop-path ramped linearly, cutout), over
// several seeds aggregated as mean and standard deviation, recorded in the ledger.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darts_internal.h"

static gh_tensor *evalnet_fwd(void *net, gh_engine *e, gh_tensor *x) {
    (void)e;
    return darts_evalnet_forward(net, x, 0.0f, NULL);
}

// One training step; returns the engine status, loss (with the auxiliary term) and hits.
static int train_step(gh_engine *e, darts_evalnet *net, const darts_batch *b, int bs,
                      const gh_images *im, const darts_train_opts *o, double lr, double drop,
                      double *loss, int *hits) {
    gh_step_begin(e);
    int shape[4] = {bs, im->c, im->h, im->w};
    gh_tensor *in = gh_input(e, 4, shape, b->x), *aux = NULL;
    const int *lab = gh_labels(e, bs, b->y);
    gh_tensor *logits = darts_evalnet_forward(net, in, (float)drop, &aux);
    gh_tensor *l = gh_xent(e, logits, lab, 0.0f, hits);
    // train.py: loss += auxiliary_weight * criterion(logits_aux, target)
    if (aux && o->aux_weight > 0)
        l = gh_add(e, l, gh_scale(e, gh_xent(e, aux, lab, 0.0f, NULL), (float)o->aux_weight));
    *loss = l ? gh_scalar(e, l) : NAN;
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    if (!st) st = gh_backward(e, l);
    if (!st) st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, (float)o->grad_clip, NULL);
    if (!st) st = gh_sgd_step(e, GH_GROUP_WEIGHTS, (float)lr, (float)o->momentum, (float)o->wd);
    return st;
}

int darts_train_evalnet(gh_engine *e, darts_evalnet *net, const gh_images *train,
                        const gh_images *eval, const images_aug *aug, const darts_train_opts *o,
                        struct ledger *l, cost_meter *meter, darts_train_result *r) {
    darts_batch b;
    int st = darts_batch_alloc(&b, o->batch, train);
    if (st) return st;
    images_aug norm = *aug;
    norm.crop_pad = norm.flip = norm.cutout = 0;
    int steps = (train->n + o->batch - 1) / o->batch;
    double t0 = gh_wall_seconds();
    memset(r, 0, sizeof *r);
    for (int epoch = 0; epoch < o->epochs && !st; epoch++) {
        double lr = darts_cosine_lr(o->lr, o->lr_min, epoch, o->epochs);
        double drop = o->drop_path * epoch / o->epochs;  // train.py: ramped linearly from 0
        int *order = darts_epoch_order(train->n, o->seed, epoch);
        if (!order) {
            st = gh_fail(GH_ENOMEM, "train: no memory for the epoch order");
            break;
        }
        double sum = 0;
        long hits = 0, seen = 0;
        for (int step = 0; step < steps && !st; step++) {
            int bs = train->n - step * o->batch < o->batch ? train->n - step * o->batch : o->batch;
            images_batch(train, order + step * o->batch, bs, aug, 1, o->seed, (uint64_t)epoch,
                         b.x, b.y);
            double loss;
            int h = 0;
            st = train_step(e, net, &b, bs, train, o, lr, drop, &loss, &h);
            sum += loss * bs;
            hits += h;
            seen += bs;
            if (!st && o->report_every > 0 && (step % o->report_every == 0 || step == steps - 1))
                darts_progress(o->phase, epoch, o->epochs, step + 1, steps, sum / seen,
                               (double)hits / seen, t0, (epoch + (step + 1.0) / steps) / o->epochs);
        }
        free(order);
        if (st) break;
        r->train_loss = sum / seen;
        r->train_acc = (double)hits / seen;
        if ((st = darts_evaluate(e, evalnet_fwd, net, eval, &norm, 0, o->batch, &r->eval_loss,
                                 &r->eval_acc)))
            break;
        printf("%s epoch %d/%d: lr %.5f drop_path %.3f train_acc %.2f%% eval_acc %.2f%%\n",
               o->phase, epoch + 1, o->epochs, lr, drop, 100 * r->train_acc, 100 * r->eval_acc);
        fflush(stdout);
        if (l) {
            ledger_epoch ep = {.phase = o->phase, .trial_id = o->trial_id, .epoch = epoch,
                               .train_loss = r->train_loss, .train_acc = r->train_acc,
                               .val_loss = r->eval_loss, .val_acc = r->eval_acc, .lr = lr,
                               .cost = cost_meter_read(meter)};
            st = ledger_append_epoch(l, &ep);
        }
    }
    darts_batch_free(&b);
    return st;
}

typedef struct {
    darts_net_config nc;
    const genotype *g;
} probe_ctx;

static int evalnet_probe(gh_engine *e, void *ctx, int batch) {
    probe_ctx *p = ctx;
    darts_evalnet *net;
    int st = darts_evalnet_build(&net, e, &p->nc, p->g);
    if (st) return st;
    if (!(st = gh_params_alloc(e))) {
        size_t per = (size_t)p->nc.in_c * p->nc.in_h * p->nc.in_w;
        darts_batch b = {calloc(per * (size_t)batch, sizeof(float)),
                         calloc((size_t)batch, sizeof(int)), batch, (int)per};
        gh_images im = {.n = batch, .c = p->nc.in_c, .h = p->nc.in_h, .w = p->nc.in_w,
                        .classes = p->nc.classes};
        darts_train_opts o = {.aux_weight = 0.4, .grad_clip = 5, .drop_path = 0.1};
        double loss;
        int hits;
        st = b.x && b.y ? train_step(e, net, &b, batch, &im, &o, 0.0, 0.1, &loss, &hits)
                        : gh_fail(GH_ENOMEM, "probe: no memory");
        darts_batch_free(&b);
    }
    darts_evalnet_free(net);
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
    probe_ctx pc = {darts_net_for(d, c->final_layers, c->final_channels, c->auxiliary), g};
    size_t arena = 0;
    gh_engine *e = NULL;
    darts_evalnet *net = NULL;
    cost_meter *meter = cost_meter_create(darts_gpus(c));
    if (st || (st = darts_arena_bytes(c, evalnet_probe, &pc, c->final_batch, &arena)) ||
        (st = darts_engine_open(&e, c, arena, seed)) ||
        (st = darts_evalnet_build(&net, e, &pc.nc, g)) || (st = gh_params_alloc(e)))
        goto done;
    darts_net_count cnt;
    darts_count_net(&pc.nc, g, &cnt);
    printf("final seed %llu: %d cells, C=%d, %.0f params (%.3f M; auxiliary head %.0f more), "
           "%.1f M multiply-adds, %d training and %d test images\n",
           (unsigned long long)seed, pc.nc.layers, pc.nc.c, cnt.params, cnt.params / 1e6,
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
    st = darts_train_evalnet(e, net, tr, te, &aug, &o, l, meter, &r);
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
    darts_evalnet_free(net);
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
