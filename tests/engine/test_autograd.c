// tests/engine: reverse-mode gradients of small composite graphs on the REF backend against
// central finite differences of the engine's own forward pass: conv->bn->relu->maxpool->
// linear->xent; a DARTS mixed op (wsum over softmax'd arch weights); concat/slice/shift/add/
// scale; a strided grouped conv with average pooling; a two-step LSTM controller with the
// tanh-constant scaling, log-prob and entropy. Dropout and drop-path are checked for
// backward consistency with their forward masks.
#include <string.h>

#include "check.h"
#include "engine/engine.h"

#define MAX_IN 2

typedef struct graph graph;
typedef gh_tensor *(*graph_fn)(graph *g);

struct graph {
    const char *name;
    gh_engine *e;
    graph_fn build;
    gh_tensor *p[8];          // parameters the graph uses
    int np;
    float *in_host[MAX_IN];   // inputs the graph reads, perturbed by the finite differences
    int in_ndim[MAX_IN];
    int in_shape[MAX_IN][4];
    gh_tensor *in_t[MAX_IN];
    int nin;
    int labels[8];
    int nlabels;
    int want_input_grad;
    const char *zero_grad;    // a parameter whose gradient is structurally zero, or NULL
};

static gh_tensor *input(graph *g, int i) {
    gh_tensor *t = gh_input(g->e, g->in_ndim[i], g->in_shape[i], g->in_host[i]);
    if (t) t->requires_grad = g->want_input_grad;  // ask the tape for d loss / d input
    g->in_t[i] = t;
    return t;
}

static gh_tensor *loss_of(graph *g, gh_tensor *logits) {
    const int *y = gh_labels(g->e, g->nlabels, g->labels);
    return gh_xent(g->e, logits, y, 0.1f, NULL);
}

static size_t numel_of(const graph *g, int i) {
    size_t n = 1;
    for (int d = 0; d < g->in_ndim[i]; d++) n *= (size_t)g->in_shape[i][d];
    return n;
}

static double forward_only(graph *g) {
    gh_step_begin(g->e);
    gh_set_grad_enabled(g->e, 0);
    g->want_input_grad = 0;
    gh_tensor *loss = g->build(g);
    double v = gh_scalar(g->e, loss);
    gh_set_grad_enabled(g->e, 1);
    return v;
}

// Compares the analytic gradient of n floats at `val` (a host pointer: REF backend) with
// central differences, sampling at most 48 evenly spaced elements.
static void fd_check(graph *g, const char *what, float *val, const float *analytic, size_t n,
                     double h, double atol, double rtol) {
    size_t stride = n > 48 ? n / 48 : 1;
    float got[64], want[64];
    size_t m = 0;
    double norm = 0;
    for (size_t i = 0; i < n && m < 64; i += stride, m++) {
        float orig = val[i];
        val[i] = (float)(orig + h);
        double lp = forward_only(g);
        val[i] = (float)(orig - h);
        double lm = forward_only(g);
        val[i] = orig;
        want[m] = (float)((lp - lm) / (2.0 * h));
        got[m] = analytic ? analytic[i] : 0.0f;
        norm += fabs(want[m]);
    }
    char label[96];
    snprintf(label, sizeof label, "%s: d loss / d %s", g->name, what);
    CHECK_CLOSE(label, got, want, m, atol, rtol);
    if (g->zero_grad && !strcmp(what, g->zero_grad)) return;
    CHECK_MSG(norm > 1e-4, "%s: finite differences are all ~0 (%g): the check would be empty",
              label, norm);
}

