// cli: `gpuhours train`: trains the small CNN of models/cnn.c on Fashion-MNIST with SGD
// (momentum, weight decay, cosine learning rate) through the engine's trainer and reports test
// accuracy, wall time and examples/s; `--genotype` goes to cmd_train_darts.c.
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "data/data.h"
#include "dist/dist.h"
#include "engine/engine.h"
#include "models/models.h"

// ---- configuration -------------------------------------------------------------------------

typedef struct {
    const char *data_dir;
    const char *preset;    // "" or "smoke"
    int epochs;
    int batch;
    float lr, momentum, wd;
    char backend_text[32];
    gh_backend backend;
    int device;
    uint64_t seed;
    int deterministic;
    gh_precision precision; // convs: fp32, or tf32/bf16 tensor cores (cuda backend only)
    int max_train;         // 0: the whole training split
    int threads;           // 0: the OpenMP default
    int eval_batch;
} train_config;

static void config_defaults(train_config *c) {
    memset(c, 0, sizeof *c);
    c->data_dir = GH_FASHION_MNIST_DIR;
    c->preset = "";
    c->epochs = 3;
    c->batch = 128;
    c->lr = 0.02f;
    c->momentum = 0.9f;
    c->wd = 5e-4f;
    snprintf(c->backend_text, sizeof c->backend_text, "auto");
    c->seed = 1;
    c->eval_batch = 500;
}

// smoke: a few hundred steps on a seeded subset, about a minute on two cores
static int apply_preset(train_config *c, const char *name) {
    if (!strcmp(name, "smoke")) {
        c->preset = "smoke";
        c->epochs = 1;
        c->max_train = 25600;
        c->batch = 128;
        return 0;
    }
    fprintf(stderr, "gpuhours train: unknown preset '%s' (expected smoke)\n", name);
    return 2;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpuhours train [options]\n"
            "       gpuhours train --genotype TEXT|NAME [options]   (DARTS evaluation network;\n"
            "                      see gpuhours train --genotype DARTS_V2 --help)\n\n"
            "Trains a small CNN (conv3x3(16)-BN-ReLU-maxpool-conv3x3(32)-BN-ReLU-maxpool-\n"
            "linear) on Fashion-MNIST and reports test accuracy, wall time and examples/s.\n"
            "Settings: defaults, then --preset, then the other flags (in any order).\n\n"
            "options:\n"
            "  -p, --preset NAME      smoke: 1 epoch on 25600 images (~1 min on 2 cores);\n"
            "                         darts-*: a DARTS preset (search first, then train)\n"
            "  -d, --data DIR         MNIST-format directory (default %s)\n"
            "  -e, --epochs N         passes over the training images (default 3)\n"
            "  -b, --batch N          batch size (default 128)\n"
            "  -l, --lr X             peak learning rate, cosine-decayed to 0 (default 0.02)\n"
            "  -m, --momentum X       SGD momentum (default 0.9)\n"
            "  -w, --wd X             weight decay (default 5e-4)\n"
            "  -B, --backend NAME     cpu, ref, cuda, cuda:N or auto (default auto)\n"
            "  -s, --seed N           seed for init, data order and subset (default 1)\n"
            "  -D, --deterministic    fixed-order reductions on the GPU\n"
            "  -P, --precision NAME   convs in fp32 (default), or tf32 / bf16 on tensor cores\n"
            "                         (needs --backend cuda)\n"
            "  -n, --max-train N      use a seeded subset of N training images (0: all)\n"
            "  -t, --threads N        CPU threads for OpenMP and OpenBLAS (0: default)\n"
            "  -h, --help             this help\n",
            GH_FASHION_MNIST_DIR);
}

static const struct option train_opts[] = {
    {"preset", required_argument, NULL, 'p'},  {"data", required_argument, NULL, 'd'},
    {"epochs", required_argument, NULL, 'e'},  {"batch", required_argument, NULL, 'b'},
    {"lr", required_argument, NULL, 'l'},      {"momentum", required_argument, NULL, 'm'},
    {"wd", required_argument, NULL, 'w'},      {"backend", required_argument, NULL, 'B'},
    {"seed", required_argument, NULL, 's'},    {"deterministic", no_argument, NULL, 'D'},
    {"max-train", required_argument, NULL, 'n'}, {"threads", required_argument, NULL, 't'},
    {"precision", required_argument, NULL, 'P'},
    {"help", no_argument, NULL, 'h'},          {0, 0, 0, 0}};
