// engine: the device layer: backend memory (host for ref/cpu, device for cuda), the engine's
// CUDA stream and page-locked input staging, reads to the host with the deferred error record,
// the kernel workspace, and the backend names. The K() dispatch macro beside these lives in
// engine_internal.h. Every read to the host and every backend allocation is counted here.
#include <inttypes.h>
#include <stdio.h>
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

// ---- device, stream, engine state ---------------------------------------------------------

// The backend a config asks for exists in this build and on this machine; makes the CUDA device
// current.
int dev_check_backend(const gh_engine_config *cfg) {
    if (cfg->backend == GH_BACKEND_REF || cfg->backend == GH_BACKEND_CPU) return GH_OK;
    if (cfg->backend != GH_BACKEND_CUDA)
        return gh_fail(GH_EINVAL, "engine: unknown backend %d", (int)cfg->backend);
#ifndef GH_HAVE_CUDA
    return gh_fail(GH_ENODEV, "engine: cuda:%d requested, but this gpuhours was built without "
                   "CUDA (configure with -DGH_CUDA=ON on a machine with nvcc)",
                   cfg->device_index);
#else
    int n = gh_cuda_device_count();
    if (n <= 0)
        return gh_fail(GH_ENODEV, "engine: cuda:%d requested, but no GPU was found",
                       cfg->device_index);
    if (cfg->device_index < 0 || cfg->device_index >= n)
        return gh_fail(GH_ENODEV, "engine: cuda:%d requested, but only %d GPU(s) were found",
                       cfg->device_index, n);
    return gh_cuda_set_device(cfg->device_index);
#endif
}

int dev_enter(gh_engine *e) {
    return is_cuda(e) ? gh_cuda_use_device(e->cfg.device_index) : GH_OK;
}

int dev_open(gh_engine *e) {
    int st = GH_OK;
    if (is_cuda(e)) {
        st = gh_cuda_stream_create(&e->kc.stream);
        for (int i = 0; i < 2 && !st; i++) st = gh_cuda_event_create(&e->stage.done[i]);
        if (st) return st;
    }
    void *p = NULL;
    st = dev_alloc(e, &p, sizeof(dev_state));
    if (st) return st;
    e->dstate = p;
    e->kc.flags = &e->dstate->flags;
    e->kc.allocs = &e->counters.allocs;
    return dev_zero(e, e->dstate, sizeof(dev_state));
}

void dev_close(gh_engine *e) {
    if (dev_enter(e)) return;
    dev_free(e, e->dstate);
    e->dstate = NULL;
    if (!is_cuda(e)) return;
    if (e->kc.stream) gh_cuda_stream_sync(e->kc.stream);
    gh_cuda_host_free(e->stage.buf);
    for (int i = 0; i < 2; i++) gh_cuda_event_destroy(e->stage.done[i]);
    gh_cuda_stream_destroy(e->kc.stream);
    e->kc.stream = NULL;
}

// ---- memory --------------------------------------------------------------------------------

// Host memory is 256-byte aligned like cudaMalloc's (cache lines, AVX-512 loads, and the
// arena's tensor alignment on every backend).
int dev_alloc_at(gh_engine *e, const char *fn, void **p, size_t bytes) {
    *p = NULL;
    if (bytes == 0) bytes = 64;
    if (e->region) graph_forbid(e, fn, "a backend allocation");
    e->counters.allocs++;
    if (is_cuda(e)) {
        int st = dev_enter(e);
        return st ? st : gh_cuda_malloc(p, bytes);
    }
    size_t rounded = (bytes + 255) & ~(size_t)255;
    *p = aligned_alloc(256, rounded);
    if (!*p) return gh_fail(GH_ENOMEM, "host allocation of %zu bytes failed", rounded);
    return GH_OK;
}

void dev_free(gh_engine *e, void *p) {
    if (!p) return;
    if (is_cuda(e)) {
        if (!dev_enter(e)) gh_cuda_free(p);
    } else {
        free(p);
    }
}

