// tests: the assertions every test binary uses. A failed CHECK prints file:line and the
// expression and counts a failure; check_close compares arrays with |a-b| <= atol + rtol*|b|
// and prints the worst ratio diff/threshold. check_done() prints the tally and returns the
// process exit code (0 pass, 1 fail). check_skip() exits 77, which ctest reports as skipped.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count_++;                                                              \
        if (!(cond)) {                                                               \
            check_failures_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        check_count_++;                                                              \
        if (!(cond)) {                                                               \
            check_failures_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

// 0 = ok: the call returned GH_OK
#define CHECK_OK(call)                                                                    \
    do {                                                                                  \
        int st_ = (call);                                                                 \
        check_count_++;                                                                   \
        if (st_ != 0) {                                                                   \
            check_failures_++;                                                            \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, st_, \
                    gh_error_get());                                                      \
        }                                                                                 \
    } while (0)

// Compares got against want elementwise; prints the worst diff/threshold ratio under `what`.
// Returns 1 when every element is within tolerance.
static inline int check_close_f(const char *what, const float *got, const float *want, size_t n,
                                double atol, double rtol, const char *file, int line) {
    double worst = 0.0;
    size_t worst_i = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (!isfinite(g) || !isfinite(w)) {
            if (!(isnan(g) && isnan(w))) { finite = 0; worst_i = i; }
            continue;
        }
        double r = fabs(g - w) / (atol + rtol * fabs(w));
        if (r > worst) { worst = r; worst_i = i; }
    }
    int ok = finite && worst <= 1.0;
    check_count_++;
    if (!ok) check_failures_++;
    fprintf(ok ? stdout : stderr, "%s %-40s n=%-8zu worst diff/threshold %.3g at %zu%s (%s:%d)\n",
            ok ? "  ok  " : "FAILED", what, n, worst, worst_i, finite ? "" : " NON-FINITE",
            file, line);
    return ok;
}
#define CHECK_CLOSE(what, got, want, n, atol, rtol) \
    check_close_f(what, got, want, n, atol, rtol, __FILE__, __LINE__)

static inline int check_done(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

static inline void check_skip(const char *name, const char *why) {
    printf("%s: SKIPPED: %s\n", name, why);
    exit(77);
}
