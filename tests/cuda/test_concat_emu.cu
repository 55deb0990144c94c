// tests/cuda: the data-movement kernels' index decoding on the CPU (no GPU needed), with the
// kernels' own __host__ __device__ code (kernels/cuda/concat.cuh: slab_at, shift_src;
// cuda_common.cuh: gh_rowcol, the carry walk gh_rc_walk of conv_db_kernel), on both index
// types the launchers pick from (uint32_t and size_t). Checks: concat and slice forward and
// backward (the slab copy and add, scalar and in float4 units), the shift/crop of
// FactorizedReduce forward and backward and global average pooling's backward equal the C
// reference exactly on both index types; the carry walk visits the rows and columns a
// division gives; the host's choice of index width (slab_idx32, shift_idx32, gh_idx32) at the
// 2^31 boundary, and the 32-bit decoding equal to the 64-bit one at indices just below it
// (a tensor that large is not allocated: the decoding is pure arithmetic).
#include <string.h>

#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/concat.cuh"

static const kctx REF = {0};

// slab_kernel<ADD, VEC, I> over every element: units of `width` floats (4 with VEC).
template <typename I>
static void replay_slab(bool add, int width, int n, size_t len, const float *src, size_t sstride,
                        float *dst, size_t dstride) {
    const size_t L = len / width, SS = sstride / width, DS = dstride / width;
    const I total = (I)n * (I)L;
    for (I i = 0; i < total; i++) {
        size_t so, dof;
        slab_at<I>(i, (I)L, SS, DS, &so, &dof);
        for (int e = 0; e < width; e++) {
            if (add) dst[dof * width + e] += src[so * width + e];
            else dst[dof * width + e] = src[so * width + e];
        }
    }
}

// concat_fwd_cuda's and concat_bwd_cuda's slabs, one per input.
template <typename I>
static void replay_concat(int width, int n, int hw, int k, const int *cs, int ctot,
                          const std::vector<std::vector<float>> &xs, std::vector<float> &y,
                          const std::vector<float> &dy, std::vector<std::vector<float>> &dxs) {
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        const size_t len = (size_t)cs[i] * hw;
        replay_slab<I>(false, width, n, len, xs[i].data(), len, y.data() + off, (size_t)ctot * hw);
        replay_slab<I>(true, width, n, len, dy.data() + off, (size_t)ctot * hw, dxs[i].data(), len);
        off += len;
    }
}

template <typename I>
static void run_concat(const char *iname, int n, int hw, std::vector<int> cs, gh_rng *rng) {
    const int k = (int)cs.size();
    int ctot = 0;
    for (int c : cs) ctot += c;
    const size_t ny = (size_t)n * ctot * hw;
    std::vector<std::vector<float>> xs, dxs, rdxs;
    std::vector<const float *> px;
    std::vector<float *> prdx;
    for (int c : cs) {
        xs.push_back(emu_rnd(rng, (size_t)n * c * hw, 1));
        dxs.push_back(emu_rnd(rng, (size_t)n * c * hw, 1));
    }
    rdxs = dxs;
    for (int i = 0; i < k; i++) {
        px.push_back(xs[i].data());
        prdx.push_back(rdxs[i].data());
    }
    std::vector<float> dy = emu_rnd(rng, ny, 1), ry(ny);
    CHECK_OK(concat_fwd_ref(&REF, n, hw, k, cs.data(), px.data(), ry.data()));
    CHECK_OK(concat_bwd_ref(&REF, n, hw, k, cs.data(), dy.data(), prdx.data()));
    // float4 units where the launcher would take them (every len and stride a multiple of 4)
    const int vec = hw % 4 == 0;
    char what[160];
    for (int width = 1; width <= (vec ? 4 : 1); width += 3) {
        std::vector<float> y(ny, NAN);
        std::vector<std::vector<float>> d = dxs;
        replay_concat<I>(width, n, hw, k, cs.data(), ctot, xs, y, dy, d);
        snprintf(what, sizeof what, "concat fwd n%d hw%d k%d %s%s", n, hw, k, iname,
                 width == 4 ? " float4" : "");
        emu_compare(what, y, ry, 1);
        for (int i = 0; i < k; i++) {
            snprintf(what, sizeof what, "concat bwd [%d] n%d hw%d %s%s", i, n, hw, iname,
                     width == 4 ? " float4" : "");
            emu_compare(what, d[i], rdxs[i], 1);
        }
    }
    // slice_fwd_cuda / slice_bwd_cuda: channels [c0, c0 + cn) of the concat output
    const int c0 = 1, cn = ctot - 2;
    const size_t len = (size_t)cn * hw, ns = (size_t)n * len;
    std::vector<float> rs(ns), sdy = emu_rnd(rng, ns, 1), rsdx = dy;
    CHECK_OK(slice_fwd_ref(&REF, n, ctot, hw, c0, cn, ry.data(), rs.data()));
    CHECK_OK(slice_bwd_ref(&REF, n, ctot, hw, c0, cn, sdy.data(), rsdx.data()));
    std::vector<float> s(ns, NAN), sdx = dy;
    replay_slab<I>(false, 1, n, len, ry.data() + (size_t)c0 * hw, (size_t)ctot * hw, s.data(), len);
    replay_slab<I>(true, 1, n, len, sdy.data(), len, sdx.data() + (size_t)c0 * hw,
                   (size_t)ctot * hw);
    snprintf(what, sizeof what, "slice fwd n%d c%d [%d, %d) %s", n, ctot, c0, c0 + cn, iname);
    emu_compare(what, s, rs, 1);
    snprintf(what, sizeof what, "slice bwd n%d c%d [%d, %d) %s", n, ctot, c0, c0 + cn, iname);
    emu_compare(what, sdx, rsdx, 1);
}

