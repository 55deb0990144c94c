// tests/engine: gh_conv2d_relu against gh_relu then gh_conv2d, bit for bit, on ref and cpu: the
// loss, d loss / d x and every weight gradient of a small network whose input x (with -0 among
// its values) is read by two ReLU-convs, as a DARTS cell state is: a depthwise 3x3 (fused
// kernels on both backends) followed by a 1x1 ReLU-conv of its output, and a 3x3 stride-2 conv
// (cpu: relu(x) in arena scratch around the plain conv, as for the 1x1). At release levels 0
// and 1, and with the weight gradient off (the scratch path's backward then skips relu(x)).
// The fused network must also use less arena than the unfused one (no relu(x) kept).
#include <string.h>

#include "check.h"
#include "engine/engine.h"

enum { N = 2, C = 4, H = 8, W = 8, P = 6, CLASSES = 5 };

typedef struct {
    gh_tensor *wd, *wp, *w3, *l1, *l2;
} net;

// conv(relu(x)) either way
static gh_tensor *rc(gh_engine *e, int fused, gh_tensor *x, gh_tensor *w, int stride, int pad,
                     int groups) {
    if (fused) return gh_conv2d_relu(e, x, w, NULL, stride, stride, pad, pad, 1, 1, groups);
    return gh_conv2d(e, gh_relu(e, x), w, NULL, stride, stride, pad, pad, 1, 1, groups);
}

typedef struct {
    float loss;
    float dx[N * C * H * W];
    float *dw;   // the weights group's gradient
    size_t nw;
    size_t peak;
} outcome;

static int run(gh_engine *e, const net *m, int fused, const float *xh, const int *labels,
               outcome *o) {
    gh_step_begin(e);
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_WEIGHTS));
    gh_tensor *x = gh_input(e, 4, (int[]){N, C, H, W}, xh);
    if (!x) return gh_engine_status(e);
    x->requires_grad = 1;
    gh_tensor *a = rc(e, fused, x, m->wd, 1, 1, C);     // depthwise 3x3
    gh_tensor *b = rc(e, fused, a, m->wp, 1, 0, 1);     // 1x1 to P
    gh_tensor *c = rc(e, fused, x, m->w3, 2, 1, 1);     // 3x3 stride 2, x's second reader
    gh_tensor *logits = gh_add(e, gh_linear(e, gh_global_avgpool(e, b), m->l1, NULL),
                               gh_linear(e, gh_global_avgpool(e, c), m->l2, NULL));
    gh_tensor *loss = gh_xent(e, logits, gh_labels(e, N, labels), 0.0f, NULL);
    int st = gh_backward(e, loss);
    if (st) return st;
    memcpy(&o->loss, loss->data, sizeof(float));
    memcpy(o->dx, x->grad, sizeof o->dx);
    o->nw = gh_group_numel(e, GH_GROUP_WEIGHTS);
    o->dw = malloc(o->nw * sizeof(float));
    memcpy(o->dw, gh_group_grad(e, GH_GROUP_WEIGHTS), o->nw * sizeof(float));
    o->peak = gh_engine_arena_peak(e);
    return gh_engine_status(e);
}

static void same_bits(const char *what, const float *got, const float *want, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) && !bad++) first = i;
    CHECK_MSG(bad == 0, "%s: %zu of %zu differ in bits, the first [%zu]: fused %a, unfused %a",
              what, bad, n, first, bad ? got[first] : 0.0f, bad ? want[first] : 0.0f);
}

static void compare(const char *what, const outcome *f, const outcome *u, int weights) {
    char buf[200];
    snprintf(buf, sizeof buf, "%s: loss", what);
    same_bits(buf, &f->loss, &u->loss, 1);
    snprintf(buf, sizeof buf, "%s: dx", what);
    same_bits(buf, f->dx, u->dx, N * C * H * W);
    snprintf(buf, sizeof buf, "%s: dW", what);
    if (weights) same_bits(buf, f->dw, u->dw, f->nw);
    // the gradients are not trivially equal because they are zero
    size_t nz = 0, nzw = 0;
    for (size_t i = 0; i < N * C * H * W; i++) nz += f->dx[i] != 0.0f;
    for (size_t i = 0; i < f->nw; i++) nzw += f->dw[i] != 0.0f;
    CHECK_MSG(nz > N * C * H * W / 4, "%s: only %zu of dx non-zero", what, nz);
    CHECK_MSG(weights ? nzw > f->nw / 2 : nzw == 0, "%s: %zu of %zu dW non-zero (weights %s)",
              what, nzw, f->nw, weights ? "on" : "off");
}

static void backend_case(gh_backend backend) {
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = backend, .arena_bytes = 16 << 20, .seed = 11};
    CHECK_OK(gh_engine_create(&e, &cfg));
    if (!e) return;
    net m;
    m.wd = gh_param(e, GH_GROUP_WEIGHTS, "wd", 4, (int[]){C, 1, 3, 3}, GH_INIT_KAIMING_UNIFORM, 9);
    m.wp = gh_param(e, GH_GROUP_WEIGHTS, "wp", 4, (int[]){P, C, 1, 1}, GH_INIT_KAIMING_UNIFORM, C);
    m.w3 = gh_param(e, GH_GROUP_WEIGHTS, "w3", 4, (int[]){C, C, 3, 3}, GH_INIT_KAIMING_UNIFORM,
                    9 * C);
    m.l1 = gh_param(e, GH_GROUP_WEIGHTS, "l1", 2, (int[]){CLASSES, P}, GH_INIT_KAIMING_UNIFORM, P);
    m.l2 = gh_param(e, GH_GROUP_WEIGHTS, "l2", 2, (int[]){CLASSES, C}, GH_INIT_KAIMING_UNIFORM, C);
    CHECK_OK(gh_params_alloc(e));
    static float xh[N * C * H * W];
    gh_rng rng;
    gh_rng_seed(&rng, 5, GH_STREAM_INIT);
    for (int i = 0; i < N * C * H * W; i++)
        xh[i] = i % 7 == 0 ? -0.0f : (float)(2.0 * gh_rng_uniform(&rng) - 1.0);
    int labels[N] = {1, 3};
    const char *bname = gh_backend_name(backend);
    for (int level = 0; level <= 1; level++)
        for (int weights = 1; weights >= 0; weights--) {
            gh_set_release(e, level);
            gh_set_group_grad(e, GH_GROUP_WEIGHTS, weights);
            outcome u = {0}, f = {0};
            CHECK_OK(run(e, &m, 1, xh, labels, &f));
            CHECK_OK(run(e, &m, 0, xh, labels, &u));
            char what[120];
            snprintf(what, sizeof what, "%s release %d, weight gradient %s", bname, level,
                     weights ? "on" : "off");
            if (!check_failures_) compare(what, &f, &u, weights);
            // the peak is the arena's high-water mark since the engine's creation: the first
            // pair (fused first) compares the two networks, the unfused raising it further
            if (level == 0 && weights) {
                printf("%s: arena peak %zu bytes fused, %zu unfused\n", what, f.peak, u.peak);
                CHECK_MSG(f.peak < u.peak, "%s: fused arena peak %zu, not below the unfused %zu",
                          what, f.peak, u.peak);
            }
            free(u.dw);
            free(f.dw);
        }
    gh_engine_destroy(e);
}

int main(void) {
    backend_case(GH_BACKEND_REF);
    backend_case(GH_BACKEND_CPU);
    return check_done("test_conv_relu_engine");
}
