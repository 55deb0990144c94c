// test_dp: data-parallel training (dist/dp.c, the trainer's reduce hook, DARTS's reductions,
// nas_feed's shards).
// One process (ctest's test_dp): the bucket plan covers every gradient exactly once per step in
// any bucket size, the reducer of a group of one leaves gradients untouched, a batch's parts
// and a feed's shards tile the global batch.
// `mpi` under `mpirun -np 2` (test_dp_mpi): the host all-reduce is exact on integers; k steps
// of the DARTS search (first and second order) and of final training on 2 ranks at batch b
// equal 1 process at batch 2b in two micro-batches of b (gh_step_def.micro: batch norm
// statistics per half, which is what each rank computes; DDP's semantics, so a plain batch of
// 2b, whose batch norm sees 2b images, is not the reference), weights and alphas to the
// tolerance below, the genotypes identical, and both ranks' weights bit-identical.
// Synchronized batch norm (gh_set_bn_sync with dp_bn_sync): the same 2 ranks at batch b then
// equal 1 process at batch 2b in ONE batch (batch norm over all 2b images), and differ from the
// per-rank reference (two micro-batches) by far more than the tolerance, as the unsynchronized
// ranks differ from the one-batch run: the option changes what is computed, and computes that.
// Its all-reduces are communication: with the reducer as the hook's context their wall time is
// in comm_s (dp_bn_seconds its part); a rank that starts late shows as rank 0's wait there.
// Per-rank batch norm in final training (nas_train_genotype, test_final_buffers): after an
// epoch both ranks hold the same running statistics, the mean of the two shards' own, and
// evaluate with them. The DARTS search's checkpoint after an epoch holds that mean
// (test_search_buffers).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "../darts/quadrants.h"
#include "dist/dist.h"
#include "search/nas/nas_internal.h"

// B: the per-rank batch (the global one is 2B); FH: final training's image side; K: steps
enum { B = 4, CLASSES = 3, HW = 8, FH = 20, K = 3 };

// ---- one process ---------------------------------------------------------------------------------
typedef struct {
    int *count;
    size_t n;
    int buckets, during_backward, in_reduce;
} seen;

static void observe(void *ctx, const float *grad, size_t off, size_t len) {
    (void)grad;
    seen *s = ctx;
    s->buckets++;
    s->during_backward += !s->in_reduce;
    for (size_t i = off; i < off + len && i < s->n; i++) s->count[i]++;
}

// dp_reduce, noting that backward is over (the buckets observed before were started by it)
static seen *current;
static int reduce_after(void *ctx, gh_engine *e, int group) {
    current->in_reduce = 1;
    int st = dp_reduce(ctx, e, group);
    current->in_reduce = 0;
    return st;
}

