// nas_config: the one configuration of the NAS commands: DARTS's defaults, a table of keys in
// sections (method-neutral run, data, search and final keys; one section per method), which
// also gives every key its --flag; config files of "key = value" lines under [section] headers;
// the resolved text echoed at start and stored in the ledger.
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas.h"

void nas_config_defaults(nas_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->backend, sizeof c->backend, "auto");
    snprintf(c->precision, sizeof c->precision, "fp32");
    c->seed = 2;                 // train_search.py's default seed
    c->report_every = 50;
    c->checkpoint_every_min = 10;
    c->bucket_mb = 25;
    c->train_portion = 0.5;
    // search (train_search.py)
    snprintf(c->method, sizeof c->method, "darts");
    snprintf(c->space, sizeof c->space, "darts");
    c->search_layers = 8;
    c->search_channels = 16;
    c->search_epochs = 50;
    c->search_batch = 64;
    c->search_lr = 0.025;
    c->search_lr_min = 0.001;
    c->search_momentum = 0.9;
    c->search_wd = 3e-4;
    c->search_grad_clip = 5;
    c->search_crop_pad = 4;
    c->search_flip = 1;
    // final training (train.py)
    c->final_layers = 20;
    c->final_channels = 36;
    c->final_epochs = 600;
    c->final_batch = 96;
    c->final_lr = 0.025;
    c->final_lr_min = 0.0;
    c->final_momentum = 0.9;
    c->final_wd = 3e-4;
    c->final_grad_clip = 5;
    c->final_lr_tmul = 2;
    c->auxiliary = 1;
    c->aux_weight = 0.4;
    c->drop_path = 0.2;
    c->final_crop_pad = 4;
    c->final_flip = 1;
    c->final_cutout = 16;
    // [darts] (architect.py)
    c->darts.order = 2;
    c->darts.arch_lr = 3e-4;
    c->darts.arch_beta1 = 0.5;
    c->darts.arch_beta2 = 0.999;
    c->darts.arch_wd = 1e-3;
    // [random]
    c->random.archs = 24;        // the paper's random baseline: 24 sampled cells
    c->random.epochs = 100;
    // [regevo] (Real et al. 2019, section 3.1: P = 100, S = 25 on CIFAR-10)
    c->regevo.population = 100;
    c->regevo.sample = 25;
    // [nasnet_rl]: PPO with a moving-average baseline, as Zoph et al. 2018 (lr 0.00035; ENAS's
    // controller: Adam 0.00035, entropy weight 1e-4, baseline decay 0.99); PPO's clip 0.2 and
    // a few epochs per batch (Schulman et al. 2017: 3 to 10), or REINFORCE
    c->rl.batch = 8;
    c->rl.lr = 0.00035;
    c->rl.entropy = 1e-4;
    c->rl.baseline_decay = 0.95;
    snprintf(c->rl.algorithm, sizeof c->rl.algorithm, "ppo");
    c->rl.ppo_clip = 0.2;
    c->rl.ppo_epochs = 4;
    // [enas] (melodyguan/enas scripts/cifar10_micro_search.sh and main.py's controller)
    c->enas.nodes = 5;
    c->enas.lstm_size = 64;
    c->enas.temperature = 0;
    c->enas.tanh_c = 1.10;
    c->enas.op_tanh_reduce = 2.5;
    c->enas.entropy_weight = 1e-4;
    c->enas.bl_dec = 0.99;
    c->enas.lr = 0.0035;
    c->enas.b_soft_init = 10;
    c->enas.train_steps = 30;
    c->enas.aggregate = 10;
    c->enas.derive_archs = 10;
    c->enas.lr_t0 = 10;
    c->enas.lr_tmul = 2;
    c->enas.skip_target = 0.4;   // cifar10_macro_search.sh
    c->enas.skip_weight = 0.8;
    c->enas.keep_prob = 1.0;
}

typedef enum { K_STR, K_INT, K_U64, K_DBL } ktype;
typedef struct {
    const char *section, *key;
    ktype type;
    size_t off, size;
    double lo, hi;       // accepted range, inclusive (numbers; a double must also be finite)
    const char *help;
} kdef;

