// kernels: every neural-network op of the search spaces, forward and backward, in three
// backends with one signature each: _ref (plain C, obviously correct), _cpu (OpenBLAS +
// OpenMP, fast) and _cuda (hand-written CUDA, device pointers). _cudnn/_cublas versions of
// conv, batch norm, pooling and linear exist only as a benchmark baseline and second check.
//
// Conventions, for every op:
// - fp32, NCHW, contiguous, no aliasing between inputs and outputs unless stated.
// - *_fwd writes (=) its outputs.
// - *_bwd ADDS (+=) into every gradient buffer it is given (a tensor read by two ops gets
//   both contributions); a NULL gradient pointer means "not needed" and is skipped.
// - Functions return a gh_status (0 = ok) and set gh_error_get() on failure, naming the op
//   and the shapes. The _cuda functions check cudaGetLastError() after every launch.
// - For _cuda, every float/int pointer is device memory unless the comment says "host".
//   Arrays of pointers (xs, dxs) are host arrays holding device pointers.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// Errors an op finds in backend data without reading it to the host (a label out of range on
// the GPU, a non-finite loss or norm): ops given ctx->flags record them here, in backend memory
// (device memory for _cuda), and the owner reads the record when it next reads anything.
// All-zero is "nothing recorded" (a memset clears it). The keys are stored complemented so that
// an atomic maximum keeps the first event: label_key = (~row << 32) | (uint32_t)label for the
// smallest bad row, step_key = ~step of the earliest event (kflags_* below decode them).
typedef struct kflags {
    uint64_t label_key;
    uint64_t step_key;
    uint32_t nonfinite;   // OR of the GH_KFLAG_* bits seen
    int32_t label_k;      // the class count of the op that recorded label_key
} kflags;
enum {
    GH_KFLAG_LOSS = 1,     // a loss was NaN or infinite (check_finite)
    GH_KFLAG_NORM = 2,     // a gradient norm was NaN or infinite (clip_by_norm)
    GH_KFLAG_SCALAR = 4,   // a device-scalar coefficient was NaN or infinite (*_dev ops)
};
static inline uint32_t kflags_label_row(const kflags *f) { return ~(uint32_t)(f->label_key >> 32); }
static inline int kflags_label_value(const kflags *f) { return (int)(uint32_t)f->label_key; }
static inline uint64_t kflags_step(const kflags *f) { return ~f->step_key; }

// Per-call context. ws/ws_floats: scratch the caller owns (host memory for _cpu, device
// memory for _cuda), at least the op's *_ws_floats() or *_ws query; stream: a cudaStream_t
// (NULL: default stream); deterministic: _cuda reductions use a fixed order and no float
// atomics. flags: where ops record errors found on the backend (NULL: they report them as
// their status, which for _cuda means a read to the host); step: the caller's step index,
// recorded with them. allocs: a host counter that _cuda ops add 1 to for each allocation
// they make when ws is too small for their scratch (NULL: not counted).
typedef struct kctx {
    float *ws;
    size_t ws_floats;
    void *stream;
    int deterministic;
    kflags *flags;
    uint64_t step;
    int64_t *allocs;
} kctx;

// Declares the _ref, _cpu and _cuda variants of one op signature.
#define GH_KERNEL3(name, ...)                     \
    int name##_ref(const kctx *ctx, __VA_ARGS__); \
    int name##_cpu(const kctx *ctx, __VA_ARGS__); \
    int name##_cuda(const kctx *ctx, __VA_ARGS__)

// ---- conv2d: kernel size, stride, padding, dilation, groups ----------------------------
// x [n, c, h, w], w [k, c/groups, r, s], b [k] or NULL, y [n, k, p, q].
typedef struct {
    int n, c, h, w;               // input
    int k, r, s;                  // output channels, filter height, filter width
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w;
    int groups;
    int p, q;                     // output height and width: set by conv2d_shape_init
} conv2d_shape;

