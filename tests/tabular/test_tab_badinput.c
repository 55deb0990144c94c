// test_tab_badinput: inputs found by fuzzing and careful users (issue 10): text that is not
// UTF-8, a model file whose integer fields are out of range, and data too small to resample;
// each is refused with a message that says where and why.
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"
#include "data/tabular.h"
#include "learners/learners.h"
#include "tab_util.h"

static void utf8(void) {
    gh_table t;
    // Latin-1 e-acute in a class name on line 3, column 5
    tab_write("latin1.csv", "a,c\n1,x\n2,caf\xe9\n");
    CHECK_FAILS(table_read(&t, "latin1.csv"), GH_EFORMAT,
                "latin1.csv:3:6: invalid UTF-8 (byte 0xE9)");
    // an overlong encoding of '/' and a lone continuation byte
    tab_write("overlong.csv", "a,c\n1,\xc0\xaf\n");
    CHECK_FAILS(table_read(&t, "overlong.csv"), GH_EFORMAT, "overlong.csv:2:3: invalid UTF-8");
    tab_write("cont.arff", "@relation r\n@attribute a numeric\n@data\n\x80\n");
    CHECK_FAILS(table_read(&t, "cont.arff"), GH_EFORMAT, "cont.arff:4:1: invalid UTF-8");
    // valid multi-byte text and a byte-order mark are fine
    tab_write("utf8.csv", "\xef\xbb\xbf" "a,c\n1,caf\xc3\xa9\n2,\xe2\x82\xac\n3,\xf0\x9f\x98\x80\n");
    CHECK_OK(table_read(&t, "utf8.csv"));
    table_free(&t);
}

static void tiny_data(gh_dataset *ds) {
    gh_table t;
    tab_write("two.csv", "a,c\n1,x\n2,y\n");
    CHECK_OK(table_read(&t, "two.csv"));
    CHECK_OK(dataset_from_table(ds, &t, "c", GH_TASK_AUTO));
    table_free(&t);
}

static void resample(void) {
    gh_dataset ds;
    tiny_data(&ds);
    resample_plan p;
    CHECK_FAILS(resample_make(&p, &ds, 5, 0, 1), GH_EINVAL,
                "resample: 2 rows, but k-fold cross-validation needs at least 5");
    CHECK(strstr(gh_error_get(), "--folds") != NULL);
    CHECK_OK(resample_make(&p, &ds, 1, 0, 1));   // a holdout of 2 rows: one each
    resample_free(&p);
    dataset_free(&ds);
}

// Rewrites `path` (a model file of version 2 whose content was edited) with its last line,
// the crc32 of everything before it, computed again: the edits below test what the parser does
// with a crafted file that passes the checksum, as a file of version 1 has none.
static void reseal(const char *path) {
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp(path, &buf, &len));
    if (!buf || len < 15) return;
    char *last = buf + len - 15;
    CHECK(!strncmp(last, "crc32 ", 6));
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, (size_t)(last - buf), f);
        fprintf(f, "crc32 %08lx\n", crc32(0L, (const Bytef *)buf, (uInt)(last - buf)));
        fclose(f);
    }
    free(buf);
}

// A saved model whose hyperparameter count reads "1e30": refused, not cast (UBSan).
static void model_file(void) {
    gh_table t;
    tab_write("m.csv", "a,b,c\n1,0,x\n2,1,y\n3,0,x\n4,1,y\n5,0,x\n6,1,y\n7,0,x\n8,1,y\n");
    gh_dataset ds;
    CHECK_OK(table_read(&t, "m.csv"));
    CHECK_OK(dataset_from_table(&ds, &t, "c", GH_TASK_AUTO));
    table_free(&t);
    const learner_def *def = learner_find("mlp");
    double cfg[32];
    for (int i = 0; i < def->n_hp; i++) cfg[i] = def->hps[i].init;
    learner_model *m = NULL;
    CHECK_OK(learner_fit(def, &ds, cfg, 1, 0, &m, NULL));
    CHECK_OK(learner_save(m, "m.model"));
    learner_free(m);
    dataset_free(&ds);
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp("m.model", &buf, &len));
    char *at = buf ? strstr(buf, "\ncfg ") : NULL;
    CHECK(at != NULL);
    if (!at) return;
    const char *values[] = {"1e30", "-1e30", "nan", "2.5"};
    for (int v = 0; v < 4; v++) {
        char *end = strchr(at + 5, ' ');
        FILE *f = fopen("bad.model", "wb");
        fwrite(buf, 1, (size_t)(at + 5 - buf), f);
        fputs(values[v], f);
        fwrite(end, 1, len - (size_t)(end - buf), f);
        fclose(f);
        learner_model *bad = NULL;
        CHECK_FAILS(learner_load(&bad, "bad.model"), GH_EFORMAT, "bad.model: checksum mismatch");
        reseal("bad.model");
        CHECK_FAILS(learner_load(&bad, "bad.model"), GH_EFORMAT, "bad.model: at byte 4");
        CHECK_MSG(strstr(gh_error_get(), "expected an integer") != NULL, "%s: %s", values[v],
                  gh_error_get());
        CHECK(bad == NULL);
    }
    free(buf);
}

