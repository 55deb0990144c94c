// learners/learners.c: the registry of learners, their default search spaces, and the
// learner_model life cycle (fit, predict, save, load) that dispatches to xgboost.c,
// lightgbm.c, liblinear.c and mlp.c.
//
// Search spaces and initial costs are FLAML's (microsoft/FLAML, flaml/automl/model.py:
// LGBMEstimator.search_space, XGBoostEstimator.search_space, XGBoostSklearnEstimator,
// XGBoostLimitDepthEstimator, RandomForestEstimator, ExtraTreesEstimator, LRL1Classifier,
// LRL2Classifier, cost_relative2lgbm). FLAML's
// (log)randint upper bounds are exclusive (Ray Tune's convention); hp_domain bounds are
// inclusive, so hi = FLAML's upper - 1. Bounds that FLAML derives from the data size are set
// by learner_space(); the static tables hold their largest values.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../kernels/kernels.h"
#include "learner_impl.h"

#define UNIF(nm, l, h, i) {nm, HP_FLOAT, l, h, 0, i, i, 0, NULL}
#define LOGU(nm, l, h, i) {nm, HP_FLOAT, l, h, 1, i, i, 0, NULL}
#define LOGI(nm, l, h, lci, i) {nm, HP_INT, l, h, 1, lci, i, 0, NULL}
#define RINT(nm, l, h, lci, i) {nm, HP_INT, l, h, 0, lci, i, 0, NULL}

// LGBMEstimator. log_max_bin is lograndint(3, 11): max_bin = 2^log_max_bin - 1.
static const hp_domain lgbm_space[] = {
    LOGI("n_estimators", 4, 32767, 4, 4),
    LOGI("num_leaves", 4, 32767, 4, 4),
    LOGI("min_child_samples", 2, 128, 20, 20),
    LOGU("learning_rate", 1.0 / 1024, 1.0, 0.1),
    LOGI("log_max_bin", 3, 10, 8, 8),
    UNIF("colsample_bytree", 0.01, 1.0, 1.0),
    LOGU("reg_alpha", 1.0 / 1024, 1024, 1.0 / 1024),
    LOGU("reg_lambda", 1.0 / 1024, 1024, 1.0),
};
// XGBoostSklearnEstimator: XGBoostEstimator's space without max_depth (lossguide growth).
static const hp_domain xgb_space[] = {
    LOGI("n_estimators", 4, 32767, 4, 4),
    LOGI("max_leaves", 4, 32767, 4, 4),
    LOGU("min_child_weight", 0.001, 128, 1.0),
    LOGU("learning_rate", 1.0 / 1024, 1.0, 0.1),
    UNIF("subsample", 0.1, 1.0, 1.0),
    UNIF("colsample_bylevel", 0.01, 1.0, 1.0),
    UNIF("colsample_bytree", 0.01, 1.0, 1.0),
    LOGU("reg_alpha", 1.0 / 1024, 1024, 1.0 / 1024),
    LOGU("reg_lambda", 1.0 / 1024, 1024, 1.0),
};
// XGBoostLimitDepthEstimator: max_depth randint(1, min(max(6, log2 n), 16)) instead of
// max_leaves; learning_rate init 0.3, n_estimators init 10.
static const hp_domain xgb_depth_space[] = {
    LOGI("n_estimators", 4, 32767, 4, 10),
    RINT("max_depth", 1, 15, 1, 6),
    LOGU("min_child_weight", 0.001, 128, 1.0),
    LOGU("learning_rate", 1.0 / 1024, 1.0, 0.3),
    UNIF("subsample", 0.1, 1.0, 1.0),
    UNIF("colsample_bylevel", 0.01, 1.0, 1.0),
    UNIF("colsample_bytree", 0.01, 1.0, 1.0),
    LOGU("reg_alpha", 1.0 / 1024, 1024, 1.0 / 1024),
    LOGU("reg_lambda", 1.0 / 1024, 1024, 1.0),
};
// RandomForestEstimator, and ExtraTreesEstimator (which inherits it). FLAML's `criterion`
// (gini/entropy) has no XGBoost or LightGBM counterpart (their forests split on the gradient
// statistics), so it is left out.
static const hp_domain rf_space[] = {
    LOGI("n_estimators", 4, 2047, 4, 4),
    LOGU("max_features", 0.1, 1.0, 1.0),
    LOGI("max_leaves", 4, 32767, 4, 4),
};
// LRL1Classifier / LRL2Classifier; `linear` (ridge regression, ours) reuses it.
static const hp_domain lr_space[] = {
    LOGU("C", 0.03125, 32768.0, 1.0),
};
// Not in FLAML: a small MLP. Cheap start (narrow, shallow, few epochs), as CFO needs.
static const hp_domain mlp_space[] = {
    LOGI("hidden", 16, 512, 16, 64),
    RINT("layers", 1, 3, 1, 1),
    LOGU("learning_rate", 1e-4, 1e-1, 1e-3),
    LOGU("weight_decay", 1e-6, 1e-1, 1e-4),
    LOGI("batch_size", 16, 512, 64, 64),
    LOGI("epochs", 2, 256, 2, 10),
};

