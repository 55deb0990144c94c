// test_enas_search: ENAS end to end (search/nas/enas.c) on generated images where one op is
// clearly best: each 8x8 image is background noise, and the class is whether one pixel is a
// bright spike or the spike's brightness is spread over the whole image (the same mean). A 3x3
// max pooling spreads the spike over 9 pixels before the global average pool, so a path of max
// pools separates the classes at once; identity and average pooling keep the two means equal and
// the separable convolutions must first learn a detector. The search runs through the method
// registry (nas_search_run) and must put max pooling on most edges of the derived cells in most
// seeds; the same seed gives bit-identical epoch rows, trials and genotype.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "search/nas/nas_internal.h"

// noise U(0, 0.6); the spike 0.6 (or 0.6 / 64 on every pixel). With noise 0.3 and spike 1.0
// the task is easy enough for every op (all arcs score 80-100 %) and the controller learns
// nothing; at 0.6 / 0.6 the max-pool arcs are the ones that score.
#define NOISE 0.6
#define SPIKE 0.6
static void spike_images(gh_images *im, int n, uint64_t seed) {
    gh_rng r;
    gh_rng_seed(&r, seed, 9);
    im->n = n;
    im->c = 1;
    im->h = im->w = 8;
    im->classes = 2;
    im->x = malloc(sizeof(float) * 64 * (size_t)n);
    im->y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int cls = (int)gh_rng_below(&r, 2), at = (int)gh_rng_below(&r, 64);
        im->y[i] = cls;
        for (int k = 0; k < 64; k++) {
            double v = NOISE * gh_rng_uniform(&r);
            im->x[i * 64 + k] = (float)(v + (cls ? (k == at ? SPIKE : 0.0) : SPIKE / 64));
        }
    }
}

static int spike_data(nas_data *d) {
    memset(d, 0, sizeof *d);
    spike_images(&d->train, 192, 1);
    spike_images(&d->test, 64, 2);
    snprintf(d->name, sizeof d->name, "spikes");
    return images_channel_stats(&d->train, d->norm.mean, d->norm.std);
}

static nas_config spike_config(uint64_t seed) {
    nas_config c;
    nas_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "cpu");
    snprintf(c.method, sizeof c.method, "enas");
    c.seed = seed;
    c.deterministic = 1;
    c.threads = 1;
    c.search_layers = 2;
    c.search_channels = 4;
    c.search_epochs = 6;
    c.search_batch = 16;
    c.search_lr = 0.05;
    c.search_lr_min = 0.0005;
    c.search_wd = 1e-4;
    c.search_crop_pad = 0;
    c.search_flip = 0;
    c.report_every = 1000;
    c.final_layers = 3;
    c.final_channels = 4;
    c.auxiliary = 0;
    c.arena_mb = 64;
    c.enas.nodes = 2;
    c.enas.lstm_size = 32;
    c.enas.train_steps = 10;
    c.enas.aggregate = 10;
    c.enas.derive_archs = 10;
    c.enas.lr_t0 = 0;
    // ops the controller can learn: the paper's tanh constant 2.5 on every logit, no saturated
    // bias on the convolutions (with the official 1.1 / 2.5 and b_soft 10 no op can pass 1/3)
    c.enas.tanh_c = 2.5;
    c.enas.op_tanh_reduce = 1;
    c.enas.b_soft_init = 0;
    c.enas.lr = 0.03;
    return c;
}

// Runs seed 10 into path and returns the genotype.
static genotype run_logged(const nas_data *d, const char *path) {
    nas_config c = spike_config(10);
    snprintf(c.out, sizeof c.out, "%s", path);
    unlink(path);
    char cfg[16384];
    nas_config_print(&c, cfg, sizeof cfg);
    ledger_run_info info = {.method = nas_method_label(&c), .dataset = d->name, .seed = c.seed,
                            .config_text = cfg};
    ledger *l = NULL;
    genotype g;
    memset(&g, 0, sizeof g);
    CHECK_OK(ledger_create(&l, path, &info));
    CHECK_OK(nas_search_run(&c, d, l, NULL, &g));
    CHECK_OK(ledger_close(l, "finished"));
    return g;
}

