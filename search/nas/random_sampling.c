// random_sampling: the random baseline of DARTS (section 3.3) and of Real et al. 2019 (their
// random search on the NASNet space): random_archs genotypes drawn uniformly from the [search]
// space by the random proposer, each trained from scratch at the search size for random_epochs
// and scored on the validation half; the best is returned. The loop is the one every proposer
// runs (nas_search_proposals): ask, evaluate, tell.
#include "nas_internal.h"

int random_sampling_run(nas_run *r, genotype *best) {
    nas_proposer *p = NULL;
    nas_evaluator *ev = NULL;
    nas_proposer_options po = nas_run_proposer_options(r);
    int st = nas_proposer_create(&p, "random", &po);
    if (!st) st = nas_eval_scratch_create(&ev, r, r->c->random.epochs);
    if (!st) st = nas_search_proposals(r, p, ev, 0, "random", "random");
    if (!st) *best = p->best.g;
    nas_evaluator_destroy(ev);
    nas_proposer_destroy(p);
    return st;
}