// shift_fwd_kernel<I> and shift_bwd_kernel<I> over every output element. Returns the outputs
// whose source falls outside x (the zero branch).
template <typename I>
static int run_shift(const char *iname, shift_geom g, gh_rng *rng) {
    const size_t nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.c * g.ho * g.wo;
    std::vector<float> x = emu_rnd(rng, nx, 1), dy = emu_rnd(rng, ny, 1), dx0 = emu_rnd(rng, nx, 1);
    std::vector<float> ry(ny), rdx = dx0, y(ny, NAN), dx = dx0;
    CHECK_OK(shift_fwd_ref(&REF, g.n, g.c, g.h, g.w, g.dh, g.dw, g.ho, g.wo, x.data(), ry.data()));
    CHECK_OK(shift_bwd_ref(&REF, g.n, g.c, g.h, g.w, g.dh, g.dw, g.ho, g.wo, dy.data(), rdx.data()));
    int inside = 0;
    for (I i = 0; i < (I)ny; i++) {
        const long long s = shift_src<I>(g, i);
        y[i] = s >= 0 ? x[s] : 0.0f;
        if (s >= 0) dx[s] += dy[i];
        inside += s >= 0;
    }
    char what[160];
    snprintf(what, sizeof what, "shift fwd [%d,%d,%d,%d] by (%d, %d) to %dx%d %s", g.n, g.c, g.h,
             g.w, g.dh, g.dw, g.ho, g.wo, iname);
    emu_compare(what, y, ry, 1);
    snprintf(what, sizeof what, "shift bwd [%d,%d,%d,%d] by (%d, %d) to %dx%d %s", g.n, g.c, g.h,
             g.w, g.dh, g.dw, g.ho, g.wo, iname);
    emu_compare(what, dx, rdx, 1);
    return (int)ny - inside;
}

// gap_bwd_kernel<I>: dx[i] += dy[row(i)] / hw.
template <typename I>
static void run_gap_bwd(const char *iname, int n, int c, int hw, gh_rng *rng) {
    const size_t nx = (size_t)n * c * hw;
    std::vector<float> dy = emu_rnd(rng, (size_t)n * c, 1), dx0 = emu_rnd(rng, nx, 1);
    std::vector<float> rdx = dx0, dx = dx0;
    CHECK_OK(gap_bwd_ref(&REF, n, c, hw, dy.data(), rdx.data()));
    for (I i = 0; i < (I)nx; i++) {
        I row, j;
        gh_rowcol<I>(i, (I)hw, &row, &j);
        dx[i] += dy[row] / (float)hw;
    }
    char what[160];
    snprintf(what, sizeof what, "gap bwd n%d c%d hw%d %s", n, c, hw, iname);
    emu_compare(what, dx, rdx, 1);   // the same float division: exact
}

// conv_db_kernel's walk: thread t of DB_THREADS visits t, t + 256, ... of an n x pq matrix.
static void test_walk(void) {
    const int pqs[] = {1, 3, 49, 64, 255, 256, 257, 1024, 3136};
    int bad = 0, walks = 0;
    for (int pq : pqs) {
        const int n = 5;
        const size_t cnt = (size_t)n * pq;
        for (int t = 0; t < 256; t++) {
            gh_rc_walk w = gh_rc_walk_at(t, 256, pq);
            walks++;
            for (size_t i = t; i < cnt; i += 256, gh_rc_next(&w))
                if ((size_t)w.row != i / pq || (size_t)w.col != i % pq) {
                    if (bad++ < 5)
                        fprintf(stderr, "walk pq %d thread %d: element %zu at (%d, %d), not "
                                "(%zu, %zu)\n", pq, t, i, w.row, w.col, i / pq, i % pq);
                }
        }
    }
    CHECK_MSG(bad == 0, "%d elements of %d walks decoded wrongly", bad, walks);
}

