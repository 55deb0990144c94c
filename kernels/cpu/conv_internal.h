// kernels/cpu: what conv.c and conv_depthwise.c share: the workspace
// split per thread, and the depthwise direct path.
#pragma once
#include <stdint.h>
#include <string.h>

#include "cpu.h"

// groups == c == k: one filter per channel.
int conv_is_depthwise(const conv2d_shape *sh);
// Threads that ctx->ws allows at `per` floats each (capped by gh_cpu_nthreads()); 0 with the
// error set when not even one fits.
int conv_ws_threads(const char *op, const kctx *ctx, size_t per);
// db[k] += sum of dy over samples and the output plane.
void conv_db_add(const conv2d_shape *sh, const float *dy, float *db);

// Depthwise direct path (conv_depthwise.c); sh is validated and normalised. relu: the conv of
// relu(x) (conv2d_relu_fwd/_bwd): ReLU applied where a plane of x is copied into the padded
// buffer, and dx accumulated only where x > 0.
size_t conv_dw_per_thread(const conv2d_shape *sh);
int conv_dw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y, int relu);
int conv_dw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw, float *db, int relu);

// Stride-1 depthwise as flat correlations (conv_dw_flat.c), when conv_dwflat_ok(sh); relu as
// for conv_dw_fwd/_bwd.
int conv_dwflat_ok(const conv2d_shape *sh);
size_t conv_dwflat_per_thread(const conv2d_shape *sh);
int conv_dwflat_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *b, float *y, int relu);
int conv_dwflat_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                    const float *dy, float *dx, float *dw, int relu);

// relu_fwd_cpu's value (NaN propagates, -0 becomes 0), as one comparison that vectorises as a
// blend (relu_fwd_cpu's `v > 0 || v != v` left the plane copies scalar and branching)
static inline float conv_relu(float v) { return !(v <= 0.0f) ? v : 0.0f; }

// m > 0 ? v : +0 (relu_bwd_cpu's mask) by a bit mask: strided loops that do not vectorise then
// do not branch on the sign of m
static inline float conv_keep_pos(float m, float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u &= (uint32_t)0 - (uint32_t)(m > 0.0f);
    memcpy(&v, &u, sizeof v);
    return v;
}

// Strided 1x1 convs without padding on small planes, one GEMM per run of samples
// (conv_pointwise.c), when conv_pw_ok(sh); sh is validated and normalised.
int conv_pw_ok(const conv2d_shape *sh);
size_t conv_pw_ws_floats(const conv2d_shape *sh, int nt);
int conv_pw_fwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *b, float *y);
int conv_pw_bwd(const kctx *ctx, const conv2d_shape *sh, const float *x, const float *w,
                const float *dy, float *dx, float *dw);
