// Embedding lookup on the host: a gather of table rows by index and, backward, their
// scatter-add. Every index is checked before anything is written. The backward sums each
// table element's contributions in increasing i on every path (the _cpu split is over columns),
// so _ref, _cpu and deterministic _cuda agree bit for bit.
#include <string.h>

#include "cpu.h"

static int emb_check(const char *op, int n, int vocab, int dim, const int *idx) {
    if (n <= 0 || vocab <= 0 || dim <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, vocab %d, dim %d must be positive", op, n, vocab,
                       dim);
    GH_NEED(op, idx);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= vocab)
            return gh_fail(GH_EINVAL, "%s: idx[%d] = %d outside [0, %d) (table [%d, %d])", op, i,
                           idx[i], vocab, vocab, dim);
    return GH_OK;
}

// ---- reference --------------------------------------------------------------------------------

int embedding_fwd_ref(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                      const float *table, float *y) {
    (void)ctx;
    int st = emb_check("embedding_fwd_ref", n, vocab, dim, idx);
    if (st) return st;
    GH_NEED("embedding_fwd_ref", table);
    GH_NEED("embedding_fwd_ref", y);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            y[(size_t)i * dim + d] = table[(size_t)idx[i] * dim + d];
    return GH_OK;
}

int embedding_bwd_ref(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                      const float *dy, float *dtable) {
    (void)ctx;
    int st = emb_check("embedding_bwd_ref", n, vocab, dim, idx);
    if (st || !dtable) return st;
    GH_NEED("embedding_bwd_ref", dy);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            dtable[(size_t)idx[i] * dim + d] += dy[(size_t)i * dim + d];
    return GH_OK;
}

// ---- fast -----------------------------------------------------------------------------------

int embedding_fwd_cpu(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                      const float *table, float *y) {
    (void)ctx;
    int st = emb_check("embedding_fwd_cpu", n, vocab, dim, idx);
    if (st) return st;
    GH_NEED("embedding_fwd_cpu", table);
    GH_NEED("embedding_fwd_cpu", y);
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= GH_CPU_PAR_MIN)
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * dim, table + (size_t)idx[i] * dim, sizeof(float) * (size_t)dim);
    return GH_OK;
}

#define EMB_COLS 64   // columns per OpenMP task of the backward

GH_CPU_CLONES
static void emb_bwd_cols(int n, int dim, int d0, int d1, const int *restrict idx,
                         const float *restrict dy, float *restrict dtable) {
    for (int i = 0; i < n; i++) {
        float *t = dtable + (size_t)idx[i] * dim;
        const float *g = dy + (size_t)i * dim;
#pragma omp simd
        for (int d = d0; d < d1; d++) t[d] += g[d];
    }
}

int embedding_bwd_cpu(const kctx *ctx, int n, int vocab, int dim, const int *idx,
                      const float *dy, float *dtable) {
    (void)ctx;
    int st = emb_check("embedding_bwd_cpu", n, vocab, dim, idx);
    if (st || !dtable) return st;
    GH_NEED("embedding_bwd_cpu", dy);
    int blocks = (dim + EMB_COLS - 1) / EMB_COLS;
    // threads own disjoint columns, each walks i in order: the reference's sums, no races
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= GH_CPU_PAR_MIN && blocks > 1)
    for (int b = 0; b < blocks; b++) {
        int d1 = (b + 1) * EMB_COLS;
        emb_bwd_cols(n, dim, b * EMB_COLS, d1 < dim ? d1 : dim, idx, dy, dtable);
    }
    return GH_OK;
}
