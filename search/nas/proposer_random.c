// proposer_random: genotypes drawn uniformly from the DARTS space (the paper's random baseline,
// section 3.3; the paths of random search with weight sharing, Li & Talwalkar 2019): it learns
// nothing from its rewards.
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

void nas_random_genotype(gh_rng *r, int steps, int multiplier, genotype *g) {
    geno_cell *cells[2] = {&g->normal, &g->reduce};
    memset(g, 0, sizeof *g);
    for (int c = 0; c < 2; c++) {
        geno_cell *gc = cells[c];
        gc->steps = steps;
        for (int i = 0; i < steps; i++) {
            int a = (int)gh_rng_below(r, (uint64_t)(2 + i));
            int b = (int)gh_rng_below(r, (uint64_t)(1 + i));
            if (b >= a) b++;   // two distinct inputs
            gc->edge[2 * i].input = a;
            gc->edge[2 * i + 1].input = b;
            for (int t = 0; t < 2; t++)  // ops 1..7: every primitive except none
                gc->edge[2 * i + t].op = 1 + (int)gh_rng_below(r, DARTS_NUM_PRIMITIVES - 1);
        }
        gc->nconcat = multiplier;
        for (int i = 0; i < multiplier; i++) gc->concat[i] = 2 + steps - multiplier + i;
    }
}

static int random_propose(nas_proposer *p, genotype *g) {
    nas_space_random(&p->rng, &p->opt, g);
    return GH_OK;
}

static void random_destroy(nas_proposer *p) { free(p); }

static const nas_proposer_vtable random_vt = {.name = "random", .propose = random_propose,
                                              .tell = NULL, .destroy = random_destroy};

int nas_random_proposer_create(nas_proposer **out) {
    nas_proposer *p = calloc(1, sizeof *p);
    if (!p) return gh_fail(GH_ENOMEM, "random proposer: no memory");
    p->vt = &random_vt;
    *out = p;
    return GH_OK;
}
