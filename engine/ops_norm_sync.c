// engine: synchronized batch norm (data parallel): the training forward and backward of
// ops_norm.c with the statistics of the global batch, N replicas at batch b computing what one
// engine at batch N b computes. Built from the batch-norm kernels as they are (no kernel calls
// MPI): the per-channel sums come from bn_bwd with dy = x, the normalisation from bn_fwd_eval
// with the global mean and variance, and the host sums them over the replicas through
// e->bn_sync (gh_set_bn_sync; dist provides it, the engine never calls upward).
#include <math.h>
#include <stdlib.h>

#include "engine_internal.h"

void gh_set_bn_sync(gh_engine *e, gh_bn_sync_fn fn, void *ctx) {
    e->bn_sync = fn;
    e->bn_sync_ctx = ctx;
}

// c floats of backend memory set to v (arena; the caller releases them)
static float *bn_const(gh_engine *e, int c, float v) {
    float *p = arena_alloc(e, "batchnorm (sync)", (size_t)c * sizeof(float));
    if (p && KCALL(e, fill, (size_t)c, v, p)) return NULL;
    return p;
}

// n host doubles summed over the replicas; a failure becomes the engine's status
static int bn_allsum(gh_engine *e, double *buf, size_t n) {
    int st = e->bn_sync(e->bn_sync_ctx, buf, n);
    return st ? eng_fail(e, st, "batchnorm (sync): the all-reduce of %zu per-channel sums "
                         "failed: %s", n, gh_error_get()) : GH_OK;
}

// Floats of backend memory to host doubles and back (c values).
static int bn_get(gh_engine *e, double *dst, const float *src, int c, float *tmp) {
    if (dev_d2h(e, tmp, src, (size_t)c * sizeof(float))) return e->status ? e->status : GH_EIO;
    for (int i = 0; i < c; i++) dst[i] = tmp[i];
    return GH_OK;
}
static int bn_put(gh_engine *e, float *dst, const double *src, int c, float *tmp) {
    for (int i = 0; i < c; i++) tmp[i] = (float)src[i];
    return eng_check(e, dev_h2d(e, dst, tmp, (size_t)c * sizeof(float)));
}

