// test_graph_sig: the capture-safety check of the engine's capturable regions (engine/graph.c),
// on the cpu backend, where no CUDA graph exists but every region computes its signature:
// 1. DARTS search steps, first and second order, and the final-training step (the evaluation
//    network, drop-path 0 and 0.2) repeat each pass's signature from the second step on, with
//    no forbidden action inside; the first run of a pass is flagged for growing the arena.
//    Drop-path's kernels read the step's seed from backend memory: their launches name its
//    address and the op's index in the step, not the seed's value.
// 2. Graphs that vary are seen to: an ENAS-like network whose op changes with the step, the
//    same ops with another scalar (gh_scale's alpha), another buffer (a second weight of the
//    same shape).
// 3. Forbidden actions inside a region are reported naming the call: gh_scalar's and gh_xent's
//    reads to the host, an upload after the region's first launch, a backend allocation.
// 4. Graphs on (emulated on cpu: the capture and replay decisions, each launch a rerun after a
//    rewind of the host state): the DARTS second-order search, the final training with
//    drop-path 0.2 and the ENAS-like network with one changed step give the same weights,
//    alphas and losses bit for bit as graphs off, with the captures, replays and the miss the
//    policy implies.
// 5. The masks of dropout and drop-path in a captured and replayed region (ref and cpu): op k
//    of a step draws gh_uniform(gh_hash64(step seed, k), i), a new mask every step, forward and
//    backward alike.
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

static gh_engine *engine_on(gh_backend backend) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = backend, .arena_bytes = (size_t)64 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    return e;
}

static gh_engine *engine(void) { return engine_on(GH_BACKEND_CPU); }

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

// ---- 1 and 4: the final-training step --------------------------------------------------------

typedef struct {
    gh_engine *e;
    nas_net net;
    gh_step_def sd;
} final_rig;

static void final_open(final_rig *f, double drop_path) {
    f->e = engine();
    darts_net_config nc = darts_eval_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 3;
    nc.c = 4;
    nc.auxiliary = 0;
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    CHECK_OK(nas_net_build(&f->net, f->e, &nc, &g));
    f->net.drop_path = drop_path;
    f->sd = (gh_step_def){.loss = nas_net_loss, .model = &f->net, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                          .fixed_graph = 1};
}

static void final_close(final_rig *f) {
    nas_net_free(&f->net);
    gh_engine_destroy(f->e);
}

// The signature from step 2 on, the same every step with drop-path on or off; returns it.
static uint64_t test_final_training(double drop_path) {
    final_rig f;
    final_open(&f, drop_path);
    uint64_t first = 0, launches = 0;
    int changed = 0;
    for (int k = 0; k < STEPS; k++) {
        gh_batch b = batch(xs[k], ys[k]);
        CHECK_OK(gh_train_step(f.e, &f.sd, &b, 0.025));
        gh_region_info in = info(f.e, "train_step", 0);
        if (k == 0) continue;
        CHECK_MSG(!in.forbidden, "final training step %d: %s", k + 1, in.what);
        if (k == 1) {
            first = in.signature;
            launches = in.launches;
        } else {
            changed += in.signature != first || !in.stable;
        }
    }
    // the step's seed changes every step; the launches, naming where it lies, do not
    CHECK_MSG(changed == 0, "drop_path %g: %d of %d steps changed their signature", drop_path,
              changed, STEPS - 2);
    printf("final training, drop_path %g: %llu launches a step, signature %016llx\n", drop_path,
           (unsigned long long)launches, (unsigned long long)first);
    final_close(&f);
    return first;
}

// Drop-path 0.2 with graphs on (emulated) against graphs off: bit for bit, and captured although
// every step draws new masks: steps 1-3 uncaptured (the first grows the arena and the workspace,
// so the second's signature differs from it and the third is the first to repeat the run before),
// captured at step 4 and replayed from step 5. Then the probability rises, as at an epoch's
// start (a launch argument): a miss, one more uncaptured step, a new capture and replays.
static void test_final_emulated(void) {
    enum { MORE = 4 };
    final_rig on, off;
    final_open(&on, 0.2);
    final_open(&off, 0.2);
    CHECK(gh_set_graphs(on.e, 1) == 0);
    size_t nw = gh_group_numel(on.e, GH_GROUP_WEIGHTS);
    for (int k = 0; k < STEPS + MORE; k++) {
        if (k == STEPS) on.net.drop_path = off.net.drop_path = 0.3;
        gh_batch b = batch(xs[k % STEPS], ys[k % STEPS]);
        CHECK_OK(gh_train_step(on.e, &on.sd, &b, 0.025));
        CHECK_OK(gh_train_step(off.e, &off.sd, &b, 0.025));
        CHECK(gh_engine_dropout_seed(on.e) == gh_engine_dropout_seed(off.e));
        double a[2], c[2];
        CHECK_OK(gh_acc_read(on.e, 2, a));
        CHECK_OK(gh_acc_read(off.e, 2, c));
        CHECK_MSG(a[0] == c[0] && a[1] == c[1], "drop-path step %d: loss sums %.17g / %.17g",
                  k + 1, a[0], c[0]);
        CHECK_MSG(!memcmp(gh_group_data(on.e, GH_GROUP_WEIGHTS),
                          gh_group_data(off.e, GH_GROUP_WEIGHTS), nw * sizeof(float)),
                  "drop-path step %d: weights differ with graphs on", k + 1);
        if (k != STEPS - 1 && k != STEPS + MORE - 1) continue;
        gh_graph_stats s;
        gh_graph_stats_get(on.e, &s);
        int more = k == STEPS + MORE - 1;
        CHECK_MSG(s.captures == 1 + more && s.replays == STEPS - 4 + more * (MORE - 3) &&
                      s.uncaptured == 3 + 2 * more && s.misses == more && s.fallbacks == 0,
                  "after step %d: captures %lld replays %lld uncaptured %lld misses %lld "
                  "fallbacks %lld (%s)", k + 1, (long long)s.captures, (long long)s.replays,
                  (long long)s.uncaptured, (long long)s.misses, (long long)s.fallbacks, s.note);
    }
    final_close(&on);
    final_close(&off);
}