static void test_local(void) {
    // the plan alone: every element in exactly one bucket, last bucket first
    const size_t ns[] = {1, 7, 1000, 4099};
    const size_t bs[] = {1, 3, 64, 1000, 4099, 100000};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof bs / sizeof bs[0]; b++) {
            size_t n = ns[a], k = dp_bucket_count(n, bs[b]), prev_off = n;
            int *cnt = calloc(n, sizeof *cnt);
            for (size_t i = 0; i < k; i++) {
                size_t off, len;
                dp_bucket_at(n, bs[b], i, &off, &len);
                CHECK(len >= 1 && len <= bs[b] && off + len <= n && off < prev_off);
                prev_off = off;
                for (size_t j = off; j < off + len; j++) cnt[j]++;
            }
            for (size_t j = 0; j < n; j++) CHECK(cnt[j] == 1);
            free(cnt);
        }

    // the reducer in a training step: a supernet's weights, several bucket sizes, three steps
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)64 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 2;
    nc.c = 4;
    nc.steps = 2;
    nc.multiplier = 2;
    nas_net net = {0};
    CHECK_OK(nas_net_build(&net, e, &nc, NULL));
    size_t nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    static float x[2 * B * HW * HW];
    static int y[2 * B];
    for (int i = 0; i < 2 * B * HW * HW; i++) x[i] = (float)sin(0.37 * i);
    for (int i = 0; i < 2 * B; i++) y[i] = i % CLASSES;
    gh_batch bt = {.x = x, .y = y, .ndim = 4, .shape = {2 * B, 1, HW, HW}};
    const size_t bucket_bytes[] = {4, 4 * 7, 4 * 1000, 4 * nw, 0};
    for (int overlap = 0; overlap < 2; overlap++)
        for (size_t b = 0; b < sizeof bucket_bytes / sizeof bucket_bytes[0]; b++) {
            dp_reducer *dp;
            CHECK_OK(dp_reducer_create(&dp, bucket_bytes[b]));
            seen s = {calloc(nw, sizeof(int)), nw, 0, 0, 0};
            current = &s;
            dp_reducer_observe(dp, observe, &s);
            // overlap: backward reports final gradients (dp_grad_ready) and starts buckets
            gh_step_def sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                              .opt = GH_OPT_SGD, .momentum = 0.9, .reduce = reduce_after,
                              .reduce_ctx = dp, .ready = overlap ? dp_grad_ready : NULL};
            for (int k = 0; k < 3; k++) CHECK_OK(gh_train_step(e, &sd, &bt, 0.01));
            size_t per = bucket_bytes[b] ? bucket_bytes[b] / 4 : DP_BUCKET_BYTES_DEFAULT / 4;
            CHECK(s.buckets == 3 * (int)dp_bucket_count(nw, per));
            int bad = 0;
            for (size_t i = 0; i < nw; i++) bad += s.count[i] != 3;
            CHECK(bad == 0);
            // every bucket becomes final within backward (all parameters are reported)
            CHECK(s.during_backward == (overlap ? s.buckets : 0));
            printf("bucket %zu bytes%s: %d buckets per step over %zu weights, each reduced "
                   "once, %d per step started during backward\n", bucket_bytes[b],
                   overlap ? ", overlapped" : "", s.buckets / 3, nw, s.during_backward / 3);
            free(s.count);
            dp_reducer_free(dp);
        }
    // a group of one: the reducer leaves the gradient as backward left it
    dp_reducer *dp;
    CHECK_OK(dp_reducer_create(&dp, 0));
    float *GW = gh_group_grad(e, GH_GROUP_WEIGHTS), *g0 = malloc(nw * 4);
    memcpy(g0, GW, nw * 4);
    CHECK_OK(dp_reduce(dp, e, GH_GROUP_WEIGHTS));
    CHECK(!memcmp(g0, GW, nw * 4));
    free(g0);
    dp_reducer_free(dp);
    nas_net_free(&net);
    gh_engine_destroy(e);

    // parts of a batch tile it; a feed's shards are the parts of its global batch
    for (int m = 1; m <= 3; m++) {
        int rows = 0;
        for (int i = 0; i < m; i++) {
            gh_batch p = gh_batch_part(&bt, i, m);
            CHECK(p.y == y + rows && p.x == x + (size_t)rows * HW * HW);
            rows += p.shape[0];
        }
        CHECK(rows == 2 * B);
    }
    gh_images im = {.n = 10, .c = 1, .h = HW, .w = HW, .classes = CLASSES,
                    .x = malloc(sizeof(float) * 10 * HW * HW), .y = malloc(sizeof(int) * 10)};
    for (int i = 0; i < 10 * HW * HW; i++) im.x[i] = (float)cos(0.11 * i);
    for (int i = 0; i < 10; i++) im.y[i] = i % CLASSES;
    images_aug aug = {.crop_pad = 2, .flip = 1, .mean = {0.1f}, .std = {0.9f}};
    nas_feed whole, part[2];
    CHECK_OK(nas_feed_init(&whole, &im, &aug, 6, 11));
    for (int r = 0; r < 2; r++) {
        CHECK_OK(nas_feed_init(&part[r], &im, &aug, 6, 11));
        part[r].shard = r;
        part[r].shards = 2;
    }
    for (int step = 0; step < 2; step++) {   // a full batch of 6 and the last one of 4
        gh_batch g, p0, p1;
        CHECK_OK(nas_feed_train(&whole, 1, step, &g));
        CHECK_OK(nas_feed_train(&part[0], 1, step, &p0));
        CHECK_OK(nas_feed_train(&part[1], 1, step, &p1));
        size_t per = HW * HW;
        CHECK(p0.shape[0] + p1.shape[0] == g.shape[0]);
        CHECK(!memcmp(p0.x, g.x, per * p0.shape[0] * 4));
        CHECK(!memcmp(p1.x, g.x + per * p0.shape[0], per * p1.shape[0] * 4));
        CHECK(!memcmp(p1.y, g.y + p0.shape[0], sizeof(int) * p1.shape[0]));
    }
    nas_feed_free(&whole);
    nas_feed_free(&part[0]);
    nas_feed_free(&part[1]);
    free(im.x);
    free(im.y);
}

// ---- two ranks -------------------------------------------------------------------------------------
static float xt[K][2 * B * HW * HW], xv[K][2 * B * HW * HW], xf[K][2 * B * FH * FH];
static int yt[K][2 * B], yv[K][2 * B];

static darts_net_config tiny_net(void) {
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = 3;
    nc.c = 4;
    nc.steps = 2;
    nc.multiplier = 2;
    return nc;
}

static gh_batch global_batch(float *x, int *y) {
    return (gh_batch){.x = x, .y = y, .ndim = 4, .shape = {2 * B, 1, HW, HW}};
}

