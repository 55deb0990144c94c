// test_graph_sig: the capture-safety check of the engine's capturable regions (engine/graph.c),
// on the cpu backend, where no CUDA graph exists but every region computes its signature:
// 1. DARTS search steps, first and second order, and the final-training step (the evaluation
//    network, drop-path 0) repeat each pass's signature from the second step on, with no
//    forbidden action inside; the first run of a pass is flagged for growing the arena.
// 2. Graphs that vary are seen to: an ENAS-like network whose op changes with the step, the
//    same ops with another scalar (gh_scale's alpha), another buffer (a second weight of the
//    same shape), and final training with drop-path (a new mask seed every step).
// 3. Forbidden actions inside a region are reported naming the call: gh_scalar's and gh_xent's
//    reads to the host, an upload after the region's first launch, a backend allocation.
// 4. Graphs on (emulated on cpu: the capture and replay decisions, each launch a rerun after a
//    rewind of the host state): the DARTS second-order search and the ENAS-like network with
//    one changed step give the same weights, alphas and losses bit for bit as graphs off, with
//    the captures, replays and the miss the policy implies.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

enum { B = 6, CLASSES = 3, HW = 8, STEPS = 6 };

static float xs[STEPS][B * HW * HW], xv[STEPS][B * HW * HW];
static int ys[STEPS][B], yv[STEPS][B];

static void data_init(void) {
    gh_rng r;
    gh_rng_seed(&r, 11, 1);
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < B * HW * HW; i++) {
            xs[s][i] = (float)gh_rng_normal(&r);
            xv[s][i] = (float)gh_rng_normal(&r);
        }
        for (int i = 0; i < B; i++) {
            ys[s][i] = (int)gh_rng_below(&r, CLASSES);
            yv[s][i] = (int)gh_rng_below(&r, CLASSES);
        }
    }
}

static gh_batch batch(float *x, int *y) {
    return (gh_batch){.x = x, .y = y, .ndim = 4, .shape = {B, 1, HW, HW}};
}

static gh_region_info info(gh_engine *e, const char *name, int index) {
    gh_region_info in;
    memset(&in, 0, sizeof in);
    CHECK_OK(gh_region_get(e, name, index, &in));
    return in;
}

static gh_engine *engine(void) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)64 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    return e;
}

// ---- 1 and 4: DARTS ---------------------------------------------------------------------------

typedef struct {
    gh_engine *e;
    darts_supernet *net;
    darts_search *s;
    int npass;
} darts_rig;

static void darts_open(darts_rig *d, int order) {
    d->e = engine();
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 3;
    nc.c = 4;
    nc.steps = 2;
    nc.multiplier = 2;
    CHECK_OK(darts_supernet_build(&d->net, d->e, &nc));
    CHECK_OK(gh_params_alloc(d->e));
    darts_step_opts o = {.order = order, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                         .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999, .arch_wd = 1e-3};
    CHECK_OK(darts_search_create(&d->s, d->e, d->net, &o));
    d->npass = order == 2 ? 4 : 1;
}

static void darts_close(darts_rig *d) {
    darts_search_free(d->s);
    darts_supernet_free(d->net);
    gh_engine_destroy(d->e);
}

static void darts_step(darts_rig *d, int k) {
    gh_batch bt = batch(xs[k], ys[k]), bv = batch(xv[k], yv[k]);
    CHECK_OK(darts_search_step(d->s, &bt, &bv, 0.025));
}

