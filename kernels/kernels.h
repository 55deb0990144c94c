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

// Per-call context. ws/ws_floats: scratch the caller owns (host memory for _cpu, device
// memory for _cuda), at least the op's *_ws_floats(); stream: a cudaStream_t (NULL: default
// stream); deterministic: _cuda reductions use a fixed order and no float atomics.
typedef struct kctx {
    float *ws;
    size_t ws_floats;
    void *stream;
    int deterministic;
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
GH_KERNEL3(sumsq, size_t n, const float *x, double *out);

// ---- weighted sum of k tensors (the DARTS mixed op) ----------------------------------------
// y = sum_i wts[i] * xs[i]; backward: dxs[i] += wts[i]*dy, dwts[i] += <dy, xs[i]>.
// wts/dwts live on the backend's memory (device for _cuda); xs/dxs are host arrays of k
// pointers, k <= GH_WSUM_MAX; xs[i] or dxs[i] may be NULL (an op that is "none": skipped).
#define GH_WSUM_MAX 16
GH_KERNEL3(wsum_fwd, int k, size_t n, const float *const *xs, const float *wts, float *y);
GH_KERNEL3(wsum_bwd, int k, size_t n, const float *const *xs, const float *wts, const float *dy,
           float *const *dxs, float *dwts);

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

// ---- dropout and drop-path (masks from gh_uniform(seed, index): no stored mask) -----------------
// dropout: element i kept iff gh_uniform(seed, i) >= p, kept values scaled by 1/(1-p).
GH_KERNEL3(dropout_fwd, size_t n, float p, uint64_t seed, const float *x, float *y);
GH_KERNEL3(dropout_bwd, size_t n, float p, uint64_t seed, const float *dy, float *dx);
// drop-path: sample i (of `per` floats each) kept iff gh_uniform(seed, i) >= p, scaled 1/(1-p).
GH_KERNEL3(droppath_fwd, int n, size_t per, float p, uint64_t seed, const float *x, float *y);
GH_KERNEL3(droppath_bwd, int n, size_t per, float p, uint64_t seed, const float *dy, float *dx);

// ---- softmax over rows (architecture weights, controllers) --------------------------------------
GH_KERNEL3(softmax_fwd, int rows, int cols, const float *x, float *y);
GH_KERNEL3(softmax_bwd, int rows, int cols, const float *y, const float *dy, float *dx);

// ---- softmax cross-entropy with label smoothing ------------------------------------------------
// target = (1-smoothing)*onehot(label) + smoothing/k. losses[i] = -sum_j target_j log p_ij.
// probs [n, k] is kept for backward. labels: int [n] in [0, k) (device memory for _cuda);
// a label out of range is GH_EINVAL (the _cuda version reports it after the kernel).
GH_KERNEL3(xent_fwd, int n, int k, const float *logits, const int *labels, float smoothing,
           float *probs, float *losses);
// dlogits += scale * (probs - target); scale is usually dloss/n for a mean loss.
GH_KERNEL3(xent_bwd, int n, int k, const float *probs, const int *labels, float smoothing,
           float scale, float *dlogits);

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

// ---- library versions for `gpuhours info` and the ledger ------------------------------------
const char *gh_blas_info(void);          // OpenBLAS config string, or "none"
int gh_cpu_threads(void);                // OpenMP threads the _cpu path uses

#ifdef __cplusplus
}
#endif
