// test_hpo_space: the normalised space (round trips, log scales, ints, categoricals,
// clamping), dedupe signatures, the results cache and the cost-related mask.
#include <math.h>
#include <string.h>

#include "check.h"
#include "search/hpo/hpo.h"

static const char *const colours[] = {"red", "green", "blue"};

int main(void) {
    const hp_domain hps[] = {
        {"lin", HP_FLOAT, -2.0, 6.0, 0, -2.0, 1.0, 0, NULL},
        {"logf", HP_FLOAT, 1e-3, 1e3, 1, 1.0, 1.0, 0, NULL},
        {"logi", HP_INT, 4, 32767, 1, 4, 4, 0, NULL},
        {"int", HP_INT, 1, 10, 0, 1, 6, 0, NULL},
        {"cat", HP_CAT, 0, 2, 0, 0, 1, 3, colours},
        {"const", HP_FLOAT, 0.5, 0.5, 0, 0.5, 0.5, 0, NULL},
    };
    const int d = 6;
    hpo_space s;
    CHECK_OK(hpo_space_init(&s, hps, d));

    // known points of the normalisation
    CHECK(fabs(hpo_to_unit(&hps[0], 2.0) - 0.5) < 1e-12);
    CHECK(fabs(hpo_to_unit(&hps[1], 1.0) - 0.5) < 1e-12);      // geometric midpoint
    CHECK(fabs(hpo_from_unit(&hps[1], 0.5) - 1.0) < 1e-12);
    CHECK(hpo_from_unit(&hps[2], 0.0) == 4 && hpo_from_unit(&hps[2], 1.0) == 32767);
    CHECK(hpo_from_unit(&hps[3], 0.5) == round(1 + 0.5 * 9));
    CHECK(hpo_from_unit(&hps[3], 1.7) == 10 && hpo_from_unit(&hps[3], -3) == 1);  // clamped
    CHECK(hpo_from_unit(&hps[4], 0.0) == 0 && hpo_from_unit(&hps[4], 0.5) == 1 &&
          hpo_from_unit(&hps[4], 1.0) == 2);
    CHECK(fabs(hpo_to_unit(&hps[4], 2) - 2.5 / 3) < 1e-12);
    CHECK(hpo_from_unit(&hps[5], 0.9) == 0.5 && hpo_to_unit(&hps[5], 0.5) == 0.0);
    CHECK(isfinite(hpo_from_unit(&hps[0], NAN)));

    // round trips: unit -> cfg -> unit -> cfg is a fixed point; every value in bounds
    gh_rng r;
    gh_rng_seed(&r, 7, GH_STREAM_SEARCH);
    int bad = 0;
    for (int t = 0; t < 2000; t++) {
        double cfg[HPO_MAX_DIM], u[HPO_MAX_DIM], cfg2[HPO_MAX_DIM];
        hpo_space_random_cfg(&s, &r, cfg);
        hpo_space_to_unit(&s, cfg, u);
        hpo_space_from_unit(&s, u, cfg2);
        for (int i = 0; i < d; i++) {
            const hp_domain *h = &hps[i];
            if (h->kind != HP_FLOAT && cfg[i] != round(cfg[i])) bad++;
            if (h->kind == HP_CAT ? (cfg[i] < 0 || cfg[i] >= h->n_choices)
                                  : (cfg[i] < h->lo || cfg[i] > h->hi))
                bad++;
            if (fabs(cfg2[i] - cfg[i]) > 1e-9 * fmax(1, fabs(cfg[i]))) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%d values out of bounds, not integral, or not round-tripping", bad);

    // init / low-cost points
    double init[HPO_MAX_DIM], low[HPO_MAX_DIM];
    hpo_space_init_cfg(&s, init);
    hpo_space_low_cost_cfg(&s, low);
    CHECK(init[0] == 1.0 && init[2] == 4 && init[3] == 6 && init[4] == 1);
    CHECK(low[0] == -2.0 && low[3] == 1);

    // signatures: equal configs agree, tiny float noise is the same trial, any change differs
    double a[HPO_MAX_DIM] = {1.0, 0.25, 100, 3, 2, 0.5}, b[HPO_MAX_DIM];
    memcpy(b, a, sizeof a);
    uint64_t sa = hpo_signature(&s, a, 1.0);
    CHECK(sa == hpo_signature(&s, b, 1.0));
    b[1] = 0.25 * (1 + 1e-12);
    CHECK(sa == hpo_signature(&s, b, 1.0));
    b[1] = 0.2500100;
    CHECK(sa != hpo_signature(&s, b, 1.0));
    memcpy(b, a, sizeof a);
    b[4] = 1;
    CHECK(sa != hpo_signature(&s, b, 1.0));
    CHECK(sa != hpo_signature(&s, a, 0.25));

    // the cache: unknown / pending / done, and it survives growth
    hpo_cache c;
    CHECK_OK(hpo_cache_init(&c));
    double loss = 0, cost = 0;
    CHECK(hpo_cache_get(&c, 42, &loss, &cost) == 0);
    CHECK_OK(hpo_cache_put(&c, 42, NAN, 0));
    CHECK(hpo_cache_get(&c, 42, &loss, &cost) == 1);
    CHECK_OK(hpo_cache_put(&c, 42, 0.5, 2.0));
    CHECK(hpo_cache_get(&c, 42, &loss, &cost) == 2 && loss == 0.5 && cost == 2.0);
    for (uint64_t k = 1000; k < 6000; k++) CHECK_OK(hpo_cache_put(&c, k * 2654435761u + 1, k, 1));
    int lost = 0;
    for (uint64_t k = 1000; k < 6000; k++)
        if (hpo_cache_get(&c, k * 2654435761u + 1, &loss, &cost) != 2 || loss != (double)k) lost++;
    CHECK_MSG(lost == 0, "%d entries lost after growing", lost);
    CHECK(hpo_cache_get(&c, 42, &loss, &cost) == 2 && loss == 0.5);
    hpo_cache_free(&c);

    // cost-related: ints starting at their lower bound, or a low-cost value unlike init
    int mask[HPO_MAX_DIM];
    hpo_space_cost_related(&s, mask);
    CHECK(mask[0] == 1 && mask[1] == 0 && mask[2] == 1 && mask[3] == 1 && mask[4] == 0 &&
          mask[5] == 0);

    // formatting names categories
    char buf[256];
    hpo_cfg_format(&s, a, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "cat=blue") && strstr(buf, "logi=100"), "formatted: %s", buf);

    // invalid domains are refused with the hp's name
    hp_domain badh[1] = {{"neg_log", HP_FLOAT, -1, 1, 1, 0, 0, 0, NULL}};
    CHECK(hpo_space_init(&s, badh, 1) == GH_EINVAL && strstr(gh_error_get(), "neg_log"));
    badh[0] = (hp_domain){"flipped", HP_INT, 5, 1, 0, 1, 1, 0, NULL};
    CHECK(hpo_space_init(&s, badh, 1) == GH_EINVAL && strstr(gh_error_get(), "flipped"));
    badh[0] = (hp_domain){"nochoice", HP_CAT, 0, 0, 0, 0, 0, 0, NULL};
    CHECK(hpo_space_init(&s, badh, 1) == GH_EINVAL);
    return check_done("test_hpo_space");
}
