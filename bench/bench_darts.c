// bench_darts: one DARTS supernet search step (architecture step + weight step, first and
// second order) at the paper's search configuration, timed on the engine; the PyTorch peer
// (bench/peer_darts_torch.py) times the same network and step at the same threads. Prints
// p50/min/max per order and, with --gpu-hours, the projected search cost. --final times the
// final-training step of a genotype's evaluation network instead (DARTS_V2, 20 cells C=36,
// batch 96: auxiliary head 0.4, drop-path 0.2, SGD with momentum, clipping 5).
// bench/peer_darts.py runs this and the peer alternately and reports both peak RSS figures.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "search/nas/nas.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// FNV-1a of a group's values (host backends): the bit-identity check of --deterministic.
static uint64_t group_hash(gh_engine *e, int group) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)gh_group_data(e, group);
    size_t n = gh_group_numel(e, group) * sizeof(float);
    if (!p || gh_engine_backend(e) == GH_BACKEND_CUDA) return 0;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// --deterministic: the step's training loss (the accumulator the trainer fills) and the hashes
// of the weights and alphas after it.
static int print_step(gh_engine *e, int i) {
    double acc[GH_ACC_TRAIN_LOSS + 1];
    int st = gh_acc_read(e, GH_ACC_TRAIN_LOSS + 1, acc);
    if (!st) st = gh_acc_reset(e, GH_ACC_TRAIN_LOSS, 1);
    if (!st)
        printf("step %d train_loss_sum %.17g weights %016llx arch %016llx\n", i,
               acc[GH_ACC_TRAIN_LOSS], (unsigned long long)group_hash(e, GH_GROUP_WEIGHTS),
               (unsigned long long)group_hash(e, GH_GROUP_ARCH));
    return st;
}

// The process's CPU seconds, all threads (with OMP_WAIT_POLICY=PASSIVE a waiting thread
// sleeps, so this is the work done; on a loaded machine it moves less than the wall time).
static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void) {
    printf("usage: bench_darts [options]\n"
           "  -l, --layers N      cells (8)\n  -c, --channels N    initial channels (16)\n"
           "  -n, --batch N       batch (64)\n  -s, --size N        image side (32)\n"
           "  -k, --classes N     classes (10)\n  -o, --order 1|2|0   0 = both (0)\n"
           "  -r, --repeat N      timed steps (3)\n  -w, --warmup N      untimed steps (1)\n"
           "  -t, --threads N     OpenMP threads (OpenMP default)\n"
           "  -b, --backend NAME  cpu, ref, cuda (cpu)\n"
           "  -f, --final NAME    time the final-training step of genotype NAME (DARTS_V2)\n"
           "  -d, --deterministic print the loss of every step (fixed seed, deterministic)\n"
           "  -h, --help\n");
}