static void check_graph(graph *g, double h, double atol, double rtol) {
    gh_engine *e = g->e;
    gh_step_begin(e);
    gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    gh_group_zero_grad(e, GH_GROUP_ARCH);
    g->want_input_grad = 1;
    gh_tensor *loss = g->build(g);
    CHECK_MSG(loss != NULL, "%s: forward failed: %s", g->name, gh_error_get());
    if (!loss) return;
    CHECK_OK(gh_backward(e, loss));
    // keep the analytic gradients: the finite differences below reset the arena
    float *ga[8 + MAX_IN];
    for (int i = 0; i < g->np; i++) {
        ga[i] = malloc(g->p[i]->numel * sizeof(float));
        memcpy(ga[i], g->p[i]->grad, g->p[i]->numel * sizeof(float));
    }
    for (int i = 0; i < g->nin; i++) {
        size_t n = numel_of(g, i);
        ga[g->np + i] = calloc(n, sizeof(float));
        if (g->in_t[i] && g->in_t[i]->grad)
            memcpy(ga[g->np + i], g->in_t[i]->grad, n * sizeof(float));
    }
    for (int i = 0; i < g->np; i++)
        fd_check(g, g->p[i]->name, g->p[i]->data, ga[i], g->p[i]->numel, h, atol, rtol);
    for (int i = 0; i < g->nin; i++) {
        char what[32];
        snprintf(what, sizeof what, "input %d", i);
        fd_check(g, what, g->in_host[i], ga[g->np + i], numel_of(g, i), h, atol, rtol);
    }
    // a second reverse pass over the same tape gives the same parameter gradients
    gh_step_begin(e);
    gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    gh_group_zero_grad(e, GH_GROUP_ARCH);
    g->want_input_grad = 1;
    loss = g->build(g);
    CHECK_OK(gh_backward(e, loss));
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_WEIGHTS));
    CHECK_OK(gh_group_zero_grad(e, GH_GROUP_ARCH));
    CHECK_OK(gh_backward(e, loss));
    int differ = 0;
    for (int i = 0; i < g->np; i++)
        differ += memcmp(ga[i], g->p[i]->grad, g->p[i]->numel * sizeof(float)) != 0;
    CHECK_MSG(differ == 0, "%s: %d parameter gradients differ on a second backward", g->name,
              differ);
    for (int i = 0; i < g->np + g->nin; i++) free(ga[i]);
}

static float *randn(gh_rng *r, size_t n, double scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * gh_rng_normal(r));
    return x;
}

static gh_engine *make_engine(void) {
    gh_engine *e = NULL;
    gh_engine_config cfg = {.backend = GH_BACKEND_REF, .arena_bytes = 8 << 20, .seed = 7};
    CHECK_OK(gh_engine_create(&e, &cfg));
    return e;
}

// ---- A: conv -> bn -> relu -> maxpool -> flatten -> linear -> xent ---------------------------------

static gh_tensor *build_cnn(graph *g) {
    gh_engine *e = g->e;
    gh_tensor *h = gh_conv2d(e, input(g, 0), g->p[0], g->p[1], 1, 1, 1, 1, 1, 1, 1);
    h = gh_batchnorm(e, h, g->p[2], g->p[3], g->p[6], g->p[7], 1e-5f, 0.1f);
    h = gh_maxpool(e, gh_relu(e, h), 2, 2, 0);
    return loss_of(g, gh_linear(e, gh_flatten(e, h), g->p[4], g->p[5]));
}

static void test_cnn(void) {
    gh_engine *e = make_engine();
    // batch norm subtracts the batch mean, so the conv bias has no effect: zero gradient
    graph g = {.name = "conv-bn-relu-maxpool-linear-xent", .e = e, .build = build_cnn, .np = 6,
               .nin = 1, .nlabels = 2, .labels = {1, 3}, .zero_grad = "conv.b"};
    g.p[0] = gh_param(e, 0, "conv.w", 4, (int[]){4, 3, 3, 3}, GH_INIT_KAIMING_UNIFORM, 27);
    g.p[1] = gh_param(e, 0, "conv.b", 1, (int[]){4}, GH_INIT_KAIMING_UNIFORM, 27);
    g.p[2] = gh_param(e, 0, "bn.gamma", 1, (int[]){4}, GH_INIT_ONE, 0);
    g.p[3] = gh_param(e, 0, "bn.beta", 1, (int[]){4}, GH_INIT_ZERO, 0);
    g.p[4] = gh_param(e, 0, "fc.w", 2, (int[]){5, 36}, GH_INIT_KAIMING_UNIFORM, 36);
    g.p[5] = gh_param(e, 0, "fc.b", 1, (int[]){5}, GH_INIT_KAIMING_UNIFORM, 36);
    g.p[6] = gh_param(e, GH_GROUP_BUFFERS, "bn.mean", 1, (int[]){4}, GH_INIT_ZERO, 0);
    g.p[7] = gh_param(e, GH_GROUP_BUFFERS, "bn.var", 1, (int[]){4}, GH_INIT_ONE, 0);
    CHECK_OK(gh_params_alloc(e));
    // gamma and beta away from their init so that their gradients are generic
    for (int i = 0; i < 4; i++) {
        g.p[2]->data[i] = 0.8f + 0.15f * (float)i;
        g.p[3]->data[i] = 0.1f * (float)i - 0.1f;
    }
    gh_rng r;
    gh_rng_seed(&r, 11, GH_STREAM_DATA);
    g.in_ndim[0] = 4;
    memcpy(g.in_shape[0], (int[]){2, 3, 6, 6}, sizeof g.in_shape[0]);
    g.in_host[0] = randn(&r, 2 * 3 * 6 * 6, 1.0);
    check_graph(&g, 2e-3, 1e-3, 3e-2);
    free(g.in_host[0]);
    gh_engine_destroy(e);
}

