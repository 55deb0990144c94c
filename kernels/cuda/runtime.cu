// kernels/cuda: the CUDA runtime helpers of kernels.h (devices, versions, memory, copies).
// A machine without a GPU or without a driver has 0 devices, which is not an error; every
// other helper then returns GH_ENODEV.
#include <stdio.h>

#include "cuda_common.cuh"

extern "C" {

int gh_cuda_built(void) { return 1; }

int gh_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // no driver / no device: clear it, report 0 devices
        return 0;
    }
    return n;
}

static int need_device(const char *op) {
    if (gh_cuda_device_count() <= 0)
        return gh_fail(GH_ENODEV, "%s: no CUDA device (or no driver) on this machine", op);
    return GH_OK;
}

int gh_cuda_set_device(int index) {
    GH_TRY(need_device("gh_cuda_set_device"));
    int n = gh_cuda_device_count();
    if (index < 0 || index >= n)
        return gh_fail(GH_EINVAL, "gh_cuda_set_device: device %d out of range [0, %d)", index, n);
    CUDA_CHECK(cudaSetDevice(index));
    return GH_OK;
}

int gh_cuda_device_name(int index, char *out, size_t len) {
    if (out && len) out[0] = 0;
    GH_TRY(need_device("gh_cuda_device_name"));
    int n = gh_cuda_device_count();
    if (index < 0 || index >= n)
        return gh_fail(GH_EINVAL, "gh_cuda_device_name: device %d out of range [0, %d)", index, n);
    if (!out || !len) return gh_fail(GH_EINVAL, "gh_cuda_device_name: empty output buffer");
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    snprintf(out, len, "%s", prop.name);
    return GH_OK;
}

int gh_cuda_versions(int *driver, int *runtime) {
    int d = 0, r = 0;
    if (cudaDriverGetVersion(&d) != cudaSuccess) { (void)cudaGetLastError(); d = 0; }
    if (cudaRuntimeGetVersion(&r) != cudaSuccess) { (void)cudaGetLastError(); r = 0; }
    if (driver) *driver = d;
    if (runtime) *runtime = r;
    return need_device("gh_cuda_versions");
}

int gh_cuda_malloc(void **p, size_t bytes) {
    if (!p) return gh_fail(GH_EINVAL, "gh_cuda_malloc: output pointer is NULL");
    *p = NULL;
    GH_TRY(need_device("gh_cuda_malloc"));
    if (bytes == 0) return GH_OK;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // allocation failures are not sticky; clear the record
        *p = NULL;
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
        if (e == cudaErrorMemoryAllocation)
            return gh_fail(GH_ENOMEM,
                           "gh_cuda_malloc: out of device memory: asked %zu bytes (%.3f GiB), "
                           "%zu bytes free (%.3f GiB) of %zu",
                           bytes, bytes / 1073741824.0, free_b, free_b / 1073741824.0, total_b);
        return gh_fail(GH_ECUDA, "gh_cuda_malloc: cudaMalloc(%zu bytes) failed: %s (%s)", bytes,
                       cudaGetErrorName(e), cudaGetErrorString(e));
    }
    return GH_OK;
}

int gh_cuda_free(void *p) {
    if (!p) return GH_OK;
    CUDA_CHECK(cudaFree(p));
    return GH_OK;
}

int gh_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return GH_OK;
}

int gh_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
    return GH_OK;
}

int gh_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    return GH_OK;
}

int gh_cuda_memset0(void *p, size_t bytes) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemset(p, 0, bytes));
    return GH_OK;
}

int gh_cuda_sync(void) {
    GH_TRY(need_device("gh_cuda_sync"));
    CUDA_CHECK(cudaDeviceSynchronize());
    return GH_OK;
}

// The current device is per host thread: an engine used from another thread than the one that
// created it sets its device first. cudaGetDevice is a thread-local read.
int gh_cuda_use_device(int index) {
    int cur = -1;
    CUDA_CHECK(cudaGetDevice(&cur));
    if (cur != index) CUDA_CHECK(cudaSetDevice(index));
    return GH_OK;
}

