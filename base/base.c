// base: status strings, the per-thread error message, the host RNG and the clocks.
#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *gh_status_str(int status) {
    switch (status) {
    case GH_OK: return "ok";
    case GH_EINVAL: return "invalid argument";
    case GH_ENOMEM: return "out of memory";
    case GH_EIO: return "i/o error";
    case GH_EFORMAT: return "malformed input";
    case GH_ECUDA: return "CUDA error";
    case GH_ENODEV: return "no device";
    case GH_ENAN: return "non-finite value";
    case GH_EUNSUP: return "unsupported";
    default: return "unknown status";
    }
}

static _Thread_local char gh_errbuf[1024];

// Formats into a local buffer first: callers wrap the current message
// (gh_fail(st, "probe: %s", gh_error_get())), and vsnprintf into the buffer it reads from is
// undefined (it came out as "probe: probe: nsion 0 is 0").
static void error_vset(const char *fmt, va_list ap) {
    char tmp[sizeof gh_errbuf];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(gh_errbuf, tmp, sizeof tmp);
}

void gh_error_set(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_vset(fmt, ap);
    va_end(ap);
}
const char *gh_error_get(void) { return gh_errbuf; }
void gh_error_clear(void) { gh_errbuf[0] = 0; }

int gh_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_vset(fmt, ap);
    va_end(ap);
    return status;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void gh_rng_seed(gh_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gh_rng_u64(gh_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gh_rng_uniform(gh_rng *r) { return (double)(gh_rng_u64(r) >> 11) * 0x1.0p-53; }

double gh_rng_normal(gh_rng *r) {
    double u1 = gh_rng_uniform(r), u2 = gh_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t gh_rng_below(gh_rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n; // reject the short last bucket
    uint64_t x;
    do x = gh_rng_u64(r); while (x >= lim);
    return x % n;
}

void gh_rng_shuffle(gh_rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)gh_rng_below(r, i);
        int t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

double gh_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double gh_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gh_utc_iso8601(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
