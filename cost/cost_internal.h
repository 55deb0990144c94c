// cost (private): the NVML energy reader shared by cost.c and cost_nvml.c.
#pragma once

enum { COST_NVML_MAX_DEVICES = 64 };

// NVML loaded at run time (dlopen), so that the binary runs where the driver is absent.
typedef struct {
    void *lib;                                  // dlopen handle, NULL when absent
    int (*shutdown)(void);
    int (*energy)(void *dev, unsigned long long *mj);
    void *dev[COST_NVML_MAX_DEVICES];
    int ndev;                                   // devices whose counters are read; 0: none
    const char *why;                            // why energy is not measured (static text)
} cost_nvml;

// Opens NVML and the counters of the first `gpus` devices; never fails (ndev = 0 then).
void cost_nvml_open(cost_nvml *n, int gpus);
void cost_nvml_close(cost_nvml *n);
// Sum of the devices' total-energy counters in joules, NAN when not measured.
double cost_nvml_energy_j(const cost_nvml *n);
