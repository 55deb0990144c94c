// dp: the data-parallel gradient reducer: a flat gradient averaged over the group in buckets,
// last bucket first, over MPI on host memory and NCCL on device memory, with the time spent.
#include <stdlib.h>

#include "base/base.h"
#include "engine/engine.h"
#include "dist.h"

struct dp_reducer {
    size_t bucket_elems;
    double comm_s;
    void (*observe)(void *ctx, const float *grad, size_t off, size_t len);
    void *observe_ctx;
};

int dp_reducer_create(dp_reducer **out, size_t bucket_bytes) {
    dp_reducer *r = calloc(1, sizeof *r);
    if (!r) return gh_fail(GH_ENOMEM, "dp reducer: no memory");
    if (!bucket_bytes) bucket_bytes = DP_BUCKET_BYTES_DEFAULT;
    r->bucket_elems = bucket_bytes / sizeof(float) ? bucket_bytes / sizeof(float) : 1;
    *out = r;
    return GH_OK;
}

void dp_reducer_free(dp_reducer *r) { free(r); }

double dp_comm_seconds(const dp_reducer *r) { return r ? r->comm_s : 0.0; }

void dp_reducer_observe(dp_reducer *r, void (*fn)(void *, const float *, size_t, size_t),
                        void *ctx) {
    r->observe = fn;
    r->observe_ctx = ctx;
}

size_t dp_bucket_count(size_t n, size_t bucket_elems) {
    return bucket_elems ? (n + bucket_elems - 1) / bucket_elems : 0;
}

// Buckets cut from the front at multiples of bucket_elems (the last one short), numbered from
// the back: bucket 0 is the tail of the buffer, whose gradients backward finishes first.
void dp_bucket_at(size_t n, size_t bucket_elems, size_t i, size_t *off, size_t *len) {
    size_t k = dp_bucket_count(n, bucket_elems), j = k - 1 - i;
    *off = j * bucket_elems;
    *len = n - *off < bucket_elems ? n - *off : bucket_elems;
}

int dp_reduce_buf(dp_reducer *r, struct gh_engine *e, float *grad, size_t n) {
    if (!grad || !n) return GH_OK;
    double t0 = gh_wall_seconds();
    int cuda = gh_engine_backend(e) == GH_BACKEND_CUDA, st = GH_OK;
    void *stream = cuda ? gh_engine_stream(e) : NULL;
    size_t k = dp_bucket_count(n, r->bucket_elems);
    for (size_t i = 0; i < k && !st; i++) {
        size_t off, len;
        dp_bucket_at(n, r->bucket_elems, i, &off, &len);
        if (r->observe) r->observe(r->observe_ctx, grad, off, len);
        if (pg_world()->size == 1) continue;
        st = cuda ? pg_nccl_allreduce_avg_f32(grad + off, len, stream)
                  : pg_allreduce_avg_f32(grad + off, len);
    }
    // on CUDA this is the time to queue the buckets; the reduction itself runs on the
    // communicator's stream and the engine's stream waits for it
    r->comm_s += gh_wall_seconds() - t0;
    return st;
}

int dp_reduce(void *reducer, struct gh_engine *e, int group) {
    return dp_reduce_buf(reducer, e, gh_group_grad(e, group), gh_group_numel(e, group));
}