int main(int argc, char **argv) {
    int layers = 8, ch = 16, batch = 64, size = 32, classes = 10, order = 0, repeat = 3,
        warmup = 1, threads = 0;
    const char *backend = "cpu", *final = NULL;
    int det = 0;
    struct option opts[] = {{"layers", 1, 0, 'l'},  {"channels", 1, 0, 'c'}, {"batch", 1, 0, 'n'},
                            {"size", 1, 0, 's'},    {"classes", 1, 0, 'k'},  {"order", 1, 0, 'o'},
                            {"repeat", 1, 0, 'r'},  {"warmup", 1, 0, 'w'},   {"threads", 1, 0, 't'},
                            {"backend", 1, 0, 'b'}, {"help", 0, 0, 'h'},     {"final", 1, 0, 'f'},
                            {"deterministic", 0, 0, 'd'}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "l:c:n:s:k:o:r:w:t:b:f:dh", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': layers = atoi(optarg); break;
        case 'c': ch = atoi(optarg); break;
        case 'n': batch = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'k': classes = atoi(optarg); break;
        case 'o': order = atoi(optarg); break;
        case 'r': repeat = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'b': backend = optarg; break;
        case 'f': final = optarg; break;
        case 'd': det = 1; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (repeat < 1 || repeat > 1000) repeat = 3;
    if (threads > 0) omp_set_num_threads(threads);
    const char *gtext = final ? genotype_named(final) : NULL;
    genotype g = {0};
    if (final && (!gtext || genotype_parse(&g, gtext))) {
        fprintf(stderr, "bench_darts: --final %s: not a named genotype (DARTS_V2, ...)\n", final);
        return 2;
    }
    darts_net_config nc = final ? darts_eval_net_defaults() : darts_search_net_defaults();
    nc.auxiliary = final != NULL;
    nc.layers = layers;
    nc.c = ch;
    nc.in_h = nc.in_w = size;
    nc.classes = classes;
    darts_net_count cnt;
    darts_count_net(&nc, final ? &g : NULL, &cnt);
    printf("# bench_darts: %s %d cells C=%d, %dx%dx%d, batch %d, %.0f weights, %.1f M "
           "multiply-adds/image, backend %s, %d threads\n",
           final ? final : "supernet", layers, ch, nc.in_c, size, size, batch, cnt.params, cnt.madds / 1e6, backend,
           omp_get_max_threads());
    size_t n_in = (size_t)batch * nc.in_c * size * size;
    float *xt = malloc(n_in * 4), *xv = malloc(n_in * 4);
    int *yt = malloc(sizeof(int) * (size_t)batch), *yv = malloc(sizeof(int) * (size_t)batch);
    gh_rng r;
    gh_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < n_in; i++) {
        xt[i] = (float)gh_rng_normal(&r);
        xv[i] = (float)gh_rng_normal(&r);
    }
    for (int i = 0; i < batch; i++) {
        yt[i] = (int)gh_rng_below(&r, (uint64_t)classes);
        yv[i] = (int)gh_rng_below(&r, (uint64_t)classes);
    }
    for (int o = 1; o <= 2; o++) {
        if (final ? o != 1 : order && o != order) continue;
        nas_config c;
        nas_config_defaults(&c);
        snprintf(c.backend, sizeof c.backend, "%s", backend);
        c.deterministic = det;
        gh_engine *e;
        size_t arena;
        nas_net net = {0};
        darts_search *s = NULL;
        int st = nas_arena_bytes(&c, &nc, final ? &g : NULL, batch, &arena);
        if (!st) st = nas_engine_open(&e, &c, arena, 1);
        if (!st) st = nas_net_build(&net, e, &nc, final ? &g : NULL);
        darts_step_opts so = {.order = o, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                              .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999,
                              .arch_wd = 1e-3};
        if (!st && !final) st = darts_search_create(&s, e, net.super, &so);
        // final training (train.py): drop-path 0.2, auxiliary weight 0.4, SGD 0.9, wd 3e-4
        net.drop_path = final ? 0.2 : 0.0;
        net.aux_weight = final ? 0.4 : 0.0;
        gh_step_def fd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                          .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                          .fixed_graph = 1};
        double t[1000], cs[1000];   // wall and process CPU seconds (all threads) per step
        gh_batch bt = {.x = xt, .y = yt, .ndim = 4, .shape = {batch, nc.in_c, size, size}};
        gh_batch bv = bt;
        bv.x = xv;
        bv.y = yv;
        for (int i = 0; i < warmup + repeat && !st; i++) {
            double t0 = gh_wall_seconds(), c0 = cpu_seconds();
            st = final ? gh_train_step(e, &fd, &bt, 0.025) : darts_search_step(s, &bt, &bv, 0.025);
            if (!st && gh_engine_backend(e) == GH_BACKEND_CUDA) st = gh_cuda_sync();
            if (i >= warmup) {
                t[i - warmup] = gh_wall_seconds() - t0;
                cs[i - warmup] = cpu_seconds() - c0;
            }
            if (!st && det) st = print_step(e, i);
        }
        if (st) {
            fprintf(stderr, "bench_darts: order %d: %s: %s\n", o, gh_status_str(st), gh_error_get());
            return 1;
        }
        qsort(t, (size_t)repeat, sizeof t[0], cmp);
        qsort(cs, (size_t)repeat, sizeof cs[0], cmp);
        // steps per search: 25000 training images / batch, times 50 epochs (the paper)
        double steps = 50.0 * ((25000 + batch - 1) / batch);
        printf("ours  %s=%d step_s p50 %.4f min %.4f max %.4f  arena peak %.0f MiB  "
               "projected 50-epoch search %.2f h (steps only)  cpu_s p50 %.4f\n",
               final ? "final" : "order", o, t[repeat / 2], t[0], t[repeat - 1],
               gh_engine_arena_peak(e) / 1048576.0, t[repeat / 2] * steps / 3600.0, cs[repeat / 2]);
        fflush(stdout);
        darts_search_free(s);
        nas_net_free(&net);
        gh_engine_destroy(e);
    }
    free(xt); free(xv); free(yt); free(yv);
    return 0;
}