// ---- B: a DARTS mixed op: wsum over {conv3x3, avgpool, maxpool, none} with softmax(alpha) ----

static gh_tensor *build_wsum(graph *g) {
    gh_engine *e = g->e;
    gh_tensor *x = input(g, 0);
    gh_tensor *ops[4] = {gh_conv2d(e, x, g->p[0], NULL, 1, 1, 1, 1, 1, 1, 1),
                         gh_avgpool(e, x, 3, 1, 1), gh_maxpool(e, x, 3, 1, 1), NULL};
    gh_tensor *y = gh_wsum(e, 4, ops, gh_softmax(e, g->p[1]));
    return loss_of(g, gh_linear(e, gh_global_avgpool(e, y), g->p[2], NULL));
}

static void test_wsum(void) {
    gh_engine *e = make_engine();
    graph g = {.name = "wsum(softmax(alpha))", .e = e, .build = build_wsum, .np = 3, .nin = 1,
               .nlabels = 2, .labels = {0, 2}};
    g.p[0] = gh_param(e, 0, "op.conv.w", 4, (int[]){4, 4, 3, 3}, GH_INIT_KAIMING_UNIFORM, 36);
    g.p[1] = gh_param(e, GH_GROUP_ARCH, "alpha", 1, (int[]){4}, GH_INIT_NORMAL_1E3, 0);
    g.p[2] = gh_param(e, 0, "fc.w", 2, (int[]){3, 4}, GH_INIT_KAIMING_UNIFORM, 4);
    CHECK_OK(gh_params_alloc(e));
    const float alpha[4] = {0.3f, -0.2f, 0.5f, 0.1f};
    memcpy(g.p[1]->data, alpha, sizeof alpha);
    for (int i = 0; i < 12; i++) g.p[2]->data[i] *= 4.0f;  // a stronger signal into alpha
    gh_rng r;
    gh_rng_seed(&r, 12, GH_STREAM_DATA);
    g.in_ndim[0] = 4;
    memcpy(g.in_shape[0], (int[]){2, 4, 5, 5}, sizeof g.in_shape[0]);
    g.in_host[0] = randn(&r, 2 * 4 * 5 * 5, 1.0);
    check_graph(&g, 2e-3, 1e-3, 3e-2);
    free(g.in_host[0]);
    gh_engine_destroy(e);
}

// ---- C: concat, slice, shift (both directions), add (also of a tensor with itself), scale ----

static gh_tensor *build_wiring(graph *g) {
    gh_engine *e = g->e;
    gh_tensor *x = input(g, 0);
    gh_tensor *a = gh_conv2d(e, x, g->p[0], NULL, 1, 1, 0, 0, 1, 1, 1);   // [2,3,6,6]
    gh_tensor *c = gh_concat(e, 2, (gh_tensor *[]){a, gh_slice(e, x, 1, 2)});
    gh_tensor *t1 = gh_shift(e, c, 1, 1, 5, 5);
    gh_tensor *t2 = gh_shift(e, c, -1, 0, 5, 5);
    gh_tensor *u = gh_add(e, t1, gh_scale(e, t2, 0.5f));
    u = gh_add(e, u, u);
    return loss_of(g, gh_linear(e, gh_flatten(e, u), g->p[1], g->p[2]));
}

