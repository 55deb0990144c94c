// engine: the dense and elementwise ops: ReLU, linear (fully connected), add, scale, the
// row softmax, sigmoid and tanh, each with its backward.
#include "engine_internal.h"

// ---- relu ----------------------------------------------------------------------------------

static int relu_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "relu backward", t->in[0]);
    if (!dx) return e->status;
    // the mask from y = max(x, 0): y > 0 exactly where x > 0 (NaN and -0 included), so x
    // itself need not outlive the forward (PyTorch's ReLU saves its result, not its input)
    return KCALL(e, relu_bwd, t->out->numel, t->out->data, t->out->grad, dx);
}

gh_tensor *gh_relu(gh_engine *e, gh_tensor *x) {
    if (!op_in(e, "relu", "x", x)) return NULL;
    gh_tensor *y = new_tensor(e, "relu", x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    if (KCALL(e, relu_fwd, x->numel, x->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "relu", relu_bwd_entry, y);
        if (!t) return NULL;
        t->keep = KEEP_OUT;   // what its backward reads
        t->in[0] = x;
    }
    return y;
}

// ---- linear --------------------------------------------------------------------------------

static int linear_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0], *w = t->in[1], *b = t->in[2];
    float *dx = grad_of(e, "linear backward", x);
    float *dw = grad_of(e, "linear backward", w);
    float *db = b ? grad_of(e, "linear backward", b) : NULL;
    if (e->status) return e->status;
    if (!dx && !dw && !db) return GH_OK;
    return KCALL(e, linear_bwd, x->shape[0], x->shape[1], w->shape[0], x->data, w->data,
                 t->out->grad, dx, dw, db);
}

gh_tensor *gh_linear(gh_engine *e, gh_tensor *x, gh_tensor *w, gh_tensor *b) {
    if (!op_in(e, "linear", "x", x) || !op_in(e, "linear", "w", w)) return NULL;
    if (b && !op_in(e, "linear", "b", b)) return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1]) {
        eng_fail(e, GH_EINVAL, "linear: x %s and w %s: expected x [n, in] and w [out, in] "
                 "(flatten images first)", shp(x).s, shp(w).s);
        return NULL;
    }
    if (b && b->numel != (size_t)w->shape[0]) {
        eng_fail(e, GH_EINVAL, "linear: bias %s for w %s: expected [%d]", shp(b).s, shp(w).s,
                 w->shape[0]);
        return NULL;
    }
    int n = x->shape[0], in = x->shape[1], out = w->shape[0];
    gh_tensor *src[3] = {x, w, b};
    gh_tensor *y = new_tensor(e, "linear", 2, (int[]){n, out}, src, 3);
    if (!y) return NULL;
    if (KCALL(e, linear_fwd, n, in, out, x->data, w->data, b ? b->data : NULL, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "linear", linear_bwd_entry, y);
        if (!t) return NULL;
        t->keep = KEEP_IN(0) | KEEP_IN(1) | KEEP_IN(2);   // what its backward reads
        t->in[0] = x;
        t->in[1] = w;
        t->in[2] = b;
    }
    return y;
}

// ---- add and scale -----------------------------------------------------------------------------

static int add_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *da = grad_of(e, "add backward", t->in[0]);
    float *db = grad_of(e, "add backward", t->in[1]);
    if (e->status) return e->status;
    if (!da && !db) return GH_OK;
    if (t->in[0] == t->in[1])  // add(x, x): two contributions into one buffer, never aliased
        return KCALL(e, add_bwd, t->out->numel, t->out->grad, da, NULL)
                   ? e->status
                   : KCALL(e, add_bwd, t->out->numel, t->out->grad, da, NULL);
    return KCALL(e, add_bwd, t->out->numel, t->out->grad, da, db);
}

gh_tensor *gh_add(gh_engine *e, gh_tensor *a, gh_tensor *b) {
    if (!op_in(e, "add", "a", a) || !op_in(e, "add", "b", b)) return NULL;
    if (!same_shape(a, b)) {
        eng_fail(e, GH_EINVAL, "add: a %s and b %s must have the same shape", shp(a).s,
                 shp(b).s);
        return NULL;
    }
    gh_tensor *src[2] = {a, b};
    gh_tensor *y = new_tensor(e, "add", a->ndim, a->shape, src, 2);
    if (!y) return NULL;
    if (KCALL(e, add_fwd, a->numel, a->data, b->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "add", add_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = a;
        t->in[1] = b;
    }
    return y;
}

static int scale_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "scale backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, axpy, t->out->numel, t->f[0], t->out->grad, dx);
}

gh_tensor *gh_scale(gh_engine *e, gh_tensor *x, float alpha) {
    if (!op_in(e, "scale", "x", x)) return NULL;
    gh_tensor *y = new_tensor(e, "scale", x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    // y = alpha*x as y = 0; y += alpha*x: the kernels have no out-of-place scale
    if (KCALL(e, fill, y->numel, 0.0f, y->data) ||
        KCALL(e, axpy, y->numel, alpha, x->data, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "scale", scale_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = x;
        t->f[0] = alpha;
    }
    return y;
}

// ---- softmax over the last dimension -------------------------------------------------------------

static int softmax_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "softmax backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, softmax_bwd, t->sh.i[0], t->sh.i[1], t->out->data, t->out->grad, dx);
}

gh_tensor *gh_softmax(gh_engine *e, gh_tensor *x) {
    if (!op_in(e, "softmax", "x", x)) return NULL;
    int cols = x->shape[x->ndim - 1];
    int rows = (int)(x->numel / (size_t)cols);
    gh_tensor *y = new_tensor(e, "softmax", x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    if (KCALL(e, softmax_fwd, rows, cols, x->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "softmax", softmax_bwd_entry, y);
        if (!t) return NULL;
        t->in[0] = x;
        t->sh.i[0] = rows;
        t->sh.i[1] = cols;
    }
    return y;
}

// ---- sigmoid and tanh (backward from the output) ---------------------------------------------------

static int sigmoid_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "sigmoid backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, sigmoid_bwd, t->out->numel, t->out->data, t->out->grad, dx);
}

static int tanh_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "tanh backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, tanh_bwd, t->out->numel, t->out->data, t->out->grad, dx);
}

static gh_tensor *activation(gh_engine *e, const char *op, int is_tanh, gh_tensor *x) {
    if (!op_in(e, op, "x", x)) return NULL;
    gh_tensor *y = new_tensor(e, op, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    if (is_tanh ? KCALL(e, tanh_fwd, x->numel, x->data, y->data)
                : KCALL(e, sigmoid_fwd, x->numel, x->data, y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, op, is_tanh ? tanh_bwd_entry : sigmoid_bwd_entry, y);
        if (!t) return NULL;
        t->in[0] = x;
    }
    return y;
}

gh_tensor *gh_sigmoid(gh_engine *e, gh_tensor *x) { return activation(e, "sigmoid", 0, x); }
gh_tensor *gh_tanh(gh_engine *e, gh_tensor *x) { return activation(e, "tanh", 1, x); }
