// bench_kernels: forward and forward+backward time of every DARTS search-space op at the
// search shapes (batch 64; C=16/32/64 at 32x32/16x16/8x8): the _cpu path at --threads, and
// with --gpu the hand-written _cuda kernels beside their cuDNN/cuBLAS baselines in one run, at
// FP32 and (--precision) at TF32/BF16, the baselines then at the same math.
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kernels.h"

#ifdef GH_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef GH_SOURCE_DIR
#define GH_SOURCE_DIR "."
#endif

// ---- configuration ----------------------------------------------------------------------
typedef struct {
    int threads;           // OpenMP threads of the _cpu path
    int warmup;            // untimed samples before the timed ones
    int repeats;           // timed samples; the table reports their p10/p50/p90
    double min_sample_ms;  // CPU: a sample repeats the op until it lasts at least this long
    double max_op_s;       // CPU: stop sampling one op after this long (>= 5 samples kept)
    int run_cpu, run_gpu;
    const char *csv_path;  // NULL: no CSV
    const char *filter;    // substring of the op name; NULL: every op
    gh_precision precs[GH_PREC_COUNT];  // GPU tables, in this order (--precision)
    int nprec;
} bench_cfg;

static void cfg_defaults(bench_cfg *c) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    *c = (bench_cfg){.threads = n > 0 ? (int)n : 1, .warmup = 3, .repeats = 30,
                     .min_sample_ms = 2.0, .max_op_s = 3.0, .run_cpu = 1,
                     .precs = {GH_PREC_FP32}, .nprec = 1};
}

// ---- the op cases -----------------------------------------------------------------------
typedef enum { OP_CONV, OP_BN, OP_RELU, OP_MAXPOOL, OP_AVGPOOL, OP_WSUM, OP_LINEAR } op_kind;

enum { PASS_FWD = 0, PASS_FWDBWD = 1 };
static const char *const pass_name[2] = {"fwd", "fwdbwd"};

#define WSUM_K 8  // DARTS mixed op: 8 candidate ops per edge

typedef struct {
    char name[32];   // "dwconv3x3"
    char shape[48];  // input tensor, "64x16x32x32" (the torch peer writes the same keys)
    op_kind kind;
    conv2d_shape conv;
    bn_shape bn;
    pool_shape pool;
    size_t numel;           // relu, wsum: elements of one tensor
    int lin_n, lin_in, lin_out;
    int depthwise;          // counted in the GPU target "depthwise above 60% of HBM"
    int has_baseline;       // a cuDNN/cuBLAS version exists in kernels.h
    double flops[2];        // per pass; 0: memory-bound op, no FLOP/s column
    double bytes[2];        // compulsory traffic per pass, see bytes_* below
} bench_case;

// Tensors one case uses; len 0 = unused. The whole set is allocated once per case, outside
// the timed loop.
enum { T_X, T_W, T_B, T_Y, T_DY, T_DX, T_DW, T_DB, T_MEAN, T_INVSTD, T_RMEAN, T_RVAR,
       T_WTS, T_DWTS, T_WS, T_XS0, T_DXS0 = T_XS0 + WSUM_K, T_COUNT = T_DXS0 + WSUM_K };

#define F4 4.0  // bytes per fp32

// Bytes are the compulsory traffic of one pass (each input read once, each output written
// once); a gradient buffer is read and written because backward adds into it (kernels.h).
// Forward then backward is the sum of the two passes' traffic.
static void conv_case(bench_case *bc, const char *name, int n, int c, int hw, int k, int r,
                      int stride, int pad, int dil, int groups) {
    memset(bc, 0, sizeof *bc);
    snprintf(bc->name, sizeof bc->name, "%s", name);
    snprintf(bc->shape, sizeof bc->shape, "%dx%dx%dx%d", n, c, hw, hw);
    bc->kind = OP_CONV;
    bc->conv = (conv2d_shape){.n = n, .c = c, .h = hw, .w = hw, .k = k, .r = r, .s = r,
                              .stride_h = stride, .stride_w = stride, .pad_h = pad,
                              .pad_w = pad, .dil_h = dil, .dil_w = dil, .groups = groups};
    if (conv2d_shape_init(&bc->conv)) {
        fprintf(stderr, "bench_kernels: bad conv case %s: %s\n", name, gh_error_get());
        exit(2);
    }
    const conv2d_shape *s = &bc->conv;
    double x = (double)n * c * hw * hw, w = (double)k * (c / groups) * r * r;
    double y = (double)n * k * s->p * s->q;
    double macs = y * (c / groups) * r * r;
    bc->flops[0] = 2 * macs;                // forward
    bc->flops[1] = 2 * macs + 2 * 2 * macs; // backward: dx and dw, each as many MACs
    bc->bytes[0] = F4 * (x + w + y);
    bc->bytes[1] = bc->bytes[0] + F4 * (x + w + y + 2 * x + 2 * w);
    bc->depthwise = groups == c && groups > 1;
    bc->has_baseline = 1;
}

static void bn_case(bench_case *bc, int n, int c, int hw) {
    memset(bc, 0, sizeof *bc);
    snprintf(bc->name, sizeof bc->name, "bn_train");
    snprintf(bc->shape, sizeof bc->shape, "%dx%dx%dx%d", n, c, hw, hw);
    bc->kind = OP_BN;
    bc->bn = (bn_shape){.n = n, .c = c, .hw = hw * hw, .eps = 1e-5f, .momentum = 0.1f};
    double s = (double)n * c * hw * hw;
    // forward: x in, y out, save_mean/invstd out, running stats read and written
    bc->bytes[0] = F4 * (2 * s + 6 * c);
    // backward: x, dy, saved stats in; dx read and written
    bc->bytes[1] = bc->bytes[0] + F4 * (4 * s + 2 * c);
    bc->has_baseline = 1;
}

static void eltwise_case(bench_case *bc, op_kind kind, const char *name, int n, int c, int hw) {
    memset(bc, 0, sizeof *bc);
    snprintf(bc->name, sizeof bc->name, "%s", name);
    snprintf(bc->shape, sizeof bc->shape, "%dx%dx%dx%d", n, c, hw, hw);
    bc->kind = kind;
    bc->numel = (size_t)n * c * hw * hw;
    double s = (double)bc->numel;
    if (kind == OP_RELU) {
        bc->bytes[0] = F4 * 2 * s;                    // x in, y out
        bc->bytes[1] = bc->bytes[0] + F4 * 4 * s;     // x, dy in; dx in and out
    } else {                                          // OP_WSUM
        bc->bytes[0] = F4 * (WSUM_K * s + s + WSUM_K);          // xs, wts in; y out
        bc->bytes[1] = bc->bytes[0] + F4 * (s + WSUM_K * s + 2 * WSUM_K * s + 3 * WSUM_K);
    }
}

static void pool_case(bench_case *bc, op_kind kind, const char *name, int n, int c, int hw) {
    memset(bc, 0, sizeof *bc);
    snprintf(bc->name, sizeof bc->name, "%s", name);
    snprintf(bc->shape, sizeof bc->shape, "%dx%dx%dx%d", n, c, hw, hw);
    bc->kind = kind;
    bc->pool = (pool_shape){.n = n, .c = c, .h = hw, .w = hw, .kh = 3, .kw = 3, .stride = 1,
                            .pad = 1};
    if (pool_shape_init(&bc->pool)) {
        fprintf(stderr, "bench_kernels: bad pool case %s: %s\n", name, gh_error_get());
        exit(2);
    }
    double x = (double)n * c * hw * hw, y = (double)n * c * bc->pool.p * bc->pool.q;
    bc->bytes[0] = F4 * (x + y);
    // max: backward recomputes the argmax, so it reads x too; average reads only dy
    bc->bytes[1] = bc->bytes[0] + F4 * ((kind == OP_MAXPOOL ? x : 0) + y + 2 * x);
    bc->has_baseline = 1;
}

