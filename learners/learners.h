// learners: the models a tabular search tunes: gradient-boosted trees and random forests
// (XGBoost C API; LightGBM's, loaded at run time), L1/L2 logistic and linear regression
// (liblinear), an MLP on our own engine;
// their FLAML default search spaces, metrics and resampling (holdout / k-fold).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../data/data.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- hyperparameter domains (FLAML's defaults, overridable from a config file) -------------
typedef enum { HP_FLOAT = 0, HP_INT = 1, HP_CAT = 2 } hp_kind;
typedef struct {
    const char *name;
    hp_kind kind;
    double lo, hi;            // bounds (HP_CAT: 0 .. n_choices-1)
    int log;                  // sampled/normalised on a log scale
    double low_cost_init;     // FLAML's low_cost_init_value, or the default when none
    double init;              // FLAML's init_value (the starting point of CFO)
    int n_choices;
    const char *const *choices;
} hp_domain;

typedef struct learner_model learner_model;

typedef struct learner_def {
    const char *name;         // "lgbm", "xgboost", "xgb_limitdepth", "rf", "extra_tree", "lrl1",
                              // "lrl2", "linear", "mlp"
    int n_hp;
    const hp_domain *hps;
    double init_cost;         // FLAML's initial relative cost (cost_relative2lgbm)
    int supports_task[3];     // indexed by gh_task
    const struct learner_ops *ops;  // fit, predict, save, load (private to learners/)
} learner_def;

// FLAML's space for data of n_rows x n_features: the bounds and inits FLAML derives from the
// data size (n_estimators, max_leaves, max_depth upper bounds; rf max_features). Bounds are
// inclusive. out: [def->n_hp], name/choices pointing into def.
int learner_space(const learner_def *def, int n_rows, int n_features, gh_task task,
                  hp_domain *out);
// space_file.c: applies the lines `LEARNER.HP = LO..HI [log]`, `LEARNER.HP = VALUE` (fixed) and
// `LEARNER.HP.init = VALUE` of a config file that name def to space ([def->n_hp]); lines for
// other learners are skipped, '#' starts a comment. Errors name file:line.
int learner_space_override(const learner_def *def, hp_domain *space, const char *path);

// Learners usable here, for a task (GH_TASK_AUTO: any): compiled into this build (their
// library found at configure time) and, for those loaded at run time (LightGBM), loadable.
// Returns the count (out holds the first max).
int learners_list(const learner_def **out, int max, gh_task task);
// Every learner of the registry, usable or not (for listings; see learner_unavailable).
int learners_registered(const learner_def **out, int max);
// Any learner of the registry by name, usable or not; NULL when there is none.
const learner_def *learner_find(const char *name);
// NULL when def can be used in this process; otherwise why not and how to get it (the lgbm
// and extra_tree learners when lib_lightgbm.so cannot be loaded: run `make deps`). Fitting or
// loading such a learner fails with GH_EUNSUP and this message.
const char *learner_unavailable(const learner_def *def);

// cfg: one double per hp (HP_INT rounded, HP_CAT an index). time_limit_s <= 0: none; a fit
// that would overrun stops early (boosting rounds, epochs) and sets *stopped_early.
int learner_fit(const learner_def *def, const gh_dataset *train, const double *cfg, uint64_t seed,
                double time_limit_s, learner_model **out, int *stopped_early);
// The work of fitting def with cfg on `rows` rows shaped like `shape` (its features, levels,
// classes and task; shape->n is not used), in the learner's own units: histogram rows x
// features x tree levels per tree (XGBoost's learners), rows x encoded width x binary problems
// x (1 + log2 C) (liblinear), multiply-adds x epochs (MLP). *first (may be NULL): the units of
// the part a time limit cannot stop (a forest's single round, a liblinear solve, XGBoost's
// first round, the MLP's first epoch); equal to the total for a fit that cannot be stopped.
// Units compare configs and row counts of one learner best; across learners they are scaled
// to be roughly comparable (each about 1-20 ns on one core of the development machine), which
// the tuning loop uses only until a learner has been measured (tune.c's cost model).
double learner_fit_units(const learner_def *def, const double *cfg, const gh_dataset *shape,
                         int rows, double *first);
// out: [n x n_classes] class probabilities (classification) or [n] values (regression).
int learner_predict(const learner_model *m, const gh_dataset *data, float *out);
int learner_save(const learner_model *m, const char *path);
int learner_load(learner_model **out, const char *path);
void learner_free(learner_model *m);
const learner_def *learner_model_def(const learner_model *m);
// Where the model was trained: "cpu" or "cuda:0" (XGBoost with a CUDA build, the MLP engine).
const char *learner_model_device(const learner_model *m);
// The features, levels, classes and target the model was trained with (n = 0), for reading
// new data with dataset_from_table_schema.
const gh_dataset *learner_model_schema(const learner_model *m);

// ---- metrics: every metric returned as a loss to minimise (FLAML's convention) ------------
typedef enum { METRIC_AUTO = -1, METRIC_ACCURACY = 0, METRIC_LOGLOSS, METRIC_ROC_AUC,
               METRIC_MACRO_F1, METRIC_R2, METRIC_RMSE } gh_metric;
const char *metric_name(gh_metric m);
int metric_parse(const char *text, gh_metric *m);
// GH_EINVAL naming both when m does not apply to task (r2 on a classification task, ...).
int metric_check(gh_metric m, gh_task task);
gh_metric metric_default(gh_task task);  // FLAML: roc_auc binary, log_loss multiclass, r2 regression
// loss = 1 - accuracy / 1 - auc / 1 - f1 / 1 - r2 / logloss / rmse
double metric_loss(gh_metric m, const gh_dataset *data, const float *pred);
double metric_value_from_loss(gh_metric m, double loss);

// ---- resampling: FLAML's rule (holdout for large data, k-fold for small), stratified ------
typedef struct {
    int k;                    // 1 = holdout
    int n_train, n_val;       // holdout sizes
    int *fold;                // [n]: fold index of each row (k-fold) or 0 train / 1 val
} resample_plan;
// FLAML's rule (automl.py): 5-fold CV when n*d/0.9 < 1e7 * budget/3600 and n < 100000, else
// holdout (k = 1). budget_s <= 0: no budget known, by n < 100000 alone.
int resample_auto_k(int n, int d, double budget_s);
// k_or_auto <= 0: resample_auto_k(n, d, 0). holdout_ratio <= 0: FLAML's 0.1. Stratified for
// classification, seeded (same seed, same plan).
int resample_make(resample_plan *out, const gh_dataset *data, int k_or_auto, double holdout_ratio,
                  uint64_t seed);
void resample_free(resample_plan *p);

#ifdef __cplusplus
}
#endif
