// bench_darts: one DARTS supernet search step (architecture step + weight step, first and
// second order) at the paper's search configuration, timed on the engine; the PyTorch peer
// (bench/peer_darts_torch.py) times the same network and step at the same threads. Prints
// p50/min/max per order and, with --gpu-hours, the projected search cost. --final times the
// final-training step of a genotype's evaluation network instead (DARTS_V2, 20 cells C=36,
// batch 96: auxiliary head 0.4, drop-path 0.2, SGD with momentum, clipping 5).
// bench/peer_darts.py runs this and the peer alternately and reports both peak RSS figures.
// --precision and --graphs (issue 15) set the engine's conv arithmetic and CUDA graphs of the
// DARTS passes / the fixed-graph training step; --matrix times every {fp32, tf32, bf16} x
// {graphs 0, 1} cell of one config and prints one table. On ref/cpu tf32/bf16 are refused and
// graphs are emulated (engine/graph.c): the capture/replay decisions run, the timings do not count.
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

// One command's configuration: defaults, then flags; echoed in the header line.
typedef struct {
    int layers, ch, batch, size, classes, order, repeat, warmup, threads, det, graphs, matrix;
    gh_precision prec;
    const char *backend, *final;
} bench_config;

// The synthetic train and validation batches every cell steps on (seeded: the same in each).
typedef struct {
    float *xt, *xv;
    int *yt, *yv;
} bench_data;

// One cell's outcome: step seconds sorted, and what the graphs did in the timed steps.
typedef struct {
    int refused;                 // the engine refused the precision: why, its message
    int failed;                  // --matrix: the cell failed (why: the status and message)
    char why[256];
    double t[1000], cs[1000];    // wall and process CPU seconds (all threads) per timed step
    double arena_mib;
    gh_graph_stats gs;           // the whole run's
    int64_t timed_replays, timed_captures, timed_uncaptured;
    int replayed_steps;          // timed steps whose every region run replayed a graph
} cell_result;

static void usage(void) {
    printf("usage: bench_darts [options]\n"
           "  -l, --layers N      cells (8)\n  -c, --channels N    initial channels (16)\n"
           "  -n, --batch N       batch (64)\n  -s, --size N        image side (32)\n"
           "  -k, --classes N     classes (10)\n  -o, --order 1|2|0   0 = both (0)\n"
           "  -r, --repeat N      timed steps (3)\n"
           "  -w, --warmup N      untimed steps (1; 4 with --graphs 1 or --matrix: a pass is\n"
           "                      captured on its third run at the earliest, replayed from the fourth)\n"
           "  -t, --threads N     OpenMP threads (0: OpenMP default)\n"
           "  -b, --backend NAME  cpu, ref, cuda (cpu)\n"
           "  -p, --precision P   convs in fp32, tf32, bf16 (fp32; tf32/bf16 need cuda)\n"
           "  -g, --graphs 0|1    CUDA graphs of the DARTS passes / the fixed-graph step (0;\n"
           "                      --cuda_graphs too; emulated on ref/cpu: decisions, not speed)\n"
           "  -m, --matrix        every {fp32,tf32,bf16} x {graphs 0,1} cell, one table\n"
           "  -f, --final NAME    time the final-training step of genotype NAME (DARTS_V2)\n"
           "  -d, --deterministic print the loss of every step (fixed seed, deterministic)\n"
           "  -h, --help\n");
}

// A whole-number flag in [lo, hi]; the flag and the text named otherwise.
static int parse_int(const char *flag, const char *text, int lo, int hi, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_darts: %s %s: expected a whole number in [%d, %d]\n", flag, text,
                lo, hi);
        return GH_EINVAL;
    }
    *out = (int)v;
    return GH_OK;
}

