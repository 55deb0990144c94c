// learners/xgboost.c: gradient-boosted trees and random forests through XGBoost's C API:
// "xgboost" (hist, leaf-wise growth bounded by max_leaves, like LightGBM), "xgb_limitdepth"
// (depth-wise, max_depth) and "rf" (one round of num_parallel_tree bagged trees). Nominal
// features go in as their codes, as FLAML does (cat.codes). A CUDA build of libxgboost on a
// machine with a GPU trains on the GPU; the device used is recorded in the model.
#if GH_HAVE_XGBOOST
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "../kernels/kernels.h"
#include "learner_impl.h"

// One check per XGBoost call: the statement, file and line, and XGBoost's own message.
#define XGB_CHECK(call)                                                                    \
    do {                                                                                   \
        if ((call) != 0) {                                                                 \
            st = gh_fail(GH_EINVAL, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,     \
                         XGBGetLastError());                                               \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

typedef struct {
    BoosterHandle booster;
} xgb_impl;

// A GPU is used only when libxgboost was built with CUDA (Debian's is not) and one is present.
static int xgb_cuda_usable(void) {
    const char *info = NULL;
    if (XGBuildInfo(&info) != 0 || !info || !strstr(info, "\"USE_CUDA\":true")) return 0;
    return gh_cuda_device_count() > 0;
}

static int set_param(BoosterHandle b, const char *k, double v, int *st_out) {
    char text[64];
    snprintf(text, sizeof text, "%.17g", v);
    if (XGBoosterSetParam(b, k, text) != 0) {
        *st_out = gh_fail(GH_EINVAL, "XGBoosterSetParam(%s, %s) failed: %s", k, text,
                          XGBGetLastError());
        return -1;
    }
    return 0;
}

static int xgb_fit(learner_model *m, const gh_dataset *tr, uint64_t seed, double time_limit_s,
                   int *stopped_early) {
    const learner_def *def = m->def;
    const double *cfg = m->cfg;
    int st = GH_OK;
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    xgb_impl *impl = NULL;
    double t0 = gh_wall_seconds();
    XGB_CHECK(XGDMatrixCreateFromMat(tr->x, (bst_ulong)tr->n, (bst_ulong)tr->d, NAN, &dm));
    XGB_CHECK(XGDMatrixSetFloatInfo(dm, "label", tr->y, (bst_ulong)tr->n));
    XGB_CHECK(XGBoosterCreate(&dm, 1, &b));
    XGB_CHECK(XGBoosterSetParam(b, "verbosity", "0"));
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%d", (int)(seed & 0x7fffffff));
    XGB_CHECK(XGBoosterSetParam(b, "seed", seed_text));
    XGB_CHECK(XGBoosterSetParam(b, "tree_method", "hist"));
    // Threads: learner_fit_threads (one for small data or a busy machine)
    if (set_param(b, "nthread", learner_fit_threads(tr), &st)) goto done;
    if (xgb_cuda_usable()) {
        int major, minor, patch;
        XGBoostVersion(&major, &minor, &patch);
        // 2.x: device=cuda; 1.x: the gpu_hist tree method
        if (major >= 2) XGB_CHECK(XGBoosterSetParam(b, "device", "cuda"));
        else XGB_CHECK(XGBoosterSetParam(b, "tree_method", "gpu_hist"));
        snprintf(m->device, sizeof m->device, "cuda:0");
    }
    if (tr->task == GH_TASK_BINARY) {
        XGB_CHECK(XGBoosterSetParam(b, "objective", "binary:logistic"));
    } else if (tr->task == GH_TASK_MULTICLASS) {
        XGB_CHECK(XGBoosterSetParam(b, "objective", "multi:softprob"));
        if (set_param(b, "num_class", tr->n_classes, &st)) goto done;
    } else {
        XGB_CHECK(XGBoosterSetParam(b, "objective", "reg:squarederror"));
    }
    int rounds;
    int is_rf = !strcmp(def->name, "rf");
    if (is_rf) {
        // A forest: one round of n_estimators trees, each on rows drawn without replacement at
        // 63.2% (the distinct fraction of a bootstrap sample, 1 - 1/e) and max_features of the
        // columns per split, full learning rate so the forest is the average of its trees.
        rounds = 1;
        if (set_param(b, "num_parallel_tree", hp_value(def, cfg, "n_estimators", 100), &st) ||
            set_param(b, "colsample_bynode", hp_value(def, cfg, "max_features", 1.0), &st) ||
            set_param(b, "max_leaves", hp_value(def, cfg, "max_leaves", 0), &st) ||
            set_param(b, "subsample", 0.632, &st) || set_param(b, "learning_rate", 1.0, &st) ||
            set_param(b, "max_depth", 0, &st))
            goto done;
        XGB_CHECK(XGBoosterSetParam(b, "grow_policy", "lossguide"));
    } else {
        rounds = (int)hp_value(def, cfg, "n_estimators", 10);
        static const char *const same[][2] = {
            {"min_child_weight", "min_child_weight"}, {"learning_rate", "learning_rate"},
            {"subsample", "subsample"}, {"colsample_bylevel", "colsample_bylevel"},
            {"colsample_bytree", "colsample_bytree"}, {"reg_alpha", "alpha"},
            {"reg_lambda", "lambda"}};
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            double v = hp_value(def, cfg, same[i][0], NAN);
            if (!isnan(v) && set_param(b, same[i][1], v, &st)) goto done;
        }
        if (!strcmp(def->name, "xgb_limitdepth")) {
            if (set_param(b, "max_depth", hp_value(def, cfg, "max_depth", 6), &st)) goto done;
            XGB_CHECK(XGBoosterSetParam(b, "grow_policy", "depthwise"));
        } else {
            // FLAML's "xgboost": max_depth 0 (unbounded) with lossguide growth and max_leaves
            if (set_param(b, "max_leaves", hp_value(def, cfg, "max_leaves", 4), &st) ||
                set_param(b, "max_depth", 0, &st))
                goto done;
            XGB_CHECK(XGBoosterSetParam(b, "grow_policy", "lossguide"));
        }
    }
    if (rounds < 1) rounds = 1;
    // FLAML's ResourceLimit callback: stop when the next round would pass the deadline,
    // estimating a round's time from the first (FLAML) or, when one took longer, the slowest
    // so far: rounds slow down on a loaded machine, and one underestimate breaks the budget.
    double per_round = 0.0, prev = 0.0;
    for (int it = 0; it < rounds; it++) {
        XGB_CHECK(XGBoosterUpdateOneIter(b, it, dm));
        double now = gh_wall_seconds() - t0;
        per_round = fmax(per_round, now - prev);
        prev = now;
        if (time_limit_s > 0 && it + 1 < rounds && now + per_round > time_limit_s) {
            *stopped_early = 1;
            break;
        }
    }
    impl = calloc(1, sizeof *impl);
    if (!impl) {
        st = gh_fail(GH_ENOMEM, "xgboost: out of memory");
        goto done;
    }
    impl->booster = b;
    b = NULL;
    m->impl = impl;
done:
    if (b) XGBoosterFree(b);
    if (dm) XGDMatrixFree(dm);
    return st;
}

static int xgb_predict(const learner_model *m, const gh_dataset *data, float *out) {
    const xgb_impl *impl = m->impl;
    int st = GH_OK;
    DMatrixHandle dm = NULL;
    bst_ulong const *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    XGB_CHECK(XGDMatrixCreateFromMat(data->x, (bst_ulong)data->n, (bst_ulong)data->d, NAN, &dm));
    XGB_CHECK(XGBoosterPredictFromDMatrix(impl->booster, dm,
                                          "{\"type\": 0, \"training\": false, \"iteration_begin\": "
                                          "0, \"iteration_end\": 0, \"strict_shape\": false}",
                                          &shape, &dim, &res));
    size_t total = 1;
    for (bst_ulong i = 0; i < dim; i++) total *= (size_t)shape[i];
    size_t n = (size_t)data->n;
    int k = m->schema.n_classes;
    if (m->schema.task == GH_TASK_BINARY) {
        if (total != n) {
            st = gh_fail(GH_EINVAL, "xgboost: %zu predictions for %zu rows", total, n);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            out[2 * i + 1] = res[i];
            out[2 * i] = 1.0f - res[i];
        }
    } else if (m->schema.task == GH_TASK_MULTICLASS) {
        if (total != n * (size_t)k) {
            st = gh_fail(GH_EINVAL, "xgboost: %zu predictions for %zu rows x %d classes", total, n, k);
            goto done;
        }
        memcpy(out, res, sizeof(float) * total);
    } else {
        if (total != n) {
            st = gh_fail(GH_EINVAL, "xgboost: %zu predictions for %zu rows", total, n);
            goto done;
        }
        memcpy(out, res, sizeof(float) * n);
    }
done:
    if (dm) XGDMatrixFree(dm);
    return st;
}

static int xgb_save(const learner_model *m, sbuf *out) {
    const xgb_impl *impl = m->impl;
    int st = GH_OK;
    bst_ulong len = 0;
    const char *data = NULL;
    XGB_CHECK(XGBoosterSaveModelToBuffer(impl->booster, "{\"format\": \"json\"}", &len, &data));
    sbuf_put(out, data, (size_t)len);
done:
    return st;
}

static int xgb_load(learner_model *m, const char *payload, size_t len) {
    int st = GH_OK;
    BoosterHandle b = NULL;
    XGB_CHECK(XGBoosterCreate(NULL, 0, &b));
    XGB_CHECK(XGBoosterLoadModelFromBuffer(b, payload, (bst_ulong)len));
    xgb_impl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        st = gh_fail(GH_ENOMEM, "xgboost: out of memory");
        goto done;
    }
    impl->booster = b;
    b = NULL;
    m->impl = impl;
done:
    if (b) XGBoosterFree(b);
    return st;
}

