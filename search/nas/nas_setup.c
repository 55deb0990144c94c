// nas_setup: what every NAS method is set up from: the image data of a config, the engine
// (backend, threads), the cosine schedule, one search run (the split, the search network, the
// cost meter, the ledger) and its trial records.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

int nas_data_load(nas_data *d, const nas_config *c) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", c->dataset);
    int st;
    if (!strcmp(c->dataset, "fashion-mnist") || !strcmp(c->dataset, "mnist")) {
        const char *dir = c->data_dir[0] ? c->data_dir : GH_FASHION_MNIST_DIR;
        if (!strcmp(c->dataset, "mnist") && !c->data_dir[0])
            return gh_fail(GH_EINVAL, "dataset mnist needs data_dir (a directory with the IDX files)");
        if ((st = images_read_mnist_dir(&d->train, dir, "train")) ||
            (st = images_read_mnist_dir(&d->test, dir, "test")))
            goto fail;
    } else if (!strcmp(c->dataset, "cifar10") || !strcmp(c->dataset, "cifar100")) {
        int classes = !strcmp(c->dataset, "cifar10") ? 10 : 100;
        if (!c->data_dir[0])
            return gh_fail(GH_EINVAL, "dataset %s needs data_dir (the CIFAR binary version's "
                                      "directory)", c->dataset);
        if ((st = images_read_cifar_dir(&d->train, c->data_dir, classes, "train")) ||
            (st = images_read_cifar_dir(&d->test, c->data_dir, classes, "test")))
            goto fail;
    } else {
        return gh_fail(GH_EINVAL, "dataset '%s': expected cifar10, cifar100, fashion-mnist or mnist",
                       c->dataset);
    }
    // per-channel normalisation with the training set's statistics (for CIFAR-10 these are
    // DARTS's CIFAR_MEAN and CIFAR_STD)
    if ((st = images_channel_stats(&d->train, d->norm.mean, d->norm.std))) goto fail;
    return GH_OK;
fail:
    nas_data_free(d);
    return st;
}

void nas_data_free(nas_data *d) {
    images_free(&d->train);
    images_free(&d->test);
}

int nas_gpus(const nas_config *c) {
    gh_backend b;
    int dev;
    if (gh_backend_parse(c->backend, &b, &dev)) return 0;
    return b == GH_BACKEND_CUDA ? nas_dp_size(c) : 0;   // data parallel: one per rank
}

int nas_dp_rank(const nas_config *c) { return c->data_parallel ? pg_world()->rank : 0; }
int nas_dp_size(const nas_config *c) { return c->data_parallel ? pg_world()->size : 1; }

static void nas_engine_graphs(gh_engine *e, const nas_config *c);

int nas_engine_open(gh_engine **e, const nas_config *c, size_t arena_bytes, uint64_t seed) {
    gh_engine_config ec = {0};
    int st = gh_backend_parse(c->backend, &ec.backend, &ec.device_index);
    if (st) return st;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    ec.arena_bytes = arena_bytes;
    ec.deterministic = c->deterministic;
    ec.seed = seed;
    // data parallel on GPUs: one device per rank by local rank (pg_nccl_device), and the
    // NCCL communicator created before the first reduction
    if (nas_dp_size(c) > 1 && ec.backend == GH_BACKEND_CUDA) {
        if ((ec.device_index = pg_nccl_device()) < 0 || (st = pg_nccl_init())) {
            return st ? st : gh_fail(GH_ENODEV, "rank %d of %d: no CUDA device",
                                     pg_world()->rank, pg_world()->size);
        }
    }
    gh_precision prec;
    if ((st = gh_precision_parse(c->precision, &prec))) return st;
    if ((st = gh_engine_create(e, &ec))) return st;
    if ((st = gh_set_precision(*e, prec))) {
        gh_engine_destroy(*e);
        *e = NULL;
        return st;
    }
    // synchronized batch norm: the engine sums its per-channel statistics over the ranks
    if (c->sync_bn && nas_dp_size(c) > 1) gh_set_bn_sync(*e, dp_bn_sync, NULL);
    nas_engine_graphs(*e, c);
    return GH_OK;
}

// CUDA graphs (engine/graph.c) for the engine's capturable regions; ref/cpu have nothing to
// capture: the setting is ignored there with a message (the engine's emulation is for tests).
static void nas_engine_graphs(gh_engine *e, const nas_config *c) {
    if (!c->cuda_graphs) return;
    if (gh_engine_backend(e) == GH_BACKEND_CUDA) gh_set_graphs(e, 1);
    else
        printf("cuda_graphs = 1 ignored on the %s backend: no graphs to capture (regions run "
               "uncaptured; their capture-safety signatures are computed as always)\n",
               gh_backend_name(gh_engine_backend(e)));
}

