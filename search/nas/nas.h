// nas: neural architecture search on models/'s DARTS search space through the engine's trainer,
// recorded in the ledger: a registry of methods (DARTS first and second order, Liu et al., ICLR
// 2019; random search with weight sharing, Li & Talwalkar 2019; random sampling), proposers of
// whole genotypes (ask/tell), evaluators of a genotype (trained from scratch, or with shared
// supernet weights), ENAS (Pham et al., ICML 2018: its arcs, controller and search), and the
// final training of a genotype.
//
// ---- How to add a NAS method -------------------------------------------------------------------
// 1. One file, search/nas/<method>.c, starting with two or three lines on what it implements
//    (the paper and the reference code). Its one entry point is
//        int <method>_run(nas_run *r, genotype *best);
//    declared in nas_internal.h. The run (nas_setup.c) already holds the config, the data and
//    its split (r->wtrain trains weights, r->wval scores architectures), the search-size network
//    config r->nc, the augmentation r->aug, the search cost meter and the ledger; nas_search_run
//    records the phase cost and the genotype artifact after the method returns. Training goes
//    through gh_train_run / gh_train_step (nas_net.c gives the networks' loss functions and
//    arena sizes, nas_feed the batches) and never a loop of its own.
//    - A method that proposes whole genotypes (RL, evolution) writes a proposer: a
//      nas_proposer_vtable in proposer_<name>.c and a row in nas_proposer.c's table; it then
//      runs nas_ask -> nas_evaluator_run -> nas_tell with one of the evaluators below
//      (nas_search_proposals is that loop, with "nan" rows and the proposer's checkpoints;
//      random_sampling.c, regevo.c and nasnet_rl.c are three lines around it). A proposer
//      with state beyond the base's (a population, a controller) sets the vtable's save and
//      load, and accepts several asks before their tells (parallel workers).
//    - A weight-sharing method trains a supernet with one path per step: random_ws.c draws the
//      paths from a proposer (nas_sample) and scores proposals with nas_eval_shared_create's
//      evaluator; enas.c draws them from its controller (enas_controller.c) and scores arcs on
//      validation minibatches itself.
//    - Keep everything the method needs to continue after a checkpoint (trainer position,
//      RNG and proposer state, walk positions) in one struct in its file, `<method>_state`,
//      written as a fixed blob with a magic and a version from the trainer's checkpoint hook
//      (nas_ckpt_begin, gh_engine_state_save, the blob, nas_ckpt_end; nas_proposer_save) and
//      read back when nas_ckpt_from(r->ck, NAS_DO_SEARCH) gives a checkpoint (darts.c and
//      random_ws.c show both), then set `checkpoints` to 1 in its table row.
// 2. One row in nas_methods.c's table: {"name", <method>_run, "one line of help", label,
//    checkpoints}; the CLI (`gpuhours search NAME`, --help, the config key method) lists it.
// 3. Its own config keys: a section struct in nas_config below (`[name]` in config files) and
//    the key rows in nas_config.c's table, each with its section; defaults in
//    nas_config_defaults. Keys are one namespace: each is also a --flag.
// 4. Tests in tests/darts/: test_nas_methods runs every table row on a tiny search and checks
//    the genotype is valid (a new row is covered without an edit); add the method's own checks
//    (its arithmetic against a reference, determinism per seed), and for a proposer its
//    determinism per seed and that it never proposes a duplicate (test_nas_proposer). Golden
//    values (tests/golden) are recorded for a new method once its results are trusted. A method
//    with checkpoints gets a kill-and-resume case in test_nas_resume (its rows after the
//    resume bit-identical to an uninterrupted run's).
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

struct ledger;
struct nas_ckpt;
struct nas_train_ckpt;

// ---- configuration (nas_config.c) --------------------------------------------------------------
// Every setting of `gpuhours search`, `gpuhours train --genotype` and `gpuhours reproduce`:
// method-neutral sections (run, data, search, final) and one section per method with keys of
// its own. Defaults are DARTS's (nas_config_defaults); config files, then flags override them.
typedef struct {
    int order;               // 1: first order; 2: second order (unrolled, eq. 6-8)
    double arch_lr, arch_beta1, arch_beta2, arch_wd;   // the architecture optimizer (Adam)
} nas_darts_config;          // [darts]

typedef struct {
    int archs;               // key random_archs: genotypes trained (random) or scored (random-ws)
    int epochs;              // key random_epochs: random sampling's epochs per genotype
} nas_random_config;         // [random]

typedef struct {             // the official micro search's flags (cifar10_micro_search.sh)
    int nodes;               // key enas_num_cells: nodes per cell, B (5)
    int lstm_size;           // key controller_lstm_size (64; one layer)
    double temperature;      // key controller_temperature (0: none, as the scripts)
    double tanh_c;           // key controller_tanh_constant (1.10)
    double op_tanh_reduce;   // key controller_op_tanh_reduce (2.5)
    double entropy_weight;   // key controller_entropy_weight (1e-4)
    double bl_dec;           // key controller_bl_dec (0.99)
    double lr;               // key controller_lr (0.0035)
    double b_soft_init;      // key controller_b_soft_init (10; see enas_controller.c)
    int train_steps;         // key controller_train_steps: Adam steps per epoch (30)
    int aggregate;           // key controller_num_aggregate: samples per Adam step (10)
    int derive_archs;        // key enas_derive_archs: arcs sampled and scored at the end (10)
    int lr_t0, lr_tmul;      // keys child_lr_T_0, child_lr_T_mul: cosine restarts (10, 2; 0: none)
    // enas-macro (cifar10_macro_search.sh): the skip penalty and the child's dropout
    double skip_target;      // key controller_skip_target (0.4)
    double skip_weight;      // key controller_skip_weight (0.8)
    double keep_prob;        // key child_keep_prob: before the macro child's classifier (1: none)
} nas_enas_config;           // [enas]

