// random_hpo: random search (Bergstra & Bengio, JMLR 2012): every proposal uniform in the
// normalised space (so log-uniform on log-scaled hps), at full fidelity. The baseline the
// issue's claim is measured against.
#include <stdlib.h>

#include "hpo.h"

static int random_ask(hpo_searcher *s, hpo_trial *t) {
    hpo_space_random_cfg(&s->space, &s->rng, t->cfg);
    t->fidelity = 1.0;
    return GH_OK;
}

static int random_tell(hpo_searcher *s, const hpo_trial *t, double loss, double cost) {
    (void)s, (void)t, (void)loss, (void)cost;
    return GH_OK;
}

static void random_destroy(hpo_searcher *s) { free(s); }

static const hpo_vtable random_vt = {"random", random_ask, random_tell, NULL, random_destroy};

int hpo_random_create(hpo_searcher **out) {
    hpo_searcher *s = calloc(1, sizeof *s);
    if (!s) return gh_fail(GH_ENOMEM, "random search: %zu bytes", sizeof *s);
    s->vt = &random_vt;
    *out = s;
    return GH_OK;
}
