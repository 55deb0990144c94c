// engine: backend memory (host for ref/cpu, device for cuda), the kernel workspace and the
// backend names. The K() dispatch macro beside these lives in engine_internal.h.
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static int is_cuda(const gh_engine *e) { return e->cfg.backend == GH_BACKEND_CUDA; }

const char *gh_backend_name(gh_backend b) {
    switch (b) {
    case GH_BACKEND_REF: return "ref";
    case GH_BACKEND_CPU: return "cpu";
    case GH_BACKEND_CUDA: return "cuda";
    }
    return "unknown";
}

int gh_backend_parse(const char *text, gh_backend *b, int *device_index) {
    *device_index = 0;
    if (!text) return gh_fail(GH_EINVAL, "backend: missing name (ref, cpu, cuda, cuda:N, auto)");
    if (!strcmp(text, "ref")) { *b = GH_BACKEND_REF; return GH_OK; }
    if (!strcmp(text, "cpu")) { *b = GH_BACKEND_CPU; return GH_OK; }
    if (!strcmp(text, "auto")) {
        *b = gh_cuda_device_count() > 0 ? GH_BACKEND_CUDA : GH_BACKEND_CPU;
        return GH_OK;
    }
    if (!strncmp(text, "cuda", 4)) {
        if (text[4] == 0) { *b = GH_BACKEND_CUDA; return GH_OK; }
        if (text[4] == ':') {
            char *end = NULL;
            long i = strtol(text + 5, &end, 10);
            if (end != text + 5 && *end == 0 && i >= 0 && i < 1024) {
                *b = GH_BACKEND_CUDA;
                *device_index = (int)i;
                return GH_OK;
            }
        }
    }
    return gh_fail(GH_EINVAL, "backend: unknown '%s' (expected ref, cpu, cuda, cuda:N or auto)",
                   text);
}

// Host memory is 64-byte aligned (cache line, AVX-512 loads); device memory comes from
// cudaMalloc (256-byte aligned).
int dev_alloc(gh_engine *e, void **p, size_t bytes) {
    *p = NULL;
    if (bytes == 0) bytes = 64;
    e->counters.allocs++;
    if (is_cuda(e)) return gh_cuda_malloc(p, bytes);
    size_t rounded = (bytes + 63) & ~(size_t)63;
    *p = aligned_alloc(64, rounded);
    if (!*p) return gh_fail(GH_ENOMEM, "host allocation of %zu bytes failed", rounded);
    return GH_OK;
}

void dev_free(gh_engine *e, void *p) {
    if (!p) return;
    if (is_cuda(e)) gh_cuda_free(p);
    else free(p);
}

int dev_h2d(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    if (is_cuda(e)) return gh_cuda_memcpy_h2d(dst, src, bytes);
    memcpy(dst, src, bytes);
    return GH_OK;
}

int dev_d2h(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    e->counters.host_syncs++;
    if (is_cuda(e)) return gh_cuda_memcpy_d2h(dst, src, bytes);
    memcpy(dst, src, bytes);
    return GH_OK;
}

int dev_d2d(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return GH_OK;
    if (is_cuda(e)) return gh_cuda_memcpy_d2d(dst, src, bytes);
    memmove(dst, src, bytes);
    return GH_OK;
}

int dev_zero(gh_engine *e, void *p, size_t bytes) {
    if (bytes == 0) return GH_OK;
    if (is_cuda(e)) return gh_cuda_memset0(p, bytes);
    memset(p, 0, bytes);
    return GH_OK;
}

int dev_ws(gh_engine *e, size_t floats) {
    if (floats <= e->ws_floats) return GH_OK;
    // Grow by half again so that a slowly rising need does not reallocate every step.
    size_t want = floats + floats / 2;
    dev_free(e, e->ws);
    e->ws = NULL;
    e->ws_floats = 0;
    e->kc.ws = NULL;
    e->kc.ws_floats = 0;
    void *p = NULL;
    int st = dev_alloc(e, &p, want * sizeof(float));
    if (st) return eng_fail(e, st, "kernel workspace of %zu bytes: %s", want * sizeof(float),
                            gh_error_get());
    e->ws = p;
    e->ws_floats = want;
    e->kc.ws = e->ws;
    e->kc.ws_floats = want;
    return GH_OK;
}

void *host_tmp(gh_engine *e, size_t bytes) {
    if (bytes <= e->host_tmp_bytes) return e->host_tmp;
    void *p = realloc(e->host_tmp, bytes);
    if (!p) {
        eng_fail(e, GH_ENOMEM, "host staging buffer of %zu bytes failed", bytes);
        return NULL;
    }
    e->host_tmp = p;
    e->host_tmp_bytes = bytes;
    return p;
}
