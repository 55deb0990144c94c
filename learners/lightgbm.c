// learners/lightgbm.c: gradient boosting ("lgbm", FLAML's LGBMEstimator) and extremely
// randomised trees ("extra_tree", FLAML's ExtraTreesEstimator) through LightGBM's C API, the
// library loaded with dlopen at run time: Debian has no LightGBM, `make deps` unpacks the
// PyPI wheel's lib_lightgbm.so (which ships no header), and a machine without it still builds
// and runs, reporting these two learners unavailable with how to get them.
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner_impl.h"

#ifndef GH_LIGHTGBM_DEFAULT_PATH
#error "GH_LIGHTGBM_DEFAULT_PATH (learners/CMakeLists.txt): where lib_lightgbm.so is looked for"
#endif

// ---- the part of LightGBM's C API used here -----------------------------------------------
// Copied from include/LightGBM/c_api.h (LightGBM v4; checked against the 4.7.0 wheel that
// `make deps` fetches). These signatures have not changed since v3.0.
typedef void *lgbm_dataset;
typedef void *lgbm_booster;
enum { LGBM_DTYPE_FLOAT32 = 0, LGBM_PREDICT_NORMAL = 0, LGBM_IMPORTANCE_SPLIT = 0 };

typedef struct {
    const char *(*GetLastError)(void);
    int (*DatasetCreateFromMat)(const void *data, int data_type, int32_t nrow, int32_t ncol,
                                int is_row_major, const char *parameters,
                                const lgbm_dataset reference, lgbm_dataset *out);
    int (*DatasetSetField)(lgbm_dataset handle, const char *field_name, const void *field_data,
                           int num_element, int type);
    int (*DatasetFree)(lgbm_dataset handle);
    int (*BoosterCreate)(const lgbm_dataset train_data, const char *parameters,
                         lgbm_booster *out);
    int (*BoosterLoadModelFromString)(const char *model_str, int *out_num_iterations,
                                      lgbm_booster *out);
    int (*BoosterFree)(lgbm_booster handle);
    int (*BoosterUpdateOneIter)(lgbm_booster handle, int *is_finished);
    int (*BoosterGetNumClasses)(lgbm_booster handle, int *out_len);
    int (*BoosterGetNumFeature)(lgbm_booster handle, int *out_len);
    int (*BoosterPredictForMat)(lgbm_booster handle, const void *data, int data_type,
                                int32_t nrow, int32_t ncol, int is_row_major, int predict_type,
                                int start_iteration, int num_iteration, const char *parameter,
                                int64_t *out_len, double *out_result);
    int (*BoosterSaveModelToString)(lgbm_booster handle, int start_iteration, int num_iteration,
                                    int feature_importance_type, int64_t buffer_len,
                                    int64_t *out_len, char *out_str);
} lgbm_api;

// The library as loaded, or why it could not be. Filled once (pthread_once) on first use and
// read-only afterwards: the process-wide state of a shared library, not configuration.
static struct {
    lgbm_api api;
    void *so;                 // NULL when it could not be loaded
    char why[1536];           // then why, and how to get it
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static const struct {
    const char *name;
    size_t offset;
} symbols[] = {
#define SYM(f) {"LGBM_" #f, offsetof(lgbm_api, f)}
    SYM(GetLastError), SYM(DatasetCreateFromMat), SYM(DatasetSetField), SYM(DatasetFree),
    SYM(BoosterCreate), SYM(BoosterLoadModelFromString), SYM(BoosterFree),
    SYM(BoosterUpdateOneIter), SYM(BoosterGetNumClasses), SYM(BoosterGetNumFeature),
    SYM(BoosterPredictForMat), SYM(BoosterSaveModelToString),
#undef SYM
};

#define LGBM_HOWTO                                                                          \
    "the lgbm and extra_tree learners need LightGBM's lib_lightgbm.so: run `make deps` (it "  \
    "unpacks the PyPI wheel into .whl/), or set GH_LIGHTGBM_LIB to a lib_lightgbm.so"

static int try_open(const char *path, char *err, size_t n) {
    dlerror();
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        const char *e = dlerror();
        snprintf(err, n, "%s", e ? e : path);
        return 0;
    }
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        void *f = dlsym(so, symbols[i].name);
        if (!f) {
            snprintf(err, n, "%s has no %s (not LightGBM 4)", path, symbols[i].name);
            dlclose(so);
            return 0;
        }
        // POSIX guarantees a data pointer from dlsym converts to a function pointer
        memcpy((char *)&lib.api + symbols[i].offset, &f, sizeof f);
    }
    lib.so = so;
    return 1;
}

