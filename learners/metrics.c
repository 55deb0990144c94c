// learners/metrics.c: the evaluation metrics, each returned as a loss to minimise as FLAML
// does (1 - accuracy, 1 - ROC-AUC, 1 - macro F1, 1 - R2, log-loss, RMSE). Definitions follow
// scikit-learn's: log-loss clips probabilities to [1e-15, 1 - 1e-15] and renormalises each
// row; ROC-AUC is the Mann-Whitney statistic with average ranks for ties (one-vs-rest, macro
// averaged, for multiclass); macro F1 averages over the labels in y_true or y_pred.
// Rows whose y is NaN (a target absent from new data) are skipped.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "learner_impl.h"

static const char *const names[] = {"accuracy", "log_loss", "roc_auc", "macro_f1", "r2", "rmse"};

const char *metric_name(gh_metric m) {
    if (m == METRIC_AUTO) return "auto";
    return m >= 0 && m <= METRIC_RMSE ? names[m] : "unknown";
}

int metric_parse(const char *text, gh_metric *m) {
    for (int i = 0; i <= METRIC_RMSE; i++)
        if (!strcasecmp(text, names[i])) {
            *m = (gh_metric)i;
            return GH_OK;
        }
    if (!strcasecmp(text, "auto")) *m = METRIC_AUTO;
    else if (!strcasecmp(text, "logloss")) *m = METRIC_LOGLOSS;
    else if (!strcasecmp(text, "auc")) *m = METRIC_ROC_AUC;
    else if (!strcasecmp(text, "f1")) *m = METRIC_MACRO_F1;
    else
        return gh_fail(GH_EINVAL, "unknown metric '%s' (accuracy, log_loss, roc_auc, macro_f1, r2, "
                       "rmse, auto)", text);
    return GH_OK;
}

int metric_check(gh_metric m, gh_task task) {
    static const char *const tasks[] = {"binary classification", "multiclass classification",
                                        "regression"};
    if (m == METRIC_AUTO || task < 0 || task > 2) return GH_OK;
    int for_regression = m == METRIC_R2 || m == METRIC_RMSE;
    if (for_regression == (task == GH_TASK_REGRESSION)) return GH_OK;
    return gh_fail(GH_EINVAL, "metric %s is for %s, and this task is %s (use %s)", metric_name(m),
                   for_regression ? "regression" : "classification", tasks[task],
                   task == GH_TASK_REGRESSION ? "r2 or rmse"
                                              : "accuracy, log_loss, roc_auc or macro_f1");
}

gh_metric metric_default(gh_task task) {
    switch (task) {
    case GH_TASK_BINARY: return METRIC_ROC_AUC;
    case GH_TASK_MULTICLASS: return METRIC_LOGLOSS;
    default: return METRIC_R2;
    }
}

double metric_value_from_loss(gh_metric m, double loss) {
    return m == METRIC_LOGLOSS || m == METRIC_RMSE ? loss : 1.0 - loss;
}

static int argmax(const float *p, int k) {
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

typedef struct {
    float s;
    int pos;
} scored;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

// AUC of scores for "positive" rows: (sum of positive ranks - P(P+1)/2) / (P N), ties averaged.
static double auc_binary(scored *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    double rank_sum = 0.0;
    long P = 0, N = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double avg = 0.5 * (double)(i + 1 + j);   // ranks i+1 .. j
        for (int k = i; k < j; k++)
            if (v[k].pos) rank_sum += avg;
        i = j;
    }
    for (int i = 0; i < n; i++) P += v[i].pos, N += !v[i].pos;
    if (P == 0 || N == 0) return NAN;  // undefined with one class, as scikit-learn refuses it
    return (rank_sum - 0.5 * (double)P * (double)(P + 1)) / ((double)P * (double)N);
}

