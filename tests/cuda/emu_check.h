// tests/cuda: host helpers shared by the CPU replays of the CUDA kernels (test_*_emu.cu): random
// inputs (small integers or uniform in [-1, 1)), rms, and the comparison against the C
// reference (exact on integers, else 1e-5 of rms plus 1e-5 relative). Include after check.h.
#ifndef GH_TESTS_CUDA_EMU_CHECK_H
#define GH_TESTS_CUDA_EMU_CHECK_H

#include <math.h>

#include <vector>

#include "base/base.h"

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

#endif
