// The controller's categorical distribution over a row of logits on the host: sampling with
// ENAS's temperature and tanh constant (Pham et al. 2018, sec. 3: logits = C tanh(z / T)), and
// the log-probability of a chosen index and the entropy, with their gradients (REINFORCE,
// Williams 1992, with an entropy bonus). Sampling is done in double on every backend from the
// counter-based uniform gh_uniform(seed, row), so the CUDA twin draws the same index.
#include <math.h>

#include "cpu.h"

static int cat_check(const char *op, int rows, int cols) {
    if (rows <= 0 || cols <= 0)
        return gh_fail(GH_EINVAL, "%s: rows %d, cols %d must be positive", op, rows, cols);
    return GH_OK;
}

static int idx_check(const char *op, int rows, int cols, const int *idx) {
    GH_NEED(op, idx);
    for (int r = 0; r < rows; r++)
        if (idx[r] < 0 || idx[r] >= cols)
            return gh_fail(GH_EINVAL, "%s: idx[%d] = %d outside [0, %d)", op, r, idx[r], cols);
    return GH_OK;
}

// ---- sampling (one computation for _ref and _cpu: the CUDA kernel repeats it line by line) ------

// noinline: the caller subtracts the row maximum, and a host build with FMA could otherwise fuse
// that with the multiply by tanh_c (the CUDA kernel rounds both separately)
__attribute__((noinline)) static double ctl_logit(float x, float temperature, float tanh_c) {
    double v = (double)x / (double)temperature;
    return tanh_c > 0.0f ? (double)tanh_c * tanh(v) : v;
}

static void sample_row(int cols, const float *x, float temperature, float tanh_c, float u,
                       int *idx, float *logp, float *ent) {
    double mx = ctl_logit(x[0], temperature, tanh_c);
    for (int j = 1; j < cols; j++) {
        double z = ctl_logit(x[j], temperature, tanh_c);
        mx = z > mx ? z : mx;
    }
    double total = 0.0, pz = 0.0;   // sum exp(z - mx), sum exp(z - mx) (z - mx)
    for (int j = 0; j < cols; j++) {
        double d = ctl_logit(x[j], temperature, tanh_c) - mx, p = exp(d);
        total += p;
        pz += p * d;
    }
    // the same additions in the same order as total: the last partial sum is total, and
    // target < total, so some j is always picked
    double target = (double)u * total, acc = 0.0;
    int pick = cols - 1;
    for (int j = 0; j < cols; j++) {
        acc += exp(ctl_logit(x[j], temperature, tanh_c) - mx);
        if (target < acc) {
            pick = j;
            break;
        }
    }
    double lse = log(total);
    *idx = pick;
    if (logp) *logp = (float)(ctl_logit(x[pick], temperature, tanh_c) - mx - lse);
    if (ent) *ent = (float)(lse - pz / total);   // H = -sum p (z - mx - lse)
}

static int sample_check(const char *op, int rows, int cols, const float *logits,
                        float temperature, float tanh_c, const int *idx) {
    int st = cat_check(op, rows, cols);
    if (st) return st;
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return gh_fail(GH_EINVAL, "%s: temperature %g must be positive and finite", op,
                       (double)temperature);
    if (!(tanh_c >= 0.0f) || !isfinite(tanh_c))
        return gh_fail(GH_EINVAL, "%s: tanh constant %g must be >= 0 (0: none) and finite", op,
                       (double)tanh_c);
    GH_NEED(op, logits);
    GH_NEED(op, idx);
    return GH_OK;
}

int categorical_sample_ref(const kctx *ctx, int rows, int cols, const float *logits,
                           float temperature, float tanh_c, uint64_t seed, int *idx, float *logp,
                           float *ent) {
    (void)ctx;
    int st = sample_check("categorical_sample_ref", rows, cols, logits, temperature, tanh_c, idx);
    if (st) return st;
    for (int r = 0; r < rows; r++)
        sample_row(cols, logits + (size_t)r * cols, temperature, tanh_c,
                   gh_uniform(seed, (uint64_t)r), idx + r, logp ? logp + r : NULL,
                   ent ? ent + r : NULL);
    return GH_OK;
}

int categorical_sample_cpu(const kctx *ctx, int rows, int cols, const float *logits,
                           float temperature, float tanh_c, uint64_t seed, int *idx, float *logp,
                           float *ent) {
    (void)ctx;
    int st = sample_check("categorical_sample_cpu", rows, cols, logits, temperature, tanh_c, idx);
    if (st) return st;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= GH_CPU_PAR_MIN / 4)
    for (int r = 0; r < rows; r++)
        sample_row(cols, logits + (size_t)r * cols, temperature, tanh_c,
                   gh_uniform(seed, (uint64_t)r), idx + r, logp ? logp + r : NULL,
                   ent ? ent + r : NULL);
    return GH_OK;
}