static void test_darts_stable(int order) {
    darts_rig d;
    darts_open(&d, order);
    uint64_t sig2[5] = {0};
    for (int k = 0; k < STEPS; k++) {
        darts_step(&d, k);
        for (int p = 0; p <= d.npass; p++) {
            // the architecture's passes, then the weight step's
            gh_region_info in =
                p < d.npass ? info(d.e, "darts_pass", p) : info(d.e, "train_step", 0);
            CHECK_MSG(in.runs == (uint64_t)k + 1, "order %d pass %d: %llu runs after %d steps",
                      order, p, (unsigned long long)in.runs, k + 1);
            CHECK(in.launches > 100);
            if (k == 0) {
                // the first pass sizes the arena (the later ones fit in it): not capturable
                // yet, and said why
                if (p == 0)
                    CHECK_MSG(in.forbidden && strstr(in.what, "arena growth"),
                              "order %d pass %d, step 1: forbidden %d (%s)", order, p,
                              in.forbidden, in.what);
            } else {
                CHECK_MSG(!in.forbidden, "order %d pass %d step %d: %s", order, p, k + 1, in.what);
                if (k == 1) sig2[p] = in.signature;
                CHECK_MSG(in.signature == sig2[p] && (k == 1 || in.stable),
                          "order %d pass %d: step %d's signature %016llx, step 2's %016llx",
                          order, p, k + 1, (unsigned long long)in.signature,
                          (unsigned long long)sig2[p]);
            }
        }
    }
    // passes that differ (weights' gradient on and off, train and validation batches sharing
    // addresses) have different signatures
    for (int p = 0; p < d.npass; p++)
        for (int q = p + 1; q <= d.npass; q++) CHECK(sig2[p] != sig2[q]);
    darts_close(&d);
}

// DARTS second order with graphs on (emulated) against graphs off: bit for bit.
static void test_darts_emulated(void) {
    darts_rig on, off;
    darts_open(&on, 2);
    darts_open(&off, 2);
    CHECK(gh_set_graphs(on.e, 1) == 0);
    size_t nw = gh_group_numel(on.e, GH_GROUP_WEIGHTS), na = gh_group_numel(on.e, GH_GROUP_ARCH);
    for (int k = 0; k < STEPS; k++) {
        darts_step(&on, k);
        darts_step(&off, k);
        double a[2], b[2];
        CHECK_OK(gh_acc_read(on.e, 2, a));
        CHECK_OK(gh_acc_read(off.e, 2, b));
        CHECK_MSG(a[0] == b[0] && a[1] == b[1], "step %d: loss sums %.17g / %.17g", k + 1, a[0],
                  b[0]);
        CHECK(!memcmp(gh_group_data(on.e, GH_GROUP_WEIGHTS), gh_group_data(off.e, GH_GROUP_WEIGHTS),
                      nw * sizeof(float)));
        CHECK(!memcmp(gh_group_data(on.e, GH_GROUP_ARCH), gh_group_data(off.e, GH_GROUP_ARCH),
                      na * sizeof(float)));
    }
    // 5 regions, each uncaptured for its first runs (the first sizes the arena and the
    // workspace: its signature may differ from the second's), captured at its third or fourth
    // and replayed from then on, never missed
    gh_graph_stats s;
    gh_graph_stats_get(on.e, &s);
    CHECK_MSG(s.captures == 5 && s.uncaptured >= 10 && s.uncaptured <= 15 &&
                  s.replays == 5 * STEPS - 5 - s.uncaptured &&
                  s.misses == 0 && s.fallbacks == 0,
              "captures %lld replays %lld uncaptured %lld misses %lld fallbacks %lld (%s)",
              (long long)s.captures, (long long)s.replays, (long long)s.uncaptured,
              (long long)s.misses, (long long)s.fallbacks, s.note);
    gh_graph_stats_get(off.e, &s);
    CHECK(s.captures == 0 && s.replays == 0 && s.uncaptured == 5 * STEPS);
    darts_close(&on);
    darts_close(&off);
}

// ---- 1 and 2: the final-training step ---------------------------------------------------------