// ---- 5: the masks in a replayed region ---------------------------------------------------------

enum { DROP_N = 4, DROP_PER = 64 };

typedef struct {
    gh_tensor *w, *x, *y, *z;
    const int *labels;
    const float *xh;
} drop_rig;

static int drop_region(void *ctx, gh_engine *e) {
    drop_rig *d = ctx;
    d->x = gh_input(e, 2, (int[]){DROP_N, DROP_PER}, d->xh);
    d->x->requires_grad = 1;
    d->y = gh_dropout(e, d->x, 0.3f);      // op 0 of the step
    d->z = gh_droppath(e, d->y, 0.5f);     // op 1
    gh_tensor *l = gh_xent(e, gh_linear(e, d->z, d->w, NULL), d->labels, 0.0f, NULL);
    return l ? gh_backward(e, l) : gh_engine_status(e);
}

// Elements of the step's masks that differ from the host's: dropout's y and dx (op 0, per
// element), drop-path's z (op 1, per sample).
static int drop_wrong(const drop_rig *d, uint64_t step_seed) {
    uint64_t m0 = gh_hash64(step_seed, 0), m1 = gh_hash64(step_seed, 1);
    float s0 = 1.0f / (1.0f - 0.3f), s1 = 1.0f / (1.0f - 0.5f);
    int wrong = 0;
    for (int i = 0; i < DROP_N * DROP_PER; i++) {
        int k0 = gh_uniform(m0, (uint64_t)i) >= 0.3f;
        int k1 = gh_uniform(m1, (uint64_t)(i / DROP_PER)) >= 0.5f;
        float y = k0 ? d->xh[i] * s0 : 0.0f;
        wrong += d->y->data[i] != y;
        wrong += d->z->data[i] != (k1 ? y * s1 : 0.0f);
        wrong += d->x->grad[i] != (k0 ? d->y->grad[i] * s0 : 0.0f);
    }
    return wrong;
}

static void test_drop_masks(gh_backend backend) {
    gh_engine *e = engine_on(backend);
    drop_rig d = {0};
    d.w = gh_param(e, GH_GROUP_WEIGHTS, "fc", 2, (int[]){CLASSES, DROP_PER},
                   GH_INIT_KAIMING_UNIFORM, DROP_PER);
    CHECK_OK(gh_params_alloc(e));
    CHECK(gh_set_graphs(e, 1) == 0);
    static float xh[DROP_N * DROP_PER];
    for (int i = 0; i < DROP_N * DROP_PER; i++) xh[i] = 1.0f + (float)(i % 17) / 16.0f;
    d.xh = xh;
    const int labels[DROP_N] = {0, 1, 2, 1};
    float first[DROP_N * DROP_PER];
    for (int k = 0; k < STEPS; k++) {
        gh_step_begin(e);
        d.labels = gh_labels(e, DROP_N, labels);
        CHECK_OK(gh_region_run(e, "drop", 0, drop_region, &d));
        uint64_t seed = gh_engine_dropout_seed(e);
        int wrong = drop_wrong(&d, seed);
        CHECK_MSG(wrong == 0, "%s step %d: %d values differ from the masks of gh_hash64(seed, "
                  "op)", gh_backend_name(backend), k + 1, wrong);
        // a kernel that read another op index or the previous step's seed would not match
        CHECK(drop_wrong(&d, seed + 1) > 0);
        if (k == 0) memcpy(first, d.y->data, sizeof first);
        else CHECK_MSG(memcmp(first, d.y->data, sizeof first), "%s step %d: step 1's mask",
                       gh_backend_name(backend), k + 1);
        if (k > 0) CHECK(info(e, "drop", 0).stable);
    }
    gh_graph_stats s;
    gh_graph_stats_get(e, &s);
    CHECK_MSG(s.captures == 1 && s.replays == STEPS - 3 && s.misses == 0,
              "%s: captures %lld replays %lld misses %lld (%s)", gh_backend_name(backend),
              (long long)s.captures, (long long)s.replays, (long long)s.misses, s.note);
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
    // drop-path's launches are in the signature: it differs from drop-path 0's
    CHECK(test_final_training(0.0) != test_final_training(0.2));
    test_final_emulated();
    test_drop_masks(GH_BACKEND_REF);
    test_drop_masks(GH_BACKEND_CPU);
    test_varying();
    test_forbidden();
    test_toy_emulated();
    test_darts_emulated();
    return check_done("test_graph_sig");
}