typedef struct {
    int population;          // key regevo_population: P, the population aging keeps (100)
    int sample;              // key regevo_sample: S, the tournament's sample size (25)
} nas_regevo_config;         // [regevo]

typedef struct {
    int batch;               // key rl_batch: finished children per controller update
    double lr;               // key rl_lr: the controller's Adam learning rate
    double entropy;          // key rl_entropy: weight of the entropy bonus
    double baseline_decay;   // key rl_baseline_decay: the moving-average baseline's decay
    char algorithm[16];      // key rl_algorithm: ppo (the paper's) or reinforce
    double ppo_clip;         // key ppo_clip: PPO's clipping epsilon (0.2)
    int ppo_epochs;          // key ppo_epochs: PPO's gradient passes over each batch (4)
} nas_rl_config;             // [nasnet_rl]

typedef struct {
    // [run]
    char backend[16];        // auto, cpu, ref, cuda, cuda:N
    int deterministic;
    uint64_t seed;
    char out[512];           // results file; "" = results/<method>-<dataset>-<utc time>.h5
    int threads;             // OpenMP threads on the CPU (0 = the OpenMP default)
    double arena_mb;         // activation arena; 0 = measured by a probe step
    int report_every;        // steps between progress lines
    double checkpoint_every_min;  // checkpoints within an epoch this often (0: epoch ends only)
    int bucket_mb;           // data parallel: gradient all-reduce buckets in MiB (DDP's 25)
    int micro;               // micro-batches per step (gh_step_def.micro; 0/1: none)
    int sync_bn;             // data parallel: batch-norm statistics of the global batch
    char precision[8];       // convs on CUDA: fp32 (default), tf32, bf16 (gh_precision)
    int cuda_graphs;         // 1: DARTS passes and fixed-graph steps as CUDA graphs (cuda only)
    // Not a config key: set by the CLI for this process. 1: the run trains data parallel over
    // pg_world() (darts, final training under a launcher); 0: one process, or a rank of a NAS
    // search whose children train on worker ranks (each child on one rank alone).
    int data_parallel;
    // [data]
    char dataset[32];        // cifar10, cifar100, fashion-mnist, mnist
    char data_dir[512];      // "" = the embedded default (Fashion-MNIST's Debian package)
    double train_portion;    // the search split: this fraction of the training set trains weights
    int search_limit;        // > 0: search on a seeded sample of this many training images
    int search_val_limit;    // > 0: validation accuracy on at most this many images
    int final_limit;         // > 0: final training on a seeded sample of this many images
    int test_limit;          // > 0: test on the first this many test images
    // [search]: the budget and the weight training every method shares
    char method[16];         // a row of the method table (nas_methods.c)
    char space[16];          // proposers' space: darts (DARTS's cell) or nasnet (NASNet's)
    int search_layers, search_channels, search_epochs, search_batch;
    double search_lr, search_lr_min, search_momentum, search_wd, search_grad_clip;
    int search_crop_pad, search_flip, search_cutout;
    double budget_s;         // key budget: wall seconds of a proposer search or random-ws (0:
                             // none); asking stops when a child would overrun it, children in
                             // flight finish; random-ws trains while an epoch and the scoring fit
    int sync_batch;          // > 0: proposer searches in rounds of this many children, told in
                             // id order (the same trials on any number of workers); 0: async
    // [final]
    char genotype[2048];     // genotype text or name (DARTS_V2, ...); "" = the search's result
    int final_layers, final_channels, final_epochs, final_batch;
    double final_lr, final_lr_min, final_momentum, final_wd, final_grad_clip;
    int final_lr_t0, final_lr_tmul;   // cosine restarts (0: one cosine, DARTS)
    double final_dropout;    // dropout before the classifier (ENAS: 1 - child_keep_prob)
    int auxiliary;
    double aux_weight, drop_path;
    int final_crop_pad, final_flip, final_cutout;
    char seeds[128];         // final training seeds, "0,1,2"; "" = seed
    // one section per method
    nas_darts_config darts;
    nas_random_config random;
    nas_regevo_config regevo;
    nas_rl_config rl;
    nas_enas_config enas;
} nas_config;

// The final-training seed list "0,1,2": integers in 0..2^53, separated by commas, no empty
// item, none twice. GH_EINVAL naming the character where it goes wrong.
#define NAS_MAX_SEEDS 64
int nas_seeds_parse(const char *text, uint64_t *out, int max, int *n);
void nas_config_defaults(nas_config *c);
// Applies "key = value" (file and line name the source in errors; file may be NULL). section:
// the file's current [section] (NULL or "": any key).
int nas_config_set(nas_config *c, const char *section, const char *key, const char *value,
                   const char *file, int line);
