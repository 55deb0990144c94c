// nas_methods: the registry of NAS methods (one row per method: name, run, help), and the one
// search driver every method runs under: the shared run setup, the method, then the search
// phase's cost and the genotype recorded.
#include <stdio.h>
#include <string.h>

#include "nas_internal.h"

static const char *darts_label(const nas_config *c) {
    return c->darts.order == 1 ? "darts-first" : "darts-second";
}

// random sampling on the NASNet space is Real et al.'s baseline, not DARTS's: another label, so
// that ls/plot/report do not pool it with random sampling on the DARTS space (same dataset)
static const char *random_label(const nas_config *c) {
    return nas_space_parse(c->space) == NAS_SPACE_NASNET ? "random-nasnet" : "random";
}

static const nas_method methods[] = {
    {"darts", darts_run, "DARTS (Liu et al., ICLR 2019), first or second order ([darts] order)",
     darts_label, 1, 0, 0},
    {"random-ws", random_ws_run,
     "random search with weight sharing (Li & Talwalkar 2019), random_archs scored", NULL, 1, 0, 0},
    {"random", random_sampling_run,
     "random sampling (DARTS 3.3): random_archs cells trained random_epochs each",
     random_label, 0, 1, 0},
    {"regevo", regevo_run,
     "regularized evolution (Real et al. 2019): P regevo_population, S regevo_sample, "
     "random_archs children trained random_epochs each", NULL, 1, 1, 0},
    {"nasnet-rl", nasnet_rl_run,
     "NASNet's RL search (Zoph et al. 2018): LSTM controller, PPO (or REINFORCE: "
     "rl_algorithm), random_archs children trained random_epochs each", NULL, 1, 1, 0},
    {"enas", enas_run,
     "ENAS (Pham et al., ICML 2018): LSTM controller, shared weights, micro cells ([enas])",
     NULL, 1, 0, 0},
    {"enas-macro", enas_macro_run,
     "ENAS's macro space: per layer one of 6 ops and its skips, search_layers layers of "
     "search_channels ([enas])", NULL, 1, 0, 1},
};
#define NMETHODS ((int)(sizeof methods / sizeof methods[0]))

int nas_method_count(void) { return NMETHODS; }

const nas_method *nas_method_at(int i) { return i >= 0 && i < NMETHODS ? &methods[i] : NULL; }

const nas_method *nas_method_find(const char *name) {
    for (int i = 0; i < NMETHODS; i++)
        if (!strcmp(methods[i].name, name)) return &methods[i];
    return NULL;
}

void nas_method_names(char *out, size_t len) {
    size_t n = 0;
    if (len) out[0] = 0;
    for (int i = 0; i < NMETHODS; i++)
        n += (size_t)snprintf(n < len ? out + n : NULL, n < len ? len - n : 0, "%s%s",
                              i ? ", " : "", methods[i].name);
}

const char *nas_method_label(const nas_config *c) {
    const nas_method *m = nas_method_find(c->method);
    if (!m) return c->method;
    return m->label ? m->label(c) : m->name;
}

static int search_run(const nas_config *c, const nas_data *d, struct ledger *l,
                      const nas_ckpt *ck, genotype *best, enas_macro_arc *mbest) {
    const nas_method *m = nas_method_find(c->method);
    if (!m) {
        char names[256];
        nas_method_names(names, sizeof names);
        return gh_fail(GH_EINVAL, "unknown search method '%s' (known: %s)", c->method, names);
    }
    if (m->macro != !!mbest)
        return gh_fail(GH_EINVAL, "search method '%s' returns %s: run it with %s", c->method,
                       m->macro ? "an ENAS macro arc" : "a genotype",
                       m->macro ? "nas_search_run_macro" : "nas_search_run");
    if (nas_space_parse(c->space) == NAS_SPACE_NASNET && !m->nasnet)
        return gh_fail(GH_EINVAL, "search method '%s' runs on space darts only, not '%s'",
                       c->method, c->space);
    nas_run r;
    int st = nas_run_open(&r, c, d, l);
    if (st) return st;
    r.ck = ck;
    r.macro_best = mbest;
    if (nas_ckpt_from(ck, NAS_DO_SEARCH)) r.cost0 = ck->cost0;
    st = m->run(&r, best);
    if (!st && l) {
        cost_totals ct = nas_run_cost(&r);
        char text[ENAS_MACRO_TEXT_MAX > 2048 ? ENAS_MACRO_TEXT_MAX : 2048];
        if (mbest)
            enas_macro_arch_text(mbest, text, sizeof text);
        else
            genotype_print(best, text, sizeof text);
        st = ledger_add_phase_cost_comm(l, "search", &ct, r.comm_s);
        if (!st) st = ledger_put_text(l, "genotype", text);
    }
    nas_run_close(&r);
    return st;
}

int nas_search_run(const nas_config *c, const nas_data *d, struct ledger *l, const nas_ckpt *ck,
                   genotype *best) {
    return search_run(c, d, l, ck, best, NULL);
}

int nas_search_run_macro(const nas_config *c, const nas_data *d, struct ledger *l,
                         const nas_ckpt *ck, enas_macro_arc *best) {
    return search_run(c, d, l, ck, NULL, best);
}