// A copy of the model file `src` as `dst` with the line starting `prefix` replaced by `line`.
static void model_edit(const char *src, const char *dst, const char *prefix, const char *line) {
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp(src, &buf, &len));
    char *at = buf ? strstr(buf, prefix) : NULL;
    CHECK_MSG(at != NULL, "%s: no line '%s'", src, prefix);
    FILE *f = fopen(dst, "wb");
    if (at && f) {
        char *end = strchr(at, '\n');
        fwrite(buf, 1, (size_t)(at - buf), f);
        fputs(line, f);
        if (end) fwrite(end, 1, len - (size_t)(end - buf), f);
    }
    if (f) fclose(f);
    free(buf);
    reseal(dst);
}

// Version 2 files carry a checksum, checked before anything reaches a learner's loader (XGBoost
// crashed or looped on a changed byte): a flipped byte, a cut file and a missing checksum line
// are refused; a version 1 file (no checksum) still loads.
static void model_checksum(void) {
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp("m.model", &buf, &len));
    if (!buf) return;
    CHECK(!strncmp(buf, "gpuhours-model 2\n", 17));
    learner_model *m = NULL;
    buf[len / 2] ^= 0x01;   // one bit in the payload
    FILE *f = fopen("flip.model", "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    CHECK_FAILS(learner_load(&m, "flip.model"), GH_EFORMAT, "flip.model: checksum mismatch");
    buf[len / 2] ^= 0x01;
    f = fopen("cut.model", "wb");
    fwrite(buf, 1, len - 20, f);
    fclose(f);
    CHECK_FAILS(learner_load(&m, "cut.model"), GH_EFORMAT, "cut.model: truncated or damaged");
    f = fopen("v1.model", "wb");   // the same model as version 1: no checksum line
    fputs("gpuhours-model 1", f);
    fwrite(buf + 16, 1, len - 16 - 15, f);
    fclose(f);
    CHECK_OK(learner_load(&m, "v1.model"));
    learner_free(m);
    m = NULL;
    CHECK_OK(learner_load(&m, "m.model"));
    learner_free(m);
    free(buf);
}