// Validates the fields (all positive, c and k divisible by groups, non-empty output) and
// sets p, q. Zero strides/dilations are taken as 1 so that designated initialisers may omit
// them. (kernels/geometry.c: shared by every backend.)
int conv2d_shape_init(conv2d_shape *sh);
// What every conv kernel does first: copies *in to *out, normalises it (conv2d_shape_init) and
// checks that the caller's p, q are the geometry's; GH_EINVAL naming op and the shape otherwise.
int conv2d_shape_check(const char *op, const conv2d_shape *in, conv2d_shape *out);
size_t conv2d_ws_floats(const conv2d_shape *sh);       // for _cpu (im2col buffers)
size_t conv2d_ws_floats_cuda(const conv2d_shape *sh);  // for _cuda
// The same per backend (0 for _ref), for callers that dispatch: *floats of ctx->ws.
GH_KERNEL3(conv2d_ws, const conv2d_shape *sh, size_t *floats);
GH_KERNEL3(conv2d_fwd, const conv2d_shape *sh, const float *x, const float *w, const float *b,
           float *y);
GH_KERNEL3(conv2d_bwd, const conv2d_shape *sh, const float *x, const float *w, const float *dy,
           float *dx, float *dw, float *db);
// CUDA only (issue 15): the conv at a chosen precision. FP32 is conv2d_fwd_cuda /
// conv2d_bwd_cuda (the default and the reference); TF32 and BF16 run the implicit GEMMs on
// tensor cores (the two operands rounded to TF32's 10-bit or BF16's 7-bit mantissa, FP32
// accumulation; sm_80 or newer), depthwise shapes staying FP32. Tensors stay FP32 in memory.
typedef enum { GH_PREC_FP32 = 0, GH_PREC_TF32 = 1, GH_PREC_BF16 = 2 } gh_precision;
#define GH_PREC_COUNT 3
// "fp32", "tf32", "bf16" (kernels/precision.c); NULL for a value outside the enum.
const char *gh_precision_name(gh_precision p);
// The name back; GH_EINVAL naming the text and the known names otherwise.
int gh_precision_parse(const char *text, gh_precision *p);
int conv2d_fwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *b, float *y);
// dx += , dw += , db += as conv2d_bwd_cuda (any of them NULL: not computed); the weight
// gradient uses at most the workspace conv2d_ws_floats_cuda asks for.
int conv2d_bwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *db);

// ---- conv2d of relu(x): DARTS's ReLU-conv pairs fused (issue 15) ---------------------------
// y = conv2d(relu(x)) without relu(x) in memory: ReLU is applied where the conv reads x (the
// reference's loads, the depthwise paths' padded plane copies, the CUDA tile's staging), as
// relu_fwd of the same backend computes it. Backward: dx += (x > 0) ? conv2d_bwd_data(dy) : 0
// (relu_bwd's mask: false at -0 and NaN), dw += the filter gradient of relu(x), db as conv2d_bwd;
// dx is then bit-identical to conv2d_bwd into a zeroed buffer followed by relu_bwd from x (unless
// dx holds -0, which a gradient buffer zeroed and summed into never does), y and dw to relu_fwd
// then conv2d_fwd/_bwd. The workspace is conv2d_ws's. *fused (conv2d_relu_ok): 1 for the shapes
// the backend fuses: every shape on _ref, depthwise ones on _cpu, the depthwise fast path
// (3x3/5x5, strides and dilations 1 or 2) on _cuda; conv2d_relu_fwd/_bwd refuse the others
// (GH_EUNSUP), which the caller runs as relu_fwd into scratch and the plain conv (the engine's
// gh_conv2d_relu does; on CUDA that also serves the tensor-core precisions).
GH_KERNEL3(conv2d_relu_ok, const conv2d_shape *sh, int *fused);
GH_KERNEL3(conv2d_relu_fwd, const conv2d_shape *sh, const float *x, const float *w,
           const float *b, float *y);
