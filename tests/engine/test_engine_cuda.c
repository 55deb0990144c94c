// tests/engine: the training steps of train_step.h on cuda:0 and on the CPU backend give close
// losses, gradients, updated parameters and running statistics. Skipped without a GPU.
#include "check.h"
#include "train_step.h"

int main(void) {
    if (gh_cuda_device_count() == 0)
        check_skip("test_engine_cuda", gh_cuda_built() ? "no GPU found" : "built without CUDA");
#ifdef GH_HAVE_CUDA
    ts_result cpu, gpu;
    CHECK_OK(ts_run(GH_BACKEND_CPU, 3, &cpu));
    CHECK_OK(ts_run(GH_BACKEND_CUDA, 3, &gpu));
    if (check_failures_) return check_done("test_engine_cuda");
    for (int s = 0; s < 3; s++) printf("step %d loss cpu %.7f cuda %.7f\n", s, cpu.loss[s],
                                       gpu.loss[s]);
    CHECK_CLOSE("losses", gpu.loss, cpu.loss, 3, 1e-5, 1e-4);
    const char *names[GH_NUM_GROUPS] = {"weights", "arch", "buffers"};
    for (int g = 0; g < GH_NUM_GROUPS; g++) {
        char what[64];
        CHECK(gpu.numel[g] == cpu.numel[g]);
        if (g != GH_GROUP_BUFFERS) {
            snprintf(what, sizeof what, "last-step gradient of %s", names[g]);
            CHECK_CLOSE(what, gpu.grad[g], cpu.grad[g], cpu.numel[g], 1e-5, 1e-3);
        }
        snprintf(what, sizeof what, "%s after 3 updates", names[g]);
        CHECK_CLOSE(what, gpu.data[g], cpu.data[g], cpu.numel[g], 1e-5, 1e-4);
    }
    ts_result_free(&cpu);
    ts_result_free(&gpu);
#endif
    return check_done("test_engine_cuda");
}
