// test_hpo_searchers: the ask/tell contract of every HPO searcher on a plain function (no
// duplicate proposals, within bounds, deterministic given the seed, the stopping rule), grid
// enumeration, ASHA promotion, and TPE beating random search on average over seeds.
#include <math.h>
#include <string.h>

#include "check.h"
#include "failing_searcher.h"
#include "search/hpo/hpo.h"

static const char *const shapes[] = {"circle", "square", "triangle"};
static const hp_domain space[] = {
    {"x", HP_FLOAT, -5, 5, 0, 0, 0, 0, NULL},
    {"lr", HP_FLOAT, 1e-4, 1, 1, 0.1, 0.1, 0, NULL},
    {"trees", HP_INT, 4, 4096, 1, 4, 4, 0, NULL},
    {"depth", HP_INT, 1, 10, 0, 1, 6, 0, NULL},
    {"shape", HP_CAT, 0, 2, 0, 1, 1, 3, shapes},
};
#define D 5

// A smooth bowl in the normalised space, the categorical adds a step; cost grows with trees.
static double objective(const double *cfg, double *cost) {
    const double target[D] = {0.62, 0.35, 0.55, 0.5, 0};
    double loss = 0;
    for (int i = 0; i < 4; i++) {
        double u = hpo_to_unit(&space[i], cfg[i]) - target[i];
        loss += u * u;
    }
    loss += cfg[4] == 2 ? 0 : 0.05;
    if (cost) *cost = 0.01 + cfg[2] / 4096.0;
    return loss;
}

typedef struct {
    int n;
    double cfg[400][HPO_MAX_DIM];
    double fid[400];
    double best;
} run_log;

// n ask/tell rounds; returns the status of the last ask
static int run(const char *method, uint64_t seed, int n, int64_t max_trials, run_log *log) {
    hpo_options o = {.seed = seed, .max_trials = max_trials};
    if (!strcmp(method, "asha")) o.min_fidelity = 1.0 / 9;
    hpo_searcher *s = NULL;
    int st = hpo_create(&s, method, space, D, &o);
    if (st) return st;
    log->n = 0;
    log->best = INFINITY;
    for (int k = 0; k < n; k++) {
        hpo_trial t;
        st = hpo_ask(s, &t);
        if (st) break;
        double cost, loss = objective(t.cfg, &cost);
        memcpy(log->cfg[log->n], t.cfg, sizeof t.cfg);
        log->fid[log->n++] = t.fidelity;
        if (t.fidelity == 1.0 && loss < log->best) log->best = loss;
        CHECK_OK(hpo_tell(s, &t, loss, cost));
    }
    hpo_destroy(s);
    return st;
}

// Several trials in flight (the parallel tuning loop): HPO_MAX_PENDING / 2 asks outstanding,
// told in a seeded random order, never the order asked. Every searcher keeps proposing
// (no failure, no HPO_STOP), never repeats a config, in flight or done, and still searches:
// its best loss at full fidelity is below 0.1, which random search told in order reaches in
// 150 trials at this seed (0.087); told in order every searcher gets there.
static void in_flight(const char *method) {
    enum { W = HPO_MAX_PENDING / 2, N = 200 };
    hpo_options o = {.seed = 11};
    if (!strcmp(method, "asha")) o.min_fidelity = 1.0 / 9;
    hpo_searcher *s = NULL;
    CHECK_OK(hpo_create(&s, method, space, D, &o));
    if (!s) return;
    hpo_space sp;
    CHECK_OK(hpo_space_init(&sp, space, D));
    static uint64_t sig[N + W];
    hpo_trial fly[W];
    gh_rng r;
    gh_rng_seed(&r, 5, GH_STREAM_DATA);
    int n = 0, dup = 0, st = GH_OK;
    double best = INFINITY;
    for (int k = 0; k < W && !st; k++) {
        st = hpo_ask(s, &fly[k]);
        if (!st) sig[n++] = hpo_signature(&sp, fly[k].cfg, fly[k].fidelity);
    }
    while (n < N + W && !st) {
        int k = (int)gh_rng_below(&r, W);
        double cost, loss = objective(fly[k].cfg, &cost);
        if (fly[k].fidelity == 1.0 && loss < best) best = loss;
        st = hpo_tell(s, &fly[k], loss, cost);
        if (!st) st = hpo_ask(s, &fly[k]);
        if (st) break;
        uint64_t key = hpo_signature(&sp, fly[k].cfg, fly[k].fidelity);
        for (int j = 0; j < n; j++) dup += sig[j] == key;
        sig[n++] = key;
    }
    CHECK_MSG(st == GH_OK, "%s with %d in flight: status %d after %d asks (%s)", method, W, st, n,
              gh_error_get());
    CHECK_MSG(dup == 0, "%s with %d in flight: %d repeated proposals", method, W, dup);
    CHECK_MSG(best < 0.1, "%s with %d in flight: best loss %.4f", method, W, best);
    printf("  %-12s best loss after %d with %d in flight: %.4f\n", method, N, W, best);
    hpo_destroy(s);
}

