// engine: dropout (per element) and drop-path (per sample, Larsson et al. 2017, as DARTS
// evaluation uses it). Masks are a pure function of (seed, index), so nothing is stored:
// each op of a step gets its own mask seed, gh_hash64(step seed, its index in the step), which
// the kernels derive from the step's seed in backend memory (dstate->drop_seed). A launch thus
// names the seed's address and the op's index, the same every step: a fixed graph with dropout
// repeats its signature and is captured (graph.c).
#include "engine_internal.h"

static int dropout_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "dropout backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, dropout_bwd, t->out->numel, t->f[0], &e->dstate->drop_seed, t->drop_op,
                 t->out->grad, dx);
}

static int droppath_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "droppath backward", t->in[0]);
    if (!dx) return e->status;
    const gh_tensor *y = t->out;
    return KCALL(e, droppath_bwd, y->shape[0], y->numel / (size_t)y->shape[0], t->f[0],
                 &e->dstate->drop_seed, t->drop_op, y->grad, dx);
}

static gh_tensor *drop(gh_engine *e, const char *op, int per_sample, gh_tensor *x, float p) {
    if (!op_in(e, op, "x", x)) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) {
        eng_fail(e, GH_EINVAL, "%s: probability %g on x %s (expected 0 <= p < 1)", op, (double)p,
                 shp(x).s);
        return NULL;
    }
    if (!e->training || p == 0.0f) return x;  // identity: no copy, no tape entry
    // the backward runs in the same step (step_begin clears the tape), so it reads the same
    // step seed as the forward
    const uint64_t *seed = &e->dstate->drop_seed;
    uint64_t index = e->dropout_ops++;
    gh_tensor *y = new_tensor(e, op, x->ndim, x->shape, &x, 1);
    if (!y) return NULL;
    int st = per_sample ? KCALL(e, droppath_fwd, x->shape[0], x->numel / (size_t)x->shape[0], p,
                                seed, index, x->data, y->data)
                        : KCALL(e, dropout_fwd, x->numel, p, seed, index, x->data, y->data);
    if (st) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, op, per_sample ? droppath_bwd_entry : dropout_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = x;
        t->f[0] = p;
        t->drop_op = index;
    }
    return y;
}

gh_tensor *gh_dropout(gh_engine *e, gh_tensor *x, float p) {
    return drop(e, "dropout", 0, x, p);
}

gh_tensor *gh_droppath(gh_engine *e, gh_tensor *x, float p) {
    return drop(e, "droppath", 1, x, p);
}
