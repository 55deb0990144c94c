// engine: batch normalisation per channel over (n, h, w) (Ioffe & Szegedy 2015). Training
// mode normalises with batch statistics and updates the running ones; eval mode uses the
// running statistics. Backward exists for training mode, where the batch statistics depend
// on the input.
#include "engine_internal.h"

// Workspace for the training kernels (CUDA: per-split partial sums), grown once to the largest.
static int bn_ws(gh_engine *e, const bn_shape *sh) {
    size_t floats = 0;
    if (KCALL(e, bn_ws, sh, &floats)) return e->status;
    return dev_ws(e, floats);
}

static int bn_bwd_train(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0], *gamma = t->in[1], *beta = t->in[2];
    float *dx = grad_of(e, "batchnorm backward", x);
    float *dg = gamma ? grad_of(e, "batchnorm backward", gamma) : NULL;
    float *db = beta ? grad_of(e, "batchnorm backward", beta) : NULL;
    if (e->status) return e->status;
    if (!dx && !dg && !db) return GH_OK;
    if (bn_ws(e, &t->sh.bn)) return e->status;
    return KCALL(e, bn_bwd, &t->sh.bn, x->data, gamma ? gamma->data : NULL, t->save[0],
                 t->save[1], t->out->grad, dx, dg, db);
}

static int bn_bwd_eval(gh_engine *e, const tape_entry *t) {
    return eng_fail(e, GH_EUNSUP, "batchnorm: backward through eval mode (running statistics) "
                    "is not implemented; call gh_set_training(e, 1) for steps that learn, or "
                    "gh_set_grad_enabled(e, 0) for evaluation (x %s)", shp(t->in[0]).s);
}

static int check_vec(gh_engine *e, const char *what, const gh_tensor *v, const gh_tensor *x,
                     int c) {
    if (!v) return 1;
    if (!op_in(e, "batchnorm", what, v)) return 0;
    if (v->numel != (size_t)c)
        return !eng_fail(e, GH_EINVAL, "batchnorm: %s %s for x %s: expected %d elements", what,
                         shp(v).s, shp(x).s, c);
    return 1;
}

gh_tensor *gh_batchnorm(gh_engine *e, gh_tensor *x, gh_tensor *gamma, gh_tensor *beta,
                        gh_tensor *run_mean, gh_tensor *run_var, float eps, float momentum) {
    if (!op_in(e, "batchnorm", "x", x)) return NULL;
    if (x->ndim != 4 && x->ndim != 2) {
        eng_fail(e, GH_EINVAL, "batchnorm: x %s must be [n, c, h, w] or [n, c]", shp(x).s);
        return NULL;
    }
    int c = x->shape[1];
    if (!check_vec(e, "gamma", gamma, x, c) || !check_vec(e, "beta", beta, x, c) ||
        !check_vec(e, "run_mean", run_mean, x, c) || !check_vec(e, "run_var", run_var, x, c))
        return NULL;
    if (!run_mean != !run_var) {
        eng_fail(e, GH_EINVAL, "batchnorm: run_mean and run_var must both be given or both "
                 "NULL (x %s)", shp(x).s);
        return NULL;
    }
    bn_shape sh = {.n = x->shape[0], .c = c,
                   .hw = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1,
                   .eps = eps, .momentum = momentum};
    gh_tensor *src[3] = {x, gamma, beta};
    gh_tensor *y = new_tensor(e, "batchnorm", x->ndim, x->shape, src, 3);
    if (!y) return NULL;
    const float *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
    // Without running statistics eval mode has nothing else to use: batch statistics, as
    // PyTorch does with track_running_stats=False.
    int use_batch = e->training || !run_mean;
    float *mean = NULL, *invstd = NULL;
    if (use_batch) {
        mean = arena_alloc(e, "batchnorm", (size_t)c * sizeof(float));
        invstd = mean ? arena_alloc(e, "batchnorm", (size_t)c * sizeof(float)) : NULL;
        if (!invstd) return NULL;
        float *rm = e->training && run_mean ? run_mean->data : NULL;
        float *rv = e->training && run_var ? run_var->data : NULL;
        // synchronized batch norm: the global batch's statistics (ops_norm_sync.c)
        int sync = e->bn_sync && e->training;
        if (bn_ws(e, &sh) ||
            (sync ? bn_sync_fwd(e, &sh, x->data, g, b, y->data, mean, invstd, rm, rv)
                  : KCALL(e, bn_fwd_train, &sh, x->data, g, b, y->data, mean, invstd, rm, rv)))
            return NULL;
    } else if (KCALL(e, bn_fwd_eval, &sh, x->data, g, b, run_mean->data, run_var->data,
                     y->data)) {
        return NULL;
    }
    if (y->requires_grad) {
        tape_bwd bwd = !use_batch ? bn_bwd_eval
                       : e->bn_sync && e->training ? bn_sync_bwd : bn_bwd_train;
        tape_entry *t = tape_push(e, "batchnorm", bwd, y);
        if (!t) return NULL;
        t->keep = use_batch ? KEEP_IN(0) | KEEP_IN(1) | KEEP_IN(2) : KEEP_ALL;   // what its backward reads
        t->in[0] = x;
        t->in[1] = gamma;
        t->in[2] = beta;
        t->sh.bn = sh;
        t->save[0] = mean;
        t->save[1] = invstd;
    }
    return y;
}