GH_KERNEL3(conv2d_relu_bwd, const conv2d_shape *sh, const float *x, const float *w,
           const float *dy, float *dx, float *dw, float *db);

// ---- batch norm over (n, hw) per channel ----------------------------------------------
// Training: batch mean and biased variance normalise; save_mean/save_invstd [c] keep them for
// backward; running stats (if non-NULL) become (1-momentum)*run + momentum*batch, with the
// unbiased variance, as PyTorch does. gamma/beta NULL: no affine (DARTS search).
typedef struct {
    int n, c, hw;
    float eps;        // 1e-5
    float momentum;   // 0.1
} bn_shape;
GH_KERNEL3(bn_fwd_train, const bn_shape *sh, const float *x, const float *gamma, const float *beta,
           float *y, float *save_mean, float *save_invstd, float *run_mean, float *run_var);
GH_KERNEL3(bn_fwd_eval, const bn_shape *sh, const float *x, const float *gamma, const float *beta,
           const float *run_mean, const float *run_var, float *y);
GH_KERNEL3(bn_bwd, const bn_shape *sh, const float *x, const float *gamma,
           const float *save_mean, const float *save_invstd, const float *dy, float *dx,
           float *dgamma, float *dbeta);
// Scratch floats of ctx->ws that bn_fwd_train and bn_bwd use (0 on the host; _cuda: the
// per-split partial sums), so that a caller can size its workspace once.
GH_KERNEL3(bn_ws, const bn_shape *sh, size_t *floats);

// ---- ReLU ------------------------------------------------------------------------------
GH_KERNEL3(relu_fwd, size_t n, const float *x, float *y);
GH_KERNEL3(relu_bwd, size_t n, const float *x, const float *dy, float *dx);  // dx += dy*(x>0)

// ---- max and average pooling -------------------------------------------------------------
// Window kh x kw, one stride and one padding for both axes. Max: padding never wins; backward
// recomputes the argmax (first maximum in row-major window order) so no index buffer is kept.
// Average: divides by the number of in-bounds elements (count_include_pad=False).
typedef struct {
    int n, c, h, w;
    int kh, kw, stride, pad;
    int p, q;   // set by pool_shape_init
} pool_shape;
// Validates (sizes positive, pad at most half the window, window within the padded input) and
// sets p, q (floor). pool_shape_check: as conv2d_shape_check, for every pooling kernel.
int pool_shape_init(pool_shape *sh);
int pool_shape_check(const char *op, const pool_shape *in, pool_shape *out);
GH_KERNEL3(maxpool_fwd, const pool_shape *sh, const float *x, float *y);
GH_KERNEL3(maxpool_bwd, const pool_shape *sh, const float *x, const float *dy, float *dx);
// The forward that also stores each window's argmax, idx [n, c, p, q] (in-plane index
// ih*w + iw; the first in-bounds element when all are -inf; _cuda: -1 for a window without
// in-bounds elements, which pool_shape_init's pad <= window/2 rules out), and the backward that
// scatters dy through it instead of recomputing windows (what the engine's maxpool uses when a
// gradient is wanted); results bit-identical to maxpool_fwd/_bwd's, dx added in output order.
GH_KERNEL3(maxpool_fwd_idx, const pool_shape *sh, const float *x, float *y, int *idx);
GH_KERNEL3(maxpool_bwd_idx, const pool_shape *sh, const int *idx, const float *dy, float *dx);
GH_KERNEL3(avgpool_fwd, const pool_shape *sh, const float *x, float *y);
GH_KERNEL3(avgpool_bwd, const pool_shape *sh, const float *dy, float *dx);

// Global average pool: x [n, c, hw] -> y [n, c].
GH_KERNEL3(gap_fwd, int n, int c, int hw, const float *x, float *y);
GH_KERNEL3(gap_bwd, int n, int c, int hw, const float *dy, float *dx);

