// fuzz_model: saved model files (learners/learners.c header and schema, serial.c, each
// learner's payload: encode.c, mlp.c, liblinear.c, XGBoost's JSON) as `gpuhours predict`
// loads them.
#include "learners/learners.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    learner_model *m;
    if (!learner_load(&m, fuzz_file(0, ".model", data, size))) learner_free(m);
    return 0;
}
