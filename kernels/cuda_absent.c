// kernels: the CUDA runtime helpers of a build without CUDA: no devices, every call GH_ENODEV.
#include "kernels.h"

static int no_cuda(void) { return gh_fail(GH_ENODEV, "this gpuhours was built without CUDA"); }

int gh_cuda_built(void) { return 0; }
int gh_cuda_device_count(void) { return 0; }
int gh_cuda_set_device(int index) { (void)index; return no_cuda(); }
int gh_cuda_device_name(int index, char *out, size_t len) {
    (void)index;
    if (len) out[0] = 0;
    return no_cuda();
}
int gh_cuda_versions(int *driver, int *runtime) { *driver = 0; *runtime = 0; return no_cuda(); }
int gh_cuda_malloc(void **p, size_t bytes) { (void)bytes; *p = NULL; return no_cuda(); }
int gh_cuda_free(void *p) { (void)p; return no_cuda(); }
int gh_cuda_memcpy_h2d(void *d, const void *s, size_t n) { (void)d; (void)s; (void)n; return no_cuda(); }
int gh_cuda_memcpy_d2h(void *d, const void *s, size_t n) { (void)d; (void)s; (void)n; return no_cuda(); }
int gh_cuda_memcpy_d2d(void *d, const void *s, size_t n) { (void)d; (void)s; (void)n; return no_cuda(); }
int gh_cuda_memset0(void *p, size_t n) { (void)p; (void)n; return no_cuda(); }
int gh_cuda_sync(void) { return no_cuda(); }
int gh_cuda_use_device(int index) { (void)index; return no_cuda(); }
int gh_cuda_stream_create(void **s) { *s = NULL; return no_cuda(); }
int gh_cuda_stream_destroy(void *s) { (void)s; return no_cuda(); }
int gh_cuda_stream_sync(void *s) { (void)s; return no_cuda(); }
int gh_cuda_host_alloc(void **p, size_t bytes) { (void)bytes; *p = NULL; return no_cuda(); }
int gh_cuda_host_free(void *p) { (void)p; return no_cuda(); }
int gh_cuda_event_create(void **ev) { *ev = NULL; return no_cuda(); }
int gh_cuda_event_destroy(void *ev) { (void)ev; return no_cuda(); }
int gh_cuda_event_record(void *ev, void *s) { (void)ev; (void)s; return no_cuda(); }
int gh_cuda_event_sync(void *ev) { (void)ev; return no_cuda(); }
int gh_cuda_memcpy_h2d_async(void *d, const void *s, size_t n, void *st) { (void)d; (void)s; (void)n; (void)st; return no_cuda(); }
int gh_cuda_memcpy_d2h_async(void *d, const void *s, size_t n, void *st) { (void)d; (void)s; (void)n; (void)st; return no_cuda(); }
int gh_cuda_memcpy_d2d_async(void *d, const void *s, size_t n, void *st) { (void)d; (void)s; (void)n; (void)st; return no_cuda(); }
int gh_cuda_memset0_async(void *p, size_t n, void *st) { (void)p; (void)n; (void)st; return no_cuda(); }
int conv2d_fwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *b, float *y) {
    (void)ctx; (void)sh; (void)prec; (void)x; (void)w; (void)b; (void)y;
    return no_cuda();
}
int conv2d_bwd_prec_cuda(const kctx *ctx, const conv2d_shape *sh, gh_precision prec,
                         const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *db) {
    (void)ctx; (void)sh; (void)prec; (void)x; (void)w; (void)dy; (void)dx; (void)dw; (void)db;
    return no_cuda();
}
int gh_cuda_capture_begin(void *st) { (void)st; return no_cuda(); }
int gh_cuda_capture_end(void *st, void **x) { (void)st; *x = NULL; return no_cuda(); }
int gh_cuda_graph_launch(void *x, void *st) { (void)x; (void)st; return no_cuda(); }
int gh_cuda_graph_destroy(void *x) { (void)x; return no_cuda(); }
