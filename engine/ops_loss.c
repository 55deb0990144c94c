// engine: the softmax cross-entropy loss with label smoothing (Szegedy et al. 2016), mean over
// the batch on the backend, and (for callers that ask) the argmax hit count read to the host.
#include "engine_internal.h"

static int xent_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *logits = t->in[0];
    float *dl = grad_of(e, "xent backward", logits);
    if (!dl) return e->status;
    // d(total)/d(mean loss) stays in backend memory: 1 for a plain loss, else a sum's factor
    int n = logits->shape[0], k = logits->shape[1];
    return KCALL(e, xent_bwd, n, k, t->save[0], t->labels, t->f[0], t->out->grad, dl);
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
    if (KCALL(e, xent_fwd, n, k, logits->data, labels, smoothing, probs, losses) ||
        KCALL(e, mean, (size_t)n, losses, y->data))
        return NULL;
    if (correct) {
        // evaluation code's path: the hits counted on the backend, then one read
        double *h = &e->dstate->tmp[1], hits = 0.0;
        if (eng_check(e, dev_zero(e, h, sizeof *h)) ||
            KCALL(e, acc_hits, n, k, probs, labels, h) ||
            eng_check(e, dev_d2h(e, &hits, h, sizeof hits)))
            return NULL;
        *correct = (int)hits;
    }
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
