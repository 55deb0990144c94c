// dp: the data-parallel gradient reducer: a flat gradient averaged over the group in buckets,
// last bucket first, over MPI on host memory and NCCL on device memory, with the time spent.
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "engine/engine.h"
#include "dist.h"

struct dp_reducer {
    size_t bucket_elems;
    double comm_s;           // every reduction's wall time: gradients, buffers, sync BN
    double bn_s;             // the part of comm_s inside synchronized batch norm
    void (*observe)(void *ctx, const float *grad, size_t off, size_t len);
    void *observe_ctx;
    // overlap (dp_grad_ready): the bucket plan of the group backward reports on, built at its
    // first report; per bucket the parameters overlapping it and those not final yet this step
    int ov_group;            // -1: no plan yet
    const float *ov_grad;    // the group's gradient the plan was made for (another engine or
                             // layout: a new plan)
    size_t ov_n, ov_k, ov_next;   // the group's floats, buckets, buckets started this step
    int *ov_base, *ov_left;
    int ov_active, ov_status;     // reports arrived this step; the first error among them
};

int dp_reducer_create(dp_reducer **out, size_t bucket_bytes) {
    dp_reducer *r = calloc(1, sizeof *r);
    if (!r) return gh_fail(GH_ENOMEM, "dp reducer: no memory");
    if (!bucket_bytes) bucket_bytes = DP_BUCKET_BYTES_DEFAULT;
    r->bucket_elems = bucket_bytes / sizeof(float) ? bucket_bytes / sizeof(float) : 1;
    r->ov_group = -1;
    *out = r;
    return GH_OK;
}

void dp_reducer_free(dp_reducer *r) {
    if (!r) return;
    free(r->ov_base);
    free(r->ov_left);
    free(r);
}

double dp_comm_seconds(const dp_reducer *r) { return r ? r->comm_s : 0.0; }

double dp_bn_seconds(const dp_reducer *r) { return r ? r->bn_s : 0.0; }

// Blocking: its whole time is communication no compute hides (the forward or backward waits
// for the sums), so all of it goes to comm_s.
int dp_bn_sync(void *ctx, double *buf, size_t n) {
    dp_reducer *r = ctx;
    double t0 = r ? gh_wall_seconds() : 0.0;
    int st = pg_allreduce_sum_f64(buf, n);
    if (r) {
        double dt = gh_wall_seconds() - t0;
        r->comm_s += dt;
        r->bn_s += dt;
    }
    return st;
}

int dp_average_buffers(dp_reducer *r, struct gh_engine *e) {
    return dp_reduce_buf(r, e, gh_group_data(e, GH_GROUP_BUFFERS),
                         gh_group_numel(e, GH_GROUP_BUFFERS));
}

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

// Bucket i (reduction order) of the group's gradient: observed, then its all-reduce started
// (NCCL: queued on the communicator's stream, the engine's stream goes on; MPI: done).
static int start_bucket(dp_reducer *r, gh_engine *e, float *grad, size_t n, size_t i) {
    size_t off, len;
    dp_bucket_at(n, r->bucket_elems, i, &off, &len);
    if (r->observe) r->observe(r->observe_ctx, grad, off, len);
    if (pg_world()->size == 1) return GH_OK;
    return gh_engine_backend(e) == GH_BACKEND_CUDA
               ? pg_nccl_allreduce_avg_start(grad + off, len, gh_engine_stream(e))
               : pg_allreduce_avg_f32(grad + off, len);
}

int dp_reduce_buf(dp_reducer *r, struct gh_engine *e, float *grad, size_t n) {
    if (!grad || !n) return GH_OK;
    double t0 = gh_wall_seconds();
    int st = GH_OK;
    for (size_t i = 0, k = dp_bucket_count(n, r->bucket_elems); i < k && !st; i++)
        st = start_bucket(r, e, grad, n, i);
    // on CUDA this is the time to queue the buckets; the reduction itself runs on the
    // communicator's stream and the engine's stream waits for it
    if (!st && pg_world()->size > 1 && gh_engine_backend(e) == GH_BACKEND_CUDA)
        st = pg_nccl_join(gh_engine_stream(e));
    r->comm_s += gh_wall_seconds() - t0;
    return st;
}

