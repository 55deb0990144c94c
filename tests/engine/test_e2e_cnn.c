// tests/engine: a small CNN learns a synthetic, seeded task on the CPU backend in seconds:
// 16x16 noisy stripe images whose class is the stripe orientation (horizontal, vertical,
// diagonal, anti-diagonal) with random frequency and phase. It must reach >= 95% held-out
// accuracy in eval mode (running batch-norm statistics), and two runs with the same seed in
// deterministic mode must give bit-identical losses.
#include <string.h>

#include "check.h"
#include "engine/engine.h"

enum { S = 16, CLASSES = 4, BATCH = 32, STEPS = 150, TEST_N = 512 };

static void make_data(float *x, int *y, int n, uint64_t seed) {
    gh_rng r;
    gh_rng_seed(&r, seed, GH_STREAM_DATA);
    for (int k = 0; k < n; k++) {
        int c = (int)gh_rng_below(&r, CLASSES);
        double f = 2.0 + (double)gh_rng_below(&r, 2);        // 2 or 3 periods per image
        double phase = 6.283185307179586 * gh_rng_uniform(&r);
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                double u = c == 0 ? i : c == 1 ? j : c == 2 ? i + j : i - j;
                double v = sin(6.283185307179586 * f * u / S + phase);
                x[(size_t)k * S * S + i * S + j] = (float)(v + 0.5 * gh_rng_normal(&r));
            }
        y[k] = c;
    }
}

typedef struct {
    gh_tensor *w1, *g1, *b1, *m1, *v1, *w2, *g2, *b2, *m2, *v2, *fw, *fb;
} net;

static int declare(gh_engine *e, net *m) {
    m->w1 = gh_param(e, 0, "c1.w", 4, (int[]){8, 1, 3, 3}, GH_INIT_KAIMING_UNIFORM, 9);
    m->g1 = gh_param(e, 0, "bn1.g", 1, (int[]){8}, GH_INIT_ONE, 0);
    m->b1 = gh_param(e, 0, "bn1.b", 1, (int[]){8}, GH_INIT_ZERO, 0);
    m->m1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.mean", 1, (int[]){8}, GH_INIT_ZERO, 0);
    m->v1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.var", 1, (int[]){8}, GH_INIT_ONE, 0);
    m->w2 = gh_param(e, 0, "c2.w", 4, (int[]){16, 8, 3, 3}, GH_INIT_KAIMING_UNIFORM, 72);
    m->g2 = gh_param(e, 0, "bn2.g", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->b2 = gh_param(e, 0, "bn2.b", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->m2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.mean", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->v2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.var", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->fw = gh_param(e, 0, "fc.w", 2, (int[]){CLASSES, 16}, GH_INIT_KAIMING_UNIFORM, 16);
    m->fb = gh_param(e, 0, "fc.b", 1, (int[]){CLASSES}, GH_INIT_KAIMING_UNIFORM, 16);
    return gh_params_alloc(e);
}

static gh_tensor *forward(gh_engine *e, const net *m, const float *x, const int *y, int n,
                          int *correct) {
    gh_tensor *h = gh_input(e, 4, (int[]){n, 1, S, S}, x);
    h = gh_conv2d(e, h, m->w1, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g1, m->b1, m->m1, m->v1, 1e-5f, 0.1f));
    h = gh_maxpool(e, h, 2, 2, 0);
    h = gh_conv2d(e, h, m->w2, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g2, m->b2, m->m2, m->v2, 1e-5f, 0.1f));
    gh_tensor *logits = gh_linear(e, gh_global_avgpool(e, h), m->fw, m->fb);
    return gh_xent(e, logits, gh_labels(e, n, y), 0.0f, correct);
}

// Trains STEPS steps; losses[STEPS] receives each step's loss; returns test accuracy or -1.
static double train(uint64_t seed, float *losses) {
    gh_engine *e;
    gh_engine_config cfg = {.backend = GH_BACKEND_CPU, .arena_bytes = 32 << 20,
                            .deterministic = 1, .seed = seed};
    if (gh_engine_create(&e, &cfg)) return -1;
    net m;
    double acc = -1;
    float *x = malloc((size_t)BATCH * S * S * sizeof(float));
    float *tx = malloc((size_t)TEST_N * S * S * sizeof(float));
    int y[BATCH], ty[TEST_N];
    if (declare(e, &m)) goto done;
    for (int s = 0; s < STEPS; s++) {
        make_data(x, y, BATCH, seed * 1000 + (uint64_t)s);
        gh_step_begin(e);
        gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
        gh_tensor *loss = forward(e, &m, x, y, BATCH, NULL);
        losses[s] = gh_scalar(e, loss);
        // cosine decay to zero: the last steps settle the running statistics
        float lr = 0.05f * (1.0f + cosf(3.14159265f * (float)s / STEPS));
        if (gh_backward(e, loss) || gh_sgd_step(e, GH_GROUP_WEIGHTS, lr, 0.9f, 1e-4f)) {
            fprintf(stderr, "step %d: %s\n", s, gh_error_get());
            goto done;
        }
    }
    make_data(tx, ty, TEST_N, seed + 999);
    gh_step_begin(e);
    gh_set_training(e, 0);
    gh_set_grad_enabled(e, 0);
    int correct = 0;
    if (!forward(e, &m, tx, ty, TEST_N, &correct)) goto done;
    acc = (double)correct / TEST_N;
done:
    free(x);
    free(tx);
    gh_engine_destroy(e);
    return acc;
}

int main(void) {
    float l1[STEPS], l2[STEPS];
    double t0 = gh_wall_seconds();
    double acc1 = train(5, l1);
    double t1 = gh_wall_seconds();
    double acc2 = train(5, l2);
    printf("first loss %.4f, last loss %.4f, held-out accuracy %.2f%% (%d steps of %d, %.2f s)\n",
           l1[0], l1[STEPS - 1], 100 * acc1, STEPS, BATCH, t1 - t0);
    CHECK_MSG(acc1 >= 0.95, "held-out accuracy %.3f < 0.95", acc1);
    CHECK_MSG(l1[STEPS - 1] < 0.5f * l1[0], "loss %.4f -> %.4f did not halve", l1[0],
              l1[STEPS - 1]);
    CHECK_MSG(memcmp(l1, l2, sizeof l1) == 0, "two runs with seed 5 differ in their losses");
    CHECK(acc1 == acc2);
    return check_done("test_e2e_cnn");
}