static void test_final_training(double drop_path) {
    gh_engine *e = engine();
    darts_net_config nc = darts_eval_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 3;
    nc.c = 4;
    nc.auxiliary = 0;
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    nas_net net;
    CHECK_OK(nas_net_build(&net, e, &nc, &g));
    net.drop_path = drop_path;
    gh_step_def sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                      .fixed_graph = 1};
    uint64_t first = 0;
    int changed = 0;
    for (int k = 0; k < STEPS; k++) {
        gh_batch b = batch(xs[k], ys[k]);
        CHECK_OK(gh_train_step(e, &sd, &b, 0.025));
        gh_region_info in = info(e, "train_step", 0);
        if (k == 0) continue;
        CHECK_MSG(!in.forbidden, "final training step %d: %s", k + 1, in.what);
        if (k == 1) first = in.signature;
        else changed += in.signature != first || !in.stable;
    }
    if (drop_path > 0)   // a new mask seed every step: never the same graph
        CHECK_MSG(changed == STEPS - 2, "drop_path %g: %d of %d steps changed", drop_path,
                  changed, STEPS - 2);
    else
        CHECK_MSG(changed == 0, "drop_path 0: %d steps changed", changed);
    nas_net_free(&net);
    gh_engine_destroy(e);
}

// ---- 2, 3 and 4: a small network whose graph the test chooses per step ----------------------

typedef struct {
    gh_engine *e;
    gh_tensor *w1, *w2, *w2b, *fc;
    const int *labels;
    int k;                 // the step's batch
    int arc;               // layer 2: 0 conv w2, 1 max pool, 2 avg pool, 3 conv w2b
    float alpha;           // gh_scale's argument before the head
    int bad;               // 0: none, 1 gh_scalar, 2 gh_xent's hit count, 3 a late upload,
                           // 4 an optimizer's first step (its state allocated)
    float loss;            // read after the region
    gh_tensor *l;
} toy;

static void toy_open(toy *t) {
    memset(t, 0, sizeof *t);
    t->e = engine();
    int s1[4] = {4, 1, 3, 3}, s2[4] = {4, 4, 3, 3}, sf[2] = {CLASSES, 4};
    t->w1 = gh_param(t->e, GH_GROUP_WEIGHTS, "w1", 4, s1, GH_INIT_KAIMING_UNIFORM, 9);
    t->w2 = gh_param(t->e, GH_GROUP_WEIGHTS, "w2", 4, s2, GH_INIT_KAIMING_UNIFORM, 36);
    t->w2b = gh_param(t->e, GH_GROUP_WEIGHTS, "w2b", 4, s2, GH_INIT_KAIMING_UNIFORM, 36);
    t->fc = gh_param(t->e, GH_GROUP_WEIGHTS, "fc", 2, sf, GH_INIT_KAIMING_UNIFORM, 4);
    CHECK_OK(gh_params_alloc(t->e));
    t->alpha = 1.0f;
}

