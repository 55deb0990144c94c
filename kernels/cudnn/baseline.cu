// kernels/cudnn: the cuDNN / cuBLAS baseline for conv, batch norm, pooling and linear, with the
// hand-written ops' signatures and accumulate semantics (beta = 1 gives +=). Benchmark and
// second check only; the training path never calls it. Handles, a workspace and a small cache
// of the algorithms cudnnFind* picked are kept per thread. Conv and linear also run at TF32 and
// BF16 (the _prec_ versions), the peers of conv2d_*_prec_cuda in bench_kernels.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cudnn.h>
#include <stdlib.h>
#include <string.h>

#include "../cuda/cuda_common.cuh"

#define CUDNN_CHECK(call)                                                                      \
    do {                                                                                       \
        cudnnStatus_t s_ = (call);                                                             \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                        \
            return gh_fail(GH_ECUDA, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,        \
                           cudnnGetErrorString(s_));                                           \
    } while (0)

#define CUBLAS_CHECK(call)                                                                     \
    do {                                                                                       \
        cublasStatus_t s_ = (call);                                                            \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                       \
            return gh_fail(GH_ECUDA, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,        \
                           cublasGetStatusString(s_));                                         \
    } while (0)

namespace {

// ---- per-thread state ----------------------------------------------------------------------

enum conv_kind { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_FILTER = 2 };

struct algo_entry {
    int valid;
    int key[18];  // n c h w k r s sh sw ph pw dh dw groups kind deterministic device prec
    int algo;
    cudnnMathType_t math;  // the math type cudnnFind* timed the algorithm with
    size_t ws_bytes;
};

#define ALGO_CACHE 64
// cudnnFind* may return algorithms with large workspaces; keep the baseline below this.
#define WS_LIMIT ((size_t)1 << 30)

struct dnn_state {
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws;
    size_t ws_bytes;
    algo_entry cache[ALGO_CACHE];
    int next;
};

// Created on first use by each thread and kept for its lifetime (destroying cuDNN handles at
// process exit, after the CUDA runtime has shut down, is unsafe).
thread_local dnn_state *tls_state = nullptr;

int state_get(dnn_state **out) {
    if (!tls_state) {
        // calloc, not new: the library must link into plain C programs without libstdc++
        dnn_state *s = (dnn_state *)calloc(1, sizeof *s);
        if (!s) return gh_fail(GH_ENOMEM, "cudnn baseline: %zu bytes of host memory", sizeof *s);
        cudnnStatus_t ds = cudnnCreate(&s->dnn);
        if (ds != CUDNN_STATUS_SUCCESS) {
            free(s);
            return gh_fail(GH_ECUDA, "%s:%d: cudnnCreate failed: %s", __FILE__, __LINE__,
                           cudnnGetErrorString(ds));
        }
        cublasStatus_t bs = cublasCreate(&s->blas);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            cudnnDestroy(s->dnn);
            free(s);
            return gh_fail(GH_ECUDA, "%s:%d: cublasCreate failed: %s", __FILE__, __LINE__,
                           cublasGetStatusString(bs));
        }
        // plain fp32 FMA, as the references and the hand-written kernels compute (no TF32)
        CUBLAS_CHECK(cublasSetMathMode(s->blas, CUBLAS_DEFAULT_MATH));
        tls_state = s;
    }
    *out = tls_state;
    return GH_OK;
}

int state_for(const kctx *ctx, dnn_state **out) {
    GH_TRY(state_get(out));
    CUDNN_CHECK(cudnnSetStream((*out)->dnn, gh_stream(ctx)));
    CUBLAS_CHECK(cublasSetStream((*out)->blas, gh_stream(ctx)));
    return GH_OK;
}

int ws_reserve(dnn_state *s, size_t bytes) {
    if (bytes <= s->ws_bytes) return GH_OK;
    if (s->ws) {
        CUDA_CHECK(cudaFree(s->ws));  // synchronises: no kernel still uses the old workspace
        s->ws = NULL;
        s->ws_bytes = 0;
    }
    cudaError_t e = cudaMalloc(&s->ws, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        s->ws = NULL;
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        return gh_fail(GH_ENOMEM, "cudnn baseline: workspace of %zu bytes failed (%s); %zu bytes free",
                       bytes, cudaGetErrorString(e), free_b);
    }
    s->ws_bytes = bytes;
    return GH_OK;
}

// ---- descriptors with scope-bound lifetimes -------------------------------------------------