// GH_LIGHTGBM_LIB when set (and nothing else: the user named it), else where CMake found it
// at configure time (or .whl/, where `make deps` puts it), else the loader's search path.
static void lib_load(void) {
    char e1[512] = "", e2[512] = "";
    const char *env = getenv("GH_LIGHTGBM_LIB");
    if (env && *env) {
        if (!try_open(env, e1, sizeof e1))
            snprintf(lib.why, sizeof lib.why, "LightGBM is not available (GH_LIGHTGBM_LIB=%s: %s); "
                     LGBM_HOWTO, env, e1);
        return;
    }
    if (try_open(GH_LIGHTGBM_DEFAULT_PATH, e1, sizeof e1) ||
        try_open("lib_lightgbm.so", e2, sizeof e2))
        return;
    snprintf(lib.why, sizeof lib.why, "LightGBM is not available (%s; %s); " LGBM_HOWTO, e1, e2);
}

static const char *lgbm_unavailable(void) {
    pthread_once(&lib_once, lib_load);
    return lib.so ? NULL : lib.why;
}

// One check per LightGBM call: the statement, file and line, and LightGBM's own message.
#define LGBM_CHECK(call)                                                                   \
    do {                                                                                   \
        if ((call) != 0) {                                                                 \
            st = gh_fail(GH_EINVAL, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,     \
                         lib.api.GetLastError());                                          \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

typedef struct {
    lgbm_booster booster;
} lgbm_impl;


// LightGBM's "key=value key=value" parameters: the learner's hyperparameters (FLAML's names
// mapped as LGBMEstimator / sklearn's LGBMClassifier map them), the task, seed and threads.
static int lgbm_params(const learner_model *m, const gh_dataset *tr, uint64_t seed,
                       char *buf, size_t n) {
    const learner_def *def = m->def;
    const double *cfg = m->cfg;
    size_t len = 0;
#define PUT(...)                                                                            \
    do {                                                                                    \
        int w_ = snprintf(buf + len, n - len, __VA_ARGS__);                                 \
        if (w_ < 0 || (size_t)w_ >= n - len)                                                \
            return gh_fail(GH_EINVAL, "%s: parameter text over %zu bytes", def->name, n);   \
        len += (size_t)w_;                                                                  \
    } while (0)
    // deterministic with a fixed histogram layout: LightGBM otherwise times row- against
    // column-wise histograms on the first round and keeps the faster, so a run on a busy
    // machine could differ from the same run on an idle one
    PUT("verbosity=-1 deterministic=true force_col_wise=true seed=%d num_threads=%d",
        (int)(seed & 0x7fffffff), learner_fit_threads(tr));
    if (tr->task == GH_TASK_BINARY) PUT(" objective=binary");
    else if (tr->task == GH_TASK_MULTICLASS)
        PUT(" objective=multiclass num_class=%d", tr->n_classes);
    else PUT(" objective=regression");
    // nominal features as LightGBM's categoricals, as FLAML hands it pandas category columns
    // (their codes, missing as NaN); xgboost.c passes the same codes as numbers
    int first = 1;
    for (int j = 0; j < tr->d; j++)
        if (tr->feat_levels[j] > 0) {
            PUT("%s%d", first ? " categorical_feature=" : ",", j);
            first = 0;
        }
    if (!strcmp(def->name, "extra_tree")) {
        // A forest as scikit-learn's ExtraTreesClassifier/Regressor (what FLAML runs): LightGBM's
        // rf mode averages its trees (no shrinkage), extra_trees draws one random threshold per
        // feature at each split, max_features is sampled per split (feature_fraction_bynode)
        // and leaves may hold one row (scikit-learn's min_samples_leaf=1). rf mode insists on
        // a source of randomness per tree besides those, so each tree sees 63.2% of the rows
        // drawn without replacement (the distinct fraction of a bootstrap sample), as our
        // XGBoost "rf" does; scikit-learn's extra trees see all rows.
        PUT(" boosting=rf extra_trees=true bagging_freq=1 bagging_fraction=0.632"
            " min_data_in_leaf=1 num_leaves=%d feature_fraction_bynode=%.17g",
            (int)hp_value(def, cfg, "max_leaves", 31), hp_value(def, cfg, "max_features", 1.0));
    } else {
        // FLAML's log_max_bin: max_bin = 2^log_max_bin - 1 (LGBMEstimator.config2params)
        PUT(" boosting=gbdt num_leaves=%d min_data_in_leaf=%d learning_rate=%.17g max_bin=%d"
            " feature_fraction=%.17g lambda_l1=%.17g lambda_l2=%.17g",
            (int)hp_value(def, cfg, "num_leaves", 31),
            (int)hp_value(def, cfg, "min_child_samples", 20),
            hp_value(def, cfg, "learning_rate", 0.1),
            (1 << (int)hp_value(def, cfg, "log_max_bin", 8)) - 1,
            hp_value(def, cfg, "colsample_bytree", 1.0), hp_value(def, cfg, "reg_alpha", 0.0),
            hp_value(def, cfg, "reg_lambda", 0.0));
    }
#undef PUT
    return GH_OK;
}

static int lgbm_fit(learner_model *m, const gh_dataset *tr, uint64_t seed, double time_limit_s,
                    int *stopped_early) {
    const char *why = lgbm_unavailable();
    if (why) return gh_fail(GH_EUNSUP, "learner %s: %s", m->def->name, why);
    int st = GH_OK;
    lgbm_dataset ds = NULL;
    lgbm_booster b = NULL;
    double t0 = gh_wall_seconds();
    char params[4096];
    if ((st = lgbm_params(m, tr, seed, params, sizeof params))) return st;
    LGBM_CHECK(lib.api.DatasetCreateFromMat(tr->x, LGBM_DTYPE_FLOAT32, tr->n, tr->d, 1, params,
                                            NULL, &ds));
    LGBM_CHECK(lib.api.DatasetSetField(ds, "label", tr->y, tr->n, LGBM_DTYPE_FLOAT32));
    LGBM_CHECK(lib.api.BoosterCreate(ds, params, &b));
    int rounds = (int)hp_value(m->def, m->cfg, "n_estimators", 100);
    if (rounds < 1) rounds = 1;
    // FLAML's LGBMEstimator._callback: stop when the next round would pass the deadline,
    // estimating a round's time from the first or, when one took longer, the slowest so far
    // (as xgboost.c). A forest grows one tree (per class) a round.
    double per_round = 0.0, prev = 0.0;
    for (int it = 0; it < rounds; it++) {
        int finished = 0;
        LGBM_CHECK(lib.api.BoosterUpdateOneIter(b, &finished));
        if (finished) break;   // no split gains anything any more: the model is complete
        double now = gh_wall_seconds() - t0;
        per_round = fmax(per_round, now - prev);
        prev = now;
        if (time_limit_s > 0 && it + 1 < rounds && now + per_round > time_limit_s) {
            *stopped_early = 1;
            break;
        }
    }
    lgbm_impl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        st = gh_fail(GH_ENOMEM, "%s: out of memory", m->def->name);
        goto done;
    }
    impl->booster = b;
    b = NULL;
    m->impl = impl;
done:
    if (b) lib.api.BoosterFree(b);
    if (ds) lib.api.DatasetFree(ds);
    return st;
}

static int lgbm_predict(const learner_model *m, const gh_dataset *data, float *out) {
    const lgbm_impl *impl = m->impl;
    int st = GH_OK;
    int k = m->schema.task == GH_TASK_MULTICLASS ? m->schema.n_classes : 1;
    size_t n = (size_t)data->n, want = n * (size_t)k;
    double *res = malloc(sizeof(double) * want);
    if (!res) return gh_fail(GH_ENOMEM, "%s: %zu predictions", m->def->name, want);
    char params[64];
    snprintf(params, sizeof params, "num_threads=%d", learner_fit_threads(data));
    int64_t got = 0;
    LGBM_CHECK(lib.api.BoosterPredictForMat(impl->booster, data->x, LGBM_DTYPE_FLOAT32, data->n,
                                            data->d, 1, LGBM_PREDICT_NORMAL, 0, -1, params, &got,
                                            res));
    if (got != (int64_t)want) {
        st = gh_fail(GH_EINVAL, "%s: %lld predictions for %zu rows x %d", m->def->name,
                     (long long)got, n, k);
        goto done;
    }
    if (m->schema.task == GH_TASK_BINARY) {
        for (size_t i = 0; i < n; i++) {
            out[2 * i + 1] = (float)res[i];
            out[2 * i] = (float)(1.0 - res[i]);
        }
    } else {
        for (size_t i = 0; i < want; i++) out[i] = (float)res[i];
    }
done:
    free(res);
    return st;
}

// The payload is LightGBM's own text model ("tree\nversion=v4\n..."), as written by
// LGBM_BoosterSaveModelToString.
static int lgbm_save(const learner_model *m, sbuf *out) {
    const lgbm_impl *impl = m->impl;
    int st = GH_OK;
    int64_t len = 0;
    char probe[1];
    char *text = NULL;
    LGBM_CHECK(lib.api.BoosterSaveModelToString(impl->booster, 0, -1, LGBM_IMPORTANCE_SPLIT,
                                                sizeof probe, &len, probe));
    if (len < 1 || !(text = malloc((size_t)len))) {
        st = gh_fail(GH_ENOMEM, "%s: model text of %lld bytes", m->def->name, (long long)len);
        goto done;
    }
    int64_t len2 = 0;
    LGBM_CHECK(lib.api.BoosterSaveModelToString(impl->booster, 0, -1, LGBM_IMPORTANCE_SPLIT, len,
                                                &len2, text));
    if (len2 != len) {
        st = gh_fail(GH_EINVAL, "%s: model text of %lld then %lld bytes", m->def->name,
                     (long long)len, (long long)len2);
        goto done;
    }
    sbuf_put(out, text, (size_t)len - 1);   // len counts the terminating NUL
done:
    free(text);
    return st;
}

static int lgbm_load(learner_model *m, const char *payload, size_t len) {
    const char *why = lgbm_unavailable();
    if (why) return gh_fail(GH_EUNSUP, "learner %s: %s", m->def->name, why);
    int st = GH_OK;
    lgbm_booster b = NULL;
    char *text = malloc(len + 1);   // LightGBM reads a NUL-terminated string
    if (!text) return gh_fail(GH_ENOMEM, "%s: model text of %zu bytes", m->def->name, len);
    memcpy(text, payload, len);
    text[len] = 0;
    int iters = 0, classes = 0, features = 0;
    LGBM_CHECK(lib.api.BoosterLoadModelFromString(text, &iters, &b));
    LGBM_CHECK(lib.api.BoosterGetNumClasses(b, &classes));
    LGBM_CHECK(lib.api.BoosterGetNumFeature(b, &features));
    // the trees must describe the schema the header declares: predictions are read as
    // rows x classes of it
    int want_classes = m->schema.task == GH_TASK_MULTICLASS ? m->schema.n_classes : 1;
    if (classes != want_classes || features != m->schema.d) {
        st = gh_fail(GH_EFORMAT, "%s: LightGBM model of %d classes x %d features, the file's "
                     "schema has %d x %d", m->def->name, classes, features, want_classes,
                     m->schema.d);
        goto done;
    }
    lgbm_impl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        st = gh_fail(GH_ENOMEM, "%s: out of memory", m->def->name);
        goto done;
    }
    impl->booster = b;
    b = NULL;
    m->impl = impl;
done:
    if (b) lib.api.BoosterFree(b);
    free(text);
    return st;
}

