// regevo: regularized (aging) evolution, Real et al., AAAI 2019 (AmoebaNet): the regevo proposer
// (population regevo_population, tournaments of regevo_sample, aging) over the [search] space,
// random_archs children each trained from scratch at the search size for random_epochs and
// scored on the validation half (the paper's proxy, scaled by the config); the best child is
// returned. Checkpoints after every child hold the population.
#include "nas_internal.h"

int regevo_run(nas_run *r, genotype *best) {
    nas_proposer *p = NULL;
    nas_evaluator *ev = NULL;
    nas_proposer_options po = nas_run_proposer_options(r);
    int st = nas_proposer_create(&p, "regevo", &po);
    if (!st) st = nas_eval_scratch_create(&ev, r, r->c->random.epochs);
    if (!st) st = nas_search_proposals(r, p, ev, 1, "regevo", "regevo");
    if (!st) *best = p->best.g;
    nas_evaluator_destroy(ev);
    nas_proposer_destroy(p);
    return st;
}