static int toy_region(void *ctx, gh_engine *e) {
    toy *t = ctx;
    int shape[4] = {B, 1, HW, HW};
    gh_tensor *x = gh_input(e, 4, shape, xs[t->k]);
    gh_tensor *h = gh_relu(e, gh_conv2d(e, x, t->w1, NULL, 1, 1, 1, 1, 1, 1, 1));
    static const float extra[B * 4 * HW * HW];   // an upload (NULL would be a memset)
    if (t->bad == 3) h = gh_add(e, h, gh_input(e, 4, (int[]){B, 4, HW, HW}, extra));
    switch (t->arc) {
    case 0: h = gh_conv2d(e, h, t->w2, NULL, 1, 1, 1, 1, 1, 1, 1); break;
    case 1: h = gh_maxpool(e, h, 3, 1, 1); break;
    case 2: h = gh_avgpool(e, h, 3, 1, 1); break;
    default: h = gh_conv2d(e, h, t->w2b, NULL, 1, 1, 1, 1, 1, 1, 1); break;
    }
    h = gh_scale(e, gh_global_avgpool(e, gh_relu(e, h)), t->alpha);
    int hits = 0;
    t->l = gh_xent(e, gh_linear(e, h, t->fc, NULL), t->labels, 0.0f, t->bad == 2 ? &hits : NULL);
    if (t->bad == 1) (void)gh_scalar(e, t->l);
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    if (!st) st = gh_backward(e, t->l);
    if (!st && t->bad == 4)
        st = gh_adam_step(e, GH_GROUP_WEIGHTS, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
    return st;
}

// One step: the region, then (outside it) the loss read and an SGD step.
static gh_region_info toy_step(toy *t, int k) {
    gh_engine *e = t->e;
    t->k = k % STEPS;
    gh_step_begin(e);
    t->labels = gh_labels(e, B, ys[t->k]);
    CHECK_OK(gh_region_run(e, "toy", 0, toy_region, t));
    t->loss = gh_scalar(e, t->l);
    CHECK_OK(gh_sgd_step(e, GH_GROUP_WEIGHTS, 0.05f, 0.9f, 0.0f));
    return info(e, "toy", 0);
}

static void test_varying(void) {
    toy t;
    toy_open(&t);
    // warm up on every arc (the arena's high-water mark and the optimizer state), then arcs
    // as an ENAS controller would sample them: a changed arc changes the signature, a repeated
    // one repeats it
    for (int a = 0; a < 4; a++) {
        t.arc = a;
        toy_step(&t, a);
    }
    const int arcs[] = {0, 0, 1, 1, 2, 0, 3, 3, 0};
    uint64_t sig_of[4] = {0};
    for (int i = 0; i < (int)(sizeof arcs / sizeof *arcs); i++) {
        t.arc = arcs[i];
        gh_region_info in = toy_step(&t, i);
        CHECK_MSG(!in.forbidden, "arc step %d: %s", i, in.what);
        int same = i > 0 && arcs[i] == arcs[i - 1];
        CHECK_MSG(in.stable == same, "arc step %d (arc %d after %d): stable %d", i, arcs[i],
                  i ? arcs[i - 1] : -1, in.stable);
        if (sig_of[arcs[i]]) CHECK(in.signature == sig_of[arcs[i]]);
        sig_of[arcs[i]] = in.signature;
    }
    // every arc its own signature: the ops (conv, pools) and, for conv w2 against conv w2b,
    // only the weight's address
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) CHECK(sig_of[a] != sig_of[b]);
    // the same launches with another scalar argument
    t.arc = 0;
    t.alpha = 0.5f;
    gh_region_info in = toy_step(&t, 1);
    CHECK(!in.stable && in.signature != sig_of[0]);
    in = toy_step(&t, 2);
    CHECK(in.stable);
    t.alpha = 1.0f;
    in = toy_step(&t, 3);
    CHECK(in.signature == sig_of[0]);
    gh_engine_destroy(t.e);
}

static void test_forbidden(void) {
    toy t;
    toy_open(&t);
    toy_step(&t, 0);
    CHECK(toy_step(&t, 1).forbidden == 0);
    static const struct {
        int bad;
        const char *want[2];
    } cases[] = {
        {1, {"a read to the host in gh_scalar", "(mean)"}},
        {2, {"a read to the host in gh_xent", "(acc_hits)"}},
        {3, {"an upload after the region's first launch", "dev_h2d"}},
        {4, {"a backend allocation in opt_state", "after launch"}},
    };
    for (int c = 0; c < 4; c++) {
        t.bad = cases[c].bad;
        gh_region_info in = toy_step(&t, 2);
        // an extra input may first grow the arena (reported first); the next run is sized
        if (strstr(in.what, "arena growth")) in = toy_step(&t, 2);
        CHECK_MSG(in.forbidden && strstr(in.what, cases[c].want[0]) &&
                      strstr(in.what, cases[c].want[1]),
                  "case %d: forbidden %d, \"%s\"", c, in.forbidden, in.what);
        t.bad = 0;
        in = toy_step(&t, 3);   // and clean again (the adam state exists now)
        CHECK_MSG(!in.forbidden, "case %d, after: %s", c, in.what);
    }
    gh_engine_destroy(t.e);
}

