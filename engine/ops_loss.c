// engine: the softmax cross-entropy loss with label smoothing (Szegedy et al. 2016), mean over
// the batch, and the argmax hit count computed on the host from the probabilities.
#include "engine_internal.h"

static int xent_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *logits = t->in[0];
    float *dl = grad_of(e, "xent backward", logits);
    if (!dl) return e->status;
    // d(total)/d(mean loss) stays in backend memory: 1 for a plain loss, else a sum's factor
    int n = logits->shape[0], k = logits->shape[1];
    return KCALL(e, xent_bwd, n, k, t->save[0], t->labels, t->f[0], t->out->grad, dl);
}

// The mean loss and (optionally) the hit count, on the host. On ref/cpu the arena is host
// memory; on CUDA the values are staged through the engine's host buffer.
static int host_reduce(gh_engine *e, int n, int k, const float *losses, const float *probs,
                       const int *labels, float *mean, int *correct) {
    int on_host = e->cfg.backend != GH_BACKEND_CUDA;
    const float *hl = losses;
    if (!on_host) {
        float *tmp = host_tmp(e, (size_t)n * sizeof(float));
        if (!tmp || eng_check(e, dev_d2h(e, tmp, losses, (size_t)n * sizeof(float))))
            return e->status;
        hl = tmp;
    }
    double s = 0.0;
    for (int i = 0; i < n; i++) s += hl[i];
    *mean = (float)(s / n);
    if (!correct) return GH_OK;
    const float *hp = probs;
    const int *hy = labels;
    if (!on_host) {
        size_t pb = (size_t)n * (size_t)k * sizeof(float);
        unsigned char *tmp = host_tmp(e, pb + (size_t)n * sizeof(int));
        if (!tmp || eng_check(e, dev_d2h(e, tmp, probs, pb)) ||
            eng_check(e, dev_d2h(e, tmp + pb, labels, (size_t)n * sizeof(int))))
            return e->status;
        hp = (const float *)tmp;
        hy = (const int *)(tmp + pb);
    }
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const float *row = hp + (size_t)i * (size_t)k;
        int best = 0;  // first maximum, as torch.argmax
        for (int j = 1; j < k; j++)
            if (row[j] > row[best]) best = j;
        hits += best == hy[i];
    }
    *correct = hits;
    return GH_OK;
}

gh_tensor *gh_xent(gh_engine *e, gh_tensor *logits, const int *labels, float smoothing,
                   int *correct) {
    if (correct) *correct = 0;
    if (!op_in(e, "xent", "logits", logits)) return NULL;
    if (logits->ndim != 2) {
        eng_fail(e, GH_EINVAL, "xent: logits %s must be [n, classes]", shp(logits).s);
        return NULL;
    }
    if (!labels) {
        if (e->status == GH_OK) eng_fail(e, GH_EINVAL, "xent: labels are NULL (logits %s)",
                                         shp(logits).s);
        return NULL;
    }
    if (!(smoothing >= 0.0f && smoothing < 1.0f)) {
        eng_fail(e, GH_EINVAL, "xent: label smoothing %g (expected 0 <= s < 1)",
                 (double)smoothing);
        return NULL;
    }
    int n = logits->shape[0], k = logits->shape[1];
    float *probs = arena_alloc(e, "xent", (size_t)n * (size_t)k * sizeof(float));
    float *losses = probs ? arena_alloc(e, "xent", (size_t)n * sizeof(float)) : NULL;
    if (!losses) return NULL;
    gh_tensor *y = new_tensor(e, "xent", 1, (int[]){1}, &logits, 1);
    if (!y) return NULL;
    if (KCALL(e, xent_fwd, n, k, logits->data, labels, smoothing, probs, losses)) return NULL;
    float mean;
    if (host_reduce(e, n, k, losses, probs, labels, &mean, correct)) return NULL;
    if (eng_check(e, dev_h2d(e, y->data, &mean, sizeof mean))) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "xent", xent_bwd_entry, y);
        if (!t) return NULL;
        t->in[0] = logits;
        t->save[0] = probs;
        t->labels = labels;
        t->f[0] = smoothing;
    }
    return y;
}