// Reads a config file of "key = value" lines, [section] headers and # comments. A key under a
// header must belong to that section; keys before any header may be of any section.
int nas_config_load(nas_config *c, const char *path);
// The same from a text (a run's stored config); name names it in errors.
int nas_config_load_text(nas_config *c, const char *text, const char *name);
// The genotype a user gives (config key genotype, --genotype): a name of genotype_named, an ENAS
// arc "enas: 0 2 0 0 ..." (the official --child_fixed_arc integers, enas_arc_parse), or DARTS's
// genotype text. Errors are the parsers' (the token or character position).
int nas_genotype_resolve(const char *text, genotype *g);
// The full resolved config as a config file (sections and "key = value" lines): echoed at
// start, stored in the ledger. Returns the length it needs (snprintf rules).
int nas_config_print(const nas_config *c, char *out, size_t len);
// The table of keys, for --help and for getopt_long (one long option per key): key i, its help
// text and section, NULL past the end. Keys come grouped by section.
int nas_config_nkeys(void);
const char *nas_config_key(int i, const char **help, const char **section);

// ---- data, engine and schedule (nas_setup.c) ---------------------------------------------------
// Image data for a config: train and test sets with per-channel statistics of the train set.
typedef struct {
    gh_images train, test;
    images_aug norm;         // mean/std filled; the random parts off
    char name[32];
} nas_data;
int nas_data_load(nas_data *d, const nas_config *c);
void nas_data_free(nas_data *d);
// GPUs the config's backend holds (1 for cuda, else 0).
int nas_gpus(const nas_config *c);
// The data-parallel group of c's run: pg_world()'s rank and size when c->data_parallel, else
// rank 0 of 1.
int nas_dp_rank(const nas_config *c);
int nas_dp_size(const nas_config *c);
// Engine for a config (backend, threads, determinism) with this arena and seed.
int nas_engine_open(gh_engine **e, const nas_config *c, size_t arena_bytes, uint64_t seed);
// With cuda_graphs on a cuda engine: one line on what the engine's graphs did (captures,
// replays, the last miss or fallback and why) for the phase's log, and the same as the text
// artifact `name` (JSON; results/SCHEMA.md) when l is given. Nothing otherwise.
int nas_engine_graphs_report(const gh_engine *e, const nas_config *c, struct ledger *l,
                             const char *name, const char *phase);
// Cosine annealing as torch's CosineAnnealingLR(T = epochs, eta_min) at epoch (0-based).
double nas_cosine_lr(double lr, double lr_min, int epoch, int epochs);
// Cosine with warm restarts (SGDR, ENAS's lr_cosine): periods t0, t0 tmul, t0 tmul^2, ...
// epochs, each from lr to lr_min; t0 <= 0: nas_cosine_lr over `epochs`.
double nas_cosine_restart_lr(double lr, double lr_min, int epoch, int epochs, int t0, int tmul);
// The network configuration for the data set (input shape, classes) at this size.
darts_net_config nas_net_for(const nas_data *d, int layers, int channels, int auxiliary);

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
int nas_eval_images(gh_engine *e, gh_loss_fn loss, void *model, const gh_images *im,
                    const images_aug *norm, int n, int batch, double *mean_loss, double *acc);
// Arena for one training step at `batch` of the supernet (g NULL) or g's evaluation network:
// c->arena_mb when set, else measured by running that step once in a scratch engine.
int nas_arena_bytes(const nas_config *c, const darts_net_config *nc, const genotype *g,
                    int batch, size_t *bytes);

// ---- one search run: what every method starts from (nas_setup.c) ------------------------------
typedef struct {
    const nas_config *c;
    const nas_data *d;
    struct ledger *l;        // NULL: nothing recorded (tests)
    gh_images wtrain, wval;  // the split (train_search.py): weights / architecture scoring
    images_aug aug;          // the search's training augmentation
    darts_net_config nc;     // the search-size network (supernet, or cells trained from scratch)
    cost_meter *meter;       // the search phase's cost, running from nas_run_open
    gh_images sample;        // the search_limit sample the split was cut from (when set)
    const struct nas_ckpt *ck;  // checkpoints, and the one to continue from (NULL: none)
    cost_totals cost0;       // the search phase's cost before this session (all NAN: none)
    double comm_s;           // this session's seconds in gradient all-reduce, mean over ranks
    enas_macro_arc *macro_best;  // a macro method's result (nas_search_run_macro); else NULL
} nas_run;
int nas_run_open(nas_run *r, const nas_config *c, const nas_data *d, struct ledger *l);
void nas_run_close(nas_run *r);
// The search phase's cost so far: cost0 plus the meter.
cost_totals nas_run_cost(const nas_run *r);
// The run's supernet in an engine of its own (arena measured, seed c->seed), parameters allocated.
int nas_run_supernet(const nas_run *r, gh_engine **e, nas_net *net);