// K?(section, key, field, [lo, hi,] help): the key is also its --flag; field is the nas_config
// member (darts.order, ...: a member of the method's section struct). Every number has a range,
// so that a negative batch or zero epochs is refused with the range instead of failing later.
#define KS(s, k, f, h) {s, k, K_STR, offsetof(nas_config, f), sizeof(((nas_config *)0)->f), 0, 0, h}
#define KI(s, k, f, lo, hi, h) {s, k, K_INT, offsetof(nas_config, f), sizeof(int), lo, hi, h}
#define KU(s, k, f, h) \
    {s, k, K_U64, offsetof(nas_config, f), sizeof(uint64_t), 0, 9007199254740992.0, h}
#define KD(s, k, f, lo, hi, h) {s, k, K_DBL, offsetof(nas_config, f), sizeof(double), lo, hi, h}
#define BIG 1e9

static const kdef keys[] = {
    KS("run", "backend", backend, "auto, cpu, ref, cuda, cuda:N"),
    KI("run", "deterministic", deterministic, 0, 1, "1: fixed-order reductions on the GPU"),
    KU("run", "seed", seed, "seed of initialisation, data order, augmentation and search"),
    KS("run", "out", out, "results file (\"\" = results/<method>-<dataset>-<time>.h5)"),
    KI("run", "threads", threads, 0, 4096, "CPU threads (0 = OpenMP default)"),
    KD("run", "arena_mb", arena_mb, 0, 10000000.0,
       "activation arena in MiB (0 = measured by a probe step)"),
    KI("run", "report_every", report_every, 1, BIG, "steps between progress lines"),
    KI("run", "bucket_mb", bucket_mb, 1, 4096,
       "data parallel (mpirun): gradient all-reduce bucket in MiB"),
    KI("run", "micro", micro, 0, 4096,
       "micro-batches per step, batch norm per part (one process as that many ranks)"),
    KI("run", "cuda_graphs", cuda_graphs, 0, 1,
       "1: capture DARTS's passes and fixed-graph training steps as CUDA graphs and replay them "
       "(cuda only; ignored with a message on cpu/ref)"),
    KI("run", "sync_bn", sync_bn, 0, 1,
       "data parallel (mpirun): 1: batch-norm statistics over all ranks (0: per rank, as DDP)"),
    KS("run", "precision", precision,
       "conv arithmetic: fp32, or tf32 / bf16 on tensor cores (needs --backend cuda)"),
    KD("run", "checkpoint_every_min", checkpoint_every_min, 0, 1e6,
       "minutes between checkpoints within an epoch (0: after each epoch only)"),
    KS("data", "dataset", dataset, "cifar10, cifar100, fashion-mnist, mnist"),
    KS("data", "data_dir", data_dir, "data directory (\"\" = Fashion-MNIST's Debian package)"),
    KD("data", "train_portion", train_portion, 0.01, 0.99,
       "fraction of the training set that trains weights (rest: architecture)"),
    KI("data", "search_limit", search_limit, 0, BIG,
       "> 0: search on a seeded sample of this many training images"),
    KI("data", "search_val_limit", search_val_limit, 0, BIG,
       "> 0: validation accuracy on at most this many images"),
    KI("data", "final_limit", final_limit, 0, BIG,
       "> 0: final training on a seeded sample of this many training images"),
    KI("data", "test_limit", test_limit, 0, BIG, "> 0: test on the first this many test images"),
    KS("search", "method", method, "search method (the methods below)"),
    KS("search", "space", space,
       "space of the proposer methods (random, regevo, nasnet-rl): darts or nasnet"),
    KI("search", "search_layers", search_layers, 1, 64, "search network cells"),
    KI("search", "search_channels", search_channels, 1, 1024, "search network initial channels"),
    KI("search", "search_epochs", search_epochs, 1, 100000, "search epochs"),
    KI("search", "search_batch", search_batch, 1, 4096, "search batch size"),
    KD("search", "search_lr", search_lr, 1e-09, 10,
       "weight learning rate (SGD), also xi of DARTS's unrolled step"),
    KD("search", "search_lr_min", search_lr_min, 0, 10,
       "cosine schedule's final weight learning rate"),
    KD("search", "search_momentum", search_momentum, 0, 0.999999, "weight SGD momentum"),
    KD("search", "search_wd", search_wd, 0, 1, "weight decay"),
    KD("search", "search_grad_clip", search_grad_clip, 0, 1000000.0, "weight gradient norm clip"),
    KI("search", "search_crop_pad", search_crop_pad, 0, 64,
       "search augmentation: random crop padding (0 off)"),
    KI("search", "search_flip", search_flip, 0, 1, "search augmentation: horizontal flip"),
    KI("search", "search_cutout", search_cutout, 0, 1024,
       "search augmentation: cutout side (0 off)"),
    KD("search", "budget", budget_s, 0, 1e9,
       "proposer searches and random-ws: wall seconds; no child is asked that would end after "
       "it, random-ws trains while an epoch and the scoring fit (0: none)"),
    KI("search", "sync_batch", sync_batch, 0, 1000000,
       "proposer searches: rounds of N children told in id order, the same trials on any "
       "number of MPI workers (0: asynchronous)"),
    KS("final", "genotype", genotype,
       "genotype text, name (DARTS_V1, DARTS_V2, NASNet, AmoebaNet, ENAS, ENAS_MACRO), "
       "\"enas: ARC\" or \"enas-macro: ARC\""),
    KI("final", "final_layers", final_layers, 1, 64, "evaluation network cells"),
    KI("final", "final_channels", final_channels, 1, 1024, "evaluation network initial channels"),
    KI("final", "final_epochs", final_epochs, 0, 100000,
       "final training epochs (0: test untrained)"),
    KI("final", "final_batch", final_batch, 1, 4096, "final training batch size"),
    KD("final", "final_lr", final_lr, 1e-09, 10, "final training learning rate"),
    KD("final", "final_lr_min", final_lr_min, 0, 10, "final cosine schedule's last learning rate"),
    KI("final", "final_lr_T_0", final_lr_t0, 0, 100000,
       "final cosine restarts: first period in epochs (0: one cosine)"),
    KI("final", "final_lr_T_mul", final_lr_tmul, 1, 100, "final cosine restarts: multiplier"),
    KD("final", "final_dropout", final_dropout, 0, 0.99,
       "dropout before the classifier (ENAS: 1 - keep_prob)"),
    KD("final", "final_momentum", final_momentum, 0, 0.999999, "final SGD momentum"),
    KD("final", "final_wd", final_wd, 0, 1, "final weight decay"),
    KD("final", "final_grad_clip", final_grad_clip, 0, 1000000.0, "final gradient norm clip"),
    KI("final", "auxiliary", auxiliary, 0, 1, "auxiliary head (1/0)"),
    KD("final", "aux_weight", aux_weight, 0, 100, "auxiliary loss weight"),
    KD("final", "drop_path", drop_path, 0, 0.999999,
       "drop-path probability, ramped linearly from 0 over the epochs"),
    KI("final", "final_crop_pad", final_crop_pad, 0, 64, "final augmentation: random crop padding"),
    KI("final", "final_flip", final_flip, 0, 1, "final augmentation: horizontal flip"),
    KI("final", "final_cutout", final_cutout, 0, 1024, "final augmentation: cutout side (0 off)"),
    KS("final", "seeds", seeds, "final training seeds, comma separated (\"\" = seed)"),
    KI("darts", "order", darts.order, 1, 2, "1 (first order) or 2 (second order, unrolled)"),
    KD("darts", "arch_lr", darts.arch_lr, 0, 10, "architecture learning rate (Adam)"),
    KD("darts", "arch_beta1", darts.arch_beta1, 0, 0.999999, "architecture Adam beta1"),
    KD("darts", "arch_beta2", darts.arch_beta2, 0, 0.999999, "architecture Adam beta2"),
    KD("darts", "arch_wd", darts.arch_wd, 0, 1, "architecture weight decay"),
    KI("random", "random_archs", random.archs, 1, 1000000,
       "genotypes sampled: trained (random) or scored with shared weights (random-ws)"),
    KI("random", "random_epochs", random.epochs, 1, 100000,
       "random: epochs each sampled genotype trains"),
    KI("regevo", "regevo_population", regevo.population, 2, 1000000,
       "regevo: P, the population aging keeps (children: random_archs, epochs: random_epochs)"),
    KI("regevo", "regevo_sample", regevo.sample, 1, 1000000,
       "regevo: S, members sampled per tournament (at most P)"),
    KI("nasnet_rl", "rl_batch", rl.batch, 1, 100000,
       "nasnet-rl: finished children per controller update"),
    KD("nasnet_rl", "rl_lr", rl.lr, 0, 10, "nasnet-rl: controller Adam learning rate"),
    KD("nasnet_rl", "rl_entropy", rl.entropy, 0, 100, "nasnet-rl: entropy bonus weight"),
    KD("nasnet_rl", "rl_baseline_decay", rl.baseline_decay, 0, 0.999999,
       "nasnet-rl: decay of the reward's moving-average baseline"),
    KS("nasnet_rl", "rl_algorithm", rl.algorithm,
       "nasnet-rl: the controller's training, ppo (clipped surrogate, the paper's) or reinforce"),
    KD("nasnet_rl", "ppo_clip", rl.ppo_clip, 1e-6, 10, "nasnet-rl ppo: clipping epsilon"),
    KI("nasnet_rl", "ppo_epochs", rl.ppo_epochs, 1, 1000,
       "nasnet-rl ppo: gradient passes (Adam steps) over each batch of children"),
    KI("enas", "enas_num_cells", enas.nodes, 1, ENAS_MAX_NODES, "ENAS: nodes per cell (B)"),
    KI("enas", "controller_lstm_size", enas.lstm_size, 1, 4096, "ENAS controller LSTM units"),
    KD("enas", "controller_temperature", enas.temperature, 0, 1000,
       "controller logits divided by this (0: none)"),
    KD("enas", "controller_tanh_constant", enas.tanh_c, 0, 1000,
       "controller logits C tanh(z) (0: none)"),
    KD("enas", "controller_op_tanh_reduce", enas.op_tanh_reduce, 1e-6, 1000,
       "op logits use tanh constant / this"),
    KD("enas", "controller_entropy_weight", enas.entropy_weight, 0, 100,
       "sample entropy's weight in the reward"),
    KD("enas", "controller_bl_dec", enas.bl_dec, 0, 1, "reward baseline decay"),
    KD("enas", "controller_lr", enas.lr, 0, 10, "controller learning rate (Adam)"),
    KD("enas", "controller_b_soft_init", enas.b_soft_init, -100, 100,
       "initial op-logit bias of the convolutions (10: official, saturates the tanh)"),
    KI("enas", "controller_train_steps", enas.train_steps, 0, 1000000,
       "controller Adam steps after each epoch"),
    KI("enas", "controller_num_aggregate", enas.aggregate, 1, 1000000,
       "sampled arcs per controller Adam step"),
    KI("enas", "enas_derive_archs", enas.derive_archs, 1, 1000000,
       "arcs sampled at the end, each scored on one validation batch"),
    KI("enas", "child_lr_T_0", enas.lr_t0, 0, 100000,
       "cosine restarts: first period in epochs (0: one cosine over the search)"),
    KI("enas", "child_lr_T_mul", enas.lr_tmul, 1, 100, "cosine restarts: period multiplier"),
    KD("enas", "controller_skip_target", enas.skip_target, 1e-6, 1 - 1e-6,
       "enas-macro: the skip probability the KL penalty pulls toward"),
    KD("enas", "controller_skip_weight", enas.skip_weight, 0, 1000,
       "enas-macro: weight of the skip penalty in the controller's loss"),
    KD("enas", "child_keep_prob", enas.keep_prob, 1e-6, 1,
       "enas-macro: keep probability of the dropout before the child's classifier (1: none)"),
};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int nas_config_nkeys(void) { return NKEYS; }

