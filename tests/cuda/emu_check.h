// tests/cuda: host helpers shared by the CPU replays of the CUDA kernels (test_*_emu.cu): random
// inputs (small integers or uniform in [-1, 1)), rms, and the comparison against the C
// reference (exact on integers, else 1e-5 of rms plus 1e-5 relative), the count of
// shared-memory wavefronts of a warp's access (bank conflicts), and the conv replays' shape
// macro and random tensors. Include after check.h.
#ifndef GH_TESTS_CUDA_EMU_CHECK_H
#define GH_TESTS_CUDA_EMU_CHECK_H

#include <math.h>

#include <algorithm>
#include <vector>

#include "base/base.h"
#include "kernels/kernels.h"

static inline std::vector<float> emu_rnd(gh_rng *rng, size_t n, int ints) {
    std::vector<float> v(n);
    for (auto &x : v)
        x = ints ? (float)gh_rng_below(rng, 7) - 3.0f : (float)(2.0 * gh_rng_uniform(rng) - 1.0);
    return v;
}

static inline double emu_rms(const std::vector<float> &v) {
    double s = 0;
    for (float x : v) s += (double)x * x;
    return v.empty() ? 0 : sqrt(s / v.size());
}

static inline void emu_compare(const char *what, const std::vector<float> &got,
                               const std::vector<float> &want, int ints) {
    if (ints)
        check_close_f(what, got.data(), want.data(), got.size(), 1e-300, 0.0, __FILE__, __LINE__);
    else
        check_close_f(what, got.data(), want.data(), got.size(), 1e-5 * (emu_rms(want) + 1e-30),
                      1e-5, __FILE__, __LINE__);
}

// Shared-memory wavefronts of one warp-wide access: lane i touches `width` bytes (2, 4, 8 or
// 16) at byte address addr[i]. The model: lanes are served in phases of 128 bytes (the whole
// warp for 2- and 4-byte accesses, half warps for 8, quarter warps for 16 bytes), and a phase
// takes as many wavefronts as the most distinct 4-byte words that fall in one of the 32 banks
// (the same word is broadcast). Conflict-free: one wavefront a phase, emu_wavefronts_min.
static inline int emu_wavefronts(const std::vector<int> &addr, int width) {
    const int per = width <= 4 ? 32 : 128 / width;
    int total = 0;
    for (size_t p0 = 0; p0 < addr.size(); p0 += per) {
        std::vector<std::vector<int>> bank(32);
        for (size_t i = p0; i < addr.size() && i < p0 + per; i++)
            for (int b = addr[i] / 4 * 4; b < addr[i] + width; b += 4) {
                auto &v = bank[b / 4 % 32];
                if (std::find(v.begin(), v.end(), b / 4) == v.end()) v.push_back(b / 4);
            }
        size_t most = 1;
        for (const auto &v : bank) most = std::max(most, v.size());
        total += (int)most;
    }
    return total;
}
static inline int emu_wavefronts_min(size_t lanes, int width) {
    const int per = width <= 4 ? 32 : 128 / width;
    return (int)((lanes + per - 1) / per);
}

// A conv2d_shape from its fields in the order of the struct (the cases' tables).
#define EMU_SHAPE(N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW, G)                              \
    conv2d_shape {                                                                             \
        N, C, H, W, K, R, S, SH, SW, PH, PW, DH, DW, G, 0, 0                                   \
    }

// A conv's random tensors for a replay (sh after conv2d_shape_init): x, w, bias, dy, and the
// starting values of dx, dw and db (the kernels add into them), drawn in this order.
struct emu_conv_data {
    size_t nx, nw, ny;
    std::vector<float> x, w, b, dy, dx0, dw0, db0;
};

static inline emu_conv_data emu_conv_rnd(const conv2d_shape &sh, gh_rng *rng, int ints) {
    emu_conv_data d;
    d.nx = (size_t)sh.n * sh.c * sh.h * sh.w;
    d.nw = (size_t)sh.k * (sh.c / sh.groups) * sh.r * sh.s;
    d.ny = (size_t)sh.n * sh.k * sh.p * sh.q;
    d.x = emu_rnd(rng, d.nx, ints);
    d.w = emu_rnd(rng, d.nw, ints);
    d.b = emu_rnd(rng, sh.k, ints);
    d.dy = emu_rnd(rng, d.ny, ints);
    d.dx0 = emu_rnd(rng, d.nx, ints);
    d.dw0 = emu_rnd(rng, d.nw, ints);
    d.db0 = emu_rnd(rng, sh.k, ints);
    return d;
}

#endif
