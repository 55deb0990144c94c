// test_nas_steady: issue 8's device-resident step, at the level of the NAS code: after a few
// warm-up steps, DARTS search steps (first and second order: the unrolled step, the finite-
// difference HVP, Adam on alpha, the clipped SGD weight step) and final-training steps (the
// evaluation network with drop-path and the auxiliary head) make zero host synchronisations and
// zero backend allocations, counted by the engine on the CPU backend at the same points the
// CUDA backend would wait or allocate; the report's read gives finite sums.
#include "check.h"
#include "quadrants.h"

enum { B = 16, WARM = 3, STEPS = 5 };

// test_nas_steady_cuda: the same on cuda:0 (SKIPPED, exit 77, without a GPU)
#ifdef GH_STEADY_CUDA
#define BACKEND GH_BACKEND_CUDA
#else
#define BACKEND GH_BACKEND_CPU
#endif

static gh_engine *engine(void) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = BACKEND, .arena_bytes = (size_t)256 << 20,
                           .seed = 3, .deterministic = 1};
    CHECK_OK(gh_engine_create(&e, &ec));
    return e;
}

static darts_net_config net_config(void) {
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = 1;
    nc.in_h = nc.in_w = 8;
    nc.classes = 4;
    nc.layers = 3;
    nc.c = 4;
    return nc;
}

static gh_batch batch_at(const gh_images *im, int k) {
    size_t per = (size_t)im->c * im->h * im->w;
    int at = k * B % (im->n - B);
    return (gh_batch){.x = im->x + (size_t)at * per, .y = im->y + at, .ndim = 4,
                      .shape = {B, im->c, im->h, im->w}};
}

// 32x32 noise images (the auxiliary head needs 5x5 maps after two reductions)
static void noise_images(gh_images *im, int n) {
    gh_rng r;
    gh_rng_seed(&r, 4, 9);
    *im = (gh_images){.n = n, .c = 1, .h = 32, .w = 32, .classes = 4};
    im->x = malloc(sizeof(float) * 1024 * (size_t)n);
    im->y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        im->y[i] = (int)gh_rng_below(&r, 4);
        for (int k = 0; k < 1024; k++) im->x[i * 1024 + k] = (float)gh_rng_normal(&r);
    }
}

// syncs and allocations of `steps` calls of step(k) after WARM of them
typedef int (*step_fn)(void *ctx, int k);
static void steady(const char *what, gh_engine *e, step_fn step, void *ctx) {
    for (int k = 0; k < WARM; k++) CHECK_OK(step(ctx, k));
    gh_counters a, b;
    gh_engine_counters(e, &a);
    for (int k = WARM; k < WARM + STEPS; k++) CHECK_OK(step(ctx, k));
    gh_engine_counters(e, &b);
    printf("%s: %d steps after warm-up: %lld host syncs, %lld allocations\n", what, STEPS,
           (long long)(b.host_syncs - a.host_syncs), (long long)(b.allocs - a.allocs));
    CHECK_MSG(b.host_syncs == a.host_syncs, "%s: %lld host syncs in %d steps", what,
              (long long)(b.host_syncs - a.host_syncs), STEPS);
    CHECK_MSG(b.allocs == a.allocs, "%s: %lld allocations in %d steps", what,
              (long long)(b.allocs - a.allocs), STEPS);
    double sums[2];
    CHECK_OK(gh_acc_read(e, 2, sums));   // the report: one read, and the loss is finite
    CHECK(isfinite(sums[GH_ACC_TRAIN_LOSS]) && sums[GH_ACC_TRAIN_LOSS] > 0);
    CHECK(sums[GH_ACC_TRAIN_HITS] >= 0 && sums[GH_ACC_TRAIN_HITS] <= (WARM + STEPS) * B);
}

typedef struct {
    darts_search *s;
    const gh_images *im;
} search_ctx;

static int search_step(void *ctx, int k) {
    search_ctx *c = ctx;
    gh_batch t = batch_at(c->im, k), v = batch_at(c->im, k + 3);
    return darts_search_step(c->s, &t, &v, 0.025);
}

typedef struct {
    gh_step_def sd;
    const gh_images *im;
    gh_engine *e;
} final_ctx;

static int final_step(void *ctx, int k) {
    final_ctx *c = ctx;
    gh_batch t = batch_at(c->im, k);
    return gh_train_step(c->e, &c->sd, &t, 0.025);
}

int main(void) {
    if (BACKEND == GH_BACKEND_CUDA && gh_cuda_device_count() < 1) {
        printf("test_nas_steady_cuda: no GPU: SKIPPED\n");
        return 77;
    }
    nas_data d;
    CHECK_OK(quadrant_data(&d));
    darts_net_config nc = net_config();
    for (int order = 1; order <= 2; order++) {
        gh_engine *e = engine();
        darts_supernet *net = NULL;
        CHECK_OK(darts_supernet_build(&net, e, &nc));
        CHECK_OK(gh_params_alloc(e));
        darts_step_opts o = {.order = order, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                             .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999,
                             .arch_wd = 1e-3};
        darts_search *s = NULL;
        CHECK_OK(darts_search_create(&s, e, net, &o));
        search_ctx c = {s, &d.train};
        steady(order == 1 ? "DARTS search step, first order" : "DARTS search step, second order",
               e, search_step, &c);
        darts_search_free(s);
        darts_supernet_free(net);
        gh_engine_destroy(e);
    }
    // final training: DARTS_V2's evaluation network, auxiliary head and drop-path on
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    (void)quadrant_config;
    gh_images big;
    noise_images(&big, 64);
    darts_net_config ec = darts_eval_net_defaults();
    ec.in_c = 1;
    ec.in_h = ec.in_w = 32;
    ec.classes = 4;
    ec.layers = 3;
    ec.c = 4;
    ec.auxiliary = 1;
    gh_engine *e = engine();
    nas_net net = {0};
    CHECK_OK(nas_net_build(&net, e, &ec, &g));
    net.drop_path = 0.2;
    net.aux_weight = 0.4;
    final_ctx f = {.sd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5},
                   .im = &big, .e = e};
    steady("final-training step (auxiliary head, drop-path)", e, final_step, &f);
    nas_net_free(&net);
    gh_engine_destroy(e);
    images_free(&big);
    nas_data_free(&d);
    return check_done("test_nas_steady");
}
