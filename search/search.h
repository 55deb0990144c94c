// search: the searchers. NAS searchers (DARTS first/second order, random search with weight
// sharing, random sampling) drive models/ through the engine; HPO searchers (FLOW2/CFO,
// BlendSearch, random, grid, TPE, ASHA, ECI learner selection) drive learners/. Every
// searcher is ask/tell, owns a private seeded RNG, and has an explicit stopping rule.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// ==== NAS (darts.c, random_ws.c, ...): declared by the NAS searchers ========================

// ==== HPO (hpo_*.c, flow2.c, ...): declared by the HPO searchers =============================

#ifdef __cplusplus
}
#endif
