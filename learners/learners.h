// learners: the models a tabular search tunes: gradient-boosted trees and random forests
// (XGBoost C API), L1/L2 logistic and linear regression (liblinear), an MLP on our own engine;
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
    const char *name;         // "xgboost", "xgb_limitdepth", "rf", "lrl1", "lrl2", "linear", "mlp"
    int n_hp;
    const hp_domain *hps;
    double init_cost;         // FLAML's initial relative cost (cost_relative2lgbm)
    int supports_task[3];     // indexed by gh_task
} learner_def;

// Learners compiled into this build (those whose library was found), for a task.
int learners_list(const learner_def **out, int max, gh_task task);
const learner_def *learner_find(const char *name);

// cfg: one double per hp (HP_INT rounded, HP_CAT an index). time_limit_s <= 0: none; a fit
// that would overrun stops early (boosting rounds, epochs) and sets *stopped_early.
int learner_fit(const learner_def *def, const gh_dataset *train, const double *cfg, uint64_t seed,
                double time_limit_s, learner_model **out, int *stopped_early);
// out: [n x n_classes] class probabilities (classification) or [n] values (regression).
int learner_predict(const learner_model *m, const gh_dataset *data, float *out);
int learner_save(const learner_model *m, const char *path);
int learner_load(learner_model **out, const char *path);
void learner_free(learner_model *m);
const learner_def *learner_model_def(const learner_model *m);
// cfg as JSON text {"name": value, ...} (for the ledger and --help output); caller frees.
char *learner_cfg_json(const learner_def *def, const double *cfg);

// ---- metrics: every metric returned as a loss to minimise (FLAML's convention) ------------
typedef enum { METRIC_AUTO = -1, METRIC_ACCURACY = 0, METRIC_LOGLOSS, METRIC_ROC_AUC,
               METRIC_MACRO_F1, METRIC_R2, METRIC_RMSE } gh_metric;
const char *metric_name(gh_metric m);
int metric_parse(const char *text, gh_metric *m);
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
int resample_make(resample_plan *out, const gh_dataset *data, int k_or_auto, double holdout_ratio,
                  uint64_t seed);
void resample_free(resample_plan *p);

#ifdef __cplusplus
}
#endif