static void linear_case(bench_case *bc, int n, int in, int out) {
    memset(bc, 0, sizeof *bc);
    snprintf(bc->name, sizeof bc->name, "linear");
    snprintf(bc->shape, sizeof bc->shape, "%dx%d->%d", n, in, out);
    bc->kind = OP_LINEAR;
    bc->lin_n = n, bc->lin_in = in, bc->lin_out = out;
    double x = (double)n * in, w = (double)out * in, y = (double)n * out;
    bc->flops[0] = 2 * n * w;
    bc->flops[1] = 3 * bc->flops[0];
    bc->bytes[0] = F4 * (x + w + out + y);
    bc->bytes[1] = bc->bytes[0] + F4 * (x + w + y + 2 * x + 2 * w + 2 * out);
    bc->has_baseline = 1;
}

// The DARTS (Liu et al. 2019) search network at batch 64 with C=16: cells at 32x32 with 16
// channels, 16x16 with 32, 8x8 with 64; the stem once at the input, the classifier once.
static int build_cases(bench_case *cs) {
    static const int chans[3] = {16, 32, 64}, sizes[3] = {32, 16, 8};
    const int n = 64;
    int m = 0;
    for (int i = 0; i < 3; i++) {
        int c = chans[i], hw = sizes[i];
        conv_case(&cs[m++], "dwconv3x3", n, c, hw, c, 3, 1, 1, 1, c);
        conv_case(&cs[m++], "dwconv5x5", n, c, hw, c, 5, 1, 2, 1, c);
        conv_case(&cs[m++], "dilconv3x3", n, c, hw, c, 3, 1, 2, 2, c);
        conv_case(&cs[m++], "dilconv5x5", n, c, hw, c, 5, 1, 4, 2, c);
        conv_case(&cs[m++], "conv1x1", n, c, hw, c, 1, 1, 0, 1, 1);
        conv_case(&cs[m++], "frconv1x1s2", n, c, hw, c / 2, 1, 2, 0, 1, 1);
        bn_case(&cs[m++], n, c, hw);
        eltwise_case(&cs[m++], OP_RELU, "relu", n, c, hw);
        pool_case(&cs[m++], OP_MAXPOOL, "maxpool3x3", n, c, hw);
        pool_case(&cs[m++], OP_AVGPOOL, "avgpool3x3", n, c, hw);
        eltwise_case(&cs[m++], OP_WSUM, "wsum8", n, c, hw);
    }
    conv_case(&cs[m++], "stemconv3x3", n, 3, 32, 48, 3, 1, 1, 1, 1);
    linear_case(&cs[m++], n, 256, 10);
    return m;
}
#define MAX_CASES 40

// Ops timed again at TF32/BF16: the convs, and linear for its cuBLAS peer at that math (the
// others are precision-independent: timed once, in the first table).
static int precision_dependent(const bench_case *bc) {
    return bc->kind == OP_CONV || bc->kind == OP_LINEAR;
}

// ---- backends and dispatch ----------------------------------------------------------------
typedef enum { BK_CPU, BK_CUDA, BK_BASE } backend;

// The CSV's backend column; the baseline is cuBLAS for linear, cuDNN otherwise.
static const char *backend_label(backend be, const bench_case *bc) {
    if (be == BK_BASE) return bc->kind == OP_LINEAR ? "cublas" : "cudnn";
    return be == BK_CPU ? "cpu" : "cuda";
}

#ifdef GH_HAVE_CUDA
#define CALL_CUDA(fn, ...) fn##_cuda(__VA_ARGS__)
#else
#define CALL_CUDA(fn, ...) gh_fail(GH_ENODEV, "bench_kernels was built without CUDA")
#endif
#ifdef GH_HAVE_CUDNN
#define CALL_BASE(fn, lib, ...) fn##_##lib(__VA_ARGS__)
#else
#define CALL_BASE(fn, lib, ...) gh_fail(GH_ENODEV, "bench_kernels was built without cuDNN")
#endif
// One call of op `fn` on backend `be`; `lib` names the baseline (cudnn or cublas).
#define DISPATCH(be, fn, lib, ...)                                 \
    ((be) == BK_CPU ? fn##_cpu(__VA_ARGS__)                        \
     : (be) == BK_CUDA ? CALL_CUDA(fn, __VA_ARGS__)                \
                       : CALL_BASE(fn, lib, __VA_ARGS__))