// The index width the launchers choose, and the 32-bit decoding against the 64-bit one at the
// top of the 32-bit range (where a wrapped offset would show).
static void test_dispatch(void) {
    CHECK(gh_idx32((size_t)INT32_MAX));
    CHECK(!gh_idx32((size_t)INT32_MAX + 1));
    // slab: n * len elements; the strides do not matter (offsets are 64-bit)
    CHECK(slab_idx32(32, (size_t)16 * 1024 * 1024 - 1));
    CHECK(!slab_idx32(128, (size_t)16 * 1024 * 1024));   // exactly 2^31
    CHECK(slab_idx32(1, (size_t)INT32_MAX));
    CHECK(!slab_idx32(3, (size_t)INT32_MAX / 2));
    // shift: the output and the input must both fit
    const shift_geom small = {64, 16, 33, 33, 1, 1, 32, 32};
    CHECK(shift_idx32(small));
    const shift_geom y_big = {1024, 512, 65, 65, 1, 1, 64, 64};       // y exactly 2^31
    CHECK((size_t)1024 * 512 * 64 * 64 == ((size_t)1 << 31));
    CHECK(!shift_idx32(y_big));
    const shift_geom in_big = {1024, 511, 65, 65, 1, 1, 64, 64};       // y < 2^31 <= x
    CHECK((size_t)1024 * 511 * 64 * 64 < ((size_t)1 << 31));
    CHECK((size_t)1024 * 511 * 65 * 65 > (size_t)INT32_MAX);
    CHECK(!shift_idx32(in_big));
    const shift_geom both = {1024, 480, 65, 65, 1, 1, 64, 64};         // both below 2^31
    CHECK((size_t)1024 * 480 * 65 * 65 <= (size_t)INT32_MAX);
    CHECK(shift_idx32(both));

    // slab_at: rows of len near the top, strides that put offsets past 2^32
    const uint32_t len = 12345;
    const size_t sstride = (size_t)3 << 20, dstride = (size_t)5 << 21;
    int bad = 0;
    for (uint32_t i = (uint32_t)INT32_MAX; i > (uint32_t)INT32_MAX - 100000; i -= 7) {
        size_t s32, d32, s64, d64;
        slab_at<uint32_t>(i, len, sstride, dstride, &s32, &d32);
        slab_at<size_t>(i, len, sstride, dstride, &s64, &d64);
        const size_t b = i / len, j = i % len;
        bad += s32 != b * sstride + j || d32 != b * dstride + j || s64 != s32 || d64 != d32;
    }
    CHECK_MSG((INT32_MAX / len) * sstride > ((size_t)1 << 32), "the case does not reach 2^32");
    CHECK_MSG(bad == 0, "slab_at: %d of the top indices decoded wrongly", bad);
    // shift_src on the largest geometry that runs in 32 bits
    bad = 0;
    const size_t ny = (size_t)both.n * both.c * both.ho * both.wo;
    for (size_t i = ny - 1; i > ny - 100000; i -= 3) {
        const size_t nc = i / (64 * 64), a = i / 64 % 64, b = i % 64;
        const long long want = a + 1 < 65 && b + 1 < 65 ? (long long)((nc * 65 + a + 1) * 65 + b + 1)
                                                         : -1;
        bad += shift_src<uint32_t>(both, (uint32_t)i) != want || shift_src<size_t>(both, i) != want;
    }
    CHECK_MSG(bad == 0, "shift_src: %d of the top indices decoded wrongly", bad);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261201, GH_STREAM_INIT);
    test_dispatch();
    test_walk();
    // DARTS cells: 4 states of C = 16 at 32x32 and 8x8 (float4), odd planes (scalar)
    run_concat<uint32_t>("u32", 2, 64, {16, 16, 16, 16}, &rng);
    run_concat<size_t>("u64", 2, 64, {16, 16, 16, 16}, &rng);
    run_concat<uint32_t>("u32", 3, 49, {3, 5, 2}, &rng);
    run_concat<size_t>("u64", 3, 49, {3, 5, 2}, &rng);
    run_concat<uint32_t>("u32", 1, 9, {4, 1, 7}, &rng);
    // FactorizedReduce's crop x[:, :, 1:, 1:] to the strided size, a shift with negative
    // offsets, and a crop of an odd plane
    const shift_geom shifts[] = {{2, 3, 8, 8, 1, 1, 8, 8},
                                 {3, 2, 9, 7, -2, 3, 9, 7},
                                 {2, 4, 33, 33, 1, 1, 32, 32},
                                 {1, 5, 6, 10, 0, 0, 4, 8}};
    int outside = 0;
    for (const shift_geom &g : shifts) {
        outside += run_shift<uint32_t>("u32", g, &rng);
        run_shift<size_t>("u64", g, &rng);
    }
    CHECK_MSG(outside > 0, "no shift case reads outside x: the zero branch is untested");
    run_gap_bwd<uint32_t>("u32", 3, 5, 49, &rng);
    run_gap_bwd<size_t>("u64", 3, 5, 49, &rng);
    run_gap_bwd<uint32_t>("u32", 2, 16, 64, &rng);
    return check_done("test_concat_emu");
}
