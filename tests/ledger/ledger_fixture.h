// tests/ledger: deterministic ledger contents shared by the ledger tests: every field of trial
// `id` is a function of id, so a reader can check any row it finds without a second copy.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "ledger/ledger.h"

// Arch text of trial id; every 7th is longer than the table's inline field (spills).
static inline void fixture_arch(int64_t id, char *buf, size_t len) {
    int n = snprintf(buf, len, "Genotype(normal=[('sep_conv_3x3', %lld), ('skip_connect', 1)], "
                                "reduce=[('max_pool_3x3', 0)])",
                     (long long)id);
    if (id % 7 == 3) // pad well past LEDGER_ARCH_INLINE_MAX with a recognisable pattern
        for (int i = 0; n < (int)len - 1 && i < 1500; i++) buf[n++] = (char)('a' + (id + i) % 26);
    buf[n < (int)len ? n : (int)len - 1] = 0;
}

static inline ledger_trial fixture_trial(int64_t id, char *arch_buf, size_t len) {
    fixture_arch(id, arch_buf, len);
    ledger_trial t;
    memset(&t, 0, sizeof t);
    t.id = id;
    t.arch = arch_buf;
    t.learner = id % 2 ? "xgboost" : "";
    t.fidelity = 1 + (double)(id % 5);
    t.train_acc = 0.5 + 0.001 * (double)id;
    t.val_acc = id % 11 == 5 ? NAN : 0.4 + 0.001 * (double)id;
    t.test_acc = 0.3 + 0.0005 * (double)id;
    t.train_loss = 1.0 / (1.0 + (double)id);
    t.val_loss = 2.0 / (1.0 + (double)id);
    t.test_loss = 3.0 / (1.0 + (double)id);
    t.madds = 1e6 * (double)(id + 1);
    t.params = 1000.0 + (double)id;
    t.cost.wall_s = 0.25 * (double)(id + 1);
    t.cost.cpu_s = 0.5 * (double)(id + 1);
    t.cost.device_s = 0.25 * (double)(id + 1);
    t.cost.busy_gpu_s = id % 3 ? 0.1 * (double)id : NAN;
    t.cost.energy_j = id % 2 ? NAN : 3.5 * (double)id;
    t.cost.peak_mem_bytes = 1e8 + (double)id;
    t.status = id % 13 == 12 ? "failed" : "ok";
    t.worker = (int)(id % 3);
    return t;
}

static inline int fixture_same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

// 1 when t equals fixture_trial(t->id).
static inline int fixture_check_trial(const ledger_trial *t, char *why, size_t wlen) {
    static char buf[4096];
    ledger_trial w = fixture_trial(t->id, buf, sizeof buf);
#define F(f)                                                                          \
    if (!fixture_same(t->f, w.f)) {                                                   \
        snprintf(why, wlen, "trial %lld field " #f ": got %.17g want %.17g",          \
                 (long long)t->id, (double)t->f, (double)w.f);                        \
        return 0;                                                                     \
    }
#define S(f)                                                                          \
    if (strcmp(t->f, w.f)) {                                                          \
        snprintf(why, wlen, "trial %lld field " #f ": got '%.60s' want '%.60s'",      \
                 (long long)t->id, t->f, w.f);                                        \
        return 0;                                                                     \
    }
    S(arch) S(learner) S(status)
    F(fidelity) F(train_acc) F(val_acc) F(test_acc) F(train_loss) F(val_loss) F(test_loss)
    F(madds) F(params) F(cost.wall_s) F(cost.cpu_s) F(cost.device_s) F(cost.busy_gpu_s)
    F(cost.energy_j) F(cost.peak_mem_bytes) F(worker)
#undef F
#undef S
    return 1;
}

// A fresh empty directory under the test's working directory.
static inline void fixture_tmpdir(char *out, size_t len, const char *tag) {
    snprintf(out, len, "tmp_%s_XXXXXX", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline ledger_run_info fixture_info(const char *method, const char *dataset,
                                           uint64_t seed) {
    static char *argv[] = {"gpuhours", "search", "--method", "darts", "--note", "it's quoted",
                           NULL};
    ledger_run_info info = {.method = method, .dataset = dataset, .seed = seed,
                            .config_text = "[search]\nmethod = darts\nepochs = 3\nlr = 0.025\n",
                            .argc = 6, .argv = argv, .gpus = 0, .workers = 1};
    return info;
}