// ---- evaluators: a genotype in, its score and cost out (nas_eval.c) -----------------------------
typedef struct {
    double val_loss, val_acc;     // the score on the run's validation half; val_acc is the reward
    double train_loss, train_acc; // the last training epoch's means; NAN when nothing trained
    double fidelity;              // epochs of training behind the score
    cost_totals cost;             // of this evaluation alone
    int worker;                   // who trained it: an MPI rank (1..); 0 this process
} nas_eval_result;

typedef struct nas_evaluator nas_evaluator;
struct nas_evaluator {
    const char *name;
    // Scores g as trial trial_id (epoch rows, if any, go to the ledger under that id).
    int (*evaluate)(nas_evaluator *ev, const genotype *g, int64_t trial_id, nas_eval_result *r);
    void (*destroy)(nas_evaluator *ev);
};
// From scratch: g's evaluation network at the search size (r->nc, no auxiliary head) trained
// for `epochs` on r->wtrain with the search's weight optimiser (cosine to 0), engine and data
// order seeded c->seed + trial_id, scored on r->wval (phase "selection" in the ledger).
int nas_eval_scratch_create(nas_evaluator **out, const nas_run *r, int epochs);
// With shared weights: g as a path of net (a supernet trained for `fidelity` epochs in e),
// scored on the first search_val_limit images of r->wval; nothing trains.
int nas_eval_shared_create(nas_evaluator **out, const nas_run *r, gh_engine *e,
                           darts_supernet *net, double fidelity);
int nas_evaluator_run(nas_evaluator *ev, const genotype *g, int64_t trial_id, nas_eval_result *r);
void nas_evaluator_destroy(nas_evaluator *ev);

// ---- proposers of whole genotypes: ask/tell (nas_proposer.c) -----------------------------------
// A proposer owns a private RNG seeded from its options, never proposes the same genotype twice
// through nas_ask, and stops by an explicit rule (max_proposals, or 1000 duplicates in a row).
// Loop: nas_ask -> an evaluator -> nas_tell with the validation accuracy as the reward.
#define NAS_STOP (-1)             // nas_ask: the stopping rule fired; nothing was proposed

typedef struct {
    int64_t id;                   // assigned by nas_ask: 0, 1, 2, ...
    genotype g;
} nas_proposal;

enum { NAS_SPACE_DARTS = 0, NAS_SPACE_NASNET = 1 };   // the spaces proposers draw from
enum { NAS_RL_REINFORCE = 0, NAS_RL_PPO = 1 };         // the nasnet-rl controller's training

typedef struct {
    uint64_t seed;                // the private RNG (stream GH_STREAM_SEARCH)
    int64_t max_proposals;        // stopping rule; 0 = none
    int steps, multiplier;        // the cell: intermediate nodes, nodes concatenated (4, 4)
    int space;                    // NAS_SPACE_*; NASNet forces steps = NASNET_BLOCKS
    int population, sample;       // regevo: P and S (0: the paper's 100 and 25)
    int batch;                    // nasnet-rl: children per controller update (0: 1)
    double lr, entropy, baseline_decay;  // nasnet-rl: Adam lr, entropy weight, baseline decay
    int algorithm;                // nasnet-rl: NAS_RL_REINFORCE (0) or NAS_RL_PPO
    double clip;                  // nasnet-rl PPO: clipping epsilon (0: 0.2)
    int epochs;                   // nasnet-rl PPO: gradient passes per batch (0: 4)
} nas_proposer_options;

typedef struct nas_proposer nas_proposer;
typedef struct {
    const char *name;
    // A genotype from the proposer's policy into *g (duplicates are dropped by nas_ask).
    int (*propose)(nas_proposer *p, genotype *g);
    // The reward (NAN: the evaluation failed) and cost (s) of a proposal; NULL: nothing to learn.
    void (*tell)(nas_proposer *p, const nas_proposal *q, double reward, double cost);
    void (*destroy)(nas_proposer *p);
    // After the base is filled (options, RNG): the subtype's own setup (NULL: none).
    int (*init)(nas_proposer *p);
    // The subtype's own state as blobs under prefix (NULL: nothing beyond the base's); load
    // refuses a state its options could not have written.
    int (*save)(const nas_proposer *p, const char *prefix, gh_state_put put, void *ctx);
    int (*load)(nas_proposer *p, const char *prefix, ledger_ckpt_reader *r);
} nas_proposer_vtable;

// Every proposer starts with this base: it is the proposer's whole resumable state together
// with the subtype's own fields.
struct nas_proposer {
    const nas_proposer_vtable *vt;
    nas_proposer_options opt;
    gh_rng rng;
    int64_t n_asked, n_told;
    uint64_t *seen;               // signatures of every genotype nas_ask returned
    size_t n_seen, cap_seen;
    nas_proposal best;            // the proposal with the highest reward told so far
    double best_reward;           // -INFINITY until a reward is told
};

