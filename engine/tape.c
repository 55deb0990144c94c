// engine: the tape (ops appended in forward order, rebuilt every step because ENAS samples a
// new graph each step) and the reverse pass over it. Activation gradients are allocated in
// the arena and zeroed when a consumer first writes them; kernels then ADD into them.
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

tape_entry *tape_push(gh_engine *e, const char *op, tape_bwd bwd, gh_tensor *out) {
    if (e->tape_len == e->tape_cap) {
        size_t cap = e->tape_cap ? 2 * e->tape_cap : 256;
        tape_entry *t = realloc(e->tape, cap * sizeof *t);
        if (!t) {
            eng_fail(e, GH_ENOMEM, "%s: tape of %zu entries", op, cap);
            return NULL;
        }
        e->tape = t;
        e->tape_cap = cap;
    }
    tape_entry *t = &e->tape[e->tape_len++];
    memset(t, 0, sizeof *t);
    t->bwd = bwd;
    t->op = op;
    t->out = out;
    return t;
}

float *grad_of(gh_engine *e, const char *op, gh_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (t->grad) return t->grad;
    tnode *n = (tnode *)t;
    if (n->base) {
        // a view shares its base's storage, so it shares its gradient too
        float *g = grad_of(e, op, &n->base->t);
        t->grad = g;
        return g;
    }
    float *g = arena_alloc(e, op, t->numel * sizeof(float));
    if (!g) return NULL;
    if (eng_check(e, dev_zero(e, g, t->numel * sizeof(float)))) return NULL;
    t->grad = g;
    return g;
}

// Activation gradients start from nothing on every reverse pass, so that a second backward
// over the same tape (another loss of the same forward) is not polluted by the first one.
// Parameter gradients (named tensors) keep accumulating, as the contract says.
static void forget_activation_grads(gh_engine *e) {
    for (size_t i = 0; i < e->tape_len; i++) {
        tape_entry *t = &e->tape[i];
        t->out->grad = NULL;
        for (int j = 0; j < 4; j++)
            if (t->in[j] && !t->in[j]->name) t->in[j]->grad = NULL;
        for (int j = 0; j < t->k; j++)
            if (t->xs[j] && !t->xs[j]->name) t->xs[j]->grad = NULL;
    }
}

int gh_backward(gh_engine *e, gh_tensor *loss) {
    if (e->status) return e->status;
    if (!op_in(e, "backward", "loss", loss)) return e->status;
    if (loss->numel != 1)
        return eng_fail(e, GH_EINVAL, "backward: loss %s has %zu elements, expected a scalar",
                        shp(loss).s, loss->numel);
    // The finiteness of the loss is checked on the backend (no read): a non-finite loss is
    // recorded and reported at the next read (engine.h). Only a loss the host has already read
    // and seen non-finite is refused here, as nothing then costs a synchronisation.
    if (((const tnode *)loss)->host_nonfinite)
        return eng_fail(e, GH_ENAN, "backward: loss is NaN or infinite; nothing was propagated "
                        "(lower the learning rate, clip gradients or check the inputs)");
    if (!loss->requires_grad)
        return eng_fail(e, GH_EINVAL, "backward: the loss does not depend on any tensor that "
                        "requires a gradient (gradients disabled, or no parameters used)");
    forget_activation_grads(e);
    if (!loss->name) loss->grad = NULL;
    if (KCALL(e, check_finite, 1, loss->data, GH_KFLAG_LOSS)) return e->status;
    float *g = grad_of(e, "backward", loss);
    if (!g) return e->status;
    if (KCALL(e, fill, 1, 1.0f, g)) return e->status;
    for (size_t i = e->tape_len; i-- > 0;) {
        const tape_entry *t = &e->tape[i];
        if (!t->out->grad) continue;  // nothing downstream reached this op
        int st = t->bwd(e, t);
        if (st) return eng_check(e, st);
    }
    return e->status;
}
