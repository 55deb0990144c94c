// fuzz_model: saved model files (learners/learners.c header and schema, serial.c, the
// payloads of encode.c, mlp.c and liblinear.c) as `gpuhours predict` uses them: loaded, then
// asked for predictions on two rows of the schema's features (zeros, which are first levels
// for nominal features, and all missing) into a buffer of rows x classes, as cli/cmd_predict.c
// sizes it.
//
// XGBoost trusts the JSON it loads: one changed byte crashed its loader or hung its prediction
// (regressions/model/xgboost_*). Model files now carry a checksum checked before XGBoost sees
// them, and a version 1 file (no checksum) of an XGBoost learner is refused, so those inputs
// must fail to load here like any other damaged file.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learners/learners.h"
#include "fuzz_util.h"

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
    learner_model *m;
    if (learner_load(&m, fuzz_file(0, ".model", data, size))) return 0;
    predict_two_rows(m);
    learner_free(m);
    return 0;
}