// kind: "random" (the uniform proposer, proposer_random.c), "regevo" (regularized evolution,
// proposer_regevo.c), "nasnet-rl" (an LSTM controller trained by PPO or REINFORCE,
// controller_nasnet.c). Several asks may precede their tells (workers training children in
// parallel); tells may come in any order.
int nas_proposer_create(nas_proposer **out, const char *kind, const nas_proposer_options *o);
// A proposal never returned before: GH_OK, NAS_STOP, or a status.
int nas_ask(nas_proposer *p, nas_proposal *q);
// A draw from the policy that is neither deduplicated nor counted: the path of one training
// step of shared weights (random-ws; ENAS's train_shared).
int nas_sample(nas_proposer *p, genotype *g);
int nas_tell(nas_proposer *p, const nas_proposal *q, double reward, double cost);
void nas_proposer_destroy(nas_proposer *p);
// The dedupe key of a genotype.
uint64_t nas_genotype_signature(const genotype *g);
// A genotype drawn uniformly (proposer_random.c): per node 2 distinct inputs among the earlier
// nodes, per edge an op among the 7 non-none primitives; concat of the last `multiplier` nodes.
void nas_random_genotype(gh_rng *r, int steps, int multiplier, genotype *g);

// ---- the proposers' spaces (nas_space.c) --------------------------------------------------------
// "darts" or "nasnet" to NAS_SPACE_*, -1 if unknown.
int nas_space_parse(const char *name);
// The ops a genotype of the space may use (DARTS: the 7 non-none primitives; NASNet: nasnet_ops).
int nas_space_nops(int space);
int nas_space_op(int space, int k);
int nas_space_op_index(int space, int op);       // k with nas_space_op(k) == op, or -1
// 1 when a node's two inputs must differ (DARTS's cells), 0 when both may be the same (NASNet).
int nas_space_distinct_inputs(int space);
// A genotype drawn uniformly from the space of o (steps and multiplier from o for DARTS).
void nas_space_random(gh_rng *r, const nas_proposer_options *o, genotype *g);
// The concat list a cell of the space has after its edges changed (NASNet: the unused blocks;
// DARTS: unchanged, the last `multiplier` nodes).
void nas_space_concat(int space, geno_cell *c);
// A genotype of o's space (steps, ops, inputs, concat): GH_OK or GH_EINVAL saying what is not.
int nas_space_check(const nas_proposer_options *o, const genotype *g);

// ---- regularized evolution's mutations (proposer_regevo.c) -------------------------------------
// Real et al. 2019, section 2.3: one of hidden-state mutation (a random cell, block and input is
// re-pointed to another earlier hidden state), op mutation (a random cell, block and op is
// replaced by another op of the space) or identity, chosen uniformly; the kind done is returned.
enum { NAS_MUTATE_HIDDEN = 0, NAS_MUTATE_OP = 1, NAS_MUTATE_IDENTITY = 2 };
int nas_mutate(gh_rng *r, const nas_proposer_options *o, const genotype *parent, genotype *child);

// A regevo proposer's population, oldest first: ids and rewards of up to max members (-INFINITY:
// a child that failed); returns the population's size (-1 for a proposer of another kind).
int nas_regevo_population(const nas_proposer *p, int64_t *ids, double *rewards, int max);

// log p(g) under a nasnet-rl proposer's controller (teacher-forced, no gradient); NAN for a
// proposer of another kind.
double nas_rl_log_prob(nas_proposer *p, const genotype *g);
// "reinforce" or "ppo" to NAS_RL_*, -1 if unknown.
int nas_rl_algorithm_parse(const char *name);
// PPO's clipped surrogate (Schulman et al. 2017, eq. 7) differentiated for one sample of
// advantage adv and probability ratio r = p(a) / p_old(a): its gradient is w dlog p(a) with this
// w = adv r, or 0 where the clip holds (adv > 0 and r > 1 + clip, or adv < 0 and r < 1 - clip).
double nas_ppo_weight(double adv, double ratio, double clip);

// ---- the loop of proposers scored from scratch (proposer_search.c) -----------------------------
// ask -> ev -> tell until p stops; every proposal is a trial row: "ok", "nan" when its training
// diverged (GH_ENAN: told NAN, the search goes on), "failed" for another failure (the search
// stops with its status). checkpoints: after each row a checkpoint holds p under
// "<prefix>/proposer"; when r resumes in the search phase, p continues from it. name: progress
// lines.
// The proposer options of a search run: seed, random_archs proposals, the [search] space and
// the cell of r->nc, the [regevo] and [nasnet_rl] keys.
nas_proposer_options nas_run_proposer_options(const nas_run *r);
int nas_search_proposals(nas_run *r, nas_proposer *p, nas_evaluator *ev, int checkpoints,
                         const char *prefix, const char *name);

// ---- ENAS's micro architectures as data (enas_arc.c) -------------------------------------------
// Pham et al., ICML 2018: a cell of B nodes, each the sum of two ops on two earlier nodes (0, 1:
// the cell inputs). The official code's `--child_fixed_arc` holds per node "x_id x_op y_id y_op",
// the normal cell's 4B integers then the reduction cell's.
#define ENAS_MAX_NODES GENO_MAX_STEPS
#define ENAS_NUM_OPS 5
// ENAS op id -> darts_op_kind: sep_conv_3x3, sep_conv_5x5, avg_pool_3x3, max_pool_3x3,
// skip_connect (identity).
extern const int enas_op_kind[ENAS_NUM_OPS];
typedef struct {
    int nodes;                          // B
    int normal[4 * ENAS_MAX_NODES];     // per node: x_id, x_op, y_id, y_op
    int reduce[4 * ENAS_MAX_NODES];
} enas_arc;
// Integers separated by spaces (or commas); nodes 0: from the count (8 per node). Bad text:
// GH_EFORMAT naming the token, its character position, and the range it must be in.
int enas_arc_parse(enas_arc *a, const char *text, int nodes);
// The official form, space separated; returns the length it needs (snprintf rules).
int enas_arc_print(const enas_arc *a, char *out, size_t len);
int enas_arc_validate(const enas_arc *a);
// The DARTS genotype of the arc: edges in node order, concat of the nodes no node reads (an
// unread input 0/1 included in the normal cell, dropped in the reduction cell).
int enas_arc_to_genotype(const enas_arc *a, genotype *g);