const char *nas_config_key(int i, const char **help, const char **section) {
    if (i < 0 || i >= NKEYS) return NULL;
    if (help) *help = keys[i].help;
    if (section) *section = keys[i].section;
    return keys[i].key;
}

static int bad(const char *file, int line, const char *key, const char *value, const char *want) {
    if (file)
        return gh_fail(GH_EFORMAT, "%s:%d: key '%s': value '%s': expected %s", file, line, key,
                       value, want);
    return gh_fail(GH_EINVAL, "--%s '%s': expected %s", key, value, want);
}

static int is_section(const char *name) {
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, name)) return 1;
    return 0;
}

static void section_names(char *out, size_t len) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < NKEYS; i++)
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
            n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s[%s]",
                                  i ? ", " : "", keys[i].section);
}

#define SEEDS_EXPECTED "expected distinct comma-separated integers in 0..2^53"

int nas_seeds_parse(const char *text, uint64_t *out, int max, int *n) {
    *n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ') p++;
        if (!(*p >= '0' && *p <= '9'))
            return gh_fail(GH_EINVAL, "seeds '%s': " SEEDS_EXPECTED " (at most %d), found "
                           "'%.12s' at character %d", text, max, p, (int)(p - text) + 1);
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > 9007199254740992ull)
            return gh_fail(GH_EINVAL, "seeds '%s': " SEEDS_EXPECTED "; %.*s is larger", text,
                           (int)(end - p), p);
        for (int i = 0; i < *n; i++)
            if (out[i] == v)
                return gh_fail(GH_EINVAL, "seeds '%s': " SEEDS_EXPECTED "; %llu appears twice",
                               text, v);
        if (*n == max)
            return gh_fail(GH_EINVAL, "seeds '%s': " SEEDS_EXPECTED "; more than %d", text, max);
        out[(*n)++] = v;
        p = end;
        while (*p == ' ') p++;
        if (!*p) return GH_OK;
        if (*p++ != ',')
            return gh_fail(GH_EINVAL, "seeds '%s': " SEEDS_EXPECTED "; found '%c' at character %d",
                           text, p[-1], (int)(p - text));
    }
}

