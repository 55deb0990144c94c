// bench_darts: one DARTS supernet search step (architecture step + weight step, first and
// second order) at the paper's search configuration, timed on the engine; the PyTorch peer
// (bench/peer_darts_torch.py) times the same network and step at the same threads. Prints
// p50/min/max per order and, with --gpu-hours, the projected search cost.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/nas/nas.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    printf("usage: bench_darts [options]\n"
           "  -l, --layers N      cells (8)\n  -c, --channels N    initial channels (16)\n"
           "  -n, --batch N       batch (64)\n  -s, --size N        image side (32)\n"
           "  -k, --classes N     classes (10)\n  -o, --order 1|2|0   0 = both (0)\n"
           "  -r, --repeat N      timed steps (3)\n  -w, --warmup N      untimed steps (1)\n"
           "  -t, --threads N     OpenMP threads (OpenMP default)\n"
           "  -b, --backend NAME  cpu, ref, cuda (cpu)\n  -h, --help\n");
}

int main(int argc, char **argv) {
    int layers = 8, ch = 16, batch = 64, size = 32, classes = 10, order = 0, repeat = 3,
        warmup = 1, threads = 0;
    const char *backend = "cpu";
    struct option opts[] = {{"layers", 1, 0, 'l'},  {"channels", 1, 0, 'c'}, {"batch", 1, 0, 'n'},
                            {"size", 1, 0, 's'},    {"classes", 1, 0, 'k'},  {"order", 1, 0, 'o'},
                            {"repeat", 1, 0, 'r'},  {"warmup", 1, 0, 'w'},   {"threads", 1, 0, 't'},
                            {"backend", 1, 0, 'b'}, {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "l:c:n:s:k:o:r:w:t:b:h", opts, NULL)) != -1) {
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
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (repeat < 1 || repeat > 1000) repeat = 3;
    if (threads > 0) omp_set_num_threads(threads);
    darts_net_config nc = darts_search_net_defaults();
    nc.layers = layers;
    nc.c = ch;
    nc.in_h = nc.in_w = size;
    nc.classes = classes;
    darts_net_count cnt;
    darts_count_net(&nc, NULL, &cnt);
    printf("# bench_darts: supernet %d cells C=%d, %dx%dx%d, batch %d, %.0f weights, %.1f M "
           "multiply-adds/image, backend %s, %d threads\n",
           layers, ch, nc.in_c, size, size, batch, cnt.params, cnt.madds / 1e6, backend,
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
        if (order && o != order) continue;
        nas_config c;
        nas_config_defaults(&c);
        snprintf(c.backend, sizeof c.backend, "%s", backend);
        gh_engine *e;
        size_t arena;
        darts_supernet *net;
        darts_search *s;
        int st = nas_arena_bytes(&c, &nc, NULL, batch, &arena);
        if (!st) st = nas_engine_open(&e, &c, arena, 1);
        if (!st) st = darts_supernet_build(&net, e, &nc);
        if (!st) st = gh_params_alloc(e);
        darts_step_opts so = {.order = o, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                              .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999,
                              .arch_wd = 1e-3};
        if (!st) st = darts_search_create(&s, e, net, &so);
        double t[1000];
        gh_batch bt = {.x = xt, .y = yt, .ndim = 4, .shape = {batch, nc.in_c, size, size}};
        gh_batch bv = bt;
        bv.x = xv;
        bv.y = yv;
        for (int i = 0; i < warmup + repeat && !st; i++) {
            double t0 = gh_wall_seconds();
            st = darts_search_step(s, &bt, &bv, 0.025);
            if (!st && gh_engine_backend(e) == GH_BACKEND_CUDA) st = gh_cuda_sync();
            if (i >= warmup) t[i - warmup] = gh_wall_seconds() - t0;
        }
        if (st) {
            fprintf(stderr, "bench_darts: order %d: %s: %s\n", o, gh_status_str(st), gh_error_get());
            return 1;
        }
        qsort(t, (size_t)repeat, sizeof t[0], cmp);
        // steps per search: 25000 training images / batch, times 50 epochs (the paper)
        double steps = 50.0 * ((25000 + batch - 1) / batch);
        printf("ours  order=%d step_s p50 %.4f min %.4f max %.4f  arena peak %.0f MiB  "
               "projected 50-epoch search %.2f h (steps only)\n",
               o, t[repeat / 2], t[0], t[repeat - 1], gh_engine_arena_peak(e) / 1048576.0,
               t[repeat / 2] * steps / 3600.0);
        fflush(stdout);
        darts_search_free(s);
        darts_supernet_free(net);
        gh_engine_destroy(e);
    }
    free(xt); free(xv); free(yt); free(yv);
    return 0;
}
