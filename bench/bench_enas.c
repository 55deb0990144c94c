// bench_enas: the three steps of an ENAS micro search (search/nas/enas.c) timed on the engine at
// the paper's search shapes (cifar10_micro_search.sh: 6 layers + 2 reduction cells, C=20, B=5,
// batch 160, 32x32x3) or any other: the child step (SGD on one sampled arc of the shared
// weights), the reward forward (one validation batch through a sampled arc, batch statistics,
// no gradients) and the controller step (a sample and its REINFORCE feedback, LSTM 64, on the
// reference backend). Prints p50/min/max of each and the projected search cost: epochs x
// (train images / batch child steps + train_steps x aggregate x (controller + reward)).
// --macro: the macro search instead (cifar10_macro_search.sh: 12 layers, 36 filters, batch 128,
// 310 epochs, 50 x 20 controller samples; the shared macro network, rewards with running
// statistics, the macro controller with its skip penalty).
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/nas/nas_internal.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    printf("usage: bench_enas [options]\n"
           "  -l, --layers N      cells, reductions included (8)\n"
           "  -c, --channels N    initial channels (20)\n  -B, --nodes N       nodes per cell (5)\n"
           "  -n, --batch N       batch (160)\n  -s, --size N        image side (32)\n"
           "  -i, --in-channels N image channels (3)\n  -e, --epochs N      search epochs (150)\n"
           "  -m, --images N      training images per epoch (45000)\n"
           "  -r, --repeat N      timed steps (5)\n  -w, --warmup N      untimed steps (1)\n"
           "  -t, --threads N     OpenMP threads (OpenMP default)\n"
           "  -b, --backend NAME  cpu, ref, cuda (cpu)\n"
           "  -M, --macro         the macro search (defaults: 12 layers, C=36, batch 128, 310\n"
           "                      epochs, 50 x 20 controller samples per epoch)\n"
           "  -h, --help\n");
}

static void report(const char *what, double *t, int n) {
    qsort(t, (size_t)n, sizeof t[0], cmp);
    printf("ours  %-18s p50 %.5f s  min %.5f  max %.5f\n", what, t[n / 2], t[0], t[n - 1]);
}

