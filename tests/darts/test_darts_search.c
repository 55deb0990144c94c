// test_darts_search: a tiny end-to-end DARTS search (second order, seconds on 2 cores) on
// generated images whose class is readable from a bright quadrant: a valid genotype comes out,
// the ledger file holds the per-epoch trials, alphas and genotype, and the same seed gives the
// same genotype. Also: random genotypes are valid and in the search space, the config file
// reader names file, line and key in its errors, and a final training run completes.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "quadrants.h"

int main(void) {
    nas_data d;
    CHECK_OK(quadrant_data(&d));

    const char *path = "darts_search_test.h5";
    unlink(path);
    nas_config c = quadrant_config(path);
    char cfg[16384];
    nas_config_print(&c, cfg, sizeof cfg);
    ledger *l = NULL;
    ledger_run_info info = {.method = "darts-second", .dataset = "quadrants", .seed = c.seed,
                            .config_text = cfg, .argc = 0, .argv = NULL, .gpus = 0};
    CHECK_OK(ledger_create(&l, path, &info));
    genotype g1, g2;
    double t0 = gh_wall_seconds();
    CHECK_OK(nas_search_run(&c, &d, l, NULL, &g1));
    printf("tiny second-order search: %.1f s\n", gh_wall_seconds() - t0);
    CHECK_OK(genotype_validate(&g1));
    CHECK(g1.normal.steps == 4 && g1.reduce.steps == 4 && g1.normal.nconcat == 4);
    for (int i = 0; i < 8; i++) CHECK(g1.normal.edge[i].op != DARTS_OP_NONE);
    CHECK_OK(ledger_close(l, "finished"));

    // the ledger holds one trial per epoch with the derived genotype
    CHECK_OK(ledger_open_read(&l, path));
    CHECK(ledger_num_trials(l) == c.search_epochs);
    ledger_trial t;
    CHECK_OK(ledger_read_trial(l, c.search_epochs - 1, &t));
    char text[2048];
    genotype_print(&g1, text, sizeof text);
    CHECK(t.arch && !strcmp(t.arch, text));
    CHECK(t.val_acc >= 0 && t.val_acc <= 1 && t.params > 0 && t.madds > 0);
    CHECK(t.cost.wall_s > 0);
    CHECK_OK(ledger_close(l, "finished"));

    // same seed, same genotype (no ledger)
    CHECK_OK(nas_search_run(&c, &d, NULL, NULL, &g2));
    CHECK(genotype_equal(&g1, &g2));

    // random genotypes: valid, no 'none', two distinct inputs per node
    gh_rng r;
    gh_rng_seed(&r, 3, GH_STREAM_SEARCH);
    for (int k = 0; k < 200; k++) {
        genotype g;
        nas_random_genotype(&r, 4, 4, &g);
        CHECK(genotype_validate(&g) == GH_OK);
        for (int i = 0; i < 4; i++)
            CHECK(g.reduce.edge[2 * i].input != g.reduce.edge[2 * i + 1].input &&
                  g.normal.edge[2 * i].op > 0 && g.normal.edge[2 * i].op < DARTS_NUM_PRIMITIVES);
    }

    // final training of the found cell (1 epoch) completes with an accuracy
    c.final_epochs = 1;
    c.final_batch = 16;
    double mean, sd;
    CHECK_OK(nas_final_run(&c, &d, NULL, NULL, &g1, &mean, &sd));
    CHECK(mean >= 0 && mean <= 1 && sd == 0);

    // final_epochs 0: the untrained network's test accuracy is measured (never a 0.0 that was
    // not measured); the training numbers are NaN ("not measured")
    const char *path0 = "darts_final0_test.h5";
    unlink(path0);
    CHECK_OK(ledger_create(&l, path0, &info));
    c.final_epochs = 0;
    CHECK_OK(nas_final_run(&c, &d, l, NULL, &g1, &mean, &sd));
    CHECK(isfinite(mean) && mean >= 0 && mean <= 1);
    CHECK_OK(ledger_close(l, "finished"));
    CHECK_OK(ledger_open_read(&l, path0));
    CHECK(ledger_num_trials(l) == 1 && ledger_num_epochs(l) == 0);
    CHECK_OK(ledger_read_trial(l, 0, &t));
    CHECK(t.test_acc == mean && isfinite(t.test_loss) && t.test_loss > 0);
    CHECK(isnan(t.train_loss) && isnan(t.train_acc) && !strcmp(t.status, "ok"));
    CHECK_OK(ledger_close(l, "finished"));
    // the same network measured again gives the same number (it was evaluated, not defaulted)
    double mean2;
    CHECK_OK(nas_final_run(&c, &d, NULL, NULL, &g1, &mean2, &sd));
    CHECK(mean2 == mean);

    // config files: errors name file, line and key
    FILE *f = fopen("bad.conf", "w");
    fprintf(f, "# comment\nsearch_epochs = 3\n\nsearch_lr = fast\n");
    fclose(f);
    nas_config cc;
    nas_config_defaults(&cc);
    CHECK(nas_config_load(&cc, "bad.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "bad.conf:4") && strstr(gh_error_get(), "search_lr"));
    CHECK(cc.search_epochs == 3);
    f = fopen("bad.conf", "w");
    fprintf(f, "serch_epochs = 3\n");
    fclose(f);
    CHECK(nas_config_load(&cc, "bad.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "bad.conf:1") && strstr(gh_error_get(), "serch_epochs"));
    CHECK(nas_cosine_lr(0.025, 0.001, 0, 50) == 0.025);
    CHECK(fabs(nas_cosine_lr(0.025, 0.001, 25, 50) - 0.013) < 1e-12);
    images_free(&d.train);
    images_free(&d.test);
    return check_done("test_darts_search");
}
