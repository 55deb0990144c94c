// nas_space: the spaces proposers draw whole genotypes from, as data for ask/tell searchers
// (random sampling, regularized evolution, the NASNet controller): DARTS's cell (4 nodes, two
// distinct inputs each, the 7 non-none primitives) and NASNet's (models/nasnet.c).
#include <stdio.h>
#include <string.h>

#include "nas_internal.h"

int nas_space_parse(const char *name) {
    if (!strcmp(name, "darts")) return NAS_SPACE_DARTS;
    if (!strcmp(name, "nasnet")) return NAS_SPACE_NASNET;
    return -1;
}

int nas_space_nops(int space) {
    return space == NAS_SPACE_NASNET ? NASNET_NUM_OPS : DARTS_NUM_PRIMITIVES - 1;
}

int nas_space_op(int space, int k) {
    return space == NAS_SPACE_NASNET ? (int)nasnet_ops[k] : 1 + k;   // DARTS: all but none
}

int nas_space_op_index(int space, int op) {
    if (space == NAS_SPACE_NASNET) return nasnet_op_index(op);
    return op >= 1 && op < DARTS_NUM_PRIMITIVES ? op - 1 : -1;
}

int nas_space_distinct_inputs(int space) { return space != NAS_SPACE_NASNET; }

void nas_space_random(gh_rng *r, const nas_proposer_options *o, genotype *g) {
    if (o->space == NAS_SPACE_NASNET)
        nasnet_random_genotype(r, g);
    else
        nas_random_genotype(r, o->steps, o->multiplier, g);
}

void nas_space_concat(int space, geno_cell *c) {
    if (space == NAS_SPACE_NASNET) nasnet_cell_concat(c);
}

int nas_space_check(const nas_proposer_options *o, const genotype *g) {
    if (o->space == NAS_SPACE_NASNET) return nasnet_genotype_check(g);
    int st = genotype_validate(g);
    const geno_cell *cells[2] = {&g->normal, &g->reduce};
    for (int c = 0; !st && c < 2; c++) {
        const geno_cell *gc = cells[c];
        if (gc->steps != o->steps || gc->nconcat != o->multiplier)
            return gh_fail(GH_EINVAL, "DARTS space: %d nodes and %d concatenated, expected %d "
                           "and %d", gc->steps, gc->nconcat, o->steps, o->multiplier);
        for (int i = 0; i < gc->steps; i++)
            if (gc->edge[2 * i].input == gc->edge[2 * i + 1].input ||
                nas_space_op_index(NAS_SPACE_DARTS, gc->edge[2 * i].op) < 0 ||
                nas_space_op_index(NAS_SPACE_DARTS, gc->edge[2 * i + 1].op) < 0)
                return gh_fail(GH_EINVAL, "DARTS space: node %d has equal inputs or op none",
                               2 + i);
    }
    return st;
}