// An op without a library baseline (ReLU, wsum): BK_BASE is never asked for.
#define DISPATCH_NB(be, fn, ...) \
    ((be) == BK_CPU ? fn##_cpu(__VA_ARGS__) : CALL_CUDA(fn, __VA_ARGS__))
// TF32/BF16 (GPU only; the CPU path is refused at parse time): ours' conv2d_*_prec_cuda, the
// baseline's _prec_ version. Linear: ours stays linear_*_cuda (FP32), the peer cuBLAS at prec.
#ifdef GH_HAVE_CUDA
#define CALL_CUDA_PREC(fn, ...) fn##_prec_cuda(__VA_ARGS__)
#else
#define CALL_CUDA_PREC(fn, ...) gh_fail(GH_ENODEV, "bench_kernels was built without CUDA")
#endif
#ifdef GH_HAVE_CUDNN
#define CALL_BASE_PREC(fn, lib, ...) fn##_prec_##lib(__VA_ARGS__)
#else
#define CALL_BASE_PREC(fn, lib, ...) gh_fail(GH_ENODEV, "bench_kernels was built without cuDNN")
#endif

static int run_fwd_prec(backend be, const bench_case *bc, const kctx *ctx, float *const *t,
                        gh_precision prec) {
    (void)ctx, (void)t, (void)prec;  // unused in a build without CUDA (the CALL_ stubs)
    if (be == BK_CPU) return gh_fail(GH_EUNSUP, "bench_kernels: the CPU path is FP32 only");
    if (bc->kind == OP_CONV)
        return be == BK_CUDA ? CALL_CUDA_PREC(conv2d_fwd, ctx, &bc->conv, prec, t[T_X], t[T_W],
                                              NULL, t[T_Y])
                             : CALL_BASE_PREC(conv2d_fwd, cudnn, ctx, &bc->conv, prec, t[T_X],
                                              t[T_W], NULL, t[T_Y]);
    return be == BK_CUDA ? CALL_CUDA(linear_fwd, ctx, bc->lin_n, bc->lin_in, bc->lin_out,
                                     t[T_X], t[T_W], t[T_B], t[T_Y])
                         : CALL_BASE_PREC(linear_fwd, cublas, ctx, bc->lin_n, bc->lin_in,
                                          bc->lin_out, prec, t[T_X], t[T_W], t[T_B], t[T_Y]);
}

static int run_bwd_prec(backend be, const bench_case *bc, const kctx *ctx, float *const *t,
                        gh_precision prec) {
    (void)ctx, (void)t, (void)prec;  // unused in a build without CUDA (the CALL_ stubs)
    if (be == BK_CPU) return gh_fail(GH_EUNSUP, "bench_kernels: the CPU path is FP32 only");
    if (bc->kind == OP_CONV)
        return be == BK_CUDA ? CALL_CUDA_PREC(conv2d_bwd, ctx, &bc->conv, prec, t[T_X], t[T_W],
                                              t[T_DY], t[T_DX], t[T_DW], NULL)
                             : CALL_BASE_PREC(conv2d_bwd, cudnn, ctx, &bc->conv, prec, t[T_X],
                                              t[T_W], t[T_DY], t[T_DX], t[T_DW], NULL);
    return be == BK_CUDA ? CALL_CUDA(linear_bwd, ctx, bc->lin_n, bc->lin_in, bc->lin_out,
                                     t[T_X], t[T_W], t[T_DY], t[T_DX], t[T_DW], t[T_DB])
                         : CALL_BASE_PREC(linear_bwd, cublas, ctx, bc->lin_n, bc->lin_in,
                                          bc->lin_out, prec, t[T_X], t[T_W], t[T_DY], t[T_DX],
                                          t[T_DW], t[T_DB]);
}

static int run_fwd(backend be, const bench_case *bc, const kctx *ctx, float *const *t,
                   gh_precision prec) {
    if (prec != GH_PREC_FP32 && precision_dependent(bc)) return run_fwd_prec(be, bc, ctx, t, prec);
    switch (bc->kind) {
    case OP_CONV:
        return DISPATCH(be, conv2d_fwd, cudnn, ctx, &bc->conv, t[T_X], t[T_W], NULL, t[T_Y]);
    case OP_BN:
        return DISPATCH(be, bn_fwd_train, cudnn, ctx, &bc->bn, t[T_X], NULL, NULL, t[T_Y],
                        t[T_MEAN], t[T_INVSTD], t[T_RMEAN], t[T_RVAR]);
    case OP_RELU: return DISPATCH_NB(be, relu_fwd, ctx, bc->numel, t[T_X], t[T_Y]);
    case OP_MAXPOOL: return DISPATCH(be, maxpool_fwd, cudnn, ctx, &bc->pool, t[T_X], t[T_Y]);
    case OP_AVGPOOL: return DISPATCH(be, avgpool_fwd, cudnn, ctx, &bc->pool, t[T_X], t[T_Y]);
    case OP_WSUM:
        return DISPATCH_NB(be, wsum_fwd, ctx, WSUM_K, bc->numel,
                           (const float *const *)&t[T_XS0], t[T_WTS], t[T_Y]);
    case OP_LINEAR:
        return DISPATCH(be, linear_fwd, cublas, ctx, bc->lin_n, bc->lin_in, bc->lin_out, t[T_X],
                        t[T_W], t[T_B], t[T_Y]);
    }
    return gh_fail(GH_EINVAL, "bench_kernels: unknown op kind %d", (int)bc->kind);
}

static int run_bwd(backend be, const bench_case *bc, const kctx *ctx, float *const *t,
                   gh_precision prec) {
    if (prec != GH_PREC_FP32 && precision_dependent(bc)) return run_bwd_prec(be, bc, ctx, t, prec);
    switch (bc->kind) {
    case OP_CONV:
        return DISPATCH(be, conv2d_bwd, cudnn, ctx, &bc->conv, t[T_X], t[T_W], t[T_DY],
                        t[T_DX], t[T_DW], NULL);
    case OP_BN:
        return DISPATCH(be, bn_bwd, cudnn, ctx, &bc->bn, t[T_X], NULL, t[T_MEAN], t[T_INVSTD],
                        t[T_DY], t[T_DX], NULL, NULL);
    case OP_RELU: return DISPATCH_NB(be, relu_bwd, ctx, bc->numel, t[T_X], t[T_DY], t[T_DX]);
    case OP_MAXPOOL:
        return DISPATCH(be, maxpool_bwd, cudnn, ctx, &bc->pool, t[T_X], t[T_DY], t[T_DX]);
    case OP_AVGPOOL:
        return DISPATCH(be, avgpool_bwd, cudnn, ctx, &bc->pool, t[T_DY], t[T_DX]);
    case OP_WSUM:
        return DISPATCH_NB(be, wsum_bwd, ctx, WSUM_K, bc->numel,
                           (const float *const *)&t[T_XS0], t[T_WTS], t[T_DY], &t[T_DXS0],
                           t[T_DWTS]);
    case OP_LINEAR:
        return DISPATCH(be, linear_bwd, cublas, ctx, bc->lin_n, bc->lin_in, bc->lin_out, t[T_X],
                        t[T_W], t[T_DY], t[T_DX], t[T_DW], t[T_DB]);
    }
    return gh_fail(GH_EINVAL, "bench_kernels: unknown op kind %d", (int)bc->kind);
}

// One timed unit: the forward, or the forward then the backward (as a training step does).
static int run_pass(backend be, const bench_case *bc, const kctx *ctx, float *const *t,
                    int pass, gh_precision prec) {
    int st = run_fwd(be, bc, ctx, t, prec);
    if (st || pass == PASS_FWD) return st;
    return run_bwd(be, bc, ctx, t, prec);
}

// Floats of every tensor the case uses on backend `be` (workspace included).
static void case_sizes(const bench_case *bc, backend be, size_t len[T_COUNT]) {
    memset(len, 0, T_COUNT * sizeof len[0]);
    switch (bc->kind) {
    case OP_CONV: {
        const conv2d_shape *s = &bc->conv;
        len[T_X] = len[T_DX] = (size_t)s->n * s->c * s->h * s->w;
        len[T_W] = len[T_DW] = (size_t)s->k * (s->c / s->groups) * s->r * s->s;
        len[T_Y] = len[T_DY] = (size_t)s->n * s->k * s->p * s->q;
        len[T_WS] = be == BK_CPU ? conv2d_ws_floats(s) : be == BK_CUDA ?
#ifdef GH_HAVE_CUDA
                    conv2d_ws_floats_cuda(s)
#else
                    0
#endif
                    : 0;  // the cuDNN baseline keeps its own workspace (kernels/cudnn)
        break;
    }
    case OP_BN:
        len[T_X] = len[T_Y] = len[T_DY] = len[T_DX] = (size_t)bc->bn.n * bc->bn.c * bc->bn.hw;
        len[T_MEAN] = len[T_INVSTD] = len[T_RMEAN] = len[T_RVAR] = (size_t)bc->bn.c;
        break;
    case OP_RELU: len[T_X] = len[T_Y] = len[T_DY] = len[T_DX] = bc->numel; break;
    case OP_MAXPOOL:
    case OP_AVGPOOL: {
        const pool_shape *p = &bc->pool;
        len[T_X] = len[T_DX] = (size_t)p->n * p->c * p->h * p->w;
        len[T_Y] = len[T_DY] = (size_t)p->n * p->c * p->p * p->q;
        break;
    }
    case OP_WSUM:
        len[T_Y] = len[T_DY] = bc->numel;
        len[T_WTS] = len[T_DWTS] = WSUM_K;
        for (int i = 0; i < WSUM_K; i++) len[T_XS0 + i] = len[T_DXS0 + i] = bc->numel;
        break;
    case OP_LINEAR:
        len[T_X] = len[T_DX] = (size_t)bc->lin_n * bc->lin_in;
        len[T_W] = len[T_DW] = (size_t)bc->lin_out * bc->lin_in;
        len[T_B] = len[T_DB] = (size_t)bc->lin_out;
        len[T_Y] = len[T_DY] = (size_t)bc->lin_n * bc->lin_out;
        break;
    }
}

// Inputs uniform in [-1, 1) from the counter RNG, never zeros (zeros hide unwritten outputs
// and can run faster than real data); running variances positive.
static void fill_host(float *h, size_t n, int tensor) {
    for (size_t i = 0; i < n; i++)
        h[i] = tensor == T_RVAR ? 0.5f + gh_uniform((uint64_t)tensor, i)
                                : 2.0f * gh_uniform((uint64_t)tensor, i) - 1.0f;
}

// ---- statistics and records ---------------------------------------------------------------
typedef struct { double p10, p50, p90; } quantiles;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Linear interpolation between order statistics (numpy's default "linear" method).
static quantiles sample_quantiles(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    quantiles q;
    double *out[3] = {&q.p10, &q.p50, &q.p90};
    const double at[3] = {0.1, 0.5, 0.9};
    for (int i = 0; i < 3; i++) {
        double pos = at[i] * (n - 1);
        int lo = (int)pos;
        int hi = lo + 1 < n ? lo + 1 : lo;
        *out[i] = v[lo] + (pos - lo) * (v[hi] - v[lo]);
    }
    return q;
}

typedef struct {
    quantiles ms;
    double gflops, gbps;  // at the median; gflops 0 for memory-bound ops
} measure;

// elem_bytes: bytes per element in memory, 4 (FP32 tensors) or 2 (the BF16 baseline's); the
// case's byte counts are for 4.
static measure make_measure(const bench_case *bc, int pass, double *ms, int n, int elem_bytes) {
    measure m = {.ms = sample_quantiles(ms, n)};
    double s = m.ms.p50 * 1e-3;
    m.gflops = bc->flops[pass] / s * 1e-9;
    m.gbps = bc->bytes[pass] * (elem_bytes / F4) / s * 1e-9;
    return m;
}

// precision: the table's (the math asked for; ours_math tells what our kernel ran).
static void csv_row(FILE *csv, const bench_case *bc, int pass, const char *backend,
                    gh_precision prec, const measure *m) {
    if (!csv) return;
    fprintf(csv, "%s.%s,%s,%s,%.6f,%.6f,%.6f,", bc->name, pass_name[pass], bc->shape, backend,
            m->ms.p50, m->ms.p10, m->ms.p90);
    if (bc->flops[pass] > 0) fprintf(csv, "%.3f", m->gflops);
    fprintf(csv, ",%.3f,%s\n", m->gbps, gh_precision_name(prec));
    fflush(csv);
}

// What produced the numbers: commit, host, time, threads, libraries, argv.
static void provenance(FILE *f, const char *prefix, const bench_cfg *cfg, int argc,
                       char **argv) {
    char commit[64] = "unknown", host[256] = "unknown", when[32];
    FILE *p = popen("git -C '" GH_SOURCE_DIR "' describe --always --dirty --abbrev=12 2>/dev/null",
                    "r");
    if (p) {
        if (fgets(commit, sizeof commit, p)) commit[strcspn(commit, "\n")] = 0;
        if (!commit[0]) snprintf(commit, sizeof commit, "unknown");
        pclose(p);
    }
    gethostname(host, sizeof host);
    gh_utc_iso8601(when);
    double load[1] = {-1};
    getloadavg(load, 1);  // other processes' load makes CPU timings noisy: record it
    fprintf(f, "%sbench_kernels commit=%s host=%s utc=%s loadavg1=%.2f\n", prefix, commit,
            host, when, load[0]);
    fprintf(f, "%sargv:", prefix);
    for (int i = 0; i < argc; i++) fprintf(f, " %s", argv[i]);
    char precs[32] = "";
    for (int i = 0; i < cfg->nprec; i++)
        snprintf(precs + strlen(precs), sizeof precs - strlen(precs), "%s%s", i ? "," : "",
                 gh_precision_name(cfg->precs[i]));
    fprintf(f, "\n%sconfig: threads=%d (kernels see %d) warmup=%d repeats=%d min_sample_ms=%g "
               "max_op_s=%g cpu=%d gpu=%d filter=%s precision=%s\n",
            prefix, cfg->threads, gh_cpu_threads(), cfg->warmup, cfg->repeats,
            cfg->min_sample_ms, cfg->max_op_s, cfg->run_cpu, cfg->run_gpu,
            cfg->filter ? cfg->filter : "(all)", precs);
    int drv = 0, rt = 0;
    gh_cuda_versions(&drv, &rt);
    gh_error_clear();
    fprintf(f, "%slibs: compiler=%s blas=%s openmp=%d cuda_built=%d cuda_driver=%d "
               "cuda_runtime=%d cudnn=%d cublas=%d\n",
            prefix, __VERSION__, gh_blas_info(), _OPENMP, gh_cuda_built(), drv, rt,
            gh_cudnn_version(), gh_cublas_version());
}

static int case_selected(const bench_cfg *cfg, const bench_case *bc) {
    return !cfg->filter || strstr(bc->name, cfg->filter);
}

static void progress(int done, int total, double t0) {
    if (!isatty(2) || done == 0) return;
    double el = gh_wall_seconds() - t0;
    fprintf(stderr, "\r  [%d/%d] elapsed %.0f s, eta %.0f s   ", done, total, el,
            el / done * (total - done));
    if (done == total) fprintf(stderr, "\n");
}

// ---- CPU ------------------------------------------------------------------------------------
static double time_calls(const bench_case *bc, const kctx *ctx, float *const *t, int pass,
                         int calls, int *st) {
    double t0 = gh_wall_seconds();
    for (int i = 0; i < calls && !*st; i++) *st = run_pass(BK_CPU, bc, ctx, t, pass, GH_PREC_FP32);
    return gh_wall_seconds() - t0;
}

// Samples of `calls` back-to-back calls (enough for min_sample_ms), per-call milliseconds.
static int time_cpu(const bench_cfg *cfg, const bench_case *bc, const kctx *ctx,
                    float *const *t, int pass, double *ms, int *nms) {
    int st = 0;
    double one = time_calls(bc, ctx, t, pass, 1, &st);
    if (st) return st;
    int calls = (int)ceil(cfg->min_sample_ms * 1e-3 / (one > 1e-7 ? one : 1e-7));
    calls = calls < 1 ? 1 : calls > 100000 ? 100000 : calls;
    // warm-up: the samples asked for, and at least 0.2 s, so that page faults on fresh
    // buffers, thread start-up and clock ramps stay out of the timed samples
    double wend = gh_wall_seconds() + 0.2;
    for (int i = 0; !st && (i < cfg->warmup || gh_wall_seconds() < wend); i++)
        time_calls(bc, ctx, t, pass, calls, &st);
    double start = gh_wall_seconds();
    *nms = 0;
    for (int i = 0; i < cfg->repeats && !st; i++) {
        ms[(*nms)++] = time_calls(bc, ctx, t, pass, calls, &st) * 1e3 / calls;
        if (*nms >= 5 && gh_wall_seconds() - start > cfg->max_op_s) break;
    }
    return st;
}

static void free_host(float **t) {
    for (int i = 0; i < T_COUNT; i++) free(t[i]), t[i] = NULL;
}

static int alloc_host(const bench_case *bc, float **t) {
    size_t len[T_COUNT];
    case_sizes(bc, BK_CPU, len);
    for (int i = 0; i < T_COUNT; i++) {
        t[i] = NULL;
        if (!len[i]) continue;
        t[i] = malloc(len[i] * sizeof(float));
        if (!t[i]) {
            free_host(t);
            return gh_fail(GH_ENOMEM, "bench_kernels: %s %s: cannot allocate %zu bytes",
                           bc->name, bc->shape, len[i] * sizeof(float));
        }
        fill_host(t[i], len[i], i);
    }
    return 0;
}

static void cpu_table_header(void) {
    printf("\n%-12s %-7s %-14s %9s %9s %9s %9s %8s\n", "op", "pass", "shape", "p50_ms",
           "p10_ms", "p90_ms", "GFLOP/s", "GB/s");
}

static void cpu_table_row(const bench_case *bc, int pass, const measure *m) {
    char gf[16] = "-";
    if (bc->flops[pass] > 0) snprintf(gf, sizeof gf, "%.1f", m->gflops);
    printf("%-12s %-7s %-14s %9.4f %9.4f %9.4f %9s %8.1f\n", bc->name, pass_name[pass],
           bc->shape, m->ms.p50, m->ms.p10, m->ms.p90, gf, m->gbps);
    fflush(stdout);
}

static int cpu_run(const bench_cfg *cfg, const bench_case *cs, int ncs, FILE *csv) {
    double *ms = malloc((size_t)cfg->repeats * sizeof *ms);
    if (!ms) return gh_fail(GH_ENOMEM, "bench_kernels: cannot allocate the sample array");
    printf("\n== CPU: the _cpu path, %d thread(s) ==\n", cfg->threads);
    cpu_table_header();
    int total = 0, done = 0, st = 0;
    for (int i = 0; i < ncs; i++) total += case_selected(cfg, &cs[i]);
    double t0 = gh_wall_seconds();
    for (int i = 0; i < ncs && !st; i++) {
        if (!case_selected(cfg, &cs[i])) continue;
        float *t[T_COUNT];
        size_t len[T_COUNT];
        if ((st = alloc_host(&cs[i], t))) break;
        case_sizes(&cs[i], BK_CPU, len);
        kctx ctx = {.ws = t[T_WS], .ws_floats = len[T_WS]};
        for (int pass = 0; pass < 2 && !st; pass++) {
            int n = 0;
            st = time_cpu(cfg, &cs[i], &ctx, t, pass, ms, &n);
            if (st) break;
            measure m = make_measure(&cs[i], pass, ms, n, 4);
            cpu_table_row(&cs[i], pass, &m);
            csv_row(csv, &cs[i], pass, backend_label(BK_CPU, &cs[i]), GH_PREC_FP32, &m);
        }
        free_host(t);
        progress(++done, total, t0);
    }
    free(ms);
    return st;
}

// ---- GPU ------------------------------------------------------------------------------------
#ifdef GH_HAVE_CUDA
// Records the failed CUDA runtime statement, file and line, and returns GH_ECUDA.
#define CUDA_TRY(stmt)                                                                     \
    do {                                                                                   \
        cudaError_t e_ = (stmt);                                                           \
        if (e_ != cudaSuccess)                                                             \
            return gh_fail(GH_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #stmt,            \
                           cudaGetErrorString(e_));                                        \
    } while (0)

typedef struct {
    char name[256];
    int sms, cc_major, cc_minor;
    size_t l2_bytes;
    double peak_gbps, peak_gflops, copy_gbps;
    double sheet_gbps;  // datasheet bandwidth when the name is in the table, else 0
    const char *bw_source, *flop_source;
    // GFLOP/s of the math each precision runs: [GH_PREC_FP32] = peak_gflops (FMA lanes), TF32
    // and BF16 dense tensor-core rates; 0 when unknown (%peak then "-")
    double peak_prec[GH_PREC_COUNT];
    const char *tc_source;
} gpu_info;

// Datasheet numbers for when the device attributes are missing (CUDA 13 dropped the clock
// fields of cudaDeviceProp; the attributes may follow). Tensor-core TF32 and BF16 rates are
// NVIDIA's dense (no 2:4 sparsity) figures, and preferred to the per-SM estimate below, since
// NVIDIA quotes them at a boost clock the attributes do not report.
static const struct { const char *name; double gbps, gflops, tf32, bf16; } gpu_table[] = {
    {"H200", 4800, 66900, 494700, 989400},
    {"H100 80GB HBM3", 3350, 66900, 494700, 989400},  // H100 SXM
    {"H100 PCIe", 2000, 51200, 378000, 756000},
    {"H100 NVL", 3900, 60000, 417500, 835500},
    {"A100-SXM4-80GB", 2039, 19500, 156000, 312000},
    {"A100-SXM4-40GB", 1555, 19500, 156000, 312000},
};

// FP32 lanes per SM by compute capability (CUDA C Programming Guide, arithmetic throughput).
static int fp32_per_sm(int major, int minor) {
    if (major == 8 && minor == 0) return 64;
    if (major >= 8) return 128;
    return 64;
}

// Dense tensor-core TF32 FLOP per SM per clock (BF16: twice that), from NVIDIA's datasheets
// divided by SMs x boost clock: A100 156 TFLOP/s = 108 x 1.41 GHz x 1024; H100 SXM 494.7 =
// 132 x 1.83 GHz x 2048; GA10x/AD10x 256. 0: unknown.
static int tf32_per_sm(int major, int minor) {
    if (major == 8) return minor == 0 ? 1024 : 256;
    if (major == 9) return 2048;
    return 0;
}

static int gpu_probe(gpu_info *g) {
    memset(g, 0, sizeof *g);
    int dev = 0, v = 0, memclk = 0, bus = 0, clk = 0;
    CUDA_TRY(cudaGetDevice(&dev));
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, dev));
    snprintf(g->name, sizeof g->name, "%s", prop.name);
    CUDA_TRY(cudaDeviceGetAttribute(&g->sms, cudaDevAttrMultiProcessorCount, dev));
    CUDA_TRY(cudaDeviceGetAttribute(&g->cc_major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_TRY(cudaDeviceGetAttribute(&g->cc_minor, cudaDevAttrComputeCapabilityMinor, dev));
    CUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrL2CacheSize, dev));
    g->l2_bytes = (size_t)v;
    // Attributes that a driver may no longer report: a failure here falls back to the table.
    if (cudaDeviceGetAttribute(&memclk, cudaDevAttrMemoryClockRate, dev) != cudaSuccess) memclk = 0;
    if (cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, dev) != cudaSuccess) bus = 0;
    if (cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, dev) != cudaSuccess) clk = 0;
    cudaGetLastError();
    // double data rate: two transfers per memory clock (kHz) over bus/8 bytes
    g->peak_gbps = 2.0 * memclk * 1e3 * (bus / 8.0) * 1e-9;
    g->bw_source = "device attributes";
    g->peak_gflops = 2.0 * g->sms * fp32_per_sm(g->cc_major, g->cc_minor) * clk * 1e3 * 1e-9;
    g->flop_source = "device attributes";
    double tc = (double)g->sms * tf32_per_sm(g->cc_major, g->cc_minor) * clk * 1e3 * 1e-9;
    g->peak_prec[GH_PREC_TF32] = tc, g->peak_prec[GH_PREC_BF16] = 2 * tc;
    g->tc_source = tc > 0 ? "SMs x clock x per-SM rate of the compute capability" : "unknown";
    for (size_t i = 0; i < sizeof gpu_table / sizeof gpu_table[0]; i++) {
        if (!strstr(g->name, gpu_table[i].name)) continue;
        g->sheet_gbps = gpu_table[i].gbps;
        if (g->peak_gbps <= 0) g->peak_gbps = gpu_table[i].gbps, g->bw_source = "datasheet";
        if (g->peak_gflops <= 0)
            g->peak_gflops = gpu_table[i].gflops, g->flop_source = "datasheet";
        g->peak_prec[GH_PREC_TF32] = gpu_table[i].tf32;
        g->peak_prec[GH_PREC_BF16] = gpu_table[i].bf16;
        g->tc_source = "datasheet, dense";
    }
    g->peak_prec[GH_PREC_FP32] = g->peak_gflops;
    if (g->peak_gbps <= 0 || g->peak_gflops <= 0)
        return gh_fail(GH_EUNSUP, "bench_kernels: cannot tell the peak of '%s' (memory clock "
                                  "%d kHz, bus %d bits, SM clock %d kHz) and it is not in the "
                                  "datasheet table", g->name, memclk, bus, clk);
    return 0;
}

