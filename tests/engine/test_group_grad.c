// tests/engine: gh_set_group_grad. Two engines built alike (same seed, same batch) run one
// forward and backward each, one with every gradient on and one with a group switched off: the
// other group's gradient and the input's gradient must be bit-identical to the full pass, the
// switched-off group's gradient must stay as it was (zeroed before), on the reference and the
// fast CPU backends. Then the setter's return value and its refusal of a bad group.
#include <math.h>
#include <string.h>

#include "train_step.h"

typedef struct {
    float *gw, *ga, *dx;
    size_t nw, na;
} grads;

// One forward and backward with `off` (-1: none) switched off; the gradients to the host.
static int one_pass(gh_backend b, int off, grads *g) {
    memset(g, 0, sizeof *g);
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = b, .arena_bytes = 16 << 20, .deterministic = 1,
                            .seed = 7};
    int st = gh_engine_create(&e, &cfg);
    if (st) return st;
    ts_net m;
    float x[TS_N * TS_C * TS_H * TS_W];
    int y[TS_N];
    ts_data(x, y, 11u);
    if (!(st = ts_declare(e, &m))) {
        gh_step_begin(e);
        gh_set_training(e, 1);
        st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        if (!st) st = gh_group_zero_grad(e, GH_GROUP_ARCH);
        if (!st && off >= 0 && gh_set_group_grad(e, off, 0) != 1) st = GH_EINVAL;
        // the input as a tensor whose gradient backward leaves readable
        gh_tensor *xt = st ? NULL : gh_input(e, 4, (int[]){TS_N, TS_C, TS_H, TS_W}, x);
        if (xt) xt->requires_grad = 1;
        gh_tensor *h = xt ? gh_conv2d(e, xt, m.c1w, m.c1b, 1, 1, 1, 1, 1, 1, 1) : NULL;
        h = h ? gh_batchnorm(e, h, m.bn_g, m.bn_b, m.bn_m, m.bn_v, 1e-5f, 0.1f) : NULL;
        h = h ? gh_relu(e, h) : NULL;
        h = h ? gh_maxpool(e, h, 2, 2, 0) : NULL;                        // [n, 8, 6, 6]
        gh_tensor *l = NULL;
        if (h) {
            // ts_logits' network without its dropout and drop-path
            gh_tensor *ops[3];
            ops[0] = gh_conv2d(e, h, m.dw, NULL, 1, 1, 2, 2, 2, 2, 4);
            ops[1] = gh_avgpool(e, h, 3, 1, 1);
            ops[2] = gh_conv2d(e, gh_relu(e, h), m.pw, NULL, 1, 1, 0, 0, 1, 1, 1);
            gh_tensor *mixed = gh_wsum(e, 3, ops, gh_softmax(e, m.alpha));
            gh_tensor *part = gh_slice(e, h, 2, 4);
            gh_tensor *shifted = gh_shift(e, gh_add(e, mixed, h), 1, 1, 6, 6);
            gh_tensor *cat = gh_concat(e, 3, (gh_tensor *[]){mixed, part, shifted});
            gh_tensor *logits = gh_linear(e, gh_global_avgpool(e, cat), m.fw, m.fb);
            l = gh_xent(e, logits, gh_labels(e, TS_N, y), 0.1f, NULL);
        }
        if (!st) st = l ? gh_backward(e, l) : gh_engine_status(e) ? gh_engine_status(e) : GH_EINVAL;
        if (!st && off >= 0 && gh_set_group_grad(e, off, 1) != 0) st = GH_EINVAL;
        g->nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
        g->na = gh_group_numel(e, GH_GROUP_ARCH);
        if (!st) st = ts_copy_group(e, xt->grad, sizeof x / sizeof x[0], &g->dx);
        if (!st) st = ts_copy_group(e, gh_group_grad(e, GH_GROUP_WEIGHTS), g->nw, &g->gw);
        if (!st) st = ts_copy_group(e, gh_group_grad(e, GH_GROUP_ARCH), g->na, &g->ga);
    }
    gh_engine_destroy(e);
    return st;
}

