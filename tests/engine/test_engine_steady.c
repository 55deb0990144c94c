// tests/engine: steady-state steps make no host read and no backend allocation, and the
// backend-resident loss and hit sums equal a host loop's (steady_step.h), on ref and cpu.
#include "check.h"
#include "steady_step.h"

int main(void) {
    steady_check(GH_BACKEND_REF);
    steady_check(GH_BACKEND_CPU);
    return check_done("test_engine_steady");
}
