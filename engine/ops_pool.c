// engine: max and average pooling (square window, one stride and padding) and global
// average pooling, with their backward passes.
#include "engine_internal.h"

// The forward saved each window's argmax (save[0], ints): the backward scatters dy through it
// instead of recomputing windows, and does not read x (so x may go back to the arena before the
// backward; the indices cost one int per output). Once read, with activations given back as
// the backward goes (release levels 1 and 2, where a second backward is refused), the indices
// go back too.
static int maxpool_bwd_entry(gh_engine *e, const tape_entry *t) {
    const int *idx = (const int *)(const void *)t->save[0];
    float *dx = grad_of(e, "maxpool backward", t->in[0]);
    int st = dx ? KCALL(e, maxpool_bwd_idx, &t->sh.pool, idx, t->out->grad, dx) : e->status;
    if (!st && e->release) arena_release(e, t->save[0], t->out->numel * sizeof(int));
    return st;
}

static int avgpool_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "avgpool backward", t->in[0]);
    if (!dx) return e->status;
    return KCALL(e, avgpool_bwd, &t->sh.pool, t->out->grad, dx);
}

static gh_tensor *pool(gh_engine *e, const char *op, int is_max, gh_tensor *x, int k,
                       int stride, int pad) {
    if (!op_in(e, op, "x", x)) return NULL;
    if (x->ndim != 4) {
        eng_fail(e, GH_EINVAL, "%s: x %s must be 4-D (NCHW)", op, shp(x).s);
        return NULL;
    }
    pool_shape sh = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                     .kh = k, .kw = k, .stride = stride, .pad = pad};
    if (pool_shape_init(&sh)) {
        eng_fail(e, GH_EINVAL, "%s: x %s, window %d, stride %d, pad %d: %s", op, shp(x).s, k,
                 stride, pad, gh_error_get());
        return NULL;
    }
    gh_tensor *y = new_tensor(e, op, 4, (int[]){sh.n, sh.c, sh.p, sh.q}, &x, 1);
    if (!y) return NULL;
    int *idx = NULL;   // max pooling with a gradient wanted: the argmax of each window
    if (is_max && y->requires_grad &&
        !(idx = arena_alloc(e, op, (size_t)y->numel * sizeof(int))))
        return NULL;
    int st = idx      ? KCALL(e, maxpool_fwd_idx, &sh, x->data, y->data, idx)
             : is_max ? KCALL(e, maxpool_fwd, &sh, x->data, y->data)
                      : KCALL(e, avgpool_fwd, &sh, x->data, y->data);
    if (st) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, op, is_max ? maxpool_bwd_entry : avgpool_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads: neither x nor y (max: the indices)
        t->in[0] = x;
        t->sh.pool = sh;
        t->save[0] = (float *)(void *)idx;
    }
    return y;
}

gh_tensor *gh_maxpool(gh_engine *e, gh_tensor *x, int k, int stride, int pad) {
    return pool(e, "maxpool", 1, x, k, stride, pad);
}

gh_tensor *gh_avgpool(gh_engine *e, gh_tensor *x, int k, int stride, int pad) {
    return pool(e, "avgpool", 0, x, k, stride, pad);
}

static int gap_bwd_entry(gh_engine *e, const tape_entry *t) {
    float *dx = grad_of(e, "global_avgpool backward", t->in[0]);
    if (!dx) return e->status;
    const gh_tensor *x = t->in[0];
    return KCALL(e, gap_bwd, x->shape[0], x->shape[1], x->shape[2] * x->shape[3],
                 t->out->grad, dx);
}

gh_tensor *gh_global_avgpool(gh_engine *e, gh_tensor *x) {
    if (!op_in(e, "global_avgpool", "x", x)) return NULL;
    if (x->ndim != 4) {
        eng_fail(e, GH_EINVAL, "global_avgpool: x %s must be 4-D (NCHW)", shp(x).s);
        return NULL;
    }
    int n = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
    gh_tensor *y = new_tensor(e, "global_avgpool", 2, (int[]){n, c}, &x, 1);
    if (!y) return NULL;
    if (KCALL(e, gap_fwd, n, c, hw, x->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "global_avgpool", gap_bwd_entry, y);
        if (!t) return NULL;
        t->keep = 0;   // what its backward reads
        t->in[0] = x;
    }
    return y;
}
