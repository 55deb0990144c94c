// engine: the ops that wire cells together: the weighted sum of a DARTS mixed op, channel
// concat and slice, spatial shift (FactorizedReduce's offset path) and flatten (a view).
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"

// ---- wsum: y = sum_i w[i] * xs[i] (Liu et al. 2019, eq. 1 with w = softmax(alpha)) ----------

static int wsum_bwd_entry(gh_engine *e, const tape_entry *t) {
    int k = t->k;
    gh_tensor *w = t->in[0];
    const float **xs = meta_alloc(e, (size_t)k * sizeof *xs);
    float **dxs = meta_alloc(e, (size_t)k * sizeof *dxs);
    if (!xs || !dxs) return e->status;
    int any = 0;
    for (int i = 0; i < k; i++) {
        xs[i] = t->xs[i] ? t->xs[i]->data : NULL;
        dxs[i] = t->xs[i] ? grad_of(e, "wsum backward", t->xs[i]) : NULL;
        any |= dxs[i] != NULL;
    }
    float *dw = grad_of(e, "wsum backward", w);
    if (e->status) return e->status;
    if (!any && !dw) return GH_OK;
    size_t floats = 0;   // CUDA: per-block partials of dw, from the engine workspace
    if (KCALL(e, wsum_bwd_ws, k, t->out->numel, &floats) || dev_ws(e, floats)) return e->status;
    return KCALL(e, wsum_bwd, k, t->out->numel, xs, w->data, t->out->grad, dxs, dw);
}

gh_tensor *gh_wsum(gh_engine *e, int k, gh_tensor *const *xs, gh_tensor *w) {
    if (!op_in(e, "wsum", "w", w)) return NULL;
    if (k <= 0 || k > GH_WSUM_MAX || !xs) {
        eng_fail(e, GH_EINVAL, "wsum: k=%d inputs (1..%d supported)", k, GH_WSUM_MAX);
        return NULL;
    }
    if (w->numel != (size_t)k) {
        eng_fail(e, GH_EINVAL, "wsum: weights %s for k=%d inputs: expected %d elements",
                 shp(w).s, k, k);
        return NULL;
    }
    const gh_tensor *first = NULL;
    for (int i = 0; i < k; i++) {
        if (!xs[i]) continue;  // a "none" op contributes zero
        char what[16];
        snprintf(what, sizeof what, "xs[%d]", i);
        if (!op_in(e, "wsum", what, xs[i])) return NULL;
        if (!first) first = xs[i];
        else if (!same_shape(first, xs[i])) {
            eng_fail(e, GH_EINVAL, "wsum: input %d is %s but an earlier input is %s", i,
                     shp(xs[i]).s, shp(first).s);
            return NULL;
        }
    }
    if (!first) {
        eng_fail(e, GH_EINVAL, "wsum: all %d inputs are NULL: the output shape is unknown", k);
        return NULL;
    }
    gh_tensor **keep = meta_alloc(e, (size_t)(k + 1) * sizeof *keep);
    const float **xd = meta_alloc(e, (size_t)k * sizeof *xd);
    if (!keep || !xd) return NULL;
    for (int i = 0; i < k; i++) {
        keep[i] = xs[i];
        xd[i] = xs[i] ? xs[i]->data : NULL;
    }
    keep[k] = w;
    gh_tensor *y = new_tensor(e, "wsum", first->ndim, first->shape, keep, k + 1);
    if (!y) return NULL;
    if (KCALL(e, wsum_fwd, k, y->numel, xd, w->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "wsum", wsum_bwd_entry, y);
        if (!t) return NULL;
        t->keep = KEEP_IN(0) | KEEP_XS;   // what its backward reads
        t->in[0] = w;
        t->xs = keep;
        t->k = k;
    }
    return y;
}

// ---- concat along channels ------------------------------------------------------------------

// n, and the product of the dimensions after the channel one
static int spatial(const gh_tensor *t) { return t->ndim == 4 ? t->shape[2] * t->shape[3] : 1; }

static int concat_bwd_entry(gh_engine *e, const tape_entry *t) {
    int k = t->k;
    float **dxs = meta_alloc(e, (size_t)k * sizeof *dxs);
    if (!dxs) return e->status;
    int any = 0;
    for (int i = 0; i < k; i++) {
        dxs[i] = grad_of(e, "concat backward", t->xs[i]);
        any |= dxs[i] != NULL;
    }
    if (e->status) return e->status;
    if (!any) return GH_OK;
    const gh_tensor *y = t->out;
    return KCALL(e, concat_bwd, y->shape[0], spatial(y), k, t->ints, y->grad, dxs);
}