// The achievable ceiling: a large device-to-device copy, bytes read plus bytes written.
static int gpu_copy_bandwidth(gpu_info *g) {
    const size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    int st = gh_cuda_malloc(&a, bytes);
    if (!st) st = gh_cuda_malloc(&b, bytes);
    cudaEvent_t e0 = NULL, e1 = NULL;
    double ms[10];
    for (int i = 0; !st && i < 13; i++) {
        float t = 0;
        if (cudaEventCreate(&e0) || cudaEventCreate(&e1) || cudaEventRecord(e0, 0) ||
            cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0) ||
            cudaEventRecord(e1, 0) || cudaEventSynchronize(e1) ||
            cudaEventElapsedTime(&t, e0, e1))
            st = gh_fail(GH_ECUDA, "bench_kernels: copy-bandwidth probe failed: %s",
                         cudaGetErrorString(cudaGetLastError()));
        if (i >= 3) ms[i - 3] = t;  // three warm-ups
        cudaEventDestroy(e0), cudaEventDestroy(e1);
    }
    if (!st) g->copy_gbps = 2.0 * bytes / (sample_quantiles(ms, 10).p50 * 1e-3) * 1e-9;
    if (a) gh_cuda_free(a);
    if (b) gh_cuda_free(b);
    return st;
}