struct tensor_d {
    cudnnTensorDescriptor_t d = nullptr;
    ~tensor_d() { if (d) cudnnDestroyTensorDescriptor(d); }
};
struct filter_d {
    cudnnFilterDescriptor_t d = nullptr;
    ~filter_d() { if (d) cudnnDestroyFilterDescriptor(d); }
};
struct conv_d {
    cudnnConvolutionDescriptor_t d = nullptr;
    ~conv_d() { if (d) cudnnDestroyConvolutionDescriptor(d); }
};
struct pool_d {
    cudnnPoolingDescriptor_t d = nullptr;
    ~pool_d() { if (d) cudnnDestroyPoolingDescriptor(d); }
};
// stream-ordered scratch released at scope exit
struct scratch {
    const kctx *ctx;
    void *p = nullptr;
    explicit scratch(const kctx *c) : ctx(c) {}
    ~scratch() { gh_scratch_free(ctx, p); }
};

int tensor4(tensor_d &t, int n, int c, int h, int w,
            cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&t.d));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(t.d, CUDNN_TENSOR_NCHW, type, n, c, h, w));
    return GH_OK;
}

// What a precision means to the baseline: the tensors' type in memory and the math allowed.
// FP32: FMA only (the references' arithmetic). TF32: FP32 tensors, CUDNN_DEFAULT_MATH, which
// permits TF32 tensor cores on sm_80+ (as PyTorch's allow_tf32 does; CUDNN_TENSOR_OP_MATH adds
// nothing for FP32 data) unless NVIDIA_TF32_OVERRIDE=0. BF16: BF16 tensors with FP32 compute
// (cuDNN's PSEUDO_BFLOAT16_CONFIG; our kernels also accumulate in FP32).
int prec_types(const char *op, gh_precision prec, cudnnDataType_t *data, cudnnMathType_t *math) {
    switch (prec) {
    case GH_PREC_FP32: *data = CUDNN_DATA_FLOAT, *math = CUDNN_FMA_MATH; return GH_OK;
    case GH_PREC_TF32: *data = CUDNN_DATA_FLOAT, *math = CUDNN_DEFAULT_MATH; return GH_OK;
    case GH_PREC_BF16: *data = CUDNN_DATA_BFLOAT16, *math = CUDNN_DEFAULT_MATH; return GH_OK;
    }
    return gh_fail(GH_EINVAL, "%s: precision %d: expected GH_PREC_FP32, _TF32 or _BF16", op,
                   (int)prec);
}

template <typename T> __device__ inline T from_float(float v);
template <> __device__ inline float from_float<float>(float v) { return v; }
template <> __device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16(v);
}

template <typename T> __global__ void fill_kernel(size_t n, float v, T *p) {
    GH_GRID_STRIDE(i, n) p[i] = from_float<T>(v);
}
// y[i][j] = b[j] for i < rows, j < cols (the bias a GEMM with beta = 1 then adds onto)
template <typename T>
__global__ void bias_rows_kernel(int rows, int cols, const T *__restrict__ b, T *__restrict__ y) {
    const size_t total = (size_t)rows * cols;
    GH_GRID_STRIDE(i, total) y[i] = b[i % cols];
}

template <typename T> int fill_launch(const kctx *ctx, size_t n, float v, T *p) {
    fill_kernel<T><<<gh_ew_blocks(n), GH_EW_THREADS, 0, gh_stream(ctx)>>>(n, v, p);
    LAUNCH_CHECK("fill_kernel");
    return GH_OK;
}

// ---- convolution ---------------------------------------------------------------------------

struct conv_descs {
    tensor_d x, y, b;
    filter_d w;
    conv_d conv;
    int key[18];
};

