// proposer_search: the one loop of the methods whose proposers give whole genotypes trained from
// scratch (random sampling, regularized evolution, the NASNet controller): ask, evaluate, tell,
// one trial row per child, a diverged child recorded as "nan" without stopping the search, and
// the proposer checkpointed after every row so that a killed search resumes with its population
// or controller.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nas_internal.h"

nas_proposer_options nas_run_proposer_options(const nas_run *r) {
    const nas_config *c = r->c;
    int space = nas_space_parse(c->space);
    return (nas_proposer_options){
        .seed = c->seed, .max_proposals = c->random.archs, .steps = r->nc.steps,
        .multiplier = r->nc.multiplier, .space = space < 0 ? NAS_SPACE_DARTS : space,
        .population = c->regevo.population, .sample = c->regevo.sample, .batch = c->rl.batch,
        .lr = c->rl.lr, .entropy = c->rl.entropy, .baseline_decay = c->rl.baseline_decay};
}

// A checkpoint between children: the search's cost so far and the proposer.
static int save(const nas_run *r, const nas_proposer *p, const char *prefix) {
    cost_totals cost = nas_run_cost(r);
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(r->ck, r->l, NAS_DO_SEARCH, p->n_told, &cost, &w);
    if (st || !w) return st;
    char name[96];
    snprintf(name, sizeof name, "%s/proposer", prefix);
    st = nas_proposer_save(p, name, ledger_ckpt_put_cb, w);
    nas_ckpt_point at = {.phase = NAS_DO_SEARCH, .unit = p->n_told + 1, .training = 0};
    return nas_ckpt_end(r->ck, w, st, &at);
}

int nas_search_proposals(nas_run *r, nas_proposer *p, nas_evaluator *ev, int checkpoints,
                         const char *prefix, const char *name) {
    int st = GH_OK;
    ledger_ckpt_reader *from = checkpoints ? nas_ckpt_from(r->ck, NAS_DO_SEARCH) : NULL;
    if (from) {
        char blob[96];
        snprintf(blob, sizeof blob, "%s/proposer", prefix);
        // children asked and not told when the run stopped are asked again: the proposer's
        // state is the one after the last recorded row
        if ((st = nas_proposer_load(p, blob, from))) return st;
        printf("%s: resumed after %lld children\n", name, (long long)p->n_told);
    }
    nas_proposal q;
    while (!st && (st = nas_ask(p, &q)) == GH_OK) {
        nas_eval_result res;
        st = nas_evaluator_run(ev, &q.g, q.id, &res);
        const char *status = "ok";
        if (st == GH_ENAN) {   // a diverged child is a result: recorded, told, the search goes on
            printf("%s arch %lld: diverged (%s)\n", name, (long long)q.id + 1, gh_error_get());
            res.val_loss = res.val_acc = NAN;
            status = "nan";
            st = GH_OK;
        } else if (st) {
            // another failure (memory, device) would repeat: recorded, then the search stops
            res.val_loss = res.val_acc = NAN;
            nas_record_trial(r, q.id, &q.g, &res, "failed");
            break;
        } else {
            char text[2048];
            genotype_print(&q.g, text, sizeof text);
            printf("%s arch %lld/%lld: valid_acc %.2f%% %s\n", name, (long long)q.id + 1,
                   (long long)p->opt.max_proposals, 100 * res.val_acc, text);
        }
        if (!(st = nas_tell(p, &q, res.val_acc, res.cost.wall_s)))
            st = nas_record_trial(r, q.id, &q.g, &res, status);
        if (!st && checkpoints) st = save(r, p, prefix);
    }
    if (st == NAS_STOP) st = GH_OK;
    if (!st && !(p->best_reward > -INFINITY))
        st = gh_fail(GH_EINVAL, "%s: no genotype was scored (random_archs %lld)", name,
                     (long long)p->opt.max_proposals);
    return st;
}
