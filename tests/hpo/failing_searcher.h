// failing_searcher: a test searcher whose tell fails on its fail_at-th call with GH_ENOMEM (a
// simulated out-of-memory inside a searcher), and whose seen always fails. It proposes the
// same config every time when `repeat` is set (so its second ask meets a known result and
// calls seen), random configs otherwise. Used through hpo_create_method and
// tune_options.method: the failures must come out of hpo_tell, hpo_ask and tune_run.
#pragma once
#include <stdlib.h>

#include "search/hpo/hpo.h"

typedef struct {
    hpo_searcher base;
    int n_tell;
} failing_searcher;

static int failing_fail_at = 1;   // the tell that fails (1: the first)
static int failing_repeat = 0;

static int failing_ask(hpo_searcher *s, hpo_trial *t) {
    if (failing_repeat) hpo_space_init_cfg(&s->space, t->cfg);
    else hpo_space_random_cfg(&s->space, &s->rng, t->cfg);
    t->fidelity = 1.0;
    return GH_OK;
}

static int failing_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)t, (void)loss, (void)cost;
    failing_searcher *f = (failing_searcher *)s;
    if (++f->n_tell == failing_fail_at)
        return gh_fail(GH_ENOMEM, "failing: simulated out of memory in tell %d", f->n_tell);
    return GH_OK;
}

static int failing_seen(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)s, (void)t, (void)loss, (void)cost;
    return gh_fail(GH_ENOMEM, "failing: simulated out of memory in seen");
}

static void failing_destroy(hpo_searcher *s) { free(s); }

static const hpo_vtable failing_vt = {"failing", failing_ask, failing_tell, failing_seen,
                                      failing_destroy};

static int failing_create(hpo_searcher **out) {
    failing_searcher *f = calloc(1, sizeof *f);
    if (!f) return gh_fail(GH_ENOMEM, "failing: %zu bytes", sizeof *f);
    f->base.vt = &failing_vt;
    *out = &f->base;
    return GH_OK;
}

static const hpo_method failing_method = {"failing", failing_create, HPO_FIDELITY_NONE,
                                          "a test searcher whose tell fails"};