// The shared geometry check first (kernels/geometry.c); cuDNN's own output size is then a
// second opinion on it.
int conv_setup(const char *op, const kctx *ctx, const conv2d_shape *in, gh_precision prec,
               conv_descs &d) {
    conv2d_shape norm;
    GH_TRY(conv2d_shape_check(op, in, &norm));
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    GH_TRY(prec_types(op, prec, &type, &math));
    const conv2d_shape *sh = &norm;
    int sh_h = sh->stride_h, sh_w = sh->stride_w, dl_h = sh->dil_h, dl_w = sh->dil_w;
    int groups = sh->groups;
    GH_TRY(tensor4(d.x, sh->n, sh->c, sh->h, sh->w, type));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&d.w.d));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(d.w.d, type, CUDNN_TENSOR_NCHW, sh->k,
                                           sh->c / groups, sh->r, sh->s));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d.conv.d));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d.conv.d, sh->pad_h, sh->pad_w, sh_h, sh_w, dl_h,
                                                dl_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(d.conv.d, groups));
    // FP32: FMA only, TF32 tensor cores would not match the fp32 references (prec_types);
    // the compute type stays FLOAT at every precision (FP32 accumulation)
    CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, math));
    int on, oc, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.d, d.x.d, d.w.d, &on, &oc, &oh, &ow));
    if (oh != sh->p || ow != sh->q || oc != sh->k)
        return gh_fail(GH_EINVAL, "%s: output %dx%d in the shape, cuDNN computes %dx%d (call conv2d_shape_init)",
                       op, sh->p, sh->q, oh, ow);
    GH_TRY(tensor4(d.y, sh->n, sh->k, sh->p, sh->q, type));
    GH_TRY(tensor4(d.b, 1, sh->k, 1, 1, type));
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    int key[18] = {sh->n, sh->c, sh->h, sh->w, sh->k, sh->r, sh->s, sh_h, sh_w, sh->pad_h,
                   sh->pad_w, dl_h, dl_w, groups, 0, gh_deterministic(ctx) ? 1 : 0, dev,
                   (int)prec};
    memcpy(d.key, key, sizeof key);
    return GH_OK;
}

// Picks the fastest algorithm cudnnFind* measured that succeeded, fits WS_LIMIT and, when
// asked, is deterministic; cached per thread by shape, kind, determinism and precision. The
// descriptor then gets the math type the algorithm was timed with (cuDNN's advice after Find:
// under CUDNN_DEFAULT_MATH it may report FMA or tensor-op variants).
int conv_algo(const char *op, dnn_state *s, conv_descs &d, conv_kind kind, int deterministic,
              int *algo, size_t *ws_bytes) {
    d.key[14] = kind;
    for (int i = 0; i < ALGO_CACHE; i++)
        if (s->cache[i].valid && !memcmp(s->cache[i].key, d.key, sizeof d.key)) {
            *algo = s->cache[i].algo;
            *ws_bytes = s->cache[i].ws_bytes;
            CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, s->cache[i].math));
            return GH_OK;
        }
    int found = -1, ret = 0;
    size_t mem = 0;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    if (kind == CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(s->dnn, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &ret, perf));
        for (int i = 0; i < ret && found < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT &&
                (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC)) {
                found = perf[i].algo;
                mem = perf[i].memory;
                math = perf[i].mathType;
            }
    } else if (kind == CONV_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
            s->dnn, d.w.d, d.y.d, d.conv.d, d.x.d, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &ret, perf));
        for (int i = 0; i < ret && found < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT &&
                (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC)) {
                found = perf[i].algo;
                mem = perf[i].memory;
                math = perf[i].mathType;
            }
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
            s->dnn, d.x.d, d.y.d, d.conv.d, d.w.d, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &ret, perf));
        for (int i = 0; i < ret && found < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT &&
                (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC)) {
                found = perf[i].algo;
                mem = perf[i].memory;
                math = perf[i].mathType;
            }
    }
    if (found < 0)
        return gh_fail(GH_EUNSUP, "%s: cuDNN has no %salgorithm for this shape at %s within %zu bytes of workspace",
                       op, deterministic ? "deterministic " : "",
                       gh_precision_name((gh_precision)d.key[17]), WS_LIMIT);
    CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, math));
    algo_entry &e = s->cache[s->next];
    s->next = (s->next + 1) % ALGO_CACHE;
    e.valid = 1;
    memcpy(e.key, d.key, sizeof d.key);
    e.algo = found;
    e.math = math;
    e.ws_bytes = mem;
    *algo = found;
    *ws_bytes = mem;
    return GH_OK;
}

const float k_one = 1.0f, k_zero = 0.0f;

// ---- pooling ---------------------------------------------------------------------------------

