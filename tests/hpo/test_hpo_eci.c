// test_hpo_eci: learner selection by estimated cost for improvement. With equal gains the
// cheaper learner is chosen (first among untried ones by init cost, then more often among
// tried ones); a learner whose trial cannot finish in the time left is skipped; FLAML's
// sample-size rule.
#include <math.h>

#include "check.h"
#include "search/hpo/hpo.h"

int main(void) {
    // untried learners: after the first (index 0, FLAML's list head) the cheapest next
    {
        const double init[3] = {1.6, 64, 2};   // xgboost, xgb_limitdepth, rf
        eci_state e;
        CHECK_OK(eci_init(&e, init, 3, 1000, 1));
        CHECK(eci_select(&e, 100) == 0);
        eci_update(&e, 0, 0.30, 1.0, 1.0, 1000);
        // learner 0 keeps its turn while its ECI (1 s) is below rf's scaled 1.25 s
        CHECK(eci_select(&e, 100) == 0);
        // no improvement for a while: its ECI grows past rf's and rf (cost 2) goes before
        // xgb_limitdepth (cost 64)
        for (int k = 0; k < 3; k++) eci_update(&e, 0, 0.31, 1.0, 1.0, 1000);
        int pick = eci_select(&e, 100);
        CHECK_MSG(pick == 2, "eci picked %d, expected the cheaper untried learner 2", pick);
        eci_free(&e);
    }
    // equal gains, 10x the cost: the cheap learner is picked far more often
    {
        const double init[2] = {1, 1};
        eci_state e;
        CHECK_OK(eci_init(&e, init, 2, 1000, 7));
        const double secs[2] = {1.0, 10.0};
        const double losses[3] = {0.5, 0.4, 0.3};
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 2; i++) eci_update(&e, i, losses[k], secs[i], secs[i], 1000);
        CHECK(eci_estimated_cost(&e, 0) < eci_estimated_cost(&e, 1));
        int count[2] = {0, 0};
        for (int k = 0; k < 2000; k++) {
            int p = eci_select(&e, 1000);
            CHECK(p == 0 || p == 1);
            if (p >= 0) count[p]++;
        }
        printf("  equal gains, cost 1 s vs 10 s: picked %d vs %d times\n", count[0], count[1]);
        CHECK_MSG(count[0] > 4 * count[1], "cheaper learner picked %d vs %d", count[0], count[1]);
        // a learner whose best trial takes longer than the time left is skipped
        int only = 1;
        for (int k = 0; k < 200; k++) only &= eci_select(&e, 5.0) == 0;
        CHECK_MSG(only, "a 10 s learner was picked with 5 s left");
        CHECK(eci_select(&e, 0.5) == -1);
        eci_free(&e);
    }
    // behind the best learner: ECI includes the time to close the gap at its speed
    {
        const double init[2] = {1, 1};
        eci_state e;
        CHECK_OK(eci_init(&e, init, 2, 1000, 3));
        eci_update(&e, 0, 0.10, 1, 1, 1000);
        eci_update(&e, 1, 0.50, 1, 1, 1000);
        eci_update(&e, 1, 0.40, 1, 1, 1000);
        // gap 0.3; speed: 0.1 gained in the 1 s since the previous best -> 2 * 0.3 / 0.1 = 6 s
        CHECK_MSG(fabs(eci_estimated_cost(&e, 1) - 6.0) < 1e-9, "eci %g, expected 6",
                  eci_estimated_cost(&e, 1));
        eci_free(&e);
    }
    CHECK(eci_min_sample_fraction(1000) == 1.0);
    CHECK(eci_min_sample_fraction(40000) == 1.0);
    CHECK(fabs(eci_min_sample_fraction(100000) - 0.1) < 1e-12);
    return check_done("test_hpo_eci");
}
