// macro_arc: ENAS's macro architectures as data (Pham et al., ICML 2018, section 2.3;
// melodyguan/enas general_controller.py with search_whole_channels): per layer one op id and
// then one bit per earlier node saying whether it is added as a skip connection; the integers of
// the official `--child_fixed_arc`, parsed with errors that point at the token, and printed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

const char *const enas_macro_op_names[ENAS_MACRO_NUM_OPS] = {
    "conv_3x3", "sep_conv_3x3", "conv_5x5", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3"};

// Layers of an arc of n integers: L ops and L(L-1)/2 skip bits, n = L(L+1)/2; 0 if none fits.
static int layers_of(int n) {
    for (int l = 1; l <= ENAS_MACRO_MAX_LAYERS; l++)
        if (l * (l + 1) / 2 == n) return l;
    return 0;
}

// Token k's layer and slot (-1: the op, else the skip bit's node).
static void token_place(int k, int *layer, int *slot) {
    int l = 0, start = 0;
    while (start + l + 1 <= k) {
        start += l + 1;
        l++;
    }
    *layer = l;
    *slot = k - start - 1;
}

int enas_macro_arc_parse(enas_macro_arc *a, const char *text) {
    memset(a, 0, sizeof *a);
    if (!text) return gh_fail(GH_EFORMAT, "ENAS macro arc: no text");
    enum { MAXT = ENAS_MACRO_MAX_LAYERS * (ENAS_MACRO_MAX_LAYERS + 1) / 2 };
    int vals[MAXT], starts[MAXT], n = 0;
    char limit[48];
    snprintf(limit, sizeof limit, "%d layers at most", ENAS_MACRO_MAX_LAYERS);
    int st = arc_read_ints(text, "ENAS macro arc", MAXT, limit, vals, starts, &n);
    if (st) return st;
    int layers = layers_of(n);
    if (!layers)
        return gh_fail(GH_EFORMAT,
                       "ENAS macro arc: %d integers; expected L(L+1)/2 for L layers (per layer "
                       "its op, then one skip bit per earlier layer: 1, 3, 6, 10, ..., 78 for "
                       "12 layers)",
                       n);
    for (int k = 0; k < n; k++) {
        int layer, slot;
        token_place(k, &layer, &slot);
        int bound = slot < 0 ? ENAS_MACRO_NUM_OPS : 2;
        if (vals[k] >= bound)
            return gh_fail(GH_EFORMAT,
                           "ENAS macro arc: token %d at character %d ('%d'): layer %d's %s must "
                           "be 0..%d",
                           k + 1, starts[k], vals[k], layer, slot < 0 ? "op" : "skip bit",
                           bound - 1);
        if (slot < 0)
            a->op[layer] = vals[k];
        else
            a->skip[layer][slot] = (unsigned char)vals[k];
    }
    a->layers = layers;
    return GH_OK;
}

int enas_macro_arc_print(const enas_macro_arc *a, char *out, size_t len) {
    size_t n = 0;
    int layers = a->layers >= 0 && a->layers <= ENAS_MACRO_MAX_LAYERS ? a->layers : 0;
    if (len) out[0] = 0;
    for (int l = 0; l < layers; l++)
        for (int s = -1; s < l; s++)
            n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s%d",
                                  l || s >= 0 ? " " : "", s < 0 ? a->op[l] : a->skip[l][s]);
    return (int)n;
}

int enas_macro_arc_validate(const enas_macro_arc *a) {
    if (a->layers < 1 || a->layers > ENAS_MACRO_MAX_LAYERS)
        return gh_fail(GH_EINVAL, "ENAS macro arc: %d layers; expected 1..%d", a->layers,
                       ENAS_MACRO_MAX_LAYERS);
    for (int l = 0; l < a->layers; l++) {
        if (a->op[l] < 0 || a->op[l] >= ENAS_MACRO_NUM_OPS)
            return gh_fail(GH_EINVAL, "ENAS macro arc: layer %d's op is %d; expected 0..%d", l,
                           a->op[l], ENAS_MACRO_NUM_OPS - 1);
        for (int s = 0; s < l; s++)
            if (a->skip[l][s] > 1)
                return gh_fail(GH_EINVAL, "ENAS macro arc: layer %d's skip bit %d is %d", l, s,
                               a->skip[l][s]);
        for (int s = l; s < ENAS_MACRO_MAX_LAYERS; s++)
            if (a->skip[l][s])
                return gh_fail(GH_EINVAL, "ENAS macro arc: layer %d has a skip from node %d, "
                               "not an earlier one", l, s);
    }
    return GH_OK;
}

int enas_macro_arc_equal(const enas_macro_arc *a, const enas_macro_arc *b) {
    if (a->layers != b->layers) return 0;
    for (int l = 0; l < a->layers; l++) {
        if (a->op[l] != b->op[l]) return 0;
        for (int s = 0; s < l; s++)
            if (a->skip[l][s] != b->skip[l][s]) return 0;
    }
    return 1;
}