// The weights and alphas after K search steps: data parallel (this rank's part of every global
// batch, gradients all-reduced) or, dp NULL, one process on the global batch in 2 micro-batches.
static void search_k(int order, dp_reducer *dp, int sync, float **w, float **a, size_t *nw,
                     size_t *na, genotype *g) {
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)256 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    darts_net_config nc = tiny_net();
    darts_supernet *net;
    if (sync && dp) gh_set_bn_sync(e, dp_bn_sync, NULL);
    CHECK_OK(darts_supernet_build(&net, e, &nc));
    CHECK_OK(gh_params_alloc(e));
    darts_step_opts o = {.order = order, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                         .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999,
                         .arch_wd = 1e-3, .reduce = dp ? dp_reduce : NULL, .reduce_ctx = dp,
                         .ready = dp ? dp_grad_ready : NULL, .micro = dp || sync ? 1 : 2};
    darts_search *s;
    CHECK_OK(darts_search_create(&s, e, net, &o));
    int rank = pg_world()->rank;
    for (int k = 0; k < K; k++) {
        gh_batch bt = global_batch(xt[k], yt[k]), bv = global_batch(xv[k], yv[k]);
        if (dp) {
            bt = gh_batch_part(&bt, rank, 2);
            bv = gh_batch_part(&bv, rank, 2);
        }
        CHECK_OK(darts_search_step(s, &bt, &bv, 0.025));
    }
    *nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    *na = gh_group_numel(e, GH_GROUP_ARCH);
    *w = malloc(*nw * 4);
    *a = malloc(*na * 4);
    memcpy(*w, gh_group_data(e, GH_GROUP_WEIGHTS), *nw * 4);
    memcpy(*a, gh_group_data(e, GH_GROUP_ARCH), *na * 4);
    CHECK_OK(darts_supernet_genotype(net, g));
    darts_search_free(s);
    gh_engine_destroy(e);
}

// K steps of final training of DARTS_V2's evaluation network (no drop-path: its masks are
// drawn per step, and a micro-batch is a step of the engine's dropout stream).
static void final_k(dp_reducer *dp, int sync, float **w, size_t *nw) {
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)256 << 20, .seed = 5};
    CHECK_OK(gh_engine_create(&e, &ec));
    if (sync && dp) gh_set_bn_sync(e, dp_bn_sync, dp);   // timed into dp's comm_s
    darts_net_config nc = tiny_net();
    nc.in_h = nc.in_w = FH;   // the auxiliary head needs 5x5 at two thirds of the cells
    nc.auxiliary = 1;
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    nas_net net = {0};
    CHECK_OK(nas_net_build(&net, e, &nc, &g));
    net.aux_weight = 0.4;
    gh_step_def sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                      .reduce = dp ? dp_reduce : NULL, .reduce_ctx = dp,
                      .ready = dp ? dp_grad_ready : NULL, .micro = dp || sync ? 1 : 2};
    for (int k = 0; k < K; k++) {
        gh_batch bt = {.x = xf[k], .y = yt[k], .ndim = 4, .shape = {2 * B, 1, FH, FH}};
        if (dp) bt = gh_batch_part(&bt, pg_world()->rank, 2);
        CHECK_OK(gh_train_step(e, &sd, &bt, 0.025));
    }
    *nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    *w = malloc(*nw * 4);
    memcpy(*w, gh_group_data(e, GH_GROUP_WEIGHTS), *nw * 4);
    nas_net_free(&net);
    gh_engine_destroy(e);
}

// The tolerance: |got - want| <= atol + rtol |want|. Two ranks sum each gradient as
// (a0 + b0) + (a1 + b1) (each rank's backward, then the all-reduce), one process as
// ((a0 + b0) + a1) + b1 (backward adds the second micro-batch into the first's gradient): the
// same numbers added in another order, a few fp32 ulps (~1e-7 relative) per gradient, carried
// through K steps of SGD with momentum and Adam. rtol 1e-5 is ~100 ulps; atol 1e-7 covers
// values that cross zero. The worst ratio to the threshold is printed.
static double worst(const char *what, const float *got, const float *want, size_t n) {
    const double rtol = 1e-5, atol = 1e-7;
    double w = 0, maxrel = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        w = fmax(w, d / (atol + rtol * fabs(want[i])));
        if (want[i] != 0) maxrel = fmax(maxrel, d / fabs(want[i]));
    }
    printf("%s: %zu values, worst |diff|/threshold %.3g, max relative diff %.3g\n", what, n, w,
           maxrel);
    return w;
}

// Rank 1's n floats to rank 0 (tag): rank 0 gets them in *out (malloc'd) and checks that both
// ranks hold the same values bit for bit (they apply the same averaged gradient).
static void same_on_ranks(int tag, const float *v, size_t n) {
    if (pg_world()->rank == 1) {
        CHECK_OK(pg_send(0, tag, v, n * 4));
        return;
    }
    float *r = malloc(n * 4);
    int src;
    size_t got;
    CHECK_OK(pg_recv(tag, r, n * 4, &src, &got, -1));
    CHECK(got == n * 4 && !memcmp(r, v, n * 4));
    free(r);
}

