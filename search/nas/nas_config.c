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
    c->seed = 2;                 // train_search.py's default seed
    c->report_every = 50;
    c->checkpoint_every_min = 10;
    c->train_portion = 0.5;
    // search (train_search.py)
    snprintf(c->method, sizeof c->method, "darts");
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
}

typedef enum { K_STR, K_INT, K_U64, K_DBL } ktype;
typedef struct {
    const char *section, *key;
    ktype type;
    size_t off, size;
    const char *help;
} kdef;

// K?(section, key, field, help): the key is also its --flag; field is the nas_config member
// (darts.order, ...: a member of the method's section struct).
#define KS(s, k, f, h) {s, k, K_STR, offsetof(nas_config, f), sizeof(((nas_config *)0)->f), h}
#define KI(s, k, f, h) {s, k, K_INT, offsetof(nas_config, f), sizeof(int), h}
#define KU(s, k, f, h) {s, k, K_U64, offsetof(nas_config, f), sizeof(uint64_t), h}
#define KD(s, k, f, h) {s, k, K_DBL, offsetof(nas_config, f), sizeof(double), h}

static const kdef keys[] = {
    KS("run", "backend", backend, "auto, cpu, ref, cuda, cuda:N"),
    KI("run", "deterministic", deterministic, "1: fixed-order reductions on the GPU"),
    KU("run", "seed", seed, "seed of initialisation, data order, augmentation and search"),
    KS("run", "out", out, "results file (\"\" = results/<method>-<dataset>-<time>.h5)"),
    KI("run", "threads", threads, "CPU threads (0 = OpenMP default)"),
    KD("run", "arena_mb", arena_mb, "activation arena in MiB (0 = measured by a probe step)"),
    KI("run", "report_every", report_every, "steps between progress lines"),
    KD("run", "checkpoint_every_min", checkpoint_every_min,
       "minutes between checkpoints within an epoch (0: after each epoch only)"),
    KS("data", "dataset", dataset, "cifar10, cifar100, fashion-mnist, mnist"),
    KS("data", "data_dir", data_dir, "data directory (\"\" = Fashion-MNIST's Debian package)"),
    KD("data", "train_portion", train_portion,
       "fraction of the training set that trains weights (rest: architecture)"),
    KI("data", "search_limit", search_limit,
       "> 0: search on a seeded sample of this many training images"),
    KI("data", "search_val_limit", search_val_limit,
       "> 0: validation accuracy on at most this many images"),
    KI("data", "final_limit", final_limit,
       "> 0: final training on a seeded sample of this many training images"),
    KI("data", "test_limit", test_limit, "> 0: test on the first this many test images"),
    KS("search", "method", method, "search method (the methods below)"),
    KI("search", "search_layers", search_layers, "search network cells"),
    KI("search", "search_channels", search_channels, "search network initial channels"),
    KI("search", "search_epochs", search_epochs, "search epochs"),
    KI("search", "search_batch", search_batch, "search batch size"),
    KD("search", "search_lr", search_lr,
       "weight learning rate (SGD), also xi of DARTS's unrolled step"),
    KD("search", "search_lr_min", search_lr_min, "cosine schedule's final weight learning rate"),
    KD("search", "search_momentum", search_momentum, "weight SGD momentum"),
    KD("search", "search_wd", search_wd, "weight decay"),
    KD("search", "search_grad_clip", search_grad_clip, "weight gradient norm clip"),
    KI("search", "search_crop_pad", search_crop_pad,
       "search augmentation: random crop padding (0 off)"),
    KI("search", "search_flip", search_flip, "search augmentation: horizontal flip"),
    KI("search", "search_cutout", search_cutout, "search augmentation: cutout side (0 off)"),
    KS("final", "genotype", genotype,
       "genotype text or name (DARTS_V1, DARTS_V2, NASNet, AmoebaNet)"),
    KI("final", "final_layers", final_layers, "evaluation network cells"),
    KI("final", "final_channels", final_channels, "evaluation network initial channels"),
    KI("final", "final_epochs", final_epochs, "final training epochs (0: test untrained)"),
    KI("final", "final_batch", final_batch, "final training batch size"),
    KD("final", "final_lr", final_lr, "final training learning rate"),
    KD("final", "final_lr_min", final_lr_min, "final cosine schedule's last learning rate"),
    KD("final", "final_momentum", final_momentum, "final SGD momentum"),
    KD("final", "final_wd", final_wd, "final weight decay"),
    KD("final", "final_grad_clip", final_grad_clip, "final gradient norm clip"),
    KI("final", "auxiliary", auxiliary, "auxiliary head (1/0)"),
    KD("final", "aux_weight", aux_weight, "auxiliary loss weight"),
    KD("final", "drop_path", drop_path,
       "drop-path probability, ramped linearly from 0 over the epochs"),
    KI("final", "final_crop_pad", final_crop_pad, "final augmentation: random crop padding"),
    KI("final", "final_flip", final_flip, "final augmentation: horizontal flip"),
    KI("final", "final_cutout", final_cutout, "final augmentation: cutout side (0 off)"),
    KS("final", "seeds", seeds, "final training seeds, comma separated (\"\" = seed)"),
    KI("darts", "order", darts.order, "1 (first order) or 2 (second order, unrolled)"),
    KD("darts", "arch_lr", darts.arch_lr, "architecture learning rate (Adam)"),
    KD("darts", "arch_beta1", darts.arch_beta1, "architecture Adam beta1"),
    KD("darts", "arch_beta2", darts.arch_beta2, "architecture Adam beta2"),
    KD("darts", "arch_wd", darts.arch_wd, "architecture weight decay"),
    KI("random", "random_archs", random.archs,
       "genotypes sampled: trained (random) or scored with shared weights (random-ws)"),
    KI("random", "random_epochs", random.epochs, "random: epochs each sampled genotype trains"),
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
        return gh_fail(GH_EFORMAT, "%s:%d: key '%s': value '%s' is not %s", file, line, key, value,
                       want);
    return gh_fail(GH_EINVAL, "option --%s: value '%s' is not %s", key, value, want);
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
    // a checkpoint interval is a finite number of minutes, never negative
    if (!strcmp(key, "checkpoint_every_min")) {
        char *e;
        double v = strtod(value, &e);
        if (!*value || *e || !(v >= 0 && v <= 1e9))
            return bad(file, line, key, value, "a number of minutes (expected 0 to 1e9)");
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
