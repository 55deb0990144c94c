// tests/engine: one training step of a small network that touches every op family
// (conv with bias and groups, batch norm, ReLU, both poolings, the DARTS weighted sum over a
// softmax of arch weights, concat, slice, shift, drop-path, dropout, GAP, linear, xent with
// smoothing), gradient-norm clipping, SGD and Adam, the group vector helpers and an eval-mode
// pass (running statistics), run on a given backend. test_cpu_vs_ref and test_engine_cuda
// compare two backends with it (ts_compare).
#pragma once
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/engine.h"

enum { TS_N = 8, TS_C = 3, TS_H = 12, TS_W = 12, TS_CLASSES = 5 };

typedef struct {
    gh_tensor *c1w, *c1b, *bn_g, *bn_b, *bn_m, *bn_v;
    gh_tensor *dw, *alpha, *pw;      // grouped 3x3 and 1x1 branch, arch weights over 3 ops
    gh_tensor *fw, *fb;              // classifier
} ts_net;

static inline int ts_declare(gh_engine *e, ts_net *m) {
    m->c1w = gh_param(e, GH_GROUP_WEIGHTS, "c1.w", 4, (int[]){8, TS_C, 3, 3},
                      GH_INIT_KAIMING_UNIFORM, TS_C * 9);
    m->c1b = gh_param(e, GH_GROUP_WEIGHTS, "c1.b", 1, (int[]){8}, GH_INIT_KAIMING_UNIFORM,
                      TS_C * 9);
    m->bn_g = gh_param(e, GH_GROUP_WEIGHTS, "bn.g", 1, (int[]){8}, GH_INIT_ONE, 0);
    m->bn_b = gh_param(e, GH_GROUP_WEIGHTS, "bn.b", 1, (int[]){8}, GH_INIT_ZERO, 0);
    m->bn_m = gh_param(e, GH_GROUP_BUFFERS, "bn.mean", 1, (int[]){8}, GH_INIT_ZERO, 0);
    m->bn_v = gh_param(e, GH_GROUP_BUFFERS, "bn.var", 1, (int[]){8}, GH_INIT_ONE, 0);
    m->dw = gh_param(e, GH_GROUP_WEIGHTS, "dw", 4, (int[]){8, 2, 3, 3},
                     GH_INIT_KAIMING_UNIFORM, 2 * 9);
    m->pw = gh_param(e, GH_GROUP_WEIGHTS, "pw", 4, (int[]){8, 8, 1, 1}, GH_INIT_KAIMING_UNIFORM,
                     8);
    m->alpha = gh_param(e, GH_GROUP_ARCH, "alpha", 1, (int[]){3}, GH_INIT_NORMAL_1E3, 0);
    // features: 8 (mixed) + 4 (slice) + 8 (shifted) channels after GAP
    m->fw = gh_param(e, GH_GROUP_WEIGHTS, "fc.w", 2, (int[]){TS_CLASSES, 20},
                     GH_INIT_KAIMING_UNIFORM, 20);
    m->fb = gh_param(e, GH_GROUP_WEIGHTS, "fc.b", 1, (int[]){TS_CLASSES},
                     GH_INIT_KAIMING_UNIFORM, 20);
    return gh_params_alloc(e);
}

static inline gh_tensor *ts_logits(gh_engine *e, const ts_net *m, const float *x_host) {
    gh_tensor *x = gh_input(e, 4, (int[]){TS_N, TS_C, TS_H, TS_W}, x_host);
    gh_tensor *h = gh_conv2d(e, x, m->c1w, m->c1b, 1, 1, 1, 1, 1, 1, 1);
    h = gh_batchnorm(e, h, m->bn_g, m->bn_b, m->bn_m, m->bn_v, 1e-5f, 0.1f);
    h = gh_relu(e, h);
    h = gh_maxpool(e, h, 2, 2, 0);                                   // [n, 8, 6, 6]
    gh_tensor *ops[3];
    ops[0] = gh_conv2d(e, h, m->dw, NULL, 1, 1, 2, 2, 2, 2, 4);      // dilated, 4 groups
    ops[1] = gh_avgpool(e, h, 3, 1, 1);
    ops[2] = gh_conv2d(e, gh_relu(e, h), m->pw, NULL, 1, 1, 0, 0, 1, 1, 1);
    gh_tensor *w = gh_softmax(e, m->alpha);
    gh_tensor *mixed = gh_wsum(e, 3, ops, w);                        // [n, 8, 6, 6]
    gh_tensor *part = gh_slice(e, h, 2, 4);                          // [n, 4, 6, 6]
    gh_tensor *shifted = gh_shift(e, gh_add(e, mixed, h), 1, 1, 6, 6);
    // the masks are a function of (seed, index) only, so both backends drop the same samples
    gh_tensor *dropped = gh_droppath(e, mixed, 0.25f);
    gh_tensor *cat = gh_concat(e, 3, (gh_tensor *[]){dropped, part, shifted});
    gh_tensor *f = gh_dropout(e, gh_global_avgpool(e, cat), 0.2f);   // [n, 20]
    return gh_linear(e, f, m->fw, m->fb);                            // [n, classes]
}

