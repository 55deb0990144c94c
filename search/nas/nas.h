// nas: neural architecture search. DARTS first and second order (Liu et al., ICLR 2019), its
// baselines (random sampling, random search with weight sharing: Li & Talwalkar 2019) and the
// final training of a genotype, on models/'s networks through the engine, recorded in the ledger.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../base/base.h"
#include "../../cost/cost.h"
#include "../../data/data.h"
#include "../../engine/engine.h"
#include "../../ledger/ledger.h"
#include "../../models/models.h"

#ifdef __cplusplus
extern "C" {
#endif

// DARTS (Liu et al., ICLR 2019) on models/'s supernet, its baselines (random sampling, random
// search with weight sharing: Li & Talwalkar 2019) and the final training of a genotype, all
// driven by one resolved configuration and recorded through the ledger.

struct ledger;

// Every setting of `gpuhours search darts`, `gpuhours train --genotype` and `gpuhours reproduce`;
// defaults are the paper's (darts_config_defaults), config files and flags override them.
typedef struct {
    // run
    char dataset[32];        // cifar10, cifar100, fashion-mnist, mnist
    char data_dir[512];      // "" = the embedded default (Fashion-MNIST's Debian package)
    char backend[16];        // auto, cpu, ref, cuda, cuda:N
    int deterministic;
    uint64_t seed;
    char out[512];           // results file; "" = results/<method>-<dataset>-<utc time>.h5
    int threads;             // OpenMP threads on the CPU (0 = the OpenMP default)
    double arena_mb;         // activation arena; 0 = measured by a probe step
    int report_every;        // steps between progress lines
    // search
    char method[16];         // darts, random-ws, random
    int order;               // 1: first order; 2: second order (unrolled, eq. 6-8)
    int search_layers, search_channels, search_epochs, search_batch;
    double search_lr, search_lr_min, search_momentum, search_wd, search_grad_clip;
    double arch_lr, arch_beta1, arch_beta2, arch_wd;
    double train_portion;    // DARTS split: this fraction of the training set trains weights
    int search_limit;        // > 0: search on a seeded sample of this many training images
    int search_val_limit;    // > 0: supernet validation accuracy on at most this many images
    int search_crop_pad, search_flip, search_cutout;
    int random_archs;        // random sampling: genotypes trained; random-ws: genotypes scored
    int random_epochs;       // random sampling: epochs each sampled genotype is trained
    // final training
    char genotype[2048];     // genotype text or name (DARTS_V2, ...); "" = the search's result
    int final_layers, final_channels, final_epochs, final_batch;
    double final_lr, final_lr_min, final_momentum, final_wd, final_grad_clip;
    int auxiliary;
    double aux_weight, drop_path;
    int final_crop_pad, final_flip, final_cutout;
    int final_limit;         // > 0: train on a seeded sample of this many training images
    int test_limit;          // > 0: test on the first this many test images
    char seeds[128];         // final training seeds, "0,1,2"; "" = seed
} darts_config;

void darts_config_defaults(darts_config *c);
// Applies "key = value" (file and line name the source in errors; file may be NULL).
int darts_config_set(darts_config *c, const char *key, const char *value, const char *file,
                     int line);
// Reads a config file of "key = value" lines with # comments.
int darts_config_load(darts_config *c, const char *path);
// The full resolved config as "key = value" lines (echoed at start, stored in the ledger).
int darts_config_print(const darts_config *c, char *out, size_t len);
// The table of keys, for --help and for getopt_long (one long option per key): key i and its
// help text, NULL past the end.
int darts_config_nkeys(void);
const char *darts_config_key(int i, const char **help);

// Image data for a config: train and test sets with per-channel statistics of the train set.
typedef struct {
    gh_images train, test;
    images_aug norm;         // mean/std filled; the random parts off
    char name[32];
} darts_data;
int darts_data_load(darts_data *d, const darts_config *c);
void darts_data_free(darts_data *d);

// GPUs the config's backend holds (1 for cuda, else 0).
int darts_gpus(const darts_config *c);
// Engine for a config (backend, seed, threads); arena_bytes from darts_config.arena_mb.
int darts_engine_open(gh_engine **e, const darts_config *c, size_t arena_bytes, uint64_t seed);
// Cosine annealing as torch's CosineAnnealingLR(T = epochs, eta_min) at epoch (0-based).
double darts_cosine_lr(double lr, double lr_min, int epoch, int epochs);

// ---- the search space's networks as the trainer sees them (nas_net.c) -------------------------
// The supernet (g NULL at build: every op, or one path when `path` is set) or the evaluation
// network of g, with the loss functions the trainer calls (model: the nas_net).
typedef struct {
    darts_supernet *super;
    darts_evalnet *eval;
    const genotype *path;    // supernet: NULL = every op (DARTS), else this path (weight sharing)
    double drop_path;        // evaluation network: this epoch's drop-path probability
    double aux_weight;       // evaluation network: weight of the auxiliary head's loss
} nas_net;
// Declares the network in e and allocates the parameters.
int nas_net_build(nas_net *n, gh_engine *e, const darts_net_config *nc, const genotype *g);
void nas_net_free(nas_net *n);
// Training loss (auxiliary term and drop-path included) and evaluation loss (neither).
gh_tensor *nas_net_loss(void *net, gh_engine *e, const gh_batch *b, const int *labels,
                        gh_tensor **logits);
gh_tensor *nas_net_eval_loss(void *net, gh_engine *e, const gh_batch *b, const int *labels,
                             gh_tensor **logits);
// Mean loss and accuracy of loss(model) over the first n images of im (n <= 0: all) in batches
// of batch, eval mode, normalised by norm's mean/std (gh_train_evaluate).
int nas_evaluate(gh_engine *e, gh_loss_fn loss, void *model, const gh_images *im,
                 const images_aug *norm, int n, int batch, double *mean_loss, double *acc);
// Arena for one training step at `batch` of the supernet (g NULL) or g's evaluation network:
// c->arena_mb when set, else measured by running that step once in a scratch engine.
int nas_arena_bytes(const darts_config *c, const darts_net_config *nc, const genotype *g,
                    int batch, size_t *bytes);

// ---- the DARTS search step (train_search.py train(), architect.py) ---------------------------
typedef struct darts_search darts_search;
typedef struct {
    int order;
    double momentum, wd, grad_clip;            // weight optimizer (SGD)
    double arch_lr, arch_beta1, arch_beta2, arch_wd;  // architecture optimizer (Adam)
    double fd_r;            // eps = fd_r / ||v|| in eq. 8; 0 = DARTS's 0.01 (tests go smaller)
} darts_step_opts;
int darts_search_create(darts_search **out, gh_engine *e, darts_supernet *net,
                        const darts_step_opts *o);
void darts_search_free(darts_search *s);
// The architecture gradient into the arch group's grad, without stepping: order 1 is
// grad_a L_val(w, a); order 2 is eq. 7-8 with xi = lr: grad_a L_val(w', a) - xi * [grad_a
// L_train(w+, a) - grad_a L_train(w-, a)] / (2 eps), w' = w - xi (momentum*buf + grad_w
// L_train + wd*w) as architect.py, w± = w ± eps v, v = grad_w' L_val(w', a), eps = 0.01/||v||.
// Weights and BN running statistics are left as they were. Reads nothing back to the host.
int darts_arch_grad(darts_search *s, const gh_batch *train, const gh_batch *val, double lr);
// One search step: darts_arch_grad then Adam on alpha, then gh_train_step on the weights
// (SGD, clipped) with the training batch.
int darts_search_step(darts_search *s, const gh_batch *train, const gh_batch *val, double lr);

// ---- drivers: each records trials, epochs, phase costs and artifacts in l ---------------------
// Search (method darts, random-ws or random) on the config's data; best receives the genotype
// found. l may be NULL (tests).
int darts_search_run(const darts_config *c, const darts_data *d, struct ledger *l, genotype *best);
// Final training of g for every seed of c->seeds; mean and sd of the test accuracy returned.
int darts_final_run(const darts_config *c, const darts_data *d, struct ledger *l,
                    const genotype *g, double *mean_acc, double *sd_acc);

// ---- random baselines (random_nas.c) ----------------------------------------------------------
// A genotype drawn uniformly: per node 2 distinct inputs among the earlier nodes, per edge an
// op among the 7 non-none primitives; concat of the last `multiplier` nodes.
void darts_random_genotype(gh_rng *r, int steps, int multiplier, genotype *g);
// Random search with weight sharing: trains the supernet one sampled path per step, then scores
// random_archs genotypes with the shared weights on validation batches; best by accuracy.
int random_ws_run(const darts_config *c, const darts_data *d, struct ledger *l, genotype *best);
// Random sampling: trains random_archs sampled genotypes (search-size network) for
// random_epochs each, best by validation accuracy (the paper's random baseline, section 3.3).
int random_sampling_run(const darts_config *c, const darts_data *d, struct ledger *l,
                        genotype *best);

#ifdef __cplusplus
}
#endif