// ---- linear: y[n, out] = x[n, in] w[out, in]^T + b[out] (b may be NULL) -------------------
GH_KERNEL3(linear_fwd, int n, int in, int out, const float *x, const float *w, const float *b,
           float *y);
GH_KERNEL3(linear_bwd, int n, int in, int out, const float *x, const float *w, const float *dy,
           float *dx, float *dw, float *db);

// ---- elementwise -----------------------------------------------------------------------
GH_KERNEL3(add_fwd, size_t n, const float *a, const float *b, float *y);     // y = a + b
GH_KERNEL3(add_bwd, size_t n, const float *dy, float *da, float *db);        // da += dy, db += dy
GH_KERNEL3(axpy, size_t n, float alpha, const float *x, float *y);           // y += alpha*x
GH_KERNEL3(scale, size_t n, float alpha, float *x);                          // x *= alpha
GH_KERNEL3(fill, size_t n, float value, float *x);                           // x = value
// out[0] (host double) = sum of x^2, accumulated in double; fixed order on every backend.
// _cuda reads the result back (a synchronisation): norm2 below keeps it on the device.
GH_KERNEL3(sumsq, size_t n, const float *x, double *out);

// ---- device scalars: doubles in backend memory that kernels read, the host never ---------------
// out[0] = sqrt(sum of x^2), in sumsq's order (on the host bit-identical to sqrt of sumsq).
GH_KERNEL3(norm2, size_t n, const float *x, double *out);
GH_KERNEL3(norm2_ws, size_t n, size_t *floats);   // scratch floats of ctx->ws (0 on the host)
// Gradient clipping (torch.nn.utils.clip_grad_norm_): coef = max_norm / (norm[0] + 1e-6) in
// double; g *= (float)coef when coef < 1. A non-finite norm leaves g as it is and records
// GH_KFLAG_NORM in ctx->flags (without flags: _ref/_cpu return GH_ENAN, _cuda records nothing).
GH_KERNEL3(clip_by_norm, size_t n, const double *norm, float max_norm, float *g);
// With c = alpha * s[0] (power 1) or alpha / s[0] (power -1), computed in double:
// scalar_pow: out[0] = c; axpy_dev: y += (float)c * x; scale_dev: x *= (float)c (on the host
// bit-identical to axpy/scale with alpha = (float)c). A non-finite c changes nothing and
// records GH_KFLAG_SCALAR in ctx->flags (without flags: _ref/_cpu return GH_ENAN).
GH_KERNEL3(scalar_pow, double alpha, const double *s, int power, double *out);
GH_KERNEL3(axpy_dev, size_t n, double alpha, const double *s, int power, const float *x,
           float *y);
GH_KERNEL3(scale_dev, size_t n, double alpha, const double *s, int power, float *x);

// ---- metrics and checks into backend memory (no read to the host) -----------------------------
// y[0] = (float)(sum of x / n), summed in double: in index order on the host, in a fixed tree
// on CUDA (the mean loss over a batch).
GH_KERNEL3(mean, size_t n, const float *x, float *y);
// acc[0] += scale * (double)x[0]; acc is one double.
GH_KERNEL3(acc_add, const float *x, double scale, double *acc);
// acc[0] += the number of rows i of scores [n, k] whose first maximum (torch.argmax) is at
// labels[i]; a label outside [0, k) is a miss.
GH_KERNEL3(acc_hits, int n, int k, const float *scores, const int *labels, double *acc);
// Records `bit` (GH_KFLAG_*) and ctx->step in ctx->flags when any of x[0..n) is NaN or
// infinite. Without ctx->flags: _ref/_cpu return GH_ENAN, _cuda GH_EINVAL (it cannot tell).
GH_KERNEL3(check_finite, size_t n, const float *x, unsigned bit);

