// test_hpo_golden: the proposal sequence of every HPO searcher on a fixed objective with a
// fixed cost, hashed bit for bit (configs, fidelities, in order). Recorded before the searcher
// registry refactor; restructuring the searchers must not change what they propose.
// Run with --print to print the hashes of this build (to record new ones on purpose).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "search/hpo/hpo.h"

static const char *const kinds[] = {"a", "b", "c"};
static const hp_domain space[] = {
    {"x", HP_FLOAT, -5, 5, 0, 0, 0, 0, NULL},
    {"lr", HP_FLOAT, 1e-4, 1, 1, 0.1, 0.1, 0, NULL},
    {"trees", HP_INT, 4, 4096, 1, 4, 4, 0, NULL},
    {"depth", HP_INT, 1, 10, 0, 1, 6, 0, NULL},
    {"kind", HP_CAT, 0, 2, 0, 1, 1, 3, kinds},
};
#define D 5

static double objective(const double *cfg, double fidelity, double *cost) {
    const double target[D] = {0.62, 0.35, 0.55, 0.5, 0};
    double loss = 0;
    for (int i = 0; i < 4; i++) {
        double u = hpo_to_unit(&space[i], cfg[i]) - target[i];
        loss += u * u;
    }
    loss += cfg[4] == 2 ? 0 : 0.05;
    loss += 0.1 * (1.0 - fidelity);   // low fidelity: a worse estimate
    *cost = (0.01 + cfg[2] / 4096.0) * fidelity;
    return loss;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t run(const char *method, double min_fidelity, int n, int *count) {
    hpo_options o = {.seed = 11, .min_fidelity = min_fidelity};
    hpo_searcher *s = NULL;
    uint64_t h = 0xcbf29ce484222325ull;
    *count = 0;
    if (hpo_create(&s, method, space, D, &o)) return 0;
    for (int k = 0; k < n; k++) {
        hpo_trial t;
        if (hpo_ask(s, &t)) break;
        double cost, loss = objective(t.cfg, t.fidelity, &cost);
        // every 7th trial fails, so that the failure path is part of the sequence
        if (k % 7 == 6) loss = NAN;
        h = fnv(h, t.cfg, sizeof(double) * D);
        h = fnv(h, &t.fidelity, sizeof t.fidelity);
        ++*count;
        if (hpo_tell(s, &t, loss, cost)) break;
    }
    hpo_destroy(s);
    return h;
}

int main(int argc, char **argv) {
    const struct {
        const char *method;
        double min_fidelity;
        uint64_t want;
    } cases[] = {
        {"cfo", 1, 0x0f3f0d1a029ce85cull},
        {"cfo", 1.0 / 16, 0xd561abd63ff6509aull},
        // BlendSearch's first 80 proposals are its local (CFO) thread's
        {"blendsearch", 1, 0x0f3f0d1a029ce85cull},
        {"random", 1, 0xcca1c1d0ac724ef0ull},
        {"grid", 1, 0x8564e5d14c335b9dull},
        {"tpe", 1, 0x59519675ee08b37bull},
        {"asha", 1.0 / 9, 0xf09e5a4cfd5a80a3ull},
    };
    int print = argc > 1 && !strcmp(argv[1], "--print");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int count;
        uint64_t h = run(cases[i].method, cases[i].min_fidelity, 80, &count);
        if (print) {
            printf("        {\"%s\", %.17g, 0x%016llxull},  // %d trials\n", cases[i].method,
                   cases[i].min_fidelity, (unsigned long long)h, count);
            continue;
        }
        CHECK_MSG(h == cases[i].want, cases[i].method);
        printf("  %s (min fidelity %g): %d trials, hash %016llx %s\n", cases[i].method,
               cases[i].min_fidelity, count, (unsigned long long)h,
               h == cases[i].want ? "as recorded" : "CHANGED");
    }
    return print ? 0 : check_done("test_hpo_golden");
}
