// test_graphs_cuda: CUDA graphs of the engine's capturable regions (engine/graph.c) on cuda:0.
// DARTS second-order search steps and final-training steps (the evaluation network, drop-path
// 0) with graphs on against the same engine setup with graphs off, deterministic kernels: the
// per-step loss sums, weights and alphas must agree bit for bit (a replayed graph runs the same
// kernels on the same buffers), the graphs must actually have been captured and replayed, and
// nothing may have fallen back. Prints the steps' wall time both ways. Skips (exit 77) without
// CUDA in the build or without a GPU.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "search/nas/nas.h"

#define NAME "test_graphs_cuda"
enum { B = 16, CLASSES = 10, HW = 16, STEPS = 8 };

static float xs[STEPS][B * 3 * HW * HW], xv[STEPS][B * 3 * HW * HW];
static int ys[STEPS][B], yv[STEPS][B];

static gh_batch batch(float *x, int *y) {
    return (gh_batch){.x = x, .y = y, .ndim = 4, .shape = {B, 3, HW, HW}};
}

static gh_engine *engine(void) {
    gh_engine *e = NULL;
    gh_engine_config ec = {.backend = GH_BACKEND_CUDA, .arena_bytes = (size_t)1 << 30,
                           .deterministic = 1, .seed = 5};
    CHECK_OK(gh_engine_create(&e, &ec));
    return e;
}

static darts_net_config net_config(int eval) {
    darts_net_config nc = eval ? darts_eval_net_defaults() : darts_search_net_defaults();
    nc.in_c = 3;
    nc.in_h = nc.in_w = HW;
    nc.classes = CLASSES;
    nc.layers = eval ? 6 : 5;
    nc.c = 8;
    if (eval) nc.auxiliary = 0;
    return nc;
}

// Host copies of a group, to compare two engines.
static float *group_host(gh_engine *e, int group) {
    size_t n = gh_group_numel(e, group);
    float *h = malloc(n * sizeof *h);
    // a temporary tensor view is not public: read through a flat copy into a buffer
    gh_step_begin(e);
    gh_tensor *t = gh_input(e, 1, (int[]){(int)n}, NULL);
    CHECK_OK(gh_vec_copy(e, n, gh_group_data(e, group), t->data));
    CHECK_OK(gh_tensor_to_host(e, t, h));
    return h;
}

static void same_group(gh_engine *a, gh_engine *b, int group, const char *what) {
    size_t n = gh_group_numel(a, group);
    float *x = group_host(a, group), *y = group_host(b, group);
    CHECK_MSG(!memcmp(x, y, n * sizeof *x), "%s differ with graphs on and off", what);
    free(x);
    free(y);
}

static void report(gh_engine *e, const char *what, double on_s, double off_s) {
    gh_graph_stats s;
    gh_graph_stats_get(e, &s);
    printf("%s: %lld captured, %lld replays, %lld uncaptured, %lld misses, %lld fallbacks%s%s\n",
           what, (long long)s.captures, (long long)s.replays, (long long)s.uncaptured,
           (long long)s.misses, (long long)s.fallbacks, s.note[0] ? "; last: " : "", s.note);
    printf("%s: steps 4..%d: %.2f ms/step with graphs, %.2f ms/step without (%.2fx)\n", what,
           STEPS, 1e3 * on_s / (STEPS - 3), 1e3 * off_s / (STEPS - 3), off_s / on_s);
    CHECK_MSG(s.replays > 0 && s.fallbacks == 0, "%s: graphs were not used: %s", what, s.note);
}