// The range of bucket indices (reduction order) that parameter j's floats fall in.
static int param_buckets(dp_reducer *r, gh_engine *e, int group, int j, size_t *i0,
                         size_t *i1) {
    gh_tensor *p = gh_param_at(e, j);
    if (!p || !p->numel) return 0;
    size_t off = (size_t)(p->data - gh_group_data(e, group)), last = off + p->numel - 1;
    size_t k = r->ov_k, f0 = off / r->bucket_elems, f1 = last / r->bucket_elems;
    *i0 = k - 1 - f1;   // buckets are numbered from the back
    *i1 = k - 1 - f0;
    return 1;
}

static int plan(dp_reducer *r, gh_engine *e, int group) {
    free(r->ov_base);
    free(r->ov_left);
    r->ov_n = gh_group_numel(e, group);
    r->ov_k = dp_bucket_count(r->ov_n, r->bucket_elems);
    r->ov_base = calloc(r->ov_k ? r->ov_k : 1, sizeof(int));
    r->ov_left = calloc(r->ov_k ? r->ov_k : 1, sizeof(int));
    r->ov_group = -1;
    if (!r->ov_base || !r->ov_left) return gh_fail(GH_ENOMEM, "dp reducer: bucket plan");
    for (int j = 0, n = gh_params_count(e); j < n; j++) {
        size_t i0, i1;
        if (gh_param_group(e, j) != group || !param_buckets(r, e, group, j, &i0, &i1)) continue;
        for (size_t i = i0; i <= i1; i++) r->ov_base[i]++;
    }
    memcpy(r->ov_left, r->ov_base, sizeof(int) * r->ov_k);
    r->ov_group = group;
    r->ov_grad = gh_group_grad(e, group);
    r->ov_next = 0;
    return GH_OK;
}

void dp_grad_ready(void *reducer, struct gh_engine *e, int group, int param) {
    dp_reducer *r = reducer;
    if (r->ov_status) return;
    double t0 = gh_wall_seconds();
    if ((r->ov_group != group || r->ov_grad != gh_group_grad(e, group) ||
         r->ov_n != gh_group_numel(e, group)) &&
        (r->ov_status = plan(r, e, group)))
        return;
    r->ov_active = 1;
    size_t i0, i1;
    if (param_buckets(r, e, group, param, &i0, &i1))
        for (size_t i = i0; i <= i1; i++) r->ov_left[i]--;
    // buckets start in reduction order (every rank must issue the collectives in one order)
    float *grad = gh_group_grad(e, group);
    while (!r->ov_status && r->ov_next < r->ov_k && r->ov_left[r->ov_next] == 0)
        r->ov_status = start_bucket(r, e, grad, r->ov_n, r->ov_next++);
    r->comm_s += gh_wall_seconds() - t0;
}

int dp_reduce(void *reducer, struct gh_engine *e, int group) {
    dp_reducer *r = reducer;
    if (!(r->ov_active && r->ov_group == group))
        return dp_reduce_buf(reducer, e, gh_group_grad(e, group), gh_group_numel(e, group));
    // backward reported: the buckets it started, then whatever is left (none when every
    // parameter was reported), and the engine's stream waits for the reductions
    double t0 = gh_wall_seconds();
    int st = r->ov_status;
    float *grad = gh_group_grad(e, group);
    while (!st && r->ov_next < r->ov_k) st = start_bucket(r, e, grad, r->ov_n, r->ov_next++);
    if (!st && pg_world()->size > 1 && gh_engine_backend(e) == GH_BACKEND_CUDA)
        st = pg_nccl_join(gh_engine_stream(e));
    memcpy(r->ov_left, r->ov_base, sizeof(int) * r->ov_k);   // the next step
    r->ov_next = 0;
    r->ov_active = 0;
    r->ov_status = GH_OK;
    r->comm_s += gh_wall_seconds() - t0;
    return st;
}