// ---- weighted sum of k tensors (the DARTS mixed op) ----------------------------------------
// y = sum_i wts[i] * xs[i]; backward: dxs[i] += wts[i]*dy, dwts[i] += <dy, xs[i]>.
// wts/dwts live on the backend's memory (device for _cuda); xs/dxs are host arrays of k
// pointers, k <= GH_WSUM_MAX; xs[i] or dxs[i] may be NULL (an op that is "none": skipped).
#define GH_WSUM_MAX 16
GH_KERNEL3(wsum_fwd, int k, size_t n, const float *const *xs, const float *wts, float *y);
GH_KERNEL3(wsum_bwd, int k, size_t n, const float *const *xs, const float *wts, const float *dy,
           float *const *dxs, float *dwts);
// Scratch floats of ctx->ws that wsum_bwd uses (0 on the host; _cuda: per-block partials of dwts).
GH_KERNEL3(wsum_bwd_ws, int k, size_t n, size_t *floats);

// ---- channel concat and slice (NCHW, along C) -------------------------------------------------
// concat: xs[i] is [n, cs[i], hw]; y is [n, sum cs, hw]. cs is a host array of k ints.
GH_KERNEL3(concat_fwd, int n, int hw, int k, const int *cs, const float *const *xs, float *y);
GH_KERNEL3(concat_bwd, int n, int hw, int k, const int *cs, const float *dy, float *const *dxs);
// slice: y [n, cn, hw] = x[:, c0:c0+cn]; backward adds dy into that slice of dx.
GH_KERNEL3(slice_fwd, int n, int c, int hw, int c0, int cn, const float *x, float *y);
GH_KERNEL3(slice_bwd, int n, int c, int hw, int c0, int cn, const float *dy, float *dx);

// ---- spatial shift / crop (FactorizedReduce's x[:, :, 1:, 1:]) ---------------------------------
// y[n, c, i, j] = x[n, c, i+dh, j+dw] where in range, else 0. y is [n, c, ho, wo].
GH_KERNEL3(shift_fwd, int n, int c, int h, int w, int dh, int dw, int ho, int wo, const float *x,
           float *y);
GH_KERNEL3(shift_bwd, int n, int c, int h, int w, int dh, int dw, int ho, int wo, const float *dy,
           float *dx);

// ---- dropout and drop-path (masks from gh_uniform(mask seed, index): no stored mask) -----------
// The mask seed is gh_hash64(*seed, op) (base.h), computed where the kernel runs: `seed` points
// at the step's seed in backend memory (device memory on CUDA), `op` is the op's index within
// the step. Both are the same from step to step, so a captured CUDA graph replays the launch
// and draws the new step's masks from the seed the engine uploaded at step begin.
// dropout: element i kept iff gh_uniform(mask seed, i) >= p, kept values scaled by 1/(1-p).
GH_KERNEL3(dropout_fwd, size_t n, float p, const uint64_t *seed, uint64_t op, const float *x,
           float *y);
GH_KERNEL3(dropout_bwd, size_t n, float p, const uint64_t *seed, uint64_t op, const float *dy,
           float *dx);
// drop-path: sample i (of `per` floats each) kept iff gh_uniform(mask seed, i) >= p, scaled
// 1/(1-p).
GH_KERNEL3(droppath_fwd, int n, size_t per, float p, const uint64_t *seed, uint64_t op,
           const float *x, float *y);
GH_KERNEL3(droppath_bwd, int n, size_t per, float p, const uint64_t *seed, uint64_t op,
           const float *dy, float *dx);

// ---- softmax over rows (architecture weights, controllers) --------------------------------------
GH_KERNEL3(softmax_fwd, int rows, int cols, const float *x, float *y);
GH_KERNEL3(softmax_bwd, int rows, int cols, const float *y, const float *dy, float *dx);