// The forward. With m the local count (n hw) and M the global one:
//   pass 1: bn_bwd(dy = x, mean 0, invstd 1) gives S = sum x per channel; G = sum_r S_r / M.
//   pass 2: bn_bwd(dy = x, mean G, invstd 1) gives D = sum x^2 - G sum x, so that
//           sum (x - G)^2 = D - G (S - m G): the squared deviations about the global mean,
//           summed over the replicas with no E[x^2] - mean^2 cancellation (the two-pass
//           variance the kernels use), var = that / M (biased: it normalises).
//   y = bn_fwd_eval(x; G, var), which is (x - G) / sqrt(var + eps) gamma + beta.
// Running statistics as bn_fwd_train updates them, the variance unbiased (M - 1).
int bn_sync_fwd(gh_engine *e, const bn_shape *sh, const float *x, const float *gamma,
                const float *beta, float *y, float *save_mean, float *save_invstd,
                float *run_mean, float *run_var) {
    if (e->dry || e->status) return e->status;   // gh_forward_plan's pass touches nothing
    int c = sh->c;
    size_t cb = (size_t)c * sizeof(float);
    double m = (double)sh->n * sh->hw;
    double *h = malloc(sizeof(double) * (4 * (size_t)c + 1));
    float *tmp = malloc(cb);
    float *zero = bn_const(e, c, 0.0f), *one = zero ? bn_const(e, c, 1.0f) : NULL;
    float *s = one ? bn_const(e, c, 0.0f) : NULL, *d = s ? bn_const(e, c, 0.0f) : NULL;
    float *var = d ? arena_alloc(e, "batchnorm (sync)", cb) : NULL;
    if (!h || !tmp) eng_fail(e, GH_ENOMEM, "batchnorm (sync): no host memory for %d channels", c);
    if (e->status || !var) goto done;
    double *S = h, *G = h + c, *Q = h + 2 * c, *V = h + 3 * c;
    // pass 1: local sums and count, summed over the replicas
    if (KCALL(e, bn_bwd, sh, x, NULL, zero, one, x, NULL, NULL, s) || bn_get(e, S, s, c, tmp))
        goto done;
    S[c] = m;
    if (bn_allsum(e, S, (size_t)c + 1)) goto done;
    double mg = S[c];
    if (mg < 2) {
        eng_fail(e, GH_EINVAL, "batchnorm (sync): %g values per channel over the replicas: no "
                 "batch variance", mg);
        goto done;
    }
    for (int i = 0; i < c; i++) G[i] = (float)(S[i] / mg);   // the mean as the kernels keep it
    if (bn_put(e, save_mean, G, c, tmp) || KCALL(e, fill, (size_t)c, 0.0f, s)) goto done;
    // pass 2: squared deviations about the global mean
    if (KCALL(e, bn_bwd, sh, x, NULL, save_mean, one, x, NULL, d, s) ||
        bn_get(e, S, s, c, tmp) || bn_get(e, Q, d, c, tmp))
        goto done;
    for (int i = 0; i < c; i++) Q[i] -= G[i] * (S[i] - m * G[i]);
    if (bn_allsum(e, Q, (size_t)c)) goto done;
    for (int i = 0; i < c; i++) {
        if (Q[i] < 0) Q[i] = 0;
        V[i] = Q[i] / mg;
        S[i] = 1.0 / sqrt(V[i] + sh->eps);   // S now holds invstd
    }
    if (bn_put(e, save_invstd, S, c, tmp) || bn_put(e, var, V, c, tmp) ||
        KCALL(e, bn_fwd_eval, sh, x, gamma, beta, save_mean, var, y))
        goto done;
    if (run_mean && run_var) {
        double *rm = S, *rv = V;   // reused: invstd and var are on the backend now
        if (bn_get(e, rm, run_mean, c, tmp) || bn_get(e, rv, run_var, c, tmp)) goto done;
        for (int i = 0; i < c; i++) {
            rm[i] = (1.0 - sh->momentum) * rm[i] + sh->momentum * G[i];
            rv[i] = (1.0 - sh->momentum) * rv[i] + sh->momentum * Q[i] / (mg - 1.0);
        }
        if (bn_put(e, run_mean, rm, c, tmp) || bn_put(e, run_var, rv, c, tmp)) goto done;
    }
done:
    // the scratch back to the arena, newest first (the top comes down)
    if (var) arena_release(e, var, cb);
    if (d) arena_release(e, d, cb);
    if (s) arena_release(e, s, cb);
    if (one) arena_release(e, one, cb);
    if (zero) arena_release(e, zero, cb);
    free(h);
    free(tmp);
    return e->status;
}

