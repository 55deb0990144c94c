// random_sampling: the random baseline of DARTS (section 3.3): random_archs genotypes drawn
// uniformly by the random proposer, each trained from scratch at the search size for
// random_epochs and scored on the validation half; the best is returned. The loop is the one
// every proposer runs: ask, evaluate, tell.
#include <math.h>
#include <stdio.h>

#include "nas_internal.h"

// What the search needs to continue after its last recorded trial: the proposer (its RNG,
// signatures, the best so far and how many it proposed, which is the next trial's id).
typedef struct {
    nas_proposer *proposer;
} random_sampling_state;

int random_sampling_run(nas_run *r, genotype *best) {
    const nas_config *c = r->c;
    random_sampling_state state = {0};
    nas_evaluator *ev = NULL;
    nas_proposer_options po = {.seed = c->seed, .max_proposals = c->random.archs,
                               .steps = r->nc.steps, .multiplier = r->nc.multiplier};
    int st = nas_proposer_create(&state.proposer, "random", &po);
    if (!st) st = nas_eval_scratch_create(&ev, r, c->random.epochs);
    nas_proposal q;
    while (!st && (st = nas_ask(state.proposer, &q)) == GH_OK) {
        nas_eval_result res;
        st = nas_evaluator_run(ev, &q.g, q.id, &res);
        if (st) {
            // the failed trial is recorded, then the search stops with its status
            res.val_loss = res.val_acc = NAN;
            nas_record_trial(r, q.id, &q.g, &res, "failed");
            break;
        }
        char text[2048];
        genotype_print(&q.g, text, sizeof text);
        printf("random arch %lld/%d: valid_acc %.2f%% %s\n", (long long)q.id + 1, c->random.archs,
               100 * res.val_acc, text);
        if (!(st = nas_tell(state.proposer, &q, res.val_acc, res.cost.wall_s)))
            st = nas_record_trial(r, q.id, &q.g, &res, "ok");
    }
    if (st == NAS_STOP) st = GH_OK;
    if (!st && !(state.proposer->best_reward > -INFINITY))
        st = gh_fail(GH_EINVAL, "random: no genotype was scored (random_archs %d)",
                     c->random.archs);
    if (!st) *best = state.proposer->best.g;
    nas_evaluator_destroy(ev);
    nas_proposer_destroy(state.proposer);
    return st;
}
