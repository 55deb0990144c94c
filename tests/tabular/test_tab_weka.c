// test_tab_weka: the real weka ARFF sets (from `make data`) parse with their known shapes and
// tasks, and a tree learner beats chance on one; skipped when the sets are not extracted.
#include <stdlib.h>
#include <sys/stat.h>

#include "learners/learners.h"
#include "tab_util.h"

typedef struct {
    const char *file;
    int rows, cols, classes;   // classes 0: regression
} known;

static const known sets[] = {
    {"credit-g.arff", 1000, 21, 2},   {"diabetes.arff", 768, 9, 2},
    {"ionosphere.arff", 351, 35, 2},  {"segment-challenge.arff", 1500, 20, 7},
    {"segment-test.arff", 810, 20, 7}, {"iris.arff", 150, 5, 3},
    {"soybean.arff", 683, 36, 19},    {"vote.arff", 435, 17, 2},
    {"cpu.arff", 209, 7, 0},          {"weather.nominal.arff", 14, 5, 2},
};

int main(void) {
    const char *env = getenv("GH_DATA_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", env && *env ? env : GH_SOURCE_DIR "/.data/weka");
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/credit-g.arff", dir);
    struct stat sb;
    if (stat(probe, &sb)) check_skip("test_tab_weka", "no weka ARFF files (run `make data`)");
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, sets[i].file);
        gh_table t;
        gh_dataset ds;
        int st = table_read(&t, path);
        CHECK_MSG(st == GH_OK, "%s: %s", sets[i].file, gh_error_get());
        if (st) continue;
        CHECK_MSG(t.n_rows == sets[i].rows && t.n_cols == sets[i].cols, "%s: %d x %d",
                  sets[i].file, t.n_rows, t.n_cols);
        st = dataset_from_table(&ds, &t, NULL, GH_TASK_AUTO);
        CHECK_MSG(st == GH_OK, "%s: %s", sets[i].file, gh_error_get());
        if (!st) {
            CHECK_MSG(ds.n_classes == sets[i].classes, "%s: %d classes", sets[i].file,
                      ds.n_classes);
            printf("%-24s %5d rows %3d features task %s\n", sets[i].file, ds.n, ds.d,
                   gh_task_name(ds.task));
            dataset_free(&ds);
        }
        table_free(&t);
    }
#if GH_TEST_XGBOOST
    // credit-g: 5-fold CV of FLAML's starting xgboost config beats the 0.5 AUC of chance
    char path[1200];
    snprintf(path, sizeof path, "%s/credit-g.arff", dir);
    gh_table t;
    gh_dataset ds;
    CHECK_OK(table_read(&t, path));
    CHECK_OK(dataset_from_table(&ds, &t, "class", GH_TASK_AUTO));
    const learner_def *def = learner_find("xgboost");
    hp_domain sp[16];
    double cfg[16];
    CHECK_OK(learner_space(def, ds.n, ds.d, ds.task, sp));
    for (int i = 0; i < def->n_hp; i++) cfg[i] = sp[i].init;
    resample_plan plan;
    CHECK_OK(resample_make(&plan, &ds, 0, 0, 1));
    double loss = 0;
    int *idx = malloc(sizeof(int) * (size_t)ds.n);
    for (int f = 0; f < plan.k; f++) {
        int ntr = 0, nva = 0;
        for (int i = 0; i < ds.n; i++)
            if (plan.fold[i] != f) idx[ntr++] = i;
        for (int i = 0; i < ds.n; i++)
            if (plan.fold[i] == f) idx[ntr + nva++] = i;
        gh_dataset tr, va;
        CHECK_OK(dataset_subset(&tr, &ds, idx, ntr));
        CHECK_OK(dataset_subset(&va, &ds, idx + ntr, nva));
        learner_model *m = NULL;
        CHECK_OK(learner_fit(def, &tr, cfg, 1, 0, &m, NULL));
        float *p = malloc(sizeof(float) * (size_t)nva * 2);
        CHECK_OK(learner_predict(m, &va, p));
        loss += metric_loss(METRIC_ROC_AUC, &va, p) / plan.k;
        free(p);
        learner_free(m);
        dataset_free(&tr);
        dataset_free(&va);
    }
    printf("credit-g xgboost init config: 5-fold ROC-AUC %.4f\n", 1 - loss);
    CHECK(1 - loss > 0.7);
    free(idx);
    resample_free(&plan);
    dataset_free(&ds);
    table_free(&t);
#endif
    return check_done("test_tab_weka");
}
