// test_tab_predict: `gpuhours predict MODEL DATA -o OUT` end to end: a model trained and saved
// here on a CSV is applied by the CLI to a second CSV with reordered columns; the output has a
// header, one row per input row, the class the library predicts, and probabilities; bad
// arguments exit 2, a missing feature exits 1 with a message. A target of integer class codes
// goes through `gpuhours tune` and `predict` as classes: every prediction is a class name.
#include <stdlib.h>

#include "learners/learners.h"
#include "tab_util.h"

static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s", GH_GPUHOURS, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A target of integer class codes (glass types 1,2,3,5,6,7) is tuned as a classification, and
// `predict` writes one of those classes for every row, never a real number.
static void test_class_codes(void) {
    static const int types[6] = {1, 2, 3, 5, 6, 7};
    char train[16384] = "u,v,type\n", test[4096] = "u,v\n";
    gh_rng r;
    gh_rng_seed(&r, 5, 0);
    for (int i = 0; i < 150; i++) {
        int c = (int)gh_rng_below(&r, 6);
        double u = c + 0.5 * gh_rng_normal(&r), v = (c % 2) + 0.5 * gh_rng_normal(&r);
        char row[96];
        if (i < 120) snprintf(row, sizeof row, "%.4f,%.4f,%d\n", u, v, types[c]);
        else snprintf(row, sizeof row, "%.4f,%.4f\n", u, v);
        strcat(i < 120 ? train : test, row);
    }
    tab_write("c_train.csv", train);
    tab_write("c_test.csv", test);
    remove("c_out.csv");
    // --retrain always: a model whatever the load (with the default, budget, a refit that does
    // not fit in what a loaded machine leaves of 1 s is skipped, and there is nothing to predict)
    CHECK(run("tune -q c_train.csv -b 2 --retrain always -o c_run.h5 --model c.model > "
              "c_tune.txt 2>&1") == 0);
    CHECK(run("predict -q c.model c_test.csv -o c_out.csv") == 0);
    FILE *f = fopen("c_out.csv", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    CHECK(fgets(line, sizeof line, f) &&
          !strcmp(line, "prediction,p_1,p_2,p_3,p_5,p_6,p_7\n"));
    int rows = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        char cls[32];
        int ok = sscanf(line, "%31[^,]", cls) == 1 && strlen(cls) == 1 && strchr("123567", cls[0]);
        if (!ok && bad++ < 3) CHECK_MSG(0, "row %d: prediction '%s' is not a class", rows, line);
        rows++;
    }
    fclose(f);
    CHECK_MSG(rows == 30 && bad == 0, "%d rows, %d not a class", rows, bad);
}

int main(void) {
    if (tab_enter_tmpdir("tab_predict")) return 1;
    char train[8192] = "u,v,color,label\n", test[8192] = "label,color,v,u\n";
    gh_rng r;
    gh_rng_seed(&r, 3, 0);
    for (int i = 0; i < 120; i++) {
        double u = gh_rng_normal(&r), v = gh_rng_normal(&r);
        int col = (int)gh_rng_below(&r, 3);
        const char *cname = col == 0 ? "red" : col == 1 ? "green" : "blue, dark";
        const char *lab = u + v + (col == 2) > 0.3 ? "pos" : "neg";
        char row[128];
        snprintf(row, sizeof row, "%.4f,%.4f,\"%s\",%s\n", u, v, cname, lab);
        if (i < 100) strcat(train, row);
        else {
            snprintf(row, sizeof row, "%s,\"%s\",%.4f,%.4f\n", lab, cname, v, u);
            strcat(test, row);
        }
    }
    tab_write("p_train.csv", train);
    tab_write("p_test.csv", test);
    gh_table t;
    gh_dataset ds, nd;
    CHECK_OK(table_read(&t, "p_train.csv"));
    CHECK_OK(dataset_from_table(&ds, &t, "label", GH_TASK_AUTO));
    table_free(&t);
    const learner_def *def = learner_find("mlp");
    double cfg[16];
    for (int i = 0; i < def->n_hp; i++) cfg[i] = def->hps[i].init;
    learner_model *m = NULL;
    CHECK_OK(learner_fit(def, &ds, cfg, 1, 0, &m, NULL));
    if (!m) return check_done("test_tab_predict");
    CHECK_OK(learner_save(m, "p.model"));
    // what the library predicts for the test rows
    CHECK_OK(table_read(&t, "p_test.csv"));
    CHECK_OK(dataset_from_table_schema(&nd, &t, learner_model_schema(m)));
    table_free(&t);
    float pred[40];
    CHECK_OK(learner_predict(m, &nd, pred));
    remove("p_out.csv");
    CHECK(run("predict -q p.model p_test.csv -o p_out.csv") == 0);
    FILE *f = fopen("p_out.csv", "r");
    CHECK(f != NULL);
    if (f) {
        char line[256];
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "prediction,p_neg,p_pos\n"));
        int rows = 0;
        while (fgets(line, sizeof line, f)) {
            char cls[16];
            double p0, p1;
            if (sscanf(line, "%15[^,],%lf,%lf", cls, &p0, &p1) != 3 || rows >= 20) {
                CHECK_MSG(0, "bad output line %d: %s", rows + 2, line);
                break;
            }
            const char *want = pred[2 * rows + 1] > pred[2 * rows] ? "pos" : "neg";
            CHECK_MSG(!strcmp(cls, want) && fabs(p1 - pred[2 * rows + 1]) < 1e-5,
                      "row %d: %s %g, library %s %g", rows, cls, p1, want, pred[2 * rows + 1]);
            rows++;
        }
        CHECK(rows == 20);
        fclose(f);
    }
    CHECK(run("predict -q p.model > /dev/null 2>&1") == 2);
    CHECK(run("predict --help > /dev/null") == 0);
    tab_write("p_lack.csv", "u,label\n1,pos\n");
    CHECK(run("predict -q p.model p_lack.csv > /dev/null 2> p_err.txt") == 1);
    f = fopen("p_err.txt", "r");
    char err[512] = "";
    if (f) {
        if (!fgets(err, sizeof err, f)) err[0] = 0;
        fclose(f);
    }
    CHECK_MSG(strstr(err, "p_lack.csv: no column 'v', a feature the model was trained with"),
              "stderr: %s", err);
    learner_free(m);
    dataset_free(&ds);
    dataset_free(&nd);
    test_class_codes();
    return check_done("test_tab_predict");
}