static const char *train_short = "p:d:e:b:l:m:w:B:s:DP:n:t:h";

// Two passes: the preset first, so that explicit flags override it wherever they appear.
// Returns -1 to continue, else the exit status.
static int parse_args(int argc, char **argv, train_config *c) {
    config_defaults(c);
    int opt, rc = 0;
    long lv = 0;
    double dv = 0;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, train_short, train_opts, NULL)) != -1)
        if (opt == 'p' && (rc = apply_preset(c, optarg))) return rc;
    opterr = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, train_short, train_opts, NULL)) != -1) {
        switch (opt) {
        case 'p': break;
        case 'd': c->data_dir = optarg; break;
        case 'e':
            rc = cli_int("train", "--epochs", optarg, 1, 100000, &lv);
            c->epochs = (int)lv;
            break;
        case 'b':
            rc = cli_int("train", "--batch", optarg, 1, 1 << 16, &lv);
            c->batch = (int)lv;
            break;
        case 'l':
            rc = cli_double("train", "--lr", optarg, 0, 100, &dv);
            c->lr = (float)dv;
            break;
        case 'm':
            rc = cli_double("train", "--momentum", optarg, 0, 0.999999, &dv);
            c->momentum = (float)dv;
            break;
        case 'w':
            rc = cli_double("train", "--wd", optarg, 0, 1, &dv);
            c->wd = (float)dv;
            break;
        case 'B': snprintf(c->backend_text, sizeof c->backend_text, "%s", optarg); break;
        case 's': rc = cli_seed("train", "--seed", optarg, &c->seed); break;
        case 'D': c->deterministic = 1; break;
        case 'P':
            if (gh_precision_parse(optarg, &c->precision)) {
                fprintf(stderr, "gpuhours train: --precision: %s\n", gh_error_get());
                return 2;
            }
            break;
        case 'n':
            rc = cli_int("train", "--max-train", optarg, 0, 1 << 30, &lv);
            c->max_train = (int)lv;
            break;
        case 't':
            rc = cli_int("train", "--threads", optarg, 0, 4096, &lv);
            c->threads = (int)lv;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc) return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "gpuhours train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (gh_backend_parse(c->backend_text, &c->backend, &c->device)) {
        fprintf(stderr, "gpuhours train: --backend: %s\n", gh_error_get());
        return 2;
    }
    if (c->precision != GH_PREC_FP32 && c->backend != GH_BACKEND_CUDA) {
        fprintf(stderr, "gpuhours train: --precision %s needs --backend cuda (backend %s: its "
                "kernels compute fp32 only)\n", gh_precision_name(c->precision),
                gh_backend_name(c->backend));
        return 2;
    }
    return -1;
}

static void config_echo(const train_config *c) {
    char dev[32];
    if (c->backend == GH_BACKEND_CUDA) snprintf(dev, sizeof dev, "cuda:%d", c->device);
    else snprintf(dev, sizeof dev, "%s", gh_backend_name(c->backend));
    printf("gpuhours train: config\n"
           "  model          cnn (conv3x3(16)-bn-relu-maxpool-conv3x3(32)-bn-relu-maxpool-"
           "linear)\n"
           "  preset         %s\n  data           %s\n  epochs         %d\n"
           "  batch          %d\n  lr             %g (cosine to 0)\n  momentum       %g\n"
           "  wd             %g\n  backend        %s (asked %s)\n  seed           %llu\n"
           "  deterministic  %d\n  precision      %s\n  max_train      %d%s\n"
           "  threads        %d%s\n",
           *c->preset ? c->preset : "none", c->data_dir, c->epochs, c->batch, (double)c->lr,
           (double)c->momentum, (double)c->wd, dev, c->backend_text,
           (unsigned long long)c->seed, c->deterministic, gh_precision_name(c->precision),
           c->max_train,
           c->max_train ? "" : " (all)", c->threads ? c->threads : omp_get_max_threads(),
           c->threads ? "" : " (default)");
}

// ---- data ----------------------------------------------------------------------------------

// Fashion-MNIST pixel mean and standard deviation over the training split.
#define FMNIST_MEAN 0.2860f
#define FMNIST_STD 0.3530f

