// engine: running sums of what a training loop reports (loss, hits), kept per engine and read
// at report intervals, and the host-sync / allocation counters. This first version keeps the
// sums on the host and reads each value as it is added (a counted sync per add); the device-
// resident version keeps them in backend memory (see engine.h).
#include "engine_internal.h"

static int slot_ok(gh_engine *e, const char *fn, int slot) {
    if (slot >= 0 && slot < GH_ACC_SLOTS) return 1;
    eng_fail(e, GH_EINVAL, "%s: slot %d (expected 0..%d)", fn, slot, GH_ACC_SLOTS - 1);
    return 0;
}

int gh_acc_add(gh_engine *e, int slot, const gh_tensor *scalar, double scale) {
    if (e->status) return e->status;
    if (!slot_ok(e, "acc_add", slot) || !op_in(e, "acc_add", "scalar", scalar)) return e->status;
    float v;
    if (read_scalar(e, scalar->data, &v)) return e->status;
    e->acc[slot] += scale * (double)v;
    return GH_OK;
}

int gh_acc_hits(gh_engine *e, int slot, const gh_tensor *logits, const int *labels) {
    if (e->status) return e->status;
    if (!slot_ok(e, "acc_hits", slot) || !op_in(e, "acc_hits", "logits", logits)) return e->status;
    if (logits->ndim != 2 || !labels)
        return eng_fail(e, GH_EINVAL, "acc_hits: logits %s must be [n, classes] with labels",
                        shp(logits).s);
    int n = logits->shape[0], k = logits->shape[1];
    size_t pb = (size_t)n * (size_t)k * sizeof(float);
    unsigned char *tmp = host_tmp(e, pb + (size_t)n * sizeof(int));
    if (!tmp || eng_check(e, dev_d2h(e, tmp, logits->data, pb)) ||
        eng_check(e, dev_d2h(e, tmp + pb, labels, (size_t)n * sizeof(int))))
        return e->status;
    const float *hp = (const float *)tmp;
    const int *hy = (const int *)(tmp + pb);
    long hits = 0;
    for (int i = 0; i < n; i++) {
        const float *row = hp + (size_t)i * (size_t)k;
        int best = 0;  // first maximum, as torch.argmax
        for (int j = 1; j < k; j++)
            if (row[j] > row[best]) best = j;
        hits += best == hy[i];
    }
    e->acc[slot] += (double)hits;
    return GH_OK;
}

int gh_acc_read(gh_engine *e, int n, double *out) {
    if (n < 0 || n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_read: %d slots (expected 0..%d)", n, GH_ACC_SLOTS);
    for (int i = 0; i < n; i++) out[i] = e->acc[i];
    e->counters.host_syncs++;   // the one read a device-resident version makes
    return GH_OK;
}

int gh_acc_reset(gh_engine *e, int first, int n) {
    if (first < 0 || n < 0 || first + n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_reset: slots %d..%d (expected within 0..%d)", first,
                        first + n - 1, GH_ACC_SLOTS - 1);
    for (int i = first; i < first + n; i++) e->acc[i] = 0.0;
    return GH_OK;
}

void gh_engine_counters(const gh_engine *e, gh_counters *out) { *out = e->counters; }

int gh_acc_write(gh_engine *e, int n, const double *in) {
    if (n < 0 || n > GH_ACC_SLOTS)
        return eng_fail(e, GH_EINVAL, "acc_write: %d slots (expected 0..%d)", n, GH_ACC_SLOTS);
    for (int i = 0; i < n; i++) e->acc[i] = in[i];
    return GH_OK;
}