// The staging grows (both halves, after the queued copies finish) when one step's inputs do not
// fit: the first steps only, and counted as an allocation.
static int stage_grow(gh_engine *e, size_t need) {
    h2d_stage *s = &e->stage;
    size_t half = s->half ? s->half : (size_t)1 << 20;
    while (half < need) half *= 2;
    int st = gh_cuda_stream_sync(e->kc.stream);
    if (!st) st = gh_cuda_host_free(s->buf);
    s->buf = NULL;
    s->half = s->used = 0;
    if (st) return st;
    void *p = NULL;
    e->counters.allocs++;
    st = gh_cuda_host_alloc(&p, 2 * half);
    if (st) return st;
    s->buf = p;
    s->half = half;
    return GH_OK;
}

int dev_h2d(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (bytes == 0) return GH_OK;
    if (e->region && !is_cuda(e)) graph_h2d(e, dst, src, bytes);
    if (!is_cuda(e)) {
        memcpy(dst, src, bytes);
        return GH_OK;
    }
    int st = dev_enter(e);
    if (st) return st;
    h2d_stage *s = &e->stage;
    size_t need = (bytes + 255) & ~(size_t)255;
    if (s->used + need > s->half) {
        // growing waits for the stream: refused while a graph is being captured
        if (e->region) graph_forbid(e, "dev_h2d", "the input staging grew (a synchronisation)");
        if (graph_capturing(e))
            return eng_fail(e, GH_EINVAL, "dev_h2d: the input staging cannot grow during a "
                            "graph capture");
        if ((st = stage_grow(e, s->used + need))) return st;
    }
    unsigned char *slot = s->buf + (size_t)s->cur * s->half + s->used;
    memcpy(slot, src, bytes);
    s->used += need;
    // in a region: part of its signature; during a capture queued to run before the graph
    if (e->region) {
        int taken = graph_h2d(e, dst, slot, bytes);
        if (taken < 0) return eng_fail(e, GH_ENOMEM, "dev_h2d: the capture's upload queue");
        if (taken) return GH_OK;
    }
    st = gh_cuda_memcpy_h2d_async(dst, slot, bytes, e->kc.stream);
    return st ? st : gh_cuda_event_record(s->done[s->cur], e->kc.stream);
}

int dev_stage_step(gh_engine *e) {
    if (!is_cuda(e)) return GH_OK;
    int st = dev_enter(e);
    if (st) return st;
    // the copies out of the other half were queued two steps ago: waiting for them bounds how
    // far the host runs ahead, and does not drain the stream (this is no read)
    h2d_stage *s = &e->stage;
    s->cur ^= 1;
    s->used = 0;
    return gh_cuda_event_sync(s->done[s->cur]);
}

int dev_h2d_sync(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    if (e->region) graph_forbid(e, "dev_h2d_sync", "a synchronous upload");
    if (!is_cuda(e)) {
        memcpy(dst, src, bytes);
        return GH_OK;
    }
    int st = dev_enter(e);
    if (!st) st = gh_cuda_memcpy_h2d_async(dst, src, bytes, e->kc.stream);
    return st ? st : gh_cuda_stream_sync(e->kc.stream);
}

int dev_d2h_at(gh_engine *e, const char *fn, void *dst, const void *src, size_t bytes) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (bytes == 0) return GH_OK;
    if (e->region) graph_forbid(e, fn, "a read to the host");
    e->counters.host_syncs++;
    if (!is_cuda(e)) {
        memcpy(dst, src, bytes);
        return GH_OK;
    }
    int st = dev_enter(e);
    if (!st) st = gh_cuda_memcpy_d2h_async(dst, src, bytes, e->kc.stream);
    return st ? st : gh_cuda_stream_sync(e->kc.stream);
}