#define NHP(a) ((int)(sizeof(a) / sizeof((a)[0])))

// init_cost: cost_relative2lgbm (lgbm 1, BaseEstimator's default; xgboost 1.6,
// xgb_limitdepth 64, rf 2, extra_tree 1.9, lrl1 160, lrl2 25); linear borrows lrl2's; the MLP
// FLAML's old ETI_INI 'nn' (flaml/config.py) of 50. LightGBM is loaded at run time
// (lightgbm.c), so its learners are always in the table and say when they are unavailable.
static const learner_def registry[] = {
    {"lgbm", NHP(lgbm_space), lgbm_space, 1, {1, 1, 1}, &learner_ops_lightgbm},
    {"extra_tree", NHP(rf_space), rf_space, 1.9, {1, 1, 1}, &learner_ops_lightgbm},
#if GH_HAVE_XGBOOST
    {"xgboost", NHP(xgb_space), xgb_space, 1.6, {1, 1, 1}, &learner_ops_xgboost},
    {"xgb_limitdepth", NHP(xgb_depth_space), xgb_depth_space, 64, {1, 1, 1},
     &learner_ops_xgboost},
    {"rf", NHP(rf_space), rf_space, 2, {1, 1, 1}, &learner_ops_xgboost},
#endif
#if GH_HAVE_LIBLINEAR
    {"lrl1", NHP(lr_space), lr_space, 160, {1, 1, 0}, &learner_ops_liblinear},
    {"lrl2", NHP(lr_space), lr_space, 25, {1, 1, 0}, &learner_ops_liblinear},
    {"linear", NHP(lr_space), lr_space, 25, {0, 0, 1}, &learner_ops_liblinear},
#endif
    {"mlp", NHP(mlp_space), mlp_space, 50, {1, 1, 1}, &learner_ops_mlp},
};
#define N_REGISTRY ((int)(sizeof registry / sizeof registry[0]))

const char *learner_unavailable(const learner_def *def) {
    return def->ops && def->ops->unavailable ? def->ops->unavailable() : NULL;
}

int learners_list(const learner_def **out, int max, gh_task task) {
    int n = 0;
    for (int i = 0; i < N_REGISTRY; i++) {
        if (task != GH_TASK_AUTO && (task < 0 || task > 2 || !registry[i].supports_task[task]))
            continue;
        if (learner_unavailable(&registry[i])) continue;
        if (n < max) out[n] = &registry[i];
        n++;
    }
    return n;
}

int learners_registered(const learner_def **out, int max) {
    for (int i = 0; i < N_REGISTRY && i < max; i++) out[i] = &registry[i];
    return N_REGISTRY;
}

