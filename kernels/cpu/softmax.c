// Row softmax (architecture weights, controllers) and softmax cross-entropy with label
// smoothing (Szegedy et al. 2016, sec. 7; the target of torch.nn.CrossEntropyLoss) on the
// host. Both subtract the row maximum before exp so that large logits do not overflow.
#include <math.h>

#include "cpu.h"

static int rows_check(const char *op, int rows, int cols) {
    if (rows <= 0 || cols <= 0)
        return gh_fail(GH_EINVAL, "%s: rows %d, cols %d must be positive", op, rows, cols);
    return GH_OK;
}

static int xent_check(const char *op, int n, int k, const int *labels, float smoothing) {
    if (n <= 0 || k <= 0)
        return gh_fail(GH_EINVAL, "%s: n %d, classes %d must be positive", op, n, k);
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return gh_fail(GH_EINVAL, "%s: label smoothing %g must be in [0, 1]", op, smoothing);
    GH_NEED(op, labels);
    for (int i = 0; i < n; i++)   // all checked before anything is written
        if (labels[i] < 0 || labels[i] >= k)
            return gh_fail(GH_EINVAL, "%s: labels[%d] = %d outside [0, %d)", op, i, labels[i], k);
    return GH_OK;
}

// ---- reference (double) --------------------------------------------------------------------

int softmax_fwd_ref(const kctx *ctx, int rows, int cols, const float *x, float *y) {
    (void)ctx;
    int st = rows_check("softmax_fwd_ref", rows, cols);
    if (st) return st;
    GH_NEED("softmax_fwd_ref", x);
    GH_NEED("softmax_fwd_ref", y);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        double mx = xr[0], sum = 0.0;
        for (int j = 1; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
        for (int j = 0; j < cols; j++) sum += exp(xr[j] - mx);
        for (int j = 0; j < cols; j++) y[(size_t)r * cols + j] = (float)(exp(xr[j] - mx) / sum);
    }
    return GH_OK;
}

// dx += y (dy - <dy, y>) per row: the Jacobian diag(y) - y y^T applied to dy
int softmax_bwd_ref(const kctx *ctx, int rows, int cols, const float *y, const float *dy,
                    float *dx) {
    (void)ctx;
    int st = rows_check("softmax_bwd_ref", rows, cols);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("softmax_bwd_ref", y);
    GH_NEED("softmax_bwd_ref", dy);
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        double dot = 0.0;
        for (int j = 0; j < cols; j++) dot += (double)dy[o + j] * y[o + j];
        for (int j = 0; j < cols; j++) dx[o + j] += (float)(y[o + j] * (dy[o + j] - dot));
    }
    return GH_OK;
}

int xent_fwd_ref(const kctx *ctx, int n, int k, const float *logits, const int *labels,
                 float smoothing, float *probs, float *losses) {
    (void)ctx;
    int st = xent_check("xent_fwd_ref", n, k, labels, smoothing);
    if (st) return st;
    GH_NEED("xent_fwd_ref", logits);
    GH_NEED("xent_fwd_ref", probs);
    GH_NEED("xent_fwd_ref", losses);
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * k;
        double mx = l[0], sum = 0.0, sumlogp = 0.0;
        for (int j = 1; j < k; j++) mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < k; j++) sum += exp(l[j] - mx);
        double lse = mx + log(sum);
        for (int j = 0; j < k; j++) {
            double logp = l[j] - lse;
            probs[(size_t)i * k + j] = (float)exp(logp);
            sumlogp += logp;
        }
        // -sum_j t_j log p_j with t = (1-s) onehot + s/k
        losses[i] = (float)(-(1.0 - smoothing) * (l[labels[i]] - lse) - smoothing / k * sumlogp);
    }
    return GH_OK;
}

int xent_bwd_ref(const kctx *ctx, int n, int k, const float *probs, const int *labels,
                 float smoothing, const float *dloss, float *dlogits) {
    (void)ctx;
    int st = xent_check("xent_bwd_ref", n, k, labels, smoothing);
    if (st) return st;
    if (!dlogits) return GH_OK;
    GH_NEED("xent_bwd_ref", probs);
    GH_NEED("xent_bwd_ref", dloss);
    const float scale = dloss[0] / (float)n;  // d(mean)/d(loss_i) = 1/n
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double t = (j == labels[i] ? 1.0 - smoothing : 0.0) + (double)smoothing / k;
            dlogits[(size_t)i * k + j] += (float)(scale * (probs[(size_t)i * k + j] - t));
        }
    return GH_OK;
}