static void test_wiring(void) {
    gh_engine *e = make_engine();
    graph g = {.name = "concat/slice/shift/add/scale", .e = e, .build = build_wiring, .np = 3,
               .nin = 1, .nlabels = 2, .labels = {2, 0}};
    g.p[0] = gh_param(e, 0, "a.w", 4, (int[]){3, 4, 1, 1}, GH_INIT_KAIMING_UNIFORM, 4);
    g.p[1] = gh_param(e, 0, "fc.w", 2, (int[]){3, 125}, GH_INIT_KAIMING_UNIFORM, 125);
    g.p[2] = gh_param(e, 0, "fc.b", 1, (int[]){3}, GH_INIT_KAIMING_UNIFORM, 125);
    CHECK_OK(gh_params_alloc(e));
    gh_rng r;
    gh_rng_seed(&r, 13, GH_STREAM_DATA);
    g.in_ndim[0] = 4;
    memcpy(g.in_shape[0], (int[]){2, 4, 6, 6}, sizeof g.in_shape[0]);
    g.in_host[0] = randn(&r, 2 * 4 * 6 * 6, 1.0);
    check_graph(&g, 2e-3, 1e-3, 3e-2);
    free(g.in_host[0]);
    gh_engine_destroy(e);
}

// ---- D: strided, grouped, dilated conv -> avgpool(3, 2, 1) -> GAP -> linear with two inputs ----

static gh_tensor *build_grouped(graph *g) {
    gh_engine *e = g->e;
    gh_tensor *h = gh_conv2d(e, input(g, 0), g->p[0], g->p[1], 2, 2, 2, 2, 2, 2, 2);
    h = gh_avgpool(e, h, 3, 2, 1);
    gh_tensor *f = gh_add(e, gh_global_avgpool(e, h), input(g, 1));
    return loss_of(g, gh_linear(e, f, g->p[2], NULL));
}

static void test_grouped(void) {
    gh_engine *e = make_engine();
    graph g = {.name = "grouped strided dilated conv", .e = e, .build = build_grouped, .np = 3,
               .nin = 2, .nlabels = 2, .labels = {1, 1}};
    g.p[0] = gh_param(e, 0, "g.w", 4, (int[]){6, 2, 3, 3}, GH_INIT_KAIMING_UNIFORM, 18);
    g.p[1] = gh_param(e, 0, "g.b", 1, (int[]){6}, GH_INIT_KAIMING_UNIFORM, 18);
    g.p[2] = gh_param(e, 0, "fc.w", 2, (int[]){3, 6}, GH_INIT_KAIMING_UNIFORM, 6);
    CHECK_OK(gh_params_alloc(e));
    gh_rng r;
    gh_rng_seed(&r, 14, GH_STREAM_DATA);
    g.in_ndim[0] = 4;
    memcpy(g.in_shape[0], (int[]){2, 4, 9, 9}, sizeof g.in_shape[0]);
    g.in_host[0] = randn(&r, 2 * 4 * 9 * 9, 1.0);
    g.in_ndim[1] = 2;
    memcpy(g.in_shape[1], (int[]){2, 6, 0, 0}, sizeof g.in_shape[1]);
    g.in_host[1] = randn(&r, 2 * 6, 0.5);
    check_graph(&g, 2e-3, 1e-3, 3e-2);
    free(g.in_host[0]);
    free(g.in_host[1]);
    gh_engine_destroy(e);
}

// ---- E: a two-step LSTM controller: embedding -> sigmoid -> gates (two linears) -> lstm_cell ->
// logits from h and c -> tanh-constant scaling -> -log_prob + entropy bonus ------------------------

enum { CT_V = 4, CT_E = 3, CT_H = 5 };

static gh_tensor *controller_step(graph *g, int token, gh_tensor **h, gh_tensor **c) {
    gh_engine *e = g->e;
    gh_tensor *x = gh_sigmoid(e, gh_embedding(e, g->p[0], 1, gh_labels(e, 1, &token)));
    gh_tensor *gates = gh_add(e, gh_linear(e, x, g->p[1], g->p[3]), gh_linear(e, *h, g->p[2], NULL));
    *h = gh_lstm_cell(e, gates, *c, c);
    gh_tensor *logits = gh_add(e, gh_linear(e, *h, g->p[4], g->p[5]), gh_linear(e, *c, g->p[6], NULL));
    // ENAS: z = C tanh(logits / T), T = 2, C = 2.5
    return gh_scale(e, gh_tanh(e, gh_scale(e, logits, 0.5f)), 2.5f);
}

