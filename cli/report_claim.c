// cli: the tabular claim this harness checks, FLAML's (Wang et al., MLSys 2021) "90% of the
// optimum at a tenth of the budget": how much of the best validation score found on a dataset
// a searcher holds at a fraction of its budget.
#include <math.h>
#include <string.h>

#include "report.h"

// Metrics whose loss is the metric itself (0 is perfect), not 1 - score.
static int loss_is_error(const char *metric) {
    return !strcmp(metric, "log_loss") || !strcmp(metric, "rmse");
}

// Fraction of the optimum that loss reaches: score / optimum's score for 1 - score losses,
// optimum / loss for error losses.
static double fraction(const char *metric, double loss, double opt) {
    if (!isfinite(loss)) return 0;
    if (loss_is_error(metric)) return loss > 0 ? fmin(1, opt / loss) : 1;
    return (1 - opt) > 0 ? (1 - loss) / (1 - opt) : NAN;
}

double report_fraction_of_optimum(const report_run *runs, int n, const char *dataset,
                                  const char *method, double at) {
    double opt = INFINITY;
    for (int i = 0; i < n; i++)
        if (runs[i].tabular && !strcmp(runs[i].dataset, dataset))
            for (int k = 0; k < runs[i].nt; k++) opt = fmin(opt, runs[i].loss[k]);
    if (!isfinite(opt)) return NAN;
    double s = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const report_run *r = &runs[i];
        if (!r->tabular || strcmp(r->dataset, dataset) || strcmp(r->method, method)) continue;
        double budget = isfinite(r->budget_s) ? r->budget_s : (r->nt ? r->t_s[r->nt - 1] : 0);
        double best = INFINITY;
        for (int k = 0; k < r->nt; k++)
            if (r->t_s[k] <= at * budget) best = fmin(best, r->loss[k]);
        s += fraction(r->metric, best, opt);
        m++;
    }
    return m ? s / m : NAN;
}
