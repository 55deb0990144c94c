// tests/engine: three SGD/Adam training steps of a network touching every op family on the
// fast CPU backend and on the plain C reference give close losses, gradients, updated
// parameters and batch-norm running statistics.
#include "check.h"
#include "train_step.h"

int main(void) {
    ts_result ref, cpu;
    CHECK_OK(ts_run(GH_BACKEND_REF, 3, &ref));
    CHECK_OK(ts_run(GH_BACKEND_CPU, 3, &cpu));
    if (check_failures_) return check_done("test_cpu_vs_ref");
    ts_compare("cpu", &cpu, "ref", &ref, 3);
    // the gradients must not be trivially equal because they are zero
    double gn = 0;
    for (size_t i = 0; i < ref.numel[GH_GROUP_ARCH]; i++)
        gn += fabs(ref.grad[GH_GROUP_ARCH][i]);
    CHECK_MSG(gn > 1e-6, "arch gradient is %g: the wsum path received no gradient", gn);
    ts_result_free(&ref);
    ts_result_free(&cpu);
    return check_done("test_cpu_vs_ref");
}
