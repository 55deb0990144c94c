// Parameter updates on the host with torch.optim semantics, so that published
// hyperparameters carry over: SGD with momentum (no dampening, no Nesterov) and Adam (Kingma &
// Ba 2015, alg. 1, with torch's L2 weight decay added to the gradient and its bias-corrected
// denominator sqrt(v)/sqrt(1-beta2^t) + eps). The _cpu versions are the same float arithmetic,
// vectorised and split over threads, so both agree bit for bit.
#include <math.h>

#include "cpu.h"

static int sgd_check(const char *op, size_t n, float *p, const float *g, float *mom, float lr,
                     float momentum, float wd) {
    if (!isfinite(lr) || !(momentum >= 0.0f) || !isfinite(momentum) || !isfinite(wd))
        return gh_fail(GH_EINVAL, "%s: lr %g, momentum %g (must be >= 0), weight decay %g must "
                       "be finite", op, lr, momentum, wd);
    if (n && (!p || !g)) return gh_fail(GH_EINVAL, "%s: parameters or gradient are NULL", op);
    if (n && momentum != 0.0f && !mom)
        return gh_fail(GH_EINVAL, "%s: momentum %g needs a momentum buffer, got NULL", op, momentum);
    return GH_OK;
}

static int adam_check(const char *op, size_t n, float *p, const float *g, float *m, float *v,
                      float lr, float beta1, float beta2, float eps, float wd, int t) {
    if (!isfinite(lr) || !(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) ||
        !(eps >= 0.0f) || !isfinite(eps) || !isfinite(wd) || t < 1)
        return gh_fail(GH_EINVAL, "%s: lr %g, betas (%g, %g) in [0, 1), eps %g >= 0, weight decay "
                       "%g, step %d >= 1 expected", op, lr, beta1, beta2, eps, wd, t);
    if (n && (!p || !g || !m || !v))
        return gh_fail(GH_EINVAL, "%s: parameters, gradient or moment buffers are NULL", op);
    return GH_OK;
}

// The constants of step t, computed in double as torch does in Python, then used in float.
typedef struct {
    float b1, b2, c1, c2;      // beta1, beta2, 1 - beta1, 1 - beta2
    float step_size;           // lr / (1 - beta1^t)
    float bc2_sqrt;            // sqrt(1 - beta2^t)
} adam_consts;

static adam_consts adam_setup(float lr, float beta1, float beta2, int t) {
    adam_consts k;
    k.b1 = beta1;
    k.b2 = beta2;
    k.c1 = (float)(1.0 - (double)beta1);
    k.c2 = (float)(1.0 - (double)beta2);
    k.step_size = (float)((double)lr / (1.0 - pow((double)beta1, t)));
    k.bc2_sqrt = (float)sqrt(1.0 - pow((double)beta2, t));
    return k;
}

// One element; shared by both versions so that they agree exactly.
static inline void adam_one(const adam_consts *k, float eps, float wd, float *p, float g, float *m,
                            float *v) {
    g = g + wd * *p;
    *m = *m * k->b1 + g * k->c1;
    *v = *v * k->b2 + g * g * k->c2;
    float denom = sqrtf(*v) / k->bc2_sqrt + eps;
    *p = *p - k->step_size * (*m / denom);
}

int sgd_step_ref(const kctx *ctx, size_t n, float *p, const float *g, float *mom, float lr,
                 float momentum, float wd) {
    (void)ctx;
    int st = sgd_check("sgd_step_ref", n, p, g, mom, lr, momentum, wd);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (momentum != 0.0f) {
            mom[i] = momentum * mom[i] + d;
            d = mom[i];
        }
        p[i] = p[i] - lr * d;
    }
    return GH_OK;
}

int adam_step_ref(const kctx *ctx, size_t n, float *p, const float *g, float *m, float *v, float lr,
                  float beta1, float beta2, float eps, float wd, int t) {
    (void)ctx;
    int st = adam_check("adam_step_ref", n, p, g, m, v, lr, beta1, beta2, eps, wd, t);
    if (st) return st;
    adam_consts k = adam_setup(lr, beta1, beta2, t);
    for (size_t i = 0; i < n; i++) adam_one(&k, eps, wd, &p[i], g[i], &m[i], &v[i]);
    return GH_OK;
}

GH_CPU_CLONES
static void sgd_loop(size_t n, float *restrict p, const float *restrict g, float *restrict mom,
                     float lr, float momentum, float wd) {
    if (momentum != 0.0f) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            mom[i] = momentum * mom[i] + d;
            p[i] = p[i] - lr * mom[i];
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
        for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * (g[i] + wd * p[i]);
    }
}

int sgd_step_cpu(const kctx *ctx, size_t n, float *p, const float *g, float *mom, float lr,
                 float momentum, float wd) {
    (void)ctx;
    int st = sgd_check("sgd_step_cpu", n, p, g, mom, lr, momentum, wd);
    if (st) return st;
    if (n) sgd_loop(n, p, g, mom, lr, momentum, wd);
    return GH_OK;
}

GH_CPU_CLONES
static void adam_loop(size_t n, const adam_consts *k, float eps, float wd, float *restrict p,
                      const float *restrict g, float *restrict m, float *restrict v) {
#pragma omp parallel for simd schedule(static) if (n >= GH_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) adam_one(k, eps, wd, &p[i], g[i], &m[i], &v[i]);
}

int adam_step_cpu(const kctx *ctx, size_t n, float *p, const float *g, float *m, float *v, float lr,
                  float beta1, float beta2, float eps, float wd, int t) {
    (void)ctx;
    int st = adam_check("adam_step_cpu", n, p, g, m, v, lr, beta1, beta2, eps, wd, t);
    if (st) return st;
    adam_consts k = adam_setup(lr, beta1, beta2, t);
    if (n) adam_loop(n, &k, eps, wd, p, g, m, v);
    return GH_OK;
}