// The backward. With xhat = (x - G) invstd, sums over the global batch (each replica's local
// sums of dy and dy xhat, summed over the replicas) and M the global count:
//   dx = gamma invstd (dy - sum dy / M - xhat sum(dy xhat) / M) = a dy + b (x - G) + k,
//   a = gamma invstd, b = -a invstd sum(dy xhat) / M, k = -a sum(dy) / M,
// the same as one engine's over the whole batch. Each replica's dy is its own loss's (the mean
// over its part), so these sums are N times the single engine's and so is dx: the gradient
// all-reduce's average takes the factor back out, as it does for every other gradient.
// dgamma and dbeta get the local sums (the parameter gradient of this replica's loss).
// a dy and b (x - G) + k are each one bn_fwd_eval (eps 0, variance 1: invstd exactly 1) into a
// scratch added into dx.
int bn_sync_bwd(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0], *gamma = t->in[1], *beta = t->in[2];
    float *dx = grad_of(e, "batchnorm backward", x);
    float *dg = gamma ? grad_of(e, "batchnorm backward", gamma) : NULL;
    float *db = beta ? grad_of(e, "batchnorm backward", beta) : NULL;
    if (e->status) return e->status;
    if (!dx && !dg && !db) return GH_OK;   // every replica skips it alike (same graph)
    bn_shape sh = t->sh.bn;
    int c = sh.c;
    size_t cb = (size_t)c * sizeof(float), numel = (size_t)sh.n * c * sh.hw;
    double *h = malloc(sizeof(double) * (6 * (size_t)c + 1));
    float *tmp = malloc(cb);
    float *sdyx = bn_const(e, c, 0.0f), *sdy = sdyx ? bn_const(e, c, 0.0f) : NULL;
    float *one = sdy ? bn_const(e, c, 1.0f) : NULL, *zero = one ? bn_const(e, c, 0.0f) : NULL;
    float *ka = zero ? arena_alloc(e, "batchnorm backward (sync)", cb) : NULL;
    float *kb = ka ? arena_alloc(e, "batchnorm backward (sync)", cb) : NULL;
    float *kk = kb ? arena_alloc(e, "batchnorm backward (sync)", cb) : NULL;
    float *scr = kk && dx ? arena_alloc(e, "batchnorm backward (sync)", numel * sizeof(float))
                          : NULL;
    if (!h || !tmp) eng_fail(e, GH_ENOMEM, "batchnorm (sync): no host memory for %d channels", c);
    if (e->status || !kk || (dx && !scr)) goto done;
    double *sum = h, *A = h + 2 * c + 1, *Bc = h + 3 * c + 1, *Kc = h + 4 * c + 1;
    double *inv = h + 5 * c + 1;   // c more: the saved invstd
    // (the kernel workspace is already sized for this shape: the forward grew it)
    if (KCALL(e, bn_bwd, &sh, x->data, NULL, t->save[0], t->save[1], t->out->grad, NULL, sdyx,
              sdy))
        goto done;
    if ((dg && KCALL(e, axpy, (size_t)c, 1.0f, sdyx, dg)) ||
        (db && KCALL(e, axpy, (size_t)c, 1.0f, sdy, db)))
        goto done;
    if (!dx) goto done;   // the sums are needed only for dx (every replica alike)
    if (bn_get(e, sum, sdy, c, tmp) || bn_get(e, sum + c, sdyx, c, tmp) ||
        bn_get(e, inv, t->save[1], c, tmp))
        goto done;
    sum[2 * c] = (double)sh.n * sh.hw;
    if (bn_allsum(e, sum, 2 * (size_t)c + 1)) goto done;
    double mg = sum[2 * c];
    for (int i = 0; i < c; i++) A[i] = 1.0;
    if (gamma && bn_get(e, A, gamma->data, c, tmp)) goto done;
    for (int i = 0; i < c; i++) {
        A[i] *= inv[i];
        Bc[i] = -A[i] * inv[i] * sum[c + i] / mg;
        Kc[i] = -A[i] * sum[i] / mg;
    }
    bn_shape unit = sh;
    unit.eps = 0.0f;
    if (bn_put(e, ka, A, c, tmp) || bn_put(e, kb, Bc, c, tmp) || bn_put(e, kk, Kc, c, tmp) ||
        KCALL(e, bn_fwd_eval, &unit, t->out->grad, ka, NULL, zero, one, scr) ||
        KCALL(e, axpy, numel, 1.0f, scr, dx) ||
        KCALL(e, bn_fwd_eval, &unit, x->data, kb, kk, t->save[0], one, scr) ||
        KCALL(e, axpy, numel, 1.0f, scr, dx))
        goto done;
done:
    if (scr) arena_release(e, scr, numel * sizeof(float));
    if (kk) arena_release(e, kk, cb);
    if (kb) arena_release(e, kb, cb);
    if (ka) arena_release(e, ka, cb);
    if (zero) arena_release(e, zero, cb);
    if (one) arena_release(e, one, cb);
    if (sdy) arena_release(e, sdy, cb);
    if (sdyx) arena_release(e, sdyx, cb);
    free(h);
    free(tmp);
    return e->status;
}