typedef struct {
    float *flush;        // larger than L2, rewritten before every timed sample
    size_t flush_bytes;
    cudaEvent_t e0, e1;
} gpu_timer;

// One measurement's setting: the backend, the precision asked for and, for the BF16 baseline,
// tensors stored as BF16 (elem_bytes 2).
typedef struct {
    backend be;
    gh_precision prec;
    int elem_bytes;
} gpu_variant;

static int gpu_time(const bench_cfg *cfg, gpu_timer *tm, const gpu_variant *v,
                    const bench_case *bc, const kctx *ctx, float *const *t, int pass,
                    double *ms) {
    for (int i = 0; i < cfg->warmup; i++) {
        int st = run_pass(v->be, bc, ctx, t, pass, v->prec);
        if (st) return st;
    }
    CUDA_TRY(cudaDeviceSynchronize());
    for (int i = 0; i < cfg->repeats; i++) {
        // the op reads its inputs from HBM, as in a network where other layers ran between
        CUDA_TRY(cudaMemsetAsync(tm->flush, i & 0xff, tm->flush_bytes, 0));
        CUDA_TRY(cudaEventRecord(tm->e0, 0));
        int st = run_pass(v->be, bc, ctx, t, pass, v->prec);
        if (st) return st;
        CUDA_TRY(cudaEventRecord(tm->e1, 0));
        CUDA_TRY(cudaEventSynchronize(tm->e1));
        float f = 0;
        CUDA_TRY(cudaEventElapsedTime(&f, tm->e0, tm->e1));
        ms[i] = f;
    }
    return 0;
}