// ---- ENAS's macro arcs in the pipeline (enas_macro.c) -----------------------------------------
// The text a macro arc has in run files and on the command line: "enas-macro: " and the
// official integers (models.h enas_macro_arc_parse); ENAS_MACRO_TEXT_MAX bounds it.
#define ENAS_MACRO_TEXT_MAX (16 + 2 * ENAS_MACRO_MAX_LAYERS * (ENAS_MACRO_MAX_LAYERS + 1) / 2)
int enas_macro_arch_text(const enas_macro_arc *a, char *out, size_t len);
// 1 when text (leading spaces skipped) is a macro arc's ("enas-macro:") or the name
// ENAS_MACRO (the published arc), else 0.
int enas_macro_is_text(const char *text);
// Parses "enas-macro: ..." (errors count character positions from the first integer).
int enas_macro_resolve(const char *text, enas_macro_arc *a);
// The macro network of d's shapes.
enas_macro_config enas_macro_config_for(const nas_data *d, int layers, int channels, int shared,
                                        double dropout);

// ---- the ENAS controller (enas_controller.c) ---------------------------------------------------
// micro_controller.py: a one-layer LSTM that samples the normal cell then the reduction cell
// (one sequence, state carried over). Per node, two inputs by attention over the earlier nodes'
// LSTM outputs (tanh(W1 h_j + W2 h) . v), then two ops by a softmax layer; logits scaled as
// C tanh(z / T) (ops: C / op_tanh_reduce); the normal cell's op logits get the fixed bias
// (+0.25 on the convolutions, -0.25 on the rest). REINFORCE with reward R = acc + w H (H the
// sample's entropy), a moving-average baseline b, loss -(R - b) log p(arc) averaged over
// `aggregate` samples per Adam step (beta1 0, eps 1e-3: the official get_train_ops).
typedef struct {
    int nodes, hidden;          // B = 5, 64 units
    double temperature;         // 0: none (the official scripts set none)
    double tanh_c;              // 0: none
    double op_tanh_reduce;      // the op logits' constant is tanh_c / op_tanh_reduce
    double entropy_weight, bl_dec, lr;
    double b_soft_init;         // initial op-logit bias of the two convolutions (official: 10)
    int aggregate;              // samples per Adam step
    uint64_t seed;              // initialisation and every draw
    // The macro space (general_controller.py, search_whole_channels): per layer one of 6 ops
    // (no op bias, the tanh constant alone) and a skip bit per earlier layer; the loss adds
    // skip_weight times the mean over layers of KL(sigmoid(z) || [1 - skip_target,
    // skip_target]) summed over each skip's logits z. nodes, op_tanh_reduce and b_soft_init are
    // not used.
    int macro, layers;          // 1: macro arcs of `layers` layers (12)
    double skip_target, skip_weight;   // 0.4, 0.8
} enas_ctrl_opts;
typedef struct {
    double reward, entropy, log_prob, baseline, loss;   // of the sample just fed back
    double skip_penalty, skip_rate;   // macro: the KL term and the fraction of skips taken
    int stepped;                // 1: this sample completed an aggregate and Adam stepped
} enas_ctrl_feedback;
typedef struct enas_ctrl enas_ctrl;
int enas_ctrl_create(enas_ctrl **out, const enas_ctrl_opts *o);
void enas_ctrl_destroy(enas_ctrl *c);
// A draw from the policy into *a, with its log-probability and entropy (nats, summed over the
// decisions). The draw's tape is kept for enas_ctrl_reinforce.
int enas_ctrl_sample(enas_ctrl *c, enas_arc *a, double *log_prob, double *entropy);
// log p(a) and the entropy along a (teacher forcing); the tape is kept as for a sample, so that
// enas_ctrl_reinforce may follow (tests).
int enas_ctrl_log_prob(enas_ctrl *c, const enas_arc *a, double *log_prob, double *entropy);
// The macro space: a draw, and log p(a) along a (teacher forcing), as the two above.
int enas_ctrl_sample_macro(enas_ctrl *c, enas_macro_arc *a, double *log_prob, double *entropy);
int enas_ctrl_log_prob_macro(enas_ctrl *c, const enas_macro_arc *a, double *log_prob,
                             double *entropy);
