// tests/engine: the training steps of train_step.h on cuda:0 and on the CPU backend give close
// losses, hits, gradient norms, gradients, updated parameters, running statistics and an
// eval-mode loss. Skipped without a GPU.
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
    ts_compare("cuda", &gpu, "cpu", &cpu, 3);
    ts_result_free(&cpu);
    ts_result_free(&gpu);
#endif
    return check_done("test_engine_cuda");
}