int gh_cuda_stream_create(void **stream) {
    if (!stream) return gh_fail(GH_EINVAL, "gh_cuda_stream_create: output pointer is NULL");
    *stream = NULL;
    GH_TRY(need_device("gh_cuda_stream_create"));
    cudaStream_t s = NULL;
    // blocking (not cudaStreamNonBlocking): work a caller queues on the legacy default stream
    // (plain cudaMemcpy on engine buffers) stays ordered with this stream's
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamDefault));
    *stream = (void *)s;
    return GH_OK;
}

int gh_cuda_stream_destroy(void *stream) {
    if (!stream) return GH_OK;
    CUDA_CHECK(cudaStreamDestroy((cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_stream_sync(void *stream) {
    CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_host_alloc(void **p, size_t bytes) {
    if (!p) return gh_fail(GH_EINVAL, "gh_cuda_host_alloc: output pointer is NULL");
    *p = NULL;
    GH_TRY(need_device("gh_cuda_host_alloc"));
    if (bytes == 0) return GH_OK;
    cudaError_t e = cudaHostAlloc(p, bytes, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *p = NULL;
        return gh_fail(e == cudaErrorMemoryAllocation ? GH_ENOMEM : GH_ECUDA,
                       "gh_cuda_host_alloc: %zu bytes of page-locked host memory failed: %s (%s)",
                       bytes, cudaGetErrorName(e), cudaGetErrorString(e));
    }
    return GH_OK;
}

int gh_cuda_host_free(void *p) {
    if (!p) return GH_OK;
    CUDA_CHECK(cudaFreeHost(p));
    return GH_OK;
}

int gh_cuda_event_create(void **event) {
    if (!event) return gh_fail(GH_EINVAL, "gh_cuda_event_create: output pointer is NULL");
    *event = NULL;
    cudaEvent_t ev = NULL;
    CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    *event = (void *)ev;
    return GH_OK;
}

int gh_cuda_event_destroy(void *event) {
    if (!event) return GH_OK;
    CUDA_CHECK(cudaEventDestroy((cudaEvent_t)event));
    return GH_OK;
}

int gh_cuda_event_record(void *event, void *stream) {
    CUDA_CHECK(cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_event_sync(void *event) {
    CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)event));
    return GH_OK;
}

int gh_cuda_memcpy_h2d_async(void *dst, const void *src, size_t bytes, void *stream) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, (cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_memcpy_d2h_async(void *dst, const void *src, size_t bytes, void *stream) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, (cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_memcpy_d2d_async(void *dst, const void *src, size_t bytes, void *stream) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, (cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_memset0_async(void *p, size_t bytes, void *stream) {
    if (bytes == 0) return GH_OK;
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, (cudaStream_t)stream));
    return GH_OK;
}

// ---- CUDA graphs (the engine's capturable regions, engine/graph.c) ---------------------------
// Thread-local capture: a call on this thread that would synchronise or touch the legacy
// stream fails the capture (which the engine then reports and runs uncaptured); other threads'
// work is not affected.
int gh_cuda_capture_begin(void *stream) {
    if (!stream)
        return gh_fail(GH_EINVAL, "gh_cuda_capture_begin: the legacy stream cannot be captured");
    CUDA_CHECK(cudaStreamBeginCapture((cudaStream_t)stream, cudaStreamCaptureModeThreadLocal));
    return GH_OK;
}

int gh_cuda_capture_end(void *stream, void **exec) {
    *exec = NULL;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture((cudaStream_t)stream, &g);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (g) cudaGraphDestroy(g);
        return gh_fail(GH_ECUDA, "%s:%d: cudaStreamEndCapture failed: %s (%s)", __FILE__,
                       __LINE__, cudaGetErrorName(e), cudaGetErrorString(e));
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiateWithFlags(&x, g, 0);
    cudaGraphDestroy(g);   // the executable graph keeps what it needs
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return gh_fail(GH_ECUDA, "%s:%d: cudaGraphInstantiateWithFlags failed: %s (%s)",
                       __FILE__, __LINE__, cudaGetErrorName(e), cudaGetErrorString(e));
    }
    *exec = (void *)x;
    return GH_OK;
}

int gh_cuda_graph_launch(void *exec, void *stream) {
    CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)exec, (cudaStream_t)stream));
    return GH_OK;
}

int gh_cuda_graph_destroy(void *exec) {
    if (!exec) return GH_OK;
    CUDA_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)exec));
    return GH_OK;
}

}  // extern "C"