static void free_device(float **t) {
    for (int i = 0; i < T_COUNT; i++)
        if (t[i]) gh_cuda_free(t[i]), t[i] = NULL;
}

// FP32 to BF16 bits, round to nearest even (the inputs are finite: fill_host).
static uint16_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

// The case's tensors on the device, filled as fill_host does; elem_bytes 2: converted to BF16
// on the host once, before any timing (the buffers keep their FP32 size, half of it used).
static int alloc_device(const bench_case *bc, backend be, int elem_bytes, float **t,
                        size_t *len) {
    case_sizes(bc, be, len);
    for (int i = 0; i < T_COUNT; i++) t[i] = NULL;
    for (int i = 0; i < T_COUNT; i++) {
        if (!len[i]) continue;
        int st = gh_cuda_malloc((void **)&t[i], len[i] * sizeof(float));
        if (st) return free_device(t), st;
        if (i == T_WS) continue;
        float *h = malloc(len[i] * sizeof(float));
        if (!h) return free_device(t), gh_fail(GH_ENOMEM, "bench_kernels: host staging buffer");
        fill_host(h, len[i], i);
        if (elem_bytes == 2) {
            uint16_t *hb = (uint16_t *)h;  // in place: element j is read before it is overwritten
            for (size_t j = 0; j < len[i]; j++) hb[j] = bf16_bits(h[j]);
        }
        st = gh_cuda_memcpy_h2d(t[i], h, len[i] * (size_t)elem_bytes);
        free(h);
        if (st) return free_device(t), st;
    }
    return 0;
}

static int gpu_measure(const bench_cfg *cfg, gpu_timer *tm, const gpu_variant *v,
                       const bench_case *bc, int pass, double *ms, measure *m) {
    float *t[T_COUNT];
    size_t len[T_COUNT];
    int st = alloc_device(bc, v->be, v->elem_bytes, t, len);
    if (st) return st;
    kctx ctx = {.ws = t[T_WS], .ws_floats = len[T_WS], .stream = NULL, .deterministic = 0};
    st = gpu_time(cfg, tm, v, bc, &ctx, t, pass, ms);
    if (!st) *m = make_measure(bc, pass, ms, cfg->repeats, v->elem_bytes);
    free_device(t);
    return st;
}

// The baseline at `prec`: FP32 and TF32 on FP32 tensors, BF16 on BF16 tensors. When cuDNN
// refuses BF16 for a shape (no algorithm), the peer is cuDNN at TF32, named so in the table
// ("tf32*") and the CSV (backend cudnn_tf32), never silently.
static int gpu_measure_base(const bench_cfg *cfg, gpu_timer *tm, const bench_case *bc,
                            gh_precision prec, int pass, double *ms, measure *m,
                            gh_precision *ran) {
    gpu_variant v = {BK_BASE, prec, prec == GH_PREC_BF16 ? 2 : 4};
    *ran = prec;
    int st = gpu_measure(cfg, tm, &v, bc, pass, ms, m);
    if (st && prec == GH_PREC_BF16 && bc->kind == OP_CONV) {
        printf("note: %s %s %s: cuDNN BF16 failed (%s); the peer is cuDNN TF32\n", bc->name,
               pass_name[pass], bc->shape, gh_error_get());
        gh_error_clear();
        v = (gpu_variant){BK_BASE, GH_PREC_TF32, 4};
        *ran = GH_PREC_TF32;
        st = gpu_measure(cfg, tm, &v, bc, pass, ms, m);
    }
    return st;
}

typedef struct {
    double log_ratio[2];  // sum of log(ours/baseline) per pass
    int nratio[2];
    double conv_log_ratio[2];  // the same over the conv rows
    int nconv[2];
    double dw_min_frac[2];  // lowest fraction of peak HBM bandwidth among depthwise convs
    int ndw[2];
} gpu_summary;

// The math our kernel runs at a requested precision: the conv's tensor-core path leaves
// depthwise convs FP32 (tc_depthwise in kernels/cuda/conv_tc.cu: groups == c == k), and linear
// has no tensor-core path. Non-conv ops are precision-independent (timed in the first table).
static gh_precision ours_math(const bench_case *bc, gh_precision prec) {
    if (bc->kind == OP_CONV && !(bc->depthwise && bc->conv.k == bc->conv.c)) return prec;
    return GH_PREC_FP32;
}

static void gpu_row(const gpu_info *g, const bench_case *bc, gh_precision prec, int pass,
                    const measure *ours, const measure *base, gh_precision base_ran,
                    gpu_summary *sum) {
    char ratio[16] = "-", bms[16] = "-", gf[16] = "-", ff[16] = "-", bm[8] = "-";
    if (base) {
        double r = ours->ms.p50 / base->ms.p50;
        snprintf(ratio, sizeof ratio, "%.3f", r);
        snprintf(bms, sizeof bms, "%.4f", base->ms.p50);
        snprintf(bm, sizeof bm, "%s%s", gh_precision_name(base_ran), base_ran != prec ? "*" : "");
        sum->log_ratio[pass] += log(r);
        sum->nratio[pass]++;
        if (bc->kind == OP_CONV) sum->conv_log_ratio[pass] += log(r), sum->nconv[pass]++;
    }
    double fbw = ours->gbps / g->peak_gbps;
    gh_precision om = ours_math(bc, prec);
    if (bc->flops[pass] > 0) {
        snprintf(gf, sizeof gf, "%.0f", ours->gflops);
        if (g->peak_prec[om] > 0)
            snprintf(ff, sizeof ff, "%.1f%%", 100 * ours->gflops / g->peak_prec[om]);
    }
    if (bc->depthwise) {
        if (!sum->ndw[pass] || fbw < sum->dw_min_frac[pass]) sum->dw_min_frac[pass] = fbw;
        sum->ndw[pass]++;
    }
    printf("%-12s %-7s %-14s %4s %9.4f %9.4f %9.4f %5s %9s %7s %8.0f %6.1f%% %8s %6s\n",
           bc->name, pass_name[pass], bc->shape, gh_precision_name(om), ours->ms.p50,
           ours->ms.p10, ours->ms.p90, bm, bms, ratio, ours->gbps, 100 * fbw, gf, ff);
    fflush(stdout);
}

