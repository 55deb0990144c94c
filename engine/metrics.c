// engine: running sums of what a training loop reports (loss, hits), kept in backend memory
// (dev_state.acc) and read at report intervals, and the host-sync / allocation counters. Adding
// is a kernel on the backend; only gh_acc_read reads (one synchronisation, which also reports
// the deferred error record).
#include "engine_internal.h"

static int slot_ok(gh_engine *e, const char *fn, int slot) {
    if (slot >= 0 && slot < GH_ACC_SLOTS) return 1;
    eng_fail(e, GH_EINVAL, "%s: slot %d (expected 0..%d)", fn, slot, GH_ACC_SLOTS - 1);
    return 0;
}

int gh_acc_add(gh_engine *e, int slot, const gh_tensor *scalar, double scale) {
    if (e->status) return e->status;
    if (!slot_ok(e, "acc_add", slot) || !op_in(e, "acc_add", "scalar", scalar)) return e->status;
    return KCALL(e, acc_add, scalar->data, scale, &e->dstate->acc[slot]);
}

int gh_acc_hits(gh_engine *e, int slot, const gh_tensor *logits, const int *labels) {
    if (e->status) return e->status;
    if (!slot_ok(e, "acc_hits", slot) || !op_in(e, "acc_hits", "logits", logits)) return e->status;
    if (logits->ndim != 2 || !labels)
        return eng_fail(e, GH_EINVAL, "acc_hits: logits %s must be [n, classes] with labels",
                        shp(logits).s);
    return KCALL(e, acc_hits, logits->shape[0], logits->shape[1], logits->data, labels,
                 &e->dstate->acc[slot]);
}

int gh_acc_read(gh_engine *e, int n, double *out) {
    if (n < 0 || n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_read: %d slots (expected 0..%d)", n, GH_ACC_SLOTS);
    return eng_check(e, dev_read(e, out, e->dstate->acc, (size_t)n * sizeof(double)));
}

int gh_acc_reset(gh_engine *e, int first, int n) {
    if (first < 0 || n < 0 || first + n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_reset: slots %d..%d (expected within 0..%d)", first,
                        first + n - 1, GH_ACC_SLOTS - 1);
    return eng_check(e, dev_zero(e, &e->dstate->acc[first], (size_t)n * sizeof(double)));
}

void gh_engine_counters(const gh_engine *e, gh_counters *out) { *out = e->counters; }

int gh_acc_write(gh_engine *e, int n, const double *in) {
    if (n < 0 || n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_write: %d slots (expected 0..%d)", n, GH_ACC_SLOTS);
    // resume only (not in a step): a plain synchronous copy
    return eng_check(e, dev_h2d_sync(e, e->dstate->acc, in, (size_t)n * sizeof(double)));
}
