// test_tab_lightgbm: the LightGBM learners (lgbm, extra_tree) beyond what test_tab_learners
// checks for every learner: FLAML's hyperparameters reach LightGBM under its names, nominal
// features go in as categoricals, the time limit stops boosting and the forest, a seed gives
// the same model twice, and `gpuhours tune -l lgbm,extra_tree` continues with --resume.
// SKIPPED (77) when lib_lightgbm.so cannot be loaded (`make deps` fetches it).
//
// `test_tab_lightgbm absent` runs with GH_LIGHTGBM_LIB pointing nowhere (tests/tabular's
// CMakeLists.txt): the learners must then be reported unavailable, saying how to get them, by
// learner_unavailable, learner_fit, learner_load, `tune --help` and `tune -l lgbm`; never
// silently dropped.
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

#include "learners/learners.h"
#include "ledger/ledger.h"
#include "tab_util.h"

enum { N = 600, D = 4 };

// 3 numeric features and one nominal of 3 levels; a binary label from a noisy rule in which
// the level "blue" matters.
static void make_data(gh_dataset *d, uint64_t seed) {
    static char *names[D] = {"a", "b", "c", "color"};
    static char *levels[3] = {"red", "green", "blue"};
    static char **level_names[D] = {NULL, NULL, NULL, levels};
    static int feat_levels[D] = {0, 0, 0, 3};
    static char *classes[2] = {"no", "yes"};
    gh_rng r;
    gh_rng_seed(&r, seed, 0);
    *d = (gh_dataset){.n = N, .d = D, .task = GH_TASK_BINARY, .n_classes = 2,
                      .class_names = classes, .feat_names = names, .feat_levels = feat_levels,
                      .level_names = level_names, .target_name = "label"};
    d->x = malloc(sizeof(float) * N * D);
    d->y = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        float *x = d->x + (size_t)i * D;
        for (int j = 0; j < 3; j++) x[j] = (float)gh_rng_normal(&r);
        x[3] = (float)gh_rng_below(&r, 3);
        d->y[i] = x[0] - x[1] + 1.5 * (x[3] == 2) + 0.5 * gh_rng_normal(&r) > 0.5;
    }
}

static void init_cfg(const learner_def *def, double *cfg) {
    for (int i = 0; i < def->n_hp; i++) cfg[i] = def->hps[i].init;
}

static void set_hp(const learner_def *def, double *cfg, const char *name, double v) {
    for (int i = 0; i < def->n_hp; i++)
        if (!strcmp(def->hps[i].name, name)) cfg[i] = v;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

// `gpuhours ARGS 2>&1`: the exit status; the output in out.
static int run_cli(const char *args, char *out, size_t n) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", GH_GPUHOURS, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_csv(const char *path, const gh_dataset *d) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "a,b,c,color,label\n");
    for (int i = 0; i < d->n; i++) {
        const float *x = d->x + (size_t)i * D;
        fprintf(f, "%.5f,%.5f,%.5f,%s,%s\n", x[0], x[1], x[2], d->level_names[3][(int)x[3]],
                d->y[i] > 0 ? "yes" : "no");
    }
    fclose(f);
}

// ---- with LightGBM ------------------------------------------------------------------------

// The parameters LightGBM trained with, from the "parameters:" section of its model text.
static void check_params(const learner_def *def, const double *cfg, const gh_dataset *d,
                         const char *const *want, int n_want) {
    learner_model *m = NULL;
    CHECK_OK(learner_fit(def, d, cfg, 1, 0, &m, NULL));
    if (!m) return;
    char path[64];
    snprintf(path, sizeof path, "%s.model", def->name);
    CHECK_OK(learner_save(m, path));
    const char *text = read_file(path);
    CHECK(text != NULL);
    for (int i = 0; text && i < n_want; i++)
        CHECK_MSG(strstr(text, want[i]) != NULL, "%s: '%s' not in the model's parameters",
                  def->name, want[i]);
    learner_free(m);
}