static void gpu_summary_print(const gpu_summary *s, gh_precision prec) {
    const char *pn = gh_precision_name(prec);
    printf("\nGPU summary, %s (ratio = hand-written / baseline time; < 1: ours faster)\n", pn);
    for (int p = 0; p < 2; p++) {
        if (s->nratio[p])
            printf("  %-7s geomean ratio over %d ops with a baseline: %.3f\n", pass_name[p],
                   s->nratio[p], exp(s->log_ratio[p] / s->nratio[p]));
        if (s->nconv[p])
            printf("  %-7s %s conv geomean ratio ours/cuDNN over %d convs: %.3f\n",
                   pass_name[p], pn, s->nconv[p], exp(s->conv_log_ratio[p] / s->nconv[p]));
        if (s->ndw[p])
            printf("  %-7s lowest depthwise-conv fraction of peak HBM bandwidth: %.1f%%\n",
                   pass_name[p], 100 * s->dw_min_frac[p]);
    }
    int nconv = s->nconv[0] + s->nconv[1];
    if (nconv)
        printf("%s conv geomean(ours/cuDNN) over %d rows (fwd and fwdbwd): %.3f\n", pn, nconv,
               exp((s->conv_log_ratio[0] + s->conv_log_ratio[1]) / nconv));
    // The targets are the FP32 table's (the issue's): tf32/bf16 are reported, not judged.
    if (prec != GH_PREC_FP32) return;
    int nall = s->nratio[0] + s->nratio[1];
    if (nall) {
        double gm = exp((s->log_ratio[0] + s->log_ratio[1]) / nall);
        printf("TARGET gpu geomean(hand-written/cuDNN) <= 1.0: %.3f %s\n", gm,
               gm <= 1.0 ? "met" : "NOT met");
    } else {
        printf("TARGET gpu geomean(hand-written/cuDNN) <= 1.0: no baseline in this build\n");
    }
    if (s->ndw[0] || s->ndw[1]) {
        double lo = s->ndw[0] ? s->dw_min_frac[0] : 1e9;
        if (s->ndw[1] && s->dw_min_frac[1] < lo) lo = s->dw_min_frac[1];
        printf("TARGET gpu depthwise convs >= 60%% of peak HBM bandwidth: lowest %.1f%% %s\n",
               100 * lo, lo >= 0.6 ? "met" : "NOT met");
    }
}

// The table at one precision; `first`: the first table, which also times the
// precision-independent ops (BN, ReLU, pools, wsum), once.
static int gpu_table_run(const bench_cfg *cfg, const gpu_info *g, gpu_timer *tm,
                         const bench_case *cs, int ncs, FILE *csv, gh_precision prec,
                         int first, double *ms) {
    int have_base = gh_cudnn_version() > 0 && gh_cublas_version() > 0;
    const char *pn = gh_precision_name(prec);
    printf("\n-- %s: ours at %s%s; baseline at %s --\n", pn, pn,
           prec == GH_PREC_FP32 ? ""
                                : " (conv2d_*_prec_cuda: tensor cores, FP32 tensors rounded "
                                  "while staged; depthwise convs and linear run FP32)",
           prec == GH_PREC_FP32   ? "FP32 FMA (cuDNN CUDNN_FMA_MATH, cuBLAS COMPUTE_32F)"
           : prec == GH_PREC_TF32 ? "TF32 (FP32 tensors; cuDNN CUDNN_DEFAULT_MATH, cuBLAS "
                                    "COMPUTE_32F_FAST_TF32)"
                                  : "BF16 (BF16 tensors in memory, FP32 compute: half our "
                                    "bytes; GB/s and %BW are ours)");
    printf("%-12s %-7s %-14s %4s %9s %9s %9s %5s %9s %7s %8s %7s %8s %6s\n", "op", "pass",
           "shape", "math", "cuda_ms", "p10_ms", "p90_ms", "bmath", "base_ms", "ratio", "GB/s",
           "%BW", "GFLOP/s", "%peak");
    gpu_summary sum;
    memset(&sum, 0, sizeof sum);
    int st = 0, total = 0, done = 0;
    for (int i = 0; i < ncs; i++)
        total += case_selected(cfg, &cs[i]) && (first || precision_dependent(&cs[i]));
    double t0 = gh_wall_seconds();
    for (int i = 0; i < ncs && !st; i++) {
        const bench_case *bc = &cs[i];
        if (!case_selected(cfg, bc) || !(first || precision_dependent(bc))) continue;
        for (int pass = 0; pass < 2 && !st; pass++) {
            measure ours, base;
            gh_precision ran = prec;
            int with_base = have_base && bc->has_baseline;
            gpu_variant v = {BK_CUDA, prec, 4};
            st = gpu_measure(cfg, tm, &v, bc, pass, ms, &ours);
            // the CSV's precision: the table's, fp32 for the precision-independent ops
            gh_precision cp = precision_dependent(bc) ? prec : GH_PREC_FP32;
            if (!st) csv_row(csv, bc, pass, backend_label(BK_CUDA, bc), cp, &ours);
            if (!st && with_base) st = gpu_measure_base(cfg, tm, bc, cp, pass, ms, &base, &ran);
            if (!st && with_base)
                csv_row(csv, bc, pass, ran == cp ? backend_label(BK_BASE, bc) : "cudnn_tf32", cp,
                        &base);
            if (!st) gpu_row(g, bc, cp, pass, &ours, with_base ? &base : NULL, ran, &sum);
        }
        progress(++done, total, t0);
    }
    if (!st) gpu_summary_print(&sum, prec);
    return st;
}

static int gpu_cases(const bench_cfg *cfg, const gpu_info *g, gpu_timer *tm,
                     const bench_case *cs, int ncs, FILE *csv) {
    double *ms = malloc((size_t)cfg->repeats * sizeof *ms);
    if (!ms) return gh_fail(GH_ENOMEM, "bench_kernels: cannot allocate the sample array");
    int st = 0;
    for (int k = 0; k < cfg->nprec && !st; k++)
        st = gpu_table_run(cfg, g, tm, cs, ncs, csv, cfg->precs[k], k == 0, ms);
    free(ms);
    return st;
}

static int gpu_run(const bench_cfg *cfg, const bench_case *cs, int ncs, FILE *csv) {
    printf("\n== GPU: hand-written _cuda kernels beside cuDNN/cuBLAS ==\n");
    if (gh_cuda_device_count() == 0) {
        printf("gpu: SKIPPED: no CUDA device visible (gh_cuda_device_count() == 0)\n");
        return 0;
    }
    int st = gh_cuda_set_device(0);
    gpu_info g;
    if (!st) st = gpu_probe(&g);
    if (!st) st = gpu_copy_bandwidth(&g);
    if (st) return st;
    printf("gpu: %s, cc %d.%d, %d SMs, L2 %.1f MiB\n", g.name, g.cc_major, g.cc_minor, g.sms,
           g.l2_bytes / 1048576.0);
    printf("gpu: peak HBM %.0f GB/s (%s; datasheet %.0f), measured d2d copy %.0f GB/s (%.0f%% "
           "of peak), peak FP32 %.0f GFLOP/s (%s)\n", g.peak_gbps, g.bw_source, g.sheet_gbps,
           g.copy_gbps, 100 * g.copy_gbps / g.peak_gbps, g.peak_gflops, g.flop_source);
    printf("gpu: peak tensor cores TF32 %.0f GFLOP/s, BF16 %.0f GFLOP/s (%s)\n",
           g.peak_prec[GH_PREC_TF32], g.peak_prec[GH_PREC_BF16], g.tc_source);
    printf("gpu: timing: cudaEvents around each call, L2 flushed before each of %d repeats; "
           "%%BW against the peak HBM bandwidth, %%peak against the peak of the math our "
           "kernel ran (column math)\n", cfg->repeats);
    if (csv)
        fprintf(csv, "# gpu: %s peak_gbps=%.0f (%s) copy_gbps=%.0f peak_fp32_gflops=%.0f (%s) "
                     "peak_tf32_gflops=%.0f peak_bf16_gflops=%.0f (%s)\n",
                g.name, g.peak_gbps, g.bw_source, g.copy_gbps, g.peak_gflops, g.flop_source,
                g.peak_prec[GH_PREC_TF32], g.peak_prec[GH_PREC_BF16], g.tc_source);
    gpu_timer tm = {.flush_bytes = 2 * (g.l2_bytes ? g.l2_bytes : (size_t)64 << 20)};
    st = gh_cuda_malloc((void **)&tm.flush, tm.flush_bytes);
    if (st) return st;
    if (cudaEventCreate(&tm.e0) != cudaSuccess || cudaEventCreate(&tm.e1) != cudaSuccess) {
        gh_cuda_free(tm.flush);
        return gh_fail(GH_ECUDA, "bench_kernels: cudaEventCreate failed");
    }
    st = gpu_cases(cfg, &g, &tm, cs, ncs, csv);
    cudaEventDestroy(tm.e0), cudaEventDestroy(tm.e1);
    gh_cuda_free(tm.flush);
    return st;
}
#else
static int gpu_run(const bench_cfg *cfg, const bench_case *cs, int ncs, FILE *csv) {
    (void)cfg, (void)cs, (void)ncs, (void)csv;
    printf("\n== GPU ==\ngpu: SKIPPED: bench_kernels was built without CUDA (configure with "
           "-DGH_CUDA=ON)\n");
    return 0;
}
#endif

