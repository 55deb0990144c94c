// cli: `gpuhours train`: trains a network on Fashion-MNIST with SGD (momentum, weight decay,
// cosine learning rate) and reports test accuracy, wall time and examples/s. The network is a
// train_model (declare + forward), so other networks (a DARTS genotype) plug into the same
// loop; today the one model is the small CNN below.
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "data/data.h"
#include "engine/engine.h"

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
            "  -n, --max-train N      use a seeded subset of N training images (0: all)\n"
            "  -t, --threads N        CPU threads for OpenMP and OpenBLAS (0: default)\n"
            "  -h, --help             this help\n",
            GH_FASHION_MNIST_DIR);
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gpuhours train: %s '%s': expected an integer in %d..%d\n", flag, s, lo,
                hi);
        return 2;
    }
    *out = (int)v;
    return 0;
}

static int parse_float(const char *flag, const char *s, float lo, float hi, float *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "gpuhours train: %s '%s': expected a number in [%g, %g]\n", flag, s,
                (double)lo, (double)hi);
        return 2;
    }
    *out = (float)v;
    return 0;
}

static const struct option train_opts[] = {
    {"preset", required_argument, NULL, 'p'},  {"data", required_argument, NULL, 'd'},
    {"epochs", required_argument, NULL, 'e'},  {"batch", required_argument, NULL, 'b'},
    {"lr", required_argument, NULL, 'l'},      {"momentum", required_argument, NULL, 'm'},
    {"wd", required_argument, NULL, 'w'},      {"backend", required_argument, NULL, 'B'},
    {"seed", required_argument, NULL, 's'},    {"deterministic", no_argument, NULL, 'D'},
    {"max-train", required_argument, NULL, 'n'}, {"threads", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},          {0, 0, 0, 0}};
static const char *train_short = "p:d:e:b:l:m:w:B:s:Dn:t:h";

// Two passes: the preset first, so that explicit flags override it wherever they appear.
// Returns -1 to continue, else the exit status.
static int parse_args(int argc, char **argv, train_config *c) {
    config_defaults(c);
    int opt, rc = 0;
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
        case 'e': rc = parse_int("--epochs", optarg, 1, 100000, &c->epochs); break;
        case 'b': rc = parse_int("--batch", optarg, 1, 1 << 16, &c->batch); break;
        case 'l': rc = parse_float("--lr", optarg, 0.0f, 100.0f, &c->lr); break;
        case 'm': rc = parse_float("--momentum", optarg, 0.0f, 0.999999f, &c->momentum); break;
        case 'w': rc = parse_float("--wd", optarg, 0.0f, 1.0f, &c->wd); break;
        case 'B': snprintf(c->backend_text, sizeof c->backend_text, "%s", optarg); break;
        case 's': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end) {
                fprintf(stderr, "gpuhours train: --seed '%s': expected an integer\n", optarg);
                rc = 2;
            }
            c->seed = v;
            break;
        }
        case 'D': c->deterministic = 1; break;
        case 'n': rc = parse_int("--max-train", optarg, 0, 1 << 30, &c->max_train); break;
        case 't': rc = parse_int("--threads", optarg, 0, 4096, &c->threads); break;
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
           "  deterministic  %d\n  max_train      %d%s\n  threads        %d%s\n",
           *c->preset ? c->preset : "none", c->data_dir, c->epochs, c->batch, (double)c->lr,
           (double)c->momentum, (double)c->wd, dev, c->backend_text,
           (unsigned long long)c->seed, c->deterministic, c->max_train,
           c->max_train ? "" : " (all)", c->threads ? c->threads : omp_get_max_threads(),
           c->threads ? "" : " (default)");
}

// ---- models --------------------------------------------------------------------------------

// A network the training loop can run: declare parameters once, then forward a batch to
// logits [n, classes].
typedef struct {
    const char *name;
    void *state;
    int (*declare)(gh_engine *e, void *state, const gh_images *shape);
    gh_tensor *(*forward)(gh_engine *e, void *state, gh_tensor *x);
} train_model;

