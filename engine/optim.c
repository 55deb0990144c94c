// engine: optimizers over a group's flat buffer (SGD with momentum, Adam; PyTorch semantics
// in the kernels), gradient-norm clipping and the vector helpers that whole-group algorithms
// (the DARTS unrolled step, Hessian-vector products) are written with.
#include <math.h>

#include "engine_internal.h"

// The optimizer state of a group is created zeroed on first use: n floats for SGD momentum,
// 2n (m then v) for Adam. Switching optimizer on a group starts a fresh state.
static float *opt_state(gh_engine *e, int group, int kind, const char *fn) {
    if (e->opt_kind[group] == kind && e->opt_state[group]) return e->opt_state[group];
    dev_free(e, e->opt_state[group]);
    e->opt_state[group] = NULL;
    e->opt_kind[group] = OPT_NONE;
    size_t n = e->group_numel[group] * (kind == OPT_ADAM ? 2 : 1);
    void *p = NULL;
    int st = dev_alloc(e, &p, n * sizeof(float));
    if (!st) st = dev_zero(e, p, n * sizeof(float));
    if (st) {
        dev_free(e, p);
        eng_fail(e, st, "%s: optimizer state of %zu floats: %s", fn, n, gh_error_get());
        return NULL;
    }
    e->opt_state[group] = p;
    e->opt_kind[group] = kind;
    e->adam_t[group] = 0;
    return p;
}

// An update is refused while the step has a recorded failure (a NaN loss, a failed op): the
// gradients may be partial, and the caller decides what to do.
static int group_ready(gh_engine *e, const char *fn, int group) {
    if (e->status) return 0;
    if (!group_valid(e, fn, group)) return 0;
    if (!e->params_allocated)
        return !eng_fail(e, GH_EINVAL, "%s: parameters not allocated (gh_params_alloc)", fn);
    if (group == GH_GROUP_BUFFERS)
        return !eng_fail(e, GH_EINVAL, "%s: the buffers group has no gradient", fn);
    return 1;
}

int gh_sgd_step(gh_engine *e, int group, float lr, float momentum, float wd) {
    if (!group_ready(e, "sgd_step", group)) return e->status;
    size_t n = e->group_numel[group];
    if (n == 0) return GH_OK;
    float *mom = NULL;
    if (momentum != 0.0f && !(mom = opt_state(e, group, OPT_SGD, "sgd_step"))) return e->status;
    return KCALL(e, sgd_step, n, e->group_data[group], e->group_grad[group], mom, lr, momentum,
                 wd);
}

int gh_adam_step(gh_engine *e, int group, float lr, float beta1, float beta2, float eps,
                 float wd) {
    if (!group_ready(e, "adam_step", group)) return e->status;
    size_t n = e->group_numel[group];
    if (n == 0) return GH_OK;
    float *s = opt_state(e, group, OPT_ADAM, "adam_step");
    if (!s) return e->status;
    int t = ++e->adam_t[group];
    return KCALL(e, adam_step, n, e->group_data[group], e->group_grad[group], s, s + n, lr,
                 beta1, beta2, eps, wd, t);
}

float *gh_group_momentum(gh_engine *e, int group) {
    if (!group_valid(e, "group_momentum", group)) return NULL;
    return e->opt_state[group];
}

// Workspace for norm2 (CUDA block partials) grown to what n needs.
static int norm_ws(gh_engine *e, size_t n) {
    size_t floats = 0;
    if (KCALL(e, norm2_ws, n, &floats)) return e->status;
    return dev_ws(e, floats);
}

int gh_clip_grad_norm(gh_engine *e, int group, float max_norm, double *norm_out) {
    if (norm_out) *norm_out = NAN;
    if (!group_ready(e, "clip_grad_norm", group)) return e->status;
    size_t n = e->group_numel[group];
    if (n == 0) {
        if (norm_out) *norm_out = 0.0;
        return GH_OK;
    }
    float *g = e->group_grad[group];
    double *norm = &e->dstate->tmp[0];
    if (norm_ws(e, n) || KCALL(e, norm2, n, g, norm)) return e->status;
    if (norm_out) {
        // the caller asked for the norm: one read, and a non-finite norm reported at once
        if (eng_check(e, dev_d2h(e, norm_out, norm, sizeof *norm_out))) return e->status;
        if (!isfinite(*norm_out))
            return eng_fail(e, GH_ENAN, "clip_grad_norm: gradient norm of group %d is %g", group,
                            *norm_out);
    }
    // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied when < 1,
    // computed by the kernel from the norm in backend memory
    return KCALL(e, clip_by_norm, n, norm, max_norm, g);
}

int gh_vec_axpy(gh_engine *e, size_t n, float alpha, const float *x, float *y) {
    return n ? KCALL(e, axpy, n, alpha, x, y) : GH_OK;
}

int gh_vec_copy(gh_engine *e, size_t n, const float *src, float *dst) {
    return eng_check(e, dev_d2d(e, dst, src, n * sizeof(float)));
}

int gh_vec_scale(gh_engine *e, size_t n, float alpha, float *x) {
    return n ? KCALL(e, scale, n, alpha, x) : GH_OK;
}

double gh_vec_norm(gh_engine *e, size_t n, const float *x) {
    double *norm = &e->dstate->tmp[0], v = NAN;
    if (gh_vec_norm_dev(e, n, x, norm) || eng_check(e, dev_d2h(e, &v, norm, sizeof v))) return NAN;
    return v;
}

// ---- device scalars ----------------------------------------------------------------------------

double *gh_buffer_f64(gh_engine *e, size_t n) { return (double *)gh_buffer(e, 2 * n); }

int gh_vec_norm_dev(gh_engine *e, size_t n, const float *x, double *dev_out) {
    if (!dev_out) return eng_fail(e, GH_EINVAL, "vec_norm_dev: dev_out is NULL");
    if (norm_ws(e, n)) return e->status;
    return KCALL(e, norm2, n, x, dev_out);
}

static int power_ok(gh_engine *e, const char *fn, const double *dev_s, int power) {
    if (!dev_s) return !eng_fail(e, GH_EINVAL, "%s: dev_s is NULL", fn);
    if (power != 1 && power != -1)
        return !eng_fail(e, GH_EINVAL, "%s: power %d (expected 1 or -1)", fn, power);
    return 1;
}

int gh_dev_scalar(gh_engine *e, double alpha, const double *dev_s, int power, double *dev_out) {
    if (!power_ok(e, "dev_scalar", dev_s, power)) return e->status;
    if (!dev_out) return eng_fail(e, GH_EINVAL, "dev_scalar: dev_out is NULL");
    return KCALL(e, scalar_pow, alpha, dev_s, power, dev_out);
}

int gh_vec_axpy_dev(gh_engine *e, size_t n, double alpha, const double *dev_s, int power,
                    const float *x, float *y) {
    if (!power_ok(e, "vec_axpy_dev", dev_s, power)) return e->status;
    return n ? KCALL(e, axpy_dev, n, alpha, dev_s, power, x, y) : GH_OK;
}

int gh_vec_scale_dev(gh_engine *e, size_t n, double alpha, const double *dev_s, int power,
                     float *x) {
    if (!power_ok(e, "vec_scale_dev", dev_s, power)) return e->status;
    return n ? KCALL(e, scale_dev, n, alpha, dev_s, power, x) : GH_OK;
}
