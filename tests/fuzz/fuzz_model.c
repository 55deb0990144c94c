// fuzz_model: saved model files (learners/learners.c header and schema, serial.c, the
// payloads of encode.c, mlp.c and liblinear.c) as `gpuhours predict` uses them: loaded, then
// asked for predictions on two rows of the schema's features (zeros, which are first levels
// for nominal features, and all missing) into a buffer of rows x classes, as cli/cmd_predict.c
// sizes it.
//
// Files for XGBoost's learners (xgboost, xgb_limitdepth, rf) are skipped: XGBoost 1.7 trusts
// the JSON it loads, and one changed byte crashes its loader (an array shorter than the tree)
// or hangs its prediction (a child pointing back at its node); tests/fuzz/known/model/ holds
// both. Their payloads can be fuzzed here once learners/xgboost.c checks them first.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learners/learners.h"
#include "fuzz_util.h"

static int names_xgboost_learner(const uint8_t *data, size_t size) {
    char head[256], name[64];
    size_t n = size < sizeof head - 1 ? size : sizeof head - 1;
    memcpy(head, data, n);
    head[n] = 0;
    const char *nl = strchr(head, '\n');   // learner_load reads the name after the magic line
    if (!nl || sscanf(nl, " learner %63s", name) != 1) return 0;
    return !strcmp(name, "xgboost") || !strcmp(name, "xgb_limitdepth") || !strcmp(name, "rf");
}

static void predict_two_rows(const learner_model *m) {
    gh_dataset ds;
    if (dataset_schema_copy(&ds, learner_model_schema(m))) return;
    const int n = 2;
    float *x = calloc((size_t)n * (size_t)ds.d + 1, sizeof(float));
    float *y = calloc((size_t)n, sizeof(float));
    int k = ds.n_classes ? ds.n_classes : 1;
    float *pred = malloc(sizeof(float) * ((size_t)n * (size_t)k + 1));
    if (x && y && pred) {
        for (int j = 0; j < ds.d; j++) x[(size_t)ds.d + j] = NAN;
        free(ds.x), free(ds.y);
        ds.x = x, ds.y = y, ds.n = n;
        x = NULL, y = NULL;
        learner_predict(m, &ds, pred);
    }
    free(x), free(y), free(pred);
    dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (names_xgboost_learner(data, size)) return 0;
    learner_model *m;
    if (learner_load(&m, fuzz_file(0, ".model", data, size))) return 0;
    predict_two_rows(m);
    learner_free(m);
    return 0;
}
