// SGD and Adam, _ref and _cpu, against a hand-written double-precision recurrence of
// torch.optim's update rules over several steps with fresh gradients each step, plus Adam's
// closed-form first step (p1 = p0 - lr sign(g) when wd = 0 and |g| >> eps).
#include <omp.h>

#include "ktest.h"

#define N 40009   // above the OpenMP threshold, so the _cpu loop runs threaded
#define STEPS 6

typedef int (*sgd_fn)(const kctx *, size_t, float *, const float *, float *, float, float, float);
typedef int (*adam_fn)(const kctx *, size_t, float *, const float *, float *, float *, float,
                       float, float, float, float, int);

static void check_sgd(const char *name, sgd_fn step, float lr, float momentum, float wd) {
    gh_rng rng;
    gh_rng_seed(&rng, 3, GH_STREAM_INIT);
    float *p = kt_rand(&rng, N, -1, 1), *mom = kt_alloc(N), *g = kt_alloc(N);
    double *pd = malloc(sizeof(double) * N), *md = calloc(N, sizeof(double));
    for (size_t i = 0; i < N; i++) pd[i] = p[i];
    for (int t = 1; t <= STEPS; t++) {
        kt_fill(&rng, g, N, -1, 1);
        CHECK_OK(step(NULL, N, p, g, momentum != 0.0f ? mom : NULL, lr, momentum, wd));
        for (size_t i = 0; i < N; i++) {   // torch.optim.SGD, dampening 0, no Nesterov
            double d = (double)g[i] + (double)wd * pd[i];
            if (momentum != 0.0f) {
                md[i] = (double)momentum * md[i] + d;
                d = md[i];
            }
            pd[i] -= (double)lr * d;
        }
    }
    float *pw = kt_alloc(N), *mw = kt_alloc(N);
    for (size_t i = 0; i < N; i++) {
        pw[i] = (float)pd[i];
        mw[i] = (float)md[i];
    }
    char what[96];
    snprintf(what, sizeof what, "%s lr %g mom %g wd %g: params", name, lr, momentum, wd);
    CHECK_CLOSE(what, p, pw, N, 1e-6, 1e-5);
    if (momentum != 0.0f) CHECK_CLOSE("  momentum buffer", mom, mw, N, 1e-6, 1e-5);
    free(p); free(mom); free(g); free(pd); free(md); free(pw); free(mw);
}

static void check_adam(const char *name, adam_fn step, float lr, float b1, float b2, float eps,
                       float wd, float gscale) {
    gh_rng rng;
    gh_rng_seed(&rng, 5, GH_STREAM_INIT);
    float *p = kt_rand(&rng, N, -1, 1), *m = kt_alloc(N), *v = kt_alloc(N), *g = kt_alloc(N);
    float *p0 = kt_dup(p, N);
    double *pd = malloc(sizeof(double) * N), *md = calloc(N, sizeof(double));
    double *vd = calloc(N, sizeof(double));
    for (size_t i = 0; i < N; i++) pd[i] = p[i];
    for (int t = 1; t <= STEPS; t++) {
        kt_fill(&rng, g, N, -gscale, gscale);
        CHECK_OK(step(NULL, N, p, g, m, v, lr, b1, b2, eps, wd, t));
        double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
        for (size_t i = 0; i < N; i++) {   // torch.optim.Adam, L2 decay in the gradient
            double gg = (double)g[i] + (double)wd * pd[i];
            md[i] = b1 * md[i] + (1.0 - b1) * gg;
            vd[i] = b2 * vd[i] + (1.0 - b2) * gg * gg;
            pd[i] -= lr / bc1 * md[i] / (sqrt(vd[i]) / sqrt(bc2) + eps);
        }
    }
    // compare the displacement p - p0, so that errors in the small updates are not hidden
    // under the rounding of p itself
    float *dp = kt_alloc(N), *dpw = kt_alloc(N), *mw = kt_alloc(N), *vw = kt_alloc(N);
    for (size_t i = 0; i < N; i++) {
        dp[i] = (float)((double)p[i] - p0[i]);
        dpw[i] = (float)(pd[i] - p0[i]);
        mw[i] = (float)md[i];
        vw[i] = (float)vd[i];
    }
    char what[128];
    snprintf(what, sizeof what, "%s lr %g betas %g,%g wd %g |g|<%g: p - p0", name, lr, b1, b2, wd, gscale);
    // p is rounded to fp32 after each step: 2^-24 |p| per step against displacements ~STEPS lr
    double atol = STEPS * 6e-8 * 2.0;
    CHECK_CLOSE(what, dp, dpw, N, atol, 1e-4);
    CHECK_CLOSE("  first moment", m, mw, N, 1e-7 * gscale, 1e-5);
    CHECK_CLOSE("  second moment", v, vw, N, 1e-7 * gscale * gscale, 1e-5);
    free(p); free(m); free(v); free(g); free(p0); free(pd); free(md); free(vd); free(dp); free(dpw);
    free(mw); free(vw);
}

static void check_adam_first_step(const char *name, adam_fn step) {
    float p[4] = {0.5f, -0.25f, 1.0f, 0.0f}, g[4] = {0.3f, -2.0f, 1e-3f, -0.7f};
    float m[4] = {0}, v[4] = {0}, want[4];
    float lr = 0.01f;
    for (int i = 0; i < 4; i++) want[i] = p[i] - lr * (g[i] > 0 ? 1.0f : -1.0f);
    CHECK_OK(step(NULL, 4, p, g, m, v, lr, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
    char what[64];
    snprintf(what, sizeof what, "%s first step = -lr sign(g)", name);
    CHECK_CLOSE(what, p, want, 4, 1e-6, 0.0);
}

int main(void) {
    omp_set_num_threads(2);
    for (int cpu = 0; cpu < 2; cpu++) {
        const char *name = cpu ? "sgd_step_cpu" : "sgd_step_ref";
        sgd_fn s = cpu ? sgd_step_cpu : sgd_step_ref;
        check_sgd(name, s, 0.025f, 0.9f, 3e-4f);   // DARTS weights
        check_sgd(name, s, 0.1f, 0.0f, 0.0f);
        check_sgd(name, s, 0.05f, 0.9f, 0.0f);
        const char *aname = cpu ? "adam_step_cpu" : "adam_step_ref";
        adam_fn a = cpu ? adam_step_cpu : adam_step_ref;
        check_adam(aname, a, 3e-4f, 0.5f, 0.999f, 1e-8f, 1e-3f, 1.0f);   // DARTS architecture
        check_adam(aname, a, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f);
        check_adam(aname, a, 1e-2f, 0.9f, 0.999f, 1e-3f, 1e-2f, 1e-3f);  // eps comparable to g
        check_adam_first_step(aname, a);
    }
    return check_done("test_kernels_optim");
}