// The deferred error record as the last read brought it: a bad label first (GH_EINVAL), then
// non-finite values (GH_ENAN), as the sticky status with the step range; the record is cleared.
static int dev_check(gh_engine *e) {
    kflags f = e->hflags;
    uint64_t from = e->checked_step + 1, to = e->step;
    e->checked_step = e->step;
    if (!f.label_key && !f.nonfinite) return GH_OK;
    int st = dev_zero(e, &e->dstate->flags, sizeof(kflags));
    if (st) return eng_check(e, st);
    uint64_t first = kflags_step(&f);
    if (f.label_key)
        return eng_fail(e, GH_EINVAL,
                        "xent: labels[%" PRIu32 "] = %d is outside [0, %d): found on the device "
                        "in step %" PRIu64 " (steps %" PRIu64 "..%" PRIu64 " since the last check)",
                        kflags_label_row(&f), kflags_label_value(&f), f.label_k, first, from, to);
    char what[160] = "";
    if (f.nonfinite & GH_KFLAG_LOSS) strcat(what, ", a loss (gh_backward)");
    if (f.nonfinite & GH_KFLAG_NORM) strcat(what, ", a gradient norm (gh_clip_grad_norm)");
    if (f.nonfinite & GH_KFLAG_SCALAR) strcat(what, ", a device scalar (gh_*_dev)");
    return eng_fail(e, GH_ENAN,
                    "NaN or infinite value found on the device, first in step %" PRIu64
                    " (steps %" PRIu64 "..%" PRIu64 " since the last check): %s; the gradients "
                    "and updates since are not finite (lower the learning rate, clip gradients or "
                    "check the inputs)", first, from, to, what[0] ? what + 2 : "unknown");
}

int dev_read_at(gh_engine *e, const char *fn, void *dst, const void *src, size_t bytes) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (e->region) graph_forbid(e, fn, "a read to the host");
    e->counters.host_syncs++;
    const kflags *df = &e->dstate->flags;
    if (!is_cuda(e)) {
        if (dst && bytes) memcpy(dst, src, bytes);
        e->hflags = *df;
        return dev_check(e);
    }
    int st = dev_enter(e);
    if (!st && dst && bytes) st = gh_cuda_memcpy_d2h_async(dst, src, bytes, e->kc.stream);
    if (!st) st = gh_cuda_memcpy_d2h_async(&e->hflags, df, sizeof(kflags), e->kc.stream);
    if (!st) st = gh_cuda_stream_sync(e->kc.stream);
    return st ? eng_check(e, st) : dev_check(e);
}

int dev_d2d(gh_engine *e, void *dst, const void *src, size_t bytes) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (bytes == 0 || dst == src) return GH_OK;
    if (e->region) {
        graph_memop(e, "d2d", dst, src, bytes);
        if (e->gskip) return GH_OK;   // the graph does it
    }
    if (is_cuda(e)) {
        int st = dev_enter(e);
        return st ? st : gh_cuda_memcpy_d2d_async(dst, src, bytes, e->kc.stream);
    }
    memmove(dst, src, bytes);
    return GH_OK;
}

int dev_zero(gh_engine *e, void *p, size_t bytes) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (bytes == 0) return GH_OK;
    if (e->region) {
        graph_memop(e, "memset", p, NULL, bytes);
        if (e->gskip) return GH_OK;   // the graph does it
    }
    if (is_cuda(e)) {
        int st = dev_enter(e);
        return st ? st : gh_cuda_memset0_async(p, bytes, e->kc.stream);
    }
    memset(p, 0, bytes);
    return GH_OK;
}

int dev_ws(gh_engine *e, size_t floats) {
    if (e->dry) return GH_OK;   // gh_forward_plan's pass touches nothing
    if (floats <= e->ws_floats) return GH_OK;
    // Grow by half again so that a slowly rising need does not reallocate every step. (On CUDA
    // cudaFree waits for the kernels that may still use the old one.)
    size_t want = floats + floats / 2;
    graph_invalidate(e, "the kernel workspace grew");   // graphs hold the old address
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
