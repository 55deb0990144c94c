// nasnet: the NASNet search space (Zoph et al., CVPR 2018, section 3; AmoebaNet, Real et al.,
// AAAI 2019, uses the same) as data over the DARTS op table and genotype format: B = 5 blocks per
// cell, each adding two ops applied to two hidden states chosen among the cell's inputs and the
// earlier blocks; the blocks no block reads are concatenated as the cell's output.
#include <string.h>

#include "models.h"

// NASNet-A's and AmoebaNet's op set (Real et al. 2019, section 2.2) in the DARTS table: identity,
// 3x3/5x5/7x7 separable convs, 3x3 average and max pooling, 3x3 dilated separable conv, and the
// 1x7-then-7x1 conv.
const darts_op_kind nasnet_ops[NASNET_NUM_OPS] = {
    DARTS_OP_SKIP_CONNECT, DARTS_OP_SEP_CONV_3X3, DARTS_OP_SEP_CONV_5X5, DARTS_OP_SEP_CONV_7X7,
    DARTS_OP_AVG_POOL_3X3, DARTS_OP_MAX_POOL_3X3, DARTS_OP_DIL_CONV_3X3, DARTS_OP_CONV_7X1_1X7,
};

int nasnet_op_index(int op) {
    for (int k = 0; k < NASNET_NUM_OPS; k++)
        if ((int)nasnet_ops[k] == op) return k;
    return -1;
}

void nasnet_cell_concat(geno_cell *c) {
    int used[2 + GENO_MAX_STEPS] = {0};
    for (int i = 0; i < 2 * c->steps; i++) used[c->edge[i].input] = 1;
    c->nconcat = 0;
    // the last block is never read by a block, so the list is never empty
    for (int n = 2; n < 2 + c->steps; n++)
        if (!used[n]) c->concat[c->nconcat++] = n;
}

static int check_cell(const geno_cell *c, const char *which) {
    if (c->steps != NASNET_BLOCKS)
        return gh_fail(GH_EINVAL, "NASNet space: the %s cell has %d blocks, expected %d", which,
                       c->steps, NASNET_BLOCKS);
    for (int i = 0; i < 2 * c->steps; i++)
        if (nasnet_op_index(c->edge[i].op) < 0)
            return gh_fail(GH_EINVAL, "NASNet space: %s edge %d has op %s, not one of NASNet's",
                           which, i, c->edge[i].op >= 0 && c->edge[i].op < DARTS_OP_COUNT
                                         ? darts_ops[c->edge[i].op].name : "?");
    geno_cell want = *c;
    nasnet_cell_concat(&want);
    if (want.nconcat != c->nconcat || memcmp(want.concat, c->concat, sizeof(int) * c->nconcat))
        return gh_fail(GH_EINVAL, "NASNet space: %s_concat is not the list of unused blocks",
                       which);
    return GH_OK;
}

int nasnet_genotype_check(const genotype *g) {
    int st = genotype_validate(g);
    if (!st) st = check_cell(&g->normal, "normal");
    if (!st) st = check_cell(&g->reduce, "reduce");
    return st;
}

void nasnet_random_genotype(gh_rng *r, genotype *g) {
    geno_cell *cells[2] = {&g->normal, &g->reduce};
    memset(g, 0, sizeof *g);
    for (int c = 0; c < 2; c++) {
        geno_cell *gc = cells[c];
        gc->steps = NASNET_BLOCKS;
        // NASNet's controller order per block: hidden state A, hidden state B, op A, op B; the
        // two hidden states may be the same one
        for (int i = 0; i < NASNET_BLOCKS; i++) {
            gc->edge[2 * i].input = (int)gh_rng_below(r, (uint64_t)(2 + i));
            gc->edge[2 * i + 1].input = (int)gh_rng_below(r, (uint64_t)(2 + i));
            gc->edge[2 * i].op = nasnet_ops[gh_rng_below(r, NASNET_NUM_OPS)];
            gc->edge[2 * i + 1].op = nasnet_ops[gh_rng_below(r, NASNET_NUM_OPS)];
        }
        nasnet_cell_concat(gc);
    }
}
