// learners/resample.c: how a tuning trial is evaluated: FLAML's choice between k-fold cross
// validation (small data) and a holdout split (large data), stratified by class for
// classification and seeded, so the same seed gives the same plan on every machine.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner_impl.h"

// FLAML (flaml/automl/automl.py, flaml/config.py): N_SPLITS 5, SPLIT_RATIO 0.1,
// SMALL_LARGE_THRES 1e7, CV_HOLDOUT_THRESHOLD 1e5.
#define N_SPLITS 5
#define SPLIT_RATIO 0.1
#define SMALL_LARGE_THRES 1e7
#define CV_HOLDOUT_THRESHOLD 100000

int resample_auto_k(int n, int d, double budget_s) {
    if (n >= CV_HOLDOUT_THRESHOLD) return 1;
    if (budget_s > 0 && (double)n * d / 0.9 >= SMALL_LARGE_THRES * (budget_s / 3600.0)) return 1;
    return N_SPLITS;
}

void resample_free(resample_plan *p) {
    if (!p) return;
    free(p->fold);
    memset(p, 0, sizeof *p);
}

int resample_make(resample_plan *out, const gh_dataset *data, int k_or_auto, double holdout_ratio,
                  uint64_t seed) {
    memset(out, 0, sizeof *out);
    int n = data->n;
    int k = k_or_auto > 0 ? k_or_auto : resample_auto_k(n, data->d, 0);
    if (holdout_ratio <= 0) holdout_ratio = SPLIT_RATIO;
    if (holdout_ratio >= 1) return gh_fail(GH_EINVAL, "resample: holdout ratio %g >= 1", holdout_ratio);
    // every fold (or the holdout's two parts) needs a row to train on and a row to validate on
    int need = k > 1 ? k : 2;
    if (n < need)
        return gh_fail(GH_EINVAL, "resample: %d rows, but %s needs at least %d (each %s trains "
                       "on some rows and validates on others); use more data%s", n,
                       k > 1 ? "k-fold cross-validation" : "a holdout split", need,
                       k > 1 ? "fold" : "split", k > 1 ? " or fewer folds (--folds)" : "");
    int cls = data->task != GH_TASK_REGRESSION && data->n_classes > 0;
    int groups = cls ? data->n_classes : 1;
    for (int i = 0; cls && i < n; i++)
        if (!(data->y[i] >= 0 && data->y[i] < data->n_classes))
            return gh_fail(GH_EINVAL, "resample: row %d has class %g, not in [0, %d)", i,
                           (double)data->y[i], data->n_classes);
    int *order = malloc(sizeof(int) * (size_t)n);
    int *start = calloc((size_t)groups + 1, sizeof(int));
    out->fold = malloc(sizeof(int) * (size_t)n);
    if (!order || !start || !out->fold) {
        free(order), free(start);
        resample_free(out);
        return gh_fail(GH_ENOMEM, "resample: out of memory for %d rows", n);
    }
    // rows grouped by class (counting sort), each group shuffled with the split stream
    for (int i = 0; i < n; i++) start[cls ? (int)data->y[i] + 1 : 1]++;
    for (int g = 0; g < groups; g++) start[g + 1] += start[g];
    int *fill = malloc(sizeof(int) * (size_t)(groups + 1));
    if (!fill) {
        free(order), free(start);
        resample_free(out);
        return gh_fail(GH_ENOMEM, "resample: out of memory");
    }
    memcpy(fill, start, sizeof(int) * (size_t)(groups + 1));
    for (int i = 0; i < n; i++) order[fill[cls ? (int)data->y[i] : 0]++] = i;
    free(fill);
    gh_rng rng;
    gh_rng_seed(&rng, seed, GH_STREAM_SPLIT);
    for (int g = 0; g < groups; g++)
        gh_rng_shuffle(&rng, order + start[g], (size_t)(start[g + 1] - start[g]));
    out->k = k;
    if (k > 1) {
        // Dealing the class-sorted rows round-robin gives every fold each class's share
        // (within one row), as scikit-learn's StratifiedKFold does.
        for (int p = 0; p < n; p++) out->fold[order[p]] = p % k;
        for (int i = 0; i < n; i++) out->n_val += out->fold[i] == 0;
        out->n_train = n - out->n_val;
    } else {
        // Holdout: each class contributes round(ratio * its size) validation rows, carried
        // so the total is round(ratio * n); a class keeps at least one training row.
        double carry = 0.0;
        for (int g = 0; g < groups; g++) {
            int size = start[g + 1] - start[g];
            double want = holdout_ratio * size + carry;
            int nv = (int)floor(want + 0.5);
            carry = want - nv;
            if (nv > size - 1) nv = size - 1 > 0 ? size - 1 : 0;
            for (int p = 0; p < size; p++) out->fold[order[start[g] + p]] = p < nv;
            out->n_val += nv;
        }
        if (out->n_val == 0) out->fold[order[0]] = 1, out->n_val = 1;
        out->n_train = n - out->n_val;
    }
    free(order);
    free(start);
    return GH_OK;
}
