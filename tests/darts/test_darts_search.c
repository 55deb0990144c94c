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
#include "search/nas/nas.h"

static void make_images(gh_images *im, int n, uint64_t seed) {
    gh_rng r;
    gh_rng_seed(&r, seed, 9);
    im->n = n;
    im->c = 1;
    im->h = im->w = 8;
    im->classes = 4;
    im->x = malloc(sizeof(float) * 64 * (size_t)n);
    im->y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int cls = (int)gh_rng_below(&r, 4);
        im->y[i] = cls;
        for (int k = 0; k < 64; k++) {
            int q = (k / 8 >= 4) * 2 + (k % 8 >= 4);
            im->x[i * 64 + k] = (float)(0.2 * gh_rng_uniform(&r) + (q == cls ? 0.7 : 0.0));
        }
    }
}

static darts_config tiny_config(const char *out) {
    darts_config c;
    darts_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "cpu");
    snprintf(c.out, sizeof c.out, "%s", out);
    c.seed = 5;
    c.order = 2;
    c.search_layers = 3;
    c.search_channels = 4;
    c.search_epochs = 2;
    c.search_batch = 16;
    c.search_crop_pad = 1;
    c.report_every = 100;
    c.final_layers = 3;
    c.final_channels = 4;
    c.auxiliary = 0;
    c.arena_mb = 256;
    return c;
}

int main(void) {
    darts_data d;
    memset(&d, 0, sizeof d);
    make_images(&d.train, 96, 1);
    make_images(&d.test, 48, 2);
    snprintf(d.name, sizeof d.name, "quadrants");
    CHECK_OK(images_channel_stats(&d.train, d.norm.mean, d.norm.std));

    const char *path = "darts_search_test.h5";
    unlink(path);
    darts_config c = tiny_config(path);
    char cfg[16384];
    darts_config_print(&c, cfg, sizeof cfg);
    ledger *l = NULL;
    ledger_run_info info = {.method = "darts-second", .dataset = "quadrants", .seed = c.seed,
                            .config_text = cfg, .argc = 0, .argv = NULL, .gpus = 0};
    CHECK_OK(ledger_create(&l, path, &info));
    genotype g1, g2;
    double t0 = gh_wall_seconds();
    CHECK_OK(darts_search_run(&c, &d, l, &g1));
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
    CHECK_OK(darts_search_run(&c, &d, NULL, &g2));
    CHECK(genotype_equal(&g1, &g2));

    // random genotypes: valid, no 'none', two distinct inputs per node
    gh_rng r;
    gh_rng_seed(&r, 3, GH_STREAM_SEARCH);
    for (int k = 0; k < 200; k++) {
        genotype g;
        darts_random_genotype(&r, 4, 4, &g);
        CHECK(genotype_validate(&g) == GH_OK);
        for (int i = 0; i < 4; i++)
            CHECK(g.reduce.edge[2 * i].input != g.reduce.edge[2 * i + 1].input &&
                  g.normal.edge[2 * i].op > 0 && g.normal.edge[2 * i].op < DARTS_NUM_PRIMITIVES);
    }

    // final training of the found cell (1 epoch) completes with an accuracy
    c.final_epochs = 1;
    c.final_batch = 16;
    double mean, sd;
    CHECK_OK(darts_final_run(&c, &d, NULL, &g1, &mean, &sd));
    CHECK(mean >= 0 && mean <= 1 && sd == 0);

    // final_epochs 0: the untrained network's test accuracy is measured (never a 0.0 that was
    // not measured); the training numbers are NaN ("not measured")
    const char *path0 = "darts_final0_test.h5";
    unlink(path0);
    CHECK_OK(ledger_create(&l, path0, &info));
    c.final_epochs = 0;
    CHECK_OK(darts_final_run(&c, &d, l, &g1, &mean, &sd));
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
    CHECK_OK(darts_final_run(&c, &d, NULL, &g1, &mean2, &sd));
    CHECK(mean2 == mean);

    // config files: errors name file, line and key
    FILE *f = fopen("bad.conf", "w");
    fprintf(f, "# comment\nsearch_epochs = 3\n\nsearch_lr = fast\n");
    fclose(f);
    darts_config cc;
    darts_config_defaults(&cc);
    CHECK(darts_config_load(&cc, "bad.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "bad.conf:4") && strstr(gh_error_get(), "search_lr"));
    CHECK(cc.search_epochs == 3);
    f = fopen("bad.conf", "w");
    fprintf(f, "serch_epochs = 3\n");
    fclose(f);
    CHECK(darts_config_load(&cc, "bad.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "bad.conf:1") && strstr(gh_error_get(), "serch_epochs"));
    CHECK(darts_cosine_lr(0.025, 0.001, 0, 50) == 0.025);
    CHECK(fabs(darts_cosine_lr(0.025, 0.001, 25, 50) - 0.013) < 1e-12);
    images_free(&d.train);
    images_free(&d.test);
    return check_done("test_darts_search");
}