// ---- command line -----------------------------------------------------------------------------
static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_kernels [options]\n"
            "Times forward and forward+backward of each DARTS search-space op at the search\n"
            "shapes (batch 64; C=16/32/64 at 32x32/16x16/8x8, stem, classifier).\n"
            "  -t, --threads N       CPU threads (OpenMP; default: nproc)\n"
            "  -r, --repeats N       timed samples per op and pass (default 30)\n"
            "  -w, --warmup N        untimed samples first (default 3)\n"
            "  -m, --min-sample-ms X CPU: repeat the op within one sample until X ms (default 2)\n"
            "  -s, --max-op-s X      CPU: stop sampling an op after X s, keeping >= 5 (default 3)\n"
            "  -q, --quick           10 repeats, 1 warm-up, 1 s per op at most\n"
            "  -c, --cpu             run the CPU benchmark (default unless --gpu is given)\n"
            "  -g, --gpu             run the GPU benchmark (hand-written vs cuDNN/cuBLAS)\n"
            "  -p, --precision LIST  GPU tables at fp32, tf32, bf16 or a list (fp32,tf32,bf16,\n"
            "                        run in that order; default fp32): at tf32/bf16 the convs\n"
            "                        time conv2d_*_prec_cuda (tensor cores; depthwise stays\n"
            "                        FP32) beside cuDNN at the same math, linear our FP32 kernel\n"
            "                        beside cuBLAS at it; BN, ReLU, pools and wsum are timed once,\n"
            "                        in the first table. The CPU path is FP32 only: tf32/bf16\n"
            "                        need --gpu\n"
            "  -o, --csv FILE        write op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps,\n"
            "                        precision\n"
            "  -f, --filter STR      only ops whose name contains STR\n"
            "  -h, --help            this text\n");
}

static int parse_int(const char *opt, const char *s, int lo, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 1000000)
        return gh_fail(GH_EINVAL, "--%s: expected an integer >= %d, found '%s'", opt, lo, s);
    *out = (int)v;
    return 0;
}

static int parse_pos(const char *opt, const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0))
        return gh_fail(GH_EINVAL, "--%s: expected a positive number, found '%s'", opt, s);
    *out = v;
    return 0;
}

// --precision: a comma-separated list of distinct precision names, kept in the enum's order
// (fp32 first), so that the precision-independent ops, timed in the first table, are in the
// FP32 table and its TARGET lines whenever fp32 is asked for.
static int parse_precisions(const char *text, bench_cfg *cfg) {
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return gh_fail(GH_EINVAL, "--precision: '%s' is too long (fp32, tf32, bf16 or a "
                                  "comma-separated list of them)", text);
    cfg->nprec = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        gh_precision p;
        if (gh_precision_parse(tok, &p))
            return gh_fail(GH_EINVAL, "--precision: '%s': expected fp32, tf32 or bf16", tok);
        for (int i = 0; i < cfg->nprec; i++)
            if (cfg->precs[i] == p)
                return gh_fail(GH_EINVAL, "--precision: %s is listed twice in '%s'", tok, text);
        int at = cfg->nprec++;
        for (; at > 0 && cfg->precs[at - 1] > p; at--) cfg->precs[at] = cfg->precs[at - 1];
        cfg->precs[at] = p;
    }
    if (!cfg->nprec)
        return gh_fail(GH_EINVAL, "--precision: empty; expected fp32, tf32 or bf16");
    return 0;
}

// 0: run; -1: --help printed; a gh_status: bad arguments (message in gh_error_get()).
static int parse_args(int argc, char **argv, bench_cfg *cfg) {
    static const struct option opts[] = {
        {"threads", required_argument, 0, 't'}, {"repeats", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'},  {"min-sample-ms", required_argument, 0, 'm'},
        {"max-op-s", required_argument, 0, 's'}, {"quick", no_argument, 0, 'q'},
        {"cpu", no_argument, 0, 'c'},           {"gpu", no_argument, 0, 'g'},
        {"csv", required_argument, 0, 'o'},     {"filter", required_argument, 0, 'f'},
        {"precision", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int opt, st = 0, cpu_flag = 0;
    while (!st && (opt = getopt_long(argc, argv, "t:r:w:m:s:qcgo:f:p:h", opts, NULL)) != -1) {
        switch (opt) {
        case 't': st = parse_int("threads", optarg, 1, &cfg->threads); break;
        case 'r': st = parse_int("repeats", optarg, 1, &cfg->repeats); break;
        case 'w': st = parse_int("warmup", optarg, 0, &cfg->warmup); break;
        case 'm': st = parse_pos("min-sample-ms", optarg, &cfg->min_sample_ms); break;
        case 's': st = parse_pos("max-op-s", optarg, &cfg->max_op_s); break;
        case 'q': cfg->repeats = 10, cfg->warmup = 1, cfg->max_op_s = 1.0; break;
        case 'c': cpu_flag = 1; break;
        case 'g': cfg->run_gpu = 1; break;
        case 'o': cfg->csv_path = optarg; break;
        case 'f': cfg->filter = optarg; break;
        case 'p': st = parse_precisions(optarg, cfg); break;
        case 'h': usage(stdout); return -1;
        default: return gh_fail(GH_EINVAL, "unknown option (see --help)");
        }
    }
    if (!st && optind < argc)
        st = gh_fail(GH_EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
    cfg->run_cpu = cpu_flag || !cfg->run_gpu;
    // The CPU path computes FP32 only; with --gpu too, its table stays FP32 (precision column).
    for (int i = 0; !st && !cfg->run_gpu && i < cfg->nprec; i++)
        if (cfg->precs[i] != GH_PREC_FP32)
            st = gh_fail(GH_EINVAL, "--precision %s: the CPU path computes FP32 only; tf32 and "
                                    "bf16 time the CUDA kernels (add --gpu)",
                         gh_precision_name(cfg->precs[i]));
    return st;
}

int main(int argc, char **argv) {
    bench_cfg cfg;
    cfg_defaults(&cfg);
    int st = parse_args(argc, argv, &cfg);
    if (st < 0) return 0;
    if (st) {
        fprintf(stderr, "bench_kernels: %s\n", gh_error_get());
        return 2;
    }
    // The _cpu path parallelises with OpenMP and keeps OpenBLAS single-threaded inside its
    // threads (kernels/cpu/info.c), so the OpenMP count is the whole thread budget.
    omp_set_num_threads(cfg.threads);

    bench_case cs[MAX_CASES];
    int ncs = build_cases(cs);
    _Static_assert(MAX_CASES >= 3 * 11 + 2, "MAX_CASES too small for the case list");

    FILE *csv = NULL;
    if (cfg.csv_path && !(csv = fopen(cfg.csv_path, "w"))) {
        fprintf(stderr, "bench_kernels: cannot write --csv %s\n", cfg.csv_path);
        return 1;
    }
    provenance(stdout, "", &cfg, argc, argv);
    if (csv) {
        provenance(csv, "# ", &cfg, argc, argv);
        fprintf(csv, "op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps,precision\n");
    }
    printf("bytes: compulsory traffic (inputs read once, outputs written once, gradients "
           "read+written); fwdbwd = fwd + bwd\n");
    if (cfg.run_cpu) st = cpu_run(&cfg, cs, ncs, csv);
    if (!st && cfg.run_gpu) st = gpu_run(&cfg, cs, ncs, csv);
    if (csv) fclose(csv);
    if (st) {
        fprintf(stderr, "bench_kernels: %s (%s)\n", gh_error_get(), gh_status_str(st));
        return 1;
    }
    return 0;
}
