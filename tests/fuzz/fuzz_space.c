// fuzz_space: search-space override files (learners/space_file.c) applied to every learner of
// this build over its FLAML space. What is accepted must still be a space a searcher can use:
// numeric bounds ordered and finite, the starting points inside them, log scales positive.
#include <math.h>

#include "learners/learners.h"
#include "fuzz_util.h"

static int domain_ok(const hp_domain *d) {
    if (d->kind == HP_CAT) return 1;
    return isfinite(d->lo) && isfinite(d->hi) && d->lo <= d->hi && d->init >= d->lo &&
           d->init <= d->hi && d->low_cost_init >= d->lo && d->low_cost_init <= d->hi &&
           (!d->log || d->lo > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, ".space", data, size);
    const learner_def *defs[16];
    int n = learners_list(defs, 16, GH_TASK_AUTO);
    for (int i = 0; i < n && i < 16; i++) {
        gh_task task = defs[i]->supports_task[GH_TASK_BINARY] ? GH_TASK_BINARY : GH_TASK_REGRESSION;
        hp_domain space[64];
        if (defs[i]->n_hp > 64 || learner_space(defs[i], 1000, 10, task, space)) __builtin_trap();
        if (learner_space_override(defs[i], space, path)) continue;
        for (int h = 0; h < defs[i]->n_hp; h++)
            if (!domain_ok(&space[h])) __builtin_trap();
    }
    return 0;
}