// ---- controller ops: activations, LSTM cell, embedding, sampling, log-prob and entropy ---------
// (the RNN controllers of ENAS and NASNet-RL: Pham et al. 2018, Zoph et al. 2018)
// sigmoid: y = 1 / (1 + exp(-x)); backward from the output: dx += dy * y * (1 - y).
GH_KERNEL3(sigmoid_fwd, size_t n, const float *x, float *y);
GH_KERNEL3(sigmoid_bwd, size_t n, const float *y, const float *dy, float *dx);
// tanh: y = tanh(x); backward from the output: dx += dy * (1 - y^2).
GH_KERNEL3(tanh_fwd, size_t n, const float *x, float *y);
GH_KERNEL3(tanh_bwd, size_t n, const float *y, const float *dy, float *dx);

// LSTM cell, pointwise part (Hochreiter & Schmidhuber 1997, the torch.nn.LSTMCell form):
// gates [batch, 4*hidden] are the pre-activations x W_x^T + h W_h^T + b in the order i, f, g, o
// (computed by the linear op); c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g),
// h = sigmoid(o) * tanh(c). c_prev, c, h are [batch, hidden]. cache [batch, 5*hidden] receives
// the activated gates and tanh(c) for backward (NULL: not kept, inference).
#define GH_LSTM_CACHE 5   // cache floats per (row, unit)
GH_KERNEL3(lstm_cell_fwd, int batch, int hidden, const float *gates, const float *c_prev,
           float *c, float *h, float *cache);
// dgates += d/dgates and dc_prev += d/dc_prev of <dc, c> + <dh, h>; dc or dh NULL counts as
// zero (the caller's gradient of that output is absent), dgates or dc_prev NULL: not wanted.
GH_KERNEL3(lstm_cell_bwd, int batch, int hidden, const float *c_prev, const float *cache,
           const float *dc, const float *dh, float *dgates, float *dc_prev);

// Embedding lookup: y[i, :] = table[idx[i], :] for i < n; table [vocab, dim], idx int [n]
// (backend memory). Backward: dtable[idx[i], :] += dy[i, :], in increasing i on the host and,
// when ctx->deterministic, on CUDA too (no float atomics: bit-identical to _ref). An index
// outside [0, vocab) is GH_EINVAL on the host before anything is written; _cuda records it in
// ctx->flags as xent does its labels (the row becomes NaN, its gradient is skipped), or without
// flags reads a flag back after the kernel.
GH_KERNEL3(embedding_fwd, int n, int vocab, int dim, const int *idx, const float *table,
           float *y);
GH_KERNEL3(embedding_bwd, int n, int vocab, int dim, const int *idx, const float *dy,
           float *dtable);

// Controller logits: z = tanh_c * tanh(x / temperature) when tanh_c > 0, else x / temperature
// (ENAS's temperature and tanh constant; temperature > 0).
// categorical_sample draws idx[r] from softmax(z[r, :]) with the uniform u = gh_uniform(seed, r)
// (a pure function of seed and row, so every backend draws the same): the first j whose
// cumulative sum of exp(z - max) exceeds u * total, all in double (bit-identical indices across
// _ref, _cpu and _cuda up to a last-ulp difference of exp/tanh right at a boundary). logp[r]
// and ent[r] (each may be NULL) receive log softmax(z)[idx] and the row's entropy; these are
// not differentiable: the tape uses logprob_entropy on the scaled logits instead.
GH_KERNEL3(categorical_sample, int rows, int cols, const float *logits, float temperature,
           float tanh_c, uint64_t seed, int *idx, float *logp, float *ent);
// logp[r] = log softmax(x[r, :])[idx[r]], ent[r] = -sum_j p_j log p_j (either output may be
// NULL; idx may be NULL when logp is). Backward: dx_j += dlogp[r] (onehot_j - p_j)
// - dent[r] p_j (log p_j + ent[r]); dlogp or dent NULL counts as zero. idx as for embedding
// (outside [0, cols): GH_EINVAL on the host; on CUDA flagged, the row's logp NaN).
GH_KERNEL3(logprob_entropy_fwd, int rows, int cols, const float *x, const int *idx, float *logp,
           float *ent);