int nas_config_set(nas_config *c, const char *section, const char *key, const char *value,
                   const char *file, int line) {
    const kdef *k = NULL;
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].key, key)) k = &keys[i];
    if (!k) {
        if (file) return gh_fail(GH_EFORMAT, "%s:%d: unknown key '%s'", file, line, key);
        return gh_fail(GH_EINVAL, "unknown option --%s", key);
    }
    if (section && *section && strcmp(section, k->section))
        return gh_fail(file ? GH_EFORMAT : GH_EINVAL, "%s:%d: key '%s' belongs to [%s], not [%s]",
                       file ? file : "(flags)", line, key, k->section, section);
    // the method is checked against the table here, before any data is read
    if (!strcmp(key, "method") && !nas_method_find(value)) {
        char names[256];
        nas_method_names(names, sizeof names);
        if (file)
            return gh_fail(GH_EFORMAT, "%s:%d: unknown search method '%s' (known: %s)", file,
                           line, value, names);
        return gh_fail(GH_EINVAL, "unknown search method '%s' (known: %s)", value, names);
    }
    if (!strcmp(key, "space") && nas_space_parse(value) < 0) {
        if (file)
            return gh_fail(GH_EFORMAT, "%s:%d: unknown space '%s' (known: darts, nasnet)", file,
                           line, value);
        return gh_fail(GH_EINVAL, "unknown space '%s' (known: darts, nasnet)", value);
    }
    if (!strcmp(key, "rl_algorithm") && nas_rl_algorithm_parse(value) < 0) {
        if (file)
            return gh_fail(GH_EFORMAT, "%s:%d: unknown rl_algorithm '%s' (known: ppo, reinforce)",
                           file, line, value);
        return gh_fail(GH_EINVAL, "unknown rl_algorithm '%s' (known: ppo, reinforce)", value);
    }
    gh_precision prec;
    if (!strcmp(key, "precision") && gh_precision_parse(value, &prec))
        return bad(file, line, key, value, "fp32, tf32 or bf16");
    char *p = (char *)c + k->off, *end, want[96];
    if (!strcmp(key, "seeds") && *value) {   // checked here, before any run file exists
        uint64_t seeds[NAS_MAX_SEEDS];
        int n;
        if (nas_seeds_parse(value, seeds, NAS_MAX_SEEDS, &n)) {
            if (file) return gh_fail(GH_EFORMAT, "%s:%d: %s", file, line, gh_error_get());
            return gh_fail(GH_EINVAL, "--seeds: %s", gh_error_get());
        }
    }
    errno = 0;
    switch (k->type) {
    case K_STR:
        if (strlen(value) >= k->size) {
            snprintf(want, sizeof want, "text of at most %zu bytes", k->size - 1);
            return bad(file, line, key, value, want);
        }
        snprintf(p, k->size, "%s", value);
        break;
    case K_INT: {
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < k->lo || v > k->hi) {
            snprintf(want, sizeof want, "an integer in %.0f..%.0f", k->lo, k->hi);
            return bad(file, line, key, value, want);
        }
        *(int *)p = (int)v;
        break;
    }
    case K_U64: {
        unsigned long long v = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
        if (!(value[0] >= '0' && value[0] <= '9') || *end || errno || (double)v > k->hi) {
            snprintf(want, sizeof want, "an integer in 0..%.0f", k->hi);
            return bad(file, line, key, value, want);
        }
        *(uint64_t *)p = v;
        break;
    }
    case K_DBL: {
        double v = strtod(value, &end);
        if (!*value || *end || errno || !(v >= k->lo && v <= k->hi)) {
            snprintf(want, sizeof want, "a finite number in [%g, %g]", k->lo, k->hi);
            return bad(file, line, key, value, want);
        }
        *(double *)p = v;
        break;
    }
    }
    return GH_OK;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

