// darts_config: the one configuration of the DARTS commands: the paper's defaults, a table of
// keys (which also gives every key its --flag), "key = value" files with # comments, and the
// resolved text echoed at start and stored in the ledger.
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas.h"

void darts_config_defaults(darts_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->backend, sizeof c->backend, "auto");
    c->seed = 2;                 // train_search.py's default seed
    c->report_every = 50;
    // search (train_search.py, architect.py)
    snprintf(c->method, sizeof c->method, "darts");
    c->order = 2;
    c->search_layers = 8;
    c->search_channels = 16;
    c->search_epochs = 50;
    c->search_batch = 64;
    c->search_lr = 0.025;
    c->search_lr_min = 0.001;
    c->search_momentum = 0.9;
    c->search_wd = 3e-4;
    c->search_grad_clip = 5;
    c->arch_lr = 3e-4;
    c->arch_beta1 = 0.5;
    c->arch_beta2 = 0.999;
    c->arch_wd = 1e-3;
    c->train_portion = 0.5;
    c->search_crop_pad = 4;
    c->search_flip = 1;
    c->random_archs = 24;        // the paper's random baseline: 24 sampled cells
    c->random_epochs = 100;
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
    c->auxiliary = 1;
    c->aux_weight = 0.4;
    c->drop_path = 0.2;
    c->final_crop_pad = 4;
    c->final_flip = 1;
    c->final_cutout = 16;
}

typedef enum { K_STR, K_INT, K_U64, K_DBL } ktype;
typedef struct {
    const char *key;
    ktype type;
    size_t off, size;
    const char *help;
} kdef;

#define KS(f, h) {#f, K_STR, offsetof(darts_config, f), sizeof(((darts_config *)0)->f), h}
#define KI(f, h) {#f, K_INT, offsetof(darts_config, f), sizeof(int), h}
#define KU(f, h) {#f, K_U64, offsetof(darts_config, f), sizeof(uint64_t), h}
#define KD(f, h) {#f, K_DBL, offsetof(darts_config, f), sizeof(double), h}

static const kdef keys[] = {
    KS(dataset, "cifar10, cifar100, fashion-mnist, mnist"),
    KS(data_dir, "data directory (\"\" = Fashion-MNIST's Debian package)"),
    KS(backend, "auto, cpu, ref, cuda, cuda:N"),
    KI(deterministic, "1: fixed-order reductions on the GPU"),
    KU(seed, "seed of initialisation, data order and augmentation"),
    KS(out, "results file (\"\" = results/<method>-<dataset>-<time>.h5)"),
    KI(threads, "CPU threads (0 = OpenMP default)"),
    KD(arena_mb, "activation arena in MiB (0 = measured by a probe step)"),
    KI(report_every, "steps between progress lines"),
    KS(method, "search method: darts, random-ws, random"),
    KI(order, "DARTS order: 1 (first) or 2 (second, unrolled)"),
    KI(search_layers, "supernet cells"),
    KI(search_channels, "supernet initial channels"),
    KI(search_epochs, "search epochs"),
    KI(search_batch, "search batch size"),
    KD(search_lr, "weight learning rate (SGD), also xi of the unrolled step"),
    KD(search_lr_min, "cosine schedule's final weight learning rate"),
    KD(search_momentum, "weight SGD momentum"),
    KD(search_wd, "weight decay"),
    KD(search_grad_clip, "weight gradient norm clip"),
    KD(arch_lr, "architecture learning rate (Adam)"),
    KD(arch_beta1, "architecture Adam beta1"),
    KD(arch_beta2, "architecture Adam beta2"),
    KD(arch_wd, "architecture weight decay"),
    KD(train_portion, "fraction of the training set that trains weights (rest: architecture)"),
    KI(search_limit, "> 0: search on a seeded sample of this many training images"),
    KI(search_val_limit, "> 0: supernet validation accuracy on at most this many images"),
    KI(search_crop_pad, "search augmentation: random crop padding (0 off)"),
    KI(search_flip, "search augmentation: horizontal flip"),
    KI(search_cutout, "search augmentation: cutout side (0 off)"),
    KI(random_archs, "random baselines: genotypes sampled"),
    KI(random_epochs, "random sampling: epochs per sampled genotype"),
    KS(genotype, "genotype text or name (DARTS_V1, DARTS_V2, NASNet, AmoebaNet)"),
    KI(final_layers, "evaluation network cells"),
    KI(final_channels, "evaluation network initial channels"),
    KI(final_epochs, "final training epochs"),
    KI(final_batch, "final training batch size"),
    KD(final_lr, "final training learning rate"),
    KD(final_lr_min, "final cosine schedule's last learning rate"),
    KD(final_momentum, "final SGD momentum"),
    KD(final_wd, "final weight decay"),
    KD(final_grad_clip, "final gradient norm clip"),
    KI(auxiliary, "auxiliary head (1/0)"),
    KD(aux_weight, "auxiliary loss weight"),
    KD(drop_path, "drop-path probability, ramped linearly from 0 over the epochs"),
    KI(final_crop_pad, "final augmentation: random crop padding"),
    KI(final_flip, "final augmentation: horizontal flip"),
    KI(final_cutout, "final augmentation: cutout side (0 off)"),
    KI(final_limit, "> 0: final training on a seeded sample of this many training images"),
    KI(test_limit, "> 0: test on the first this many test images"),
    KS(seeds, "final training seeds, comma separated (\"\" = seed)"),
};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int darts_config_nkeys(void) { return NKEYS; }

