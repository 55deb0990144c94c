// kernels/cuda: dropout and drop-path with masks recomputed from gh_uniform(mask seed, index)
// (base.h, __host__ __device__), so the masks are bit-identical to the CPU ops' and no mask
// is stored between forward and backward. The mask seed is gh_hash64(*seed, op), computed on the
// device from the step's seed in device memory: the launch's arguments stay the same from step
// to step, so a captured graph replays it with the seed of the step it runs in.
#include <math.h>

#include "elementwise.cuh"

namespace {

// The op's mask seed: the step's seed is one word every thread reads (an L1 broadcast); the hash
// costs one gh_hash64 per quad or tail element beside the four (one) the masks take.
__device__ __forceinline__ uint64_t mask_seed(const uint64_t *seed, uint64_t op) {
    return gh_hash64(__ldg(reinterpret_cast<const unsigned long long *>(seed)), op);
}

// dropout: element i kept iff gh_uniform(mask seed, i) >= p; kept values scaled by 1/(1-p).
// ADD: out += in*mask*scale (backward), else out = in*mask*scale (forward).
template <bool ADD>
struct dropout_op {
    const float *in;
    float *out;
    float p, scale;
    const uint64_t *seed;
    uint64_t op;
    __device__ bool keep(uint64_t ms, size_t i) const {
        return gh_uniform(ms, (uint64_t)i) >= p;
    }
    // A dropped element is 0 (forward) or adds nothing (backward), as in the reference: a
    // multiply by a 0 mask would turn an inf or NaN input into NaN.
    __device__ float fwd(uint64_t ms, float v, size_t i) const {
        return keep(ms, i) ? v * scale : 0.0f;
    }
    __device__ float bwd(uint64_t ms, float o, float v, size_t i) const {
        return keep(ms, i) ? o + v * scale : o;
    }
    __device__ void one(size_t i) const {
        uint64_t ms = mask_seed(seed, op);
        if (ADD) out[i] = bwd(ms, out[i], in[i], i); else out[i] = fwd(ms, in[i], i);
    }
    __device__ void quad(size_t i) const {
        uint64_t ms = mask_seed(seed, op);
        float4 v = gh_ld4(in, i);
        size_t e = 4 * i;
        if (ADD) {
            float4 o = gh_ld4(out, i);
            v = make_float4(bwd(ms, o.x, v.x, e), bwd(ms, o.y, v.y, e + 1),
                            bwd(ms, o.z, v.z, e + 2), bwd(ms, o.w, v.w, e + 3));
        } else {
            v = make_float4(fwd(ms, v.x, e), fwd(ms, v.y, e + 1), fwd(ms, v.z, e + 2),
                            fwd(ms, v.w, e + 3));
        }
        gh_st4(out, i, v);
    }
};

// drop-path: sample b (elements [b*per, (b+1)*per)) kept iff gh_uniform(mask seed, b) >= p.
template <bool ADD>
struct droppath_op {
    const float *in;
    float *out;
    size_t per;
    float p, scale;
    const uint64_t *seed;
    uint64_t op;
    bool idx32;  // n * per < 2^31 (gh_idx32): the sample index is a 32-bit division
    __device__ bool keep(uint64_t ms, size_t i) const {
        const uint64_t b = idx32 ? (uint64_t)((uint32_t)i / (uint32_t)per) : (uint64_t)(i / per);
        return gh_uniform(ms, b) >= p;
    }
    __device__ float fwd(uint64_t ms, float v, size_t i) const {
        return keep(ms, i) ? v * scale : 0.0f;
    }
    __device__ float bwd(uint64_t ms, float o, float v, size_t i) const {
        return keep(ms, i) ? o + v * scale : o;
    }
    __device__ void one(size_t i) const {
        uint64_t ms = mask_seed(seed, op);
        if (ADD) out[i] = bwd(ms, out[i], in[i], i); else out[i] = fwd(ms, in[i], i);
    }
    __device__ void quad(size_t i) const {
        uint64_t ms = mask_seed(seed, op);
        float4 v = gh_ld4(in, i);
        size_t e = 4 * i;
        if (ADD) {
            float4 o = gh_ld4(out, i);
            v = make_float4(bwd(ms, o.x, v.x, e), bwd(ms, o.y, v.y, e + 1),
                            bwd(ms, o.z, v.z, e + 2), bwd(ms, o.w, v.w, e + 3));
        } else {
            v = make_float4(fwd(ms, v.x, e), fwd(ms, v.y, e + 1), fwd(ms, v.z, e + 2),
                            fwd(ms, v.w, e + 3));
        }
        gh_st4(out, i, v);
    }
};

int p_check(const char *op, float p) {
    if (!(p >= 0.0f && p <= 1.0f))
        return gh_fail(GH_EINVAL, "%s: drop probability p=%g must be in [0, 1]", op, (double)p);
    return GH_OK;
}
// 1/(1-p); p = 1 drops everything (scale unused, 0 avoids inf*0 = NaN).
float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

}  // namespace