// The same seed twice: the same epoch rows, trials, controller records and genotype, bit for bit.
static void test_repeatable(const nas_data *d) {
    genotype a = run_logged(d, "enas_search_a.h5"), b = run_logged(d, "enas_search_b.h5");
    CHECK(genotype_equal(&a, &b));
    ledger *la = NULL, *lb = NULL;
    CHECK_OK(ledger_open_read(&la, "enas_search_a.h5"));
    CHECK_OK(ledger_open_read(&lb, "enas_search_b.h5"));
    if (!la || !lb) return;
    CHECK(ledger_num_epochs(la) == 6 && ledger_num_epochs(lb) == 6);
    for (int64_t i = 0; i < ledger_num_epochs(la); i++) {
        ledger_epoch x, y;
        CHECK_OK(ledger_read_epoch(la, i, &x));
        CHECK_OK(ledger_read_epoch(lb, i, &y));
        CHECK_MSG(x.train_loss == y.train_loss && x.train_acc == y.train_acc &&
                      x.val_acc == y.val_acc && x.lr == y.lr,
                  "epoch %lld differs", (long long)i);
        char name[64];
        int r1, c1, r2, c2;
        const float *m1, *m2;
        snprintf(name, sizeof name, "controller_epoch_%03lld", (long long)i);
        CHECK_OK(ledger_get_matrix(la, name, &r1, &c1, &m1));
        CHECK_OK(ledger_get_matrix(lb, name, &r2, &c2, &m2));
        CHECK(r1 == 1 && c1 == 5 && r2 == 1 && c2 == 5 && !memcmp(m1, m2, 5 * sizeof(float)));
        const char *a1, *a2;
        snprintf(name, sizeof name, "controller_arcs_epoch_%03lld", (long long)i);
        CHECK_OK(ledger_get_text(la, name, &a1));
        CHECK_OK(ledger_get_text(lb, name, &a2));
        int lines = 0;
        for (const char *q = a1; *q; q++) lines += *q == '\n';
        CHECK(lines == 100 && !strcmp(a1, a2));
    }
    CHECK(ledger_num_trials(la) == 10 && ledger_num_trials(lb) == 10);
    for (int64_t i = 0; i < ledger_num_trials(la); i++) {
        ledger_trial x, y;
        CHECK_OK(ledger_read_trial(la, i, &x));
        CHECK_OK(ledger_read_trial(lb, i, &y));
        CHECK(x.val_acc == y.val_acc && !strcmp(x.arch, y.arch));
    }
    const char *t1, *t2;
    CHECK_OK(ledger_get_text(la, "enas_derived_arcs", &t1));
    CHECK_OK(ledger_get_text(lb, "enas_derived_arcs", &t2));
    CHECK(!strcmp(t1, t2));
    printf("repeatable: same seed, same rows; derived arcs:\n%s", t1);
    ledger_close(la, NULL);
    ledger_close(lb, NULL);
}

// share of the derived cells' edges that are max pooling
static double max_pool_share(const genotype *g) {
    int hits = 0, n = 0;
    const geno_cell *cells[2] = {&g->normal, &g->reduce};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2 * cells[t]->steps; i++, n++)
            hits += cells[t]->edge[i].op == DARTS_OP_MAX_POOL_3X3;
    return (double)hits / n;
}

// ENAS's child_lr_cosine with T_0 10, T_mul 2: periods 10, 20, 40, ...; each from lr to lr_min
static void test_restarts(void) {
    nas_config c;
    nas_config_defaults(&c);
    c.search_lr = 0.05;
    c.search_lr_min = 0.0005;
    c.search_epochs = 150;
    const int starts[] = {0, 10, 30, 70};
    for (int i = 0; i < 4; i++) {
        CHECK(enas_child_lr(&c, starts[i]) == 0.05);
        double mid = enas_child_lr(&c, starts[i] + 5 * (1 << i));   // half way: the mean
        CHECK_MSG(fabs(mid - 0.02525) < 1e-12, "period %d half way: %g", i, mid);
    }
    CHECK(enas_child_lr(&c, 9) < enas_child_lr(&c, 8) && enas_child_lr(&c, 9) > 0.0005);
    c.enas.lr_t0 = 0;   // one cosine over the search
    CHECK(fabs(enas_child_lr(&c, 75) - 0.02525) < 1e-12);
    // the final protocol of cifar10_micro_final.sh: 630 epochs = 10 + 20 + 40 + 80 + 160 + 320
    CHECK(nas_cosine_restart_lr(0.05, 1e-4, 310, 630, 10, 2) == 0.05);
    CHECK(nas_cosine_restart_lr(0.05, 1e-4, 629, 630, 10, 2) < 1.1e-4);
}

// ENAS's dropout before the classifier: the identity in evaluation, active in training.
static void test_final_dropout(void) {
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("ENAS")));
    darts_net_config nc = {.in_c = 1, .in_h = 8, .in_w = 8, .classes = 2, .layers = 3, .c = 4,
                           .steps = 5, .multiplier = 5, .stem_multiplier = 3};
    float out[2][2][8 * 2];   // [dropout 0 / 0.5][eval / train]
    float x[8 * 64];
    for (int i = 0; i < 8 * 64; i++) x[i] = (float)((i * 37) % 11) / 11.0f;
    for (int v = 0; v < 2; v++) {
        gh_engine *e = NULL;
        gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = 64 << 20, .seed = 8,
                               .deterministic = 1};
        CHECK_OK(gh_engine_create(&e, &ec));
        if (!e) return;
        nc.dropout = v ? 0.5 : 0.0;
        nas_net net;
        CHECK_OK(nas_net_build(&net, e, &nc, &g));
        for (int train = 0; train < 2; train++) {
            gh_step_begin(e);
            gh_set_training(e, train);
            gh_set_grad_enabled(e, 0);
            gh_tensor *in = gh_input(e, 4, (int[]){8, 1, 8, 8}, x);
            gh_tensor *y = darts_evalnet_forward(net.eval, in, 0.0f, NULL);
            CHECK(y != NULL);
            if (y) CHECK_OK(gh_tensor_to_host(e, y, out[v][train]));
        }
        nas_net_free(&net);
        gh_engine_destroy(e);
    }
    CHECK(!memcmp(out[0][0], out[1][0], sizeof out[0][0]));   // evaluation: the same network
    CHECK(memcmp(out[0][1], out[1][1], sizeof out[0][1]));    // training: dropout acts
}

