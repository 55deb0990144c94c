// test_hpo_flow2: FLOW2 (flow2.c) and CFO find the minimum of shifted quadratics in 3 and 5
// dimensions within 1e-2 in a stated number of evaluations, converge on an integer grid,
// raise the resource when the trials around the incumbent cost factor x its own, and CFO
// restarts after the local search converges.
#include <math.h>
#include <string.h>

#include "check.h"
#include "search/hpo/hpo.h"

// the minimum of sum (x_i - c_i)^2 on [-1, 1]^d, away from the start (0) and the bounds
static const double centre[5] = {0.26, -0.42, 0.14, 0.64, -0.08};

static double quad(const double *x, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (x[i] - centre[i]) * (x[i] - centre[i]);
    return s;
}

// Evaluations (the start included) until the loss is below 1e-2; -1 if not within limit.
static int flow2_evals(int d, uint64_t seed, int limit) {
    hp_domain hps[5];
    for (int i = 0; i < d; i++) hps[i] = (hp_domain){"x", HP_FLOAT, -1, 1, 0, 0, 0, 0, NULL};
    hpo_space sp;
    if (hpo_space_init(&sp, hps, d)) return -1;
    double start[HPO_MAX_DIM] = {0};
    flow2_options o = {.min_resource = 1, .max_resource = 1, .resource_factor = 4, .seed = seed};
    flow2 *f;
    if (flow2_create(&f, &sp, start, 1, quad(start, d), 1, &o)) return -1;
    int evals = 1;
    for (int64_t id = 0; evals < limit; id++) {
        double cfg[HPO_MAX_DIM], fid;
        if (!flow2_suggest(f, id, cfg, &fid)) continue;   // stuck this round: ask again
        double loss = quad(cfg, d);
        evals++;
        flow2_complete(f, id, loss, 1);
        if (loss < 1e-2) break;
    }
    int ok = flow2_best_loss(f) < 1e-2;
    flow2_free(f);
    return ok ? evals : -1;
}

static int cfo_evals(int d, uint64_t seed, int limit) {
    hp_domain hps[5];
    for (int i = 0; i < d; i++) hps[i] = (hp_domain){"x", HP_FLOAT, -1, 1, 0, 0, 0, 0, NULL};
    hpo_options o = {.seed = seed};
    hpo_searcher *s;
    if (hpo_create(&s, "cfo", hps, d, &o)) return -1;
    int evals = 0;
    while (evals < limit) {
        hpo_trial t;
        if (hpo_ask(s, &t)) break;
        double loss = quad(t.cfg, d);
        evals++;
        hpo_tell(s, &t, loss, 1);
        if (loss < 1e-2) break;
    }
    int ok = s->best_loss < 1e-2;
    hpo_destroy(s);
    return ok ? evals : -1;
}