// A "[name]" header line: the section that follows.
static int section_line(char *s, const char *path, int line, char *section, size_t len) {
    size_t n = strlen(s);
    if (n < 3 || s[n - 1] != ']')
        return gh_fail(GH_EFORMAT, "%s:%d: expected '[section]', found '%.40s'", path, line, s);
    s[n - 1] = 0;
    char *name = trim(s + 1);
    if (!is_section(name)) {
        char names[256];
        section_names(names, sizeof names);
        return gh_fail(GH_EFORMAT, "%s:%d: unknown section [%s] (known: %s)", path, line, name,
                       names);
    }
    snprintf(section, len, "%s", name);
    return GH_OK;
}

// Reads "key = value" lines from f (path names it in errors).
static int load_stream(nas_config *c, FILE *f, const char *path) {
    char buf[4096], section[32] = "";
    int line = 0, st = GH_OK;
    while (!st && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            st = gh_fail(GH_EFORMAT, "%s:%d: line longer than %zu characters", path, line,
                         sizeof buf - 1);
            break;
        }
        // '#' starts a comment, except inside a genotype's quotes (none there use '#')
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *s = trim(buf);
        if (!*s) continue;
        if (*s == '[') {
            st = section_line(s, path, line, section, sizeof section);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            st = gh_fail(GH_EFORMAT, "%s:%d: expected 'key = value', found '%.40s'", path, line, s);
            break;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {  // "" for an empty string
            value[vl - 1] = 0;
            value++;
        }
        st = nas_config_set(c, section, key, value, path, line);
    }
    return st;
}