static void contract(const char *method) {
    static run_log a, b, c;
    int st = run(method, 11, 150, 0, &a);
    CHECK_MSG(st == GH_OK && a.n == 150, "%s: %d proposals (status %d: %s)", method, a.n, st,
              gh_error_get());
    hpo_space sp;
    CHECK_OK(hpo_space_init(&sp, space, D));
    int out = 0, dup = 0;
    for (int k = 0; k < a.n; k++) {
        for (int i = 0; i < D; i++) {
            const hp_domain *h = &space[i];
            double v = a.cfg[k][i];
            if (h->kind == HP_CAT ? (v < 0 || v >= h->n_choices || v != round(v))
                                  : (v < h->lo || v > h->hi || (h->kind == HP_INT && v != round(v))))
                out++;
        }
        if (!(a.fid[k] > 0 && a.fid[k] <= 1)) out++;
        uint64_t sk = hpo_signature(&sp, a.cfg[k], a.fid[k]);
        for (int j = 0; j < k; j++)
            if (hpo_signature(&sp, a.cfg[j], a.fid[j]) == sk) dup++;
    }
    CHECK_MSG(out == 0, "%s: %d values out of bounds", method, out);
    CHECK_MSG(dup == 0, "%s: %d duplicate proposals", method, dup);
    run(method, 11, 150, 0, &b);
    CHECK_MSG(b.n == a.n && !memcmp(a.cfg, b.cfg, sizeof a.cfg[0] * (size_t)a.n),
              "%s: not deterministic for a fixed seed", method);
    run(method, 12, 150, 0, &c);
    CHECK_MSG(memcmp(a.cfg, c.cfg, sizeof a.cfg[0] * (size_t)a.n) != 0,
              "%s: another seed gives the same proposals", method);
    // stopping rule: max_trials
    st = run(method, 11, 40, 25, &c);
    CHECK_MSG(st == HPO_STOP && c.n == 25, "%s: max_trials 25 gave %d proposals, status %d",
              method, c.n, st);
    printf("  %-12s best loss after 150: %.4f\n", method, a.best);
    in_flight(method);
}