// Sizes in a model file's payload that the rest of the file cannot hold, or that would put
// one-hot offsets outside a row (found by tests/fuzz/fuzz_model; regressions/model/).
static void model_sizes(void) {
    gh_table t;
    gh_dataset ds;
    CHECK_OK(table_read(&t, "m.csv"));
    CHECK_OK(dataset_from_table(&ds, &t, "c", GH_TASK_AUTO));
    table_free(&t);
    static const char *names[2] = {"mlp", "lrl2"};
    for (int k = 0; k < 2; k++) {
        const learner_def *def = learner_find(names[k]);
        if (!def) continue;   // lrl2: a build without liblinear
        double cfg[32];
        for (int i = 0; i < def->n_hp; i++) cfg[i] = def->hps[i].low_cost_init;
        learner_model *m = NULL;
        CHECK_OK(learner_fit(def, &ds, cfg, 1, 0, &m, NULL));
        CHECK_OK(learner_save(m, k ? "l.model" : "p.model"));
        learner_free(m);
    }
    dataset_free(&ds);
    learner_model *m = NULL;
    // the MLP's training batch sized the arena of a loaded model: 11 GB for this file
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp("p.model", &buf, &len));
    int w = 0, h = 0, l = 0, o = 0, r = 0;
    const char *arch = buf ? strstr(buf, "\nmlp ") : NULL;
    CHECK(arch && sscanf(arch, " mlp %d %d %d %d %d", &w, &h, &l, &o, &r) == 5);
    free(buf);
    char line[128];
    snprintf(line, sizeof line, "mlp %d %d %d %d %d 1000000000 0 1", w, h, l, o, r);
    model_edit("p.model", "batch.model", "mlp ", line);
    CHECK_OK(learner_load(&m, "batch.model"));
    learner_free(m);
    snprintf(line, sizeof line, "mlp %d 100000 3 %d %d 16 0 1", w, o, r);
    model_edit("p.model", "hidden.model", "mlp ", line);
    CHECK_FAILS(learner_load(&m, "hidden.model"), GH_EFORMAT,
                "mlp payload: inconsistent architecture");
    if (!learner_find("lrl2")) return;
    model_edit("l.model", "sizes.model", "liblinear ", "liblinear 0 1000000 67108864 1 1");
    CHECK_FAILS(learner_load(&m, "sizes.model"), GH_EFORMAT,
                "liblinear payload: bad sizes 1000000 classes, 67108864 features");
    model_edit("l.model", "levels.model", "0 0\n", "-5 0");
    CHECK_FAILS(learner_load(&m, "levels.model"), GH_EFORMAT,
                "liblinear payload: feature 0: -5 levels");
    model_edit("l.model", "features.model", "features ", "features 16000000");
    CHECK_FAILS(learner_load(&m, "features.model"), GH_EFORMAT,
                "features.model: bad feature count 16000000");
}

// Payloads that disagree with the schema of their own file: predictions are written as rows x
// the schema's classes from rows of the schema's features, so a mismatch read or wrote past a
// row (found by tests/fuzz/fuzz_model, which predicts on what loads; regressions/model/).
static void model_consistency(void) {
    learner_model *m = NULL;
    // p.model (MLP) and l.model (lrl2) were written by model_sizes: binary, features a and b
    model_edit("p.model", "classes.model", "classes ", "classes 1 \"no\"");
    CHECK_FAILS(learner_load(&m, "classes.model"), GH_EFORMAT,
                "classes.model: 1 classes for a binary task");
    model_edit("p.model", "task.model", "task ", "task regression");
    CHECK_FAILS(learner_load(&m, "task.model"), GH_EFORMAT,
                "task.model: 2 classes for a regression task");
    model_edit("p.model", "feat1.model", "features ", "features 1");
    model_edit("feat1.model", "feat.model", "\"b\" 0", "");
    CHECK_FAILS(learner_load(&m, "feat.model"), GH_EFORMAT,
                "mlp payload: the encoder has 2 features, the model's schema 1");
    model_edit("p.model", "lev.model", "\"b\" 0", "\"b\" 2 \"u\" \"v\"");
    CHECK_FAILS(learner_load(&m, "lev.model"), GH_EFORMAT,
                "mlp payload: feature 1 has 0 levels in the encoder, 2 in the model's schema");
    if (!learner_find("lrl2")) return;
    char *buf;
    size_t len;
    CHECK_OK(tab_slurp("l.model", &buf, &len));
    int solver = 0, classes = 0, features = 0;
    const char *lin = buf ? strstr(buf, "\nliblinear ") : NULL;
    CHECK(lin && sscanf(lin, " liblinear %d %d %d", &solver, &classes, &features) == 3);
    free(buf);
    char line[128];
    snprintf(line, sizeof line, "liblinear -1 %d %d 1 1", classes, features);
    model_edit("l.model", "solver.model", "liblinear ", line);
    CHECK_FAILS(learner_load(&m, "solver.model"), GH_EFORMAT,
                "liblinear payload: solver -1 does not fit a binary model");
    snprintf(line, sizeof line, "liblinear %d %d %d 1 0", solver, classes, features);
    model_edit("l.model", "nolabel.model", "liblinear ", line);
    CHECK_FAILS(learner_load(&m, "nolabel.model"), GH_EFORMAT, "liblinear payload: ");
}

int main(void) {
    if (tab_enter_tmpdir("tab_badinput")) return 1;
    utf8();
    resample();
    model_file();
    model_checksum();
    model_sizes();
    model_consistency();
    return check_done("test_tab_badinput");
}