// Graphs on (emulated) against graphs off, over a sequence of arcs after a warm-up on every
// arc: the losses and weights bit for bit, and the stats.
// From step bad_at on, the region also reads its loss to the host (gh_scalar).
static gh_graph_stats toy_emulated(const int *arcs, int n, int bad_at) {
    toy on, off;
    toy_open(&on);
    toy_open(&off);
    for (int a = 0; a < 4; a++) {   // the arena's high-water mark and the workspace, sized
        on.arc = off.arc = a;
        toy_step(&on, a);
        toy_step(&off, a);
    }
    gh_set_graphs(on.e, 1);
    for (int i = 0; i < n; i++) {
        on.arc = off.arc = arcs[i];
        on.bad = off.bad = i >= bad_at;
        toy_step(&on, i);
        toy_step(&off, i);
        CHECK_MSG(on.loss == off.loss, "step %d: loss %.9g with graphs, %.9g without", i,
                  on.loss, off.loss);
    }
    CHECK(!memcmp(gh_group_data(on.e, GH_GROUP_WEIGHTS), gh_group_data(off.e, GH_GROUP_WEIGHTS),
                  gh_group_numel(on.e, GH_GROUP_WEIGHTS) * sizeof(float)));
    gh_graph_stats s;
    gh_graph_stats_get(on.e, &s);
    printf("arcs");
    for (int i = 0; i < n; i++) printf(" %d", arcs[i]);
    printf(": %lld captured, %lld replays, %lld uncaptured, %lld misses, %lld fallbacks; %s\n",
           (long long)s.captures, (long long)s.replays, (long long)s.uncaptured,
           (long long)s.misses, (long long)s.fallbacks, s.note);
    gh_engine_destroy(on.e);
    gh_engine_destroy(off.e);
    return s;
}

static void test_toy_emulated(void) {
    // one change (an epoch's short last batch): runs 1-2 uncaptured, 3 captured, 4-5 replayed;
    // 6 (arc 1) misses and runs uncaptured, 7 and 8 uncaptured (not yet repeated), 9 captured,
    // 10-12 replayed
    const int once[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    gh_graph_stats s = toy_emulated(once, 12, 99);
    // (uncaptured counts the 4 warm-up runs too)
    CHECK(s.captures == 2 && s.replays == 5 && s.misses == 1 && s.uncaptured == 4 + 5 &&
          s.fallbacks == 0 && strstr(s.note, "toy[0]") && strstr(s.note, "differ"));
    // ENAS-like, a new arc every step: never repeated, never captured
    const int enas[] = {0, 1, 2, 3, 1, 0, 2, 1, 3, 0};
    s = toy_emulated(enas, 10, 99);
    CHECK(s.captures == 0 && s.replays == 0 && s.misses == 0 && s.uncaptured == 4 + 10);
    // arcs that repeat once and change: each capture differs from the run before it (a miss
    // each, no replay between them): left uncaptured after GH_GRAPH_MAX_MISSES of them
    const int pairs[] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
    s = toy_emulated(pairs, 14, 99);
    CHECK(s.misses == GH_GRAPH_MAX_MISSES && s.fallbacks == 1 && s.replays == 0 &&
          strstr(s.note, "uncaptured from now on"));
    // the same with a replay between the misses: not given up
    const int runs[] = {0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};
    s = toy_emulated(runs, 20, 99);
    CHECK(s.misses > GH_GRAPH_MAX_MISSES && s.fallbacks == 0 && s.replays > 0);
    // a read to the host appears in a replayed region: a miss naming it, then uncaptured runs
    const int same[] = {0, 0, 0, 0, 0, 0, 0, 0};
    s = toy_emulated(same, 8, 5);
    CHECK(s.misses == 1 && s.replays >= 2 && strstr(s.note, "a read to the host in gh_scalar"));
}

int main(void) {
    data_init();
    test_darts_stable(1);
    test_darts_stable(2);
    test_final_training(0.0);
    test_final_training(0.2);
    test_varying();
    test_forbidden();
    test_toy_emulated();
    test_darts_emulated();
    return check_done("test_graph_sig");
}
