// tests/engine: steady_step.h on cuda:0: no host read and no device allocation in steady steps
// (everything on the engine's stream), and the device-resident sums equal a host loop's.
// Skipped without a GPU.
#include "check.h"
#include "steady_step.h"

int main(void) {
    if (gh_cuda_device_count() == 0)
        check_skip("test_engine_steady_cuda", gh_cuda_built() ? "no GPU found" : "built without CUDA");
    steady_check(GH_BACKEND_CUDA);
    return check_done("test_engine_steady_cuda");
}