extern "C" {

int dropout_fwd_cuda(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                     const float *x, float *y) {
    GH_TRY(p_check("dropout_fwd_cuda", p));
    GH_CUDA_NEED("dropout_fwd_cuda", seed);
    if (n == 0) return GH_OK;
    GH_CUDA_NEED("dropout_fwd_cuda", x);
    GH_CUDA_NEED("dropout_fwd_cuda", y);
    int vec = gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("dropout_fwd", ctx, n, vec,
                        dropout_op<false>{x, y, p, keep_scale(p), seed, op});
}

int dropout_bwd_cuda(const kctx *ctx, size_t n, float p, const uint64_t *seed, uint64_t op,
                     const float *dy, float *dx) {
    GH_TRY(p_check("dropout_bwd_cuda", p));
    GH_CUDA_NEED("dropout_bwd_cuda", seed);
    if (n == 0 || !dx) return GH_OK;
    GH_CUDA_NEED("dropout_bwd_cuda", dy);
    int vec = gh_aligned16(dy) && gh_aligned16(dx);
    return gh_ew_launch("dropout_bwd", ctx, n, vec,
                        dropout_op<true>{dy, dx, p, keep_scale(p), seed, op});
}

int droppath_fwd_cuda(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                      uint64_t op, const float *x, float *y) {
    GH_TRY(p_check("droppath_fwd_cuda", p));
    GH_CUDA_NEED("droppath_fwd_cuda", seed);
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_fwd_cuda: n=%d must be >= 0", n);
    if (n == 0 || per == 0) return GH_OK;
    GH_CUDA_NEED("droppath_fwd_cuda", x);
    GH_CUDA_NEED("droppath_fwd_cuda", y);
    int vec = gh_aligned16(x) && gh_aligned16(y);
    return gh_ew_launch("droppath_fwd", ctx, (size_t)n * per, vec,
                        droppath_op<false>{x, y, per, p, keep_scale(p), seed, op,
                                          gh_idx32((size_t)n * per) != 0});
}

int droppath_bwd_cuda(const kctx *ctx, int n, size_t per, float p, const uint64_t *seed,
                      uint64_t op, const float *dy, float *dx) {
    GH_TRY(p_check("droppath_bwd_cuda", p));
    GH_CUDA_NEED("droppath_bwd_cuda", seed);
    if (n < 0) return gh_fail(GH_EINVAL, "droppath_bwd_cuda: n=%d must be >= 0", n);
    if (n == 0 || per == 0 || !dx) return GH_OK;
    GH_CUDA_NEED("droppath_bwd_cuda", dy);
    int vec = gh_aligned16(dy) && gh_aligned16(dx);
    return gh_ew_launch("droppath_bwd", ctx, (size_t)n * per, vec,
                        droppath_op<true>{dy, dx, per, p, keep_scale(p), seed, op,
                                         gh_idx32((size_t)n * per) != 0});
}

}  // extern "C"