int main(void) {
    // The stated bounds: within 1e-2 of the minimum in 3-d in at most 150 evaluations, in 5-d
    // in at most 1000. Measured worst over these 10 seeds: 66 and 490 (FLOW2 needs about
    // 2^d proposals per step reduction); FLAML's own flow2.py needs as many on this function.
    // CFO (the init point first, its own thread seed, restarts): 300 and 1500.
    const int limit[2] = {150, 1000}, cfo_limit[2] = {300, 1500}, dims[2] = {3, 5};
    for (int k = 0; k < 2; k++) {
        int worst = 0, worst_cfo = 0;
        for (uint64_t seed = 1; seed <= 10; seed++) {
            int e = flow2_evals(dims[k], seed, limit[k]);
            int c = cfo_evals(dims[k], seed, cfo_limit[k]);
            CHECK_MSG(e > 0, "flow2 %d-d seed %llu: not within 1e-2 in %d evaluations", dims[k],
                      (unsigned long long)seed, limit[k]);
            CHECK_MSG(c > 0, "cfo %d-d seed %llu: not within 1e-2 in %d evaluations", dims[k],
                      (unsigned long long)seed, cfo_limit[k]);
            if (e > worst) worst = e;
            if (c > worst_cfo) worst_cfo = c;
        }
        printf("  %d-d shifted quadratic to 1e-2: flow2 worst %d (bound %d), cfo worst %d "
               "(bound %d) evaluations\n", dims[k], worst, limit[k], worst_cfo, cfo_limit[k]);
    }

    // An integer grid: FLOW2 reaches the optimum, then its step falls below one grid unit
    // and it reports convergence instead of proposing forever.
    {
        hp_domain hps[2] = {{"i", HP_INT, 1, 20, 0, 1, 1, 0, NULL},
                            {"j", HP_INT, 1, 20, 0, 1, 1, 0, NULL}};
        hpo_space sp;
        CHECK_OK(hpo_space_init(&sp, hps, 2));
        double start[HPO_MAX_DIM] = {1, 1};
        flow2_options o = {.min_resource = 1, .max_resource = 1, .resource_factor = 4, .seed = 4};
        flow2 *f;
        double f0 = (1 - 7.0) * (1 - 7.0) + (1 - 13.0) * (1 - 13.0);
        CHECK_OK(flow2_create(&f, &sp, start, 1, f0, 1, &o));
        int steps = 0;
        for (int64_t id = 0; id < 3000 && !flow2_converged(f); id++, steps++) {
            double cfg[HPO_MAX_DIM], fid;
            if (!flow2_suggest(f, id, cfg, &fid)) continue;
            CHECK(cfg[0] == round(cfg[0]) && cfg[1] == round(cfg[1]));
            flow2_complete(f, id, (cfg[0] - 7) * (cfg[0] - 7) + (cfg[1] - 13) * (cfg[1] - 13), 1);
        }
        CHECK_MSG(flow2_converged(f), "flow2 on a 20x20 grid: not converged in 3000 rounds");
        CHECK_MSG(flow2_best_loss(f) <= 2, "flow2 on a grid stopped at loss %g",
                  flow2_best_loss(f));
        printf("  20x20 integer grid: best %g, converged after %d rounds\n", flow2_best_loss(f),
               steps);
        flow2_free(f);
    }

    // The resource: trials around the incumbent have cost 4x its own -> the incumbent is
    // re-run at 4x the sample.
    {
        hp_domain hps[2] = {{"a", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL},
                            {"b", HP_FLOAT, 0, 1, 0, 0.5, 0.5, 0, NULL}};
        hpo_space sp;
        CHECK_OK(hpo_space_init(&sp, hps, 2));
        double start[HPO_MAX_DIM] = {0.5, 0.5};
        flow2_options o = {.min_resource = 1.0 / 16, .max_resource = 1, .resource_factor = 4,
                           .seed = 9};
        flow2 *f;
        CHECK_OK(flow2_create(&f, &sp, start, 1.0 / 16, 1.0, 1.0, &o));
        double cfg[HPO_MAX_DIM], fid = 0;
        for (int64_t id = 0; id < 4; id++) {
            CHECK(flow2_suggest(f, id, cfg, &fid) == 1);
            CHECK(fabs(fid - 1.0 / 16) < 1e-15);
            flow2_complete(f, id, 2.0, 1.0);   // worse, cost 1 each
        }
        CHECK(flow2_suggest(f, 4, cfg, &fid) == 1);
        CHECK_MSG(fabs(fid - 0.25) < 1e-15 && cfg[0] == 0.5 && cfg[1] == 0.5,
                  "flow2: expected the incumbent at resource 1/4, got (%g, %g) at %g", cfg[0],
                  cfg[1], fid);
        flow2_free(f);
    }

    // CFO on the integer grid: after the local search converges it restarts (new start
    // points), rather than stopping or repeating itself.
    {
        hp_domain hps[2] = {{"i", HP_INT, 1, 20, 0, 1, 1, 0, NULL},
                            {"j", HP_INT, 1, 20, 0, 1, 1, 0, NULL}};
        hpo_options o = {.seed = 2};
        hpo_searcher *s;
        CHECK_OK(hpo_create(&s, "cfo", hps, 2, &o));
        int n = 0, far = 0;
        for (; n < 300; n++) {
            hpo_trial t;
            if (hpo_ask(s, &t)) break;
            double loss = (t.cfg[0] - 7) * (t.cfg[0] - 7) + (t.cfg[1] - 13) * (t.cfg[1] - 13);
            if (n > 0 && loss > 60) far++;   // a restart lands away from the optimum
            hpo_tell(s, &t, loss, 1);
        }
        CHECK_MSG(n > 100, "cfo on a 20x20 grid stopped after %d trials", n);
        CHECK_MSG(s->best_loss == 0, "cfo on a 20x20 grid: best %g", s->best_loss);
        CHECK_MSG(far > 0, "cfo never restarted");
        printf("  cfo 20x20 grid: %d trials, best %g\n", n, s->best_loss);
        hpo_destroy(s);
    }
    return check_done("test_hpo_flow2");
}