static inline gh_tensor *ts_forward(gh_engine *e, const ts_net *m, const float *x_host,
                                    const int *y_host, int *correct) {
    gh_tensor *logits = ts_logits(e, m, x_host);
    const int *y = gh_labels(e, TS_N, y_host);
    return gh_xent(e, logits, y, 0.1f, correct);
}

static inline void ts_data(float *x, int *y, unsigned seed) {
    gh_rng r;
    gh_rng_seed(&r, seed, GH_STREAM_DATA);
    for (int i = 0; i < TS_N * TS_C * TS_H * TS_W; i++) x[i] = (float)gh_rng_normal(&r);
    for (int i = 0; i < TS_N; i++) y[i] = (int)gh_rng_below(&r, TS_CLASSES);
}

// Result of steps on one backend: the loss per step, and after the last step's backward the
// flat gradients and, after its SGD update, the flat parameters and running stats.
typedef struct {
    float loss[4];
    int correct[4];          // argmax hits per step (xent's host reduction)
    double gnorm[4];         // gh_vec_norm of the weight gradient before clipping
    double cnorm[4];         // the norm gh_clip_grad_norm reports (the same quantity)
    float eval_loss;         // after training, eval mode: running statistics, no dropout
    int eval_correct;
    float *grad[GH_NUM_GROUPS];
    float *data[GH_NUM_GROUPS];
    size_t numel[GH_NUM_GROUPS];
} ts_result;

static inline void ts_result_free(ts_result *r) {
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        free(r->grad[g]);
        free(r->data[g]);
    }
    memset(r, 0, sizeof *r);
}

// A group's flat buffer to the host: copied into an arena tensor, then read back (the engine
// reads backend memory to the host only through tensors).
static inline int ts_copy_group(gh_engine *e, const float *src, size_t n, float **out) {
    *out = calloc(n ? n : 1, sizeof(float));
    if (!src || !n) return GH_OK;
    gh_tensor *t = gh_input(e, 1, (int[]){(int)n}, NULL);
    if (!t) return gh_engine_status(e);
    int st = gh_vec_copy(e, n, src, t->data);
    return st ? st : gh_tensor_to_host(e, t, *out);
}

