// test_tab_space: the registry (learners per task), FLAML's data-dependent bounds, the cfg
// JSON, and search-space overrides from a config file with their file:line errors.
#include <math.h>

#include "learners/learners.h"
#include "tab_util.h"

static int find_hp(const learner_def *def, const char *name) {
    for (int i = 0; i < def->n_hp; i++)
        if (!strcmp(def->hps[i].name, name)) return i;
    return -1;
}

static void test_registry(void) {
    const learner_def *defs[16];
    int nb = learners_list(defs, 16, GH_TASK_BINARY);
    int nr = learners_list(defs, 16, GH_TASK_REGRESSION);
    CHECK(nb >= 1 && nr >= 1);
    for (int i = 0; i < nr; i++) CHECK(defs[i]->supports_task[GH_TASK_REGRESSION]);
    CHECK(learner_find("mlp") != NULL && learner_find("lightgbm") == NULL);
#if GH_TEST_XGBOOST
    const learner_def *x = learner_find("xgboost");
    CHECK(x && x->init_cost == 1.6 && x->n_hp == 9);
    hp_domain sp[16];
    CHECK_OK(learner_space(x, 100, 7, GH_TASK_BINARY, sp));
    CHECK(sp[find_hp(x, "n_estimators")].hi == 99 && sp[find_hp(x, "max_leaves")].hi == 99);
    CHECK_OK(learner_space(x, 3, 7, GH_TASK_BINARY, sp));
    CHECK(sp[find_hp(x, "n_estimators")].hi == 4);   // FLAML: max(5, ...) exclusive
    CHECK_OK(learner_space(x, 1000000, 7, GH_TASK_BINARY, sp));
    CHECK(sp[find_hp(x, "n_estimators")].hi == 32767);
    const learner_def *xd = learner_find("xgb_limitdepth");
    CHECK_OK(learner_space(xd, 1000, 7, GH_TASK_BINARY, sp));
    CHECK(sp[find_hp(xd, "max_depth")].hi == 8);       // randint(1, max(6, log2 1000) = 9)
    CHECK(sp[find_hp(xd, "learning_rate")].init == 0.3);
    const learner_def *rf = learner_find("rf");
    CHECK_OK(learner_space(rf, 1000, 16, GH_TASK_BINARY, sp));
    int mf = find_hp(rf, "max_features");
    CHECK(sp[mf].init == 0.25 && sp[mf].lo == 0.1);
    CHECK(sp[find_hp(rf, "max_leaves")].hi == 499 && sp[find_hp(rf, "n_estimators")].hi == 999);
    CHECK_OK(learner_space(rf, 1000, 400, GH_TASK_BINARY, sp));
    CHECK(sp[mf].init == 0.05 && sp[mf].lo == 0.05);
    CHECK_OK(learner_space(rf, 1000, 400, GH_TASK_REGRESSION, sp));
    CHECK(sp[mf].init == 1.0);
    // FLAML's init point: n_estimators and max_leaves first, at 4; reg_alpha 1/1024
    CHECK(!strcmp(x->hps[0].name, "n_estimators") && x->hps[0].init == 4);
    CHECK(!strcmp(x->hps[1].name, "max_leaves") && x->hps[1].init == 4);
    CHECK(x->hps[find_hp(x, "reg_alpha")].init == 0.0009765625);
#endif
#if GH_TEST_LIBLINEAR
    const learner_def *l1 = learner_find("lrl1");
    CHECK(l1 && l1->init_cost == 160 && l1->supports_task[GH_TASK_REGRESSION] == 0);
    CHECK(learner_find("lrl2")->init_cost == 25);
#endif
}

static void test_overrides(void) {
    const learner_def *m = learner_find("mlp");
    hp_domain sp[16];
    CHECK_OK(learner_space(m, 500, 4, GH_TASK_BINARY, sp));
    tab_write("space.cfg",
              "# overrides\n"
              "xgboost.learning_rate = 0.01..0.3 log   # other learners are skipped\n"
              "\n"
              "mlp.hidden = 8..40\n"
              "mlp.learning_rate = 0.001..0.01 linear\n"
              "mlp.layers = 2\n"
              "mlp.epochs.init = 30\n");
    CHECK_OK(learner_space_override(m, sp, "space.cfg"));
    int h = find_hp(m, "hidden"), lr = find_hp(m, "learning_rate"), l = find_hp(m, "layers");
    CHECK(sp[h].lo == 8 && sp[h].hi == 40 && sp[h].log == 1);   // keeps its log scale
    CHECK(sp[h].init == 40 && sp[h].low_cost_init == 16);          // inits clamped into range
    CHECK(sp[lr].lo == 0.001 && sp[lr].hi == 0.01 && sp[lr].log == 0);
    CHECK(sp[l].lo == 2 && sp[l].hi == 2 && sp[l].init == 2);
    CHECK(sp[find_hp(m, "epochs")].init == 30);
    tab_write("bad1.cfg", "\nmlp.width = 1..2\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad1.cfg"), GH_EFORMAT,
                "bad1.cfg:2: mlp has no hyperparameter 'width' (it has: hidden, layers,");
    tab_write("bad2.cfg", "mlpp.hidden = 1..2\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad2.cfg"), GH_EFORMAT,
                "bad2.cfg:1: unknown learner 'mlpp'");
    tab_write("bad3.cfg", "# x\nmlp.hidden = 9..3\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad3.cfg"), GH_EFORMAT,
                "bad3.cfg:2: mlp.hidden: expected LO..HI with LO <= HI, found '9..3'");
    tab_write("bad4.cfg", "mlp.learning_rate = 0..1 log\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad4.cfg"), GH_EFORMAT,
                "bad4.cfg:1: mlp.learning_rate: a log scale needs LO > 0, found 0");
    tab_write("bad5.cfg", "mlp.hidden 5\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad5.cfg"), GH_EFORMAT,
                "bad5.cfg:1: expected LEARNER.HP = VALUE, found 'mlp.hidden 5'");
    tab_write("bad6.cfg", "mlp.hidden = lots\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad6.cfg"), GH_EFORMAT,
                "bad6.cfg:1: mlp.hidden = 'lots': expected LO..HI [log] or a number");
    CHECK_FAILS(learner_space_override(m, sp, "none.cfg"), GH_EIO, "none.cfg: cannot open");
    // an integer range without an integer in it became lo 1 > hi 0 and was accepted (found by
    // tests/fuzz/fuzz_space; regressions/space/int_range_without_integer.space)
    tab_write("bad7.cfg", "mlp.layers = 0.2..0.9\n");
    CHECK_FAILS(learner_space_override(m, sp, "bad7.cfg"), GH_EFORMAT,
                "bad7.cfg:1: mlp.layers: no integer in 0.2..0.9");
}

int main(void) {
    test_registry();
    test_overrides();
    return check_done("test_tab_space");
}