static void grid_enumerates(void) {
    static const char *const two[] = {"a", "b"};
    const hp_domain g[] = {
        {"f", HP_FLOAT, 0, 1, 0, 0, 0, 0, NULL},
        {"i", HP_INT, 1, 3, 0, 1, 1, 0, NULL},   // 3 integers < grid_points: all of them
        {"c", HP_CAT, 0, 1, 0, 0, 0, 2, two},
    };
    hpo_options o = {.seed = 5, .grid_points = 4};
    hpo_searcher *s;
    CHECK_OK(hpo_create(&s, "grid", g, 3, &o));
    int seen[4][3][2] = {{{0}}}, n = 0, st;
    hpo_trial t;
    while ((st = hpo_ask(s, &t)) == GH_OK && n < 100) {
        int fi = (int)llround(t.cfg[0] * 3), ii = (int)t.cfg[1] - 1, ci = (int)t.cfg[2];
        CHECK(fabs(t.cfg[0] * 3 - fi) < 1e-12);   // levels 0, 1/3, 2/3, 1
        seen[fi][ii][ci]++;
        hpo_tell(s, &t, t.cfg[0], 1);
        n++;
    }
    CHECK_MSG(st == HPO_STOP && n == 24, "grid: %d points then status %d, expected 24, stop", n,
              st);
    int once = 1;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++) once &= seen[a][b][c] == 1;
    CHECK_MSG(once, "grid: not every point exactly once");
    hpo_destroy(s);
}

static void asha_promotes(void) {
    const hp_domain g[] = {{"u", HP_FLOAT, 0, 1, 0, 0, 0, 0, NULL},
                           {"v", HP_FLOAT, 0, 1, 0, 0, 0, 0, NULL}};
    hpo_options o = {.seed = 3, .min_fidelity = 1.0 / 9, .fidelity_factor = 3};
    hpo_searcher *s;
    CHECK_OK(hpo_create(&s, "asha", g, 2, &o));
    hpo_trial t[3], p;
    for (int k = 0; k < 3; k++) {
        CHECK_OK(hpo_ask(s, &t[k]));
        CHECK_MSG(fabs(t[k].fidelity - 1.0 / 9) < 1e-12, "asha: rung 0 at %g", t[k].fidelity);
        hpo_tell(s, &t[k], t[k].cfg[0], t[k].fidelity);   // loss = u
    }
    int best = 0;
    for (int k = 1; k < 3; k++)
        if (t[k].cfg[0] < t[best].cfg[0]) best = k;
    CHECK_OK(hpo_ask(s, &p));
    CHECK_MSG(fabs(p.fidelity - 1.0 / 3) < 1e-12 && p.cfg[0] == t[best].cfg[0] &&
                  p.cfg[1] == t[best].cfg[1],
              "asha: 4th proposal should promote the best of 3 to fidelity 1/3, got u=%g at %g",
              p.cfg[0], p.fidelity);
    hpo_tell(s, &p, p.cfg[0], p.fidelity);
    // the next one cannot promote (1 of 3 already promoted): a fresh config at rung 0
    CHECK_OK(hpo_ask(s, &p));
    CHECK(fabs(p.fidelity - 1.0 / 9) < 1e-12);
    hpo_tell(s, &p, p.cfg[0], p.fidelity);
    // run on: the full-fidelity rung is reached, and only by configs that won their rungs
    int full = 0;
    for (int k = 0; k < 60; k++) {
        CHECK_OK(hpo_ask(s, &p));
        if (p.fidelity == 1.0) full++;
        hpo_tell(s, &p, p.cfg[0], p.fidelity);
    }
    CHECK_MSG(full >= 2, "asha: only %d trials reached full fidelity in 65", full);
    hpo_destroy(s);
}

// TPE against random search on a 4-d bowl: mean best loss over seeds after 60 trials.
static void tpe_beats_random(void) {
    const hp_domain g[] = {
        {"a", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL}, {"b", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL},
        {"c", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL}, {"d", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL},
    };
    const double c[4] = {0.2, 0.7, 0.4, 0.9};
    const char *methods[2] = {"tpe", "random"};
    double mean[2] = {0, 0};
    const int seeds = 20, trials = 60;
    for (int m = 0; m < 2; m++)
        for (int seed = 1; seed <= seeds; seed++) {
            hpo_options o = {.seed = (uint64_t)seed};
            hpo_searcher *s;
            CHECK_OK(hpo_create(&s, methods[m], g, 4, &o));
            double best = INFINITY;
            for (int k = 0; k < trials; k++) {
                hpo_trial t;
                if (hpo_ask(s, &t)) break;
                double loss = 0;
                for (int i = 0; i < 4; i++) loss += (t.cfg[i] - c[i]) * (t.cfg[i] - c[i]);
                best = fmin(best, loss);
                hpo_tell(s, &t, loss, 1);
            }
            mean[m] += best / seeds;
            hpo_destroy(s);
        }
    printf("  mean best loss after %d trials over %d seeds: tpe %.5f, random %.5f\n", trials,
           seeds, mean[0], mean[1]);
    CHECK_MSG(mean[0] < 0.7 * mean[1], "tpe %.5f is not clearly better than random %.5f", mean[0],
              mean[1]);
}

