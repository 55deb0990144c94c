// test_hpo_json: tune's JSON records (tune_json.c). A config written and read back is the same
// config bit for bit (every learner of the build and a toy one with a categorical); malformed
// texts are errors naming where they came from and the line/column or the field; a malformed
// config in a results file makes --resume's reader fail naming the file and the trial; the
// best-result record holds the best config.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "search/hpo/hpo.h"

static const char *const kinds[] = {"gbtree", "dart", "gb \"quoted\""};
static const hp_domain toy_hps[] = {
    {"lr", HP_FLOAT, 1e-4, 1, 1, 0.1, 0.1, 0, NULL},
    {"x", HP_FLOAT, -5, 5, 0, 0, 0, 0, NULL},
    {"trees", HP_INT, 4, 32768, 1, 4, 4, 0, NULL},
    {"kind", HP_CAT, 0, 2, 0, 0, 0, 3, kinds},
};
static const learner_def toy = {"toy", 4, toy_hps, 1, {1, 1, 1}, NULL};   // never fitted

// write, read back, equal: every value bit for bit
static int round_trips(const learner_def *def, const double *cfg) {
    char *text = tune_cfg_json(def, cfg);
    CHECK(text != NULL);
    if (!text) return 0;
    double back[HPO_MAX_DIM];
    int st = tune_cfg_parse(def, text, "round trip", back);
    CHECK_MSG(st == GH_OK, "%s: %s", text, gh_error_get());
    int same = st == GH_OK && !memcmp(cfg, back, sizeof(double) * (size_t)def->n_hp);
    CHECK_MSG(same, "%s %s does not read back to the same config", def->name, text);
    free(text);
    return same;
}

static void round_trip(void) {
    const double fixed[4] = {0.1, 1.0 / 3, 4096, 2};
    round_trips(&toy, fixed);
    const double tiny[4] = {1e-300, -0.0, 32768, 0};
    round_trips(&toy, tiny);
    const learner_def *defs[16];
    int n = learners_list(defs, 16, GH_TASK_AUTO);
    CHECK(n >= 1);
    defs[n < 16 ? n : 15] = &toy;
    n = n < 16 ? n + 1 : 16;
    gh_rng r;
    gh_rng_seed(&r, 5, GH_STREAM_SEARCH);
    int ok = 0, total = 0;
    for (int i = 0; i < n; i++) {
        hpo_space sp;
        CHECK_OK(hpo_space_init(&sp, defs[i]->hps, defs[i]->n_hp));
        for (int k = 0; k < 200; k++) {
            double cfg[HPO_MAX_DIM];
            hpo_space_random_cfg(&sp, &r, cfg);
            ok += round_trips(defs[i], cfg);
            total++;
        }
    }
    printf("  %d of %d random configs of %d learners round-trip exactly\n", ok, total, n);
}

// tune_cfg_parse(text) fails with GH_EFORMAT and a message holding every one of want[]
static void rejects(const char *text, const char *want1, const char *want2) {
    double cfg[HPO_MAX_DIM];
    int st = tune_cfg_parse(&toy, text, "runs/x.h5: trial 7 (toy) config", cfg);
    const char *msg = gh_error_get();
    CHECK_MSG(st == GH_EFORMAT && strstr(msg, "runs/x.h5: trial 7") && strstr(msg, want1) &&
                  (!want2 || strstr(msg, want2)),
              "%s: status %d, message '%s'", text, st, msg);
}

