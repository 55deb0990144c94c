// test_tab_learners: every learner in this build fits small synthetic binary, multiclass and
// regression problems (numeric + nominal features, missing values) well above chance on held
// out rows, and its predictions survive save/load exactly; the time limit stops boosting early;
// without a GPU every model says it was trained on the cpu.
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "learners/learners.h"
#include "tab_util.h"

enum { N_TRAIN = 400, N_TEST = 200, D = 5 };

// Features: 4 numeric N(0,1) (5% missing) and one nominal of 3 levels.
static void make_data(gh_dataset *tr, gh_dataset *te, gh_task task, uint64_t seed) {
    static char *names[D] = {"a", "b", "c", "d", "color"};
    static char *levels[3] = {"red", "green", "blue"};
    static char **level_names[D] = {NULL, NULL, NULL, NULL, levels};
    static int feat_levels[D] = {0, 0, 0, 0, 3};
    static char *classes[3] = {"x", "y", "z"};
    gh_rng r;
    gh_rng_seed(&r, seed, 0);
    gh_dataset *ds[2] = {tr, te};
    int ns[2] = {N_TRAIN, N_TEST};
    for (int s = 0; s < 2; s++) {
        gh_dataset *d = ds[s];
        memset(d, 0, sizeof *d);
        d->n = ns[s];
        d->d = D;
        d->task = task;
        d->n_classes = task == GH_TASK_BINARY ? 2 : task == GH_TASK_MULTICLASS ? 3 : 0;
        d->class_names = classes;
        d->feat_names = names;
        d->feat_levels = feat_levels;
        d->level_names = level_names;
        d->target_name = "t";
        d->x = malloc(sizeof(float) * (size_t)d->n * D);
        d->y = malloc(sizeof(float) * (size_t)d->n);
        for (int i = 0; i < d->n; i++) {
            float *x = d->x + (size_t)i * D;
            for (int j = 0; j < 4; j++) x[j] = (float)gh_rng_normal(&r);
            x[4] = (float)gh_rng_below(&r, 3);
            double lvl = x[4] == 2 ? 1.0 : 0.0;
            double s1 = x[0] + x[1] - 0.5 * x[2] + 1.5 * lvl - 0.7;
            double s2 = -x[0] + x[3] + 0.5 * x[1];
            if (task == GH_TASK_BINARY) d->y[i] = s1 + 0.3 * gh_rng_normal(&r) > 0;
            else if (task == GH_TASK_MULTICLASS) d->y[i] = s1 > 0.3 ? 2 : s2 > 0 ? 1 : 0;
            else d->y[i] = (float)(3 * x[0] - 2 * x[1] + x[2] * x[3] + 2 * lvl + 0.1 * gh_rng_normal(&r));
            for (int j = 0; j < 4; j++)
                if (gh_rng_uniform(&r) < 0.05) x[j] = NAN;
        }
    }
}

static void free_data(gh_dataset *d) {
    free(d->x);
    free(d->y);
}

// A configuration to test with: FLAML's init, with enough capacity to learn these problems.
static void test_cfg(const learner_def *def, double *cfg) {
    for (int i = 0; i < def->n_hp; i++) {
        const hp_domain *h = &def->hps[i];
        cfg[i] = h->init;
        if (!strcmp(h->name, "n_estimators")) cfg[i] = 40;
        if (!strcmp(h->name, "max_leaves") || !strcmp(h->name, "num_leaves")) cfg[i] = 16;
        if (!strcmp(h->name, "learning_rate") && strcmp(def->name, "mlp")) cfg[i] = 0.3;
        if (!strcmp(h->name, "learning_rate") && !strcmp(def->name, "mlp")) cfg[i] = 0.01;
        if (!strcmp(h->name, "epochs")) cfg[i] = 40;
        if (!strcmp(h->name, "max_features")) cfg[i] = 0.6;
    }
}