int nas_engine_graphs_report(const gh_engine *e, const nas_config *c, struct ledger *l,
                             const char *name, const char *phase) {
    if (!c->cuda_graphs || gh_engine_backend(e) != GH_BACKEND_CUDA) return GH_OK;
    gh_graph_stats s;
    gh_graph_stats_get(e, &s);
    printf("%s: cuda graphs: %lld captured, %lld replays, %lld region runs uncaptured, %lld "
           "misses, %lld regions fallen back%s%s\n", phase, (long long)s.captures,
           (long long)s.replays, (long long)s.uncaptured, (long long)s.misses,
           (long long)s.fallbacks, s.note[0] ? "; last: " : "", s.note);
    if (!l) return GH_OK;
    char note[sizeof s.note], json[512];
    size_t j = 0;
    for (const char *p = s.note; *p && j + 1 < sizeof note; p++)   // a JSON string's content
        note[j++] = *p == '"' || *p == '\\' ? '\'' : (unsigned char)*p < 32 ? ' ' : *p;
    note[j] = 0;
    snprintf(json, sizeof json, "{\"captures\": %lld, \"replays\": %lld, \"uncaptured\": %lld, "
             "\"misses\": %lld, \"fallbacks\": %lld, \"note\": \"%s\"}", (long long)s.captures,
             (long long)s.replays, (long long)s.uncaptured, (long long)s.misses,
             (long long)s.fallbacks, note);
    return ledger_put_text(l, name, json);
}

double nas_dp_finish(cost_meter *m, const dp_reducer *dp) {
    const pg_info *pg = pg_world();
    if (!dp || pg->size == 1) return 0.0;
    cost_totals c = cost_meter_read(m);
    double own = c.busy_gpu_s, v[2] = {own == own ? own : 0.0, dp_comm_seconds(dp)};
    double peak = c.peak_mem_bytes == c.peak_mem_bytes ? c.peak_mem_bytes : 0.0;
    if (pg_allreduce_sum_f64(v, 2) || pg_allreduce_max_f64(&peak, 1))
        return NAN;   // a failed collective: not measured
    if (pg->rank == 0 && own == own) cost_meter_add_busy_gpu(m, v[0] - own);
    if (pg->rank == 0) cost_meter_note_peak_mem(m, peak);   // the largest rank's
    return v[1] / pg->size;
}

double nas_dp_comm(const dp_reducer *dp) {
    double s = dp_comm_seconds(dp);
    if (!dp || pg_world()->size == 1) return s;
    return pg_allreduce_sum_f64(&s, 1) ? NAN : s / pg_world()->size;
}

int nas_dp_rank_costs(const dp_reducer *dp, cost_meter *m, ledger *l, const char *phase,
                      int64_t trial_id, int epoch) {
    const pg_info *pg = pg_world();
    if (!dp || pg->size == 1) return GH_OK;
    enum { COLS = 6 };
    cost_totals c = cost_meter_read(m);
    double mine[COLS] = {pg->rank, c.wall_s, c.cpu_s, c.busy_gpu_s, c.energy_j,
                         c.peak_mem_bytes};
    double *all = pg->rank == 0 ? malloc(sizeof(double) * COLS * (size_t)pg->size) : NULL;
    float *rows = pg->rank == 0 ? malloc(sizeof(float) * COLS * (size_t)pg->size) : NULL;
    int st = pg->rank == 0 && (!all || !rows) ? gh_fail(GH_ENOMEM, "rank costs: no memory")
                                              : GH_OK;
    // every rank takes part in the gather, also after rank 0 failed to allocate (no hang)
    int gst = pg_gather_f64(mine, COLS, all, 0);
    if (!st) st = gst;
    if (!st && l) {
        for (size_t i = 0; i < COLS * (size_t)pg->size; i++) rows[i] = (float)all[i];
        char name[96];
        if (trial_id >= 0)
            snprintf(name, sizeof name, "rank_costs_%s_trial_%lld_epoch_%03d", phase,
                     (long long)trial_id, epoch);
        else
            snprintf(name, sizeof name, "rank_costs_%s_epoch_%03d", phase, epoch);
        st = ledger_put_text(l, "rank_costs_columns", NAS_RANK_COST_COLUMNS);
        if (!st) st = ledger_put_matrix(l, name, pg->size, COLS, rows);
    }
    free(all);
    free(rows);
    return st;
}

int nas_dp_progress(const dp_reducer *dp, gh_train_progress *p) {
    if (!dp || pg_world()->size == 1) return GH_OK;
    double v[3] = {p->loss * (double)p->seen, p->acc * (double)p->seen, (double)p->seen};
    int st = pg_allreduce_sum_f64(v, 3);
    if (st) return st;
    p->seen = (long)v[2];
    p->loss = v[2] > 0 ? v[0] / v[2] : NAN;
    p->acc = v[2] > 0 ? v[1] / v[2] : NAN;
    return GH_OK;
}

double nas_cosine_lr(double lr, double lr_min, int epoch, int epochs) {
    const double pi = 3.14159265358979323846;
    return lr_min + (lr - lr_min) * (1.0 + cos(pi * epoch / (double)epochs)) / 2.0;
}