// Returns 0 to run, 1 after --help, 2 on a bad flag.
static int parse_args(bench_config *b, int argc, char **argv) {
    *b = (bench_config){.layers = 8, .ch = 16, .batch = 64, .size = 32, .classes = 10,
                        .repeat = 3, .warmup = -1, .backend = "cpu", .prec = GH_PREC_FP32};
    struct option opts[] = {{"layers", 1, 0, 'l'},  {"channels", 1, 0, 'c'}, {"batch", 1, 0, 'n'},
                            {"size", 1, 0, 's'},    {"classes", 1, 0, 'k'},  {"order", 1, 0, 'o'},
                            {"repeat", 1, 0, 'r'},  {"warmup", 1, 0, 'w'},   {"threads", 1, 0, 't'},
                            {"backend", 1, 0, 'b'}, {"help", 0, 0, 'h'},     {"final", 1, 0, 'f'},
                            {"deterministic", 0, 0, 'd'}, {"precision", 1, 0, 'p'},
                            {"graphs", 1, 0, 'g'},  {"cuda_graphs", 1, 0, 'g'},
                            {"matrix", 0, 0, 'm'},  {0, 0, 0, 0}};
    int opt, st = GH_OK;
    while (!st && (opt = getopt_long(argc, argv, "l:c:n:s:k:o:r:w:t:b:f:p:g:mdh", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': st = parse_int("--layers", optarg, 1, 1000, &b->layers); break;
        case 'c': st = parse_int("--channels", optarg, 1, 100000, &b->ch); break;
        case 'n': st = parse_int("--batch", optarg, 1, 1000000, &b->batch); break;
        case 's': st = parse_int("--size", optarg, 1, 100000, &b->size); break;
        case 'k': st = parse_int("--classes", optarg, 2, 1000000, &b->classes); break;
        case 'o': st = parse_int("--order", optarg, 0, 2, &b->order); break;
        case 'r': st = parse_int("--repeat", optarg, 1, 1000, &b->repeat); break;
        case 'w': st = parse_int("--warmup", optarg, 0, 100000, &b->warmup); break;
        case 't': st = parse_int("--threads", optarg, 0, 4096, &b->threads); break;
        case 'b': b->backend = optarg; break;
        case 'f': b->final = optarg; break;
        case 'd': b->det = 1; break;
        case 'g': st = parse_int("--graphs", optarg, 0, 1, &b->graphs); break;
        case 'm': b->matrix = 1; break;
        case 'p':
            if ((st = gh_precision_parse(optarg, &b->prec)))
                fprintf(stderr, "bench_darts: --precision: %s\n", gh_error_get());
            break;
        case 'h': usage(); return 1;
        default: usage(); return 2;
        }
    }
    if (st) return 2;
    if (optind < argc) {
        fprintf(stderr, "bench_darts: unexpected argument %s\n", argv[optind]);
        return 2;
    }
    if (b->warmup < 0) b->warmup = b->graphs || b->matrix ? 4 : 1;
    return 0;
}

static int bench_data_make(bench_data *d, const bench_config *b, int in_c) {
    size_t n_in = (size_t)b->batch * (size_t)in_c * (size_t)b->size * (size_t)b->size;
    d->xt = malloc(n_in * 4);
    d->xv = malloc(n_in * 4);
    d->yt = malloc(sizeof(int) * (size_t)b->batch);
    d->yv = malloc(sizeof(int) * (size_t)b->batch);
    if (!d->xt || !d->xv || !d->yt || !d->yv)
        return gh_fail(GH_ENOMEM, "bench_darts: %zu input floats", 2 * n_in);
    gh_rng r;
    gh_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < n_in; i++) {
        d->xt[i] = (float)gh_rng_normal(&r);
        d->xv[i] = (float)gh_rng_normal(&r);
    }
    for (int i = 0; i < b->batch; i++) {
        d->yt[i] = (int)gh_rng_below(&r, (uint64_t)b->classes);
        d->yv[i] = (int)gh_rng_below(&r, (uint64_t)b->classes);
    }
    return GH_OK;
}

static void bench_data_free(bench_data *d) {
    free(d->xt); free(d->xv); free(d->yt); free(d->yv);
}

