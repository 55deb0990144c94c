// tests/ledger: the cost meter: wall and CPU time advance with work, device seconds are wall x
// GPUs held, what cannot be measured (busy GPU time without GPUs, energy without NVML) is NAN
// and never 0, cost_add keeps measured parts and takes the maximum of peak memory.
#include <string.h>

#include "check.h"
#include "cost/cost.h"
#include "base/base.h"

// Burns `seconds` of this process's CPU time (not wall time: the machine may be shared).
static double spin(double seconds) {
    double t0 = gh_cpu_seconds(), x = 0;
    while (gh_cpu_seconds() - t0 < seconds) x += 1e-9;
    return x;
}

int main(void) {
    cost_meter *cpu = cost_meter_create(0);
    CHECK(cpu != NULL);
    volatile double sink = spin(0.05);
    (void)sink;
    cost_totals c = cost_meter_read(cpu);
    CHECK(c.cpu_s >= 0.05 && c.cpu_s < 5);       // a busy loop is CPU time
    CHECK(c.wall_s >= c.cpu_s - 0.01);           // one thread: no more CPU than wall time
    CHECK(c.device_s == 0);               // no GPU held
    CHECK(isnan(c.busy_gpu_s));           // not measured, not 0
    CHECK(isnan(c.energy_j));
    CHECK(c.peak_mem_bytes >= 1e6);       // the process's peak RSS
    cost_meter_start(cpu);
    CHECK(cost_meter_read(cpu).wall_s < c.wall_s);
    cost_meter_destroy(cpu);

    cost_meter *gpu = cost_meter_create(4); // held GPUs are charged whether busy or not
    spin(0.02);
    cost_meter_add_busy_gpu(gpu, 0.5);
    cost_meter_add_busy_gpu(gpu, 0.25);
    cost_meter_note_peak_mem(gpu, 3e9);
    cost_meter_note_peak_mem(gpu, 1e9);
    c = cost_meter_read(gpu);
    CHECK_MSG(fabs(c.device_s - 4 * c.wall_s) < 1e-3 * c.device_s, "device %g wall %g",
              c.device_s, c.wall_s);
    CHECK(c.busy_gpu_s == 0.75);
    CHECK(c.peak_mem_bytes == 3e9);
    const char *src = cost_energy_source();
    CHECK(src && (!strcmp(src, "nvml") || !strncmp(src, "none (", 6)));
    CHECK(!strcmp(src, "nvml") ? !isnan(c.energy_j) && c.energy_j >= 0 : isnan(c.energy_j));
    printf("energy source: %s; 4-GPU meter: wall %.3f s device %.3f GPU-s energy %g J\n", src,
           c.wall_s, c.device_s, c.energy_j);
    cost_meter_destroy(gpu);

    cost_totals a = {1, 2, 3, NAN, NAN, 5}, b = {10, 20, 30, 4, 7, 2};
    cost_totals s = cost_add(a, b);
    CHECK(s.wall_s == 11 && s.cpu_s == 22 && s.device_s == 33);
    CHECK(s.busy_gpu_s == 4 && s.energy_j == 7 && s.peak_mem_bytes == 5);
    cost_totals n = cost_add(a, a);
    CHECK(isnan(n.busy_gpu_s) && isnan(n.energy_j));
    return check_done("test_cost_meter");
}