// Synchronized batch norm. The tolerance: the global statistics are sums over the ranks in
// double of per-rank sums rounded to fp32 (a few ulps, ~1e-7 relative, on the mean, the
// variance and the backward's two sums), where one process sums in double throughout; dx is
// a dy + [b (x - G) + k] instead of one fused expression (one more fp32 rounding). Carried
// through K steps as the gradients' summation order is, the same rtol 1e-5 (~100 ulps) holds.
// The per-rank reference (micro 2) must be outside it: worst ratio > 10, which is what the
// unsynchronized 2 ranks show against the one-batch run.
static void test_sync_bn(dp_reducer *dp) {
    int rank = pg_world()->rank;
    double bn_before = dp_bn_seconds(dp);
    for (int order = 1; order <= 2; order++) {
        float *w, *a;
        size_t nw, na;
        genotype g;
        search_k(order, dp, 1, &w, &a, &nw, &na, &g);
        same_on_ranks(910, w, nw);
        same_on_ranks(911, a, na);
        if (rank == 0) {
            float *w1, *a1, *w2, *a2;
            size_t nw1, na1;
            genotype g1, g2;
            search_k(order, NULL, 1, &w1, &a1, &nw1, &na1, &g1);   // one batch of 2B
            search_k(order, NULL, 0, &w2, &a2, &nw1, &na1, &g2);   // per-rank statistics
            CHECK(nw == nw1 && na == na1);
            char what[96];
            snprintf(what, sizeof what, "sync_bn search order %d, %d steps: weights", order, K);
            CHECK(worst(what, w, w1, nw) <= 1);
            snprintf(what, sizeof what, "sync_bn search order %d, %d steps: alphas", order, K);
            CHECK(worst(what, a, a1, na) <= 1);
            CHECK(genotype_equal(&g, &g1));
            snprintf(what, sizeof what, "sync_bn against per-rank statistics, order %d: weights",
                     order);
            CHECK(worst(what, w, w2, nw) > 10);
            free(w1);
            free(a1);
            free(w2);
            free(a2);
        }
        free(w);
        free(a);
    }
    // the search's hook had no reducer (ctx NULL): nothing timed
    CHECK(dp_bn_seconds(dp) == bn_before);
    // final training: affine batch norm and running statistics (the forward's update). Its hook
    // times into dp: rank 1 starts 0.3 s after a barrier, so rank 0 waits in the first batch
    // norm's all-reduce, before any gradient is reduced; that wait is sync BN's communication
    // (>= 0.15 s: half the delay, whatever the shared cores take from either rank before it)
    float *w;
    size_t nw;
    CHECK_OK(pg_barrier());
    double bn0 = dp_bn_seconds(dp), comm0 = dp_comm_seconds(dp);
    if (rank == 1) nanosleep(&(struct timespec){.tv_nsec = 300000000L}, NULL);
    final_k(dp, 1, &w, &nw);
    double bn = dp_bn_seconds(dp) - bn0, comm = dp_comm_seconds(dp) - comm0;
    printf("rank %d: sync_bn final training, %d steps: %.4f s in batch norm's all-reduces, %.4f s "
           "in comm_s\n", rank, K, bn, comm);
    CHECK(bn > 0 && comm >= bn);
    if (rank == 0) CHECK(bn >= 0.15);
    same_on_ranks(912, w, nw);
    if (rank == 0) {
        float *w1, *w2;
        size_t nw1;
        final_k(NULL, 1, &w1, &nw1);
        CHECK(nw == nw1);
        CHECK(worst("sync_bn final training, 3 steps: weights", w, w1, nw) <= 1);
        final_k(NULL, 0, &w2, &nw1);
        CHECK(worst("sync_bn final training against per-rank statistics", w, w2, nw) > 10);
        free(w1);
        free(w2);
    }
    free(w);
}

// dp_average_buffers (ENAS with per-rank batch norm, after every step): the running statistics
// (GH_GROUP_BUFFERS) averaged over the ranks in place, the same on both, the weights untouched,
// its time in comm_s. The values differ by rank (i (r + 1) + r / 2: halves of small integers),
// so the mean 1.5 i + 0.25 is exact in fp32 and the check is equality.
static void test_average_buffers(dp_reducer *dp) {
    int rank = pg_world()->rank;
    gh_engine *e;
    gh_engine_config ec = {.backend = GH_BACKEND_CPU, .arena_bytes = (size_t)1 << 20, .seed = 3};
    CHECK_OK(gh_engine_create(&e, &ec));
    const int shape[1] = {100};
    gh_param(e, GH_GROUP_WEIGHTS, "w", 1, shape, GH_INIT_ONE, 0);
    gh_param(e, GH_GROUP_BUFFERS, "running_mean", 1, shape, GH_INIT_ZERO, 0);
    gh_param(e, GH_GROUP_BUFFERS, "running_var", 1, shape, GH_INIT_ONE, 0);
    CHECK_OK(gh_params_alloc(e));
    size_t n = gh_group_numel(e, GH_GROUP_BUFFERS);
    float *buf = gh_group_data(e, GH_GROUP_BUFFERS), *w = gh_group_data(e, GH_GROUP_WEIGHTS);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i * (rank + 1)) + 0.5f * (float)rank;
    double comm0 = dp_comm_seconds(dp);
    CHECK_OK(dp_average_buffers(dp, e));
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += buf[i] != (float)(1.5 * (double)i + 0.25);
    for (int i = 0; i < shape[0]; i++) bad += w[i] != 1.0f;
    printf("rank %d: dp_average_buffers: %zu running statistics, %d not the ranks' mean or "
           "weights touched\n", rank, n, bad);
    CHECK(n >= 200 && bad == 0);   // (each parameter padded to an alignment)
    CHECK(dp_comm_seconds(dp) > comm0);
    gh_engine_destroy(e);
}

