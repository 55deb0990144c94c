// base: status codes, the per-thread error message, counter-based and stream RNGs and clocks
// that every layer of gpuhours uses. Nothing here calls upward.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GH_OK = 0,
    GH_EINVAL = 1,   // bad argument or shape; the message names the op and the shapes
    GH_ENOMEM = 2,   // host or device allocation failed; the message says asked and free
    GH_EIO = 3,      // file could not be read or written; the message names the file
    GH_EFORMAT = 4,  // input is malformed; the message names file, line/offset, field
    GH_ECUDA = 5,    // a CUDA/cuDNN/cuBLAS/NCCL call failed; the message has file:line
    GH_ENODEV = 6,   // no GPU, or not built with CUDA
    GH_ENAN = 7,     // NaN or Inf found where a finite number was required
    GH_EUNSUP = 8,   // a configuration that this build does not support
} gh_status;

const char *gh_status_str(int status);

// The last error message of this thread (like errno, but text). Library code sets it when
// it returns a non-zero status; main prints it.
void gh_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *gh_error_get(void);
void gh_error_clear(void);

// Set the message and return the status in one statement: return gh_fail(GH_EINVAL, "...").
int gh_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// ---- counter-based RNG: same numbers on the host and in CUDA kernels -------------------
// A pure function of (seed, index), so masks drawn by a CPU op and by its CUDA twin are
// bit-identical and dropout needs no stored mask. SplitMix64 finaliser over a mixed key.
#if defined(__CUDACC__)
#define GH_HD static __host__ __device__ __forceinline__
#else
#define GH_HD static inline
#endif

GH_HD uint64_t gh_hash64(uint64_t seed, uint64_t idx) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + idx + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// uniform in [0, 1) with 24 random bits, exactly representable in float
GH_HD float gh_uniform(uint64_t seed, uint64_t idx) {
    return (float)(gh_hash64(seed, idx) >> 40) * (1.0f / 16777216.0f);
}

// ---- stream RNG for host-side decisions (data order, init, searchers) ------------------
// xoshiro256** seeded by SplitMix64; one per purpose so that streams never interfere.
typedef struct { uint64_t s[4]; } gh_rng;
void gh_rng_seed(gh_rng *r, uint64_t seed, uint64_t stream);
uint64_t gh_rng_u64(gh_rng *r);
double gh_rng_uniform(gh_rng *r);            // [0, 1)
double gh_rng_normal(gh_rng *r);             // N(0, 1), Box-Muller
uint64_t gh_rng_below(gh_rng *r, uint64_t n); // uniform integer in [0, n), unbiased
void gh_rng_shuffle(gh_rng *r, int *a, size_t n);

// purposes for gh_rng_seed's stream argument
enum { GH_STREAM_INIT = 1, GH_STREAM_DATA = 2, GH_STREAM_AUGMENT = 3, GH_STREAM_DROPOUT = 4,
       GH_STREAM_SEARCH = 5, GH_STREAM_SPLIT = 6 };

// ---- clocks ----------------------------------------------------------------------------
double gh_wall_seconds(void);     // monotonic
double gh_cpu_seconds(void);      // process CPU time (all threads)
void gh_utc_iso8601(char out[32]); // now, "2026-11-30T00:06:54Z"

#ifdef __cplusplus
}
#endif
