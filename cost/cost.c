// cost: the meter: wall and process CPU time of an interval, device seconds (wall x GPUs held),
// GPU busy time fed by callers from CUDA events, peak memory, and GPU energy from NVML
// counters (cost_nvml.c). Whatever cannot be measured is NAN, never 0.
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "base/base.h"
#include "cost.h"
#include "cost_internal.h"

struct cost_meter {
    int gpus;
    double wall0, cpu0;
    double busy_gpu_s;
    double peak_mem;
    cost_nvml nvml;
    double energy0_j; // NVML counters at start; NAN when energy is not measured
};

cost_meter *cost_meter_create(int gpus) {
    cost_meter *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->gpus = gpus > 0 ? gpus : 0;
    cost_nvml_open(&m->nvml, m->gpus);
    cost_meter_start(m);
    return m;
}

void cost_meter_destroy(cost_meter *m) {
    if (!m) return;
    cost_nvml_close(&m->nvml);
    free(m);
}

void cost_meter_start(cost_meter *m) {
    m->wall0 = gh_wall_seconds();
    m->cpu0 = gh_cpu_seconds();
    m->busy_gpu_s = 0;
    m->peak_mem = 0;
    m->energy0_j = cost_nvml_energy_j(&m->nvml);
}

cost_totals cost_meter_read(const cost_meter *m) {
    cost_totals c;
    c.wall_s = gh_wall_seconds() - m->wall0;
    c.cpu_s = gh_cpu_seconds() - m->cpu0;
    c.device_s = c.wall_s * m->gpus; // GPU-seconds held, busy or not
    c.busy_gpu_s = m->gpus ? m->busy_gpu_s : NAN;
    double e = cost_nvml_energy_j(&m->nvml);
    c.energy_j = (isnan(e) || isnan(m->energy0_j)) ? NAN : e - m->energy0_j;
    // A CPU run's working memory is the process's; a GPU run reports what the engine noted.
    c.peak_mem_bytes = m->gpus ? m->peak_mem : fmax(m->peak_mem, cost_peak_rss_bytes());
    return c;
}

void cost_meter_add_busy_gpu(cost_meter *m, double seconds) { m->busy_gpu_s += seconds; }

void cost_meter_note_peak_mem(cost_meter *m, double bytes) {
    if (bytes > m->peak_mem) m->peak_mem = bytes;
}

// NAN-aware sum: a quantity missing on one side takes the other side's value; missing on both
// stays missing. Peak memory is a maximum, not a sum.
static double nan_add(double a, double b) {
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    return a + b;
}

cost_totals cost_add(cost_totals a, cost_totals b) {
    cost_totals c;
    c.wall_s = nan_add(a.wall_s, b.wall_s);
    c.cpu_s = nan_add(a.cpu_s, b.cpu_s);
    c.device_s = nan_add(a.device_s, b.device_s);
    c.busy_gpu_s = nan_add(a.busy_gpu_s, b.busy_gpu_s);
    c.energy_j = nan_add(a.energy_j, b.energy_j);
    c.peak_mem_bytes = isnan(a.peak_mem_bytes) ? b.peak_mem_bytes
                       : isnan(b.peak_mem_bytes) ? a.peak_mem_bytes
                                                 : fmax(a.peak_mem_bytes, b.peak_mem_bytes);
    return c;
}

// Peak resident set of the process so far (getrusage reports KiB on Linux).
double cost_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return NAN;
    return (double)ru.ru_maxrss * 1024.0;
}