// ---- final training's running statistics with per-rank batch norm ----------------------------
// nas_train_genotype data parallel, one epoch of one step (global batch 2B), per-rank batch
// norm: the checkpoint hook after the epoch (it follows the evaluation) captures the weights and
// the running statistics. They must be the same on both ranks, bit for bit, and the statistics
// the mean of the two shards' own: rank 0 recomputes those in one process (the same engine and
// network from the same seed, one training step on each shard of the same feed: the forward
// before the update sees the initial weights, as each rank's did), averages them as the
// all-reduce does ((a + b) * 0.5f: exact for two ranks) and evaluates the run's weights with
// them: the run's evaluation (eval_loss, eval_acc, both ranks') must equal that one exactly.
// Before nas_train.c averaged them each rank kept its own shard's and evaluated with them.
typedef struct {
    float *w, *b;
    size_t nw, nb;
    int saves;
} final_capture;

static int capture_save(void *ctx, gh_engine *e, const gh_train_pos *pos, int64_t step,
                        const nas_train_result *sofar) {
    (void)pos, (void)step, (void)sofar;
    final_capture *k = ctx;
    free(k->w);
    free(k->b);
    k->nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    k->nb = gh_group_numel(e, GH_GROUP_BUFFERS);
    k->w = malloc(k->nw * 4);
    k->b = malloc((k->nb ? k->nb : 1) * 4);
    if (!k->w || !k->b) return gh_fail(GH_ENOMEM, "capture: no memory");
    memcpy(k->w, gh_group_data(e, GH_GROUP_WEIGHTS), k->nw * 4);
    if (k->nb) memcpy(k->b, gh_group_data(e, GH_GROUP_BUFFERS), k->nb * 4);
    k->saves++;
    return GH_OK;
}

// One process: the engine and network nas_train_genotype builds, after one training step on
// shard `shard` of 2 of the first global batch; its running statistics into stats.
static void shard_step(const nas_config *c, const nas_train_opts *o, const genotype *g,
                       const gh_images *train, int shard, gh_engine **e, nas_net *net,
                       float *stats, size_t nb) {
    size_t arena = 0;
    CHECK_OK(nas_arena_bytes(c, &o->nc, g, o->batch, &arena));
    CHECK_OK(nas_engine_open(e, c, arena, o->seed));
    CHECK_OK(nas_net_build(net, *e, &o->nc, g));
    nas_feed f;
    CHECK_OK(nas_feed_init(&f, train, &o->aug, o->batch, o->seed));
    f.shard = shard;
    f.shards = 2;
    gh_batch b;
    CHECK_OK(nas_feed_train(&f, 0, 0, &b));
    gh_step_def sd = {.loss = nas_net_loss, .model = net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = o->momentum, .wd = o->wd,
                      .grad_clip = o->grad_clip, .fixed_graph = 1};
    CHECK_OK(gh_train_step(*e, &sd, &b, o->lr));
    CHECK(gh_group_numel(*e, GH_GROUP_BUFFERS) == nb);
    if (gh_group_numel(*e, GH_GROUP_BUFFERS) == nb)
        memcpy(stats, gh_group_data(*e, GH_GROUP_BUFFERS), nb * 4);
    nas_feed_free(&f);
}