// ---- fast (float, rows over OpenMP) -----------------------------------------------------------

GH_CPU_CLONES
static void softmax_row(int cols, const float *restrict x, float *restrict y) {
    float mx = x[0];
    for (int j = 1; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        y[j] = expf(x[j] - mx);
        sum += y[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < cols; j++) y[j] *= inv;
}

int softmax_fwd_cpu(const kctx *ctx, int rows, int cols, const float *x, float *y) {
    (void)ctx;
    int st = rows_check("softmax_fwd_cpu", rows, cols);
    if (st) return st;
    GH_NEED("softmax_fwd_cpu", x);
    GH_NEED("softmax_fwd_cpu", y);
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= GH_CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) softmax_row(cols, x + (size_t)r * cols, y + (size_t)r * cols);
    return GH_OK;
}

int softmax_bwd_cpu(const kctx *ctx, int rows, int cols, const float *y, const float *dy,
                    float *dx) {
    (void)ctx;
    int st = rows_check("softmax_bwd_cpu", rows, cols);
    if (st) return st;
    if (!dx) return GH_OK;
    GH_NEED("softmax_bwd_cpu", y);
    GH_NEED("softmax_bwd_cpu", dy);
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= GH_CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        float dot = 0.0f;
        for (int j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
        for (int j = 0; j < cols; j++) dx[o + j] += y[o + j] * (dy[o + j] - dot);
    }
    return GH_OK;
}

int xent_fwd_cpu(const kctx *ctx, int n, int k, const float *logits, const int *labels,
                 float smoothing, float *probs, float *losses) {
    (void)ctx;
    int st = xent_check("xent_fwd_cpu", n, k, labels, smoothing);
    if (st) return st;
    GH_NEED("xent_fwd_cpu", logits);
    GH_NEED("xent_fwd_cpu", probs);
    GH_NEED("xent_fwd_cpu", losses);
#pragma omp parallel for schedule(static) if ((size_t)n * k >= GH_CPU_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * k;
        float *pr = probs + (size_t)i * k;
        float mx = l[0];
        for (int j = 1; j < k; j++) mx = l[j] > mx ? l[j] : mx;
        float sum = 0.0f, sumz = 0.0f;
        for (int j = 0; j < k; j++) {
            pr[j] = expf(l[j] - mx);
            sum += pr[j];
            sumz += l[j] - mx;
        }
        float inv = 1.0f / sum, lsum = logf(sum);
        for (int j = 0; j < k; j++) pr[j] *= inv;
        // log p_j = (l_j - mx) - log sum; sum_j log p_j = sumz - k log sum
        float logp_label = (l[labels[i]] - mx) - lsum;
        float sumlogp = sumz - (float)k * lsum;
        losses[i] = -(1.0f - smoothing) * logp_label - smoothing / (float)k * sumlogp;
    }
    return GH_OK;
}

int xent_bwd_cpu(const kctx *ctx, int n, int k, const float *probs, const int *labels,
                 float smoothing, const float *dloss, float *dlogits) {
    (void)ctx;
    int st = xent_check("xent_bwd_cpu", n, k, labels, smoothing);
    if (st) return st;
    if (!dlogits) return GH_OK;
    GH_NEED("xent_bwd_cpu", probs);
    GH_NEED("xent_bwd_cpu", dloss);
    const float scale = dloss[0] / (float)n;
    float off = smoothing / (float)k, on = 1.0f - smoothing + off;
#pragma omp parallel for schedule(static) if ((size_t)n * k >= GH_CPU_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *pr = probs + (size_t)i * k;
        float *d = dlogits + (size_t)i * k;
        for (int j = 0; j < k; j++) d[j] += scale * (pr[j] - (j == labels[i] ? on : off));
    }
    return GH_OK;
}
