// test_tab_metrics: every metric against values computed by hand (AUC with ties, macro F1,
// log-loss with clipping, R2, RMSE), multiclass AUC against a naive pairwise count, names.
#include <math.h>
#include <stdlib.h>

#include "learners/learners.h"
#include "tab_util.h"

static gh_dataset make(gh_task task, int k, int n, const float *y) {
    gh_dataset d = {0};
    d.n = n;
    d.d = 1;
    d.task = task;
    d.n_classes = k;
    d.y = (float *)y;
    return d;
}

// AUC by counting pairs: P(score_pos > score_neg) + 0.5 P(tie)
static double naive_auc(const float *s, const int *pos, int n) {
    double num = 0.0, den = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (pos[i] && !pos[j]) {
                den += 1.0;
                num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            }
    return num / den;
}

static void test_binary(void) {
    // pairs (pos, neg): (.8,.8) tie 0.5, (.8,.1) 1, (.3,.8) 0, (.3,.1) 1 -> AUC 2.5 / 4
    float y[4] = {1, 0, 1, 0};
    float p[8] = {0.2f, 0.8f, 0.2f, 0.8f, 0.7f, 0.3f, 0.9f, 0.1f};
    gh_dataset d = make(GH_TASK_BINARY, 2, 4, y);
    CHECK(fabs(metric_loss(METRIC_ROC_AUC, &d, p) - 0.375) < 1e-12);
    CHECK(fabs(metric_loss(METRIC_AUTO, &d, p) - 0.375) < 1e-12);   // binary default: roc_auc
    // argmax: 1, 1, 0, 0 -> right, wrong, wrong, right
    CHECK(fabs(metric_loss(METRIC_ACCURACY, &d, p) - 0.5) < 1e-12);
    // log-loss: -(ln .8 + ln .2 + ln .3 + ln .9) / 4
    double ll = -(log(0.8) + log(0.2) + log(0.3) + log(0.9)) / 4;
    CHECK(fabs(metric_loss(METRIC_LOGLOSS, &d, p) - ll) < 1e-6);
    // a zero probability on the true class is clipped to 1e-15
    float y1[1] = {1};
    float p1[2] = {1.0f, 0.0f};
    gh_dataset d1 = make(GH_TASK_BINARY, 2, 1, y1);
    CHECK(fabs(metric_loss(METRIC_LOGLOSS, &d1, p1) - (-log(1e-15))) < 1e-6);
    // one class only: AUC undefined
    CHECK(isnan(metric_loss(METRIC_ROC_AUC, &d1, p1)));
    // regression metrics on a classification task are not defined
    CHECK(isnan(metric_loss(METRIC_R2, &d, p)));
}

static void test_macro_f1(void) {
    // y = 0 0 1 1 2 2, predicted 0 1 1 1 2 0: F1 = 2/4, 4/5, 2/3 -> macro 0.6556
    float y[6] = {0, 0, 1, 1, 2, 2};
    int pred[6] = {0, 1, 1, 1, 2, 0};
    float p[18] = {0};
    for (int i = 0; i < 6; i++) p[i * 3 + pred[i]] = 1.0f;
    gh_dataset d = make(GH_TASK_MULTICLASS, 3, 6, y);
    double f1 = (0.5 + 0.8 + 2.0 / 3.0) / 3.0;
    CHECK(fabs(metric_loss(METRIC_MACRO_F1, &d, p) - (1 - f1)) < 1e-12);
    CHECK(fabs(metric_loss(METRIC_ACCURACY, &d, p) - 2.0 / 6.0) < 1e-12);
    // a class in neither y nor the predictions does not count (4 classes declared)
    float p4[24] = {0};
    for (int i = 0; i < 6; i++) p4[i * 4 + pred[i]] = 1.0f;
    gh_dataset d4 = make(GH_TASK_MULTICLASS, 4, 6, y);
    CHECK(fabs(metric_loss(METRIC_MACRO_F1, &d4, p4) - (1 - f1)) < 1e-12);
}

static void test_multiclass_auc(void) {
    enum { N = 40, K = 3 };
    float y[N], p[N * K];
    gh_rng r;
    gh_rng_seed(&r, 7, 0);
    for (int i = 0; i < N; i++) {
        y[i] = (float)(i % K);
        double z = 0;
        for (int c = 0; c < K; c++) {
            // quantised scores make ties
            p[i * K + c] = (float)(floor(gh_rng_uniform(&r) * 5) + (c == (int)y[i] ? 2 : 0));
            z += p[i * K + c];
        }
        for (int c = 0; c < K; c++) p[i * K + c] = (float)(p[i * K + c] / z);
    }
    double want = 0;
    for (int c = 0; c < K; c++) {
        float s[N];
        int pos[N];
        for (int i = 0; i < N; i++) s[i] = p[i * K + c], pos[i] = (int)y[i] == c;
        want += naive_auc(s, pos, N);
    }
    want /= K;
    gh_dataset d = make(GH_TASK_MULTICLASS, K, N, y);
    double got = 1 - metric_loss(METRIC_ROC_AUC, &d, p);
    CHECK_MSG(fabs(got - want) < 1e-9, "ovr auc %.12f, naive %.12f", got, want);
    CHECK(metric_default(GH_TASK_MULTICLASS) == METRIC_LOGLOSS);
}

static void test_regression(void) {
    float y[3] = {1, 2, 3}, p[3] = {1, 2, 4};
    gh_dataset d = make(GH_TASK_REGRESSION, 0, 3, y);
    CHECK(fabs(metric_loss(METRIC_R2, &d, p) - 0.5) < 1e-12);     // res 1, tot 2
    CHECK(fabs(metric_loss(METRIC_RMSE, &d, p) - sqrt(1.0 / 3)) < 1e-12);
    CHECK(fabs(metric_value_from_loss(METRIC_R2, 0.25) - 0.75) < 1e-15);
    CHECK(metric_value_from_loss(METRIC_RMSE, 0.25) == 0.25);
    CHECK(isnan(metric_loss(METRIC_ACCURACY, &d, p)));
    // rows without a target are skipped
    float yn[4] = {1, 2, NAN, 3}, pn[4] = {1, 2, 100, 4};
    gh_dataset dn = make(GH_TASK_REGRESSION, 0, 4, yn);
    CHECK(fabs(metric_loss(METRIC_R2, &dn, pn) - 0.5) < 1e-12);
    CHECK(metric_default(GH_TASK_REGRESSION) == METRIC_R2);
}

static void test_names(void) {
    for (int m = 0; m <= METRIC_RMSE; m++) {
        gh_metric back;
        CHECK_OK(metric_parse(metric_name((gh_metric)m), &back));
        CHECK(back == (gh_metric)m);
    }
    gh_metric m;
    CHECK_OK(metric_parse("logloss", &m));
    CHECK(m == METRIC_LOGLOSS);
    CHECK_FAILS(metric_parse("mape", &m), GH_EINVAL, "unknown metric 'mape'");
}

int main(void) {
    test_binary();
    test_macro_f1();
    test_multiclass_auc();
    test_regression();
    test_names();
    return check_done("test_tab_metrics");
}
