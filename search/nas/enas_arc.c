// enas_arc: ENAS's micro architectures as data (Pham et al., ICML 2018; melodyguan/enas
// micro_child.py): the integer arc strings of `--child_fixed_arc` (per node "x_id x_op y_id
// y_op", the normal cell then the reduction cell) parsed with errors that point at the token,
// printed, validated, and converted to the DARTS genotype the rest of gpuhours trains and counts.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas.h"

// micro_child.py _enas_cell / _fixed_layer: 0, 1 the separable convolutions (two stacked
// ReLU-sep-conv-BN, as DARTS's SepConv), 2 average and 3 max pooling 3x3, 4 identity
// (factorized reduction at stride 2, as DARTS's skip_connect).
const int enas_op_kind[ENAS_NUM_OPS] = {DARTS_OP_SEP_CONV_3X3, DARTS_OP_SEP_CONV_5X5,
                                        DARTS_OP_AVG_POOL_3X3, DARTS_OP_MAX_POOL_3X3,
                                        DARTS_OP_SKIP_CONNECT};

static const char *slot_name[4] = {"first input", "first op", "second input", "second op"};

// The bound a token at position k (within the whole arc) must stay under.
static int token_bound(int nodes, int k) {
    int node = (k % (4 * nodes)) / 4, slot = k % 4;
    return slot % 2 ? ENAS_NUM_OPS : 2 + node;
}

int enas_arc_parse(enas_arc *a, const char *text, int nodes) {
    memset(a, 0, sizeof *a);
    if (!text) return gh_fail(GH_EFORMAT, "ENAS arc: no text");
    int vals[8 * ENAS_MAX_NODES + 1], starts[8 * ENAS_MAX_NODES + 1], n = 0;
    char limit[48];
    snprintf(limit, sizeof limit, "8 per node, at most %d nodes", ENAS_MAX_NODES);
    int st = arc_read_ints(text, "ENAS arc", 8 * ENAS_MAX_NODES, limit, vals, starts, &n);
    if (st) return st;
    if (nodes <= 0) {
        if (n == 0 || n % 8)
            return gh_fail(GH_EFORMAT,
                           "ENAS arc: %d integers; expected 8 per node (4 for the normal cell "
                           "and 4 for the reduction cell)",
                           n);
        nodes = n / 8;
    }
    if (nodes > ENAS_MAX_NODES)
        return gh_fail(GH_EFORMAT, "ENAS arc: %d nodes per cell; at most %d", nodes,
                       ENAS_MAX_NODES);
    if (n != 8 * nodes)
        return gh_fail(GH_EFORMAT, "ENAS arc: %d integers; expected %d for %d nodes per cell",
                       n, 8 * nodes, nodes);
    for (int k = 0; k < n; k++) {
        int bound = token_bound(nodes, k);
        if (vals[k] >= bound) {
            int cell = k / (4 * nodes), node = (k % (4 * nodes)) / 4;
            return gh_fail(GH_EFORMAT,
                           "ENAS arc: token %d at character %d ('%d'): %s cell node %d's %s "
                           "must be 0..%d",
                           k + 1, starts[k], vals[k], cell ? "reduction" : "normal", node + 2,
                           slot_name[k % 4], bound - 1);
        }
    }
    a->nodes = nodes;
    memcpy(a->normal, vals, sizeof(int) * 4 * (size_t)nodes);
    memcpy(a->reduce, vals + 4 * nodes, sizeof(int) * 4 * (size_t)nodes);
    return GH_OK;
}

int enas_arc_print(const enas_arc *a, char *out, size_t len) {
    size_t n = 0;
    int nodes = a->nodes >= 0 && a->nodes <= ENAS_MAX_NODES ? a->nodes : 0;
    if (len) out[0] = 0;
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 4 * nodes; k++) {
            int v = c ? a->reduce[k] : a->normal[k];
            n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s%d",
                                  c || k ? " " : "", v);
        }
    return (int)n;
}

int enas_arc_validate(const enas_arc *a) {
    if (a->nodes < 1 || a->nodes > ENAS_MAX_NODES)
        return gh_fail(GH_EINVAL, "ENAS arc: %d nodes per cell; expected 1..%d", a->nodes,
                       ENAS_MAX_NODES);
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 4 * a->nodes; k++) {
            int v = c ? a->reduce[k] : a->normal[k], bound = token_bound(a->nodes, k);
            if (v < 0 || v >= bound)
                return gh_fail(GH_EINVAL, "ENAS arc: %s cell node %d's %s is %d; expected 0..%d",
                               c ? "reduction" : "normal", k / 4 + 2, slot_name[k % 4], v,
                               bound - 1);
        }
    return GH_OK;
}

// One cell: edges in node order, x then y; the concat is ENAS's "loose ends" (nodes no later
// node reads, _fixed_combine). ENAS also concatenates an unread cell input (0 or 1): the normal
// cell keeps it (same resolution); the reduction cell drops it, since DARTS's reduction cell
// has no factorized reduction of its inputs at the output (the published arcs read both).
static void cell_to_geno(const int *arc, int nodes, int reduction, geno_cell *gc) {
    int used[2 + ENAS_MAX_NODES] = {0};
    gc->steps = nodes;
    for (int i = 0; i < nodes; i++)
        for (int t = 0; t < 2; t++) {
            int id = arc[4 * i + 2 * t], op = arc[4 * i + 2 * t + 1];
            gc->edge[2 * i + t] = (geno_edge){.op = enas_op_kind[op], .input = id};
            used[id] = 1;
        }
    gc->nconcat = 0;
    for (int j = reduction ? 2 : 0; j < 2 + nodes; j++)
        if (!used[j]) gc->concat[gc->nconcat++] = j;
}

int nas_genotype_resolve(const char *text, genotype *g) {
    const char *named = genotype_named(text);
    if (named) return genotype_parse(g, named);
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (!strncmp(p, "enas:", 5)) {   // character positions count from the arc's first integer
        for (p += 5; isspace((unsigned char)*p);) p++;
        enas_arc a;
        int st = enas_arc_parse(&a, p, 0);
        return st ? st : enas_arc_to_genotype(&a, g);
    }
    return genotype_parse(g, text);
}

int enas_arc_to_genotype(const enas_arc *a, genotype *g) {
    memset(g, 0, sizeof *g);
    int st = enas_arc_validate(a);
    if (st) return st;
    cell_to_geno(a->normal, a->nodes, 0, &g->normal);
    cell_to_geno(a->reduce, a->nodes, 1, &g->reduce);
    return genotype_validate(g);
}