double nas_cosine_restart_lr(double lr, double lr_min, int epoch, int epochs, int t0, int tmul) {
    if (t0 <= 0) return nas_cosine_lr(lr, lr_min, epoch, epochs);
    long t = epoch, period = t0;
    while (t >= period) {
        t -= period;
        period *= tmul > 1 ? tmul : 1;
    }
    return nas_cosine_lr(lr, lr_min, (int)t, (int)period);
}

darts_net_config nas_net_for(const nas_data *d, int layers, int channels, int auxiliary) {
    darts_net_config nc = darts_search_net_defaults();
    nc.in_c = d->train.c;
    nc.in_h = d->train.h;
    nc.in_w = d->train.w;
    nc.classes = d->train.classes;
    nc.layers = layers;
    nc.c = channels;
    nc.auxiliary = auxiliary;
    return nc;
}

void nas_genotype_info(const nas_config *c, const nas_data *d, const genotype *g,
                         char *text, size_t len, double *params, double *madds) {
    genotype_print(g, text, len);
    darts_net_config nc = nas_net_for(d, c->final_layers, c->final_channels, c->auxiliary);
    darts_net_count cnt;
    if (darts_count_net(&nc, g, &cnt)) {
        *params = *madds = NAN;
        return;
    }
    *params = cnt.params;
    *madds = cnt.madds;
}

int nas_record_trial(const nas_run *r, int64_t id, const genotype *g, const nas_eval_result *res,
                     const char *status) {
    if (!r->l) return GH_OK;
    char text[2048];
    double params, madds;
    nas_genotype_info(r->c, r->d, g, text, sizeof text, &params, &madds);
    ledger_trial t = {.id = id, .arch = text, .learner = "", .fidelity = res->fidelity,
                      .train_acc = res->train_acc, .val_acc = res->val_acc, .test_acc = NAN,
                      .train_loss = res->train_loss, .val_loss = res->val_loss,
                      .test_loss = NAN, .madds = madds, .params = params, .cost = res->cost,
                      .status = status, .worker = res->worker};
    return ledger_append_trial(r->l, &t);
}

int nas_run_open(nas_run *r, const nas_config *c, const nas_data *d, struct ledger *l) {
    memset(r, 0, sizeof *r);
    r->c = c;
    r->d = d;
    r->l = l;
    const gh_images *src = &d->train;
    int st = GH_OK;
    if (c->search_batch < 1 || c->search_epochs < 0)
        return gh_fail(GH_EINVAL, "search_batch %d, search_epochs %d: expected >= 1 and >= 0",
                       c->search_batch, c->search_epochs);
    if (c->search_limit > 0 && c->search_limit < d->train.n) {
        if ((st = images_sample(&r->sample, &d->train, c->search_limit, c->seed))) return st;
        src = &r->sample;
    }
    if ((st = images_split(src, c->train_portion, &r->wtrain, &r->wval))) {
        nas_run_close(r);
        return st;
    }
    printf("search: %d images train the weights, %d score the architecture (train_portion %g)\n",
           r->wtrain.n, r->wval.n, c->train_portion);
    r->aug = d->norm;
    r->aug.crop_pad = c->search_crop_pad;
    r->aug.flip = c->search_flip;
    r->aug.cutout = c->search_cutout;
    r->nc = nas_net_for(d, c->search_layers, c->search_channels, 0);
    r->meter = cost_meter_create(nas_gpus(c));
    r->cost0 = nas_cost_none();
    cost_meter_start(r->meter);
    return GH_OK;
}

cost_totals nas_run_cost(const nas_run *r) {
    return cost_add(r->cost0, cost_meter_read(r->meter));
}

void nas_run_close(nas_run *r) {
    cost_meter_destroy(r->meter);
    images_free(&r->sample);
    images_free(&r->wtrain);
    images_free(&r->wval);
    r->meter = NULL;
}

int nas_run_supernet(const nas_run *r, gh_engine **e, nas_net *net) {
    size_t arena;
    *e = NULL;
    memset(net, 0, sizeof *net);
    int st = nas_arena_bytes(r->c, &r->nc, NULL, r->c->search_batch, &arena);
    if (!st) st = nas_engine_open(e, r->c, arena, r->c->seed);
    if (!st) st = nas_net_build(net, *e, &r->nc, NULL);
    if (st) {
        gh_engine_destroy(*e);
        *e = NULL;
        return st;
    }
    darts_net_count cnt;
    darts_count_net(&r->nc, NULL, &cnt);
    printf("supernet: %d cells, C=%d, %.0f weights (%.3f M), %.0f alphas, %.1f M multiply-adds "
           "per image, arena %.0f MiB\n",
           r->nc.layers, r->nc.c, cnt.params, cnt.params / 1e6, cnt.arch, cnt.madds / 1e6,
           arena / 1048576.0);
    return GH_OK;
}