static void params_reach_lightgbm(const gh_dataset *d) {
    const learner_def *lgbm = learner_find("lgbm"), *et = learner_find("extra_tree");
    double cfg[16];
    init_cfg(lgbm, cfg);
    set_hp(lgbm, cfg, "num_leaves", 13);
    set_hp(lgbm, cfg, "min_child_samples", 7);
    set_hp(lgbm, cfg, "log_max_bin", 6);
    set_hp(lgbm, cfg, "colsample_bytree", 0.5);
    set_hp(lgbm, cfg, "reg_alpha", 0.25);
    set_hp(lgbm, cfg, "reg_lambda", 2);
    set_hp(lgbm, cfg, "learning_rate", 0.125);
    static const char *const want_lgbm[] = {
        "[boosting: gbdt]", "[objective: binary]", "[num_leaves: 13]", "[min_data_in_leaf: 7]",
        "[max_bin: 63]", "[feature_fraction: 0.5]", "[lambda_l1: 0.25]", "[lambda_l2: 2]",
        "[learning_rate: 0.125]", "[categorical_feature: 3]", "[deterministic: 1]"};
    check_params(lgbm, cfg, d, want_lgbm, (int)(sizeof want_lgbm / sizeof *want_lgbm));
    init_cfg(et, cfg);
    set_hp(et, cfg, "max_leaves", 9);
    set_hp(et, cfg, "max_features", 0.5);
    static const char *const want_et[] = {
        "[boosting: rf]", "[extra_trees: 1]", "[num_leaves: 9]", "[feature_fraction_bynode: 0.5]",
        "[bagging_fraction: 0.632]", "[categorical_feature: 3]", "[min_data_in_leaf: 1]"};
    check_params(et, cfg, d, want_et, (int)(sizeof want_et / sizeof *want_et));
    // n_estimators is the number of rounds: 7 trees in the file
    init_cfg(et, cfg);
    set_hp(et, cfg, "n_estimators", 7);
    learner_model *m = NULL;
    CHECK_OK(learner_fit(et, d, cfg, 1, 0, &m, NULL));
    if (m) {
        CHECK_OK(learner_save(m, "trees.model"));
        const char *text = read_file("trees.model");
        CHECK_MSG(text && strstr(text, "Tree=6\n") && !strstr(text, "Tree=7\n"),
                  "extra_tree with n_estimators 7: not 7 trees");
        learner_free(m);
    }
}

static void time_limit(const gh_dataset *d) {
    static const char *const names[] = {"lgbm", "extra_tree"};
    for (int k = 0; k < 2; k++) {
        const learner_def *def = learner_find(names[k]);
        double cfg[16];
        init_cfg(def, cfg);
        set_hp(def, cfg, "n_estimators", 32000);   // far beyond what 0.3 s allows
        set_hp(def, cfg, "num_leaves", 64);
        set_hp(def, cfg, "max_leaves", 64);
        learner_model *m = NULL;
        int stopped = 0;
        double t0 = gh_wall_seconds();
        CHECK_OK(learner_fit(def, d, cfg, 5, 0.3, &m, &stopped));
        double dt = gh_wall_seconds() - t0;
        printf("  %-10s stopped %d after %.2f s of a 0.3 s limit\n", names[k], stopped, dt);
        CHECK_MSG(stopped == 1 && dt < 1.5, "%s: stopped %d after %.2f s", names[k], stopped, dt);
        learner_free(m);
    }
}

// Same seed, same predictions (deterministic=true); the forest's randomness follows the seed.
static void seeds(const gh_dataset *d) {
    static const char *const names[] = {"lgbm", "extra_tree"};
    static float p[3][N * 2];
    for (int k = 0; k < 2; k++) {
        const learner_def *def = learner_find(names[k]);
        double cfg[16];
        init_cfg(def, cfg);
        set_hp(def, cfg, "n_estimators", 20);
        set_hp(def, cfg, "colsample_bytree", 0.5);   // lgbm: a random feature subset per tree
        uint64_t seed[3] = {7, 7, 8};
        for (int s = 0; s < 3; s++) {
            learner_model *m = NULL;
            CHECK_OK(learner_fit(def, d, cfg, seed[s], 0, &m, NULL));
            if (m) CHECK_OK(learner_predict(m, d, p[s]));
            learner_free(m);
        }
        CHECK_CLOSE(names[k], p[1], p[0], (size_t)N * 2, 0, 0);
        int differ = 0;
        for (int i = 0; i < N * 2; i++) differ |= p[2][i] != p[0][i];
        CHECK_MSG(differ, "%s: seeds 7 and 8 gave the same model", names[k]);
    }
}

static long ledger_trials(const char *path) {
    ledger *l = NULL;
    if (ledger_open_read(&l, path)) return -1;
    long n = (long)ledger_num_trials(l);
    ledger_close(l, NULL);
    return n;
}

// A tune run of the LightGBM learners, then --resume of it with a larger budget: the first
// run's trials stay and more are added.
static void tune_resume(const gh_dataset *d) {
    write_csv("lgbm.csv", d);
    static char out[1 << 16];
    int rc = run_cli("tune lgbm.csv -q -l lgbm,extra_tree --budget 2 -k 1 -o run.h5", out,
                     sizeof out);
    CHECK_MSG(rc == 0, "tune: exit %d:\n%s", rc, out);
    CHECK_MSG(strstr(out, "best learner: lgbm") || strstr(out, "best learner: extra_tree"),
              "tune: no LightGBM best learner:\n%s", out);
    long first = ledger_trials("run.h5");
    rc = run_cli("tune lgbm.csv -q -l lgbm,extra_tree --budget 4 -k 1 -o run.h5 --resume", out,
                 sizeof out);
    CHECK_MSG(rc == 0, "tune --resume: exit %d:\n%s", rc, out);
    long second = ledger_trials("run.h5");
    printf("  tune: %ld trials in 2 s, %ld after --resume to 4 s\n", first, second);
    CHECK_MSG(first >= 3 && second > first, "tune --resume: %ld trials, then %ld", first, second);
    learner_model *m = NULL;
    CHECK_OK(learner_load(&m, "run.model"));
    if (m) {
        const char *name = learner_model_def(m)->name;
        CHECK_MSG(!strcmp(name, "lgbm") || !strcmp(name, "extra_tree"), "refit model is %s", name);
        learner_free(m);
    }
}