// One training step of a sampled arc changes the weights (and BN statistics: every parameter
// group is compared) of that arc's ops
// and of nothing else in the supernet's op table (SGD without momentum and weight decay, which
// would move every weight as in the official code's l2 over all variables).
static void test_shared_weights(const nas_data *d) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = 64 << 20, .seed = 4,
                           .deterministic = 1};
    CHECK_OK(gh_engine_create(&e, &ec));
    if (!e) return;
    darts_net_config nc = {.in_c = 1, .in_h = 8, .in_w = 8, .classes = 2, .layers = 3, .c = 4,
                           .steps = 2, .multiplier = 2, .stem_multiplier = 3};
    nas_net net;
    CHECK_OK(nas_net_build(&net, e, &nc, NULL));
    enas_arc a;
    genotype g;
    // normal: node 2 = sep3(1) + sep5(0), node 3 = id(2) + avg(1); reduction: node 2 = sep5(0)
    // + sep3(1), node 3 = max(2) + sep3(2)
    CHECK_OK(enas_arc_parse(&a, "1 0 0 1 2 4 1 2 0 1 1 0 2 3 2 0", 2));
    CHECK_OK(enas_arc_to_genotype(&a, &g));
    net.path = &g;
    int np = gh_params_count(e);
    float **before = calloc((size_t)np, sizeof *before);
    for (int i = 0; i < np; i++) {
        gh_tensor *t = gh_param_at(e, i);
        before[i] = malloc(sizeof(float) * t->numel);
        CHECK_OK(gh_tensor_to_host(e, t, before[i]));
    }
    gh_step_def sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD};
    int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    nas_feed f;
    CHECK_OK(nas_feed_init(&f, &d->train, &d->norm, 8, 1));
    gh_batch b;
    nas_feed_batch(&f, idx, 8, 0, 1, 0, &b);
    CHECK_OK(gh_train_step(e, &sd, &b, 0.1));
    int on_changed = 0, on_total = 0, off_checked = 0;
    for (int i = 0; i < np; i++) {
        gh_tensor *t = gh_param_at(e, i);
        int cell, edge, k;
        if (sscanf(t->name, "cells.%d._ops.%d._ops.%d", &cell, &edge, &k) != 3) continue;
        int red = cell == nc.layers / 3 || cell == 2 * nc.layers / 3, on = 0;
        const geno_cell *gc = red ? &g.reduce : &g.normal;
        for (int j = 0, off = 0; j < gc->steps; off += 2 + j, j++)
            for (int u = 0; u < 2; u++)
                on |= gc->edge[2 * j + u].op == k && off + gc->edge[2 * j + u].input == edge;
        float *now = malloc(sizeof(float) * t->numel);
        CHECK_OK(gh_tensor_to_host(e, t, now));
        int same = !memcmp(now, before[i], sizeof(float) * t->numel);
        if (on) {
            on_total++;
            on_changed += !same;
        } else {
            off_checked++;
            CHECK_MSG(same, "%s is not on the sampled arc and changed", t->name);
        }
        free(now);
    }
    printf("shared weights: %d of %d tensors of the arc's ops changed, %d tensors off it kept\n",
           on_changed, on_total, off_checked);
    CHECK(on_total > 0 && on_changed == on_total && off_checked > on_total);
    for (int i = 0; i < np; i++) free(before[i]);
    free(before);
    nas_feed_free(&f);
    nas_net_free(&net);
    gh_engine_destroy(e);
}

int main(int argc, char **argv) {
    test_restarts();
    test_final_dropout();
    nas_data d;
    CHECK_OK(spike_data(&d));
    test_shared_weights(&d);
    int seeds = argc > 1 ? atoi(argv[1]) : 5, found = 0;
    double t0 = gh_wall_seconds();
    for (int s = 0; s < seeds; s++) {
        nas_config c = spike_config(10 + (uint64_t)s);
        genotype g;
        CHECK_OK(nas_search_run(&c, &d, NULL, NULL, &g));
        char text[2048];
        genotype_print(&g, text, sizeof text);
        double share = max_pool_share(&g);
        printf("seed %d: max_pool on %.0f%% of the edges: %s\n", s, 100 * share, text);
        found += share >= 0.5;
    }
    printf("%d of %d seeds put max pooling on at least half the edges (%.1f s)\n", found, seeds,
           gh_wall_seconds() - t0);
    CHECK_MSG(2 * found > seeds, "%d of %d seeds", found, seeds);
    test_repeatable(&d);
    images_free(&d.train);
    images_free(&d.test);
    return check_done("test_enas_search");
}
