// test_nas_methods: the method registry and the config it is chosen by. Every row of the table
// runs a tiny search on generated images and returns a valid genotype, records its trials and
// the genotype in the ledger, and returns the same genotype for the same seed (a new row is
// covered without an edit here). An unknown method is refused with the known ones named, by the
// config (files and flags) and by the driver. Config files: [section] headers, keys checked
// against their section, the printed config read back to the same values.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "quadrants.h"

static void check_names_all(const char *msg) {
    for (int i = 0; i < nas_method_count(); i++)
        CHECK_MSG(strstr(msg, nas_method_at(i)->name), "'%s' does not name %s", msg,
                  nas_method_at(i)->name);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_method(const nas_data *d, const nas_method *m) {
    char path[64];
    snprintf(path, sizeof path, "nas_methods_%s.h5", m->name);
    unlink(path);
    nas_config c = quadrant_config(path);
    c.search_epochs = 1;
    c.search_val_limit = 16;
    c.random.archs = 2;
    c.random.epochs = 1;
    CHECK_OK(nas_config_set(&c, NULL, "method", m->name, NULL, 0));
    char cfg[16384];
    nas_config_print(&c, cfg, sizeof cfg);
    ledger_run_info info = {.method = nas_method_label(&c), .dataset = d->name, .seed = c.seed,
                            .config_text = cfg};
    ledger *l = NULL;
    CHECK_OK(ledger_create(&l, path, &info));
    if (m->macro) {   // an ENAS macro arc instead of a genotype (test_enas_macro has the rest)
        enas_macro_arc a, b;
        genotype none;
        CHECK(nas_search_run(&c, d, NULL, NULL, &none) == GH_EINVAL);   // the wrong driver
        CHECK_OK(nas_search_run_macro(&c, d, l, NULL, &a));
        CHECK_OK(ledger_close(l, "finished"));
        CHECK_OK(enas_macro_arc_validate(&a));
        CHECK(a.layers == c.search_layers);
        CHECK_OK(nas_search_run_macro(&c, d, NULL, NULL, &b));
        CHECK_MSG(enas_macro_arc_equal(&a, &b), "%s: another arc for the same seed", m->name);
        return;
    }
    enas_macro_arc none;
    CHECK(nas_search_run_macro(&c, d, NULL, NULL, &none) == GH_EINVAL);   // the wrong driver
    genotype g, again;
    double t0 = gh_wall_seconds();
    CHECK_OK(nas_search_run(&c, d, l, NULL, &g));
    printf("%-10s tiny search %.1f s\n", m->name, gh_wall_seconds() - t0);
    CHECK_OK(ledger_close(l, "finished"));
    CHECK_OK(genotype_validate(&g));
    // DARTS's space: 4 nodes, all concatenated; ENAS's cell: enas_num_cells nodes, the loose ends
    int enas = !strcmp(m->name, "enas"), steps = enas ? c.enas.nodes : 4;
    CHECK(g.normal.steps == steps && g.reduce.steps == steps &&
          (enas ? g.normal.nconcat >= 1 : g.normal.nconcat == 4));
    for (int i = 0; i < 2 * steps; i++)
        CHECK(g.normal.edge[i].op != DARTS_OP_NONE && g.reduce.edge[i].op != DARTS_OP_NONE);
    // the ledger: at least one trial with a validation accuracy, the genotype as returned
    CHECK_OK(ledger_open_read(&l, path));
    CHECK_MSG(ledger_num_trials(l) >= 1, "%s recorded no trial", m->name);
    ledger_trial t;
    CHECK_OK(ledger_read_trial(l, 0, &t));
    CHECK(t.val_acc >= 0 && t.val_acc <= 1 && isnan(t.test_acc) && !strcmp(t.status, "ok"));
    const char *text;
    char want[2048];
    genotype_print(&g, want, sizeof want);
    CHECK_OK(ledger_get_text(l, "genotype", &text));
    CHECK(!strcmp(text, want));
    cost_totals ct;
    CHECK(ledger_phase_cost(l, "search", &ct) == 1 && ct.wall_s > 0);
    CHECK_OK(ledger_close(l, "finished"));
    // same seed, same genotype
    CHECK_OK(nas_search_run(&c, d, NULL, NULL, &again));
    CHECK_MSG(genotype_equal(&g, &again), "%s: another genotype for the same seed", m->name);
}

static void test_unknown_method(const nas_data *d) {
    nas_config c = quadrant_config("");
    CHECK(nas_config_set(&c, NULL, "method", "nope", NULL, 0) == GH_EINVAL);
    CHECK(strstr(gh_error_get(), "'nope'"));
    check_names_all(gh_error_get());
    CHECK(!strcmp(c.method, "darts"));  // left as it was
    write_file("nas_methods_bad.conf", "[search]\nmethod = nope\n");
    CHECK(nas_config_load(&c, "nas_methods_bad.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "nas_methods_bad.conf:2") && strstr(gh_error_get(), "'nope'"));
    check_names_all(gh_error_get());
    // the driver refuses it too (a config built in code, not through nas_config_set)
    snprintf(c.method, sizeof c.method, "nope");
    genotype g;
    CHECK(nas_search_run(&c, d, NULL, NULL, &g) == GH_EINVAL);
    check_names_all(gh_error_get());
    CHECK(nas_method_find("nope") == NULL && nas_method_find("darts") == nas_method_at(0));
    snprintf(c.method, sizeof c.method, "darts");
    c.darts.order = 1;
    CHECK(!strcmp(nas_method_label(&c), "darts-first"));
    c.darts.order = 2;
    CHECK(!strcmp(nas_method_label(&c), "darts-second"));
}

static void test_config_sections(void) {
    // keys are one namespace (each is a --flag) and come grouped by section
    int n = nas_config_nkeys(), sections = 0;
    for (int i = 0; i < n; i++) {
        const char *si, *ki = nas_config_key(i, NULL, &si), *sp = NULL;
        if (i) nas_config_key(i - 1, NULL, &sp);
        if (!sp || strcmp(sp, si)) {
            sections++;
            for (int j = 0; j < i - 1; j++) {
                const char *sj;
                nas_config_key(j, NULL, &sj);
                CHECK_MSG(strcmp(sj, si), "section [%s] split in the table", si);
            }
        }
        for (int j = 0; j < i; j++) CHECK_MSG(strcmp(ki, nas_config_key(j, NULL, NULL)),
                                              "key %s twice", ki);
    }
    CHECK(sections == 9);   // run, data, search, final, darts, random, regevo, nasnet_rl, enas
    CHECK(nas_config_key(n, NULL, NULL) == NULL);
    // method keys in their sections, the old flat form still read
    nas_config c;
    nas_config_defaults(&c);
    write_file("nas_methods_sec.conf", "seed = 9\norder = 1\n[darts]\narch_lr = 0.5\n"
                                       "[random]\nrandom_archs = 7 # seven\nrandom_epochs = 3\n"
                                       "[ search ]\nsearch_epochs = 4\n");
    CHECK_OK(nas_config_load(&c, "nas_methods_sec.conf"));
    CHECK(c.seed == 9 && c.darts.order == 1 && c.darts.arch_lr == 0.5 && c.random.archs == 7 &&
          c.random.epochs == 3 && c.search_epochs == 4);
    // flags reach method keys by their names
    CHECK_OK(nas_config_set(&c, NULL, "arch_beta1", "0.25", NULL, 0));
    CHECK(c.darts.arch_beta1 == 0.25);
    // a key under another section's header, an unknown section
    write_file("nas_methods_sec.conf", "[darts]\norder = 1\nrandom_archs = 3\n");
    CHECK(nas_config_load(&c, "nas_methods_sec.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "nas_methods_sec.conf:3") &&
          strstr(gh_error_get(), "random_archs") && strstr(gh_error_get(), "[random]"));
    write_file("nas_methods_sec.conf", "[dart]\norder = 1\n");
    CHECK(nas_config_load(&c, "nas_methods_sec.conf") == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "nas_methods_sec.conf:1") && strstr(gh_error_get(), "[dart]") &&
          strstr(gh_error_get(), "[darts]"));
    // the printed config is a config file that reads back to the same values
    nas_config a, b;
    nas_config_defaults(&a);
    a.darts.order = 1;
    a.random.archs = 11;
    a.search_lr = 0.0123;
    snprintf(a.seeds, sizeof a.seeds, "0,1");
    char text[16384];
    CHECK(nas_config_print(&a, text, sizeof text) < (int)sizeof text);
    CHECK(strstr(text, "[darts]\norder = 1\n") && strstr(text, "[random]\nrandom_archs = 11\n"));
    write_file("nas_methods_sec.conf", text);
    nas_config_defaults(&b);
    CHECK_OK(nas_config_load(&b, "nas_methods_sec.conf"));
    char text2[16384];
    nas_config_print(&b, text2, sizeof text2);
    CHECK(!strcmp(text, text2));
    CHECK(b.darts.order == 1 && b.random.archs == 11 && b.search_lr == 0.0123 &&
          !strcmp(b.seeds, "0,1"));
}

int main(void) {
    nas_data d;
    CHECK_OK(quadrant_data(&d));
    CHECK(nas_method_count() >= 3);
    for (int i = 0; i < nas_method_count(); i++) test_method(&d, nas_method_at(i));
    test_unknown_method(&d);
    test_config_sections();
    nas_data_free(&d);
    return check_done("test_nas_methods");
}