static void xgb_release(learner_model *m) {
    xgb_impl *impl = m->impl;
    if (impl->booster) XGBoosterFree(impl->booster);
    free(impl);
    m->impl = NULL;
}

// hist growth builds a histogram of the node's rows x features per tree level: rows x d x
// levels per tree, a tree per class per round for multiclass. Lossguide growth to L leaves
// takes at least log2(L) levels. A forest's trees all grow in its single round, and cost about
// twice as much per unit (measured on segment-challenge: 10-22 ns against XGBoost's 3-10).
static double xgb_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                            int rows, double *first) {
    double per_class = shape->task == GH_TASK_MULTICLASS ? shape->n_classes : 1;
    double d = shape->d > 0 ? shape->d : 1;
    if (!strcmp(def->name, "rf")) {
        double leaves = fmax(2, hp_value(def, cfg, "max_leaves", 4));
        *first = 2 * hp_value(def, cfg, "n_estimators", 100) * per_class * 0.632 * rows * d *
                 (1 + log2(leaves));
        return *first;
    }
    double levels = !strcmp(def->name, "xgb_limitdepth")
                        ? fmax(1, hp_value(def, cfg, "max_depth", 6))
                        : 1 + log2(fmax(2, hp_value(def, cfg, "max_leaves", 4)));
    double subsample = hp_value(def, cfg, "subsample", 1.0);
    *first = per_class * rows * fmin(1, fmax(0.1, subsample)) * d * levels;
    return *first * fmax(1, hp_value(def, cfg, "n_estimators", 10));
}

const learner_ops learner_ops_xgboost = {xgb_fit, xgb_predict, xgb_save, xgb_load,
                                         xgb_release, NULL, xgb_fit_units};
#endif