static void test_final_buffers(void) {
    const int n = 2 * B, rank = pg_world()->rank;
    static float xtr[2 * B * FH * FH], xev[2 * B * FH * FH];
    static int ytr[2 * B], yev[2 * B];
    gh_rng r;
    gh_rng_seed(&r, 11, 1);   // the same images on every rank
    for (int i = 0; i < n * FH * FH; i++) {
        xtr[i] = (float)gh_rng_uniform(&r);
        xev[i] = (float)gh_rng_uniform(&r);
    }
    for (int i = 0; i < n; i++) {
        ytr[i] = (int)gh_rng_below(&r, CLASSES);
        yev[i] = (int)gh_rng_below(&r, CLASSES);
    }
    gh_images train = {.n = n, .c = 1, .h = FH, .w = FH, .classes = CLASSES, .x = xtr, .y = ytr};
    gh_images eval = train;
    eval.x = xev;
    eval.y = yev;
    nas_config c;
    nas_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "cpu");
    c.arena_mb = 64;
    c.bucket_mb = 1;
    c.data_parallel = 1;   // per-rank batch norm: sync_bn 0
    c.sync_bn = 0;
    c.micro = 0;
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    final_capture cap = {0};
    nas_train_ckpt hooks = {.save = capture_save, .ctx = &cap};
    nas_train_opts o = {.nc = tiny_net(), .epochs = 1, .batch = n, .lr = 0.025, .momentum = 0.9,
                        .wd = 3e-4, .grad_clip = 5, .seed = 5, .phase = "final", .ckpt = &hooks};
    o.nc.in_h = o.nc.in_w = FH;
    o.nc.auxiliary = 0;
    o.nc.dropout = 0;
    o.aug.mean[0] = 0.5f;
    o.aug.std[0] = 0.25f;
    nas_train_result res;
    CHECK_OK(nas_train_genotype(&c, &g, &train, &eval, &o, NULL, &res));
    CHECK(cap.saves == 1 && cap.nb > 0);
    if (cap.saves != 1 || !cap.nb) return;
    // both ranks: the same weights and statistics, the same evaluation
    same_on_ranks(910, cap.w, cap.nw);
    same_on_ranks(911, cap.b, cap.nb);
    double ev[2] = {res.eval_loss, res.eval_acc}, ev1[2];
    if (rank == 1) {
        CHECK_OK(pg_send(0, 912, ev, sizeof ev));
    } else {
        int src;
        size_t got;
        CHECK_OK(pg_recv(912, ev1, sizeof ev1, &src, &got, -1));
        printf("final training, per-rank batch norm: eval_loss %.9g (rank 1: %.9g), eval_acc "
               "%.4f (rank 1: %.4f)\n", ev[0], ev1[0], ev[1], ev1[1]);
        CHECK(got == sizeof ev1 && ev1[0] == ev[0] && ev1[1] == ev[1]);
    }
    if (rank == 0) {
        c.data_parallel = 0;   // one process
        float *s0 = malloc(cap.nb * 4), *s1 = malloc(cap.nb * 4);
        gh_engine *e0, *e1;
        nas_net n0 = {0}, n1 = {0};
        shard_step(&c, &o, &g, &train, 0, &e0, &n0, s0, cap.nb);
        shard_step(&c, &o, &g, &train, 1, &e1, &n1, s1, cap.nb);
        int differ = 0, bad = 0;
        for (size_t i = 0; i < cap.nb; i++) {
            differ += s0[i] != s1[i];
            bad += cap.b[i] != (s0[i] + s1[i]) * 0.5f;
            s0[i] = (s0[i] + s1[i]) * 0.5f;
        }
        // the run's weights with the mean statistics: the evaluation the run must have made
        memcpy(gh_group_data(e1, GH_GROUP_WEIGHTS), cap.w, cap.nw * 4);
        memcpy(gh_group_data(e1, GH_GROUP_BUFFERS), s0, cap.nb * 4);
        images_aug norm = o.aug;
        double vl = NAN, va = NAN;
        CHECK_OK(nas_eval_images(e1, nas_net_eval_loss, &n1, &eval, &norm, 0, o.batch, &vl, &va));
        printf("final training, per-rank batch norm: %zu running statistics, %d differ between "
               "the shards, %d not their mean after the epoch; evaluation with the mean: "
               "eval_loss %.9g, eval_acc %.4f (the run's %.9g, %.4f)\n", cap.nb, differ, bad,
               vl, va, res.eval_loss, res.eval_acc);
        CHECK(differ > 0);   // otherwise the test would show nothing
        CHECK(bad == 0);
        CHECK(vl == res.eval_loss && va == res.eval_acc);
        nas_net_free(&n0);
        nas_net_free(&n1);
        gh_engine_destroy(e0);
        gh_engine_destroy(e1);
        free(s0);
        free(s1);
    }
    free(cap.w);
    free(cap.b);
}