int nas_config_load(nas_config *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return gh_fail(GH_EIO, "config %s: %s", path, strerror(errno));
    int st = load_stream(c, f, path);
    fclose(f);
    return st;
}

int nas_config_load_text(nas_config *c, const char *text, const char *name) {
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) return gh_fail(GH_ENOMEM, "config %s: %s", name, strerror(errno));
    int st = load_stream(c, f, name);
    fclose(f);
    return st;
}

int nas_config_print(const nas_config *c, char *out, size_t len) {
    size_t n = 0;
    for (int i = 0; i < NKEYS; i++) {
        const char *p = (const char *)c + keys[i].off;
        char v[2100];
        switch (keys[i].type) {
        case K_STR: snprintf(v, sizeof v, "\"%s\"", p); break;
        case K_INT: snprintf(v, sizeof v, "%d", *(const int *)p); break;
        case K_U64: snprintf(v, sizeof v, "%llu", (unsigned long long)*(const uint64_t *)p); break;
        case K_DBL:   // 12 digits unless more are needed to read back the same double
            snprintf(v, sizeof v, "%.12g", *(const double *)p);
            if (strtod(v, NULL) != *(const double *)p)
                snprintf(v, sizeof v, "%.17g", *(const double *)p);
            break;
        }
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
            n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s[%s]\n",
                                  i ? "\n" : "", keys[i].section);
        n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s = %s\n",
                              keys[i].key, v);
    }
    return (int)n;
}
