// test_nas_budget: the seconds budget of the baselines (issue 16: DARTS's baselines get its
// measured cost, not its epochs), on the generated quadrant images. random-ws trains its shared
// weights past search_epochs while an epoch and the scoring fit in [search] budget, then scores
// every genotype; random sampling stops asking when a child would overrun it. Each run records
// the budget it was given (attribute budget_s, read back by ledger_summarize) beside what it
// used (the search_budget record and the search phase's cost). Without a budget random-ws
// trains its search_epochs and records budget_s 0.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quadrants.h"

// A number field of the search_budget JSON; NAN when absent.
static double json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

// A search of c into path, recorded as the CLI records it (the budget when the method takes
// one); the file is opened again for reading into *out.
static int search(nas_config *c, const nas_data *d, const char *path, ledger **out) {
    char cfg[16384];
    nas_config_print(c, cfg, sizeof cfg);
    remove(path);
    ledger_run_info info = {.method = nas_method_label(c), .dataset = d->name, .seed = c->seed,
                            .config_text = cfg,
                            .budget_s = nas_method_takes_budget(c->method) ? c->budget_s : 0};
    ledger *l = NULL;
    int st = ledger_create(&l, path, &info);
    if (st) return st;
    genotype g;
    st = nas_search_run(c, d, l, NULL, &g);
    if (st) fprintf(stderr, "search %s: %s\n", c->method, gh_error_get());
    ledger_close(l, st ? "failed" : "finished");
    return st ? st : ledger_open_read(out, path);
}

// The search epochs' rows: their count and the slowest epoch's wall seconds (the rows' costs
// are cumulative within the phase).
static int search_epochs(ledger *l, double *slowest) {
    int n = 0;
    double prev = 0;
    *slowest = 0;
    for (int64_t i = 0; i < ledger_num_epochs(l); i++) {
        ledger_epoch ep;
        if (ledger_read_epoch(l, i, &ep) || strcmp(ep.phase, "search")) continue;
        if (ep.cost.wall_s - prev > *slowest) *slowest = ep.cost.wall_s - prev;
        prev = ep.cost.wall_s;
        n++;
    }
    return n;
}

static void test_random_ws(const nas_data *d) {
    // no budget: search_epochs epochs, budget_s 0 recorded, no search_budget record
    nas_config c = quadrant_config("nas_budget_ws0.h5");
    nas_config_set(&c, NULL, "method", "random-ws", NULL, 0);
    c.search_epochs = 2;
    c.search_val_limit = 32;
    c.random.archs = 4;
    ledger *l = NULL;
    CHECK_OK(search(&c, d, c.out, &l));
    if (!l) return;
    double slowest;
    CHECK_MSG(search_epochs(l, &slowest) == 2, "random-ws without a budget: %d epochs, want 2",
              search_epochs(l, &slowest));
    ledger_summary s;
    CHECK_OK(ledger_summarize(l, &s));
    CHECK_MSG(s.budget_s == 0, "budget_s %g, want 0", s.budget_s);
    const char *text;
    CHECK(ledger_get_text(l, "search_budget", &text) == GH_EINVAL);
    ledger_close(l, NULL);

    // 4 s: many more epochs than the first guess of 1, stopped by the budget, then all 4
    // genotypes scored, within the budget give or take an epoch
    const double budget = 4;
    c = quadrant_config("nas_budget_ws.h5");
    nas_config_set(&c, NULL, "method", "random-ws", NULL, 0);
    c.search_epochs = 1;
    c.search_val_limit = 32;
    c.random.archs = 4;
    c.budget_s = budget;
    l = NULL;
    CHECK_OK(search(&c, d, c.out, &l));
    if (!l) return;
    int epochs = search_epochs(l, &slowest);
    CHECK_OK(ledger_summarize(l, &s));
    CHECK_MSG(s.budget_s == budget, "budget_s %g, want %g", s.budget_s, budget);
    CHECK_OK(ledger_get_text(l, "search_budget", &text));
    printf("random-ws, %g s: %d epochs (slowest %.3f s), %lld trials, %s\n", budget, epochs,
           slowest, (long long)ledger_num_trials(l), text);
    CHECK_MSG(epochs > 2, "random-ws under %g s trained %d epochs (an epoch: %.3f s)", budget,
              epochs, slowest);
    CHECK_MSG(strstr(text, "\"stopped_by\": \"budget\""), "search_budget: %s", text);
    CHECK_MSG(json_num(text, "epochs") == epochs, "search_budget says %g epochs, rows %d",
              json_num(text, "epochs"), epochs);
    CHECK_MSG(json_num(text, "children") == 4 && ledger_num_trials(l) == 4,
              "%lld trials, search_budget %s", (long long)ledger_num_trials(l), text);
    double used = json_num(text, "used_s");
    cost_totals ph;
    CHECK(ledger_phase_cost(l, "search", &ph) == 1);
    CHECK_MSG(used <= budget + slowest + 0.5, "used %.3f s of %g (an epoch %.3f s)", used, budget,
              slowest);
    CHECK_MSG(used >= 0.5 * budget, "used %.3f s of %g: the budget was not spent", used, budget);
    // search_budget prints used_s to the millisecond (%.3f): it may round up past the phase's
    // wall by up to half of one
    CHECK_MSG(ph.wall_s >= used - 5e-4 - 1e-9, "search phase %.4f s < used %.3f s", ph.wall_s,
              used);
    ledger_close(l, NULL);
}

static void test_random(const nas_data *d) {
    // 3 s, 1000 children allowed: asking stops before a child would end after the budget
    const double budget = 3;
    nas_config c = quadrant_config("nas_budget_random.h5");
    nas_config_set(&c, NULL, "method", "random", NULL, 0);
    c.search_val_limit = 32;
    c.random.archs = 1000;
    c.random.epochs = 1;
    c.budget_s = budget;
    ledger *l = NULL;
    CHECK_OK(search(&c, d, c.out, &l));
    if (!l) return;
    int64_t n = ledger_num_trials(l);
    double slowest = 0;
    for (int64_t i = 0; i < n; i++) {
        ledger_trial t;
        if (!ledger_read_trial(l, i, &t) && t.cost.wall_s > slowest) slowest = t.cost.wall_s;
    }
    const char *text = "";
    CHECK_OK(ledger_get_text(l, "search_budget", &text));
    printf("random, %g s: %lld children (slowest %.3f s), %s\n", budget, (long long)n, slowest,
           text);
    CHECK_MSG(n >= 2 && n < 1000, "%lld children under %g s", (long long)n, budget);
    CHECK_MSG(strstr(text, "\"stopped_by\": \"budget\""), "search_budget: %s", text);
    CHECK_MSG(json_num(text, "children") == n, "search_budget %s, %lld rows", text, (long long)n);
    double used = json_num(text, "used_s");
    CHECK_MSG(used <= budget + slowest, "used %.3f s of %g (a child %.3f s)", used, budget,
              slowest);
    CHECK_MSG(used >= budget - 2 * slowest - 0.5, "used %.3f s of %g: stopped early", used,
              budget);
    ledger_summary s;
    CHECK_OK(ledger_summarize(l, &s));
    CHECK_MSG(s.budget_s == budget, "budget_s %g, want %g", s.budget_s, budget);
    ledger_close(l, NULL);
}

int main(void) {
    nas_data d;
    if (quadrant_data(&d)) {
        fprintf(stderr, "quadrant data: %s\n", gh_error_get());
        return 1;
    }
    test_random_ws(&d);
    test_random(&d);
    nas_data_free(&d);
    return check_done("test_nas_budget");
}