// The DARTS search with per-rank batch norm (nas_search_run, 2 ranks, one epoch of one step on
// generated images): the supernet's running statistics rank 0 checkpoints after the epoch (and
// the validation read before it) must be the mean of the two shards' own. Rank 0 recomputes
// those in one process: the supernet from the same seed, the checkpoint's alphas (the weight
// step runs after the architecture step, whose own forward leaves the statistics as they were),
// one weight step on each shard of the same feed; and the run's recorded validation loss must
// be the evaluation with the checkpoint's state. Before darts.c averaged them the checkpoint
// held rank 0's shard's.
static void test_search_buffers(void) {
    const int rank = pg_world()->rank;
    nas_data d;
    CHECK_OK(quadrant_data(&d));
    const char *path = "test_dp_search_buffers.h5";
    char ckpt[1100];
    CHECK_OK(ledger_ckpt_path(path, ckpt, sizeof ckpt));
    nas_config c = quadrant_config("");
    c.darts.order = 1;
    c.search_epochs = 1;
    c.search_limit = 32;   // 16 train the weights: one step of the global batch 16
    c.search_val_limit = 16;
    c.bucket_mb = 1;
    c.data_parallel = 1;   // per-rank batch norm: sync_bn 0
    c.sync_bn = 0;
    genotype g;
    if (rank == 1) {
        CHECK_OK(nas_search_run(&c, &d, NULL, NULL, &g));
        nas_data_free(&d);
        return;
    }
    unlink(path);
    unlink(ckpt);
    char cfg[16384];
    nas_config_print(&c, cfg, sizeof cfg);
    ledger *l = NULL;
    ledger_run_info info = {.method = nas_method_label(&c), .dataset = d.name, .seed = c.seed,
                            .config_text = cfg};
    CHECK_OK(ledger_create(&l, path, &info));
    if (!l) return;
    nas_ckpt ck = {.method = info.method, .config_text = ledger_attr(l, "config_text"),
                   .what = NAS_DO_SEARCH};
    CHECK_OK(nas_search_run(&c, &d, l, &ck, &g));
    CHECK_OK(ledger_close(l, "finished"));
    ledger_trial t = {0};
    CHECK_OK(ledger_open_read(&l, path));
    if (l) CHECK_OK(ledger_read_trial(l, 0, &t));
    // one process: the checkpoint's state, and a weight step on each shard
    c.data_parallel = 0;
    nas_run r;
    CHECK_OK(nas_run_open(&r, &c, &d, NULL));
    gh_engine *ek, *es[2];
    nas_net nk, ns[2];
    CHECK_OK(nas_run_supernet(&r, &ek, &nk));
    ledger_ckpt_reader *rd = NULL;
    CHECK_OK(ledger_ckpt_open(&rd, ckpt));
    if (rd) CHECK_OK(gh_engine_state_load(ek, ledger_ckpt_get_cb, rd));
    ledger_ckpt_close(rd);
    size_t nb = gh_group_numel(ek, GH_GROUP_BUFFERS), na = gh_group_numel(ek, GH_GROUP_ARCH);
    float *mean = malloc(nb * 4);
    for (int sh = 0; sh < 2; sh++) {
        CHECK_OK(nas_run_supernet(&r, &es[sh], &ns[sh]));
        memcpy(gh_group_data(es[sh], GH_GROUP_ARCH), gh_group_data(ek, GH_GROUP_ARCH), na * 4);
        nas_feed f;
        CHECK_OK(nas_feed_init(&f, &r.wtrain, &r.aug, c.search_batch, c.seed));
        f.shard = sh;
        f.shards = 2;
        gh_batch b;
        CHECK_OK(nas_feed_train(&f, 0, 0, &b));
        gh_step_def sd = {.loss = nas_net_loss, .model = &ns[sh], .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .momentum = c.search_momentum, .wd = c.search_wd,
                          .grad_clip = c.search_grad_clip, .fixed_graph = 1};
        CHECK_OK(gh_train_step(es[sh], &sd, &b, c.search_lr));
        nas_feed_free(&f);
    }
    const float *b0 = gh_group_data(es[0], GH_GROUP_BUFFERS);
    const float *b1 = gh_group_data(es[1], GH_GROUP_BUFFERS);
    const float *bk = gh_group_data(ek, GH_GROUP_BUFFERS);
    int differ = 0, bad = 0;
    for (size_t i = 0; i < nb; i++) {
        differ += b0[i] != b1[i];
        mean[i] = (b0[i] + b1[i]) * 0.5f;
        bad += bk[i] != mean[i];
    }
    double vl = NAN, va = NAN;
    CHECK_OK(nas_eval_images(ek, nas_net_eval_loss, &nk, &r.wval, &d.norm, c.search_val_limit,
                             c.search_batch, &vl, &va));
    printf("search, per-rank batch norm: %zu running statistics, %d differ between the shards, "
           "%d in the checkpoint not their mean; its evaluation: val_loss %.9g, val_acc %.4f "
           "(the run's %.9g, %.4f)\n", nb, differ, bad, vl, va, t.val_loss, t.val_acc);
    CHECK(nb > 0 && differ > 0);   // otherwise the test would show nothing
    CHECK(bad == 0);
    CHECK(vl == t.val_loss && va == t.val_acc);
    for (int sh = 0; sh < 2; sh++) {
        nas_net_free(&ns[sh]);
        gh_engine_destroy(es[sh]);
    }
    nas_net_free(&nk);
    gh_engine_destroy(ek);
    free(mean);
    nas_run_close(&r);
    if (l) ledger_close(l, NULL);
    nas_data_free(&d);
    unlink(path);
    unlink(ckpt);
}