static gh_tensor *build_controller(graph *g) {
    gh_engine *e = g->e;
    gh_tensor *h = gh_input(e, 2, (int[]){1, CT_H}, NULL), *c = input(g, 0);
    gh_tensor *loss = NULL;
    const int tokens[2] = {CT_V, 2}, chosen[2] = {2, 1};   // start token, then the first choice
    for (int t = 0; t < 2; t++) {
        gh_tensor *z = controller_step(g, tokens[t], &h, &c);
        const int *idx = gh_labels(e, 1, &chosen[t]);
        gh_tensor *term = gh_add(e, gh_scale(e, gh_log_prob(e, z, idx), -1.3f),
                                 gh_scale(e, gh_entropy(e, z), 0.7f));
        loss = loss ? gh_add(e, loss, term) : term;
    }
    return loss;
}

static void test_controller(void) {
    gh_engine *e = make_engine();
    graph g = {.name = "lstm controller (embedding, sigmoid, tanh, log_prob, entropy)", .e = e,
               .build = build_controller, .np = 7, .nin = 1};
    g.p[0] = gh_param(e, 0, "emb", 2, (int[]){CT_V + 1, CT_E}, GH_INIT_KAIMING_UNIFORM, 1);
    g.p[1] = gh_param(e, 0, "lstm.wx", 2, (int[]){4 * CT_H, CT_E}, GH_INIT_KAIMING_UNIFORM, CT_E);
    g.p[2] = gh_param(e, 0, "lstm.wh", 2, (int[]){4 * CT_H, CT_H}, GH_INIT_KAIMING_UNIFORM, CT_H);
    g.p[3] = gh_param(e, 0, "lstm.b", 1, (int[]){4 * CT_H}, GH_INIT_KAIMING_UNIFORM, CT_H);
    g.p[4] = gh_param(e, 0, "out.w", 2, (int[]){CT_V, CT_H}, GH_INIT_KAIMING_UNIFORM, 1);
    g.p[5] = gh_param(e, 0, "out.b", 1, (int[]){CT_V}, GH_INIT_KAIMING_UNIFORM, 1);
    g.p[6] = gh_param(e, 0, "out.wc", 2, (int[]){CT_V, CT_H}, GH_INIT_KAIMING_UNIFORM, 1);
    CHECK_OK(gh_params_alloc(e));
    gh_rng r;
    gh_rng_seed(&r, 16, GH_STREAM_DATA);
    g.in_ndim[0] = 2;
    memcpy(g.in_shape[0], (int[]){1, CT_H, 0, 0}, sizeof g.in_shape[0]);
    g.in_host[0] = randn(&r, CT_H, 1.0);
    check_graph(&g, 2e-3, 1e-3, 3e-2);
    free(g.in_host[0]);
    gh_engine_destroy(e);
}

// gh_categorical_sample: backend indices, the same as the kernel's for the seed, no tape entry;
// the engine refuses what the kernels refuse, naming the op
static void test_sample_op(void) {
    gh_engine *e = make_engine();
    gh_step_begin(e);
    const float lg[2 * 3] = {0.1f, 2.0f, -1.0f, 0.0f, 0.0f, 3.0f};
    gh_tensor *x = gh_input(e, 2, (int[]){2, 3}, lg);
    int got[2] = {-1, -1}, want[2];
    const int *idx = gh_categorical_sample(e, x, 2.0f, 1.5f, 31, got);
    CHECK(idx != NULL);
    CHECK_OK(categorical_sample_ref(NULL, 2, 3, lg, 2.0f, 1.5f, 31, want, NULL, NULL));
    CHECK_MSG(got[0] == want[0] && got[1] == want[1], "sampled %d %d, kernel %d %d", got[0],
              got[1], want[0], want[1]);
    CHECK(idx && idx[0] == got[0] && idx[1] == got[1]);   // REF: backend memory is host memory
    CHECK(gh_categorical_sample(e, x, 0.0f, 0.0f, 31, NULL) == NULL);
    CHECK_MSG(strstr(gh_error_get(), "temperature") != NULL, "message: %s", gh_error_get());
    gh_step_begin(e);
    gh_tensor *t = gh_input(e, 2, (int[]){3, 2}, NULL);
    CHECK(gh_embedding(e, t, 1, gh_labels(e, 1, (int[]){3})) == NULL);
    CHECK_MSG(strstr(gh_error_get(), "idx[0] = 3") != NULL, "message: %s", gh_error_get());
    gh_step_begin(e);
    t = gh_input(e, 2, (int[]){2, 8}, NULL);
    gh_tensor *cp = gh_input(e, 2, (int[]){2, 3}, NULL), *c = NULL;
    CHECK(gh_lstm_cell(e, t, cp, &c) == NULL && c == NULL);
    CHECK_MSG(strstr(gh_error_get(), "lstm_cell") != NULL, "message: %s", gh_error_get());
    gh_engine_destroy(e);
}