static void normalise(gh_images *d) {
    size_t n = (size_t)d->n * (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (size_t i = 0; i < n; i++) d->x[i] = (d->x[i] - FMNIST_MEAN) / FMNIST_STD;
}

// The batches of a run: a seeded subset (GH_STREAM_SPLIT) fixed for the run, reshuffled at the
// start of each epoch by one continuing stream (GH_STREAM_DATA); the test set in order.
typedef struct {
    const train_config *c;
    const gh_images *tr, *te;
    int ntrain, per;
    int *subset, *idx;
    gh_rng order;
    float *xb;
    int *yb;
    long total_steps;
    int steps_per_epoch;
} train_data;

static void gather(const gh_images *d, const int *idx, int n, float *x, int *y, gh_batch *b) {
    size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (int i = 0; i < n; i++) {
        memcpy(x + (size_t)i * per, d->x + (size_t)idx[i] * per, per * sizeof(float));
        y[i] = d->y[idx[i]];
    }
    *b = (gh_batch){.x = x, .y = y, .ndim = 4, .shape = {n, d->c, d->h, d->w}};
}

static int train_batch(void *ctx, int epoch, int step, gh_batch *b) {
    (void)epoch;
    train_data *td = ctx;
    int bs = td->c->batch;
    if (step == 0) {
        memcpy(td->idx, td->subset, (size_t)td->ntrain * sizeof(int));
        gh_rng_shuffle(&td->order, td->idx, (size_t)td->ntrain);
    }
    int s0 = step * bs, n = td->ntrain - s0 < bs ? td->ntrain - s0 : bs;
    gather(td->tr, td->idx + s0, n, td->xb, td->yb, b);
    return GH_OK;
}

static int test_batch(void *ctx, int epoch, int step, gh_batch *b) {
    (void)epoch;
    train_data *td = ctx;
    int bs = td->c->eval_batch, s0 = step * bs, n = td->te->n - s0 < bs ? td->te->n - s0 : bs;
    for (int i = 0; i < n; i++) td->idx[i] = s0 + i;
    gather(td->te, td->idx, n, td->xb, td->yb, b);
    return GH_OK;
}

// cosine annealing to zero over the run (Loshchilov & Hutter 2017, no restarts), per step
static double train_lr(void *ctx, int epoch, int step) {
    const train_data *td = ctx;
    long g = (long)epoch * td->steps_per_epoch + step;
    return 0.5f * td->c->lr * (1.0f + cosf(3.14159265f * (float)g / (float)td->total_steps));
}

// The engine comes first, so that a bad --backend fails before the data are read.
static int make_engine(const train_config *c, gh_engine **e) {
    // Activations and their gradients take about 0.5 MiB per 28x28 image for this CNN; 1 MiB
    // per image of the larger of the two batch sizes leaves room, plus a fixed margin.
    int bmax = c->batch > c->eval_batch ? c->batch : c->eval_batch;
    gh_engine_config ec = {.backend = c->backend, .device_index = c->device,
                           .arena_bytes = ((size_t)bmax + 16) << 20,
                           .deterministic = c->deterministic, .seed = c->seed};
    int st = gh_engine_create(e, &ec);
    if (!st && (st = gh_set_precision(*e, c->precision))) {
        gh_engine_destroy(*e);
        *e = NULL;
    }
    return st;
}

static int train_cnn(const train_config *c, gh_engine *e, const gh_images *tr,
                     const gh_images *te) {
    cnn_net net;
    int st = cnn_build(&net, e, tr->c, tr->h, tr->w, tr->classes);
    int bmax = c->batch > c->eval_batch ? c->batch : c->eval_batch;
    int nidx = tr->n > te->n ? tr->n : te->n;
    train_data td = {.c = c, .tr = tr, .te = te, .per = tr->c * tr->h * tr->w};
    td.xb = malloc((size_t)bmax * (size_t)td.per * sizeof(float));
    td.yb = malloc((size_t)bmax * sizeof(int));
    td.idx = malloc((size_t)nidx * sizeof(int));
    td.subset = malloc((size_t)tr->n * sizeof(int));
    if (!td.xb || !td.yb || !td.idx || !td.subset)
        st = st ? st : gh_fail(GH_ENOMEM, "train: host buffers");
    gh_rng split;
    gh_rng_seed(&split, c->seed, GH_STREAM_SPLIT);
    gh_rng_seed(&td.order, c->seed, GH_STREAM_DATA);
    td.ntrain = c->max_train && c->max_train < tr->n ? c->max_train : tr->n;
    if (!st) {
        for (int i = 0; i < tr->n; i++) td.subset[i] = i;
        if (td.ntrain < tr->n) gh_rng_shuffle(&split, td.subset, (size_t)tr->n);
    }
    td.steps_per_epoch = (td.ntrain + c->batch - 1) / c->batch;
    td.total_steps = (long)td.steps_per_epoch * c->epochs;
    if (!st)
        printf("training %ld steps (%d epochs x %d) on %d images, %zu weights (flat)\n",
               td.total_steps, c->epochs, td.steps_per_epoch, td.ntrain,
               gh_group_numel(e, GH_GROUP_WEIGHTS));
    gh_step_def sd = {.loss = cnn_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = c->momentum, .wd = c->wd};
    gh_train_plan plan = {.phase = "train", .epochs = c->epochs, .steps = td.steps_per_epoch,
                          .report_every = 50, .batch = train_batch, .lr = train_lr,
                          .step_def = &sd, .ctx = &td};
    double t0 = gh_wall_seconds();
    if (!st) st = gh_train_run(e, &plan, NULL, NULL);
    double train_s = gh_wall_seconds() - t0;
    if (!st) {
        double acc = 0, tl = 0, te0 = gh_wall_seconds();
        int nb = (te->n + c->eval_batch - 1) / c->eval_batch;
        st = gh_train_evaluate(e, cnn_loss, &net, test_batch, &td, nb, &tl, &acc);
        double eval_s = gh_wall_seconds() - te0;
        if (!st) {
            long seen = (long)td.ntrain * c->epochs;
            printf("test accuracy %.2f%% (loss %.4f) on %d images\n", 100 * acc, tl, te->n);
            // every bit, for the regression test that holds refactors to identical results
            printf("test loss %a\n", tl);
            printf("wall time %.1f s training (%.0f examples/s), %.1f s evaluating (%.0f "
                   "examples/s); arena peak %.1f MiB\n",
                   train_s, seen / train_s, eval_s, te->n / eval_s,
                   (double)gh_engine_arena_peak(e) / (1 << 20));
        }
    }
    free(td.xb);
    free(td.yb);
    free(td.idx);
    free(td.subset);
    return st;
}

// `--genotype` or a darts-* preset selects the DARTS evaluation protocol (cmd_train_darts.c);
// everything else is the small-CNN trainer in this file.
static int wants_darts(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        // --resume: only the DARTS protocol's final training writes checkpoints
        if (!strncmp(a, "--genotype", 10) || !strncmp(a, "--preset=darts", 14) ||
            !strncmp(a, "-pdarts", 7) || !strncmp(a, "--resume", 8))
            return 1;
        if ((!strcmp(a, "--preset") || !strcmp(a, "-p")) && i + 1 < argc &&
            !strncmp(argv[i + 1], "darts", 5))
            return 1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (wants_darts(argc, argv)) return train_darts_main(argc, argv);
    if (pg_world()->size > 1) {   // the small CNN has no data-parallel path (DARTS's has)
        if (pg_world()->rank == 0)
            fprintf(stderr, "gpuhours train: the small CNN runs as one process; %s started %d "
                    "(--preset darts* and --genotype train data parallel)\n",
                    pg_world()->launcher, pg_world()->size);
        return 2;
    }
    train_config c;
    int rc = parse_args(argc, argv, &c);
    if (rc >= 0) return rc;
    if (c.threads > 0) {
        omp_set_num_threads(c.threads);
        openblas_set_num_threads(c.threads);
    }
    config_echo(&c);
    gh_engine *e;
    int st = make_engine(&c, &e);
    if (st) return cli_fail("train", st);
    double t0 = gh_wall_seconds();
    gh_images tr, te;
    st = images_read_mnist_dir(&tr, c.data_dir, "train");
    if (!st) {
        st = images_read_mnist_dir(&te, c.data_dir, "test");
        if (st) images_free(&tr);
    }
    if (st) {
        gh_engine_destroy(e);
        return cli_fail("train", st);
    }
    normalise(&tr);
    normalise(&te);
    printf("data: %d train, %d test images of %dx%dx%d, %d classes (%.1f s to read)\n", tr.n,
           te.n, tr.c, tr.h, tr.w, tr.classes, gh_wall_seconds() - t0);
    double t1 = gh_wall_seconds();
    st = train_cnn(&c, e, &tr, &te);
    gh_engine_destroy(e);
    images_free(&tr);
    images_free(&te);
    if (st) return cli_fail("train", st);
    printf("total %.1f s\n", gh_wall_seconds() - t1);
    return 0;
}