const char *darts_config_key(int i, const char **help) {
    if (i < 0 || i >= NKEYS) return NULL;
    if (help) *help = keys[i].help;
    return keys[i].key;
}

static int bad(const char *file, int line, const char *key, const char *value, const char *want) {
    if (file)
        return gh_fail(GH_EFORMAT, "%s:%d: key '%s': value '%s' is not %s", file, line, key, value,
                       want);
    return gh_fail(GH_EINVAL, "option --%s: value '%s' is not %s", key, value, want);
}

int darts_config_set(darts_config *c, const char *key, const char *value, const char *file,
                     int line) {
    const kdef *k = NULL;
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].key, key)) k = &keys[i];
    if (!k) {
        if (file) return gh_fail(GH_EFORMAT, "%s:%d: unknown key '%s'", file, line, key);
        return gh_fail(GH_EINVAL, "unknown option --%s", key);
    }
    char *p = (char *)c + k->off, *end;
    errno = 0;
    switch (k->type) {
    case K_STR:
        if (strlen(value) >= k->size) return bad(file, line, key, value, "short enough");
        snprintf(p, k->size, "%s", value);
        break;
    case K_INT: {
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < -1000000000L || v > 1000000000L)
            return bad(file, line, key, value, "an integer");
        *(int *)p = (int)v;
        break;
    }
    case K_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || errno || value[0] == '-')
            return bad(file, line, key, value, "a non-negative integer");
        *(uint64_t *)p = v;
        break;
    }
    case K_DBL: {
        double v = strtod(value, &end);
        if (!*value || *end || errno) return bad(file, line, key, value, "a number");
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

int darts_config_load(darts_config *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return gh_fail(GH_EIO, "config %s: %s", path, strerror(errno));
    char buf[4096];
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
        st = darts_config_set(c, key, value, path, line);
    }
    fclose(f);
    return st;
}

int darts_config_print(const darts_config *c, char *out, size_t len) {
    size_t n = 0;
    for (int i = 0; i < NKEYS; i++) {
        const char *p = (const char *)c + keys[i].off;
        char v[2100];
        switch (keys[i].type) {
        case K_STR: snprintf(v, sizeof v, "\"%s\"", p); break;
        case K_INT: snprintf(v, sizeof v, "%d", *(const int *)p); break;
        case K_U64: snprintf(v, sizeof v, "%llu", (unsigned long long)*(const uint64_t *)p); break;
        case K_DBL: snprintf(v, sizeof v, "%.12g", *(const double *)p); break;
        }
        int k = snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s = %s\n",
                         keys[i].key, v);
        n += (size_t)k;
    }
    return (int)n;
}
