// kernels/cpu: what conv.c and conv_depthwise.c share: the workspace
// split per thread, and the depthwise direct path.
#pragma once
#include "cpu.h"

// groups == c == k: one filter per channel.
int conv_is_depthwise(const conv2d_shape *sh);
// Threads that ctx->ws allows at `per` floats each (capped by gh_cpu_nthreads()); 0 with the
// error set when not even one fits.
int conv_ws_threads(const char *op, const kctx *ctx, size_t per);
// db[k] += sum of dy over samples and the output plane.
void conv_db_add(const conv2d_shape *sh, const float *dy, float *db);

// Depthwise direct path (conv_depthwise.c); sh is validated and normalised.
size_t conv_dw_per_thread(const conv2d_shape *sh);
int conv_dw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y);
int conv_dw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw, float *db);

// Stride-1 depthwise as flat correlations (conv_dw_flat.c), when conv_dwflat_ok(sh).
int conv_dwflat_ok(const conv2d_shape *sh);
size_t conv_dwflat_per_thread(const conv2d_shape *sh);
int conv_dwflat_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *b, float *y);
int conv_dwflat_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *dy, float *dx, float *dw);

// Strided 1x1 convs without padding on small planes, one GEMM per run of samples
// (conv_pointwise.c), when conv_pw_ok(sh); sh is validated and normalised.
int conv_pw_ok(const conv2d_shape *sh);
size_t conv_pw_ws_floats(const conv2d_shape *sh, int nt);
int conv_pw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y);
int conv_pw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw);