const learner_def *learner_find(const char *name) {
    for (int i = 0; i < N_REGISTRY; i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    return NULL;
}

int learner_space(const learner_def *def, int n_rows, int n_features, gh_task task,
                  hp_domain *out) {
    if (n_rows < 1 || n_features < 1)
        return gh_fail(GH_EINVAL, "learner_space(%s): %d rows x %d features", def->name, n_rows,
                       n_features);
    memcpy(out, def->hps, sizeof(hp_domain) * (size_t)def->n_hp);
    // upper = max(5, min(32768, n)) (exclusive in FLAML)
    int upper = n_rows < 32768 ? n_rows : 32768;
    if (upper < 5) upper = 5;
    int cls = task == GH_TASK_BINARY || task == GH_TASK_MULTICLASS;
    for (int i = 0; i < def->n_hp; i++) {
        hp_domain *h = &out[i];
        if (!strcmp(def->name, "rf") || !strcmp(def->name, "extra_tree")) {
            if (!strcmp(h->name, "n_estimators")) {
                int u = n_rows < 2048 ? n_rows : 2048;
                h->hi = (u > 5 ? u : 5) - 1;
            } else if (!strcmp(h->name, "max_leaves")) {
                int u = (n_rows >> 1) < 32768 ? (n_rows >> 1) : 32768;
                h->hi = (u > 5 ? u : 5) - 1;
            } else if (!strcmp(h->name, "max_features")) {
                // 1/sqrt(d) for classification, as scikit-learn's "sqrt" default
                double init = cls ? 1.0 / sqrt((double)n_features) : 1.0;
                h->init = h->low_cost_init = init;
                h->lo = init < 0.1 ? init : 0.1;
            }
        } else if (!strcmp(def->name, "xgboost") || !strcmp(def->name, "xgb_limitdepth") ||
                   !strcmp(def->name, "lgbm")) {
            if (!strcmp(h->name, "n_estimators") || !strcmp(h->name, "max_leaves") ||
                !strcmp(h->name, "num_leaves"))
                h->hi = upper - 1;
            if (!strcmp(h->name, "max_depth")) {
                int u = (int)log2((double)n_rows);
                if (u < 6) u = 6;
                h->hi = (u < 16 ? u : 16) - 1;
            }
        }
    }
    return GH_OK;
}

int learner_fit_threads(const gh_dataset *data) {
    if ((double)data->n * data->d < 2e5) return 1;
    int max = gh_cpu_threads();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load[1];
    if (max <= 1 || cores < 1 || getloadavg(load, 1) != 1) return max > 0 ? max : 1;
    int t = (int)floor((double)cores - fmax(0.0, load[0] - 1.0) + 0.5);
    return t < 1 ? 1 : t > max ? max : t;
}

double hp_value(const learner_def *def, const double *cfg, const char *name, double dflt) {
    for (int i = 0; i < def->n_hp; i++)
        if (!strcmp(def->hps[i].name, name))
            return def->hps[i].kind == HP_FLOAT ? cfg[i] : round(cfg[i]);
    return dflt;
}

// ---- the model life cycle -----------------------------------------------------------------
static int model_new(learner_model **out, const learner_def *def, const double *cfg) {
    learner_model *m = calloc(1, sizeof *m);
    if (!m) return gh_fail(GH_ENOMEM, "learner %s: out of memory", def->name);
    m->def = def;
    m->ops = def->ops;
    m->cfg = malloc(sizeof(double) * (size_t)(def->n_hp + 1));
    if (!m->cfg) {
        free(m);
        return gh_fail(GH_ENOMEM, "learner %s: out of memory", def->name);
    }
    if (cfg) memcpy(m->cfg, cfg, sizeof(double) * (size_t)def->n_hp);
    snprintf(m->device, sizeof m->device, "cpu");
    *out = m;
    return GH_OK;
}

void learner_free(learner_model *m) {
    if (!m) return;
    if (m->ops && m->impl) m->ops->release(m);
    dataset_free(&m->schema);
    free(m->cfg);
    free(m);
}

const learner_def *learner_model_def(const learner_model *m) { return m->def; }
const char *learner_model_device(const learner_model *m) { return m->device; }
const gh_dataset *learner_model_schema(const learner_model *m) { return &m->schema; }

int learner_fit(const learner_def *def, const gh_dataset *train, const double *cfg, uint64_t seed,
                double time_limit_s, learner_model **out, int *stopped_early) {
    *out = NULL;
    if (stopped_early) *stopped_early = 0;
    if (!def || !def->ops) return gh_fail(GH_EUNSUP, "learner %s is not in this build",
                                             def ? def->name : "(null)");
    const char *why = learner_unavailable(def);
    if (why) return gh_fail(GH_EUNSUP, "learner %s: %s", def->name, why);
    if (train->task < 0 || train->task > 2 || !def->supports_task[train->task])
        return gh_fail(GH_EINVAL, "learner %s does not support the %s task", def->name,
                       gh_task_name(train->task));
    if (train->n < 2 || train->d < 1)
        return gh_fail(GH_EINVAL, "learner %s: training data of %d rows x %d features", def->name,
                       train->n, train->d);
    for (int i = 0; i < def->n_hp; i++)
        if (!isfinite(cfg[i]))
            return gh_fail(GH_EINVAL, "learner %s: hyperparameter %s = %g", def->name,
                           def->hps[i].name, cfg[i]);
    learner_model *m;
    int st = model_new(&m, def, cfg);
    if (st) return st;
    st = dataset_schema_copy(&m->schema, train);
    int stopped = 0;
    if (!st) st = m->ops->fit(m, train, seed, time_limit_s, &stopped);
    if (st) {
        learner_free(m);
        return st;
    }
    if (stopped_early) *stopped_early = stopped;
    *out = m;
    return GH_OK;
}

double learner_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                         int rows, double *first) {
    double one = 0, total = 0;
    if (def && def->ops && def->ops->fit_units)
        total = def->ops->fit_units(def, cfg, shape, rows > 1 ? rows : 1, &one);
    if (first) *first = one;
    return total;
}