int pool_setup(const char *op, const pool_shape *in, cudnnPoolingMode_t mode, pool_d &pd,
               tensor_d &xd, tensor_d &yd) {
    pool_shape norm;
    GH_TRY(pool_shape_check(op, in, &norm));
    const pool_shape *sh = &norm;
    GH_TRY(tensor4(xd, sh->n, sh->c, sh->h, sh->w));
    CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pd.d));
    CUDNN_CHECK(cudnnSetPooling2dDescriptor(pd.d, mode, CUDNN_NOT_PROPAGATE_NAN, sh->kh, sh->kw,
                                            sh->pad, sh->pad, sh->stride, sh->stride));
    int on, oc, oh, ow;
    CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pd.d, xd.d, &on, &oc, &oh, &ow));
    if (oh != sh->p || ow != sh->q)
        return gh_fail(GH_EUNSUP, "%s: output %dx%d in the shape, cuDNN pools to %dx%d", op, sh->p,
                       sh->q, oh, ow);
    GH_TRY(tensor4(yd, sh->n, sh->c, sh->p, sh->q));
    return GH_OK;
}

cudnnPoolingMode_t max_mode(const kctx *ctx) {
    return gh_deterministic(ctx) ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_MAX;
}

// ---- batch norm ------------------------------------------------------------------------------

int bn_setup(const char *op, const bn_shape *sh, tensor_d &xd, tensor_d &bnd) {
    if (!sh) return gh_fail(GH_EINVAL, "%s: shape is NULL", op);
    if (sh->n <= 0 || sh->c <= 0 || sh->hw <= 0)
        return gh_fail(GH_EINVAL, "%s: sizes must be positive: n=%d c=%d hw=%d", op, sh->n, sh->c, sh->hw);
    if ((double)sh->eps < CUDNN_BN_MIN_EPSILON)
        return gh_fail(GH_EUNSUP, "%s: eps %g is below cuDNN's minimum %g", op, (double)sh->eps,
                       (double)CUDNN_BN_MIN_EPSILON);
    GH_TRY(tensor4(xd, sh->n, sh->c, sh->hw, 1));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bnd.d));
    CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bnd.d, xd.d, CUDNN_BATCHNORM_SPATIAL));
    return GH_OK;
}

// ---- linear ----------------------------------------------------------------------------------

struct blas_types {
    cudaDataType_t data;           // x, w, b, y and their gradients in memory
    cublasComputeType_t compute;   // accumulation and the math allowed
};

int blas_prec(const char *op, gh_precision prec, blas_types *t) {
    switch (prec) {
    case GH_PREC_FP32: *t = {CUDA_R_32F, CUBLAS_COMPUTE_32F}; return GH_OK;
    case GH_PREC_TF32: *t = {CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32}; return GH_OK;
    case GH_PREC_BF16: *t = {CUDA_R_16BF, CUBLAS_COMPUTE_32F}; return GH_OK;
    }
    return gh_fail(GH_EINVAL, "%s: precision %d: expected GH_PREC_FP32, _TF32 or _BF16", op,
                   (int)prec);
}

}  // namespace

extern "C" {

int gh_cudnn_version(void) { return (int)cudnnGetVersion(); }

int gh_cublas_version(void) {
    int maj = 0, min = 0, pat = 0;
    if (cublasGetProperty(MAJOR_VERSION, &maj) != CUBLAS_STATUS_SUCCESS ||
        cublasGetProperty(MINOR_VERSION, &min) != CUBLAS_STATUS_SUCCESS ||
        cublasGetProperty(PATCH_LEVEL, &pat) != CUBLAS_STATUS_SUCCESS)
        return 0;
    return maj * 10000 + min * 100 + pat;  // the encoding of CUBLAS_VERSION
}

int conv2d_fwd_prec_cudnn(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                          const void *x, const void *w, const void *b, void *y) {
    const char *op = "conv2d_fwd_prec_cudnn";
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    conv_descs d;
    GH_TRY(conv_setup(op, ctx, sh, prec, d));
    int algo;
    size_t wsb;
    GH_TRY(conv_algo(op, s, d, CONV_FWD, gh_deterministic(ctx), &algo, &wsb));
    GH_TRY(ws_reserve(s, wsb));
    CUDNN_CHECK(cudnnConvolutionForward(s->dnn, &k_one, d.x.d, x, d.w.d, w, d.conv.d,
                                        (cudnnConvolutionFwdAlgo_t)algo, s->ws, wsb, &k_zero, d.y.d, y));
    if (b) CUDNN_CHECK(cudnnAddTensor(s->dnn, &k_one, d.b.d, b, &k_one, d.y.d, y));
    return GH_OK;
}

int conv2d_fwd_cudnn(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                     const float *b, float *y) {
    return conv2d_fwd_prec_cudnn(ctx, sh, GH_PREC_FP32, x, w, b, y);
}

int conv2d_bwd_prec_cudnn(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                          const void *x, const void *w, const void *dy, void *dx, void *dw,
                          void *db) {
    const char *op = "conv2d_bwd_prec_cudnn";
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    conv_descs d;
    GH_TRY(conv_setup(op, ctx, sh, prec, d));
    const int det = gh_deterministic(ctx);
    int algo;
    size_t wsb;
    if (dx) {
        GH_TRY(conv_algo(op, s, d, CONV_BWD_DATA, det, &algo, &wsb));
        GH_TRY(ws_reserve(s, wsb));
        CUDNN_CHECK(cudnnConvolutionBackwardData(s->dnn, &k_one, d.w.d, w, d.y.d, dy, d.conv.d,
                                                 (cudnnConvolutionBwdDataAlgo_t)algo, s->ws, wsb,
                                                 &k_one, d.x.d, dx));
    }
    if (dw) {
        GH_TRY(conv_algo(op, s, d, CONV_BWD_FILTER, det, &algo, &wsb));
        GH_TRY(ws_reserve(s, wsb));
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(s->dnn, &k_one, d.x.d, x, d.y.d, dy, d.conv.d,
                                                   (cudnnConvolutionBwdFilterAlgo_t)algo, s->ws,
                                                   wsb, &k_one, d.w.d, dw));
    }
    if (db) CUDNN_CHECK(cudnnConvolutionBackwardBias(s->dnn, &k_one, d.y.d, dy, &k_one, d.b.d, db));
    return GH_OK;
}

