// tests/engine: the steady-state training step makes no read to the host and no backend
// allocation. A network with every op family of train_step.h (conv, batch norm, ReLU, both
// poolings, the weighted sum, concat, drop-path, dropout, linear, xent) is trained with
// gh_acc_add/gh_acc_hits, zeroed gradients, backward, clip_grad_norm without norm_out, SGD and
// Adam steps and the device-scalar helpers (DARTS's eps = r / ||v|| pattern): after warm-up
// steps, STEADY_N more steps leave gh_engine_counters unchanged, and gh_acc_read (one read) then
// gives the loss and hit sums that a second engine, reading each loss and logits to the host,
// computes with a host loop, bit for bit. test_engine_steady runs it on ref and cpu,
// test_engine_steady_cuda on cuda:0.
#pragma once
#include "train_step.h"

enum { STEADY_WARMUP = 3, STEADY_N = 6 };

typedef struct {
    gh_engine *e;
    ts_net m;
    float *v;       // a copy of the weight gradient (DARTS's v)
    double *s;      // device scalars: ||v||, eps
    size_t nw, na;
} steady_run;

static inline int steady_open(steady_run *r, gh_backend b) {
    memset(r, 0, sizeof *r);
    gh_engine_config cfg = {.backend = b, .arena_bytes = 16 << 20, .deterministic = 1, .seed = 7};
    int st = gh_engine_create(&r->e, &cfg);
    if (!st) st = ts_declare(r->e, &r->m);
    if (st) return st;
    r->nw = gh_group_numel(r->e, GH_GROUP_WEIGHTS);
    r->na = gh_group_numel(r->e, GH_GROUP_ARCH);
    r->v = gh_buffer(r->e, r->nw);
    r->s = gh_buffer_f64(r->e, 2);
    return r->v && r->s ? GH_OK : gh_engine_status(r->e);
}

// One training step. With host != NULL (the reference) the loss and the logits are read to the
// host and summed there: host[0] += n * loss, host[1] += argmax hits.
static inline int steady_step(steady_run *r, int step, double *host) {
    gh_engine *e = r->e;
    float x[TS_N * TS_C * TS_H * TS_W];
    int y[TS_N];
    ts_data(x, y, 300u + (unsigned)step);
    gh_step_begin(e);
    int st = gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
    if (!st) st = gh_group_zero_grad(e, GH_GROUP_ARCH);
    gh_tensor *logits = ts_logits(e, &r->m, x);
    const int *yd = gh_labels(e, TS_N, y);
    gh_tensor *loss = gh_xent(e, logits, yd, 0.1f, NULL);
    if (!st) st = gh_engine_status(e);
    if (st) return st;
    if (host) {
        float l = gh_scalar(e, loss), lg[TS_N * TS_CLASSES];
        if ((st = gh_tensor_to_host(e, logits, lg))) return st;
        host[0] += (double)TS_N * (double)l;
        for (int i = 0; i < TS_N; i++) {
            int best = 0;
            for (int j = 1; j < TS_CLASSES; j++)
                if (lg[i * TS_CLASSES + j] > lg[i * TS_CLASSES + best]) best = j;
            host[1] += best == y[i];
        }
    } else if ((st = gh_acc_add(e, 0, loss, (double)TS_N)) ||
               (st = gh_acc_hits(e, 1, logits, yd))) {
        return st;
    }
    float *W = gh_group_data(e, GH_GROUP_WEIGHTS), *GW = gh_group_grad(e, GH_GROUP_WEIGHTS);
    if ((st = gh_backward(e, loss)) ||
        // eps = 0.01 / ||v|| on the device; w + eps v - eps v, and v scaled by ||v|| / 2
        (st = gh_vec_copy(e, r->nw, GW, r->v)) ||
        (st = gh_vec_norm_dev(e, r->nw, r->v, r->s)) ||
        (st = gh_dev_scalar(e, 0.01, r->s, -1, r->s + 1)) ||
        (st = gh_vec_axpy_dev(e, r->nw, 1.0, r->s + 1, 1, r->v, W)) ||
        (st = gh_vec_axpy_dev(e, r->nw, -1.0, r->s + 1, 1, r->v, W)) ||
        (st = gh_vec_scale_dev(e, r->nw, 0.5, r->s, 1, r->v)) ||
        (st = gh_clip_grad_norm(e, GH_GROUP_WEIGHTS, 1.0f, NULL)) ||
        (st = gh_sgd_step(e, GH_GROUP_WEIGHTS, 0.05f, 0.9f, 1e-4f)) ||
        (st = gh_adam_step(e, GH_GROUP_ARCH, 3e-3f, 0.5f, 0.999f, 1e-8f, 1e-3f)))
        return st;
    return gh_engine_status(e);
}

// Runs the check on backend b; returns 0 when it ran (failures counted by CHECK).
static inline int steady_check(gh_backend b) {
    const char *name = gh_backend_name(b);
    steady_run run, ref;
    CHECK_OK(steady_open(&run, b));
    CHECK_OK(steady_open(&ref, b));
    if (check_failures_) return 1;
    double host[2] = {0, 0}, dummy[2] = {0, 0};
    for (int s = 0; s < STEADY_WARMUP; s++) {
        CHECK_OK(steady_step(&run, s, NULL));
        CHECK_OK(steady_step(&ref, s, dummy));
    }
    gh_counters c0, c1, c2;
    gh_engine_counters(run.e, &c0);
    CHECK_OK(gh_acc_reset(run.e, 0, 2));
    for (int s = STEADY_WARMUP; s < STEADY_WARMUP + STEADY_N; s++) {
        CHECK_OK(steady_step(&run, s, NULL));
        CHECK_OK(steady_step(&ref, s, host));
    }
    gh_engine_counters(run.e, &c1);
    printf("%s: %d steady steps: %lld host syncs, %lld allocations (warm-up: %lld, %lld)\n",
           name, STEADY_N, (long long)(c1.host_syncs - c0.host_syncs),
           (long long)(c1.allocs - c0.allocs), (long long)c0.host_syncs, (long long)c0.allocs);
    CHECK_MSG(c1.host_syncs == c0.host_syncs, "%s: %lld reads to the host in steady steps", name,
              (long long)(c1.host_syncs - c0.host_syncs));
    CHECK_MSG(c1.allocs == c0.allocs, "%s: %lld backend allocations in steady steps", name,
              (long long)(c1.allocs - c0.allocs));
    double acc[2] = {-1, -1};
    CHECK_OK(gh_acc_read(run.e, 2, acc));
    gh_engine_counters(run.e, &c2);
    CHECK(c2.host_syncs == c1.host_syncs + 1 && c2.allocs == c1.allocs);
    printf("%s: loss sum %.17g (host loop %.17g), hits %g (host %g)\n", name, acc[0], host[0],
           acc[1], host[1]);
    CHECK(isfinite(host[0]) && host[0] > 0);
    CHECK_MSG(acc[0] == host[0], "%s: device loss sum %.17g, host loop %.17g", name, acc[0],
              host[0]);
    CHECK_MSG(acc[1] == host[1], "%s: device hits %g, host %g", name, acc[1], host[1]);
    // the two engines trained alike: the same weights after the same steps
    float wr[TS_CLASSES], wh[TS_CLASSES];
    CHECK_OK(gh_tensor_to_host(run.e, run.m.fb, wr));
    CHECK_OK(gh_tensor_to_host(ref.e, ref.m.fb, wh));
    CHECK(memcmp(wr, wh, sizeof wr) == 0);
    gh_engine_destroy(run.e);
    gh_engine_destroy(ref.e);
    return 0;
}