// The warm-up and timed steps of one cell (order o, precision, graphs) on a fresh engine. The
// timed step ends with gh_cuda_sync on CUDA, so a replayed and an uncaptured step are timed
// alike. A refused precision is a result (r->refused), not an error.
static int run_cell(const bench_config *b, const bench_data *d, const darts_net_config *nc,
                    const genotype *g, int o, gh_precision prec, int graphs, cell_result *r) {
    memset(r, 0, sizeof *r);
    nas_config c;
    nas_config_defaults(&c);
    snprintf(c.backend, sizeof c.backend, "%s", b->backend);
    c.deterministic = b->det;
    gh_engine *e = NULL;
    size_t arena;
    nas_net net = {0};
    darts_search *s = NULL;
    int st = nas_arena_bytes(&c, nc, g, b->batch, &arena);
    if (!st) st = nas_engine_open(&e, &c, arena, 1);
    // set here, not through nas_config: a refusal is told apart from a failure, and graphs on
    // ref/cpu emulate (nas_engine_open ignores the run setting there)
    if (!st && gh_set_precision(e, prec)) {
        r->refused = 1;
        snprintf(r->why, sizeof r->why, "%s", gh_error_get());
        gh_engine_destroy(e);
        return GH_OK;
    }
    if (!st) gh_set_graphs(e, graphs);
    if (!st) st = nas_net_build(&net, e, nc, g);
    darts_step_opts so = {.order = o, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                          .arch_lr = 3e-4, .arch_beta1 = 0.5, .arch_beta2 = 0.999,
                          .arch_wd = 1e-3};
    if (!st && !g) st = darts_search_create(&s, e, net.super, &so);
    // final training (train.py): drop-path 0.2, auxiliary weight 0.4, SGD 0.9, wd 3e-4
    net.drop_path = g ? 0.2 : 0.0;
    net.aux_weight = g ? 0.4 : 0.0;
    gh_step_def fd = {.loss = nas_net_loss, .model = &net, .group = GH_GROUP_WEIGHTS,
                      .opt = GH_OPT_SGD, .momentum = 0.9, .wd = 3e-4, .grad_clip = 5,
                      .fixed_graph = 1};
    gh_batch bt = {.x = d->xt, .y = d->yt, .ndim = 4,
                   .shape = {b->batch, nc->in_c, b->size, b->size}};
    gh_batch bv = bt;
    bv.x = d->xv;
    bv.y = d->yv;
    gh_graph_stats g0 = {0}, g1, gs, ge;
    for (int i = 0; i < b->warmup + b->repeat && !st; i++) {
        if (i == b->warmup) gh_graph_stats_get(e, &g0);
        gh_graph_stats_get(e, &gs);
        double t0 = gh_wall_seconds(), c0 = cpu_seconds();
        st = g ? gh_train_step(e, &fd, &bt, 0.025) : darts_search_step(s, &bt, &bv, 0.025);
        if (!st && gh_engine_backend(e) == GH_BACKEND_CUDA) st = gh_cuda_sync();
        if (i >= b->warmup) {
            r->t[i - b->warmup] = gh_wall_seconds() - t0;
            r->cs[i - b->warmup] = cpu_seconds() - c0;
            gh_graph_stats_get(e, &ge);
            r->replayed_steps += ge.replays > gs.replays && ge.captures == gs.captures &&
                                 ge.uncaptured == gs.uncaptured;
        }
        if (!st && b->det) st = print_step(e, i);
    }
    if (!st) {
        gh_graph_stats_get(e, &g1);
        r->gs = g1;
        r->timed_replays = g1.replays - g0.replays;
        r->timed_captures = g1.captures - g0.captures;
        r->timed_uncaptured = g1.uncaptured - g0.uncaptured;
        r->arena_mib = gh_engine_arena_peak(e) / 1048576.0;
        qsort(r->t, (size_t)b->repeat, sizeof r->t[0], cmp);
        qsort(r->cs, (size_t)b->repeat, sizeof r->cs[0], cmp);
    }
    darts_search_free(s);
    nas_net_free(&net);
    if (e) gh_engine_destroy(e);
    return st;
}

