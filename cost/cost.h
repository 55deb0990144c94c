// cost: what a piece of work really cost: wall seconds, process CPU seconds, device seconds
// (wall x GPUs held), busy GPU seconds (CUDA events around device work), energy in joules
// (NVML, loaded at run time with dlopen). What cannot be measured is NAN, never 0.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double wall_s;       // monotonic wall clock
    double cpu_s;        // process CPU time, all threads
    double device_s;     // wall_s x number of GPUs held (0 GPUs: 0)
    double busy_gpu_s;   // GPU time inside timed device regions; NAN without a GPU
    double energy_j;     // GPU energy from NVML counters; NAN when NVML is absent
    double peak_mem_bytes; // peak device memory (GPU) or peak RSS (CPU run)
} cost_totals;

typedef struct cost_meter cost_meter;

// gpus: how many GPUs this run holds (0 on a CPU run). Never fails: what cannot be measured
// is recorded as missing.
cost_meter *cost_meter_create(int gpus);
void cost_meter_destroy(cost_meter *m);
void cost_meter_start(cost_meter *m);                 // (re)starts an interval
cost_totals cost_meter_read(const cost_meter *m);     // since start, without stopping
// Device busy time is added by the engine/caller for work it timed with CUDA events.
void cost_meter_add_busy_gpu(cost_meter *m, double seconds);
void cost_meter_note_peak_mem(cost_meter *m, double bytes);
cost_totals cost_add(cost_totals a, cost_totals b); // NAN + x stays NAN only if both NAN
const char *cost_energy_source(void);  // "nvml" or "none (reason)"
double cost_peak_rss_bytes(void);

#ifdef __cplusplus
}
#endif
