// The pointwise part of an LSTM cell on the host (torch.nn.LSTMCell's gate order i, f, g, o):
// the gate pre-activations come from the linear op, this op applies the nonlinearities and the
// cell update in one pass and keeps the activated gates and tanh(c) for backward.
#include <math.h>

#include "cpu.h"

static int lstm_check(const char *op, int batch, int hidden) {
    if (batch <= 0 || hidden <= 0)
        return gh_fail(GH_EINVAL, "%s: batch %d, hidden %d must be positive", op, batch, hidden);
    return GH_OK;
}

// ---- reference (double) --------------------------------------------------------------------

static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

int lstm_cell_fwd_ref(const kctx *ctx, int batch, int hidden, const float *gates,
                      const float *c_prev, float *c, float *h, float *cache) {
    (void)ctx;
    int st = lstm_check("lstm_cell_fwd_ref", batch, hidden);
    if (st) return st;
    GH_NEED("lstm_cell_fwd_ref", gates);
    GH_NEED("lstm_cell_fwd_ref", c_prev);
    GH_NEED("lstm_cell_fwd_ref", c);
    GH_NEED("lstm_cell_fwd_ref", h);
    for (int r = 0; r < batch; r++) {
        const float *gr = gates + (size_t)r * 4 * hidden;
        for (int j = 0; j < hidden; j++) {
            double i = sigm(gr[j]), f = sigm(gr[hidden + j]), g = tanh((double)gr[2 * hidden + j]);
            double o = sigm(gr[3 * hidden + j]);
            size_t k = (size_t)r * hidden + j;
            double cv = f * c_prev[k] + i * g, tc = tanh(cv);
            c[k] = (float)cv;
            h[k] = (float)(o * tc);
            if (cache) {
                float *cr = cache + (size_t)r * GH_LSTM_CACHE * hidden + j;
                cr[0] = (float)i;
                cr[hidden] = (float)f;
                cr[2 * hidden] = (float)g;
                cr[3 * hidden] = (float)o;
                cr[4 * hidden] = (float)tc;
            }
        }
    }
    return GH_OK;
}

// dc_total = dc + dh o (1 - tanh(c)^2); then through c = f c_prev + i g and h = o tanh(c),
// with the activation derivatives written from their outputs (sigmoid' = s (1 - s),
// tanh' = 1 - t^2).
int lstm_cell_bwd_ref(const kctx *ctx, int batch, int hidden, const float *c_prev,
                      const float *cache, const float *dc, const float *dh, float *dgates,
                      float *dc_prev) {
    (void)ctx;
    int st = lstm_check("lstm_cell_bwd_ref", batch, hidden);
    if (st) return st;
    if ((!dgates && !dc_prev) || (!dc && !dh)) return GH_OK;
    GH_NEED("lstm_cell_bwd_ref", c_prev);
    GH_NEED("lstm_cell_bwd_ref", cache);
    for (int r = 0; r < batch; r++)
        for (int j = 0; j < hidden; j++) {
            const float *cr = cache + (size_t)r * GH_LSTM_CACHE * hidden + j;
            double i = cr[0], f = cr[hidden], g = cr[2 * hidden], o = cr[3 * hidden];
            double tc = cr[4 * hidden];
            size_t k = (size_t)r * hidden + j;
            double dhv = dh ? dh[k] : 0.0;
            double dcv = (dc ? dc[k] : 0.0) + dhv * o * (1.0 - tc * tc);
            if (dgates) {
                float *dg = dgates + (size_t)r * 4 * hidden + j;
                dg[0] += (float)(dcv * g * i * (1.0 - i));
                dg[hidden] += (float)(dcv * c_prev[k] * f * (1.0 - f));
                dg[2 * hidden] += (float)(dcv * i * (1.0 - g * g));
                dg[3 * hidden] += (float)(dhv * tc * o * (1.0 - o));
            }
            if (dc_prev) dc_prev[k] += (float)(dcv * f);
        }
    return GH_OK;
}

// ---- fast (float; rows over OpenMP, units vectorised) ------------------------------------------