gh_tensor *gh_concat(gh_engine *e, int k, gh_tensor *const *xs) {
    if (k <= 0 || !xs) {
        eng_fail(e, GH_EINVAL, "concat: k=%d inputs", k);
        return NULL;
    }
    for (int i = 0; i < k; i++) {
        char what[16];
        snprintf(what, sizeof what, "xs[%d]", i);
        if (!op_in(e, "concat", what, xs[i])) return NULL;
    }
    const gh_tensor *a = xs[0];
    if (a->ndim != 4 && a->ndim != 2) {
        eng_fail(e, GH_EINVAL, "concat: input 0 %s must be [n, c, h, w] or [n, c]", shp(a).s);
        return NULL;
    }
    int ctot = 0;
    for (int i = 0; i < k; i++) {
        const gh_tensor *b = xs[i];
        int ok = b->ndim == a->ndim && b->shape[0] == a->shape[0] &&
                 (a->ndim == 2 || (b->shape[2] == a->shape[2] && b->shape[3] == a->shape[3]));
        if (!ok) {
            eng_fail(e, GH_EINVAL, "concat: input %d %s does not match input 0 %s outside the "
                     "channel dimension", i, shp(b).s, shp(a).s);
            return NULL;
        }
        ctot += b->shape[1];
    }
    gh_tensor **keep = meta_alloc(e, (size_t)k * sizeof *keep);
    const float **xd = meta_alloc(e, (size_t)k * sizeof *xd);
    int *cs = meta_alloc(e, (size_t)k * sizeof *cs);
    if (!keep || !xd || !cs) return NULL;
    for (int i = 0; i < k; i++) {
        keep[i] = xs[i];
        xd[i] = xs[i]->data;
        cs[i] = xs[i]->shape[1];
    }
    int shape[4] = {a->shape[0], ctot, a->ndim == 4 ? a->shape[2] : 0,
                    a->ndim == 4 ? a->shape[3] : 0};
    gh_tensor *y = new_tensor(e, "concat", a->ndim, shape, keep, k);
    if (!y) return NULL;
    if (KCALL(e, concat_fwd, y->shape[0], spatial(y), k, cs, xd, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "concat", concat_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->xs = keep;
        t->k = k;
        t->ints = cs;
    }
    return y;
}

// ---- slice of channels ----------------------------------------------------------------------

static int slice_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0];
    float *dx = grad_of(e, "slice backward", x);
    if (!dx) return e->status;
    return KCALL(e, slice_bwd, x->shape[0], x->shape[1], spatial(x), t->sh.i[0], t->sh.i[1],
                 t->out->grad, dx);
}

gh_tensor *gh_slice(gh_engine *e, gh_tensor *x, int c0, int cn) {
    if (!op_in(e, "slice", "x", x)) return NULL;
    if (x->ndim != 4 && x->ndim != 2) {
        eng_fail(e, GH_EINVAL, "slice: x %s must be [n, c, h, w] or [n, c]", shp(x).s);
        return NULL;
    }
    if (c0 < 0 || cn <= 0 || c0 + cn > x->shape[1]) {
        eng_fail(e, GH_EINVAL, "slice: channels %d..%d of x %s", c0, c0 + cn - 1, shp(x).s);
        return NULL;
    }
    int shape[4] = {x->shape[0], cn, x->ndim == 4 ? x->shape[2] : 0,
                    x->ndim == 4 ? x->shape[3] : 0};
    gh_tensor *y = new_tensor(e, "slice", x->ndim, shape, &x, 1);
    if (!y) return NULL;
    if (KCALL(e, slice_fwd, x->shape[0], x->shape[1], spatial(x), c0, cn, x->data, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "slice", slice_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = x;
        t->sh.i[0] = c0;
        t->sh.i[1] = cn;
    }
    return y;
}

// ---- spatial shift / crop ----------------------------------------------------------------------

static int shift_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0];
    float *dx = grad_of(e, "shift backward", x);
    if (!dx) return e->status;
    const int *s = t->sh.i;
    return KCALL(e, shift_bwd, x->shape[0], x->shape[1], x->shape[2], x->shape[3], s[0], s[1],
                 s[2], s[3], t->out->grad, dx);
}

gh_tensor *gh_shift(gh_engine *e, gh_tensor *x, int dh, int dw, int ho, int wo) {
    if (!op_in(e, "shift", "x", x)) return NULL;
    if (x->ndim != 4 || ho <= 0 || wo <= 0) {
        eng_fail(e, GH_EINVAL, "shift: x %s to %dx%d: x must be 4-D and the output non-empty",
                 shp(x).s, ho, wo);
        return NULL;
    }
    gh_tensor *y = new_tensor(e, "shift", 4, (int[]){x->shape[0], x->shape[1], ho, wo}, &x, 1);
    if (!y) return NULL;
    if (KCALL(e, shift_fwd, x->shape[0], x->shape[1], x->shape[2], x->shape[3], dh, dw, ho, wo,
              x->data, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "shift", shift_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = x;
        t->sh.i[0] = dh;
        t->sh.i[1] = dw;
        t->sh.i[2] = ho;
        t->sh.i[3] = wo;
    }
    return y;
}

// ---- flatten: a view, no copy and no tape entry (its gradient aliases the base's) ------------

gh_tensor *gh_flatten(gh_engine *e, gh_tensor *x) {
    if (!op_in(e, "flatten", "x", x)) return NULL;
    tnode *v = meta_alloc(e, sizeof *v);
    if (!v) return NULL;
    tnode *base = (tnode *)x;
    while (base->base) base = base->base;
    memset(v, 0, sizeof *v);
    v->owner = e;
    v->base = base;
    v->t.data = x->data;
    v->t.ndim = 2;
    v->t.shape[0] = x->shape[0];
    v->t.shape[1] = (int)(x->numel / (size_t)x->shape[0]);
    v->t.numel = x->numel;
    v->t.requires_grad = e->grad_enabled && x->requires_grad;
    if (x->grad) v->t.grad = x->grad;
    return &v->t;
}