int conv2d_bwd_cudnn(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                     const float *dy, float *dx, float *dw, float *db) {
    return conv2d_bwd_prec_cudnn(ctx, sh, GH_PREC_FP32, x, w, dy, dx, dw, db);
}

int bn_fwd_train_cudnn(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                       const float *beta, float *y, float *save_mean, float *save_invstd,
                       float *run_mean, float *run_var) {
    const char *op = "bn_fwd_train_cudnn";
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    tensor_d xd, bnd;
    GH_TRY(bn_setup(op, sh, xd, bnd));
    const size_t c = (size_t)sh->c;
    // cuDNN needs scale and bias, and running/saved statistics in pairs: stand-ins for the
    // missing ones (ones for gamma, zeros for the rest)
    scratch tmp(ctx);
    GH_TRY(gh_scratch_alloc(op, ctx, sizeof(float) * 6 * c, &tmp.p));
    float *t = (float *)tmp.p;
    CUDA_CHECK(cudaMemsetAsync(t, 0, sizeof(float) * 6 * c, gh_stream(ctx)));
    if (!gamma) GH_TRY(fill_launch(ctx, c, 1.0f, t));
    const float *g = gamma ? gamma : t;
    const float *bt = beta ? beta : t + c;
    float *rm = run_mean, *rv = run_var;
    if (!rm != !rv) {
        if (!rm) rm = t + 2 * c;
        if (!rv) rv = t + 3 * c;
    }
    float *sm = save_mean, *si = save_invstd;
    if (!sm != !si) {
        if (!sm) sm = t + 4 * c;
        if (!si) si = t + 5 * c;
    }
    CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        s->dnn, CUDNN_BATCHNORM_SPATIAL, &k_one, &k_zero, xd.d, x, xd.d, y, bnd.d, g, bt,
        (double)sh->momentum, rm, rv, (double)sh->eps, sm, si));
    return GH_OK;
}

int bn_bwd_cudnn(const kctx *ctx, const bn_shape *sh, const float *x, const float *gamma,
                 const float *save_mean, const float *save_invstd, const float *dy, float *dx,
                 float *dgamma, float *dbeta) {
    const char *op = "bn_bwd_cudnn";
    if (!dx && !dgamma && !dbeta) return GH_OK;
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    tensor_d xd, bnd;
    GH_TRY(bn_setup(op, sh, xd, bnd));
    const size_t c = (size_t)sh->c, total = (size_t)sh->n * sh->c * sh->hw;
    scratch tmp(ctx), tdx(ctx);
    GH_TRY(gh_scratch_alloc(op, ctx, sizeof(float) * 3 * c, &tmp.p));
    float *t = (float *)tmp.p;
    CUDA_CHECK(cudaMemsetAsync(t, 0, sizeof(float) * 3 * c, gh_stream(ctx)));
    if (!gamma) GH_TRY(fill_launch(ctx, c, 1.0f, t));
    float *ddx = dx;
    if (!dx) {  // cuDNN always writes dx: give it a throwaway buffer, beta 0
        GH_TRY(gh_scratch_alloc(op, ctx, sizeof(float) * total, &tdx.p));
        ddx = (float *)tdx.p;
    }
    CUDNN_CHECK(cudnnBatchNormalizationBackward(
        s->dnn, CUDNN_BATCHNORM_SPATIAL, &k_one, dx ? &k_one : &k_zero, &k_one, &k_one, xd.d, x,
        xd.d, dy, xd.d, ddx, bnd.d, gamma ? gamma : t, dgamma ? dgamma : t + c,
        dbeta ? dbeta : t + 2 * c, (double)sh->eps, save_mean, save_invstd));
    return GH_OK;
}