static int all_zero(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0f || signbit(v[i])) return 0;
    return 1;
}

static int nonzero(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0f) return 1;
    return 0;
}

static void free_grads(grads *g) {
    free(g->gw);
    free(g->ga);
    free(g->dx);
}

int main(void) {
    const gh_backend bes[2] = {GH_BACKEND_REF, GH_BACKEND_CPU};
    const char *names[2] = {"ref", "cpu"};
    size_t nx = (size_t)TS_N * TS_C * TS_H * TS_W;
    for (int bi = 0; bi < 2; bi++) {
        grads full, now, noa;
        int st = one_pass(bes[bi], -1, &full);
        CHECK_MSG(!st, "%s: full pass: %s", names[bi], gh_error_get());
        int st2 = st ? st : one_pass(bes[bi], GH_GROUP_WEIGHTS, &now);
        CHECK_MSG(!st2, "%s: weights off: %s", names[bi], gh_error_get());
        int st3 = st ? st : one_pass(bes[bi], GH_GROUP_ARCH, &noa);
        CHECK_MSG(!st3, "%s: arch off: %s", names[bi], gh_error_get());
        if (st || st2 || st3) return 1;
        // the full pass has gradients everywhere, so the comparisons below can fail
        CHECK_MSG(nonzero(full.gw, full.nw) && nonzero(full.ga, full.na) && nonzero(full.dx, nx),
              "%s: the full pass left a zero gradient", names[bi]);
        CHECK_MSG(!memcmp(now.ga, full.ga, full.na * sizeof(float)),
              "%s: weights off: the alphas' gradient differs from the full pass", names[bi]);
        CHECK_MSG(!memcmp(now.dx, full.dx, nx * sizeof(float)),
              "%s: weights off: the input's gradient differs from the full pass", names[bi]);
        CHECK_MSG(all_zero(now.gw, now.nw), "%s: weights off: the weight gradient was written",
              names[bi]);
        CHECK_MSG(!memcmp(noa.gw, full.gw, full.nw * sizeof(float)),
              "%s: arch off: the weight gradient differs from the full pass", names[bi]);
        CHECK_MSG(!memcmp(noa.dx, full.dx, nx * sizeof(float)),
              "%s: arch off: the input's gradient differs from the full pass", names[bi]);
        CHECK_MSG(all_zero(noa.ga, noa.na), "%s: arch off: the alphas' gradient was written",
              names[bi]);
        free_grads(&full);
        free_grads(&now);
        free_grads(&noa);
    }
    // the setter: previous value, and a bad group refused with the group named
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_REF, .arena_bytes = 1 << 20};
    CHECK_MSG(!gh_engine_create(&e, &cfg), "engine: %s", gh_error_get());
    if (e) {
        CHECK_MSG(gh_set_group_grad(e, GH_GROUP_ARCH, 0) == 1, "arch: was on");
        CHECK_MSG(gh_set_group_grad(e, GH_GROUP_ARCH, 0) == 0, "arch: was off");
        CHECK_MSG(gh_set_group_grad(e, GH_GROUP_ARCH, 1) == 0, "arch: was off, now on");
        CHECK_MSG(gh_set_group_grad(e, GH_GROUP_WEIGHTS, 1) == 1, "weights: on by default");
        CHECK_MSG(gh_set_group_grad(e, GH_NUM_GROUPS, 0) == GH_EINVAL, "group %d accepted",
              GH_NUM_GROUPS);
        CHECK_MSG(strstr(gh_error_get(), "set_group_grad: group 3") != NULL, "message: %s",
              gh_error_get());
        gh_engine_destroy(e);
    }
    if (check_failures_) return check_done("test_group_grad");
    printf("test_group_grad: ref and cpu: the other group and the input's gradient "
           "bit-identical, the group off untouched\n");
    return check_done("test_group_grad");
}