static void lgbm_release(learner_model *m) {
    lgbm_impl *impl = m->impl;
    if (impl->booster) lib.api.BoosterFree(impl->booster);
    free(impl);
    m->impl = NULL;
}

// Like XGBoost's hist growth (xgboost.c): a round builds histograms of its rows x features per
// tree level, a tree per class; binning the data (rows x features) comes first. Both learners
// stop between rounds (extra_tree's forest grows a tree a round), so the part a time limit
// cannot stop is the binning and the first round.
static double lgbm_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                             int rows, double *first) {
    double per_class = shape->task == GH_TASK_MULTICLASS ? shape->n_classes : 1;
    double d = shape->d > 0 ? shape->d : 1;
    int forest = !strcmp(def->name, "extra_tree");
    double leaves = fmax(2, hp_value(def, cfg, forest ? "max_leaves" : "num_leaves", 31));
    double round = per_class * rows * d * (1 + log2(leaves));
    if (forest) round *= 0.632 * fmin(1, fmax(0.1, hp_value(def, cfg, "max_features", 1.0)));
    *first = rows * d + round;
    return *first + round * (fmax(1, hp_value(def, cfg, "n_estimators", 100)) - 1);
}

const learner_ops learner_ops_lightgbm = {lgbm_fit, lgbm_predict, lgbm_save, lgbm_load,
                                          lgbm_release, lgbm_unavailable, lgbm_fit_units};