int learner_predict(const learner_model *m, const gh_dataset *data, float *out) {
    if (data->d != m->schema.d)
        return gh_fail(GH_EINVAL, "learner %s: data has %d features, the model %d", m->def->name,
                       data->d, m->schema.d);
    if (data->n == 0) return GH_OK;
    return m->ops->predict(m, data, out);
}

// ---- model files ----------------------------------------------------------------------------
// Text header (learner, device, cfg, the data schema), then "payload N" and N bytes of the
// learner's own model (XGBoost's JSON, LightGBM's text model, liblinear weights, MLP weights),
// then "crc32 XXXXXXXX" of everything before that line. Written to PATH.tmp and renamed, so a
// crash never leaves a half-written model. The checksum is checked before anything else is
// read: XGBoost does not check the trees it loads (a changed byte made it crash or loop
// forever), nor does LightGBM check that a tree's child indices stay in range, so a damaged or
// edited file must not reach them. Version 1 files (no checksum) are still read, except those
// of XGBoost's and LightGBM's learners (LightGBM's never had any).
#define MODEL_MAGIC "gpuhours-model 2"
#define MODEL_MAGIC_V1 "gpuhours-model 1"
#define MODEL_CRC_LINE 15   // "crc32 " + 8 hex digits + "\n"

static void save_schema(sbuf *b, const gh_dataset *s) {
    sbuf_printf(b, "task %s\ntarget ", gh_task_name(s->task));
    sbuf_quoted(b, s->target_name ? s->target_name : "");
    sbuf_printf(b, "\nclasses %d", s->n_classes);
    for (int k = 0; k < s->n_classes; k++) {
        sbuf_put(b, " ", 1);
        sbuf_quoted(b, s->class_names[k]);
    }
    sbuf_printf(b, "\nfeatures %d\n", s->d);
    for (int j = 0; j < s->d; j++) {
        sbuf_quoted(b, s->feat_names[j]);
        sbuf_printf(b, " %d", s->feat_levels[j]);
        for (int k = 0; k < s->feat_levels[j]; k++) {
            sbuf_put(b, " ", 1);
            sbuf_quoted(b, s->level_names[j][k]);
        }
        sbuf_put(b, "\n", 1);
    }
}