// The small CNN: two conv-BN-ReLU-maxpool blocks, then a linear classifier over the flattened
// 7x7 maps (keeping position, which GAP would discard, learns Fashion-MNIST faster).
typedef struct {
    gh_tensor *w1, *g1, *b1, *m1, *v1, *w2, *g2, *b2, *m2, *v2, *fw, *fb;
} cnn;

static int cnn_declare(gh_engine *e, void *state, const gh_images *d) {
    cnn *m = state;
    int c = d->c, f = 32 * (d->h / 4) * (d->w / 4);
    m->w1 = gh_param(e, 0, "conv1.w", 4, (int[]){16, c, 3, 3}, GH_INIT_KAIMING_UNIFORM, c * 9);
    m->g1 = gh_param(e, 0, "bn1.gamma", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->b1 = gh_param(e, 0, "bn1.beta", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->m1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.mean", 1, (int[]){16}, GH_INIT_ZERO, 0);
    m->v1 = gh_param(e, GH_GROUP_BUFFERS, "bn1.var", 1, (int[]){16}, GH_INIT_ONE, 0);
    m->w2 = gh_param(e, 0, "conv2.w", 4, (int[]){32, 16, 3, 3}, GH_INIT_KAIMING_UNIFORM, 144);
    m->g2 = gh_param(e, 0, "bn2.gamma", 1, (int[]){32}, GH_INIT_ONE, 0);
    m->b2 = gh_param(e, 0, "bn2.beta", 1, (int[]){32}, GH_INIT_ZERO, 0);
    m->m2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.mean", 1, (int[]){32}, GH_INIT_ZERO, 0);
    m->v2 = gh_param(e, GH_GROUP_BUFFERS, "bn2.var", 1, (int[]){32}, GH_INIT_ONE, 0);
    m->fw = gh_param(e, 0, "fc.w", 2, (int[]){d->classes, f}, GH_INIT_KAIMING_UNIFORM, f);
    m->fb = gh_param(e, 0, "fc.b", 1, (int[]){d->classes}, GH_INIT_KAIMING_UNIFORM, f);
    return gh_params_alloc(e);
}

static gh_tensor *cnn_forward(gh_engine *e, void *state, gh_tensor *x) {
    cnn *m = state;
    gh_tensor *h = gh_conv2d(e, x, m->w1, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g1, m->b1, m->m1, m->v1, 1e-5f, 0.1f));
    h = gh_maxpool(e, h, 2, 2, 0);
    h = gh_conv2d(e, h, m->w2, NULL, 1, 1, 1, 1, 1, 1, 1);
    h = gh_relu(e, gh_batchnorm(e, h, m->g2, m->b2, m->m2, m->v2, 1e-5f, 0.1f));
    h = gh_maxpool(e, h, 2, 2, 0);
    return gh_linear(e, gh_flatten(e, h), m->fw, m->fb);
}

// ---- data ----------------------------------------------------------------------------------

// Fashion-MNIST pixel mean and standard deviation over the training split.
#define FMNIST_MEAN 0.2860f
#define FMNIST_STD 0.3530f

static void normalise(gh_images *d) {
    size_t n = (size_t)d->n * (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (size_t i = 0; i < n; i++) d->x[i] = (d->x[i] - FMNIST_MEAN) / FMNIST_STD;
}

// Gathers the images idx[0..n) into x and y.
static void gather(const gh_images *d, const int *idx, int n, float *x, int *y) {
    size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (int i = 0; i < n; i++) {
        memcpy(x + (size_t)i * per, d->x + (size_t)idx[i] * per, per * sizeof(float));
        y[i] = d->y[idx[i]];
    }
}

// ---- the loop --------------------------------------------------------------------------------

static void fmt_eta(double s, char *out, size_t len) {
    if (!isfinite(s) || s < 0) s = 0;
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(out, len, "%dh%02dm", t / 3600, t / 60 % 60);
    else snprintf(out, len, "%dm%02ds", t / 60, t % 60);
}

// Accuracy of the model over the whole split, in eval mode (running batch-norm statistics).
static int evaluate(gh_engine *e, const train_model *m, const gh_images *d, int batch,
                    float *xb, int *yb, int *idx, double *acc, double *loss) {
    gh_set_training(e, 0);
    gh_set_grad_enabled(e, 0);
    long hits = 0;
    double lsum = 0;
    for (int i = 0; i < d->n; i++) idx[i] = i;
    for (int s = 0; s < d->n; s += batch) {
        int n = d->n - s < batch ? d->n - s : batch;
        gather(d, idx + s, n, xb, yb);
        gh_step_begin(e);
        gh_tensor *x = gh_input(e, 4, (int[]){n, d->c, d->h, d->w}, xb);
        int correct = 0;
        gh_tensor *l = gh_xent(e, m->forward(e, m->state, x), gh_labels(e, n, yb), 0.0f,
                               &correct);
        if (!l) return gh_engine_status(e);
        lsum += (double)gh_scalar(e, l) * n;
        hits += correct;
    }
    gh_set_training(e, 1);
    gh_set_grad_enabled(e, 1);
    *acc = (double)hits / d->n;
    *loss = lsum / d->n;
    return GH_OK;
}

// The engine comes first, so that a bad --backend fails before the data are read.
static int make_engine(const train_config *c, gh_engine **e) {
    // Activations and their gradients take about 0.5 MiB per 28x28 image for this CNN; 1 MiB
    // per image of the larger of the two batch sizes leaves room, plus a fixed margin.
    int bmax = c->batch > c->eval_batch ? c->batch : c->eval_batch;
    gh_engine_config ec = {.backend = c->backend, .device_index = c->device,
                           .arena_bytes = ((size_t)bmax + 16) << 20,
                           .deterministic = c->deterministic, .seed = c->seed};
    return gh_engine_create(e, &ec);
}

static int train_loop(const train_config *c, const train_model *m, gh_engine *e, gh_images *tr,
                      gh_images *te) {
    int bmax = c->batch > c->eval_batch ? c->batch : c->eval_batch;
    int st = m->declare(e, m->state, tr);
    int per = tr->c * tr->h * tr->w;
    float *xb = malloc((size_t)bmax * (size_t)per * sizeof(float));
    int *yb = malloc((size_t)bmax * sizeof(int));
    int nidx = tr->n > te->n ? tr->n : te->n;
    int *idx = malloc((size_t)nidx * sizeof(int));
    int *subset = malloc((size_t)tr->n * sizeof(int));
    if (!xb || !yb || !idx || !subset) st = st ? st : gh_fail(GH_ENOMEM, "train: host buffers");

    // a seeded subset (GH_STREAM_SPLIT) fixed for the run, reshuffled each epoch (DATA)
    gh_rng split, order;
    gh_rng_seed(&split, c->seed, GH_STREAM_SPLIT);
    gh_rng_seed(&order, c->seed, GH_STREAM_DATA);
    int ntrain = c->max_train && c->max_train < tr->n ? c->max_train : tr->n;
    if (!st) {
        for (int i = 0; i < tr->n; i++) subset[i] = i;
        if (ntrain < tr->n) gh_rng_shuffle(&split, subset, (size_t)tr->n);
    }
    long steps_per_epoch = (ntrain + c->batch - 1) / c->batch;
    long total = steps_per_epoch * c->epochs, step = 0;
    size_t nparams = gh_group_numel(e, GH_GROUP_WEIGHTS);
    if (!st)
        printf("training %ld steps (%d epochs x %ld) on %d images, %zu weights (flat)\n", total,
               c->epochs, steps_per_epoch, ntrain, nparams);
    double t0 = gh_wall_seconds(), last_print = t0;
    double run_loss = 0;
    long run_hits = 0, run_n = 0, seen = 0;
    for (int ep = 0; ep < c->epochs && !st; ep++) {
        memcpy(idx, subset, (size_t)ntrain * sizeof(int));
        gh_rng_shuffle(&order, idx, (size_t)ntrain);
        for (long b = 0; b < steps_per_epoch && !st; b++, step++) {
            int s0 = (int)(b * c->batch);
            int n = ntrain - s0 < c->batch ? ntrain - s0 : c->batch;
            gather(tr, idx + s0, n, xb, yb);
            gh_step_begin(e);
            gh_group_zero_grad(e, GH_GROUP_WEIGHTS);
            gh_tensor *x = gh_input(e, 4, (int[]){n, tr->c, tr->h, tr->w}, xb);
            int correct = 0;
            gh_tensor *loss = gh_xent(e, m->forward(e, m->state, x), gh_labels(e, n, yb), 0.0f,
                                      &correct);
            if ((st = gh_backward(e, loss))) break;
            // cosine annealing to zero over the run (Loshchilov & Hutter 2017, no restarts)
            float lr = 0.5f * c->lr * (1.0f + cosf(3.14159265f * (float)step / (float)total));
            if ((st = gh_sgd_step(e, GH_GROUP_WEIGHTS, lr, c->momentum, c->wd))) break;
            run_loss += (double)gh_scalar(e, loss) * n;
            run_hits += correct;
            run_n += n;
            seen += n;
            double now = gh_wall_seconds();
            if (now - last_print >= 2.0 || step + 1 == total) {
                double rate = seen / (now - t0);
                char eta[32];
                fmt_eta((double)(total - step - 1) * c->batch / rate, eta, sizeof eta);
                printf("  epoch %d/%d step %ld/%ld  loss %.4f  train acc %.2f%%  lr %.4f  "
                       "%.0f img/s  ETA %s\n",
                       ep + 1, c->epochs, step + 1, total, run_loss / run_n,
                       100.0 * run_hits / run_n, (double)lr, rate, eta);
                fflush(stdout);
                run_loss = 0;
                run_hits = run_n = 0;
                last_print = now;
            }
        }
    }
    double train_s = gh_wall_seconds() - t0;
    if (!st) {
        double acc = 0, tl = 0;
        double te0 = gh_wall_seconds();
        st = evaluate(e, m, te, c->eval_batch, xb, yb, idx, &acc, &tl);
        double eval_s = gh_wall_seconds() - te0;
        if (!st) {
            printf("test accuracy %.2f%% (loss %.4f) on %d images\n", 100 * acc, tl, te->n);
            // every bit, for the regression test that holds refactors to identical results
            printf("test loss %a\n", tl);
            printf("wall time %.1f s training (%.0f examples/s), %.1f s evaluating (%.0f "
                   "examples/s); arena peak %.1f MiB\n",
                   train_s, seen / train_s, eval_s, te->n / eval_s,
                   (double)gh_engine_arena_peak(e) / (1 << 20));
        }
    }
    free(xb);
    free(yb);
    free(idx);
    free(subset);
    return st;
}

// `--genotype` or a darts-* preset selects the DARTS evaluation protocol (cmd_train_darts.c);
// everything else is the small-CNN trainer in this file.
static int wants_darts(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--genotype", 10) || !strncmp(a, "--preset=darts", 14) ||
            !strncmp(a, "-pdarts", 7))
            return 1;
        if ((!strcmp(a, "--preset") || !strcmp(a, "-p")) && i + 1 < argc &&
            !strncmp(argv[i + 1], "darts", 5))
            return 1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (wants_darts(argc, argv)) return train_darts_main(argc, argv);
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
    cnn net;
    train_model m = {.name = "cnn", .state = &net, .declare = cnn_declare,
                     .forward = cnn_forward};
    double t1 = gh_wall_seconds();
    st = train_loop(&c, &m, e, &tr, &te);
    gh_engine_destroy(e);
    images_free(&tr);
    images_free(&te);
    if (st) return cli_fail("train", st);
    printf("total %.1f s\n", gh_wall_seconds() - t1);
    return 0;
}
