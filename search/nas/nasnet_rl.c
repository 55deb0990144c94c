// nasnet_rl: NASNet's reinforcement-learning search (Zoph et al., CVPR 2018) at a lab's scale:
// the nasnet-rl proposer's LSTM controller samples cells of the [search] space, random_archs
// children are each trained from scratch at the search size for random_epochs and rewarded with
// their validation accuracy; the controller learns from batches of rl_batch finished children.
// Checkpoints after every child hold the controller (weights, Adam, baseline, pending batch).
#include "nas_internal.h"

int nasnet_rl_run(nas_run *r, genotype *best) {
    nas_proposer *p = NULL;
    nas_evaluator *ev = NULL;
    nas_proposer_options po = nas_run_proposer_options(r);
    int st = nas_proposer_create(&p, "nasnet-rl", &po);
    if (!st) st = nas_eval_scratch_create(&ev, r, r->c->random.epochs);
    if (!st) st = nas_search_proposals(r, p, ev, 1, "nasnet_rl", "nasnet-rl");
    if (!st) *best = p->best.g;
    nas_evaluator_destroy(ev);
    nas_proposer_destroy(p);
    return st;
}