static void malformed(void) {
    rejects("{\"lr\": 0.1, \"x\": 1,\n \"trees\" 4, \"kind\": \"dart\"}", "line 2, column 10",
            "malformed JSON");
    rejects("{\"lr\": 0.1, \"x\": 1, \"trees\": 4, \"kind\": \"dart\"} trailing", "line 1", NULL);
    rejects("", "malformed JSON", NULL);
    rejects("[0.1, 1, 4, 0]", "expected an object", "found an array");
    rejects("{\"lr\": 0.1, \"x\": 1, \"kind\": \"dart\"}", "'trees'", "missing");
    rejects("{\"lr\": \"0.1\", \"x\": 1, \"trees\": 4, \"kind\": \"dart\"}", "'lr'",
            "expected a number, found a string");
    rejects("{\"lr\": 0.1, \"x\": 1, \"trees\": 4, \"kind\": \"gblinear\"}", "'kind'",
            "'gblinear' is not a choice");
    rejects("{\"lr\": 0.1, \"x\": 1, \"trees\": 4, \"kind\": 1}", "'kind'", "found a number");
    rejects("{\"lr\": 0.1, \"x\": 1, \"trees\": 4, \"kind\": \"dart\", \"depth\": 3}", "'depth'",
            "not a hyperparameter of toy");
    // the older hand-written format (spaces after ':' and ',') still reads
    double cfg[HPO_MAX_DIM];
    CHECK_OK(tune_cfg_parse(&toy, "{\"lr\": 0.25, \"x\": -1.5, \"trees\": 12, \"kind\": \"dart\"}",
                            "old", cfg));
    CHECK(cfg[0] == 0.25 && cfg[1] == -1.5 && cfg[2] == 12 && cfg[3] == 1);
}

// A results file whose second trial has a malformed config: --resume's reader names the file,
// the trial and where in the text.
static void malformed_in_file(void) {
    const learner_def *mlp = learner_find("mlp");
    CHECK(mlp != NULL);
    if (!mlp) return;
    const char *path = "hpo_json_bad.h5";
    unlink(path);
    ledger_run_info info = {.method = "cfo", .dataset = "generated", .seed = 1};
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, path, &info));
    if (!l) return;
    double cfg[HPO_MAX_DIM];
    for (int i = 0; i < mlp->n_hp; i++) cfg[i] = mlp->hps[i].init;
    char *good = tune_cfg_json(mlp, cfg);
    const char *texts[2] = {good, "{\"lr\": 0.1,\n\"epochs\": }"};
    for (int i = 0; i < 2; i++) {
        ledger_trial t = {.id = i, .arch = texts[i], .learner = "mlp", .fidelity = 100,
                          .val_loss = 0.5, .status = "ok"};
        CHECK_OK(ledger_append_trial(l, &t));
    }
    free(good);
    CHECK_OK(ledger_close(l, "finished"));
    CHECK_OK(ledger_resume(&l, path));
    tune_prior *prior = NULL;
    int n = -1;
    double used;
    int st = tune_prior_read(l, &prior, &n, &used);
    const char *msg = gh_error_get();
    CHECK_MSG(st == GH_EFORMAT && strstr(msg, path) && strstr(msg, "trial 1") &&
                  strstr(msg, "line 2, column 11"),
              "status %d, message '%s'", st, msg);
    CHECK(prior == NULL && n == 0);
    ledger_close(l, "failed");
    unlink(path);
}

// tune/best: the learner, the metric and the best config, which reads back exactly
static void best_record(void) {
    tune_result r = {.best_learner = &toy, .best_loss = 0.125, .best_fidelity = 0.25,
                     .search_s = 10, .n_trials = 42};
    const double cfg[4] = {0.1, 1.0 / 3, 4096, 2};
    memcpy(r.best_cfg, cfg, sizeof cfg);
    char *text = tune_best_json(&r, METRIC_ACCURACY, 60, 5);
    CHECK(text != NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    CHECK_MSG(doc != NULL, "tune/best is not JSON: %s", text ? text : "(null)");
    if (doc) {
        const cJSON *learner = cJSON_GetObjectItemCaseSensitive(doc, "learner");
        const cJSON *metric = cJSON_GetObjectItemCaseSensitive(doc, "metric");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(doc, "metric_value");
        const cJSON *trials = cJSON_GetObjectItemCaseSensitive(doc, "trials");
        CHECK(cJSON_IsString(learner) && !strcmp(learner->valuestring, "toy"));
        CHECK(cJSON_IsString(metric) && !strcmp(metric->valuestring, "accuracy"));
        CHECK(cJSON_IsNumber(value) && value->valuedouble == 0.875);
        CHECK(cJSON_IsNumber(trials) && trials->valuedouble == 42);
        char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "config"));
        double back[4];
        CHECK(config && tune_cfg_parse(&toy, config, "tune/best", back) == GH_OK &&
              !memcmp(back, cfg, sizeof cfg));
        free(config);
        cJSON_Delete(doc);
    }
    free(text);
}

int main(void) {
    round_trip();
    malformed();
    malformed_in_file();
    best_record();
    return check_done("test_hpo_json");
}