static void test_darts(void) {
    gh_engine *e[2];
    darts_supernet *net[2];
    darts_search *s[2];
    darts_net_config nc = net_config(0);
    darts_step_opts o = {.order = 2, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                         .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999, .arch_wd = 1e-3};
    for (int i = 0; i < 2; i++) {
        e[i] = engine();
        CHECK_OK(darts_supernet_build(&net[i], e[i], &nc));
        CHECK_OK(gh_params_alloc(e[i]));
        CHECK_OK(darts_search_create(&s[i], e[i], net[i], &o));
    }
    gh_set_graphs(e[0], 1);
    double secs[2] = {0, 0};
    for (int k = 0; k < STEPS; k++) {
        double sum[2][2];
        for (int i = 0; i < 2; i++) {
            gh_batch bt = batch(xs[k], ys[k]), bv = batch(xv[k], yv[k]);
            CHECK_OK(gh_acc_reset(e[i], 0, 2));
            double t0 = gh_wall_seconds();
            CHECK_OK(darts_search_step(s[i], &bt, &bv, 0.025));
            CHECK_OK(gh_acc_read(e[i], 2, sum[i]));   // waits for the device
            if (k >= 3) secs[i] += gh_wall_seconds() - t0;
        }
        CHECK_MSG(sum[0][0] == sum[1][0] && sum[0][1] == sum[1][1],
                  "DARTS step %d: loss sum %.17g with graphs, %.17g without", k + 1, sum[0][0],
                  sum[1][0]);
    }
    same_group(e[0], e[1], GH_GROUP_WEIGHTS, "DARTS weights");
    same_group(e[0], e[1], GH_GROUP_ARCH, "DARTS alphas");
    report(e[0], "DARTS second order", secs[0], secs[1]);
    for (int i = 0; i < 2; i++) {
        darts_search_free(s[i]);
        darts_supernet_free(net[i]);
        gh_engine_destroy(e[i]);
    }
}

// drop_path > 0 (the DARTS paper's 0.2): the masks read the step's seed from device memory, so
// the step is captured as at 0 and each replay must draw that step's masks.
static void test_final(double drop_path) {
    gh_engine *e[2];
    nas_net net[2];
    darts_net_config nc = net_config(1);
    genotype g;
    CHECK_OK(genotype_parse(&g, genotype_named("DARTS_V2")));
    double secs[2] = {0, 0};
    gh_step_def sd[2];
    for (int i = 0; i < 2; i++) {
        e[i] = engine();
        CHECK_OK(nas_net_build(&net[i], e[i], &nc, &g));
        net[i].drop_path = drop_path;
        sd[i] = (gh_step_def){.loss = nas_net_loss, .model = &net[i], .group = GH_GROUP_WEIGHTS,
                              .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                              .fixed_graph = 1};
    }
    gh_set_graphs(e[0], 1);
    for (int k = 0; k < STEPS; k++) {
        double sum[2][2];
        for (int i = 0; i < 2; i++) {
            gh_batch b = batch(xs[k], ys[k]);
            CHECK_OK(gh_acc_reset(e[i], 0, 2));
            double t0 = gh_wall_seconds();
            CHECK_OK(gh_train_step(e[i], &sd[i], &b, 0.025));
            CHECK_OK(gh_acc_read(e[i], 2, sum[i]));
            if (k >= 3) secs[i] += gh_wall_seconds() - t0;
        }
        CHECK_MSG(sum[0][0] == sum[1][0] && sum[0][1] == sum[1][1],
                  "final training, drop_path %g, step %d: loss sum %.17g with graphs, %.17g "
                  "without", drop_path, k + 1, sum[0][0], sum[1][0]);
    }
    char what[64];
    snprintf(what, sizeof what, "final-training weights, drop_path %g", drop_path);
    same_group(e[0], e[1], GH_GROUP_WEIGHTS, what);
    snprintf(what, sizeof what, "final training, drop_path %g", drop_path);
    report(e[0], what, secs[0], secs[1]);
    for (int i = 0; i < 2; i++) {
        nas_net_free(&net[i]);
        gh_engine_destroy(e[i]);
    }
}

int main(void) {
    if (!gh_cuda_built()) check_skip(NAME, "this build has no CUDA");
    if (gh_cuda_device_count() == 0) check_skip(NAME, "no CUDA device on this machine");
    gh_rng r;
    gh_rng_seed(&r, 13, 1);
    for (int k = 0; k < STEPS; k++) {
        for (int i = 0; i < B * 3 * HW * HW; i++) {
            xs[k][i] = (float)gh_rng_normal(&r);
            xv[k][i] = (float)gh_rng_normal(&r);
        }
        for (int i = 0; i < B; i++) {
            ys[k][i] = (int)gh_rng_below(&r, CLASSES);
            yv[k][i] = (int)gh_rng_below(&r, CLASSES);
        }
    }
    test_darts();
    test_final(0.0);
    test_final(0.2);
    return check_done(NAME);
}