// The skip penalty (the mean KL above) of the last macro sample/log_prob.
double enas_ctrl_skip_penalty(const enas_ctrl *c);
// REINFORCE for the arc of the last sample/log_prob with accuracy acc: accumulates the gradient
// of -(R - b) log p / aggregate (b: the baseline before this sample), then moves the baseline
// b -= (1 - bl_dec)(b - R); after every `aggregate` samples, one Adam step.
int enas_ctrl_reinforce(enas_ctrl *c, double acc, enas_ctrl_feedback *out);
double enas_ctrl_baseline(const enas_ctrl *c);
// Checkpoints (blobs "enas_ctrl/..."): the parameters and Adam moments, the draw counter and
// the baseline. Save refuses between the samples of an aggregate (gradients are not saved).
int enas_ctrl_save(const enas_ctrl *c, gh_state_put put, void *ctx);
int enas_ctrl_load(enas_ctrl *c, gh_state_get get, void *ctx);
// The controller's engine (the reference backend; its parameters are GH_GROUP_WEIGHTS): tests
// read the accumulated gradient and perturb parameters through it.
gh_engine *enas_ctrl_engine(enas_ctrl *c);

// ---- methods: a registry (nas_methods.c) -------------------------------------------------------
typedef struct {
    const char *name;                        // `gpuhours search NAME`, config key `method`
    int (*run)(nas_run *r, genotype *best);  // the search; best: the genotype it returns
    const char *help;                        // one line for --help
    const char *(*label)(const nas_config *c);  // the ledger's method name; NULL: name
    int checkpoints;                         // 1: its search writes checkpoints (--resume)
    int nasnet;                              // 1: also runs on [search] space = nasnet
    int macro;                               // 1: returns an ENAS macro arc in r->macro_best
                                             // (nas_search_run_macro), no genotype
} nas_method;

int nas_method_count(void);
const nas_method *nas_method_at(int i);
const nas_method *nas_method_find(const char *name);   // NULL if unknown
// "darts, random-ws, random": the names of the table, for messages.
void nas_method_names(char *out, size_t len);
// The ledger's method name of c ("darts-first", "darts-second", "random-ws", "random").
const char *nas_method_label(const nas_config *c);
// The search c->method on d; records trials, epochs, the search phase's cost and the genotype in
// l (NULL: nothing recorded); best receives the genotype found. ck: checkpoints beside l and
// the checkpoint to continue from (nas_ckpt below; NULL: none).
int nas_search_run(const nas_config *c, const nas_data *d, struct ledger *l,
                   const struct nas_ckpt *ck, genotype *best);
// The same for a method whose row has macro set (enas-macro): best receives the ENAS macro arc,
// the ledger's "genotype" holds its text ("enas-macro: ..."). Each driver refuses the other's
// methods.
int nas_search_run_macro(const nas_config *c, const nas_data *d, struct ledger *l,
                         const struct nas_ckpt *ck, enas_macro_arc *best);