// With graphs on: what they did (the whole run) and in the timed steps; warns when no timed
// step replayed a graph (its time is then that of uncaptured steps).
static void print_graphs(const bench_config *b, const cell_result *r, int emulated) {
    const gh_graph_stats *s = &r->gs;
    printf("  graphs%s: %lld captures, %lld replays, %lld uncaptured, %lld misses, "
           "%lld fallbacks; timed steps: %d of %d replayed in full (%lld replays, %lld captures, "
           "%lld uncaptured region runs)%s%s\n",
           emulated ? " (emulated)" : "", (long long)s->captures, (long long)s->replays,
           (long long)s->uncaptured, (long long)s->misses, (long long)s->fallbacks,
           r->replayed_steps, b->repeat, (long long)r->timed_replays,
           (long long)r->timed_captures, (long long)r->timed_uncaptured,
           s->note[0] ? "; last note: " : "", s->note);
    if (!r->replayed_steps)
        printf("  warning: no timed step was replayed in full (%d warm-up steps; raise --warmup): "
               "the figure is not graph replay's\n", b->warmup);
}

// One cell's result line (ab.sh and peer_darts.py read "order=N step_s p50" and "cpu_s p50").
static void print_result(const bench_config *b, int o, gh_precision prec, int graphs,
                         const cell_result *r, int emulated) {
    const char *pn = gh_precision_name(prec);
    if (r->refused) {
        printf("ours  %s=%d precision %s graphs %d: refused: %s\n", b->final ? "final" : "order",
               o, pn, graphs, r->why);
        return;
    }
    // steps per search: 25000 training images / batch, times 50 epochs (the paper)
    double steps = 50.0 * ((25000 + b->batch - 1) / b->batch);
    int n = b->repeat;
    printf("ours  %s=%d step_s p50 %.4f min %.4f max %.4f  arena peak %.0f MiB  "
           "projected 50-epoch search %.2f h (steps only)  cpu_s p50 %.4f  precision %s "
           "graphs %d%s\n", b->final ? "final" : "order", o, r->t[n / 2], r->t[0], r->t[n - 1],
           r->arena_mib, r->t[n / 2] * steps / 3600.0, r->cs[n / 2], pn, graphs,
           graphs && emulated ? " (emulated)" : "");
    if (graphs) print_graphs(b, r, emulated);
    fflush(stdout);
}

enum { MATRIX_CELLS = GH_PREC_COUNT * 2 };