// ---- dropout and drop-path: backward uses the forward's mask; masks change per step -----------

static void test_dropout(void) {
    gh_engine *e = make_engine();
    gh_tensor *w = gh_param(e, 0, "fc.w", 2, (int[]){3, 64}, GH_INIT_KAIMING_UNIFORM, 64);
    CHECK_OK(gh_params_alloc(e));
    gh_rng r;
    gh_rng_seed(&r, 15, GH_STREAM_DATA);
    float *xh = randn(&r, 4 * 64, 1.0);
    int labels[4] = {0, 1, 2, 1};
    const float p = 0.3f;
    float first_mask[4 * 64];
    for (int step = 0; step < 2; step++) {
        gh_step_begin(e);
        gh_set_training(e, 1);
        gh_tensor *x = gh_input(e, 4, (int[]){4, 4, 4, 4}, xh);
        x->requires_grad = 1;
        gh_tensor *y = gh_dropout(e, x, p);
        gh_tensor *z = gh_droppath(e, y, 0.5f);
        gh_tensor *loss = gh_xent(e, gh_linear(e, gh_flatten(e, z), w, NULL),
                                  gh_labels(e, 4, labels), 0.0f, NULL);
        CHECK_OK(gh_backward(e, loss));
        int kept = 0, bad = 0;
        for (int i = 0; i < 4 * 64; i++) {
            int on = y->data[i] != 0.0f;
            kept += on;
            float expect_y = on ? xh[i] / (1.0f - p) : 0.0f;
            float expect_dx = on ? y->grad[i] / (1.0f - p) : 0.0f;
            if (fabsf(y->data[i] - expect_y) > 1e-6f * (1 + fabsf(expect_y))) bad++;
            if (fabsf(x->grad[i] - expect_dx) > 1e-6f * (1 + fabsf(expect_dx))) bad++;
            if (step == 0) first_mask[i] = (float)on;
        }
        CHECK_MSG(bad == 0, "dropout step %d: %d elements disagree with the mask", step, bad);
        CHECK_MSG(kept > 256 * 0.55 && kept < 256 * 0.85, "dropout kept %d of 256 at p=0.3",
                  kept);
        // drop-path: per sample, all or nothing
        for (int s = 0; s < 4; s++) {
            int nz = 0, on = 0;
            for (int i = 0; i < 64; i++) {
                nz += y->data[s * 64 + i] != 0.0f;
                on += z->data[s * 64 + i] != 0.0f;
            }
            CHECK_MSG(on == 0 || on == nz, "drop-path sample %d: %d of %d kept", s, on, nz);
        }
        if (step == 1) {
            int same = 0;
            for (int i = 0; i < 4 * 64; i++) same += first_mask[i] == (float)(y->data[i] != 0);
            CHECK_MSG(same < 4 * 64, "dropout mask identical in two steps");
        }
    }
    // eval mode: identity
    gh_step_begin(e);
    gh_set_training(e, 0);
    gh_tensor *x = gh_input(e, 2, (int[]){4, 64}, xh);
    CHECK(gh_dropout(e, x, p) == x);
    CHECK(gh_droppath(e, x, p) == x);
    free(xh);
    gh_engine_destroy(e);

    // the same seed gives the same masks
    gh_engine *a = make_engine(), *b = make_engine();
    CHECK(gh_engine_dropout_seed(a) == gh_engine_dropout_seed(b));
    gh_step_begin(a);
    gh_step_begin(b);
    CHECK(gh_engine_dropout_seed(a) == gh_engine_dropout_seed(b));
    uint64_t s1 = gh_engine_dropout_seed(a);
    gh_step_begin(a);
    CHECK(gh_engine_dropout_seed(a) != s1);
    gh_engine_destroy(a);
    gh_engine_destroy(b);
}

int main(void) {
    test_cnn();
    test_wsum();
    test_wiring();
    test_grouped();
    test_dropout();
    test_controller();
    test_sample_op();
    return check_done("test_autograd");
}