double metric_loss(gh_metric m, const gh_dataset *data, const float *pred) {
    int n = data->n, k = data->n_classes;
    int cls = data->task != GH_TASK_REGRESSION;
    if (m == METRIC_AUTO) m = metric_default(data->task);
    if (cls != (m != METRIC_R2 && m != METRIC_RMSE)) return NAN;
    int used = 0;
    for (int i = 0; i < n; i++) used += !isnan(data->y[i]);
    if (used == 0) return NAN;
    switch (m) {
    case METRIC_ACCURACY: {
        long hit = 0;
        for (int i = 0; i < n; i++)
            if (!isnan(data->y[i])) hit += argmax(pred + (size_t)i * k, k) == (int)data->y[i];
        return 1.0 - (double)hit / used;
    }
    case METRIC_LOGLOSS: {
        const double eps = 1e-15;
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            if (isnan(data->y[i])) continue;
            const float *p = pred + (size_t)i * k;
            double z = 0.0;
            for (int c = 0; c < k; c++) z += fmin(fmax(p[c], eps), 1.0 - eps);
            double py = fmin(fmax(p[(int)data->y[i]], eps), 1.0 - eps) / z;
            sum -= log(py);
        }
        return sum / used;
    }
    case METRIC_ROC_AUC: {
        scored *v = malloc(sizeof(scored) * (size_t)used);
        if (!v) return NAN;
        double total = 0.0;
        int counted = 0;
        for (int c = k == 2 ? 1 : 0; c < k; c++) {
            int t = 0;
            for (int i = 0; i < n; i++)
                if (!isnan(data->y[i]))
                    v[t++] = (scored){pred[(size_t)i * k + c], (int)data->y[i] == c};
            double a = auc_binary(v, t);
            if (isnan(a)) {
                if (k == 2) {
                    free(v);
                    return NAN;
                }
                continue;   // a class absent from y: left out of the average
            }
            total += a;
            counted++;
        }
        free(v);
        return counted ? 1.0 - total / counted : NAN;
    }
    case METRIC_MACRO_F1: {
        long *tp = calloc((size_t)k, sizeof(long)), *fp = calloc((size_t)k, sizeof(long)),
             *fn = calloc((size_t)k, sizeof(long));
        if (!tp || !fp || !fn) {
            free(tp), free(fp), free(fn);
            return NAN;
        }
        for (int i = 0; i < n; i++) {
            if (isnan(data->y[i])) continue;
            int y = (int)data->y[i], p = argmax(pred + (size_t)i * k, k);
            if (p == y) tp[y]++;
            else fp[p]++, fn[y]++;
        }
        double sum = 0.0;
        int labels = 0;
        for (int c = 0; c < k; c++) {
            if (tp[c] + fp[c] + fn[c] == 0) continue;  // in neither y_true nor y_pred
            sum += 2.0 * tp[c] / (2.0 * tp[c] + fp[c] + fn[c]);
            labels++;
        }
        free(tp), free(fp), free(fn);
        return 1.0 - sum / labels;
    }
    case METRIC_R2: {
        double mean = 0.0, res = 0.0, tot = 0.0;
        for (int i = 0; i < n; i++)
            if (!isnan(data->y[i])) mean += data->y[i];
        mean /= used;
        for (int i = 0; i < n; i++) {
            if (isnan(data->y[i])) continue;
            res += ((double)data->y[i] - pred[i]) * ((double)data->y[i] - pred[i]);
            tot += ((double)data->y[i] - mean) * ((double)data->y[i] - mean);
        }
        if (tot == 0.0) return res == 0.0 ? 0.0 : 1.0;  // scikit-learn: r2 1 if perfect, else 0
        return res / tot;
    }
    case METRIC_RMSE: {
        double res = 0.0;
        for (int i = 0; i < n; i++)
            if (!isnan(data->y[i]))
                res += ((double)data->y[i] - pred[i]) * ((double)data->y[i] - pred[i]);
        return sqrt(res / used);
    }
    default: return NAN;
    }
}