// steps SGD steps from the same seed; fills r. Returns a gh_status.
static inline int ts_run(gh_backend b, int steps, ts_result *r) {
    memset(r, 0, sizeof *r);
    if (steps > 4) return gh_fail(GH_EINVAL, "ts_run: at most 4 steps, got %d", steps);
    gh_engine *e;
    gh_engine_config cfg = {.backend = b, .arena_bytes = 16 << 20, .deterministic = 1,
                            .seed = 42};
    int st = gh_engine_create(&e, &cfg);
    if (st) return st;
    ts_net m;
    st = ts_declare(e, &m);
    float x[TS_N * TS_C * TS_H * TS_W];
    int y[TS_N];
    size_t nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    for (int s = 0; s < steps && !st; s++) {
        ts_data(x, y, 100u + (unsigned)s);
        gh_step_begin(e);
        gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        gh_group_zero_grad(e, GH_GROUP_ARCH);
        gh_tensor *loss = ts_forward(e, &m, x, y, &r->correct[s]);
        r->loss[s] = gh_scalar(e, loss);
        st = gh_backward(e, loss);
        if (st) break;
        // clip to half the norm so the scaling path always runs
        r->gnorm[s] = gh_vec_norm(e, nw, gh_group_grad(e, GH_GROUP_WEIGHTS));
        st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, (float)(0.5 * r->gnorm[s]), &r->cnorm[s]);
        if (st) break;
        if (s == steps - 1)
            for (int g = 0; g < GH_NUM_GROUPS && !st; g++) {
                r->numel[g] = gh_group_numel(e, g);
                st = ts_copy_group(e, gh_group_grad(e, g), r->numel[g], &r->grad[g]);
            }
        if (!st) st = gh_sgd_step(e, GH_GROUP_WEIGHTS, 0.1f, 0.9f, 1e-4f);
        if (!st) st = gh_adam_step(e, GH_GROUP_ARCH, 3e-2f, 0.5f, 0.999f, 1e-8f, 1e-3f);
    }
    if (!st) {
        ts_data(x, y, 200u);
        gh_step_begin(e);
        gh_set_training(e, 0);
        gh_set_grad_enabled(e, 0);
        r->eval_loss = gh_scalar(e, ts_forward(e, &m, x, y, &r->eval_correct));
        st = gh_engine_status(e);
        gh_set_training(e, 1);
        gh_set_grad_enabled(e, 1);
    }
    // the helpers the DARTS unrolled step is written with, on the optimizer's own state
    const float *mom = gh_group_momentum(e, GH_GROUP_WEIGHTS);
    if (!st && !mom) st = gh_fail(GH_EINVAL, "ts_run: no SGD momentum buffer after the steps");
    if (!st) st = gh_vec_axpy(e, nw, -0.5f, mom, gh_group_data(e, GH_GROUP_WEIGHTS));
    if (!st) st = gh_vec_scale(e, gh_group_numel(e, GH_GROUP_ARCH), 0.9f,
                               gh_group_data(e, GH_GROUP_ARCH));
    gh_step_begin(e);
    for (int g = 0; g < GH_NUM_GROUPS && !st; g++)
        st = ts_copy_group(e, gh_group_data(e, g), r->numel[g], &r->data[g]);
    gh_engine_destroy(e);
    return st;
}

// got (the backend under test) against want (the trusted one) after ts_run(steps).
static inline void ts_compare(const char *got_name, const ts_result *got, const char *want_name,
                              const ts_result *want, int steps) {
    for (int s = 0; s < steps; s++) {
        printf("step %d loss %s %.7f %s %.7f, hits %d %d, grad norm %.7g %.7g\n", s, want_name,
               want->loss[s], got_name, got->loss[s], want->correct[s], got->correct[s],
               want->gnorm[s], got->gnorm[s]);
        CHECK(isfinite(want->loss[s]) && want->gnorm[s] > 0);
        // argmax over 5 classes: a tie within float rounding is vanishingly unlikely
        CHECK(got->correct[s] == want->correct[s]);
        CHECK_MSG(fabs(want->cnorm[s] - want->gnorm[s]) <= 1e-6 * want->gnorm[s] &&
                      fabs(got->cnorm[s] - got->gnorm[s]) <= 1e-6 * got->gnorm[s],
                  "step %d: clip_grad_norm reports %.9g / %.9g, vec_norm %.9g / %.9g", s,
                  want->cnorm[s], got->cnorm[s], want->gnorm[s], got->gnorm[s]);
    }
    float gl[4], wl[4], gnf[4], wnf[4];
    for (int s = 0; s < steps; s++) {
        gl[s] = got->loss[s];
        wl[s] = want->loss[s];
        gnf[s] = (float)got->gnorm[s];
        wnf[s] = (float)want->gnorm[s];
    }
    CHECK_CLOSE("losses", gl, wl, (size_t)steps, 1e-5, 1e-4);
    CHECK_CLOSE("weight gradient norms", gnf, wnf, (size_t)steps, 1e-6, 1e-4);
    printf("eval loss %s %.7f %s %.7f, hits %d %d\n", want_name, want->eval_loss, got_name,
           got->eval_loss, want->eval_correct, got->eval_correct);
    CHECK(isfinite(want->eval_loss));
    CHECK_CLOSE("eval-mode loss", &got->eval_loss, &want->eval_loss, 1, 1e-5, 1e-4);
    CHECK(got->eval_correct == want->eval_correct);
    const char *names[GH_NUM_GROUPS] = {"weights", "arch", "buffers"};
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        char what[64];
        CHECK(got->numel[g] == want->numel[g] && want->numel[g] > 0);
        if (g != GH_GROUP_BUFFERS) {
            snprintf(what, sizeof what, "last-step gradient of %s", names[g]);
            CHECK_CLOSE(what, got->grad[g], want->grad[g], want->numel[g], 1e-5, 1e-3);
        }
        snprintf(what, sizeof what, "%s after %d updates", names[g], steps);
        CHECK_CLOSE(what, got->data[g], want->data[g], want->numel[g], 1e-5, 1e-4);
    }
}