GH_KERNEL3(logprob_entropy_bwd, int rows, int cols, const float *x, const int *idx,
           const float *dlogp, const float *dent, float *dx);

// ---- softmax cross-entropy with label smoothing ------------------------------------------------
// target = (1-smoothing)*onehot(label) + smoothing/k. losses[i] = -sum_j target_j log p_ij.
// probs [n, k] is kept for backward. labels: int [n] in [0, k) (device memory for _cuda);
// a label out of range is GH_EINVAL. The _cuda version records it in ctx->flags (its loss row
// is NaN), or without flags reads a flag back after the kernel (a synchronisation).
GH_KERNEL3(xent_fwd, int n, int k, const float *logits, const int *labels, float smoothing,
           float *probs, float *losses);
// Backward of the mean loss: dlogits += (dloss[0] / n) * (probs - target), where dloss (one
// float, backend memory) is d(total)/d(mean loss). Bad labels as for xent_fwd.
GH_KERNEL3(xent_bwd, int n, int k, const float *probs, const int *labels, float smoothing,
           const float *dloss, float *dlogits);

// ---- optimizer updates (PyTorch semantics, so that papers' hyperparameters carry over) ---------
// SGD: g' = g + wd*p; mom = momentum*mom + g'; p -= lr*mom (mom may be NULL when momentum=0).
GH_KERNEL3(sgd_step, size_t n, float *p, const float *g, float *mom, float lr, float momentum,
           float wd);
// Adam with L2 weight decay added to the gradient (torch.optim.Adam), step t >= 1.
GH_KERNEL3(adam_step, size_t n, float *p, const float *g, float *m, float *v, float lr, float beta1,
           float beta2, float eps, float wd, int t);

// ---- CUDA runtime helpers (kernels/cuda/runtime.cu) -----------------------------------------
// Without CUDA in the build, or without a GPU, gh_cuda_device_count() returns 0 and the rest
// return GH_ENODEV. Out-of-memory messages say how many bytes were asked and how many are free.
int gh_cuda_built(void);                 // 1 when this binary contains CUDA kernels
int gh_cuda_device_count(void);
int gh_cuda_set_device(int index);
int gh_cuda_device_name(int index, char *out, size_t len);
int gh_cuda_versions(int *driver, int *runtime); // CUDA's integer encoding (13000 = 13.0)
int gh_cuda_malloc(void **p, size_t bytes);
int gh_cuda_free(void *p);
int gh_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes);
int gh_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes);
int gh_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes);
int gh_cuda_memset0(void *p, size_t bytes);
int gh_cuda_sync(void);
// Streams, pinned memory, events and stream-ordered copies, for a caller that keeps its work
// on one stream (the engine). A stream argument is a cudaStream_t (NULL: the legacy default
// stream); the *_async calls return once the work is queued.
int gh_cuda_use_device(int index);         // cudaSetDevice only when another device is current
int gh_cuda_stream_create(void **stream);  // ordered with the legacy default stream
int gh_cuda_stream_destroy(void *stream);
int gh_cuda_stream_sync(void *stream);
int gh_cuda_host_alloc(void **p, size_t bytes);   // page-locked host memory
int gh_cuda_host_free(void *p);
int gh_cuda_event_create(void **event);           // without timing
int gh_cuda_event_destroy(void *event);
int gh_cuda_event_record(void *event, void *stream);
int gh_cuda_event_sync(void *event);
int gh_cuda_memcpy_h2d_async(void *dst, const void *src, size_t bytes, void *stream);
int gh_cuda_memcpy_d2h_async(void *dst, const void *src, size_t bytes, void *stream);
int gh_cuda_memcpy_d2d_async(void *dst, const void *src, size_t bytes, void *stream);
int gh_cuda_memset0_async(void *p, size_t bytes, void *stream);
// CUDA graphs (the engine's capturable regions): capture the stream's work (thread-local mode:
// a synchronising call on this thread fails the capture; other threads are unaffected), end it
// as an executable graph (*exec, NULL with an error when the capture failed), launch it on a
// stream, destroy it (after its launches have completed).
int gh_cuda_capture_begin(void *stream);
int gh_cuda_capture_end(void *stream, void **exec);
int gh_cuda_graph_launch(void *exec, void *stream);
int gh_cuda_graph_destroy(void *exec);