// ---- without LightGBM -----------------------------------------------------------------------

static int has(const char *text, const char *what) {
    int ok = text && strstr(text, what) != NULL;
    CHECK_MSG(ok, "'%s' not in:\n%s", what, text ? text : "(null)");
    return ok;
}

// A model file of learner lgbm, valid up to its payload, with its checksum.
static void write_lgbm_model(const char *path) {
    char text[512];
    int n = snprintf(text, sizeof text,
                     "gpuhours-model 2\nlearner lgbm\ndevice cpu\ncfg 8 4 4 20 0.1 8 1 0.001 1\n"
                     "task binary\ntarget \"t\"\nclasses 2 \"x\" \"y\"\nfeatures 1\n\"a\" 0\n"
                     "payload 4\ntree\n");
    snprintf(text + n, sizeof text - (size_t)n, "crc32 %08lx\n",
             crc32(0L, (const Bytef *)text, (uInt)n));
    tab_write(path, text);
}

static int absent(void) {
    const char *env = getenv("GH_LIGHTGBM_LIB");
    CHECK_MSG(env && !strcmp(env, "/nonexistent"), "run with GH_LIGHTGBM_LIB=/nonexistent");
    static const char *const names[] = {"lgbm", "extra_tree"};
    gh_dataset d;
    make_data(&d, 1);
    for (int k = 0; k < 2; k++) {
        const learner_def *def = learner_find(names[k]);
        CHECK_MSG(def != NULL, "%s is not in the registry", names[k]);
        if (!def) continue;
        const char *why = learner_unavailable(def);
        has(why, "LightGBM is not available (GH_LIGHTGBM_LIB=/nonexistent");
        has(why, "run `make deps`");
        const learner_def *defs[32];
        int n = learners_list(defs, 32, GH_TASK_AUTO), listed = 0;
        for (int i = 0; i < n && i < 32; i++) listed |= defs[i] == def;
        CHECK_MSG(!listed, "%s offered by learners_list without its library", names[k]);
        n = learners_registered(defs, 32);
        listed = 0;
        for (int i = 0; i < n && i < 32; i++) listed |= defs[i] == def;
        CHECK_MSG(listed, "%s not in learners_registered", names[k]);
        double cfg[16];
        init_cfg(def, cfg);
        learner_model *m = NULL;
        char msg[128];
        snprintf(msg, sizeof msg, "learner %s: LightGBM is not available (GH_LIGHTGBM_LIB=",
                 names[k]);
        CHECK_FAILS(learner_fit(def, &d, cfg, 1, 0, &m, NULL), GH_EUNSUP, msg);
        CHECK(m == NULL);
    }
    learner_model *m = NULL;
    write_lgbm_model("lgbm.model");
    CHECK_FAILS(learner_load(&m, "lgbm.model"), GH_EUNSUP,
                "lgbm.model: learner lgbm: LightGBM is not available (GH_LIGHTGBM_LIB=");
    CHECK(m == NULL);
    // the CLI: listed as unavailable, refused by name before any file is written
    static char out[1 << 16];
    CHECK(run_cli("tune --help", out, sizeof out) == 0);
    has(out, "  lgbm ");
    has(out, "unavailable: LightGBM is not available");
    write_csv("absent.csv", &d);
    int rc = run_cli("tune absent.csv -q -l xgboost,lgbm --budget 1 -o absent.h5", out, sizeof out);
    CHECK_MSG(rc != 0, "tune -l lgbm without LightGBM: exit 0");
    has(out, "--learners: 'lgbm': LightGBM is not available");
    has(out, "make deps");
    struct stat sb;
    CHECK_MSG(stat("absent.h5", &sb) != 0, "tune -l lgbm without LightGBM wrote absent.h5");
    free(d.x), free(d.y);
    return check_done("test_tab_lightgbm (absent)");
}

int main(int argc, char **argv) {
    if (tab_enter_tmpdir("tab_lightgbm")) return 1;
    if (argc > 1 && !strcmp(argv[1], "absent")) return absent();
    const char *why = learner_unavailable(learner_find("lgbm"));
    if (why) check_skip("test_tab_lightgbm", why);
    gh_dataset d;
    make_data(&d, 1);
    params_reach_lightgbm(&d);
    time_limit(&d);
    seeds(&d);
    tune_resume(&d);
    free(d.x), free(d.y);
    return check_done("test_tab_lightgbm");
}