// ---- the DARTS search step (darts.c; train_search.py train(), architect.py) ------------------
typedef struct darts_search darts_search;
typedef struct {
    int order;
    double momentum, wd, grad_clip;            // weight optimizer (SGD)
    double arch_lr, arch_beta1, arch_beta2, arch_wd;  // architecture optimizer (Adam)
    double fd_r;            // eps = fd_r / ||v|| in eq. 8; 0 = DARTS's 0.01 (tests go smaller)
    // data parallel: the all-reduce (average) of a group's gradient over the ranks (NULL: one
    // process), and micro-batches (gh_step_def.micro: one process computing what `micro` ranks
    // would, batch norm per part; the reference of the data-parallel tests)
    gh_reduce_fn reduce;
    void *reduce_ctx;
    gh_grad_ready_fn ready;  // the weight step's overlap hook (gh_step_def.ready)
    int micro;
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

// ---- training a genotype from scratch (nas_train.c) --------------------------------------------
// DARTS's train.py protocol through the trainer: SGD with momentum and weight decay, cosine
// schedule, clipping, drop-path ramped linearly from 0, auxiliary head; evaluated after every
// epoch (of the untrained network when epochs is 0).
typedef struct {
    darts_net_config nc;     // the network (auxiliary head: nc.auxiliary)
    int epochs, batch;
    double lr, lr_min, momentum, wd, grad_clip, drop_path, aux_weight;
    int lr_t0, lr_tmul;      // lr_t0 > 0: cosine with warm restarts (ENAS); 0: one cosine
    images_aug aug;          // training augmentation; evaluation uses its mean/std only
    uint64_t seed;           // engine (initialisation, drop-path) and data order
    const char *phase;       // progress label and the ledger's epoch phase
    int64_t trial_id;
    const struct nas_train_ckpt *ckpt;   // checkpoints of this training (NULL: none)
    int micro;               // gh_step_def.micro (tests: one process as several ranks)
    // Set: the network trained is this ENAS macro arc's (mc; nc, the genotype, drop-path and
    // the auxiliary weight unused), else g's evaluation network.
    const enas_macro_arc *macro;
    enas_macro_config mc;
} nas_train_opts;
typedef struct {
    double train_loss, train_acc;  // the last epoch's means; NAN when no epoch ran
    double eval_loss, eval_acc;    // on the eval set after the last epoch
    cost_totals cost;              // of this training alone
    double comm_s;                 // in gradient all-reduce (data parallel), mean over ranks
} nas_train_result;
// Checkpoints of one training: save is called by the trainer's checkpoint hook (after every
// epoch, and every every_s seconds within one when every_s > 0) with the position of the next
// step and the results so far (cost included); load, when set, restores the engine state and
// returns the position and the results so far to continue from.
typedef struct nas_train_ckpt {
    double every_s;
    int (*save)(void *ctx, gh_engine *e, const gh_train_pos *pos, int64_t step,
                const nas_train_result *sofar);   // step: the training's steps done
    int (*load)(void *ctx, gh_engine *e, gh_train_pos *pos, nas_train_result *sofar);
    void *ctx;
} nas_train_ckpt;
// Trains g in an engine of its own on train, evaluating on eval; epoch rows go to l (NULL: none).
int nas_train_genotype(const nas_config *c, const genotype *g, const gh_images *train,
                       const gh_images *eval, const nas_train_opts *o, struct ledger *l,
                       nas_train_result *r);
// Final training of g for every seed of c->seeds on the config's data; mean and sample sd of the
// test accuracy returned; one trial row per seed. ck: checkpoints beside l and the checkpoint to
// continue from (NULL: none).
int nas_final_run(const nas_config *c, const nas_data *d, struct ledger *l,
                  const struct nas_ckpt *ck, const genotype *g, double *mean_acc, double *sd_acc);
// The same for an ENAS macro arc: its fixed network (models.h enas_macronet, the arc's own
// layers, final_channels filters, dropout final_dropout before the classifier), no auxiliary
// head or drop-path (general_child.py has neither), the other final keys as for genotypes.
int nas_final_run_macro(const nas_config *c, const nas_data *d, struct ledger *l,
                        const struct nas_ckpt *ck, const enas_macro_arc *a, double *mean_acc,
                        double *sd_acc);

// ---- checkpoints and --resume (nas_ckpt.c) -----------------------------------------------------
// A run with a results file writes a checkpoint beside it (ledger_ckpt_*: <run>.ckpt) after
// every training epoch, every checkpoint_every_min minutes within one, after each genotype
// random-ws scores, and before each final-training seed. Each holds blob "nas/run" (what the
// run does, the phase, the phase's cost so far), the engine state within a training, and the
// phase's own state ("darts/state"; "random_ws/state" and the proposer; "final/state").
// Rows the run recorded after its latest checkpoint are dropped when it resumes
// (ledger_resume_from), and recorded again by the resumed work: a resumed run ends with the
// rows an uninterrupted one has.
enum { NAS_DO_SEARCH = 1, NAS_DO_FINAL = 2 };   // what a run does (bits); also the phases
#define NAS_FINAL_LABEL "darts-train"           // the ledger's method of a final training alone

// Where a checkpoint was taken.
typedef struct {
    int phase;               // NAS_DO_SEARCH or NAS_DO_FINAL
    int64_t unit;            // final: the seed's index; random-ws scoring: genotypes scored + 1
    int training;            // 1: within a training, at pos (the next step)
    gh_train_pos pos;
} nas_ckpt_point;

typedef struct nas_ckpt {
    const char *method;      // the run's method as its ledger records it
    const char *config_text; // the run's resolved config as its ledger records it
    int what;                // NAS_DO_SEARCH and/or NAS_DO_FINAL
    // Called after each checkpoint is committed (NULL: nothing); a status stops the run.
    int (*written)(void *ctx, const nas_ckpt_point *at);
    void *written_ctx;
    // Resuming (nas_resume_open): the checkpoint to continue from (NULL: from the start), its
    // phase, the cost that phase had when it was written, and in the final phase the genotype
    // being trained.
    ledger_ckpt_reader *from;
    int phase;
    cost_totals cost0;
    char genotype[2048];
} nas_ckpt;

// --resume FILE: checks FILE (ledger_resume_check: a gpuhours run, not being written, with an
// intact checkpoint of its own beside it), that it is a NAS run (of method `method` when not
// NULL: a name of the method table) that has not finished, and reads its config into c and the
// checkpoint into ck (ck->from open; method, config_text and what as the run recorded them).
// Opens both files read-only: a refusal leaves them byte-identical. The caller resumes the
// run file with ledger_resume_from(.., ck->from) and closes ck with nas_resume_close.
// Worker ranks of `mpirun -np N gpuhours search METHOD` (nas_workers.c): rank r > 0 builds the
// run's split from d itself and trains the children rank 0 sends (genotype text, trial id,
// seed) until told to quit, on its own GPU (local rank, within CUDA_VISIBLE_DEVICES) or its
// share of the host's CPU threads. Rank 0 runs the search (nas_search_run) and is the only
// writer of the results file.
int nas_worker_serve(const nas_config *c, const nas_data *d);
// 1 when `method` can run its children on worker ranks: the proposer methods (random, regevo,
// nasnet-rl: the rows of the proposer table whose name is the method's).
int nas_method_runs_workers(const char *method);
// 1 for the methods that honour [search] budget (seconds): the proposer searches and random-ws;
// DARTS and ENAS run their epochs.
int nas_method_takes_budget(const char *method);
int nas_resume_open(const char *path, const char *method, nas_config *c, nas_ckpt *ck);
void nas_resume_close(nas_ckpt *ck);

#ifdef __cplusplus
}
#endif