static void run(const learner_def *def, gh_task task) {
    gh_dataset tr, te;
    make_data(&tr, &te, task, 11 + task);
    double cfg[16];
    test_cfg(def, cfg);
    learner_model *m = NULL;
    int stopped = -1;
    double t0 = gh_wall_seconds();
    CHECK_OK(learner_fit(def, &tr, cfg, 5, 0, &m, &stopped));
    double fit_s = gh_wall_seconds() - t0;
    if (!m) {
        free_data(&tr), free_data(&te);
        return;
    }
    CHECK(stopped == 0 && learner_model_def(m) == def);
    int k = task == GH_TASK_REGRESSION ? 1 : te.n_classes;
    float *p = malloc(sizeof(float) * (size_t)N_TEST * k);
    float *q = malloc(sizeof(float) * (size_t)N_TEST * k);
    CHECK_OK(learner_predict(m, &te, p));
    // well above chance: accuracy vs the majority class, R2 vs predicting the mean
    double score, bar;
    if (task == GH_TASK_REGRESSION) {
        score = metric_value_from_loss(METRIC_R2, metric_loss(METRIC_R2, &te, p));
        bar = 0.6;
    } else {
        score = 1 - metric_loss(METRIC_ACCURACY, &te, p);
        int counts[3] = {0};
        for (int i = 0; i < N_TEST; i++) counts[(int)te.y[i]]++;
        int maj = counts[0] > counts[1] ? counts[0] : counts[1];
        if (counts[2] > maj) maj = counts[2];
        bar = (double)maj / N_TEST + 0.15;
        for (int i = 0; i < N_TEST; i++) {   // probabilities sum to one
            double s = 0;
            for (int c = 0; c < k; c++) s += p[i * k + c];
            if (fabs(s - 1) > 1e-4) {
                CHECK_MSG(0, "%s row %d: probabilities sum to %g", def->name, i, s);
                break;
            }
        }
    }
    printf("%-15s %-10s %s %.3f (bar %.3f) fit %.2fs on %s\n", def->name, gh_task_name(task),
           task == GH_TASK_REGRESSION ? "r2 " : "acc", score, bar, fit_s, learner_model_device(m));
    CHECK_MSG(score > bar, "%s on %s: %.3f <= %.3f", def->name, gh_task_name(task), score, bar);
    // the device recorded is the truth: a CUDA build of libxgboost uses a GPU only when there
    // is one, and nothing else may claim one it did not have
    if (gh_cuda_device_count() == 0)
        CHECK_MSG(!strcmp(learner_model_device(m), "cpu"), "%s: trained on '%s' without a GPU",
                  def->name, learner_model_device(m));
    // save / load: the same predictions
    char path[64];
    snprintf(path, sizeof path, "m_%s_%d.model", def->name, task);
    CHECK_OK(learner_save(m, path));
    learner_model *back = NULL;
    CHECK_OK(learner_load(&back, path));
    if (back) {
        CHECK(learner_model_def(back) == def &&
              !strcmp(learner_model_device(back), learner_model_device(m)));
        CHECK(learner_model_schema(back)->d == D &&
              !strcmp(learner_model_schema(back)->level_names[4][2], "blue"));
        CHECK_OK(learner_predict(back, &te, q));
        CHECK_CLOSE(def->name, q, p, (size_t)N_TEST * k, 0, 1e-6);
        learner_free(back);
    }
    learner_free(m);
    free(p), free(q);
    free_data(&tr), free_data(&te);
}

static void test_time_limit(void) {
#if GH_TEST_XGBOOST
    const learner_def *def = learner_find("xgboost");
    gh_dataset tr, te;
    make_data(&tr, &te, GH_TASK_BINARY, 3);
    double cfg[16];
    test_cfg(def, cfg);
    cfg[0] = 30000;   // n_estimators far beyond what 0.3 s allows
    learner_model *m = NULL;
    int stopped = 0;
    double t0 = gh_wall_seconds();
    CHECK_OK(learner_fit(def, &tr, cfg, 5, 0.3, &m, &stopped));
    double dt = gh_wall_seconds() - t0;
    CHECK_MSG(stopped == 1 && dt < 1.5, "stopped %d after %.2f s", stopped, dt);
    learner_free(m);
    free_data(&tr), free_data(&te);
#endif
}

static void test_bad(void) {
    gh_dataset tr, te;
    make_data(&tr, &te, GH_TASK_REGRESSION, 1);
    const learner_def *mlp = learner_find("mlp");
    double cfg[16];
    test_cfg(mlp, cfg);
    learner_model *m = NULL;
    cfg[0] = NAN;
    CHECK_FAILS(learner_fit(mlp, &tr, cfg, 1, 0, &m, NULL), GH_EINVAL,
                "learner mlp: hyperparameter hidden = nan");
#if GH_TEST_LIBLINEAR
    CHECK_FAILS(learner_fit(learner_find("lrl2"), &tr, cfg, 1, 0, &m, NULL), GH_EINVAL,
                "learner lrl2 does not support the regression task");
#endif
    tab_write("junk.model", "hello\n");
    CHECK_FAILS(learner_load(&m, "junk.model"), GH_EFORMAT,
                "junk.model: not a gpuhours model file");
    CHECK(m == NULL);
    free_data(&tr), free_data(&te);
}

int main(void) {
    if (tab_enter_tmpdir("tab_learners")) return 1;
    const learner_def *defs[16];
    for (int task = 0; task < 3; task++) {
        int n = learners_list(defs, 16, (gh_task)task);
        for (int i = 0; i < n; i++) run(defs[i], (gh_task)task);
    }
    test_time_limit();
    test_bad();
    return check_done("test_tab_learners");
}