int learner_save(const learner_model *m, const char *path) {
    sbuf b = {0};
    sbuf_printf(&b, MODEL_MAGIC "\nlearner %s\ndevice %s\ncfg %d", m->def->name, m->device,
                m->def->n_hp);
    for (int i = 0; i < m->def->n_hp; i++) sbuf_printf(&b, " %.17g", m->cfg[i]);
    sbuf_put(&b, "\n", 1);
    save_schema(&b, &m->schema);
    sbuf payload = {0};
    int st = m->ops->save(m, &payload);
    if (!st && (payload.failed || b.failed)) st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
    if (!st) {
        sbuf_printf(&b, "payload %zu\n", payload.len);
        sbuf_put(&b, payload.data, payload.len);
        sbuf_put(&b, "\n", 1);
    }
    sbuf_free(&payload);
    if (!st && !b.failed)
        sbuf_printf(&b, "crc32 %08lx\n", crc32(0L, (const Bytef *)b.data, (uInt)b.len));
    if (!st && b.failed) st = gh_fail(GH_ENOMEM, "%s: out of memory", path);
    if (st) {
        sbuf_free(&b);
        return st;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        sbuf_free(&b);
        return gh_fail(GH_ENOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) st = gh_fail(GH_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    else {
        size_t w = fwrite(b.data, 1, b.len, f);
        int err = ferror(f) ? errno : 0;
        if (fclose(f) || w != b.len)
            st = gh_fail(GH_EIO, "%s: write failed: %s", tmp, strerror(err ? err : errno));
        else if (rename(tmp, path))
            st = gh_fail(GH_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        if (st) remove(tmp);
    }
    free(tmp);
    sbuf_free(&b);
    return st;
}

// The last line is "crc32 XXXXXXXX" of every byte before it.
static int check_crc(const char *path, const char *buf, size_t size) {
    unsigned long want;
    char hex[9];
    if (size < MODEL_CRC_LINE || strncmp(buf + size - MODEL_CRC_LINE, "crc32 ", 6) ||
        buf[size - 1] != '\n' || sscanf(buf + size - 9, "%8[0-9a-f]", hex) != 1 ||
        strlen(hex) != 8)
        return gh_fail(GH_EFORMAT, "%s: truncated or damaged: no 'crc32 XXXXXXXX' last line",
                       path);
    want = strtoul(hex, NULL, 16);
    unsigned long got = crc32(0L, (const Bytef *)buf, (uInt)(size - MODEL_CRC_LINE));
    if (got != want)
        return gh_fail(GH_EFORMAT, "%s: checksum mismatch (crc32 %08lx, the file says %08lx): it "
                       "was changed or damaged after it was written", path, got, want);
    return GH_OK;
}

static int load_schema(scursor *c, gh_dataset *s) {
    memset(s, 0, sizeof *s);
    char *task = NULL;
    long n;
    int st = scur_word(c, "task");
    if (!st) {
        // the task is a bare word
        while (c->p < c->end && *c->p == ' ') c->p++;
        const char *w = c->p;
        while (c->p < c->end && *c->p != '\n' && *c->p != ' ') c->p++;
        task = strndup(w, (size_t)(c->p - w));
        if (!task) return gh_fail(GH_ENOMEM, "out of memory");
        s->task = !strcmp(task, "binary") ? GH_TASK_BINARY : !strcmp(task, "multiclass")
                  ? GH_TASK_MULTICLASS : !strcmp(task, "regression") ? GH_TASK_REGRESSION
                  : GH_TASK_AUTO;
        if (s->task == GH_TASK_AUTO) st = gh_fail(GH_EFORMAT, "%s: unknown task '%s'", c->what, task);
        free(task);
    }
    if (!st) st = scur_word(c, "target");
    if (!st) st = scur_quoted(c, &s->target_name);
    if (!st) st = scur_word(c, "classes");
    if (!st) st = scur_int(c, &n);
    if (st) return st;
    // each name is at least "" and a blank: the count must fit in what is left of the file
    if (n < 0 || n > 1000000 || !scur_fits(c, (double)n, 3))
        return gh_fail(GH_EFORMAT, "%s: bad class count %ld", c->what, n);
    s->n_classes = (int)n;
    s->class_names = calloc((size_t)n + 1, sizeof(char *));
    if (!s->class_names) return gh_fail(GH_ENOMEM, "out of memory");
    for (int k = 0; k < n && !st; k++) st = scur_quoted(c, &s->class_names[k]);
    if (st) return st;
    // predictions are rows x classes: binary has 2, multiclass at least 2, regression none
    if (s->task == GH_TASK_BINARY ? s->n_classes != 2
        : s->task == GH_TASK_MULTICLASS ? s->n_classes < 2 : s->n_classes != 0)
        return gh_fail(GH_EFORMAT, "%s: %d classes for a %s task", c->what, s->n_classes,
                       gh_task_name(s->task));
    st = scur_word(c, "features");
    if (!st) st = scur_int(c, &n);
    if (st) return st;
    if (n < 1 || n > (1 << 24) || !scur_fits(c, (double)n, 5))   // "" 0 and a newline
        return gh_fail(GH_EFORMAT, "%s: bad feature count %ld", c->what, n);
    s->d = (int)n;
    s->feat_names = calloc((size_t)n, sizeof(char *));
    s->feat_levels = calloc((size_t)n, sizeof(int));
    s->level_names = calloc((size_t)n, sizeof(char **));
    s->x = malloc(sizeof(float));
    s->y = malloc(sizeof(float));
    if (!s->feat_names || !s->feat_levels || !s->level_names || !s->x || !s->y)
        return gh_fail(GH_ENOMEM, "out of memory");
    for (int j = 0; j < s->d && !st; j++) {
        long lv;
        st = scur_quoted(c, &s->feat_names[j]);
        if (!st) st = scur_int(c, &lv);
        if (st) break;
        if (lv < 0 || lv > (1 << 24) || !scur_fits(c, (double)lv, 3))
            return gh_fail(GH_EFORMAT, "%s: bad level count", c->what);
        if (lv) {
            s->level_names[j] = calloc((size_t)lv, sizeof(char *));
            if (!s->level_names[j]) return gh_fail(GH_ENOMEM, "out of memory");
            s->feat_levels[j] = (int)lv;
        }
        for (int k = 0; k < lv && !st; k++) st = scur_quoted(c, &s->level_names[j][k]);
    }
    return st;
}

int learner_load(learner_model **out, const char *path) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return gh_fail(GH_EIO, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        return gh_fail(GH_EIO, "%s: cannot read", path);
    }
    fclose(f);
    buf[size] = 0;
    scursor c = {buf, buf + size, buf, path};
    learner_model *m = NULL;
    char name[64] = "", device[32] = "";
    long n_hp = 0;
    int st = GH_OK;
    int v1 = !strncmp(buf, MODEL_MAGIC_V1 "\n", strlen(MODEL_MAGIC_V1) + 1);
    if (!v1 && strncmp(buf, MODEL_MAGIC "\n", strlen(MODEL_MAGIC) + 1)) {
        st = gh_fail(GH_EFORMAT, "%s: not a gpuhours model file (expected '%s' on line 1)", path,
                     MODEL_MAGIC);
        goto done;
    }
    if (!v1 && (st = check_crc(path, buf, (size_t)size))) goto done;
    if (!v1) c.end -= MODEL_CRC_LINE;
    c.p += strlen(MODEL_MAGIC);
    if (sscanf(c.p, " learner %63s device %31s", name, device) != 2) {
        st = gh_fail(GH_EFORMAT, "%s: expected 'learner NAME' and 'device DEV' lines", path);
        goto done;
    }
    const learner_def *def = learner_find(name);
    if (!def) {
        st = gh_fail(GH_EUNSUP, "%s: learner '%s' is not in this build", path, name);
        goto done;
    }
    // XGBoost and LightGBM load what they are given unchecked: without a checksum nothing
    // vouches for it
    int unchecked = def->ops == &learner_ops_lightgbm;
#if GH_HAVE_XGBOOST
    unchecked |= def->ops == &learner_ops_xgboost;
#endif
    if (v1 && unchecked) {
        st = gh_fail(GH_EFORMAT, "%s: a version 1 model file (no checksum) of %s, which %s "
                     "would load unchecked: refit it (gpuhours tune ... --model FILE)", path, name,
                     def->ops == &learner_ops_lightgbm ? "LightGBM" : "XGBoost");
        goto done;
    }
    const char *why = learner_unavailable(def);
    if (why) {
        st = gh_fail(GH_EUNSUP, "%s: learner %s: %s", path, name, why);
        goto done;
    }
    c.p = strstr(c.p, "\ncfg ");
    if (!c.p) {
        st = gh_fail(GH_EFORMAT, "%s: no 'cfg' line", path);
        goto done;
    }
    st = scur_word(&c, "cfg");
    if (!st) st = scur_int(&c, &n_hp);
    if (st) goto done;
    if (n_hp != def->n_hp) {
        st = gh_fail(GH_EFORMAT, "%s: %ld hyperparameters for %s, this build has %d", path, n_hp,
                     name, def->n_hp);
        goto done;
    }
    st = model_new(&m, def, NULL);
    if (st) goto done;
    snprintf(m->device, sizeof m->device, "%s", device);
    st = scur_doubles(&c, m->cfg, (size_t)n_hp);
    if (!st) st = load_schema(&c, &m->schema);
    long plen = 0;
    const char *payload = NULL;
    if (!st) st = scur_word(&c, "payload");
    if (!st) st = scur_int(&c, &plen);
    if (!st && plen < 0) st = gh_fail(GH_EFORMAT, "%s: negative payload size", path);
    if (!st) st = scur_bytes(&c, (size_t)plen, &payload);
    if (!st) st = m->ops->load(m, payload, (size_t)plen);
done:
    if (st) learner_free(m);
    else *out = m;
    free(buf);
    return st;
}