int maxpool_fwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    pool_d pd;
    tensor_d xd, yd;
    GH_TRY(pool_setup("maxpool_fwd_cudnn", sh, max_mode(ctx), pd, xd, yd));
    CUDNN_CHECK(cudnnPoolingForward(s->dnn, pd.d, &k_one, xd.d, x, &k_zero, yd.d, y));
    return GH_OK;
}

int maxpool_bwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, const float *dy,
                      float *dx) {
    const char *op = "maxpool_bwd_cudnn";
    if (!dx) return GH_OK;
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    pool_d pd;
    tensor_d xd, yd;
    GH_TRY(pool_setup(op, sh, max_mode(ctx), pd, xd, yd));
    // cuDNN's backward wants the forward output: recompute it (our signature keeps no y)
    scratch ty(ctx);
    GH_TRY(gh_scratch_alloc(op, ctx, sizeof(float) * sh->n * sh->c * sh->p * sh->q, &ty.p));
    CUDNN_CHECK(cudnnPoolingForward(s->dnn, pd.d, &k_one, xd.d, x, &k_zero, yd.d, ty.p));
    CUDNN_CHECK(cudnnPoolingBackward(s->dnn, pd.d, &k_one, yd.d, ty.p, yd.d, dy, xd.d, x, &k_one,
                                     xd.d, dx));
    return GH_OK;
}

int avgpool_fwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *x, float *y) {
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    pool_d pd;
    tensor_d xd, yd;
    GH_TRY(pool_setup("avgpool_fwd_cudnn", sh, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, pd, xd, yd));
    CUDNN_CHECK(cudnnPoolingForward(s->dnn, pd.d, &k_one, xd.d, x, &k_zero, yd.d, y));
    return GH_OK;
}

int avgpool_bwd_cudnn(const kctx *ctx, const pool_shape *sh, const float *dy, float *dx) {
    const char *op = "avgpool_bwd_cudnn";
    if (!dx) return GH_OK;
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    pool_d pd;
    tensor_d xd, yd;
    GH_TRY(pool_setup(op, sh, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, pd, xd, yd));
    // Average backward reads neither x nor y; cuDNN still takes pointers of the right sizes,
    // so zero-filled stand-ins are passed (the comparison with _ref checks the result).
    size_t xb = sizeof(float) * sh->n * sh->c * sh->h * sh->w;
    size_t yb = sizeof(float) * sh->n * sh->c * sh->p * sh->q;
    scratch tmp(ctx);
    GH_TRY(gh_scratch_alloc(op, ctx, xb + yb, &tmp.p));
    CUDA_CHECK(cudaMemsetAsync(tmp.p, 0, xb + yb, gh_stream(ctx)));
    const float *fx = (const float *)tmp.p;
    const float *fy = (const float *)((char *)tmp.p + xb);
    CUDNN_CHECK(cudnnPoolingBackward(s->dnn, pd.d, &k_one, yd.d, fy, yd.d, dy, xd.d, fx, &k_one,
                                     xd.d, dx));
    return GH_OK;
}

