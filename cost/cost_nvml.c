// cost: GPU energy from NVML's total-energy counters (nvmlDeviceGetTotalEnergyConsumption,
// millijoules since driver load, Volta and later), loaded with dlopen at run time. Where the
// library, the device or the counter is missing, energy is NAN and the reason is kept.
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "cost.h"
#include "cost_internal.h"

typedef int (*nvml_init_fn)(void);
typedef int (*nvml_count_fn)(unsigned *);
typedef int (*nvml_handle_fn)(unsigned, void **);

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    return p;
}

void cost_nvml_open(cost_nvml *n, int gpus) {
    memset(n, 0, sizeof *n);
    if (gpus <= 0) {
        n->why = "none (CPU run)";
        return;
    }
    n->lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!n->lib) {
        n->why = "none (libnvidia-ml.so.1 not found)";
        return;
    }
    nvml_init_fn init;
    nvml_count_fn count;
    nvml_handle_fn handle;
    *(void **)&init = sym(n->lib, "nvmlInit_v2");
    *(void **)&count = sym(n->lib, "nvmlDeviceGetCount_v2");
    *(void **)&handle = sym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->energy = sym(n->lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&n->shutdown = sym(n->lib, "nvmlShutdown");
    if (!init || !count || !handle || !n->energy || !n->shutdown) {
        n->why = "none (NVML lacks the energy counter API)";
        goto off;
    }
    if (init() != 0) {
        n->why = "none (nvmlInit failed)";
        n->shutdown = NULL;
        goto off;
    }
    unsigned have = 0;
    if (count(&have) != 0 || have == 0) {
        n->why = "none (NVML sees no device)";
        goto off;
    }
    // The first `gpus` devices in NVML order; a run confined by CUDA_VISIBLE_DEVICES to other
    // devices is measured on the wrong ones (documented in results/SCHEMA.md).
    int want = gpus < (int)have ? gpus : (int)have;
    if (want > COST_NVML_MAX_DEVICES) want = COST_NVML_MAX_DEVICES;
    for (int i = 0; i < want; i++) {
        unsigned long long mj;
        if (handle((unsigned)i, &n->dev[i]) != 0 || n->energy(n->dev[i], &mj) != 0) {
            n->why = "none (device has no energy counter)";
            goto off;
        }
    }
    n->ndev = want;
    n->why = NULL;
    return;
off:
    cost_nvml_close(n);
}

void cost_nvml_close(cost_nvml *n) {
    if (n->shutdown) n->shutdown();
    if (n->lib) dlclose(n->lib);
    n->lib = NULL;
    n->shutdown = NULL;
    n->energy = NULL;
    n->ndev = 0;
}

double cost_nvml_energy_j(const cost_nvml *n) {
    if (!n->ndev) return NAN;
    double j = 0;
    for (int i = 0; i < n->ndev; i++) {
        unsigned long long mj;
        if (n->energy(n->dev[i], &mj) != 0) return NAN;
        j += (double)mj * 1e-3;
    }
    return j;
}

const char *cost_energy_source(void) {
    cost_nvml n;
    cost_nvml_open(&n, 1);
    const char *s = n.ndev ? "nvml" : n.why;
    cost_nvml_close(&n);
    return s;
}