// ---- log-probability and entropy: reference (double) ------------------------------------------

// mx and lse = mx + log sum exp(x - mx) of one row
static void row_lse(int cols, const float *x, double *mx, double *lse) {
    double m = x[0], s = 0.0;
    for (int j = 1; j < cols; j++) m = x[j] > m ? x[j] : m;
    for (int j = 0; j < cols; j++) s += exp(x[j] - m);
    *mx = m;
    *lse = m + log(s);
}

int logprob_entropy_fwd_ref(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                            float *logp, float *ent) {
    (void)ctx;
    int st = cat_check("logprob_entropy_fwd_ref", rows, cols);
    if (!st && logp) st = idx_check("logprob_entropy_fwd_ref", rows, cols, idx);
    if (st) return st;
    GH_NEED("logprob_entropy_fwd_ref", x);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        double mx, lse, h = 0.0;
        row_lse(cols, xr, &mx, &lse);
        for (int j = 0; j < cols; j++) h -= exp(xr[j] - lse) * (xr[j] - lse);
        if (logp) logp[r] = (float)(xr[idx[r]] - lse);
        if (ent) ent[r] = (float)h;
    }
    return GH_OK;
}

// d logp / dx_j = onehot_j - p_j; d H / dx_j = -p_j (log p_j + H)
int logprob_entropy_bwd_ref(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                            const float *dlogp, const float *dent, float *dx) {
    (void)ctx;
    int st = cat_check("logprob_entropy_bwd_ref", rows, cols);
    if (!st && dlogp && dx) st = idx_check("logprob_entropy_bwd_ref", rows, cols, idx);
    if (st || !dx || (!dlogp && !dent)) return st;
    GH_NEED("logprob_entropy_bwd_ref", x);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        double mx, lse, h = 0.0;
        row_lse(cols, xr, &mx, &lse);
        for (int j = 0; j < cols; j++) h -= exp(xr[j] - lse) * (xr[j] - lse);
        double gl = dlogp ? dlogp[r] : 0.0, ge = dent ? dent[r] : 0.0;
        for (int j = 0; j < cols; j++) {
            double lp = xr[j] - lse, p = exp(lp);
            double g = gl * ((dlogp && j == idx[r] ? 1.0 : 0.0) - p) - ge * p * (lp + h);
            dx[(size_t)r * cols + j] += (float)g;
        }
    }
    return GH_OK;
}

// ---- fast (float, rows over OpenMP) --------------------------------------------------------------

// lse and entropy of one row in float
static void row_stats_f(int cols, const float *x, float *lse, float *h) {
    float mx = x[0];
    for (int j = 1; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
    float s = 0.0f, sd = 0.0f;   // sum e^d, sum e^d d, d = x - mx
    for (int j = 0; j < cols; j++) {
        float d = x[j] - mx, p = expf(d);
        s += p;
        sd += p * d;
    }
    float ls = logf(s);
    *lse = mx + ls;
    *h = ls - sd / s;   // -sum p (d - log s)
}

int logprob_entropy_fwd_cpu(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                            float *logp, float *ent) {
    (void)ctx;
    int st = cat_check("logprob_entropy_fwd_cpu", rows, cols);
    if (!st && logp) st = idx_check("logprob_entropy_fwd_cpu", rows, cols, idx);
    if (st) return st;
    GH_NEED("logprob_entropy_fwd_cpu", x);
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= GH_CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float lse, h;
        row_stats_f(cols, xr, &lse, &h);
        if (logp) logp[r] = xr[idx[r]] - lse;
        if (ent) ent[r] = h;
    }
    return GH_OK;
}

int logprob_entropy_bwd_cpu(const kctx *ctx, int rows, int cols, const float *x, const int *idx,
                            const float *dlogp, const float *dent, float *dx) {
    (void)ctx;
    int st = cat_check("logprob_entropy_bwd_cpu", rows, cols);
    if (!st && dlogp && dx) st = idx_check("logprob_entropy_bwd_cpu", rows, cols, idx);
    if (st || !dx || (!dlogp && !dent)) return st;
    GH_NEED("logprob_entropy_bwd_cpu", x);
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= GH_CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float *d = dx + (size_t)r * cols;
        float lse, h;
        row_stats_f(cols, xr, &lse, &h);
        float gl = dlogp ? dlogp[r] : 0.0f, ge = dent ? dent[r] : 0.0f;
        for (int j = 0; j < cols; j++) {
            float lp = xr[j] - lse, p = expf(lp);
            d[j] += -(gl + ge * (lp + h)) * p;
        }
        if (dlogp) d[idx[r]] += gl;
    }
    return GH_OK;
}
