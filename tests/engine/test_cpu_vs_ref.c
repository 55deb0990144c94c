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
    for (int s = 0; s < 3; s++) {
        printf("step %d loss ref %.7f cpu %.7f\n", s, ref.loss[s], cpu.loss[s]);
        CHECK(isfinite(ref.loss[s]));
    }
    CHECK_CLOSE("losses", cpu.loss, ref.loss, 3, 1e-5, 1e-4);
    const char *names[GH_NUM_GROUPS] = {"weights", "arch", "buffers"};
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        char what[64];
        CHECK(cpu.numel[g] == ref.numel[g] && ref.numel[g] > 0);
        if (g != GH_GROUP_BUFFERS) {
            snprintf(what, sizeof what, "last-step gradient of %s", names[g]);
            CHECK_CLOSE(what, cpu.grad[g], ref.grad[g], ref.numel[g], 1e-5, 1e-3);
        }
        snprintf(what, sizeof what, "%s after 3 updates", names[g]);
        CHECK_CLOSE(what, cpu.data[g], ref.data[g], ref.numel[g], 1e-5, 1e-4);
    }
    // the gradients must not be trivially equal because they are zero
    double gn = 0;
    for (size_t i = 0; i < ref.numel[GH_GROUP_ARCH]; i++)
        gn += fabs(ref.grad[GH_GROUP_ARCH][i]);
    CHECK_MSG(gn > 1e-6, "arch gradient is %g: the wsum path received no gradient", gn);
    ts_result_free(&ref);
    ts_result_free(&cpu);
    return check_done("test_cpu_vs_ref");
}