GH_CPU_CLONES
static void lstm_fwd_row(int hidden, const float *restrict gr, const float *restrict cp,
                         float *restrict c, float *restrict h, float *restrict cr) {
#pragma omp simd
    for (int j = 0; j < hidden; j++) {
        float i = 1.0f / (1.0f + expf(-gr[j])), f = 1.0f / (1.0f + expf(-gr[hidden + j]));
        float g = tanhf(gr[2 * hidden + j]), o = 1.0f / (1.0f + expf(-gr[3 * hidden + j]));
        float cv = f * cp[j] + i * g, tc = tanhf(cv);
        c[j] = cv;
        h[j] = o * tc;
        if (cr) {
            cr[j] = i;
            cr[hidden + j] = f;
            cr[2 * hidden + j] = g;
            cr[3 * hidden + j] = o;
            cr[4 * hidden + j] = tc;
        }
    }
}

int lstm_cell_fwd_cpu(const kctx *ctx, int batch, int hidden, const float *gates,
                      const float *c_prev, float *c, float *h, float *cache) {
    (void)ctx;
    int st = lstm_check("lstm_cell_fwd_cpu", batch, hidden);
    if (st) return st;
    GH_NEED("lstm_cell_fwd_cpu", gates);
    GH_NEED("lstm_cell_fwd_cpu", c_prev);
    GH_NEED("lstm_cell_fwd_cpu", c);
    GH_NEED("lstm_cell_fwd_cpu", h);
#pragma omp parallel for schedule(static) if ((size_t)batch * hidden >= GH_CPU_PAR_MIN / 8)
    for (int r = 0; r < batch; r++) {
        size_t o = (size_t)r * hidden;
        lstm_fwd_row(hidden, gates + 4 * o, c_prev + o, c + o, h + o,
                     cache ? cache + GH_LSTM_CACHE * o : NULL);
    }
    return GH_OK;
}

GH_CPU_CLONES
static void lstm_bwd_row(int hidden, const float *restrict cp, const float *restrict cr,
                         const float *restrict dc, const float *restrict dh,
                         float *restrict dg, float *restrict dcp) {
#pragma omp simd
    for (int j = 0; j < hidden; j++) {
        float i = cr[j], f = cr[hidden + j], g = cr[2 * hidden + j], o = cr[3 * hidden + j];
        float tc = cr[4 * hidden + j];
        float dhv = dh ? dh[j] : 0.0f;
        float dcv = (dc ? dc[j] : 0.0f) + dhv * o * (1.0f - tc * tc);
        if (dg) {
            dg[j] += dcv * g * i * (1.0f - i);
            dg[hidden + j] += dcv * cp[j] * f * (1.0f - f);
            dg[2 * hidden + j] += dcv * i * (1.0f - g * g);
            dg[3 * hidden + j] += dhv * tc * o * (1.0f - o);
        }
        if (dcp) dcp[j] += dcv * f;
    }
}

int lstm_cell_bwd_cpu(const kctx *ctx, int batch, int hidden, const float *c_prev,
                      const float *cache, const float *dc, const float *dh, float *dgates,
                      float *dc_prev) {
    (void)ctx;
    int st = lstm_check("lstm_cell_bwd_cpu", batch, hidden);
    if (st) return st;
    if ((!dgates && !dc_prev) || (!dc && !dh)) return GH_OK;
    GH_NEED("lstm_cell_bwd_cpu", c_prev);
    GH_NEED("lstm_cell_bwd_cpu", cache);
#pragma omp parallel for schedule(static) if ((size_t)batch * hidden >= GH_CPU_PAR_MIN / 8)
    for (int r = 0; r < batch; r++) {
        size_t o = (size_t)r * hidden;
        lstm_bwd_row(hidden, c_prev + o, cache + GH_LSTM_CACHE * o, dc ? dc + o : NULL,
                     dh ? dh + o : NULL, dgates ? dgates + 4 * o : NULL,
                     dc_prev ? dc_prev + o : NULL);
    }
    return GH_OK;
}