// Row-major products in cuBLAS's column-major terms: a row-major [r][c] matrix is a
// column-major c x r matrix (its transpose) with leading dimension c. Every product goes through
// cublasGemmEx, whose data and compute types carry the precision: FP32 with CUBLAS_COMPUTE_32F
// (plain FMA; the handle's CUBLAS_DEFAULT_MATH, as cublasSgemm ran), TF32 with
// CUBLAS_COMPUTE_32F_FAST_TF32, BF16 tensors with CUBLAS_COMPUTE_32F.
int linear_fwd_prec_cublas(const kctx *ctx, int n, int in, int out, gh_precision prec,
                           const void *x, const void *w, const void *b, void *y) {
    const char *op = "linear_fwd_prec_cublas";
    if (n <= 0 || in <= 0 || out <= 0)
        return gh_fail(GH_EINVAL, "%s: sizes must be positive: n=%d in=%d out=%d", op, n, in, out);
    blas_types bt = {CUDA_R_32F, CUBLAS_COMPUTE_32F};
    GH_TRY(blas_prec(op, prec, &bt));
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    if (b) {
        size_t total = (size_t)n * out;
        if (bt.data == CUDA_R_16BF)
            bias_rows_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
                n, out, (const __nv_bfloat16 *)b, (__nv_bfloat16 *)y);
        else
            bias_rows_kernel<<<gh_ew_blocks(total), GH_EW_THREADS, 0, gh_stream(ctx)>>>(
                n, out, (const float *)b, (float *)y);
        LAUNCH_CHECK("bias_rows_kernel");
    }
    // y^T (out x n) = w (out x in, stored as w^T col-major, ld in)^T-op . x^T (in x n, ld in)
    CUBLAS_CHECK(cublasGemmEx(s->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &k_one, w, bt.data,
                              in, x, bt.data, in, b ? &k_one : &k_zero, y, bt.data, out,
                              bt.compute, CUBLAS_GEMM_DEFAULT));
    return GH_OK;
}

int linear_fwd_cublas(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                      const float *b, float *y) {
    return linear_fwd_prec_cublas(ctx, n, in, out, GH_PREC_FP32, x, w, b, y);
}

int linear_bwd_prec_cublas(const kctx *ctx, int n, int in, int out, gh_precision prec,
                           const void *x, const void *w, const void *dy, void *dx, void *dw,
                           void *db) {
    const char *op = "linear_bwd_prec_cublas";
    if (n <= 0 || in <= 0 || out <= 0)
        return gh_fail(GH_EINVAL, "%s: sizes must be positive: n=%d in=%d out=%d", op, n, in, out);
    blas_types bt = {CUDA_R_32F, CUBLAS_COMPUTE_32F};
    GH_TRY(blas_prec(op, prec, &bt));
    dnn_state *s = NULL;
    GH_TRY(state_for(ctx, &s));
    // dx^T (in x n) += w^T (in x out, ld in) . dy^T (out x n, ld out)
    if (dx)
        CUBLAS_CHECK(cublasGemmEx(s->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &k_one, w,
                                  bt.data, in, dy, bt.data, out, &k_one, dx, bt.data, in,
                                  bt.compute, CUBLAS_GEMM_DEFAULT));
    // dw^T (in x out) += x^T (in x n, ld in) . (dy^T (out x n, ld out))^T
    if (dw)
        CUBLAS_CHECK(cublasGemmEx(s->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &k_one, x,
                                  bt.data, in, dy, bt.data, out, &k_one, dw, bt.data, in,
                                  bt.compute, CUBLAS_GEMM_DEFAULT));
    if (db) {  // db (out x 1) += dy^T (out x n, ld out) . ones (n x 1), as a GEMM (no BF16 gemv)
        const size_t eb = bt.data == CUDA_R_16BF ? sizeof(__nv_bfloat16) : sizeof(float);
        scratch ones(ctx);
        GH_TRY(gh_scratch_alloc(op, ctx, eb * n, &ones.p));
        if (bt.data == CUDA_R_16BF)
            GH_TRY(fill_launch(ctx, (size_t)n, 1.0f, (__nv_bfloat16 *)ones.p));
        else
            GH_TRY(fill_launch(ctx, (size_t)n, 1.0f, (float *)ones.p));
        CUBLAS_CHECK(cublasGemmEx(s->blas, CUBLAS_OP_N, CUBLAS_OP_N, out, 1, n, &k_one, dy,
                                  bt.data, out, ones.p, bt.data, n, &k_one, db, bt.data, out,
                                  bt.compute, CUBLAS_GEMM_DEFAULT));
    }
    return GH_OK;
}

int linear_bwd_cublas(const kctx *ctx, int n, int in, int out, const float *x, const float *w,
                      const float *dy, float *dx, float *dw, float *db) {
    return linear_bwd_prec_cublas(ctx, n, in, out, GH_PREC_FP32, x, w, dy, dx, dw, db);
}

}  // extern "C"