static void test_mpi(void) {
    const pg_info *pg = pg_world();
    CHECK(pg->size == 2);
    if (pg->size != 2) return;
    // the host all-reduce on small integers is exact
    float buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (float)(i * (pg->rank + 1));
    CHECK_OK(pg_allreduce_sum_f32(buf, 1000));
    int bad = 0;
    for (int i = 0; i < 1000; i++) bad += buf[i] != (float)(3 * i);
    CHECK_OK(pg_allreduce_avg_f32(buf, 1000));
    for (int i = 0; i < 1000; i++) bad += buf[i] != (float)(3 * i);
    CHECK(bad == 0);

    gh_rng r;
    gh_rng_seed(&r, 7, 1);   // the same global batches on every rank
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < 2 * B * HW * HW; i++) {
            xt[k][i] = (float)gh_rng_normal(&r);
            xv[k][i] = (float)gh_rng_normal(&r);
        }
        for (int i = 0; i < 2 * B * FH * FH; i++) xf[k][i] = (float)gh_rng_normal(&r);
        for (int i = 0; i < 2 * B; i++) {
            yt[k][i] = (int)gh_rng_below(&r, CLASSES);
            yv[k][i] = (int)gh_rng_below(&r, CLASSES);
        }
    }
    dp_reducer *dp;
    CHECK_OK(dp_reducer_create(&dp, 4096));   // small buckets: several per group
    for (int order = 1; order <= 2; order++) {
        float *w, *a, *w1, *a1;
        size_t nw, na, nw1, na1;
        genotype g, g1;
        search_k(order, dp, 0, &w, &a, &nw, &na, &g);
        if (pg->rank == 1) {
            CHECK_OK(pg_send(0, 900, w, nw * 4));
            CHECK_OK(pg_send(0, 901, a, na * 4));
        } else {
            float *wr = malloc(nw * 4), *ar = malloc(na * 4);
            int src;
            size_t n;
            CHECK_OK(pg_recv(900, wr, nw * 4, &src, &n, -1));
            CHECK_OK(pg_recv(901, ar, na * 4, &src, &n, -1));
            CHECK(!memcmp(wr, w, nw * 4) && !memcmp(ar, a, na * 4));   // ranks agree exactly
            free(wr);
            free(ar);
            search_k(order, NULL, 0, &w1, &a1, &nw1, &na1, &g1);
            CHECK(nw == nw1 && na == na1);
            char what[64];
            snprintf(what, sizeof what, "search order %d, %d steps: weights", order, K);
            CHECK(worst(what, w, w1, nw) <= 1);
            snprintf(what, sizeof what, "search order %d, %d steps: alphas", order, K);
            CHECK(worst(what, a, a1, na) <= 1);
            CHECK(genotype_equal(&g, &g1));
            free(w1);
            free(a1);
        }
        free(w);
        free(a);
    }
    float *w, *w1;
    size_t nw, nw1;
    final_k(dp, 0, &w, &nw);
    if (pg->rank == 0) {
        final_k(NULL, 0, &w1, &nw1);
        CHECK(nw == nw1);
        CHECK(worst("final training, 3 steps: weights", w, w1, nw) <= 1);
        free(w1);
    }
    free(w);
    test_sync_bn(dp);
    test_average_buffers(dp);
    test_final_buffers();
    test_search_buffers();
    printf("rank %d: %.4f s in all-reduces (comm_s)\n", pg->rank, dp_comm_seconds(dp));
    dp_reducer_free(dp);
}

// `ranks FILE N EPOCHS` (test_dp_enas.py, after a data-parallel run of N ranks): FILE holds the
// per-rank cost records of every search epoch (rank_costs_search_epoch_NNN, nas_setup.c), one row
// per rank in rank order, with measured wall and CPU seconds and peak memory on every rank.
static int check_ranks(const char *path, int n, int epochs) {
    ledger *l;
    CHECK_OK(ledger_open_read(&l, path));
    if (!l) return check_done("test_dp ranks");
    const char *cols = NULL;
    CHECK_OK(ledger_get_text(l, "rank_costs_columns", &cols));
    CHECK(cols && !strcmp(cols, NAS_RANK_COST_COLUMNS));
    for (int e = 0; e < epochs; e++) {
        char name[64];
        snprintf(name, sizeof name, "rank_costs_search_epoch_%03d", e);
        int rows = 0, ncol = 0;
        const float *d = NULL;
        CHECK_OK(ledger_get_matrix(l, name, &rows, &ncol, &d));
        CHECK(rows == n && ncol == 6);
        for (int r = 0; d && r < rows && ncol == 6; r++) {
            const float *v = d + 6 * r;
            printf("%s rank %d: wall %.3f s, cpu %.3f s, busy_gpu %g s, energy %g J, peak %.1f "
                   "MiB\n", name, (int)v[0], v[1], v[2], v[3], v[4], v[5] / 1048576.0);
            CHECK(v[0] == r && v[1] > 0 && v[2] > 0 && v[5] > 0);
        }
    }
    ledger_close(l, NULL);
    return check_done("test_dp ranks");
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "ranks")) return check_ranks(argv[2], atoi(argv[3]),
                                                                   atoi(argv[4]));
    if (argc > 1 && !strcmp(argv[1], "mpi")) {
        CHECK_OK(pg_init(&argc, &argv));
        test_mpi();
        int rc = check_done("test_dp mpi");
        if (rc) pg_abort(rc);
        pg_finalize();
        return rc;
    }
    test_local();
    return check_done("test_dp");
}