// --matrix's table: per order, s/step p50 of each cell and its ratio to fp32 without graphs.
static void print_matrix(const bench_config *b, int o, const cell_result *cells, int emulated) {
    const cell_result *base = &cells[0];   // fp32, graphs 0
    double t0 = base->refused || base->failed ? 0 : base->t[b->repeat / 2];
    printf("\n| %s | precision | graphs | s/step p50 | ratio to fp32 graphs 0 | steps replayed |\n"
           "|---|---|---|---|---|---|\n", b->final ? "final" : "order");
    for (int k = 0; k < MATRIX_CELLS; k++) {
        const cell_result *r = &cells[k];
        int graphs = k % 2;
        const char *pn = gh_precision_name((gh_precision)(k / 2));
        if (r->refused || r->failed) {
            if (r->refused) printf("| %d | %s | %d | refused: %s backend | | |\n", o, pn, graphs,
                                   b->backend);
            else printf("| %d | %s | %d | failed: %s | | |\n", o, pn, graphs, r->why);
            continue;
        }
        double t = r->t[b->repeat / 2];
        char rep[32];
        if (graphs) snprintf(rep, sizeof rep, "%d/%d%s", r->replayed_steps, b->repeat,
                             emulated ? " (emulated)" : "");
        else snprintf(rep, sizeof rep, "-");
        char ratio[32] = "-";   // no fp32 graphs 0 time to divide by
        if (t0 > 0) snprintf(ratio, sizeof ratio, "%.3f", t / t0);
        printf("| %d | %s | %d | %.4f | %s | %s |\n", o, pn, graphs, t, ratio, rep);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    bench_config b;
    int pa = parse_args(&b, argc, argv);
    if (pa) return pa == 1 ? 0 : 2;
    if (b.threads > 0) omp_set_num_threads(b.threads);
    const char *gtext = b.final ? genotype_named(b.final) : NULL;
    genotype g = {0};
    if (b.final && (!gtext || genotype_parse(&g, gtext))) {
        fprintf(stderr, "bench_darts: --final %s: not a named genotype (DARTS_V2, ...)\n", b.final);
        return 2;
    }
    gh_backend be;
    int dev;
    if (gh_backend_parse(b.backend, &be, &dev)) {
        fprintf(stderr, "bench_darts: --backend %s: %s\n", b.backend, gh_error_get());
        return 2;
    }
    int emulated = be != GH_BACKEND_CUDA;   // graphs on ref/cpu: engine/graph.c's emulation
    darts_net_config nc = b.final ? darts_eval_net_defaults() : darts_search_net_defaults();
    nc.auxiliary = b.final != NULL;
    nc.layers = b.layers;
    nc.c = b.ch;
    nc.in_h = nc.in_w = b.size;
    nc.classes = b.classes;
    darts_net_count cnt;
    darts_count_net(&nc, b.final ? &g : NULL, &cnt);
    char mode[96];
    if (b.matrix) snprintf(mode, sizeof mode, "matrix {fp32,tf32,bf16} x {graphs 0,1}");
    else snprintf(mode, sizeof mode, "precision %s, graphs %d%s", gh_precision_name(b.prec),
                  b.graphs, b.graphs && emulated ? " (emulated: decisions, not speed)" : "");
    printf("# bench_darts: %s %d cells C=%d, %dx%dx%d, batch %d, %.0f weights, %.1f M "
           "multiply-adds/image, backend %s, %d threads, %s, %d warm-up + %d timed steps\n",
           b.final ? b.final : "supernet", b.layers, b.ch, nc.in_c, b.size, b.size, b.batch,
           cnt.params, cnt.madds / 1e6, b.backend, omp_get_max_threads(), mode, b.warmup,
           b.repeat);
    bench_data d = {0};
    int st = bench_data_make(&d, &b, nc.in_c), ncells = b.matrix ? MATRIX_CELLS : 1;
    cell_result *cells = calloc((size_t)ncells, sizeof *cells);   // 16 KiB each
    const char *refused = NULL;   // outside --matrix: the engine's refusal ends the run
    int failed = GH_OK;           // --matrix: a cell failed (exit 1 after the table)
    if (!st && !cells) st = gh_fail(GH_ENOMEM, "bench_darts: %d cell results", ncells);
    if (st) fprintf(stderr, "bench_darts: %s: %s\n", gh_status_str(st), gh_error_get());
    for (int o = 1; o <= 2 && !st && !refused; o++) {
        if (b.final ? o != 1 : b.order && o != b.order) continue;
        for (int k = 0; k < ncells && !st; k++) {
            gh_precision prec = b.matrix ? (gh_precision)(k / 2) : b.prec;
            int graphs = b.matrix ? k % 2 : b.graphs;
            st = run_cell(&b, &d, &nc, b.final ? &g : NULL, o, prec, graphs, &cells[k]);
            if (st) {
                fprintf(stderr, "bench_darts: order %d precision %s graphs %d: %s: %s\n", o,
                        gh_precision_name(prec), graphs, gh_status_str(st), gh_error_get());
                if (!b.matrix) break;
                // the matrix goes on: the GPU check wants every cell it can get from one run
                cells[k].failed = 1;
                snprintf(cells[k].why, sizeof cells[k].why, "%s: %s", gh_status_str(st),
                         gh_error_get());
                failed = st;
                st = GH_OK;
                continue;
            }
            print_result(&b, o, prec, graphs, &cells[k], emulated);
            if (cells[k].refused && !b.matrix) refused = cells[k].why;
        }
        if (!st && b.matrix) print_matrix(&b, o, cells, emulated);
    }
    if (refused)
        fprintf(stderr, "bench_darts: --precision %s: %s\n", gh_precision_name(b.prec), refused);
    int rc = st || failed ? 1 : refused ? 2 : 0;
    free(cells);
    bench_data_free(&d);
    return rc;
}