int main(int argc, char **argv) {
    int layers = 8, ch = 20, nodes = 5, batch = 160, size = 32, in_c = 3, epochs = 150,
        images = 45000, repeat = 5, warmup = 1, threads = 0, macro = 0;
    int set_l = 0, set_c = 0, set_n = 0, set_e = 0;
    const char *backend = "cpu";
    struct option opts[] = {
        {"layers", 1, 0, 'l'}, {"channels", 1, 0, 'c'}, {"nodes", 1, 0, 'B'},
        {"batch", 1, 0, 'n'},  {"size", 1, 0, 's'},     {"in-channels", 1, 0, 'i'},
        {"epochs", 1, 0, 'e'}, {"images", 1, 0, 'm'},   {"repeat", 1, 0, 'r'},
        {"warmup", 1, 0, 'w'}, {"threads", 1, 0, 't'},  {"backend", 1, 0, 'b'},
        {"macro", 0, 0, 'M'},  {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "l:c:B:n:s:i:e:m:r:w:t:b:Mh", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': layers = atoi(optarg), set_l = 1; break;
        case 'c': ch = atoi(optarg), set_c = 1; break;
        case 'B': nodes = atoi(optarg); break;
        case 'n': batch = atoi(optarg), set_n = 1; break;
        case 's': size = atoi(optarg); break;
        case 'i': in_c = atoi(optarg); break;
        case 'e': epochs = atoi(optarg), set_e = 1; break;
        case 'm': images = atoi(optarg); break;
        case 'r': repeat = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'b': backend = optarg; break;
        case 'M': macro = 1; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (macro) {   // the macro search script's shapes unless given
        if (!set_l) layers = 12;
        if (!set_c) ch = 36;
        if (!set_n) batch = 128;
        if (!set_e) epochs = 310;
    }
    if (repeat < 1 || repeat > 1000) repeat = 5;
    if (threads > 0) omp_set_num_threads(threads);
    nas_config c;
    nas_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "%s", backend);
    darts_net_config nc = darts_search_net_defaults();
    nc.layers = layers;
    nc.c = ch;
    nc.steps = nc.multiplier = nodes;
    nc.in_c = in_c;
    nc.in_h = nc.in_w = size;
    enas_macro_config mc = {.in_c = in_c, .in_h = size, .in_w = size, .classes = 10,
                            .layers = layers, .c = ch, .shared = 1, .dropout = 0.1};
    darts_net_count cnt;
    if (macro)
        enas_macro_count(&mc, NULL, &cnt);
    else
        darts_count_net(&nc, NULL, &cnt);
    printf("# bench_enas: %s %d %s C=%d, %dx%dx%d, batch %d, %.0f shared weights, backend %s, %d "
           "threads\n", macro ? "macro network" : "supernet", layers, macro ? "layers" : "cells",
           ch, in_c, size, size, batch, cnt.params, backend, omp_get_max_threads());
    // the arena of the costliest path (every edge a sep_conv_5x5, every node concatenated)
    genotype worst;
    memset(&worst, 0, sizeof worst);
    geno_cell *cells[2] = {&worst.normal, &worst.reduce};
    for (int t = 0; t < 2; t++) {
        cells[t]->steps = nodes;
        for (int i = 0; i < 2 * nodes; i++)
            cells[t]->edge[i] = (geno_edge){.op = DARTS_OP_SEP_CONV_5X5, .input = i % 2};
        cells[t]->nconcat = nodes;
        for (int i = 0; i < nodes; i++) cells[t]->concat[i] = 2 + i;
    }
    enas_macro_arc mworst, marc;
    enas_macro_worst_arc(layers, &mworst);
    gh_engine *e = NULL;
    size_t arena;
    nas_net net = {0};
    enas_macro_model mm = {.path = &marc};
    int st = macro ? enas_macro_arena_bytes(&c, &mc, &mworst, batch, &arena)
                   : nas_arena_bytes(&c, &nc, &worst, batch, &arena);
    if (!st) st = nas_engine_open(&e, &c, arena + arena / 4, 1);
    if (!st)
        st = macro ? enas_macro_model_build(&mm, e, &mc, NULL) : nas_net_build(&net, e, &nc, NULL);
    enas_ctrl *ctrl = NULL;
    // the official controller settings of the micro or the macro search script
    enas_ctrl_opts co = {.nodes = nodes, .hidden = 64, .tanh_c = macro ? 1.5 : 1.1,
                         .op_tanh_reduce = 2.5, .entropy_weight = 1e-4, .bl_dec = 0.99,
                         .lr = macro ? 0.001 : 0.0035, .b_soft_init = 10,
                         .aggregate = macro ? 20 : 10, .seed = 1, .macro = macro,
                         .layers = layers, .skip_target = 0.4, .skip_weight = 0.8};
    if (!st) st = enas_ctrl_create(&ctrl, &co);
    if (st) {
        fprintf(stderr, "bench_enas: %s: %s\n", gh_status_str(st), gh_error_get());
        return 1;
    }
    size_t n_in = (size_t)batch * in_c * size * size;
    float *x = malloc(n_in * 4);
    int *y = malloc(sizeof(int) * (size_t)batch);
    gh_rng r;
    gh_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < n_in; i++) x[i] = (float)gh_rng_normal(&r);
    for (int i = 0; i < batch; i++) y[i] = (int)gh_rng_below(&r, 10);
    gh_batch b = {.x = x, .y = y, .ndim = 4, .shape = {batch, in_c, size, size}};
    gh_step_def sd = {.loss = macro ? enas_macro_loss : nas_net_loss,
                      .model = macro ? (void *)&mm : (void *)&net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 1e-4, .grad_clip = 5};
    double tc[1000], tf[1000], tk[1000];
    genotype g;
    enas_arc a;
    net.path = &g;
    for (int i = 0; i < warmup + repeat && !st; i++) {
        // controller step: a sample and its feedback
        double t0 = gh_wall_seconds();
        st = macro ? enas_ctrl_sample_macro(ctrl, &marc, NULL, NULL)
                   : enas_ctrl_sample(ctrl, &a, NULL, NULL);
        if (!st) st = enas_ctrl_reinforce(ctrl, 0.5, NULL);
        double t1 = gh_wall_seconds();
        if (!st && !macro) st = enas_arc_to_genotype(&a, &g);
        // child step on that arc
        double t2 = gh_wall_seconds();
        if (!st) st = gh_train_step(e, &sd, &b, 0.05);
        if (!st && gh_engine_backend(e) == GH_BACKEND_CUDA) st = gh_cuda_sync();
        double t3 = gh_wall_seconds();
        // reward forward on the same arc
        if (!st) {
            gh_step_begin(e);
            gh_set_grad_enabled(e, 0);
            gh_set_training(e, !macro);   // as enas.c: the macro rewards use running statistics
            const int *labels = gh_labels(e, batch, y);
            gh_tensor *logits = NULL;
            if (macro)
                enas_macro_loss(&mm, e, &b, labels, &logits);
            else
                nas_net_eval_loss(&net, e, &b, labels, &logits);
            double hits[GH_ACC_EVAL_HITS + 2];
            st = gh_acc_reset(e, GH_ACC_EVAL_HITS + 1, 1);
            if (!st && logits) st = gh_acc_hits(e, GH_ACC_EVAL_HITS + 1, logits, labels);
            if (!st) st = gh_acc_read(e, GH_ACC_EVAL_HITS + 2, hits);
            gh_set_grad_enabled(e, 1);
            gh_set_training(e, 1);
        }
        double t4 = gh_wall_seconds();
        if (i >= warmup) {
            tk[i - warmup] = t1 - t0;
            tc[i - warmup] = t3 - t2;
            tf[i - warmup] = t4 - t3;
        }
    }
    if (st) {
        fprintf(stderr, "bench_enas: %s: %s\n", gh_status_str(st), gh_error_get());
        return 1;
    }
    report("child_step", tc, repeat);
    report("reward_forward", tf, repeat);
    report("controller_step", tk, repeat);
    double child = tc[repeat / 2], fwd = tf[repeat / 2], ctl = tk[repeat / 2];
    double steps = (double)((images + batch - 1) / batch), samples = macro ? 50.0 * 20 : 30.0 * 10;
    double epoch_s = steps * child + samples * (fwd + ctl);
    printf("arena peak %.0f MiB; per epoch: %.0f child steps %.1f s, %.0f controller samples "
           "%.1f s; projected %d-epoch search %.2f h (steps only)\n",
           gh_engine_arena_peak(e) / 1048576.0, steps, steps * child, samples,
           samples * (fwd + ctl), epochs, epochs * epoch_s / 3600.0);
    free(x);
    free(y);
    enas_ctrl_destroy(ctrl);
    nas_net_free(&net);
    enas_macronet_free(mm.net);
    gh_engine_destroy(e);
    return 0;
}