// ---- baselines: cuDNN / cuBLAS (kernels/cudnn/), never used by the training path -------------
// Same signatures and conventions as the hand-written ops; handles are created lazily per
// thread. GH_ENODEV without CUDA/cuDNN in the build.
int gh_cudnn_version(void);             // 0 when absent
int gh_cublas_version(void);            // 0 when absent
int conv2d_fwd_cudnn(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                     const float *b, float *y);
int conv2d_bwd_cudnn(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                     const float *dy, float *dx, float *dw, float *db);
int bn_fwd_train_cudnn(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                       const float *beta, float *y, float *save_mean, float *save_invstd,
                       float *run_mean, float *run_var);
int bn_bwd_cudnn(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                 const float *save_mean, const float *save_invstd, const float *dy, float *dx,
                 float *dgamma, float *dbeta);
int maxpool_fwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, float *y);
int maxpool_bwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, const float *dy,
                      float *dx);
int avgpool_fwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, float *y);
int avgpool_bwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *dy, float *dx);
int linear_fwd_cublas(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                      const float *b, float *y);
int linear_bwd_cublas(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                      const float *dy, float *dx, float *dw, float *db);
// Conv and linear baselines at a chosen math, the peers of conv2d_*_prec_cuda (bench_kernels
// --precision); the functions above are these at GH_PREC_FP32. FP32: FMA only, the references'
// arithmetic. TF32: FP32 tensors, TF32 tensor cores allowed (cuDNN CUDNN_DEFAULT_MATH, cuBLAS
// CUBLAS_COMPUTE_32F_FAST_TF32). BF16: every tensor here (bias and gradients included) BF16 in
// memory (__nv_bfloat16), FP32 accumulation; the pointers are float * at FP32 and TF32.
int conv2d_fwd_prec_cudnn(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                          const void *x, const void *w, const void *b, void *y);
int conv2d_bwd_prec_cudnn(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                          const void *x, const void *w, const void *dy, void *dx, void *dw,
                          void *db);
int linear_fwd_prec_cublas(const kctx *ctx, int n, int in, int out, gh_precision prec,
                           const void *x, const void *w, const void *b, void *y);
int linear_bwd_prec_cublas(const kctx *ctx, int n, int in, int out, gh_precision prec,
                           const void *x, const void *w, const void *dy, void *dx, void *dw,
                           void *db);

// ---- library versions for `gpuhours info` and the ledger ------------------------------------
const char *gh_blas_info(void);          // OpenBLAS config string, or "none"
int gh_cpu_threads(void);                // OpenMP threads the _cpu path uses
// Sets the OpenMP threads of this thread's later parallel regions (the _cpu path's, and
// XGBoost's, which follows omp_get_max_threads): n processes sharing the cores take 1/n each.
void gh_cpu_set_threads(int n);
// 1 when a child forked now can use OpenMP and OpenBLAS: no thread runs but OpenBLAS's own pool
// (which it stops and restarts around a fork). libgomp keeps its pool after the first parallel
// region with more than one thread, and a forked child that enters one waits for threads that
// do not exist in it; CUDA's threads likewise. *threads: the threads counted (0: unknown).
int gh_cpu_fork_safe(int *threads);

#ifdef __cplusplus
}
#endif