// The registry: every row complete and found by its name; an unknown name is an error that
// lists the known ones.
static void registry(void) {
    int n;
    const hpo_method *m = hpo_methods(&n);
    const char *const known[] = {"cfo", "blendsearch", "random", "grid", "tpe", "asha"};
    for (int i = 0; i < 6; i++) CHECK_MSG(hpo_method_find(known[i]), "%s missing", known[i]);
    for (int i = 0; i < n; i++) {
        CHECK_MSG(m[i].name && m[i].create && m[i].help && *m[i].help, "row %d incomplete", i);
        CHECK_MSG(hpo_method_find(m[i].name) == &m[i], "%s not found by name", m[i].name);
    }
    CHECK(hpo_method_find("hyperband") == NULL && hpo_method_find(NULL) == NULL);
    CHECK(hpo_method_find("asha")->fidelity == HPO_FIDELITY_RUNGS);
    CHECK(hpo_method_find("cfo")->fidelity == HPO_FIDELITY_SAMPLE);
    CHECK(hpo_method_find("random")->fidelity == HPO_FIDELITY_NONE);
    hpo_searcher *s = NULL;
    hpo_options o = {.seed = 1};
    CHECK(hpo_create(&s, "hyperband", space, D, &o) == GH_EINVAL && s == NULL);
    CHECK_MSG(strstr(gh_error_get(), "'hyperband'") && strstr(gh_error_get(), "tpe, asha"),
              "message: %s", gh_error_get());
}

// A failure inside a searcher's tell or seen (simulated out-of-memory) comes out of hpo_tell
// and hpo_ask as its status, not dropped.
static void failures_propagate(void) {
    hpo_options o = {.seed = 2};
    hpo_searcher *s = NULL;
    hpo_trial t;
    failing_fail_at = 3;
    failing_repeat = 0;
    CHECK_OK(hpo_create_method(&s, &failing_method, space, D, &o));
    for (int k = 1; k <= 3 && s; k++) {
        CHECK_OK(hpo_ask(s, &t));
        int st = hpo_tell(s, &t, 1.0 / k, 1);
        if (k < 3) CHECK_OK(st);
        else CHECK_MSG(st == GH_ENOMEM && strstr(gh_error_get(), "tell 3"),
                       "3rd tell: status %d (%s), expected GH_ENOMEM", st, gh_error_get());
    }
    hpo_destroy(s);
    // the same config twice: the second ask meets its result, and seen fails
    failing_fail_at = 0;
    failing_repeat = 1;
    CHECK_OK(hpo_create_method(&s, &failing_method, space, D, &o));
    if (s) {
        CHECK_OK(hpo_ask(s, &t));
        CHECK_OK(hpo_tell(s, &t, 0.5, 1));
        int st = hpo_ask(s, &t);
        CHECK_MSG(st == GH_ENOMEM && strstr(gh_error_get(), "seen"),
                  "ask after a known result: status %d (%s), expected GH_ENOMEM", st,
                  gh_error_get());
    }
    hpo_destroy(s);
}

int main(void) {
    registry();
    failures_propagate();
    int n;
    const hpo_method *m = hpo_methods(&n);
    for (int i = 0; i < n; i++) contract(m[i].name);
    grid_enumerates();
    asha_promotes();
    tpe_beats_random();
    return check_done("test_hpo_searchers");
}
